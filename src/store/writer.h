/* SPDX-License-Identifier: Apache-2.0 */
/*
 * writer.h — the single writer: sequences events, hashes them into the
 * Merkle tree, and commits concurrent requests together (group commit).
 *
 * Request threads build their events (leaf data included) and the consent
 * states they set, then hand them to cpm_writer_submit, which returns only
 * once the batch holding them is durable, or failed as a whole. One thread
 * owns the tree's frontier, so sequence numbers and hashes never race.
 *
 * Thread safety: submit from any number of threads; start/stop from one.
 */
#ifndef CPM_STORE_WRITER_H
#define CPM_STORE_WRITER_H

#include "store/store.h"

struct cpm_write_request;

/*
 * Called on the writer thread once the request's events have their seqs,
 * before the commit: fills what depends on them (the idempotency answer).
 */
typedef cpm_err (*cpm_write_finish_fn)(struct cpm_write_request *req);

struct cpm_write_request {
    /* in: borrowed until submit returns */
    const struct cpm_subject *subject; /* new: inserted (CONFLICT if it exists); may be NULL */
    struct cpm_event *events;          /* seq is set by the writer */
    size_t event_count;
    struct cpm_consent_state *states; /* seq: 1-based index into events; the writer maps it */
    size_t state_count;
    struct cpm_idempotency *idempotency; /* may be NULL */
    cpm_write_finish_fn finish;          /* may be NULL */
    /* cpm_writer_submit_async only: called on the writer thread once committed or failed */
    void (*on_done)(struct cpm_write_request *req);
    void *ctx;
    /* in, for subject operations; each may be NULL */
    const struct cpm_subject *guardian_subject;    /* a second new subject (a guardian) */
    const struct cpm_subject_update *update;       /* age status, or erasure */
    const struct cpm_identity *identity;           /* an identifier to link */
    const struct cpm_guardian_link *guardian_link; /* a guardian to link */
    const struct cpm_preferences_row *preferences; /* seq: 1-based index into events */
    const struct cpm_contact *contact;             /* a send to record */
    /* a rights request to file, and one to move on */
    const struct cpm_rights_request *rights_request;
    const struct cpm_rights_update *rights_update;
    /* more new subjects, each inserted like subject (an import's chunk); may be NULL */
    const struct cpm_subject *subjects;
    size_t subject_count;
    /* the events' Merkle leaf hashes, computed by the requester to spare the writer; may be NULL */
    const uint8_t (*leaf_hashes)[CPM_HASH_BYTES];
    /*
     * May be NULL. Called on the writer thread just before the request
     * joins a batch, with the sends already in it (not yet in the index):
     * false leaves the request out (admitted stays false, result CPM_OK).
     * Decide-and-reserve uses it so two callers cannot take one last slot.
     */
    bool (*admit)(struct cpm_write_request *req, const struct cpm_contact *pending,
                  size_t pending_count);
    /* out */
    cpm_err result;
    bool admitted; /* set by the writer: false only when admit said no */
    /* the writer's */
    bool done;
    struct cpm_write_request *next;
};

struct cpm_writer;

struct cpm_node_cache;
struct cpm_index;

/*
 * Loads the tree head from the store and starts the writer thread. After
 * each commit the new upper tree nodes go to nodes and the batch to index,
 * in commit order and before any of its requesters is answered (both
 * borrowed; either may be NULL).
 */
cpm_err cpm_writer_start(struct cpm_store *store, struct cpm_node_cache *nodes,
                         struct cpm_index *index, struct cpm_writer **out) CPM_MUST_CHECK;

/*
 * Queues req and waits until it is committed (CPM_OK) or failed (its error;
 * nothing of it is written). CPM_ERR_UNAVAILABLE once stopping.
 */
cpm_err cpm_writer_submit(struct cpm_writer *w, struct cpm_write_request *req) CPM_MUST_CHECK;

/*
 * Queues req and returns at once; req->on_done(req) runs on the writer
 * thread when it is committed or failed (req->result), and req must live
 * until then. Returns an error (and on_done is never called) when the
 * writer is stopping or refusing writes.
 */
cpm_err cpm_writer_submit_async(struct cpm_writer *w, struct cpm_write_request *req) CPM_MUST_CHECK;

/*
 * After each commit that added events, fn(ctx) runs on the writer thread,
 * under the writer's lock (so it must be quick and must not call the
 * writer: the dispatcher's wake-up). NULL stops it; once this returns, fn
 * is not running and is never called again.
 */
typedef void (*cpm_writer_watch_fn)(void *ctx);
void cpm_writer_watch(struct cpm_writer *w, cpm_writer_watch_fn fn, void *ctx);

/*
 * Waits until every request queued before the call is finished: committed
 * (and so applied to the index) or failed. Writes nothing.
 */
void cpm_writer_barrier(struct cpm_writer *w);

/* The committed tree head: size and root. */
void cpm_writer_head(struct cpm_writer *w, uint64_t *size, uint8_t root[CPM_HASH_BYTES]);

/*
 * From now on every submit fails with CPM_ERR_TAMPERED: the start-up check
 * found the ledger altered. reason (copied) says what; reads go on.
 */
void cpm_writer_refuse(struct cpm_writer *w, const char *reason);
/* Why writes are refused, or NULL while they are accepted. */
const char *cpm_writer_refusal(struct cpm_writer *w);

/* Commits what is queued, stops the thread, frees w. NULL is a no-op. */
void cpm_writer_stop(struct cpm_writer *w);

#endif /* CPM_STORE_WRITER_H */
