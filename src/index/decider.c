/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decider.c — questions checked against the configuration, answered from
 * the index (include/cpm/decide.h).
 *
 * The configuration the checks need (purposes, topics, channels) is kept
 * as a snapshot of their documents, rebuilt when this process changes the
 * configuration or when it is older than CPM_POLICY_CACHE_MS (changes made
 * by another process, `cpm seed`). Replaced snapshots are retired through
 * core/epoch.h, so a prepare never waits for a rebuild by another thread.
 */
#include "core/common.h"

#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/detail.h"
#include "core/epoch.h"
#include "core/fmt.h"
#include "cpm/decide.h"
#include "domain/decide.h"
#include "index/index.h"
#include "store/config_writer.h"
#include "store/store.h"

#define DEFAULT_TIME_ZONE "Asia/Shanghai"

/* Marketing SMS may only go out 08:00–20:00 China time unless a channel document says otherwise. */
static const struct cpm_window sms_default_hours = {
    .days = CPM_WINDOW_DAYS_ALL, .from_min = 8 * 60, .to_min = 20 * 60};

struct snapshot {
    uint64_t serial; /* unique per snapshot built: what a remembered question was checked against */
    uint64_t generation;
    int64_t built_ms;
    json_t *purposes, *topics, *channels; /* arrays of documents */
};

/*
 * Long runs of decisions (cpm_decider_decide_many_len: an audience) are
 * shared with helper threads, one per core beyond the first: a lookup
 * waits mostly for memory, and a core can only wait for so many misses at
 * once. The caller posts the run; it and whichever helpers take it claim
 * blocks of SHARE_BLOCK ids until none is left, so a helper that is late
 * (or never comes) costs nothing but its share of the speed-up.
 */
#define HELPERS_MAX    3
#define SHARE_BLOCK    128               /* ids a thread takes at a time */
#define SHARE_MIN      (2 * SHARE_BLOCK) /* shorter runs are decided by the caller alone */
#define HELPER_SPIN_NS (100 * 1000)      /* a helper waits this long for the next run awake */

struct share; /* a run being decided: in its caller's struct cpm_decider_run */

struct helper {
    struct cpm_decider *d;
    pthread_t thread;
    struct share *_Atomic posted; /* a run for this helper to take; NULL: none */
    atomic_bool sleeping;         /* waiting on the decider's helper_wake */
};

enum { HELPERS_NONE, HELPERS_STARTING, HELPERS_STARTED };

struct cpm_decider {
    struct cpm_store *store;
    struct cpm_index *index;
    bool owned; /* opened by cpm_decider_open: store and index are ours */
    const struct cpm_tz *default_tz;
    struct snapshot *_Atomic snap;
    pthread_mutex_t rebuild_lock;
    /* helpers: started on the first long run, stopped by cpm_decider_free */
    atomic_int helpers_state;
    int helper_count;
    atomic_bool stopping;
    pthread_mutex_t helper_lock;
    pthread_cond_t helper_wake;
    struct helper helpers[HELPERS_MAX];
};

static void snapshot_free(void *p)
{
    struct snapshot *s = p;
    if (s == NULL)
        return;
    json_decref(s->purposes);
    json_decref(s->topics);
    json_decref(s->channels);
    cpm_free(s);
}

static cpm_err snapshot_build(struct cpm_store *store, struct snapshot **out)
{
    struct snapshot *s = cpm_calloc(1, sizeof(*s));
    if (s == NULL)
        return CPM_ERR_NOMEM;
    static atomic_uint_least64_t serials;
    s->serial = atomic_fetch_add(&serials, 1) + 1;
    s->generation = cpm_config_generation();
    s->built_ms = cpm_clock_coarse_ms();
    cpm_err err = cpm_config_all(store, CPM_DOC_PURPOSE, &s->purposes);
    if (err == CPM_OK)
        err = cpm_config_all(store, CPM_DOC_TOPIC, &s->topics);
    if (err == CPM_OK)
        err = cpm_config_all(store, CPM_DOC_CHANNEL, &s->channels);
    if (err != CPM_OK) {
        snapshot_free(s);
        return err;
    }
    *out = s;
    return CPM_OK;
}

