/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite.c — the SQLite store backend (cpm_store_sqlite_ops).
 *
 * One connection per store, opened FULLMUTEX, plus a mutex of our own held
 * for the whole of each operation, so one thread's transaction and the
 * cached statements it steps never interleave with another's. Statements
 * are prepared once at open and reset after every use. Every write runs in
 * BEGIN IMMEDIATE … COMMIT. WAL with synchronous=FULL: a committed write
 * survives power loss. List operations copy their rows out and call the
 * visitor after the lock is released, so a visitor may use the store.
 */
#include "core/common.h"

#include <limits.h>
#include <pthread.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/log.h"
#include "store/sqlite_internal.h"

#define MODULE "store"

#define DOC_COLUMNS     "id, body, revision, created_ms, updated_ms"
#define NV_COLUMNS      "notice_id, version, body, published_ms"
#define KEY_COLUMNS     "id, name, scopes, created_ms, revoked_ms"
#define SUBJECT_COLUMNS "id, pseudonym, wrapped_key, age_status, created_ms, erased_ms"
#define EVENT_COLUMNS   "seq, id, type, subject_id, purpose, time_ms, leaf, sealed"
#define STATE_COLUMNS                                                                              \
    "subject_id, purpose, recipient, status, seq, notice, notice_version, decided_ms, expires_ms," \
    " ask_again_ms, remind_ms, by_guardian"
#define IDEM_COLUMNS     "scope, key, request_hash, status, response, created_ms"
#define IDENTITY_COLUMNS "subject_id, type, hash, sealed, created_ms"
#define GUARDIAN_COLUMNS "child_id, guardian_id, relation, created_ms"
#define RIGHTS_COLUMNS                                                                             \
    "id, subject_id, property, type, status, created_ms, due_ms, updated_ms, note_sealed, reply,"  \
    " reason"
#define OTP_COLUMNS                                                                                \
    "id, subject_id, property, code_hash, ip_hash, created_ms, expires_ms, attempts, verified_ms," \
    " used_ms"
#define DELIVERY_COLUMNS                                                                           \
    "destination_id, seq, event_id, event_type, subject_id, attempt, time_ms, outcome, status,"    \
    " latency_ms, lag_ms, detail"

/* What the index's load reads of subjects and consent states (all, a range, or one subject's). */
#define LOAD_SUBJECTS                                                                              \
    "SELECT id, age_status, erased_ms, CASE WHEN erased_ms <> 0 THEN (SELECT max(seq) FROM events" \
    " WHERE subject_id = subjects.id AND type = 'subject.erased') ELSE 0 END FROM subjects"
#define LOAD_STATES_OF                                                                             \
    "SELECT subject_id, purpose, recipient, status, seq, expires_ms, by_guardian"                  \
    " FROM consent_state"
/* from ?1 on (the last part of a load: no end to check) */
#define LOAD_STATES LOAD_STATES_OF " WHERE subject_id >= ?1"

