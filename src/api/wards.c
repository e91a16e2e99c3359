/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wards.c — GET /v1/subjects/{id}/wards: the children a person is a linked
 * guardian of (PIPL Art. 31). The preference center lists them so a parent
 * manages each child's settings apart from their own; the parent's own
 * token then reaches each child's subject routes (src/http/server.c).
 */
#include "core/common.h"

#include "api/api.h"
#include "api/support.h"
#include "http/app.h"

#define WARDS_MAX 64 /* listed at most; a guardian with more sees `truncated` */

struct wards {
    struct cpm_store *store;
    json_t *items;
};

static cpm_err ward_visit(void *ctx, const struct cpm_guardian_link *link)
{
    struct wards *w = ctx;
    struct cpm_subject child;
    cpm_err err = w->store->ops->subject_get(w->store, link->child_id, &child);
    if (err != CPM_OK)
        return err;
    if (child.erased_ms != 0)
        return CPM_OK;
    json_t *item =
        json_pack("{s:s, s:s, s:s, s:o}", "subject", link->child_id, "relation", link->relation,
                  "age_status", child.age_status, "linked_at", cpm_api_time(link->created_ms));
    return item != NULL && json_array_append_new(w->items, item) == 0 ? CPM_OK : CPM_ERR_NOMEM;
}

void cpm_api_subject_wards_list(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    if (!cpm_api_subject_id_checked(req, id))
        return;
    struct wards w = {.store = req->app->store, .items = json_array()};
    cpm_err err = w.items != NULL ? CPM_OK : CPM_ERR_NOMEM;
    if (err == CPM_OK)
        err = w.store->ops->ward_list(w.store, id, WARDS_MAX + 1, ward_visit, &w);
    if (err != CPM_OK) {
        json_decref(w.items);
        cpm_api_respond_store_error(req, err, "wards of subject", id);
        return;
    }
    bool truncated = json_array_size(w.items) > WARDS_MAX;
    if (truncated)
        json_array_remove(w.items, WARDS_MAX);
    cpm_respond_json(
        req, 200,
        json_pack("{s:s, s:o, s:b}", "subject", id, "wards", w.items, "truncated", truncated));
}
