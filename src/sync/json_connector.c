/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_connector.c — the sink of the bearer-token JSON-over-HTTP destination
 * kinds (see the header): one request per event on the dispatcher's lane,
 * over http_lanes, judged by json_api.
 */
#include "core/common.h"

#include <sodium.h>

#include "core/alloc.h"
#include "crypto/keyring.h"
#include "sync/http_lanes.h"
#include "sync/json_api.h"
#include "sync/json_connector.h"

struct lane {
    char *body; /* the request in flight: it may hold the identifier, wiped when done */
    size_t body_len;
    unsigned action; /* index in the kind's actions */
    bool ready;      /* finished without a request: the next poll reports result */
    struct cpm_sink_result result;
};

struct json_connector {
    const struct cpm__json_connector_kind *kind;
    struct cpm_http_lanes *http;
    char *url[CPM__JSON_CONNECTOR_ACTIONS_MAX]; /* by action */
    char authorization[sizeof("Bearer ") + CPM_SYNC_BEARER_BYTES_MAX];
    struct lane *lanes;
    unsigned lane_count;
    cpm_sink_identifier_fn identifier;
    void *identifier_ctx;
};

static void lane_release(struct lane *l)
{
    if (l->body != NULL) {
        sodium_memzero(l->body, l->body_len);
        cpm_free(l->body);
    }
    l->body = NULL;
    l->body_len = 0;
}

void cpm__json_connector_close(void *sink)
{
    struct json_connector *c = sink;
    if (c == NULL)
        return;
    cpm_http_lanes_free(c->http); /* first: it may still point at the bodies */
    for (unsigned i = 0; c->lanes != NULL && i < c->lane_count; i++)
        lane_release(&c->lanes[i]);
    cpm_free(c->lanes);
    for (unsigned i = 0; i < CPM__JSON_CONNECTOR_ACTIONS_MAX; i++)
        cpm_free(c->url[i]);
    sodium_memzero(c->authorization, sizeof(c->authorization));
    cpm_free(c);
}

cpm_err cpm__json_connector_open(const struct cpm__json_connector_kind *kind, const json_t *dest,
                                 const struct cpm_sink_env *env, void **out,
                                 struct cpm_detail *detail)
{
    CPM_ASSERT(kind->action_count > 0 && kind->action_count <= CPM__JSON_CONNECTOR_ACTIONS_MAX);
    const char *endpoint = json_string_value(json_object_get(dest, "endpoint"));
    const char *secret = json_string_value(json_object_get(dest, "secret"));
    struct json_connector *c = cpm_calloc(1, sizeof(*c));
    cpm_err err = c ? CPM_OK : CPM_ERR_NOMEM;
    if (err == CPM_OK && (endpoint == NULL || strpbrk(endpoint, "?#") != NULL)) {
        cpm_detail_add(detail, "endpoint",
                       "is required: the %s's base URL (no query), to which %s is appended",
                       kind->receiver, kind->paths);
        err = CPM_ERR_VALIDATION;
    }
    if (err == CPM_OK && (secret == NULL || !cpm_sync_bearer_valid(secret))) {
        cpm_detail_add(detail, "secret",
                       "is required: the %s's bearer token (printable ASCII, no spaces)",
                       kind->receiver);
        err = CPM_ERR_VALIDATION;
    }
    if (err == CPM_OK) {
        c->kind = kind;
        snprintf(c->authorization, sizeof(c->authorization), "Bearer %s", secret);
        c->identifier = env->identifier;
        c->identifier_ctx = env->identifier_ctx;
        c->lane_count = env->lanes;
        c->lanes = cpm_calloc(env->lanes ? env->lanes : 1, sizeof(*c->lanes));
        for (unsigned i = 0; i < kind->action_count; i++)
            if ((c->url[i] = cpm_sync_url_join(endpoint, kind->actions[i].path)) == NULL)
                err = CPM_ERR_NOMEM;
        if (c->lanes == NULL)
            err = CPM_ERR_NOMEM;
        if (err == CPM_OK)
            err = cpm_http_lanes_new(env->guard, env->lanes, env->timeout_ms, &c->http);
    }
    if (err != CPM_OK) {
        cpm__json_connector_close(c);
        return err;
    }
    *out = c;
    return CPM_OK;
}

/* Finishes a send without a request: the next poll reports it. */
static cpm_err finish(struct lane *l, enum cpm_sink_outcome outcome, const char *fmt, ...)
    CPM_PRINTF(3, 4);
