/* SPDX-License-Identifier: Apache-2.0 */
/*
 * window.c — weekly contact windows in a time zone.
 *
 * Contains: one offset lookup, then a test of the local weekday and minute
 * against each window. Next: the time line is cut where the zone's offset
 * changes; within each piece local time is UTC plus a constant, so the next
 * opening in local time converts back exactly, and an opening that falls
 * past the piece's end is looked for again in the next piece.
 */
#include "core/common.h"

#include "domain/window.h"

#define MS_PER_MINUTE 60000
#define MS_PER_DAY    86400000LL

static bool day_listed(uint8_t days, int64_t weekday)
{
    return (days >> weekday) & 1;
}

bool cpm_window_valid(const struct cpm_window *w)
{
    return w->from_min < CPM_WINDOW_MINUTES_MAX && w->to_min <= CPM_WINDOW_MINUTES_MAX &&
           w->from_min != w->to_min && (w->days & ~CPM_WINDOW_DAYS_ALL) == 0;
}

bool cpm_window_parse_time(const char *s, uint16_t *minutes)
{
    if (s == NULL || strlen(s) != 5 || s[2] != ':')
        return false;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h * 60 + m > CPM_WINDOW_MINUTES_MAX)
        return false;
    *minutes = (uint16_t)(h * 60 + m);
    return true;
}

int cpm_window_day(const char *s)
{
    static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    for (int i = 0; s != NULL && i < (int)CPM_ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* Whether w holds the local weekday (0 = Monday) and minute of the day. */
static bool window_holds(const struct cpm_window *w, int32_t weekday, int32_t minute)
{
    if (!cpm_window_valid(w))
        return false;
    if (w->from_min < w->to_min)
        return day_listed(w->days, weekday) && minute >= w->from_min && minute < w->to_min;
    return (day_listed(w->days, weekday) && minute >= w->from_min) ||
           (day_listed(w->days, (weekday + 6) % 7) && minute < w->to_min);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

bool cpm_window_contains(const struct cpm_window *w, size_t n, const struct cpm_tz *tz,
                         int64_t utc_ms)
{
    if (n == 0)
        return true;
    /* The weekday and minute alone: no calendar date needed (cpm_tz_local's, cheaper). */
    int64_t ms = utc_ms > CPM_TZ_MS_MAX ? CPM_TZ_MS_MAX : utc_ms;
    ms = ms < -CPM_TZ_MS_MAX ? -CPM_TZ_MS_MAX : ms;
    int64_t local_s = floor_div(ms, 1000) + cpm_tz_offset_s(tz, ms);
    int64_t day = floor_div(local_s, 86400);
    int32_t weekday = (int32_t)((day % 7 + 7 + 3) % 7); /* day 0 was a Thursday */
    int32_t minute = (int32_t)((local_s - day * 86400) / 60);
    for (size_t i = 0; i < n; i++)
        if (window_holds(&w[i], weekday, minute))
            return true;
    return false;
}

/*
 * The earliest local instant >= local_ms (ms on a local time line with no
 * DST, day 0 = Thursday 1970-01-01) inside w, or INT64_MAX.
 */
static int64_t window_next_local(const struct cpm_window *w, int64_t local_ms)
{
    if (!cpm_window_valid(w) || w->days == 0)
        return INT64_MAX;
    int64_t today = floor_div(local_ms, MS_PER_DAY);
    /* Yesterday's opening may run past midnight; a week on, every day has come round. */
    for (int64_t day = today - 1; day <= today + 7; day++) {
        if (!day_listed(w->days, ((day % 7) + 7 + 3) % 7))
            continue;
        int64_t start = day * MS_PER_DAY + (int64_t)w->from_min * MS_PER_MINUTE;
        int64_t end =
            (day + (w->to_min < w->from_min)) * MS_PER_DAY + (int64_t)w->to_min * MS_PER_MINUTE;
        if (end > local_ms)
            return start > local_ms ? start : local_ms;
    }
    return INT64_MAX;
}

int64_t cpm_window_next(const struct cpm_window *w, size_t n, const struct cpm_tz *tz,
                        int64_t utc_ms)
{
    if (n == 0)
        return utc_ms;
    if (utc_ms > CPM_TZ_MS_MAX || utc_ms < -CPM_TZ_MS_MAX) /* beyond the zone's time line */
        return cpm_window_contains(w, n, tz, utc_ms) ? utc_ms : INT64_MAX;
    int64_t horizon = utc_ms + CPM_WINDOW_NEXT_MS_MAX;
    for (int64_t from = utc_ms; from <= horizon;) {
        int64_t offset_ms = (int64_t)cpm_tz_offset_s(tz, from) * 1000;
        int64_t until = cpm_tz_next_change_ms(tz, from); /* the offset holds in [from, until) */
        int64_t best = INT64_MAX;
        for (size_t i = 0; i < n; i++) {
            int64_t local = window_next_local(&w[i], from + offset_ms);
            if (local != INT64_MAX && local - offset_ms < best)
                best = local - offset_ms;
        }
        if (best < until)
            return best <= horizon ? best : INT64_MAX;
        from = until;
    }
    return INT64_MAX;
}
