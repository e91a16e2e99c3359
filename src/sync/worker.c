/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker.c — one destination's delivery loop: read the ledger on from the
 * lanes' cursors, filter, check the recipient's separate consent, send
 * through the sink (one event in flight per lane), judge each answer,
 * back off and retry, give up into the dead letters, and record every
 * outcome with the new cursors.
 */
#include "core/common.h"

#include <pthread.h>
#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "crypto/config_secrets.h"
#include "crypto/keyring.h"
#include "domain/destination.h"
#include "store/config_events.h"
#include "store/config_writer.h"
#include "sync/cloudevent.h"
#include "sync/json_api.h"
#include "sync/identifier.h"
#include "sync/sink.h"
#include "sync/worker.h"

#define MODULE    "sync"
#define READ_PAGE 256 /* events read from the ledger at a time */
/*
 * Events held in memory per destination: reading stops at QUEUED_MAX; one
 * lane holds at most twice its share, so a lane that keeps failing fills
 * only its own queue and the ledger is read on for the others (its own
 * later events are read again once it has room).
 */
#define QUEUED_MAX      4096
#define FLUSH_ROWS      512  /* log rows that make a flush due */
#define FLUSH_MS        20   /* the longest an outcome waits to be recorded */
#define IDLE_POLL_MS    1000 /* the longest sleep without news */
#define RETRY_AFTER_MAX (3600 * 1000)

const int64_t cpm__sync_ack_bucket_ms[CPM_SYNC_ACK_BUCKETS] = {5,   10,   25,   50,    100,
                                                               250, 1000, 5000, 30000, 300000};

struct item {
    struct item *next;
    int64_t seq;
    char id[CPM_EVENT_ID_BYTES];
    char type[CPM_EVENT_TYPE_BYTES];
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    char purpose[CPM_ID_BYTES_MAX + 1];
    bool about_recipient; /* the event decides this destination's own recipient consent */
    const json_t *rule;   /* connectors: the rule it matched (borrowed from dest) */
    int64_t time_ms;
    char *body;
    size_t body_len;
};

struct lane {
    struct item *head, *tail;
    unsigned len;
    /*
     * Not 0: the lane was full when this event of it was read; it and the
     * lane's later events up to read_seq are read again once there is room
     * (the other lanes are not held up meanwhile).
     */
    int64_t overflow_seq;
    bool in_flight;
    int attempts;    /* failed attempts of the head so far */
    int64_t next_ms; /* the head is not sent before */
    int64_t sent_ns;
};

struct cpm_worker {
    pthread_t thread;
    struct cpm_store *store;
    struct cpm_dispatcher_options options;
    char source[256];
    json_t *dest;
    char id[CPM_ID_BYTES_MAX + 1];
    int64_t revision;
    const struct cpm_sink_ops *ops;
    void *sink;
    int max_attempts;
    bool processor;
    bool connector; /* takes actions by its rules */
    char recipient[CPM_ID_BYTES_MAX + 1];
    json_t *channels; /* channel id → its purposes, from the channel documents */

    unsigned lane_count; /* the kind's: CPM_SINK_LANES_DEFAULT or its own */
    unsigned lane_max;   /* events queued per lane, at most */
    struct lane *lanes;
    int64_t *cursors;                /* as last recorded */
    struct cpm_lane_cursor *changed; /* flush's scratch: the cursors that moved */
    int64_t read_seq;
    int64_t queued;
    struct cpm_delivery *rows; /* outcomes not yet recorded */
    size_t row_count, row_cap;
    int64_t flushed_ms;
    bool gone;

    atomic_bool stopping;
    atomic_int_least64_t replay_from; /* 0: none asked */
    struct cpm_worker_stats stats;
};

/*
 * The lane of a subject: FNV-1a modulo the lane count, stable across
 * versions (the stored cursors depend on it; a changed count is caught by
 * load_cursors).
 */
static unsigned lane_of(const struct cpm_worker *w, const char *subject_id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)subject_id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % w->lane_count;
}

static void item_free(struct item *it)
{
    if (it != NULL)
        cpm_free(it->body);
    cpm_free(it);
}