static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_PING] = "SELECT 1",
    [ST_USER_VERSION] = "PRAGMA user_version",
    [ST_DOC_INSERT] = "INSERT INTO config_docs (kind, id, unique_key, body, revision, created_ms,"
                      " updated_ms) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)",
    [ST_DOC_REVISION] = "SELECT revision FROM config_docs WHERE kind = ?1 AND id = ?2",
    [ST_DOC_UPDATE] = "UPDATE config_docs SET unique_key = ?3, body = ?4, revision = revision + 1,"
                      " updated_ms = ?5 WHERE kind = ?1 AND id = ?2",
    [ST_DOC_GET] = "SELECT " DOC_COLUMNS " FROM config_docs WHERE kind = ?1 AND id = ?2",
    [ST_DOC_LIST] = "SELECT " DOC_COLUMNS " FROM config_docs WHERE kind = ?1 AND id > ?2"
                    " ORDER BY id LIMIT ?3",
    [ST_NV_MAX] = "SELECT coalesce(max(version), 0) FROM notice_versions WHERE notice_id = ?1",
    [ST_NV_INSERT] = "INSERT INTO notice_versions (notice_id, version, body, published_ms)"
                     " VALUES (?1, ?2, ?3, ?4)",
    [ST_NV_GET] =
        "SELECT " NV_COLUMNS " FROM notice_versions WHERE notice_id = ?1 AND version = ?2",
    [ST_NV_LATEST] = "SELECT " NV_COLUMNS " FROM notice_versions WHERE notice_id = ?1"
                     " ORDER BY version DESC LIMIT 1",
    [ST_NV_LIST] = "SELECT " NV_COLUMNS " FROM notice_versions WHERE notice_id = ?1"
                   " AND version > ?2 ORDER BY version LIMIT ?3",
    [ST_KEY_INSERT] = "INSERT INTO api_keys (id, hash, name, scopes, created_ms, revoked_ms)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_KEY_FIND] = "SELECT " KEY_COLUMNS " FROM api_keys WHERE hash = ?1",
    [ST_KEY_LIST] = "SELECT " KEY_COLUMNS " FROM api_keys WHERE id > ?1 ORDER BY id LIMIT ?2",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms = 0",
    [ST_SUBJECT_INSERT] = "INSERT INTO subjects (id, pseudonym, wrapped_key, age_status,"
                          " created_ms) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING",
    [ST_SUBJECT_GET] = "SELECT " SUBJECT_COLUMNS " FROM subjects WHERE id = ?1",
    [ST_SUBJECT_ERASE] = "UPDATE subjects SET wrapped_key = NULL, erased_ms = ?2 WHERE id = ?1"
                         " AND erased_ms = 0",
    [ST_EVENT_INSERT] = "INSERT INTO events (" EVENT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                        " ?7, ?8)",
    [ST_EVENT_LIST_ALL] =
        "SELECT " EVENT_COLUMNS " FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [ST_EVENT_LIST_SUBJECT] = "SELECT " EVENT_COLUMNS " FROM events WHERE subject_id = ?3"
                              " AND seq > ?1 ORDER BY seq LIMIT ?2",
    [ST_EVENT_MAX_SEQ] = "SELECT coalesce(max(seq), 0) FROM events",
    [ST_NODE_INSERT] = "INSERT INTO merkle_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
    [ST_NODE_GET] = "SELECT hash FROM merkle_nodes WHERE level = ?1 AND idx = ?2",
    [ST_NODE_LEVEL] =
        "SELECT idx, hash FROM merkle_nodes WHERE level = ?1 AND idx < ?2 ORDER BY idx",
    [ST_STATE_UPSERT] = "INSERT OR REPLACE INTO consent_state (" STATE_COLUMNS ") VALUES (?1,"
                        " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_STATE_LIST] = "SELECT " STATE_COLUMNS " FROM consent_state WHERE subject_id = ?1"
                      " ORDER BY purpose, recipient",
    [ST_CHECKPOINT_INSERT] =
        "INSERT INTO checkpoints (size, root, note, signed_ms) VALUES (?1, ?2, ?3, ?4)",
    [ST_CHECKPOINT_LATEST] =
        "SELECT size, root, note, signed_ms FROM checkpoints ORDER BY size DESC LIMIT 1",
    [ST_CHECKPOINT_AFTER] = "SELECT size, root, note, signed_ms FROM checkpoints WHERE size > ?1"
                            " ORDER BY size LIMIT 1",
    [ST_IDEM_INSERT] = "INSERT INTO idempotency (" IDEM_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5,"
                       " ?6)",
    [ST_IDEM_GET] = "SELECT " IDEM_COLUMNS " FROM idempotency WHERE scope = ?1 AND key = ?2",
    [ST_SUBJECT_AGE_SET] = "UPDATE subjects SET age_status = ?2 WHERE id = ?1",
    [ST_IDENTITY_DELETE_SUBJECT] = "DELETE FROM identities WHERE subject_id = ?1",
    [ST_GUARDIAN_DELETE_SUBJECT] = "DELETE FROM guardians WHERE child_id = ?1 OR guardian_id = ?1",
    [ST_STATE_ERASE] = "UPDATE consent_state SET status = 'erased', seq = (SELECT max(seq) FROM"
                       " events WHERE subject_id = ?1), decided_ms = ?2, expires_ms = 0,"
                       " ask_again_ms = 0 WHERE subject_id = ?1",
    [ST_IDENTITY_INSERT] = "INSERT INTO identities (" IDENTITY_COLUMNS ") VALUES (?1, ?2, ?3, ?4,"
                           " ?5)",
    [ST_IDENTITY_FIND] = "SELECT subject_id FROM identities WHERE type = ?1 AND hash = ?2",
    [ST_IDENTITY_LIST] = "SELECT " IDENTITY_COLUMNS " FROM identities WHERE subject_id = ?1"
                         " ORDER BY type, created_ms LIMIT ?2",
    /* Inserts nothing (the caller's CONFLICT) when either side was erased meanwhile. */
    [ST_GUARDIAN_INSERT] = "INSERT INTO guardians (" GUARDIAN_COLUMNS ") SELECT ?1, ?2, ?3, ?4"
                           " WHERE NOT EXISTS (SELECT 1 FROM subjects WHERE id IN (?1, ?2) AND"
                           " erased_ms <> 0)",
    [ST_GUARDIAN_LIST] = "SELECT " GUARDIAN_COLUMNS " FROM guardians WHERE child_id = ?1"
                         " ORDER BY guardian_id LIMIT ?2",
    [ST_WARD_LIST] = "SELECT " GUARDIAN_COLUMNS " FROM guardians WHERE guardian_id = ?1"
                     " ORDER BY child_id LIMIT ?2",
    [ST_STATE_DUE] = "SELECT " STATE_COLUMNS " FROM consent_state WHERE expires_ms > 0"
                     " AND expires_ms <= ?1 AND status = 'given' ORDER BY expires_ms LIMIT ?2",
    [ST_STATE_REMIND] = "SELECT " STATE_COLUMNS " FROM consent_state WHERE remind_ms > 0"
                        " AND remind_ms <= ?1 AND status = 'given' ORDER BY remind_ms LIMIT ?2",
    [ST_PREFS_UPSERT] = "INSERT OR REPLACE INTO preferences (subject_id, doc, seq, updated_ms)"
                        " VALUES (?1, ?2, ?3, ?4)",
    [ST_PREFS_GET] = "SELECT doc, seq, updated_ms FROM preferences WHERE subject_id = ?1",
    [ST_PREFS_ERASE] = "DELETE FROM preferences WHERE subject_id = ?1",
    [ST_CONTACT_INSERT] = "INSERT INTO contacts (subject_id, channel, purpose, time_ms)"
                          " VALUES (?1, ?2, ?3, ?4)",
    [ST_CONTACT_MARK] = "SELECT coalesce(max(rowid), 0) FROM contacts",
    [ST_CONTACT_ERASE] = "DELETE FROM contacts WHERE subject_id = ?1",
    [ST_LOAD_SUBJECTS] = LOAD_SUBJECTS " WHERE rowid BETWEEN ?1 AND ?2",
    [ST_SUBJECT_LOAD] = LOAD_SUBJECTS " WHERE id = ?1",
    [ST_SUBJECT_STATES] = LOAD_STATES_OF " WHERE subject_id = ?1",
    [ST_SUBJECT_PREFS] = "SELECT subject_id, doc FROM preferences WHERE subject_id = ?1",
    [ST_SUBJECT_CONTACTS] = "SELECT subject_id, channel, purpose, time_ms FROM contacts"
                            " WHERE subject_id = ?1 AND time_ms >= ?2 ORDER BY time_ms",
    [ST_CONTACT_AT] = "SELECT subject_id, channel, purpose, time_ms FROM contacts WHERE rowid = ?1",
    [ST_CHANGED_SUBJECTS] =
        "SELECT subject_id FROM events WHERE seq > ?1 AND subject_id IS NOT NULL"
        " UNION SELECT subject_id FROM contacts WHERE rowid > ?2",
    [ST_LOAD_STATES] = LOAD_STATES " AND subject_id < ?2",
    [ST_LOAD_STATES_TAIL] = LOAD_STATES,
    [ST_LOAD_PREFS] = "SELECT subject_id, doc FROM preferences"
                      " WHERE subject_id >= ?1 AND subject_id < ?2",
    [ST_LOAD_ROWIDS] = "SELECT coalesce((SELECT min(rowid) FROM subjects), 0),"
                       " coalesce((SELECT max(rowid) FROM subjects), 0)",
    [ST_LOAD_SAMPLE] = "SELECT id FROM subjects WHERE rowid >= ?1 ORDER BY rowid LIMIT 1",
    [ST_LOAD_CONTACTS] = "SELECT subject_id, channel, purpose, time_ms FROM contacts"
                         " WHERE time_ms >= ?1 ORDER BY time_ms",
    [ST_DOC_DELETE] = "DELETE FROM config_docs WHERE kind = ?1 AND id = ?2",
    [ST_LANES_GET] = "SELECT lane, seq FROM delivery_lanes WHERE destination_id = ?1",
    [ST_LANE_PUT] = "INSERT OR REPLACE INTO delivery_lanes (destination_id, lane, seq)"
                    " VALUES (?1, ?2, ?3)",
    [ST_LANES_DELETE] = "DELETE FROM delivery_lanes WHERE destination_id = ?1",
    [ST_DELIVERY_INSERT] = "INSERT INTO deliveries (" DELIVERY_COLUMNS ") VALUES (?1, ?2, ?3, ?4,"
                           " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_DELIVERY_LIST_DESTINATION] = "SELECT id, " DELIVERY_COLUMNS " FROM deliveries WHERE"
                                     " destination_id = ?2 AND id > ?1 ORDER BY id LIMIT ?5",
    [ST_DELIVERY_LIST_OUTCOME] = "SELECT id, " DELIVERY_COLUMNS " FROM deliveries WHERE"
                                 " destination_id = ?2 AND outcome = ?4 AND id > ?1"
                                 " ORDER BY id LIMIT ?5",
    [ST_DELIVERY_LIST_SUBJECT] = "SELECT id, " DELIVERY_COLUMNS " FROM deliveries WHERE"
                                 " subject_id = ?3 AND id > ?1 AND (?2 = '' OR destination_id = ?2)"
                                 " AND (?4 = '' OR outcome = ?4) ORDER BY id LIMIT ?5",
    [ST_STATE_ON_NOTICE] = "SELECT " STATE_COLUMNS " FROM consent_state WHERE purpose = ?3"
                           " AND status = 'given' AND subject_id > ?4 AND notice = ?1"
                           " AND notice_version < ?2 ORDER BY subject_id LIMIT ?5",
    [ST_OTP_INSERT] = "INSERT INTO otp_challenges (" OTP_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5,"
                      " ?6, ?7, 0, 0, 0)",
    [ST_OTP_GET] = "SELECT " OTP_COLUMNS " FROM otp_challenges WHERE id = ?1",
    [ST_OTP_ATTEMPT] = "UPDATE otp_challenges SET attempts = attempts + 1, verified_ms = CASE"
                       " WHEN ?3 <> 0 AND verified_ms = 0 THEN ?3 ELSE verified_ms END"
                       " WHERE id = ?1 AND attempts < ?2",
    [ST_OTP_USE] = "UPDATE otp_challenges SET used_ms = ?2 WHERE id = ?1 AND used_ms = 0"
                   " AND verified_ms <> 0",
    [ST_OTP_COUNT_SUBJECT] = "SELECT count(*) FROM otp_challenges WHERE subject_id = ?1"
                             " AND created_ms >= ?2",
    [ST_OTP_COUNT_IP] = "SELECT count(*) FROM otp_challenges WHERE ip_hash = ?1"
                        " AND length(ip_hash) > 0 AND created_ms >= ?2",
    [ST_RIGHTS_INSERT] = "INSERT INTO rights_requests (" RIGHTS_COLUMNS ") VALUES (?1, ?2, ?3,"
                         " ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    /* Changes nothing (the caller's CONFLICT) when the request moved on since it was read. */
    [ST_RIGHTS_UPDATE] = "UPDATE rights_requests SET status = ?3, reply = coalesce(?4, reply),"
                         " reason = coalesce(?5, reason), updated_ms = ?6"
                         " WHERE id = ?1 AND status = ?2",
    [ST_RIGHTS_GET] = "SELECT " RIGHTS_COLUMNS " FROM rights_requests WHERE id = ?1",
    [ST_RIGHTS_OPEN] = "SELECT " RIGHTS_COLUMNS " FROM rights_requests WHERE subject_id = ?1"
                       " AND type = ?2 AND status IN ('received', 'in_progress')",
    [ST_RIGHTS_LIST_SUBJECT] = "SELECT " RIGHTS_COLUMNS " FROM rights_requests WHERE"
                               " subject_id = ?1 AND (created_ms < ?2 OR (created_ms = ?2"
                               " AND id < ?3)) ORDER BY created_ms DESC, id DESC LIMIT ?4",
    [ST_RIGHTS_QUEUE_ALL] = "SELECT " RIGHTS_COLUMNS " FROM rights_requests WHERE due_ms < ?3"
                            " AND (due_ms > ?4 OR (due_ms = ?4 AND id > ?5))"
                            " ORDER BY due_ms, id LIMIT ?6",
    [ST_RIGHTS_QUEUE_STATUS] = "SELECT " RIGHTS_COLUMNS " FROM rights_requests WHERE status IN"
                               " (?1, ?2) AND due_ms < ?3 AND (due_ms > ?4 OR (due_ms = ?4"
                               " AND id > ?5)) ORDER BY due_ms, id LIMIT ?6",
    [ST_EVENT_ID_EXISTS] = "SELECT 1 FROM events WHERE id = ?1",
    /* EVENT_COLUMNS with no sealed bytes, then whether the subject was erased */
    [ST_EXPORT_EVENTS] = "SELECT e.seq, e.id, e.type, e.subject_id, e.purpose, e.time_ms, e.leaf,"
                         " NULL, coalesce(s.erased_ms, 0) <> 0 FROM events e LEFT JOIN subjects s"
                         " ON s.id = e.subject_id WHERE e.seq > ?1 AND e.seq <= ?2 ORDER BY e.seq"
                         " LIMIT ?3",
    [ST_EXPORT_STATES] = "SELECT " STATE_COLUMNS " FROM consent_state WHERE (subject_id, purpose,"
                         " recipient) > (?1, ?2, ?3) AND status <> 'erased'"
                         " ORDER BY subject_id, purpose, recipient LIMIT ?4",
    /* evidence packs: a range of the primary key, filtered (no index on time or seq) */
    [ST_EVENT_LIST_BETWEEN] = "SELECT " EVENT_COLUMNS " FROM events WHERE seq > ?1 AND seq <= ?2"
                              " AND time_ms >= ?3 AND time_ms < ?4 ORDER BY seq",
    [ST_DELIVERY_LIST_SEQS] = "SELECT id, " DELIVERY_COLUMNS " FROM deliveries WHERE id > ?1"
                              " AND id <= ?2 AND seq >= ?3 AND seq <= ?4 ORDER BY id",
    [ST_DELIVERY_MAX_ID] = "SELECT coalesce(max(id), 0) FROM deliveries",
    /* reports: counts added in the writing transaction, read by day range (the key's head) */
    [ST_REPORT_CONSENT_ADD] = "INSERT INTO report_consents (day, purpose, property, channel,"
                              " region, decision, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                              " ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [ST_REPORT_DELIVERY_ADD] = "INSERT INTO report_deliveries (day, destination_id, outcome, count,"
                               " lag_ms_sum, lag_ms_max) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                               " ON CONFLICT DO UPDATE SET count = count + excluded.count,"
                               " lag_ms_sum = lag_ms_sum + excluded.lag_ms_sum,"
                               " lag_ms_max = max(lag_ms_max, excluded.lag_ms_max)",
    [ST_REPORT_CONSENTS] = "SELECT CASE WHEN ?5 & 1 THEN day ELSE '' END,"
                           " CASE WHEN ?5 & 2 THEN purpose ELSE '' END,"
                           " CASE WHEN ?5 & 4 THEN property ELSE '' END,"
                           " CASE WHEN ?5 & 8 THEN channel ELSE '' END,"
                           " CASE WHEN ?5 & 16 THEN region ELSE '' END, decision, sum(count)"
                           " FROM report_consents WHERE day >= ?1 AND day <= ?2"
                           " AND (?3 IS NULL OR purpose = ?3) AND (?4 IS NULL OR property = ?4)"
                           " GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6 LIMIT ?6",
    [ST_REPORT_DELIVERIES] = "SELECT day, destination_id, outcome, sum(count), sum(lag_ms_sum),"
                             " max(lag_ms_max) FROM report_deliveries WHERE day >= ?1 AND day <= ?2"
                             " AND (?3 IS NULL OR destination_id = ?3)"
                             " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 LIMIT ?4",
    /* backwards through deliveries_by_outcome: one row */
    [ST_DELIVERY_LAST] = "SELECT time_ms FROM deliveries WHERE destination_id = ?1 AND outcome = ?2"
                         " ORDER BY id DESC LIMIT 1",
};

