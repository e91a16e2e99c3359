/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock.c — epoch milliseconds and RFC 3339 text. Civil-date conversion uses
 * Howard Hinnant's days-from-civil algorithm (public domain), valid for the
 * proleptic Gregorian calendar.
 */
#include "core/common.h"

#include <stdatomic.h>
#include <time.h>

#include "core/clock.h"

static atomic_int_least64_t fixed_ms;
static atomic_int_least64_t offset_ms;

/* The wall clock read from clock id, or the test clock. */
static int64_t wall_ms(clockid_t id)
{
    int64_t fixed = atomic_load_explicit(&fixed_ms, memory_order_relaxed);
    if (fixed != 0)
        return fixed;
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
           atomic_load_explicit(&offset_ms, memory_order_relaxed);
}

int64_t cpm_clock_now_ms(void)
{
    return wall_ms(CLOCK_REALTIME);
}

int64_t cpm_clock_coarse_ms(void)
{
    return wall_ms(CLOCK_REALTIME_COARSE);
}

void cpm_clock_set_offset_ms(int64_t ms)
{
    atomic_store(&offset_ms, ms);
}

int64_t cpm_clock_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void cpm_clock_set_fixed_ms(int64_t ms)
{
    atomic_store(&fixed_ms, ms);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Writes v as exactly width digits (v >= 0, fits). */
static char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* Formatted by hand: it is on the path of every decision and every log line. */
void cpm_time_format(int64_t ms, char *out, size_t size)
{
    int64_t days = floor_div(ms, 86400000);
    int64_t rem = ms - days * 86400000;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999 || size < CPM_TIME_TEXT_BYTES) {
        snprintf(out, size, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
                 (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                 (int)(rem % 1000));
        return;
    }
    char *p = put_digits(out, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)(rem / 3600000), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rem / 60000 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rem / 1000 % 60), 2);
    *p++ = '.';
    p = put_digits(p, (unsigned)(rem % 1000), 3);
    *p++ = 'Z';
    *p = '\0';
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool days_in_month_ok(int y, int m, int d)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int max = dim[m - 1] + (m == 2 && leap);
    return d >= 1 && d <= max;
}

bool cpm_time_parse(const char *t, int64_t *out_ms)
{
    int y, mo, d, h, mi, s, ms = 0;
    if (strlen(t) < 20 || !digits(t, 4, &y) || t[4] != '-' || !digits(t + 5, 2, &mo) ||
        t[7] != '-' || !digits(t + 8, 2, &d) || (t[10] != 'T' && t[10] != 't') ||
        !digits(t + 11, 2, &h) || t[13] != ':' || !digits(t + 14, 2, &mi) || t[16] != ':' ||
        !digits(t + 17, 2, &s))
        return false;
    if (mo < 1 || mo > 12 || !days_in_month_ok(y, mo, d) || h > 23 || mi > 59 || s > 59)
        return false;
    const char *p = t + 19;
    if (*p == '.') {
        int n = 0, scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++, n++) {
            if (n < 3) {
                ms += (*p - '0') * scale;
                scale /= 10;
            }
        }
        if (n == 0 || n > 9)
            return false;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *out_ms = ((days * 86400 + h * 3600 + mi * 60 + s) - (int64_t)offset_min * 60) * 1000 + ms;
    return true;
}

int64_t cpm_time_add_calendar(int64_t ms, int32_t months, int32_t days, int64_t seconds)
{
    int64_t day = floor_div(ms, 86400000);
    int64_t rem = ms - day * 86400000;
    int64_t y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    int64_t month_index = y * 12 + (m - 1) + months;
    y = floor_div(month_index, 12);
    m = (unsigned)(month_index - y * 12) + 1;
    while (d > 28 && !days_in_month_ok((int)y, (int)m, (int)d))
        d--; /* 31 January + 1 month = 28 (or 29) February */
    day = days_from_civil(y, m, d) + days;
    return day * 86400000 + rem + seconds * 1000;
}
