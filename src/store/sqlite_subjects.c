/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_subjects.c — the SQLite backend's subject operations (ops version
 * 3): the subject parts of a group-commit batch (age status, identifiers,
 * guardian links, erasure) and the reads of identifiers and guardians.
 *
 * Erasure runs before the batch's events are written, so the trigger of
 * migration 3 refuses any later event of the erased subject in the same
 * transaction as well as in later ones; its consent states are then set
 * to `erased` after the events, decided by the subject's last event.
 */
#include "core/common.h"

#include "store/sqlite_internal.h"

static cpm_err erase(struct sqlite_store *s, const struct cpm_subject_update *u)
{
    sqlite3_stmt *st = s->stmts[ST_SUBJECT_ERASE];
    int rc = cpm__sqlite_bind_text(st, 1, u->id);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, u->erased_ms);
    cpm_err err = cpm__sqlite_run(s, ST_SUBJECT_ERASE, rc, "batch_write erase");
    if (err == CPM_OK && sqlite3_changes(s->db) == 0)
        err = CPM_ERR_CONFLICT; /* unknown, or erased already */
    if (err == CPM_OK)
        err = cpm__sqlite_run(s, ST_IDENTITY_DELETE_SUBJECT,
                              cpm__sqlite_bind_text(s->stmts[ST_IDENTITY_DELETE_SUBJECT], 1, u->id),
                              "batch_write erase identities");
    if (err == CPM_OK)
        err = cpm__sqlite_run(s, ST_GUARDIAN_DELETE_SUBJECT,
                              cpm__sqlite_bind_text(s->stmts[ST_GUARDIAN_DELETE_SUBJECT], 1, u->id),
                              "batch_write erase guardians");
    if (err == CPM_OK)
        err = cpm__sqlite_erase_preferences(s, u->id);
    return err;
}

cpm_err cpm__sqlite_batch_erasures(struct sqlite_store *s, const struct cpm_write_batch *b)
{
    cpm_err err = CPM_OK;
    for (size_t i = 0; err == CPM_OK && i < b->subject_update_count; i++)
        if (b->subject_updates[i].erased_ms != 0)
            err = erase(s, &b->subject_updates[i]);
    return err;
}

static cpm_err set_age(struct sqlite_store *s, const struct cpm_subject_update *u)
{
    sqlite3_stmt *st = s->stmts[ST_SUBJECT_AGE_SET];
    int rc = cpm__sqlite_bind_text(st, 1, u->id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, u->age_status);
    cpm_err err = cpm__sqlite_run(s, ST_SUBJECT_AGE_SET, rc, "batch_write age status");
    if (err == CPM_OK && sqlite3_changes(s->db) == 0)
        err = CPM_ERR_NOT_FOUND;
    return err;
}

static cpm_err erase_states(struct sqlite_store *s, const struct cpm_subject_update *u)
{
    sqlite3_stmt *st = s->stmts[ST_STATE_ERASE];
    int rc = cpm__sqlite_bind_text(st, 1, u->id);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, u->erased_ms);
    return cpm__sqlite_run(s, ST_STATE_ERASE, rc, "batch_write erase consent states");
}

static cpm_err put_identity(struct sqlite_store *s, const struct cpm_identity *id)
{
    CPM_ASSERT(id->sealed_len > 0 && id->sealed_len <= sizeof(id->sealed));
    sqlite3_stmt *st = s->stmts[ST_IDENTITY_INSERT];
    int rc = cpm__sqlite_bind_text(st, 1, id->subject_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, id->type);
    rc = rc ? rc : sqlite3_bind_blob(st, 3, id->hash, CPM_HASH_BYTES, SQLITE_STATIC);
    rc = rc ? rc : sqlite3_bind_blob(st, 4, id->sealed, (int)id->sealed_len, SQLITE_STATIC);
    rc = rc ? rc : sqlite3_bind_int64(st, 5, id->created_ms);
    return cpm__sqlite_run(s, ST_IDENTITY_INSERT, rc, "batch_write identity");
}

static cpm_err put_guardian(struct sqlite_store *s, const struct cpm_guardian_link *g)
{
    sqlite3_stmt *st = s->stmts[ST_GUARDIAN_INSERT];
    int rc = cpm__sqlite_bind_text(st, 1, g->child_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, g->guardian_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, g->relation);
    rc = rc ? rc : sqlite3_bind_int64(st, 4, g->created_ms);
    cpm_err err = cpm__sqlite_run(s, ST_GUARDIAN_INSERT, rc, "batch_write guardian link");
    if (err == CPM_OK && sqlite3_changes(s->db) == 0)
        err = CPM_ERR_CONFLICT; /* one of the two was erased */
    return err;
}

