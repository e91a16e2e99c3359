/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_ledger.c — the SQLite backend's ledger operations: group-commit
 * batches (subjects, events, Merkle nodes, consent state, idempotency
 * records in one transaction), and the reads that proofs, histories and
 * evidence need. The events table refuses UPDATE of its ledger columns and
 * DELETE (triggers in migration 2).
 */
#include "core/common.h"

#include "core/alloc.h"
#include "store/sqlite_internal.h"

int cpm__sqlite_bind_blob(sqlite3_stmt *st, int i, const void *data, size_t len)
{
    if (data == NULL)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_blob(st, i, data, (int)len, SQLITE_STATIC);
}

/* Binds text, or NULL for an empty string. */
static int bind_optional(sqlite3_stmt *st, int i, const char *text)
{
    if (text == NULL || text[0] == '\0')
        return sqlite3_bind_null(st, i);
    return cpm__sqlite_bind_text(st, i, text);
}

static cpm_err put_subject(struct sqlite_store *s, const struct cpm_subject *sub)
{
    sqlite3_stmt *st = s->stmts[ST_SUBJECT_INSERT];
    int rc = cpm__sqlite_bind_text(st, 1, sub->id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, sub->pseudonym);
    rc = rc ? rc
            : cpm__sqlite_bind_blob(st, 3, sub->wrapped_key_len ? sub->wrapped_key : NULL,
                                    sub->wrapped_key_len);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 4, sub->age_status[0] ? sub->age_status : "unknown");
    rc = rc ? rc : sqlite3_bind_int64(st, 5, sub->created_ms);
    cpm_err err = cpm__sqlite_run(s, ST_SUBJECT_INSERT, rc, "batch_write subject");
    /* Created by another request since it was read: this one's data key would be lost. */
    if (err == CPM_OK && sqlite3_changes(s->db) == 0)
        err = CPM_ERR_CONFLICT;
    return err;
}

static cpm_err put_event(struct sqlite_store *s, const struct cpm_event *e)
{
    sqlite3_stmt *st = s->stmts[ST_EVENT_INSERT];
    int rc = sqlite3_bind_int64(st, 1, e->seq);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, e->id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, e->type);
    rc = rc ? rc : bind_optional(st, 4, e->subject_id);
    rc = rc ? rc : bind_optional(st, 5, e->purpose);
    rc = rc ? rc : sqlite3_bind_int64(st, 6, e->time_ms);
    rc = rc ? rc : cpm__sqlite_bind_blob(st, 7, e->leaf, e->leaf_len);
    rc = rc ? rc : cpm__sqlite_bind_blob(st, 8, e->sealed, e->sealed_len);
    return cpm__sqlite_run(s, ST_EVENT_INSERT, rc, "batch_write event");
}

static cpm_err put_node(struct sqlite_store *s, const struct cpm_merkle_node *n)
{
    sqlite3_stmt *st = s->stmts[ST_NODE_INSERT];
    int rc = sqlite3_bind_int(st, 1, (int)n->level);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, (sqlite3_int64)n->index);
    rc = rc ? rc : cpm__sqlite_bind_blob(st, 3, n->hash, CPM_HASH_BYTES);
    return cpm__sqlite_run(s, ST_NODE_INSERT, rc, "batch_write merkle node");
}

static cpm_err put_state(struct sqlite_store *s, const struct cpm_consent_state *c)
{
    sqlite3_stmt *st = s->stmts[ST_STATE_UPSERT];
    int rc = cpm__sqlite_bind_text(st, 1, c->subject_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, c->purpose);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, c->recipient);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 4, c->status);
    rc = rc ? rc : sqlite3_bind_int64(st, 5, c->seq);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 6, c->notice);
    rc = rc ? rc : sqlite3_bind_int64(st, 7, c->notice_version);
    rc = rc ? rc : sqlite3_bind_int64(st, 8, c->decided_ms);
    rc = rc ? rc : sqlite3_bind_int64(st, 9, c->expires_ms);
    rc = rc ? rc : sqlite3_bind_int64(st, 10, c->ask_again_ms);
    rc = rc ? rc : sqlite3_bind_int64(st, 11, c->remind_ms);
    rc = rc ? rc : sqlite3_bind_int(st, 12, c->by_guardian);
    return cpm__sqlite_run(s, ST_STATE_UPSERT, rc, "batch_write consent state");
}

