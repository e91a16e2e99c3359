/* SPDX-License-Identifier: Apache-2.0 */
/*
 * destination.h — destination documents: where changes are sent, which
 * ones, and under which role (docs/SYNC.md).
 *
 * The field table and rules live in destination.c and are run by
 * cpm_config_validate like every other kind. Here: the webhook secret
 * format (Standard Webhooks `whsec_` + base64 of the key) and the event
 * filter's patterns ("consent.*", "marketing.*").
 *
 * Pure; thread safety: reentrant.
 */
#ifndef CPM_DOMAIN_DESTINATION_H
#define CPM_DOMAIN_DESTINATION_H

#include <jansson.h>

#include "core/common.h"

#define CPM_WEBHOOK_KEY_BYTES_MIN    24
#define CPM_WEBHOOK_KEY_BYTES_MAX    64
#define CPM_WEBHOOK_KEY_BYTES_NEW    32
#define CPM_WEBHOOK_SECRET_BYTES_MAX (6 + 4 * (CPM_WEBHOOK_KEY_BYTES_MAX + 2) / 3 + 1)

/* Writes a new random secret "whsec_<base64 of 32 bytes>" into out. */
void cpm_webhook_secret_new(char out[CPM_WEBHOOK_SECRET_BYTES_MAX]);

/*
 * Decodes a secret's key into key (CPM_WEBHOOK_KEY_BYTES_MAX); false when
 * it is not "whsec_" followed by standard base64 of 24–64 bytes.
 */
bool cpm_webhook_secret_decode(const char *secret, uint8_t key[CPM_WEBHOOK_KEY_BYTES_MAX],
                               size_t *len);

/*
 * True when value matches pattern: equal, or pattern ends in ".*" and value
 * starts with what comes before it and a dot ("marketing.*" matches
 * "marketing.sms" and "marketing.sms.coupons", not "marketing"), or
 * pattern is "*".
 */
bool cpm_destination_pattern_matches(const char *pattern, const char *value);

/* True when value matches one pattern of the JSON array patterns; an absent or empty one: all. */
bool cpm_destination_patterns_match(const json_t *patterns, const char *value);

/*
 * Fills a new document's kind-dependent defaults: the rules a connector
 * gets when it names none (wecom_tags has none: tag ids are the account's),
 * and ocean_engine's 30-minute batch interval (50 updates a day).
 */
void cpm_destination_fill_defaults(json_t *doc);

/*
 * True when an event of type about purpose ("" when none) matches a filter
 * or rule condition `when` (types, purposes; channels are the caller's).
 */
bool cpm_destination_rule_matches(const json_t *when, const char *type, const char *purpose);

#endif /* CPM_DOMAIN_DESTINATION_H */
