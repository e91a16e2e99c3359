/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config.c — the configuration rules of docs/CONFIGURATION.md
 * (src/domain/config.c): valid documents and their defaults, each rule
 * broken with its field path, lookups through an in-test store, notice
 * version hashing, and the tables of ids, locale tags and durations.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "support/fixture.h"

#include "domain/config.h"

/* The in-test store: {"<kind>": {"<id>": doc}}; the id "boom" fails. */
static const json_t *lookup_fn(void *ctx, enum cpm_doc_kind kind, const char *id, bool *failed)
{
    if (strcmp(id, "boom") == 0) {
        *failed = true;
        return NULL;
    }
    return json_object_get(json_object_get(ctx, cpm_doc_kind_name(kind)), id);
}

static json_t *store;
static struct cpm_config_lookup lookup = {lookup_fn, NULL};

static int setup(void **state)
{
    (void)state;
    store = J("{'property': {'web': {}}, 'notice': {'privacy': {'default_locale': 'zh-Hans'}},"
              " 'purpose': {'marketing.sms': {'legal_basis': 'consent'},"
              "             'orders': {'legal_basis': 'contract'}}}");
    lookup.ctx = store;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(store);
    return 0;
}

/* Validates text as kind; returns the document (owned) for further checks. */
static json_t *check(enum cpm_doc_kind kind, const char *text, cpm_err want, struct cpm_detail *d)
{
    json_t *doc = J(text);
    cpm_detail_init(d);
    assert_int_equal(cpm_config_validate(kind, doc, &lookup, d), want);
    return doc;
}

static const char *get(const json_t *doc, const char *key)
{
    return json_string_value(json_object_get(doc, key));
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(cpm_doc_kind_name(CPM_DOC_PROPERTY), "property");
    assert_string_equal(cpm_doc_kind_name(CPM_DOC_PURPOSE), "purpose");
    assert_string_equal(cpm_doc_kind_name(CPM_DOC_NOTICE), "notice");
    assert_string_equal(cpm_doc_kind_name(CPM_DOC_POLICY), "policy");
}

static void test_property(void **state)
{
    (void)state;
    struct cpm_detail d;
    json_t *doc = check(CPM_DOC_PROPERTY,
                        "{'id': 'web', 'name': 'Shop', 'kind': 'mini_program',"
                        " 'locales': ['zh-Hans', 'en'], 'default_locale': 'zh-Hans'}",
                        CPM_OK, &d);
    assert_int_equal(json_array_size(json_object_get(doc, "allowed_origins")), 0);
    json_decref(doc);

    doc = check(CPM_DOC_PROPERTY,
                "{'id': '-web', 'kind': 'site', 'locales': ['en', 'en'], 'default_locale': 'fr',"
                " 'allowed_origins': ['http://shop.example.cn'], 'colour': 1, 'revision': 3}",
                CPM_ERR_VALIDATION, &d);
    expect(&d, "id", "must be an id");
    expect(&d, "name", "is required");
    expect(&d, "kind", "unknown value 'site'; expected one of: web, h5, mini_program, app,");
    expect(&d, "locales[1]", "duplicate value 'en'");
    expect(&d, "default_locale", "must be one of locales");
    expect(&d, "allowed_origins[0]", "must be an origin");
    expect(&d, "colour", "unknown field; allowed: id, name, kind, allowed_origins, locales,");
    expect(&d, "revision", "is read-only");
    assert_int_equal(d.count, 8);
    json_decref(doc);
}

static void test_purpose(void **state)
{
    (void)state;
    struct cpm_detail d;
    json_t *doc = check(CPM_DOC_PURPOSE,
                        "{'id': 'orders', 'name': {'en': 'Orders'}, 'legal_basis': 'contract',"
                        " 'retention': 'P3Y'}",
                        CPM_OK, &d);
    assert_true(json_is_false(json_object_get(doc, "sensitive")));
    assert_true(json_is_false(json_object_get(doc, "necessary_for_service")));
    assert_int_equal(json_array_size(json_object_get(doc, "pi_categories")), 0);
    json_decref(doc);
    json_decref(check(CPM_DOC_PURPOSE,
                      "{'id': 'marketing.sms', 'name': {'zh-Hans': '短信营销', 'en': 'SMS'},"
                      " 'description': {'en': 'Offers'}, 'legal_basis': 'consent',"
                      " 'consent_form': 'separate', 'sensitive': true, 'retention': 'P12M',"
                      " 'pi_categories': ['contact.phone'], 'necessary_for_service': false,"
                      " 'dpv_iri': 'https://w3id.org/dpv#DirectMarketing'}",
                      CPM_OK, &d));
}

