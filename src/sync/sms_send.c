/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sms_send.c — one text message through an sms_gateway destination, sent
 * from the asking thread over a single http_lanes lane (outbound guard,
 * timeouts and no redirects included), polled until it is answered.
 */
#include "core/common.h"

#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "sync/http_lanes.h"
#include "sync/json_api.h"
#include "sync/sms_send.h"

#define TIMEOUT_MS_DEFAULT 10000

struct outcome {
    bool done;
    cpm_err err;
    struct cpm_detail *detail;
};

static void judge(void *ctx, unsigned lane, const struct cpm_http_answer *a)
{
    struct outcome *o = ctx;
    char message[CPM_SYNC_MESSAGE_BYTES_LOGGED + 1];
    CPM_UNUSED(lane);
    o->done = true;
    if (a->transferred && a->status >= 200 && a->status < 300) {
        o->err = CPM_OK;
        return;
    }
    o->err = CPM_ERR_UNAVAILABLE;
    if (!a->transferred) {
        cpm_detail_add(o->detail, NULL, "the SMS gateway could not be reached: %s",
                       a->error ? a->error : "no answer");
        return;
    }
    cpm_sync_answer_message(a->body, a->body_len, message, sizeof(message));
    cpm_detail_add(o->detail, NULL, "the SMS gateway answered %ld: %s", a->status, message);
}

static char *message_body(const char *phone, const char *code, const char *message_id)
{
    json_t *doc = json_pack("{s:s, s:s, s:{s:s}, s:s}", "phone", phone, "template", "otp", "params",
                            "code", code, "message_id", message_id);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

cpm_err cpm_sms_send_otp(const struct cpm_outbound_guard *guard, const json_t *dest,
                         const char *phone, const char *code, const char *message_id,
                         struct cpm_detail *detail)
{
    const char *endpoint = json_string_value(json_object_get(dest, "endpoint"));
    const char *secret = json_string_value(json_object_get(dest, "secret"));
    json_int_t timeout_ms = json_integer_value(json_object_get(dest, "timeout_ms"));
    timeout_ms = timeout_ms > 0 ? timeout_ms : TIMEOUT_MS_DEFAULT;
    if (endpoint == NULL || secret == NULL || !cpm_sync_bearer_valid(secret)) {
        cpm_detail_add(detail, NULL, "the SMS destination has no endpoint or usable secret");
        return CPM_ERR_UNAVAILABLE;
    }
    char authorization[sizeof("Bearer ") + CPM_SYNC_BEARER_BYTES_MAX];
    snprintf(authorization, sizeof(authorization), "Bearer %s", secret);
    struct cpm_http_lanes *http = NULL;
    struct curl_slist *h = NULL;
    struct outcome o = {false, CPM_ERR_UNAVAILABLE, detail};
    char *url = cpm_sync_url_join(endpoint, "/messages");
    char *body = message_body(phone, code, message_id);
    cpm_err err = url && body ? CPM_OK : CPM_ERR_NOMEM;
    if (err == CPM_OK)
        err = cpm_http_lanes_new(guard, 1, timeout_ms, &http);
    bool ok = err == CPM_OK && cpm_http_header(&h, "Authorization", authorization) &&
              cpm_http_header(&h, "Content-Type", "application/json") &&
              cpm_http_header(&h, "Idempotency-Key", message_id) &&
              cpm_http_header(&h, "Expect", "");
    if (err == CPM_OK)
        err =
            ok ? cpm_http_lanes_start(http, 0, "POST", url, h, body, strlen(body)) : CPM_ERR_NOMEM;
    /* the lanes' own timeout ends the request; the deadline only guards the loop */
    int64_t deadline_ms = cpm_clock_monotonic_ns() / 1000000 + timeout_ms + 1000;
    while (err == CPM_OK && !o.done && cpm_clock_monotonic_ns() / 1000000 < deadline_ms)
        cpm_http_lanes_poll(http, 100, judge, &o);
    if (err == CPM_OK && !o.done)
        cpm_detail_add(detail, NULL, "the SMS gateway did not answer in time");
    if (err == CPM_OK)
        err = o.err;
    cpm_http_lanes_free(http);
    if (body != NULL) {
        sodium_memzero(body, strlen(body)); /* it holds the number and the code */
        cpm_free(body);
    }
    cpm_free(url);
    sodium_memzero(authorization, sizeof(authorization));
    return err;
}
