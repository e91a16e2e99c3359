/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_schema.c — the declarative JSON validator (src/domain/schema.c) on a
 * test table: defaults, every fault at once with its path, limits, formats,
 * UTF-8-safe truncation and out-of-memory while filling defaults.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "support/fixture.h"

#include "core/alloc.h"
#include "domain/schema.h"

static const char *const modes[] = {"red", "green", NULL};

static const struct cpm__schema_field item_fields[] = {
    {.name = "key", .type = CPM__SCHEMA_SLUG, .required = true},
    {.name = "mode", .type = CPM__SCHEMA_ENUM, .values = modes, .dflt = "\"red\""},
};
static const struct cpm__schema item_schema = CPM__SCHEMA(item_fields, "key");

static const struct cpm__schema_field entry_fields[] = {
    {.name = "text", .type = CPM__SCHEMA_STRING, .required = true, .bytes_min = 1, .bytes_max = 8},
};
static const struct cpm__schema entry_schema = CPM__SCHEMA(entry_fields, NULL);

static const struct cpm__schema_field top_fields[] = {
    {.name = "name", .type = CPM__SCHEMA_STRING, .required = true, .bytes_max = 10},
    {.name = "count", .type = CPM__SCHEMA_INTEGER, .min = 1, .max = 5, .dflt = "3"},
    {.name = "on", .type = CPM__SCHEMA_BOOL, .dflt = "false"},
    {.name = "tags", .type = CPM__SCHEMA_ARRAY, .item = CPM__SCHEMA_SLUG, .max = 3, .dflt = "[]"},
    {.name = "items",
     .type = CPM__SCHEMA_ARRAY,
     .item = CPM__SCHEMA_OBJECT,
     .nested = &item_schema},
    {.name = "label", .type = CPM__SCHEMA_LOCALE_MAP, .item = CPM__SCHEMA_STRING, .bytes_max = 5},
    {.name = "content",
     .type = CPM__SCHEMA_LOCALE_MAP,
     .item = CPM__SCHEMA_OBJECT,
     .nested = &entry_schema},
    {.name = "colour", .type = CPM__SCHEMA_COLOUR},
    {.name = "origin", .type = CPM__SCHEMA_ORIGIN},
    {.name = "iri", .type = CPM__SCHEMA_HTTPS_IRI},
    {.name = "wait", .type = CPM__SCHEMA_DURATION},
    {.name = "purpose", .type = CPM__SCHEMA_PURPOSE_ID},
    {.name = "hash", .type = CPM__SCHEMA_READ_ONLY},
};
static const struct cpm__schema top_schema = CPM__SCHEMA(top_fields, NULL);

static cpm_err validate(json_t *doc, struct cpm_detail *d)
{
    cpm_detail_init(d);
    return cpm__schema_validate(&top_schema, doc, "", d);
}

static void test_valid_gets_defaults(void **state)
{
    (void)state;
    struct cpm_detail d;
    json_t *doc = J("{'name': 'x', 'items': [{'key': 'a'}], 'label': {'zh-Hant': 'ok'}}");
    assert_int_equal(validate(doc, &d), CPM_OK);
    assert_int_equal(d.count, 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "count")), 3);
    assert_true(json_is_false(json_object_get(doc, "on")));
    assert_int_equal(json_array_size(json_object_get(doc, "tags")), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(doc, "items"), 0), "mode")),
                        "red");
    json_decref(doc);
}

static void test_every_fault_at_once(void **state)
{
    (void)state;
    struct cpm_detail d;
    json_t *doc = J("{'count': 9, 'on': 'yes', 'tags': ['a', 'a', 'B'],"
                    " 'items': [{'key': 'k'}, {'key': 'k', 'mode': 'blue'}, 5],"
                    " 'label': {'en': 'toolong', 'xx_bad': 'a'},"
                    " 'content': {'zh-Hant': {'text': ''}, 'en': {}}, 'hash': 'x', 'extra': 1}");
    assert_int_equal(validate(doc, &d), CPM_ERR_VALIDATION);
    expect(&d, "name", "is required");
    expect(&d, "count", "is 9; it must be between 1 and 5");
    expect(&d, "on", "must be true or false");
    expect(&d, "tags[1]", "duplicate value 'a'");
    expect(&d, "tags[2]", "must be an id");
    expect(&d, "items[1].key", "duplicate value 'k'");
    expect(&d, "items[1].mode", "unknown value 'blue'; expected one of: red, green");
    expect(&d, "items[2]", "must be an object");
    expect(&d, "label.en", "is 7 bytes; the limit is 5");
    expect(&d, "label.xx_bad", "is not a locale tag");
    expect(&d, "content.zh-Hant.text", "must not be empty");
    expect(&d, "content.en.text", "is required");
    expect(&d, "hash", "is read-only");
    expect(&d, "extra", "unknown field; allowed: name, count, on, tags, items, label, content");
    assert_int_equal(d.count, 14);
    json_decref(doc);
}

