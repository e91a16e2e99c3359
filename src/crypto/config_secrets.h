/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_secrets.h — credentials inside configuration documents are stored
 * sealed under the keyring's secrets key, each bound to its document
 * ("destination/crm", "property/shop"), and opened only where used.
 *
 * Which fields: a destination's `secret` (webhook signing secret, vendor
 * token); a property's HS256 token keys' `k`. A document stored before
 * sealing existed holds them as written; they are used as is and sealed by
 * the document's next change.
 */
#ifndef CPM_CRYPTO_CONFIG_SECRETS_H
#define CPM_CRYPTO_CONFIG_SECRETS_H

#include <jansson.h>

#include "core/common.h"
#include "crypto/keyring.h"
#include "domain/config.h"

/* Seals doc's credentials in place (those not sealed already). CPM_ERR_VALIDATION: too long. */
cpm_err cpm_config_secrets_seal(enum cpm_doc_kind kind, json_t *doc,
                                const struct cpm_keyring *kr) CPM_MUST_CHECK;

/* Opens doc's sealed credentials in place (on a copy meant for use). CPM_ERR_CRYPTO: altered. */
cpm_err cpm_config_secrets_open(enum cpm_doc_kind kind, json_t *doc,
                                const struct cpm_keyring *kr) CPM_MUST_CHECK;

/* True when doc (as a client sent it) carries a sealed value where a credential goes. */
bool cpm_config_secrets_sent_sealed(enum cpm_doc_kind kind, const json_t *doc);

#endif /* CPM_CRYPTO_CONFIG_SECRETS_H */
