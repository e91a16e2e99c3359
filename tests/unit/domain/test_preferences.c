/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_preferences.c — a subject's contact preferences
 * (src/domain/preferences.c): a full document and its compiled form, the
 * empty document, each field's faults with their paths, several faults at
 * once, topics looked up through an in-test store, the limits on windows,
 * caps and topics, out of memory, and the byte-exact preferences.changed leaf.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "support/fixture.h"

#include "core/alloc.h"
#include "domain/preferences.h"

#define PSEUDONYM  "8a9b500991d7ed5f4859811f9f826a63a3bad03722477b4a0a5a0bb5b6bb6433"
#define SUBJECT_ID "cust-42"
#define TIME_MS    1795940767705 /* 2026-11-29T08:26:07.705Z */

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
    CPM_UNUSED(state);
    store = J("{'topic': {'coupons': {'id': 'coupons'}, 'new_arrivals': {'id': 'new_arrivals'}},"
              " 'purpose': {'marketing.sms': {}}}");
    lookup.ctx = store;
    return 0;
}

static int teardown(void **state)
{
    CPM_UNUSED(state);
    json_decref(store);
    return 0;
}

/* Validates text; returns the document (owned) for further checks. */
static json_t *check(const char *text, cpm_err want, struct cpm_detail *d)
{
    json_t *doc = J(text);
    cpm_detail_init(d);
    assert_int_equal(cpm_preferences_validate(doc, &lookup, d), want);
    return doc;
}

static void test_full_document(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    struct cpm_preferences p;
    json_t *doc = check("{'channels': {'sms': true, 'email': false, 'voice': false},"
                        " 'topics': {'new_arrivals': false, 'coupons': true},"
                        " 'time_zone': 'Asia/Shanghai',"
                        " 'contact_windows': [{'days': ['mon', 'tue'], 'from': '19:00',"
                        "                      'to': '22:00'},"
                        "                     {'days': ['sun'], 'from': '22:00', 'to': '07:30'},"
                        "                     {'from': '12:00', 'to': '24:00'}],"
                        " 'frequency_caps': [{'channel': 'sms', 'max': 2, 'per': 'week'},"
                        "                    {'channel': 'sms', 'max': 1, 'per': 'day'},"
                        "                    {'channel': 'mail', 'max': 1000, 'per': 'month'}],"
                        " 'language': 'zh-Hans', 'personalisation': true}",
                        CPM_OK, &d);
    assert_int_equal(d.count, 0);
    /* the absent days were filled in place */
    json_t *days =
        json_object_get(json_array_get(json_object_get(doc, "contact_windows"), 2), "days");
    assert_int_equal(json_array_size(days), 7);
    assert_string_equal(json_string_value(json_array_get(days, 6)), "sun");

    memset(&p, 0xA5, sizeof(p));
    cpm_preferences_compile(doc, &p);
    assert_int_equal(p.channels_off, (1u << CPM_CHANNEL_EMAIL) | (1u << CPM_CHANNEL_VOICE));
    assert_false(p.personalisation_off);
    assert_string_equal(p.time_zone, "Asia/Shanghai");
    assert_string_equal(p.language, "zh-Hans");

    assert_int_equal(p.window_count, 3);
    assert_int_equal(p.windows[0].days, 0x03);
    assert_int_equal(p.windows[0].from_min, 19 * 60);
    assert_int_equal(p.windows[0].to_min, 22 * 60);
    assert_int_equal(p.windows[1].days, 0x40);
    assert_int_equal(p.windows[1].from_min, 22 * 60);
    assert_int_equal(p.windows[1].to_min, 7 * 60 + 30); /* spans midnight */
    assert_int_equal(p.windows[2].days, CPM_WINDOW_DAYS_ALL);
    assert_int_equal(p.windows[2].from_min, 12 * 60);
    assert_int_equal(p.windows[2].to_min, CPM_WINDOW_MINUTES_MAX);

    assert_int_equal(p.cap_count, 3);
    assert_int_equal(p.caps[0].channel, CPM_CHANNEL_SMS);
    assert_int_equal(p.caps[0].cap.max, 2);
    assert_int_equal(p.caps[0].cap.period, CPM_CAP_WEEK);
    assert_int_equal(p.caps[1].channel, CPM_CHANNEL_SMS);
    assert_int_equal(p.caps[1].cap.max, 1);
    assert_int_equal(p.caps[1].cap.period, CPM_CAP_DAY);
    assert_int_equal(p.caps[2].channel, CPM_CHANNEL_MAIL);
    assert_int_equal(p.caps[2].cap.max, 1000);
    assert_int_equal(p.caps[2].cap.period, CPM_CAP_MONTH);

    assert_int_equal(p.topic_count, 2); /* sorted by id */
    assert_string_equal(p.topics[0].id, "coupons");
    assert_true(p.topics[0].on);
    assert_string_equal(p.topics[1].id, "new_arrivals");
    assert_false(p.topics[1].on);
    json_decref(doc);
}

