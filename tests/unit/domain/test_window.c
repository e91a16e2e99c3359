/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_window.c — weekly contact windows (src/domain/window.c): parsing,
 * inside/outside at the edges, windows across midnight, the day mask, and
 * the next opening, also across both DST changes of 2026 in Berlin. The
 * instants are worked out by hand; a brute-force minute scan checks
 * cpm_window_next at many more.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "core/clock.h"
#include "domain/window.h"
#include "support/time_fixture.h"

#define NEVER INT64_MAX

/* The window sets of the tables. */
enum set {
    OFFICE,         /* mon–fri 09:00–18:00 */
    FRI_NIGHT,      /* fri 22:00–02:00 */
    WEEKEND_NIGHTS, /* fri, sat 22:00–02:00 */
    SUNDAY,         /* sun 00:00–24:00 */
    SPLIT,          /* mon 09:00–12:00 and mon 14:00–18:00 */
    SUN_0200,       /* sun 02:00–03:00: skipped by the spring-forward */
    SUN_0130,       /* sun 01:30–02:30: cut short by the spring-forward */
    SUN_0230,       /* sun 02:30–04:00: opened by the spring-forward */
    SUN_0300,       /* sun 03:00–04:00 */
    SUN_0200_30,    /* sun 02:00–02:30: twice on the fall-back day */
    SUN_0245,       /* sun 02:45–03:00 */
    NO_DAYS,        /* days == 0 */
    EMPTY,          /* from == to: invalid, never open */
    SET_COUNT
};

static const struct {
    size_t n;
    struct cpm_window w[2];
} sets[SET_COUNT] = {
    [OFFICE] = {1, {{WEEKDAYS, HM(9, 0), HM(18, 0)}}},
    [FRI_NIGHT] = {1, {{FRI, HM(22, 0), HM(2, 0)}}},
    [WEEKEND_NIGHTS] = {1, {{FRI | SAT, HM(22, 0), HM(2, 0)}}},
    [SUNDAY] = {1, {{SUN, HM(0, 0), HM(24, 0)}}},
    [SPLIT] = {2, {{MON, HM(9, 0), HM(12, 0)}, {MON, HM(14, 0), HM(18, 0)}}},
    [SUN_0200] = {1, {{SUN, HM(2, 0), HM(3, 0)}}},
    [SUN_0130] = {1, {{SUN, HM(1, 30), HM(2, 30)}}},
    [SUN_0230] = {1, {{SUN, HM(2, 30), HM(4, 0)}}},
    [SUN_0300] = {1, {{SUN, HM(3, 0), HM(4, 0)}}},
    [SUN_0200_30] = {1, {{SUN, HM(2, 0), HM(2, 30)}}},
    [SUN_0245] = {1, {{SUN, HM(2, 45), HM(3, 0)}}},
    [NO_DAYS] = {1, {{0, HM(9, 0), HM(18, 0)}}},
    [EMPTY] = {1, {{WEEKDAYS, HM(9, 0), HM(9, 0)}}},
};

/*
 * 2026-03-02 is a Monday. Shanghai is UTC+8 all year, so Monday 09:00 there
 * is 01:00Z. Berlin changes on Sunday 2026-03-29 at 01:00Z (02:00 CET →
 * 03:00 CEST) and on Sunday 2026-10-25 at 01:00Z (03:00 CEST → 02:00 CET).
 */
