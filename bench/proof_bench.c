/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proof_bench.c — proof costs at ledger scale. Fills a fresh SQLite store
 * through the real writer (group commit, no HTTP) with N events of ~400-byte
 * leaves, then measures, on that store: inclusion proofs of random leaves in
 * the full tree, consistency proofs from random sizes to the full tree, and
 * an evidence-like read (one subject's 1 000 events, spread over the whole
 * log, listed page by page and each given its inclusion proof). Every proof
 * is also verified, outside the timed part, against the tree's root.
 *
 * Usage: cpm-bench-proofs DATA_DIR [EVENTS]   (DATA_DIR: an existing, empty
 * directory; EVENTS defaults to 1 000 000). Progress goes to stderr, one
 * line per 10 % of the fill; results go to stdout as key=value lines for
 * bench/proofs.sh. Exits non-zero only when it could not measure.
 */
#include "core/common.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "ledger/merkle.h"
#include "store/store.h"
#include "store/node_cache.h"
#include "store/writer.h"

#define EVENTS_DEFAULT     1000000
#define EVENTS_MAX         1000000000
#define EVENTS_PER_REQUEST 4  /* one consent action with four decisions, one new subject */
#define FILL_THREADS       64 /* concurrent submitters: the writer commits them together */
#define LEAF_BYTES         400
#define PROOFS             10000
#define EVIDENCE_EVENTS    1000
#define EVIDENCE_PAGE      200 /* as GET /v1/subjects/{id}/evidence pages the store */
#define EVIDENCE_RUNS      5
#define EVIDENCE_SUBJECT   "bench-evidence-subject"
#define TIME_BASE_MS       INT64_C(1767225600000) /* 2026-01-01 */

static const char *const purposes[] = {"marketing.sms", "marketing.email", "marketing.push",
                                       "analytics"};

struct fill {
    struct cpm_writer *writer;
    uint64_t total;  /* events to write */
    uint64_t stride; /* every stride-th event is the evidence subject's */
    atomic_uint_fast64_t next;
    atomic_uint_fast64_t written;
    atomic_int failed; /* a cpm_err, CPM_OK while all goes well */
    int64_t start_ns;
    pthread_mutex_t progress_lock;
    unsigned reported; /* tenths printed so far */
};

