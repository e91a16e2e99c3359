/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_verify.h — the full ledger check: every stored event re-hashed,
 * the whole tree re-derived and compared node by node with the stored
 * one, and every signed checkpoint's root compared with the tree at its
 * size. O(n) reads: `cpm verify --store` and the console's "verify now"
 * (api/ledger_verify.c) run it; cpmd's start-up check (ledger_check.h) is
 * the O(log n) one.
 */
#ifndef CPM_STORE_LEDGER_VERIFY_H
#define CPM_STORE_LEDGER_VERIFY_H

#include "store/store.h"

#define CPM_LEDGER_PROBLEM_BYTES 200

/*
 * Called after every page of events with the events checked so far and
 * the ledger's size when the check began; returning false stops the check
 * (cpm_ledger_verify then returns CPM_ERR_UNAVAILABLE: cpmd is stopping).
 */
typedef bool (*cpm_ledger_progress_fn)(void *ctx, uint64_t checked, uint64_t total);

struct cpm_ledger_verify_result {
    uint64_t events;      /* events checked */
    uint64_t checkpoints; /* signed checkpoints compared */
    uint64_t latest;      /* the size the latest of them signed */
    int64_t problem_seq;  /* the first event found wrong (0: none, or not an event's) */
    char problem[CPM_LEDGER_PROBLEM_BYTES]; /* what is wrong; "" when intact */
};

/*
 * Checks store's ledger against vkey (the installation's verifier key).
 * CPM_OK: intact. CPM_ERR_TAMPERED: out->problem (and problem_seq) say
 * what does not match. CPM_ERR_UNAVAILABLE: progress said stop.
 * CPM_ERR_STORE: the store could not be read.
 */
cpm_err cpm_ledger_verify(struct cpm_store *store, const char *vkey,
                          cpm_ledger_progress_fn progress, void *ctx,
                          struct cpm_ledger_verify_result *out) CPM_MUST_CHECK;

#endif /* CPM_STORE_LEDGER_VERIFY_H */
