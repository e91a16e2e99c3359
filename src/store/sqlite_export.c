/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_export.c — the SQLite backend's reads for imports and exports: is
 * an event id taken (an import's re-run), pages of events in seq order
 * with whether their subject was erased, pages of consent states in key
 * order. Pages are keyset-paginated on primary keys, so every page costs
 * the same whatever the store's size. And the bulk load an import writes
 * in: one transaction for all of it.
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

/* Pages of WAL between automatic checkpoints (SQLite's default). */
#define WAL_CHECKPOINT_PAGES 1000
/*
 * The writer's page cache during a bulk load: every page the load touches
 * stays dirty until its commit, and a page pushed out of the cache is
 * written to the WAL, and read back and written again when a later row
 * lands on it (with the usual 64 MiB, a fifth of the writer's time at 1 M
 * rows). 256 MiB: as fast at 1 M rows (a 1.1 GB store) as 512 MiB or 1 GiB,
 * within the test machine's noise, with half 1 GiB's memory
 * (docs/BENCHMARKS.md). It fills only as far as the load needs.
 */
#define BULK_CACHE_SQL "PRAGMA cache_size = -262144"
#define CACHE_SQL      "PRAGMA cache_size = -" CPM_STRINGIFY(CPM_STORE_CACHE_KIB)

/* Back to single commits: the cache as opened, checkpoints after commits. */
static void bulk_off(struct sqlite_store *s)
{
    s->bulk = 0;
    (void)sqlite3_exec(s->db, CACHE_SQL, NULL, NULL, NULL);
    (void)sqlite3_wal_autocheckpoint(s->db, WAL_CHECKPOINT_PAGES);
}

/*
 * A bulk load is one transaction, opened here and committed by
 * bulk_load(off): nothing of an import is visible, or durable, until all
 * of it is, and then all of it is (one fsync'd commit). No WAL checkpoint
 * runs meanwhile (the commit's own follows it).
 */
cpm_err cpm__sqlite_bulk_load(struct cpm_store *store, bool on)
{
    struct sqlite_store *s = cpm__sqlite_lock(store);
    cpm_err err = CPM_OK;
    if (on && s->bulk == 0) {
        int rc = sqlite3_exec(s->db, BULK_CACHE_SQL, NULL, NULL, NULL);
        err = rc == SQLITE_OK ? cpm__sqlite_tx_begin(s, "bulk_load")
                              : cpm__sqlite_fail(s, "bulk_load", rc);
        s->bulk = err == CPM_OK ? 1 : 0;
    } else if (!on && s->bulk != 0) {
        err = s->bulk > 0 ? cpm__sqlite_tx_end(s, CPM_OK, "bulk_load") : CPM_ERR_STORE;
        bulk_off(s);
    }
    cpm__sqlite_unlock(s);
    return err;
}

cpm_err cpm__sqlite_bulk_write(struct sqlite_store *s, cpm_err err)
{
    if (err != CPM_OK && s->bulk > 0) {
        (void)cpm__sqlite_tx_end(s, CPM_ERR_STORE, "bulk_load"); /* rolls back */
        s->bulk = -1;
    }
    return err;
}

void cpm__sqlite_bulk_abort(struct cpm_store *store)
{
    struct sqlite_store *s = cpm__sqlite_lock(store);
    if (s->bulk > 0)
        (void)cpm__sqlite_tx_end(s, CPM_ERR_STORE, "bulk_abort");
    if (s->bulk != 0)
        bulk_off(s);
    cpm__sqlite_unlock(s);
}
