/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tz.c — IANA zones from TZif files (src/domain/tz.c): offsets and
 * local times from the system's tzdata at instants worked out by hand
 * (transitions, historic DST, the footer rule after 2037), zone names,
 * and TZif files built here: valid ones, each structural fault, every
 * truncation and random corruption, which must give NULL and never crash.
 */
#include "core/common.h"

#include <pthread.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/fixture.h"

#include "core/clock.h"
#include "domain/tz.h"
#include "support/time_fixture.h"

/* Offsets and local times; the weekday is 0 = Monday … 6 = Sunday. */
static const struct {
    const char *zone, *utc;
    int32_t offset_s;
    const char *local; /* "YYYY-MM-DD HH:MM:SS" */
    int32_t weekday;
} offsets[] = {
    {"UTC", "2026-05-01T12:34:56Z", 0, "2026-05-01 12:34:56", 4},
    {"UTC", "1969-12-31T23:59:59Z", 0, "1969-12-31 23:59:59", 2},
    {"Asia/Shanghai", "2026-01-15T16:00:00Z", 28800, "2026-01-16 00:00:00", 4},
    {"Asia/Shanghai", "2026-07-01T00:00:00Z", 28800, "2026-07-01 08:00:00", 2},
    /* China's DST of 1986–1991: in 1988 from 17 April to 11 September. */
    {"Asia/Shanghai", "1988-07-01T00:00:00Z", 32400, "1988-07-01 09:00:00", 4},
    {"Asia/Shanghai", "1988-12-01T00:00:00Z", 28800, "1988-12-01 08:00:00", 3},
    {"Asia/Shanghai", "2100-06-01T00:00:00Z", 28800, "2100-06-01 08:00:00", 1},
    {"Asia/Hong_Kong", "2026-07-01T00:00:00Z", 28800, "2026-07-01 08:00:00", 2},
    /* Hong Kong summer time of 1979: 13 May to 21 October. */
    {"Asia/Hong_Kong", "1979-07-01T00:00:00Z", 32400, "1979-07-01 09:00:00", 6},
    /* Berlin, 2026: CEST from 29 March 01:00 UTC to 25 October 01:00 UTC. */
    {"Europe/Berlin", "2026-01-15T12:00:00Z", 3600, "2026-01-15 13:00:00", 3},
    {"Europe/Berlin", "2026-03-29T00:59:59Z", 3600, "2026-03-29 01:59:59", 6},
    {"Europe/Berlin", "2026-03-29T01:00:00Z", 7200, "2026-03-29 03:00:00", 6},
    {"Europe/Berlin", "2026-10-25T00:59:59Z", 7200, "2026-10-25 02:59:59", 6},
    {"Europe/Berlin", "2026-10-25T01:00:00Z", 3600, "2026-10-25 02:00:00", 6},
    {"Europe/Berlin", "2026-10-25T00:00:00Z", 7200, "2026-10-25 02:00:00", 6},
    /* 2100, past the table: the footer rule CET-1CEST,M3.5.0,M10.5.0/3 (28 Mar, 31 Oct). */
    {"Europe/Berlin", "2100-03-28T00:59:59Z", 3600, "2100-03-28 01:59:59", 6},
    {"Europe/Berlin", "2100-03-28T01:00:00Z", 7200, "2100-03-28 03:00:00", 6},
    {"Europe/Berlin", "2100-07-01T00:00:00Z", 7200, "2100-07-01 02:00:00", 3},
    {"Europe/Berlin", "2100-10-31T00:59:59Z", 7200, "2100-10-31 02:59:59", 6},
    {"Europe/Berlin", "2100-10-31T01:00:00Z", 3600, "2100-10-31 02:00:00", 6},
    /* Southern hemisphere, DST across the new year: AEST-10AEDT,M10.1.0,M4.1.0/3. */
    {"Australia/Sydney", "2026-01-15T00:00:00Z", 39600, "2026-01-15 11:00:00", 3},
    {"Australia/Sydney", "2026-07-15T00:00:00Z", 36000, "2026-07-15 10:00:00", 2},
    {"Australia/Sydney", "2100-01-01T00:00:00Z", 39600, "2100-01-01 11:00:00", 4},
    {"Australia/Sydney", "2100-04-03T15:59:59Z", 39600, "2100-04-04 02:59:59", 6},
    {"Australia/Sydney", "2100-04-03T16:00:00Z", 36000, "2100-04-04 02:00:00", 6},
    {"Australia/Sydney", "2100-10-02T16:00:00Z", 39600, "2100-10-03 03:00:00", 6},
};