static cpm_err put_idempotency(struct sqlite_store *s, const struct cpm_idempotency *r)
{
    sqlite3_stmt *st = s->stmts[ST_IDEM_INSERT];
    int rc = cpm__sqlite_bind_text(st, 1, r->scope);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, r->key);
    rc = rc ? rc : cpm__sqlite_bind_blob(st, 3, r->request_hash, CPM_HASH_BYTES);
    rc = rc ? rc : sqlite3_bind_int(st, 4, r->status);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 5, r->response);
    rc = rc ? rc : sqlite3_bind_int64(st, 6, r->created_ms);
    return cpm__sqlite_run(s, ST_IDEM_INSERT, rc, "batch_write idempotency");
}

static cpm_err write_batch(struct sqlite_store *s, const struct cpm_write_batch *b)
{
    cpm_err err = CPM_OK;
    for (size_t i = 0; err == CPM_OK && i < b->subject_count; i++)
        err = put_subject(s, &b->subjects[i]);
    if (err == CPM_OK)
        err = cpm__sqlite_batch_erasures(s, b);
    for (size_t i = 0; err == CPM_OK && i < b->event_count; i++)
        err = put_event(s, &b->events[i]);
    if (err == CPM_OK) /* the reports' counts, in this transaction: they never drift */
        err = cpm__sqlite_batch_reports(s, b);
    for (size_t i = 0; err == CPM_OK && i < b->node_count; i++)
        err = put_node(s, &b->nodes[i]);
    for (size_t i = 0; err == CPM_OK && i < b->state_count; i++)
        err = put_state(s, &b->states[i]);
    for (size_t i = 0; err == CPM_OK && i < b->idempotency_count; i++)
        err = put_idempotency(s, &b->idempotency[i]);
    if (err == CPM_OK)
        err = cpm__sqlite_batch_subject_changes(s, b);
    if (err == CPM_OK)
        err = cpm__sqlite_batch_preferences(s, b);
    if (err == CPM_OK)
        err = cpm__sqlite_batch_rights(s, b);
    return err;
}

cpm_err cpm__sqlite_batch_write(struct cpm_store *store, const struct cpm_write_batch *batch)
{
    struct sqlite_store *s = cpm__sqlite_lock(store);
    cpm_err err = CPM_OK;
    if (s->bulk != 0) /* a bulk load's open transaction (sqlite_export.c): all or nothing */
        err = cpm__sqlite_bulk_write(s, s->bulk > 0 ? write_batch(s, batch) : CPM_ERR_STORE);
    else if ((err = cpm__sqlite_tx_begin(s, "batch_write")) == CPM_OK)
        err = cpm__sqlite_tx_end(s, write_batch(s, batch), "batch_write");
    cpm__sqlite_unlock(s);
    return err;
}

cpm_err cpm__sqlite_ledger_size(struct cpm_store *store, uint64_t *out)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    cpm_err err = cpm__sqlite_step_row(s, ST_EVENT_MAX_SEQ, SQLITE_OK, "ledger_size");
    if (err == CPM_OK)
        *out = (uint64_t)sqlite3_column_int64(s->stmts[ST_EVENT_MAX_SEQ], 0);
    cpm__sqlite_done(s->stmts[ST_EVENT_MAX_SEQ]);
    cpm__sqlite_unlock(s);
    return err;
}

cpm_err cpm__sqlite_merkle_node_get(struct cpm_store *store, unsigned level, uint64_t index,
                                    uint8_t out[CPM_HASH_BYTES])
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_NODE_GET];
    int rc = sqlite3_bind_int(st, 1, (int)level);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
    cpm_err err = cpm__sqlite_step_row(s, ST_NODE_GET, rc, "merkle_node_get");
    if (err == CPM_OK && sqlite3_column_bytes(st, 0) != CPM_HASH_BYTES)
        err = CPM_ERR_STORE;
    if (err == CPM_OK)
        memcpy(out, sqlite3_column_blob(st, 0), CPM_HASH_BYTES);
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}