static void lane_pop(struct cpm_worker *w, struct lane *l)
{
    struct item *it = l->head;
    l->head = it->next;
    if (l->head == NULL)
        l->tail = NULL;
    l->attempts = 0;
    l->next_ms = 0;
    l->len--;
    w->queued--;
    item_free(it);
}

/* ---- what goes out -------------------------------------------------------- */

static bool purpose_in(const json_t *purposes, const char *purpose)
{
    size_t i;
    const json_t *p;
    json_array_foreach(purposes, i, p) if (strcmp(json_string_value(p), purpose) == 0) return true;
    return false;
}

/* True when `when` names no channels, or purpose serves one of them (per its document). */
static bool channels_match(const struct cpm_worker *w, const json_t *when, const char *purpose)
{
    const json_t *channels = json_object_get(when, "channels");
    size_t i;
    const json_t *c;
    if (json_array_size(channels) == 0)
        return true;
    json_array_foreach(
        channels, i,
        c) if (purpose_in(json_object_get(w->channels, json_string_value(c)), purpose)) return true;
    return false;
}

/*
 * Types, purposes and channels, each matching when not set; without types,
 * the events about subjects (configuration events only when a type pattern
 * names them).
 */
static bool wanted(const struct cpm_worker *w, const struct cpm_event *e)
{
    const json_t *filter = json_object_get(w->dest, "filter");
    if (json_array_size(json_object_get(filter, "types")) == 0 && e->subject_id[0] == '\0')
        return false;
    return cpm_destination_rule_matches(filter, e->type, e->purpose) &&
           channels_match(w, filter, e->purpose);
}

/* A connector's first rule the event matches; NULL when none (it is not sent). */
static const json_t *rule_for(const struct cpm_worker *w, const struct cpm_event *e)
{
    size_t i;
    const json_t *rule;
    json_array_foreach(json_object_get(w->dest, "rules"), i, rule)
    {
        const json_t *when = json_object_get(rule, "when");
        if (cpm_destination_rule_matches(when, e->type, e->purpose) &&
            channels_match(w, when, e->purpose))
            return rule;
    }
    return NULL;
}

/* Whether the event decides this destination's own recipient's consent (its "recipient"). */
static bool about_recipient(const struct cpm_worker *w, const struct cpm_event *e)
{
    json_t *leaf = json_loadb(e->leaf, e->leaf_len, 0, NULL);
    const char *recipient = json_string_value(json_object_get(leaf, "recipient"));
    bool about = recipient != NULL && strcmp(recipient, w->recipient) == 0;
    json_decref(leaf);
    return about;
}

/* Whether e goes out at all; *rule gets a connector's matching rule. */
static bool admitted(const struct cpm_worker *w, const struct cpm_event *e, unsigned lane,
                     const json_t **rule)
{
    *rule = NULL;
    return e->seq > w->cursors[lane] && wanted(w, e) &&
           (!w->connector || (*rule = rule_for(w, e)) != NULL);
}

/* Queues e at the end of its lane. */
static cpm_err append(struct cpm_worker *w, const struct cpm_event *e, unsigned lane,
                      const json_t *rule)
{
    struct item *it = cpm_calloc(1, sizeof(*it));
    if (it == NULL)
        return CPM_ERR_NOMEM;
    it->about_recipient = !w->processor && about_recipient(w, e);
    it->rule = rule;
    it->seq = e->seq;
    cpm_strlcpy(it->id, e->id, sizeof(it->id));
    cpm_strlcpy(it->type, e->type, sizeof(it->type));
    cpm_strlcpy(it->subject_id, e->subject_id, sizeof(it->subject_id));
    cpm_strlcpy(it->purpose, e->purpose, sizeof(it->purpose));
    it->time_ms = e->time_ms;
    it->body = cpm_cloudevent_body(e->seq, e->id, e->type, e->subject_id, e->time_ms, e->leaf,
                                   e->leaf_len, w->source, &it->body_len);
    if (it->body == NULL) {
        item_free(it);
        return CPM_ERR_STORE; /* not an object's text: the ledger check will say more */
    }
    struct lane *l = &w->lanes[lane];
    if (l->tail != NULL)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
    l->len++;
    w->queued++;
    return CPM_OK;
}

