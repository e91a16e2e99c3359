/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h — the storage interface: a versioned table of operations.
 *
 * A backend (SQLite now, PostgreSQL later) fills a struct cpm_store_ops and
 * returns stores whose first member is a struct cpm_store pointing at it,
 * the way SQLite's VFS works. Callers use the cpm_store_* wrappers below and
 * never see the backend. New operations are appended and bump
 * CPM_STORE_OPS_VERSION; callers check `version` before using them.
 *
 * Configuration resources (properties, purposes, notices, policies) are
 * stored as validated JSON documents with a revision; notice versions are a
 * separate, append-only table the backend refuses to update or delete.
 *
 * Ownership: every `char *` a store returns is owned by the caller and freed
 * with cpm_free; struct out-parameters are released with their _release.
 * Thread safety: a store may be used from any number of threads at once.
 */
#ifndef CPM_STORE_H
#define CPM_STORE_H

#include "core/common.h"
#include "core/detail.h"
#include "domain/config.h"
#include "domain/report.h"

#define CPM_STORE_OPS_VERSION 13

/* The schema version this binary knows; a store newer than this is refused. */
#define CPM_SCHEMA_VERSION 10

/* A configuration document as stored. */
struct cpm_doc {
    char id[CPM_ID_BYTES_MAX + 1];
    char *body;         /* owned JSON object text, without id/revision/timestamps */
    int64_t revision;   /* 1 on create, +1 on every update */
    int64_t created_ms; /* ms since the epoch */
    int64_t updated_ms;
};
void cpm_doc_release(struct cpm_doc *doc);

/* A published, immutable notice version. */
struct cpm_notice_version {
    char notice_id[CPM_ID_BYTES_MAX + 1];
    int64_t version; /* 1, 2, 3… per notice */
    char *body;      /* owned JSON object text */
    int64_t published_ms;
};
void cpm_notice_version_release(struct cpm_notice_version *v);

#define CPM_API_KEY_ID_BYTES   24 /* "key_" + 16 hex + NUL, with room */
#define CPM_API_KEY_HASH_BYTES 32 /* SHA-256 of the whole secret key text */

/* An API key's stored record; the secret itself is never stored. */
struct cpm_api_key {
    char id[CPM_API_KEY_ID_BYTES];
    char name[CPM_NAME_BYTES_MAX + 1];
    uint32_t scopes; /* CPM_SCOPE_* bits (http/auth.h) */
    int64_t created_ms;
    int64_t revoked_ms; /* 0 while active */
};

/* ---- the ledger (ops version 2) ---- */

#define CPM_HASH_BYTES            32
#define CPM_REGION_BYTES          12 /* a region ("CN-HK", at most 8 bytes) and a NUL, with room */
#define CPM_EVENT_ID_BYTES        40 /* "evt_" + 32 hex + NUL, with room */
#define CPM_EVENT_TYPE_BYTES      48 /* "consent.reconsent_required" */
#define CPM_STATUS_BYTES          24 /* "reconsent_required" */
#define CPM_WRAPPED_KEY_BYTES_MAX 96 /* a wrapped per-subject data key */

/* A data subject: the company's own id, its pseudonym in the ledger, its key. */
struct cpm_subject {
    char id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    char pseudonym[2 * CPM_HASH_BYTES + 1]; /* hex HMAC of id: what leaves carry */
    uint8_t wrapped_key[CPM_WRAPPED_KEY_BYTES_MAX];
    size_t wrapped_key_len; /* 0 once erased */
    char age_status[16];    /* adult, minor_14_17, child_under_14, unknown */
    int64_t created_ms;
    int64_t erased_ms; /* 0 unless erased */
};

/* A ledger entry. On reads leaf and sealed are owned (cpm_event_release). */
struct cpm_event {
    int64_t seq; /* 1, 2, …; the Merkle leaf index is seq - 1 */
    char id[CPM_EVENT_ID_BYTES];
    char type[CPM_EVENT_TYPE_BYTES];
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1]; /* "" for configuration events */
    char purpose[CPM_ID_BYTES_MAX + 1];            /* "" when none */
    int64_t time_ms;
    /*
     * Writes only: the consent action's region ("CN-HK"; "" when none), which
     * the leaf does not carry. Counted by the reports (ops version 11), not
     * stored with the event; "" on reads.
     */
    char region[CPM_REGION_BYTES];
    char *leaf; /* the Merkle leaf data: canonical JSON, no plaintext personal data */
    size_t leaf_len;
    uint8_t *sealed; /* personal context sealed under the subject's data key, or NULL */
    size_t sealed_len;
};
void cpm_event_release(struct cpm_event *e);