static void test_offsets_and_local_times(void **state)
{
    (void)state;
    for (size_t i = 0; i < CPM_ARRAY_LEN(offsets); i++) {
        const struct cpm_tz *tz = zone(offsets[i].zone);
        int64_t ms = at(offsets[i].utc);
        struct cpm_local_time lt;
        char text[32];
        cpm_tz_local(tz, ms, &lt);
        snprintf(text, sizeof(text), "%04d-%02d-%02d %02d:%02d:%02d", lt.year, lt.month, lt.day,
                 lt.minute / 60, lt.minute % 60, lt.second);
        if (cpm_tz_offset_s(tz, ms) != offsets[i].offset_s || strcmp(text, offsets[i].local) != 0 ||
            lt.weekday != offsets[i].weekday)
            fail_msg("%s at %s: offset %d, local %s, weekday %d; want %d, %s, %d", offsets[i].zone,
                     offsets[i].utc, cpm_tz_offset_s(tz, ms), text, lt.weekday, offsets[i].offset_s,
                     offsets[i].local, offsets[i].weekday);
        assert_string_equal(cpm_tz_name(tz), offsets[i].zone);
    }
}

/* Milliseconds count: the instant before a change is still the old offset. */
static void test_millisecond_edges(void **state)
{
    (void)state;
    const struct cpm_tz *berlin = zone("Europe/Berlin");
    assert_int_equal(cpm_tz_offset_s(berlin, at("2026-03-29T01:00:00Z") - 1), 3600);
    assert_int_equal(cpm_tz_offset_s(berlin, at("2026-03-29T01:00:00Z")), 7200);
    assert_int_equal(cpm_tz_offset_s(berlin, at("2100-10-31T01:00:00Z") - 1), 7200);
    /* Clamped, not overflowing. */
    cpm_tz_offset_s(berlin, INT64_MAX);
    cpm_tz_offset_s(berlin, INT64_MIN);
    struct cpm_local_time lt;
    cpm_tz_local(berlin, INT64_MAX, &lt);
    cpm_tz_local(berlin, INT64_MIN, &lt);
    assert_int_equal(cpm_tz_next_change_ms(berlin, INT64_MAX), INT64_MAX);
}

static void test_next_change(void **state)
{
    (void)state;
    const struct cpm_tz *berlin = zone("Europe/Berlin");
    int64_t t = cpm_tz_next_change_ms(berlin, at("2026-01-01T00:00:00Z"));
    assert_int_equal(t, at("2026-03-29T01:00:00Z"));
    assert_int_equal(cpm_tz_next_change_ms(berlin, t - 1), t);
    assert_int_equal(cpm_tz_next_change_ms(berlin, t), at("2026-10-25T01:00:00Z"));
    assert_int_equal(cpm_tz_next_change_ms(berlin, at("2100-04-01T00:00:00Z")),
                     at("2100-10-31T01:00:00Z"));
    assert_int_equal(cpm_tz_next_change_ms(zone("UTC"), 0), INT64_MAX);
    assert_int_equal(cpm_tz_next_change_ms(zone("Asia/Shanghai"), at("2026-01-01T00:00:00Z")),
                     INT64_MAX);

    /* Across the end of the file's table (2037) and of the expanded one (2099) into the
     * footer: every change on the last Sunday of March or October at 01:00 UTC, alternating,
     * with the offset between them constant. */
    for (int i = 0; i < 24; i++) {
        if (i % 12 == 0)
            t = at(i == 0 ? "2035-01-01T00:00:00Z" : "2097-01-01T00:00:00Z");
        int64_t next = cpm_tz_next_change_ms(berlin, t);
        struct cpm_local_time utc;
        cpm_tz_local(zone("UTC"), next, &utc);
        assert_int_equal(utc.month, i % 2 == 0 ? 3 : 10);
        assert_int_equal(utc.weekday, 6);
        assert_true(utc.day > 31 - 7);
        assert_int_equal(utc.minute, 60);
        assert_int_equal(cpm_tz_offset_s(berlin, next - 1), i % 2 == 0 ? 3600 : 7200);
        assert_int_equal(cpm_tz_offset_s(berlin, next), i % 2 == 0 ? 7200 : 3600);
        assert_int_equal(cpm_tz_offset_s(berlin, (t + next) / 2), cpm_tz_offset_s(berlin, t));
        t = next;
    }
}

