/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_internal.h — what the SQLite backend's files share: the store
 * struct, its statement ids (the SQL is in sqlite.c, one table), and the
 * helpers for locking, stepping, binding and collecting rows. Only
 * src/store/sqlite*.c include it.
 */
#ifndef CPM_STORE_SQLITE_INTERNAL_H
#define CPM_STORE_SQLITE_INTERNAL_H

#include <pthread.h>

#include "store/sqlite.h"

enum stmt {
    ST_BEGIN,
    ST_BEGIN_READ, /* a read transaction: a snapshot, no lock on writers */
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PING,
    ST_USER_VERSION,
    ST_DOC_INSERT,
    ST_DOC_REVISION,
    ST_DOC_UPDATE,
    ST_DOC_GET,
    ST_DOC_LIST,
    ST_NV_MAX,
    ST_NV_INSERT,
    ST_NV_GET,
    ST_NV_LATEST,
    ST_NV_LIST,
    ST_KEY_INSERT,
    ST_KEY_FIND,
    ST_KEY_LIST,
    ST_KEY_REVOKE,
    /* ledger (sqlite_ledger.c) */
    ST_SUBJECT_INSERT,
    ST_SUBJECT_GET,
    ST_SUBJECT_ERASE,
    ST_EVENT_INSERT,
    ST_EVENT_LIST_ALL,
    ST_EVENT_LIST_SUBJECT,
    ST_EVENT_MAX_SEQ,
    ST_NODE_INSERT,
    ST_NODE_GET,
    ST_NODE_LEVEL,
    ST_STATE_UPSERT,
    ST_STATE_LIST,
    ST_CHECKPOINT_INSERT,
    ST_CHECKPOINT_LATEST,
    ST_CHECKPOINT_AFTER,
    ST_IDEM_INSERT,
    ST_IDEM_GET,
    /* identifiers, guardians, age and erasure (sqlite_subjects.c) */
    ST_SUBJECT_AGE_SET,
    ST_IDENTITY_DELETE_SUBJECT,
    ST_GUARDIAN_DELETE_SUBJECT,
    ST_STATE_ERASE,
    ST_IDENTITY_INSERT,
    ST_IDENTITY_FIND,
    ST_IDENTITY_LIST,
    ST_GUARDIAN_INSERT,
    ST_GUARDIAN_LIST,
    ST_WARD_LIST,
    ST_STATE_DUE,
    ST_STATE_REMIND,
    ST_STATE_ON_NOTICE,
    /* preferences, sends and the index's load (sqlite_index.c) */
    ST_PREFS_UPSERT,
    ST_PREFS_GET,
    ST_PREFS_ERASE,
    ST_CONTACT_INSERT,
    ST_CONTACT_ERASE,
    ST_CONTACT_MARK,
    ST_LOAD_SUBJECTS,
    ST_LOAD_STATES,
    ST_LOAD_STATES_TAIL,
    ST_LOAD_PREFS,
    ST_LOAD_CONTACTS,
    ST_LOAD_ROWIDS,
    ST_CONTACT_AT,
    ST_CHANGED_SUBJECTS,
    ST_SUBJECT_LOAD,
    ST_SUBJECT_STATES,
    ST_SUBJECT_PREFS,
    ST_SUBJECT_CONTACTS,
    ST_LOAD_SAMPLE,
    /* destinations (sqlite_sync.c) */
    ST_DOC_DELETE,
    ST_LANES_GET,
    ST_LANE_PUT,
    ST_LANES_DELETE,
    ST_DELIVERY_INSERT,
    ST_DELIVERY_LIST_DESTINATION,
    ST_DELIVERY_LIST_OUTCOME,
    ST_DELIVERY_LIST_SUBJECT,
    /* one-time codes (sqlite_otp.c) */
    ST_OTP_INSERT,
    ST_OTP_GET,
    ST_OTP_ATTEMPT,
    ST_OTP_USE,
    ST_OTP_COUNT_SUBJECT,
    ST_OTP_COUNT_IP,
    /* rights requests (sqlite_rights.c) */
    ST_RIGHTS_INSERT,
    ST_RIGHTS_UPDATE,
    ST_RIGHTS_GET,
    ST_RIGHTS_OPEN,
    ST_RIGHTS_LIST_SUBJECT,
    ST_RIGHTS_QUEUE_ALL,
    ST_RIGHTS_QUEUE_STATUS,
    /* import and export (sqlite_export.c) */
    ST_EVENT_ID_EXISTS,
    ST_EXPORT_EVENTS,
    ST_EXPORT_STATES,
    /* evidence packs (sqlite_ledger.c, sqlite_sync.c) */
    ST_EVENT_LIST_BETWEEN,
    ST_DELIVERY_LIST_SEQS,
    ST_DELIVERY_MAX_ID,
    /* reports (sqlite_reports.c) */
    ST_REPORT_CONSENT_ADD,
    ST_REPORT_DELIVERY_ADD,
    ST_REPORT_CONSENTS,
    ST_REPORT_DELIVERIES,
    /* the console's destinations (sqlite_sync.c) */
    ST_DELIVERY_LAST,
    ST__COUNT
};

