/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device.h — anonymous visitors' first-party device credentials.
 *
 * A visitor who is not logged in gets a subject of its own, "anon-" and 22
 * base64url characters (16 random bytes), and a credential naming it and
 * the property it was issued for:
 *
 *   dev1.<property>.<subject>.<mac>
 *
 * mac is the unpadded base64url HMAC-SHA-256, under the keyring's device
 * key (a subkey of the master key, crypto/keyring.h), of
 * "cpm-device-v1" ‖ 0x00 ‖ property ‖ 0x00 ‖ subject. Nothing is stored
 * when a credential is issued: cpmd recomputes the MAC to check one, and
 * compares it in constant time. A credential does not expire; what a
 * device may still do is decided from the store (merged into a person at
 * login, erased: docs/END-USERS.md "Anonymous visitors and login").
 *
 * Pure: libsodium only. Thread safe (the keyring is read only).
 */
#ifndef CPM_CRYPTO_DEVICE_H
#define CPM_CRYPTO_DEVICE_H

#include "core/common.h"
#include "crypto/keyring.h"

#define CPM_DEVICE_SUBJECT_PREFIX "anon-"
#define CPM_DEVICE_RANDOM_BYTES   16
#define CPM_DEVICE_SUBJECT_BYTES  (5 + 22 + 1) /* "anon-", 22 base64url characters, NUL */
#define CPM_DEVICE_MAC_TEXT_BYTES 43           /* 32 bytes, unpadded base64url */
#define CPM_DEVICE_TOKEN_PREFIX   "dev1."
/* "dev1." property "." subject "." mac, and a NUL */
#define CPM_DEVICE_TOKEN_BYTES_MAX                                                                 \
    (5 + CPM_ID_BYTES_MAX + 1 + (CPM_DEVICE_SUBJECT_BYTES - 1) + 1 + CPM_DEVICE_MAC_TEXT_BYTES + 1)

/* What a device credential names. */
struct cpm_device {
    char subject_id[CPM_DEVICE_SUBJECT_BYTES];
    char property[CPM_ID_BYTES_MAX + 1];
};

/* True when subject_id starts with "anon-": reserved for devices, whatever follows. */
bool cpm_device_subject_reserved(const char *subject_id);

/* True when subject_id is a device subject as cpm_device_new makes them. */
bool cpm_device_subject_valid(const char *subject_id);

/*
 * A new device of property (a valid property id: asserted) into *out, and
 * its credential into token (NUL-terminated). Never fails.
 */
void cpm_device_new(const struct cpm_keyring *kr, const char *property, struct cpm_device *out,
                    char token[CPM_DEVICE_TOKEN_BYTES_MAX]);

/*
 * Checks a credential: its shape, its length (at most
 * CPM_DEVICE_TOKEN_BYTES_MAX - 1 bytes), and its MAC, compared in constant
 * time. *out gets what it names. CPM_ERR_UNAUTHORIZED for anything else:
 * a forged, altered, truncated or moved credential.
 */
cpm_err cpm_device_open(const struct cpm_keyring *kr, const char *token,
                        struct cpm_device *out) CPM_MUST_CHECK;

#endif /* CPM_CRYPTO_DEVICE_H */
