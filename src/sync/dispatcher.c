/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dispatcher.c — the supervisor: a worker per enabled destination, started,
 * restarted on a change and stopped on a deletion or disabling; and the
 * dispatcher's face to the rest of cpmd (notify, replay, status, metrics).
 */
#include "core/common.h"

#include <pthread.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "domain/config.h"
#include "store/config_writer.h"
#include "sync/dispatcher.h"
#include "sync/sink.h"
#include "sync/worker.h"

#define MODULE      "sync"
#define WORKERS_MAX 64   /* destinations delivered to at once */
#define RESCAN_MS   1000 /* the supervisor looks at the destinations at least this often */
#define LIST_PAGE   100

struct cpm_dispatcher {
    struct cpm_store *store;
    struct cpm_dispatcher_options options;
    char source[256];
    pthread_t thread;
    pthread_mutex_t lock; /* workers, worker_count, reload, stopping */
    pthread_cond_t changed;
    struct cpm_worker *workers[WORKERS_MAX];
    size_t worker_count;
    bool reload, stopping;
};

/* A destination as listed: its document (with id) and revision. */
struct listed {
    json_t *docs;      /* array of enabled documents */
    json_t *revisions; /* id → revision, of the enabled ones */
    json_t *existing;  /* id → true, of every destination, enabled or not */
    char last[CPM_ID_BYTES_MAX + 1];
    int seen;
};

static cpm_err list_visit(void *ctx, const struct cpm_doc *doc)
{
    struct listed *l = ctx;
    json_t *body = json_loads(doc->body, 0, NULL);
    cpm_strlcpy(l->last, doc->id, sizeof(l->last));
    l->seen++;
    if (body == NULL)
        return CPM_ERR_NOMEM;
    json_object_set_new(body, "id", json_string(doc->id));
    json_object_set_new(l->existing, doc->id, json_true());
    if (json_is_true(json_object_get(body, "enabled"))) {
        json_array_append(l->docs, body);
        json_object_set_new(l->revisions, doc->id, json_integer(doc->revision));
    }
    json_decref(body);
    return CPM_OK;
}

static cpm_err list_enabled(struct cpm_store *store, struct listed *l)
{
    cpm_err err = CPM_OK;
    do {
        l->seen = 0;
        err = store->ops->doc_list(store, CPM_DOC_DESTINATION, l->last[0] ? l->last : NULL,
                                   LIST_PAGE, list_visit, l);
    } while (err == CPM_OK && l->seen == LIST_PAGE);
    return err;
}

static int64_t revision_of(const struct listed *l, const char *id)
{
    return json_integer_value(json_object_get(l->revisions, id));
}

/*
 * Takes the workers whose destination is gone, disabled or changed out of
 * d (under d->lock) into stale; returns how many. They are stopped after
 * the lock is let go: a worker may be waiting for the writer (recording a
 * 410's disabling), and the writer's commit hook takes d->lock.
 */
static size_t take_stale(struct cpm_dispatcher *d, const struct listed *l,
                         struct cpm_worker *stale[WORKERS_MAX])
{
    size_t kept = 0, taken = 0;
    for (size_t i = 0; i < d->worker_count; i++) {
        struct cpm_worker *w = d->workers[i];
        if (revision_of(l, cpm__worker_id(w)) == cpm__worker_revision(w))
            d->workers[kept++] = w;
        else
            stale[taken++] = w;
    }
    d->worker_count = kept;
    return taken;
}

/*
 * Stops a stale worker; when its destination is gone (deleted, not just
 * disabled or changed), forgets its cursors too, after its last flush, so a
 * destination made again with that id starts afresh whatever the timing.
 */
static void stop_stale(struct cpm_dispatcher *d, const struct listed *l, struct cpm_worker *w)
{
    char id[CPM_ID_BYTES_MAX + 1];
    cpm_strlcpy(id, cpm__worker_id(w), sizeof(id));
    cpm__worker_stop(w);
    if (json_object_get(l->existing, id) == NULL &&
        d->store->ops->delivery_cursors_delete(d->store, id) != CPM_OK)
        cpm_log_error(MODULE, "destination '%s' was deleted but its cursors stay", id);
}

static bool running(const struct cpm_dispatcher *d, const char *id)
{
    for (size_t i = 0; i < d->worker_count; i++)
        if (strcmp(cpm__worker_id(d->workers[i]), id) == 0)
            return true;
    return false;
}

