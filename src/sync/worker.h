/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker.h — one destination's delivery thread (internal to src/sync).
 *
 * The dispatcher starts a worker per enabled destination document and
 * stops it when the document changes, is disabled or deleted. A worker
 * reads the ledger from its lanes' cursors, sends through its sink, and
 * records each outcome and the cursors (dispatcher.h says how).
 */
#ifndef CPM_SYNC_WORKER_H
#define CPM_SYNC_WORKER_H

#include <jansson.h>
#include <stdatomic.h>

#include "store/store.h"
#include "sync/dispatcher.h"

#define CPM_SYNC_ACK_BUCKETS 10 /* the acknowledged-after histogram's finite buckets */

/* Figures a worker publishes; read by any thread. */
struct cpm_worker_stats {
    atomic_int_least64_t cursor_seq, read_seq, queued;
    atomic_uint_least64_t delivered, failed, dead, blocked;
    atomic_uint_least64_t ack_buckets[CPM_SYNC_ACK_BUCKETS + 1];
    atomic_uint_least64_t ack_sum_ms;
};

extern const int64_t cpm__sync_ack_bucket_ms[CPM_SYNC_ACK_BUCKETS];

struct cpm_worker;

/* Starts a worker for dest (a validated destination document; copied). */
cpm_err cpm__worker_start(struct cpm_store *store, const struct cpm_dispatcher_options *options,
                          const json_t *dest, int64_t revision,
                          struct cpm_worker **out) CPM_MUST_CHECK;
const char *cpm__worker_id(const struct cpm_worker *w);
int64_t cpm__worker_revision(const struct cpm_worker *w);
const struct cpm_worker_stats *cpm__worker_stats(const struct cpm_worker *w);
/* Wakes the worker: new events, or a request below. */
void cpm__worker_wake(struct cpm_worker *w);
/* Asks the worker to deliver again from from_seq on; it does so on its thread. */
void cpm__worker_replay(struct cpm_worker *w, int64_t from_seq);
/* Stops and frees; NULL is a no-op. */
void cpm__worker_stop(struct cpm_worker *w);

#endif /* CPM_SYNC_WORKER_H */
