/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_index.c — the SQLite backend's part in decisions: preferences and
 * recorded sends (written in the group commit), and the one pass over the
 * tables that rebuilds the in-memory index on start.
 */
#include "core/common.h"

#include "core/alloc.h"
#include "domain/decide.h"
#include "store/sqlite_internal.h"

static cpm_err put_preferences(struct sqlite_store *s, const struct cpm_preferences_row *p)
{
    sqlite3_stmt *st = s->stmts[ST_PREFS_UPSERT];
    int rc = cpm__sqlite_bind_text(st, 1, p->subject_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, p->doc);
    rc = rc ? rc : sqlite3_bind_int64(st, 3, p->seq);
    rc = rc ? rc : sqlite3_bind_int64(st, 4, p->updated_ms);
    return cpm__sqlite_run(s, ST_PREFS_UPSERT, rc, "batch_write preferences");
}

static cpm_err put_contact(struct sqlite_store *s, const struct cpm_contact *c)
{
    sqlite3_stmt *st = s->stmts[ST_CONTACT_INSERT];
    int rc = cpm__sqlite_bind_text(st, 1, c->subject_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, cpm_channel_name((enum cpm_channel)c->channel));
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, c->purpose);
    rc = rc ? rc : sqlite3_bind_int64(st, 4, c->time_ms);
    return cpm__sqlite_run(s, ST_CONTACT_INSERT, rc, "batch_write contact");
}

cpm_err cpm__sqlite_batch_preferences(struct sqlite_store *s, const struct cpm_write_batch *b)
{
    cpm_err err = CPM_OK;
    for (size_t i = 0; err == CPM_OK && i < b->preference_count; i++)
        err = put_preferences(s, &b->preferences[i]);
    for (size_t i = 0; err == CPM_OK && i < b->contact_count; i++)
        err = put_contact(s, &b->contacts[i]);
    return err;
}

cpm_err cpm__sqlite_erase_preferences(struct sqlite_store *s, const char *subject_id)
{
    cpm_err err = cpm__sqlite_run(s, ST_PREFS_ERASE,
                                  cpm__sqlite_bind_text(s->stmts[ST_PREFS_ERASE], 1, subject_id),
                                  "batch_write erase preferences");
    if (err == CPM_OK)
        err = cpm__sqlite_run(s, ST_CONTACT_ERASE,
                              cpm__sqlite_bind_text(s->stmts[ST_CONTACT_ERASE], 1, subject_id),
                              "batch_write erase contacts");
    return err;
}

cpm_err cpm__sqlite_preferences_get(struct cpm_store *store, const char *subject_id, char **doc,
                                    int64_t *seq, int64_t *updated_ms)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_PREFS_GET];
    cpm_err err = cpm__sqlite_step_row(s, ST_PREFS_GET, cpm__sqlite_bind_text(st, 1, subject_id),
                                       "preferences_get");
    if (err == CPM_OK) {
        *doc = cpm__sqlite_column_strdup(st, 0);
        *seq = sqlite3_column_int64(st, 1);
        *updated_ms = sqlite3_column_int64(st, 2);
        err = *doc != NULL ? CPM_OK : CPM_ERR_NOMEM;
    }
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}

cpm_err cpm__sqlite_contacts_mark(struct cpm_store *store, int64_t *out)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    cpm_err err = cpm__sqlite_step_row(s, ST_CONTACT_MARK, SQLITE_OK, "contacts_mark");
    if (err == CPM_OK)
        *out = sqlite3_column_int64(s->stmts[ST_CONTACT_MARK], 0);
    cpm__sqlite_done(s->stmts[ST_CONTACT_MARK]);
    cpm__sqlite_unlock(s);
    return err;
}

/* ---- the index's load ---------------------------------------------------------- */

typedef cpm_err (*row_fn)(sqlite3_stmt *st, const struct cpm_index_loader *l);