struct sqlite_store *cpm__sqlite_lock(struct cpm_store *store)
{
    CPM_ASSERT(store != NULL && store->ops == &cpm_store_sqlite_ops);
    struct sqlite_store *s = (struct sqlite_store *)store;
    int rc = pthread_mutex_lock(&s->lock);
    CPM_ASSERT(rc == 0);
    return s;
}

struct sqlite_store *cpm__sqlite_lock_read(struct cpm_store *store)
{
    CPM_ASSERT(store != NULL && store->ops == &cpm_store_sqlite_ops);
    struct sqlite_store *s = (struct sqlite_store *)store;
    return cpm__sqlite_lock(s->reader != NULL ? &s->reader->base : store);
}

void cpm__sqlite_unlock(struct sqlite_store *s)
{
    int rc = pthread_mutex_unlock(&s->lock);
    CPM_ASSERT(rc == 0);
}

static const char *kind_name(enum cpm_doc_kind kind)
{
    CPM_ASSERT((unsigned)kind < CPM_DOC__COUNT);
    return cpm_doc_kind_name(kind);
}

/* Maps a failed sqlite3 call to a cpm_err; logs what is not the caller's conflict. */
cpm_err cpm__sqlite_fail(struct sqlite_store *s, const char *op, int rc)
{
    /* A trigger's refusal is a rule of the schema (an erased subject), not a failure. */
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
        rc == SQLITE_CONSTRAINT_TRIGGER)
        return CPM_ERR_CONFLICT;
    cpm_log_error(MODULE, "%s failed: %s (%s)", op, sqlite3_errmsg(s->db), sqlite3_errstr(rc));
    return CPM_ERR_STORE;
}

