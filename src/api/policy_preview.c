/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_preview.c — POST /v1/policies/preview: the experience a draft
 * policy would give people, without saving it. The admin console's live
 * preview of the popup (web/admin/policies.js) draws this answer with the
 * widget's own code, so what the operator sees while editing is built by
 * the same code as GET /v1/experience (experience.c) from the same rules
 * (the draft is validated as POST /v1/policies would validate it).
 *
 * Nothing is written and nothing is recorded: no ledger event, no person.
 * The draft may leave out `id` (a new policy not yet named) and may carry
 * the read-only fields of a document read back (they are ignored); the
 * (region, property) pair is not checked for uniqueness, since nothing is
 * stored.
 */
#include "core/common.h"

#include "api/api.h"
#include "api/support.h"
#include "domain/config.h"
#include "http/app.h"
#include "store/config_writer.h"

#define PREVIEW_ID "preview" /* the id of a draft that has none yet */

static const char *const read_only[] = {"revision", "created_at", "updated_at"};

void cpm_api_policies_preview(struct cpm_request *req)
{
    struct cpm_config_cache cache;
    struct cpm_config_lookup lookup;
    struct cpm_detail detail;
    json_t *draft = cpm_request_json_object(req), *body = NULL;
    cpm_err err;
    if (draft == NULL)
        return; /* answered */
    const char *locale = cpm_request_query(req, "locale");
    if (locale != NULL && !cpm_locale_valid(locale)) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "locale",
                          "must be a locale tag like en, zh-HK, zh-Hant");
        goto out;
    }
    for (size_t i = 0; i < CPM_ARRAY_LEN(read_only); i++)
        json_object_del(draft, read_only[i]);
    if (json_object_get(draft, "id") == NULL &&
        json_object_set_new(draft, "id", json_string(PREVIEW_ID)) != 0) {
        cpm_respond_error(req, CPM_ERR_NOMEM, NULL, "cannot build the preview");
        goto out;
    }
    cpm_detail_init(&detail);
    cpm_config_cache_init(&cache, req->app->store, &lookup);
    err = cpm_config_validate(CPM_DOC_POLICY, draft, &lookup, &detail);
    cpm_config_cache_release(&cache);
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
        goto out;
    }
    err = cpm__experience_preview(req, draft, &body);
    if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, CPM_ERR_VALIDATION, "notice",
                          "has no published version: publish one before previewing");
    else if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "cannot build the preview");
    else
        cpm_respond_json(req, 200, body); /* API answers are Cache-Control: no-store */
out:
    json_decref(draft);
}
