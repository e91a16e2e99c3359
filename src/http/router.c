/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router.c — matches a request against the static route table, segment by
 * segment. A linear scan: the table is small and stays in cache.
 */
#include "core/common.h"

#include "http/router.h"

static const struct {
    enum cpm_method method;
    const char *name;
} method_names[] = {
    {CPM_GET, "GET"},     {CPM_POST, "POST"},     {CPM_PUT, "PUT"},
    {CPM_PATCH, "PATCH"}, {CPM_DELETE, "DELETE"},
};

const char *cpm_method_name(enum cpm_method method)
{
    for (size_t i = 0; i < CPM_ARRAY_LEN(method_names); i++)
        if (method_names[i].method == method)
            return method_names[i].name;
    return "?";
}

enum cpm_method cpm_method_parse(const char *name)
{
    for (size_t i = 0; i < CPM_ARRAY_LEN(method_names); i++)
        if (strcmp(method_names[i].name, name) == 0)
            return method_names[i].method;
    return 0;
}

/* Next segment of *p (after a '/'): sets *seg, *len and advances. */
static bool next_segment(const char **p, const char **seg, size_t *len)
{
    if (**p != '/')
        return false;
    (*p)++;
    *seg = *p;
    while (**p != '\0' && **p != '/')
        (*p)++;
    *len = (size_t)(*p - *seg);
    return true;
}

/* True when path fits template; captures are recorded as (start, len) pairs. */
static bool path_fits(const char *tmpl, const char *path, const char *cap_start[], size_t cap_len[],
                      size_t *ncap)
{
    *ncap = 0;
    while (*tmpl != '\0' || *path != '\0') {
        const char *ts, *ps;
        size_t tl, pl;
        if (!next_segment(&tmpl, &ts, &tl) || !next_segment(&path, &ps, &pl))
            return false;
        if (tl > 1 && ts[0] == '{') {
            if (pl == 0 || *ncap == CPM_PATH_PARAMS_MAX)
                return false;
            cap_start[*ncap] = ps;
            cap_len[(*ncap)++] = pl;
        } else if (tl != pl || memcmp(ts, ps, tl) != 0) {
            return false;
        }
    }
    return true;
}

enum cpm_match cpm_router_match(enum cpm_method method, const char *path, struct cpm_arena *arena,
                                const struct cpm_route **out,
                                const char *params[CPM_PATH_PARAMS_MAX], unsigned *allowed)
{
    *allowed = 0;
    const char *cap_start[CPM_PATH_PARAMS_MAX];
    size_t cap_len[CPM_PATH_PARAMS_MAX];
    size_t ncap;
    for (size_t i = 0; i < cpm_routes_count; i++) {
        const struct cpm_route *r = &cpm_routes[i];
        size_t literal = strcspn(r->path, "{"); /* a cheap first test: the literal head */
        if (strncmp(r->path, path, literal) != 0 ||
            !path_fits(r->path, path, cap_start, cap_len, &ncap))
            continue;
        *allowed |= (unsigned)r->method;
        if (r->method != method)
            continue;
        for (size_t c = 0; c < ncap; c++) {
            params[c] = cpm_arena_strndup(arena, cap_start[c], cap_len[c]);
            if (params[c] == NULL)
                return CPM_MATCH_NO_PATH;
        }
        *out = r;
        return CPM_MATCH_OK;
    }
    return *allowed ? CPM_MATCH_NO_METHOD : CPM_MATCH_NO_PATH;
}
