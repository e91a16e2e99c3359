/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notice_versions.c — publishing and reading notice versions. A version is
 * immutable once published: there is no route to change or delete one, and
 * the store refuses it too. Reading is public: anyone may see the exact
 * text a person was shown, and recompute its SHA-256.
 */
#include "core/common.h"

#include "api/api.h"
#include "api/support.h"
#include "core/log.h"
#include "http/app.h"
#include "store/config_events.h"
#include "store/config_writer.h"
#include "store/scheduler.h"

static json_t *version_json(const struct cpm_notice_version *v)
{
    json_t *body = json_loads(v->body, JSON_REJECT_DUPLICATES, NULL);
    json_t *out = json_pack("{s:s, s:I, s:o}", "notice", v->notice_id, "version",
                            (json_int_t)v->version, "published_at", cpm_api_time(v->published_ms));
    if (body == NULL || out == NULL || json_object_update(out, body) != 0) {
        json_decref(out);
        out = NULL;
    }
    json_decref(body);
    return out;
}

/* Answers a version (one locale's text when locale is set); extra (taken) is merged in. */
static void respond_version(struct cpm_request *req, int status, const struct cpm_notice_version *v,
                            const char *locale, json_t *extra)
{
    json_t *doc = version_json(v);
    if (doc != NULL && extra != NULL)
        json_object_update(doc, extra);
    json_decref(extra);
    if (doc == NULL) {
        cpm_respond_error(req, CPM_ERR_STORE, NULL, "a stored notice version could not be read");
        return;
    }
    if (locale != NULL) {
        json_t *content = json_object_get(doc, "content");
        json_t *one = json_incref(json_object_get(content, locale));
        if (one == NULL) {
            json_decref(doc);
            cpm_respond_error(req, CPM_ERR_NOT_FOUND, "locale",
                              "version %lld of notice '%s' has no '%s' text", (long long)v->version,
                              v->notice_id, locale);
            return;
        }
        json_object_clear(content);
        json_object_set_new(content, locale, one);
    }
    cpm_respond_json(req, status, doc);
}

/*
 * A material change to a purpose sends every consent on it given under an
 * older version back to re-consent (PIPL Art. 14: a changed purpose needs
 * consent anew). The version is published either way; a failure here is
 * logged and the sweep can be rerun by publishing again.
 */
static void send_back_to_reconsent(struct cpm_request *req, const struct cpm_notice_version *v,
                                   int64_t *total)
{
    json_t *body = json_loads(v->body, 0, NULL);
    size_t i;
    json_t *p;
    cpm_err err = body ? CPM_OK : CPM_ERR_STORE;
    json_array_foreach(json_object_get(body, "purposes"), i, p)
    {
        const char *change = json_string_value(json_object_get(p, "change"));
        const char *purpose = json_string_value(json_object_get(p, "purpose"));
        int64_t count = 0;
        if (err == CPM_OK && purpose && change && strcmp(change, "material") == 0)
            err = cpm_reconsent_sweep(req->app->store, req->app->writer, req->app->keyring,
                                      v->notice_id, v->version, purpose, &count);
        *total += count;
    }
    json_decref(body);
    if (err != CPM_OK)
        cpm_log(CPM_LOG_ERROR, "ledger", req->request_id, NULL,
                "re-consent sweep for notice '%s' version %lld stopped: %s", v->notice_id,
                (long long)v->version, cpm_err_message(err));
}

void cpm_api_notice_versions_publish(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    json_t *version = cpm_request_json_object(req);
    if (version == NULL)
        return;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct cpm_store *store = req->app->store;
    struct cpm_notice_version published = {0};
    int64_t number = 0;
    cpm_err err = cpm_config_publish(store, id, version, &number, &detail);
    json_decref(version);
    if (err == CPM_OK)
        err = store->ops->notice_version_get(store, id, number, &published);
    if (err == CPM_OK) {
        cpm_config_event(req->app->writer, "notice.published", CPM_DOC_NOTICE, id, number,
                         published.body, req->key.id, req->request_id);
        int64_t sent_back = 0;
        send_back_to_reconsent(req, &published, &sent_back);
        respond_version(req, 201, &published, NULL,
                        json_pack("{s:I}", "reconsent_required", (json_int_t)sent_back));
        char location[CPM_ID_BYTES_MAX + 48];
        snprintf(location, sizeof(location), "/v1/notices/%s/versions/%lld", id, (long long)number);
        cpm_respond_header(req, "Location", location);
    } else if (err == CPM_ERR_VALIDATION) {
        cpm_respond_problem(req, err, &detail);
    } else {
        cpm_api_respond_store_error(req, err, "notice", id);
    }
    cpm_notice_version_release(&published);
}

void cpm_api_notice_versions_get(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    const char *text = cpm_request_param(req, 1);
    int64_t number = 0;
    if (strcmp(text, "latest") != 0 && !cpm_parse_int64(text, 1, INT64_MAX, &number)) {
        cpm_respond_error(req, CPM_ERR_NOT_FOUND, "version",
                          "'%s' is not a version: use a number from 1, or 'latest'", text);
        return;
    }
    struct cpm_notice_version v = {0};
    struct cpm_store *store = req->app->store;
    cpm_err err = cpm_config_id_valid(id) ? store->ops->notice_version_get(store, id, number, &v)
                                          : CPM_ERR_NOT_FOUND;
    if (err == CPM_OK)
        respond_version(req, 200, &v, cpm_request_query(req, "locale"), NULL);
    else if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, err, NULL, "notice '%s' has no version %s", id, text);
    else
        cpm_api_respond_store_error(req, err, "notice", id);
    cpm_notice_version_release(&v);
}

struct list_ctx {
    json_t *items;
    char last[24];
};

static cpm_err list_visit(void *ctx, const struct cpm_notice_version *v)
{
    struct list_ctx *lc = ctx;
    json_t *item = version_json(v);
    if (item == NULL || json_array_append_new(lc->items, item) != 0)
        return CPM_ERR_NOMEM;
    snprintf(lc->last, sizeof(lc->last), "%lld", (long long)v->version);
    return CPM_OK;
}

void cpm_api_notice_versions_list(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    struct cpm_page page;
    if (!cpm_api_page_parse(req, &page))
        return;
    int64_t after = 0;
    if (page.after[0] && !cpm_parse_int64(page.after, 0, INT64_MAX, &after)) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "cursor", "not a cursor this server gave out");
        return;
    }
    struct cpm_doc notice = {0};
    struct cpm_store *store = req->app->store;
    struct list_ctx lc = {.items = json_array()};
    cpm_err err = cpm_config_id_valid(id) ? store->ops->doc_get(store, CPM_DOC_NOTICE, id, &notice)
                                          : CPM_ERR_NOT_FOUND;
    cpm_doc_release(&notice);
    if (err == CPM_OK)
        err = lc.items
                  ? store->ops->notice_version_list(store, id, after, page.limit, list_visit, &lc)
                  : CPM_ERR_NOMEM;
    if (err != CPM_OK) {
        json_decref(lc.items);
        cpm_api_respond_store_error(req, err, "notice", id);
        return;
    }
    cpm_respond_json(req, 200, cpm_api_page_result(lc.items, &page, lc.last[0] ? lc.last : NULL));
}
