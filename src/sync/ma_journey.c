/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ma_journey.c — the ma_journey destination kind: tells a marketing
 * automation to take a subject out of its journeys when they stop
 * (withdraw, refuse, object, expire; or are erased), and to reschedule
 * their pending steps when their preferences (channels, topics, contact
 * windows, frequency caps) change. The rules say which event does what
 * (default: the stops of any purpose and subject.erased exit;
 * preferences.changed reschedules).
 *
 * Vendor documentation followed: none — there is no common API among
 * marketing-automation products (each has its own journey model), so this
 * kind speaks one JSON contract of our own, and a deployment bridges it to
 * its product with a small adapter.
 *
 * The contract (version 1):
 *
 *   POST {endpoint}/journeys/exit         take the subject out of every journey
 *   POST {endpoint}/journeys/reschedule   re-plan the subject's pending steps
 *   Authorization: Bearer {the destination's secret}
 *   Content-Type: application/json
 *   Idempotency-Key: {event_id}
 *
 *   {"subject": "u-1001",              the company's own subject id
 *    "event_id": "evt_…",              the ledger event: the same on every retry
 *    "event_type": "consent.withdrawn",  its ledger type
 *    "purpose": "marketing.email",     exit only; absent when the event has none
 *    "occurred_at": "2026-11-29T07:04:44.123Z"}   when it was recorded (RFC 3339, UTC)
 *
 * No other fields are sent: no personal data beyond the company's own
 * subject id. A reschedule carries no preferences — the automation reads
 * the current ones itself, GET /v1/subjects/{subject}/preferences on this
 * server with its own API key (scope decisions:read), so they never travel
 * in the push and it always acts on the latest. Exiting a subject not in
 * any journey is a success. The automation de-duplicates on
 * Idempotency-Key: a repeated key answers as the first time did, without a
 * second effect, so a retry after a lost answer is safe.
 *
 * Answers: 2xx delivered; 401/403 retried ("the marketing automation
 * refused the credential"); 429 retried after its Retry-After; 5xx
 * retried; 400/422 refused for good: the event goes to the dead letters
 * with the automation's message (the "message" of a JSON answer, else the
 * body: its first 120 bytes, control characters removed, runs of 7 or
 * more digits masked); 410 disables the destination, as for webhooks; any
 * other answer, a timeout or a refused connection is retried. The secret
 * is never logged.
 */
#include "core/common.h"

#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "sync/http_lanes.h"
#include "sync/json_api.h"
#include "sync/sink.h"

#define KIND "ma_journey"

enum action { EXIT_JOURNEY, RESCHEDULE };

struct lane {
    char *body; /* the request in flight */
    size_t body_len;
    enum action action;
    bool ready; /* finished without a request: the next poll reports result */
    struct cpm_sink_result result;
};

struct ma_journey {
    struct cpm_http_lanes *http;
    char *url[2]; /* by enum action */
    char authorization[sizeof("Bearer ") + CPM_SYNC_BEARER_BYTES_MAX];
    struct lane *lanes;
    unsigned lane_count;
};

/* ---- the sink ------------------------------------------------------------- */

static void lane_release(struct lane *l)
{
    cpm_free(l->body);
    l->body = NULL;
    l->body_len = 0;
}

static void ma_close(void *sink)
{
    struct ma_journey *m = sink;
    if (m == NULL)
        return;
    cpm_http_lanes_free(m->http); /* first: it may still point at the bodies */
    for (unsigned i = 0; m->lanes != NULL && i < m->lane_count; i++)
        lane_release(&m->lanes[i]);
    cpm_free(m->lanes);
    cpm_free(m->url[EXIT_JOURNEY]);
    cpm_free(m->url[RESCHEDULE]);
    sodium_memzero(m->authorization, sizeof(m->authorization));
    cpm_free(m);
}

static cpm_err ma_open(const json_t *dest, const struct cpm_sink_env *env, void **out,
                       struct cpm_detail *detail)
{
    const char *endpoint = json_string_value(json_object_get(dest, "endpoint"));
    const char *secret = json_string_value(json_object_get(dest, "secret"));
    struct ma_journey *m = cpm_calloc(1, sizeof(*m));
    cpm_err err = m ? CPM_OK : CPM_ERR_NOMEM;
    if (err == CPM_OK && (endpoint == NULL || strpbrk(endpoint, "?#") != NULL)) {
        cpm_detail_add(detail, "endpoint",
                       "is required: the marketing automation's base URL (no query), to "
                       "which /journeys/… is appended");
        err = CPM_ERR_VALIDATION;
    }
    if (err == CPM_OK && (secret == NULL || !cpm_sync_bearer_valid(secret))) {
        cpm_detail_add(detail, "secret",
                       "is required: the marketing automation's bearer token (printable "
                       "ASCII, no spaces)");
        err = CPM_ERR_VALIDATION;
    }
    if (err == CPM_OK) {
        snprintf(m->authorization, sizeof(m->authorization), "Bearer %s", secret);
        m->lane_count = env->lanes;
        m->lanes = cpm_calloc(env->lanes ? env->lanes : 1, sizeof(*m->lanes));
        m->url[EXIT_JOURNEY] = cpm_sync_url_join(endpoint, "/journeys/exit");
        m->url[RESCHEDULE] = cpm_sync_url_join(endpoint, "/journeys/reschedule");
        err = m->lanes && m->url[EXIT_JOURNEY] && m->url[RESCHEDULE]
                  ? cpm_http_lanes_new(env->guard, env->lanes, env->timeout_ms, &m->http)
                  : CPM_ERR_NOMEM;
    }
    if (err != CPM_OK) {
        ma_close(m);
        return err;
    }
    *out = m;
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

static cpm_err ma_send(void *sink, unsigned lane, const struct cpm_outbound_event *e)
{
    struct ma_journey *m = sink;
    CPM_ASSERT(lane < m->lane_count && m->lanes[lane].body == NULL && !m->lanes[lane].ready);
    struct lane *l = &m->lanes[lane];
    char when[CPM_TIME_TEXT_BYTES];
    if (e->subject_id[0] == '\0') /* a configuration event or a test: about no one */
        return finish(l, CPM_SINK_DELIVERED, "not about a subject: nothing to do");
    if (e->action != NULL && strcmp(e->action, "exit_journey") == 0)
        l->action = EXIT_JOURNEY;
    else if (e->action != NULL && strcmp(e->action, "reschedule") == 0)
        l->action = RESCHEDULE;
    else
        return finish(l, CPM_SINK_REJECTED, "action '%.40s' is not one an " KIND " takes",
                      e->action ? e->action : "(none)");
    cpm_time_format(e->time_ms, when, sizeof(when));
    const char *purpose = l->action == EXIT_JOURNEY && e->purpose[0] ? e->purpose : NULL;
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s*, s:s}", "subject", e->subject_id, "event_id",
                            e->id, "event_type", e->type, "purpose", purpose, "occurred_at", when);
    l->body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (l->body == NULL)
        return CPM_ERR_NOMEM;
    l->body_len = strlen(l->body);
    struct curl_slist *h = NULL;
    bool ok = cpm_http_header(&h, "Authorization", m->authorization) &&
              cpm_http_header(&h, "Content-Type", "application/json") &&
              cpm_http_header(&h, "Idempotency-Key", e->id) &&
              cpm_http_header(&h, "Expect", ""); /* no 100-continue round trip */
    cpm_err err =
        ok ? cpm_http_lanes_start(m->http, lane, "POST", m->url[l->action], h, l->body, l->body_len)
           : CPM_ERR_NOMEM;
    if (err != CPM_OK)
        lane_release(l);
    return err;
}