void cpm__sqlite_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Steps a bound statement expected to return no row, then resets it. */
cpm_err cpm__sqlite_run(struct sqlite_store *s, enum stmt id, int bind_rc, const char *op)
{
    sqlite3_stmt *st = s->stmts[id];
    int rc = bind_rc != SQLITE_OK ? bind_rc : sqlite3_step(st);
    cpm_err err = rc == SQLITE_DONE || rc == SQLITE_ROW ? CPM_OK : cpm__sqlite_fail(s, op, rc);
    cpm__sqlite_done(st);
    return err;
}

/* Steps once: CPM_OK with the row current, NOT_FOUND when none. Caller resets. */
cpm_err cpm__sqlite_step_row(struct sqlite_store *s, enum stmt id, int bind_rc, const char *op)
{
    int rc = bind_rc != SQLITE_OK ? bind_rc : sqlite3_step(s->stmts[id]);
    if (rc == SQLITE_ROW)
        return CPM_OK;
    return rc == SQLITE_DONE ? CPM_ERR_NOT_FOUND : cpm__sqlite_fail(s, op, rc);
}

cpm_err cpm__sqlite_tx_begin(struct sqlite_store *s, const char *op)
{
    return cpm__sqlite_run(s, ST_BEGIN, SQLITE_OK, op);
}

/* Commits when err is CPM_OK, else (or if COMMIT fails) rolls back. Returns the outcome. */
cpm_err cpm__sqlite_tx_end(struct sqlite_store *s, cpm_err err, const char *op)
{
    if (err == CPM_OK)
        err = cpm__sqlite_run(s, ST_COMMIT, SQLITE_OK, op);
    if (err != CPM_OK && sqlite3_get_autocommit(s->db) == 0)
        (void)cpm__sqlite_run(s, ST_ROLLBACK, SQLITE_OK, op);
    return err;
}

int cpm__sqlite_bind_text(sqlite3_stmt *st, int i, const char *text)
{
    return sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
}

/* A unique key of NULL or "" is stored as NULL: no constraint. */
static int bind_unique_key(sqlite3_stmt *st, int i, const char *key)
{
    if (key == NULL || key[0] == '\0')
        return sqlite3_bind_null(st, i);
    return cpm__sqlite_bind_text(st, i, key);
}

char *cpm__sqlite_column_strdup(sqlite3_stmt *st, int col)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    if (text == NULL)
        return NULL;
    return cpm_strndup(text, (size_t)sqlite3_column_bytes(st, col));
}

void cpm__sqlite_column_copy(sqlite3_stmt *st, int col, char *out, size_t size)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    cpm_strlcpy(out, text != NULL ? text : "", size);
}

static cpm_err read_doc(sqlite3_stmt *st, void *item)
{
    struct cpm_doc *doc = item;
    memset(doc, 0, sizeof(*doc));
    cpm__sqlite_column_copy(st, 0, doc->id, sizeof(doc->id));
    doc->revision = sqlite3_column_int64(st, 2);
    doc->created_ms = sqlite3_column_int64(st, 3);
    doc->updated_ms = sqlite3_column_int64(st, 4);
    doc->body = cpm__sqlite_column_strdup(st, 1);
    return doc->body != NULL ? CPM_OK : CPM_ERR_NOMEM;
}

static cpm_err read_notice_version(sqlite3_stmt *st, void *item)
{
    struct cpm_notice_version *v = item;
    memset(v, 0, sizeof(*v));
    cpm__sqlite_column_copy(st, 0, v->notice_id, sizeof(v->notice_id));
    v->version = sqlite3_column_int64(st, 1);
    v->published_ms = sqlite3_column_int64(st, 3);
    v->body = cpm__sqlite_column_strdup(st, 2);
    return v->body != NULL ? CPM_OK : CPM_ERR_NOMEM;
}