/* The current consent of a subject for a purpose (and recipient), derived from events. */
struct cpm_consent_state {
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    char purpose[CPM_ID_BYTES_MAX + 1];
    char recipient[CPM_ID_BYTES_MAX + 1]; /* "" when not per recipient */
    char status[CPM_STATUS_BYTES];        /* given, refused, withdrawn, expired, … */
    int64_t seq;                          /* the deciding event */
    char notice[CPM_ID_BYTES_MAX + 1];
    int64_t notice_version;
    int64_t decided_ms;
    int64_t expires_ms;   /* 0: no expiry */
    int64_t ask_again_ms; /* after a refusal: do not ask before; 0: any time */
    int64_t remind_ms;    /* when to remind the person to renew (consent.expiring); 0: none */
    bool by_guardian;     /* given (or refused) by a guardian for the subject */
    bool seq_kept;        /* writer: seq is already the deciding event's, not an index */
};

/* A complete Merkle subtree: level L, index i covers leaves [i·2^L, (i+1)·2^L). */
struct cpm_merkle_node {
    unsigned level;
    uint64_t index;
    uint8_t hash[CPM_HASH_BYTES];
};

/* A signed checkpoint. On reads note is owned (cpm_checkpoint_release). */
struct cpm_checkpoint {
    uint64_t size;
    uint8_t root[CPM_HASH_BYTES];
    char *note; /* the C2SP signed note text */
    int64_t signed_ms;
};
void cpm_checkpoint_release(struct cpm_checkpoint *cp);

/* A remembered answer to a write sent with an Idempotency-Key. */
struct cpm_idempotency {
    char scope[CPM_SUBJECT_ID_BYTES_MAX + CPM_API_KEY_ID_BYTES + 2]; /* who, and about whom */
    char key[CPM_IDEMPOTENCY_KEY_BYTES_MAX + 1];
    uint8_t request_hash[CPM_HASH_BYTES]; /* a retry must carry the same body */
    int status;
    char *response; /* owned on reads */
    int64_t created_ms;
};
void cpm_idempotency_release(struct cpm_idempotency *r);

/* ---- subjects' identifiers, guardians, age and erasure (ops version 3) ---- */

#define CPM_IDENTIFIER_TYPE_BYTES     32  /* "wecom_external_userid" and a NUL */
#define CPM_IDENTITY_SEALED_BYTES_MAX 320 /* a sealed normalised identifier */
#define CPM_GUARDIAN_RELATION_BYTES   24  /* parent, legal_guardian */

/*
 * An identifier (phone, e-mail, openid, …) linked to a subject: found by its
 * keyed hash, shown by opening `sealed` (the normalised value sealed under
 * the subject's data key, field name = type). One identifier, one subject.
 */
struct cpm_identity {
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    char type[CPM_IDENTIFIER_TYPE_BYTES];
    uint8_t hash[CPM_HASH_BYTES]; /* cpm_identifier_hash: HMAC of type and value */
    uint8_t sealed[CPM_IDENTITY_SEALED_BYTES_MAX];
    size_t sealed_len;
    int64_t created_ms;
};

/* A guardian who may act for a subject (PIPL Art. 31): parent ↔ child. */
struct cpm_guardian_link {
    char child_id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    char guardian_id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    char relation[CPM_GUARDIAN_RELATION_BYTES];
    int64_t created_ms;
};

/* A change to a stored subject, written with the batch's events. */
struct cpm_subject_update {
    char id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    char age_status[16]; /* the new age status; "" leaves it as it is */
    int64_t erased_ms;   /* not 0: erase the subject (see batch_write) */
};

struct cpm_preferences;

/* A subject's preferences document (replaces the stored one). */
struct cpm_preferences_row {
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    const char *doc; /* the validated document, compact JSON */
    int64_t seq;     /* its event: on submit a 1-based index into the request's events */
    int64_t updated_ms;
    const struct cpm_preferences *compiled; /* for the index; borrowed */
};

/* A recorded send to a subject (frequency caps count them). */
struct cpm_contact {
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    uint8_t channel; /* enum cpm_channel */
    char purpose[CPM_ID_BYTES_MAX + 1];
    int64_t time_ms;
};

/* What one group commit writes, atomically. Arrays are borrowed. */
struct cpm_write_batch {
    const struct cpm_subject *subjects; /* inserted when absent */
    size_t subject_count;
    const struct cpm_event *events; /* seqs consecutive, following the stored ones */
    size_t event_count;
    const struct cpm_merkle_node *nodes;
    size_t node_count;
    const struct cpm_consent_state *states; /* replace the stored state of their key */
    size_t state_count;
    const struct cpm_idempotency *idempotency;
    size_t idempotency_count;
    /* ops version 3 */
    const struct cpm_subject_update *subject_updates;
    size_t subject_update_count;
    const struct cpm_identity *identities; /* inserted; CONFLICT when (type, hash) is taken */
    size_t identity_count;
    const struct cpm_guardian_link *guardian_links; /* inserted */
    size_t guardian_link_count;
    /* ops version 5 */
    const struct cpm_preferences_row *preferences;
    size_t preference_count;
    const struct cpm_contact *contacts; /* inserted */
    size_t contact_count;
    /* ops version 8 */
    /* inserted; CONFLICT when the subject has an open request of the type, or the id is taken */
    const struct cpm_rights_request *rights_requests;
    size_t rights_request_count;
    /* applied; CONFLICT when the request is no longer in the status it was read in */
    const struct cpm_rights_update *rights_updates;
    size_t rights_update_count;
};

