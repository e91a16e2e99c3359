/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_wecom_tags.c — the wecom_tags destination kind (src/sync/wecom_tags.c)
 * without a WeCom: the document's fields at open; the results a send knows
 * without asking WeCom (no wecom_external_userid, an action or rule it
 * cannot take, an identifier that cannot be read), each reported from poll
 * exactly once; and a token fetch that fails (the outbound guard refuses
 * loopback) failing every lane that waited for it, test sends included.
 * The requests and answers themselves are checked against a fake WeCom in
 * tests/api/connectors_wecom.test.mjs.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "core/clock.h"
#include "support/fixture.h"
#include "sync/outbound_guard.h"
#include "sync/sink.h"

#define LANES 4

#define DOC                                                                                        \
    "{'id': 'wc', 'kind': 'wecom_tags', 'endpoint': 'http://127.0.0.1:9/', 'corp_id': 'ww1',"      \
    " 'owner_userid': 'zhangsan', 'secret': 's3cret', 'rules': []}"

struct outcomes {
    int count;
    int per_lane[LANES];
    struct cpm_sink_result last[LANES];
};

static void on_done(void *ctx, unsigned lane, const struct cpm_sink_result *r)
{
    struct outcomes *o = ctx;
    assert_true(lane < LANES);
    o->count++;
    o->per_lane[lane]++;
    o->last[lane] = *r;
}

/* "none" has no id, "broken" cannot be read, everyone else is a contact. */
static cpm_err identifier(void *ctx, const char *subject_id, const char *type, char *out,
                          size_t cap)
{
    CPM_UNUSED(ctx);
    assert_string_equal(type, "wecom_external_userid");
    if (strcmp(subject_id, "none") == 0)
        return CPM_ERR_NOT_FOUND;
    if (strcmp(subject_id, "broken") == 0)
        return CPM_ERR_STORE;
    cpm_strlcpy(out, "wmAJ2GCAAAd1NPGHKSD4wKmE8Aabj9AAA", cap);
    return CPM_OK;
}

static const struct cpm_outbound_guard guard; /* nothing allowlisted: loopback is refused */

static void *open_sink(const char *doc_text)
{
    const struct cpm_sink_ops *ops = &cpm_sink_wecom_tags_ops;
    struct cpm_sink_env env = {.guard = &guard,
                               .lanes = LANES,
                               .timeout_ms = 2000,
                               .identifier = identifier,
                               .identifier_ctx = NULL};
    struct cpm_detail detail;
    void *sink = NULL;
    json_t *doc = J(doc_text);
    cpm_detail_init(&detail);
    assert_int_equal(ops->open(doc, &env, &sink, &detail), CPM_OK);
    json_decref(doc);
    return sink;
}

static void send_event(void *sink, unsigned lane, const char *subject, const char *action,
                       const json_t *rule)
{
    struct cpm_outbound_event e = {.seq = lane + 1,
                                   .id = "evt_1",
                                   .type = "consent.given",
                                   .subject_id = subject,
                                   .purpose = "marketing.wecom",
                                   .leaf = "{}",
                                   .leaf_len = 2,
                                   .body = "{}",
                                   .body_len = 2,
                                   .action = action,
                                   .rule = rule};
    assert_int_equal(cpm_sink_wecom_tags_ops.send(sink, lane, &e), CPM_OK);
}

static void poll_until(void *sink, struct outcomes *o, int count)
{
    int64_t deadline = cpm_clock_monotonic_ns() / 1000000 + 5000;
    while (o->count < count && cpm_clock_monotonic_ns() / 1000000 < deadline)
        cpm_sink_wecom_tags_ops.poll(sink, 50, on_done, o);
    cpm_sink_wecom_tags_ops.poll(sink, 50, on_done, o); /* nothing more may come */
    assert_int_equal(o->count, count);
}

