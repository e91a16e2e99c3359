/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_reports.c — the reports' counts (docs/REPORTS.md): the day of
 * an instant in Asia/Shanghai and strict day parsing; which events count
 * and under which key (read from the leaf); counts added by batch_write
 * and delivery_record in their own transaction (a failed batch adds
 * nothing); reads summed by any grouping, with the row cap; the reads'
 * query plans touch only the count tables, by primary key; and migration
 * 10's backfill gives the same counts as the writer kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/fixture.h"
#include "support/store_fixture.h"

#include "domain/report.h"
#include "store/sqlite_internal.h"

struct fixture {
    char dir[FIXTURE_DIR_BYTES];
    struct cpm_store *store;
    int64_t seq; /* the last event written */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->store = fixture_store_open(f->dir, "/tmp/cpm-reports");
    *state = f;
    return f->store == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = fixture_store_close(f->store, f->dir);
    free(f);
    return rc;
}

/* 2026-03-01T00:00:00+08:00, and the hour */
#define MARCH_1_MS 1772294400000LL
#define HOUR_MS    3600000LL

static void test_days(void **state)
{
    (void)state;
    char day[CPM_REPORT_DAY_BYTES];
    /* Shanghai midnight is 16:00 UTC the day before */
    cpm_report_day_text(cpm_report_day_of(MARCH_1_MS - 1), day);
    assert_string_equal(day, "2026-02-28");
    cpm_report_day_text(cpm_report_day_of(MARCH_1_MS), day);
    assert_string_equal(day, "2026-03-01");
    cpm_report_day_text(cpm_report_day_of(MARCH_1_MS + 24 * HOUR_MS - 1), day);
    assert_string_equal(day, "2026-03-01");
    cpm_report_day_text(cpm_report_day_of(-1), day); /* floor, not toward zero */
    assert_string_equal(day, "1970-01-01");
    cpm_report_day_text(cpm_report_day_of(-8 * HOUR_MS - 1), day);
    assert_string_equal(day, "1969-12-31");
    int64_t n = 0, m = 0;
    assert_true(cpm_report_day_parse("2026-03-01", &n));
    assert_int_equal(n, cpm_report_day_of(MARCH_1_MS));
    assert_true(cpm_report_day_parse("2024-02-29", &m));
    assert_true(cpm_report_day_parse("1970-01-01", &m));
    assert_int_equal(m, 0);
    assert_true(cpm_report_day_parse("9999-12-31", &m));
    const char *bad[] = {"2026-02-29", "2026-02-30", "2026-13-01", "2026-00-10",
                         "2026-1-01",  "2026-01-1",  "20260101",   "2026-01-01T00:00:00Z",
                         "",           "1969-12-31", "2026/01/01", " 2026-01-01",
                         "２026-01-01"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad); i++)
        assert_false(cpm_report_day_parse(bad[i], &n));
    assert_false(cpm_report_day_parse(NULL, &n));
}

static bool key_of(const char *type, const char *leaf, const char *region, struct cpm_report_key *k)
{
    return cpm_report_consent_key(type, "marketing.sms", leaf, strlen(leaf), region, MARCH_1_MS, k);
}

