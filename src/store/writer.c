/* SPDX-License-Identifier: Apache-2.0 */
/*
 * writer.c — group commit. Requests queue under a mutex; the writer thread
 * takes everything queued (up to a cap), assigns sequence numbers, hashes
 * leaves into the frontier, writes one transaction, and wakes every
 * requester. If a batch fails, its requests are retried one by one, so one
 * bad request (say, an idempotency key raced by a twin) fails alone.
 */
#include "core/common.h"

#include <pthread.h>

#include "core/alloc.h"
#include "core/log.h"
#include "ledger/merkle.h"
#include "index/index.h"
#include "store/node_cache.h"
#include "store/writer.h"

#define BATCH_REQUESTS_MAX 1024

struct cpm_writer {
    struct cpm_store *store;
    struct cpm_node_cache *nodes; /* may be NULL */
    struct cpm_index *index;      /* may be NULL */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t queued; /* the writer waits for work */
    pthread_cond_t done;   /* requesters wait for their batch */
    struct cpm_write_request *head, *tail;
    uint64_t queued_count, finished_count; /* requests ever queued, and of them finished (FIFO) */
    bool stopping;
    char refusal[CPM_MESSAGE_BYTES_MAX]; /* "" while writes are accepted */
    struct cpm_merkle_frontier frontier; /* the writer thread's own */
    uint64_t head_size;                  /* committed head, under lock */
    uint8_t head_root[CPM_HASH_BYTES];
    cpm_writer_watch_fn watch; /* under lock */
    void *watch_ctx;
};

/* The growing arrays of one batch. */
struct batch {
    struct cpm_write_batch out;
    struct cpm_subject *subjects;
    struct cpm_event *events;
    struct cpm_merkle_node *nodes;
    struct cpm_consent_state *states;
    struct cpm_idempotency *idempotency;
    struct cpm_subject_update *updates;
    struct cpm_identity *identities;
    struct cpm_guardian_link *guardian_links;
    struct cpm_preferences_row *preferences;
    struct cpm_contact *contacts;
    struct cpm_rights_request *rights_requests;
    struct cpm_rights_update *rights_updates;
    size_t subject_cap, event_cap, node_cap, state_cap, idempotency_cap;
    size_t update_cap, identity_cap, guardian_link_cap, preference_cap, contact_cap;
    size_t rights_request_cap, rights_update_cap;
    cpm_err err;
};

static cpm_err reserve(void **items, size_t *cap, size_t need, size_t item_bytes)
{
    if (need <= *cap)
        return CPM_OK;
    size_t cap_new = *cap ? *cap * 2 : 64;
    while (cap_new < need)
        cap_new *= 2;
    void *grown = cpm_realloc(*items, cap_new * item_bytes);
    if (grown == NULL)
        return CPM_ERR_NOMEM;
    *items = grown;
    *cap = cap_new;
    return CPM_OK;
}

#define RESERVE(b, field, cap, need)                                                               \
    reserve((void **)&(b)->field, &(b)->cap, (need), sizeof(*(b)->field))

static void emit_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    struct batch *b = ctx;
    if (b->err == CPM_OK)
        b->err = RESERVE(b, nodes, node_cap, b->out.node_count + 1);
    if (b->err != CPM_OK)
        return;
    struct cpm_merkle_node *n = &b->nodes[b->out.node_count++];
    n->level = level;
    n->index = index;
    memcpy(n->hash, hash, CPM_HASH_BYTES);
}

