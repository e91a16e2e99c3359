/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_sync.c — the SQLite backend's part in sync: each destination's
 * lane cursors and the append-only delivery log (every attempt, its
 * outcome, status and latency: the evidence of when each downstream system
 * acknowledged a change, and of what was not sent and why).
 */
#include "core/common.h"

#include "store/sqlite_internal.h"

cpm_err cpm__sqlite_doc_delete(struct cpm_store *store, enum cpm_doc_kind kind, const char *id)
{
    struct sqlite_store *s = cpm__sqlite_lock(store);
    sqlite3_stmt *st = s->stmts[ST_DOC_DELETE];
    int rc = cpm__sqlite_bind_text(st, 1, cpm_doc_kind_name(kind));
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, id);
    cpm_err err = cpm__sqlite_run(s, ST_DOC_DELETE, rc, "doc_delete");
    if (err == CPM_OK && sqlite3_changes(s->db) == 0)
        err = CPM_ERR_NOT_FOUND;
    cpm__sqlite_unlock(s);
    return err;
}

cpm_err cpm__sqlite_delivery_cursors_get(struct cpm_store *store, const char *destination_id,
                                         int64_t *seqs, unsigned cap, unsigned *lanes)
{
    struct sqlite_store *s = cpm__sqlite_lock(store); /* the writer's view: its own last write */
    sqlite3_stmt *st = s->stmts[ST_LANES_GET];
    int rc = cpm__sqlite_bind_text(st, 1, destination_id);
    bool found = false;
    *lanes = 0;
    for (unsigned i = 0; i < cap; i++)
        seqs[i] = 0;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t lane = sqlite3_column_int64(st, 0);
        found = true;
        if (lane >= 0 && lane < CPM_DELIVERY_LANES_MAX && (unsigned)lane >= *lanes)
            *lanes = (unsigned)lane + 1;
        if (lane >= 0 && (uint64_t)lane < cap)
            seqs[lane] = sqlite3_column_int64(st, 1);
        rc = SQLITE_OK;
    }
    cpm_err err = rc == SQLITE_DONE ? CPM_OK : cpm__sqlite_fail(s, "delivery_cursors_get", rc);
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    if (err == CPM_OK && !found)
        err = CPM_ERR_NOT_FOUND;
    return err;
}

static cpm_err insert_delivery(struct sqlite_store *s, const char *destination_id,
                               const struct cpm_delivery *d)
{
    sqlite3_stmt *st = s->stmts[ST_DELIVERY_INSERT];
    int rc = cpm__sqlite_bind_text(st, 1, destination_id);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, d->seq);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, d->event_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 4, d->event_type);
    rc = rc ? rc
            : (d->subject_id[0] ? cpm__sqlite_bind_text(st, 5, d->subject_id)
                                : sqlite3_bind_null(st, 5));
    rc = rc ? rc : sqlite3_bind_int(st, 6, d->attempt);
    rc = rc ? rc : sqlite3_bind_int64(st, 7, d->time_ms);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 8, d->outcome);
    rc = rc ? rc : sqlite3_bind_int(st, 9, d->status);
    rc = rc ? rc : sqlite3_bind_int64(st, 10, d->latency_ms);
    rc = rc ? rc : sqlite3_bind_int64(st, 11, d->lag_ms);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 12, d->detail);
    return cpm__sqlite_run(s, ST_DELIVERY_INSERT, rc, "delivery_record");
}

static cpm_err put_cursors(struct sqlite_store *s, const char *destination_id,
                           const struct cpm_lane_cursor *cursors, size_t count)
{
    sqlite3_stmt *st = s->stmts[ST_LANE_PUT];
    cpm_err err = CPM_OK;
    for (size_t i = 0; err == CPM_OK && i < count; i++) {
        int rc = cpm__sqlite_bind_text(st, 1, destination_id);
        rc = rc ? rc : sqlite3_bind_int(st, 2, (int)cursors[i].lane);
        rc = rc ? rc : sqlite3_bind_int64(st, 3, cursors[i].seq);
        err = cpm__sqlite_run(s, ST_LANE_PUT, rc, "delivery_record cursors");
    }
    return err;
}

cpm_err cpm__sqlite_delivery_record(struct cpm_store *store, const char *destination_id,
                                    const struct cpm_delivery *rows, size_t count,
                                    const struct cpm_lane_cursor *cursors, size_t cursor_count)
{
    struct sqlite_store *s = cpm__sqlite_lock(store);
    cpm_err err = cpm__sqlite_tx_begin(s, "delivery_record");
    for (size_t i = 0; err == CPM_OK && i < count; i++)
        err = insert_delivery(s, destination_id, &rows[i]);
    if (err == CPM_OK) /* the reports' counts, in this transaction */
        err = cpm__sqlite_delivery_reports(s, destination_id, rows, count);
    if (err == CPM_OK)
        err = put_cursors(s, destination_id, cursors, cursor_count);
    err = cpm__sqlite_tx_end(s, err, "delivery_record");
    cpm__sqlite_unlock(s);
    return err;
}