static const struct {
    const char *zone;
    enum set set;
    const char *utc;
    bool inside;
} contains[] = {
    {"Asia/Shanghai", OFFICE, "2026-03-02T01:00:00Z", true},          /* mon 09:00 */
    {"Asia/Shanghai", OFFICE, "2026-03-02T00:59:59Z", false},         /* mon 08:59:59 */
    {"Asia/Shanghai", OFFICE, "2026-03-02T09:59:59Z", true},          /* mon 17:59:59 */
    {"Asia/Shanghai", OFFICE, "2026-03-02T10:00:00Z", false},         /* mon 18:00 */
    {"Asia/Shanghai", OFFICE, "2026-03-06T05:00:00Z", true},          /* fri 13:00 */
    {"Asia/Shanghai", OFFICE, "2026-03-07T02:00:00Z", false},         /* sat 10:00 */
    {"Asia/Shanghai", OFFICE, "2026-03-08T02:00:00Z", false},         /* sun 10:00 */
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-06T13:59:59Z", false},      /* fri 21:59:59 */
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-06T14:00:00Z", true},       /* fri 22:00 */
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-06T15:59:59Z", true},       /* fri 23:59:59 */
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-06T16:00:00Z", true},       /* sat 00:00 */
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-06T17:00:00Z", true},       /* sat 01:00 */
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-06T17:59:59Z", true},       /* sat 01:59:59 */
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-06T18:00:00Z", false},      /* sat 02:00 */
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-07T15:00:00Z", false},      /* sat 23:00 */
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-07T17:00:00Z", false},      /* sun 01:00 */
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-05T17:00:00Z", false},      /* fri 01:00 */
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-05T15:00:00Z", false},      /* thu 23:00 */
    {"Asia/Shanghai", WEEKEND_NIGHTS, "2026-03-06T17:00:00Z", true},  /* sat 01:00 */
    {"Asia/Shanghai", WEEKEND_NIGHTS, "2026-03-07T15:00:00Z", true},  /* sat 23:00 */
    {"Asia/Shanghai", WEEKEND_NIGHTS, "2026-03-07T17:00:00Z", true},  /* sun 01:00 */
    {"Asia/Shanghai", WEEKEND_NIGHTS, "2026-03-07T18:00:00Z", false}, /* sun 02:00 */
    {"Asia/Shanghai", WEEKEND_NIGHTS, "2026-03-08T15:00:00Z", false}, /* sun 23:00 */
    {"UTC", SUNDAY, "2026-03-07T23:59:59Z", false},
    {"UTC", SUNDAY, "2026-03-08T00:00:00Z", true},
    {"UTC", SUNDAY, "2026-03-08T23:59:59.999Z", true},
    {"UTC", SUNDAY, "2026-03-09T00:00:00Z", false},
    {"UTC", SPLIT, "2026-03-02T11:59:59Z", true},
    {"UTC", SPLIT, "2026-03-02T12:00:00Z", false},
    {"UTC", SPLIT, "2026-03-02T14:00:00Z", true},
    {"UTC", NO_DAYS, "2026-03-02T10:00:00Z", false},
    {"UTC", EMPTY, "2026-03-02T09:00:00Z", false},
    /* Spring forward: local 02:00–02:59 does not exist on 2026-03-29. */
    {"Europe/Berlin", SUN_0200, "2026-03-22T01:30:00Z", true},  /* sun 02:30 CET a week before */
    {"Europe/Berlin", SUN_0200, "2026-03-29T00:59:59Z", false}, /* 01:59:59 CET */
    {"Europe/Berlin", SUN_0200, "2026-03-29T01:00:00Z", false}, /* 03:00 CEST */
    {"Europe/Berlin", SUN_0130, "2026-03-29T00:29:59Z", false}, /* 01:29:59 CET */
    {"Europe/Berlin", SUN_0130, "2026-03-29T00:30:00Z", true},  /* 01:30 CET */
    {"Europe/Berlin", SUN_0130, "2026-03-29T00:59:59Z", true},  /* 01:59:59 CET */
    {"Europe/Berlin", SUN_0130, "2026-03-29T01:00:00Z", false}, /* 03:00 CEST: cut */
    {"Europe/Berlin", SUN_0230, "2026-03-29T00:59:59Z", false}, /* 01:59:59 CET */
    {"Europe/Berlin", SUN_0230, "2026-03-29T01:00:00Z", true},  /* 03:00 CEST */
    /* Fall back: local 02:00–02:59 happens twice on 2026-10-25. */
    {"Europe/Berlin", SUN_0200_30, "2026-10-24T23:59:59Z", false}, /* 01:59:59 CEST */
    {"Europe/Berlin", SUN_0200_30, "2026-10-25T00:00:00Z", true},  /* 02:00 CEST */
    {"Europe/Berlin", SUN_0200_30, "2026-10-25T00:29:59Z", true},  /* 02:29:59 CEST */
    {"Europe/Berlin", SUN_0200_30, "2026-10-25T00:30:00Z", false}, /* 02:30 CEST */
    {"Europe/Berlin", SUN_0200_30, "2026-10-25T01:00:00Z", true},  /* 02:00 CET */
    {"Europe/Berlin", SUN_0200_30, "2026-10-25T01:29:59Z", true},  /* 02:29:59 CET */
    {"Europe/Berlin", SUN_0200_30, "2026-10-25T01:30:00Z", false}, /* 02:30 CET */
};

static void test_contains(void **state)
{
    (void)state;
    for (size_t i = 0; i < CPM_ARRAY_LEN(contains); i++) {
        bool got = cpm_window_contains(sets[contains[i].set].w, sets[contains[i].set].n,
                                       zone(contains[i].zone), at(contains[i].utc));
        if (got != contains[i].inside)
            fail_msg("set %d in %s at %s: %s, want %s", contains[i].set, contains[i].zone,
                     contains[i].utc, got ? "inside" : "outside",
                     contains[i].inside ? "inside" : "outside");
    }
    /* n == 0: no restriction. */
    assert_true(cpm_window_contains(NULL, 0, zone("UTC"), 0));
}

