/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h — the configuration nouns: properties, purposes, notices (and
 * their immutable versions) and policies, as validated JSON documents.
 *
 * The rules are written down for people in docs/CONFIGURATION.md; this
 * module is their one implementation. It is pure: no I/O. Documents that
 * refer to others (a policy names a property, a notice and purposes) are
 * checked through a lookup callback the caller provides, so the same code
 * serves the API (backed by the store) and `cpm seed` and the tests.
 *
 * Thread safety: all functions are reentrant.
 */
#ifndef CPM_DOMAIN_CONFIG_H
#define CPM_DOMAIN_CONFIG_H

#include <jansson.h>

#include "core/common.h"
#include "core/detail.h"

enum cpm_doc_kind {
    CPM_DOC_PROPERTY,
    CPM_DOC_PURPOSE,
    CPM_DOC_NOTICE,
    CPM_DOC_POLICY,
    CPM_DOC_TOPIC,       /* a subject matter people may opt out of (coupons, new_arrivals) */
    CPM_DOC_CHANNEL,     /* a contact channel's rules: its purposes and allowed hours */
    CPM_DOC_DESTINATION, /* a downstream system changes are sent to (docs/SYNC.md) */
    CPM_DOC__COUNT
};

/* "property", "purpose", "notice", "policy", "topic", "channel", "destination". */
const char *cpm_doc_kind_name(enum cpm_doc_kind kind);

/*
 * Returns the stored document (borrowed; valid until the caller's request
 * ends) of kind with id, or NULL when there is none. A lookup failure other
 * than "absent" is reported by returning NULL and setting *failed.
 */
typedef const json_t *(*cpm_config_lookup_fn)(void *ctx, enum cpm_doc_kind kind, const char *id,
                                              bool *failed);

struct cpm_config_lookup {
    cpm_config_lookup_fn fn;
    void *ctx;
};

/*
 * Validates doc (a whole document of kind, `id` included) in place: checks
 * every field, refuses unknown ones, fills defaults (e.g. `sensitive: false`),
 * checks references and cross-document rules through lookup.
 * Returns CPM_OK, CPM_ERR_VALIDATION (faults in detail, every one found up
 * to the cap), CPM_ERR_NOMEM, or CPM_ERR_STORE when the lookup failed.
 */
cpm_err cpm_config_validate(enum cpm_doc_kind kind, json_t *doc,
                            const struct cpm_config_lookup *lookup,
                            struct cpm_detail *detail) CPM_MUST_CHECK;

/*
 * Writes the document's uniqueness key besides its id into out, or "" when
 * the kind has none. Policies: "<region>|<property>". doc must be valid.
 */
void cpm_config_unique_key(enum cpm_doc_kind kind, const json_t *doc, char *out, size_t size);

/*
 * Validates a notice version about to be published for notice (the stored,
 * valid notice document) and completes it in place: `change` defaults, and
 * each locale's `sha256` (lowercase hex SHA-256 of its `text`). A `sha256`,
 * `version` or `published_at` sent by the client is refused.
 */
cpm_err cpm_notice_version_validate(json_t *version, const json_t *notice,
                                    const struct cpm_config_lookup *lookup,
                                    struct cpm_detail *detail) CPM_MUST_CHECK;

/* True when s is a valid slug id (1–64 of [a-z0-9._-], first [a-z0-9]). */
bool cpm_config_id_valid(const char *s);

/* True when s is a BCP 47 tag of the accepted shape (docs/CONFIGURATION.md). */
bool cpm_locale_valid(const char *s);

/*
 * Parses an ISO 8601 duration (docs/CONFIGURATION.md) into its calendar
 * parts. False on anything else, including a zero duration.
 */
struct cpm_duration {
    int32_t years, months, weeks, days;
    int64_t seconds; /* hours, minutes and seconds together */
};
bool cpm_duration_parse(const char *s, struct cpm_duration *out);

/* ms plus the duration d (calendar arithmetic in UTC). */
int64_t cpm_duration_after(int64_t ms, const struct cpm_duration *d);

/*
 * The policy that applies to (region, property) among policies (an array
 * of policy documents): an exact region first, then its country ("CN" for
 * "CN-HK"), then "*". NULL when none; borrowed from policies.
 */
const json_t *cpm_policy_select(const json_t *policies, const char *region, const char *property);

#endif /* CPM_DOMAIN_CONFIG_H */
