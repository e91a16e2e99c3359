/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notice_reconsent.c — before a notice version is published: how many
 * people a material change to each purpose would send back to re-consent.
 *
 * GET /v1/notices/{id}/reconsent?purposes=a,b answers, per purpose and in
 * all (distinct subjects), exactly what publishing the next version with
 * those purposes marked `material` would sweep now. It asks the store the
 * same question the sweep does (consent_state_on_notice: given consents on
 * the purpose under a version of the notice older than the one published,
 * store/scheduler.c), with the version publish would assign (latest + 1).
 * The consent-state table answers through its (purpose, status, subject_id)
 * index, page by page; the events are never read. Nothing is written.
 *
 * The total is the union of the purposes' subjects: each purpose's pages
 * come in subject order, so the lists are merged like sorted runs — memory
 * stays at one page per purpose, whatever the number of consents.
 */
#include "core/common.h"

#include "api/api.h"
#include "api/support.h"
#include "http/app.h"

#define RECONSENT_PAGE_ROWS 64 /* subjects read from the store at a time, per purpose */

/* One purpose's subjects, a page at a time, in subject order. */
struct run {
    const char *purpose;
    char (*ids)[CPM_SUBJECT_ID_BYTES_MAX + 1]; /* the page, RECONSENT_PAGE_ROWS of them */
    int count;                                 /* ids in the page */
    int next;                                  /* the first not yet merged */
    bool last_page;                            /* the store has no more */
    char after[CPM_SUBJECT_ID_BYTES_MAX + 1];  /* the page's last subject: where the next starts */
    int64_t subjects;                          /* distinct subjects merged so far */
};

static cpm_err page_visit(void *ctx, const struct cpm_consent_state *state)
{
    struct run *r = ctx;
    /* a purpose with recipients has a row per recipient: a subject once */
    if (r->count > 0 && strcmp(r->ids[r->count - 1], state->subject_id) == 0)
        return CPM_OK;
    CPM_ASSERT(r->count < RECONSENT_PAGE_ROWS);
    cpm_strlcpy(r->ids[r->count++], state->subject_id, sizeof(r->ids[0]));
    return CPM_OK;
}

/* Reads the run's next page once it has merged the last one. */
static cpm_err refill(struct cpm_store *store, const char *notice, int64_t version, struct run *r)
{
    if (r->next < r->count || r->last_page)
        return CPM_OK;
    r->count = 0;
    r->next = 0;
    cpm_err err = store->ops->consent_state_on_notice(store, notice, version, r->purpose, r->after,
                                                      RECONSENT_PAGE_ROWS, page_visit, r);
    if (err != CPM_OK)
        return err;
    /* a page holds rows, and rows of one subject are merged: only an empty page is the last */
    r->last_page = r->count == 0;
    if (r->count > 0)
        cpm_strlcpy(r->after, r->ids[r->count - 1], sizeof(r->after));
    return CPM_OK;
}

/* Merges the runs: each purpose's distinct subjects, and *total the distinct union. */
static cpm_err count_runs(struct cpm_store *store, const char *notice, int64_t version,
                          struct run *runs, size_t n, int64_t *total)
{
    *total = 0;
    for (;;) {
        const char *least = NULL;
        for (size_t i = 0; i < n; i++) {
            cpm_err err = refill(store, notice, version, &runs[i]);
            if (err != CPM_OK)
                return err;
            if (runs[i].next < runs[i].count &&
                (least == NULL || strcmp(runs[i].ids[runs[i].next], least) < 0))
                least = runs[i].ids[runs[i].next];
        }
        if (least == NULL)
            return CPM_OK;
        char subject[CPM_SUBJECT_ID_BYTES_MAX + 1];
        cpm_strlcpy(subject, least, sizeof(subject));
        ++*total;
        for (size_t i = 0; i < n; i++) {
            struct run *r = &runs[i];
            if (r->next < r->count && strcmp(r->ids[r->next], subject) == 0) {
                r->next++;
                r->subjects++;
            }
        }
    }
}

/*
 * Splits ?purposes= into runs (arena memory): each an existing purpose,
 * none twice. On bad input fills detail and returns VALIDATION.
 */
