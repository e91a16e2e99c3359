/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migrations/sqlite.c — the numbered schema migrations of the SQLite store.
 *
 * The schema version lives in the database header as PRAGMA user_version
 * (0 for a new file). Migration N takes the schema from N-1 to N; each runs
 * in its own BEGIN IMMEDIATE transaction together with the user_version
 * update, so a crash leaves the store at N-1 or N, never in between. A store
 * whose version is above CPM_SCHEMA_VERSION was written by a newer OpenCPM
 * and is refused before anything is written. Migrations are append only:
 * once shipped, a migration's SQL never changes.
 */
#include "core/common.h"

#include "core/log.h"
#include "store/sqlite.h"

struct migration {
    int version;
    const char *name;
    const char *sql;
};

static const struct migration migrations[] = {
    {1, "initial schema",
     "CREATE TABLE config_docs ("
     "  kind TEXT NOT NULL,"
     "  id TEXT NOT NULL,"
     "  unique_key TEXT NULL,"
     "  body TEXT NOT NULL,"
     "  revision INTEGER NOT NULL,"
     "  created_ms INTEGER NOT NULL,"
     "  updated_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (kind, id),"
     "  UNIQUE (kind, unique_key)"
     ") STRICT;"
     "CREATE TABLE notice_versions ("
     "  notice_id TEXT NOT NULL,"
     "  version INTEGER NOT NULL CHECK (version > 0),"
     "  body TEXT NOT NULL,"
     "  published_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (notice_id, version)"
     ") STRICT;"
     "CREATE TRIGGER notice_versions_no_update BEFORE UPDATE ON notice_versions"
     " BEGIN SELECT RAISE(ABORT, 'notice versions are immutable'); END;"
     "CREATE TRIGGER notice_versions_no_delete BEFORE DELETE ON notice_versions"
     " BEGIN SELECT RAISE(ABORT, 'notice versions are immutable'); END;"
     "CREATE TABLE api_keys ("
     "  id TEXT PRIMARY KEY,"
     "  hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
     "  name TEXT NOT NULL,"
     "  scopes INTEGER NOT NULL,"
     "  created_ms INTEGER NOT NULL,"
     "  revoked_ms INTEGER NOT NULL DEFAULT 0"
     ") STRICT;"},
    {2, "consent ledger",
     "CREATE TABLE subjects ("
     "  id TEXT PRIMARY KEY,"
     "  pseudonym TEXT NOT NULL UNIQUE,"
     "  wrapped_key BLOB,"
     "  age_status TEXT NOT NULL DEFAULT 'unknown',"
     "  created_ms INTEGER NOT NULL,"
     "  erased_ms INTEGER NOT NULL DEFAULT 0"
     ") STRICT;"
     "CREATE TABLE events ("
     "  seq INTEGER PRIMARY KEY CHECK (seq > 0),"
     "  id TEXT NOT NULL UNIQUE,"
     "  type TEXT NOT NULL,"
     "  subject_id TEXT REFERENCES subjects (id),"
     "  purpose TEXT,"
     "  time_ms INTEGER NOT NULL,"
     "  leaf BLOB NOT NULL,"
     "  sealed BLOB"
     ") STRICT;"
     "CREATE INDEX events_by_subject ON events (subject_id, seq) WHERE subject_id IS NOT NULL;"
     "CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
     " BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
     "CREATE TRIGGER events_no_update BEFORE UPDATE OF seq, id, type, purpose, time_ms, leaf"
     " ON events BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
     "CREATE TABLE merkle_nodes ("
     "  level INTEGER NOT NULL,"
     "  idx INTEGER NOT NULL,"
     "  hash BLOB NOT NULL CHECK (length(hash) = 32),"
     "  PRIMARY KEY (level, idx)"
     ") STRICT, WITHOUT ROWID;"
     "CREATE TABLE consent_state ("
     "  subject_id TEXT NOT NULL REFERENCES subjects (id),"
     "  purpose TEXT NOT NULL,"
     "  recipient TEXT NOT NULL DEFAULT '',"
     "  status TEXT NOT NULL,"
     "  seq INTEGER NOT NULL REFERENCES events (seq),"
     "  notice TEXT NOT NULL,"
     "  notice_version INTEGER NOT NULL,"
     "  decided_ms INTEGER NOT NULL,"
     "  expires_ms INTEGER NOT NULL DEFAULT 0,"
     "  ask_again_ms INTEGER NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (subject_id, purpose, recipient)"
     ") STRICT, WITHOUT ROWID;"
     "CREATE INDEX consent_state_expiry ON consent_state (expires_ms) WHERE expires_ms > 0;"
     "CREATE TABLE checkpoints ("
     "  size INTEGER PRIMARY KEY,"
     "  root BLOB NOT NULL CHECK (length(root) = 32),"
     "  note TEXT NOT NULL,"
     "  signed_ms INTEGER NOT NULL"
     ") STRICT;"
     "CREATE TABLE idempotency ("
     "  scope TEXT NOT NULL,"
     "  key TEXT NOT NULL,"
     "  request_hash BLOB NOT NULL,"
     "  status INTEGER NOT NULL,"
     "  response TEXT NOT NULL,"
     "  created_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (scope, key)"
     ") STRICT, WITHOUT ROWID;"},
    /*
     * Identifiers are stored as a keyed hash (lookup) and sealed under the
     * subject's data key (display); one identifier belongs to one subject.
     * Erasure deletes them. The trigger makes an erased subject final:
     * nothing but its erasure event is recorded for it any more, even by a
     * request that read the subject before the erasure committed.
     */
    {3, "identifiers and guardians",
     "CREATE TABLE identities ("
     "  subject_id TEXT NOT NULL REFERENCES subjects (id),"
     "  type TEXT NOT NULL,"
     "  hash BLOB NOT NULL CHECK (length(hash) = 32),"
     "  sealed BLOB NOT NULL,"
     "  created_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (type, hash)"
     ") STRICT, WITHOUT ROWID;"
     "CREATE INDEX identities_by_subject ON identities (subject_id, type);"
     "CREATE TABLE guardians ("
     "  child_id TEXT NOT NULL REFERENCES subjects (id),"
     "  guardian_id TEXT NOT NULL REFERENCES subjects (id),"
     "  relation TEXT NOT NULL,"
     "  created_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (child_id, guardian_id),"
     "  CHECK (child_id <> guardian_id)"
     ") STRICT, WITHOUT ROWID;"
     "CREATE INDEX guardians_by_guardian ON guardians (guardian_id);"
     "CREATE TRIGGER events_of_erased_subject BEFORE INSERT ON events"
     " WHEN NEW.subject_id IS NOT NULL AND NEW.type <> 'subject.erased'"
     " BEGIN SELECT RAISE(ABORT, 'the subject was erased')"
     " WHERE EXISTS (SELECT 1 FROM subjects WHERE id = NEW.subject_id AND erased_ms <> 0); END;"},
    {4, "consents by purpose; renewal reminders",
     /* the scheduler's re-consent sweep: given consents on a purpose, by subject */
     "CREATE INDEX consent_state_by_purpose ON consent_state (purpose, status, subject_id);"
     /* the renewal reminder: when to send consent.expiring, 0 once sent or when none */
     "ALTER TABLE consent_state ADD COLUMN remind_ms INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX consent_state_reminders ON consent_state (remind_ms) WHERE remind_ms > 0;"},
    {5, "signed checkpoints are append-only",
     "CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints"
     " BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;"
     "CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints"
     " BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;"},
    {6, "preferences, sends, guardian-given consents",
     "ALTER TABLE consent_state ADD COLUMN by_guardian INTEGER NOT NULL DEFAULT 0;"
     "CREATE TABLE preferences ("
     "  subject_id TEXT PRIMARY KEY REFERENCES subjects (id),"
     "  doc TEXT NOT NULL CHECK (json_valid(doc)),"
     "  seq INTEGER NOT NULL,"
     "  updated_ms INTEGER NOT NULL"
     ") STRICT, WITHOUT ROWID;"
     "CREATE TABLE contacts ("
     "  subject_id TEXT NOT NULL REFERENCES subjects (id),"
     "  channel TEXT NOT NULL,"
     "  purpose TEXT NOT NULL,"
     "  time_ms INTEGER NOT NULL"
     ") STRICT;"
     "CREATE INDEX contacts_by_time ON contacts (time_ms);"
     "CREATE INDEX contacts_by_subject ON contacts (subject_id, time_ms);"},
    {7, "destinations' cursors and delivery log",
     "CREATE TABLE delivery_lanes ("
     "  destination_id TEXT NOT NULL,"
     "  lane INTEGER NOT NULL,"
     "  seq INTEGER NOT NULL,"
     "  PRIMARY KEY (destination_id, lane)"
     ") STRICT, WITHOUT ROWID;"
     "CREATE TABLE deliveries ("
     "  id INTEGER PRIMARY KEY,"
     "  destination_id TEXT NOT NULL,"
     "  seq INTEGER NOT NULL,"
     "  event_id TEXT NOT NULL,"
     "  event_type TEXT NOT NULL,"
     "  subject_id TEXT,"
     "  attempt INTEGER NOT NULL,"
     "  time_ms INTEGER NOT NULL,"
     "  outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed', 'dead', 'blocked')),"
     "  status INTEGER NOT NULL,"
     "  latency_ms INTEGER NOT NULL,"
     "  lag_ms INTEGER NOT NULL,"
     "  detail TEXT NOT NULL"
     ") STRICT;"
     "CREATE INDEX deliveries_by_destination ON deliveries (destination_id, id);"
     "CREATE INDEX deliveries_by_outcome ON deliveries (destination_id, outcome, id);"
     "CREATE INDEX deliveries_by_subject ON deliveries (subject_id, id) WHERE subject_id IS NOT "
     "NULL;"
     "CREATE TRIGGER deliveries_no_update BEFORE UPDATE ON deliveries"
     " BEGIN SELECT RAISE(ABORT, 'the delivery log is append-only'); END;"},
    /* One-time codes: only the code's keyed hash is kept; the IP's too, for its limit. */
    {8, "one-time code challenges",
     "CREATE TABLE otp_challenges ("
     "  id TEXT PRIMARY KEY,"
     "  subject_id TEXT NOT NULL,"
     "  property TEXT NOT NULL,"
     "  code_hash BLOB NOT NULL CHECK (length(code_hash) = 32),"
     "  ip_hash BLOB NOT NULL CHECK (length(ip_hash) IN (0, 32)),"
     "  created_ms INTEGER NOT NULL,"
     "  expires_ms INTEGER NOT NULL,"
     "  attempts INTEGER NOT NULL DEFAULT 0,"
     "  verified_ms INTEGER NOT NULL DEFAULT 0,"
     "  used_ms INTEGER NOT NULL DEFAULT 0"
     ") STRICT;"
     "CREATE INDEX otp_challenges_by_subject ON otp_challenges (subject_id, created_ms);"
     "CREATE INDEX otp_challenges_by_ip ON otp_challenges (ip_hash, created_ms)"
     " WHERE length(ip_hash) > 0;"},
    /*
     * Rights requests (docs/RIGHTS.md): one open request per subject and
     * type; a finished one never changes and none is deleted. The person's
     * note is sealed under the subject's data key. The erased-subject
     * trigger of migration 3 is replaced: an erased subject's requests may
     * still be answered (rights.updated), nothing else is recorded.
     */
    {9, "rights requests",
     "CREATE TABLE rights_requests ("
     "  id TEXT PRIMARY KEY,"
     "  subject_id TEXT NOT NULL REFERENCES subjects (id),"
     "  property TEXT NOT NULL,"
     "  type TEXT NOT NULL CHECK (type IN ('access', 'portability', 'correction', 'deletion',"
     " 'explanation')),"
     "  status TEXT NOT NULL CHECK (status IN ('received', 'in_progress', 'completed',"
     " 'refused')),"
     "  created_ms INTEGER NOT NULL,"
     "  due_ms INTEGER NOT NULL,"
     "  updated_ms INTEGER NOT NULL,"
     "  note_sealed BLOB,"
     "  reply TEXT,"
     "  reason TEXT,"
     "  CHECK (status <> 'refused' OR reason IS NOT NULL)"
     ") STRICT;"
     "CREATE UNIQUE INDEX rights_requests_open ON rights_requests (subject_id, type)"
     " WHERE status IN ('received', 'in_progress');"
     "CREATE INDEX rights_requests_queue ON rights_requests (status, due_ms, id);"
     "CREATE INDEX rights_requests_by_due ON rights_requests (due_ms, id);"
     "CREATE INDEX rights_requests_by_subject ON rights_requests (subject_id, created_ms, id);"
     "CREATE TRIGGER rights_requests_finished BEFORE UPDATE ON rights_requests"
     " WHEN OLD.status IN ('completed', 'refused')"
     " BEGIN SELECT RAISE(ABORT, 'a finished rights request never changes'); END;"
     "CREATE TRIGGER rights_requests_fixed BEFORE UPDATE OF id, subject_id, property, type,"
     " created_ms, due_ms, note_sealed ON rights_requests"
     " BEGIN SELECT RAISE(ABORT, 'a rights request keeps what was asked'); END;"
     "CREATE TRIGGER rights_requests_no_delete BEFORE DELETE ON rights_requests"
     " BEGIN SELECT RAISE(ABORT, 'rights requests are kept'); END;"
     "DROP TRIGGER events_of_erased_subject;"
     "CREATE TRIGGER events_of_erased_subject BEFORE INSERT ON events"
     " WHEN NEW.subject_id IS NOT NULL AND NEW.type NOT IN ('subject.erased', 'rights.updated')"
     " BEGIN SELECT RAISE(ABORT, 'the subject was erased')"
     " WHERE EXISTS (SELECT 1 FROM subjects WHERE id = NEW.subject_id AND erased_ms <> 0); END;"},
    /*
     * The reports' counts (docs/REPORTS.md), kept by batch_write and
     * delivery_record in the transaction of the rows they count, and
     * backfilled here once from the events and the delivery log: days in
     * Asia/Shanghai (UTC+08:00); property, channel and method read from the
     * leaf as src/domain/report.c reads them; the region, which leaves do not
     * carry, is '' for every event recorded before this migration.
     */
    {10, "report counts",
     "CREATE TABLE report_consents ("
     "  day TEXT NOT NULL,"
     "  purpose TEXT NOT NULL,"
     "  property TEXT NOT NULL,"
     "  channel TEXT NOT NULL,"
     "  region TEXT NOT NULL,"
     "  decision TEXT NOT NULL,"
     "  count INTEGER NOT NULL CHECK (count >= 0),"
     "  PRIMARY KEY (day, purpose, property, channel, region, decision)"
     ") STRICT, WITHOUT ROWID;"
     "CREATE TABLE report_deliveries ("
     "  day TEXT NOT NULL,"
     "  destination_id TEXT NOT NULL,"
     "  outcome TEXT NOT NULL,"
     "  count INTEGER NOT NULL CHECK (count >= 0),"
     "  lag_ms_sum INTEGER NOT NULL,"
     "  lag_ms_max INTEGER NOT NULL,"
     "  PRIMARY KEY (day, destination_id, outcome)"
     ") STRICT, WITHOUT ROWID;"
     "INSERT INTO report_consents (day, purpose, property, channel, region, decision, count)"
     " SELECT day, purpose, property, channel, '', decision, count(*) FROM ("
     "  SELECT date(time_ms / 1000, 'unixepoch', '+8 hours') AS day,"
     "   coalesce(purpose, '') AS purpose, substr(type, 9) AS decision,"
     "   CASE WHEN ok AND json_type(l, '$.property') = 'text'"
     "    THEN json_extract(l, '$.property') ELSE '' END AS property,"
     "   CASE WHEN ok AND json_type(l, '$.channel') = 'text'"
     "    THEN json_extract(l, '$.channel') ELSE '' END AS channel,"
     "   CASE WHEN ok AND json_type(l, '$.method') = 'text'"
     "    THEN json_extract(l, '$.method') ELSE '' END AS method"
     "  FROM (SELECT time_ms, purpose, type, CAST(leaf AS TEXT) AS l,"
     "   json_valid(CAST(leaf AS TEXT)) AS ok FROM events"
     "   WHERE type IN ('consent.given', 'consent.refused', 'consent.withdrawn',"
     "    'consent.objected', 'consent.objection_withdrawn', 'consent.expired')))"
     " WHERE method <> 'merge'"
     " GROUP BY day, purpose, property, channel, decision;"
     "INSERT INTO report_deliveries (day, destination_id, outcome, count, lag_ms_sum, lag_ms_max)"
     " SELECT date(time_ms / 1000, 'unixepoch', '+8 hours'), destination_id, outcome, count(*),"
     "  sum(lag_ms), max(lag_ms) FROM deliveries GROUP BY 1, 2, 3;"},
};