static cpm_err read_api_key(sqlite3_stmt *st, void *item)
{
    struct cpm_api_key *key = item;
    memset(key, 0, sizeof(*key));
    cpm__sqlite_column_copy(st, 0, key->id, sizeof(key->id));
    cpm__sqlite_column_copy(st, 1, key->name, sizeof(key->name));
    key->scopes = (uint32_t)sqlite3_column_int64(st, 2);
    key->created_ms = sqlite3_column_int64(st, 3);
    key->revoked_ms = sqlite3_column_int64(st, 4);
    return CPM_OK;
}

void *cpm__sqlite_rows_at(const struct rows *rows, int i)
{
    return rows->items + (size_t)i * rows->item_bytes;
}

static cpm_err rows_grow(struct rows *rows)
{
    int capacity = rows->capacity == 0 ? 16 : rows->capacity * 2;
    void *items = cpm_realloc(rows->items, (size_t)capacity * rows->item_bytes);
    if (items == NULL)
        return CPM_ERR_NOMEM;
    rows->items = items;
    rows->capacity = capacity;
    return CPM_OK;
}

/* Steps a bound list statement to the end (its LIMIT caps the rows), then resets it. */
cpm_err cpm__sqlite_collect(struct sqlite_store *s, enum stmt id, int bind_rc, const char *op,
                            read_row_fn read, struct rows *rows)
{
    sqlite3_stmt *st = s->stmts[id];
    cpm_err err = CPM_OK;
    int rc = bind_rc;
    while (err == CPM_OK && rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && rows->count == rows->capacity)
            err = rows_grow(rows);
        if (rc == SQLITE_ROW && err == CPM_OK)
            err = read(st, cpm__sqlite_rows_at(rows, rows->count));
        if (rc == SQLITE_ROW && err == CPM_OK) {
            rows->count++;
            rc = SQLITE_OK;
        }
    }
    if (err == CPM_OK && rc != SQLITE_DONE)
        err = cpm__sqlite_fail(s, op, rc);
    cpm__sqlite_done(st);
    return err;
}

void cpm__sqlite_rows_free(struct rows *rows, void (*release)(void *item))
{
    for (int i = 0; release != NULL && i < rows->count; i++)
        release(cpm__sqlite_rows_at(rows, i));
    cpm_free(rows->items);
}

static void release_doc(void *item)
{
    cpm_doc_release(item);
}

static void release_notice_version(void *item)
{
    cpm_notice_version_release(item);
}

/* ---- open, close, ping ---- */

static cpm_err pragma(struct sqlite_store *s, const char *sql, const char *expect,
                      const char *location, struct cpm_detail *detail)
{
    sqlite3_stmt *st = NULL;
    cpm_err err = CPM_OK;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(st);
        const char *value = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (rc == SQLITE_ROW && expect != NULL && (value == NULL || strcasecmp(value, expect))) {
            cpm_detail_add(detail, "", "cannot set %s on the store at %s", sql, location);
            err = CPM_ERR_STORE;
            break;
        }
    }
    if (err == CPM_OK && rc != SQLITE_DONE) {
        cpm_detail_add(detail, "", "cannot set up the store at %s: %s", location,
                       sqlite3_errmsg(s->db));
        err = cpm__sqlite_fail(s, sql, rc);
    }
    sqlite3_finalize(st);
    return err;
}

/* Connection settings, none of which writes to the file. */
static cpm_err configure(struct sqlite_store *s, const char *location, struct cpm_detail *detail)
{
    sqlite3_extended_result_codes(s->db, 1);
    cpm_err err = sqlite3_busy_timeout(s->db, CPM_STORE_BUSY_TIMEOUT_MS) == SQLITE_OK
                      ? CPM_OK
                      : cpm__sqlite_fail(s, "busy_timeout", sqlite3_errcode(s->db));
    if (err == CPM_OK)
        err = pragma(s, "PRAGMA synchronous = FULL", NULL, location, detail);
    if (err == CPM_OK)
        err = pragma(s, "PRAGMA foreign_keys = ON", NULL, location, detail);
    return err;
}

static cpm_err prepare_all(struct sqlite_store *s)
{
    for (int i = 0; i < ST__COUNT; i++) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[i],
                                    NULL);
        if (rc != SQLITE_OK)
            return cpm__sqlite_fail(s, "prepare", rc);
    }
    return CPM_OK;
}

static void destroy(struct sqlite_store *s, bool checkpoint)
{
    if (s->reader != NULL)
        destroy(s->reader, false);
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    if (checkpoint) {
        int rc = sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            cpm_log_warn(MODULE, "close: checkpoint failed: %s", sqlite3_errmsg(s->db));
    }
    if (sqlite3_close(s->db) != SQLITE_OK)
        cpm_log_error(MODULE, "close failed: %s", sqlite3_errmsg(s->db));
    pthread_mutex_destroy(&s->lock);
    cpm_free(s);
}

/*
 * SQLite's memory statistics take a global mutex on every allocation (a
 * few per row written); nothing reads them. Only possible before SQLite
 * initialises, so once, before the first connection.
 */
