/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_rights.c — the SQLite backend's rights requests (ops version 8):
 * the rows a group-commit batch inserts or moves on (with their ledger
 * events, in the same transaction), and the reads: one request, a
 * subject's open one of a type, a subject's newest first, and the
 * operators' queue by due date.
 *
 * Migration 9 keeps the rules where no caller can skip them: one open
 * request per subject and type (a partial unique index: CONFLICT), a
 * finished request never changes, a refused one has a reason, none is
 * deleted.
 */
#include "core/common.h"

#include "core/alloc.h"
#include "store/sqlite_internal.h"

/* Binds text, or NULL when text is NULL. */
static int bind_text_or_null(sqlite3_stmt *st, int i, const char *text)
{
    return text != NULL ? cpm__sqlite_bind_text(st, i, text) : sqlite3_bind_null(st, i);
}

static cpm_err put_request(struct sqlite_store *s, const struct cpm_rights_request *r)
{
    sqlite3_stmt *st = s->stmts[ST_RIGHTS_INSERT];
    int rc = cpm__sqlite_bind_text(st, 1, r->id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, r->subject_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, r->property);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 4, r->type);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 5, r->status);
    rc = rc ? rc : sqlite3_bind_int64(st, 6, r->created_ms);
    rc = rc ? rc : sqlite3_bind_int64(st, 7, r->due_ms);
    rc = rc ? rc : sqlite3_bind_int64(st, 8, r->updated_ms);
    rc = rc ? rc : cpm__sqlite_bind_blob(st, 9, r->note_sealed, r->note_sealed_len);
    rc = rc ? rc : bind_text_or_null(st, 10, r->reply);
    rc = rc ? rc : bind_text_or_null(st, 11, r->reason);
    return cpm__sqlite_run(s, ST_RIGHTS_INSERT, rc, "batch_write rights request");
}

static cpm_err move_request(struct sqlite_store *s, const struct cpm_rights_update *u)
{
    sqlite3_stmt *st = s->stmts[ST_RIGHTS_UPDATE];
    int rc = cpm__sqlite_bind_text(st, 1, u->id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, u->from);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, u->status);
    rc = rc ? rc : bind_text_or_null(st, 4, u->reply);
    rc = rc ? rc : bind_text_or_null(st, 5, u->reason);
    rc = rc ? rc : sqlite3_bind_int64(st, 6, u->updated_ms);
    cpm_err err = cpm__sqlite_run(s, ST_RIGHTS_UPDATE, rc, "batch_write rights update");
    if (err == CPM_OK && sqlite3_changes(s->db) == 0)
        err = CPM_ERR_CONFLICT; /* moved on by another request since it was read */
    return err;
}

cpm_err cpm__sqlite_batch_rights(struct sqlite_store *s, const struct cpm_write_batch *b)
{
    cpm_err err = CPM_OK;
    for (size_t i = 0; err == CPM_OK && i < b->rights_request_count; i++)
        err = put_request(s, &b->rights_requests[i]);
    for (size_t i = 0; err == CPM_OK && i < b->rights_update_count; i++)
        err = move_request(s, &b->rights_updates[i]);
    return err;
}

/* An owned copy of a BLOB column; NULL (and *len 0) for NULL. */
static cpm_err column_blob_dup(sqlite3_stmt *st, int col, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return CPM_OK;
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    *out = cpm_malloc(n > 0 ? n : 1);
    if (*out == NULL)
        return CPM_ERR_NOMEM;
    if (n > 0)
        memcpy(*out, sqlite3_column_blob(st, col), n);
    *len = n;
    return CPM_OK;
}

/* An owned copy of a TEXT column, or NULL for NULL. */
static cpm_err column_text_dup(sqlite3_stmt *st, int col, char **out)
{
    *out = NULL;
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return CPM_OK;
    *out = cpm__sqlite_column_strdup(st, col);
    return *out != NULL ? CPM_OK : CPM_ERR_NOMEM;
}

