/* SPDX-License-Identifier: Apache-2.0 */
/*
 * end_user.h — end users: a person calls with a short-lived token minted
 * by the company's own back end for one property (JWT: HS256, ES256 or
 * EdDSA, verified with the property's `token_keys`), and reaches only
 * their own subject, written `me` in the path. The property's
 * `allowed_origins` decide which web pages may call with it (CORS).
 */
#ifndef CPM_HTTP_END_USER_H
#define CPM_HTTP_END_USER_H

#include <jansson.h>

#include "core/common.h"
#include "core/detail.h"
#include "store/store.h"

#define CPM_END_USER_SKEW_S         60    /* clock difference tolerated on exp, nbf, iat */
#define CPM_END_USER_LIFETIME_S_MAX 86400 /* token_lifetime_max at most a day */

/* Who an end-user token says is calling. */
struct cpm_end_user {
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    char property[CPM_ID_BYTES_MAX + 1];
};

/* True when authorization ("Bearer x") carries something other than an API key. */
bool cpm_end_user_bearer(const char *authorization);

/*
 * Verifies the bearer token of authorization at now_s against the keys of
 * the property it is addressed to (its `aud`; HS256 secrets opened with kr),
 * and, when a browser sent one, its Origin against the property's
 * allowed_origins (CPM_ERR_FORBIDDEN) — all from one read of the property. CPM_ERR_UNAUTHORIZED
 * with detail saying why (never quoting the token), CPM_ERR_STORE.
 */
struct cpm_keyring;
cpm_err cpm_end_user_check(struct cpm_store *store, const struct cpm_keyring *kr,
                           const char *authorization, const char *origin, int64_t now_s,
                           struct cpm_end_user *out, struct cpm_detail *detail) CPM_MUST_CHECK;

/*
 * True when origin may call with property's tokens: one of its
 * allowed_origins. property NULL: any property's (a preflight, which
 * carries no token). CPM_ERR_STORE reads as false.
 */
bool cpm_end_user_origin_allowed(struct cpm_store *store, const char *property, const char *origin);

/* True when origin is one of the allowed_origins of property (a property document). */
bool cpm_end_user_origin_listed(const json_t *property, const char *origin);

#endif /* CPM_HTTP_END_USER_H */
