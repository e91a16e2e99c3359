/* SPDX-License-Identifier: Apache-2.0 */
/*
 * load.c — the index rebuilt from the store (a first start, or one with
 * no usable snapshot), on every core.
 *
 * Reader threads, one a core (at most four), each run the store's
 * index_load on a share of the store — subjects by row ranges, the rest by
 * ranges of subject ids — on a connection of their own, and turn each row
 * into what the index keeps: the subject's hash, a consent's slots and
 * status, compiled preferences, a send. Before reading a row they agree on
 * the commit they read (else one reader reads it all, in one transaction).
 * They hand rows over in batches; the calling thread applies each batch,
 * as the writer applies a commit (it alone changes the index), asking the
 * memory for the table slots and entries of the rows a few ahead while it
 * applies the current one: a row of a subject not seen for a while is a
 * random read in an index of hundreds of megabytes. Stepping through
 * SQLite and reading its columns, most of the work, so runs on all cores
 * beside placing the rows (docs/DECISIONS.md, docs/BENCHMARKS.md).
 */
#include "core/common.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/epoch.h"
#include "core/log.h"
#include "index/index_internal.h"

#define BATCH_ROWS  4096
#define BATCHES     4 /* a reader's: it fills one while the others wait or are applied */
#define SLOT_AHEAD  16
#define ENTRY_AHEAD 8

enum row_kind { ROW_SUBJECT, ROW_CONSENT, ROW_PREFERENCES, ROW_CONTACT };

/* A row of the store as the index keeps it: everything but where its entry is. */
struct row {
    uint64_t key[2];
    uint8_t kind;
    union {
        struct {
            int age; /* enum cpm_age, or -1 */
            int64_t erased_seq;
        } subject;
        struct xconsent consent;
        struct cpm_preferences *preferences; /* owned: the applier frees it */
        struct {
            uint8_t channel;
            int64_t time_ms;
        } contact;
    } u;
};

struct batch {
    size_t n;
    struct row rows[BATCH_ROWS];
};

struct reader;

struct load {
    struct cpm_index *ix;
    struct cpm_store *store;
    int64_t started_ms;
    unsigned parts;
    _Atomic uint64_t rows;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    /* the readers' handshake: every part must read the same commit */
    unsigned arrived;
    bool agreed, disagreed;
    uint64_t ledger_size;
    int64_t contacts_mark;
    uint64_t subjects; /* about how many the store holds: the tables are sized for them */
    /* batches: free ones, and filled ones waiting to be applied (oldest first) */
    struct batch *pool;
    struct batch **free, **ready;
    size_t free_count, ready_head, ready_count, batches;
    unsigned reading; /* readers not yet done */
};

/*
 * A reader writes its memo and counters on every row: the cache lines at
 * either end of its struct are its own, or two readers side by side in
 * the array slow each other down (measured: a sixth of the load in cpmd).
 */
#define CACHE_LINE 64

struct reader {
    char own_head[CACHE_LINE];
    struct load *l;
    unsigned part;
    pthread_t thread;
    struct memo memo;
    struct batch *filling;
    const char *table;
    uint64_t rows, counted; /* read, and of them added to the load's total */
    bool arrived;
    cpm_err err;
    char own_tail[CACHE_LINE];
};

/* ---- the readers ------------------------------------------------------------------ */

#define COUNT_EVERY 4096 /* rows a reader reads between adding them to the load's total */

/* Counts a row read; a progress line each PROGRESS_EVERY rows of all the readers. */
static void progress(struct reader *r, const char *table, bool flush)
{
    r->table = table;
    if (!flush && ++r->rows % COUNT_EVERY != 0)
        return;
    uint64_t add = r->rows - r->counted;
    r->counted = r->rows;
    uint64_t before = atomic_fetch_add_explicit(&r->l->rows, add, memory_order_relaxed);
    if ((before + add) / PROGRESS_EVERY != before / PROGRESS_EVERY)
        cpm_log_info("index", "loading: %llu rows read (now %s), %.1f s",
                     (unsigned long long)(before + add), table,
                     (double)(cpm_clock_now_ms() - r->l->started_ms) / 1000.0);
}

