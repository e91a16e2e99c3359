/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_subject.c — a subject's bodies and leaves (src/domain/subject.c):
 * age status, identifier and guardian bodies with their faults, the leaf
 * of each subject event (fixed key order, no plaintext), and the consent
 * rule that a guardian who acts is linked to the subject (PIPL Art. 31).
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "support/fixture.h"

#include "core/alloc.h"
#include "domain/consent.h"
#include "domain/subject.h"

#define PSEUDONYM_A "8a9b500991d7ed5f4859811f9f826a63a3bad03722477b4a0a5a0bb5b6bb6433"
#define PSEUDONYM_B "bc0e0092ec2e76c8bb60264b4ccbdd3c35fa5fbe8f12cf1d4960596898129eb9"
#define TIME_MS     1795940767705 /* 2026-11-29T08:26:07.705Z */

static void test_subject_ids_and_ages(void **state)
{
    CPM_UNUSED(state);
    char longest[CPM_SUBJECT_ID_BYTES_MAX + 2];
    memset(longest, 'x', sizeof(longest));
    longest[CPM_SUBJECT_ID_BYTES_MAX] = '\0';
    assert_true(cpm_subject_id_valid("cust-42"));
    assert_true(cpm_subject_id_valid(longest));
    longest[CPM_SUBJECT_ID_BYTES_MAX] = 'x';
    longest[CPM_SUBJECT_ID_BYTES_MAX + 1] = '\0';
    assert_false(cpm_subject_id_valid(longest));
    assert_false(cpm_subject_id_valid(""));
    assert_false(cpm_subject_id_valid("a b"));
    assert_false(cpm_subject_id_valid("a/b"));
    assert_false(cpm_subject_id_valid("caf\xc3\xa9"));
    assert_true(cpm_age_status_valid("child_under_14"));
    assert_true(cpm_age_status_valid("unknown"));
    assert_false(cpm_age_status_valid("child"));
    assert_false(cpm_age_status_valid(NULL));
}