cpm_err cpm__sqlite_batch_subject_changes(struct sqlite_store *s, const struct cpm_write_batch *b)
{
    cpm_err err = CPM_OK;
    for (size_t i = 0; err == CPM_OK && i < b->subject_update_count; i++) {
        const struct cpm_subject_update *u = &b->subject_updates[i];
        if (u->age_status[0] != '\0')
            err = set_age(s, u);
        if (err == CPM_OK && u->erased_ms != 0)
            err = erase_states(s, u);
    }
    for (size_t i = 0; err == CPM_OK && i < b->identity_count; i++)
        err = put_identity(s, &b->identities[i]);
    for (size_t i = 0; err == CPM_OK && i < b->guardian_link_count; i++)
        err = put_guardian(s, &b->guardian_links[i]);
    return err;
}

cpm_err cpm__sqlite_identity_find(struct cpm_store *store, const char *type,
                                  const uint8_t hash[CPM_HASH_BYTES],
                                  char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1])
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_IDENTITY_FIND];
    int rc = cpm__sqlite_bind_text(st, 1, type);
    rc = rc ? rc : sqlite3_bind_blob(st, 2, hash, CPM_HASH_BYTES, SQLITE_STATIC);
    cpm_err err = cpm__sqlite_step_row(s, ST_IDENTITY_FIND, rc, "identity_find");
    if (err == CPM_OK)
        cpm__sqlite_column_copy(st, 0, subject_id, CPM_SUBJECT_ID_BYTES_MAX + 1);
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}

static cpm_err read_identity(sqlite3_stmt *st, void *item)
{
    struct cpm_identity *id = item;
    memset(id, 0, sizeof(*id));
    cpm__sqlite_column_copy(st, 0, id->subject_id, sizeof(id->subject_id));
    cpm__sqlite_column_copy(st, 1, id->type, sizeof(id->type));
    size_t hash_len = (size_t)sqlite3_column_bytes(st, 2);
    size_t sealed_len = (size_t)sqlite3_column_bytes(st, 3);
    if (hash_len != CPM_HASH_BYTES || sealed_len == 0 || sealed_len > sizeof(id->sealed))
        return CPM_ERR_STORE;
    memcpy(id->hash, sqlite3_column_blob(st, 2), CPM_HASH_BYTES);
    memcpy(id->sealed, sqlite3_column_blob(st, 3), sealed_len);
    id->sealed_len = sealed_len;
    id->created_ms = sqlite3_column_int64(st, 4);
    return CPM_OK;
}

cpm_err cpm__sqlite_identity_list(struct cpm_store *store, const char *subject_id, int limit,
                                  cpm_identity_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_identity)};
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_IDENTITY_LIST];
    int rc = cpm__sqlite_bind_text(st, 1, subject_id);
    rc = rc ? rc : sqlite3_bind_int(st, 2, limit > 0 ? limit : 0);
    cpm_err err =
        cpm__sqlite_collect(s, ST_IDENTITY_LIST, rc, "identity_list", read_identity, &rows);
    cpm__sqlite_unlock(s);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, NULL);
    return err;
}

static cpm_err read_guardian(sqlite3_stmt *st, void *item)
{
    struct cpm_guardian_link *g = item;
    memset(g, 0, sizeof(*g));
    cpm__sqlite_column_copy(st, 0, g->child_id, sizeof(g->child_id));
    cpm__sqlite_column_copy(st, 1, g->guardian_id, sizeof(g->guardian_id));
    cpm__sqlite_column_copy(st, 2, g->relation, sizeof(g->relation));
    g->created_ms = sqlite3_column_int64(st, 3);
    return CPM_OK;
}

/* Visits up to limit guardian links picked by statement `which` for id. */
static cpm_err guardian_links(struct cpm_store *store, int which, const char *what, const char *id,
                              int limit, cpm_guardian_link_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_guardian_link)};
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[which];
    int rc = cpm__sqlite_bind_text(st, 1, id);
    rc = rc ? rc : sqlite3_bind_int(st, 2, limit > 0 ? limit : 0);
    cpm_err err = cpm__sqlite_collect(s, which, rc, what, read_guardian, &rows);
    cpm__sqlite_unlock(s);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, NULL);
    return err;
}

cpm_err cpm__sqlite_guardian_list(struct cpm_store *store, const char *child_id, int limit,
                                  cpm_guardian_link_visit_fn visit, void *ctx)
{
    return guardian_links(store, ST_GUARDIAN_LIST, "guardian_list", child_id, limit, visit, ctx);
}

cpm_err cpm__sqlite_ward_list(struct cpm_store *store, const char *guardian_id, int limit,
                              cpm_guardian_link_visit_fn visit, void *ctx)
{
    return guardian_links(store, ST_WARD_LIST, "ward_list", guardian_id, limit, visit, ctx);
}
