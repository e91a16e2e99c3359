/* SPDX-License-Identifier: Apache-2.0 */
/*
 * events.c — pages of ledger events, oldest first: one subject's history
 * (/v1/subjects/{id}/events) or the whole log (/v1/ledger/events). Each
 * item carries the exact leaf text, so anyone can hash it and check it
 * against a proof, and the same text parsed for reading.
 */
#include "core/common.h"

#include "api/api.h"
#include "api/support.h"
#include "http/app.h"

struct events_ctx {
    json_t *items;
    char last[24];
};

static cpm_err event_visit(void *ctx, const struct cpm_event *e)
{
    struct events_ctx *ec = ctx;
    json_t *leaf = json_loadb(e->leaf, e->leaf_len, 0, NULL);
    json_t *item = json_pack("{s:I, s:o, s:s%}", "seq", (json_int_t)e->seq, "event",
                             leaf ? leaf : json_null(), "leaf", e->leaf, e->leaf_len);
    snprintf(ec->last, sizeof(ec->last), "%lld", (long long)e->seq);
    return item && json_array_append_new(ec->items, item) == 0 ? CPM_OK : CPM_ERR_NOMEM;
}

/* Answers a page of events after `after` (subject_id NULL: all of them). */
static void respond_page(struct cpm_request *req, const char *subject_id,
                         const struct cpm_page *page, int64_t after)
{
    struct events_ctx ec = {.items = json_array()};
    struct cpm_store *store = req->app->store;
    cpm_err err =
        ec.items ? store->ops->event_list(store, subject_id, after, page->limit, event_visit, &ec)
                 : CPM_ERR_NOMEM;
    if (err != CPM_OK) {
        json_decref(ec.items);
        cpm_respond_error(req, err, NULL, "cannot read the events");
        return;
    }
    cpm_respond_json(req, 200, cpm_api_page_result(ec.items, page, ec.last[0] ? ec.last : NULL));
}

/* The position to continue after: the cursor, else from_seq - 1, else 0. */
static bool read_after(struct cpm_request *req, const struct cpm_page *page, int64_t *after)
{
    *after = 0;
    const char *from = cpm_request_query(req, "from_seq");
    if (page->after[0] && !cpm_parse_int64(page->after, 0, INT64_MAX, after)) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "cursor", "not a cursor this server gave out");
        return false;
    }
    if (from != NULL && !page->after[0]) {
        if (!cpm_parse_int64(from, 1, INT64_MAX, after)) {
            cpm_respond_error(req, CPM_ERR_VALIDATION, "from_seq", "must be an integer from 1");
            return false;
        }
        (*after)--;
    }
    return true;
}

void cpm_api_subject_events(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    struct cpm_page page;
    int64_t after;
    if (cpm_api_subject_id_checked(req, id) && cpm_api_page_parse(req, &page) &&
        read_after(req, &page, &after))
        respond_page(req, id, &page, after);
}

void cpm_api_ledger_events(struct cpm_request *req)
{
    struct cpm_page page;
    int64_t after;
    if (cpm_api_page_parse(req, &page) && read_after(req, &page, &after))
        respond_page(req, NULL, &page, after);
}