/*
 * Hands the batch being filled over (when it has rows) and, unless last,
 * takes a free one to fill next, waiting for one.
 */
static void hand_over(struct reader *r, bool last)
{
    struct load *l = r->l;
    pthread_mutex_lock(&l->lock);
    if (r->filling->n > 0)
        l->ready[(l->ready_head + l->ready_count++) % l->batches] = r->filling;
    else
        l->free[l->free_count++] = r->filling;
    r->filling = NULL;
    if (last)
        l->reading--;
    pthread_cond_broadcast(&l->changed);
    while (!last && l->free_count == 0)
        pthread_cond_wait(&l->changed, &l->lock);
    if (!last)
        r->filling = l->free[--l->free_count];
    pthread_mutex_unlock(&l->lock);
    if (!last)
        r->filling->n = 0;
}

static struct row *next_row(struct reader *r, enum row_kind kind, const char *table)
{
    if (r->filling->n == BATCH_ROWS)
        hand_over(r, false);
    progress(r, table, false);
    struct row *row = &r->filling->rows[r->filling->n++];
    row->kind = (uint8_t)kind;
    return row;
}

/*
 * A reader has begun its read transaction (ok) or failed before: once all
 * have, the load goes on only if they all read the same commit. Another
 * process may write to the store meanwhile (cpm_decider_open beside cpmd).
 */
static bool arrive(struct reader *r, bool ok, uint64_t ledger_size, int64_t contacts_mark,
                   uint64_t subjects)
{
    struct load *l = r->l;
    pthread_mutex_lock(&l->lock);
    r->arrived = true;
    if (!ok ||
        (l->arrived > 0 && (ledger_size != l->ledger_size || contacts_mark != l->contacts_mark)))
        l->disagreed = true;
    l->ledger_size = ledger_size;
    l->contacts_mark = contacts_mark;
    l->subjects = subjects;
    if (++l->arrived == l->parts)
        pthread_cond_broadcast(&l->changed);
    while (l->arrived < l->parts)
        pthread_cond_wait(&l->changed, &l->lock);
    bool go = !l->disagreed;
    pthread_mutex_unlock(&l->lock);
    return go;
}

static cpm_err read_begun(void *ctx, uint64_t ledger_size, int64_t contacts_mark, uint64_t subjects)
{
    return arrive(ctx, true, ledger_size, contacts_mark, subjects) ? CPM_OK : CPM_ERR_CONFLICT;
}

static cpm_err read_subject(void *ctx, const char *id, const char *age_status, int64_t erased_seq)
{
    struct reader *r = ctx;
    struct row *row = next_row(r, ROW_SUBJECT, "subjects");
    cpm__index_hash(r->l->ix, id, strlen(id), row->key);
    row->u.subject.age = age_status[0] ? (int)cpm_age_parse(age_status) : -1;
    row->u.subject.erased_seq = erased_seq;
    return CPM_OK;
}

static cpm_err read_state(void *ctx, const struct cpm_state_row *st)
{
    struct reader *r = ctx;
    struct xconsent xc;
    if (!cpm__index_consent_of(r->l->ix, &r->memo, st, &xc))
        return CPM_OK; /* the index is marked degraded */
    struct row *row = next_row(r, ROW_CONSENT, "consent states");
    cpm__index_hash_memo(r->l->ix, &r->memo, st->subject_id, row->key);
    row->u.consent = xc;
    return CPM_OK;
}

bool cpm__index_preferences_of(const char *text, struct cpm_preferences *out)
{
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (doc == NULL) {
        cpm_log_error("index", "the stored preferences of a subject are not JSON; ignored");
        return false;
    }
    cpm_preferences_compile(doc, out);
    json_decref(doc);
    return true;
}

static cpm_err read_preferences(void *ctx, const char *subject_id, const char *text)
{
    struct reader *r = ctx;
    struct cpm_preferences *p = cpm_malloc(sizeof(*p));
    if (p == NULL)
        return CPM_ERR_NOMEM;
    if (!cpm__index_preferences_of(text, p)) {
        cpm_free(p);
        return CPM_OK;
    }
    struct row *row = next_row(r, ROW_PREFERENCES, "preferences");
    cpm__index_hash(r->l->ix, subject_id, strlen(subject_id), row->key);
    row->u.preferences = p;
    return CPM_OK;
}

