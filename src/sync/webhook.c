/* SPDX-License-Identifier: Apache-2.0 */
/*
 * webhook.c — the webhook destination kind: one HTTP POST per event, a
 * CloudEvents 1.0 structured body signed per Standard Webhooks, through
 * http_lanes (guarded, no redirects, explicit timeouts). The answer
 * decides: 2xx delivered, 410 gone (the destination is disabled),
 * anything else a retry, honouring Retry-After.
 */
#include "core/common.h"

#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "sync/cloudevent.h"
#include "sync/http_lanes.h"
#include "sync/json_api.h"
#include "sync/sink.h"

#define ANSWER_BYTES_LOGGED 120 /* of the receiver's body, in the delivery log */

struct webhook {
    struct cpm_http_lanes *http;
    char *url;
    uint8_t key[CPM_WEBHOOK_KEY_BYTES_MAX];
    size_t key_len;
};

static void webhook_close(void *sink)
{
    struct webhook *w = sink;
    if (w == NULL)
        return;
    cpm_http_lanes_free(w->http);
    sodium_memzero(w->key, sizeof(w->key));
    cpm_free(w->url);
    cpm_free(w);
}

static cpm_err webhook_open(const json_t *dest, const struct cpm_sink_env *env, void **out,
                            struct cpm_detail *detail)
{
    const char *url = json_string_value(json_object_get(dest, "endpoint"));
    const char *secret = json_string_value(json_object_get(dest, "secret"));
    struct webhook *w = cpm_calloc(1, sizeof(*w));
    cpm_err err = w ? CPM_OK : CPM_ERR_NOMEM;
    if (err == CPM_OK && (url == NULL || secret == NULL ||
                          !cpm_webhook_secret_decode(secret, w->key, &w->key_len))) {
        cpm_detail_add(detail, url == NULL ? "endpoint" : "secret", "is missing or malformed");
        err = CPM_ERR_VALIDATION;
    }
    if (err == CPM_OK) {
        w->url = cpm_strdup(url);
        err = w->url ? cpm_http_lanes_new(env->guard, env->lanes, env->timeout_ms, &w->http)
                     : CPM_ERR_NOMEM;
    }
    if (err != CPM_OK) {
        webhook_close(w);
        return err;
    }
    *out = w;
    return CPM_OK;
}

static cpm_err webhook_send(void *sink, unsigned lane, const struct cpm_outbound_event *e)
{
    struct webhook *w = sink;
    char signature[CPM_WEBHOOK_SIGNATURE_BYTES], timestamp[24];
    int64_t now_s = cpm_clock_now_ms() / 1000;
    cpm_webhook_sign(w->key, w->key_len, e->id, now_s, e->body, e->body_len, signature);
    snprintf(timestamp, sizeof(timestamp), "%lld", (long long)now_s);
    struct curl_slist *h = NULL;
    bool ok = cpm_http_header(&h, "Content-Type", "application/cloudevents+json") &&
              cpm_http_header(&h, "webhook-id", e->id) &&
              cpm_http_header(&h, "webhook-timestamp", timestamp) &&
              cpm_http_header(&h, "webhook-signature", signature) &&
              cpm_http_header(&h, "Expect", ""); /* no 100-continue round trip */
    if (!ok)
        return CPM_ERR_NOMEM;
    return cpm_http_lanes_start(w->http, lane, "POST", w->url, h, e->body, e->body_len);
}

struct poll_ctx {
    cpm_sink_done_fn done;
    void *ctx;
};

/* What one answer means. */
static void judge(void *ctx, unsigned lane, const struct cpm_http_answer *a)
{
    struct poll_ctx *pc = ctx;
    struct cpm_sink_result r = {.status = a->transferred ? (int)a->status : 0,
                                .retry_after_ms = a->retry_after_ms};
    if (!a->transferred) {
        r.outcome = CPM_SINK_RETRY;
        snprintf(r.detail, sizeof(r.detail), "%s", a->error);
    } else if (a->status >= 200 && a->status < 300) {
        r.outcome = CPM_SINK_DELIVERED;
    } else {
        char answer[ANSWER_BYTES_LOGGED + 1]; /* cleaned: UTF-8, no controls, digits masked */
        cpm_sync_answer_message(a->body, a->body_len, answer, sizeof(answer));
        r.outcome = a->status == 410 ? CPM_SINK_GONE : CPM_SINK_RETRY;
        snprintf(r.detail, sizeof(r.detail), "HTTP %ld%s%s", a->status, answer[0] ? ": " : "",
                 answer);
    }
    pc->done(pc->ctx, lane, &r);
}

static void webhook_poll(void *sink, int timeout_ms, cpm_sink_done_fn done, void *ctx)
{
    struct webhook *w = sink;
    struct poll_ctx pc = {done, ctx};
    cpm_http_lanes_poll(w->http, timeout_ms, judge, &pc);
}

static void webhook_wake(void *sink)
{
    struct webhook *w = sink;
    cpm_http_lanes_wake(w->http);
}

const struct cpm_sink_ops cpm_sink_webhook_ops = {
    .kind = "webhook",
    .open = webhook_open,
    .send = webhook_send,
    .poll = webhook_poll,
    .wake = webhook_wake,
    .close = webhook_close,
};