static void test_age_body(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    const char *age = NULL;
    json_t *body = J("{'age_status': 'minor_14_17'}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_subject_age_parse(body, &age, &d), CPM_OK);
    assert_string_equal(age, "minor_14_17");
    json_decref(body);

    body = J("{'age_status': 'teen', 'age': 15}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_subject_age_parse(body, &age, &d), CPM_ERR_VALIDATION);
    expect(&d, "age_status", "unknown value 'teen'");
    expect(&d, "age", "");
    json_decref(body);

    body = J("{}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_subject_age_parse(body, &age, &d), CPM_ERR_VALIDATION);
    expect(&d, "age_status", "is required");
    json_decref(body);
}

static void test_identity_body(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    struct cpm_identity_input in;
    json_t *body = J("{'type': 'phone', 'value': '138 0013 8000'}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_identity_parse(body, &in, &d), CPM_OK);
    assert_string_equal(in.type, "phone");
    assert_string_equal(in.value, "138 0013 8000");
    json_decref(body);

    body = J("{'type': '', 'value': 5}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_identity_parse(body, &in, &d), CPM_ERR_VALIDATION);
    assert_int_equal(d.count, 2);
    expect(&d, "type", "");
    expect(&d, "value", "");
    json_decref(body);
}

static void test_guardian_body(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    struct cpm_guardian_input in;
    json_t *body = J("{'guardian_id': 'mum', 'relation': 'parent'}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_guardian_parse(body, "kid", &in, &d), CPM_OK);
    assert_string_equal(in.guardian_id, "mum");
    assert_string_equal(in.relation, "parent");

    cpm_detail_init(&d);
    assert_int_equal(cpm_guardian_parse(body, "mum", &in, &d), CPM_ERR_VALIDATION);
    expect(&d, "guardian_id", "a subject cannot be its own guardian");
    json_decref(body);

    body = J("{'guardian_id': 'a b', 'relation': 'uncle'}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_guardian_parse(body, "kid", &in, &d), CPM_ERR_VALIDATION);
    expect(&d, "guardian_id", "a subject id is");
    expect(&d, "relation", "unknown value 'uncle'");
    json_decref(body);
}

static void leaf_is(const struct cpm_subject_leaf_info *info, const char *want)
{
    size_t len = 0;
    char *leaf = cpm_subject_leaf(info, &len);
    assert_non_null(leaf);
    assert_int_equal(len, strlen(leaf));
    assert_string_equal(leaf, want);
    cpm_free(leaf);
}

#define LEAF_HEAD(type)                                                                            \
    "{\"v\":1,\"id\":\"evt_1\",\"type\":\"" type "\",\"time\":\"2026-11-29T08:26:07.705Z\","       \
    "\"subject\":\"" PSEUDONYM_A "\""

static void test_leaves(void **state)
{
    CPM_UNUSED(state);
    struct cpm_subject_leaf_info info = {
        .event_id = "evt_1",
        .subject_pseudonym = PSEUDONYM_A,
        .time_ms = TIME_MS,
    };
    info.type = CPM_EVENT_AGE_STATUS_SET;
    info.age_status = "child_under_14";
    leaf_is(&info, LEAF_HEAD("subject.age_status_set") ",\"age_status\":\"child_under_14\"}");

    info.type = CPM_EVENT_IDENTITY_LINKED;
    info.identifier_type = "phone";
    info.identifier_hash = PSEUDONYM_B;
    leaf_is(&info, LEAF_HEAD("identity.linked") ",\"identifier_type\":\"phone\","
                                                "\"identifier_hash\":\"" PSEUDONYM_B "\"}");

    info.type = CPM_EVENT_GUARDIAN_LINKED;
    info.guardian_pseudonym = PSEUDONYM_B;
    info.relation = "parent";
    leaf_is(&info, LEAF_HEAD("guardian.linked") ",\"guardian\":\"" PSEUDONYM_B
                                                "\",\"relation\":\"parent\"}");

    info.type = CPM_EVENT_SUBJECT_ERASED;
    leaf_is(&info, LEAF_HEAD("subject.erased") "}");
}

/* ---- the guardian rule of the consent check ---- */

static const json_t *lookup_fn(void *ctx, enum cpm_doc_kind kind, const char *id, bool *failed)
{
    CPM_UNUSED(failed);
    json_t *docs = ctx;
    return json_object_get(json_object_get(docs, kind == CPM_DOC_PROPERTY ? "p" : "u"), id);
}

static void check(const char *action_json, const struct cpm_consent_subject *subject,
                  struct cpm_detail *d, cpm_err want)
{
    json_t *docs = J("{'p': {'shop': {}}, 'u': {'mkt': {'legal_basis': 'consent', "
                     "'consent_form': 'general'}}}");
    json_t *version = J("{'content': {'en': {'sha256': 'aa'}}, 'purposes': [{'purpose': 'mkt'}]}");
    json_t *body = J(action_json);
    struct cpm_consent_action action;
    struct cpm_config_lookup lookup = {.fn = lookup_fn, .ctx = docs};
    cpm_detail_init(d);
    assert_int_equal(cpm_consent_parse(body, &action, d), CPM_OK);
    assert_int_equal(cpm_consent_check(&action, &lookup, version, subject, d), want);
    json_decref(body);
    json_decref(version);
    json_decref(docs);
}

#define ACTION(actor)                                                                              \
    "{'property': 'shop', 'channel': 'web', 'locale': 'en', 'method': 'click', " actor             \
    "'decisions': [{'purpose': 'mkt', 'decision': 'withdrawn'}]}"

static void test_guardian_rule(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    struct cpm_consent_subject child = {.age_status = CPM_AGE_STATUS_CHILD_UNDER_14};
    check(ACTION(""), &child, &d, CPM_ERR_VALIDATION);
    expect(&d, "actor.type", "the person is under 14: a guardian must act for them (PIPL Art. 31)");

    check(ACTION("'actor': {'type': 'guardian', 'guardian_id': 'stranger'},"), &child, &d,
          CPM_ERR_VALIDATION);
    assert_int_equal(d.count, 1);
    expect(&d, "actor.guardian_id",
           "'stranger' is not a linked guardian of this subject (PIPL Art. 31)");

    child.guardian_linked = true;
    check(ACTION("'actor': {'type': 'guardian', 'guardian_id': 'mum'},"), &child, &d, CPM_OK);

    /* Any guardian who acts must be linked, whatever the age. */
    struct cpm_consent_subject adult = {.age_status = "adult"};
    check(ACTION("'actor': {'type': 'guardian', 'guardian_id': 'mum'},"), &adult, &d,
          CPM_ERR_VALIDATION);
    expect(&d, "actor.guardian_id", "'mum' is not a linked guardian");
    check(ACTION(""), &adult, &d, CPM_OK);
}

/* Where a one-time code went, without the whole number. */
static void test_phone_mask(void **state)
{
    (void)state;
    char out[24];
    cpm_phone_mask("+8613800138000", out, sizeof(out));
    assert_string_equal(out, "+86 138****8000");
    cpm_phone_mask("+447700900123", out, sizeof(out));
    assert_string_equal(out, "+44******0123");
    cpm_phone_mask("+85291234567", out, sizeof(out));
    assert_string_equal(out, "+85*****4567");
    cpm_phone_mask("8613800138000", out, sizeof(out));
    assert_string_equal(out, "");
    cpm_phone_mask("+86138001380a0", out, sizeof(out));
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subject_ids_and_ages),
        cmocka_unit_test(test_age_body),
        cmocka_unit_test(test_identity_body),
        cmocka_unit_test(test_guardian_body),
        cmocka_unit_test(test_leaves),
        cmocka_unit_test(test_guardian_rule),
        cmocka_unit_test(test_phone_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
