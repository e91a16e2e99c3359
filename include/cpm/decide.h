/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decide.h — OpenCPM's decision, for embedding in another C program.
 *
 *   struct cpm_decider *d;
 *   cpm_decider_open("/var/lib/opencpm", &d, &detail);   // loads the index
 *   struct cpm_prepared q;
 *   cpm_decider_prepare(d, "marketing.sms", "sms", "coupons", NULL, &q, &detail);
 *   struct cpm_answer a;
 *   cpm_decider_decide(d, &q, "user-42", now_ms, &a);   // a.allowed, a.reasons
 *
 * A prepared question is the purpose, channel, topic and recipient checked
 * against the configuration once (unknown or mismatched names are
 * CPM_ERR_VALIDATION with the field named in detail), so deciding for many
 * subjects costs one index lookup each. A decider opened on a data
 * directory sees the store as it was when opened; cpmd's own decider is
 * kept current by the writer. Rules: docs/DECISIONS.md.
 *
 * Thread safety: prepare and decide from any number of threads.
 */
#ifndef CPM_DECIDE_H
#define CPM_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "cpm/err.h"
#include "cpm/window.h"

struct cpm_detail;
struct cpm_decider;
struct cpm_store;
struct cpm_index;
struct cpm_tz;

#define CPM_PREPARED_WINDOWS_MAX 14

/* A question checked against the configuration (see above); plain data. */
struct cpm_prepared {
    int purpose, topic, recipient, channel; /* slots and enum values; -1: none */
    bool consent_basis, separate, necessary, personalised;
    const struct cpm_tz *channel_tz; /* the zone of the channel's allowed hours */
    uint32_t allowed_count;          /* 0: the channel has no quiet hours */
    struct cpm_window allowed[CPM_PREPARED_WINDOWS_MAX];
};

struct cpm_answer {
    bool allowed;
    uint32_t reasons;        /* a bit per reason: cpm_reason_name(bit index) */
    int64_t deciding_seq;    /* the ledger event the answer rests on; 0 when none */
    int64_t next_allowed_ms; /* when only time blocks: when it stops; else 0 */
};

/* Opens the data directory's store read-only and loads its index. */
cpm_err cpm_decider_open(const char *data_dir, struct cpm_decider **out, struct cpm_detail *detail);

/* A decider over a running store and index (cpmd's). Both borrowed. */
cpm_err cpm_decider_new(struct cpm_store *store, struct cpm_index *index, struct cpm_decider **out);

/* NULL is a no-op. */
void cpm_decider_free(struct cpm_decider *d);

/* Checks purpose (required), channel, topic and recipient (each may be NULL). */
cpm_err cpm_decider_prepare(struct cpm_decider *d, const char *purpose, const char *channel,
                            const char *topic, const char *recipient, struct cpm_prepared *out,
                            struct cpm_detail *detail);

/* Decides for subject_id at at_ms. Never fails: an unknown subject is a deny. */
void cpm_decider_decide(struct cpm_decider *d, const struct cpm_prepared *q, const char *subject_id,
                        int64_t at_ms, struct cpm_answer *out);

/*
 * Decides for n subjects at once (answers in order): the index lookups of
 * a batch overlap, several times faster per subject than one by one on a
 * large index. For audiences and batch callers.
 */
void cpm_decider_decide_many(struct cpm_decider *d, const struct cpm_prepared *q,
                             const char *const *subject_ids, size_t n, int64_t at_ms,
                             struct cpm_answer *out);

/*
 * The same for ids that need not end in a NUL: subject_ids[i] is lens[i]
 * bytes (a line of an upload, read where it lies). Faster still for long
 * runs: the lookups of all n overlap, not only those of 64 at a time, and
 * a run of 256 or more is shared with helper threads (one per core beyond
 * the first, at most 3) that the decider starts on the first such run and
 * cpm_decider_free stops; a helper busy with another caller's run is not
 * waited for. The caller returns once every answer is in out.
 */
void cpm_decider_decide_many_len(struct cpm_decider *d, const struct cpm_prepared *q,
                                 const char *const *subject_ids, const size_t *lens, size_t n,
                                 int64_t at_ms, struct cpm_answer *out);

/*
 * The same as a run in the background, for a caller with other work
 * meanwhile (the rest of an upload to read): cpm_decider_run_start offers
 * the run to the helper threads and returns; cpm_decider_run_finish
 * decides what no helper has taken, waits for the helpers' part, and
 * returns once every answer is in out. q, subject_ids, lens and out stay
 * the caller's and unchanged until then; run is the caller's storage for
 * one run at a time, and every start must be finished.
 */
struct cpm_decider_run {
    void *opaque[32];
};
void cpm_decider_run_start(struct cpm_decider *d, const struct cpm_prepared *q,
                           const char *const *subject_ids, const size_t *lens, size_t n,
                           int64_t at_ms, struct cpm_answer *out, struct cpm_decider_run *run);
void cpm_decider_run_finish(struct cpm_decider_run *run);

/*
 * The same, counting extra_sends (times on q's channel, ascending) as if
 * already recorded: decide-and-reserve within one group commit.
 */
void cpm_decider_decide_with(struct cpm_decider *d, const struct cpm_prepared *q,
                             const char *subject_id, int64_t at_ms, const int64_t *extra_sends,
                             size_t extra_count, struct cpm_answer *out);

/* The stable code of reason bit i ("no_consent", …); NULL past the last. */
const char *cpm_reason_name(unsigned i);

#endif /* CPM_DECIDE_H */
