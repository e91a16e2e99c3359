/* SPDX-License-Identifier: Apache-2.0 */
/*
 * web.c — the static files people's browsers load from cpmd: the consent
 * widget (/widget/…, loaded by the company's own pages on other origins,
 * so served to any origin), the demo shop (/demo/, cpmd's own page, under
 * a content security policy) and the preference center (/center, a
 * person's own page reached with their end-user token: a stricter policy,
 * no inline script at all, and no Referer, since its address may still
 * carry the token when it loads), and the admin console (/admin, the
 * operators' pages, signed in with a session cookie: the center's policy);
 * and /lib, the script module those two share.
 * Embedded at build time (http/assets.h).
 */
#include "core/common.h"

#include "api/api.h"
#include "http/assets.h"

#define DEMO_POLICY                                                                                \
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"     \
    " img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"

/* The center's and the console's scripts and styles are files of their own: nothing inline runs. */
#define OWN_PAGE_POLICY                                                                            \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"               \
    " connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

/* Answers the asset at path (404 when none; 304 when the browser has it). */
static const struct cpm_asset *serve(struct cpm_request *req, const char *dir, const char *file)
{
    char path[CPM_ID_BYTES_MAX * 2];
    const struct cpm_asset *a = NULL;
    size_t dir_len = strlen(dir), file_len = file ? strlen(file) : 0;
    if (file != NULL && dir_len + file_len + 2 <= sizeof(path)) {
        memcpy(path, dir, dir_len);
        path[dir_len] = '/';
        memcpy(path + dir_len + 1, file, file_len + 1);
        a = cpm_asset_find(path);
    }
    if (a == NULL) {
        cpm_respond_error(req, CPM_ERR_NOT_FOUND, NULL, "no such file");
        return NULL;
    }
    const char *cached = cpm_request_header(req, "If-None-Match");
    if (cached != NULL && strcmp(cached, a->etag) == 0)
        cpm_respond_static(req, 304, NULL, "", 0);
    else
        cpm_respond_static(req, 200, a->type, a->data, a->len);
    cpm_respond_header(req, "ETag", a->etag);
    return a;
}

void cpm_api_widget_file(struct cpm_request *req)
{
    if (serve(req, "widget", cpm_request_param(req, 0)) == NULL)
        return;
    cpm_respond_header(req, "Cache-Control", "public, max-age=300");
    cpm_respond_header(req, "Access-Control-Allow-Origin", "*"); /* module scripts need CORS */
    cpm_respond_header(req, "Cross-Origin-Resource-Policy", "cross-origin");
}

static void demo(struct cpm_request *req, const char *file)
{
    if (serve(req, "demo", file) == NULL)
        return;
    cpm_respond_header(req, "Cache-Control", "no-cache");
    cpm_respond_header(req, "Content-Security-Policy", DEMO_POLICY);
    cpm_respond_header(req, "X-Frame-Options", "DENY");
}

void cpm_api_demo_index(struct cpm_request *req)
{
    demo(req, "index.html");
}

void cpm_api_demo_file(struct cpm_request *req)
{
    demo(req, cpm_request_param(req, 0));
}

/* cpmd's own pages (the center, the console): their own scripts and styles only, never framed. */
static void own_page(struct cpm_request *req, const char *dir, const char *file)
{
    if (serve(req, dir, file) == NULL)
        return;
    cpm_respond_header(req, "Cache-Control", "no-cache");
    cpm_respond_header(req, "Content-Security-Policy", OWN_PAGE_POLICY);
    cpm_respond_header(req, "X-Frame-Options", "DENY");
    cpm_respond_header(req, "Referrer-Policy", "no-referrer");
}

void cpm_api_center_index(struct cpm_request *req)
{
    own_page(req, "center", "index.html");
}

void cpm_api_center_file(struct cpm_request *req)
{
    own_page(req, "center", cpm_request_param(req, 0));
}

void cpm_api_admin_index(struct cpm_request *req)
{
    own_page(req, "admin", "index.html");
}

void cpm_api_admin_file(struct cpm_request *req)
{
    own_page(req, "admin", cpm_request_param(req, 0));
}

/* What the center and the console share (web/lib/: the element maker, views). */
void cpm_api_lib_file(struct cpm_request *req)
{
    own_page(req, "lib", cpm_request_param(req, 0));
}
