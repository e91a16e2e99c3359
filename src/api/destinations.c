/* SPDX-License-Identifier: Apache-2.0 */
/*
 * destinations.c — what is particular to destinations beyond the shared
 * configuration routes (config_resource.c): the secret made on creation
 * and shown once, the live delivery figures, deletion, a test send,
 * replay, and the delivery log per destination and per subject ("where
 * my data went").
 */
#include "core/common.h"

#include <sodium.h>

#include "api/api.h"
#include "api/support.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "crypto/config_secrets.h"
#include "crypto/random_id.h"
#include "domain/destination.h"
#include "http/app.h"
#include "store/config_events.h"
#include "store/checkpointer.h"
#include "store/config_writer.h"
#include "store/writer.h"
#include "sync/cloudevent.h"
#include "sync/dispatcher.h"
#include "sync/sink.h"

#define SECRET_HINT_BYTES 10 /* "whsec_" and four characters */
#define TEST_GRACE_MS     1000

static const char *const outcomes[] = {"delivered", "failed", "dead", "blocked", NULL};

/* A new destination: its kind's defaults, a webhook secret, and delivery from the next event. */
static void complete(struct cpm_request *req, json_t *doc)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (kind != NULL && strcmp(kind, "webhook") == 0 && json_object_get(doc, "secret") == NULL) {
        char secret[CPM_WEBHOOK_SECRET_BYTES_MAX];
        cpm_webhook_secret_new(secret);
        json_object_set_new(doc, "secret", json_string(secret));
        sodium_memzero(secret, sizeof(secret));
    }
    cpm_destination_fill_defaults(doc);
    if (json_object_get(doc, "from_seq") == NULL) {
        uint64_t size;
        uint8_t root[CPM_HASH_BYTES];
        cpm_writer_head(req->app->writer, &size, root);
        json_object_set_new(doc, "from_seq", json_integer((json_int_t)size + 1));
    }
}

void cpm_api_destination_complete(struct cpm_request *req, json_t *doc)
{
    complete(req, doc);
}

/* ---- the console's figures: lag in time, the last acknowledgement -------- */

static cpm_err oldest_visit(void *ctx, const struct cpm_event *e)
{
    *(int64_t *)ctx = e->time_ms;
    return CPM_OK;
}

/* How long ago the oldest event not yet done with (cursor_seq + 1) was recorded; 0 when none. */
static int64_t lag_ms(struct cpm_store *store, int64_t cursor_seq, int64_t lag_events)
{
    int64_t time_ms = 0;
    if (lag_events <= 0 ||
        store->ops->event_list(store, NULL, cursor_seq, 1, oldest_visit, &time_ms) != CPM_OK ||
        time_ms == 0)
        return 0;
    int64_t lag = cpm_clock_now_ms() - time_ms;
    return lag > 0 ? lag : 0;
}

/* When the destination's receiver last acknowledged an event (ms; 0: never or unknown). */
static int64_t last_delivered_ms(struct cpm_store *store, const char *id)
{
    int64_t time_ms = 0;
    return store->ops->delivery_last(store, id, "delivered", &time_ms) == CPM_OK ? time_ms : 0;
}

void cpm_api_destination_present(struct cpm_request *req, json_t *doc, bool created)
{
    if (cpm_config_secrets_open(CPM_DOC_DESTINATION, doc, req->app->keyring) != CPM_OK)
        json_object_set_new(doc, "secret", json_string("(cannot be opened)"));
    const char *secret = json_string_value(json_object_get(doc, "secret"));
    if (secret != NULL && !created) {
        char hint[SECRET_HINT_BYTES + 8];
        snprintf(hint, sizeof(hint), "%.*s…", SECRET_HINT_BYTES, secret);
        json_object_set_new(doc, "secret_hint", json_string(hint));
        json_object_del(doc, "secret");
    }
    struct cpm_destination_status st;
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (req->app->dispatcher == NULL || id == NULL ||
        !cpm_dispatcher_status(req->app->dispatcher, id, &st)) {
        json_object_set_new(doc, "delivery", json_null());
        return;
    }
    uint64_t size;
    uint8_t root[CPM_HASH_BYTES];
    cpm_writer_head(req->app->writer, &size, root);
    int64_t lag_events = (int64_t)size - st.cursor_seq;
    int64_t delivered_ms = last_delivered_ms(req->app->store, id);
    json_object_set_new(
        doc, "delivery",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "cursor_seq",
                  (json_int_t)st.cursor_seq, "lag_events", (json_int_t)lag_events, "lag_ms",
                  (json_int_t)lag_ms(req->app->store, st.cursor_seq, lag_events), "queued",
                  (json_int_t)st.queued, "delivered", (json_int_t)st.delivered, "failed",
                  (json_int_t)st.failed, "dead", (json_int_t)st.dead, "blocked",
                  (json_int_t)st.blocked, "last_delivered_at",
                  delivered_ms > 0 ? cpm_api_time(delivered_ms) : json_null()));
}

