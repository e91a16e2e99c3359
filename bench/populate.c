/* SPDX-License-Identifier: Apache-2.0 */
/*
 * populate.c — cpm-bench-populate: fills a data directory with the decision
 * benchmarks' population (bench/population.h) through the store's own
 * batch_write, as the writer would have written it: subjects, consent
 * events with canonical-JSON leaves, every Merkle node (RFC 6962, from
 * cpm_merkle_append, as src/store/writer.c does), and the consent states.
 * cpmd's start-up tamper check and `cpm verify --store` pass on the result.
 *
 * Usage: cpm-bench-populate DATA_DIR SUBJECTS EVENTS_PER_SUBJECT
 *
 * DATA_DIR must have been made by `cpm init` and seeded with
 * bench/population-seed.json (`cpm seed`), and hold no event yet.
 *
 * What differs from events recorded through the API, to keep 50 M events
 * to about a quarter of an hour and 26 GB on two cores: leaves are compact (~190 bytes: id, type,
 * time, pseudonym, purpose and notice, in cpm_consent_leaf's key order, not
 * its property/channel/locale/method fields); event ids are sequential
 * ("evt_" + 16 hex digits of the seq) and pseudonyms are 16 hex digits of
 * a bijective hash of the subject's number, not 32 random and 64 HMAC hex
 * digits; subjects have no wrapped data key and events no sealed context.
 * The connection runs with PRAGMA synchronous = OFF, foreign_keys = OFF
 * (what is written satisfies them by construction: subjects before their
 * events, states after their events) and a 2 GiB page cache, and SQLite's
 * own mutexes off (one thread uses it): a crash mid-load can lose the
 * store, which is then made again; what is written is the same. The
 * schema's triggers stay (dropping the one that refuses events of erased
 * subjects would save 7-17 % of the load).
 *
 * Two threads: one builds batches of whole subjects (about 20 000 events:
 * leaves, leaf hashes, the frontier's appends), the other writes the
 * previous batch in one transaction. Progress goes to stderr every million
 * events; on success DATA_DIR/bench-population records what was written
 * (key=value lines), which cpm-bench-decide and the bench scripts read.
 * Exits 0 on success, 1 when it could not populate, 2 on a usage error.
 */
#include "core/common.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/detail.h"
#include "ledger/merkle.h"
#include "store/sqlite.h"
#include "store/store.h"

#include "population.h"

#define BATCH_EVENTS   20000
#define LEAF_BYTES_MAX 320
#define PROGRESS_EVERY 1000000
#define LOAD_CACHE_KIB 2097152 /* the connection's page cache during the load */
#define PSEUDONYM_SALT UINT64_C(0x6f70656e63706d21)
#define NOTICE_ID      "privacy"
#define NOTICE_VERSION 1

/* One batch of whole subjects, built by the producer and written by the main thread. */
struct batch {
    struct cpm_write_batch out;
    struct cpm_subject *subjects;
    struct cpm_event *events;
    struct cpm_merkle_node *nodes;
    struct cpm_consent_state *states;
    char *leaves; /* LEAF_BYTES_MAX per event */
    size_t node_cap;
    bool full; /* built, not yet written */
    bool last; /* nothing follows */
};

struct populate {
    uint64_t subjects;
    unsigned per_subject;
    uint64_t subjects_per_batch;
    struct batch batches[2];
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool stop;                           /* the writer failed: the producer gives up */
    struct cpm_merkle_frontier frontier; /* the producer's */
};

static double seconds_since(int64_t start_ns)
{
    return (double)(cpm_clock_monotonic_ns() - start_ns) / 1e9;
}

static void emit_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    struct batch *b = ctx;
    CPM_ASSERT(b->out.node_count < b->node_cap);
    struct cpm_merkle_node *n = &b->nodes[b->out.node_count++];
    n->level = level;
    n->index = index;
    memcpy(n->hash, hash, CPM_HASH_BYTES);
}

/* The compact leaf of one consent event: cpm_consent_leaf's keys, fewer of them. */
static size_t make_leaf(char *out, const struct cpm_event *e, const char *pseudonym)
{
    char time_text[CPM_TIME_TEXT_BYTES];
    cpm_time_format(e->time_ms, time_text, sizeof(time_text));
    int len = snprintf(out, LEAF_BYTES_MAX,
                       "{\"v\":1,\"id\":\"%s\",\"type\":\"%s\",\"time\":\"%s\",\"subject\":\"%s\","
                       "\"purpose\":\"%s\",\"notice\":{\"id\":\"" NOTICE_ID "\",\"version\":%d}}",
                       e->id, e->type, time_text, pseudonym, e->purpose, NOTICE_VERSION);
    CPM_ASSERT(len > 0 && len < LEAF_BYTES_MAX);
    return (size_t)len;
}

