/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decide_bench.c — cpm-bench-decide: decisions in-process, through the
 * embedding API (include/cpm/decide.h), beside one indexed SQLite lookup
 * per decision on the same store, in the same run.
 *
 * Usage: cpm-bench-decide [--load-only] [--seconds S] DATA_DIR
 *
 * DATA_DIR is a data directory filled by cpm-bench-populate (its
 * bench-population file says how many subjects and events per subject, so
 * every answer is known in advance: bench/population.h).
 *
 *   1. The load: cpm_decider_open (opens the store, loads the index: the
 *      in-process cold start), timed, with VmRSS from /proc/self/status
 *      before and after (the growth includes the two store connections'
 *      SQLite page caches, at most 64 MiB each). --load-only stops here.
 *   2. 4 M pseudo-random existing subject ids (SplitMix64 of the sample
 *      number, mod N), each decided once untimed and compared with the
 *      population's prediction (and an unknown id must be denied).
 *   3. cpm_decider_prepare("marketing.sms") then cpm_decider_decide over
 *      those ids, round and round, on this one thread, for S seconds
 *      (default 5) after a 1 s warm-up: decisions/s. Target >= 5 M/s on one
 *      core with 10 M subjects.
 *   4. The baseline: the same ids, one `SELECT status FROM consent_state
 *      WHERE subject_id = ?1 AND purpose = ?2` each (a primary-key prefix
 *      lookup; a prepared statement, one read-only connection with the
 *      whole file memory-mapped, as fast as SQLite gets), for S seconds
 *      after a 1 s warm-up. allowed = (status = 'given').
 *
 * Both timed loops count their allowed answers, and each count must equal
 * what the population predicts for the ids they decided. Results go to
 * stdout, a table and one `result key=value ...` line for the scripts.
 * Exits 0 whatever the figures; 1 when it could not measure or an answer
 * was wrong; 2 on a usage error.
 */
#include "core/common.h"

#include <inttypes.h>
#include <sqlite3.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/detail.h"
#include "cpm/decide.h"
#include "domain/decide.h"
#include "store/store.h"

#include "population.h"

#define SAMPLE_BITS     22 /* 4 M ids decided round and round */
#define SAMPLE          (1u << SAMPLE_BITS)
#define SAMPLE_SALT     UINT64_C(0x6465636964652121)
#define CLOCK_EVERY     4096 /* decisions between two looks at the clock */
#define SECONDS_DEFAULT 5
#define WARMUP_SECONDS  1
#define TARGET_PER_S    5000000.0
#define PURPOSE_INDEX   0 /* marketing.sms */

struct sample {
    char (*ids)[BENCH_SUBJECT_ID_BYTES];
    bool *expected;
    uint64_t expected_allowed; /* over one round of the sample */
};

struct run {
    uint64_t decisions, allowed;
    double seconds;
};

static double seconds_since(int64_t start_ns)
{
    return (double)(cpm_clock_monotonic_ns() - start_ns) / 1e9;
}

/* VmRSS in KiB; 0 when it cannot be read. */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f != NULL)
        fclose(f);
    return kib;
}

/* Reads DATA_DIR/bench-population: subjects and events per subject. */
static bool read_marker(const char *dir, uint64_t *subjects, unsigned *per_subject,
                        uint64_t *events)
{
    char path[4096], line[256];
    snprintf(path, sizeof(path), "%s/%s", dir, BENCH_MARKER_FILE);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    int64_t v;
    *subjects = *events = 0;
    *per_subject = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        if (!cpm_parse_int64(eq + 1, 0, INT64_MAX, &v))
            continue;
        if (strcmp(line, "subjects") == 0)
            *subjects = (uint64_t)v;
        else if (strcmp(line, "events_per_subject") == 0)
            *per_subject = (unsigned)v;
        else if (strcmp(line, "events") == 0)
            *events = (uint64_t)v;
    }
    fclose(f);
    return *subjects >= 1 && *subjects <= BENCH_SUBJECTS_MAX && *per_subject >= 1 &&
           *per_subject <= BENCH_EVENTS_PER_SUBJECT_MAX;
}

static bool sample_make(struct sample *s, uint64_t subjects, unsigned per_subject)
{
    s->ids = cpm_malloc((size_t)SAMPLE * sizeof(*s->ids));
    s->expected = cpm_malloc(SAMPLE * sizeof(*s->expected));
    if (s->ids == NULL || s->expected == NULL)
        return false;
    s->expected_allowed = 0;
    for (uint32_t k = 0; k < SAMPLE; k++) {
        uint64_t i = bench_mix(k ^ SAMPLE_SALT) % subjects;
        bench_subject_id(i, s->ids[k]);
        s->expected[k] = bench_allowed(i, per_subject, PURPOSE_INDEX);
        s->expected_allowed += s->expected[k];
    }
    return true;
}