struct sqlite_store {
    struct cpm_store base; /* first, so a struct cpm_store * points here */
    sqlite3 *db;
    pthread_mutex_t lock;
    sqlite3_stmt *stmts[ST__COUNT];
    /*
     * A second connection for reads (NULL on the reader itself): in WAL mode
     * readers never wait for the writer's commit and fsync.
     */
    struct sqlite_store *reader;
    bool read_only; /* opened by open_readonly: nothing is written, not even at close */
    /* bulk_load: 1 while batch_write joins its open transaction, -1 once that was dropped */
    int bulk;
};

/* Rows copied out of a list query, visited after the lock is released. */
struct rows {
    unsigned char *items;
    size_t item_bytes;
    int count;
    int capacity;
};

typedef cpm_err (*read_row_fn)(sqlite3_stmt *st, void *item);

/*
 * A read-only connection of its own to of's database, every statement
 * prepared (for work that reads beside the store's own connections: the
 * index's load in parts). cpm__sqlite_disconnect closes it.
 */
cpm_err cpm__sqlite_connect_reader(struct sqlite_store *of, struct sqlite_store **out);
void cpm__sqlite_disconnect(struct sqlite_store *s);

/* Takes the store's lock; every op holds it for its whole duration. */
struct sqlite_store *cpm__sqlite_lock(struct cpm_store *store);
/* Takes the read connection's lock and returns it: for operations that only read. */
struct sqlite_store *cpm__sqlite_lock_read(struct cpm_store *store);
void cpm__sqlite_unlock(struct sqlite_store *s);
/* Maps a failed sqlite3 call to a cpm_err; logs what is not the caller's conflict. */
cpm_err cpm__sqlite_fail(struct sqlite_store *s, const char *op, int rc);
/* Resets a statement and clears its bindings. */
void cpm__sqlite_done(sqlite3_stmt *st);
/* Steps a bound statement expected to return no row, then resets it. */
cpm_err cpm__sqlite_run(struct sqlite_store *s, enum stmt id, int bind_rc, const char *op);
/* Steps once: CPM_OK with the row current, NOT_FOUND when none. Caller resets. */
cpm_err cpm__sqlite_step_row(struct sqlite_store *s, enum stmt id, int bind_rc, const char *op);
cpm_err cpm__sqlite_tx_begin(struct sqlite_store *s, const char *op);
/* Commits when err is CPM_OK, else (or if COMMIT fails) rolls back. Returns the outcome. */
cpm_err cpm__sqlite_tx_end(struct sqlite_store *s, cpm_err err, const char *op);
int cpm__sqlite_bind_text(sqlite3_stmt *st, int i, const char *text);
char *cpm__sqlite_column_strdup(sqlite3_stmt *st, int col);
void cpm__sqlite_column_copy(sqlite3_stmt *st, int col, char *out, size_t size);
void *cpm__sqlite_rows_at(const struct rows *rows, int i);
/* Steps a bound list statement to the end (its LIMIT caps the rows), then resets it. */
cpm_err cpm__sqlite_collect(struct sqlite_store *s, enum stmt id, int bind_rc, const char *op,
                            read_row_fn read, struct rows *rows);
void cpm__sqlite_rows_free(struct rows *rows, void (*release)(void *item));

/* The ledger operations (sqlite_ledger.c), as in struct cpm_store_ops. */
cpm_err cpm__sqlite_batch_write(struct cpm_store *store, const struct cpm_write_batch *batch);
cpm_err cpm__sqlite_ledger_size(struct cpm_store *store, uint64_t *out);
cpm_err cpm__sqlite_merkle_level(struct cpm_store *store, unsigned level, uint64_t count,
                                 uint8_t (*out)[CPM_HASH_BYTES]);
cpm_err cpm__sqlite_merkle_node_get(struct cpm_store *store, unsigned level, uint64_t index,
                                    uint8_t out[CPM_HASH_BYTES]);
cpm_err cpm__sqlite_event_list(struct cpm_store *store, const char *subject_id, int64_t after_seq,
                               int limit, cpm_event_visit_fn visit, void *ctx);