cpm_err cpm__sqlite_merkle_level(struct cpm_store *store, unsigned level, uint64_t count,
                                 uint8_t (*out)[CPM_HASH_BYTES])
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_NODE_LEVEL];
    int rc = sqlite3_bind_int(st, 1, (int)level);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, (sqlite3_int64)count);
    uint64_t next = 0;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((uint64_t)sqlite3_column_int64(st, 0) != next ||
            sqlite3_column_bytes(st, 1) != CPM_HASH_BYTES)
            break; /* a gap or a damaged node */
        memcpy(out[next++], sqlite3_column_blob(st, 1), CPM_HASH_BYTES);
        rc = SQLITE_OK;
    }
    cpm_err err = rc == SQLITE_DONE || rc == SQLITE_ROW || rc == SQLITE_OK
                      ? (next == count ? CPM_OK : CPM_ERR_STORE)
                      : cpm__sqlite_fail(s, "merkle_level", rc);
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}

static cpm_err read_blob(sqlite3_stmt *st, int col, uint8_t **out, size_t *len)
{
    *len = (size_t)sqlite3_column_bytes(st, col);
    const void *data = sqlite3_column_blob(st, col);
    if (data == NULL) {
        *out = NULL;
        *len = 0;
        return CPM_OK;
    }
    *out = cpm_malloc(*len + 1);
    if (*out == NULL)
        return CPM_ERR_NOMEM;
    memcpy(*out, data, *len);
    (*out)[*len] = 0; /* leaves are text: keep them NUL-terminated too */
    return CPM_OK;
}

cpm_err cpm__sqlite_read_event(sqlite3_stmt *st, void *item)
{
    struct cpm_event *e = item;
    memset(e, 0, sizeof(*e));
    e->seq = sqlite3_column_int64(st, 0);
    cpm__sqlite_column_copy(st, 1, e->id, sizeof(e->id));
    cpm__sqlite_column_copy(st, 2, e->type, sizeof(e->type));
    cpm__sqlite_column_copy(st, 3, e->subject_id, sizeof(e->subject_id));
    cpm__sqlite_column_copy(st, 4, e->purpose, sizeof(e->purpose));
    e->time_ms = sqlite3_column_int64(st, 5);
    cpm_err err = read_blob(st, 6, (uint8_t **)&e->leaf, &e->leaf_len);
    if (err == CPM_OK)
        err = read_blob(st, 7, &e->sealed, &e->sealed_len);
    return err;
}

static void release_event(void *item)
{
    cpm_event_release(item);
}

cpm_err cpm__sqlite_event_list(struct cpm_store *store, const char *subject_id, int64_t after_seq,
                               int limit, cpm_event_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_event)};
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    enum stmt id = subject_id != NULL ? ST_EVENT_LIST_SUBJECT : ST_EVENT_LIST_ALL;
    sqlite3_stmt *st = s->stmts[id];
    int rc = sqlite3_bind_int64(st, 1, after_seq);
    rc = rc ? rc : sqlite3_bind_int(st, 2, limit > 0 ? limit : 0);
    if (subject_id != NULL)
        rc = rc ? rc : cpm__sqlite_bind_text(st, 3, subject_id);
    cpm_err err = cpm__sqlite_collect(s, id, rc, "event_list", cpm__sqlite_read_event, &rows);
    cpm__sqlite_unlock(s);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, release_event);
    return err;
}

cpm_err cpm__sqlite_event_list_between(struct cpm_store *store, int64_t from_ms, int64_t to_ms,
                                       int64_t after_seq, int64_t until_seq,
                                       cpm_event_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_event)};
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_EVENT_LIST_BETWEEN];
    int rc = sqlite3_bind_int64(st, 1, after_seq);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, until_seq);
    rc = rc ? rc : sqlite3_bind_int64(st, 3, from_ms);
    rc = rc ? rc : sqlite3_bind_int64(st, 4, to_ms);
    cpm_err err = cpm__sqlite_collect(s, ST_EVENT_LIST_BETWEEN, rc, "event_list_between",
                                      cpm__sqlite_read_event, &rows);
    cpm__sqlite_unlock(s);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, release_event);
    return err;
}

