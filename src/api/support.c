/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support.c — pagination, timestamps, store errors and the store-backed
 * document lookup shared by the resource files.
 */
#include "core/common.h"

#include <sodium.h>

#include "api/support.h"
#include "core/clock.h"
#include "domain/subject.h"
#include "http/app.h"
#include "http/auth.h"
#include "http/device_auth.h"
#include "http/end_user.h"

bool cpm_api_page_parse(struct cpm_request *req, struct cpm_page *page)
{
    page->limit = CPM_PAGE_LIMIT_DEFAULT;
    page->after[0] = '\0';
    const char *limit = cpm_request_query(req, "limit");
    int64_t n;
    if (limit != NULL) {
        if (!cpm_parse_int64(limit, 1, CPM_PAGE_LIMIT_MAX, &n)) {
            cpm_respond_error(req, CPM_ERR_VALIDATION, "limit", "must be an integer 1–%d",
                              CPM_PAGE_LIMIT_MAX);
            return false;
        }
        page->limit = (int)n;
    }
    const char *cursor = cpm_request_query(req, "cursor");
    if (cursor != NULL) {
        size_t len = 0;
        if (sodium_base642bin((unsigned char *)page->after, sizeof(page->after) - 1, cursor,
                              strlen(cursor), NULL, &len, NULL,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
            len == 0 || memchr(page->after, '\0', len) != NULL) {
            cpm_respond_error(req, CPM_ERR_VALIDATION, "cursor",
                              "not a cursor this server gave out");
            return false;
        }
        page->after[len] = '\0';
    }
    return true;
}

json_t *cpm_api_page_result(json_t *items, const struct cpm_page *page, const char *last_key)
{
    json_t *next = json_null();
    if (last_key != NULL && json_array_size(items) == (size_t)page->limit) {
        char b64[sodium_base64_ENCODED_LEN(CPM_ID_BYTES_MAX,
                                           sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
        sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)last_key, strlen(last_key),
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        next = json_string(b64);
    }
    return json_pack("{s:o, s:o}", "items", items, "next_cursor", next);
}

json_t *cpm_api_time(int64_t ms)
{
    if (ms == 0)
        return json_null();
    char text[CPM_TIME_TEXT_BYTES];
    cpm_time_format(ms, text, sizeof(text));
    return json_string(text);
}

void cpm_api_respond_store_error(struct cpm_request *req, cpm_err err, const char *what,
                                 const char *id)
{
    if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, err, NULL, "no %s '%s'", what, id);
    else if (err == CPM_ERR_CONFLICT)
        cpm_respond_error(req, err, "id", "a %s '%s' already exists", what, id);
    else if (err == CPM_ERR_PRECONDITION)
        cpm_respond_error(req, err, "If-Match", "the %s changed since you read it; fetch it again",
                          what);
    else
        cpm_respond_error(req, err, NULL, "%s", cpm_err_message(err));
}

bool cpm_api_subject_id_checked(struct cpm_request *req, const char *id)
{
    bool ok = cpm_subject_id_valid(id);
    if (!ok)
        cpm_respond_error(req, CPM_ERR_VALIDATION, "id",
                          "a subject id is 1–%d printable ASCII characters without spaces or '/',"
                          " and not 'me' (which stands for the caller of an end-user token)",
                          CPM_SUBJECT_ID_BYTES_MAX);
    return ok;
}

bool cpm_api_authenticate(struct cpm_request *req, bool as_end_user, uint32_t scope,
                          struct cpm_end_user *user, const char *needs)
{
    const char *authorization = cpm_request_header(req, "Authorization");
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    cpm_err err;
    if (as_end_user) {
        const char *origin = cpm_request_origin(req);
        if (cpm_end_user_bearer(authorization))
            err = cpm_end_user_check(req->app->store, req->app->keyring, authorization, origin,
                                     cpm_clock_now_ms() / 1000, user, &detail);
        else if (cpm_device_authorization(authorization)) /* an anonymous visitor's device */
            err = cpm_device_check(req->app->store, req->app->keyring, authorization, origin, user,
                                   &detail);
        else
            err = CPM_ERR_UNAUTHORIZED;
        if (err != CPM_OK && detail.count == 0)
            cpm_detail_add(&detail, NULL, "%s", needs);
        if (err != CPM_OK)
            cpm_respond_problem(req, err, &detail);
        return err == CPM_OK;
    }
    err = cpm_auth_check(req->app->store, authorization, &req->key, &detail);
    if (err == CPM_OK && !cpm_scopes_allow(req->key.scopes, scope))
        err = CPM_ERR_FORBIDDEN;
    if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "%s", needs);
    return err == CPM_OK;
}

void cpm_api_respond_rate_limited(struct cpm_request *req, int64_t retry_after_ms,
                                  const char *message)
{
    cpm_respond_error(req, CPM_ERR_RATE_LIMITED, NULL, "%s", message);
    cpm_respond_retry_after(req, retry_after_ms);
}