cpm_err cpm__sqlite_subject_get(struct cpm_store *store, const char *id, struct cpm_subject *out);
cpm_err cpm__sqlite_consent_state_list(struct cpm_store *store, const char *subject_id,
                                       cpm_consent_state_visit_fn visit, void *ctx);
cpm_err cpm__sqlite_checkpoint_put(struct cpm_store *store, const struct cpm_checkpoint *cp);
cpm_err cpm__sqlite_checkpoint_latest(struct cpm_store *store, struct cpm_checkpoint *out);
cpm_err cpm__sqlite_checkpoint_after(struct cpm_store *store, int64_t after_size,
                                     struct cpm_checkpoint *out);
cpm_err cpm__sqlite_idempotency_get(struct cpm_store *store, const char *scope, const char *key,
                                    struct cpm_idempotency *out);

/*
 * The subject parts of a batch (sqlite_subjects.c), inside batch_write's
 * transaction: erasures before the events are written, the rest after.
 */
cpm_err cpm__sqlite_index_load(struct cpm_store *store, const struct cpm_index_loader *loader);
cpm_err cpm__sqlite_index_changed(struct cpm_store *store, uint64_t after_seq,
                                  int64_t after_contact, uint64_t contact_stamp, uint64_t max,
                                  cpm_err (*visit)(void *ctx, const char *subject_id), void *ctx);
cpm_err cpm__sqlite_index_load_subject(struct cpm_store *store, const char *subject_id,
                                       const struct cpm_index_loader *loader);
cpm_err cpm__sqlite_contacts_mark(struct cpm_store *store, int64_t *out, uint64_t *stamp);
cpm_err cpm__sqlite_preferences_get(struct cpm_store *store, const char *subject_id, char **doc,
                                    int64_t *seq, int64_t *updated_ms);
/* Writes the batch's preferences and sends; erase_subject_data deletes them for an erasure. */
cpm_err cpm__sqlite_batch_preferences(struct sqlite_store *s, const struct cpm_write_batch *b);
cpm_err cpm__sqlite_erase_preferences(struct sqlite_store *s, const char *subject_id);
int cpm__sqlite_bind_blob(sqlite3_stmt *st, int i, const void *data, size_t len);
void cpm__sqlite_read_state(sqlite3_stmt *st, struct cpm_consent_state *c);
cpm_err cpm__sqlite_batch_erasures(struct sqlite_store *s, const struct cpm_write_batch *b);
cpm_err cpm__sqlite_batch_subject_changes(struct sqlite_store *s, const struct cpm_write_batch *b);
/* The version 3 operations (sqlite_subjects.c), as in struct cpm_store_ops. */
cpm_err cpm__sqlite_identity_find(struct cpm_store *store, const char *type,
                                  const uint8_t hash[CPM_HASH_BYTES],
                                  char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1]);
cpm_err cpm__sqlite_identity_list(struct cpm_store *store, const char *subject_id, int limit,
                                  cpm_identity_visit_fn visit, void *ctx);
cpm_err cpm__sqlite_ward_list(struct cpm_store *store, const char *guardian_id, int limit,
                              cpm_guardian_link_visit_fn visit, void *ctx);
cpm_err cpm__sqlite_guardian_list(struct cpm_store *store, const char *child_id, int limit,
                                  cpm_guardian_link_visit_fn visit, void *ctx);

cpm_err cpm__sqlite_consent_state_due(struct cpm_store *store, int64_t now_ms, int limit,
                                      cpm_consent_state_visit_fn visit, void *ctx);
cpm_err cpm__sqlite_consent_state_remind(struct cpm_store *store, int64_t now_ms, int limit,
                                         cpm_consent_state_visit_fn visit, void *ctx);
cpm_err cpm__sqlite_consent_state_on_notice(struct cpm_store *store, const char *notice,
                                            int64_t version, const char *purpose,
                                            const char *after_subject, int limit,
                                            cpm_consent_state_visit_fn visit, void *ctx);

/* The version 6 operations (sqlite_sync.c), as in struct cpm_store_ops. */
cpm_err cpm__sqlite_doc_delete(struct cpm_store *store, enum cpm_doc_kind kind, const char *id);
cpm_err cpm__sqlite_delivery_cursors_get(struct cpm_store *store, const char *destination_id,
                                         int64_t *seqs, unsigned cap, unsigned *lanes);
cpm_err cpm__sqlite_delivery_record(struct cpm_store *store, const char *destination_id,
                                    const struct cpm_delivery *rows, size_t count,
                                    const struct cpm_lane_cursor *cursors, size_t cursor_count);
cpm_err cpm__sqlite_delivery_cursors_delete(struct cpm_store *store, const char *destination_id);
cpm_err cpm__sqlite_delivery_list(struct cpm_store *store, const struct cpm_delivery_filter *filter,
                                  int limit, cpm_delivery_visit_fn visit, void *ctx);

