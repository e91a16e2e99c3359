/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.h — API keys: scopes, minting, hashing, and checking a request's key.
 *
 * A key is "cpm_" followed by 43 base64url characters (32 random bytes). It
 * is shown once, when minted; the store keeps only its SHA-256 (a key has
 * 256 bits of entropy, so a plain hash is as good as a slow one here) and a
 * public id ("key_…") used to list and revoke it.
 */
#ifndef CPM_HTTP_AUTH_H
#define CPM_HTTP_AUTH_H

#include "core/common.h"
#include "core/detail.h"
#include "store/store.h"

enum {
    CPM_SCOPE_ADMIN = 1u << 0, /* everything, including API keys */
    CPM_SCOPE_CONFIG = 1u << 1,
    CPM_SCOPE_CONSENTS_WRITE = 1u << 2,
    CPM_SCOPE_DECISIONS_READ = 1u << 3,
    CPM_SCOPE_LEDGER_READ = 1u << 4,
    CPM_SCOPE_EXPORT = 1u << 5,
};
#define CPM_SCOPE_ALL 0x3fu

#define CPM_API_KEY_PREFIX     "cpm_"
#define CPM_API_KEY_TEXT_BYTES 64 /* "cpm_" + 43 + NUL, with room */
#define CPM_SCOPES_TEXT_BYTES  128

/* Parses one scope name ("consents:write"); 0 when unknown. */
uint32_t cpm_scope_parse(const char *name);
/* Writes the scope names of bits, space-separated, into out. */
void cpm_scopes_format(uint32_t bits, char *out, size_t size);
/* The name of the i-th scope (0-based) or NULL past the end; for listings. */
const char *cpm_scope_name_at(size_t i);
/* True when a key holding `held` may use a route that needs `needed`. */
bool cpm_scopes_allow(uint32_t held, uint32_t needed);

/*
 * Mints a key: fills key->id and key->created_ms (name and scopes are the
 * caller's), writes the secret text into secret (CPM_API_KEY_TEXT_BYTES) and
 * inserts the record. The secret is never stored or logged.
 */
cpm_err cpm_api_key_mint(struct cpm_store *store, struct cpm_api_key *key,
                         char secret[CPM_API_KEY_TEXT_BYTES]) CPM_MUST_CHECK;

/* SHA-256 of a key's text. */
void cpm_api_key_hash(const char *secret, size_t len, uint8_t out[CPM_API_KEY_HASH_BYTES]);

/*
 * Checks an Authorization header value ("Bearer cpm_…", may be NULL)
 * against the store: CPM_OK with *out filled, CPM_ERR_UNAUTHORIZED (missing,
 * malformed, unknown or revoked key; detail says which without echoing the
 * key), or CPM_ERR_STORE.
 */
/* How long a checked key is trusted without asking the store again. */
#define CPM_KEY_CACHE_MS 1000

/* Forgets every remembered key: call after a revocation. */
void cpm_auth_forget_keys(void);

cpm_err cpm_auth_check(struct cpm_store *store, const char *authorization, struct cpm_api_key *out,
                       struct cpm_detail *detail) CPM_MUST_CHECK;

/*
 * As cpm_auth_check, for a key known by the SHA-256 of its text (an admin
 * console session keeps that, never the key): CPM_OK, CPM_ERR_UNAUTHORIZED
 * (unknown or revoked) or CPM_ERR_STORE.
 */
cpm_err cpm_auth_check_hash(struct cpm_store *store, const uint8_t hash[CPM_API_KEY_HASH_BYTES],
                            struct cpm_api_key *out, struct cpm_detail *detail) CPM_MUST_CHECK;

#endif /* CPM_HTTP_AUTH_H */