static void test_types_and_limits(void **state)
{
    (void)state;
    struct cpm_detail d;
    json_t *doc = J("{'name': 5, 'count': 2.0, 'tags': ['a', 'b', 'c', 'd'], 'items': {},"
                    " 'label': [], 'content': {'en': 'x'}}");
    assert_int_equal(validate(doc, &d), CPM_ERR_VALIDATION);
    expect(&d, "name", "must be a string");
    expect(&d, "count", "must be an integer");
    expect(&d, "tags", "has 4 items; the limit is 3");
    expect(&d, "items", "must be an array");
    expect(&d, "label", "must be an object from locale tag to value");
    expect(&d, "content.en", "must be an object");
    json_decref(doc);

    doc = J("{'name': 'x', 'items': []}");
    json_t *items = json_object_get(doc, "items");
    for (int i = 0; i < CPM_ARRAY_ITEMS_MAX + 1; i++)
        json_array_append_new(items, json_pack("{si}", "key", i));
    assert_int_equal(validate(doc, &d), CPM_ERR_VALIDATION);
    expect(&d, "items", "has 257 items; the limit is 256");
    assert_int_equal(d.count, 1);
    json_decref(doc);

    doc = J("[]");
    assert_int_equal(validate(doc, &d), CPM_ERR_VALIDATION);
    expect(&d, "", "must be an object");
    json_decref(doc);
}

static void test_formats(void **state)
{
    (void)state;
    static const struct {
        const char *field, *value;
        bool ok;
    } cases[] = {
        {"colour", "#a0B1c2", true},
        {"colour", "#abc", false},
        {"colour", "a0b1c2", false},
        {"origin", "https://example.com", true},
        {"origin", "https://shop.example.cn:8443", true},
        {"origin", "http://localhost:3000", true},
        {"origin", "http://127.0.0.1", true},
        {"origin", "http://example.com", false},
        {"origin", "https://example.com/", false},
        {"origin", "https://Example.com", false},
        {"origin", "https://example.com:0", false},
        {"origin", "https://example.com:65536", false},
        {"origin", "https://-a.com", false},
        {"origin", "ftp://example.com", false},
        {"iri", "https://w3id.org/dpv#Marketing", true},
        {"iri", "https://例え.jp/目的", true},
        {"iri", "http://w3id.org/dpv", false},
        {"iri", "https://", false},
        {"iri", "https://a b", false},
        {"wait", "P30D", true},
        {"wait", "P0D", false},
        {"purpose", "marketing.sms", true},
        {"purpose", "marketing..sms", false},
        {"purpose", "marketing.", false},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(cases); i++) {
        struct cpm_detail d;
        json_t *doc = json_pack("{ss ss}", "name", "x", cases[i].field, cases[i].value);
        cpm_err err = validate(doc, &d);
        if ((err == CPM_OK) != cases[i].ok)
            fail_msg("%s = '%s': expected %s", cases[i].field, cases[i].value,
                     cases[i].ok ? "valid" : "a fault");
        if (!cases[i].ok)
            assert_string_equal(d.faults[0].field, cases[i].field);
        json_decref(doc);
    }
}

static void test_cap_counts_dropped(void **state)
{
    (void)state;
    struct cpm_detail d;
    json_t *doc = J("{'name': 'x'}");
    for (int i = 0; i < CPM_ERRORS_REPORTED_MAX + 4; i++) {
        char key[16];
        snprintf(key, sizeof(key), "bad%d", i);
        json_object_set_new(doc, key, json_true());
    }
    assert_int_equal(validate(doc, &d), CPM_ERR_VALIDATION);
    assert_int_equal(d.count, CPM_ERRORS_REPORTED_MAX);
    assert_int_equal(d.dropped, 4);
    json_decref(doc);
}

static void assert_utf8(const char *s)
{
    json_t *v = json_string(s); /* NULL when s is not valid UTF-8 */
    assert_non_null(v);
    json_decref(v);
}

static void test_utf8_safe_truncation(void **state)
{
    (void)state;
    char long_text[200] = "", out[CPM_FIELD_PATH_BYTES_MAX], quoted[64];
    for (int i = 0; i < 60; i++)
        cpm_strlcpy(long_text + strlen(long_text), "\xC3\xA9", 3); /* é */
    cpm__schema_quote(quoted, sizeof(quoted), long_text);
    assert_true(strlen(quoted) <= 48);
    assert_string_equal(quoted + strlen(quoted) - 3, "\xE2\x80\xA6");
    assert_utf8(quoted);

    cpm__schema_path_key(out, sizeof(out), "label", long_text);
    assert_true(strlen(out) < sizeof(out));
    assert_utf8(out);
    cpm__schema_path_key(out, sizeof(out), "", "name");
    assert_string_equal(out, "name");
    cpm__schema_path_index(out, sizeof(out), "purposes", 2);
    assert_string_equal(out, "purposes[2]");
}

static void test_nomem_while_filling_defaults(void **state)
{
    (void)state;
    struct cpm_detail d;
    json_t *doc = J("{'name': 'x'}");
    cpm_alloc_fail_after(0);
    cpm_err err = validate(doc, &d);
    cpm_alloc_fail_after(-1);
    assert_int_equal(err, CPM_ERR_NOMEM);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_gets_defaults),
        cmocka_unit_test(test_every_fault_at_once),
        cmocka_unit_test(test_types_and_limits),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_cap_counts_dropped),
        cmocka_unit_test(test_utf8_safe_truncation),
        cmocka_unit_test(test_nomem_while_filling_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