static void test_switches_off(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    struct cpm_preferences p;
    json_t *doc = check("{'channels': {'sms': false, 'email': false, 'app_push': false,"
                        " 'wecom': false, 'wechat_oa': false, 'voice': false, 'mail': false},"
                        " 'personalisation': false, 'language': 'yue-Hant-419'}",
                        CPM_OK, &d);
    cpm_preferences_compile(doc, &p);
    assert_int_equal(p.channels_off, (1u << CPM_CHANNEL__COUNT) - 1);
    assert_true(p.personalisation_off);
    assert_string_equal(p.language, "yue-Hant-419"); /* the longest tag fits */
    json_decref(doc);
}

static void test_empty_document(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    struct cpm_preferences p, zero;
    memset(&zero, 0, sizeof(zero));
    json_t *doc = check("{}", CPM_OK, &d);
    assert_int_equal(json_object_size(doc), 0); /* nothing filled at the top */
    memset(&p, 0xA5, sizeof(p));
    cpm_preferences_compile(doc, &p);
    assert_memory_equal(&p, &zero, sizeof(p));
    assert_string_equal(p.time_zone, "");
    assert_string_equal(p.language, "");
    json_decref(doc);
}

static void test_field_faults(void **state)
{
    CPM_UNUSED(state);
    static const struct {
        const char *doc, *field, *message;
    } cases[] = {
        {"[]", "", "must be an object"},
        {"{'channels': ['sms']}", "channels", "must be an object from channel name to true"},
        {"{'channels': {'fax': true}}", "channels.fax",
         "unknown channel 'fax'; expected one of: sms, email, app_push, wecom, wechat_oa, voice, "
         "mail"},
        {"{'channels': {'sms': 'yes'}}", "channels.sms", "must be true or false"},
        {"{'channels': {'email': null}}", "channels.email", "must be true or false"},
        {"{'topics': true}", "topics", "must be an object from topic id to true"},
        {"{'topics': {'coupons': 1}}", "topics.coupons", "must be true or false"},
        {"{'topics': {'bogus': true}}", "topics.bogus", "unknown topic 'bogus'"},
        {"{'topics': {'Big Sale': true}}", "topics.Big Sale", "is not a topic id"},
        {"{'time_zone': 'Mars/Base'}", "time_zone", "must be an IANA time zone"},
        {"{'time_zone': '../etc/passwd'}", "time_zone", "must be an IANA time zone"},
        {"{'time_zone': 8}", "time_zone", "must be a string"},
        {"{'contact_windows': {}}", "contact_windows", "must be an array"},
        {"{'contact_windows': ['19:00']}", "contact_windows[0]", "must be an object"},
        {"{'contact_windows': [{'from': '25:00', 'to': '22:00'}]}", "contact_windows[0].from",
         "must be a local time HH:MM (00:00-24:00)"},
        {"{'contact_windows': [{'from': '19:00', 'to': '7:00'}]}", "contact_windows[0].to",
         "must be a local time HH:MM"},
        {"{'contact_windows': [{'from': 1900, 'to': '22:00'}]}", "contact_windows[0].from",
         "must be a string"},
        {"{'contact_windows': [{'from': '19:00', 'to': '19:00'}]}", "contact_windows[0].to",
         "must differ from contact_windows[0].from"},
        {"{'contact_windows': [{'from': '24:00', 'to': '06:00'}]}", "contact_windows[0].from",
         "must be 00:00-23:59: 24:00 only ends a window"},
        {"{'contact_windows': [{'from': '19:00'}]}", "contact_windows[0].to", "is required"},
        {"{'contact_windows': [{'days': [], 'from': '19:00', 'to': '22:00'}]}",
         "contact_windows[0].days", "must not be empty"},
        {"{'contact_windows': [{'days': ['mon', 'mon'], 'from': '19:00', 'to': '22:00'}]}",
         "contact_windows[0].days[1]", "duplicate value 'mon'"},
        {"{'contact_windows': [{'days': ['monday'], 'from': '19:00', 'to': '22:00'}]}",
         "contact_windows[0].days[0]", "unknown value 'monday'; expected one of: mon, tue,"},
        {"{'contact_windows': [{'from': '19:00', 'to': '22:00', 'zone': 'UTC'}]}",
         "contact_windows[0].zone", "unknown field; allowed: days, from, to"},
        {"{'frequency_caps': [{'channel': 'fax', 'max': 1, 'per': 'day'}]}",
         "frequency_caps[0].channel", "unknown value 'fax'; expected one of: sms, email,"},
        {"{'frequency_caps': [{'channel': 'sms', 'max': 0, 'per': 'day'}]}",
         "frequency_caps[0].max", "is 0; it must be between 1 and 1000"},
        {"{'frequency_caps': [{'channel': 'sms', 'max': 1001, 'per': 'day'}]}",
         "frequency_caps[0].max", "is 1001; it must be between 1 and 1000"},
        {"{'frequency_caps': [{'channel': 'sms', 'max': '2', 'per': 'day'}]}",
         "frequency_caps[0].max", "must be an integer"},
        {"{'frequency_caps': [{'channel': 'sms', 'max': 2.5, 'per': 'day'}]}",
         "frequency_caps[0].max", "must be an integer"},
        {"{'frequency_caps': [{'channel': 'sms', 'max': 2, 'per': 'year'}]}",
         "frequency_caps[0].per", "unknown value 'year'; expected one of: day, week, month"},
        {"{'frequency_caps': [{'channel': 'sms', 'max': 2}]}", "frequency_caps[0].per",
         "is required"},
        {"{'frequency_caps': [{'channel': 'sms', 'max': 2, 'per': 'week'},"
         " {'channel': 'email', 'max': 2, 'per': 'week'},"
         " {'channel': 'sms', 'max': 5, 'per': 'week'}]}",
         "frequency_caps[2]",
         "duplicate cap on 'sms' per 'week' (as frequency_caps[0]); at most one per channel and "
         "period"},
        {"{'language': 'xx_YY'}", "language", "must be a locale tag like en, en-GB, zh-Hans"},
        {"{'language': ''}", "language", "must be a locale tag"},
        {"{'personalisation': 'no'}", "personalisation", "must be true or false"},
        {"{'personalization': false}", "personalization",
         "unknown field; allowed: channels, topics, time_zone, contact_windows, frequency_caps, "
         "language, personalisation"},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(cases); i++) {
        struct cpm_detail d;
        json_t *doc = check(cases[i].doc, CPM_ERR_VALIDATION, &d);
        expect(&d, cases[i].field, cases[i].message);
        if (d.count != 1)
            fail_msg("case %zu (%s): %d faults", i, cases[i].doc, d.count);
        json_decref(doc);
    }
}

