/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_check.h — the start-up integrity check (the tamper alarm).
 *
 * Before cpmd accepts writes it checks the stored ledger against the last
 * signed checkpoint: the signature verifies with this installation's key,
 * the stored tree hashes give the signed root at the signed size, the tree
 * has not shrunk, and the most recent events still hash to their stored
 * leaves. It costs O(log n) tree reads plus a bounded tail of events, so it
 * fits in the cold-start budget; `cpm verify --store` is the full check.
 */
#ifndef CPM_STORE_LEDGER_CHECK_H
#define CPM_STORE_LEDGER_CHECK_H

#include "store/store.h"

#define CPM_LEDGER_CHECK_TAIL_EVENTS 1000 /* recent events re-hashed at start */

/*
 * CPM_OK when the ledger is intact (or empty and never signed);
 * CPM_ERR_TAMPERED with a fault saying what does not match; CPM_ERR_STORE.
 */
cpm_err cpm_ledger_check(struct cpm_store *store, const char *vkey,
                         struct cpm_detail *detail) CPM_MUST_CHECK;

#endif /* CPM_STORE_LEDGER_CHECK_H */