static void test_purpose_rules(void **state)
{
    (void)state;
    static const struct {
        const char *doc, *field, *message;
    } cases[] = {
        {"'legal_basis': 'consent'", "consent_form", "is required when legal_basis is consent"},
        {"'legal_basis': 'contract', 'consent_form': 'general'", "consent_form",
         "is only for legal_basis consent"},
        {"'legal_basis': 'consent', 'consent_form': 'general', 'sensitive': true", "consent_form",
         "must be separate or written for sensitive personal information (PIPL Art. 29)"},
        {"'legal_basis': 'concent', 'consent_form': 'general'", "legal_basis",
         "unknown value 'concent'; expected one of: consent, contract, hr_management,"},
        {"'legal_basis': 'contract', 'retention': 'P0D'", "retention",
         "must be a non-zero ISO 8601 duration"},
        {"'legal_basis': 'contract', 'name': {}", "name", "must not be empty"},
        {"'legal_basis': 'contract', 'name': {'en': ''}", "name.en", "must not be empty"},
        {"'legal_basis': 'contract', 'id': 'Orders'", "id", "must be a purpose id"},
        {"'legal_basis': 'contract', 'pi_categories': ['Phone']", "pi_categories[0]",
         "must be an id"},
        {"'legal_basis': 'contract', 'dpv_iri': 'http://w3id.org/dpv'", "dpv_iri",
         "must be an absolute https:// IRI"},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(cases); i++) {
        struct cpm_detail d;
        char text[1024];
        json_t *doc = J("{'id': 'p', 'name': {'en': 'P'}, 'retention': 'P1Y'}");
        snprintf(text, sizeof(text), "{%s}", cases[i].doc);
        json_t *over = J(text);
        json_object_update(doc, over);
        json_decref(over);
        cpm_detail_init(&d);
        assert_int_equal(cpm_config_validate(CPM_DOC_PURPOSE, doc, NULL, &d), CPM_ERR_VALIDATION);
        expect(&d, cases[i].field, cases[i].message);
        assert_int_equal(d.count, 1);
        json_decref(doc);
    }

    struct cpm_detail d;
    json_t *doc = J("{'id': 'p', 'name': {'en': 'P'}, 'legal_basis': 'contract'}");
    json_object_set_new(json_object_get(doc, "name"), "ja", json_string(""));
    char long_name[CPM_NAME_BYTES_MAX + 2];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    json_object_set_new(json_object_get(doc, "name"), "en", json_string(long_name));
    cpm_detail_init(&d);
    assert_int_equal(cpm_config_validate(CPM_DOC_PURPOSE, doc, NULL, &d), CPM_ERR_VALIDATION);
    expect(&d, "name.en", "is 201 bytes; the limit is 200");
    expect(&d, "name.ja", "must not be empty");
    expect(&d, "retention", "is required");
    json_decref(doc);
}

static void test_notice(void **state)
{
    (void)state;
    struct cpm_detail d;
    json_decref(check(CPM_DOC_NOTICE,
                      "{'id': 'privacy', 'name': 'Privacy', 'default_locale': 'en'}", CPM_OK, &d));
    json_decref(
        check(CPM_DOC_NOTICE, "{'id': 'privacy', 'default_locale': 'EN'}", CPM_ERR_VALIDATION, &d));
    expect(&d, "name", "is required");
    expect(&d, "default_locale", "must be a locale tag");
}

