/* SPDX-License-Identifier: Apache-2.0 */
/*
 * end_user.c — end-user tokens and the origins allowed to send them.
 */
#include "core/common.h"

#include <jansson.h>
#include <sodium.h>

#include "crypto/config_secrets.h"
#include "crypto/device.h"
#include "crypto/jwt.h"
#include "domain/subject.h"
#include "http/auth.h"
#include "http/end_user.h"
#include "store/config_writer.h"

#define KEYS_MAX 8 /* a property's token_keys, at most (docs/CONFIGURATION.md) */

bool cpm_end_user_bearer(const char *authorization)
{
    return authorization != NULL && strncmp(authorization, "Bearer ", 7) == 0 &&
           strncmp(authorization + 7, CPM_API_KEY_PREFIX, strlen(CPM_API_KEY_PREFIX)) != 0;
}

/*
 * The property a token is addressed to, read before anything is trusted:
 * only to find the keys that will then verify it (and its aud again).
 */
static bool peek_audience(const char *token, char *out, size_t cap)
{
    const char *dot = strchr(token, '.'), *end = dot ? strchr(dot + 1, '.') : NULL;
    uint8_t payload[CPM_JWT_BYTES_MAX];
    size_t len = 0;
    if (end == NULL ||
        sodium_base642bin(payload, sizeof(payload), dot + 1, (size_t)(end - dot - 1), NULL, &len,
                          NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return false;
    json_t *claims = json_loadb((const char *)payload, len, 0, NULL);
    const json_t *aud = json_object_get(claims, "aud");
    const char *name = json_string_value(json_is_array(aud) ? json_array_get(aud, 0) : aud);
    bool ok = name != NULL && cpm_strlcpy(out, name, cap) < cap;
    json_decref(claims);
    return ok;
}

/* The property's keys; the count, or -1 with detail when it has none usable. */
static int property_keys(const json_t *property, struct cpm_jwt_key keys[KEYS_MAX],
                         struct cpm_detail *detail)
{
    const json_t *list = json_object_get(property, "token_keys"), *jwk;
    size_t i;
    int n = 0;
    json_array_foreach(list, i, jwk) if (n < KEYS_MAX && cpm_jwk_parse(jwk, "token_keys", &keys[n],
                                                                       NULL) == CPM_OK) n++;
    if (n == 0)
        cpm_detail_add(detail, NULL, "the property takes no end-user tokens (no token_keys)");
    return n > 0 ? n : -1;
}

static int64_t lifetime_max_s(const json_t *property)
{
    struct cpm_duration d;
    const char *text = json_string_value(json_object_get(property, "token_lifetime_max"));
    if (text == NULL || !cpm_duration_parse(text, &d))
        return 3600;
    int64_t s = cpm_duration_after(0, &d) / 1000;
    return s < 1 ? 1 : s > CPM_END_USER_LIFETIME_S_MAX ? CPM_END_USER_LIFETIME_S_MAX : s;
}

static bool origin_listed(const json_t *property, const char *origin);

cpm_err cpm_end_user_check(struct cpm_store *store, const struct cpm_keyring *kr,
                           const char *authorization, const char *origin, int64_t now_s,
                           struct cpm_end_user *out, struct cpm_detail *detail)
{
    const char *token = authorization + 7;
    char audience[CPM_ID_BYTES_MAX + 1];
    struct cpm_jwt_key keys[KEYS_MAX];
    struct cpm_jwt_claims claims;
    json_t *property = NULL;
    int64_t revision;
    CPM_ASSERT(cpm_end_user_bearer(authorization));
    if (!peek_audience(token, audience, sizeof(audience)) || !cpm_config_id_valid(audience)) {
        cpm_detail_add(detail, NULL, "malformed token: no property in its aud");
        return CPM_ERR_UNAUTHORIZED;
    }
    cpm_err err = cpm_config_read(store, CPM_DOC_PROPERTY, audience, &property, &revision);
    if (err == CPM_ERR_NOT_FOUND) {
        cpm_detail_add(detail, NULL, "the token's audience is not a property");
        return CPM_ERR_UNAUTHORIZED;
    }
    if (err == CPM_OK)
        err = cpm_config_secrets_open(CPM_DOC_PROPERTY, property, kr);
    if (err != CPM_OK) {
        json_decref(property);
        return err;
    }
    int n = property_keys(property, keys, detail);
    err = n < 0 ? CPM_ERR_UNAUTHORIZED
                : cpm_jwt_verify(token, keys, (size_t)n, audience, now_s, CPM_END_USER_SKEW_S,
                                 lifetime_max_s(property), &claims, detail);
    if (err == CPM_OK && !cpm_subject_id_valid(claims.sub)) {
        cpm_detail_add(detail, NULL, "the token's sub is not a subject id this service takes");
        err = CPM_ERR_UNAUTHORIZED;
    }
    if (err == CPM_OK && cpm_device_subject_reserved(claims.sub)) {
        cpm_detail_add(detail, NULL,
                       "the token's sub starts with 'anon-', which is reserved for anonymous"
                       " devices (POST /v1/devices)");
        err = CPM_ERR_UNAUTHORIZED;
    }
    if (err == CPM_OK && origin != NULL && !origin_listed(property, origin)) {
        cpm_detail_add(detail, NULL,
                       "this page's origin is not one of property '%s''s allowed_origins",
                       audience);
        err = CPM_ERR_FORBIDDEN;
    }
    if (err == CPM_OK) {
        cpm_strlcpy(out->subject_id, claims.sub, sizeof(out->subject_id));
        cpm_strlcpy(out->property, audience, sizeof(out->property));
    }
    sodium_memzero(keys, sizeof(keys));
    json_decref(property);
    return err;
}

static bool origin_listed(const json_t *property, const char *origin)
{
    const json_t *origins = json_object_get(property, "allowed_origins"), *o;
    size_t i;
    json_array_foreach(origins, i, o) if (strcmp(json_string_value(o), origin) == 0) return true;
    return false;
}

bool cpm_end_user_origin_listed(const json_t *property, const char *origin)
{
    return origin_listed(property, origin);
}

bool cpm_end_user_origin_allowed(struct cpm_store *store, const char *property, const char *origin)
{
    json_t *doc = NULL, *all = NULL;
    int64_t revision;
    bool allowed = false;
    if (property != NULL) {
        allowed = cpm_config_read(store, CPM_DOC_PROPERTY, property, &doc, &revision) == CPM_OK &&
                  origin_listed(doc, origin);
        json_decref(doc);
        return allowed;
    }
    size_t i;
    if (cpm_config_all(store, CPM_DOC_PROPERTY, &all) == CPM_OK)
        json_array_foreach(all, i, doc) allowed = allowed || origin_listed(doc, origin);
    json_decref(all);
    return allowed;
}