cpm_err cpm__sqlite_subject_get(struct cpm_store *store, const char *id, struct cpm_subject *out)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_SUBJECT_GET];
    cpm_err err =
        cpm__sqlite_step_row(s, ST_SUBJECT_GET, cpm__sqlite_bind_text(st, 1, id), "subject_get");
    if (err == CPM_OK) {
        memset(out, 0, sizeof(*out));
        cpm__sqlite_column_copy(st, 0, out->id, sizeof(out->id));
        cpm__sqlite_column_copy(st, 1, out->pseudonym, sizeof(out->pseudonym));
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        if (len > sizeof(out->wrapped_key))
            err = CPM_ERR_STORE;
        else if (len > 0)
            memcpy(out->wrapped_key, sqlite3_column_blob(st, 2), len);
        out->wrapped_key_len = len;
        cpm__sqlite_column_copy(st, 3, out->age_status, sizeof(out->age_status));
        out->created_ms = sqlite3_column_int64(st, 4);
        out->erased_ms = sqlite3_column_int64(st, 5);
    }
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}

void cpm__sqlite_read_state(sqlite3_stmt *st, struct cpm_consent_state *c)
{
    memset(c, 0, sizeof(*c));
    cpm__sqlite_column_copy(st, 0, c->subject_id, sizeof(c->subject_id));
    cpm__sqlite_column_copy(st, 1, c->purpose, sizeof(c->purpose));
    cpm__sqlite_column_copy(st, 2, c->recipient, sizeof(c->recipient));
    cpm__sqlite_column_copy(st, 3, c->status, sizeof(c->status));
    c->seq = sqlite3_column_int64(st, 4);
    cpm__sqlite_column_copy(st, 5, c->notice, sizeof(c->notice));
    c->notice_version = sqlite3_column_int64(st, 6);
    c->decided_ms = sqlite3_column_int64(st, 7);
    c->expires_ms = sqlite3_column_int64(st, 8);
    c->ask_again_ms = sqlite3_column_int64(st, 9);
    c->remind_ms = sqlite3_column_int64(st, 10);
    c->by_guardian = sqlite3_column_int(st, 11) != 0;
}

static cpm_err read_state(sqlite3_stmt *st, void *item)
{
    cpm__sqlite_read_state(st, item);
    return CPM_OK;
}

/* Runs a bound state query and visits its rows after the lock is released. */
static cpm_err visit_states(struct sqlite_store *s, enum stmt id, int rc, const char *op,
                            cpm_consent_state_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_consent_state)};
    cpm_err err = cpm__sqlite_collect(s, id, rc, op, read_state, &rows);
    cpm__sqlite_unlock(s);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, NULL);
    return err;
}

cpm_err cpm__sqlite_consent_state_list(struct cpm_store *store, const char *subject_id,
                                       cpm_consent_state_visit_fn visit, void *ctx)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    int rc = cpm__sqlite_bind_text(s->stmts[ST_STATE_LIST], 1, subject_id);
    return visit_states(s, ST_STATE_LIST, rc, "consent_state_list", visit, ctx);
}

/* Given consents whose time (of expiry, or of the reminder: the statement's) has come. */
static cpm_err states_due(struct cpm_store *store, enum stmt id, const char *op, int64_t now_ms,
                          int limit, cpm_consent_state_visit_fn visit, void *ctx)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[id];
    int rc = sqlite3_bind_int64(st, 1, now_ms);
    rc = rc ? rc : sqlite3_bind_int(st, 2, limit > 0 ? limit : 0);
    return visit_states(s, id, rc, op, visit, ctx);
}

cpm_err cpm__sqlite_consent_state_due(struct cpm_store *store, int64_t now_ms, int limit,
                                      cpm_consent_state_visit_fn visit, void *ctx)
{
    return states_due(store, ST_STATE_DUE, "consent_state_due", now_ms, limit, visit, ctx);
}

cpm_err cpm__sqlite_consent_state_remind(struct cpm_store *store, int64_t now_ms, int limit,
                                         cpm_consent_state_visit_fn visit, void *ctx)
{
    return states_due(store, ST_STATE_REMIND, "consent_state_remind", now_ms, limit, visit, ctx);
}

