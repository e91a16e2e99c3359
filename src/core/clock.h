/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock.h — time as integer milliseconds since the Unix epoch (UTC), and its
 * RFC 3339 text form with milliseconds ("2026-11-29T07:04:44.123Z").
 *
 * The clock is replaceable so tests can move time; the conversion to civil
 * time is done here, without gmtime, so it is pure and thread safe.
 */
#ifndef CPM_CORE_CLOCK_H
#define CPM_CORE_CLOCK_H

#include "core/common.h"

#define CPM_TIME_TEXT_BYTES 32 /* "YYYY-MM-DDTHH:MM:SS.mmmZ" + NUL, with room */

/* Wall-clock now, in ms since the epoch (CLOCK_REALTIME, or the test clock). */
int64_t cpm_clock_now_ms(void);
/*
 * The same, read from CLOCK_REALTIME_COARSE: up to a tick (a few ms) behind,
 * for a fraction of the cost — for the ages of caches, not for what is shown.
 */
int64_t cpm_clock_coarse_ms(void);
/* Monotonic time in ns, for latencies. */
int64_t cpm_clock_monotonic_ns(void);

/* Test hook: the wall clock runs ms ahead (or behind); 0 is the real clock. */
void cpm_clock_set_offset_ms(int64_t ms);

/* Test hook: a fixed "now" (ms since the epoch); 0 returns to the real clock. */
void cpm_clock_set_fixed_ms(int64_t ms);

/* Formats ms as RFC 3339 UTC with milliseconds into out (>= CPM_TIME_TEXT_BYTES). */
void cpm_time_format(int64_t ms, char *out, size_t size);

/*
 * Parses an RFC 3339 timestamp ("2026-11-29T07:04:44Z", fraction optional,
 * "Z" or "+08:00" offset) into ms since the epoch. False on any other text.
 */
bool cpm_time_parse(const char *text, int64_t *out_ms);

/*
 * ms plus a calendar amount, in UTC: months first (the day clamped to the
 * new month's length), then days, then seconds.
 */
int64_t cpm_time_add_calendar(int64_t ms, int32_t months, int32_t days, int64_t seconds);

#endif /* CPM_CORE_CLOCK_H */