static double seconds_since(int64_t start_ns)
{
    return (double)(cpm_clock_monotonic_ns() - start_ns) / 1e9;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* A leaf of exactly LEAF_BYTES bytes, shaped like a consent leaf. */
static size_t make_leaf(char *leaf, uint64_t g, const struct cpm_event *e, const char *pseudonym)
{
    int len = snprintf(leaf, LEAF_BYTES + 1,
                       "{\"v\":1,\"id\":\"%s\",\"type\":\"%s\",\"subject\":\"%s\","
                       "\"purpose\":\"%s\",\"time\":%" PRId64 ",\"notice\":{\"id\":\"privacy\","
                       "\"version\":1},\"pad\":\"",
                       e->id, e->type, pseudonym, e->purpose, e->time_ms);
    CPM_ASSERT(len > 0 && len < LEAF_BYTES - 2);
    for (int i = len; i < LEAF_BYTES - 2; i++)
        leaf[i] = (char)('a' + (g + (uint64_t)i) % 26);
    leaf[LEAF_BYTES - 2] = '"';
    leaf[LEAF_BYTES - 1] = '}';
    leaf[LEAF_BYTES] = '\0';
    return LEAF_BYTES;
}

static bool is_evidence(const struct fill *f, uint64_t g)
{
    return g % f->stride == 0 && g / f->stride < EVIDENCE_EVENTS;
}

static void report_progress(struct fill *f, uint64_t done)
{
    unsigned tenths = (unsigned)(done * 10 / f->total);
    pthread_mutex_lock(&f->progress_lock);
    if (tenths > f->reported) {
        f->reported = tenths;
        double s = seconds_since(f->start_ns);
        fprintf(stderr, "  fill %3u %%  %10" PRIu64 " events  %7.1f s  %8.0f events/s\n",
                tenths * 10, done, s, (double)done / s);
    }
    pthread_mutex_unlock(&f->progress_lock);
}

/* One submitter: each request is a new subject with up to four events. */
static void *fill_run(void *arg)
{
    struct fill *f = arg;
    struct cpm_subject subject;
    struct cpm_event events[EVENTS_PER_REQUEST];
    char leaves[EVENTS_PER_REQUEST][LEAF_BYTES + 1];
    char evidence_pseudonym[2 * CPM_HASH_BYTES + 1];
    memset(evidence_pseudonym, 'f', 2 * CPM_HASH_BYTES);
    evidence_pseudonym[2 * CPM_HASH_BYTES] = '\0';
    for (;;) {
        uint64_t first = atomic_fetch_add(&f->next, EVENTS_PER_REQUEST);
        if (first >= f->total || atomic_load(&f->failed) != CPM_OK)
            break;
        size_t n =
            f->total - first < EVENTS_PER_REQUEST ? (size_t)(f->total - first) : EVENTS_PER_REQUEST;
        uint64_t r = first / EVENTS_PER_REQUEST;
        memset(&subject, 0, sizeof(subject));
        snprintf(subject.id, sizeof(subject.id), "s%" PRIu64, r);
        snprintf(subject.pseudonym, sizeof(subject.pseudonym), "%064" PRIx64, r);
        cpm_strlcpy(subject.age_status, "unknown", sizeof(subject.age_status));
        subject.created_ms = TIME_BASE_MS + (int64_t)first;
        for (size_t i = 0; i < n; i++) {
            uint64_t g = first + i;
            bool evidence = is_evidence(f, g);
            struct cpm_event *e = &events[i];
            memset(e, 0, sizeof(*e));
            snprintf(e->id, sizeof(e->id), "evt_%032" PRIx64, g);
            cpm_strlcpy(e->type, i == 2 ? "consent.refused" : "consent.given", sizeof(e->type));
            cpm_strlcpy(e->subject_id, evidence ? EVIDENCE_SUBJECT : subject.id,
                        sizeof(e->subject_id));
            cpm_strlcpy(e->purpose, purposes[i % CPM_ARRAY_LEN(purposes)], sizeof(e->purpose));
            e->time_ms = TIME_BASE_MS + (int64_t)g;
            e->leaf = leaves[i];
            e->leaf_len =
                make_leaf(leaves[i], g, e, evidence ? evidence_pseudonym : subject.pseudonym);
        }
        struct cpm_write_request req = {.subject = &subject, .events = events, .event_count = n};
        cpm_err err = cpm_writer_submit(f->writer, &req);
        if (err != CPM_OK) {
            int expected = CPM_OK;
            atomic_compare_exchange_strong(&f->failed, &expected, (int)err);
            break;
        }
        report_progress(f, atomic_fetch_add(&f->written, n) + n);
    }
    return NULL;
}

/* The evidence subject exists before any event names it (events reference subjects). */
static cpm_err add_evidence_subject(struct cpm_writer *w, struct fill *f)
{
    struct cpm_subject subject = {.created_ms = TIME_BASE_MS};
    cpm_strlcpy(subject.id, EVIDENCE_SUBJECT, sizeof(subject.id));
    memset(subject.pseudonym, 'f', 2 * CPM_HASH_BYTES);
    cpm_strlcpy(subject.age_status, "unknown", sizeof(subject.age_status));
    /* Its first event: g = 0 is an evidence event, so the fill starts at 1. */
    char leaf[LEAF_BYTES + 1];
    struct cpm_event e = {.time_ms = TIME_BASE_MS};
    snprintf(e.id, sizeof(e.id), "evt_%032" PRIx64, (uint64_t)0);
    cpm_strlcpy(e.type, "consent.given", sizeof(e.type));
    cpm_strlcpy(e.subject_id, EVIDENCE_SUBJECT, sizeof(e.subject_id));
    cpm_strlcpy(e.purpose, purposes[0], sizeof(e.purpose));
    e.leaf = leaf;
    e.leaf_len = make_leaf(leaf, 0, &e, subject.pseudonym);
    struct cpm_write_request req = {.subject = &subject, .events = &e, .event_count = 1};
    cpm_err err = cpm_writer_submit(w, &req);
    if (err == CPM_OK)
        atomic_store(&f->written, 1);
    return err;
}

static cpm_err fill_store(struct cpm_store *store, uint64_t total, uint64_t *size,
                          uint8_t root[CPM_HASH_BYTES])
{
    struct cpm_writer *w = NULL;
    cpm_err err = cpm_writer_start(store, NULL, NULL, &w);
    if (err != CPM_OK)
        return err;
    struct fill f = {.writer = w, .total = total, .start_ns = cpm_clock_monotonic_ns()};
    f.stride = total / EVIDENCE_EVENTS > 0 ? total / EVIDENCE_EVENTS : 1;
    atomic_init(&f.next, 1);
    atomic_init(&f.written, 0);
    atomic_init(&f.failed, CPM_OK);
    pthread_mutex_init(&f.progress_lock, NULL);
    err = add_evidence_subject(w, &f);
    pthread_t threads[FILL_THREADS];
    size_t started = 0;
    for (; err == CPM_OK && started < FILL_THREADS; started++)
        if (pthread_create(&threads[started], NULL, fill_run, &f) != 0)
            break;
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (err == CPM_OK && started == 0)
        err = CPM_ERR_INTERNAL;
    if (err == CPM_OK)
        err = (cpm_err)atomic_load(&f.failed);
    double s = seconds_since(f.start_ns);
    cpm_writer_head(w, size, root);
    cpm_writer_stop(w);
    pthread_mutex_destroy(&f.progress_lock);
    if (err == CPM_OK && *size != total)
        err = CPM_ERR_INTERNAL;
    if (err == CPM_OK) {
        printf("fill_events=%" PRIu64 " fill_seconds=%.2f fill_events_per_s=%.0f\n", *size, s,
               (double)*size / s);
        printf("evidence_subject_events=%" PRIu64 "\n", (total - 1) / f.stride + 1 < EVIDENCE_EVENTS
                                                            ? (total - 1) / f.stride + 1
                                                            : EVIDENCE_EVENTS);
    }
    return err;
}

/* The tree's upper levels in memory, as cpmd keeps them; NULL until loaded. */
static struct cpm_node_cache *nodes;

static cpm_err read_node(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    struct cpm_store *store = ctx;
    if (nodes != NULL)
        return cpm_node_cache_get(nodes, level, index, out);
    return store->ops->merkle_node_get(store, level, index, out);
}

/* p50, p99, max of n samples in ns, printed in µs under the given name. */
static void print_latencies(const char *name, int64_t *ns, size_t n)
{
    qsort(ns, n, sizeof(*ns), cmp_i64);
    printf("%s_count=%zu %s_p50_us=%.1f %s_p99_us=%.1f %s_max_us=%.1f\n", name, n, name,
           (double)ns[n / 2] / 1e3, name, (double)ns[(n * 99) / 100] / 1e3, name,
           (double)ns[n - 1] / 1e3);
}

static int64_t lat[PROOFS];

static cpm_err bench_inclusion(struct cpm_store *store, uint64_t size,
                               const uint8_t root[CPM_HASH_BYTES])
{
    uint64_t rng = 0x6f70656e63706d31u;
    uint8_t path[CPM_MERKLE_PATH_MAX][32], leaf[32];
    size_t len = 0, bad = 0, hashes = 0;
    for (size_t i = 0; i < PROOFS; i++) {
        uint64_t index = splitmix64(&rng) % size;
        int64_t t0 = cpm_clock_monotonic_ns();
        cpm_err err = cpm_merkle_inclusion_proof(index, size, read_node, store, path,
                                                 CPM_MERKLE_PATH_MAX, &len);
        lat[i] = cpm_clock_monotonic_ns() - t0;
        if (err == CPM_OK)
            err = read_node(store, 0, index, leaf);
        if (err != CPM_OK)
            return err;
        hashes += len;
        bad +=
            !cpm_merkle_verify_inclusion(index, size, leaf, (const uint8_t(*)[32])path, len, root);
    }
    print_latencies("inclusion", lat, PROOFS);
    printf("inclusion_avg_hashes=%.1f inclusion_unverified=%zu\n", (double)hashes / PROOFS, bad);
    return bad ? CPM_ERR_INTERNAL : CPM_OK;
}

static cpm_err bench_consistency(struct cpm_store *store, uint64_t size,
                                 const uint8_t root[CPM_HASH_BYTES])
{
    uint64_t rng = 0x6f70656e63706d32u;
    uint8_t path[CPM_MERKLE_PATH_MAX][32], old_root[32];
    size_t len = 0, bad = 0;
    for (size_t i = 0; i < PROOFS; i++) {
        uint64_t from = 1 + splitmix64(&rng) % size;
        int64_t t0 = cpm_clock_monotonic_ns();
        cpm_err err = cpm_merkle_consistency_proof(from, size, read_node, store, path,
                                                   CPM_MERKLE_PATH_MAX, &len);
        lat[i] = cpm_clock_monotonic_ns() - t0;
        if (err == CPM_OK)
            err = cpm_merkle_root(from, read_node, store, old_root);
        if (err != CPM_OK)
            return err;
        bad += !cpm_merkle_verify_consistency(from, size, old_root, root,
                                              (const uint8_t(*)[32])path, len);
    }
    print_latencies("consistency", lat, PROOFS);
    printf("consistency_unverified=%zu\n", bad);
    return bad ? CPM_ERR_INTERNAL : CPM_OK;
}

/* What one evidence read gathers: the events' seqs and their proofs' sizes. */
struct evidence {
    struct cpm_store *store;
    uint64_t size;
    bool prove; /* false: list only, to see what the proofs cost on top */
    int64_t first_seq, last_seq;
    size_t events, hashes;
};

static cpm_err evidence_visit(void *ctx, const struct cpm_event *e)
{
    struct evidence *ev = ctx;
    uint8_t path[CPM_MERKLE_PATH_MAX][32];
    size_t len = 0;
    cpm_err err = CPM_OK;
    if (ev->prove)
        err = cpm_merkle_inclusion_proof((uint64_t)e->seq - 1, ev->size, read_node, ev->store, path,
                                         CPM_MERKLE_PATH_MAX, &len);
    if (err != CPM_OK || e->leaf_len != LEAF_BYTES)
        return err != CPM_OK ? err : CPM_ERR_INTERNAL;
    if (ev->events++ == 0)
        ev->first_seq = e->seq;
    ev->hashes += len;
    ev->last_seq = e->seq;
    return CPM_OK;
}

/* Lists the evidence subject's events page by page and proves each, as evidence.c does. */
static cpm_err evidence_read(struct evidence *ev)
{
    ev->events = ev->hashes = 0;
    ev->first_seq = ev->last_seq = 0;
    for (;;) {
        size_t before = ev->events;
        cpm_err err = ev->store->ops->event_list(ev->store, EVIDENCE_SUBJECT, ev->last_seq,
                                                 EVIDENCE_PAGE, evidence_visit, ev);
        if (err != CPM_OK || ev->events - before < EVIDENCE_PAGE)
            return err;
    }
}

/* Times EVIDENCE_RUNS evidence reads into runs (ns, sorted); *first gets the first one's. */
static cpm_err time_evidence(struct evidence *ev, int64_t runs[EVIDENCE_RUNS], int64_t *first)
{
    for (size_t i = 0; i < EVIDENCE_RUNS; i++) {
        int64_t t0 = cpm_clock_monotonic_ns();
        cpm_err err = evidence_read(ev);
        runs[i] = cpm_clock_monotonic_ns() - t0;
        if (err != CPM_OK)
            return err;
    }
    *first = runs[0];
    qsort(runs, EVIDENCE_RUNS, sizeof(*runs), cmp_i64);
    return CPM_OK;
}

static cpm_err bench_evidence(struct cpm_store *store, uint64_t size)
{
    static struct evidence ev;
    ev.store = store;
    ev.size = size;
    int64_t runs[EVIDENCE_RUNS], list_runs[EVIDENCE_RUNS], first = 0, list_first = 0;
    /* With proofs, as the bundle needs; then listing alone, to split the cost. */
    ev.prove = true;
    cpm_err err = time_evidence(&ev, runs, &first);
    ev.prove = false;
    if (err == CPM_OK)
        err = time_evidence(&ev, list_runs, &list_first);
    if (err != CPM_OK)
        return err;
    ev.prove = true;
    err = evidence_read(&ev); /* again, for the path lengths below */
    if (err != CPM_OK)
        return err;
    int64_t span = ev.last_seq - ev.first_seq;
    printf("evidence_events=%zu evidence_avg_hashes=%.1f evidence_seq_span=%" PRId64
           " evidence_runs=%d evidence_first_ms=%.2f evidence_median_ms=%.2f "
           "evidence_max_ms=%.2f evidence_list_only_median_ms=%.2f\n",
           ev.events, ev.events ? (double)ev.hashes / (double)ev.events : 0.0, span, EVIDENCE_RUNS,
           (double)first / 1e6, (double)runs[EVIDENCE_RUNS / 2] / 1e6,
           (double)runs[EVIDENCE_RUNS - 1] / 1e6, (double)list_runs[EVIDENCE_RUNS / 2] / 1e6);
    return CPM_OK;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: cpm-bench-proofs DATA_DIR [EVENTS]   (an empty directory; EVENTS "
            "%d-%d, default %d)\n",
            EVIDENCE_EVENTS, EVENTS_MAX, EVENTS_DEFAULT);
    return 2;
}

int main(int argc, char **argv)
{
    int64_t total = EVENTS_DEFAULT;
    if (argc < 2 || argc > 3 ||
        (argc == 3 && !cpm_parse_int64(argv[2], EVIDENCE_EVENTS, EVENTS_MAX, &total)))
        return usage();
    char db[4096];
    struct stat sb;
    snprintf(db, sizeof(db), "%s/%s", argv[1], CPM_STORE_SQLITE_FILE);
    if (stat(argv[1], &sb) != 0 || !S_ISDIR(sb.st_mode) || stat(db, &sb) == 0) {
        fprintf(stderr, "cpm-bench-proofs: %s must be an existing directory without a store\n",
                argv[1]);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "cpm-bench-proofs: libsodium did not initialise\n");
        return 1;
    }
    struct cpm_store *store = NULL;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    cpm_err err = cpm_store_open(argv[1], &store, &detail);
    uint64_t size = 0;
    uint8_t root[CPM_HASH_BYTES], stored_root[CPM_HASH_BYTES];
    if (err == CPM_OK)
        err = fill_store(store, (uint64_t)total, &size, root);
    /* The writer's root must be the one the stored nodes give. */
    if (err == CPM_OK)
        err = cpm_merkle_root(size, read_node, store, stored_root);
    if (err == CPM_OK && sodium_memcmp(root, stored_root, CPM_HASH_BYTES) != 0)
        err = CPM_ERR_INTERNAL;
    int64_t load_ns = cpm_clock_monotonic_ns();
    if (err == CPM_OK)
        err = cpm_node_cache_new(store, &nodes);
    if (err == CPM_OK)
        printf("upper_levels_load_ms=%.1f\n", (double)(cpm_clock_monotonic_ns() - load_ns) / 1e6);
    if (err == CPM_OK)
        err = bench_inclusion(store, size, root);
    if (err == CPM_OK)
        err = bench_consistency(store, size, root);
    if (err == CPM_OK)
        err = bench_evidence(store, size);
    cpm_node_cache_free(nodes);
    cpm_store_close(store);
    if (err != CPM_OK) {
        fprintf(stderr, "cpm-bench-proofs: failed: %s%s%s\n", cpm_err_message(err),
                detail.count ? ": " : "", detail.count ? detail.faults[0].message : "");
        return 1;
    }
    return 0;
}