static cpm_err enqueue(void *ctx, const struct cpm_event *e)
{
    struct cpm_worker *w = ctx;
    unsigned lane = lane_of(w, e->subject_id);
    struct lane *l = &w->lanes[lane];
    const json_t *rule;
    cpm_err err = CPM_OK;
    if (admitted(w, e, lane, &rule)) {
        if (l->overflow_seq == 0 && l->len >= w->lane_max)
            l->overflow_seq = e->seq; /* read again when the lane has room */
        if (l->overflow_seq == 0)
            err = append(w, e, lane, rule);
    }
    /* read_seq moves past an event only once it is queued, skipped or left to the re-read */
    if (err == CPM_OK)
        w->read_seq = e->seq;
    return err;
}

/* Re-reading one lane's overflow: from its overflow_seq up to read_seq. */
struct refill {
    struct cpm_worker *w;
    unsigned lane;
    int64_t last; /* the last event looked at */
    bool full;    /* the lane filled up again */
};

static cpm_err refill_visit(void *ctx, const struct cpm_event *e)
{
    struct refill *r = ctx;
    struct cpm_worker *w = r->w;
    struct lane *l = &w->lanes[r->lane];
    const json_t *rule;
    if (r->full || e->seq > w->read_seq)
        return CPM_OK; /* the rest of the page: not this round */
    r->last = e->seq;
    if (lane_of(w, e->subject_id) != r->lane || !admitted(w, e, r->lane, &rule))
        return CPM_OK;
    if (l->len >= w->lane_max) {
        l->overflow_seq = e->seq;
        r->full = true;
        return CPM_OK;
    }
    return append(w, e, r->lane, rule);
}

/* Lanes that overflowed and have room again read their events back. */
static void refill(struct cpm_worker *w)
{
    for (unsigned i = 0; i < w->lane_count; i++) {
        struct lane *l = &w->lanes[i];
        if (l->overflow_seq == 0 || l->len > w->lane_max / 2)
            continue;
        struct refill r = {.w = w, .lane = i, .last = l->overflow_seq - 1};
        int64_t from = l->overflow_seq - 1;
        l->overflow_seq = 0;
        cpm_err err = CPM_OK;
        while (err == CPM_OK && !r.full && r.last < w->read_seq) {
            int64_t before = r.last;
            err = w->store->ops->event_list(w->store, NULL, from, READ_PAGE, refill_visit, &r);
            from = r.last;
            if (r.last == before)
                break; /* nothing more stored */
        }
        if (err != CPM_OK) { /* try again later, from where it stood */
            l->overflow_seq = r.last + 1;
            cpm_log_error(MODULE, "destination '%s': re-reading a lane failed: %s", w->id,
                          cpm_err_message(err));
        }
    }
}

/* Reads the next page of the ledger when there is room; true when more may be waiting. */
static bool fill(struct cpm_worker *w)
{
    if (w->queued >= QUEUED_MAX) /* a backlog across the lanes: wait for room */
        return false;
    int64_t before = w->read_seq;
    cpm_err err = w->store->ops->event_list(w->store, NULL, w->read_seq, READ_PAGE, enqueue, w);
    if (err != CPM_OK) {
        cpm_log_error(MODULE, "destination '%s': reading the ledger failed: %s", w->id,
                      cpm_err_message(err));
        return false;
    }
    atomic_store(&w->stats.read_seq, w->read_seq);
    atomic_store(&w->stats.queued, w->queued);
    return w->read_seq - before >= READ_PAGE;
}

/* ---- the log -------------------------------------------------------------- */