static cpm_err read_contact(void *ctx, const struct cpm_contact *c)
{
    struct reader *r = ctx;
    struct row *row = next_row(r, ROW_CONTACT, "sends");
    cpm__index_hash(r->l->ix, c->subject_id, strlen(c->subject_id), row->key);
    row->u.contact.channel = c->channel;
    row->u.contact.time_ms = c->time_ms;
    return CPM_OK;
}

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct cpm_index_loader loader = {
        .ctx = r,
        .contacts_since_ms = r->l->started_ms - CPM_INDEX_SENDS_KEPT_MS,
        .part = r->part,
        .parts = r->l->parts,
        .begun = read_begun,
        .subject = read_subject,
        .state = read_state,
        .preferences = read_preferences,
        .contact = read_contact,
    };
    r->err = r->l->store->ops->index_load(r->l->store, &loader);
    if (!r->arrived)
        (void)arrive(r, false, 0, 0, 0);
    if (r->table != NULL)
        progress(r, r->table, true);
    hand_over(r, true);
    return NULL;
}

/* ---- the applier ------------------------------------------------------------------ */

static void apply_row(struct cpm_index *ix, struct row *r, int64_t now_ms)
{
    switch ((enum row_kind)r->kind) {
    case ROW_SUBJECT:
        cpm__index_put_subject(ix, r->key, r->u.subject.age, r->u.subject.erased_seq);
        break;
    case ROW_CONSENT:
        cpm__index_put_consent(ix, r->key, &r->u.consent);
        break;
    case ROW_PREFERENCES:
        cpm__index_put_preferences(ix, r->key, r->u.preferences);
        cpm_free(r->u.preferences);
        break;
    case ROW_CONTACT:
        cpm__index_put_contact(ix, r->key, r->u.contact.channel, r->u.contact.time_ms, now_ms);
        break;
    }
}

static int purpose_of(const struct row *r)
{
    return r->kind == ROW_CONSENT ? r->u.consent.purpose : -1;
}

static void apply_batch(struct cpm_index *ix, struct batch *b, int64_t now_ms)
{
    struct row *rows = b->rows;
    for (size_t i = 0; i < b->n; i++) {
        if (i + SLOT_AHEAD < b->n)
            cpm__index_prefetch_slot(ix, rows[i + SLOT_AHEAD].key);
        if (i + ENTRY_AHEAD < b->n)
            cpm__index_prefetch_entry(ix, rows[i + ENTRY_AHEAD].key,
                                      purpose_of(&rows[i + ENTRY_AHEAD]));
        apply_row(ix, &rows[i], now_ms);
    }
}

/* Applies batches as the readers hand them over, until they are all done. */
static void apply_all(struct load *l)
{
    int64_t now_ms = cpm_clock_now_ms();
    bool reserved = false;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (l->ready_count == 0 && l->reading > 0)
            pthread_cond_wait(&l->changed, &l->lock);
        if (l->ready_count == 0)
            break;
        struct batch *b = l->ready[l->ready_head];
        l->ready_head = (l->ready_head + 1) % l->batches;
        l->ready_count--;
        pthread_mutex_unlock(&l->lock);
        if (!reserved) /* no table grows (each time copied whole) during the load */
            cpm__index_reserve(l->ix, l->subjects);
        reserved = true;
        apply_batch(l->ix, b, now_ms);
        pthread_mutex_lock(&l->lock);
        l->free[l->free_count++] = b;
        pthread_cond_broadcast(&l->changed);
    }
    pthread_mutex_unlock(&l->lock);
}

/*
 * Runs parts readers and applies what they read: CONFLICT when they did not
 * all begin on the same commit (nothing read), else the first reader's error.
 */
