/* SPDX-License-Identifier: Apache-2.0 */
/*
 * window.h — weekly contact windows ("mon–fri 09:00–18:00") in a time zone:
 * is this instant inside one, and when does the next one open.
 *
 * The rule is "the local wall-clock time at that instant is in the window".
 * Local times a spring-forward skips are never inside; local times a
 * fall-back repeats are inside both times.
 *
 * Pure; thread safety: all functions are reentrant (zones from cpm_tz_get
 * are immutable).
 */
#ifndef CPM_DOMAIN_WINDOW_H
#define CPM_DOMAIN_WINDOW_H

#include "core/common.h"
#include "cpm/window.h"
#include "domain/tz.h"

#define CPM_WINDOW_MINUTES_MAX 1440                 /* 24:00, only as an end */
#define CPM_WINDOW_DAYS_ALL    0x7f                 /* every day of the week */
#define CPM_WINDOW_NEXT_MS_MAX (8LL * 86400 * 1000) /* how far cpm_window_next looks */

/*
 * A weekly window: on the listed local days, local minutes [from, to).
 * to < from spans midnight: it starts on a listed day and ends on the next
 * day. from == to is invalid.
 */
/* struct cpm_window is public: include/cpm/window.h */

/*
 * True when w is well formed: from_min <= 1439, to_min <= 1440, from_min !=
 * to_min, no day bit above 6. days == 0 is valid (a window that never
 * opens). The functions below treat an invalid window as never open.
 */
bool cpm_window_valid(const struct cpm_window *w);

/* "HH:MM", 00:00–24:00, into minutes (0–1440). 24:00 only makes sense as an end. */
bool cpm_window_parse_time(const char *s, uint16_t *minutes);

/* "mon".."sun" → 0..6, else (NULL too) -1. */
int cpm_window_day(const char *s);

/*
 * True when the instant utc_ms falls inside any of the n windows, judged by
 * the local time in tz at that instant. n == 0: always true. O(n) after one
 * offset lookup.
 */
bool cpm_window_contains(const struct cpm_window *w, size_t n, const struct cpm_tz *tz,
                         int64_t utc_ms);

/*
 * The earliest instant >= utc_ms inside one of the n windows (utc_ms itself
 * when it is inside; n == 0 counts as inside), exact across DST changes:
 * when a jump creates the opening, the instant of the jump. INT64_MAX when
 * no instant within CPM_WINDOW_NEXT_MS_MAX (8 days) is, e.g. days == 0.
 */
int64_t cpm_window_next(const struct cpm_window *w, size_t n, const struct cpm_tz *tz,
                        int64_t utc_ms);

#endif /* CPM_DOMAIN_WINDOW_H */