/* Adds one request to the batch, appending its leaves to the frontier. */
static cpm_err add_request(struct cpm_writer *w, struct batch *b, struct cpm_write_request *req)
{
    struct cpm_write_batch *o = &b->out;
    req->admitted = req->admit == NULL || req->admit(req, b->contacts, o->contact_count);
    if (!req->admitted)
        return CPM_OK;
    cpm_err err = RESERVE(b, events, event_cap, o->event_count + req->event_count);
    if (err == CPM_OK)
        err = RESERVE(b, states, state_cap, o->state_count + req->state_count);
    if (err == CPM_OK && (req->subject || req->guardian_subject || req->subject_count))
        err = RESERVE(b, subjects, subject_cap, o->subject_count + 2 + req->subject_count);
    if (err == CPM_OK && req->update)
        err = RESERVE(b, updates, update_cap, o->subject_update_count + 1);
    if (err == CPM_OK && req->identity)
        err = RESERVE(b, identities, identity_cap, o->identity_count + 1);
    if (err == CPM_OK && req->guardian_link)
        err = RESERVE(b, guardian_links, guardian_link_cap, o->guardian_link_count + 1);
    if (err == CPM_OK && req->idempotency)
        err = RESERVE(b, idempotency, idempotency_cap, o->idempotency_count + 1);
    if (err == CPM_OK && req->preferences)
        err = RESERVE(b, preferences, preference_cap, o->preference_count + 1);
    if (err == CPM_OK && req->contact)
        err = RESERVE(b, contacts, contact_cap, o->contact_count + 1);
    if (err == CPM_OK && req->rights_request)
        err = RESERVE(b, rights_requests, rights_request_cap, o->rights_request_count + 1);
    if (err == CPM_OK && req->rights_update)
        err = RESERVE(b, rights_updates, rights_update_cap, o->rights_update_count + 1);
    if (err != CPM_OK)
        return err;
    int64_t first = (int64_t)w->frontier.size + 1;
    for (size_t i = 0; i < req->event_count && b->err == CPM_OK; i++) {
        struct cpm_event *e = &req->events[i];
        e->seq = (int64_t)w->frontier.size + 1;
        uint8_t leaf[CPM_HASH_BYTES];
        if (req->leaf_hashes != NULL)
            memcpy(leaf, req->leaf_hashes[i], sizeof(leaf));
        else
            cpm_merkle_leaf_hash(e->leaf, e->leaf_len, leaf);
        cpm_merkle_append(&w->frontier, leaf, emit_node, b);
        b->events[o->event_count++] = *e;
    }
    for (size_t i = 0; i < req->state_count; i++) {
        const struct cpm_consent_state *s = &req->states[i];
        CPM_ASSERT(s->seq_kept || (s->seq >= 1 && (size_t)s->seq <= req->event_count));
        struct cpm_consent_state *copy = &b->states[o->state_count++];
        *copy = *s;
        if (!s->seq_kept)
            copy->seq = first + s->seq - 1; /* the request keeps its index, for a retry */
    }
    if (req->subject)
        b->subjects[o->subject_count++] = *req->subject;
    if (req->guardian_subject)
        b->subjects[o->subject_count++] = *req->guardian_subject;
    for (size_t i = 0; i < req->subject_count; i++)
        b->subjects[o->subject_count++] = req->subjects[i];
    if (req->update)
        b->updates[o->subject_update_count++] = *req->update;
    if (req->identity)
        b->identities[o->identity_count++] = *req->identity;
    if (req->guardian_link)
        b->guardian_links[o->guardian_link_count++] = *req->guardian_link;
    if (req->preferences) {
        CPM_ASSERT(req->preferences->seq >= 1 && (size_t)req->preferences->seq <= req->event_count);
        struct cpm_preferences_row *copy = &b->preferences[o->preference_count++];
        *copy = *req->preferences;
        copy->seq = first + req->preferences->seq - 1;
    }
    if (req->contact)
        b->contacts[o->contact_count++] = *req->contact;
    if (req->rights_request)
        b->rights_requests[o->rights_request_count++] = *req->rights_request;
    if (req->rights_update)
        b->rights_updates[o->rights_update_count++] = *req->rights_update;
    if (req->finish != NULL && b->err == CPM_OK)
        b->err = req->finish(req);
    if (req->idempotency)
        b->idempotency[o->idempotency_count++] = *req->idempotency;
    return b->err;
}

static void batch_reset(struct batch *b)
{
    b->out.subject_count = b->out.event_count = b->out.node_count = 0;
    b->out.state_count = b->out.idempotency_count = 0;
    b->out.subject_update_count = b->out.identity_count = b->out.guardian_link_count = 0;
    b->out.preference_count = b->out.contact_count = 0;
    b->out.rights_request_count = b->out.rights_update_count = 0;
    b->err = CPM_OK;
}

static void batch_free(struct batch *b)
{
    cpm_free(b->subjects);
    cpm_free(b->events);
    cpm_free(b->nodes);
    cpm_free(b->states);
    cpm_free(b->idempotency);
    cpm_free(b->updates);
    cpm_free(b->identities);
    cpm_free(b->guardian_links);
    cpm_free(b->preferences);
    cpm_free(b->contacts);
    cpm_free(b->rights_requests);
    cpm_free(b->rights_updates);
}