static cpm_err finish(struct lane *l, enum cpm_sink_outcome outcome, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cpm_sink_result_vset(&l->result, outcome, fmt, ap);
    va_end(ap);
    l->ready = true;
    return CPM_OK;
}

/* The index of e's action among the kind's, or action_count when it takes no such action. */
static unsigned action_of(const struct cpm__json_connector_kind *kind,
                          const struct cpm_outbound_event *e)
{
    unsigned i = 0;
    while (i < kind->action_count &&
           (e->action == NULL || strcmp(e->action, kind->actions[i].name) != 0))
        i++;
    return i;
}

cpm_err cpm__json_connector_send(void *sink, unsigned lane, const struct cpm_outbound_event *e)
{
    struct json_connector *c = sink;
    const struct cpm__json_connector_kind *kind = c->kind;
    CPM_ASSERT(lane < c->lane_count && c->lanes[lane].body == NULL && !c->lanes[lane].ready);
    struct lane *l = &c->lanes[lane];
    char identifier[CPM_IDENTIFIER_BYTES_MAX];
    cpm_err err = CPM_OK;
    if (e->subject_id[0] == '\0') /* a configuration event or a test: about no one */
        return finish(l, CPM_SINK_DELIVERED, "not about a subject: nothing to do");
    l->action = action_of(kind, e);
    if (l->action == kind->action_count)
        return finish(l, CPM_SINK_REJECTED, "action '%.40s' is not one an %s takes",
                      e->action ? e->action : "(none)", kind->kind);
    if (kind->identifier_type != NULL) {
        err = c->identifier != NULL
                  ? c->identifier(c->identifier_ctx, e->subject_id, kind->identifier_type,
                                  identifier, sizeof(identifier))
                  : CPM_ERR_NOT_FOUND;
        if (err == CPM_ERR_NOT_FOUND)
            return finish(l, CPM_SINK_DELIVERED, "no %s for this subject: nothing to do",
                          kind->identifier_type);
        if (err != CPM_OK)
            return finish(l, CPM_SINK_RETRY, "could not read the subject's %s: %s",
                          kind->identifier_type, cpm_err_message(err));
    }
    l->body = kind->body(e, l->action, kind->identifier_type != NULL ? identifier : NULL);
    sodium_memzero(identifier, sizeof(identifier));
    if (l->body == NULL)
        return CPM_ERR_NOMEM;
    l->body_len = strlen(l->body);
    struct curl_slist *h = NULL;
    bool ok = cpm_http_header(&h, "Authorization", c->authorization) &&
              cpm_http_header(&h, "Content-Type", "application/json") &&
              cpm_http_header(&h, "Idempotency-Key", e->id) &&
              cpm_http_header(&h, "Expect", ""); /* no 100-continue round trip */
    err =
        ok ? cpm_http_lanes_start(c->http, lane, "POST", c->url[l->action], h, l->body, l->body_len)
           : CPM_ERR_NOMEM;
    if (err != CPM_OK)
        lane_release(l);
    return err;
}

struct poll_ctx {
    struct json_connector *c;
    cpm_sink_done_fn done;
    void *ctx;
};

static void judge(void *ctx, unsigned lane, const struct cpm_http_answer *a)
{
    struct poll_ctx *pc = ctx;
    const struct cpm__json_connector_kind *kind = pc->c->kind;
    struct lane *l = &pc->c->lanes[lane];
    struct cpm_sink_result r = {0};
    cpm_sync_judge_json_answer(a, kind->receiver, kind->actions[l->action].done_detail, &r);
    lane_release(l);
    pc->done(pc->ctx, lane, &r);
}

void cpm__json_connector_poll(void *sink, int timeout_ms, cpm_sink_done_fn done, void *ctx)
{
    struct json_connector *c = sink;
    struct poll_ctx pc = {c, done, ctx};
    bool reported = false;
    for (unsigned i = 0; i < c->lane_count; i++) {
        if (!c->lanes[i].ready)
            continue;
        struct cpm_sink_result r = c->lanes[i].result;
        c->lanes[i].ready = false;
        done(ctx, i, &r);
        reported = true;
    }
    cpm_http_lanes_poll(c->http, reported ? 0 : timeout_ms, judge, &pc);
}

void cpm__json_connector_wake(void *sink)
{
    struct json_connector *c = sink;
    cpm_http_lanes_wake(c->http);
}
