/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_csv.c — the RFC 4180 reader (core/csv.c): quoting, CRLF, a byte order
 * mark, line breaks inside fields, over-long records, malformed records
 * named and skipped, and input arriving a byte at a time; the text buffer's
 * CSV and JSON escapes (core/textbuf.c) against what the reader and jansson
 * read back; the key map (core/keymap.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/alloc.h"
#include "core/csv.h"
#include "core/keymap.h"
#include "core/textbuf.h"

struct source {
    const char *text;
    size_t len, at;
    size_t step; /* bytes handed out per read; 0: as many as asked */
};

static ssize_t read_source(void *ctx, char *buf, size_t cap)
{
    struct source *s = ctx;
    size_t n = s->len - s->at;
    if (s->step && n > s->step)
        n = s->step;
    if (n > cap)
        n = cap;
    memcpy(buf, s->text + s->at, n);
    s->at += n;
    return (ssize_t)n;
}

static ssize_t read_fails(void *ctx, char *buf, size_t cap)
{
    CPM_UNUSED(ctx);
    CPM_UNUSED(buf);
    CPM_UNUSED(cap);
    return -1;
}

/* Every record of text as "line|field|field…" (malformed: "line!error"), joined by newlines. */
static void read_all(const char *text, size_t len, size_t step, size_t record_max, bool lines,
                     char *out, size_t cap)
{
    struct source s = {.text = text, .len = len, .step = step};
    struct cpm_csv_reader *r = cpm_csv_reader_new(read_source, &s, record_max);
    struct cpm_csv_record rec;
    cpm_err err;
    size_t at = 0;
    assert_non_null(r);
    out[0] = '\0';
    while ((err = lines ? cpm_csv_next_line(r, &rec) : cpm_csv_next(r, &rec)) == CPM_OK) {
        at += (size_t)snprintf(out + at, cap - at, "%s%llu", at ? "\n" : "",
                               (unsigned long long)rec.line);
        if (rec.error != NULL)
            at += (size_t)snprintf(out + at, cap - at, "!%s", rec.error);
        for (size_t i = 0; i < rec.count; i++) {
            assert_int_equal(strlen(rec.fields[i]), rec.lengths[i]);
            at += (size_t)snprintf(out + at, cap - at, "|%s", rec.fields[i]);
        }
        assert_true(at < cap);
    }
    assert_int_equal(err, CPM_ERR_NOT_FOUND);
    cpm_csv_reader_free(r);
}

/* The same records whatever the read sizes: all at once, 1, 2 and 3 bytes at a time. */
static void expect_records(const char *text, const char *want)
{
    char got[4096];
    size_t steps[] = {0, 1, 2, 3};
    for (size_t i = 0; i < CPM_ARRAY_LEN(steps); i++) {
        read_all(text, strlen(text), steps[i], 64, false, got, sizeof(got));
        if (strcmp(got, want) != 0)
            fail_msg("read %zu bytes at a time:\n%s\nwanted:\n%s", steps[i], got, want);
    }
}

static void test_plain_and_quoted(void **state)
{
    CPM_UNUSED(state);
    expect_records("a,b,c\n1,2,3\n", "1|a|b|c\n2|1|2|3");
    expect_records("a,b\r\n1,2\r\n", "1|a|b\n2|1|2"); /* CRLF */
    expect_records("a,b\n1,2", "1|a|b\n2|1|2");       /* no line break at the end */
    expect_records("\"a,b\",\"say \"\"hi\"\"\",\"\"\n", "1|a,b|say \"hi\"|");
    expect_records(",,\n", "1|||");
    expect_records("\xEF\xBB\xBFsubject,time\nx,1\n", "1|subject|time\n2|x|1"); /* BOM */
    expect_records("x,\xEF\xBB\xBFy\n", "1|x|\xEF\xBB\xBFy"); /* a BOM elsewhere is text */
    expect_records("héllo,世界\n", "1|héllo|世界");
}

static void test_line_breaks_inside_fields(void **state)
{
    CPM_UNUSED(state);
    /* the record starts on line 2 and its field holds a CRLF; the next starts on line 4 */
    expect_records("h\n\"one\r\ntwo\",x\nnext,y\n", "1|h\n2|one\r\ntwo|x\n4|next|y");
    expect_records("\"a\n\n\nb\"\nc\n", "1|a\n\n\nb\n5|c");
}

static void test_empty_lines_skipped(void **state)
{
    CPM_UNUSED(state);
    expect_records("a\n\n\r\nb\n\n", "1|a\n4|b");
    expect_records("", "");
    expect_records("\"\"\n", "1|"); /* a quoted empty field is a record */
}

static void test_malformed_records(void **state)
{
    CPM_UNUSED(state);
    expect_records("a,b\"c,d\ne,f\n",
                   "1!has a quote inside an unquoted field (quote the whole field and double the "
                   "quotes inside it)\n2|e|f");
    expect_records("\"a\"b,c\nd\n", "1!has text after a closing quote (quote a field whole, "
                                    "doubling the quotes inside it)\n2|d");
    expect_records("a,\"b\nc\n", "1!a quoted field is not closed before the end of the input");
    expect_records("a\rb\nc\n",
                   "1!has a carriage return (CR) without a line feed (LF) after it\n2|c");
}

static void test_nul_byte(void **state)
{
    CPM_UNUSED(state);
    char got[256];
    read_all("a\0b,c\nd\n", 8, 0, 64, false, got, sizeof(got));
    assert_string_equal(got, "1!holds a NUL byte\n2|d");
}

static void test_limits(void **state)
{
    CPM_UNUSED(state);
    char got[512], text[256], fields[128];
    /* 10 bytes of fields fit a 10-byte record; 11 do not, and the next record is read */
    read_all("0123456789\n0123456789a\nok\n", 26, 0, 10, false, got, sizeof(got));
    assert_string_equal(got, "1|0123456789\n2!is longer than 10 bytes\n3|ok");
    read_all("\"01234,\n56789a\"\nok\n", 19, 1, 10, false, got, sizeof(got));
    assert_string_equal(got, "1!is longer than 10 bytes\n3|ok");
    size_t n = 0;
    for (int i = 0; i <= CPM_CSV_FIELDS_MAX; i++)
        fields[n++] = ',';
    fields[n] = '\0';
    snprintf(text, sizeof(text), "%s\nx\n", fields);
    read_all(text, strlen(text), 0, 64, false, got, sizeof(got));
    assert_string_equal(got, "1!has more than 32 fields\n2|x");
}

static void test_lines(void **state)
{
    CPM_UNUSED(state);
    char got[512];
    const char *text = "\xEF\xBB\xBF{\"a\":\"x,\\\"y\"}\r\n\n  \n{\"b\":1}";
    read_all(text, strlen(text), 1, 64, true, got, sizeof(got));
    assert_string_equal(got, "1|{\"a\":\"x,\\\"y\"}\n3|  \n4|{\"b\":1}");
    read_all("0123456789a\nok\n", 15, 0, 10, true, got, sizeof(got));
    assert_string_equal(got, "1!is longer than 10 bytes\n2|ok");
}

static void test_read_error(void **state)
{
    CPM_UNUSED(state);
    struct cpm_csv_reader *r = cpm_csv_reader_new(read_fails, NULL, 64);
    struct cpm_csv_record rec;
    assert_int_equal(cpm_csv_next(r, &rec), CPM_ERR_IO);
    cpm_csv_reader_free(r);
}

/* A field written by cpm_textbuf_csv_field reads back as itself. */
static void test_csv_field_round_trip(void **state)
{
    CPM_UNUSED(state);
    const char *values[] = {"plain", "", "a,b", "say \"hi\"", "two\r\nlines", "\"", "é,\n"};
    struct cpm_textbuf b;
    cpm_textbuf_init(&b, 4096);
    for (size_t i = 0; i < CPM_ARRAY_LEN(values); i++) {
        cpm_textbuf_puts(&b, i ? "," : "");
        cpm_textbuf_csv_field(&b, values[i], strlen(values[i]));
    }
    cpm_textbuf_puts(&b, "\r\n");
    assert_false(b.failed);
    struct source s = {.text = b.data, .len = b.len};
    struct cpm_csv_reader *r = cpm_csv_reader_new(read_source, &s, 1024);
    struct cpm_csv_record rec;
    assert_int_equal(cpm_csv_next(r, &rec), CPM_OK);
    assert_null(rec.error);
    assert_int_equal(rec.count, CPM_ARRAY_LEN(values));
    for (size_t i = 0; i < CPM_ARRAY_LEN(values); i++)
        assert_string_equal(rec.fields[i], values[i]);
    cpm_csv_reader_free(r);
    cpm_textbuf_release(&b);
}

/* cpm_textbuf_json_string writes every byte as json_dumps does. */
static void test_json_string_as_jansson(void **state)
{
    CPM_UNUSED(state);
    char text[160];
    size_t n = 0;
    for (int c = 1; c < 0x80; c++)
        text[n++] = (char)c;
    memcpy(text + n, "é世界", strlen("é世界"));
    n += strlen("é世界");
    json_t *s = json_stringn(text, n);
    char *want = json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY);
    struct cpm_textbuf b;
    cpm_textbuf_init(&b, 4096);
    cpm_textbuf_json_string(&b, text, n);
    cpm_textbuf_put(&b, "", 1);
    assert_string_equal(b.data, want);
    cpm_textbuf_release(&b);
    cpm_free(want);
    json_decref(s);
}