/* What the index keeps of a consent state (cpm_consent_state's fields of the same names). */
struct cpm_state_row {
    const char *subject_id, *purpose, *recipient, *status;
    int64_t seq, expires_ms;
    bool by_guardian;
};

/* What cpm_index_load is shown of the store, table by table. */
struct cpm_index_loader {
    void *ctx;
    int64_t contacts_since_ms; /* older sends are not shown */
    /*
     * The share to read: part (0 …) of parts, which may be read at the same
     * time on other threads, each on a connection of its own; parts 0 or 1:
     * everything. Subjects are shared by row ranges, the rest by ranges of
     * subject ids (sends: part 0 reads all of them).
     */
    unsigned part, parts;
    /*
     * When set, called once the read transaction began, before any row,
     * with the commit it reads (the ledger's size, the last send's row
     * number) and about how many subjects the store holds (all parts); an
     * error ends the load there.
     */
    cpm_err (*begun)(void *ctx, uint64_t ledger_size, int64_t contacts_mark, uint64_t subjects);
    /*
     * A subject's id, age status and erased_seq: the subject.erased event
     * (1 when erased without one), 0 unless erased. The strings here and in
     * state rows point into the store's row: valid during the call only.
     */
    cpm_err (*subject)(void *ctx, const char *id, const char *age_status, int64_t erased_seq);
    cpm_err (*state)(void *ctx, const struct cpm_state_row *row);
    cpm_err (*preferences)(void *ctx, const char *subject_id, const char *doc);
    cpm_err (*contact)(void *ctx, const struct cpm_contact *c);
};

/* ---- destinations (ops version 6) ---- */

#define CPM_DELIVERY_LANES_MAX    4096 /* per destination: one event in flight per lane */
#define CPM_DELIVERY_DETAIL_BYTES 200

/* Lane lane's cursor: every event of the lane up to seq is done. */
struct cpm_lane_cursor {
    unsigned lane;
    int64_t seq;
};

/*
 * One delivery attempt, or a decision not to send (blocked). outcome:
 * delivered (acknowledged), failed (to be retried), dead (given up: the
 * dead-letter list), blocked (not sent: PIPL Art. 23/39, no separate
 * consent for the recipient).
 */
struct cpm_delivery {
    int64_t id; /* reads: the row's number, increasing; ignored on writes */
    char destination_id[CPM_ID_BYTES_MAX + 1];
    int64_t seq;
    char event_id[CPM_EVENT_ID_BYTES];
    char event_type[CPM_EVENT_TYPE_BYTES];
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1]; /* "" for configuration events */
    int attempt;                                   /* 1, 2, …; 0 for blocked */
    int64_t time_ms;                               /* when the outcome was known */
    char outcome[16];
    int status;         /* HTTP status; 0 when none */
    int64_t latency_ms; /* the attempt: sent → answered */
    int64_t lag_ms;     /* the event recorded → this outcome */
    char detail[CPM_DELIVERY_DETAIL_BYTES];
};

/* Which deliveries delivery_list visits: NULL/"" fields match all. */
struct cpm_delivery_filter {
    const char *destination_id;
    const char *subject_id;
    const char *outcome;
    int64_t after_id; /* rows with a larger id, oldest first */
};

/* ---- one-time codes (ops version 7) ---- */

#define CPM_OTP_ID_BYTES 40 /* "otp_" + 32 hex + NUL, with room */

/*
 * A one-time code sent to a subject's phone before a sensitive consent
 * (docs/END-USERS.md "One-time codes"). The code itself is never stored:
 * only its keyed hash (cpm_keyring_otp_hash over the id and the code).
 */
struct cpm_otp_challenge {
    char id[CPM_OTP_ID_BYTES];
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    char property[CPM_ID_BYTES_MAX + 1];
    uint8_t code_hash[CPM_HASH_BYTES];
    uint8_t ip_hash[CPM_HASH_BYTES]; /* keyed hash of the caller's IP, for its limit */
    bool has_ip_hash;                /* false: the IP was not known */
    int64_t created_ms;
    int64_t expires_ms;
    int attempts;        /* codes tried */
    int64_t verified_ms; /* 0 until the right code was given */
    int64_t used_ms;     /* 0 until a consent used it */
};

/* ---- rights requests (ops version 8) ---- */

#define CPM_RIGHTS_ID_BYTES   40 /* "rr_" + 32 hex + NUL, with room */
#define CPM_RIGHTS_NAME_BYTES 16 /* a type or status name ("in_progress") and a NUL */

/*
 * A data subject's rights request (docs/RIGHTS.md): what was asked, where
 * it stands and when it is due. The person's note is sealed under the
 * subject's data key (field name: the request id), so erasure makes it
 * unreadable while the request itself stays. The operator's reply and
 * refusal reason are the company's own words, stored as text.
 * On reads note_sealed, reply and reason are owned (cpm_rights_request_release).
 */