static bool stale(const struct snapshot *s)
{
    return s == NULL || s->generation != cpm_config_generation() ||
           cpm_clock_coarse_ms() - s->built_ms >= CPM_POLICY_CACHE_MS;
}

/* The current snapshot (inside an epoch section); NULL when it cannot be built. */
static const struct snapshot *current(struct cpm_decider *d, cpm_err *err)
{
    struct snapshot *s = atomic_load(&d->snap);
    *err = CPM_OK;
    if (!stale(s))
        return s;
    if (pthread_mutex_trylock(&d->rebuild_lock) != 0) {
        if (s != NULL)
            return s; /* another thread rebuilds it: this answer is at most a second old */
        pthread_mutex_lock(&d->rebuild_lock);
    }
    struct snapshot *fresh = atomic_load(&d->snap);
    if (stale(fresh)) {
        *err = snapshot_build(d->store, &fresh);
        if (*err == CPM_OK)
            cpm_epoch_retire(atomic_exchange(&d->snap, fresh), snapshot_free);
    }
    pthread_mutex_unlock(&d->rebuild_lock);
    return atomic_load(&d->snap);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static cpm_err decider_init(struct cpm_decider *d, struct cpm_store *store, struct cpm_index *ix)
{
    d->store = store;
    d->index = ix;
    d->default_tz = cpm_tz_get(DEFAULT_TIME_ZONE);
    pthread_mutex_init(&d->rebuild_lock, NULL);
    pthread_mutex_init(&d->helper_lock, NULL);
    pthread_cond_init(&d->helper_wake, NULL);
    return d->default_tz != NULL ? CPM_OK : CPM_ERR_INTERNAL;
}

cpm_err cpm_decider_new(struct cpm_store *store, struct cpm_index *index, struct cpm_decider **out)
{
    struct cpm_decider *d = cpm_calloc(1, sizeof(*d));
    if (d == NULL)
        return CPM_ERR_NOMEM;
    cpm_err err = decider_init(d, store, index);
    if (err != CPM_OK) {
        cpm_decider_free(d);
        return err;
    }
    *out = d;
    return CPM_OK;
}

cpm_err cpm_decider_open(const char *data_dir, struct cpm_decider **out, struct cpm_detail *detail)
{
    struct cpm_store *store = NULL;
    struct cpm_index *ix = NULL;
    struct cpm_decider *d = NULL;
    cpm_err err = cpm_store_open(data_dir, &store, detail);
    if (err == CPM_OK)
        err = cpm_index_new(&ix);
    if (err == CPM_OK)
        err = cpm_index_load(ix, store);
    if (err == CPM_OK)
        err = cpm_decider_new(store, ix, &d);
    if (err != CPM_OK) {
        cpm_index_free(ix);
        cpm_store_close(store);
        return err;
    }
    d->owned = true;
    *out = d;
    return CPM_OK;
}

static void helpers_stop(struct cpm_decider *d);

void cpm_decider_free(struct cpm_decider *d)
{
    if (d == NULL)
        return;
    helpers_stop(d);
    snapshot_free(atomic_load(&d->snap));
    pthread_mutex_destroy(&d->rebuild_lock);
    pthread_mutex_destroy(&d->helper_lock);
    pthread_cond_destroy(&d->helper_wake);
    if (d->owned) {
        cpm_index_free(d->index);
        cpm_store_close(d->store);
    }
    cpm_free(d);
}

/* ---- prepare ----------------------------------------------------------------------------------
 */

static const json_t *find_doc(const json_t *docs, const char *id)
{
    size_t i;
    const json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        if (strcmp(json_string_value(json_object_get(doc, "id")), id) == 0)
            return doc;
    }
    return NULL;
}