/* The version 7 operations (sqlite_otp.c), as in struct cpm_store_ops. */
cpm_err cpm__sqlite_otp_insert(struct cpm_store *store, const struct cpm_otp_challenge *c);
cpm_err cpm__sqlite_otp_get(struct cpm_store *store, const char *id, struct cpm_otp_challenge *out);
cpm_err cpm__sqlite_otp_attempt(struct cpm_store *store, const char *id, int attempts_max,
                                int64_t verified_ms);
cpm_err cpm__sqlite_otp_use(struct cpm_store *store, const char *id, int64_t now_ms);
cpm_err cpm__sqlite_otp_count_since(struct cpm_store *store, const char *subject_id,
                                    const uint8_t *ip_hash, int64_t since_ms, int64_t *out);

/* The version 8 operations (sqlite_rights.c), as in struct cpm_store_ops. */
cpm_err cpm__sqlite_rights_request_get(struct cpm_store *store, const char *id,
                                       struct cpm_rights_request *out);
cpm_err cpm__sqlite_rights_request_open(struct cpm_store *store, const char *subject_id,
                                        const char *type, struct cpm_rights_request *out);
cpm_err cpm__sqlite_rights_request_list(struct cpm_store *store, const char *subject_id,
                                        int64_t before_ms, const char *before_id, int limit,
                                        cpm_rights_request_visit_fn visit, void *ctx);
cpm_err cpm__sqlite_rights_request_queue(struct cpm_store *store,
                                         const struct cpm_rights_filter *filter, int limit,
                                         cpm_rights_request_visit_fn visit, void *ctx);
/* Writes the batch's rights requests and their status changes (inside batch_write). */
cpm_err cpm__sqlite_batch_rights(struct sqlite_store *s, const struct cpm_write_batch *b);

/* An events row (EVENT_COLUMNS, in order) into a struct cpm_event (release it). */
cpm_err cpm__sqlite_read_event(sqlite3_stmt *st, void *item);
/* The version 9 operations (sqlite_export.c), as in struct cpm_store_ops. */
cpm_err cpm__sqlite_event_id_exists(struct cpm_store *store, const char *id, bool *exists);
cpm_err cpm__sqlite_event_export(struct cpm_store *store, int64_t after_seq, int64_t to_seq,
                                 int limit, cpm_event_export_visit_fn visit, void *ctx);
cpm_err cpm__sqlite_consent_state_page(struct cpm_store *store,
                                       const struct cpm_consent_state *after, int limit,
                                       cpm_consent_state_visit_fn visit, void *ctx);
cpm_err cpm__sqlite_bulk_load(struct cpm_store *store, bool on);
void cpm__sqlite_bulk_abort(struct cpm_store *store);
/* After a batch_write inside a bulk load: a failure (err) drops the whole load. Returns err. */
cpm_err cpm__sqlite_bulk_write(struct sqlite_store *s, cpm_err err);

/* The version 10 operations (evidence packs), as in struct cpm_store_ops. */
cpm_err cpm__sqlite_event_list_between(struct cpm_store *store, int64_t from_ms, int64_t to_ms,
                                       int64_t after_seq, int64_t until_seq,
                                       cpm_event_visit_fn visit, void *ctx);
cpm_err cpm__sqlite_delivery_list_seqs(struct cpm_store *store, int64_t seq_min, int64_t seq_max,
                                       int64_t after_id, int64_t until_id,
                                       cpm_delivery_visit_fn visit, void *ctx, int64_t *last_id);
cpm_err cpm__sqlite_delivery_last(struct cpm_store *store, const char *destination_id,
                                  const char *outcome, int64_t *time_ms);

/*
 * Reports (sqlite_reports.c): the counts of a batch's consent events and of
 * a destination's delivery rows, added inside their writing transaction;
 * and the version 11 operations, as in struct cpm_store_ops.
 */
cpm_err cpm__sqlite_batch_reports(struct sqlite_store *s, const struct cpm_write_batch *b);
cpm_err cpm__sqlite_delivery_reports(struct sqlite_store *s, const char *destination_id,
                                     const struct cpm_delivery *rows, size_t count);
cpm_err cpm__sqlite_report_consents(struct cpm_store *store, const struct cpm_report_query *q,
                                    cpm_report_row_visit_fn visit, void *ctx);
cpm_err cpm__sqlite_report_deliveries(struct cpm_store *store, const struct cpm_report_query *q,
                                      cpm_report_delivery_visit_fn visit, void *ctx);

#endif /* CPM_STORE_SQLITE_INTERNAL_H */
