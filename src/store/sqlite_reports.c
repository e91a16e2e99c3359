/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_reports.c — the reports' counts (docs/REPORTS.md) in the SQLite
 * store: added to report_consents by batch_write and to report_deliveries
 * by delivery_record, inside the transaction that writes the events or
 * delivery rows they count, so a count can never disagree with the ledger
 * (both commit, or neither does); and read back, summed over a range of
 * days, by the reports API. Nothing here reads the events table: migration
 * 10 counted what was there before, once.
 *
 * Equal keys of a batch (an import's rows of one day and purpose, a
 * destination's flush) become one upsert.
 */
#include "core/common.h"

#include "core/alloc.h"
#include "store/sqlite_internal.h"

static cpm_err add_consents(struct sqlite_store *s, const struct cpm_report_key *k, int64_t count)
{
    sqlite3_stmt *st = s->stmts[ST_REPORT_CONSENT_ADD];
    int rc = cpm__sqlite_bind_text(st, 1, k->day);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, k->purpose);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, k->property);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 4, k->channel);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 5, k->region);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 6, k->decision);
    rc = rc ? rc : sqlite3_bind_int64(st, 7, count);
    return cpm__sqlite_run(s, ST_REPORT_CONSENT_ADD, rc, "batch_write report");
}

static int key_order(const void *a, const void *b)
{
    return memcmp(*(const struct cpm_report_key *const *)a,
                  *(const struct cpm_report_key *const *)b, sizeof(struct cpm_report_key));
}

/*
 * One upsert per distinct key of the batch: an import's chunk holds
 * thousands of events but far fewer keys, and a subject's rows (together
 * in the file) are of different purposes, so runs alone would not join
 * them. The keys are sorted (cpm_report_consent_key zeroes each whole, so
 * memcmp compares them), which also makes the upserts go in key order.
 */
cpm_err cpm__sqlite_batch_reports(struct sqlite_store *s, const struct cpm_write_batch *b)
{
    if (b->event_count == 0)
        return CPM_OK;
    struct cpm_report_key *keys = cpm_malloc(b->event_count * sizeof(*keys));
    const struct cpm_report_key **order = cpm_malloc(b->event_count * sizeof(*order));
    size_t n = 0;
    cpm_err err = keys != NULL && order != NULL ? CPM_OK : CPM_ERR_NOMEM;
    for (size_t i = 0; err == CPM_OK && i < b->event_count; i++) {
        const struct cpm_event *e = &b->events[i];
        if (cpm_report_consent_key(e->type, e->purpose, e->leaf, e->leaf_len, e->region, e->time_ms,
                                   &keys[n])) {
            order[n] = &keys[n];
            n++;
        }
    }
    if (err == CPM_OK && n > 1)
        qsort(order, n, sizeof(*order), key_order);
    for (size_t i = 0, run = 0; err == CPM_OK && i < n; i = run) {
        for (run = i + 1; run < n && key_order(&order[i], &order[run]) == 0; run++)
            ;
        err = add_consents(s, order[i], (int64_t)(run - i));
    }
    cpm_free(order);
    cpm_free(keys);
    return err;
}

/* The outcomes of one day of one destination, summed. */
struct delivery_run {
    char day[CPM_REPORT_DAY_BYTES];
    const char *outcome;
    int64_t count, lag_ms_sum, lag_ms_max;
};

static cpm_err add_deliveries(struct sqlite_store *s, const char *destination_id,
                              const struct delivery_run *r)
{
    sqlite3_stmt *st = s->stmts[ST_REPORT_DELIVERY_ADD];
    int rc = cpm__sqlite_bind_text(st, 1, r->day);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, destination_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, r->outcome);
    rc = rc ? rc : sqlite3_bind_int64(st, 4, r->count);
    rc = rc ? rc : sqlite3_bind_int64(st, 5, r->lag_ms_sum);
    rc = rc ? rc : sqlite3_bind_int64(st, 6, r->lag_ms_max);
    return cpm__sqlite_run(s, ST_REPORT_DELIVERY_ADD, rc, "delivery_record report");
}

cpm_err cpm__sqlite_delivery_reports(struct sqlite_store *s, const char *destination_id,
                                     const struct cpm_delivery *rows, size_t count)
{
    struct delivery_run run = {0};
    cpm_err err = CPM_OK;
    for (size_t i = 0; err == CPM_OK && i < count; i++) {
        const struct cpm_delivery *d = &rows[i];
        char day[CPM_REPORT_DAY_BYTES];
        cpm_report_day_text(cpm_report_day_of(d->time_ms), day);
        if (run.count > 0 && strcmp(run.day, day) == 0 && strcmp(run.outcome, d->outcome) == 0) {
            run.count++;
            run.lag_ms_sum += d->lag_ms;
            run.lag_ms_max = d->lag_ms > run.lag_ms_max ? d->lag_ms : run.lag_ms_max;
            continue;
        }
        if (run.count > 0)
            err = add_deliveries(s, destination_id, &run);
        memcpy(run.day, day, sizeof(run.day));
        run.outcome = d->outcome;
        run.count = 1;
        run.lag_ms_sum = run.lag_ms_max = d->lag_ms;
    }
    if (err == CPM_OK && run.count > 0)
        err = add_deliveries(s, destination_id, &run);
    return err;
}