static bool lists(const json_t *doc, const char *key, const char *value)
{
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(doc, key), i, item)
    {
        if (strcmp(json_string_value(item), value) == 0)
            return true;
    }
    return false;
}

static bool is(const json_t *doc, const char *key, const char *value)
{
    const char *s = json_string_value(json_object_get(doc, key));
    return s != NULL && strcmp(s, value) == 0;
}

static void prepare_purpose(const json_t *p, struct cpm_prepared *out)
{
    out->consent_basis = is(p, "legal_basis", "consent");
    out->separate = is(p, "consent_form", "separate") || is(p, "consent_form", "written");
    out->necessary = json_is_true(json_object_get(p, "necessary_for_service"));
    out->personalised = json_is_true(json_object_get(p, "personalised"));
}

static void prepare_hours(const json_t *hours, struct cpm_prepared *out)
{
    struct cpm_window w = {0};
    size_t i;
    const json_t *day;
    json_array_foreach(json_object_get(hours, "days"), i, day)
    {
        int d = cpm_window_day(json_string_value(day));
        if (d >= 0)
            w.days |= (uint8_t)(1u << d);
    }
    if (!cpm_window_parse_time(json_string_value(json_object_get(hours, "from")), &w.from_min) ||
        !cpm_window_parse_time(json_string_value(json_object_get(hours, "to")), &w.to_min))
        return;
    out->channel_tz = cpm_tz_get(json_string_value(json_object_get(hours, "time_zone")));
    out->allowed[0] = w;
    out->allowed_count = out->channel_tz != NULL;
}

static void prepare_channel(struct cpm_decider *d, const struct snapshot *s, const char *purpose,
                            const char *channel, struct cpm_prepared *out,
                            struct cpm_detail *detail)
{
    enum cpm_channel c = cpm_channel_parse(channel);
    if (c == CPM_CHANNEL_NONE) {
        cpm_detail_add(detail, "channel",
                       "unknown channel; one of sms, email, app_push, wecom, "
                       "wechat_oa, voice, mail");
        return;
    }
    out->channel = c;
    const json_t *doc = find_doc(s->channels, channel);
    if (doc == NULL) {
        if (c == CPM_CHANNEL_SMS) {
            out->channel_tz = d->default_tz;
            out->allowed[0] = sms_default_hours;
            out->allowed_count = 1;
        }
        return;
    }
    if (json_array_size(json_object_get(doc, "purposes")) > 0 && !lists(doc, "purposes", purpose))
        cpm_detail_add(detail, "channel", "channel '%s' is not configured for purpose '%s'",
                       channel, purpose);
    if (json_object_get(doc, "allowed_hours") != NULL)
        prepare_hours(json_object_get(doc, "allowed_hours"), out);
}

static void prepare_topic(struct cpm_decider *d, const struct snapshot *s, const char *purpose,
                          const char *topic, struct cpm_prepared *out, struct cpm_detail *detail)
{
    const json_t *doc = find_doc(s->topics, topic);
    if (doc == NULL) {
        cpm_detail_add(detail, "topic", "unknown topic");
        return;
    }
    if (!lists(doc, "purposes", purpose))
        cpm_detail_add(detail, "topic", "topic '%s' does not belong to purpose '%s'", topic,
                       purpose);
    out->topic = cpm_index_slot(d->index, CPM_SLOT_TOPIC, topic, true);
}