static cpm_err subject_row(sqlite3_stmt *st, const struct cpm_index_loader *l)
{
    struct cpm_subject sub = {0};
    cpm__sqlite_column_copy(st, 0, sub.id, sizeof(sub.id));
    cpm__sqlite_column_copy(st, 1, sub.age_status, sizeof(sub.age_status));
    sub.erased_ms = sqlite3_column_int64(st, 2);
    return l->subject(l->ctx, &sub, sqlite3_column_int64(st, 3));
}

/* Only what the index keeps (ten million rows and more: no copy of the rest). */
static cpm_err state_row(sqlite3_stmt *st, const struct cpm_index_loader *l)
{
    struct cpm_consent_state state;
    cpm__sqlite_column_copy(st, 0, state.subject_id, sizeof(state.subject_id));
    cpm__sqlite_column_copy(st, 1, state.purpose, sizeof(state.purpose));
    cpm__sqlite_column_copy(st, 2, state.recipient, sizeof(state.recipient));
    cpm__sqlite_column_copy(st, 3, state.status, sizeof(state.status));
    state.seq = sqlite3_column_int64(st, 4);
    state.expires_ms = sqlite3_column_int64(st, 5);
    state.by_guardian = sqlite3_column_int(st, 6) != 0;
    return l->state(l->ctx, &state);
}

static cpm_err preferences_row(sqlite3_stmt *st, const struct cpm_index_loader *l)
{
    return l->preferences(l->ctx, (const char *)sqlite3_column_text(st, 0),
                          (const char *)sqlite3_column_text(st, 1));
}

static cpm_err contact_row(sqlite3_stmt *st, const struct cpm_index_loader *l)
{
    struct cpm_contact c = {0};
    cpm__sqlite_column_copy(st, 0, c.subject_id, sizeof(c.subject_id));
    enum cpm_channel channel = cpm_channel_parse((const char *)sqlite3_column_text(st, 1));
    if (channel == CPM_CHANNEL_NONE)
        return CPM_OK; /* a channel this version does not know: it caps nothing */
    c.channel = (uint8_t)channel;
    cpm__sqlite_column_copy(st, 2, c.purpose, sizeof(c.purpose));
    c.time_ms = sqlite3_column_int64(st, 3);
    return l->contact(l->ctx, &c);
}

static cpm_err each_row(struct sqlite_store *s, enum stmt id, int bind_rc, row_fn row,
                        const struct cpm_index_loader *l)
{
    sqlite3_stmt *st = s->stmts[id];
    int rc = bind_rc;
    cpm_err err = CPM_OK;
    while (err == CPM_OK && rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        err = row(st, l);
        rc = SQLITE_OK;
    }
    if (err == CPM_OK && rc != SQLITE_DONE && rc != SQLITE_OK)
        err = cpm__sqlite_fail(s, "index_load", rc);
    cpm__sqlite_done(st);
    return err;
}

cpm_err cpm__sqlite_index_load(struct cpm_store *store, const struct cpm_index_loader *l)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    /* One read transaction: the four tables as of one commit. */
    cpm_err err = cpm__sqlite_run(s, ST_BEGIN_READ, SQLITE_OK, "index_load");
    if (err == CPM_OK)
        err = each_row(s, ST_LOAD_SUBJECTS, SQLITE_OK, subject_row, l);
    if (err == CPM_OK)
        err = each_row(s, ST_LOAD_STATES, SQLITE_OK, state_row, l);
    if (err == CPM_OK)
        err = each_row(s, ST_LOAD_PREFS, SQLITE_OK, preferences_row, l);
    if (err == CPM_OK)
        err = each_row(s, ST_LOAD_CONTACTS,
                       sqlite3_bind_int64(s->stmts[ST_LOAD_CONTACTS], 1, l->contacts_since_ms),
                       contact_row, l);
    err = cpm__sqlite_tx_end(s, err, "index_load");
    cpm__sqlite_unlock(s);
    return err;
}