static cpm_err load_parts(struct load *l, struct reader *readers)
{
    cpm_err err = CPM_OK;
    unsigned started = 0;
    l->reading = l->parts;
    for (unsigned i = 0; i < l->parts; i++) {
        readers[i] = (struct reader){.l = l, .part = i, .filling = l->free[--l->free_count]};
        readers[i].filling->n = 0;
    }
    for (; started < l->parts; started++)
        if (pthread_create(&readers[started].thread, NULL, reader_main, &readers[started]) != 0)
            break;
    if (started < l->parts) { /* the others must not wait for these at the handshake */
        cpm_log_error("index", "cannot start a thread to read the store");
        pthread_mutex_lock(&l->lock);
        l->disagreed = true;
        l->arrived += l->parts - started;
        l->reading -= l->parts - started;
        pthread_cond_broadcast(&l->changed);
        pthread_mutex_unlock(&l->lock);
        err = CPM_ERR_NOMEM;
    }
    apply_all(l);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(readers[i].thread, NULL);
        err = err != CPM_OK ? err : readers[i].err;
    }
    /* a reader that could not begin, or different commits: nobody read a row */
    return l->disagreed ? CPM_ERR_CONFLICT : err;
}

/* How many threads read the store: one a core, at most four (the applier keeps up with that). */
static unsigned readers_for_this_machine(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > 4 ? 4 : (unsigned)cores;
}

/*
 * One attempt with parts readers; CONFLICT when they did not read the same
 * commit (nothing applied: the index is still empty).
 */
static cpm_err load_attempt(struct load *l, unsigned parts)
{
    l->parts = parts;
    l->batches = (size_t)BATCHES * parts;
    l->arrived = 0;
    l->disagreed = false;
    l->ready_head = l->ready_count = 0;
    l->pool = cpm_malloc(sizeof(struct batch) * l->batches);
    l->free = cpm_malloc(sizeof(struct batch *) * l->batches);
    l->ready = cpm_malloc(sizeof(struct batch *) * l->batches);
    struct reader *readers = cpm_calloc(parts, sizeof(*readers));
    cpm_err err = CPM_ERR_NOMEM;
    if (l->pool != NULL && l->free != NULL && l->ready != NULL && readers != NULL) {
        for (l->free_count = 0; l->free_count < l->batches; l->free_count++)
            l->free[l->free_count] = &l->pool[l->free_count];
        err = load_parts(l, readers);
    }
    cpm_free(readers);
    cpm_free(l->ready);
    cpm_free(l->free);
    cpm_free(l->pool);
    return err;
}

cpm_err cpm_index_load(struct cpm_index *ix, struct cpm_store *store)
{
    return cpm_index_load_with(ix, store, readers_for_this_machine());
}

cpm_err cpm_index_load_with(struct cpm_index *ix, struct cpm_store *store, unsigned parts)
{
    CPM_ASSERT(parts >= 1 && parts <= 16);
    struct load l = {.ix = ix, .store = store, .started_ms = cpm_clock_now_ms()};
    pthread_mutex_init(&l.lock, NULL);
    pthread_cond_init(&l.changed, NULL);
    cpm_err err = load_attempt(&l, parts);
    if (err == CPM_ERR_CONFLICT && parts > 1) {
        /* nothing was read: one reader, one transaction, the store's own connection */
        cpm_log_info("index",
                     "the readers did not all begin on one commit (the store was written to, or "
                     "would not open again); reading it on one thread");
        err = load_attempt(&l, 1);
    }
    pthread_cond_destroy(&l.changed);
    pthread_mutex_destroy(&l.lock);
    /* a table that outgrew the estimate (half the final size, on huge pages) is freed now, not
     * at the first write */
    cpm_epoch_reclaim();
    uint64_t subjects, bytes;
    cpm_index_stats(ix, &subjects, &bytes);
    if (err == CPM_OK)
        cpm_log_info("index", "loaded: %llu subjects from %llu rows in %.1f s, %.1f MiB",
                     (unsigned long long)subjects, (unsigned long long)atomic_load(&l.rows),
                     (double)(cpm_clock_now_ms() - l.started_ms) / 1000.0,
                     (double)bytes / (1024.0 * 1024.0));
    return err != CPM_OK ? err : cpm_index_degraded(ix) ? CPM_ERR_NOMEM : CPM_OK;
}