static void test_open_faults(void **state)
{
    CPM_UNUSED(state);
    static const struct {
        const char *doc, *field;
    } cases[] = {
        {"{'endpoint': 'http://x.example', 'owner_userid': 'u', 'secret': 's'}", "corp_id"},
        {"{'endpoint': 'http://x.example', 'corp_id': 'c', 'secret': 's'}", "owner_userid"},
        {"{'endpoint': 'http://x.example', 'corp_id': 'c', 'owner_userid': 'u'}", "secret"},
        {"{'endpoint': 'http://x.example/?a=1', 'corp_id': 'c', 'owner_userid': 'u', 'secret': "
         "'s'}",
         "endpoint"},
    };
    struct cpm_sink_env env = {.guard = &guard, .lanes = 1, .timeout_ms = 1000};
    for (size_t i = 0; i < CPM_ARRAY_LEN(cases); i++) {
        struct cpm_detail detail;
        void *sink = NULL;
        json_t *doc = J(cases[i].doc);
        cpm_detail_init(&detail);
        assert_int_equal(cpm_sink_wecom_tags_ops.open(doc, &env, &sink, &detail),
                         CPM_ERR_VALIDATION);
        assert_null(sink);
        expect(&detail, cases[i].field, "");
        json_decref(doc);
    }
}

static void test_results_without_requests(void **state)
{
    CPM_UNUSED(state);
    void *sink = open_sink(DOC);
    json_t *add = J("{'action': 'tag_add', 'tag': 'et_consented'}");
    json_t *untagged = J("{'action': 'tag_add'}");
    json_t *other = J("{'action': 'suppress', 'tag': 'x'}");
    struct outcomes o = {0};
    send_event(sink, 0, "none", "tag_add", add);
    send_event(sink, 1, "someone", "suppress", other);
    send_event(sink, 2, "someone", "tag_add", untagged);
    send_event(sink, 3, "broken", "tag_add", add);
    poll_until(sink, &o, 4);
    for (int i = 0; i < LANES; i++)
        assert_int_equal(o.per_lane[i], 1);
    assert_int_equal(o.last[0].outcome, CPM_SINK_DELIVERED);
    assert_string_equal(o.last[0].detail,
                        "no wecom_external_userid for this subject: nothing to do");
    assert_int_equal(o.last[1].outcome, CPM_SINK_REJECTED);
    assert_string_equal(o.last[1].detail, "action 'suppress' is not one wecom_tags takes");
    assert_int_equal(o.last[2].outcome, CPM_SINK_REJECTED);
    assert_string_equal(o.last[2].detail, "the rule names no usable WeCom tag id");
    assert_int_equal(o.last[3].outcome, CPM_SINK_RETRY);
    assert_string_equal(o.last[3].detail,
                        "reading the subject's wecom_external_userid failed: the store failed");

    /* A lane is free again after its result: the same lane takes the next send. */
    send_event(sink, 0, "none", "tag_remove", add);
    poll_until(sink, &o, 5);
    assert_int_equal(o.per_lane[0], 2);
    cpm_sink_wecom_tags_ops.close(sink);
    json_decref(add);
    json_decref(untagged);
    json_decref(other);
}

static void test_token_failure_fails_every_waiting_lane(void **state)
{
    CPM_UNUSED(state);
    void *sink = open_sink(DOC);
    json_t *add = J("{'action': 'tag_add', 'tag': 'et_consented'}");
    struct outcomes o = {0};
    send_event(sink, 0, "a", "tag_add", add);
    send_event(sink, 1, "b", "tag_remove", add);
    send_event(sink, 2, "", NULL, NULL); /* a test send: the token alone */
    poll_until(sink, &o, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(o.per_lane[i], 1);
        assert_int_equal(o.last[i].outcome, CPM_SINK_RETRY);
        assert_int_equal(o.last[i].status, 0);
        assert_non_null(strstr(o.last[i].detail, "gettoken: refused by the outbound guard"));
        assert_null(strstr(o.last[i].detail, "s3cret"));
    }
    cpm_sink_wecom_tags_ops.close(sink);
    json_decref(add);
}

static void test_close_with_sends_outstanding(void **state)
{
    CPM_UNUSED(state);
    void *sink = open_sink(DOC);
    json_t *add = J("{'action': 'tag_add', 'tag': 'et_consented'}");
    send_event(sink, 0, "a", "tag_add", add);
    send_event(sink, 1, "b", "tag_add", add);
    cpm_sink_wecom_tags_ops.wake(sink);
    cpm_sink_wecom_tags_ops.close(sink); /* no done calls, nothing leaked */
    cpm_sink_wecom_tags_ops.close(NULL);
    json_decref(add);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_faults),
        cmocka_unit_test(test_results_without_requests),
        cmocka_unit_test(test_token_failure_fails_every_waiting_lane),
        cmocka_unit_test(test_close_with_sends_outstanding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
