/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_baseline.c — the raw SQLite baseline for durable writes: rows the
 * size of a ledger event (a ~500-byte leaf blob, an id, a type, a subject, a
 * purpose, a time) inserted into a table shaped like `events` (same unique id
 * and subject index), WAL with synchronous=FULL, ROWS rows per transaction,
 * for SECONDS seconds. ROWS = 1 is the naive design (one fsync per event),
 * ROWS = 100 a group-commit ceiling with nothing else to do.
 *
 * Usage: cpm-bench-sqlite DB_PATH ROWS_PER_COMMIT SECONDS
 * Prints one line: rows_per_commit=… rows=… commits=… seconds=… rows_per_s=…
 * commit_p50_us=… commit_p99_us=…. DB_PATH must not exist; it is left behind.
 * Links SQLite only, on purpose: it measures the database, not OpenCPM.
 */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define LEAF_BYTES   500
#define ROWS_MAX     100000
#define SECONDS_MAX  3600.0
#define LATENCY_INIT 4096

static const char *const schema = "PRAGMA journal_mode = WAL;"
                                  "PRAGMA synchronous = FULL;"
                                  "CREATE TABLE events ("
                                  "  seq INTEGER PRIMARY KEY,"
                                  "  id TEXT NOT NULL UNIQUE,"
                                  "  type TEXT NOT NULL,"
                                  "  subject_id TEXT,"
                                  "  purpose TEXT,"
                                  "  time_ms INTEGER NOT NULL,"
                                  "  leaf BLOB NOT NULL"
                                  ") STRICT;"
                                  "CREATE INDEX events_by_subject ON events (subject_id, seq);";

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_seconds(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0 && v <= SECONDS_MAX))
        return false;
    *out = v;
    return true;
}

/* A leaf-like text of exactly LEAF_BYTES bytes that differs per row. */
static void make_leaf(char *leaf, int64_t n)
{
    int len = snprintf(leaf, LEAF_BYTES + 1,
                       "{\"v\":1,\"id\":\"evt_%032" PRIx64 "\",\"type\":\"consent.given\","
                       "\"subject\":\"%064" PRIx64 "\",\"purpose\":\"marketing.sms\","
                       "\"notice\":{\"id\":\"privacy\",\"version\":1},\"pad\":\"",
                       (uint64_t)n, (uint64_t)n * 0x9E3779B97F4A7C15u);
    for (int i = len; i < LEAF_BYTES - 2; i++)
        leaf[i] = (char)('a' + (n + i) % 26);
    leaf[LEAF_BYTES - 2] = '"';
    leaf[LEAF_BYTES - 1] = '}';
}

static int fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "cpm-bench-sqlite: %s: %s\n", what, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return 1;
}

static bool exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

int main(int argc, char **argv)
{
    long rows_per_commit = 0;
    double seconds = 0;
    if (argc != 4 || !parse_long(argv[2], 1, ROWS_MAX, &rows_per_commit) ||
        !parse_seconds(argv[3], &seconds)) {
        fprintf(stderr, "usage: cpm-bench-sqlite DB_PATH ROWS_PER_COMMIT(1-%d) SECONDS\n",
                ROWS_MAX);
        return 2;
    }
    struct stat sb;
    if (stat(argv[1], &sb) == 0) {
        fprintf(stderr, "cpm-bench-sqlite: %s exists; give a fresh path\n", argv[1]);
        return 2;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK)
        return fail(db, "open");
    if (!exec(db, schema))
        return fail(db, "schema");
    sqlite3_stmt *insert = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO events (seq, id, type, subject_id, purpose, time_ms, leaf)"
                           " VALUES (?1, ?2, 'consent.given', ?3, 'marketing.sms', ?4, ?5)",
                           -1, &insert, NULL) != SQLITE_OK)
        return fail(db, "prepare");

    size_t lat_cap = LATENCY_INIT, commits = 0;
    int64_t *lat = malloc(lat_cap * sizeof(*lat));
    if (lat == NULL)
        return fail(NULL, "latencies");
    char leaf[LEAF_BYTES + 1], id[48], subject[32];
    int64_t rows = 0;
    const int64_t start = now_ns(), stop = start + (int64_t)(seconds * 1e9);
    int64_t t = start;
    while (t < stop) {
        if (!exec(db, "BEGIN IMMEDIATE"))
            return fail(db, "begin");
        for (long i = 0; i < rows_per_commit; i++, rows++) {
            make_leaf(leaf, rows);
            snprintf(id, sizeof(id), "evt_%032" PRIx64, (uint64_t)rows);
            snprintf(subject, sizeof(subject), "s%" PRId64, rows / 4);
            sqlite3_bind_int64(insert, 1, rows + 1);
            sqlite3_bind_text(insert, 2, id, -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, 3, subject, -1, SQLITE_STATIC);
            sqlite3_bind_int64(insert, 4, 1767225600000 + rows);
            sqlite3_bind_blob(insert, 5, leaf, LEAF_BYTES, SQLITE_STATIC);
            if (sqlite3_step(insert) != SQLITE_DONE)
                return fail(db, "insert");
            sqlite3_reset(insert);
        }
        if (!exec(db, "COMMIT"))
            return fail(db, "commit");
        int64_t after = now_ns();
        if (commits == lat_cap) {
            int64_t *grown = realloc(lat, 2 * lat_cap * sizeof(*lat));
            if (grown == NULL)
                return fail(NULL, "latencies");
            lat = grown;
            lat_cap *= 2;
        }
        lat[commits++] = after - t;
        t = after;
    }
    double elapsed = (double)(t - start) / 1e9;
    qsort(lat, commits, sizeof(*lat), cmp_i64);
    printf("rows_per_commit=%ld rows=%" PRId64 " commits=%zu seconds=%.3f rows_per_s=%.0f "
           "commit_p50_us=%.0f commit_p99_us=%.0f\n",
           rows_per_commit, rows, commits, elapsed, (double)rows / elapsed,
           (double)lat[commits / 2] / 1e3, (double)lat[(commits * 99) / 100] / 1e3);
    free(lat);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    return 0;
}