/* What the population predicts for the first n decisions of the loop. */
static uint64_t predicted(const struct sample *s, uint64_t n)
{
    uint64_t allowed = (n / SAMPLE) * s->expected_allowed;
    for (uint64_t k = 0; k < n % SAMPLE; k++)
        allowed += s->expected[k];
    return allowed;
}

/* ---- the decider ---- */

static void decide_loop(struct cpm_decider *d, const struct cpm_prepared *q, const struct sample *s,
                        int64_t at_ms, double seconds, struct run *out)
{
    uint64_t n = 0, allowed = 0;
    uint32_t k = 0;
    int64_t start = cpm_clock_monotonic_ns(), stop = start + (int64_t)(seconds * 1e9);
    do {
        for (int i = 0; i < CLOCK_EVERY; i++) {
            struct cpm_answer a;
            cpm_decider_decide(d, q, s->ids[k], at_ms, &a);
            allowed += a.allowed;
            k = (k + 1) & (SAMPLE - 1);
        }
        n += CLOCK_EVERY;
    } while (cpm_clock_monotonic_ns() < stop);
    out->seconds = seconds_since(start);
    out->decisions = n;
    out->allowed = allowed;
}

/* The same through cpm_decider_decide_many, BATCH ids a call (the audience filter's way). */
#define BATCH 64
static void decide_many_loop(struct cpm_decider *d, const struct cpm_prepared *q,
                             const struct sample *s, int64_t at_ms, double seconds, struct run *out)
{
    uint64_t n = 0, allowed = 0;
    uint32_t k = 0;
    const char *ids[BATCH];
    struct cpm_answer a[BATCH];
    int64_t start = cpm_clock_monotonic_ns(), stop = start + (int64_t)(seconds * 1e9);
    do {
        for (int round = 0; round < CLOCK_EVERY / BATCH; round++) {
            for (int i = 0; i < BATCH; i++) {
                ids[i] = s->ids[k];
                k = (k + 1) & (SAMPLE - 1);
            }
            cpm_decider_decide_many(d, q, ids, BATCH, at_ms, a);
            for (int i = 0; i < BATCH; i++)
                allowed += a[i].allowed;
            n += BATCH;
        }
    } while (cpm_clock_monotonic_ns() < stop);
    out->seconds = seconds_since(start);
    out->decisions = n;
    out->allowed = allowed;
}

/* Every sampled id once, untimed, against its prediction; and an unknown id. */
static uint64_t check_answers(struct cpm_decider *d, const struct cpm_prepared *q,
                              const struct sample *s, int64_t at_ms)
{
    uint64_t wrong = 0;
    for (uint32_t k = 0; k < SAMPLE; k++) {
        struct cpm_answer a;
        cpm_decider_decide(d, q, s->ids[k], at_ms, &a);
        if (a.allowed != s->expected[k] || (!a.allowed && a.reasons == 0) ||
            (a.allowed && a.deciding_seq <= 0)) {
            if (wrong++ < 5)
                fprintf(stderr, "cpm-bench-decide: %s: allowed=%d reasons=%#x, expected %d\n",
                        s->ids[k], a.allowed, a.reasons, s->expected[k]);
        }
    }
    struct cpm_answer a;
    cpm_decider_decide(d, q, "nobody-at-all", at_ms, &a);
    if (a.allowed || !(a.reasons & CPM_REASON_BIT(CPM_REASON_UNKNOWN_SUBJECT))) {
        fprintf(stderr, "cpm-bench-decide: an unknown subject was not denied as unknown\n");
        wrong++;
    }
    return wrong;
}

/* ---- the SQLite baseline ---- */

struct baseline {
    sqlite3 *db;
    sqlite3_stmt *st;
};

