/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cloudevent.c — Standard Webhooks signing against the specification's
 * own vector (../shared/vectors/README.md), and the CloudEvents body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/fixture.h"

#include "core/alloc.h"
#include "domain/destination.h"
#include "sync/cloudevent.h"

static void test_standard_webhooks_vector(void **state)
{
    CPM_UNUSED(state);
    uint8_t key[CPM_WEBHOOK_KEY_BYTES_MAX];
    size_t len = 0;
    char signature[CPM_WEBHOOK_SIGNATURE_BYTES];
    const char *body = "{\"test\": 2432232314}";
    assert_true(cpm_webhook_secret_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key, &len));
    assert_int_equal(len, 24);
    cpm_webhook_sign(key, len, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
                     signature);
    assert_string_equal(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    cpm_webhook_sign(key, len, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, strlen(body),
                     signature);
    assert_string_not_equal(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_secrets(void **state)
{
    CPM_UNUSED(state);
    uint8_t key[CPM_WEBHOOK_KEY_BYTES_MAX];
    size_t len;
    char secret[CPM_WEBHOOK_SECRET_BYTES_MAX], other[CPM_WEBHOOK_SECRET_BYTES_MAX];
    cpm_webhook_secret_new(secret);
    cpm_webhook_secret_new(other);
    assert_string_not_equal(secret, other);
    assert_true(cpm_webhook_secret_decode(secret, key, &len));
    assert_int_equal(len, CPM_WEBHOOK_KEY_BYTES_NEW);
    const char *bad[] = {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_",
                         "whsec_short==", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw!",
                         "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw MfKQ"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad); i++)
        assert_false(cpm_webhook_secret_decode(bad[i], key, &len));
}

static void test_body(void **state)
{
    CPM_UNUSED(state);
    size_t len = 0;
    const char *leaf = "{\"v\":1,\"type\":\"consent.withdrawn\",\"purpose\":\"marketing.sms\"}";
    char *body = cpm_cloudevent_body(42, "evt_1", "consent.withdrawn", "s-1", 1767225600000, leaf,
                                     strlen(leaf), "urn:opencpm:x", &len);
    assert_non_null(body);
    assert_int_equal(len, strlen(body));
    json_t *ce = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(ce);
    assert_string_equal(json_string_value(json_object_get(ce, "specversion")), "1.0");
    assert_string_equal(json_string_value(json_object_get(ce, "id")), "evt_1");
    assert_string_equal(json_string_value(json_object_get(ce, "type")), "cpm.consent.withdrawn");
    assert_string_equal(json_string_value(json_object_get(ce, "subject")), "s-1");
    assert_string_equal(json_string_value(json_object_get(ce, "source")), "urn:opencpm:x");
    assert_string_equal(json_string_value(json_object_get(ce, "time")), "2026-01-01T00:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(ce, "datacontenttype")),
                        "application/json");
    json_t *d = json_object_get(ce, "data");
    assert_int_equal(json_integer_value(json_object_get(d, "seq")), 42);
    assert_string_equal(json_string_value(json_object_get(d, "purpose")), "marketing.sms");
    assert_int_equal(json_object_size(d), 4);
    json_decref(ce);
    cpm_free(body);

    /* a configuration event has no subject; an empty leaf, spaces around it */
    body = cpm_cloudevent_body(1, "evt_2", "config.created", "", 0, " {} \n", 5, "urn:opencpm:x",
                               &len);
    ce = json_loads(body, 0, NULL);
    assert_non_null(ce);
    assert_null(json_object_get(ce, "subject"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ce, "data"), "seq")), 1);
    json_decref(ce);
    cpm_free(body);

    /* subject ids may hold quotes and backslashes: escaped, the body stays JSON */
    body = cpm_cloudevent_body(3, "evt_3", "consent.given", "a\"b\\c", 0, leaf, strlen(leaf),
                               "urn:opencpm:x", &len);
    ce = json_loads(body, 0, NULL);
    assert_non_null(ce);
    assert_string_equal(json_string_value(json_object_get(ce, "subject")), "a\"b\\c");
    json_decref(ce);
    cpm_free(body);

    /* not an object's text: refused */
    assert_null(cpm_cloudevent_body(4, "evt_4", "x", "", 0, "[1]", 3, "urn:x", &len));
    assert_null(cpm_cloudevent_body(4, "evt_4", "x", "", 0, "{", 1, "urn:x", &len));
}

static void test_patterns(void **state)
{
    CPM_UNUSED(state);
    assert_true(cpm_destination_pattern_matches("*", "consent.given"));
    assert_true(cpm_destination_pattern_matches("consent.*", "consent.given"));
    assert_true(cpm_destination_pattern_matches("marketing.*", "marketing.sms.coupons"));
    assert_false(cpm_destination_pattern_matches("marketing.*", "marketing"));
    assert_false(cpm_destination_pattern_matches("marketing.*", "marketingx.sms"));
    assert_true(cpm_destination_pattern_matches("consent.given", "consent.given"));
    assert_false(cpm_destination_pattern_matches("consent.given", "consent.given.x"));
    json_t *none = json_array(), *some = J("['ads.*', 'marketing.sms']");
    assert_true(cpm_destination_patterns_match(none, "anything"));
    assert_true(cpm_destination_patterns_match(NULL, "anything"));
    assert_true(cpm_destination_patterns_match(some, "ads.personalised"));
    assert_true(cpm_destination_patterns_match(some, "marketing.sms"));
    assert_false(cpm_destination_patterns_match(some, "marketing.email"));
    json_decref(none);
    json_decref(some);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_webhooks_vector),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