static struct cpm_delivery *row_add(struct cpm_worker *w, const struct item *it,
                                    const char *outcome)
{
    if (w->row_count == w->row_cap) {
        size_t cap = w->row_cap ? w->row_cap * 2 : 64;
        struct cpm_delivery *rows = cpm_realloc(w->rows, cap * sizeof(*rows));
        if (rows == NULL) {
            cpm_log_error(MODULE, "destination '%s': out of memory for the delivery log", w->id);
            return NULL;
        }
        w->rows = rows;
        w->row_cap = cap;
    }
    struct cpm_delivery *d = &w->rows[w->row_count++];
    memset(d, 0, sizeof(*d));
    cpm_strlcpy(d->destination_id, w->id, sizeof(d->destination_id));
    d->seq = it->seq;
    cpm_strlcpy(d->event_id, it->id, sizeof(d->event_id));
    cpm_strlcpy(d->event_type, it->type, sizeof(d->event_type));
    cpm_strlcpy(d->subject_id, it->subject_id, sizeof(d->subject_id));
    cpm_strlcpy(d->outcome, outcome, sizeof(d->outcome));
    d->time_ms = cpm_clock_now_ms();
    d->lag_ms = d->time_ms - it->time_ms;
    return d;
}

static int64_t lowest_cursor(const struct cpm_worker *w)
{
    int64_t low = w->cursors[0];
    for (unsigned i = 1; i < w->lane_count; i++)
        low = w->cursors[i] < low ? w->cursors[i] : low;
    return low;
}

/* Records the outcomes so far and the cursors that moved, in one transaction. */
static void flush(struct cpm_worker *w)
{
    size_t moved = 0;
    for (unsigned i = 0; i < w->lane_count; i++) {
        const struct lane *l = &w->lanes[i];
        int64_t seq = l->head           ? l->head->seq - 1
                      : l->overflow_seq ? l->overflow_seq - 1
                                        : w->read_seq;
        if (seq != w->cursors[i])
            w->changed[moved++] = (struct cpm_lane_cursor){i, seq};
    }
    if (w->row_count == 0 && moved == 0)
        return;
    cpm_err err =
        w->store->ops->delivery_record(w->store, w->id, w->rows, w->row_count, w->changed, moved);
    w->flushed_ms = cpm_clock_now_ms();
    if (err != CPM_OK) { /* kept, and tried again: an outcome is never dropped */
        cpm_log_error(MODULE, "destination '%s': recording %zu outcomes failed: %s", w->id,
                      w->row_count, cpm_err_message(err));
        return;
    }
    w->row_count = 0;
    for (size_t i = 0; i < moved; i++)
        w->cursors[w->changed[i].lane] = w->changed[i].seq;
    atomic_store(&w->stats.cursor_seq, lowest_cursor(w));
}

/* Records every lane's cursor (a new destination, a replay, a changed lane count). */
static cpm_err record_all_cursors(struct cpm_worker *w)
{
    for (unsigned i = 0; i < w->lane_count; i++)
        w->changed[i] = (struct cpm_lane_cursor){i, w->cursors[i]};
    return w->store->ops->delivery_record(w->store, w->id, NULL, 0, w->changed, w->lane_count);
}

/* ---- sending and judging -------------------------------------------------- */

struct consent_ctx {
    const char *recipient;
    bool given;
};

static cpm_err consent_visit(void *ctx, const struct cpm_consent_state *s)
{
    struct consent_ctx *c = ctx;
    if (strcmp(s->recipient, c->recipient) == 0 && strcmp(s->status, "given") == 0)
        c->given = true;
    return CPM_OK;
}

/*
 * PIPL Art. 23 and 39: to an independent or a cross-border recipient,
 * nothing about a subject without the subject's separate consent for that
 * recipient; the decision on that very consent (a withdrawal) still goes.
 */
static bool may_send(struct cpm_worker *w, const struct item *it, bool *failed)
{
    *failed = false;
    if (w->processor || it->subject_id[0] == '\0' || it->about_recipient)
        return true;
    struct consent_ctx c = {.recipient = w->recipient};
    cpm_err err = w->store->ops->consent_state_list(w->store, it->subject_id, consent_visit, &c);
    *failed = err != CPM_OK;
    return c.given;
}

static void block(struct cpm_worker *w, struct lane *l)
{
    struct cpm_delivery *d = row_add(w, l->head, "blocked");
    if (d == NULL)
        return;
    snprintf(d->detail, sizeof(d->detail),
             "not sent: the subject has no separate consent for recipient '%s' (PIPL Art. %s)",
             w->recipient,
             strcmp(json_string_value(json_object_get(w->dest, "role")), "cross_border") == 0
                 ? "39"
                 : "23");
    atomic_fetch_add(&w->stats.blocked, 1);
    lane_pop(w, l);
}

