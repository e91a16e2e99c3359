/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dispatcher.h — every committed event to every destination, in order per
 * subject, at least once, with each attempt logged (docs/SYNC.md).
 *
 * The events table is the outbox. Each enabled destination gets a worker
 * thread with its kind's lanes (32; ad audiences more): an event goes to the lane of its
 * subject (a stable hash), a lane has one event in flight at most, so one
 * subject's events arrive in order and a failing subject holds up only its
 * lane. Each lane's durable cursor (store delivery_cursors) is the seq up
 * to which all its events are done, written with the attempts' log rows in
 * one transaction: a crash re-sends what was not yet recorded, under the
 * same id (webhook-id / Nats-Msg-Id), never loses what was not delivered.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef CPM_SYNC_DISPATCHER_H
#define CPM_SYNC_DISPATCHER_H

#include "core/common.h"
#include "store/store.h"
#include "sync/outbound_guard.h"

struct cpm_dispatcher;
struct cpm_buf;

struct cpm_keyring;
struct cpm_writer;

struct cpm_dispatcher_options {
    const struct cpm_outbound_guard *guard; /* borrowed; outlives the dispatcher */
    const struct cpm_keyring *keyring;      /* opens identifiers and destinations' secrets */
    struct cpm_writer *writer;              /* records the dispatcher's own config changes */
    const char *source;                     /* the CloudEvents source of this ledger */
    int64_t retry_base_ms;                  /* first retry delay; doubles per attempt */
    int64_t retry_max_ms;                   /* the longest delay between attempts */
};

/* Starts the supervisor thread, which starts a worker per enabled destination. */
cpm_err cpm_dispatcher_start(struct cpm_store *store, const struct cpm_dispatcher_options *options,
                             struct cpm_dispatcher **out) CPM_MUST_CHECK;

/* New events were committed: workers read on. Cheap; the writer calls it after each commit. */
void cpm_dispatcher_notify(struct cpm_dispatcher *d);

/* Destinations were created, changed or deleted: the supervisor looks again now. */
void cpm_dispatcher_reload(struct cpm_dispatcher *d);

/*
 * Delivers every event from from_seq on again to the destination (under
 * the same ids). NOT_FOUND when no such destination.
 */
cpm_err cpm_dispatcher_replay(struct cpm_dispatcher *d, const char *destination_id,
                              int64_t from_seq) CPM_MUST_CHECK;

/* Per destination: lag, outcomes, the acknowledged-after histogram, as Prometheus text. */
void cpm_dispatcher_metrics(struct cpm_dispatcher *d, FILE *out);

/*
 * Stops the destination's worker now, if it runs: its final flush is
 * written before this returns, so the caller may then delete its cursors
 * (a deleted destination). The document must be gone first, or the
 * supervisor starts it again.
 */
void cpm_dispatcher_forget(struct cpm_dispatcher *d, const char *destination_id);

/* A destination's live figures, for its API representation; false when it has no worker. */
struct cpm_destination_status {
    int64_t cursor_seq; /* every event up to here is done */
    int64_t read_seq;   /* events read from the ledger up to here */
    int64_t queued;     /* read, not yet done */
    int64_t delivered, failed, dead, blocked;
};
bool cpm_dispatcher_status(struct cpm_dispatcher *d, const char *destination_id,
                           struct cpm_destination_status *out);

/* Stops every worker (in-flight sends are abandoned and re-sent next start); NULL is a no-op. */
void cpm_dispatcher_stop(struct cpm_dispatcher *d);

#endif /* CPM_SYNC_DISPATCHER_H */