static void test_keys(void **state)
{
    (void)state;
    struct cpm_report_key k;
    const char *leaf = "{\"v\":1,\"id\":\"evt_1\",\"type\":\"consent.given\",\"purpose\":"
                       "\"marketing.sms\",\"property\":\"shop\",\"channel\":\"app\","
                       "\"method\":\"click\",\"notice\":{\"id\":\"privacy\"}}";
    assert_true(key_of("consent.given", leaf, "CN-HK", &k));
    assert_string_equal(k.day, "2026-03-01");
    assert_string_equal(k.purpose, "marketing.sms");
    assert_string_equal(k.property, "shop");
    assert_string_equal(k.channel, "app");
    assert_string_equal(k.region, "CN-HK");
    assert_string_equal(k.decision, "given");
    for (size_t i = 0; cpm_report_decisions[i] != NULL; i++) {
        char type[64];
        snprintf(type, sizeof(type), "consent.%s", cpm_report_decisions[i]);
        assert_true(key_of(type, leaf, "", &k));
        assert_string_equal(k.decision, cpm_report_decisions[i]);
    }
    /* not decisions */
    assert_false(key_of("consent.reconsent_required", leaf, "", &k));
    assert_false(key_of("consent.expiring", leaf, "", &k));
    assert_false(key_of("notice.displayed", leaf, "", &k));
    assert_false(key_of("config.created", leaf, "", &k));
    assert_false(key_of("consent.", leaf, "", &k));
    /* a merge's carried copy was counted when the device decided */
    assert_false(key_of("consent.given",
                        "{\"type\":\"consent.given\",\"property\":\"shop\",\"channel\":\"web\","
                        "\"method\":\"merge\"}",
                        "", &k));
    /* a system event names no property or channel; a value with an escape, or not a string,
     * reads "" */
    assert_true(
        key_of("consent.expired", "{\"v\":1,\"type\":\"consent.expired\",\"ends\":3}", NULL, &k));
    assert_string_equal(k.property, "");
    assert_string_equal(k.channel, "");
    assert_string_equal(k.region, "");
    assert_true(key_of("consent.given", "{\"property\":\"a\\\"b\",\"channel\":7}", "", &k));
    assert_string_equal(k.property, "");
    assert_string_equal(k.channel, "");
    /* a truncated leaf: no closing quote */
    assert_true(key_of("consent.given", "{\"channel\":\"web", "", &k));
    assert_string_equal(k.channel, "");
}

/* A consent event's leaf as the API writes it (the fields the counts read). */
static void consent_event(struct cpm_event *e, char *leaf, size_t size, int64_t seq,
                          const char *type, const char *purpose, const char *channel,
                          const char *method, const char *region, int64_t time_ms)
{
    memset(e, 0, sizeof(*e));
    e->seq = seq;
    snprintf(e->id, sizeof(e->id), "evt_%lld", (long long)seq);
    cpm_strlcpy(e->type, type, sizeof(e->type));
    cpm_strlcpy(e->purpose, purpose, sizeof(e->purpose));
    cpm_strlcpy(e->region, region, sizeof(e->region));
    e->time_ms = time_ms;
    snprintf(leaf, size,
             "{\"v\":1,\"id\":\"%s\",\"type\":\"%s\",\"purpose\":\"%s\",\"property\":\"shop\","
             "\"channel\":\"%s\",\"method\":\"%s\"}",
             e->id, type, purpose, channel, method);
    e->leaf = leaf;
    e->leaf_len = strlen(leaf);
}

struct spec {
    const char *type, *purpose, *channel, *method, *region;
    int64_t time_ms;
};

/* Writes the events of specs in one batch; returns batch_write's answer. */
static cpm_err write(struct fixture *f, const struct spec *specs, size_t n, int64_t first_seq)
{
    struct cpm_event events[16];
    char leaves[16][256];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        consent_event(&events[i], leaves[i], sizeof(leaves[i]), first_seq + (int64_t)i,
                      specs[i].type, specs[i].purpose, specs[i].channel, specs[i].method,
                      specs[i].region, specs[i].time_ms);
    struct cpm_write_batch b = {.events = events, .event_count = n};
    cpm_err err = f->store->ops->batch_write(f->store, &b);
    if (err == CPM_OK)
        f->seq = first_seq + (int64_t)n - 1;
    return err;
}

/* What the test's events are: March 1st and 2nd (Shanghai), two purposes, three channels. */
static const struct spec specs[] = {
    {"consent.given", "marketing.sms", "web", "click", "CN", MARCH_1_MS + 1},
    {"consent.given", "marketing.sms", "web", "click", "CN", MARCH_1_MS + 2},
    {"consent.given", "marketing.sms", "web", "click", "CN", MARCH_1_MS + 3},
    {"consent.refused", "marketing.sms", "app", "click", "CN-HK", MARCH_1_MS + 4},
    {"config.updated", "", "", "", "", MARCH_1_MS + 5},
    {"consent.given", "marketing.sms", "web", "merge", "", MARCH_1_MS + 6},
    {"consent.withdrawn", "marketing.sms", "sms", "sms_reply", "CN", MARCH_1_MS + 24 * HOUR_MS},
    {"consent.given", "ads", "web", "click", "", MARCH_1_MS + 24 * HOUR_MS - 1},
    {"consent.given", "ads", "web", "click", "", MARCH_1_MS - 1}, /* February 28th */
};