/* Sends every lane head that is due; returns the ms until the next one is, or IDLE_POLL_MS. */
static int64_t send_due(struct cpm_worker *w)
{
    int64_t now = cpm_clock_now_ms(), wait = IDLE_POLL_MS;
    for (unsigned i = 0; i < w->lane_count; i++) {
        struct lane *l = &w->lanes[i];
        while (l->head != NULL && !l->in_flight) {
            if (l->next_ms > now) {
                wait = l->next_ms - now < wait ? l->next_ms - now : wait;
                break;
            }
            bool failed;
            if (!may_send(w, l->head, &failed)) {
                if (failed) { /* the store did not answer: ask again shortly */
                    l->next_ms = now + 1000;
                    continue;
                }
                block(w, l);
                continue;
            }
            struct item *it = l->head;
            struct cpm_outbound_event e = {
                .seq = it->seq,
                .id = it->id,
                .type = it->type,
                .subject_id = it->subject_id,
                .purpose = it->purpose,
                .time_ms = it->time_ms,
                .body = it->body,
                .body_len = it->body_len,
                .rule = it->rule,
                .action = json_string_value(json_object_get(it->rule, "action"))};
            if (w->ops->send(w->sink, i, &e) != CPM_OK) {
                l->next_ms = now + 1000;
                continue;
            }
            l->in_flight = true;
            l->sent_ns = cpm_clock_monotonic_ns();
        }
    }
    return wait;
}

/* Exponential backoff with jitter (half to all of the step), or what the receiver asked. */
static int64_t retry_delay_ms(const struct cpm_worker *w, int attempts, int64_t retry_after_ms)
{
    if (retry_after_ms > 0)
        return retry_after_ms < RETRY_AFTER_MAX ? retry_after_ms : RETRY_AFTER_MAX;
    int64_t step = w->options.retry_base_ms;
    for (int i = 1; i < attempts && step < w->options.retry_max_ms; i++)
        step *= 2;
    step = step < w->options.retry_max_ms ? step : w->options.retry_max_ms;
    return step / 2 + (int64_t)randombytes_uniform((uint32_t)(step / 2 + 1));
}

static void count_ack(struct cpm_worker *w, int64_t lag_ms)
{
    size_t b = 0;
    while (b < CPM_SYNC_ACK_BUCKETS && lag_ms > cpm__sync_ack_bucket_ms[b])
        b++;
    atomic_fetch_add(&w->stats.ack_buckets[b], 1);
    atomic_fetch_add(&w->stats.ack_sum_ms, (uint64_t)(lag_ms > 0 ? lag_ms : 0));
    atomic_fetch_add(&w->stats.delivered, 1);
}

static void on_done(void *ctx, unsigned lane, const struct cpm_sink_result *r)
{
    struct cpm_worker *w = ctx;
    struct lane *l = &w->lanes[lane];
    CPM_ASSERT(lane < w->lane_count && l->in_flight && l->head != NULL);
    l->in_flight = false;
    int attempt = l->attempts + 1;
    bool give_up = r->outcome == CPM_SINK_REJECTED ||
                   (r->outcome == CPM_SINK_RETRY && attempt >= w->max_attempts);
    const char *outcome = r->outcome == CPM_SINK_DELIVERED ? "delivered"
                          : give_up                        ? "dead"
                                                           : "failed";
    struct cpm_delivery *d = row_add(w, l->head, outcome);
    if (d != NULL) {
        d->attempt = attempt;
        d->status = r->status;
        d->latency_ms = (cpm_clock_monotonic_ns() - l->sent_ns) / 1000000;
        static const char gone[] = " (gone: the destination is disabled)";
        cpm_sync_text_clean(r->detail, d->detail, sizeof(d->detail) - sizeof(gone));
        if (r->outcome == CPM_SINK_GONE)
            memcpy(d->detail + strlen(d->detail), gone, sizeof(gone));
    }
    if (r->outcome == CPM_SINK_DELIVERED) {
        count_ack(w, d ? d->lag_ms : 0);
        lane_pop(w, l);
    } else if (give_up) {
        atomic_fetch_add(&w->stats.dead, 1);
        lane_pop(w, l);
    } else {
        atomic_fetch_add(&w->stats.failed, 1);
        l->attempts = attempt;
        l->next_ms = cpm_clock_now_ms() + retry_delay_ms(w, attempt, r->retry_after_ms);
        w->gone |= r->outcome == CPM_SINK_GONE;
    }
    atomic_store(&w->stats.queued, w->queued);
}