static cpm_err prepare_in(struct cpm_decider *d, const struct snapshot *s, const char *purpose,
                          const char *channel, const char *topic, const char *recipient,
                          struct cpm_prepared *out, struct cpm_detail *detail)
{
    int before = detail->count;
    const json_t *p = purpose != NULL ? find_doc(s->purposes, purpose) : NULL;
    if (p == NULL) {
        cpm_detail_add(detail, "purpose", purpose ? "unknown purpose" : "is required");
        return CPM_ERR_VALIDATION;
    }
    prepare_purpose(p, out);
    out->purpose = cpm_index_slot(d->index, CPM_SLOT_PURPOSE, purpose, true);
    if (recipient != NULL && !lists(p, "recipients", recipient))
        cpm_detail_add(detail, "recipient", "purpose '%s' has no such recipient", purpose);
    else if (recipient != NULL)
        out->recipient = cpm_index_slot(d->index, CPM_SLOT_RECIPIENT, recipient, true);
    if (channel != NULL)
        prepare_channel(d, s, purpose, channel, out, detail);
    if (topic != NULL)
        prepare_topic(d, s, purpose, topic, out, detail);
    if (out->purpose < 0)
        return CPM_ERR_NOMEM;
    return detail->count > before ? CPM_ERR_VALIDATION : CPM_OK;
}

/*
 * The last few questions each thread prepared, by (decider, snapshot,
 * names): a decision API call then skips the configuration lookups.
 */
#define MEMO_QUESTIONS 8
#define MEMO_KEY_BYTES (4 * (CPM_ID_BYTES_MAX + 1) + 1)
struct memo {
    const struct cpm_decider *d;
    uint64_t serial;
    char key[MEMO_KEY_BYTES];
    struct cpm_prepared q;
};
static _Thread_local struct memo memo[MEMO_QUESTIONS];
static _Thread_local unsigned memo_next;

/* The names as one key; false when they are too long to be valid anyway. */
static bool memo_key(const char *purpose, const char *channel, const char *topic,
                     const char *recipient, char out[MEMO_KEY_BYTES])
{
    const char *parts[] = {purpose, channel, topic, recipient};
    struct cpm_fmt f;
    cpm_fmt_init(&f, out, MEMO_KEY_BYTES);
    for (size_t i = 0; i < CPM_ARRAY_LEN(parts); i++) {
        cpm_fmt_str(&f, i > 0 ? "|" : "");
        cpm_fmt_str(&f, parts[i] != NULL ? parts[i] : "");
    }
    return !f.cut;
}

static const struct cpm_prepared *memo_find(const struct cpm_decider *d, uint64_t serial,
                                            const char *key)
{
    for (unsigned i = 0; i < MEMO_QUESTIONS; i++)
        if (memo[i].d == d && memo[i].serial == serial && strcmp(memo[i].key, key) == 0)
            return &memo[i].q;
    return NULL;
}

static void memo_put(const struct cpm_decider *d, uint64_t serial, const char *key,
                     const struct cpm_prepared *q)
{
    struct memo *m = &memo[memo_next++ % MEMO_QUESTIONS];
    m->d = d;
    m->serial = serial;
    cpm_strlcpy(m->key, key, sizeof(m->key));
    m->q = *q;
}

cpm_err cpm_decider_prepare(struct cpm_decider *d, const char *purpose, const char *channel,
                            const char *topic, const char *recipient, struct cpm_prepared *out,
                            struct cpm_detail *detail)
{
    memset(out, 0, sizeof(*out));
    out->purpose = out->topic = out->recipient = out->channel = -1;
    if (!cpm_epoch_enter())
        return CPM_ERR_UNAVAILABLE;
    cpm_err err;
    char key[MEMO_KEY_BYTES];
    bool keyed = memo_key(purpose, channel, topic, recipient, key);
    const struct snapshot *s = current(d, &err);
    const struct cpm_prepared *known = s != NULL && keyed ? memo_find(d, s->serial, key) : NULL;
    if (known != NULL) {
        *out = *known;
    } else if (s != NULL) {
        err = prepare_in(d, s, purpose, channel, topic, recipient, out, detail);
        if (err == CPM_OK && keyed)
            memo_put(d, s->serial, key, out);
    }
    cpm_epoch_exit();
    return err;
}