static void test_names(void **state)
{
    (void)state;
    static const char *const good[] = {
        "UTC",
        "Europe/Berlin",
        "America/Argentina/Buenos_Aires",
        "Etc/GMT+5",
        "Etc/GMT-14",
        "America/Port-au-Prince",
        "x234567890123456789012345678901234567890123456789012345678901234"};
    static const char *const bad[] = {
        "",
        "/etc/localtime",
        "../etc/passwd",
        "Europe/../../etc/passwd",
        "Europe/",
        "Europe//Berlin",
        "Europe/Ber lin",
        "Europe/Berlin.tz",
        "Europe\\Berlin",
        "x2345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(good); i++)
        if (!cpm_tz_name_valid(good[i]))
            fail_msg("'%s' should be valid", good[i]);
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad); i++)
        if (cpm_tz_name_valid(bad[i]) || cpm_tz_get(bad[i]) != NULL)
            fail_msg("'%s' should be refused", bad[i]);
    assert_false(cpm_tz_name_valid(NULL));
    assert_null(cpm_tz_get(NULL));
    assert_null(cpm_tz_get("Nowhere/Zone"));
    assert_null(cpm_tz_get("Europe")); /* a directory */
    /* Loaded once: the same pointer each time. */
    assert_ptr_equal(cpm_tz_get("Europe/Berlin"), cpm_tz_get("Europe/Berlin"));
}

static void *get_berlin(void *arg)
{
    CPM_UNUSED(arg);
    return (void *)cpm_tz_get("Europe/Berlin");
}

static void test_cache_threads(void **state)
{
    (void)state;
    pthread_t threads[8];
    void *got[8];
    cpm_tz_cache_clear();
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, get_berlin, NULL), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_join(threads[i], &got[i]), 0);
    for (int i = 0; i < 8; i++)
        assert_ptr_equal(got[i], cpm_tz_get("Europe/Berlin"));
    assert_non_null(got[0]);
}

/* ---- TZif files built here, under a temporary CPM_ZONEINFO_DIR ---- */

static char dir[64];

static int files_setup(void **state)
{
    (void)state;
    cpm_strlcpy(dir, "/tmp/cpm-test-tz-XXXXXX", sizeof(dir));
    assert_non_null(mkdtemp(dir));
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/Test", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    return 0;
}

static int files_teardown(void **state)
{
    (void)state;
    unsetenv("CPM_ZONEINFO_DIR");
    cpm_tz_cache_clear();
    fixture_rm_tree(dir);
    return 0;
}

static void put32(uint8_t **p, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        *(*p)++ = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t **p, int64_t v)
{
    put32(p, (uint32_t)((uint64_t)v >> 32));
    put32(p, (uint32_t)v);
}

/* A zone: LMT +0:30 until 1900, then 1 h with DST 2 h between two 2020 instants. */
#define T_COUNT 3
#define Y_COUNT 3
static const int64_t t_at[T_COUNT] = {-2208988800 /* 1900-01-01 */,
                                      1585443600 /* 2020-03-29T01:00:00Z */,
                                      1603587600 /* 2020-10-25T01:00:00Z */};
static const uint8_t t_type[T_COUNT] = {1, 2, 1};
static const int32_t y_utoff[Y_COUNT] = {1800, 3600, 7200};
static const uint8_t y_dst[Y_COUNT] = {0, 0, 1};

static uint8_t *put_header(uint8_t *p, char version)
{
    memcpy(p, "TZif", 4);
    p[4] = (uint8_t)version;
    memset(p + 5, 0, 15);
    p += 20;
    put32(&p, 0);       /* isut */
    put32(&p, Y_COUNT); /* isstd */
    put32(&p, 0);       /* leap */
    put32(&p, T_COUNT);
    put32(&p, Y_COUNT);
    put32(&p, 4); /* chars: "ABC\0" */
    return p;
}

