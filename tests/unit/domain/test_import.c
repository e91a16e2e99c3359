/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_import.c — one row of a consent import (domain/import.c): the checks
 * on each column and between columns, CSV text turned into typed values,
 * the action a row stands for and the consent rules' faults renamed to
 * columns, the identity text; and the consent leaf (domain/consent.c),
 * written without jansson, held byte for byte against jansson's json_dumps
 * of the same object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "domain/import.h"
#include "support/fixture.h"

#define NOW_MS INT64_C(1796000000000) /* 2026-11-29 */

static json_t *good_row(void)
{
    return J("{'subject':'cust-1','purpose':'marketing.sms','decision':'given',"
             "'time':'2025-03-01T09:30:00+08:00','property':'shop','channel':'web',"
             "'locale':'zh-Hans','notice_id':'privacy','notice_version':1,'source_id':'crm-1'}");
}

/* Parses row (taken) and returns the faults. */
static cpm_err parse(json_t *row, struct cpm_import_record *r, struct cpm_detail *d)
{
    cpm_detail_init(d);
    cpm_err err = cpm_import_row_parse(row, NOW_MS, r, d);
    json_decref(row);
    return err;
}

static void test_good_row(void **state)
{
    CPM_UNUSED(state);
    json_t *row = good_row();
    struct cpm_import_record r;
    struct cpm_detail d;
    cpm_detail_init(&d);
    assert_int_equal(cpm_import_row_parse(row, NOW_MS, &r, &d), CPM_OK);
    assert_string_equal(r.subject, "cust-1");
    assert_string_equal(r.decision, "given");
    assert_int_equal(r.time_ms, INT64_C(1740792600000)); /* 01:30 UTC */
    assert_int_equal(r.notice_version, 1);
    assert_string_equal(r.source_id, "crm-1");
    assert_null(r.recipient);
    assert_int_equal(r.expires_ms, 0);
    assert_false(r.separate);
    char text[CPM_IMPORT_KEY_TEXT_BYTES];
    size_t n = cpm_import_key_text(&r, text, sizeof(text));
    assert_int_equal(n, strlen(text));
    assert_string_equal(text, "cust-1\x1fmarketing.sms\x1f\x1f"
                              "1740792600000\x1fgiven\x1f"
                              "crm-1");
    json_decref(row);
}

static void test_bad_values(void **state)
{
    CPM_UNUSED(state);
    struct cpm_import_record r;
    struct cpm_detail d;
    assert_int_equal(parse(J("{'subject':'a b','purpose':'Bad','decision':'maybe','time':'soon',"
                             "'property':'shop','channel':'fax','locale':'xx_YY','extra':1}"),
                           &r, &d),
                     CPM_ERR_VALIDATION);
    expect(&d, "subject", "a subject id is 1–128");
    expect(&d, "purpose", "must be a purpose id");
    expect(&d, "decision", "unknown value 'maybe'");
    expect(&d, "time", "must be an RFC 3339 time");
    expect(&d, "channel", "unknown value 'fax'");
    expect(&d, "locale", "must be a locale tag");
    expect(&d, "extra", "unknown field");
}

static void test_between_columns(void **state)
{
    CPM_UNUSED(state);
    struct cpm_import_record r;
    struct cpm_detail d;
    json_t *row = good_row();
    json_object_set_new(row, "time", json_string("2099-01-01T00:00:00Z"));
    assert_int_equal(parse(row, &r, &d), CPM_ERR_VALIDATION);
    expect(&d, "time", "is in the future");

    row = good_row();
    json_object_set_new(row, "expires_at", json_string("2025-02-01T00:00:00Z"));
    assert_int_equal(parse(row, &r, &d), CPM_ERR_VALIDATION);
    expect(&d, "expires_at", "must be after time");

    row = good_row();
    json_object_set_new(row, "decision", json_string("refused"));
    json_object_set_new(row, "expires_at", json_string("2026-02-01T00:00:00Z"));
    assert_int_equal(parse(row, &r, &d), CPM_ERR_VALIDATION);
    expect(&d, "expires_at", "only a consent given expires");

    row = good_row();
    json_object_del(row, "notice_id");
    json_object_del(row, "notice_version");
    assert_int_equal(parse(row, &r, &d), CPM_ERR_VALIDATION);
    expect(&d, "notice_id", "is required to give or refuse");

    row = good_row(); /* a withdrawal names no notice; null is absent */
    json_object_set_new(row, "decision", json_string("withdrawn"));
    json_object_set_new(row, "notice_id", json_null());
    json_object_set_new(row, "notice_version", json_null());
    assert_int_equal(parse(row, &r, &d), CPM_OK);

    row = good_row();
    json_object_del(row, "notice_version");
    assert_int_equal(parse(row, &r, &d), CPM_ERR_VALIDATION);
    expect(&d, "notice_version", "is required with notice_id");
}