_Static_assert(CPM_ARRAY_LEN(migrations) == CPM_SCHEMA_VERSION,
               "one migration per schema version, numbered 1..CPM_SCHEMA_VERSION");

static cpm_err exec(sqlite3 *db, const char *sql, const char *what)
{
    char *message = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &message);
    if (rc == SQLITE_OK)
        return CPM_OK;
    cpm_log_error("store", "migrate: %s failed: %s", what,
                  message != NULL ? message : sqlite3_errstr(rc));
    sqlite3_free(message);
    return CPM_ERR_STORE;
}

cpm_err cpm__sqlite_user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    cpm_err err = CPM_ERR_STORE;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        cpm_log_error("store", "migrate: reading user_version failed: %s", sqlite3_errmsg(db));
        goto out;
    }
    *out = sqlite3_column_int(st, 0);
    err = CPM_OK;
out:
    sqlite3_finalize(st);
    return err;
}

static cpm_err refuse_newer(int version, const char *location, struct cpm_detail *detail)
{
    if (version <= CPM_SCHEMA_VERSION)
        return CPM_OK;
    cpm_detail_add(detail, "",
                   "the store at %s has schema version %d but this cpmd knows up to %d; "
                   "upgrade OpenCPM or restore a backup",
                   location, version, CPM_SCHEMA_VERSION);
    cpm_log_error("store", "schema of %s is version %d, newer than %d", location, version,
                  CPM_SCHEMA_VERSION);
    return CPM_ERR_SCHEMA_TOO_NEW;
}

