/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verifier.c — a background run of the full ledger check (verifier.h):
 * one thread per run, the status behind a mutex, progress after every page
 * of events, and a stop flag checked there too.
 */
#include "core/common.h"

#include <pthread.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/verifier.h"

struct cpm_verifier {
    const char *data_dir;
    const char *vkey;
    pthread_mutex_t lock; /* guards status, stopping and joinable */
    struct cpm_verify_status status;
    bool stopping;
    bool joinable; /* a thread has been started and not joined */
    pthread_t thread;
};

static bool progress(void *ctx, uint64_t checked, uint64_t total)
{
    struct cpm_verifier *v = ctx;
    pthread_mutex_lock(&v->lock);
    v->status.checked = checked;
    v->status.total = total > checked ? total : checked;
    bool go_on = !v->stopping;
    pthread_mutex_unlock(&v->lock);
    return go_on;
}

static void log_outcome(const struct cpm_verify_status *s)
{
    char fields[160];
    snprintf(fields, sizeof(fields), "run=%llu key=%s events=%llu checkpoints=%llu ms=%lld",
             (unsigned long long)s->run, s->key_id, (unsigned long long)s->result.events,
             (unsigned long long)s->result.checkpoints,
             (long long)(s->finished_ms - s->started_ms));
    if (s->state == CPM_VERIFY_PASSED)
        cpm_log(CPM_LOG_INFO, "ledger", NULL, fields, "full verification passed");
    else if (s->state == CPM_VERIFY_FAILED)
        cpm_log(CPM_LOG_ERROR, "ledger", NULL, fields, "full verification FAILED: seq %lld: %s",
                (long long)s->result.problem_seq, s->result.problem);
    else
        cpm_log(CPM_LOG_WARN, "ledger", NULL, fields, "full verification did not finish: %s",
                cpm_err_message(s->err));
}

static void *run(void *arg)
{
    struct cpm_verifier *v = arg;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct cpm_store *store = NULL;
    struct cpm_ledger_verify_result result;
    memset(&result, 0, sizeof(result));
    cpm_err err = cpm_store_open_readonly(v->data_dir, false, &store, &detail);
    if (err == CPM_OK)
        err = cpm_ledger_verify(store, v->vkey, progress, v, &result);
    cpm_store_close(store);
    pthread_mutex_lock(&v->lock);
    struct cpm_verify_status *s = &v->status;
    s->result = result;
    s->checked = result.events;
    s->err = err;
    s->state = err == CPM_OK             ? CPM_VERIFY_PASSED
               : err == CPM_ERR_TAMPERED ? CPM_VERIFY_FAILED
                                         : CPM_VERIFY_ERROR;
    s->finished_ms = cpm_clock_now_ms();
    struct cpm_verify_status done = *s;
    pthread_mutex_unlock(&v->lock);
    log_outcome(&done);
    return NULL;
}

cpm_err cpm_verifier_new(const char *data_dir, const char *vkey, struct cpm_verifier **out)
{
    struct cpm_verifier *v = cpm_calloc(1, sizeof(*v));
    if (v == NULL)
        return CPM_ERR_NOMEM;
    v->data_dir = data_dir;
    v->vkey = vkey;
    pthread_mutex_init(&v->lock, NULL);
    *out = v;
    return CPM_OK;
}

cpm_err cpm_verifier_start(struct cpm_verifier *v, const char *key_id,
                           struct cpm_verify_status *status)
{
    pthread_mutex_lock(&v->lock);
    cpm_err err = CPM_OK;
    if (v->status.state == CPM_VERIFY_RUNNING || v->stopping) {
        err = CPM_ERR_CONFLICT;
    } else {
        if (v->joinable) /* the previous run has ended: its thread returns at once */
            pthread_join(v->thread, NULL);
        v->joinable = false;
        uint64_t run_no = v->status.run + 1;
        memset(&v->status, 0, sizeof(v->status));
        v->status.run = run_no;
        v->status.state = CPM_VERIFY_RUNNING;
        v->status.started_ms = cpm_clock_now_ms();
        cpm_strlcpy(v->status.key_id, key_id, sizeof(v->status.key_id));
        if (pthread_create(&v->thread, NULL, run, v) == 0) {
            v->joinable = true;
        } else {
            v->status.state = CPM_VERIFY_ERROR;
            v->status.err = err = CPM_ERR_INTERNAL;
            v->status.finished_ms = v->status.started_ms;
        }
    }
    *status = v->status;
    pthread_mutex_unlock(&v->lock);
    return err;
}

void cpm_verifier_status(struct cpm_verifier *v, struct cpm_verify_status *out)
{
    pthread_mutex_lock(&v->lock);
    *out = v->status;
    pthread_mutex_unlock(&v->lock);
}

void cpm_verifier_free(struct cpm_verifier *v)
{
    if (v == NULL)
        return;
    pthread_mutex_lock(&v->lock);
    v->stopping = true;
    bool joinable = v->joinable;
    pthread_mutex_unlock(&v->lock);
    if (joinable)
        pthread_join(v->thread, NULL);
    pthread_mutex_destroy(&v->lock);
    cpm_free(v);
}
