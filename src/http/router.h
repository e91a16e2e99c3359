/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router.h — the static route table and its matcher.
 *
 * Routes are data (src/api/routes.c): method, path template with {captures},
 * the scope a caller needs, what it does with a body, and the handler. The
 * OpenAPI document lists the same operations, which a unit test checks.
 */
#ifndef CPM_HTTP_ROUTER_H
#define CPM_HTTP_ROUTER_H

#include "http/request.h"

typedef void (*cpm_handler_fn)(struct cpm_request *req);

/* Who may call a route. */
enum cpm_access {
    CPM_ACCESS_PUBLIC, /* anyone, no key */
    CPM_ACCESS_SCOPE,  /* an API key holding `scope` (admin holds every scope) */
    /* as SCOPE, or an end-user token of the subject the path writes as `me` */
    CPM_ACCESS_SUBJECT,
    /* the admin console's session cookie alone, no API key (http/session.h) */
    CPM_ACCESS_SESSION,
};

/*
 * What a route does with a request body. The table writes false and true
 * for the first two.
 */
enum cpm_route_body {
    CPM_BODY_NONE = 0,   /* none expected */
    CPM_BODY_JSON = 1,   /* application/json, read whole (CPM_BODY_BYTES_MAX) before the handler */
    CPM_BODY_STREAM = 2, /* any length, handed over as it arrives: cpm_request_stream */
};

struct cpm_route {
    enum cpm_method method;
    const char *path; /* "/v1/purposes/{id}" */
    enum cpm_access access;
    uint32_t scope;               /* CPM_SCOPE_* an API key needs (SCOPE, SUBJECT) */
    enum cpm_route_body has_body; /* CPM_BODY_* */
    cpm_handler_fn handler;
};

/* Rows the route table may hold (per-route metrics keep a row each); checked when it compiles. */
#define CPM_ROUTES_MAX 160

extern const struct cpm_route cpm_routes[];
extern const size_t cpm_routes_count;

enum cpm_match {
    CPM_MATCH_OK,
    CPM_MATCH_NO_PATH,   /* 404 */
    CPM_MATCH_NO_METHOD, /* 405; *allowed gets the methods the path has */
};

/*
 * Matches method and path against the table. On CPM_MATCH_OK, *out is the
 * route and params[] point into a copy of the path made in arena.
 * Returns CPM_MATCH_NO_PATH too when the arena is exhausted.
 */
enum cpm_match cpm_router_match(enum cpm_method method, const char *path, struct cpm_arena *arena,
                                const struct cpm_route **out,
                                const char *params[CPM_PATH_PARAMS_MAX], unsigned *allowed);

/* "GET", "POST", … */
const char *cpm_method_name(enum cpm_method method);
/* Parses an HTTP method name; 0 for one OpenCPM does not serve. */
enum cpm_method cpm_method_parse(const char *name);

#endif /* CPM_HTTP_ROUTER_H */