/* Runs m unless another process got there first (the version is re-read under the lock). */
static cpm_err apply(sqlite3 *db, const struct migration *m, const char *location,
                     struct cpm_detail *detail)
{
    char set_version[64];
    int version = 0;
    cpm_err err = exec(db, "BEGIN IMMEDIATE", m->name);
    if (err != CPM_OK)
        return err;
    err = cpm__sqlite_user_version(db, &version);
    if (err == CPM_OK)
        err = refuse_newer(version, location, detail);
    if (err != CPM_OK || version >= m->version)
        goto out;
    err = exec(db, m->sql, m->name);
    if (err != CPM_OK)
        goto out;
    snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %d", m->version);
    err = exec(db, set_version, m->name);
out:
    if (err == CPM_OK)
        err = exec(db, "COMMIT", m->name);
    if (err != CPM_OK && sqlite3_get_autocommit(db) == 0)
        (void)exec(db, "ROLLBACK", m->name);
    if (err == CPM_OK && version < m->version)
        cpm_log_info("store", "applied migration %d (%s) to %s", m->version, m->name, location);
    return err;
}

cpm_err cpm__sqlite_migrate(sqlite3 *db, const char *location, struct cpm_detail *detail)
{
    int version = 0;
    cpm_err err = cpm__sqlite_user_version(db, &version);
    if (err == CPM_OK)
        err = refuse_newer(version, location, detail);
    for (size_t i = 0; err == CPM_OK && i < CPM_ARRAY_LEN(migrations); i++) {
        CPM_ASSERT(migrations[i].version == (int)i + 1);
        if (migrations[i].version > version)
            err = apply(db, &migrations[i], location, detail);
    }
    return err;
}