static cpm_err parse_purposes(struct cpm_request *req, const char *list, struct run **out,
                              size_t *n, struct cpm_detail *detail)
{
    struct cpm_store *store = req->app->store;
    if (list == NULL || list[0] == '\0') {
        cpm_detail_add(detail, "purposes",
                       "is required: the purposes a material change would cover, comma separated");
        return CPM_ERR_VALIDATION;
    }
    size_t items = 1;
    for (const char *c = list; *c; c++)
        items += *c == ',';
    if (items > CPM_ARRAY_ITEMS_MAX) {
        cpm_detail_add(detail, "purposes", "lists %zu purposes; at most %d", items,
                       CPM_ARRAY_ITEMS_MAX);
        return CPM_ERR_VALIDATION;
    }
    struct run *runs = cpm_arena_alloc(&req->arena, items * sizeof(*runs));
    if (runs == NULL)
        return CPM_ERR_NOMEM;
    memset(runs, 0, items * sizeof(*runs));
    cpm_err err = CPM_OK;
    const char *at = list;
    for (size_t i = 0; i < items; i++) {
        const char *end = strchr(at, ',');
        size_t len = end ? (size_t)(end - at) : strlen(at);
        char field[32];
        snprintf(field, sizeof(field), "purposes[%zu]", i);
        char *id = cpm_arena_strndup(&req->arena, at, len);
        runs[i].ids = cpm_arena_alloc(&req->arena, RECONSENT_PAGE_ROWS * sizeof(runs[i].ids[0]));
        if (id == NULL || runs[i].ids == NULL)
            return CPM_ERR_NOMEM;
        runs[i].purpose = id;
        at = end ? end + 1 : at + len;
        if (!cpm_config_id_valid(id)) {
            cpm_detail_add(detail, field,
                           "'%.64s' is not a purpose id (a slug: a-z, 0-9, '.', '_', '-')", id);
            err = CPM_ERR_VALIDATION;
            continue;
        }
        bool twice = false;
        for (size_t j = 0; j < i && !twice; j++)
            twice = strcmp(runs[j].purpose, id) == 0;
        if (twice) {
            cpm_detail_add(detail, field, "'%s' is listed twice", id);
            err = CPM_ERR_VALIDATION;
            continue;
        }
        struct cpm_doc doc = {0};
        cpm_err got = store->ops->doc_get(store, CPM_DOC_PURPOSE, id, &doc);
        cpm_doc_release(&doc);
        if (got == CPM_ERR_NOT_FOUND) {
            cpm_detail_add(detail, field, "unknown purpose '%s'", id);
            err = CPM_ERR_VALIDATION;
        } else if (got != CPM_OK) {
            return got;
        }
    }
    *out = runs;
    *n = items;
    return err;
}

void cpm_api_notice_reconsent(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    struct cpm_store *store = req->app->store;
    struct cpm_doc notice = {0};
    cpm_err err = cpm_config_id_valid(id) ? store->ops->doc_get(store, CPM_DOC_NOTICE, id, &notice)
                                          : CPM_ERR_NOT_FOUND;
    cpm_doc_release(&notice);
    if (err != CPM_OK) {
        cpm_api_respond_store_error(req, err, "notice", id);
        return;
    }
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct run *runs = NULL;
    size_t n = 0;
    err = parse_purposes(req, cpm_request_query(req, "purposes"), &runs, &n, &detail);
    if (err == CPM_ERR_VALIDATION) {
        cpm_respond_problem(req, err, &detail);
        return;
    }
    /* the version a publish now would get; none published yet: nothing is older than 1 */
    struct cpm_notice_version latest = {0};
    int64_t current = 0;
    if (err == CPM_OK) {
        err = store->ops->notice_version_get(store, id, 0, &latest);
        current = err == CPM_OK ? latest.version : 0;
        err = err == CPM_ERR_NOT_FOUND ? CPM_OK : err;
        cpm_notice_version_release(&latest);
    }
    int64_t total = 0;
    if (err == CPM_OK)
        err = count_runs(store, id, current + 1, runs, n, &total);
    json_t *items = err == CPM_OK ? json_array() : NULL;
    for (size_t i = 0; items != NULL && i < n; i++)
        if (json_array_append_new(items, json_pack("{s:s, s:I}", "purpose", runs[i].purpose,
                                                   "subjects", (json_int_t)runs[i].subjects)) != 0)
            err = CPM_ERR_NOMEM;
    if (err == CPM_OK && items == NULL)
        err = CPM_ERR_NOMEM;
    if (err != CPM_OK) {
        json_decref(items);
        cpm_api_respond_store_error(req, err, "notice", id);
        return;
    }
    json_t *version = current > 0 ? json_integer(current) : json_null();
    cpm_respond_json(req, 200,
                     json_pack("{s:s, s:o, s:o, s:I}", "notice", id, "version", version, "purposes",
                               items, "subjects", (json_int_t)total));
}