/* ---- decide -----------------------------------------------------------------------------------
 */

/* a ∪ b (both ascending) into out, which has room for both. */
static size_t merge_sends(const int64_t *a, size_t na, const int64_t *b, size_t nb, int64_t *out)
{
    size_t i = 0, j = 0, n = 0;
    while (i < na || j < nb)
        out[n++] = j >= nb || (i < na && a[i] <= b[j]) ? a[i++] : b[j++];
    return n;
}

static void question_of(const struct cpm_prepared *q, struct cpm_index_question *iq,
                        struct cpm_decide_purpose *p, struct cpm_decide_channel *c)
{
    *iq = (struct cpm_index_question){.purpose = q->purpose,
                                      .recipient = q->recipient,
                                      .topic = q->topic,
                                      .channel = (enum cpm_channel)q->channel};
    *p = (struct cpm_decide_purpose){.consent_basis = q->consent_basis,
                                     .separate = q->separate,
                                     .necessary = q->necessary,
                                     .personalised = q->personalised};
    *c = (struct cpm_decide_channel){
        .tz = q->channel_tz, .allowed = q->allowed, .allowed_count = q->allowed_count};
}

static void answer_of(const struct cpm_decision *d, struct cpm_answer *out)
{
    *out = (struct cpm_answer){.allowed = d->allowed,
                               .reasons = d->reasons,
                               .deciding_seq = d->deciding_seq,
                               .next_allowed_ms = d->next_allowed_ms};
}

void cpm_decider_decide_with(struct cpm_decider *d, const struct cpm_prepared *q,
                             const char *subject_id, int64_t at_ms, const int64_t *extra_sends,
                             size_t extra_count, struct cpm_answer *out)
{
    struct cpm_index_question iq;
    struct cpm_decide_purpose p;
    struct cpm_decide_channel c;
    struct cpm_decide_subject s;
    struct cpm_decision decision;
    int64_t merged[CPM_INDEX_SENDS_MERGE_MAX];
    question_of(q, &iq, &p, &c);
    iq.subject_id = subject_id;
    bool entered = cpm_epoch_enter();
    if (entered)
        cpm_index_view(d->index, &iq, &s);
    else
        memset(&s, 0, sizeof(s));
    if (extra_count > 0 && s.send_count + extra_count <= CPM_INDEX_SENDS_MERGE_MAX) {
        s.send_count = merge_sends(s.sends, s.send_count, extra_sends, extra_count, merged);
        s.sends = merged;
    }
    cpm_decide(&s, &p, q->channel >= 0 ? &c : NULL, d->default_tz, at_ms, &decision);
    if (entered)
        cpm_epoch_exit();
    answer_of(&decision, out);
}

/* What deciding a run of subjects needs at each one (cpm_index_view_each's ctx). */
struct many {
    const struct cpm_decider *d;
    const struct cpm_prepared *q;
    struct cpm_decide_purpose p;
    struct cpm_decide_channel c;
    int64_t at_ms;
    struct cpm_answer *out; /* the answer of the view's first id */
};

static void decide_viewed(void *ctx, size_t i, const struct cpm_decide_subject *s)
{
    const struct many *m = ctx;
    struct cpm_decision decision;
    cpm_decide(s, &m->p, m->q->channel >= 0 ? &m->c : NULL, m->d->default_tz, m->at_ms, &decision);
    answer_of(&decision, &m->out[i]);
}

/* ---- sharing a long run with the helpers ------------------------------------------------- */

struct share {
    struct cpm_decider *d;
    struct cpm_index_question iq;
    struct many m;
    const char *const *ids;
    const size_t *lens;
    size_t n, blocks;
    int helpers;        /* offered to so many helpers */
    atomic_size_t next; /* the next block to take */
    atomic_int helping; /* helpers that may still work on it */
};
_Static_assert(sizeof(struct share) <= sizeof(struct cpm_decider_run), "a run fits its storage");
_Static_assert(_Alignof(struct share) <= _Alignof(struct cpm_decider_run), "and its alignment");

