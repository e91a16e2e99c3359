/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_keys.c — minting, listing and revoking API keys over HTTP (admin
 * scope). The secret is in the create answer only; it is never stored,
 * listed or logged.
 */
#include "core/common.h"

#include <sodium.h>

#include "api/api.h"
#include "api/support.h"
#include "core/clock.h"
#include "http/app.h"
#include "http/auth.h"
#include "http/session.h"

static json_t *scopes_json(uint32_t bits)
{
    json_t *out = json_array();
    for (size_t i = 0; out && cpm_scope_name_at(i) != NULL; i++)
        if (bits & cpm_scope_parse(cpm_scope_name_at(i)))
            json_array_append_new(out, json_string(cpm_scope_name_at(i)));
    return out;
}

static json_t *key_json(const struct cpm_api_key *key)
{
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "id", key->id, "name", key->name, "scopes",
                     scopes_json(key->scopes), "created_at", cpm_api_time(key->created_ms),
                     "revoked_at", cpm_api_time(key->revoked_ms));
}

struct list_ctx {
    json_t *items;
    char last[CPM_API_KEY_ID_BYTES];
};

static cpm_err list_visit(void *ctx, const struct cpm_api_key *key)
{
    struct list_ctx *lc = ctx;
    json_t *item = key_json(key);
    if (item == NULL || json_array_append_new(lc->items, item) != 0)
        return CPM_ERR_NOMEM;
    cpm_strlcpy(lc->last, key->id, sizeof(lc->last));
    return CPM_OK;
}

void cpm_api_keys_list(struct cpm_request *req)
{
    struct cpm_page page;
    if (!cpm_api_page_parse(req, &page))
        return;
    struct list_ctx lc = {.items = json_array()};
    struct cpm_store *store = req->app->store;
    cpm_err err = lc.items ? store->ops->api_key_list(store, page.after[0] ? page.after : NULL,
                                                      page.limit, list_visit, &lc)
                           : CPM_ERR_NOMEM;
    if (err != CPM_OK) {
        json_decref(lc.items);
        cpm_respond_error(req, err, NULL, "cannot list API keys");
        return;
    }
    cpm_respond_json(req, 200, cpm_api_page_result(lc.items, &page, lc.last[0] ? lc.last : NULL));
}

/* Reads {name, scopes} into key; adds every fault to detail. */
static void read_key_request(const json_t *body, struct cpm_api_key *key, struct cpm_detail *detail)
{
    const char *field;
    json_t *value;
    json_object_foreach((json_t *)body, field, value)
    {
        if (strcmp(field, "name") != 0 && strcmp(field, "scopes") != 0)
            cpm_detail_add(detail, field, "unknown field; allowed: name, scopes");
    }
    const json_t *name = json_object_get(body, "name");
    if (!json_is_string(name) || json_string_length(name) == 0)
        cpm_detail_add(detail, "name", "is required: a non-empty string");
    else if (json_string_length(name) > CPM_NAME_BYTES_MAX)
        cpm_detail_add(detail, "name", "is %zu bytes; the limit is %d", json_string_length(name),
                       CPM_NAME_BYTES_MAX);
    else
        cpm_strlcpy(key->name, json_string_value(name), sizeof(key->name));
    const json_t *scopes = json_object_get(body, "scopes");
    if (!json_is_array(scopes) || json_array_size(scopes) == 0) {
        cpm_detail_add(detail, "scopes", "is required: a non-empty array of scope names");
        return;
    }
    size_t i;
    json_array_foreach(scopes, i, value)
    {
        uint32_t bit = json_is_string(value) ? cpm_scope_parse(json_string_value(value)) : 0;
        if (bit == 0) {
            char path[32];
            snprintf(path, sizeof(path), "scopes[%zu]", i);
            cpm_detail_add(detail, path,
                           "unknown scope; expected one of: admin, config, "
                           "consents:write, decisions:read, ledger:read, export");
        }
        key->scopes |= bit;
    }
}

void cpm_api_keys_create(struct cpm_request *req)
{
    json_t *body = cpm_request_json_object(req);
    if (body == NULL)
        return;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct cpm_api_key key = {0};
    read_key_request(body, &key, &detail);
    json_decref(body);
    if (detail.count > 0) {
        cpm_respond_problem(req, CPM_ERR_VALIDATION, &detail);
        return;
    }
    char secret[CPM_API_KEY_TEXT_BYTES];
    cpm_err err = cpm_api_key_mint(req->app->store, &key, secret);
    if (err != CPM_OK) {
        cpm_respond_error(req, err, NULL, "cannot create the API key");
        return;
    }
    json_t *answer = key_json(&key);
    json_object_set_new(answer, "key", json_string(secret));
    sodium_memzero(secret, sizeof(secret));
    cpm_respond_json(req, 201, answer);
}

void cpm_api_keys_revoke(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    struct cpm_store *store = req->app->store;
    cpm_err err = strlen(id) < CPM_API_KEY_ID_BYTES
                      ? store->ops->api_key_revoke(store, id, cpm_clock_now_ms())
                      : CPM_ERR_NOT_FOUND;
    if (err == CPM_OK) {
        cpm_auth_forget_keys();
        if (req->app->sessions != NULL) /* its admin console sessions end with it */
            cpm_session_end_key(req->app->sessions, id);
    }
    if (err == CPM_OK)
        cpm_respond_static(req, 204, NULL, "", 0);
    else if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, err, NULL, "no active API key '%s'", id);
    else
        cpm_respond_error(req, err, NULL, "cannot revoke the API key");
}
