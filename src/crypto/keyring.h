/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyring.h — the keys that protect personal data, and what they do to it.
 *
 * Pure: libsodium only, no I/O. From the data directory's master key three
 * subkeys are derived (crypto_kdf_derive_from_key, one 8-byte context each):
 *
 *   id 1 "cpmident"  identifier-hashing key: HMAC of (type, normalised value),
 *                    so a phone or e-mail can be looked up without storing it
 *   id 2 "cpmwrap_"  key-wrapping key: encrypts each subject's data key
 *   id 3 "cpmsubjr"  subject-pseudonym key: HMAC of the company's subject id,
 *                    which is all the ledger's leaves carry about the subject
 *   id 4 "cpmsecrt"  secrets key: seals credentials kept in the configuration
 *                    (destinations' webhook secrets, vendor tokens)
 *   id 5 "cpmotp__"  one-time code key: keyed hashes of codes and callers' IPs
 *   id 6 "cpmdevic"  device key: MACs of anonymous visitors' device credentials
 *                    (crypto/device.h)
 *
 * and the Ed25519 checkpoint-signing keypair comes from the signing seed.
 *
 * Erasure model (crypto-shredding). Every personal field (IP, user agent,
 * phone, e-mail) is sealed under a random per-subject data key, stored only
 * wrapped. The ledger commits to hashes over the sealed bytes, never to the
 * plaintext. Erasing a subject destroys its wrapped data key and its
 * identifier hashes: the sealed fields become unreadable (not even the master
 * key opens them), yet every leaf, hash, Merkle proof and signed checkpoint
 * still verifies, because they cover ciphertext that did not change. What
 * stays is the pseudonym: whoever holds both the master key and the raw
 * subject id can still recompute it and see the subject's consent history.
 *
 * Thread safety: a keyring is read-only after cpm_keyring_init; every other
 * function may be called from any thread on a shared const keyring.
 */
#ifndef CPM_CRYPTO_KEYRING_H
#define CPM_CRYPTO_KEYRING_H

#include "core/common.h"
#include "core/detail.h"
#include "store/datadir.h"

#define CPM_KEYRING_KEY_BYTES      32
#define CPM_DATA_KEY_BYTES         32
#define CPM_DATA_KEY_WRAPPED_BYTES (24 + 32 + 16) /* nonce ‖ encrypted key ‖ tag */
#define CPM_SEALED_OVERHEAD        (24 + 16)      /* nonce ‖ … ‖ tag */
#define CPM_IDENTIFIER_HASH_BYTES  32
#define CPM_IDENTIFIER_BYTES_MAX   255 /* a normalised identifier, with its NUL */
#define CPM_PSEUDONYM_BYTES        65  /* 64 lowercase hex digits and a NUL */
#define CPM_FIELD_NAME_BYTES_MAX   64  /* field_name of cpm_field_seal/open */

/* Caller's storage (cpmd keeps one for its lifetime). Read through the functions below. */
struct cpm_keyring {
    uint8_t identifier_key[CPM_KEYRING_KEY_BYTES];
    uint8_t wrapping_key[CPM_KEYRING_KEY_BYTES];
    uint8_t pseudonym_key[CPM_KEYRING_KEY_BYTES];
    uint8_t secrets_key[CPM_KEYRING_KEY_BYTES];
    uint8_t otp_key[CPM_KEYRING_KEY_BYTES];    /* keyed hashes of one-time codes and callers' IPs */
    uint8_t device_key[CPM_KEYRING_KEY_BYTES]; /* MACs of device credentials (crypto/device.h) */
    uint8_t signing_seed[32];
    uint8_t signing_public_key[32];
    uint8_t signing_secret_key[64]; /* libsodium's form: seed ‖ public key */
};

/*
 * Derives kr from keys (borrowed; the caller wipes it). CPM_ERR_CRYPTO when
 * libsodium cannot initialise. Wipe kr with cpm_keyring_wipe when done.
 */
cpm_err cpm_keyring_init(struct cpm_keyring *kr,
                         const struct cpm_datadir_keys *keys) CPM_MUST_CHECK;
/* Zeroes kr (sodium_memzero). */
void cpm_keyring_wipe(struct cpm_keyring *kr);

/* The 32-byte Ed25519 seed / public key; borrowed, valid while kr is. */
const uint8_t *cpm_keyring_signing_seed(const struct cpm_keyring *kr);
const uint8_t *cpm_keyring_signing_public_key(const struct cpm_keyring *kr);

/*
 * Puts value, an identifier of the given type, in its one canonical form into
 * out (cap must be at least CPM_IDENTIFIER_BYTES_MAX), so that equal
 * identifiers hash equally. Types:
 *   phone    E.164: spaces, dashes and parentheses dropped; "00" → "+"; an
 *            11-digit number starting with 1 is a Chinese mobile: "+86…";
 *            the result is "+" and 8–15 digits, the first not 0
 *   email    trimmed and lowercased (ASCII); one "@", a dot inside the domain,
 *            no spaces or control bytes, at most 254 bytes
 *   wechat_openid, wechat_unionid, wecom_external_userid, device_id, device
 *            trimmed; 1–128 bytes of printable ASCII without spaces (device:
 *            an anonymous visitor's device subject, merged at login)
 * CPM_ERR_VALIDATION with a fault on "type" (unknown type, listing the known
 * ones) or on "value". Messages never quote the value: it is personal data.
 */
cpm_err cpm_identifier_normalise(const char *type, const char *value, char *out, size_t cap,
                                 struct cpm_detail *detail) CPM_MUST_CHECK;

/* HMAC-SHA-256 under the identifier key of type ‖ 0x00 ‖ normalised_value. */
void cpm_identifier_hash(const struct cpm_keyring *kr, const char *type,
                         const char *normalised_value, uint8_t out[CPM_IDENTIFIER_HASH_BYTES]);

/*
 * HMAC-SHA-256 under the one-time code key of scope ‖ 0x00 ‖ text: a code
 * under its challenge id (a code never stored in the clear, and a hash that
 * fits no other challenge), or a caller's IP under "ip".
 */
void cpm_keyring_otp_hash(const struct cpm_keyring *kr, const char *scope, const char *text,
                          uint8_t out[CPM_IDENTIFIER_HASH_BYTES]);

/* Lowercase hex HMAC-SHA-256 of subject_id under the pseudonym key. */
void cpm_subject_pseudonym(const struct cpm_keyring *kr, const char *subject_id,
                           char out[CPM_PSEUDONYM_BYTES]);

/*
 * Makes a random data key for subject_id into key, and its wrapped form
 * (nonce ‖ XChaCha20-Poly1305-IETF of key, subject_id as associated data,
 * under the wrapping key) into wrapped; wrapped_cap must be at least
 * CPM_DATA_KEY_WRAPPED_BYTES (asserted). Only the wrapped form is stored;
 * the caller wipes key after use. Fails only with CPM_ERR_CRYPTO.
 */
cpm_err cpm_data_key_new(const struct cpm_keyring *kr, const char *subject_id,
                         uint8_t key[CPM_DATA_KEY_BYTES], uint8_t *wrapped, size_t wrapped_cap,
                         size_t *wrapped_len) CPM_MUST_CHECK;

/* The inverse; CPM_ERR_CRYPTO when wrapped was altered, truncated or is another subject's. */
cpm_err cpm_data_key_unwrap(const struct cpm_keyring *kr, const char *subject_id,
                            const uint8_t *wrapped, size_t len,
                            uint8_t key[CPM_DATA_KEY_BYTES]) CPM_MUST_CHECK;

/*
 * Seals plain (len bytes) under a subject's data key into out: nonce(24) ‖
 * ciphertext ‖ tag(16), *out_len = len + CPM_SEALED_OVERHEAD. The associated
 * data is subject_id ‖ 0x00 ‖ field_name, so a sealed value cannot be passed
 * off as another subject's or another field's. cap must be enough
 * (asserted), as must field_name's length (a program constant). A subject_id
 * over CPM_SUBJECT_ID_BYTES_MAX gives CPM_ERR_VALIDATION (callers validate
 * it first; this is a backstop).
 */
cpm_err cpm_field_seal(const uint8_t key[CPM_DATA_KEY_BYTES], const char *subject_id,
                       const char *field_name, const void *plain, size_t len, uint8_t *out,
                       size_t cap, size_t *out_len) CPM_MUST_CHECK;

/*
 * Opens what cpm_field_seal made into out (cap ≥ len - CPM_SEALED_OVERHEAD,
 * else CPM_ERR_INTERNAL); *out_len is the plaintext length. CPM_ERR_CRYPTO
 * when sealed was altered or truncated, or the key, subject or field differ.
 */
cpm_err cpm_field_open(const uint8_t key[CPM_DATA_KEY_BYTES], const char *subject_id,
                       const char *field_name, const uint8_t *sealed, size_t len, void *out,
                       size_t cap, size_t *out_len) CPM_MUST_CHECK;

#define CPM_SECRET_BYTES_MAX 512 /* a credential's text */
/* "sealed:v1:" and the unpadded base64url of nonce ‖ ciphertext ‖ tag, with a NUL */
#define CPM_SECRET_SEALED_BYTES_MAX                                                                \
    (10 + ((CPM_SECRET_BYTES_MAX + CPM_SEALED_OVERHEAD) * 4 + 2) / 3 + 1)

/* True when text is a sealed secret (as cpm_secret_seal writes them). */
bool cpm_secret_is_sealed(const char *text);

/*
 * Seals a credential (at most CPM_SECRET_BYTES_MAX bytes, else
 * CPM_ERR_VALIDATION) under the secrets key, bound to name (e.g.
 * "destination/crm": a sealed value cannot be moved to another document),
 * into out (cap ≥ CPM_SECRET_SEALED_BYTES_MAX).
 */
cpm_err cpm_secret_seal(const struct cpm_keyring *kr, const char *name, const char *text, char *out,
                        size_t cap) CPM_MUST_CHECK;
/* The inverse into out (NUL-terminated); CPM_ERR_CRYPTO when altered, moved or not sealed. */
cpm_err cpm_secret_open(const struct cpm_keyring *kr, const char *name, const char *sealed,
                        char *out, size_t cap) CPM_MUST_CHECK;

#endif /* CPM_CRYPTO_KEYRING_H */
