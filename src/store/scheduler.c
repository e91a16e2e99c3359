/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scheduler.c — expiry and re-consent: events the system records on a
 * person's consent by itself, through the same single writer as every
 * other event.
 */
#include "core/common.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "crypto/random_id.h"
#include "domain/consent.h"
#include "store/scheduler.h"
#include "core/ticker.h"

/* Up to CPM_SCHEDULER_BATCH system events and the states they set. */
struct sweep {
    const struct cpm_keyring *keyring;
    const char *type;   /* consent.expired, consent.reconsent_required */
    const char *status; /* expired, reconsent_required; NULL: a reminder, status kept */
    const char *notice; /* the changed notice, or NULL */
    int64_t notice_version;
    int64_t now_ms;
    size_t count;
    struct cpm_event events[CPM_SCHEDULER_BATCH];
    struct cpm_consent_state states[CPM_SCHEDULER_BATCH];
    char last_subject[CPM_SUBJECT_ID_BYTES_MAX + 1];
};

static void sweep_clear(struct sweep *w)
{
    for (size_t i = 0; i < w->count; i++)
        cpm_free(w->events[i].leaf);
    w->count = 0;
}

static cpm_err add_state(void *ctx, const struct cpm_consent_state *state)
{
    struct sweep *w = ctx;
    CPM_ASSERT(w->count < CPM_SCHEDULER_BATCH);
    struct cpm_event *e = &w->events[w->count];
    memset(e, 0, sizeof(*e));
    cpm_random_id(e->id, sizeof(e->id), "evt_");
    cpm_strlcpy(e->type, w->type, sizeof(e->type));
    cpm_strlcpy(e->subject_id, state->subject_id, sizeof(e->subject_id));
    cpm_strlcpy(e->purpose, state->purpose, sizeof(e->purpose));
    e->time_ms = w->now_ms;
    char pseudonym[CPM_PSEUDONYM_BYTES];
    cpm_subject_pseudonym(w->keyring, state->subject_id, pseudonym);
    e->leaf = cpm_consent_system_leaf(e->id, w->type, pseudonym, state->purpose, w->now_ms,
                                      state->seq, w->notice, w->notice_version, &e->leaf_len);
    if (e->leaf == NULL)
        return CPM_ERR_NOMEM;
    struct cpm_consent_state *s = &w->states[w->count];
    *s = *state;
    s->remind_ms = 0;
    if (w->status == NULL) {
        s->seq_kept = true; /* a reminder changes nothing but that it was sent */
    } else {
        cpm_strlcpy(s->status, w->status, sizeof(s->status));
        s->decided_ms = w->now_ms;
        s->expires_ms = 0;
        s->seq = (int64_t)w->count + 1; /* this event, within the request */
    }
    cpm_strlcpy(w->last_subject, state->subject_id, sizeof(w->last_subject));
    w->count++;
    return CPM_OK;
}

static cpm_err submit(struct cpm_writer *writer, struct sweep *w)
{
    struct cpm_write_request wr = {
        .events = w->events,
        .event_count = w->count,
        .states = w->states,
        .state_count = w->count,
    };
    return w->count ? cpm_writer_submit(writer, &wr) : CPM_OK;
}

/* Fetches the next batch of states into w through add_state. */
typedef cpm_err (*fetch_fn)(struct cpm_store *store, struct sweep *w, const char *after,
                            const char *purpose);

static cpm_err fetch_due(struct cpm_store *store, struct sweep *w, const char *after,
                         const char *purpose)
{
    CPM_UNUSED(after);
    CPM_UNUSED(purpose);
    return store->ops->consent_state_due(store, w->now_ms, CPM_SCHEDULER_BATCH, add_state, w);
}

static cpm_err fetch_reminders(struct cpm_store *store, struct sweep *w, const char *after,
                               const char *purpose)
{
    CPM_UNUSED(after);
    CPM_UNUSED(purpose);
    return store->ops->consent_state_remind(store, w->now_ms, CPM_SCHEDULER_BATCH, add_state, w);
}

static cpm_err fetch_on_notice(struct cpm_store *store, struct sweep *w, const char *after,
                               const char *purpose)
{
    return store->ops->consent_state_on_notice(store, w->notice, w->notice_version, purpose, after,
                                               CPM_SCHEDULER_BATCH, add_state, w);
}

/*
 * A full batch may end partway through a subject's rows (a purpose given to
 * several recipients is a row each), and the next batch starts after the
 * last subject seen: the rows of the batch's last subject are left for the
 * next one, which then takes them all. A single subject filling a whole
 * batch is taken as it is.
 */