/* Brings the workers in line with the stored destinations. */
static void reconcile(struct cpm_dispatcher *d)
{
    struct listed l = {.docs = json_array(), .revisions = json_object(), .existing = json_object()};
    cpm_err err = l.docs && l.revisions && l.existing ? list_enabled(d->store, &l) : CPM_ERR_NOMEM;
    if (err != CPM_OK) {
        cpm_log_error(MODULE, "cannot list the destinations: %s", cpm_err_message(err));
        goto out;
    }
    struct cpm_worker *stale[WORKERS_MAX];
    pthread_mutex_lock(&d->lock);
    size_t stale_count = take_stale(d, &l, stale);
    pthread_mutex_unlock(&d->lock);
    for (size_t s = 0; s < stale_count; s++)
        stop_stale(d, &l, stale[s]);
    pthread_mutex_lock(&d->lock);
    size_t i;
    json_t *doc;
    json_array_foreach(l.docs, i, doc)
    {
        const char *id = json_string_value(json_object_get(doc, "id"));
        struct cpm_worker *w = NULL;
        if (running(d, id))
            continue;
        if (d->worker_count == WORKERS_MAX) {
            cpm_log_error(MODULE, "destination '%s' not started: at most %d run at once", id,
                          WORKERS_MAX);
            continue;
        }
        if (cpm__worker_start(d->store, &d->options, doc, revision_of(&l, id), &w) == CPM_OK)
            d->workers[d->worker_count++] = w;
    }
    pthread_mutex_unlock(&d->lock);
out:
    json_decref(l.docs);
    json_decref(l.revisions);
    json_decref(l.existing);
}

static void *supervise(void *arg)
{
    struct cpm_dispatcher *d = arg;
    uint64_t generation = 0;
    for (;;) {
        pthread_mutex_lock(&d->lock);
        if (!d->reload && !d->stopping && generation == cpm_config_generation()) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += RESCAN_MS / 1000;
            pthread_cond_timedwait(&d->changed, &d->lock, &until);
        }
        bool stopping = d->stopping;
        d->reload = false;
        pthread_mutex_unlock(&d->lock);
        if (stopping)
            break;
        generation = cpm_config_generation();
        reconcile(d);
    }
    return NULL;
}

cpm_err cpm_dispatcher_start(struct cpm_store *store, const struct cpm_dispatcher_options *options,
                             struct cpm_dispatcher **out)
{
    struct cpm_dispatcher *d = cpm_calloc(1, sizeof(*d));
    if (d == NULL)
        return CPM_ERR_NOMEM;
    d->store = store;
    d->options = *options;
    cpm_strlcpy(d->source, options->source, sizeof(d->source));
    d->options.source = d->source;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->changed, NULL);
    reconcile(d); /* the destinations deliver from the first moment */
    if (pthread_create(&d->thread, NULL, supervise, d) != 0) {
        cpm_dispatcher_stop(d);
        return CPM_ERR_INTERNAL;
    }
    *out = d;
    return CPM_OK;
}

void cpm_dispatcher_notify(struct cpm_dispatcher *d)
{
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->worker_count; i++)
        cpm__worker_wake(d->workers[i]);
    pthread_mutex_unlock(&d->lock);
}

void cpm_dispatcher_reload(struct cpm_dispatcher *d)
{
    pthread_mutex_lock(&d->lock);
    d->reload = true;
    pthread_cond_signal(&d->changed);
    pthread_mutex_unlock(&d->lock);
}

static struct cpm_worker *find(struct cpm_dispatcher *d, const char *id)
{
    for (size_t i = 0; i < d->worker_count; i++)
        if (strcmp(cpm__worker_id(d->workers[i]), id) == 0)
            return d->workers[i];
    return NULL;
}

cpm_err cpm_dispatcher_replay(struct cpm_dispatcher *d, const char *destination_id,
                              int64_t from_seq)
{
    CPM_ASSERT(from_seq > 0);
    pthread_mutex_lock(&d->lock);
    struct cpm_worker *w = find(d, destination_id);
    if (w != NULL)
        cpm__worker_replay(w, from_seq);
    pthread_mutex_unlock(&d->lock);
    if (w != NULL)
        return CPM_OK;
    /* Not running (disabled): move its stored cursors back, for when it runs again. */
    int64_t *seqs = cpm_calloc(CPM_DELIVERY_LANES_MAX, sizeof(*seqs));
    struct cpm_lane_cursor *cursors = cpm_calloc(CPM_DELIVERY_LANES_MAX, sizeof(*cursors));
    unsigned lanes = 0;
    cpm_err err = seqs && cursors
                      ? d->store->ops->delivery_cursors_get(d->store, destination_id, seqs,
                                                            CPM_DELIVERY_LANES_MAX, &lanes)
                      : CPM_ERR_NOMEM;
    for (unsigned i = 0; err == CPM_OK && i < lanes; i++)
        cursors[i] = (struct cpm_lane_cursor){i, from_seq - 1 < seqs[i] ? from_seq - 1 : seqs[i]};
    if (err == CPM_OK)
        err = d->store->ops->delivery_record(d->store, destination_id, NULL, 0, cursors, lanes);
    cpm_free(seqs);
    cpm_free(cursors);
    return err == CPM_ERR_NOT_FOUND ? CPM_OK : err; /* never started: it starts at from_seq */
}

