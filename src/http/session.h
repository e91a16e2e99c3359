/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session.h — the admin console's sign-in sessions (docs/ADMIN.md).
 *
 * An operator exchanges an API key for a session at POST /v1/admin/sessions:
 * an opaque random id in the `cpm_session` cookie (HttpOnly, SameSite=Strict,
 * Path=/, Secure over TLS) and a CSRF token in the answer's body, sent back
 * as X-CSRF-Token on every write. A request carrying the cookie (and no
 * Authorization header) is then authorised as the key that opened the
 * session, with that key's scopes, on every API route.
 *
 * Sessions live in memory, in one fixed-size table (a restart signs everyone
 * out), keyed by the SHA-256 of the id: the table never holds an id, so a
 * memory dump cannot replay one. Each slot keeps the key's public id and the
 * SHA-256 the store keeps of the key (the key itself is never held), the
 * CSRF token's random bytes, and when it opened and was last used. A session
 * ends when unused for `idle_ms` (each use refreshes it), `lifetime_ms` after
 * it opened whatever the use, at sign-out, and when its key is revoked.
 *
 * Thread safety: every table function may be called from any thread (one
 * lock per table; the console's traffic is small).
 */
#ifndef CPM_HTTP_SESSION_H
#define CPM_HTTP_SESSION_H

#include "core/common.h"
#include "http/auth.h"
#include "http/request.h"

#define CPM_SESSION_COOKIE       "cpm_session"
#define CPM_SESSION_CSRF_HEADER  "X-CSRF-Token"
#define CPM_SESSION_RANDOM_BYTES 32 /* in an id and in a CSRF token */
#define CPM_SESSION_TOKEN_BYTES  48 /* either as text: 43 base64url characters + NUL, with room */

struct cpm_session_table;

struct cpm_session_options {
    int64_t idle_ms;     /* unused this long: the session ends (> 0) */
    int64_t lifetime_ms; /* this long after it opened: it ends, used or not (> 0) */
    size_t capacity;     /* slots, 1..CPM_SESSIONS_MAX */
    size_t per_key_max;  /* a key's sessions; opening one more ends its least recently used */
};

/* What the table tells of a live session. */
struct cpm_session_info {
    char key_id[CPM_API_KEY_ID_BYTES];
    uint8_t key_hash[CPM_API_KEY_HASH_BYTES]; /* as the store keeps it: to check the key */
    int64_t created_ms;
    int64_t used_ms;                    /* the last use, this one included */
    int64_t idle_ends_ms;               /* when it ends unless used again */
    int64_t lifetime_ends_ms;           /* when it ends in any case */
    char csrf[CPM_SESSION_TOKEN_BYTES]; /* the CSRF token as text */
};

/* The default options: 15 minutes idle, 8 hours in all, CPM_SESSIONS_MAX slots. */
void cpm_session_options_default(struct cpm_session_options *options);

/*
 * A new, empty table (owned: cpm_session_table_free). CPM_ERR_NOMEM, or
 * CPM_ERR_CRYPTO when libsodium cannot start.
 */
cpm_err cpm_session_table_new(const struct cpm_session_options *options,
                              struct cpm_session_table **out) CPM_MUST_CHECK;
/* Frees the table and wipes what it held; NULL is a no-op. */
void cpm_session_table_free(struct cpm_session_table *table);

/*
 * Opens a session for the key key_id (key_hash: the SHA-256 of its text) at
 * now_ms: writes the new id and CSRF token as text into id and *info.
 * Expired sessions make room; a key with per_key_max sessions loses its
 * least recently used. CPM_ERR_UNAVAILABLE when every slot holds a live
 * session.
 */
cpm_err cpm_session_open(struct cpm_session_table *table, const char *key_id,
                         const uint8_t key_hash[CPM_API_KEY_HASH_BYTES], int64_t now_ms,
                         char id[CPM_SESSION_TOKEN_BYTES],
                         struct cpm_session_info *info) CPM_MUST_CHECK;

/*
 * Checks the session of id (the cookie's text) at now_ms. csrf NULL: a read,
 * not checked; otherwise the X-CSRF-Token sent ("" when none), compared in
 * constant time. CPM_OK (*info filled, the session's idle time refreshed);
 * CPM_ERR_UNAUTHORIZED when id is malformed, unknown or expired (an expired
 * one is removed); CPM_ERR_FORBIDDEN when the CSRF token is wrong (the
 * session is left as it was, not refreshed).
 */
cpm_err cpm_session_check(struct cpm_session_table *table, const char *id, const char *csrf,
                          int64_t now_ms, struct cpm_session_info *info) CPM_MUST_CHECK;

/* Ends the session of id: CPM_OK, or CPM_ERR_NOT_FOUND when there is none. */
cpm_err cpm_session_end(struct cpm_session_table *table, const char *id) CPM_MUST_CHECK;

/* Ends every session of the key key_id (it was revoked); returns how many. */
size_t cpm_session_end_key(struct cpm_session_table *table, const char *key_id);

/* The live sessions at now_ms. */
size_t cpm_session_count(struct cpm_session_table *table, int64_t now_ms);

/*
 * True when text is the base64url (no padding) of exactly the
 * CPM_SESSION_RANDOM_BYTES of stored; the bytes are compared in constant
 * time. text may be NULL (false).
 */
bool cpm_session_token_equal(const uint8_t stored[CPM_SESSION_RANDOM_BYTES], const char *text);

/* ---- for the HTTP layer ---- */

/* The request's `cpm_session` cookie, or NULL. */
const char *cpm_session_cookie(const struct cpm_request *req);

/*
 * Screens a request that brings the cookie instead of an API key (server.c):
 * it must come from cpmd's own pages (no foreign Origin, no cross-site
 * Sec-Fetch-Site), carry X-CSRF-Token unless it is a GET, name a live
 * session, and that session's key must still be active. CPM_OK with
 * req->key set to the key; otherwise CPM_ERR_UNAUTHORIZED (no or ended
 * session, key revoked), CPM_ERR_FORBIDDEN (other origin, CSRF) or
 * CPM_ERR_STORE, with req->early_message saying why (never quoting the
 * cookie or the token).
 */
cpm_err cpm_session_screen(struct cpm_request *req) CPM_MUST_CHECK;

/*
 * True when the request came over TLS as far as cpmd can tell: a proxy's
 * `X-Forwarded-Proto: https` or `Forwarded: …proto=https`, or an `Origin`
 * starting https:// (cpmd itself speaks plain HTTP).
 */
bool cpm_session_request_secure(const struct cpm_request *req);

/* Adds the Set-Cookie header opening (id) or clearing (NULL) the session cookie. */
void cpm_session_respond_cookie(struct cpm_request *req, const char *id);

#endif /* CPM_HTTP_SESSION_H */