struct poll_ctx {
    struct ma_journey *m;
    cpm_sink_done_fn done;
    void *ctx;
};

static void judge(void *ctx, unsigned lane, const struct cpm_http_answer *a)
{
    struct poll_ctx *pc = ctx;
    struct lane *l = &pc->m->lanes[lane];
    struct cpm_sink_result r = {0};
    cpm_sync_judge_json_answer(a, "marketing automation",
                               l->action == EXIT_JOURNEY ? "exited the journeys" : "rescheduled",
                               &r);
    lane_release(l);
    pc->done(pc->ctx, lane, &r);
}

static void ma_poll(void *sink, int timeout_ms, cpm_sink_done_fn done, void *ctx)
{
    struct ma_journey *m = sink;
    struct poll_ctx pc = {m, done, ctx};
    bool reported = false;
    for (unsigned i = 0; i < m->lane_count; i++) {
        if (!m->lanes[i].ready)
            continue;
        struct cpm_sink_result r = m->lanes[i].result;
        m->lanes[i].ready = false;
        done(ctx, i, &r);
        reported = true;
    }
    cpm_http_lanes_poll(m->http, reported ? 0 : timeout_ms, judge, &pc);
}

static void ma_wake(void *sink)
{
    struct ma_journey *m = sink;
    cpm_http_lanes_wake(m->http);
}

const struct cpm_sink_ops cpm_sink_ma_journey_ops = {
    .kind = KIND,
    .open = ma_open,
    .send = ma_send,
    .poll = ma_poll,
    .wake = ma_wake,
    .close = ma_close,
};