struct cpm_rights_request {
    char id[CPM_RIGHTS_ID_BYTES];
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    char property[CPM_ID_BYTES_MAX + 1];
    char type[CPM_RIGHTS_NAME_BYTES];   /* access, portability, correction, deletion, explanation */
    char status[CPM_RIGHTS_NAME_BYTES]; /* received, in_progress, completed, refused */
    int64_t created_ms;
    int64_t due_ms;
    int64_t updated_ms;
    uint8_t *note_sealed; /* NULL when the person wrote none */
    size_t note_sealed_len;
    char *reply;  /* NULL when none */
    char *reason; /* NULL unless refused */
};
void cpm_rights_request_release(struct cpm_rights_request *r);

/* A status change, written with its rights.updated event. */
struct cpm_rights_update {
    char id[CPM_RIGHTS_ID_BYTES];
    char from[CPM_RIGHTS_NAME_BYTES];   /* the status it was read in */
    char status[CPM_RIGHTS_NAME_BYTES]; /* the new one */
    const char *reply;                  /* borrowed; NULL keeps the stored reply */
    const char *reason;                 /* borrowed; NULL keeps the stored reason */
    int64_t updated_ms;
};

/* Which requests rights_request_queue visits, by due date then id. */
struct cpm_rights_filter {
    const char *statuses[2]; /* NULL, NULL: every status; [1] NULL: only [0] */
    int64_t due_before_ms;   /* only those due before this; INT64_MAX: any */
    int64_t after_due_ms;    /* keyset: after (after_due_ms, after_id) … */
    const char *after_id;    /* … or from the start when NULL */
};

/* ---- reports (ops version 11, src/store/sqlite_reports.c, docs/REPORTS.md) ---- */

/* What report_consents groups its counts by (bits); a dimension left out reads "". */
enum {
    CPM_REPORT_BY_DAY = 1u << 0,
    CPM_REPORT_BY_PURPOSE = 1u << 1,
    CPM_REPORT_BY_PROPERTY = 1u << 2,
    CPM_REPORT_BY_CHANNEL = 1u << 3,
    CPM_REPORT_BY_REGION = 1u << 4,
};

/* Which counts a report reads: days are Asia/Shanghai calendar days, both inclusive. */
struct cpm_report_query {
    char from_day[CPM_REPORT_DAY_BYTES]; /* "YYYY-MM-DD" */
    char to_day[CPM_REPORT_DAY_BYTES];
    const char *purpose;        /* NULL: every purpose */
    const char *property;       /* NULL: every property */
    const char *destination_id; /* report_deliveries: NULL: every destination */
    unsigned group;             /* CPM_REPORT_BY_* bits (report_consents) */
    int rows_max;               /* more result rows than this: CPM_ERR_TOO_LARGE */
};

/* One group's count of one decision (the event type without "consent."). */
struct cpm_report_row {
    char day[CPM_REPORT_DAY_BYTES];
    char purpose[CPM_ID_BYTES_MAX + 1];
    char property[CPM_ID_BYTES_MAX + 1];
    char channel[CPM_ID_BYTES_MAX + 1];
    char region[CPM_REGION_BYTES];
    char decision[CPM_STATUS_BYTES]; /* given, refused, withdrawn, objected, … */
    int64_t count;
};

/* One destination's delivery outcomes of one kind on one day. */
struct cpm_report_delivery_row {
    char day[CPM_REPORT_DAY_BYTES];
    char destination_id[CPM_ID_BYTES_MAX + 1];
    char outcome[16]; /* delivered, failed, dead, blocked */
    int64_t count;
    int64_t lag_ms_sum; /* of the rows' lag_ms (the event recorded → this outcome) */
    int64_t lag_ms_max;
};

struct cpm_store;

/* Visitors return CPM_OK to go on; any other code stops the walk and is returned. */
typedef cpm_err (*cpm_doc_visit_fn)(void *ctx, const struct cpm_doc *doc);
typedef cpm_err (*cpm_notice_version_visit_fn)(void *ctx, const struct cpm_notice_version *v);
typedef cpm_err (*cpm_api_key_visit_fn)(void *ctx, const struct cpm_api_key *key);
typedef cpm_err (*cpm_event_visit_fn)(void *ctx, const struct cpm_event *event);
typedef cpm_err (*cpm_consent_state_visit_fn)(void *ctx, const struct cpm_consent_state *state);
typedef cpm_err (*cpm_identity_visit_fn)(void *ctx, const struct cpm_identity *identity);
typedef cpm_err (*cpm_guardian_link_visit_fn)(void *ctx, const struct cpm_guardian_link *link);
typedef cpm_err (*cpm_delivery_visit_fn)(void *ctx, const struct cpm_delivery *delivery);
typedef cpm_err (*cpm_rights_request_visit_fn)(void *ctx, const struct cpm_rights_request *r);
/* An event for an export: without its sealed bytes; subject_erased when its subject was erased. */
typedef cpm_err (*cpm_event_export_visit_fn)(void *ctx, const struct cpm_event *event,
                                             bool subject_erased);