struct got {
    int count;
    struct cpm_report_row rows[32];
};

static cpm_err see(void *ctx, const struct cpm_report_row *r)
{
    struct got *g = ctx;
    assert_true(g->count < 32);
    g->rows[g->count++] = *r;
    return CPM_OK;
}

static struct got report(struct fixture *f, const char *from, const char *to, unsigned group,
                         const char *purpose, int rows_max, cpm_err expect)
{
    struct cpm_report_query q = {.purpose = purpose, .group = group, .rows_max = rows_max};
    cpm_strlcpy(q.from_day, from, sizeof(q.from_day));
    cpm_strlcpy(q.to_day, to, sizeof(q.to_day));
    struct got g = {0};
    assert_int_equal(f->store->ops->report_consents(f->store, &q, see, &g), expect);
    return g;
}

static void assert_row(const struct cpm_report_row *r, const char *day, const char *purpose,
                       const char *channel, const char *region, const char *decision, int64_t n)
{
    assert_string_equal(r->day, day);
    assert_string_equal(r->purpose, purpose);
    assert_string_equal(r->channel, channel);
    assert_string_equal(r->region, region);
    assert_string_equal(r->decision, decision);
    assert_int_equal(r->count, n);
}

static void test_counts_kept_by_batch_write(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = cpm__sqlite_db(f->store);
    assert_int_equal(write(f, specs, CPM_ARRAY_LEN(specs), 1), CPM_OK);
    /* the run of three equal keys is one row; the merge and the configuration event count not */
    assert_int_equal(fixture_query_int(db, "SELECT sum(count) FROM report_consents"), 7);
    assert_int_equal(fixture_query_int(db, "SELECT count(*) FROM report_consents"), 5);

    struct got g = report(f, "2026-03-01", "2026-03-01",
                          CPM_REPORT_BY_DAY | CPM_REPORT_BY_PURPOSE | CPM_REPORT_BY_CHANNEL |
                              CPM_REPORT_BY_REGION,
                          NULL, 100, CPM_OK);
    assert_int_equal(g.count, 3);
    assert_row(&g.rows[0], "2026-03-01", "ads", "web", "", "given", 1);
    assert_row(&g.rows[1], "2026-03-01", "marketing.sms", "app", "CN-HK", "refused", 1);
    assert_row(&g.rows[2], "2026-03-01", "marketing.sms", "web", "CN", "given", 3);
    assert_string_equal(g.rows[2].property, "");

    g = report(f, "2026-02-01", "2026-03-31", CPM_REPORT_BY_CHANNEL, NULL, 100, CPM_OK);
    assert_int_equal(g.count, 3); /* by channel, then decision */
    assert_row(&g.rows[0], "", "", "app", "", "refused", 1);
    assert_row(&g.rows[1], "", "", "sms", "", "withdrawn", 1);
    assert_row(&g.rows[2], "", "", "web", "", "given", 5);

    g = report(f, "2026-03-02", "2026-12-31", CPM_REPORT_BY_DAY, "marketing.sms", 100, CPM_OK);
    assert_int_equal(g.count, 1);
    assert_row(&g.rows[0], "2026-03-02", "", "", "", "withdrawn", 1);

    g = report(f, "2026-01-01", "2026-12-31", CPM_REPORT_BY_PROPERTY, NULL, 100, CPM_OK);
    assert_int_equal(g.count, 3);
    assert_string_equal(g.rows[0].property, "shop");

    g = report(f, "2026-03-03", "2026-12-31", CPM_REPORT_BY_DAY, NULL, 100, CPM_OK);
    assert_int_equal(g.count, 0);
    /* over the cap: nothing visited */
    g = report(f, "2026-01-01", "2026-12-31", CPM_REPORT_BY_DAY | CPM_REPORT_BY_PURPOSE, NULL, 2,
               CPM_ERR_TOO_LARGE);
    assert_int_equal(g.count, 0);

    /* a batch that fails (its second event's id is taken) adds nothing, not even its first */
    struct cpm_event events[2];
    char leaves[2][256];
    for (int i = 0; i < 2; i++)
        consent_event(&events[i], leaves[i], sizeof(leaves[i]), f->seq + 1 + i, "consent.given",
                      "marketing.sms", "web", "click", "CN", MARCH_1_MS);
    cpm_strlcpy(events[1].id, "evt_1", sizeof(events[1].id));
    struct cpm_write_batch b = {.events = events, .event_count = 2};
    assert_int_equal(f->store->ops->batch_write(f->store, &b), CPM_ERR_CONFLICT);
    assert_int_equal(fixture_query_int(db, "SELECT sum(count) FROM report_consents"), 7);
    cpm_strlcpy(events[1].id, "evt_new", sizeof(events[1].id));
    assert_int_equal(f->store->ops->batch_write(f->store, &b), CPM_OK);
    assert_int_equal(fixture_query_int(db, "SELECT sum(count) FROM report_consents"), 9);
}