static void test_policy(void **state)
{
    (void)state;
    struct cpm_detail d;
    char key[128];
    json_t *doc = check(CPM_DOC_POLICY,
                        "{'id': 'cn-web', 'region': 'CN', 'property': 'web', 'notice': 'privacy',"
                        " 'purposes': [{'purpose': 'marketing.sms'},"
                        "              {'purpose': 'orders', 'default': true}],"
                        " 'consent_validity': 'P1Y', 'reminder_before': 'P30D',"
                        " 'ui': {'theme': {'primary_color': '#0a7cff'},"
                        "        'texts': {'accept': {'zh-Hans': '同意', 'en': 'Accept'}}}}",
                        CPM_OK, &d);
    assert_int_equal(json_integer_value(json_object_get(doc, "guardian_age_below")), 14);
    assert_string_equal(get(doc, "gpc"), "refuse_sale_and_ads");
    assert_true(json_is_false(json_object_get(doc, "otp_required")));
    json_t *first = json_array_get(json_object_get(doc, "purposes"), 0);
    assert_true(json_is_false(json_object_get(first, "default")));
    cpm_config_unique_key(CPM_DOC_POLICY, doc, key, sizeof(key));
    assert_string_equal(key, "CN|web");
    cpm_config_unique_key(CPM_DOC_NOTICE, doc, key, sizeof(key));
    assert_string_equal(key, "");
    json_decref(doc);
}

static void test_policy_rules(void **state)
{
    (void)state;
    struct cpm_detail d;
    json_t *doc =
        check(CPM_DOC_POLICY,
              "{'id': 'p', 'region': 'china', 'property': 'app', 'notice': 'nope',"
              " 'purposes': [{'purpose': 'marketing.sms', 'default': true},"
              "              {'purpose': 'ghost'}, {'purpose': 'orders', 'default': true},"
              "              {'purpose': 'orders'}],"
              " 'reminder_before': 'P30D', 'guardian_age_below': 19, 'gpc': 'honour',"
              " 'ui': {'theme': {'primary_color': 'blue'}, 'texts': {'ok': {}}}}",
              CPM_ERR_VALIDATION, &d);
    expect(&d, "region", "must be '*', an ISO 3166-1 alpha-2 code (CN) or an ISO 3166-2 code");
    expect(&d, "property", "unknown property 'app'");
    expect(&d, "notice", "unknown notice 'nope'");
    expect(&d, "purposes[0].default", "consent purposes are never pre-ticked (PIPL Art. 14)");
    expect(&d, "purposes[1].purpose", "unknown purpose 'ghost'");
    expect(&d, "purposes[3].purpose", "duplicate value 'orders'");
    expect(&d, "reminder_before", "needs consent_validity");
    expect(&d, "guardian_age_below", "is 19; it must be between 1 and 18");
    expect(&d, "gpc", "unknown value 'honour'; expected one of: ignore, refuse_sale_and_ads");
    expect(&d, "ui.theme.primary_color", "must be a colour #rrggbb");
    expect(&d, "ui.texts.ok", "unknown field; allowed: title, accept, refuse, settings");
    assert_int_equal(d.count, 11);
    json_decref(doc);

    json_decref(check(CPM_DOC_POLICY,
                      "{'id': 'p', 'region': 'CN-HK', 'property': 'boom', 'notice': 'privacy',"
                      " 'purposes': [{'purpose': 'orders'}]}",
                      CPM_ERR_STORE, &d));
    json_decref(check(CPM_DOC_POLICY,
                      "{'id': 'p', 'region': '*', 'property': 'web', 'notice': 'privacy',"
                      " 'purposes': []}",
                      CPM_ERR_VALIDATION, &d));
    expect(&d, "purposes", "must not be empty");
}