static void test_textbuf_limit(void **state)
{
    CPM_UNUSED(state);
    struct cpm_textbuf b;
    cpm_textbuf_init(&b, 8);
    assert_true(cpm_textbuf_puts(&b, "12345678"));
    assert_false(cpm_textbuf_puts(&b, "9"));
    assert_true(b.failed);
    assert_int_equal(b.len, 8);
    assert_false(cpm_textbuf_puts(&b, "")); /* failed stays failed */
    cpm_textbuf_clear(&b);
    assert_true(cpm_textbuf_int(&b, -42));
    assert_memory_equal(b.data, "-42", 3);
    cpm_textbuf_release(&b);
}

static void test_keymap(void **state)
{
    CPM_UNUSED(state);
    struct cpm_keymap m;
    cpm_keymap_init(&m, sizeof(uint64_t), 5000);
    uint8_t key[CPM_KEYMAP_KEY_BYTES] = {0};
    bool added;
    for (uint64_t i = 0; i < 5000; i++) {
        memcpy(key, &i, sizeof(i));
        key[15] = (uint8_t)i;
        uint64_t *v = cpm_keymap_put(&m, key, &added);
        assert_non_null(v);
        assert_true(added);
        assert_int_equal(*v, 0);
        *v = i * 3;
    }
    for (uint64_t i = 0; i < 5000; i++) {
        memcpy(key, &i, sizeof(i));
        key[15] = (uint8_t)i;
        uint64_t *v = cpm_keymap_put(&m, key, &added);
        assert_false(added);
        assert_int_equal(*v, i * 3);
        assert_ptr_equal(cpm_keymap_get(&m, key), v);
    }
    key[0] = 0xff;
    key[8] = 0xff;
    assert_null(cpm_keymap_get(&m, key));
    assert_null(cpm_keymap_put(&m, key, &added)); /* full */
    cpm_keymap_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_quoted),
        cmocka_unit_test(test_line_breaks_inside_fields),
        cmocka_unit_test(test_empty_lines_skipped),
        cmocka_unit_test(test_malformed_records),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_read_error),
        cmocka_unit_test(test_csv_field_round_trip),
        cmocka_unit_test(test_json_string_as_jansson),
        cmocka_unit_test(test_textbuf_limit),
        cmocka_unit_test(test_keymap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