static struct cpm_delivery delivery(const char *outcome, int64_t time_ms, int64_t lag_ms)
{
    struct cpm_delivery d = {.seq = 1, .attempt = 1, .time_ms = time_ms, .lag_ms = lag_ms};
    cpm_strlcpy(d.event_id, "evt_1", sizeof(d.event_id));
    cpm_strlcpy(d.event_type, "consent.given", sizeof(d.event_type));
    cpm_strlcpy(d.outcome, outcome, sizeof(d.outcome));
    return d;
}

struct got_deliveries {
    int count;
    struct cpm_report_delivery_row rows[8];
};

static cpm_err see_delivery(void *ctx, const struct cpm_report_delivery_row *r)
{
    struct got_deliveries *g = ctx;
    assert_true(g->count < 8);
    g->rows[g->count++] = *r;
    return CPM_OK;
}

static void test_deliveries(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_delivery rows[] = {
        delivery("delivered", MARCH_1_MS, 10),          delivery("delivered", MARCH_1_MS + 1, 30),
        delivery("failed", MARCH_1_MS + 2, 5),          delivery("delivered", MARCH_1_MS + 3, 20),
        delivery("dead", MARCH_1_MS + 24 * HOUR_MS, 7),
    };
    struct cpm_lane_cursor cursor = {0, 1};
    assert_int_equal(ops->delivery_record(f->store, "crm", rows, 4, &cursor, 1), CPM_OK);
    assert_int_equal(ops->delivery_record(f->store, "crm", rows + 4, 1, &cursor, 1), CPM_OK);
    assert_int_equal(ops->delivery_record(f->store, "bi", rows, 1, &cursor, 1), CPM_OK);
    struct cpm_report_query q = {.rows_max = 100};
    cpm_strlcpy(q.from_day, "2026-03-01", sizeof(q.from_day));
    cpm_strlcpy(q.to_day, "2026-03-02", sizeof(q.to_day));
    struct got_deliveries g = {0};
    assert_int_equal(ops->report_deliveries(f->store, &q, see_delivery, &g), CPM_OK);
    assert_int_equal(g.count, 4); /* by day, destination, outcome */
    assert_string_equal(g.rows[0].destination_id, "bi");
    assert_int_equal(g.rows[0].count, 1);
    assert_string_equal(g.rows[1].destination_id, "crm");
    assert_string_equal(g.rows[1].outcome, "delivered");
    assert_int_equal(g.rows[1].count, 3);
    assert_int_equal(g.rows[1].lag_ms_sum, 60);
    assert_int_equal(g.rows[1].lag_ms_max, 30);
    assert_string_equal(g.rows[2].outcome, "failed");
    assert_int_equal(g.rows[2].count, 1);
    assert_string_equal(g.rows[3].day, "2026-03-02");
    assert_string_equal(g.rows[3].outcome, "dead");
    memset(&g, 0, sizeof(g));
    q.destination_id = "bi";
    assert_int_equal(ops->report_deliveries(f->store, &q, see_delivery, &g), CPM_OK);
    assert_int_equal(g.count, 1);
}

