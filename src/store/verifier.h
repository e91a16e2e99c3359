/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verifier.h — the full ledger check (ledger_verify.h) run by cpmd in the
 * background, one run at a time, on a read-only connection of its own, so
 * an operator can ask for it ("verify now" in the console,
 * POST /v1/ledger/verifications) and watch its progress while cpmd goes
 * on serving and writing. The latest run's outcome is kept in memory
 * until the next run or a restart.
 */
#ifndef CPM_STORE_VERIFIER_H
#define CPM_STORE_VERIFIER_H

#include "store/ledger_verify.h"

enum cpm_verify_state {
    CPM_VERIFY_NONE, /* no run since cpmd started */
    CPM_VERIFY_RUNNING,
    CPM_VERIFY_PASSED, /* every event, node and checkpoint matched */
    CPM_VERIFY_FAILED, /* result.problem says what does not match */
    CPM_VERIFY_ERROR,  /* the check could not run to its end: err says why */
};

struct cpm_verify_status {
    enum cpm_verify_state state;
    uint64_t run;                      /* runs since cpmd started, this one included */
    char key_id[CPM_API_KEY_ID_BYTES]; /* the API key that asked for it */
    int64_t started_ms, finished_ms;   /* finished_ms 0 while running */
    uint64_t checked, total;           /* events checked; the ledger's size when it began */
    cpm_err err;                       /* CPM_VERIFY_ERROR's cause */
    struct cpm_ledger_verify_result result;
};

struct cpm_verifier;

/* A verifier of the store in data_dir against vkey (both borrowed, outliving it). */
cpm_err cpm_verifier_new(const char *data_dir, const char *vkey,
                         struct cpm_verifier **out) CPM_MUST_CHECK;
/*
 * Starts a run asked for by key_id and fills *status with it: CPM_OK;
 * CPM_ERR_CONFLICT when a run is going on already (*status is that run);
 * CPM_ERR_INTERNAL when no thread could be started.
 */
cpm_err cpm_verifier_start(struct cpm_verifier *v, const char *key_id,
                           struct cpm_verify_status *status) CPM_MUST_CHECK;
/* The current or latest run. */
void cpm_verifier_status(struct cpm_verifier *v, struct cpm_verify_status *out);
/* Stops a run going on (it ends as an error: cpmd stopping), waits for it, frees v. */
void cpm_verifier_free(struct cpm_verifier *v);

#endif /* CPM_STORE_VERIFIER_H */