/* Builds and writes one batch of requests [first, stop); restores the frontier on failure. */
static cpm_err commit(struct cpm_writer *w, struct batch *b, struct cpm_write_request *first,
                      struct cpm_write_request *stop)
{
    struct cpm_merkle_frontier saved = w->frontier;
    batch_reset(b);
    cpm_err err = CPM_OK;
    for (struct cpm_write_request *r = first; r != stop && err == CPM_OK; r = r->next)
        err = add_request(w, b, r);
    if (err == CPM_OK) {
        b->out.subjects = b->subjects;
        b->out.events = b->events;
        b->out.nodes = b->nodes;
        b->out.states = b->states;
        b->out.idempotency = b->idempotency;
        b->out.subject_updates = b->updates;
        b->out.identities = b->identities;
        b->out.guardian_links = b->guardian_links;
        b->out.preferences = b->preferences;
        b->out.contacts = b->contacts;
        b->out.rights_requests = b->rights_requests;
        b->out.rights_updates = b->rights_updates;
        err = w->store->ops->batch_write(w->store, &b->out);
    }
    if (err != CPM_OK)
        w->frontier = saved;
    for (size_t i = 0; err == CPM_OK && w->nodes != NULL && i < b->out.node_count; i++)
        cpm_node_cache_add(w->nodes, &b->nodes[i]);
    if (err == CPM_OK && w->index != NULL)
        cpm_index_apply(w->index, &b->out);
    return err;
}

static void publish_head(struct cpm_writer *w)
{
    uint8_t root[CPM_HASH_BYTES];
    cpm_merkle_frontier_root(&w->frontier, root);
    pthread_mutex_lock(&w->lock);
    bool grew = w->head_size != w->frontier.size;
    w->head_size = w->frontier.size;
    memcpy(w->head_root, root, CPM_HASH_BYTES);
    if (grew && w->watch != NULL)
        w->watch(w->watch_ctx); /* under the lock: once unset, it is never called again */
    pthread_mutex_unlock(&w->lock);
}

void cpm_writer_watch(struct cpm_writer *w, cpm_writer_watch_fn fn, void *ctx)
{
    pthread_mutex_lock(&w->lock);
    w->watch = fn;
    w->watch_ctx = ctx;
    pthread_mutex_unlock(&w->lock);
}

/* Wakes the waiting requesters, then calls the asynchronous ones back. */
static void finish_all(struct cpm_writer *w, struct cpm_write_request *list)
{
    struct cpm_write_request *callbacks = NULL;
    pthread_mutex_lock(&w->lock);
    for (struct cpm_write_request *r = list, *next; r != NULL; r = next) {
        next = r->next;
        if (r->on_done != NULL) {
            r->next = callbacks;
            callbacks = r;
        } else {
            r->done = true; /* a waiting requester may free r from here on */
        }
        w->finished_count++;
    }
    pthread_cond_broadcast(&w->done);
    pthread_mutex_unlock(&w->lock);
    for (struct cpm_write_request *r = callbacks, *next; r != NULL; r = next) {
        next = r->next;
        r->on_done(r); /* may free r */
    }
}

/* Commits a taken list: together, or, when that fails, one by one. */
static void commit_list(struct cpm_writer *w, struct batch *b, struct cpm_write_request *list)
{
    cpm_err err = commit(w, b, list, NULL);
    if (err == CPM_OK || list->next == NULL) {
        for (struct cpm_write_request *r = list; r != NULL; r = r->next)
            r->result = err;
    } else {
        for (struct cpm_write_request *r = list; r != NULL; r = r->next)
            r->result = commit(w, b, r, r->next);
    }
    publish_head(w);
    finish_all(w, list);
}

static struct cpm_write_request *take(struct cpm_writer *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->head == NULL && !w->stopping)
        pthread_cond_wait(&w->queued, &w->lock);
    struct cpm_write_request *list = w->head, *last = w->head;
    for (int n = 1; last != NULL && last->next != NULL && n < BATCH_REQUESTS_MAX; n++)
        last = last->next;
    if (last != NULL) {
        w->head = last->next;
        if (w->head == NULL)
            w->tail = NULL;
        last->next = NULL;
    }
    pthread_mutex_unlock(&w->lock);
    return list;
}

