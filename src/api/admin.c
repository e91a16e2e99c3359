/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin.c — the admin console's sign-in (docs/ADMIN.md): an API key
 * exchanged for a session (http/session.h), the session read back, and
 * sign-out. The console then calls the ordinary API with the session's
 * cookie in place of the key.
 *
 * Sign-in is limited per caller address (a burst of CPM_SIGN_IN_BURST, then
 * one every CPM_SIGN_IN_EVERY_MS), counted before the key is looked at, so
 * guessing keys costs time whatever the answer. Nothing here logs the key,
 * the session id or the CSRF token.
 */
#include "core/common.h"

#include <sodium.h>

#include "api/api.h"
#include "api/support.h"
#include "core/clock.h"
#include "core/log.h"
#include "http/app.h"
#include "http/auth.h"
#include "http/rate_limit.h"
#include "http/session.h"

static json_t *scopes_json(uint32_t bits)
{
    json_t *out = json_array();
    for (size_t i = 0; out && cpm_scope_name_at(i) != NULL; i++)
        if (bits & cpm_scope_parse(cpm_scope_name_at(i)))
            json_array_append_new(out, json_string(cpm_scope_name_at(i)));
    return out;
}

/* The session as answered: its CSRF token, its key (never the secret) and when it ends. */
static json_t *session_json(const struct cpm_api_key *key, const struct cpm_session_info *info,
                            int64_t idle_ms)
{
    return json_pack("{s:s, s:{s:s, s:s, s:o}, s:o, s:o, s:o, s:I}", "csrf_token", info->csrf,
                     "key", "id", key->id, "name", key->name, "scopes", scopes_json(key->scopes),
                     "created_at", cpm_api_time(info->created_ms), "expires_at",
                     cpm_api_time(info->lifetime_ends_ms), "idle_expires_at",
                     cpm_api_time(info->idle_ends_ms), "idle_timeout_s",
                     (json_int_t)(idle_ms / 1000));
}

/* The idle timeout, read back from a fresh session's times. */
static int64_t idle_of(const struct cpm_session_info *info)
{
    return info->idle_ends_ms - info->used_ms;
}

/* One line naming the key by its public id: never the key, the session id or the token. */
static void log_session(const struct cpm_request *req, const char *what)
{
    char fields[CPM_API_KEY_ID_BYTES + 8];
    snprintf(fields, sizeof(fields), "key=%s", req->key.id);
    cpm_log(CPM_LOG_INFO, "admin", req->request_id, fields, "%s", what);
}

/* Reads {api_key} into "Bearer <key>" (authorization); false when it answered 422. */
static bool read_sign_in(struct cpm_request *req, const json_t *body, char *authorization,
                         size_t cap)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    const char *field;
    json_t *value;
    json_object_foreach((json_t *)body, field, value)
    {
        if (strcmp(field, "api_key") != 0)
            cpm_detail_add(&detail, field, "unknown field; allowed: api_key");
    }
    const json_t *key = json_object_get(body, "api_key");
    size_t prefix = strlen(CPM_API_KEY_PREFIX);
    if (!json_is_string(key) || json_string_length(key) <= prefix ||
        json_string_length(key) >= CPM_API_KEY_TEXT_BYTES ||
        strncmp(json_string_value(key), CPM_API_KEY_PREFIX, prefix) != 0)
        cpm_detail_add(&detail, "api_key", "is required: an API key, 'cpm_' and 43 characters");
    if (detail.count > 0) {
        cpm_respond_problem(req, CPM_ERR_VALIDATION, &detail);
        return false;
    }
    snprintf(authorization, cap, "Bearer %s", json_string_value(key));
    return true;
}

void cpm_api_admin_sessions_create(struct cpm_request *req)
{
    char authorization[CPM_API_KEY_TEXT_BYTES + 16] = "", id[CPM_SESSION_TOKEN_BYTES] = "";
    char ip[64];
    json_t *body = NULL;
    struct cpm_session_info info;
    memset(&info, 0, sizeof(info));
    int64_t wait_ms = 0;
    if (req->app->sessions == NULL) {
        cpm_respond_error(req, CPM_ERR_UNAVAILABLE, NULL, "this server keeps no console sessions");
        goto out;
    }
    if (cpm_request_origin(req) != NULL) {
        cpm_respond_error(req, CPM_ERR_FORBIDDEN, "Origin",
                          "sign in from cpmd's own console page (/admin)");
        goto out;
    }
    cpm_request_client_ip(req, ip, sizeof(ip));
    if (!cpm_rate_limit_take(cpm_rate_limit_key("admin-sign-in", ip),
                             cpm_clock_monotonic_ns() / 1000000, CPM_SIGN_IN_BURST,
                             CPM_SIGN_IN_EVERY_MS, &wait_ms)) {
        cpm_api_respond_rate_limited(req, wait_ms, "too many sign-in attempts from this address");
        goto out;
    }
    body = cpm_request_json_object(req);
    if (body == NULL || !read_sign_in(req, body, authorization, sizeof(authorization)))
        goto out;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    cpm_err err = cpm_auth_check(req->app->store, authorization, &req->key, &detail);
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
        goto out;
    }
    uint8_t key_hash[CPM_API_KEY_HASH_BYTES];
    const char *secret = authorization + strlen("Bearer ");
    cpm_api_key_hash(secret, strlen(secret), key_hash);
    err =
        cpm_session_open(req->app->sessions, req->key.id, key_hash, cpm_clock_now_ms(), id, &info);
    sodium_memzero(key_hash, sizeof(key_hash));
    if (err != CPM_OK) {
        cpm_respond_error(req, err, NULL, "too many console sessions are open: retry later");
        goto out;
    }
    cpm_respond_json(req, 201, session_json(&req->key, &info, idle_of(&info)));
    cpm_session_respond_cookie(req, id);
    log_session(req, "console session opened");
out:
    json_decref(body);
    sodium_memzero(authorization, sizeof(authorization));
    sodium_memzero(id, sizeof(id));
    sodium_memzero(&info, sizeof(info));
}

void cpm_api_admin_sessions_current(struct cpm_request *req)
{
    struct cpm_session_info info;
    /* the route's screen checked it a moment ago; read it again for its times */
    cpm_err err = cpm_session_check(req->app->sessions, cpm_session_cookie(req), NULL,
                                    cpm_clock_now_ms(), &info);
    if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "the console's session has ended: sign in again");
    else
        cpm_respond_json(req, 200, session_json(&req->key, &info, idle_of(&info)));
    sodium_memzero(&info, sizeof(info));
}

void cpm_api_admin_sessions_end(struct cpm_request *req)
{
    if (cpm_session_end(req->app->sessions, cpm_session_cookie(req)) != CPM_OK) {
        cpm_respond_error(req, CPM_ERR_UNAUTHORIZED, NULL,
                          "the console's session has ended already");
        return;
    }
    cpm_respond_static(req, 204, NULL, "", 0);
    cpm_session_respond_cookie(req, NULL);
    log_session(req, "console session ended");
}