static uint8_t *put_block(uint8_t *p, bool wide)
{
    for (int i = 0; i < T_COUNT; i++) {
        if (wide)
            put64(&p, t_at[i]);
        else
            put32(&p, (uint32_t)(t_at[i] < INT32_MIN ? INT32_MIN : t_at[i]));
    }
    memcpy(p, t_type, T_COUNT);
    p += T_COUNT;
    for (int i = 0; i < Y_COUNT; i++) {
        put32(&p, (uint32_t)y_utoff[i]);
        *p++ = y_dst[i];
        *p++ = 0;
    }
    memcpy(p, "ABC", 4);
    p += 4;
    memset(p, 0, Y_COUNT); /* isstd */
    return p + Y_COUNT;
}

/* Builds the test zone into buf; returns its length and the offset of the 64-bit block. */
static size_t build(uint8_t *buf, char version, const char *footer, size_t *block2)
{
    uint8_t *p = put_block(put_header(buf, version), false);
    *block2 = 0;
    if (version != 0) {
        p = put_header(p, version);
        *block2 = (size_t)(p - buf);
        p = put_block(p, true);
        p += snprintf((char *)p, 128, "\n%s\n", footer);
    }
    return (size_t)(p - buf);
}

static void write_zone(const char *name, const uint8_t *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Loads data as a fresh zone (failures are not cached, successes are cleared). */
static const struct cpm_tz *load(const uint8_t *data, size_t len)
{
    cpm_tz_cache_clear();
    write_zone("Test/Zone", data, len);
    return cpm_tz_get("Test/Zone");
}

static void test_built_files(void **state)
{
    (void)state;
    uint8_t buf[1024];
    size_t b2;
    setenv("CPM_ZONEINFO_DIR", dir, 1);
    static const struct {
        char version;
        const char *footer;
    } good[] = {{0, NULL}, {'2', "ABC-1"}, {'3', "ABC-1"}, {'4', ""}, {'2', "<+01>-1"}};
    for (size_t i = 0; i < CPM_ARRAY_LEN(good); i++) {
        const struct cpm_tz *tz = load(buf, build(buf, good[i].version, good[i].footer, &b2));
        assert_non_null(tz);
        assert_int_equal(cpm_tz_offset_s(tz, at("1899-12-31T23:00:00Z")), 1800); /* type 0 */
        assert_int_equal(cpm_tz_offset_s(tz, at("1901-01-01T00:00:00Z")),
                         good[i].version == 0 ? 1800 : 3600); /* v1 cannot reach 1900 */
        assert_int_equal(cpm_tz_offset_s(tz, at("2020-07-01T00:00:00Z")), 7200);
        assert_int_equal(cpm_tz_offset_s(tz, at("2030-07-01T00:00:00Z")), 3600);
    }
    /* A footer rule after the table, here southern: DST from November to March. */
    const struct cpm_tz *tz = load(buf, build(buf, '2', "ABC-1DEF-2,M11.1.0/2,M3.5.0/3", &b2));
    assert_non_null(tz);
    assert_int_equal(cpm_tz_offset_s(tz, at("2021-01-10T00:00:00Z")), 7200);
    assert_int_equal(cpm_tz_offset_s(tz, at("2021-07-10T00:00:00Z")), 3600);
    assert_int_equal(cpm_tz_offset_s(tz, at("2090-12-10T00:00:00Z")), 7200);
    /* "UTC" needs no file. */
    assert_non_null(cpm_tz_get("UTC"));
    assert_int_equal(cpm_tz_offset_s(cpm_tz_get("UTC"), 0), 0);
    assert_null(cpm_tz_get("Europe/Berlin")); /* not in this directory */
}

static void test_malformed_files(void **state)
{
    (void)state;
    uint8_t good[1024], buf[1024];
    size_t b2;
    setenv("CPM_ZONEINFO_DIR", dir, 1);
    size_t len = build(good, '2', "ABC-1", &b2);
    static const struct {
        const char *what;
        size_t offset_from; /* 0: the file's start, 1: the 64-bit block's header, 2: types */
        size_t at;
        uint8_t value;
    } faults[] = {
        {"magic", 0, 0, 'X'},
        {"version", 0, 4, '1'},
        {"second magic", 1, 1, 'X'},
        {"timecnt huge", 1, 32, 0xff},
        {"typecnt 0", 1, 39, 0},
        {"typecnt too big", 1, 38, 0x01},
        {"charcnt 0", 1, 43, 0},
        {"leapcnt 1", 1, 31, 1},
        {"isutcnt not typecnt", 1, 23, 1},
        {"type index out of range", 2, T_COUNT * 9 - T_COUNT, Y_COUNT},
        {"transitions out of order", 2, 8, 0x7f},
        {"utoff too large", 2, T_COUNT * 9, 0x7f},
        {"isdst 2", 2, T_COUNT * 9 + 4, 2},
        {"desigidx past chars", 2, T_COUNT * 9 + 5, 4},
        {"isstd 2", 2, T_COUNT * 9 + Y_COUNT * 6 + 4, 2},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(faults); i++) {
        memcpy(buf, good, len);
        size_t base = faults[i].offset_from == 0 ? 0 : faults[i].offset_from == 1 ? b2 - 44 : b2;
        buf[base + faults[i].at] = faults[i].value;
        if (load(buf, len) != NULL)
            fail_msg("fault '%s' was not refused", faults[i].what);
    }

    /* Footers. */
    static const char *const bad_footers[] = {"garbage",
                                              "AB-1",
                                              "ABC",
                                              "ABC-25",
                                              "ABC-1DEF",
                                              "ABC-1DEF,",
                                              "ABC-1DEF,M3",
                                              "ABC-1DEF,M13.1.0,M10.5.0",
                                              "ABC-1DEF,M3.6.0,M10.5.0",
                                              "ABC-1DEF,M3.5.7,M10.5.0",
                                              "ABC-1DEF,J0,J365",
                                              "ABC-1DEF,M3.5.0/168,M10.5.0",
                                              "ABC-1DEF,M3.5.0,M10.5.0x",
                                              "<AB>-1",
                                              "<ABC-1"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad_footers); i++)
        if (load(buf, build(buf, '2', bad_footers[i], &b2)) != NULL)
            fail_msg("footer '%s' was not refused", bad_footers[i]);

    /* Trailing bytes; a v2 file without its footer. */
    memcpy(buf, good, len);
    buf[len] = 'x';
    assert_null(load(buf, len + 1));
    assert_null(load(buf, len - 7)); /* "\nABC-1\n" */

    /* Every truncation. */
    for (size_t cut = 0; cut < len; cut++)
        if (load(good, cut) != NULL)
            fail_msg("the file cut to %zu bytes was not refused", cut);
    assert_non_null(load(good, len));
}