static void test_many_faults(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    json_t *doc = check("{'channels': {'fax': true, 'sms': 1}, 'topics': {'bogus': false,"
                        " 'coupons': true}, 'time_zone': 'Mars/Base',"
                        " 'contact_windows': [{'from': '19:00', 'to': '22:00'},"
                        "                     {'from': '08:00', 'to': '08:00'}],"
                        " 'frequency_caps': [{'channel': 'sms', 'max': 0, 'per': 'day'},"
                        "                    {'channel': 'sms', 'max': 3, 'per': 'day'}],"
                        " 'language': 'xx_YY', 'personalisation': 0, 'extra': {}}",
                        CPM_ERR_VALIDATION, &d);
    expect(&d, "channels.fax", "unknown channel 'fax'");
    expect(&d, "channels.sms", "must be true or false");
    expect(&d, "topics.bogus", "unknown topic 'bogus'");
    expect(&d, "time_zone", "must be an IANA time zone");
    expect(&d, "contact_windows[1].to", "must differ from contact_windows[1].from");
    expect(&d, "frequency_caps[0].max", "is 0;");
    expect(&d, "frequency_caps[1]", "duplicate cap on 'sms' per 'day'");
    expect(&d, "language", "must be a locale tag");
    expect(&d, "personalisation", "must be true or false");
    expect(&d, "extra", "unknown field");
    assert_int_equal(d.count, 10);
    assert_int_equal(d.dropped, 0);
    json_decref(doc);
}