cpm_err cpm__sqlite_delivery_cursors_delete(struct cpm_store *store, const char *destination_id)
{
    struct sqlite_store *s = cpm__sqlite_lock(store);
    cpm_err err = cpm__sqlite_run(
        s, ST_LANES_DELETE, cpm__sqlite_bind_text(s->stmts[ST_LANES_DELETE], 1, destination_id),
        "delivery_cursors_delete");
    cpm__sqlite_unlock(s);
    return err;
}

static cpm_err read_delivery(sqlite3_stmt *st, void *item)
{
    struct cpm_delivery *d = item;
    d->id = sqlite3_column_int64(st, 0);
    cpm__sqlite_column_copy(st, 1, d->destination_id, sizeof(d->destination_id));
    d->seq = sqlite3_column_int64(st, 2);
    cpm__sqlite_column_copy(st, 3, d->event_id, sizeof(d->event_id));
    cpm__sqlite_column_copy(st, 4, d->event_type, sizeof(d->event_type));
    cpm__sqlite_column_copy(st, 5, d->subject_id, sizeof(d->subject_id));
    d->attempt = sqlite3_column_int(st, 6);
    d->time_ms = sqlite3_column_int64(st, 7);
    cpm__sqlite_column_copy(st, 8, d->outcome, sizeof(d->outcome));
    d->status = sqlite3_column_int(st, 9);
    d->latency_ms = sqlite3_column_int64(st, 10);
    d->lag_ms = sqlite3_column_int64(st, 11);
    cpm__sqlite_column_copy(st, 12, d->detail, sizeof(d->detail));
    return CPM_OK;
}

/* The statement that answers filter from an index. */
static enum stmt list_statement(const struct cpm_delivery_filter *f)
{
    if (f->subject_id != NULL && f->subject_id[0])
        return ST_DELIVERY_LIST_SUBJECT;
    CPM_ASSERT(f->destination_id != NULL && f->destination_id[0]);
    return f->outcome != NULL && f->outcome[0] ? ST_DELIVERY_LIST_OUTCOME
                                               : ST_DELIVERY_LIST_DESTINATION;
}

cpm_err cpm__sqlite_delivery_list(struct cpm_store *store, const struct cpm_delivery_filter *f,
                                  int limit, cpm_delivery_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_delivery)};
    enum stmt id = list_statement(f);
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[id];
    int rc = sqlite3_bind_int64(st, 1, f->after_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, f->destination_id ? f->destination_id : "");
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, f->subject_id ? f->subject_id : "");
    rc = rc ? rc : cpm__sqlite_bind_text(st, 4, f->outcome ? f->outcome : "");
    rc = rc ? rc : sqlite3_bind_int(st, 5, limit > 0 ? limit : 0);
    cpm_err err = cpm__sqlite_collect(s, id, rc, "delivery_list", read_delivery, &rows);
    cpm__sqlite_unlock(s);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, NULL);
    return err;
}

cpm_err cpm__sqlite_delivery_list_seqs(struct cpm_store *store, int64_t seq_min, int64_t seq_max,
                                       int64_t after_id, int64_t until_id,
                                       cpm_delivery_visit_fn visit, void *ctx, int64_t *last_id)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_delivery)};
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_DELIVERY_LIST_SEQS];
    cpm_err err = cpm__sqlite_step_row(s, ST_DELIVERY_MAX_ID, SQLITE_OK, "delivery_list_seqs");
    if (err == CPM_OK)
        *last_id = sqlite3_column_int64(s->stmts[ST_DELIVERY_MAX_ID], 0);
    cpm__sqlite_done(s->stmts[ST_DELIVERY_MAX_ID]);
    int rc = sqlite3_bind_int64(st, 1, after_id);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, until_id);
    rc = rc ? rc : sqlite3_bind_int64(st, 3, seq_min);
    rc = rc ? rc : sqlite3_bind_int64(st, 4, seq_max);
    if (err == CPM_OK)
        err = cpm__sqlite_collect(s, ST_DELIVERY_LIST_SEQS, rc, "delivery_list_seqs", read_delivery,
                                  &rows);
    else
        cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, NULL);
    return err;
}

cpm_err cpm__sqlite_delivery_last(struct cpm_store *store, const char *destination_id,
                                  const char *outcome, int64_t *time_ms)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_DELIVERY_LAST];
    int rc = cpm__sqlite_bind_text(st, 1, destination_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, outcome);
    *time_ms = 0;
    cpm_err err = cpm__sqlite_step_row(s, ST_DELIVERY_LAST, rc, "delivery_last");
    if (err == CPM_OK)
        *time_ms = sqlite3_column_int64(st, 0);
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err == CPM_ERR_NOT_FOUND ? CPM_OK : err;
}
