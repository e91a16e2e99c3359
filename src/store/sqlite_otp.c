/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_otp.c — the SQLite backend's one-time code challenges (ops
 * version 7): a row per code sent, holding only the code's keyed hash,
 * with its attempts, verification and single use, and the counts the
 * per-subject and per-IP limits read.
 */
#include "core/common.h"

#include "store/sqlite_internal.h"

cpm_err cpm__sqlite_otp_insert(struct cpm_store *store, const struct cpm_otp_challenge *c)
{
    struct sqlite_store *s = cpm__sqlite_lock(store);
    sqlite3_stmt *st = s->stmts[ST_OTP_INSERT];
    int rc = cpm__sqlite_bind_text(st, 1, c->id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, c->subject_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, c->property);
    rc = rc ? rc : sqlite3_bind_blob(st, 4, c->code_hash, CPM_HASH_BYTES, SQLITE_STATIC);
    rc = rc ? rc
            : (c->has_ip_hash ? sqlite3_bind_blob(st, 5, c->ip_hash, CPM_HASH_BYTES, SQLITE_STATIC)
                              : sqlite3_bind_zeroblob(st, 5, 0));
    rc = rc ? rc : sqlite3_bind_int64(st, 6, c->created_ms);
    rc = rc ? rc : sqlite3_bind_int64(st, 7, c->expires_ms);
    cpm_err err = cpm__sqlite_run(s, ST_OTP_INSERT, rc, "otp_insert");
    cpm__sqlite_unlock(s);
    return err;
}

static cpm_err read_challenge(sqlite3_stmt *st, struct cpm_otp_challenge *c)
{
    memset(c, 0, sizeof(*c));
    cpm__sqlite_column_copy(st, 0, c->id, sizeof(c->id));
    cpm__sqlite_column_copy(st, 1, c->subject_id, sizeof(c->subject_id));
    cpm__sqlite_column_copy(st, 2, c->property, sizeof(c->property));
    int ip_len = sqlite3_column_bytes(st, 4);
    if (sqlite3_column_bytes(st, 3) != CPM_HASH_BYTES || (ip_len != 0 && ip_len != CPM_HASH_BYTES))
        return CPM_ERR_STORE;
    memcpy(c->code_hash, sqlite3_column_blob(st, 3), CPM_HASH_BYTES);
    c->has_ip_hash = ip_len == CPM_HASH_BYTES;
    if (c->has_ip_hash)
        memcpy(c->ip_hash, sqlite3_column_blob(st, 4), CPM_HASH_BYTES);
    c->created_ms = sqlite3_column_int64(st, 5);
    c->expires_ms = sqlite3_column_int64(st, 6);
    c->attempts = sqlite3_column_int(st, 7);
    c->verified_ms = sqlite3_column_int64(st, 8);
    c->used_ms = sqlite3_column_int64(st, 9);
    return CPM_OK;
}

cpm_err cpm__sqlite_otp_get(struct cpm_store *store, const char *id, struct cpm_otp_challenge *out)
{
    /* the writer's connection: a challenge just sent or verified is seen at once */
    struct sqlite_store *s = cpm__sqlite_lock(store);
    sqlite3_stmt *st = s->stmts[ST_OTP_GET];
    cpm_err err = cpm__sqlite_step_row(s, ST_OTP_GET, cpm__sqlite_bind_text(st, 1, id), "otp_get");
    if (err == CPM_OK)
        err = read_challenge(st, out);
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}

/* Runs a one-row UPDATE; CONFLICT when it changed nothing but the row exists. */
static cpm_err update_one(struct cpm_store *store, enum stmt id, const char *challenge, int rc,
                          const char *op)
{
    struct sqlite_store *s = (struct sqlite_store *)store;
    cpm_err err = cpm__sqlite_run(s, id, rc, op);
    if (err == CPM_OK && sqlite3_changes(s->db) == 0) {
        sqlite3_stmt *st = s->stmts[ST_OTP_GET];
        err = cpm__sqlite_step_row(s, ST_OTP_GET, cpm__sqlite_bind_text(st, 1, challenge), op);
        cpm__sqlite_done(st);
        err = err == CPM_OK ? CPM_ERR_CONFLICT : err;
    }
    return err;
}

cpm_err cpm__sqlite_otp_attempt(struct cpm_store *store, const char *id, int attempts_max,
                                int64_t verified_ms)
{
    struct sqlite_store *s = cpm__sqlite_lock(store);
    sqlite3_stmt *st = s->stmts[ST_OTP_ATTEMPT];
    int rc = cpm__sqlite_bind_text(st, 1, id);
    rc = rc ? rc : sqlite3_bind_int(st, 2, attempts_max);
    rc = rc ? rc : sqlite3_bind_int64(st, 3, verified_ms);
    cpm_err err = update_one(&s->base, ST_OTP_ATTEMPT, id, rc, "otp_attempt");
    cpm__sqlite_unlock(s);
    return err;
}

cpm_err cpm__sqlite_otp_use(struct cpm_store *store, const char *id, int64_t now_ms)
{
    struct sqlite_store *s = cpm__sqlite_lock(store);
    sqlite3_stmt *st = s->stmts[ST_OTP_USE];
    int rc = cpm__sqlite_bind_text(st, 1, id);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, now_ms);
    cpm_err err = update_one(&s->base, ST_OTP_USE, id, rc, "otp_use");
    cpm__sqlite_unlock(s);
    return err;
}

cpm_err cpm__sqlite_otp_count_since(struct cpm_store *store, const char *subject_id,
                                    const uint8_t *ip_hash, int64_t since_ms, int64_t *out)
{
    CPM_ASSERT(subject_id != NULL || ip_hash != NULL);
    struct sqlite_store *s = cpm__sqlite_lock(store);
    enum stmt id = subject_id != NULL ? ST_OTP_COUNT_SUBJECT : ST_OTP_COUNT_IP;
    sqlite3_stmt *st = s->stmts[id];
    int rc = subject_id != NULL ? cpm__sqlite_bind_text(st, 1, subject_id)
                                : sqlite3_bind_blob(st, 1, ip_hash, CPM_HASH_BYTES, SQLITE_STATIC);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, since_ms);
    cpm_err err = cpm__sqlite_step_row(s, id, rc, "otp_count_since");
    *out = err == CPM_OK ? sqlite3_column_int64(st, 0) : 0;
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}
