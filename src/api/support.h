/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support.h — what several resource files share: pagination, timestamps,
 * store errors as problems, and the store-backed lookup that the domain's
 * cross-document rules use.
 */
#ifndef CPM_API_SUPPORT_H
#define CPM_API_SUPPORT_H

#include <jansson.h>

#include "http/request.h"

struct cpm_page {
    int limit;
    char after[CPM_ID_BYTES_MAX + 1]; /* "" for the first page */
};

/*
 * Reads ?limit= and ?cursor=. On bad input answers 422 (field `limit` or
 * `cursor`) and returns false.
 */
bool cpm_api_page_parse(struct cpm_request *req, struct cpm_page *page);

/*
 * Builds {items, next_cursor}: takes items; next_cursor encodes last_key
 * when the page is full (there may be more), else null.
 */
json_t *cpm_api_page_result(json_t *items, const struct cpm_page *page, const char *last_key);

/* An RFC 3339 UTC string with milliseconds, or JSON null for 0. */
json_t *cpm_api_time(int64_t ms);

/* Answers a store failure: NOT_FOUND as 404 naming what, anything else as is. */
void cpm_api_respond_store_error(struct cpm_request *req, cpm_err err, const char *what,
                                 const char *id);

/*
 * True when id is a company subject id: 1–128 printable ASCII characters,
 * no space or '/'. Otherwise answers 422 (field `id`) and returns false.
 */
bool cpm_api_subject_id_checked(struct cpm_request *req, const char *id);

struct cpm_end_user;

/*
 * Authenticates the caller of a route the table leaves PUBLIC because it
 * decides for itself who may call: with as_end_user, a person's end-user
 * token or an anonymous visitor's device credential (*user gets its
 * subject and property); otherwise an API key
 * holding scope (req->key gets it). When refused, answers 401 or 403 —
 * the token's fault, else needs — and returns false.
 */
bool cpm_api_authenticate(struct cpm_request *req, bool as_end_user, uint32_t scope,
                          struct cpm_end_user *user, const char *needs);

/* Answers 429 rate_limited with message and Retry-After (retry_after_ms, rounded up to seconds). */
void cpm_api_respond_rate_limited(struct cpm_request *req, int64_t retry_after_ms,
                                  const char *message);

#endif /* CPM_API_SUPPORT_H */
