/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_core.c — src/core: errors, integers, text by hand, time, arena,
 * allocation counting and fault injection, JSON limits and merge patches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/common.h"
#include "core/detail.h"
#include "core/fmt.h"
#include "core/json.h"

static void test_err_table(void **state)
{
    (void)state;
    assert_string_equal(cpm_err_code(CPM_OK), "ok");
    assert_string_equal(cpm_err_code(CPM_ERR_VALIDATION), "validation_failed");
    assert_int_equal(cpm_err_http_status(CPM_ERR_VALIDATION), 422);
    assert_int_equal(cpm_err_http_status(CPM_ERR_TOO_LARGE), 413);
    assert_string_equal(cpm_err_code((cpm_err)999), "internal_error");
    for (int e = 0; e < CPM_ERR__COUNT; e++)
        for (int f = e + 1; f < CPM_ERR__COUNT; f++)
            assert_string_not_equal(cpm_err_code((cpm_err)e), cpm_err_code((cpm_err)f));
}

static void test_parse_int64(void **state)
{
    (void)state;
    int64_t v;
    assert_true(cpm_parse_int64("42", 0, 100, &v));
    assert_int_equal(v, 42);
    assert_true(cpm_parse_int64("-9223372036854775808", INT64_MIN, 0, &v));
    assert_int_equal(v, INT64_MIN);
    assert_false(cpm_parse_int64("9223372036854775808", 0, INT64_MAX, &v));
    assert_false(cpm_parse_int64("101", 0, 100, &v));
    assert_false(cpm_parse_int64("", 0, 100, &v));
    assert_false(cpm_parse_int64("-", 0, 100, &v));
    assert_false(cpm_parse_int64("1x", 0, 100, &v));
    assert_false(cpm_parse_int64(" 1", 0, 100, &v));
    assert_false(cpm_parse_int64(NULL, 0, 100, &v));
}

static void test_strlcpy(void **state)
{
    (void)state;
    char buf[4];
    assert_int_equal(cpm_strlcpy(buf, "abcdef", sizeof(buf)), 6);
    assert_string_equal(buf, "abc");
}

/* cpm_fmt writes what snprintf would, and cuts short at the end of the buffer. */
static void test_fmt(void **state)
{
    (void)state;
    char buf[64], want[64];
    struct cpm_fmt f;
    static const uint64_t values[] = {0, 7, 10, 999, 1000, 4294967296u, UINT64_MAX};
    for (size_t i = 0; i < CPM_ARRAY_LEN(values); i++) {
        for (unsigned width = 0; width <= 20; width += 3) {
            cpm_fmt_init(&f, buf, sizeof(buf));
            cpm_fmt_str(&f, "v=");
            cpm_fmt_u64(&f, values[i], width);
            snprintf(want, sizeof(want), "v=%0*llu", (int)width, (unsigned long long)values[i]);
            assert_string_equal(buf, want);
            assert_int_equal(f.len, strlen(want));
            assert_false(f.cut);
        }
    }
    cpm_fmt_init(&f, buf, 6);
    cpm_fmt_str(&f, "abc");
    cpm_fmt_mem(&f, "defgh", 2);
    assert_string_equal(buf, "abcde");
    assert_false(f.cut);
    cpm_fmt_u64(&f, 12, 0);
    assert_string_equal(buf, "abcde");
    assert_true(f.cut);
    assert_int_equal(f.len, 5);
    cpm_fmt_init(&f, buf, 1);
    cpm_fmt_str(&f, "x");
    assert_string_equal(buf, "");
    assert_true(f.cut);
}

static void test_time_round_trip(void **state)
{
    (void)state;
    char text[CPM_TIME_TEXT_BYTES];
    cpm_time_format(0, text, sizeof(text));
    assert_string_equal(text, "1970-01-01T00:00:00.000Z");
    cpm_time_format(1795935884123, text, sizeof(text));
    assert_string_equal(text, "2026-11-29T07:04:44.123Z");
    cpm_time_format(951782400000, text, sizeof(text)); /* leap day 2000 */
    assert_string_equal(text, "2000-02-29T00:00:00.000Z");
    cpm_time_format(-1, text, sizeof(text));
    assert_string_equal(text, "1969-12-31T23:59:59.999Z");
    int64_t ms;
    assert_true(cpm_time_parse("2026-11-29T07:04:44.123Z", &ms));
    assert_int_equal(ms, 1795935884123);
    assert_true(cpm_time_parse("2026-11-29T15:04:44.123+08:00", &ms));
    assert_int_equal(ms, 1795935884123);
    assert_true(cpm_time_parse("2000-02-29T00:00:00Z", &ms));
    assert_int_equal(ms, 951782400000);
    assert_false(cpm_time_parse("2001-02-29T00:00:00Z", &ms));
    assert_false(cpm_time_parse("2026-11-29 07:04:44Z", &ms));
    assert_false(cpm_time_parse("2026-11-29T07:04:44", &ms));
    assert_false(cpm_time_parse("2026-11-29T24:00:00Z", &ms));
    assert_false(cpm_time_parse("2026-11-29T07:04:44.Z", &ms));
    assert_false(cpm_time_parse("2026-11-29T07:04:44Zjunk", &ms));
}