/* {"<field>": [item × n]} */
static json_t *repeated(const char *field, const char *item, size_t n)
{
    json_t *doc = J("{}"), *array = json_array();
    for (size_t i = 0; i < n; i++)
        assert_int_equal(json_array_append_new(array, J(item)), 0);
    assert_int_equal(json_object_set_new(doc, field, array), 0);
    return doc;
}

static void test_limits(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    struct cpm_preferences p;
    const char *window = "{'from': '09:00', 'to': '10:00'}";
    json_t *doc = repeated("contact_windows", window, CPM_PREFERENCES_WINDOWS_MAX);
    cpm_detail_init(&d);
    assert_int_equal(cpm_preferences_validate(doc, &lookup, &d), CPM_OK);
    cpm_preferences_compile(doc, &p);
    assert_int_equal(p.window_count, CPM_PREFERENCES_WINDOWS_MAX);
    json_decref(doc);

    doc = repeated("contact_windows", window, CPM_PREFERENCES_WINDOWS_MAX + 1);
    cpm_detail_init(&d);
    assert_int_equal(cpm_preferences_validate(doc, &lookup, &d), CPM_ERR_VALIDATION);
    expect(&d, "contact_windows", "has 15 items; the limit is 14");
    assert_int_equal(d.count, 1);
    json_decref(doc);

    /* every (channel, period) once: the most caps there can be */
    doc = J("{'frequency_caps': []}");
    for (int c = 0; c < CPM_CHANNEL__COUNT; c++)
        for (int per = 0; per < 3; per++)
            json_array_append_new(json_object_get(doc, "frequency_caps"),
                                  json_pack("{s:s, s:i, s:s}", "channel",
                                            cpm_channel_name((enum cpm_channel)c), "max", 1 + per,
                                            "per", (const char *[]){"day", "week", "month"}[per]));
    cpm_detail_init(&d);
    assert_int_equal(cpm_preferences_validate(doc, &lookup, &d), CPM_OK);
    cpm_preferences_compile(doc, &p);
    assert_int_equal(p.cap_count, CPM_PREFERENCES_CAPS_MAX);
    assert_int_equal(p.caps[20].channel, CPM_CHANNEL_MAIL);
    assert_int_equal(p.caps[20].cap.period, CPM_CAP_MONTH);
    json_array_append_new(json_object_get(doc, "frequency_caps"),
                          J("{'channel': 'sms', 'max': 1, 'per': 'day'}"));
    cpm_detail_init(&d);
    assert_int_equal(cpm_preferences_validate(doc, &lookup, &d), CPM_ERR_VALIDATION);
    expect(&d, "frequency_caps", "has 22 items; the limit is 21");
    assert_int_equal(d.count, 1);
    json_decref(doc);

    /* 65 topics: refused before any is looked up */
    json_t *topics = json_object();
    char id[16];
    for (int i = 0; i <= CPM_PREFERENCES_TOPICS_MAX; i++) {
        snprintf(id, sizeof(id), "t%02d", i);
        json_object_set_new(topics, id, json_true());
    }
    doc = json_pack("{s:o}", "topics", topics);
    cpm_detail_init(&d);
    assert_int_equal(cpm_preferences_validate(doc, &lookup, &d), CPM_ERR_VALIDATION);
    expect(&d, "topics", "has 65 topics; the limit is 64");
    assert_int_equal(d.count, 1);
    json_decref(doc);
}

static void test_lookup_failure(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    json_decref(check("{'topics': {'coupons': true, 'boom': true}}", CPM_ERR_STORE, &d));
}