static void test_notice_version(void **state)
{
    (void)state;
    struct cpm_detail d;
    const json_t *notice = json_object_get(json_object_get(store, "notice"), "privacy");
    json_t *v = J("{'content': {'zh-Hans': {'title': '隐私政策', 'text': 'hello'}},"
                  " 'purposes': [{'purpose': 'orders'},"
                  "              {'purpose': 'marketing.sms', 'change': 'notify_only'}],"
                  " 'summary': 'First version'}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_notice_version_validate(v, notice, &lookup, &d), CPM_OK);
    assert_string_equal(get(json_object_get(json_object_get(v, "content"), "zh-Hans"), "sha256"),
                        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    assert_string_equal(get(json_array_get(json_object_get(v, "purposes"), 0), "change"),
                        "material");
    json_decref(v);

    v = J("{'content': {'en': {'title': 'Privacy', 'text': 'hi', 'sha256': 'abc'}},"
          " 'purposes': [{'purpose': 'ghost'}, {'purpose': 'orders'}, {'purpose': 'orders'}],"
          " 'version': 2, 'published_at': '2024-01-01T00:00:00.000Z'}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_notice_version_validate(v, notice, &lookup, &d), CPM_ERR_VALIDATION);
    expect(&d, "content", "must include the notice's default locale 'zh-Hans'");
    expect(&d, "content.en.sha256", "is read-only");
    expect(&d, "purposes[0].purpose", "unknown purpose 'ghost'");
    expect(&d, "purposes[2].purpose", "duplicate value 'orders'");
    expect(&d, "version", "is read-only");
    expect(&d, "published_at", "is read-only");
    assert_int_equal(d.count, 6);
    json_decref(v);

    v = J(
        "{'content': {'zh-Hans': {'title': 'T', 'text': ''}}, 'purposes': [{'purpose': 'boom'}]}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_notice_version_validate(v, notice, &lookup, &d), CPM_ERR_STORE);
    json_decref(v);
}

static void test_duration_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        struct cpm_duration want;
    } good[] = {
        {"P1Y", {.years = 1}},      {"P12M", {.months = 12}},
        {"P30D", {.days = 30}},     {"PT12H", {.seconds = 43200}},
        {"P1Y6M", {1, 6, 0, 0, 0}}, {"P2W", {.weeks = 2}},
        {"PT1M", {.seconds = 60}},  {"P1DT1H1M1S", {.days = 1, .seconds = 3661}},
        {"P0DT1S", {.seconds = 1}}, {"P999999999D", {.days = 999999999}},
    };
    static const char *const bad[] = {
        "P",     "PT",    "P1DT",  "P0D",   "PT0S", "P1000000000D", "P1.5D",  "P-1D",
        "P1D1Y", "P1Y1Y", "P1W1D", "P0W1D", "P1H",  "PT1D",         "PT1H1H", "P1DTT1H",
        "p1d",   " P1D",  "P1D ",  "1D",    "",     "P1,5D",
    };
    struct cpm_duration d;
    for (size_t i = 0; i < CPM_ARRAY_LEN(good); i++) {
        if (!cpm_duration_parse(good[i].text, &d))
            fail_msg("'%s' should be valid", good[i].text);
        assert_memory_equal(&d, &good[i].want, sizeof(d));
    }
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad); i++)
        if (cpm_duration_parse(bad[i], &d))
            fail_msg("'%s' should be refused", bad[i]);
    assert_false(cpm_duration_parse(NULL, &d));
}

static void test_locale_and_id_valid(void **state)
{
    (void)state;
    static const char *const good_locales[] = {"en",         "zh-Hans", "zh-Hant", "en-GB",
                                               "zh-Hant-HK", "es-419",  "yue"};
    static const char *const bad_locales[] = {"",      "e",       "english",      "EN",
                                              "en-gb", "zh-hans", "zh-HANS",      "en-GBR",
                                              "en-",   "en_GB",   "zh-Hant-HK-x", "en-12"};
    static const char *const good_ids[] = {
        "web",     "marketing.sms",
        "a",       "0day",
        "a_b-c.d", "x234567890123456789012345678901234567890123456789012345678901234"};
    static const char *const bad_ids[] = {
        "",     "Web",  "-web",
        ".web", "_web", "we b",
        "wéb",  "a/b",  "x2345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(good_locales); i++)
        if (!cpm_locale_valid(good_locales[i]))
            fail_msg("locale '%s' should be valid", good_locales[i]);
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad_locales); i++)
        if (cpm_locale_valid(bad_locales[i]))
            fail_msg("locale '%s' should be refused", bad_locales[i]);
    for (size_t i = 0; i < CPM_ARRAY_LEN(good_ids); i++)
        if (!cpm_config_id_valid(good_ids[i]))
            fail_msg("id '%s' should be valid", good_ids[i]);
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad_ids); i++)
        if (cpm_config_id_valid(bad_ids[i]))
            fail_msg("id '%s' should be refused", bad_ids[i]);
    assert_false(cpm_config_id_valid(NULL));
    assert_false(cpm_locale_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),     cmocka_unit_test(test_property),
        cmocka_unit_test(test_purpose),        cmocka_unit_test(test_purpose_rules),
        cmocka_unit_test(test_notice),         cmocka_unit_test(test_policy),
        cmocka_unit_test(test_policy_rules),   cmocka_unit_test(test_notice_version),
        cmocka_unit_test(test_duration_parse), cmocka_unit_test(test_locale_and_id_valid),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
