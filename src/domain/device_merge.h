/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device_merge.h — what an anonymous visitor's device hands to the person
 * who logs in on it (docs/END-USERS.md "Anonymous visitors and login"):
 * which of the device's consents carry over, and the ledger leaves of the
 * merge.
 *
 * A consent carries over when it is the device's own act (given, refused,
 * withdrawn, objected, objection withdrawn; not a state the system set,
 * such as expired), still in force, and decided after anything the person
 * decided on the same purpose (and recipient). A person under 14 takes no
 * consent given on a device: a guardian must give it (PIPL Art. 31);
 * refusals and withdrawals carry over.
 *
 * Pure: no store, no keys. Leaves carry pseudonyms, never subject ids.
 */
#ifndef CPM_DOMAIN_DEVICE_MERGE_H
#define CPM_DOMAIN_DEVICE_MERGE_H

#include <jansson.h>

#include "core/common.h"

#define CPM_EVENT_IDENTITY_MERGED "identity.merged"
#define CPM_MERGE_METHOD          "merge"

/* One side's consent for a purpose (and recipient), as stored. */
struct cpm_merge_consent {
    const char *status; /* given, refused, withdrawn, expired, … */
    int64_t decided_ms;
    int64_t expires_ms; /* 0: no expiry */
};

/*
 * NULL when the device's consent carries over to the person, else why
 * not (a message for the answer). person is NULL when the person has no
 * consent on the purpose; person_under_14 when their age status needs a
 * guardian.
 */
const char *cpm_merge_skip_reason(const struct cpm_merge_consent *device,
                                  const struct cpm_merge_consent *person, bool person_under_14,
                                  int64_t now_ms);

/* Where a merged consent came from: the device's deciding event. */
struct cpm_merge_source {
    const char *subject_pseudonym; /* the device subject's pseudonym */
    int64_t seq;                   /* its deciding event, in the ledger */
    const char *event_id;
    const char *leaf_hash; /* hex Merkle leaf hash of that event: the leaf it commits to */
    const json_t *leaf;    /* that event's leaf, parsed: what the person decided, and where */
};

/* What a merged consent's leaf needs besides its source. */
struct cpm_merge_leaf_info {
    const char *event_id;
    const char *action_id;         /* shared by the merge's events */
    const char *subject_pseudonym; /* the person's */
    int64_t time_ms;
    const char *purpose;
    const char *recipient; /* NULL when not per recipient */
    const char *status;    /* the device's decision: its event type follows */
};

/*
 * The leaf of a consent carried over (compact JSON, fixed key order): as a
 * consent action's leaf (docs/CONSENTS.md) with the device's property,
 * channel, locale, separate and notice, method "merge", actor "self", and
 * `from`: {subject, seq, event, leaf_hash} of the source. Owned, cpm_free;
 * NULL on out of memory.
 */
char *cpm_merge_consent_leaf(const struct cpm_merge_leaf_info *info,
                             const struct cpm_merge_source *source, size_t *len);

/*
 * The leaf of the identity.merged event on the person: {v, id, type, time,
 * subject, action, identifier_type "device", identifier_hash, device (the
 * device's pseudonym), consents (how many carried over)}. Owned, cpm_free;
 * NULL on out of memory.
 */
char *cpm_merge_identity_leaf(const char *event_id, const char *action_id,
                              const char *subject_pseudonym, int64_t time_ms,
                              const char *identifier_hash, const char *device_pseudonym,
                              size_t consents, size_t *len);

#endif /* CPM_DOMAIN_DEVICE_MERGE_H */
