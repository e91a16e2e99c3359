/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_resource.c — list, create, read and patch for the configuration
 * documents (properties, purposes, notices, policies). They share one
 * shape: validated and written by store/config_writer.c, stored as JSON
 * with a revision, patched with RFC 7396 merge patches under optimistic
 * concurrency (If-Match / ETag).
 */
#include "core/common.h"

#include "api/api.h"
#include "api/support.h"
#include "core/json.h"
#include "http/app.h"
#include "store/config_events.h"
#include "crypto/config_secrets.h"
#include "store/config_writer.h"
#include "sync/dispatcher.h"

static const char *const collection[CPM_DOC__COUNT] = {
    [CPM_DOC_PROPERTY] = "properties",
    [CPM_DOC_PURPOSE] = "purposes",
    [CPM_DOC_NOTICE] = "notices",
    [CPM_DOC_POLICY] = "policies",
    [CPM_DOC_TOPIC] = "topics",
    [CPM_DOC_CHANNEL] = "channels",
    [CPM_DOC_DESTINATION] = "destinations",
};

static const char *const read_only[] = {"revision", "created_at", "updated_at"};

/* A property's HS256 secrets are never read back: `k_set` says one is there. */
static void hide_token_secrets(json_t *doc)
{
    size_t i;
    json_t *jwk;
    json_array_foreach(json_object_get(doc, "token_keys"), i,
                       jwk) if (json_object_get(jwk, "k") != NULL)
    {
        json_object_del(jwk, "k");
        json_object_set_new(jwk, "k_set", json_true());
    }
}

/*
 * The document as answered: id, the stored fields, then the read-only ones;
 * a destination's secret only in the answer that created it.
 */
static json_t *doc_json(struct cpm_request *req, enum cpm_doc_kind kind, const struct cpm_doc *doc,
                        bool created)
{
    json_t *out = cpm_config_doc_json(doc);
    if (out == NULL)
        return NULL;
    json_object_set_new(out, "revision", json_integer(doc->revision));
    json_object_set_new(out, "created_at", cpm_api_time(doc->created_ms));
    json_object_set_new(out, "updated_at", cpm_api_time(doc->updated_ms));
    if (kind == CPM_DOC_DESTINATION)
        cpm_api_destination_present(req, out, created);
    if (kind == CPM_DOC_PROPERTY)
        hide_token_secrets(out);
    return out;
}

/* The credential field of kind named in faults. */
static const char *credential_field(enum cpm_doc_kind kind)
{
    return kind == CPM_DOC_PROPERTY ? "token_keys" : "secret";
}

/* A client sends credentials in clear, never sealed (only this server seals them). */
static bool refuse_sealed(struct cpm_request *req, enum cpm_doc_kind kind, const json_t *sent)
{
    if (!cpm_config_secrets_sent_sealed(kind, sent))
        return false;
    cpm_respond_error(req, CPM_ERR_VALIDATION, credential_field(kind),
                      "must hold the credential itself, not a sealed value");
    return true;
}

/* Credentials are validated in clear, then sealed before they are stored. */
static cpm_err seal_credentials(struct cpm_request *req, enum cpm_doc_kind kind, json_t *doc,
                                struct cpm_detail *detail)
{
    struct cpm_config_cache cache;
    struct cpm_config_lookup lookup;
    if (kind != CPM_DOC_DESTINATION && kind != CPM_DOC_PROPERTY)
        return CPM_OK;
    cpm_config_cache_init(&cache, req->app->store, &lookup);
    cpm_err err = cpm_config_validate(kind, doc, &lookup, detail);
    cpm_config_cache_release(&cache);
    if (err == CPM_OK)
        err = cpm_config_secrets_seal(kind, doc, req->app->keyring);
    if (err == CPM_ERR_VALIDATION && detail->count == 0)
        cpm_detail_add(detail, credential_field(kind), "a credential is at most %d bytes",
                       CPM_SECRET_BYTES_MAX);
    return err;
}

/* Destinations: the dispatcher picks a change up at once. */
static void changed(struct cpm_request *req, enum cpm_doc_kind kind)
{
    if (kind == CPM_DOC_DESTINATION && req->app->dispatcher != NULL)
        cpm_dispatcher_reload(req->app->dispatcher);
}