/* The plan of a prepared statement, one detail line per row, joined. */
static void plan_of(sqlite3 *db, sqlite3_stmt *prepared, char *out, size_t size)
{
    char sql[2048];
    snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", sqlite3_sql(prepared));
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s; ", (const char *)sqlite3_column_text(st, 3));
    }
    sqlite3_finalize(st);
}

static void test_reads_never_scan_the_events(void **state)
{
    struct fixture *f = *state;
    struct sqlite_store *s = (struct sqlite_store *)f->store;
    char plan[1024];
    plan_of(s->db, s->stmts[ST_REPORT_CONSENTS], plan, sizeof(plan));
    assert_non_null(strstr(plan, "SEARCH report_consents USING PRIMARY KEY (day>? AND day<?)"));
    assert_null(strstr(plan, "events"));
    assert_null(strstr(plan, "SCAN"));
    plan_of(s->db, s->stmts[ST_REPORT_DELIVERIES], plan, sizeof(plan));
    assert_non_null(strstr(plan, "SEARCH report_deliveries USING PRIMARY KEY (day>? AND day<?)"));
    assert_null(strstr(plan, "SCAN"));
    assert_null(strstr(plan, "SEARCH deliveries"));
}

static void test_backfill_matches_the_writer(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    assert_int_equal(write(f, specs, CPM_ARRAY_LEN(specs), 1), CPM_OK);
    struct cpm_delivery rows[] = {delivery("delivered", MARCH_1_MS, 10),
                                  delivery("dead", MARCH_1_MS, 40)};
    struct cpm_lane_cursor cursor = {0, 1};
    assert_int_equal(ops->delivery_record(f->store, "crm", rows, 2, &cursor, 1), CPM_OK);
    const char *counts = "SELECT group_concat(day || '|' || purpose || '|' || property || '|' ||"
                         " channel || '|' || decision || '|' || count, ';') FROM (SELECT day,"
                         " purpose, property, channel, decision, sum(count) AS count FROM"
                         " report_consents GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5)";
    const char *sent = "SELECT group_concat(day || destination_id || outcome || count ||"
                       " lag_ms_sum || lag_ms_max, ';') FROM report_deliveries";
    sqlite3 *db = cpm__sqlite_db(f->store);
    sqlite3_stmt *st = NULL;
    char kept[2048], kept_sent[256];
    assert_int_equal(sqlite3_prepare_v2(db, counts, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    cpm_strlcpy(kept, (const char *)sqlite3_column_text(st, 0), sizeof(kept));
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, sent, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    cpm_strlcpy(kept_sent, (const char *)sqlite3_column_text(st, 0), sizeof(kept_sent));
    sqlite3_finalize(st);
    /* a store from before migration 10: no count tables */
    cpm_store_close(f->store);
    char path[FIXTURE_DIR_BYTES + 16];
    snprintf(path, sizeof(path), "%s/" CPM_STORE_SQLITE_FILE, f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TABLE report_consents; DROP TABLE report_deliveries;"
                                  " PRAGMA user_version = 9;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    assert_int_equal(cpm_store_open(f->dir, &f->store, &detail), CPM_OK);
    db = cpm__sqlite_db(f->store);
    assert_int_equal(sqlite3_prepare_v2(db, counts, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), kept);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, sent, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), kept_sent);
    sqlite3_finalize(st);
    /* the region is not in the leaves: what was counted before the migration has none */
    assert_int_equal(
        fixture_query_int(db, "SELECT count(*) FROM report_consents WHERE region <> ''"), 0);
    assert_int_equal(fixture_query_int(db, "SELECT sum(count) FROM report_consents"), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days),
        cmocka_unit_test(test_keys),
        cmocka_unit_test_setup_teardown(test_counts_kept_by_batch_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliveries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_never_scan_the_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backfill_matches_the_writer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
