/* SPDX-License-Identifier: Apache-2.0 */
/*
 * index.h — every subject's consent state, preferences and recent sends in
 * memory, compact, for decisions at memory speed.
 *
 * One writer (the store's writer thread) applies each committed batch in
 * commit order; any number of readers look subjects up without ever taking
 * a lock: an entry is copied under its shard's sequence counter (a seqlock:
 * a reader retries when the writer was changing that shard) and the
 * out-of-line parts (windows, caps, sends, expiries, recipients, purposes
 * and topics past the inline ones) are immutable, replaced whole and freed
 * through epoch reclamation (core/epoch.h).
 *
 * An entry is 56 bytes: a 128-bit keyed hash of the subject id (SipHash,
 * a random key per process: collisions are not a practical concern), a
 * 40-bit base seq, 8 purposes × 32 bits (status, by-guardian, seq - base),
 * age, flags, 7 channel bits and 8 topic bits. Entries live in chunks
 * per shard and are found through a table of 32-bit slots.
 * docs/DECISIONS.md has the layout, docs/BENCHMARKS.md the figures.
 *
 * Purposes, topics and recipients are known by slot numbers the index
 * hands out (cpm_index_slot); slots are never reused while it lives.
 */
#ifndef CPM_INDEX_INDEX_H
#define CPM_INDEX_INDEX_H

#include "core/common.h"
#include "domain/decide.h"
#include "domain/preferences.h"
#include "store/store.h"

#define CPM_INDEX_PURPOSES_INLINE 8
#define CPM_INDEX_TOPICS_INLINE   8
#define CPM_INDEX_SLOTS_MAX       4096 /* purposes, topics and recipients, each */
#define CPM_INDEX_SENDS_MERGE_MAX 1024 /* sends a decide-and-reserve counts at most */
#define CPM_INDEX_SENDS_KEPT_MS   (31LL * 24 * 3600 * 1000) /* > the longest cap period */

struct cpm_index;

enum cpm_index_slot_kind { CPM_SLOT_PURPOSE, CPM_SLOT_TOPIC, CPM_SLOT_RECIPIENT };

cpm_err cpm_index_new(struct cpm_index **out) CPM_MUST_CHECK;
/* No reader or writer may use ix any more. NULL is a no-op. */
void cpm_index_free(struct cpm_index *ix);

/*
 * The slot of name (a purpose, topic or recipient id), handed out on first
 * use when create; -1 when absent (and !create) or the slots are used up.
 * Thread safe (a mutex: resolve names once, not per decision).
 */
int cpm_index_slot(struct cpm_index *ix, enum cpm_index_slot_kind kind, const char *name,
                   bool create);

/* ---- the writer ------------------------------------------------------------- */

/*
 * Applies a committed batch. Preferences come compiled (batch->preferences
 * [i].compiled); anything the index cannot hold for lack of memory marks
 * the index degraded (cpm_index_degraded): it must then be rebuilt.
 */
void cpm_index_apply(struct cpm_index *ix, const struct cpm_write_batch *batch);

/*
 * Rebuilds ix (empty) from the store; progress lines go to the log. Threads
 * read shares of the store side by side, one a core (at most 4), each in a
 * read transaction of its own; when the store was written to as they began
 * (another process), one thread reads it all in one.
 */
cpm_err cpm_index_load(struct cpm_index *ix, struct cpm_store *store) CPM_MUST_CHECK;
/* The same with readers threads reading (1 to 16), whatever the machine. */
cpm_err cpm_index_load_with(struct cpm_index *ix, struct cpm_store *store,
                            unsigned readers) CPM_MUST_CHECK;

/* A store state: an index snapshot reflects at least the one it was saved with. */
struct cpm_index_mark {
    uint64_t ledger_size;
    uint8_t last_leaf[CPM_HASH_BYTES]; /* the Merkle leaf hash at that size; zeros when none */
    int64_t contacts;                  /* the last recorded send (its row number); 0 when none */
    uint64_t contacts_stamp;           /* what that send held (the store's contacts_mark) */
};