/*
 * HTTP 410: the receiver says it is gone for good; stop until an operator
 * enables it again. The change is a configuration change like any other:
 * a ledger event, made by "system:dispatcher".
 */
static void disable(struct cpm_worker *w)
{
    json_t *doc = json_deep_copy(w->dest);
    struct cpm_detail detail;
    struct cpm_doc stored = {0};
    cpm_detail_init(&detail);
    cpm_err err = doc ? CPM_OK : CPM_ERR_NOMEM;
    if (err == CPM_OK) {
        json_object_set_new(doc, "enabled", json_false());
        err = cpm_config_secrets_seal(CPM_DOC_DESTINATION, doc,
                                      w->options.keyring); /* opened for use */
    }
    if (err == CPM_OK)
        err = cpm_config_update(w->store, CPM_DOC_DESTINATION, doc, w->revision, &detail);
    if (err == CPM_OK)
        err = w->store->ops->doc_get(w->store, CPM_DOC_DESTINATION, w->id, &stored);
    if (err == CPM_OK && w->options.writer != NULL)
        cpm_config_event(w->options.writer, "config.updated", CPM_DOC_DESTINATION, w->id,
                         stored.revision, stored.body, "system:dispatcher", NULL);
    cpm_doc_release(&stored);
    json_decref(doc);
    cpm_log_warn(MODULE, "destination '%s' answered 410 Gone: %s", w->id,
                 err == CPM_OK ? "disabled" : "could not be disabled (changed meanwhile)");
}

/* ---- the loop ------------------------------------------------------------- */

static void drop_queues(struct cpm_worker *w)
{
    for (unsigned i = 0; w->lanes != NULL && i < w->lane_count; i++) {
        while (w->lanes[i].head != NULL)
            lane_pop(w, &w->lanes[i]);
        w->lanes[i].overflow_seq = 0;
    }
}

/* Waits for the sends in flight, then starts again from from_seq (never skipping ahead). */
static void replay(struct cpm_worker *w, int64_t from_seq)
{
    for (;;) {
        bool busy = false;
        for (unsigned i = 0; i < w->lane_count; i++)
            busy |= w->lanes[i].in_flight;
        if (!busy)
            break;
        w->ops->poll(w->sink, 100, on_done, w);
    }
    flush(w);
    drop_queues(w);
    for (unsigned i = 0; i < w->lane_count; i++)
        w->cursors[i] = from_seq - 1 < w->cursors[i] ? from_seq - 1 : w->cursors[i];
    w->read_seq = lowest_cursor(w);
    if (record_all_cursors(w) != CPM_OK)
        cpm_log_error(MODULE, "destination '%s': recording the replay failed", w->id);
    cpm_log_info(MODULE, "destination '%s': replaying from seq %lld", w->id, (long long)from_seq);
}

/*
 * The stored cursors; a new destination starts at its from_seq. Stored
 * under another lane count (a new version changed the kind's), subjects
 * map to other lanes: every lane restarts from the lowest cursor, so
 * nothing is skipped (some events may be sent again, under their ids).
 */