/* Reads a row of RIGHTS_COLUMNS; on failure nothing is left owned. */
static cpm_err read_request(sqlite3_stmt *st, void *item)
{
    struct cpm_rights_request *r = item;
    memset(r, 0, sizeof(*r));
    cpm__sqlite_column_copy(st, 0, r->id, sizeof(r->id));
    cpm__sqlite_column_copy(st, 1, r->subject_id, sizeof(r->subject_id));
    cpm__sqlite_column_copy(st, 2, r->property, sizeof(r->property));
    cpm__sqlite_column_copy(st, 3, r->type, sizeof(r->type));
    cpm__sqlite_column_copy(st, 4, r->status, sizeof(r->status));
    r->created_ms = sqlite3_column_int64(st, 5);
    r->due_ms = sqlite3_column_int64(st, 6);
    r->updated_ms = sqlite3_column_int64(st, 7);
    cpm_err err = column_blob_dup(st, 8, &r->note_sealed, &r->note_sealed_len);
    if (err == CPM_OK)
        err = column_text_dup(st, 9, &r->reply);
    if (err == CPM_OK)
        err = column_text_dup(st, 10, &r->reason);
    if (err != CPM_OK)
        cpm_rights_request_release(r);
    return err;
}

static void release_request(void *item)
{
    cpm_rights_request_release(item);
}

/* Steps a bound one-row statement into out; NOT_FOUND when no row. */
static cpm_err get_one(struct sqlite_store *s, enum stmt id, int rc, const char *op,
                       struct cpm_rights_request *out)
{
    cpm_err err = cpm__sqlite_step_row(s, id, rc, op);
    if (err == CPM_OK)
        err = read_request(s->stmts[id], out);
    cpm__sqlite_done(s->stmts[id]);
    return err;
}

cpm_err cpm__sqlite_rights_request_get(struct cpm_store *store, const char *id,
                                       struct cpm_rights_request *out)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    int rc = cpm__sqlite_bind_text(s->stmts[ST_RIGHTS_GET], 1, id);
    cpm_err err = get_one(s, ST_RIGHTS_GET, rc, "rights_request_get", out);
    cpm__sqlite_unlock(s);
    return err;
}

cpm_err cpm__sqlite_rights_request_open(struct cpm_store *store, const char *subject_id,
                                        const char *type, struct cpm_rights_request *out)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_RIGHTS_OPEN];
    int rc = cpm__sqlite_bind_text(st, 1, subject_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, type);
    cpm_err err = get_one(s, ST_RIGHTS_OPEN, rc, "rights_request_open", out);
    cpm__sqlite_unlock(s);
    return err;
}

/* Collects the rows of a bound list statement, then visits them unlocked. */
static cpm_err visit_rows(struct sqlite_store *s, enum stmt id, int rc, const char *op,
                          cpm_rights_request_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_rights_request)};
    cpm_err err = cpm__sqlite_collect(s, id, rc, op, read_request, &rows);
    cpm__sqlite_unlock(s);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, release_request);
    return err;
}

cpm_err cpm__sqlite_rights_request_list(struct cpm_store *store, const char *subject_id,
                                        int64_t before_ms, const char *before_id, int limit,
                                        cpm_rights_request_visit_fn visit, void *ctx)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_RIGHTS_LIST_SUBJECT];
    int rc = cpm__sqlite_bind_text(st, 1, subject_id);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, before_id != NULL ? before_ms : INT64_MAX);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, before_id != NULL ? before_id : "");
    rc = rc ? rc : sqlite3_bind_int(st, 4, limit > 0 ? limit : 0);
    return visit_rows(s, ST_RIGHTS_LIST_SUBJECT, rc, "rights_request_list", visit, ctx);
}

cpm_err cpm__sqlite_rights_request_queue(struct cpm_store *store, const struct cpm_rights_filter *f,
                                         int limit, cpm_rights_request_visit_fn visit, void *ctx)
{
    CPM_ASSERT(f->statuses[0] != NULL || f->statuses[1] == NULL);
    enum stmt id = f->statuses[0] != NULL ? ST_RIGHTS_QUEUE_STATUS : ST_RIGHTS_QUEUE_ALL;
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[id];
    int rc = SQLITE_OK;
    if (f->statuses[0] != NULL) {
        rc = cpm__sqlite_bind_text(st, 1, f->statuses[0]);
        rc = rc ? rc
                : cpm__sqlite_bind_text(st, 2, f->statuses[1] ? f->statuses[1] : f->statuses[0]);
    }
    rc = rc ? rc : sqlite3_bind_int64(st, 3, f->due_before_ms);
    rc = rc ? rc : sqlite3_bind_int64(st, 4, f->after_id != NULL ? f->after_due_ms : INT64_MIN);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 5, f->after_id != NULL ? f->after_id : "");
    rc = rc ? rc : sqlite3_bind_int(st, 6, limit > 0 ? limit : 0);
    return visit_rows(s, id, rc, "rights_request_queue", visit, ctx);
}