typedef cpm_err (*cpm_report_row_visit_fn)(void *ctx, const struct cpm_report_row *row);
typedef cpm_err (*cpm_report_delivery_visit_fn)(void *ctx,
                                                const struct cpm_report_delivery_row *row);

struct cpm_store_ops {
    int version;      /* CPM_STORE_OPS_VERSION the backend was built for */
    const char *name; /* "sqlite" */

    /*
     * Opens (creating if absent) the store at location and applies pending
     * migrations. CPM_ERR_SCHEMA_TOO_NEW (with detail) when the store's schema
     * is newer than CPM_SCHEMA_VERSION; nothing is changed then.
     */
    cpm_err (*open)(const char *location, struct cpm_store **out, struct cpm_detail *detail);
    /* Closes cleanly (checkpoints the WAL); NULL is a no-op. */
    void (*close)(struct cpm_store *store);
    /* CPM_OK when the store answers a trivial query. */
    cpm_err (*ping)(struct cpm_store *store);
    cpm_err (*schema_version)(struct cpm_store *store, int *out);

    /* CPM_ERR_CONFLICT when id, or unique_key (if not NULL), is taken for this kind. */
    cpm_err (*doc_create)(struct cpm_store *store, enum cpm_doc_kind kind, const char *id,
                          const char *unique_key, const char *body, int64_t now_ms);
    /*
     * Replaces the body. expected_revision 0 means any; otherwise
     * CPM_ERR_PRECONDITION when it differs. CPM_ERR_NOT_FOUND, CPM_ERR_CONFLICT
     * (unique_key taken by another document). *out_revision gets the new one.
     */
    cpm_err (*doc_update)(struct cpm_store *store, enum cpm_doc_kind kind, const char *id,
                          const char *unique_key, const char *body, int64_t expected_revision,
                          int64_t now_ms, int64_t *out_revision);
    /* CPM_ERR_NOT_FOUND when absent. */
    cpm_err (*doc_get)(struct cpm_store *store, enum cpm_doc_kind kind, const char *id,
                       struct cpm_doc *out);
    /* Visits up to limit documents with id > after_id (NULL: from the start), by id. */
    cpm_err (*doc_list)(struct cpm_store *store, enum cpm_doc_kind kind, const char *after_id,
                        int limit, cpm_doc_visit_fn visit, void *ctx);

    /* Appends version max+1 of the notice (which must exist: else NOT_FOUND). */
    cpm_err (*notice_version_publish)(struct cpm_store *store, const char *notice_id,
                                      const char *body, int64_t now_ms, int64_t *out_version);
    /* version 0 means the latest. CPM_ERR_NOT_FOUND when absent. */
    cpm_err (*notice_version_get)(struct cpm_store *store, const char *notice_id, int64_t version,
                                  struct cpm_notice_version *out);
    /* Visits up to limit versions > after_version, oldest first. */
    cpm_err (*notice_version_list)(struct cpm_store *store, const char *notice_id,
                                   int64_t after_version, int limit,
                                   cpm_notice_version_visit_fn visit, void *ctx);

    /* CPM_ERR_CONFLICT when the id or hash exists. */
    cpm_err (*api_key_insert)(struct cpm_store *store, const struct cpm_api_key *key,
                              const uint8_t hash[CPM_API_KEY_HASH_BYTES]);
    /* Finds a key (active or revoked) by the hash of its secret; NOT_FOUND if none. */
    cpm_err (*api_key_find)(struct cpm_store *store, const uint8_t hash[CPM_API_KEY_HASH_BYTES],
                            struct cpm_api_key *out);
    /* Visits up to limit keys with id > after_id, by id, revoked ones included. */
    cpm_err (*api_key_list)(struct cpm_store *store, const char *after_id, int limit,
                            cpm_api_key_visit_fn visit, void *ctx);
    /* Marks a key revoked; NOT_FOUND if absent or already revoked. */
    cpm_err (*api_key_revoke)(struct cpm_store *store, const char *id, int64_t now_ms);

    /* ---- version 2: the ledger ---- */

