/* SPDX-License-Identifier: Apache-2.0 */
/*
 * time_fixture.h — what the time-zone, window and decision tests share:
 * instants written as RFC 3339 text, zones that must load, weekday bits.
 * Header-only, included after cmocka.h.
 */
#ifndef CPM_TEST_TIME_FIXTURE_H
#define CPM_TEST_TIME_FIXTURE_H

#include "core/clock.h"
#include "domain/tz.h"

#define MON      0x01
#define TUE      0x02
#define WED      0x04
#define THU      0x08
#define FRI      0x10
#define SAT      0x20
#define SUN      0x40
#define WEEKDAYS (MON | TUE | WED | THU | FRI)
#define HM(h, m) ((uint16_t)((h)*60 + (m)))

/* The instant of an RFC 3339 text; fails the test when it does not parse. */
static inline int64_t at(const char *rfc3339)
{
    int64_t ms;
    if (!cpm_time_parse(rfc3339, &ms))
        fail_msg("bad test time %s", rfc3339);
    return ms;
}

/* A zone that must load. */
static inline const struct cpm_tz *zone(const char *name)
{
    const struct cpm_tz *tz = cpm_tz_get(name);
    if (tz == NULL)
        fail_msg("zone %s did not load", name);
    return tz;
}

#endif /* CPM_TEST_TIME_FIXTURE_H */