/* Reads the store's mark (NOT_FOUND never: an empty store has a mark of zeros). */
cpm_err cpm_index_mark_read(struct cpm_store *store, struct cpm_index_mark *out) CPM_MUST_CHECK;

/*
 * Writes ix to path atomically (a temporary file, fsync, rename), with
 * mark: a store state ix already reflects (read before the writer last
 * applied a batch). The writer may go on meanwhile: the file then also
 * holds some later changes, which cpm_index_catch_up reads again.
 */
cpm_err cpm_index_save(struct cpm_index *ix, const char *path,
                       const struct cpm_index_mark *mark) CPM_MUST_CHECK;

/*
 * Reads path into ix (new, empty) when store continues the history of the
 * mark it was saved with (*mark: that mark), and keeps the file. CPM_OK;
 * NOT_FOUND when there is none; CONFLICT when it is stale or damaged
 * (logged, deleted) — ix is then half filled: free it and load a new one.
 * After CPM_OK, cpm_index_catch_up brings ix up to the store.
 */
cpm_err cpm_index_restore(struct cpm_index *ix, const char *path, struct cpm_store *store,
                          struct cpm_index_mark *mark) CPM_MUST_CHECK;

/*
 * Reads again, from the store, every subject with an event after since or
 * a send recorded after it: ix then answers as a load would. CONFLICT
 * (ix left as it was: load a new one) when that would not be exact or not
 * quicker — an erasure since (it deletes sends, whose row numbers may then
 * be reused), or more than CPM_INDEX_CATCH_UP_MAX subjects to read.
 */
#define CPM_INDEX_CATCH_UP_MAX 1000000
cpm_err cpm_index_catch_up(struct cpm_index *ix, struct cpm_store *store,
                           const struct cpm_index_mark *since) CPM_MUST_CHECK;

/* ---- readers ---------------------------------------------------------------- */

/* What a decision asks of one subject (slots from cpm_index_slot; -1: none). */
struct cpm_index_question {
    const char *subject_id;
    int purpose, recipient, topic;
    enum cpm_channel channel; /* CPM_CHANNEL_NONE when none */
};

/*
 * Fills out with what decide needs. Must be called inside
 * cpm_epoch_enter/exit, and out's pointers (windows, caps, sends, tz) are
 * valid only until that exit.
 */
void cpm_index_view(struct cpm_index *ix, const struct cpm_index_question *q,
                    struct cpm_decide_subject *out);

/*
 * What cpm_index_view_each hands over for ids[i]: the same as
 * cpm_index_view's out, valid only during the call.
 */
typedef void (*cpm_index_visit_fn)(void *ctx, size_t i, const struct cpm_decide_subject *s);

/*
 * Views n subjects in order, calling visit(ctx, i, view of ids[i]) for each
 * (q->subject_id is ignored; ids[i] is lens[i] bytes, NUL or not). Their
 * lookups run as a pipeline, each one's memory fetches overlapping with the
 * work on the next few: several times faster per subject than one by one
 * on an index larger than the caches. Enters and exits epoch sections
 * itself, one per CPM_INDEX_VIEW_BATCH subjects; visit must not.
 */
#define CPM_INDEX_VIEW_BATCH 64
void cpm_index_view_each(struct cpm_index *ix, const struct cpm_index_question *q,
                         const char *const *ids, const size_t *lens, size_t n,
                         cpm_index_visit_fn visit, void *ctx);

/* True once an update could not be applied (out of memory): decisions are not to be trusted. */
bool cpm_index_degraded(struct cpm_index *ix);

/* Subjects held and bytes used (entries, tables and out-of-line parts). */
void cpm_index_stats(struct cpm_index *ix, uint64_t *subjects, uint64_t *bytes);

#endif /* CPM_INDEX_INDEX_H */