/* Subject i's row, events, leaves, their Merkle nodes and final states, appended to b. */
static void add_subject(struct populate *p, struct batch *b, uint64_t i)
{
    struct cpm_write_batch *o = &b->out;
    struct cpm_subject *s = &b->subjects[o->subject_count++];
    memset(s, 0, sizeof(*s));
    bench_subject_id(i, s->id);
    snprintf(s->pseudonym, sizeof(s->pseudonym), "%016" PRIx64, bench_mix(i ^ PSEUDONYM_SALT));
    cpm_strlcpy(s->age_status, "adult", sizeof(s->age_status));
    uint8_t status[BENCH_PURPOSES] = {0};
    int64_t deciding[BENCH_PURPOSES] = {0}; /* the seq of each purpose's last event */
    for (unsigned j = 0; j < p->per_subject; j++) {
        unsigned purpose;
        uint8_t decision;
        bench_event(i, j, p->per_subject, status, &purpose, &decision);
        size_t k = o->event_count++;
        struct cpm_event *e = &b->events[k];
        e->seq = (int64_t)p->frontier.size + 1;
        snprintf(e->id, sizeof(e->id), "evt_%016" PRIx64, (uint64_t)e->seq);
        cpm_strlcpy(e->type, bench_event_types[decision], sizeof(e->type));
        cpm_strlcpy(e->subject_id, s->id, sizeof(e->subject_id));
        cpm_strlcpy(e->purpose, bench_purposes[purpose], sizeof(e->purpose));
        e->time_ms = BENCH_TIME_BASE_MS + e->seq;
        e->leaf = b->leaves + k * LEAF_BYTES_MAX;
        e->leaf_len = make_leaf(e->leaf, e, s->pseudonym);
        e->sealed = NULL;
        e->sealed_len = 0;
        if (j == 0)
            s->created_ms = e->time_ms;
        uint8_t leaf_hash[CPM_HASH_BYTES];
        cpm_merkle_leaf_hash(e->leaf, e->leaf_len, leaf_hash);
        cpm_merkle_append(&p->frontier, leaf_hash, emit_node, b);
        deciding[purpose] = e->seq;
    }
    for (unsigned q = 0; q < BENCH_PURPOSES; q++) {
        if (status[q] == BENCH_NONE)
            continue;
        struct cpm_consent_state *c = &b->states[o->state_count++];
        memset(c, 0, sizeof(*c));
        cpm_strlcpy(c->subject_id, s->id, sizeof(c->subject_id));
        cpm_strlcpy(c->purpose, bench_purposes[q], sizeof(c->purpose));
        cpm_strlcpy(c->status, bench_status_names[status[q]], sizeof(c->status));
        c->seq = deciding[q];
        cpm_strlcpy(c->notice, NOTICE_ID, sizeof(c->notice));
        c->notice_version = NOTICE_VERSION;
        c->decided_ms = BENCH_TIME_BASE_MS + deciding[q];
        c->seq_kept = true;
    }
}