static void keep_whole_subjects(struct sweep *w)
{
    size_t n = w->count;
    const char *last = w->events[n - 1].subject_id;
    while (n > 0 && strcmp(w->events[n - 1].subject_id, last) == 0)
        n--;
    if (n == 0)
        return;
    for (size_t i = n; i < w->count; i++)
        cpm_free(w->events[i].leaf);
    w->count = n;
    cpm_strlcpy(w->last_subject, w->events[n - 1].subject_id, sizeof(w->last_subject));
}

/* Fetches and records batch after batch until one comes back short. */
static cpm_err sweep_all(struct cpm_store *store, struct cpm_writer *writer, struct sweep *w,
                         fetch_fn fetch, const char *purpose, int64_t *count)
{
    cpm_err err = CPM_OK;
    bool full = false;
    *count = 0;
    do {
        char after[CPM_SUBJECT_ID_BYTES_MAX + 1];
        cpm_strlcpy(after, w->last_subject, sizeof(after));
        sweep_clear(w);
        w->now_ms = cpm_clock_now_ms();
        err = fetch(store, w, after, purpose);
        full = err == CPM_OK && w->count == CPM_SCHEDULER_BATCH;
        if (full)
            keep_whole_subjects(w);
        if (err == CPM_OK)
            err = submit(writer, w);
        *count += err == CPM_OK ? (int64_t)w->count : 0;
    } while (err == CPM_OK && full);
    sweep_clear(w);
    return err;
}

static cpm_err run_sweep(struct cpm_store *store, struct cpm_writer *writer,
                         const struct sweep *setup, fetch_fn fetch, const char *purpose,
                         int64_t *count)
{
    struct sweep *w = cpm_malloc(sizeof(*w));
    if (w == NULL)
        return CPM_ERR_NOMEM;
    *w = *setup;
    cpm_err err = sweep_all(store, writer, w, fetch, purpose, count);
    cpm_free(w);
    return err;
}

cpm_err cpm_reconsent_sweep(struct cpm_store *store, struct cpm_writer *writer,
                            const struct cpm_keyring *keyring, const char *notice, int64_t version,
                            const char *purpose, int64_t *count)
{
    static const struct sweep empty;
    struct sweep setup = empty;
    setup.keyring = keyring;
    setup.type = "consent.reconsent_required";
    setup.status = "reconsent_required";
    setup.notice = notice;
    setup.notice_version = version;
    return run_sweep(store, writer, &setup, fetch_on_notice, purpose, count);
}

struct cpm_scheduler {
    struct cpm_store *store;
    struct cpm_writer *writer;
    const struct cpm_keyring *keyring;
    struct cpm_ticker *ticker;
};

/* One kind of due event: expiries or renewal reminders. */
static void sweep_due(struct cpm_scheduler *s, const char *type, const char *status, fetch_fn fetch)
{
    static const struct sweep empty;
    struct sweep setup = empty;
    setup.keyring = s->keyring;
    setup.type = type;
    setup.status = status;
    int64_t count = 0;
    cpm_err err = run_sweep(s->store, s->writer, &setup, fetch, NULL, &count);
    if (count > 0)
        cpm_log_info("scheduler", "%lld %s events recorded", (long long)count, type);
    if (err != CPM_OK && err != CPM_ERR_TAMPERED)
        cpm_log_error("scheduler", "%s failed: %s; retrying", type, cpm_err_message(err));
}

static void tick(void *ctx)
{
    struct cpm_scheduler *s = ctx;
    sweep_due(s, "consent.expiring", NULL, fetch_reminders);
    sweep_due(s, "consent.expired", "expired", fetch_due);
}

cpm_err cpm_scheduler_start(struct cpm_store *store, struct cpm_writer *writer,
                            const struct cpm_keyring *keyring, struct cpm_scheduler **out)
{
    struct cpm_scheduler *s = cpm_calloc(1, sizeof(*s));
    if (s == NULL)
        return CPM_ERR_NOMEM;
    s->store = store;
    s->writer = writer;
    s->keyring = keyring;
    tick(s); /* what expired while cpmd was down, before the first request */
    cpm_err err = cpm_ticker_start(CPM_SCHEDULER_INTERVAL_MS, tick, s, &s->ticker);
    if (err != CPM_OK) {
        cpm_free(s);
        return err;
    }
    *out = s;
    return CPM_OK;
}

void cpm_scheduler_stop(struct cpm_scheduler *s)
{
    if (s == NULL)
        return;
    cpm_ticker_stop(s->ticker);
    cpm_free(s);
}