/* The stored destination (with its secret), or an answered 404. */
static json_t *destination(struct cpm_request *req, const char *id)
{
    json_t *doc = NULL;
    int64_t revision;
    cpm_err err = cpm_config_id_valid(id)
                      ? cpm_config_read(req->app->store, CPM_DOC_DESTINATION, id, &doc, &revision)
                      : CPM_ERR_NOT_FOUND;
    if (err != CPM_OK)
        cpm_api_respond_store_error(req, err, "destination", id);
    return doc;
}

void cpm_api_destinations_delete(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    json_t *doc = destination(req, id);
    if (doc == NULL)
        return;
    struct cpm_store *store = req->app->store;
    cpm_err err = store->ops->doc_delete(store, CPM_DOC_DESTINATION, id);
    if (err == CPM_OK && req->app->dispatcher != NULL) /* its last flush lands before … */
        cpm_dispatcher_forget(req->app->dispatcher, id);
    if (err == CPM_OK) /* … the cursors go: a new destination of this id starts afresh */
        err = store->ops->delivery_cursors_delete(store, id);
    if (err != CPM_OK) {
        cpm_api_respond_store_error(req, err, "destination", id);
        goto out;
    }
    char *body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    cpm_config_event(req->app->writer, "config.deleted", CPM_DOC_DESTINATION, id, 0,
                     body ? body : "", req->key.id, req->request_id);
    cpm_free(body);
    if (req->app->dispatcher != NULL)
        cpm_dispatcher_reload(req->app->dispatcher);
    cpm_respond_static(req, 204, NULL, "", 0);
out:
    json_decref(doc);
}

void cpm_api_destinations_replay(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    const char *from = cpm_request_query(req, "from_seq");
    int64_t from_seq;
    if (from == NULL || !cpm_parse_int64(from, 1, INT64_MAX, &from_seq)) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "from_seq",
                          "is required: the first event to deliver again, an integer from 1");
        return;
    }
    json_t *doc = destination(req, id);
    if (doc == NULL)
        return;
    cpm_err err = req->app->dispatcher != NULL
                      ? cpm_dispatcher_replay(req->app->dispatcher, id, from_seq)
                      : CPM_ERR_UNAVAILABLE;
    if (err == CPM_OK)
        cpm_respond_json(
            req, 202, json_pack("{s:s, s:I}", "destination", id, "from_seq", (json_int_t)from_seq));
    else
        cpm_respond_error(req, err, NULL, "cannot replay destination '%s'", id);
    json_decref(doc);
}

/* ---- a test send ---------------------------------------------------------- */

struct test_ctx {
    bool done;
    struct cpm_sink_result result;
};

static void test_done(void *ctx, unsigned lane, const struct cpm_sink_result *r)
{
    struct test_ctx *t = ctx;
    CPM_UNUSED(lane);
    t->done = true;
    t->result = *r;
}

/* Sends one event of type cpm.destination.test through a fresh sink and waits for the answer. */
static cpm_err test_send(struct cpm_request *req, const json_t *doc, struct test_ctx *t,
                         int64_t *latency_ms, struct cpm_detail *detail)
{
    const struct cpm_sink_ops *ops = cpm_sink_find(json_string_value(json_object_get(doc, "kind")));
    json_int_t timeout = json_integer_value(json_object_get(doc, "timeout_ms"));
    struct cpm_sink_env env = {.guard = req->app->guard, .lanes = 1, .timeout_ms = timeout};
    char id[CPM_EVENT_ID_BYTES], source[CPM_ORIGIN_BYTES_MAX + 16];
    void *sink = NULL;
    size_t len = 0;
    int64_t now = cpm_clock_now_ms();
    cpm_random_id(id, sizeof(id), "evt_");
    snprintf(source, sizeof(source), "urn:opencpm:%s", req->app->origin);
    json_t *data = json_pack("{s:b, s:s}", "test", true, "destination",
                             json_string_value(json_object_get(doc, "id")));
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    char *body = text ? cpm_cloudevent_body(0, id, "destination.test", "", now, text, strlen(text),
                                            source, &len)
                      : NULL;
    cpm_free(text);
    cpm_err err = body == NULL ? CPM_ERR_NOMEM : ops->open(doc, &env, &sink, detail);
    struct cpm_outbound_event e = {.id = id,
                                   .type = "destination.test",
                                   .subject_id = "",
                                   .purpose = "",
                                   .time_ms = now,
                                   .body = body,
                                   .body_len = len};
    int64_t start = cpm_clock_monotonic_ns();
    if (err == CPM_OK)
        err = ops->send(sink, 0, &e);
    while (err == CPM_OK && !t->done &&
           (cpm_clock_monotonic_ns() - start) / 1000000 < timeout + TEST_GRACE_MS)
        ops->poll(sink, 100, test_done, t);
    *latency_ms = (cpm_clock_monotonic_ns() - start) / 1000000;
    if (sink != NULL)
        ops->close(sink);
    cpm_free(body);
    return err;
}

