/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evidence_pack.h — builds an evidence pack for a regulator or an auditor
 * (docs/EVIDENCE-PACKS.md): one ustar archive with a subject's events, or
 * every event of a time range, each with its inclusion proof against one
 * signed checkpoint; the checkpoint and the ledger key; every notice
 * version text the events refer to; the delivery log rows of those events;
 * a bilingual summary.html; and manifest.json with the SHA-256 of each
 * file. `cpm verify PACK` checks it offline.
 *
 * Both `GET /v1/evidence-packs` (src/api/evidence_packs.c) and
 * `cpm evidence-pack` (src/cli/evidence_pack.c) build packs here.
 *
 * Memory is bounded whatever the pack's size: events, delivery rows and
 * notice texts are streamed into the archive; what stays in memory is the
 * events' seqs (8 bytes each, at most events_max) and the summary's capped
 * lists. A time range reads the ledger and the delivery log by windows of
 * their primary keys (no index on time), each window a short read.
 *
 * Thread safety: one build per call; the store may be shared.
 */
#ifndef CPM_STORE_EVIDENCE_PACK_H
#define CPM_STORE_EVIDENCE_PACK_H

#include "core/common.h"
#include "core/detail.h"
#include "ledger/merkle.h"
#include "store/store.h"

/* What the pack covers. */
struct cpm_evidence_pack_query {
    const char *subject_id; /* a subject's events; NULL: every event of the range */
    bool ranged; /* only events recorded in [from_ms, to_ms) (required without subject) */
    int64_t from_ms, to_ms;
    int64_t prior_size; /* 0, or the size of an earlier signed checkpoint: a consistency proof */
    int64_t events_max; /* more events than this: CPM_ERR_VALIDATION */
};

/* Where the pack's contents come from. All borrowed. */
struct cpm_evidence_pack_source {
    struct cpm_store *store;
    cpm_merkle_node_fn nodes; /* the tree's complete subtrees, for proofs */
    void *nodes_ctx;
    const char *vkey;      /* the ledger's verifier key (GET /v1/ledger/key) */
    const char *generator; /* who builds it, for the manifest: "cpmd", "cpm evidence-pack" */
};

struct cpm_evidence_pack_result {
    uint64_t tree_size; /* the checkpoint the pack is anchored to */
    int64_t events;     /* in the pack */
    int64_t pending;    /* matching, but newer than the checkpoint: left out */
    int64_t deliveries; /* delivery log rows */
    int64_t notices;    /* notice versions */
};

/*
 * Writes the pack to out (borrowed, empty, seekable), anchored to the
 * latest signed checkpoint. Errors: CPM_ERR_NOT_FOUND (no such subject, or
 * no checkpoint yet) and CPM_ERR_VALIDATION (over a limit, no checkpoint of
 * prior_size) with a fault naming the query field (`subject`, `to`,
 * `prior_size`); CPM_ERR_STORE, CPM_ERR_IO, CPM_ERR_NOMEM. On any error
 * what was written to out is incomplete: discard it.
 */
cpm_err cpm_evidence_pack_write(const struct cpm_evidence_pack_source *src,
                                const struct cpm_evidence_pack_query *query, FILE *out,
                                struct cpm_evidence_pack_result *result,
                                struct cpm_detail *detail) CPM_MUST_CHECK;

#endif /* CPM_STORE_EVIDENCE_PACK_H */