static void *run(void *arg)
{
    struct cpm_writer *w = arg;
    struct batch b = {0};
    for (;;) {
        struct cpm_write_request *list = take(w);
        if (list == NULL)
            break; /* stopping, and the queue is empty */
        commit_list(w, &b, list);
    }
    batch_free(&b);
    return NULL;
}

static cpm_err read_node(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    struct cpm_store *store = ctx;
    return store->ops->merkle_node_get(store, level, index, out);
}

cpm_err cpm_writer_start(struct cpm_store *store, struct cpm_node_cache *nodes,
                         struct cpm_index *index, struct cpm_writer **out)
{
    struct cpm_writer *w = cpm_calloc(1, sizeof(*w));
    if (w == NULL)
        return CPM_ERR_NOMEM;
    w->store = store;
    w->nodes = nodes;
    w->index = index;
    uint64_t size = 0;
    cpm_err err = store->ops->ledger_size(store, &size);
    if (err == CPM_OK)
        err = cpm_merkle_frontier_load(&w->frontier, size, read_node, store);
    if (err != CPM_OK) {
        cpm_log_error("writer", "cannot load the Merkle tree head at size %llu",
                      (unsigned long long)size);
        cpm_free(w);
        return err;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->queued, NULL);
    pthread_cond_init(&w->done, NULL);
    publish_head(w);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        cpm_free(w);
        return CPM_ERR_INTERNAL;
    }
    *out = w;
    return CPM_OK;
}

/* Queues req under the lock (held on return when queued). */
static cpm_err enqueue(struct cpm_writer *w, struct cpm_write_request *req)
{
    CPM_ASSERT(req->event_count > 0 || req->contact != NULL); /* a send is not a ledger event */
    req->done = false;
    req->next = NULL;
    req->result = CPM_ERR_INTERNAL;
    pthread_mutex_lock(&w->lock);
    if (w->stopping || w->refusal[0]) {
        cpm_err err = w->refusal[0] ? CPM_ERR_TAMPERED : CPM_ERR_UNAVAILABLE;
        pthread_mutex_unlock(&w->lock);
        return err;
    }
    if (w->tail != NULL)
        w->tail->next = req;
    else
        w->head = req;
    w->tail = req;
    w->queued_count++;
    pthread_cond_signal(&w->queued);
    return CPM_OK;
}

void cpm_writer_barrier(struct cpm_writer *w)
{
    pthread_mutex_lock(&w->lock);
    uint64_t target = w->queued_count;
    while (w->finished_count < target)
        pthread_cond_wait(&w->done, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

cpm_err cpm_writer_submit(struct cpm_writer *w, struct cpm_write_request *req)
{
    req->on_done = NULL;
    cpm_err err = enqueue(w, req);
    if (err != CPM_OK)
        return err;
    while (!req->done)
        pthread_cond_wait(&w->done, &w->lock);
    pthread_mutex_unlock(&w->lock);
    return req->result;
}

cpm_err cpm_writer_submit_async(struct cpm_writer *w, struct cpm_write_request *req)
{
    CPM_ASSERT(req->on_done != NULL);
    cpm_err err = enqueue(w, req);
    if (err == CPM_OK)
        pthread_mutex_unlock(&w->lock);
    return err;
}

void cpm_writer_head(struct cpm_writer *w, uint64_t *size, uint8_t root[CPM_HASH_BYTES])
{
    pthread_mutex_lock(&w->lock);
    *size = w->head_size;
    memcpy(root, w->head_root, CPM_HASH_BYTES);
    pthread_mutex_unlock(&w->lock);
}

void cpm_writer_refuse(struct cpm_writer *w, const char *reason)
{
    pthread_mutex_lock(&w->lock);
    cpm_strlcpy(w->refusal, reason, sizeof(w->refusal));
    pthread_mutex_unlock(&w->lock);
}

const char *cpm_writer_refusal(struct cpm_writer *w)
{
    /* Set once, before the HTTP server starts; never cleared. */
    return w->refusal[0] ? w->refusal : NULL;
}

void cpm_writer_stop(struct cpm_writer *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->queued);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->queued);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->lock);
    cpm_free(w);
}