static cpm_err load_cursors(struct cpm_worker *w)
{
    unsigned stored = 0;
    cpm_err err =
        w->store->ops->delivery_cursors_get(w->store, w->id, w->cursors, w->lane_count, &stored);
    if (err == CPM_ERR_NOT_FOUND) {
        json_int_t from = json_integer_value(json_object_get(w->dest, "from_seq"));
        for (unsigned i = 0; i < w->lane_count; i++)
            w->cursors[i] = from > 0 ? from - 1 : 0;
    }
    if (err == CPM_OK && stored != w->lane_count) {
        int64_t *all = cpm_calloc(stored, sizeof(*all));
        err = all ? w->store->ops->delivery_cursors_get(w->store, w->id, all, stored, &stored)
                  : CPM_ERR_NOMEM;
        int64_t low = err == CPM_OK ? all[0] : 0;
        for (unsigned i = 1; err == CPM_OK && i < stored; i++)
            low = all[i] < low ? all[i] : low;
        for (unsigned i = 0; i < w->lane_count; i++)
            w->cursors[i] = low;
        cpm_free(all);
        if (err == CPM_OK)
            err = w->store->ops->delivery_cursors_delete(w->store, w->id);
        cpm_log_warn(MODULE, "destination '%s': %u lanes stored, %u now: restarting from seq %lld",
                     w->id, stored, w->lane_count, (long long)low);
        err = err == CPM_OK ? CPM_ERR_NOT_FOUND : err;
    }
    if (err == CPM_ERR_NOT_FOUND)
        err = record_all_cursors(w);
    w->read_seq = lowest_cursor(w);
    atomic_store(&w->stats.cursor_seq, w->read_seq);
    return err;
}