/*
 * Answers the stored document kind/id with status (200, or 201 with
 * Location); after a change (event_type not NULL) records it in the ledger.
 */
static void respond_current(struct cpm_request *req, enum cpm_doc_kind kind, const char *id,
                            int status, const char *event_type)
{
    struct cpm_doc doc = {0};
    struct cpm_store *store = req->app->store;
    cpm_err err =
        cpm_config_id_valid(id) ? store->ops->doc_get(store, kind, id, &doc) : CPM_ERR_NOT_FOUND;
    json_t *body = err == CPM_OK ? doc_json(req, kind, &doc, status == 201) : NULL;
    if (err == CPM_OK && body == NULL)
        err = CPM_ERR_STORE;
    if (err != CPM_OK) {
        cpm_api_respond_store_error(req, err, cpm_doc_kind_name(kind), id);
        goto out;
    }
    if (event_type != NULL)
        cpm_config_event(req->app->writer, event_type, kind, id, doc.revision, doc.body,
                         req->key.id, req->request_id);
    cpm_respond_json(req, status, body);
    char header[CPM_ID_BYTES_MAX + 32];
    snprintf(header, sizeof(header), "\"%lld\"", (long long)doc.revision);
    cpm_respond_header(req, "ETag", header);
    if (status == 201) {
        snprintf(header, sizeof(header), "/v1/%s/%s", collection[kind], id);
        cpm_respond_header(req, "Location", header);
    }
out:
    cpm_doc_release(&doc);
}

static bool refuse_read_only(struct cpm_request *req, const json_t *body)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    for (size_t i = 0; i < CPM_ARRAY_LEN(read_only); i++)
        if (json_object_get(body, read_only[i]) != NULL)
            cpm_detail_add(&detail, read_only[i], "is read-only (set by the server)");
    if (detail.count == 0)
        return false;
    cpm_respond_problem(req, CPM_ERR_VALIDATION, &detail);
    return true;
}

struct list_ctx {
    struct cpm_request *req;
    enum cpm_doc_kind kind;
    json_t *items;
    char last[CPM_ID_BYTES_MAX + 1];
};

static cpm_err list_visit(void *ctx, const struct cpm_doc *doc)
{
    struct list_ctx *lc = ctx;
    json_t *item = doc_json(lc->req, lc->kind, doc, false);
    if (item == NULL || json_array_append_new(lc->items, item) != 0)
        return CPM_ERR_NOMEM;
    cpm_strlcpy(lc->last, doc->id, sizeof(lc->last));
    return CPM_OK;
}

static void list(struct cpm_request *req, enum cpm_doc_kind kind)
{
    struct cpm_page page;
    if (!cpm_api_page_parse(req, &page))
        return;
    struct list_ctx lc = {.req = req, .kind = kind, .items = json_array()};
    struct cpm_store *store = req->app->store;
    cpm_err err = lc.items ? store->ops->doc_list(store, kind, page.after[0] ? page.after : NULL,
                                                  page.limit, list_visit, &lc)
                           : CPM_ERR_NOMEM;
    if (err != CPM_OK) {
        json_decref(lc.items);
        cpm_respond_error(req, err, NULL, "cannot list %s", collection[kind]);
        return;
    }
    cpm_respond_json(req, 200, cpm_api_page_result(lc.items, &page, lc.last[0] ? lc.last : NULL));
}

static void get(struct cpm_request *req, enum cpm_doc_kind kind)
{
    respond_current(req, kind, cpm_request_param(req, 0), 200, NULL);
}

static void create(struct cpm_request *req, enum cpm_doc_kind kind)
{
    json_t *doc = cpm_request_json_object(req);
    if (doc == NULL || refuse_read_only(req, doc) || refuse_sealed(req, kind, doc))
        goto out;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    if (kind == CPM_DOC_DESTINATION)
        cpm_api_destination_complete(req, doc);
    cpm_err err = seal_credentials(req, kind, doc, &detail);
    if (err == CPM_OK)
        err = cpm_config_create(req->app->store, kind, doc, &detail);
    if (err == CPM_OK) {
        respond_current(req, kind, json_string_value(json_object_get(doc, "id")), 201,
                        "config.created");
        changed(req, kind);
    } else
        cpm_respond_problem(req, err, &detail);
out:
    json_decref(doc);
}