static void test_csv_values(void **state)
{
    CPM_UNUSED(state);
    const char *values[CPM_IMPORT_COLUMNS] = {NULL};
    size_t lengths[CPM_IMPORT_COLUMNS] = {0};
    values[CPM_IMPORT_NOTICE_VERSION] = "2";
    values[CPM_IMPORT_SEPARATE] = "true";
    values[CPM_IMPORT_SUBJECT] = "s1";
    values[CPM_IMPORT_RECIPIENT] = ""; /* empty: absent */
    values[CPM_IMPORT_REGION] = "yes";
    for (int c = 0; c < CPM_IMPORT_COLUMNS; c++)
        lengths[c] = values[c] ? strlen(values[c]) : 0;
    json_t *row = NULL;
    struct cpm_detail d;
    cpm_detail_init(&d);
    assert_int_equal(cpm_import_row_object(values, lengths, &row, &d), CPM_OK);
    assert_int_equal(json_integer_value(json_object_get(row, "notice_version")), 2);
    assert_true(json_is_true(json_object_get(row, "separate")));
    assert_string_equal(json_string_value(json_object_get(row, "region")), "yes");
    assert_null(json_object_get(row, "recipient"));
    json_decref(row);

    values[CPM_IMPORT_SEPARATE] = "1"; /* stays text, for the checks to name */
    values[CPM_IMPORT_SUBJECT] = "s\xff";
    lengths[CPM_IMPORT_SEPARATE] = 1;
    lengths[CPM_IMPORT_SUBJECT] = 2;
    assert_int_equal(cpm_import_row_object(values, lengths, &row, &d), CPM_ERR_VALIDATION);
    expect(&d, "subject", "is not valid UTF-8");
    assert_null(row);
}

static void test_columns(void **state)
{
    CPM_UNUSED(state);
    assert_int_equal(cpm_import_column_find("notice_version", 14), CPM_IMPORT_NOTICE_VERSION);
    assert_int_equal(cpm_import_column_find("notice_versionX", 14), CPM_IMPORT_NOTICE_VERSION);
    assert_int_equal(cpm_import_column_find("Subject", 7), -1);
    assert_string_equal(cpm_import_column_name(CPM_IMPORT_SOURCE_ID), "source_id");
}

static void test_action_and_fault_names(void **state)
{
    CPM_UNUSED(state);
    json_t *row = good_row();
    json_object_set_new(row, "recipient", json_string("hq"));
    json_object_set_new(row, "separate", json_true());
    struct cpm_import_record r;
    struct cpm_detail d;
    cpm_detail_init(&d);
    assert_int_equal(cpm_import_row_parse(row, NOW_MS, &r, &d), CPM_OK);
    struct cpm_consent_action a;
    cpm_import_action(&r, "ab", &a);
    assert_string_equal(a.method, "import");
    assert_string_equal(a.actor, "self");
    assert_string_equal(a.notice_sha256, "ab");
    assert_int_equal(a.count, 1);
    assert_string_equal(a.decisions[0].recipient, "hq");
    assert_true(a.decisions[0].separate);
    cpm_detail_add(&d, "decisions[0].purpose", "x");
    cpm_detail_add(&d, "notice.version", "x");
    cpm_detail_add(&d, "actor.type", "x");
    cpm_detail_add(&d, "property", "x");
    cpm_import_rename_faults(&d);
    expect(&d, "purpose", "x");
    expect(&d, "notice_version", "x");
    expect(&d, "subject", "x");
    expect(&d, "property", "x");
    json_decref(row);
}

/* ---- the consent leaf against jansson ---- */

