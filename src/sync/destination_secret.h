/* SPDX-License-Identifier: Apache-2.0 */
/*
 * destination_secret.h — a destination's credential (webhook secret, vendor
 * token) is stored sealed under the keyring's secrets key, bound to the
 * destination's id, and opened only where it is used: by the worker that
 * sends, and once in the answer that created it.
 *
 * A document stored before sealing existed still holds its secret as
 * written; it is used as is and sealed by its next change.
 */
#ifndef CPM_SYNC_DESTINATION_SECRET_H
#define CPM_SYNC_DESTINATION_SECRET_H

#include <jansson.h>

#include "core/common.h"
#include "crypto/keyring.h"

/* Seals doc's `secret` in place unless it is sealed already (or absent). */
cpm_err cpm_destination_secret_seal(json_t *doc, const struct cpm_keyring *kr) CPM_MUST_CHECK;

/* Opens doc's sealed `secret` in place (on a copy meant for use). CPM_ERR_CRYPTO when altered. */
cpm_err cpm_destination_secret_open(json_t *doc, const struct cpm_keyring *kr) CPM_MUST_CHECK;

#endif /* CPM_SYNC_DESTINATION_SECRET_H */