cpm_err cpm__sqlite_consent_state_on_notice(struct cpm_store *store, const char *notice,
                                            int64_t version, const char *purpose,
                                            const char *after_subject, int limit,
                                            cpm_consent_state_visit_fn visit, void *ctx)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_STATE_ON_NOTICE];
    int rc = cpm__sqlite_bind_text(st, 1, notice);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, version);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, purpose);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 4, after_subject ? after_subject : "");
    rc = rc ? rc : sqlite3_bind_int(st, 5, limit > 0 ? limit : 0);
    return visit_states(s, ST_STATE_ON_NOTICE, rc, "consent_state_on_notice", visit, ctx);
}

cpm_err cpm__sqlite_checkpoint_put(struct cpm_store *store, const struct cpm_checkpoint *cp)
{
    struct sqlite_store *s = cpm__sqlite_lock(store);
    sqlite3_stmt *st = s->stmts[ST_CHECKPOINT_INSERT];
    int rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)cp->size);
    rc = rc ? rc : cpm__sqlite_bind_blob(st, 2, cp->root, CPM_HASH_BYTES);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, cp->note);
    rc = rc ? rc : sqlite3_bind_int64(st, 4, cp->signed_ms);
    cpm_err err = cpm__sqlite_tx_begin(s, "checkpoint_put");
    if (err == CPM_OK)
        err = cpm__sqlite_tx_end(s, cpm__sqlite_run(s, ST_CHECKPOINT_INSERT, rc, "checkpoint_put"),
                                 "checkpoint_put");
    else
        cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}

/* Reads the one checkpoint row statement id gives (NOT_FOUND when none). */
static cpm_err read_checkpoint(struct sqlite_store *s, enum stmt id, int rc, const char *op,
                               struct cpm_checkpoint *out)
{
    sqlite3_stmt *st = s->stmts[id];
    cpm_err err = cpm__sqlite_step_row(s, id, rc, op);
    if (err == CPM_OK && sqlite3_column_bytes(st, 1) != CPM_HASH_BYTES)
        err = CPM_ERR_STORE;
    if (err == CPM_OK) {
        memset(out, 0, sizeof(*out));
        out->size = (uint64_t)sqlite3_column_int64(st, 0);
        memcpy(out->root, sqlite3_column_blob(st, 1), CPM_HASH_BYTES);
        out->note = cpm__sqlite_column_strdup(st, 2);
        out->signed_ms = sqlite3_column_int64(st, 3);
        err = out->note != NULL ? CPM_OK : CPM_ERR_NOMEM;
    }
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}

cpm_err cpm__sqlite_checkpoint_latest(struct cpm_store *store, struct cpm_checkpoint *out)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    return read_checkpoint(s, ST_CHECKPOINT_LATEST, SQLITE_OK, "checkpoint_latest", out);
}

cpm_err cpm__sqlite_checkpoint_after(struct cpm_store *store, int64_t after_size,
                                     struct cpm_checkpoint *out)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    int rc = sqlite3_bind_int64(s->stmts[ST_CHECKPOINT_AFTER], 1, after_size);
    return read_checkpoint(s, ST_CHECKPOINT_AFTER, rc, "checkpoint_after", out);
}

cpm_err cpm__sqlite_idempotency_get(struct cpm_store *store, const char *scope, const char *key,
                                    struct cpm_idempotency *out)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_IDEM_GET];
    int rc = cpm__sqlite_bind_text(st, 1, scope);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, key);
    cpm_err err = cpm__sqlite_step_row(s, ST_IDEM_GET, rc, "idempotency_get");
    if (err == CPM_OK && sqlite3_column_bytes(st, 2) != CPM_HASH_BYTES)
        err = CPM_ERR_STORE;
    if (err == CPM_OK) {
        memset(out, 0, sizeof(*out));
        cpm__sqlite_column_copy(st, 0, out->scope, sizeof(out->scope));
        cpm__sqlite_column_copy(st, 1, out->key, sizeof(out->key));
        memcpy(out->request_hash, sqlite3_column_blob(st, 2), CPM_HASH_BYTES);
        out->status = sqlite3_column_int(st, 3);
        out->response = cpm__sqlite_column_strdup(st, 4);
        out->created_ms = sqlite3_column_int64(st, 5);
        err = out->response != NULL ? CPM_OK : CPM_ERR_NOMEM;
    }
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}