void cpm_api_destinations_test(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    json_t *doc = destination(req, id);
    if (doc == NULL)
        return;
    if (cpm_config_secrets_open(CPM_DOC_DESTINATION, doc, req->app->keyring) != CPM_OK) {
        cpm_respond_error(req, CPM_ERR_CRYPTO, "secret", "the stored secret cannot be opened");
        json_decref(doc);
        return;
    }
    struct test_ctx t = {0};
    struct cpm_detail detail;
    int64_t latency_ms = 0;
    cpm_detail_init(&detail);
    cpm_err err = test_send(req, doc, &t, &latency_ms, &detail);
    if (err != CPM_OK)
        cpm_respond_problem(req, err, &detail);
    else
        cpm_respond_json(req, 200,
                         json_pack("{s:b, s:i, s:I, s:s}", "delivered",
                                   t.done && t.result.outcome == CPM_SINK_DELIVERED, "status",
                                   t.result.status, "latency_ms", (json_int_t)latency_ms, "detail",
                                   t.done ? t.result.detail : "no answer within the timeout"));
    json_decref(doc);
}

/* ---- the delivery log ----------------------------------------------------- */

struct log_ctx {
    json_t *items;
    char last[24];
    bool person; /* asked with an end-user token */
};

static cpm_err person_visit(struct log_ctx *lc, const struct cpm_delivery *d)
{
    json_t *item =
        json_pack("{s:I, s:s, s:I, s:s, s:o, s:s}", "id", (json_int_t)d->id, "destination",
                  d->destination_id, "seq", (json_int_t)d->seq, "event_type", d->event_type, "time",
                  cpm_api_time(d->time_ms), "outcome", d->outcome);
    snprintf(lc->last, sizeof(lc->last), "%lld", (long long)d->id);
    return item && json_array_append_new(lc->items, item) == 0 ? CPM_OK : CPM_ERR_NOMEM;
}

static cpm_err log_visit(void *ctx, const struct cpm_delivery *d)
{
    struct log_ctx *lc = ctx;
    if (lc->person) /* a person sees where and when, not the receivers' own words */
        return person_visit(lc, d);
    json_t *item =
        json_pack("{s:I, s:s, s:I, s:s, s:s, s:s?, s:i, s:o, s:s, s:i, s:I, s:I, s:s}", "id",
                  (json_int_t)d->id, "destination", d->destination_id, "seq", (json_int_t)d->seq,
                  "event_id", d->event_id, "event_type", d->event_type, "subject",
                  d->subject_id[0] ? d->subject_id : NULL, "attempt", d->attempt, "time",
                  cpm_api_time(d->time_ms), "outcome", d->outcome, "status", d->status,
                  "latency_ms", (json_int_t)d->latency_ms, "acknowledged_after_ms",
                  (json_int_t)d->lag_ms, "detail", d->detail);
    snprintf(lc->last, sizeof(lc->last), "%lld", (long long)d->id);
    return item && json_array_append_new(lc->items, item) == 0 ? CPM_OK : CPM_ERR_NOMEM;
}

static bool outcome_valid(const char *s)
{
    for (const char *const *o = outcomes; *o != NULL; o++)
        if (strcmp(*o, s) == 0)
            return true;
    return false;
}

static void respond_log(struct cpm_request *req, struct cpm_delivery_filter *f)
{
    struct cpm_page page;
    if (!cpm_api_page_parse(req, &page))
        return;
    f->outcome = cpm_request_query(req, "status");
    if (f->outcome != NULL && !outcome_valid(f->outcome)) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "status",
                          "must be delivered, failed, dead or blocked");
        return;
    }
    if (page.after[0] && !cpm_parse_int64(page.after, 0, INT64_MAX, &f->after_id)) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "cursor", "not a cursor this server gave out");
        return;
    }
    struct log_ctx lc = {.items = json_array(), .person = req->end_user_property[0] != '\0'};
    struct cpm_store *store = req->app->store;
    cpm_err err =
        lc.items ? store->ops->delivery_list(store, f, page.limit, log_visit, &lc) : CPM_ERR_NOMEM;
    if (err != CPM_OK) {
        json_decref(lc.items);
        cpm_respond_error(req, err, NULL, "cannot read the delivery log");
        return;
    }
    cpm_respond_json(req, 200, cpm_api_page_result(lc.items, &page, lc.last[0] ? lc.last : NULL));
}

void cpm_api_destinations_deliveries(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    json_t *doc = destination(req, id);
    if (doc == NULL)
        return;
    struct cpm_delivery_filter f = {.destination_id = id};
    respond_log(req, &f);
    json_decref(doc);
}

void cpm_api_subject_deliveries(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    struct cpm_delivery_filter f = {.subject_id = id};
    if (cpm_api_subject_id_checked(req, id))
        respond_log(req, &f);
}