static void *produce(void *arg)
{
    struct populate *p = arg;
    for (uint64_t first = 0, n = 0; first < p->subjects; first += n, n = 0) {
        struct batch *b = &p->batches[(first / p->subjects_per_batch) % 2];
        pthread_mutex_lock(&p->lock);
        while (b->full && !p->stop)
            pthread_cond_wait(&p->changed, &p->lock);
        bool stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (stop)
            break;
        b->out.subject_count = b->out.event_count = b->out.node_count = b->out.state_count = 0;
        n = p->subjects - first < p->subjects_per_batch ? p->subjects - first
                                                        : p->subjects_per_batch;
        for (uint64_t i = first; i < first + n; i++)
            add_subject(p, b, i);
        pthread_mutex_lock(&p->lock);
        b->full = true;
        b->last = first + n == p->subjects;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

static bool batch_alloc(struct batch *b, uint64_t subjects, unsigned per_subject)
{
    size_t events = (size_t)subjects * per_subject;
    b->node_cap = 2 * events + CPM_MERKLE_LEVELS;
    b->subjects = cpm_calloc(subjects, sizeof(*b->subjects));
    b->events = cpm_calloc(events, sizeof(*b->events));
    b->nodes = cpm_calloc(b->node_cap, sizeof(*b->nodes));
    b->states = cpm_calloc(subjects * BENCH_PURPOSES, sizeof(*b->states));
    b->leaves = cpm_malloc(events * LEAF_BYTES_MAX);
    b->out.subjects = b->subjects;
    b->out.events = b->events;
    b->out.nodes = b->nodes;
    b->out.states = b->states;
    return b->subjects && b->events && b->nodes && b->states && b->leaves;
}

static void batch_free(struct batch *b)
{
    cpm_free(b->subjects);
    cpm_free(b->events);
    cpm_free(b->nodes);
    cpm_free(b->states);
    cpm_free(b->leaves);
}

/* Writes the batches as they are built; progress every PROGRESS_EVERY events. */
static cpm_err consume(struct populate *p, struct cpm_store *store, int64_t start_ns,
                       uint64_t *events, uint64_t *nodes)
{
    cpm_err err = CPM_OK;
    uint64_t reported = 0;
    for (size_t k = 0;; k++) {
        struct batch *b = &p->batches[k % 2];
        pthread_mutex_lock(&p->lock);
        while (!b->full)
            pthread_cond_wait(&p->changed, &p->lock);
        pthread_mutex_unlock(&p->lock);
        err = store->ops->batch_write(store, &b->out);
        bool last = b->last;
        *events += b->out.event_count;
        *nodes += b->out.node_count;
        pthread_mutex_lock(&p->lock);
        b->full = false;
        p->stop = err != CPM_OK;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
        if (err != CPM_OK || last)
            return err;
        if (*events / PROGRESS_EVERY > reported) {
            reported = *events / PROGRESS_EVERY;
            double s = seconds_since(start_ns);
            fprintf(stderr,
                    "  %12" PRIu64 " events  %10" PRIu64 " subjects  %7.1f s  %8.0f events/s\n",
                    *events, (k + 1) * p->subjects_per_batch, s, (double)*events / s);
        }
    }
}

static bool exec_sql(struct cpm_store *store, const char *sql)
{
    char *message = NULL;
    int rc = sqlite3_exec(cpm__sqlite_db(store), sql, NULL, NULL, &message);
    if (rc != SQLITE_OK)
        fprintf(stderr, "cpm-bench-populate: %s: %s\n", sql,
                message ? message : sqlite3_errstr(rc));
    sqlite3_free(message);
    return rc == SQLITE_OK;
}

/* The configuration the population refers to is there, and the ledger is empty. */
static bool check_store(struct cpm_store *store, const char *dir)
{
    for (size_t i = 0; i < BENCH_PURPOSES; i++) {
        struct cpm_doc doc = {0};
        cpm_err err = store->ops->doc_get(store, CPM_DOC_PURPOSE, bench_purposes[i], &doc);
        cpm_doc_release(&doc);
        if (err != CPM_OK) {
            fprintf(stderr,
                    "cpm-bench-populate: %s has no purpose '%s': seed it with "
                    "bench/population-seed.json (cpm seed --data %s FILE)\n",
                    dir, bench_purposes[i], dir);
            return false;
        }
    }
    struct cpm_notice_version v = {0};
    cpm_err err = store->ops->notice_version_get(store, NOTICE_ID, NOTICE_VERSION, &v);
    cpm_notice_version_release(&v);
    if (err != CPM_OK) {
        fprintf(stderr, "cpm-bench-populate: %s has no notice '%s' version %d: seed it first\n",
                dir, NOTICE_ID, NOTICE_VERSION);
        return false;
    }
    uint64_t size = 0;
    if (store->ops->ledger_size(store, &size) != CPM_OK || size != 0) {
        fprintf(stderr,
                "cpm-bench-populate: %s already holds %" PRIu64 " events; populate a fresh "
                "data directory\n",
                dir, size);
        return false;
    }
    return true;
}

static bool write_marker(const char *dir, uint64_t subjects, unsigned per_subject, uint64_t events,
                         uint64_t allowed, double seconds)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, BENCH_MARKER_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return false;
    fprintf(f,
            "subjects=%" PRIu64 "\nevents_per_subject=%u\nevents=%" PRIu64
            "\nallowed_marketing_sms=%" PRIu64 "\npopulate_seconds=%.1f\n",
            subjects, per_subject, events, allowed, seconds);
    bool ok = fclose(f) == 0 && rename(tmp, path) == 0;
    return ok;
}

static int usage(void)
{
    fprintf(
        stderr,
        "usage: cpm-bench-populate DATA_DIR SUBJECTS EVENTS_PER_SUBJECT\n"
        "  DATA_DIR: made by `cpm init`, seeded with bench/population-seed.json, no events yet\n"
        "  SUBJECTS: 1-%d; EVENTS_PER_SUBJECT: 1-%d\n",
        BENCH_SUBJECTS_MAX, BENCH_EVENTS_PER_SUBJECT_MAX);
    return 2;
}

int main(int argc, char **argv)
{
    int64_t subjects = 0, per_subject = 0;
    if (argc != 4 || !cpm_parse_int64(argv[2], 1, BENCH_SUBJECTS_MAX, &subjects) ||
        !cpm_parse_int64(argv[3], 1, BENCH_EVENTS_PER_SUBJECT_MAX, &per_subject))
        return usage();
    const char *dir = argv[1];
    if (sodium_init() < 0)
        return 1;
    /* Only this thread calls SQLite: its own mutexes are not needed (the store's lock stays). */
    if (sqlite3_config(SQLITE_CONFIG_SINGLETHREAD) != SQLITE_OK ||
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
        return 1;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct cpm_store *store = NULL;
    if (cpm_store_open(dir, &store, &detail) != CPM_OK) {
        fprintf(stderr, "cpm-bench-populate: cannot open the store in %s: %s\n", dir,
                detail.count ? detail.faults[0].message : "see the log above");
        return 1;
    }
    int status = 1;
    struct populate p = {.subjects = (uint64_t)subjects, .per_subject = (unsigned)per_subject};
    p.subjects_per_batch = BATCH_EVENTS / p.per_subject ? BATCH_EVENTS / p.per_subject : 1;
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.changed, NULL);
    cpm_merkle_frontier_init(&p.frontier);
    bool ok = check_store(store, dir) && exec_sql(store, "PRAGMA synchronous = OFF") &&
              exec_sql(store, "PRAGMA foreign_keys = OFF") &&
              exec_sql(store, "PRAGMA cache_size = -" CPM_STRINGIFY(LOAD_CACHE_KIB));
    for (size_t k = 0; ok && k < 2; k++)
        ok = batch_alloc(&p.batches[k], p.subjects_per_batch, p.per_subject);
    if (!ok)
        goto out;

    fprintf(stderr,
            "populating %s: %" PRIu64 " subjects x %u events, batches of %" PRIu64
            " subjects (synchronous=OFF, foreign_keys=OFF during the load)\n",
            dir, p.subjects, p.per_subject, p.subjects_per_batch);
    int64_t start_ns = cpm_clock_monotonic_ns();
    pthread_t producer;
    if (pthread_create(&producer, NULL, produce, &p) != 0)
        goto out;
    uint64_t events = 0, nodes = 0;
    cpm_err err = consume(&p, store, start_ns, &events, &nodes);
    pthread_join(producer, NULL);
    double write_s = seconds_since(start_ns);
    if (err != CPM_OK) {
        fprintf(stderr, "cpm-bench-populate: a batch failed to write: %s\n", cpm_err_message(err));
        goto out;
    }
    /* What closing does anyway (a TRUNCATE checkpoint), timed on its own. */
    if (!exec_sql(store, "PRAGMA wal_checkpoint(TRUNCATE)"))
        goto out;
    double total_s = seconds_since(start_ns);
    uint8_t root[CPM_HASH_BYTES];
    char root_hex[2 * CPM_HASH_BYTES + 1];
    cpm_merkle_frontier_root(&p.frontier, root);
    sodium_bin2hex(root_hex, sizeof(root_hex), root, sizeof(root));
    uint64_t allowed = 0;
    for (uint64_t i = 0; i < p.subjects; i++)
        allowed += bench_allowed(i, p.per_subject, 0);
    if (!write_marker(dir, p.subjects, p.per_subject, events, allowed, total_s)) {
        fprintf(stderr, "cpm-bench-populate: cannot write %s/%s\n", dir, BENCH_MARKER_FILE);
        goto out;
    }
    printf("populated %s: %" PRIu64 " subjects, %" PRIu64 " events, %" PRIu64
           " Merkle nodes in %.1f s (%.1f s writing, %.0f events/s)\n",
           dir, p.subjects, events, nodes, total_s, write_s, (double)events / total_s);
    printf("tree size %" PRIu64 ", root %s; marketing.sms given for %" PRIu64
           " subjects (%.1f %%)\n",
           p.frontier.size, root_hex, allowed, 100.0 * (double)allowed / (double)p.subjects);
    status = 0;
out:
    for (size_t k = 0; k < 2; k++)
        batch_free(&p.batches[k]);
    pthread_cond_destroy(&p.changed);
    pthread_mutex_destroy(&p.lock);
    cpm_store_close(store);
    return status;
}
