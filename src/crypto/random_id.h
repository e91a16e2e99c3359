/* SPDX-License-Identifier: Apache-2.0 */
/*
 * random_id.h — unguessable identifiers for events and actions
 * ("evt_" + 32 hex digits): 128 random bits from the OS generator.
 */
#ifndef CPM_CRYPTO_RANDOM_ID_H
#define CPM_CRYPTO_RANDOM_ID_H

#include <stddef.h>

#define CPM_RANDOM_ID_BYTES 16

/* Writes prefix + 32 random hex digits into out (truncated to size). Thread safe. */
void cpm_random_id(char *out, size_t size, const char *prefix);

#endif /* CPM_CRYPTO_RANDOM_ID_H */
