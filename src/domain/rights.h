/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rights.h — a data subject's rights requests (PIPL Art. 44–50): what a
 * person may ask for (see, copy, transfer, correct, delete, have
 * explained), how a request moves from `received` to `completed` or
 * `refused`, when it is due, the bodies that file and change one, and the
 * ledger leaf each step becomes (docs/RIGHTS.md).
 *
 * Pure: no store, no keys, no clock. The person's own note is personal
 * data: the caller seals it (crypto/keyring.h) and a leaf only ever gets
 * the SHA-256 of the sealed bytes, never the text.
 */
#ifndef CPM_DOMAIN_RIGHTS_H
#define CPM_DOMAIN_RIGHTS_H

#include <jansson.h>

#include "core/common.h"
#include "core/detail.h"

struct cpm_tz;

/* Event types of a request's ledger entries. */
#define CPM_EVENT_RIGHTS_REQUESTED "rights.requested"
#define CPM_EVENT_RIGHTS_UPDATED   "rights.updated"

/* The due date: this many working days (Monday–Friday) after receipt, in this zone. */
#define CPM_RIGHTS_DUE_WORKING_DAYS 15
#define CPM_RIGHTS_TIME_ZONE        "Asia/Shanghai"
#define CPM_RIGHTS_WORKING_DAYS_MAX 365 /* a bound for cpm_rights_due_ms's loop */

/* What is asked for; the names are the API's. */
enum cpm_rights_type {
    CPM_RIGHTS_ACCESS,      /* "access": see and copy (Art. 45) */
    CPM_RIGHTS_PORTABILITY, /* "portability": transfer to another handler (Art. 45) */
    CPM_RIGHTS_CORRECTION,  /* "correction": correct or complete (Art. 46) */
    CPM_RIGHTS_DELETION,    /* "deletion": delete (Art. 47) */
    CPM_RIGHTS_EXPLANATION, /* "explanation": explain the processing rules (Art. 48) */
    CPM_RIGHTS_TYPE_COUNT
};

/* Where a request stands: received → in_progress → completed | refused. */
enum cpm_rights_status {
    CPM_RIGHTS_RECEIVED,
    CPM_RIGHTS_IN_PROGRESS,
    CPM_RIGHTS_COMPLETED,
    CPM_RIGHTS_REFUSED, /* with a reason (Art. 50) */
    CPM_RIGHTS_STATUS_COUNT
};

/* The API name of t / s ("access", "in_progress"). */
const char *cpm_rights_type_name(enum cpm_rights_type t);
const char *cpm_rights_status_name(enum cpm_rights_status s);
/* Parses a name; false when it is none of them (name may be NULL). */
bool cpm_rights_type_parse(const char *name, enum cpm_rights_type *out);
bool cpm_rights_status_parse(const char *name, enum cpm_rights_status *out);

/* True while a request is being handled: received or in_progress. */
bool cpm_rights_status_open(enum cpm_rights_status s);

/*
 * Whether a request may go from `from` to `to`: forward only (received →
 * in_progress, completed or refused; in_progress → completed or refused).
 * A finished request never changes; staying put is not a change.
 */
bool cpm_rights_transition_allowed(enum cpm_rights_status from, enum cpm_rights_status to);

/*
 * When a request received at received_ms (UTC ms) is due: the end
 * (23:59:59.999 local time) of the working_days-th Monday–Friday after the
 * local day of receipt, in tz. The day of receipt never counts, whatever
 * the hour; public holidays are not known, so only weekends are skipped.
 * working_days is 1–CPM_RIGHTS_WORKING_DAYS_MAX (asserted).
 */
int64_t cpm_rights_due_ms(const struct cpm_tz *tz, int64_t received_ms, int working_days);

/* A request as filed: strings borrowed from the body. */
struct cpm_rights_input {
    enum cpm_rights_type type;
    const char *property; /* NULL when not sent */
    const char *note;     /* the person's own words, NULL when not sent; personal data */
    size_t note_len;      /* bytes, ≤ CPM_RIGHTS_TEXT_BYTES_MAX */
};

/*
 * Checks {type, property?, note?}: type one of the five, property a slug,
 * note 1–CPM_RIGHTS_TEXT_BYTES_MAX bytes of UTF-8; unknown fields refused.
 * CPM_ERR_VALIDATION with every fault (never quoting the note).
 */
cpm_err cpm_rights_input_parse(json_t *body, struct cpm_rights_input *out,
                               struct cpm_detail *detail) CPM_MUST_CHECK;

/* A change an operator asks for: strings borrowed from the body. */
struct cpm_rights_change {
    enum cpm_rights_status status;
    const char *reply;  /* to the person; NULL when not sent */
    const char *reason; /* why it is refused; only with refused, and then required */
};

/*
 * Checks {status, reply?, reason?}: status one of in_progress, completed,
 * refused (a request is never sent back to received); reason required when
 * refusing and refused otherwise; reply and reason 1–CPM_RIGHTS_TEXT_BYTES_MAX
 * bytes. Whether the stored request may make the move is the caller's
 * (cpm_rights_transition_allowed). CPM_ERR_VALIDATION with every fault.
 */
cpm_err cpm_rights_change_parse(json_t *body, struct cpm_rights_change *out,
                                struct cpm_detail *detail) CPM_MUST_CHECK;

/* What a request event's leaf holds: none of it plaintext personal data. */
struct cpm_rights_leaf_info {
    const char *type; /* CPM_EVENT_RIGHTS_REQUESTED or CPM_EVENT_RIGHTS_UPDATED */
    const char *event_id;
    const char *subject_pseudonym; /* never the raw subject id */
    int64_t time_ms;
    const char *request_id;
    enum cpm_rights_type request_type;
    enum cpm_rights_status status;
    enum cpm_rights_status previous; /* rights.updated: the status it left */
    int64_t due_ms;
    const char *property;    /* rights.requested: where it was filed */
    const char *note_sha256; /* rights.requested: hex SHA-256 of the sealed note, or NULL */
    const char *guardian;    /* rights.requested: the acting guardian's pseudonym, or NULL */
    const char *key;         /* the API key id that made the change; "end_user", "device" */
};

/*
 * The canonical leaf text (compact JSON, fixed key order: v, id, type,
 * time, subject, request, request_type, status, then previous for an
 * update, due, property, note_sha256 and guardian for a request, and key): owned,
 * cpm_free. NULL on out of memory. A field the type needs being NULL is a
 * programmer error.
 */
char *cpm_rights_leaf(const struct cpm_rights_leaf_info *info, size_t *len);

#endif /* CPM_DOMAIN_RIGHTS_H */