/* Decides blocks of the run until none is left. */
static void share_work(struct share *s)
{
    for (;;) {
        size_t b = atomic_fetch_add_explicit(&s->next, 1, memory_order_relaxed);
        if (b >= s->blocks)
            return;
        size_t base = b * SHARE_BLOCK;
        size_t count = s->n - base < SHARE_BLOCK ? s->n - base : SHARE_BLOCK;
        struct many m = s->m;
        m.out += base;
        cpm_index_view_each(s->d->index, &s->iq, s->ids + base, s->lens + base, count,
                            decide_viewed, &m);
    }
}

static void *helper_main(void *arg)
{
    struct helper *h = arg;
    struct cpm_decider *d = h->d;
    int64_t idle_since = cpm_clock_monotonic_ns();
    for (;;) {
        struct share *s = atomic_exchange(&h->posted, NULL);
        if (s != NULL) {
            share_work(s);
            atomic_fetch_sub_explicit(&s->helping, 1, memory_order_release);
            idle_since = cpm_clock_monotonic_ns();
            continue;
        }
        if (atomic_load(&d->stopping))
            return NULL;
        if (cpm_clock_monotonic_ns() - idle_since < HELPER_SPIN_NS) {
            /* the next piece of an upload is usually a few µs away */
            for (int i = 0;
                 i < 64 && atomic_load_explicit(&h->posted, memory_order_relaxed) == NULL; i++) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            }
            continue;
        }
        pthread_mutex_lock(&d->helper_lock);
        atomic_store(&h->sleeping, true); /* then posted is read: see share_post */
        while (atomic_load(&h->posted) == NULL && !atomic_load(&d->stopping))
            pthread_cond_wait(&d->helper_wake, &d->helper_lock);
        atomic_store(&h->sleeping, false);
        pthread_mutex_unlock(&d->helper_lock);
        idle_since = cpm_clock_monotonic_ns();
    }
}

