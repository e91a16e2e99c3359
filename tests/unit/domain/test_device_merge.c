/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_device_merge.c — src/domain/device_merge.c: which of a device's
 * consents carry over to the person at login, and the exact leaves.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "support/fixture.h"

#include "core/alloc.h"
#include "domain/device_merge.h"

#define T0 1795000000000LL /* 2026-11-18 */

static void test_what_carries_over(void **state)
{
    CPM_UNUSED(state);
    struct cpm_merge_consent given = {.status = "given", .decided_ms = T0, .expires_ms = 0};
    struct cpm_merge_consent refused = {.status = "refused", .decided_ms = T0};
    struct cpm_merge_consent older = {.status = "withdrawn", .decided_ms = T0 - 1};
    struct cpm_merge_consent same = {.status = "given", .decided_ms = T0};
    struct cpm_merge_consent newer = {.status = "refused", .decided_ms = T0 + 1};
    int64_t now = T0 + 1000;
    /* the person has none, or an older one: the device's carries over */
    assert_null(cpm_merge_skip_reason(&given, NULL, false, now));
    assert_null(cpm_merge_skip_reason(&given, &older, false, now));
    assert_null(cpm_merge_skip_reason(&refused, &older, true, now));
    /* the person decided later, or at the same instant: theirs stands */
    assert_non_null(strstr(cpm_merge_skip_reason(&given, &newer, false, now), "decided later"));
    assert_non_null(strstr(cpm_merge_skip_reason(&refused, &same, false, now), "decided later"));
    /* under 14: no consent given carries over; a refusal or a withdrawal does */
    assert_non_null(strstr(cpm_merge_skip_reason(&given, NULL, true, now), "PIPL Art. 31"));
    assert_null(cpm_merge_skip_reason(&refused, NULL, true, now));
    struct cpm_merge_consent withdrawn = {.status = "withdrawn", .decided_ms = T0};
    assert_null(cpm_merge_skip_reason(&withdrawn, NULL, true, now));
    /* states the system set, and consents past their expiry, are not the person's acts now */
    const char *system[] = {"expired", "reconsent_required", "erased", ""};
    for (size_t i = 0; i < CPM_ARRAY_LEN(system); i++) {
        struct cpm_merge_consent s = {.status = system[i], .decided_ms = T0};
        assert_non_null(strstr(cpm_merge_skip_reason(&s, NULL, false, now), "system"));
    }
    struct cpm_merge_consent lapsed = {.status = "given", .decided_ms = T0, .expires_ms = now};
    assert_non_null(strstr(cpm_merge_skip_reason(&lapsed, NULL, false, now), "expired"));
    lapsed.expires_ms = now + 1;
    assert_null(cpm_merge_skip_reason(&lapsed, NULL, false, now));
    struct cpm_merge_consent objected = {.status = "objected", .decided_ms = T0};
    assert_null(cpm_merge_skip_reason(&objected, NULL, true, now));
}

static void test_consent_leaf(void **state)
{
    CPM_UNUSED(state);
    json_t *source = J("{'v':1,'id':'evt_s','type':'consent.given','time':'x','subject':'dd',"
                       "'purpose':'ads','action':'act_s','property':'shop','channel':'web',"
                       "'locale':'en','method':'click','separate':true,'actor':'self',"
                       "'notice':{'id':'privacy','version':2,'sha256':'ab'},"
                       "'context_sha256':'cc','display':'evt_d'}");
    struct cpm_merge_source from = {.subject_pseudonym = "dd",
                                    .seq = 7,
                                    .event_id = "evt_s",
                                    .leaf_hash = "ee",
                                    .leaf = source};
    struct cpm_merge_leaf_info info = {.event_id = "evt_m",
                                       .action_id = "act_m",
                                       .subject_pseudonym = "pp",
                                       .time_ms = T0,
                                       .purpose = "ads",
                                       .recipient = "partner",
                                       .status = "given"};
    size_t len = 0;
    char *leaf = cpm_merge_consent_leaf(&info, &from, &len);
    assert_non_null(leaf);
    assert_string_equal(
        leaf, "{\"v\":1,\"id\":\"evt_m\",\"type\":\"consent.given\",\"time\":\"2026-11-18T"
              "11:06:40.000Z\",\"subject\":\"pp\",\"purpose\":\"ads\",\"action\":\"act_m\","
              "\"property\":\"shop\",\"channel\":\"web\",\"locale\":\"en\",\"method\":\"merge\","
              "\"separate\":true,\"actor\":\"self\",\"recipient\":\"partner\",\"notice\":{\"id\":"
              "\"privacy\",\"version\":2,\"sha256\":\"ab\"},\"from\":{\"subject\":\"dd\",\"seq\":7,"
              "\"event\":\"evt_s\",\"leaf_hash\":\"ee\"}}");
    assert_int_equal(len, strlen(leaf));
    cpm_free(leaf);
    /* a withdrawal without a notice: none in the leaf; the decision gives the type */
    json_object_del(source, "notice");
    info.status = "withdrawn";
    info.recipient = NULL;
    leaf = cpm_merge_consent_leaf(&info, &from, &len);
    assert_non_null(strstr(leaf, "\"type\":\"consent.withdrawn\""));
    assert_null(strstr(leaf, "notice"));
    assert_null(strstr(leaf, "recipient"));
    assert_null(strstr(leaf, "context_sha256"));
    cpm_free(leaf);
    json_decref(source);
}

static void test_identity_leaf(void **state)
{
    CPM_UNUSED(state);
    size_t len = 0;
    char *leaf = cpm_merge_identity_leaf("evt_i", "act_m", "pp", T0, "hh", "dd", 3, &len);
    assert_string_equal(leaf, "{\"v\":1,\"id\":\"evt_i\",\"type\":\"identity.merged\",\"time\":"
                              "\"2026-11-18T11:06:40.000Z\",\"subject\":\"pp\",\"action\":"
                              "\"act_m\",\"identifier_type\":\"device\",\"identifier_hash\":"
                              "\"hh\",\"device\":\"dd\",\"consents\":3}");
    cpm_free(leaf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_what_carries_over),
        cmocka_unit_test(test_consent_leaf),
        cmocka_unit_test(test_identity_leaf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