static void test_calendar_add(void **state)
{
    (void)state;
    int64_t jan31, out;
    char text[CPM_TIME_TEXT_BYTES];
    assert_true(cpm_time_parse("2027-01-31T10:00:00Z", &jan31));
    cpm_time_format(cpm_time_add_calendar(jan31, 1, 0, 0), text, sizeof(text));
    assert_string_equal(text, "2027-02-28T10:00:00.000Z");
    cpm_time_format(cpm_time_add_calendar(jan31, 13, 0, 0), text, sizeof(text));
    assert_string_equal(text, "2028-02-29T10:00:00.000Z"); /* leap year */
    cpm_time_format(cpm_time_add_calendar(jan31, 12, 0, 0), text, sizeof(text));
    assert_string_equal(text, "2028-01-31T10:00:00.000Z");
    cpm_time_format(cpm_time_add_calendar(jan31, 0, 30, 3600), text, sizeof(text));
    assert_string_equal(text, "2027-03-02T11:00:00.000Z");
    assert_true(cpm_time_parse("2026-12-15T00:00:00Z", &out));
    cpm_time_format(cpm_time_add_calendar(out, 1, 0, 0), text, sizeof(text));
    assert_string_equal(text, "2027-01-15T00:00:00.000Z");
}

static void test_fixed_clock(void **state)
{
    (void)state;
    cpm_clock_set_fixed_ms(1234);
    assert_int_equal(cpm_clock_now_ms(), 1234);
    cpm_clock_set_fixed_ms(0);
    assert_true(cpm_clock_now_ms() > 1700000000000);
}

static void test_arena(void **state)
{
    (void)state;
    struct cpm_arena arena;
    cpm_arena_init(&arena, 64 * 1024);
    int64_t before = cpm_alloc_bytes_in_use();
    char *a = cpm_arena_strndup(&arena, "hello", 3);
    assert_string_equal(a, "hel");
    assert_true(((uintptr_t)cpm_arena_alloc(&arena, 1) & 15) == 0);
    char *big = cpm_arena_alloc(&arena, 10000); /* larger than a chunk */
    assert_non_null(big);
    memset(big, 1, 10000);
    assert_string_equal(cpm_arena_printf(&arena, "%d-%s", 7, "x"), "7-x");
    assert_null(cpm_arena_alloc(&arena, 64 * 1024)); /* over the cap */
    assert_true(cpm_alloc_bytes_in_use() > before);
    cpm_arena_release(&arena);
    assert_int_equal(cpm_alloc_bytes_in_use(), before);
}

static void test_alloc_counting_and_faults(void **state)
{
    (void)state;
    int64_t before = cpm_alloc_bytes_in_use();
    char *p = cpm_malloc(100);
    assert_int_equal(cpm_alloc_bytes_in_use(), before + 100);
    p = cpm_realloc(p, 300);
    assert_int_equal(cpm_alloc_bytes_in_use(), before + 300);
    cpm_free(p);
    cpm_free(NULL);
    assert_int_equal(cpm_alloc_bytes_in_use(), before);
    cpm_alloc_fail_after(1);
    void *ok = cpm_malloc(8);
    assert_non_null(ok);
    assert_null(cpm_malloc(8));
    assert_non_null(p = cpm_malloc(8)); /* the fault fires once */
    cpm_free(p);
    cpm_free(ok);
    cpm_alloc_fail_after(-1);
    assert_null(cpm_calloc(SIZE_MAX / 2, 4));
    /* jansson allocates through the wrappers */
    json_t *j = json_string("counted");
    assert_true(cpm_alloc_bytes_in_use() > before);
    json_decref(j);
    assert_int_equal(cpm_alloc_bytes_in_use(), before);
}

static void test_json_limits(void **state)
{
    (void)state;
    struct cpm_detail d;
    json_t *doc;
    cpm_detail_init(&d);
    assert_int_equal(cpm_json_depth("{\"a\":\"[[[[\"}", 13), 1);
    assert_int_equal(cpm_json_depth("[[{}]]", 6), 3);
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_int_equal(cpm_json_parse_object(deep, sizeof(deep), &doc, &d), CPM_ERR_MALFORMED_JSON);
    assert_non_null(strstr(d.faults[0].message, "nested 100 deep"));
    cpm_detail_init(&d);
    assert_int_equal(cpm_json_parse_object("{\"a\":1,\"a\":2}", 13, &doc, &d),
                     CPM_ERR_MALFORMED_JSON);
    cpm_detail_init(&d);
    assert_int_equal(cpm_json_parse_object("[]", 2, &doc, &d), CPM_ERR_VALIDATION);
    cpm_detail_init(&d);
    assert_int_equal(cpm_json_parse_object("{\"a\":\"\xc3\x28\"}", 10, &doc, &d),
                     CPM_ERR_MALFORMED_JSON);
    cpm_detail_init(&d);
    assert_int_equal(cpm_json_parse_object("{\"a\":1}", 7, &doc, &d), CPM_OK);
    json_decref(doc);
}

static void test_merge_patch(void **state)
{
    (void)state;
    /* RFC 7396 appendix A, a selection */
    static const char *const cases[][3] = {
        {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
        {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
        {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
        {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
        {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(cases); i++) {
        json_t *target = json_loads(cases[i][0], 0, NULL);
        json_t *patch = json_loads(cases[i][1], 0, NULL);
        json_t *want = json_loads(cases[i][2], 0, NULL);
        assert_int_equal(cpm_json_merge_patch(&target, patch), CPM_OK);
        assert_true(json_equal(target, want));
        json_decref(target);
        json_decref(patch);
        json_decref(want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_table),
        cmocka_unit_test(test_parse_int64),
        cmocka_unit_test(test_strlcpy),
        cmocka_unit_test(test_fmt),
        cmocka_unit_test(test_time_round_trip),
        cmocka_unit_test(test_fixed_clock),
        cmocka_unit_test(test_calendar_add),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_alloc_counting_and_faults),
        cmocka_unit_test(test_json_limits),
        cmocka_unit_test(test_merge_patch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
