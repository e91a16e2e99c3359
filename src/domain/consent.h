/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consent.h — one UI action's consent decisions: the request's shape, the
 * PIPL rules that decide whether it may be recorded, and the ledger leaf
 * each decision becomes.
 *
 * Pure: configuration comes through the lookup, the notice version and the
 * subject's age status from the caller. A request either passes every rule
 * or is refused whole with every fault named (nothing is written).
 */
#ifndef CPM_DOMAIN_CONSENT_H
#define CPM_DOMAIN_CONSENT_H

#include <jansson.h>

#include "core/common.h"
#include "core/detail.h"
#include "domain/config.h"

/* The channels an action may come through ("web", "sms", …), NULL-terminated. */
extern const char *const cpm_consent_channels[];

/* One purpose's decision within an action (strings borrowed from the body). */
struct cpm_consent_decision {
    const char *purpose;
    const char *decision;  /* given, refused, withdrawn, objected, objection_withdrawn */
    bool separate;         /* the person's own explicit act for this purpose */
    const char *recipient; /* the recipient it is given to, for per-recipient purposes */
};

/* A validated consent action; strings are borrowed from the parsed body. */
struct cpm_consent_action {
    const char *property;
    const char *channel;
    const char *locale;
    const char *region; /* picks the policy: "CN-HK", "CN", or NULL for the "*" policy */
    const char *method;
    const char *actor; /* self, guardian */
    const char *guardian_id;
    const char *notice_id; /* NULL when the action only withdraws */
    int64_t notice_version;
    const char *notice_sha256;
    const char *display;       /* the notice.displayed event the action answers, or NULL */
    const char *otp_challenge; /* the verified one-time code challenge it carries, or NULL */
    const char *ip;            /* personal: sealed, never in a leaf */
    const char *user_agent;
    size_t count;
    struct cpm_consent_decision decisions[CPM_DECISIONS_MAX];
};

/*
 * Checks body's shape (docs/CONSENTS.md) and fills action with pointers
 * into it; body must outlive action. CPM_ERR_VALIDATION with every fault.
 */
cpm_err cpm_consent_parse(json_t *body, struct cpm_consent_action *action,
                          struct cpm_detail *detail) CPM_MUST_CHECK;

/* What the rules know of the subject (the caller reads it from the store). */
struct cpm_consent_subject {
    const char *age_status; /* adult, minor_14_17, child_under_14, unknown */
    bool guardian_linked;   /* the action's guardian_id is a linked guardian of the subject */
};

/*
 * Applies the rules: purposes exist and rest on consent (PIPL Art. 13);
 * separate-form purposes carry their own explicit decision (Art. 23, 25, 29,
 * 39); necessary-for-service purposes are never refused (Art. 16); the
 * notice version exists, covers each purpose given or refused and its text
 * in the locale has the hash sent (Art. 14, 17); under-14s act through a
 * guardian, and a guardian who acts is one linked to the subject (Art.
 * 31). notice_version is the stored version document or NULL when it does
 * not exist. CPM_ERR_VALIDATION with every fault, or CPM_ERR_STORE when a
 * lookup failed.
 */
cpm_err cpm_consent_check(const struct cpm_consent_action *action,
                          const struct cpm_config_lookup *lookup, const json_t *notice_version,
                          const struct cpm_consent_subject *subject,
                          struct cpm_detail *detail) CPM_MUST_CHECK;

/* What a leaf needs besides the action: none of it plaintext personal data. */
struct cpm_consent_leaf_info {
    const char *event_id;
    const char *action_id;          /* groups the events of one UI action */
    const char *subject_pseudonym;  /* never the raw subject id */
    const char *guardian_pseudonym; /* NULL unless a guardian acted */
    const char *context_sha256;     /* hex SHA-256 of the sealed context, or NULL */
    int64_t time_ms;
    int64_t otp_verified_ms; /* when the action's one-time code was verified; 0: none */
    int64_t imported_ms;     /* when `cpm import` recorded it (time_ms is the original); 0: live */
    const char *import_source; /* hex keyed hash of the old system's row id, or NULL */
};

/*
 * The canonical leaf text (compact JSON, fixed key order) of decision i:
 * owned, cpm_free. NULL on out of memory.
 */
char *cpm_consent_leaf(const struct cpm_consent_action *action, size_t i,
                       const struct cpm_consent_leaf_info *info, size_t *len);

/*
 * The leaf of an event the system records on a person's consent by itself
 * (consent.expired, consent.reconsent_required): which consent (purpose,
 * the deciding event it ends) and why (the notice version that changed,
 * or NULL). Owned, cpm_free; NULL on out of memory.
 */
char *cpm_consent_system_leaf(const char *event_id, const char *type, const char *pseudonym,
                              const char *purpose, int64_t time_ms, int64_t deciding_seq,
                              const char *notice, int64_t notice_version, size_t *len);

/* The times a policy sets on a consent (all 0 when it sets none). */
struct cpm_consent_times {
    int64_t expires_ms;   /* given: decided + consent_validity */
    int64_t remind_ms;    /* reminder_before the expiry, when that is after the decision */
    int64_t ask_again_ms; /* refused: decided + refusal_cooldown */
};

/*
 * Fills t for a consent of status decided at decided_ms under policy (a
 * policy document, or NULL for none). An expiry already in t (a date the
 * caller knows) is kept and only the reminder is derived from it.
 */
void cpm_consent_policy_times(const json_t *policy, const char *status, int64_t decided_ms,
                              struct cpm_consent_times *t);

/* "consent.given", "consent.refused", "consent.withdrawn", "consent.objected", … for a decision. */
const char *cpm_consent_event_type(const char *decision);

#endif /* CPM_DOMAIN_CONSENT_H */