static const struct {
    const char *zone;
    enum set set;
    const char *utc, *next; /* NULL: INT64_MAX */
} nexts[] = {
    {"Asia/Shanghai", OFFICE, "2026-03-02T02:00:00Z", "2026-03-02T02:00:00Z"}, /* inside */
    {"Asia/Shanghai", OFFICE, "2026-03-01T23:00:00Z", "2026-03-02T01:00:00Z"}, /* mon 07:00 */
    {"Asia/Shanghai", OFFICE, "2026-03-02T00:59:59.5Z", "2026-03-02T01:00:00Z"},
    {"Asia/Shanghai", OFFICE, "2026-03-02T10:00:00Z", "2026-03-03T01:00:00Z"}, /* mon 18:00 */
    /* After the week's last window (fri 18:00), and on the weekend: monday 09:00. */
    {"Asia/Shanghai", OFFICE, "2026-03-06T10:00:00Z", "2026-03-09T01:00:00Z"},
    {"Asia/Shanghai", OFFICE, "2026-03-07T04:00:00Z", "2026-03-09T01:00:00Z"},
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-06T16:30:00Z", "2026-03-06T16:30:00Z"}, /* sat 00:30 */
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-06T18:00:00Z", "2026-03-13T14:00:00Z"}, /* sat 02:00 */
    {"Asia/Shanghai", FRI_NIGHT, "2026-03-02T00:00:00Z", "2026-03-06T14:00:00Z"},
    {"Asia/Shanghai", WEEKEND_NIGHTS, "2026-03-07T02:00:00Z", "2026-03-07T14:00:00Z"},
    {"UTC", SPLIT, "2026-03-02T12:30:00Z", "2026-03-02T14:00:00Z"},
    {"UTC", SPLIT, "2026-03-02T18:00:00Z", "2026-03-09T09:00:00Z"},
    {"UTC", SUNDAY, "2026-03-02T00:00:00Z", "2026-03-08T00:00:00Z"},
    {"UTC", NO_DAYS, "2026-03-02T00:00:00Z", NULL},
    {"UTC", EMPTY, "2026-03-02T00:00:00Z", NULL},
    /* Spring forward in Berlin, 2026-03-29 01:00Z. */
    {"Europe/Berlin", SUN_0200, "2026-03-28T12:00:00Z", "2026-04-05T00:00:00Z"}, /* skipped */
    {"Europe/Berlin", SUN_0130, "2026-03-29T00:10:00Z", "2026-03-29T00:30:00Z"}, /* 01:30 CET */
    {"Europe/Berlin", SUN_0130, "2026-03-29T01:00:00Z", "2026-04-04T23:30:00Z"}, /* cut */
    {"Europe/Berlin", SUN_0230, "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z"}, /* the jump */
    {"Europe/Berlin", SUN_0230, "2026-03-28T00:00:00Z", "2026-03-29T01:00:00Z"},
    {"Europe/Berlin", SUN_0300, "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z"},
    {"Europe/Berlin", OFFICE, "2026-03-27T17:00:00Z", "2026-03-30T07:00:00Z"}, /* fri 18:00 CET */
    /* Fall back in Berlin, 2026-10-25 01:00Z. */
    {"Europe/Berlin", SUN_0200_30, "2026-10-24T22:00:00Z", "2026-10-25T00:00:00Z"},
    {"Europe/Berlin", SUN_0200_30, "2026-10-25T00:45:00Z", "2026-10-25T01:00:00Z"}, /* again */
    {"Europe/Berlin", SUN_0200_30, "2026-10-25T01:30:00Z", "2026-11-01T01:00:00Z"},
    {"Europe/Berlin", SUN_0245, "2026-10-25T00:50:00Z", "2026-10-25T00:50:00Z"}, /* inside */
    {"Europe/Berlin", SUN_0245, "2026-10-25T01:00:00Z", "2026-10-25T01:45:00Z"}, /* 02:45 CET */
    {"Europe/Berlin", OFFICE, "2026-10-23T16:00:00Z", "2026-10-26T08:00:00Z"}, /* fri 18:00 CEST */
};