static void no_memstatus(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* Opens one connection to location, configured, not yet migrated or prepared. */
static cpm_err connect(const char *location, int flags, struct sqlite_store **out,
                       struct cpm_detail *detail)
{
    struct sqlite_store *s = cpm_calloc(1, sizeof(*s));
    if (s == NULL)
        return CPM_ERR_NOMEM;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        cpm_free(s);
        return CPM_ERR_INTERNAL;
    }
    s->base.ops = &cpm_store_sqlite_ops;
    *out = s;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    (void)pthread_once(&once, no_memstatus);
    /* No SQLite mutexes: every use of a connection is under s->lock already. */
    int rc = sqlite3_open_v2(location, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        cpm_detail_add(detail, "", "cannot open the store at %s: %s", location,
                       s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        return cpm__sqlite_fail(s, "open", rc);
    }
    return configure(s, location, detail);
}

cpm_err cpm__sqlite_connect_reader(struct sqlite_store *of, struct sqlite_store **out)
{
    const char *file = sqlite3_db_filename(of->db, "main");
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    *out = NULL;
    cpm_err err =
        file != NULL && file[0] ? connect(file, SQLITE_OPEN_READONLY, out, &detail) : CPM_ERR_STORE;
    if (err == CPM_OK) {
        (*out)->read_only = true;
        err = prepare_all(*out);
    }
    if (err != CPM_OK && *out != NULL) {
        destroy(*out, false);
        *out = NULL;
    }
    return err;
}

void cpm__sqlite_disconnect(struct sqlite_store *s)
{
    destroy(s, false);
}

#define READ_WRITE (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)

static cpm_err sqlite_open(const char *location, struct cpm_store **out, struct cpm_detail *detail)
{
    struct sqlite_store *s = NULL;
    cpm_err err = connect(location, READ_WRITE, &s, detail);
    if (err == CPM_OK)
        err = cpm__sqlite_migrate(s->db, location, detail);
    /* After the schema check: journal_mode=WAL is the one setting written to the file. */
    if (err == CPM_OK)
        err = pragma(s, "PRAGMA journal_mode = WAL", "wal", location, detail);
    /* the writer's indexes stay in memory; the reader (point reads, the index load) keeps the
     * default */
    if (err == CPM_OK)
        err = pragma(s, "PRAGMA cache_size = -" CPM_STRINGIFY(CPM_STORE_CACHE_KIB), NULL, location,
                     detail);
    if (err == CPM_OK)
        err = prepare_all(s);
    if (err == CPM_OK)
        err = connect(location, READ_WRITE, &s->reader, detail);
    if (err == CPM_OK)
        err = prepare_all(s->reader);
    if (err != CPM_OK) {
        if (s != NULL)
            destroy(s, false);
        return err;
    }
    *out = &s->base;
    return CPM_OK;
}

static void sqlite_close(struct cpm_store *store)
{
    if (store == NULL)
        return;
    /* No other thread may use the store any more: no lock to take. */
    CPM_ASSERT(store->ops == &cpm_store_sqlite_ops);
    struct sqlite_store *s = (struct sqlite_store *)store;
    destroy(s, !s->read_only);
}

sqlite3 *cpm__sqlite_db(struct cpm_store *store)
{
    CPM_ASSERT(store != NULL && store->ops == &cpm_store_sqlite_ops);
    return ((struct sqlite_store *)store)->db;
}

static cpm_err sqlite_ping(struct cpm_store *store)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    cpm_err err = cpm__sqlite_run(s, ST_PING, SQLITE_OK, "ping");
    cpm__sqlite_unlock(s);
    return err;
}

static cpm_err sqlite_schema_version(struct cpm_store *store, int *out)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    cpm_err err = cpm__sqlite_step_row(s, ST_USER_VERSION, SQLITE_OK, "schema_version");
    if (err == CPM_OK)
        *out = sqlite3_column_int(s->stmts[ST_USER_VERSION], 0);
    cpm__sqlite_done(s->stmts[ST_USER_VERSION]);
    cpm__sqlite_unlock(s);
    return err == CPM_ERR_NOT_FOUND ? CPM_ERR_STORE : err;
}

/* ---- read-only stores (exports, audits) ---- */

/* "file:" and path with what a URI must escape escaped, then "?query": SQLite's URI filename. */
static bool uri(const char *path, const char *query, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t at = (size_t)snprintf(out, cap, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p && at + 4 < cap; p++) {
        if (*p == '%' || *p == '?' || *p == '#' || *p <= ' ' || *p >= 0x7f) {
            out[at++] = '%';
            out[at++] = hex[*p >> 4];
            out[at++] = hex[*p & 15];
        } else {
            out[at++] = (char)*p;
        }
    }
    int n = snprintf(out + at, cap - at, "?%s", query);
    return n > 0 && at + (size_t)n < cap;
}

/* The schema must be this binary's (checked before any statement is prepared on it). */
static cpm_err schema_current(struct sqlite_store *s, const char *path, struct cpm_detail *detail)
{
    int version = 0;
    cpm_err err = cpm__sqlite_user_version(s->db, &version);
    if (err == CPM_OK && version != CPM_SCHEMA_VERSION) {
        cpm_detail_add(detail, "",
                       "the store at %s has schema version %d, this OpenCPM %d: open it once for "
                       "writing (start cpmd) before reading it read-only",
                       path, version, CPM_SCHEMA_VERSION);
        err = CPM_ERR_STORE;
    }
    return err;
}

static cpm_err sqlite_open_readonly(const char *path, bool immutable, struct cpm_store **out,
                                    struct cpm_detail *detail)
{
    char location[PATH_MAX + 64];
    struct sqlite_store *s = NULL;
    if (!uri(path, immutable ? "immutable=1" : "mode=ro", location, sizeof(location))) {
        cpm_detail_add(detail, "", "the store path is too long: %s", path);
        return CPM_ERR_IO;
    }
    cpm_err err = connect(location, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, &s, detail);
    if (s != NULL)
        s->read_only = true;
    if (err == CPM_OK)
        err = schema_current(s, path, detail);
    if (err == CPM_OK)
        err = prepare_all(s);
    if (err != CPM_OK) {
        if (s != NULL)
            destroy(s, false);
        return err;
    }
    *out = &s->base;
    return CPM_OK;
}

/* ---- configuration documents ---- */

static cpm_err doc_insert(struct sqlite_store *s, enum cpm_doc_kind kind, const char *id,
                          const char *unique_key, const char *body, int64_t now_ms)
{
    sqlite3_stmt *st = s->stmts[ST_DOC_INSERT];
    int rc = cpm__sqlite_bind_text(st, 1, kind_name(kind));
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, id);
    rc = rc ? rc : bind_unique_key(st, 3, unique_key);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 4, body);
    rc = rc ? rc : sqlite3_bind_int64(st, 5, now_ms);
    return cpm__sqlite_run(s, ST_DOC_INSERT, rc, "doc_create");
}

static cpm_err sqlite_doc_create(struct cpm_store *store, enum cpm_doc_kind kind, const char *id,
                                 const char *unique_key, const char *body, int64_t now_ms)
{
    CPM_ASSERT(id != NULL && body != NULL && strlen(id) <= CPM_ID_BYTES_MAX);
    struct sqlite_store *s = cpm__sqlite_lock(store);
    cpm_err err = cpm__sqlite_tx_begin(s, "doc_create");
    if (err == CPM_OK)
        err =
            cpm__sqlite_tx_end(s, doc_insert(s, kind, id, unique_key, body, now_ms), "doc_create");
    cpm__sqlite_unlock(s);
    return err;
}

static cpm_err doc_revision(struct sqlite_store *s, enum cpm_doc_kind kind, const char *id,
                            int64_t *out, const char *op)
{
    sqlite3_stmt *st = s->stmts[ST_DOC_REVISION];
    int rc = cpm__sqlite_bind_text(st, 1, kind_name(kind));
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, id);
    cpm_err err = cpm__sqlite_step_row(s, ST_DOC_REVISION, rc, op);
    if (err == CPM_OK)
        *out = sqlite3_column_int64(st, 0);
    cpm__sqlite_done(st);
    return err;
}