void cpm_dispatcher_forget(struct cpm_dispatcher *d, const char *destination_id)
{
    struct cpm_worker *w = NULL;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->worker_count && w == NULL; i++)
        if (strcmp(cpm__worker_id(d->workers[i]), destination_id) == 0) {
            w = d->workers[i];
            d->workers[i] = d->workers[--d->worker_count];
        }
    pthread_mutex_unlock(&d->lock);
    cpm__worker_stop(w); /* outside the lock, as in reconcile; NULL is a no-op */
}

bool cpm_dispatcher_status(struct cpm_dispatcher *d, const char *destination_id,
                           struct cpm_destination_status *out)
{
    pthread_mutex_lock(&d->lock);
    struct cpm_worker *w = find(d, destination_id);
    if (w != NULL) {
        const struct cpm_worker_stats *s = cpm__worker_stats(w);
        out->cursor_seq = atomic_load(&s->cursor_seq);
        out->read_seq = atomic_load(&s->read_seq);
        out->queued = atomic_load(&s->queued);
        out->delivered = (int64_t)atomic_load(&s->delivered);
        out->failed = (int64_t)atomic_load(&s->failed);
        out->dead = (int64_t)atomic_load(&s->dead);
        out->blocked = (int64_t)atomic_load(&s->blocked);
    }
    pthread_mutex_unlock(&d->lock);
    return w != NULL;
}

static void metrics_of(FILE *out, const char *id, const struct cpm_worker_stats *s, uint64_t size)
{
    const char *names[] = {"delivered", "failed", "dead", "blocked"};
    const atomic_uint_least64_t *counts[] = {&s->delivered, &s->failed, &s->dead, &s->blocked};
    int64_t cursor = atomic_load(&s->cursor_seq);
    fprintf(out, "cpm_sync_lag_events{destination=\"%s\"} %lld\n", id,
            (long long)((int64_t)size > cursor ? (int64_t)size - cursor : 0));
    for (size_t i = 0; i < CPM_ARRAY_LEN(names); i++)
        fprintf(out, "cpm_sync_outcomes_total{destination=\"%s\",outcome=\"%s\"} %llu\n", id,
                names[i], (unsigned long long)atomic_load(counts[i]));
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= CPM_SYNC_ACK_BUCKETS; b++) {
        cumulative += atomic_load(&s->ack_buckets[b]);
        if (b < CPM_SYNC_ACK_BUCKETS)
            fprintf(
                out,
                "cpm_sync_acknowledged_after_seconds_bucket{destination=\"%s\",le=\"%g\"} %llu\n",
                id, (double)cpm__sync_ack_bucket_ms[b] / 1000, (unsigned long long)cumulative);
        else
            fprintf(
                out,
                "cpm_sync_acknowledged_after_seconds_bucket{destination=\"%s\",le=\"+Inf\"} %llu\n",
                id, (unsigned long long)cumulative);
    }
    fprintf(out, "cpm_sync_acknowledged_after_seconds_sum{destination=\"%s\"} %.3f\n", id,
            (double)atomic_load(&s->ack_sum_ms) / 1000);
    fprintf(out, "cpm_sync_acknowledged_after_seconds_count{destination=\"%s\"} %llu\n", id,
            (unsigned long long)cumulative);
}

void cpm_dispatcher_metrics(struct cpm_dispatcher *d, FILE *out)
{
    uint64_t size = 0;
    if (d->store->ops->ledger_size(d->store, &size) != CPM_OK)
        size = 0;
    fprintf(out, "# HELP cpm_sync_lag_events Events recorded but not yet done, per destination.\n"
                 "# TYPE cpm_sync_lag_events gauge\n"
                 "# HELP cpm_sync_outcomes_total Delivery outcomes, per destination.\n"
                 "# TYPE cpm_sync_outcomes_total counter\n"
                 "# HELP cpm_sync_acknowledged_after_seconds From an event's recording to the"
                 " receiver's acknowledgement.\n"
                 "# TYPE cpm_sync_acknowledged_after_seconds histogram\n");
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->worker_count; i++)
        metrics_of(out, cpm__worker_id(d->workers[i]), cpm__worker_stats(d->workers[i]), size);
    pthread_mutex_unlock(&d->lock);
}

void cpm_dispatcher_stop(struct cpm_dispatcher *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = true;
    pthread_cond_signal(&d->changed);
    pthread_mutex_unlock(&d->lock);
    if (d->thread)
        pthread_join(d->thread, NULL);
    for (size_t i = 0; i < d->worker_count; i++)
        cpm__worker_stop(d->workers[i]);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->changed);
    cpm_free(d);
}