    /*
     * Writes a whole batch in one durable transaction, or nothing.
     * CPM_ERR_CONFLICT when an event's seq or id is taken (a second writer),
     * when a subject given as new exists already (another request created
     * it since it was read), when an identifier is taken, or when an event
     * or guardian link names an erased subject.
     *
     * Version 3: subject updates set the age status; one with erased_ms
     * erases the subject (PIPL Art. 47) before the batch's events are
     * written: its wrapped data key is destroyed, its identifiers and
     * guardian links (either side) deleted, and CONFLICT when it was erased
     * already. After the events, its consent states become `erased`,
     * decided by its last event (the `subject.erased` event). From then on
     * the store refuses every event of the subject but `subject.erased`
     * and (version 8) `rights.updated`: a request filed before the erasure
     * is still answered.
     */
    cpm_err (*batch_write)(struct cpm_store *store, const struct cpm_write_batch *batch);
    /* The number of events (the Merkle tree size). */
    cpm_err (*ledger_size)(struct cpm_store *store, uint64_t *out);
    /* A stored complete subtree hash; NOT_FOUND when absent. */
    cpm_err (*merkle_node_get)(struct cpm_store *store, unsigned level, uint64_t index,
                               uint8_t out[CPM_HASH_BYTES]);
    /* Visits up to limit events with seq > after_seq, of subject_id (NULL: all), by seq. */
    cpm_err (*event_list)(struct cpm_store *store, const char *subject_id, int64_t after_seq,
                          int limit, cpm_event_visit_fn visit, void *ctx);
    /* NOT_FOUND when the subject has never been seen. */
    cpm_err (*subject_get)(struct cpm_store *store, const char *id, struct cpm_subject *out);
    /* Visits every consent state of the subject, by purpose then recipient. */
    cpm_err (*consent_state_list)(struct cpm_store *store, const char *subject_id,
                                  cpm_consent_state_visit_fn visit, void *ctx);
    /* Stores a signed checkpoint (CONFLICT when one of that size exists). */
    cpm_err (*checkpoint_put)(struct cpm_store *store, const struct cpm_checkpoint *cp);
    /* The checkpoint of the largest tree; NOT_FOUND before the first. */
    cpm_err (*checkpoint_latest)(struct cpm_store *store, struct cpm_checkpoint *out);
    /* Shows every subject, consent state, preferences and recent send to loader, in that order. */
    cpm_err (*index_load)(struct cpm_store *store, const struct cpm_index_loader *loader);
    /*
     * The row number of the last recorded send (0 when none) and its stamp,
     * a hash of what the row holds, read in one transaction (index_changed
     * checks that the row is still there).
     */
    cpm_err (*contacts_mark)(struct cpm_store *store, int64_t *out, uint64_t *stamp);
    /* A subject's preferences document (owned: cpm_free), NOT_FOUND when none was set. */
    cpm_err (*preferences_get)(struct cpm_store *store, const char *subject_id, char **doc,
                               int64_t *seq, int64_t *updated_ms);
    /* The smallest checkpoint larger than after_size (-1: from the empty tree's); NOT_FOUND when
     * none. */
    cpm_err (*checkpoint_after)(struct cpm_store *store, int64_t after_size,
                                struct cpm_checkpoint *out);
    /* NOT_FOUND when no answer is remembered for (scope, key). */
    cpm_err (*idempotency_get)(struct cpm_store *store, const char *scope, const char *key,
                               struct cpm_idempotency *out);

    /* ---- version 3: identifiers and guardians (written by batch_write) ---- */