/* The leaf as json_pack and json_dumps wrote it before: the reference. */
static char *leaf_by_jansson(const struct cpm_consent_action *a, size_t i,
                             const struct cpm_consent_leaf_info *info)
{
    const struct cpm_consent_decision *c = &a->decisions[i];
    char time_text[CPM_TIME_TEXT_BYTES], at[CPM_TIME_TEXT_BYTES];
    cpm_time_format(info->time_ms, time_text, sizeof(time_text));
    json_t *leaf =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "v", 1, "id",
                  info->event_id, "type", cpm_consent_event_type(c->decision), "time", time_text,
                  "subject", info->subject_pseudonym, "purpose", c->purpose, "action",
                  info->action_id, "property", a->property, "channel", a->channel, "locale",
                  a->locale, "method", a->method, "separate", c->separate);
    json_object_set_new(leaf, "actor", json_string(a->actor));
    if (c->recipient)
        json_object_set_new(leaf, "recipient", json_string(c->recipient));
    if (info->guardian_pseudonym)
        json_object_set_new(leaf, "guardian", json_string(info->guardian_pseudonym));
    if (a->notice_id)
        json_object_set_new(leaf, "notice",
                            json_pack("{s:s, s:I, s:s}", "id", a->notice_id, "version",
                                      (json_int_t)a->notice_version, "sha256", a->notice_sha256));
    if (info->context_sha256)
        json_object_set_new(leaf, "context_sha256", json_string(info->context_sha256));
    if (a->display)
        json_object_set_new(leaf, "display", json_string(a->display));
    if (a->otp_challenge && info->otp_verified_ms) {
        cpm_time_format(info->otp_verified_ms, at, sizeof(at));
        json_object_set_new(
            leaf, "otp", json_pack("{s:s, s:s}", "challenge", a->otp_challenge, "verified_at", at));
    }
    if (info->imported_ms) {
        cpm_time_format(info->imported_ms, at, sizeof(at));
        json_t *import = json_pack("{s:s}", "at", at);
        if (info->import_source)
            json_object_set_new(import, "source", json_string(info->import_source));
        json_object_set_new(leaf, "import", import);
    }
    char *text = json_dumps(leaf, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(leaf);
    return text;
}

static void expect_same_leaf(const struct cpm_consent_action *a,
                             const struct cpm_consent_leaf_info *info)
{
    for (size_t i = 0; i < a->count; i++) {
        size_t len = 0;
        char *ours = cpm_consent_leaf(a, i, info, &len);
        char *want = leaf_by_jansson(a, i, info);
        assert_non_null(ours);
        assert_non_null(want);
        assert_string_equal(ours, want);
        assert_int_equal(len, strlen(want));
        cpm_free(ours);
        cpm_free(want);
    }
}

static void test_leaf_as_jansson(void **state)
{
    CPM_UNUSED(state);
    struct cpm_consent_action a = {
        .property = "shop",
        .channel = "web",
        .locale = "zh-Hant-HK",
        .method = "checkbox",
        .actor = "self",
        .count = 3,
        .decisions = {{.purpose = "marketing.sms", .decision = "given"},
                      {.purpose = "ads.personalised", .decision = "refused", .separate = true},
                      {.purpose = "crossborder.hq", .decision = "withdrawn", .recipient = "hq"}},
    };
    struct cpm_consent_leaf_info info = {
        .event_id = "evt_ffbe47c4457eadb4a8632d8783784d87",
        .action_id = "act_666846f19dd4d7e2f0c9b39ed7c373f3",
        .subject_pseudonym = "818f7ea7f05855b0cba4e39f7b76e4a5ba32e6308ce18a64a03088b2266b2786",
        .time_ms = INT64_C(1796000000123),
    };
    expect_same_leaf(&a, &info); /* a withdrawal alone: no notice */
    a.notice_id = "privacy";
    a.notice_version = 12;
    a.notice_sha256 = "a94f84042619a522db37ecb7b71ca1d9874c74d1ce8bc8ae71ed0e15965b6927";
    a.actor = "guardian";
    a.display = "evt_00000000000000000000000000000001";
    a.otp_challenge = "otp_00000000000000000000000000000002";
    info.guardian_pseudonym = "0ea0367d5e6657a77628783bb67e82c814f6c04726d2bc183082e8d425ff0563";
    info.context_sha256 = "bd3cbec3d419dc34a1cf922f73b8f159c6992c6cf17fbd93d6be75f706b59108";
    info.otp_verified_ms = INT64_C(1795999999000);
    expect_same_leaf(&a, &info); /* every optional key */
    a.method = "import";
    a.display = a.otp_challenge = NULL;
    info.guardian_pseudonym = info.context_sha256 = NULL;
    info.imported_ms = INT64_C(1796000005000);
    expect_same_leaf(&a, &info); /* imported, no source */
    info.import_source = "73f85bbe44d997bb08e859bb1dfaeb4b6761f9a606303fcbfabd4058a5116e1b";
    a.property = "quote\"back\\slash\ttab\x01"; /* never valid, but escaped alike */
    expect_same_leaf(&a, &info);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_row),        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_between_columns), cmocka_unit_test(test_csv_values),
        cmocka_unit_test(test_columns),         cmocka_unit_test(test_action_and_fault_names),
        cmocka_unit_test(test_leaf_as_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