/* A real file with random bytes changed: NULL or a zone, never a crash (ASan watches). */
static void test_corrupt_real_file(void **state)
{
    (void)state;
    uint8_t real[8192], buf[8192];
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    assert_non_null(f);
    size_t len = fread(real, 1, sizeof(real), f);
    fclose(f);
    assert_true(len > 44 && len < sizeof(real));
    setenv("CPM_ZONEINFO_DIR", dir, 1);
    uint32_t seed = 12345;
    int refused = 0;
    for (int round = 0; round < 400; round++) {
        memcpy(buf, real, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1103515245 + 12345;
            buf[(seed >> 8) % len] = (uint8_t)(seed >> 24);
        }
        const struct cpm_tz *tz = load(buf, len);
        if (tz == NULL) {
            refused++;
            continue;
        }
        struct cpm_local_time lt;
        for (int64_t t = -4000000000000; t < 5000000000000; t += 97000000000) {
            cpm_tz_local(tz, t, &lt);
            cpm_tz_next_change_ms(tz, t);
        }
    }
    assert_true(refused > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_and_local_times),
        cmocka_unit_test(test_millisecond_edges),
        cmocka_unit_test(test_next_change),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_cache_threads),
        cmocka_unit_test_setup_teardown(test_built_files, files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_files, files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_real_file, files_setup, files_teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cpm_tz_cache_clear();
    return failed;
}