/* The helpers, started on first use (one per core beyond the first); how many run. */
static int helpers_get(struct cpm_decider *d)
{
    int state = atomic_load_explicit(&d->helpers_state, memory_order_acquire);
    if (state == HELPERS_STARTED)
        return d->helper_count;
    int none = HELPERS_NONE;
    if (state != HELPERS_NONE ||
        !atomic_compare_exchange_strong(&d->helpers_state, &none, HELPERS_STARTING))
        return 0; /* another thread starts them: decide this run alone */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int want = cores > 1 ? (int)(cores - 1 < HELPERS_MAX ? cores - 1 : HELPERS_MAX) : 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals stay with the threads that wait for them */
    int count = 0;
    for (; count < want; count++) {
        struct helper *h = &d->helpers[count];
        h->d = d;
        if (pthread_create(&h->thread, NULL, helper_main, h) != 0)
            break; /* fewer helpers: slower, not wrong */
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    d->helper_count = count;
    atomic_store_explicit(&d->helpers_state, HELPERS_STARTED, memory_order_release);
    return count;
}

static void helpers_stop(struct cpm_decider *d)
{
    if (atomic_load(&d->helpers_state) != HELPERS_STARTED)
        return;
    atomic_store(&d->stopping, true);
    pthread_mutex_lock(&d->helper_lock);
    pthread_cond_broadcast(&d->helper_wake);
    pthread_mutex_unlock(&d->helper_lock);
    for (int i = 0; i < d->helper_count; i++)
        pthread_join(d->helpers[i].thread, NULL);
}

/* Offers s to every idle helper (one busy with another run is left alone). */
static void share_post(struct cpm_decider *d, struct share *s, int helpers)
{
    bool wake = false;
    for (int i = 0; i < helpers; i++) {
        struct helper *h = &d->helpers[i];
        struct share *none = NULL;
        atomic_fetch_add(&s->helping, 1);
        if (!atomic_compare_exchange_strong(&h->posted, &none, s)) {
            atomic_fetch_sub(&s->helping, 1);
            continue;
        }
        /* posted, then sleeping read; the helper stores sleeping, then reads posted: one of
         * the two sees the other's store */
        wake |= atomic_load(&h->sleeping);
    }
    if (wake) {
        pthread_mutex_lock(&d->helper_lock);
        pthread_cond_broadcast(&d->helper_wake);
        pthread_mutex_unlock(&d->helper_lock);
    }
}

/* Takes s back from the helpers that did not take it, and waits for those that did. */
static void share_end(struct cpm_decider *d, struct share *s, int helpers)
{
    for (int i = 0; i < helpers; i++) {
        struct share *mine = s;
        if (atomic_compare_exchange_strong(&d->helpers[i].posted, &mine, NULL))
            atomic_fetch_sub(&s->helping, 1);
    }
    /* a helper still at work finishes its block (≤ SHARE_BLOCK ids): tens of µs */
    while (atomic_load_explicit(&s->helping, memory_order_acquire) > 0)
        sched_yield();
}

void cpm_decider_run_start(struct cpm_decider *d, const struct cpm_prepared *q,
                           const char *const *subject_ids, const size_t *lens, size_t n,
                           int64_t at_ms, struct cpm_answer *out, struct cpm_decider_run *run)
{
    struct share *s = (struct share *)run;
    *s = (struct share){.d = d,
                        .m = {.d = d, .q = q, .at_ms = at_ms, .out = out},
                        .ids = subject_ids,
                        .lens = lens,
                        .n = n,
                        .blocks = (n + SHARE_BLOCK - 1) / SHARE_BLOCK};
    question_of(q, &s->iq, &s->m.p, &s->m.c);
    atomic_init(&s->next, 0);
    atomic_init(&s->helping, 0);
    s->helpers = n >= SHARE_MIN ? helpers_get(d) : 0;
    if (s->helpers > 0)
        share_post(d, s, s->helpers);
}

void cpm_decider_run_finish(struct cpm_decider_run *run)
{
    struct share *s = (struct share *)run;
    share_work(s);
    if (s->helpers > 0)
        share_end(s->d, s, s->helpers);
}

void cpm_decider_decide_many_len(struct cpm_decider *d, const struct cpm_prepared *q,
                                 const char *const *subject_ids, const size_t *lens, size_t n,
                                 int64_t at_ms, struct cpm_answer *out)
{
    struct cpm_decider_run run;
    cpm_decider_run_start(d, q, subject_ids, lens, n, at_ms, out, &run);
    cpm_decider_run_finish(&run);
}

void cpm_decider_decide_many(struct cpm_decider *d, const struct cpm_prepared *q,
                             const char *const *subject_ids, size_t n, int64_t at_ms,
                             struct cpm_answer *out)
{
    size_t lens[CPM_INDEX_VIEW_BATCH];
    for (size_t base = 0; base < n; base += CPM_INDEX_VIEW_BATCH) {
        size_t m = n - base < CPM_INDEX_VIEW_BATCH ? n - base : CPM_INDEX_VIEW_BATCH;
        for (size_t i = 0; i < m; i++)
            lens[i] = strlen(subject_ids[base + i]);
        cpm_decider_decide_many_len(d, q, subject_ids + base, lens, m, at_ms, out + base);
    }
}

void cpm_decider_decide(struct cpm_decider *d, const struct cpm_prepared *q, const char *subject_id,
                        int64_t at_ms, struct cpm_answer *out)
{
    cpm_decider_decide_with(d, q, subject_id, at_ms, NULL, 0, out);
}

const char *cpm_reason_name(unsigned i)
{
    return i < CPM_REASON__COUNT ? cpm_reason_code((enum cpm_reason)i) : NULL;
}