static void test_next(void **state)
{
    (void)state;
    for (size_t i = 0; i < CPM_ARRAY_LEN(nexts); i++) {
        int64_t got = cpm_window_next(sets[nexts[i].set].w, sets[nexts[i].set].n,
                                      zone(nexts[i].zone), at(nexts[i].utc));
        int64_t want = nexts[i].next != NULL ? at(nexts[i].next) : NEVER;
        if (got != want) {
            char text[CPM_TIME_TEXT_BYTES] = "never";
            if (got != NEVER)
                cpm_time_format(got, text, sizeof(text));
            fail_msg("set %d in %s from %s: %s, want %s", nexts[i].set, nexts[i].zone, nexts[i].utc,
                     text, nexts[i].next != NULL ? nexts[i].next : "never");
        }
    }
    assert_int_equal(cpm_window_next(NULL, 0, zone("UTC"), 12345), 12345);
    /* Beyond the zones' time line: the instant itself or never, no overflow. */
    int64_t far = cpm_window_next(sets[OFFICE].w, 1, zone("UTC"), INT64_MAX - 1);
    assert_true(far == INT64_MAX - 1 || far == NEVER);
    far = cpm_window_next(sets[OFFICE].w, 1, zone("UTC"), INT64_MIN);
    assert_true(far == INT64_MIN || far == NEVER);
}

/* The next instant by brute force: the instant itself, then every whole minute (Berlin's
 * changes and local minutes all fall on whole UTC minutes). */
static int64_t brute_next(const struct cpm_window *w, size_t n, const struct cpm_tz *tz, int64_t t)
{
    if (cpm_window_contains(w, n, tz, t))
        return t;
    for (int64_t m = (t / 60000 + 1) * 60000; m <= t + CPM_WINDOW_NEXT_MS_MAX; m += 60000)
        if (cpm_window_contains(w, n, tz, m))
            return m;
    return NEVER;
}

static void test_next_brute_force(void **state)
{
    (void)state;
    const struct cpm_tz *berlin = zone("Europe/Berlin");
    const char *const weeks[] = {"2026-03-23T00:00:00Z", "2026-10-19T00:00:00Z"};
    uint32_t seed = 42;
    for (size_t wk = 0; wk < CPM_ARRAY_LEN(weeks); wk++) {
        for (int s = 0; s < SET_COUNT; s++) {
            for (int k = 0; k < 12; k++) {
                seed = seed * 1103515245 + 12345;
                int64_t t = at(weeks[wk]) + (int64_t)(seed >> 4) % (8LL * 86400000);
                int64_t want = brute_next(sets[s].w, sets[s].n, berlin, t);
                int64_t got = cpm_window_next(sets[s].w, sets[s].n, berlin, t);
                if (got != want)
                    fail_msg("set %d from %lld: %lld, want %lld", s, (long long)t, (long long)got,
                             (long long)want);
            }
        }
    }
}

static void test_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int minutes; /* -1: refused */
    } times[] = {
        {"00:00", 0},  {"09:30", 570}, {"23:59", 1439}, {"24:00", 1440}, {"24:01", -1},
        {"25:00", -1}, {"12:60", -1},  {"9:30", -1},    {"09:3", -1},    {"09-30", -1},
        {"", -1},      {"09:30 ", -1}, {"+9:30", -1},   {"0a:00", -1},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(times); i++) {
        uint16_t m = 9999;
        bool ok = cpm_window_parse_time(times[i].text, &m);
        if (ok != (times[i].minutes >= 0) || (ok && m != times[i].minutes))
            fail_msg("'%s': %s %u", times[i].text, ok ? "ok" : "refused", m);
    }
    assert_false(cpm_window_parse_time(NULL, NULL));

    static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    for (int i = 0; i < 7; i++)
        assert_int_equal(cpm_window_day(days[i]), i);
    assert_int_equal(cpm_window_day("Mon"), -1);
    assert_int_equal(cpm_window_day("monday"), -1);
    assert_int_equal(cpm_window_day(""), -1);
    assert_int_equal(cpm_window_day(NULL), -1);

    assert_true(cpm_window_valid(&(struct cpm_window){WEEKDAYS, HM(9, 0), HM(24, 0)}));
    assert_true(cpm_window_valid(&(struct cpm_window){0, HM(22, 0), HM(2, 0)}));
    assert_false(cpm_window_valid(&(struct cpm_window){WEEKDAYS, HM(24, 0), HM(2, 0)}));
    assert_false(cpm_window_valid(&(struct cpm_window){WEEKDAYS, HM(9, 0), HM(9, 0)}));
    assert_false(cpm_window_valid(&(struct cpm_window){WEEKDAYS, HM(9, 0), HM(24, 1)}));
    assert_false(cpm_window_valid(&(struct cpm_window){0x80, HM(9, 0), HM(10, 0)}));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_contains),
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_next_brute_force),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cpm_tz_cache_clear();
    return failed;
}