static void *run(void *arg)
{
    struct cpm_worker *w = arg;
    while (!atomic_load(&w->stopping) && !w->gone) {
        int64_t from = atomic_exchange(&w->replay_from, 0);
        if (from > 0)
            replay(w, from);
        refill(w);
        bool more = fill(w);
        int64_t wait = send_due(w);
        int64_t since_flush = cpm_clock_now_ms() - w->flushed_ms;
        if (w->row_count > 0 && FLUSH_MS - since_flush < wait)
            wait = FLUSH_MS - since_flush > 0 ? FLUSH_MS - since_flush : 0;
        w->ops->poll(w->sink, more ? 0 : (int)wait, on_done, w);
        if (w->row_count >= FLUSH_ROWS || cpm_clock_now_ms() - w->flushed_ms >= FLUSH_MS)
            flush(w);
    }
    flush(w);
    if (w->gone)
        disable(w);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

/* Every channel document's purposes, by channel id: what `channels` conditions mean. */
static cpm_err load_channels(struct cpm_worker *w)
{
    json_t *all = NULL;
    size_t i;
    json_t *doc;
    cpm_err err = cpm_config_all(w->store, CPM_DOC_CHANNEL, &all);
    w->channels = json_object();
    if (err == CPM_OK && w->channels == NULL)
        err = CPM_ERR_NOMEM;
    json_array_foreach(all, i, doc) if (err == CPM_OK)
        json_object_set(w->channels, json_string_value(json_object_get(doc, "id")),
                        json_object_get(doc, "purposes"));
    json_decref(all);
    return err;
}

/* A subject's identifier for connectors: opened with its data key, never stored elsewhere. */
static cpm_err identifier(void *ctx, const char *subject_id, const char *type, char *out,
                          size_t cap)
{
    struct cpm_worker *w = ctx;
    return cpm_subject_identifier_open(w->store, w->options.keyring, subject_id, type, out, cap);
}

static void worker_free(struct cpm_worker *w)
{
    if (w == NULL)
        return;
    if (w->ops != NULL)
        w->ops->close(w->sink);
    drop_queues(w);
    json_decref(w->dest);
    json_decref(w->channels);
    cpm_free(w->rows);
    cpm_free(w->lanes);
    cpm_free(w->cursors);
    cpm_free(w->changed);
    cpm_free(w);
}

static cpm_err worker_init(struct cpm_worker *w, const json_t *dest, struct cpm_detail *detail)
{
    const char *role = json_string_value(json_object_get(dest, "role"));
    const char *recipient = json_string_value(json_object_get(dest, "recipient"));
    w->dest = json_deep_copy(dest);
    w->ops = cpm_sink_find(json_string_value(json_object_get(dest, "kind")));
    if (w->dest == NULL)
        return CPM_ERR_NOMEM;
    if (w->options.keyring == NULL ||
        cpm_config_secrets_open(CPM_DOC_DESTINATION, w->dest, w->options.keyring) != CPM_OK) {
        cpm_detail_add(detail, "secret", "the stored secret cannot be opened");
        w->ops = NULL;
        return CPM_ERR_CRYPTO;
    }
    if (w->ops == NULL)
        return CPM_ERR_VALIDATION;
    cpm_strlcpy(w->id, json_string_value(json_object_get(dest, "id")), sizeof(w->id));
    cpm_strlcpy(w->recipient, recipient ? recipient : "", sizeof(w->recipient));
    w->processor = role == NULL || strcmp(role, "processor") == 0;
    w->max_attempts = (int)json_integer_value(json_object_get(dest, "max_attempts"));
    w->max_attempts = w->max_attempts > 0 ? w->max_attempts : 1;
    json_int_t timeout = json_integer_value(json_object_get(dest, "timeout_ms"));
    w->lane_count = w->ops->lanes ? w->ops->lanes : CPM_SINK_LANES_DEFAULT;
    w->lane_max = 2 * QUEUED_MAX / w->lane_count > 4 ? 2 * QUEUED_MAX / w->lane_count : 4;
    CPM_ASSERT(w->lane_count <= CPM_DELIVERY_LANES_MAX);
    w->lanes = cpm_calloc(w->lane_count, sizeof(*w->lanes));
    w->cursors = cpm_calloc(w->lane_count, sizeof(*w->cursors));
    w->changed = cpm_calloc(w->lane_count, sizeof(*w->changed));
    if (w->lanes == NULL || w->cursors == NULL || w->changed == NULL) {
        w->ops = NULL;
        return CPM_ERR_NOMEM;
    }
    struct cpm_sink_env env = {.guard = w->options.guard,
                               .lanes = w->lane_count,
                               .timeout_ms = timeout > 0 ? timeout : 10000,
                               .identifier = identifier,
                               .identifier_ctx = w};
    w->connector = json_object_get(dest, "rules") != NULL;
    cpm_err err = load_channels(w);
    if (err == CPM_OK)
        err = w->ops->open(w->dest, &env, &w->sink, detail);
    if (err != CPM_OK)
        w->ops = NULL; /* nothing to close */
    return err == CPM_OK ? load_cursors(w) : err;
}

cpm_err cpm__worker_start(struct cpm_store *store, const struct cpm_dispatcher_options *options,
                          const json_t *dest, int64_t revision, struct cpm_worker **out)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct cpm_worker *w = cpm_calloc(1, sizeof(*w));
    if (w == NULL)
        return CPM_ERR_NOMEM;
    w->store = store;
    w->options = *options;
    cpm_strlcpy(w->source, options->source, sizeof(w->source));
    w->options.source = w->source;
    w->revision = revision;
    w->flushed_ms = cpm_clock_now_ms();
    cpm_err err = worker_init(w, dest, &detail);
    if (err == CPM_OK && pthread_create(&w->thread, NULL, run, w) != 0)
        err = CPM_ERR_INTERNAL;
    if (err != CPM_OK) {
        cpm_log_error(MODULE, "destination '%s' not started: %s%s%s", w->id, cpm_err_message(err),
                      detail.count ? ": " : "", detail.count ? detail.faults[0].message : "");
        worker_free(w);
        return err;
    }
    cpm_log_info(MODULE, "destination '%s' (%s) started at seq %lld", w->id, w->ops->kind,
                 (long long)w->read_seq);
    *out = w;
    return CPM_OK;
}

const char *cpm__worker_id(const struct cpm_worker *w)
{
    return w->id;
}

int64_t cpm__worker_revision(const struct cpm_worker *w)
{
    return w->revision;
}

const struct cpm_worker_stats *cpm__worker_stats(const struct cpm_worker *w)
{
    return &w->stats;
}

void cpm__worker_wake(struct cpm_worker *w)
{
    w->ops->wake(w->sink);
}

void cpm__worker_replay(struct cpm_worker *w, int64_t from_seq)
{
    CPM_ASSERT(from_seq > 0);
    atomic_store(&w->replay_from, from_seq);
    cpm__worker_wake(w);
}

void cpm__worker_stop(struct cpm_worker *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->stopping, true);
    cpm__worker_wake(w);
    pthread_join(w->thread, NULL);
    worker_free(w);
}