static void test_out_of_memory(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    const char *text = "{'time_zone': 'Asia/Shanghai', 'topics': {'coupons': true},"
                       " 'contact_windows': [{'from': '19:00', 'to': '22:00'}]}";
    json_decref(check(text, CPM_OK, &d)); /* the zone is cached from here on */
    cpm_err err = CPM_ERR_NOMEM;
    for (int64_t n = 0; err == CPM_ERR_NOMEM; n++) {
        json_t *doc = J(text);
        cpm_detail_init(&d);
        cpm_alloc_fail_after(n);
        err = cpm_preferences_validate(doc, &lookup, &d);
        cpm_alloc_fail_after(-1);
        assert_true(err == CPM_OK || err == CPM_ERR_NOMEM);
        assert_int_equal(d.count, 0);
        json_decref(doc);
    }
}

static void test_leaf(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    size_t len = 0;
    json_t *doc = check("{'topics': {'new_arrivals': false, 'coupons': true},"
                        " 'personalisation': false, 'time_zone': 'Asia/Shanghai',"
                        " 'channels': {'sms': false, 'email': true},"
                        " 'contact_windows': [{'to': '22:00', 'from': '19:00'}],"
                        " 'frequency_caps': [{'per': 'week', 'max': 2, 'channel': 'sms'}],"
                        " 'language': 'zh-Hans'}",
                        CPM_OK, &d);
    char *leaf = cpm_preferences_leaf("evt-1", PSEUDONYM, NULL, TIME_MS, doc, &len);
    assert_non_null(leaf);
    assert_string_equal(
        leaf,
        "{\"v\":1,\"id\":\"evt-1\",\"type\":\"preferences.changed\","
        "\"time\":\"2026-11-29T08:26:07.705Z\",\"subject\":\"" PSEUDONYM "\","
        "\"preferences\":{\"channels\":{\"email\":true,\"sms\":false},"
        "\"contact_windows\":[{\"days\":[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"],"
        "\"from\":\"19:00\",\"to\":\"22:00\"}],"
        "\"frequency_caps\":[{\"channel\":\"sms\",\"max\":2,\"per\":\"week\"}],"
        "\"language\":\"zh-Hans\",\"personalisation\":false,\"time_zone\":\"Asia/Shanghai\","
        "\"topics\":{\"coupons\":true,\"new_arrivals\":false}}}");
    assert_int_equal(len, strlen(leaf));
    assert_non_null(strstr(leaf, PSEUDONYM));
    assert_null(strstr(leaf, SUBJECT_ID));
    cpm_free(leaf);

    /* the empty document; and out of memory gives NULL, never a partial leaf */
    json_t *empty = J("{}");
    leaf = cpm_preferences_leaf("evt-2", PSEUDONYM, NULL, 0, empty, &len);
    assert_non_null(leaf);
    assert_string_equal(leaf, "{\"v\":1,\"id\":\"evt-2\",\"type\":\"preferences.changed\","
                              "\"time\":\"1970-01-01T00:00:00.000Z\",\"subject\":\"" PSEUDONYM
                              "\",\"preferences\":{}}");
    cpm_free(leaf);
    /* changed by a guardian for a child: the guardian's pseudonym before the document */
    leaf = cpm_preferences_leaf("evt-3", PSEUDONYM, "g-pseudonym", 0, empty, &len);
    assert_non_null(leaf);
    assert_string_equal(leaf, "{\"v\":1,\"id\":\"evt-3\",\"type\":\"preferences.changed\","
                              "\"time\":\"1970-01-01T00:00:00.000Z\",\"subject\":\"" PSEUDONYM
                              "\",\"guardian\":\"g-pseudonym\",\"preferences\":{}}");
    cpm_free(leaf);
    char *text = NULL;
    for (int64_t n = 0; text == NULL; n++) {
        cpm_alloc_fail_after(n);
        text = cpm_preferences_leaf("evt-1", PSEUDONYM, NULL, TIME_MS, doc, &len);
        cpm_alloc_fail_after(-1);
    }
    assert_int_equal(len, strlen(text));
    assert_non_null(strstr(text, "\"topics\":{\"coupons\":true,\"new_arrivals\":false}}}"));
    cpm_free(text);
    json_decref(empty);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_document),  cmocka_unit_test(test_switches_off),
        cmocka_unit_test(test_empty_document), cmocka_unit_test(test_field_faults),
        cmocka_unit_test(test_many_faults),    cmocka_unit_test(test_limits),
        cmocka_unit_test(test_lookup_failure), cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_leaf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