static bool baseline_open(struct baseline *b, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, CPM_STORE_SQLITE_FILE);
    int rc = sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(b->db,
                          "PRAGMA cache_size = -" CPM_STRINGIFY(
                              CPM_STORE_CACHE_KIB) "; PRAGMA mmap_size = 1099511627776",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(b->db,
                                "SELECT status FROM consent_state WHERE subject_id = ?1 AND"
                                " purpose = ?2",
                                -1, SQLITE_PREPARE_PERSISTENT, &b->st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(b->st, 2, bench_purposes[PURPOSE_INDEX], -1, SQLITE_STATIC);
    if (rc != SQLITE_OK)
        fprintf(stderr, "cpm-bench-decide: SQLite baseline on %s: %s\n", path,
                b->db ? sqlite3_errmsg(b->db) : sqlite3_errstr(rc));
    return rc == SQLITE_OK;
}

static void baseline_close(struct baseline *b)
{
    sqlite3_finalize(b->st);
    sqlite3_close(b->db);
}

/* One lookup: 1 allowed, 0 denied, -1 failed. */
static int baseline_decide(struct baseline *b, const char *id)
{
    int allowed = 0;
    int rc = sqlite3_bind_text(b->st, 1, id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(b->st);
    if (rc == SQLITE_ROW) {
        const char *status = (const char *)sqlite3_column_text(b->st, 0);
        allowed = status != NULL && strcmp(status, "given") == 0;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(b->st);
    return rc == SQLITE_DONE ? allowed : -1;
}

static bool baseline_loop(struct baseline *b, const struct sample *s, double seconds,
                          struct run *out)
{
    uint64_t n = 0, allowed = 0;
    uint32_t k = 0;
    int64_t start = cpm_clock_monotonic_ns(), stop = start + (int64_t)(seconds * 1e9);
    do {
        for (int i = 0; i < CLOCK_EVERY; i++) {
            int a = baseline_decide(b, s->ids[k]);
            if (a < 0) {
                fprintf(stderr, "cpm-bench-decide: SQLite lookup failed: %s\n",
                        sqlite3_errmsg(b->db));
                return false;
            }
            allowed += (unsigned)a;
            k = (k + 1) & (SAMPLE - 1);
        }
        n += CLOCK_EVERY;
    } while (cpm_clock_monotonic_ns() < stop);
    out->seconds = seconds_since(start);
    out->decisions = n;
    out->allowed = allowed;
    return true;
}

/* ---- main ---- */

static int usage(void)
{
    fprintf(stderr, "usage: cpm-bench-decide [--load-only] [--seconds S] DATA_DIR\n"
                    "  DATA_DIR: filled by cpm-bench-populate; S: 1-600, default 5\n");
    return 2;
}

static bool counts_match(const char *what, const struct run *r, const struct sample *s)
{
    uint64_t want = predicted(s, r->decisions);
    if (r->allowed == want)
        return true;
    fprintf(stderr,
            "cpm-bench-decide: %s allowed %" PRIu64 " of %" PRIu64 " decisions; the population "
            "predicts %" PRIu64 "\n",
            what, r->allowed, r->decisions, want);
    return false;
}

int main(int argc, char **argv)
{
    bool load_only = false;
    int64_t seconds = SECONDS_DEFAULT;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--load-only") == 0)
            load_only = true;
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc &&
                 cpm_parse_int64(argv[i + 1], 1, 600, &seconds))
            i++;
        else if (argv[i][0] != '-' && dir == NULL)
            dir = argv[i];
        else
            return usage();
    }
    if (dir == NULL)
        return usage();
    uint64_t subjects = 0, events = 0;
    unsigned per_subject = 0;
    if (!read_marker(dir, &subjects, &per_subject, &events)) {
        fprintf(stderr,
                "cpm-bench-decide: %s/%s is missing or unreadable (fill %s with "
                "cpm-bench-populate first)\n",
                dir, BENCH_MARKER_FILE, dir);
        return 1;
    }

    /* 1. The load. */
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct cpm_decider *d = NULL;
    long rss_before = rss_kib();
    int64_t t0 = cpm_clock_monotonic_ns();
    cpm_err err = cpm_decider_open(dir, &d, &detail);
    double load_s = seconds_since(t0);
    long rss_after = rss_kib();
    if (err != CPM_OK) {
        fprintf(stderr, "cpm-bench-decide: cpm_decider_open(%s): %s%s%s\n", dir,
                cpm_err_message(err), detail.count ? ": " : "",
                detail.count ? detail.faults[0].message : "");
        return 1;
    }
    double bytes_per_subject = (double)(rss_after - rss_before) * 1024.0 / (double)subjects;
    printf("population: %" PRIu64 " subjects, %" PRIu64 " events (%u a subject) in %s\n", subjects,
           events, per_subject, dir);
    printf("load (cpm_decider_open: store + index): %.2f s; RSS %ld -> %ld KiB, +%.1f bytes a "
           "subject\n",
           load_s, rss_before, rss_after, bytes_per_subject);
    if (load_only) {
        printf(
            "result load_s=%.3f rss_before_kib=%ld rss_after_kib=%ld rss_bytes_per_subject=%.1f\n",
            load_s, rss_before, rss_after, bytes_per_subject);
        cpm_decider_free(d);
        return 0;
    }

    /* 2. The sample, and every answer checked once. */
    int status = 1;
    struct sample s = {0};
    struct baseline b = {0};
    struct cpm_prepared q;
    err = cpm_decider_prepare(d, bench_purposes[PURPOSE_INDEX], NULL, NULL, NULL, &q, &detail);
    if (err != CPM_OK) {
        fprintf(stderr, "cpm-bench-decide: prepare %s: %s\n", bench_purposes[PURPOSE_INDEX],
                detail.count ? detail.faults[0].message : cpm_err_message(err));
        goto out;
    }
    if (!sample_make(&s, subjects, per_subject))
        goto out;
    int64_t at_ms = cpm_clock_now_ms();
    uint64_t wrong = check_answers(d, &q, &s, at_ms);
    if (wrong > 0) {
        fprintf(stderr, "cpm-bench-decide: %" PRIu64 " of %u answers differ from the population\n",
                wrong, SAMPLE);
        goto out;
    }

    /* 3. The decider, timed. */
    struct run ours, batched, theirs, warm;
    decide_loop(d, &q, &s, at_ms, WARMUP_SECONDS, &warm);
    decide_loop(d, &q, &s, at_ms, (double)seconds, &ours);
    if (!counts_match("cpm_decider_decide", &warm, &s) ||
        !counts_match("cpm_decider_decide", &ours, &s))
        goto out;
    decide_many_loop(d, &q, &s, at_ms, (double)seconds, &batched);
    if (!counts_match("cpm_decider_decide_many", &batched, &s))
        goto out;

    /* 4. The baseline, timed. */
    if (!baseline_open(&b, dir) || !baseline_loop(&b, &s, WARMUP_SECONDS, &warm) ||
        !baseline_loop(&b, &s, (double)seconds, &theirs))
        goto out;
    if (!counts_match("the SQLite lookup", &warm, &s) ||
        !counts_match("the SQLite lookup", &theirs, &s))
        goto out;

    double ours_per_s = (double)ours.decisions / ours.seconds;
    double batched_per_s = (double)batched.decisions / batched.seconds;
    double theirs_per_s = (double)theirs.decisions / theirs.seconds;
    printf("\nIn-process decisions for %s, one thread, %" PRId64 " s each after a %d s warm-up\n",
           bench_purposes[PURPOSE_INDEX], seconds, WARMUP_SECONDS);
    printf("%-50s %14s %12s\n", "", "decisions/s", "ns each");
    printf("%-50s %14.0f %12.1f  target >= %.0f M/s: %s\n", "cpm_decider_decide (one by one)",
           ours_per_s, 1e9 / ours_per_s, TARGET_PER_S / 1e6,
           ours_per_s >= TARGET_PER_S ? "meets" : "below");
    printf("%-50s %14.0f %12.1f  target >= %.0f M/s: %s\n",
           "cpm_decider_decide_many (64 a call, prefetched)", batched_per_s, 1e9 / batched_per_s,
           TARGET_PER_S / 1e6, batched_per_s >= TARGET_PER_S ? "meets" : "below");
    printf("%-50s %14.0f %12.1f  (the baseline)\n",
           "SQLite SELECT status ... (prepared, PK prefix)", theirs_per_s, 1e9 / theirs_per_s);
    printf("%-50s %13.1fx\n", "index / SQLite", ours_per_s / theirs_per_s);
    printf("answers: %u sampled ids checked one by one; allowed %" PRIu64 " of %" PRIu64
           " (index) and %" PRIu64 " of %" PRIu64 " (SQLite), as the population predicts\n",
           SAMPLE, ours.allowed, ours.decisions, theirs.allowed, theirs.decisions);
    printf("result load_s=%.3f rss_bytes_per_subject=%.1f decide_per_s=%.0f "
           "decide_many_per_s=%.0f sqlite_per_s=%.0f ratio=%.2f\n",
           load_s, bytes_per_subject, ours_per_s, batched_per_s, theirs_per_s,
           ours_per_s / theirs_per_s);
    status = 0;
out:
    baseline_close(&b);
    cpm_free(s.ids);
    cpm_free(s.expected);
    cpm_decider_free(d);
    return status;
}
