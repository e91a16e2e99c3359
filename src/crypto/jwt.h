/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwt.h — verifying end-user tokens: JSON Web Tokens (RFC 7519) in JWS
 * compact serialisation (RFC 7515), minted by a company's own back end and
 * checked against the verification keys of one property (JWKs, RFC 7517).
 *
 * Pure: no I/O, no clock (the caller passes "now"). Three algorithms:
 *   HS256  HMAC-SHA-256 under a shared secret (libsodium)
 *   EdDSA  Ed25519 (libsodium); the header may also say "Ed25519" (RFC 9864)
 *   ES256  ECDSA on P-256 with SHA-256, signature r ‖ s (OpenSSL libcrypto)
 * Everything else — "none", RS*, PS*, HS384, … — is refused, and so is any
 * algorithm the chosen key was not declared for: a key is one algorithm,
 * never "whatever the token says" (which is what lets an HS256 token signed
 * with a public key pass elsewhere).
 *
 * Refusals never quote the token or any part of it: only the names of the
 * header's algorithm and key id, and the names of claims.
 *
 * Thread safety: no state; any thread, any number at once. libsodium must be
 * initialised (sodium_init) first, as cpmd does at start.
 */
#ifndef CPM_CRYPTO_JWT_H
#define CPM_CRYPTO_JWT_H

#include <jansson.h>

#include "core/common.h"
#include "core/detail.h"

#define CPM_JWT_BYTES_MAX          4096 /* a whole token, without its NUL */
#define CPM_JWT_KEYS_MAX           16   /* keys one verification tries at most (asserted) */
#define CPM_JWT_KEY_BYTES_MAX      64   /* the largest key material below */
#define CPM_JWT_HS256_BYTES_MIN    32   /* RFC 7518 §3.2: at least the hash's size */
#define CPM_JWT_KID_BYTES_MAX      64   /* a key id, printable ASCII */
#define CPM_JWT_AUDIENCE_BYTES_MAX 64   /* the audience a token must name */
#define CPM_JWT_JTI_BYTES_MAX      64   /* a token id; longer ones are refused */

/* The algorithms, as bits so that a caller can keep a set of them. */
enum cpm_jwt_alg { CPM_JWT_HS256 = 1u << 0, CPM_JWT_ES256 = 1u << 1, CPM_JWT_EDDSA = 1u << 2 };

/*
 * One verification key of a property (caller's storage, no heap; an HS256
 * secret is secret: wipe it with cpm_jwt_key_wipe when done).
 */
struct cpm_jwt_key {
    char kid[CPM_JWT_KID_BYTES_MAX + 1]; /* "": no kid, the key answers any token */
    enum cpm_jwt_alg alg;
    /* HS256: the secret (32–64 bytes); EdDSA: the 32-byte public key;
     * ES256: the public point x ‖ y (32 + 32 bytes, big-endian) */
    uint8_t material[CPM_JWT_KEY_BYTES_MAX];
    size_t len;
};

/* What a verified token says (caller's storage). */
struct cpm_jwt_claims {
    char sub[CPM_SUBJECT_ID_BYTES_MAX + 1]; /* the company's subject id: 1–128 bytes, no controls */
    char aud[CPM_JWT_AUDIENCE_BYTES_MAX + 1]; /* the audience it was verified for */
    int64_t exp, iat, nbf;                    /* seconds since the epoch; iat, nbf 0 when absent */
    char jti[CPM_JWT_JTI_BYTES_MAX + 1];      /* "" when absent */
    size_t key_index;                         /* which of the keys verified it */
};

/*
 * Parses one public JWK (borrowed) into out:
 *   {"kty":"oct","k":…}                    HS256, k 32–64 bytes
 *   {"kty":"OKP","crv":"Ed25519","x":…}     EdDSA, x a valid Ed25519 public key
 *   {"kty":"EC","crv":"P-256","x":…,"y":…} ES256, (x, y) a point on P-256
 * with binary members in base64url without padding. "kid" is optional
 * (1–64 printable ASCII bytes); "alg" is optional but, when present, must be
 * the one the key type implies ("HS256"; "EdDSA" or "Ed25519"; "ES256");
 * "use", when present, must be "sig"; a private part ("d") is refused —
 * the server needs only public keys. Other members are ignored.
 *
 * CPM_ERR_VALIDATION with faults on field + "." + member (field is a path
 * prefix such as "token_keys[2]"; NULL or "" for none), saying what is wrong
 * without quoting key material. out is written only on success. detail may
 * be NULL.
 */
cpm_err cpm_jwk_parse(const json_t *jwk, const char *field, struct cpm_jwt_key *out,
                      struct cpm_detail *detail) CPM_MUST_CHECK;

/* Zeroes key (sodium_memzero). */
void cpm_jwt_key_wipe(struct cpm_jwt_key *key);

/*
 * Verifies token (a NUL-terminated compact JWS, borrowed) with keys (the
 * property's, key_count ≤ CPM_JWT_KEYS_MAX of them, borrowed) for audience
 * (1–CPM_JWT_AUDIENCE_BYTES_MAX bytes) at now_s, tolerating skew_s of clock
 * difference (0 ≤ skew_s ≤ one day) and tokens living at most
 * max_lifetime_s (1 s to one year). Arguments out of range are programmer
 * errors (asserted).
 *
 * The token: at most CPM_JWT_BYTES_MAX bytes, three base64url parts without
 * padding, nothing after them. The header: a JSON object without duplicate
 * members, "alg" one of the three above, "kid" optional, "typ" "JWT" when
 * present, no "crit". The key: the keys with the token's kid, or without a
 * kid of their own (any key, if the token has no kid); of those, the ones
 * declared for the token's algorithm are tried in order. The signature:
 * HMAC compared in constant time; ES256 exactly 64 bytes with r and s in
 * [1, n-1]. The payload: a JSON object without duplicate members;
 *   "sub"  a string of 1–128 bytes without control characters (required)
 *   "aud"  a string equal to audience, or an array of strings holding it
 *   "exp"  a number (required) > now_s - skew_s
 *   "nbf"  a number <= now_s + skew_s, when present
 *   "iat"  a number <= now_s + skew_s, when present
 *   "jti"  a string of at most 64 bytes, when present
 * and exp - (iat, or now_s without one) <= max_lifetime_s: short-lived
 * tokens only. Numbers are integers or reals within int64 (fractions are
 * dropped); other claims are ignored.
 *
 * CPM_OK fills out. Any refusal is CPM_ERR_UNAUTHORIZED with one fault (no
 * field) saying why: "malformed: …", "the token's algorithm 'none' is not
 * accepted", "no key has kid 'k9'", "signature does not verify", "audience
 * is not 'shop'", "expired at …", "not valid before …", "issued in the
 * future …", "lifetime over N s"; out is then left untouched.
 * CPM_ERR_NOMEM when JSON parsing runs out of memory; CPM_ERR_CRYPTO when
 * OpenSSL fails for a reason other than a bad signature.
 */
cpm_err cpm_jwt_verify(const char *token, const struct cpm_jwt_key *keys, size_t key_count,
                       const char *audience, int64_t now_s, int64_t skew_s, int64_t max_lifetime_s,
                       struct cpm_jwt_claims *out, struct cpm_detail *detail) CPM_MUST_CHECK;

#endif /* CPM_CRYPTO_JWT_H */