static cpm_err doc_replace(struct sqlite_store *s, enum cpm_doc_kind kind, const char *id,
                           const char *unique_key, const char *body, int64_t expected_revision,
                           int64_t now_ms, int64_t *out_revision)
{
    int64_t revision = 0;
    cpm_err err = doc_revision(s, kind, id, &revision, "doc_update");
    if (err != CPM_OK)
        return err;
    if (expected_revision != 0 && expected_revision != revision)
        return CPM_ERR_PRECONDITION;
    sqlite3_stmt *st = s->stmts[ST_DOC_UPDATE];
    int rc = cpm__sqlite_bind_text(st, 1, kind_name(kind));
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, id);
    rc = rc ? rc : bind_unique_key(st, 3, unique_key);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 4, body);
    rc = rc ? rc : sqlite3_bind_int64(st, 5, now_ms);
    err = cpm__sqlite_run(s, ST_DOC_UPDATE, rc, "doc_update");
    if (err == CPM_OK && out_revision != NULL)
        *out_revision = revision + 1;
    return err;
}

static cpm_err sqlite_doc_update(struct cpm_store *store, enum cpm_doc_kind kind, const char *id,
                                 const char *unique_key, const char *body,
                                 int64_t expected_revision, int64_t now_ms, int64_t *out_revision)
{
    CPM_ASSERT(id != NULL && body != NULL);
    struct sqlite_store *s = cpm__sqlite_lock(store);
    cpm_err err = cpm__sqlite_tx_begin(s, "doc_update");
    if (err == CPM_OK)
        err = cpm__sqlite_tx_end(
            s, doc_replace(s, kind, id, unique_key, body, expected_revision, now_ms, out_revision),
            "doc_update");
    cpm__sqlite_unlock(s);
    return err;
}

static cpm_err sqlite_doc_get(struct cpm_store *store, enum cpm_doc_kind kind, const char *id,
                              struct cpm_doc *out)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_DOC_GET];
    int rc = cpm__sqlite_bind_text(st, 1, kind_name(kind));
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, id);
    cpm_err err = cpm__sqlite_step_row(s, ST_DOC_GET, rc, "doc_get");
    if (err == CPM_OK)
        err = read_doc(st, out);
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}

static cpm_err sqlite_doc_list(struct cpm_store *store, enum cpm_doc_kind kind,
                               const char *after_id, int limit, cpm_doc_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_doc)};
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_DOC_LIST];
    int rc = cpm__sqlite_bind_text(st, 1, kind_name(kind));
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, after_id != NULL ? after_id : "");
    rc = rc ? rc : sqlite3_bind_int(st, 3, limit > 0 ? limit : 0);
    cpm_err err = cpm__sqlite_collect(s, ST_DOC_LIST, rc, "doc_list", read_doc, &rows);
    cpm__sqlite_unlock(s);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, release_doc);
    return err;
}

/* ---- notice versions ---- */

static cpm_err notice_version_append(struct sqlite_store *s, const char *notice_id,
                                     const char *body, int64_t now_ms, int64_t *out_version)
{
    int64_t notice_revision = 0;
    cpm_err err =
        doc_revision(s, CPM_DOC_NOTICE, notice_id, &notice_revision, "notice_version_publish");
    if (err != CPM_OK)
        return err;
    sqlite3_stmt *st = s->stmts[ST_NV_MAX];
    err = cpm__sqlite_step_row(s, ST_NV_MAX, cpm__sqlite_bind_text(st, 1, notice_id),
                               "notice_version_publish");
    int64_t version = err == CPM_OK ? sqlite3_column_int64(st, 0) + 1 : 0;
    cpm__sqlite_done(st);
    if (err != CPM_OK)
        return err == CPM_ERR_NOT_FOUND ? CPM_ERR_STORE : err;
    st = s->stmts[ST_NV_INSERT];
    int rc = cpm__sqlite_bind_text(st, 1, notice_id);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, version);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, body);
    rc = rc ? rc : sqlite3_bind_int64(st, 4, now_ms);
    err = cpm__sqlite_run(s, ST_NV_INSERT, rc, "notice_version_publish");
    if (err == CPM_OK && out_version != NULL)
        *out_version = version;
    return err;
}

static cpm_err sqlite_notice_version_publish(struct cpm_store *store, const char *notice_id,
                                             const char *body, int64_t now_ms, int64_t *out_version)
{
    CPM_ASSERT(notice_id != NULL && body != NULL);
    struct sqlite_store *s = cpm__sqlite_lock(store);
    cpm_err err = cpm__sqlite_tx_begin(s, "notice_version_publish");
    if (err == CPM_OK)
        err = cpm__sqlite_tx_end(s, notice_version_append(s, notice_id, body, now_ms, out_version),
                                 "notice_version_publish");
    cpm__sqlite_unlock(s);
    return err;
}

static cpm_err sqlite_notice_version_get(struct cpm_store *store, const char *notice_id,
                                         int64_t version, struct cpm_notice_version *out)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    enum stmt id = version == 0 ? ST_NV_LATEST : ST_NV_GET;
    sqlite3_stmt *st = s->stmts[id];
    int rc = cpm__sqlite_bind_text(st, 1, notice_id);
    if (version != 0)
        rc = rc ? rc : sqlite3_bind_int64(st, 2, version);
    cpm_err err = cpm__sqlite_step_row(s, id, rc, "notice_version_get");
    if (err == CPM_OK)
        err = read_notice_version(st, out);
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}

static cpm_err sqlite_notice_version_list(struct cpm_store *store, const char *notice_id,
                                          int64_t after_version, int limit,
                                          cpm_notice_version_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_notice_version)};
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_NV_LIST];
    int rc = cpm__sqlite_bind_text(st, 1, notice_id);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, after_version);
    rc = rc ? rc : sqlite3_bind_int(st, 3, limit > 0 ? limit : 0);
    cpm_err err =
        cpm__sqlite_collect(s, ST_NV_LIST, rc, "notice_version_list", read_notice_version, &rows);
    cpm__sqlite_unlock(s);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, release_notice_version);
    return err;
}

/* ---- API keys ---- */

static cpm_err api_key_add(struct sqlite_store *s, const struct cpm_api_key *key,
                           const uint8_t hash[CPM_API_KEY_HASH_BYTES])
{
    sqlite3_stmt *st = s->stmts[ST_KEY_INSERT];
    int rc = cpm__sqlite_bind_text(st, 1, key->id);
    rc = rc ? rc : sqlite3_bind_blob(st, 2, hash, CPM_API_KEY_HASH_BYTES, SQLITE_STATIC);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, key->name);
    rc = rc ? rc : sqlite3_bind_int64(st, 4, key->scopes);
    rc = rc ? rc : sqlite3_bind_int64(st, 5, key->created_ms);
    rc = rc ? rc : sqlite3_bind_int64(st, 6, key->revoked_ms);
    return cpm__sqlite_run(s, ST_KEY_INSERT, rc, "api_key_insert");
}

