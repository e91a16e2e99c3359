/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_export.c — the SQLite backend's reads for imports and exports: is
 * an event id taken (an import's re-run), pages of events in seq order
 * with whether their subject was erased, pages of consent states in key
 * order. Pages are keyset-paginated on primary keys, so every page costs
 * the same whatever the store's size. And the bulk-load switch an import
 * turns on: fewer WAL checkpoints while it writes.
 */
#include "core/common.h"

#include "core/alloc.h"
#include "store/sqlite_internal.h"

cpm_err cpm__sqlite_event_id_exists(struct cpm_store *store, const char *id, bool *exists)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_EVENT_ID_EXISTS];
    cpm_err err = cpm__sqlite_step_row(s, ST_EVENT_ID_EXISTS, cpm__sqlite_bind_text(st, 1, id),
                                       "event_id_exists");
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    *exists = err == CPM_OK;
    return err == CPM_ERR_NOT_FOUND ? CPM_OK : err;
}

struct export_event {
    struct cpm_event event;
    bool subject_erased;
};

static cpm_err read_export_event(sqlite3_stmt *st, void *item)
{
    struct export_event *x = item;
    cpm_err err = cpm__sqlite_read_event(st, &x->event);
    x->subject_erased = sqlite3_column_int(st, 8) != 0;
    return err;
}

static void release_export_event(void *item)
{
    cpm_event_release(&((struct export_event *)item)->event);
}

cpm_err cpm__sqlite_event_export(struct cpm_store *store, int64_t after_seq, int64_t to_seq,
                                 int limit, cpm_event_export_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct export_event)};
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_EXPORT_EVENTS];
    int rc = sqlite3_bind_int64(st, 1, after_seq);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, to_seq);
    rc = rc ? rc : sqlite3_bind_int(st, 3, limit > 0 ? limit : 0);
    cpm_err err =
        cpm__sqlite_collect(s, ST_EXPORT_EVENTS, rc, "event_export", read_export_event, &rows);
    cpm__sqlite_unlock(s);
    for (int i = 0; err == CPM_OK && i < rows.count; i++) {
        const struct export_event *x = cpm__sqlite_rows_at(&rows, i);
        err = visit(ctx, &x->event, x->subject_erased);
    }
    cpm__sqlite_rows_free(&rows, release_export_event);
    return err;
}

static cpm_err read_state(sqlite3_stmt *st, void *item)
{
    cpm__sqlite_read_state(st, item);
    return CPM_OK;
}

cpm_err cpm__sqlite_consent_state_page(struct cpm_store *store,
                                       const struct cpm_consent_state *after, int limit,
                                       cpm_consent_state_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_consent_state)};
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_EXPORT_STATES];
    int rc = cpm__sqlite_bind_text(st, 1, after ? after->subject_id : "");
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, after ? after->purpose : "");
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, after ? after->recipient : "");
    rc = rc ? rc : sqlite3_bind_int(st, 4, limit > 0 ? limit : 0);
    cpm_err err =
        cpm__sqlite_collect(s, ST_EXPORT_STATES, rc, "consent_state_page", read_state, &rows);
    cpm__sqlite_unlock(s);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, NULL);
    return err;
}

/* Pages of WAL between automatic checkpoints: SQLite's default, and during a bulk load. */
#define WAL_CHECKPOINT_PAGES      1000
#define WAL_CHECKPOINT_PAGES_BULK 65536

cpm_err cpm__sqlite_bulk_load(struct cpm_store *store, bool on)
{
    struct sqlite_store *s = cpm__sqlite_lock(store);
    int rc =
        sqlite3_wal_autocheckpoint(s->db, on ? WAL_CHECKPOINT_PAGES_BULK : WAL_CHECKPOINT_PAGES);
    cpm_err err = rc == SQLITE_OK ? CPM_OK : cpm__sqlite_fail(s, "bulk_load", rc);
    cpm__sqlite_unlock(s);
    return err;
}
