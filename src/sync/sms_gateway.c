/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sms_gateway.c — the sms_gateway destination kind: puts a subject's phone
 * number on an SMS gateway's suppression list when they withdraw (refuse,
 * object to, let expire) SMS marketing, and takes it off when they give it
 * again. The rules say which event does what (default: the stops of
 * marketing.sms and marketing.sms.* suppress; consent.given and
 * consent.objection_withdrawn of them unsuppress).
 *
 * Vendor documentation followed: none could be — neither major Chinese SMS
 * provider documents an opt-out API. Alibaba Cloud SMS (Dysmsapi
 * 2017-05-25, API catalogue help.aliyun.com/zh/sms/developer-reference/
 * api-dysmsapi-2017-05-25-dir) has qualification, signature, template,
 * sending, query, card-SMS, short-link and tag operations, no blacklist or
 * unsubscribe one. Tencent Cloud SMS (API 3.0, sms 2021-01-11,
 * cloud.tencent.com/document/api/382) has sending, status pulls,
 * statistics, signatures, templates, conversion and a number lookup; its
 * do-not-disturb list and unsubscribed users are managed in the console
 * only (cloud.tencent.com/document/product/382/37807). Baidu Cloud SMS does
 * document POST /sms/v3/blacklist (bce-auth-v1 signatures, 11-digit
 * domestic numbers): an adapter can bridge this contract to it. So this
 * kind speaks one JSON contract of our own, and a deployment bridges it to
 * its gateway with a small adapter.
 *
 * The contract (version 1):
 *
 *   POST {endpoint}/suppressions          put the number on the list
 *   POST {endpoint}/suppressions/delete   take it off
 *   Authorization: Bearer {the destination's secret}
 *   Content-Type: application/json
 *   Idempotency-Key: {event_id}
 *
 *   {"phone": "+8613800138000",      the subject's phone identifier, E.164
 *    "reason": "consent.withdrawn",  the ledger type of the deciding event
 *    "purpose": "marketing.sms",     its purpose (absent when it has none)
 *    "event_id": "evt_…",            the ledger event: the same on every retry
 *    "occurred_at": "2026-11-29T07:04:44.123Z"}   when it was recorded (RFC 3339, UTC)
 *
 * No other fields are sent. A suppression is of (phone, purpose): a
 * gateway with a single list suppresses the number on the first and lifts
 * it when none is left. Taking off a number that is not on the list is a
 * success. The gateway de-duplicates on Idempotency-Key: a repeated key
 * answers as the first time did, without a second effect, so a retry
 * after a lost answer is safe.
 *
 * Answers: 2xx delivered; 401/403 retried ("the gateway refused the
 * credential"); 429 retried after its Retry-After; 5xx retried; 400/422
 * refused for good: the event goes to the dead letters with the gateway's
 * message (the "message" of a JSON answer, else the body: its first 120
 * bytes, control characters removed, and any run of 7 or more digits — a
 * number the gateway may have echoed — masked); 410 disables the
 * destination, as for webhooks; any other answer, a timeout or a refused
 * connection is retried. A subject without a phone identifier (or erased)
 * is delivered with "no phone for this subject: nothing to do": there is
 * nothing to tell the gateway. Neither the secret nor the number is ever
 * logged.
 */
#include "core/common.h"

#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "crypto/keyring.h"
#include "sync/http_lanes.h"
#include "sync/json_api.h"
#include "sync/sink.h"

#define KIND "sms_gateway"

enum action { SUPPRESS, UNSUPPRESS };

struct lane {
    char *body; /* the request in flight: it holds the number, zeroed when done */
    size_t body_len;
    enum action action;
    bool ready; /* finished without a request: the next poll reports result */
    struct cpm_sink_result result;
};

struct sms_gateway {
    struct cpm_http_lanes *http;
    char *url[2]; /* by enum action */
    char authorization[sizeof("Bearer ") + CPM_SYNC_BEARER_BYTES_MAX];
    struct lane *lanes;
    unsigned lane_count;
    cpm_sink_identifier_fn identifier;
    void *identifier_ctx;
};

/* ---- the sink ------------------------------------------------------------- */

static void lane_release(struct lane *l)
{
    if (l->body != NULL) {
        sodium_memzero(l->body, l->body_len);
        cpm_free(l->body);
    }
    l->body = NULL;
    l->body_len = 0;
}

static void sms_close(void *sink)
{
    struct sms_gateway *g = sink;
    if (g == NULL)
        return;
    cpm_http_lanes_free(g->http); /* first: it may still point at the bodies */
    for (unsigned i = 0; g->lanes != NULL && i < g->lane_count; i++)
        lane_release(&g->lanes[i]);
    cpm_free(g->lanes);
    cpm_free(g->url[SUPPRESS]);
    cpm_free(g->url[UNSUPPRESS]);
    sodium_memzero(g->authorization, sizeof(g->authorization));
    cpm_free(g);
}

static cpm_err sms_open(const json_t *dest, const struct cpm_sink_env *env, void **out,
                        struct cpm_detail *detail)
{
    const char *endpoint = json_string_value(json_object_get(dest, "endpoint"));
    const char *secret = json_string_value(json_object_get(dest, "secret"));
    struct sms_gateway *g = cpm_calloc(1, sizeof(*g));
    cpm_err err = g ? CPM_OK : CPM_ERR_NOMEM;
    if (err == CPM_OK && (endpoint == NULL || strpbrk(endpoint, "?#") != NULL)) {
        cpm_detail_add(detail, "endpoint",
                       "is required: the gateway's base URL (no query), to which "
                       "/suppressions is appended");
        err = CPM_ERR_VALIDATION;
    }
    if (err == CPM_OK && (secret == NULL || !cpm_sync_bearer_valid(secret))) {
        cpm_detail_add(detail, "secret",
                       "is required: the gateway's bearer token (printable ASCII, no spaces)");
        err = CPM_ERR_VALIDATION;
    }
    if (err == CPM_OK) {
        snprintf(g->authorization, sizeof(g->authorization), "Bearer %s", secret);
        g->identifier = env->identifier;
        g->identifier_ctx = env->identifier_ctx;
        g->lane_count = env->lanes;
        g->lanes = cpm_calloc(env->lanes ? env->lanes : 1, sizeof(*g->lanes));
        g->url[SUPPRESS] = cpm_sync_url_join(endpoint, "/suppressions");
        g->url[UNSUPPRESS] = cpm_sync_url_join(endpoint, "/suppressions/delete");
        err = g->lanes && g->url[SUPPRESS] && g->url[UNSUPPRESS]
                  ? cpm_http_lanes_new(env->guard, env->lanes, env->timeout_ms, &g->http)
                  : CPM_ERR_NOMEM;
    }
    if (err != CPM_OK) {
        sms_close(g);
        return err;
    }
    *out = g;
    return CPM_OK;
}

/* Finishes a send without a request: the next poll reports it. */
static cpm_err finish(struct lane *l, enum cpm_sink_outcome outcome, const char *fmt, ...)
    CPM_PRINTF(3, 4);
static cpm_err finish(struct lane *l, enum cpm_sink_outcome outcome, const char *fmt, ...)
{
    va_list ap;
    memset(&l->result, 0, sizeof(l->result));
    l->result.outcome = outcome;
    va_start(ap, fmt);
    vsnprintf(l->result.detail, sizeof(l->result.detail), fmt, ap);
    va_end(ap);
    l->ready = true;
    return CPM_OK;
}

static cpm_err sms_send(void *sink, unsigned lane, const struct cpm_outbound_event *e)
{
    struct sms_gateway *g = sink;
    CPM_ASSERT(lane < g->lane_count && g->lanes[lane].body == NULL && !g->lanes[lane].ready);
    struct lane *l = &g->lanes[lane];
    char phone[CPM_IDENTIFIER_BYTES_MAX], when[CPM_TIME_TEXT_BYTES];
    if (e->subject_id[0] == '\0') /* a configuration event or a test: about no one */
        return finish(l, CPM_SINK_DELIVERED, "not about a subject: nothing to do");
    if (e->action != NULL && strcmp(e->action, "suppress") == 0)
        l->action = SUPPRESS;
    else if (e->action != NULL && strcmp(e->action, "unsuppress") == 0)
        l->action = UNSUPPRESS;
    else
        return finish(l, CPM_SINK_REJECTED, "action '%.40s' is not one an " KIND " takes",
                      e->action ? e->action : "(none)");
    cpm_err err = g->identifier != NULL ? g->identifier(g->identifier_ctx, e->subject_id, "phone",
                                                        phone, sizeof(phone))
                                        : CPM_ERR_NOT_FOUND;
    if (err == CPM_ERR_NOT_FOUND)
        return finish(l, CPM_SINK_DELIVERED, "no phone for this subject: nothing to do");
    if (err != CPM_OK)
        return finish(l, CPM_SINK_RETRY, "could not read the subject's phone: %s",
                      cpm_err_message(err));
    cpm_time_format(e->time_ms, when, sizeof(when));
    json_t *doc =
        json_pack("{s:s, s:s, s:s*, s:s, s:s}", "phone", phone, "reason", e->type, "purpose",
                  e->purpose[0] ? e->purpose : NULL, "event_id", e->id, "occurred_at", when);
    sodium_memzero(phone, sizeof(phone));
    l->body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (l->body == NULL)
        return CPM_ERR_NOMEM;
    l->body_len = strlen(l->body);
    struct curl_slist *h = NULL;
    bool ok = cpm_http_header(&h, "Authorization", g->authorization) &&
              cpm_http_header(&h, "Content-Type", "application/json") &&
              cpm_http_header(&h, "Idempotency-Key", e->id) &&
              cpm_http_header(&h, "Expect", ""); /* no 100-continue round trip */
    err =
        ok ? cpm_http_lanes_start(g->http, lane, "POST", g->url[l->action], h, l->body, l->body_len)
           : CPM_ERR_NOMEM;
    if (err != CPM_OK)
        lane_release(l);
    return err;
}

struct poll_ctx {
    struct sms_gateway *g;
    cpm_sink_done_fn done;
    void *ctx;
};

static void judge(void *ctx, unsigned lane, const struct cpm_http_answer *a)
{
    struct poll_ctx *pc = ctx;
    struct lane *l = &pc->g->lanes[lane];
    struct cpm_sink_result r = {0};
    cpm_sync_judge_json_answer(a, "gateway", l->action == SUPPRESS ? "suppressed" : "unsuppressed",
                               &r);
    lane_release(l);
    pc->done(pc->ctx, lane, &r);
}

static void sms_poll(void *sink, int timeout_ms, cpm_sink_done_fn done, void *ctx)
{
    struct sms_gateway *g = sink;
    struct poll_ctx pc = {g, done, ctx};
    bool reported = false;
    for (unsigned i = 0; i < g->lane_count; i++) {
        if (!g->lanes[i].ready)
            continue;
        struct cpm_sink_result r = g->lanes[i].result;
        g->lanes[i].ready = false;
        done(ctx, i, &r);
        reported = true;
    }
    cpm_http_lanes_poll(g->http, reported ? 0 : timeout_ms, judge, &pc);
}

static void sms_wake(void *sink)
{
    struct sms_gateway *g = sink;
    cpm_http_lanes_wake(g->http);
}

const struct cpm_sink_ops cpm_sink_sms_gateway_ops = {
    .kind = KIND,
    .open = sms_open,
    .send = sms_send,
    .poll = sms_poll,
    .wake = sms_wake,
    .close = sms_close,
};