static cpm_err sqlite_api_key_insert(struct cpm_store *store, const struct cpm_api_key *key,
                                     const uint8_t hash[CPM_API_KEY_HASH_BYTES])
{
    CPM_ASSERT(key != NULL && hash != NULL);
    struct sqlite_store *s = cpm__sqlite_lock(store);
    cpm_err err = cpm__sqlite_tx_begin(s, "api_key_insert");
    if (err == CPM_OK)
        err = cpm__sqlite_tx_end(s, api_key_add(s, key, hash), "api_key_insert");
    cpm__sqlite_unlock(s);
    return err;
}

static cpm_err sqlite_api_key_find(struct cpm_store *store,
                                   const uint8_t hash[CPM_API_KEY_HASH_BYTES],
                                   struct cpm_api_key *out)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_KEY_FIND];
    int rc = sqlite3_bind_blob(st, 1, hash, CPM_API_KEY_HASH_BYTES, SQLITE_STATIC);
    cpm_err err = cpm__sqlite_step_row(s, ST_KEY_FIND, rc, "api_key_find");
    if (err == CPM_OK)
        err = read_api_key(st, out);
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}

static cpm_err sqlite_api_key_list(struct cpm_store *store, const char *after_id, int limit,
                                   cpm_api_key_visit_fn visit, void *ctx)
{
    struct rows rows = {.item_bytes = sizeof(struct cpm_api_key)};
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_KEY_LIST];
    int rc = cpm__sqlite_bind_text(st, 1, after_id != NULL ? after_id : "");
    rc = rc ? rc : sqlite3_bind_int(st, 2, limit > 0 ? limit : 0);
    cpm_err err = cpm__sqlite_collect(s, ST_KEY_LIST, rc, "api_key_list", read_api_key, &rows);
    cpm__sqlite_unlock(s);
    for (int i = 0; err == CPM_OK && i < rows.count; i++)
        err = visit(ctx, cpm__sqlite_rows_at(&rows, i));
    cpm__sqlite_rows_free(&rows, NULL);
    return err;
}

static cpm_err api_key_mark_revoked(struct sqlite_store *s, const char *id, int64_t now_ms)
{
    sqlite3_stmt *st = s->stmts[ST_KEY_REVOKE];
    int rc = cpm__sqlite_bind_text(st, 1, id);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, now_ms);
    cpm_err err = cpm__sqlite_run(s, ST_KEY_REVOKE, rc, "api_key_revoke");
    if (err == CPM_OK && sqlite3_changes(s->db) == 0)
        err = CPM_ERR_NOT_FOUND;
    return err;
}

static cpm_err sqlite_api_key_revoke(struct cpm_store *store, const char *id, int64_t now_ms)
{
    struct sqlite_store *s = cpm__sqlite_lock(store);
    cpm_err err = cpm__sqlite_tx_begin(s, "api_key_revoke");
    if (err == CPM_OK)
        err = cpm__sqlite_tx_end(s, api_key_mark_revoked(s, id, now_ms), "api_key_revoke");
    cpm__sqlite_unlock(s);
    return err;
}

const struct cpm_store_ops cpm_store_sqlite_ops = {
    .version = CPM_STORE_OPS_VERSION,
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .ping = sqlite_ping,
    .schema_version = sqlite_schema_version,
    .doc_create = sqlite_doc_create,
    .doc_update = sqlite_doc_update,
    .doc_get = sqlite_doc_get,
    .doc_list = sqlite_doc_list,
    .notice_version_publish = sqlite_notice_version_publish,
    .notice_version_get = sqlite_notice_version_get,
    .notice_version_list = sqlite_notice_version_list,
    .api_key_insert = sqlite_api_key_insert,
    .api_key_find = sqlite_api_key_find,
    .api_key_list = sqlite_api_key_list,
    .api_key_revoke = sqlite_api_key_revoke,
    .batch_write = cpm__sqlite_batch_write,
    .ledger_size = cpm__sqlite_ledger_size,
    .merkle_node_get = cpm__sqlite_merkle_node_get,
    .merkle_level = cpm__sqlite_merkle_level,
    .index_changed = cpm__sqlite_index_changed,
    .index_load_subject = cpm__sqlite_index_load_subject,
    .event_list = cpm__sqlite_event_list,
    .subject_get = cpm__sqlite_subject_get,
    .consent_state_list = cpm__sqlite_consent_state_list,
    .checkpoint_put = cpm__sqlite_checkpoint_put,
    .checkpoint_latest = cpm__sqlite_checkpoint_latest,
    .checkpoint_after = cpm__sqlite_checkpoint_after,
    .index_load = cpm__sqlite_index_load,
    .preferences_get = cpm__sqlite_preferences_get,
    .contacts_mark = cpm__sqlite_contacts_mark,
    .idempotency_get = cpm__sqlite_idempotency_get,
    .identity_find = cpm__sqlite_identity_find,
    .identity_list = cpm__sqlite_identity_list,
    .guardian_list = cpm__sqlite_guardian_list,
    .ward_list = cpm__sqlite_ward_list,
    .consent_state_due = cpm__sqlite_consent_state_due,
    .consent_state_remind = cpm__sqlite_consent_state_remind,
    .consent_state_on_notice = cpm__sqlite_consent_state_on_notice,
    .doc_delete = cpm__sqlite_doc_delete,
    .delivery_cursors_get = cpm__sqlite_delivery_cursors_get,
    .delivery_record = cpm__sqlite_delivery_record,
    .delivery_cursors_delete = cpm__sqlite_delivery_cursors_delete,
    .delivery_list = cpm__sqlite_delivery_list,
    .otp_insert = cpm__sqlite_otp_insert,
    .otp_get = cpm__sqlite_otp_get,
    .otp_attempt = cpm__sqlite_otp_attempt,
    .otp_use = cpm__sqlite_otp_use,
    .otp_count_since = cpm__sqlite_otp_count_since,
    .rights_request_get = cpm__sqlite_rights_request_get,
    .rights_request_open = cpm__sqlite_rights_request_open,
    .rights_request_list = cpm__sqlite_rights_request_list,
    .rights_request_queue = cpm__sqlite_rights_request_queue,
    .open_readonly = sqlite_open_readonly,
    .event_id_exists = cpm__sqlite_event_id_exists,
    .event_export = cpm__sqlite_event_export,
    .consent_state_page = cpm__sqlite_consent_state_page,
    .bulk_load = cpm__sqlite_bulk_load,
    .bulk_abort = cpm__sqlite_bulk_abort,
    .event_list_between = cpm__sqlite_event_list_between,
    .delivery_list_seqs = cpm__sqlite_delivery_list_seqs,
    .report_consents = cpm__sqlite_report_consents,
    .report_deliveries = cpm__sqlite_report_deliveries,
    .delivery_last = cpm__sqlite_delivery_last,
};