/* Binds NULL for "every" (NULL or ""). */
static int bind_filter(sqlite3_stmt *st, int i, const char *value)
{
    return value != NULL && value[0] ? cpm__sqlite_bind_text(st, i, value)
                                     : sqlite3_bind_null(st, i);
}

static cpm_err read_consent_row(sqlite3_stmt *st, void *item)
{
    struct cpm_report_row *r = item;
    memset(r, 0, sizeof(*r));
    cpm__sqlite_column_copy(st, 0, r->day, sizeof(r->day));
    cpm__sqlite_column_copy(st, 1, r->purpose, sizeof(r->purpose));
    cpm__sqlite_column_copy(st, 2, r->property, sizeof(r->property));
    cpm__sqlite_column_copy(st, 3, r->channel, sizeof(r->channel));
    cpm__sqlite_column_copy(st, 4, r->region, sizeof(r->region));
    cpm__sqlite_column_copy(st, 5, r->decision, sizeof(r->decision));
    r->count = sqlite3_column_int64(st, 6);
    return CPM_OK;
}

static cpm_err read_delivery_row(sqlite3_stmt *st, void *item)
{
    struct cpm_report_delivery_row *r = item;
    memset(r, 0, sizeof(*r));
    cpm__sqlite_column_copy(st, 0, r->day, sizeof(r->day));
    cpm__sqlite_column_copy(st, 1, r->destination_id, sizeof(r->destination_id));
    cpm__sqlite_column_copy(st, 2, r->outcome, sizeof(r->outcome));
    r->count = sqlite3_column_int64(st, 3);
    r->lag_ms_sum = sqlite3_column_int64(st, 4);
    r->lag_ms_max = sqlite3_column_int64(st, 5);
    return CPM_OK;
}

/* LIMIT rows_max + 1: one more than allowed says the answer would be too large. */
static int limit_of(const struct cpm_report_query *q)
{
    return q->rows_max > 0 && q->rows_max < INT32_MAX ? q->rows_max + 1 : INT32_MAX;
}

/*
 * Steps the bound report statement id into rows and releases s; TOO_LARGE
 * when more than q->rows_max came back (it asked for limit_of(q)).
 */
static cpm_err collect_report(struct sqlite_store *s, enum stmt id, int rc, const char *op,
                              read_row_fn read, const struct cpm_report_query *q, struct rows *rows)
{
    cpm_err err = cpm__sqlite_collect(s, id, rc, op, read, rows);
    cpm__sqlite_unlock(s);
    return err == CPM_OK && q->rows_max > 0 && rows->count > q->rows_max ? CPM_ERR_TOO_LARGE : err;
}

cpm_err cpm__sqlite_report_consents(struct cpm_store *store, const struct cpm_report_query *q,
                                    cpm_report_row_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_report_row)};
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_REPORT_CONSENTS];
    int rc = cpm__sqlite_bind_text(st, 1, q->from_day);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, q->to_day);
    rc = rc ? rc : bind_filter(st, 3, q->purpose);
    rc = rc ? rc : bind_filter(st, 4, q->property);
    rc = rc ? rc : sqlite3_bind_int(st, 5, (int)q->group);
    rc = rc ? rc : sqlite3_bind_int(st, 6, limit_of(q));
    cpm_err err =
        collect_report(s, ST_REPORT_CONSENTS, rc, "report_consents", read_consent_row, q, &rows);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, NULL);
    return err;
}

cpm_err cpm__sqlite_report_deliveries(struct cpm_store *store, const struct cpm_report_query *q,
                                      cpm_report_delivery_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_report_delivery_row)};
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_REPORT_DELIVERIES];
    int rc = cpm__sqlite_bind_text(st, 1, q->from_day);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, q->to_day);
    rc = rc ? rc : bind_filter(st, 3, q->destination_id);
    rc = rc ? rc : sqlite3_bind_int(st, 4, limit_of(q));
    cpm_err err = collect_report(s, ST_REPORT_DELIVERIES, rc, "report_deliveries",
                                 read_delivery_row, q, &rows);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, NULL);
    return err;
}
