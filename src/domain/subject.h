/* SPDX-License-Identifier: Apache-2.0 */
/*
 * subject.h — a data subject's own facts: its age status, the identifiers
 * and guardians linked to it, its erasure; the request bodies that change
 * them and the ledger leaf each change becomes.
 *
 * Pure: no store, no keys. Identifier values are normalised, hashed and
 * sealed by the caller (crypto/keyring.h); a leaf only ever receives their
 * keyed hash, and pseudonyms instead of subject ids.
 */
#ifndef CPM_DOMAIN_SUBJECT_H
#define CPM_DOMAIN_SUBJECT_H

#include <jansson.h>

#include "core/common.h"
#include "core/detail.h"

/* Event types of the subject ledger entries. */
#define CPM_EVENT_AGE_STATUS_SET   "subject.age_status_set"
#define CPM_EVENT_IDENTITY_LINKED  "identity.linked"
#define CPM_EVENT_GUARDIAN_LINKED  "guardian.linked"
#define CPM_EVENT_SUBJECT_ERASED   "subject.erased"
#define CPM_EVENT_NOTICE_DISPLAYED "notice.displayed"

/* An age status needing a guardian for every consent (PIPL Art. 31). */
#define CPM_AGE_STATUS_CHILD_UNDER_14 "child_under_14"

/* In a path, the subject of the end-user token calling; never a stored id. */
#define CPM_SUBJECT_ME "me"

/*
 * True when id is a company subject id: 1–CPM_SUBJECT_ID_BYTES_MAX
 * printable ASCII characters, no space or '/'.
 */
bool cpm_subject_id_valid(const char *id);

/* True for adult, minor_14_17, child_under_14, unknown. */
bool cpm_age_status_valid(const char *status);

/*
 * An E.164 phone number masked for showing the person where a code went:
 * a Chinese mobile as "+86 138****8000", any other as "+" and its first
 * two digits, "*" for the middle, and its last four ("+44******0123").
 * out gets "" when phone is not "+" and 8–15 digits. cap ≥ 24.
 */
void cpm_phone_mask(const char *phone, char *out, size_t cap);

/*
 * Checks {age_status} and points *age_status into body (which must outlive
 * it). CPM_ERR_VALIDATION with every fault.
 */
cpm_err cpm_subject_age_parse(json_t *body, const char **age_status,
                              struct cpm_detail *detail) CPM_MUST_CHECK;

/* An identifier to link, as sent (strings borrowed from the body). */
struct cpm_identity_input {
    const char *type;  /* phone, email, …: cpm_identifier_normalise checks it */
    const char *value; /* personal data: never logged, never quoted in a message */
};

/* Checks {type, value}'s shape. CPM_ERR_VALIDATION with every fault. */
cpm_err cpm_identity_parse(json_t *body, struct cpm_identity_input *out,
                           struct cpm_detail *detail) CPM_MUST_CHECK;

/* A guardian to link, as sent (strings borrowed from the body). */
struct cpm_guardian_input {
    const char *guardian_id; /* a company subject id */
    const char *relation;    /* parent, legal_guardian */
};

/*
 * Checks {guardian_id, relation}: the guardian id is a subject id and not
 * child_id itself. CPM_ERR_VALIDATION with every fault.
 */
cpm_err cpm_guardian_parse(json_t *body, const char *child_id, struct cpm_guardian_input *out,
                           struct cpm_detail *detail) CPM_MUST_CHECK;

/* What a subject event's leaf holds: none of it plaintext personal data. */
struct cpm_subject_leaf_info {
    const char *type; /* CPM_EVENT_* above */
    const char *event_id;
    const char *subject_pseudonym; /* never the raw subject id */
    int64_t time_ms;
    const char *age_status;         /* subject.age_status_set */
    const char *identifier_type;    /* identity.linked */
    const char *identifier_hash;    /* identity.linked: hex of the keyed hash, never the value */
    const char *guardian_pseudonym; /* guardian.linked */
    const char *relation;           /* guardian.linked */
    const json_t *display;          /* notice.displayed: what was shown, where, in which locale */
};

/*
 * The canonical leaf text (compact JSON, fixed key order: v, id, type, time,
 * subject, then the type's own keys): owned, cpm_free. NULL on out of
 * memory. A field the type needs being NULL is a programmer error.
 */
char *cpm_subject_leaf(const struct cpm_subject_leaf_info *info, size_t *len);

#endif /* CPM_DOMAIN_SUBJECT_H */