    /* The subject an identifier belongs to (subject_id gets its id); NOT_FOUND when none. */
    cpm_err (*identity_find)(struct cpm_store *store, const char *type,
                             const uint8_t hash[CPM_HASH_BYTES],
                             char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1]);
    /* Visits up to limit identifiers of the subject, by type then link time. */
    cpm_err (*identity_list)(struct cpm_store *store, const char *subject_id, int limit,
                             cpm_identity_visit_fn visit, void *ctx);
    /* Visits up to limit guardian links of the child, by guardian id. */
    cpm_err (*guardian_list)(struct cpm_store *store, const char *child_id, int limit,
                             cpm_guardian_link_visit_fn visit, void *ctx);
    /* (version 8) Visits up to limit links where guardian_id is the guardian, by child id. */
    cpm_err (*ward_list)(struct cpm_store *store, const char *guardian_id, int limit,
                         cpm_guardian_link_visit_fn visit, void *ctx);

    /* ---- version 4: state that moves by itself ---- */

    /* Visits up to limit given consents whose expiry has come (0 < expires_ms <= now_ms). */
    cpm_err (*consent_state_due)(struct cpm_store *store, int64_t now_ms, int limit,
                                 cpm_consent_state_visit_fn visit, void *ctx);
    /* Visits up to limit given consents whose renewal reminder is due (0 < remind_ms <= now). */
    cpm_err (*consent_state_remind)(struct cpm_store *store, int64_t now_ms, int limit,
                                    cpm_consent_state_visit_fn visit, void *ctx);
    /*
     * Visits up to limit given consents on purpose that were agreed to under an
     * older version (< version) of notice, for subjects after after_subject.
     */
    cpm_err (*consent_state_on_notice)(struct cpm_store *store, const char *notice, int64_t version,
                                       const char *purpose, const char *after_subject, int limit,
                                       cpm_consent_state_visit_fn visit, void *ctx);

    /* ---- version 6: destinations ---- */

    /* Deletes a configuration document; NOT_FOUND when absent. */
    cpm_err (*doc_delete)(struct cpm_store *store, enum cpm_doc_kind kind, const char *id);
    /*
     * The destination's lane cursors: seqs[i] for each stored lane i < cap
     * (0 for lanes not stored), *lanes = 1 + the highest lane stored.
     * NOT_FOUND when the destination has none yet.
     */
    cpm_err (*delivery_cursors_get)(struct cpm_store *store, const char *destination_id,
                                    int64_t *seqs, unsigned cap, unsigned *lanes);
    /*
     * Appends count delivery rows and sets cursor_count lane cursors (the
     * others keep theirs), in one transaction.
     */
    cpm_err (*delivery_record)(struct cpm_store *store, const char *destination_id,
                               const struct cpm_delivery *rows, size_t count,
                               const struct cpm_lane_cursor *cursors, size_t cursor_count);
    /* Forgets a destination's cursors (its log stays: it is evidence). */
    cpm_err (*delivery_cursors_delete)(struct cpm_store *store, const char *destination_id);
    /* Visits up to limit deliveries matching filter, oldest first. */
    cpm_err (*delivery_list)(struct cpm_store *store, const struct cpm_delivery_filter *filter,
                             int limit, cpm_delivery_visit_fn visit, void *ctx);

    /* ---- version 7: one-time codes ---- */

    /* CPM_ERR_CONFLICT when the id is taken. */
    cpm_err (*otp_insert)(struct cpm_store *store, const struct cpm_otp_challenge *c);
    /* CPM_ERR_NOT_FOUND when absent. */
    cpm_err (*otp_get)(struct cpm_store *store, const char *id, struct cpm_otp_challenge *out);
    /*
     * Counts one attempt (attempts + 1) unless attempts_max were made already
     * (then CPM_ERR_CONFLICT, nothing changes); verified_ms not 0 (the code
     * was right) sets verified_ms when not yet set. NOT_FOUND when absent.
     */
    cpm_err (*otp_attempt)(struct cpm_store *store, const char *id, int attempts_max,
                           int64_t verified_ms);
    /* Marks a verified challenge used at now_ms, once: CPM_ERR_CONFLICT when used already. */
    cpm_err (*otp_use)(struct cpm_store *store, const char *id, int64_t now_ms);
    /*
     * How many challenges were created at or after since_ms for subject_id
     * (when not NULL), else for ip_hash.
     */
    cpm_err (*otp_count_since)(struct cpm_store *store, const char *subject_id,
                               const uint8_t *ip_hash, int64_t since_ms, int64_t *out);

    /* ---- version 8: rights requests (written by batch_write) and ward_list above ---- */

    /* CPM_ERR_NOT_FOUND when absent. */
    cpm_err (*rights_request_get)(struct cpm_store *store, const char *id,
                                  struct cpm_rights_request *out);
    /* The subject's open (received or in_progress) request of type; NOT_FOUND when none. */
    cpm_err (*rights_request_open)(struct cpm_store *store, const char *subject_id,
                                   const char *type, struct cpm_rights_request *out);
    /*
     * Visits up to limit requests of the subject, newest first (by created_ms,
     * then id), older than (before_ms, before_id) when before_id is not NULL.
     */
    cpm_err (*rights_request_list)(struct cpm_store *store, const char *subject_id,
                                   int64_t before_ms, const char *before_id, int limit,
                                   cpm_rights_request_visit_fn visit, void *ctx);
    /* Visits up to limit requests matching filter, soonest due first (by due_ms, then id). */
    cpm_err (*rights_request_queue)(struct cpm_store *store, const struct cpm_rights_filter *filter,
                                    int limit, cpm_rights_request_visit_fn visit, void *ctx);

    /* ---- version 9: import and export (docs/IMPORT-EXPORT.md) ---- */

    /*
     * Opens location for reading only: no migration (CPM_ERR_STORE with
     * detail when its schema is not CPM_SCHEMA_VERSION), nothing written.
     * immutable: the store is on read-only media or nobody writes it (a
     * backup): no locks and no WAL files; reading a store that changes then
     * gives wrong answers.
     */
    cpm_err (*open_readonly)(const char *location, bool immutable, struct cpm_store **out,
                             struct cpm_detail *detail);
    /* *exists: whether an event with this id is stored. */
    cpm_err (*event_id_exists)(struct cpm_store *store, const char *id, bool *exists);
    /* Visits up to limit events with after_seq < seq <= to_seq, by seq, without sealed bytes. */
    cpm_err (*event_export)(struct cpm_store *store, int64_t after_seq, int64_t to_seq, int limit,
                            cpm_event_export_visit_fn visit, void *ctx);
    /*
     * Visits up to limit consent states after after's (subject_id, purpose,
     * recipient) (NULL: from the first), in that order, erased subjects'
     * left out.
     */
    cpm_err (*consent_state_page)(struct cpm_store *store, const struct cpm_consent_state *after,
                                  int limit, cpm_consent_state_visit_fn visit, void *ctx);
    /*
     * A bulk load (an import) begins (on) or ends (off). While it lasts,
     * every batch_write joins one open transaction instead of committing its
     * own, and the backend defers housekeeping (SQLite: no WAL checkpoint);
     * off commits it all, durable on return. A batch_write that fails drops
     * the whole load (later ones and off fail too); so does bulk_abort.
     * Nothing else may write meanwhile.
     */
    cpm_err (*bulk_load)(struct cpm_store *store, bool on);
    /* Drops an open bulk load: nothing of it is written. */
    void (*bulk_abort)(struct cpm_store *store);

    /* ---- version 10: evidence packs (src/store/evidence_pack.c) ---- */

    /*
     * Visits the events with after_seq < seq <= until_seq whose time_ms is in
     * [from_ms, to_ms), by seq. The seq range is read through the primary key
     * and filtered on time (there is no index on time): the caller bounds
     * until_seq - after_seq to bound one call's work.
     */
    cpm_err (*event_list_between)(struct cpm_store *store, int64_t from_ms, int64_t to_ms,
                                  int64_t after_seq, int64_t until_seq, cpm_event_visit_fn visit,
                                  void *ctx);
    /*
     * Visits the deliveries with after_id < id <= until_id whose seq is in
     * [seq_min, seq_max], oldest first, likewise read by id; *last_id gets the
     * log's largest id (0 when empty), where the caller stops.
     */
    cpm_err (*delivery_list_seqs)(struct cpm_store *store, int64_t seq_min, int64_t seq_max,
                                  int64_t after_id, int64_t until_id, cpm_delivery_visit_fn visit,
                                  void *ctx, int64_t *last_id);

    /* ---- version 11: reports, from counts kept with every write (docs/REPORTS.md) ---- */

    /*
     * batch_write counts each consent decision event (consent.given,
     * refused, withdrawn, objected, objection_withdrawn, expired; not a
     * merge's carried copies) by its Asia/Shanghai day, purpose, property,
     * channel, event region and decision, and delivery_record each delivery
     * by day, destination and outcome, in the same transaction as the rows
     * they count. These read those counts only, never the events.
     *
     * Visits the consent counts of q's days (and purpose, property), summed
     * by q->group, ordered by the grouped dimensions then decision.
     * CPM_ERR_TOO_LARGE (nothing visited) when more than q->rows_max rows.
     */
    cpm_err (*report_consents)(struct cpm_store *store, const struct cpm_report_query *q,
                               cpm_report_row_visit_fn visit, void *ctx);
    /* Visits the delivery counts of q's days (and destination), by day, destination, outcome. */
    cpm_err (*report_deliveries)(struct cpm_store *store, const struct cpm_report_query *q,
                                 cpm_report_delivery_visit_fn visit, void *ctx);
    /*
     * The time of the destination's latest delivery row with outcome
     * (*time_ms 0 when none), read backwards through its index: one row.
     */
    cpm_err (*delivery_last)(struct cpm_store *store, const char *destination_id,
                             const char *outcome, int64_t *time_ms);

    /* ---- version 12 ---- */

    /*
     * Reads the stored nodes 0 … count - 1 of level into out (count ×
     * CPM_HASH_BYTES) with one statement: what node-by-node reads (a read
     * transaction, and its file locks, each) took a second and more for at
     * cpmd's start. CPM_ERR_STORE when one is missing.
     */
    cpm_err (*merkle_level)(struct cpm_store *store, unsigned level, uint64_t count,
                            uint8_t (*out)[CPM_HASH_BYTES]);
    /*
     * Visits, once each, the subjects with an event after after_seq or a
     * send recorded after row after_contact, in one read transaction.
     * CPM_ERR_CONFLICT (nothing visited) when row after_contact (> 0) is no
     * longer the send contacts_mark stamped contact_stamp: an erasure
     * deleted it, and a later send may have taken a row number at or below
     * after_contact. CPM_ERR_TOO_LARGE (stopped) past max of them.
     */
    cpm_err (*index_changed)(struct cpm_store *store, uint64_t after_seq, int64_t after_contact,
                             uint64_t contact_stamp, uint64_t max,
                             cpm_err (*visit)(void *ctx, const char *subject_id), void *ctx);
    /*
     * What index_load shows of one subject (loader->part and parts unused,
     * begun not called), in one read transaction; NOT_FOUND when the store
     * has no such subject.
     */
    cpm_err (*index_load_subject)(struct cpm_store *store, const char *subject_id,
                                  const struct cpm_index_loader *loader);
};

/* Every backend's store begins with this. */
struct cpm_store {
    const struct cpm_store_ops *ops;
};

extern const struct cpm_store_ops cpm_store_sqlite_ops;

/* The file name of the SQLite database inside a data directory. */
#define CPM_STORE_SQLITE_FILE "cpm.db"

/*
 * Opens the store of a data directory (SQLite: DIR/cpm.db). The one place
 * that chooses a backend.
 */
cpm_err cpm_store_open(const char *data_dir, struct cpm_store **out,
                       struct cpm_detail *detail) CPM_MUST_CHECK;
void cpm_store_close(struct cpm_store *store);
/* The same, read only (struct cpm_store_ops.open_readonly): for exports and audits. */
cpm_err cpm_store_open_readonly(const char *data_dir, bool immutable, struct cpm_store **out,
                                struct cpm_detail *detail) CPM_MUST_CHECK;

/* Whether guardian_id is a linked guardian of child_id (*linked); CPM_ERR_STORE. */
cpm_err cpm_store_guardian_linked(struct cpm_store *store, const char *child_id,
                                  const char *guardian_id, bool *linked) CPM_MUST_CHECK;

#endif /* CPM_STORE_H */