/* Reads If-Match ("\"7\"", "W/\"7\"" or "7"); 0 when absent, -1 when malformed. */
static int64_t if_match(struct cpm_request *req)
{
    const char *v = cpm_request_header(req, "If-Match");
    if (v == NULL)
        return 0;
    if (strncmp(v, "W/", 2) == 0)
        v += 2;
    char digits[24];
    size_t len = strlen(v);
    if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
        v++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(digits))
        return -1;
    memcpy(digits, v, len);
    digits[len] = '\0';
    int64_t revision;
    return cpm_parse_int64(digits, 1, INT64_MAX, &revision) ? revision : -1;
}

static bool id_unchanged(struct cpm_request *req, const json_t *delta, const char *id)
{
    const json_t *new_id = json_object_get(delta, "id");
    if (new_id == NULL || (json_is_string(new_id) && strcmp(json_string_value(new_id), id) == 0))
        return true;
    cpm_respond_error(req, CPM_ERR_VALIDATION, "id", "cannot change; it is '%s'", id);
    return false;
}

static void patch(struct cpm_request *req, enum cpm_doc_kind kind)
{
    const char *id = cpm_request_param(req, 0);
    int64_t expected = if_match(req), revision = 0;
    json_t *doc = NULL, *delta = NULL;
    if (expected < 0) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "If-Match",
                          "must be the document's ETag, e.g. \"3\"");
        return;
    }
    delta = cpm_request_json_object(req);
    if (delta == NULL || refuse_read_only(req, delta) || !id_unchanged(req, delta, id) ||
        refuse_sealed(req, kind, delta))
        goto out;
    cpm_err err = cpm_config_read(req->app->store, kind, id, &doc, &revision);
    if (err == CPM_OK)
        err = cpm_json_merge_patch(&doc, delta);
    if (err != CPM_OK) {
        cpm_api_respond_store_error(req, err, cpm_doc_kind_name(kind), id);
        goto out;
    }
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    err = seal_credentials(req, kind, doc, &detail);
    if (err == CPM_OK)
        err =
            cpm_config_update(req->app->store, kind, doc, expected ? expected : revision, &detail);
    if (err == CPM_OK) {
        respond_current(req, kind, id, 200, "config.updated");
        changed(req, kind);
    } else if (err == CPM_ERR_PRECONDITION || err == CPM_ERR_NOT_FOUND)
        cpm_api_respond_store_error(req, err, cpm_doc_kind_name(kind), id);
    else
        cpm_respond_problem(req, err, &detail);
out:
    json_decref(doc);
    json_decref(delta);
}

#define CONFIG_HANDLERS(name, kind)                                                                \
    void cpm_api_##name##_list(struct cpm_request *req)                                            \
    {                                                                                              \
        list(req, kind);                                                                           \
    }                                                                                              \
    void cpm_api_##name##_create(struct cpm_request *req)                                          \
    {                                                                                              \
        create(req, kind);                                                                         \
    }                                                                                              \
    void cpm_api_##name##_get(struct cpm_request *req)                                             \
    {                                                                                              \
        get(req, kind);                                                                            \
    }                                                                                              \
    void cpm_api_##name##_patch(struct cpm_request *req)                                           \
    {                                                                                              \
        patch(req, kind);                                                                          \
    }

CONFIG_HANDLERS(properties, CPM_DOC_PROPERTY)
CONFIG_HANDLERS(purposes, CPM_DOC_PURPOSE)
CONFIG_HANDLERS(notices, CPM_DOC_NOTICE)
CONFIG_HANDLERS(policies, CPM_DOC_POLICY)
CONFIG_HANDLERS(topics, CPM_DOC_TOPIC)
CONFIG_HANDLERS(channels, CPM_DOC_CHANNEL)
CONFIG_HANDLERS(destinations, CPM_DOC_DESTINATION)
