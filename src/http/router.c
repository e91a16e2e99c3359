/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router.c — matches a request against the static route table, segment by
 * segment.
 *
 * The table is grouped once by each route's stem: its literal head cut
 * before the first capture and after at most two segments ("/v1/subjects"
 * for "/v1/subjects/{id}/consents", "/widget" for "/widget/{file}",
 * "/healthz"). A path can only fit routes whose stem is one of its own
 * first zero, one or two segments, so a request looks at those (at most
 * three hash lookups) instead of scanning the hundred routes: the scan's
 * string compares had been 4 % of cpmd's CPU under a decision load.
 * Among the routes that fit, the earliest in the table wins, as in a scan.
 */
#include <pthread.h>

#include "core/common.h"

#include "http/router.h"

#define STEM_SEGMENTS 2
#define STEM_SLOTS    256 /* a power of two, well above the stems a table of CPM_ROUTES_MAX has */
_Static_assert(CPM_ROUTES_MAX < STEM_SLOTS && CPM_ROUTES_MAX <= UINT8_MAX,
               "stems hold route indexes and counts in a byte, and always leave a free slot");

struct stem {
    const char *text; /* NULL: a free slot */
    size_t len;
    uint8_t first, count; /* the stem's routes: order[first] … order[first + count - 1] */
};

static struct stem stems[STEM_SLOTS];
static uint8_t order[CPM_ROUTES_MAX]; /* route indexes grouped by stem, table order within one */
static pthread_once_t stems_once = PTHREAD_ONCE_INIT;

static size_t stem_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32));
}

/* The stem's slot: the one holding it, or the free one where it would go. */
static struct stem *stem_slot(const char *s, size_t len)
{
    for (size_t i = stem_hash(s, len);; i++) {
        struct stem *st = &stems[i & (STEM_SLOTS - 1)];
        if (st->text == NULL || (st->len == len && memcmp(st->text, s, len) == 0))
            return st;
    }
}

/* Length of the route template's stem (see the top of the file). */
static size_t stem_len(const char *tmpl)
{
    size_t len = 0, segments = 0;
    for (size_t i = 0;; i++) {
        if (tmpl[i] == '{')
            return len; /* cut before the segment that holds the capture */
        if (tmpl[i] == '\0')
            return i;
        if (tmpl[i] == '/') {
            if (segments++ == STEM_SEGMENTS)
                return i;
            len = i;
        }
    }
}

static void stems_build(void)
{
    CPM_ASSERT(cpm_routes_count <= CPM_ROUTES_MAX);
    for (size_t i = 0; i < cpm_routes_count; i++) {
        size_t len = stem_len(cpm_routes[i].path);
        struct stem *st = stem_slot(cpm_routes[i].path, len);
        st->text = cpm_routes[i].path;
        st->len = len;
        st->count++;
    }
    size_t next = 0;
    for (size_t s = 0; s < STEM_SLOTS; s++) {
        stems[s].first = (uint8_t)next;
        next += stems[s].count;
        stems[s].count = 0;
    }
    for (size_t i = 0; i < cpm_routes_count; i++) {
        struct stem *st = stem_slot(cpm_routes[i].path, stem_len(cpm_routes[i].path));
        order[st->first + st->count++] = (uint8_t)i;
    }
}

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

/* The route a match found so far, and where its captures are in the path. */
struct found {
    size_t route; /* cpm_routes_count: none yet */
    size_t ncap;
    const char *cap_start[CPM_PATH_PARAMS_MAX];
    size_t cap_len[CPM_PATH_PARAMS_MAX];
};

/* Ors into *allowed the methods of the stem's routes that fit path; keeps the first with method. */
static void match_stem(const struct stem *st, enum cpm_method method, const char *path,
                       struct found *f, unsigned *allowed)
{
    struct found fit;
    for (size_t k = 0; k < st->count; k++) {
        fit.route = order[st->first + k];
        const struct cpm_route *r = &cpm_routes[fit.route];
        if (!path_fits(r->path, path, fit.cap_start, fit.cap_len, &fit.ncap))
            continue;
        *allowed |= (unsigned)r->method;
        if (r->method == method && fit.route < f->route)
            *f = fit;
    }
}

enum cpm_match cpm_router_match(enum cpm_method method, const char *path, struct cpm_arena *arena,
                                const struct cpm_route **out,
                                const char *params[CPM_PATH_PARAMS_MAX], unsigned *allowed)
{
    pthread_once(&stems_once, stems_build);
    *allowed = 0;
    struct found f = {.route = cpm_routes_count};
    size_t len = 0;
    /* The path's own stems: its first zero, one and two segments. */
    for (size_t segments = 0; segments <= STEM_SEGMENTS && path[len] == '/'; segments++) {
        if (segments > 0)
            len += 1 + strcspn(path + len + 1, "/");
        const struct stem *st = stem_slot(path, len);
        if (st->text != NULL)
            match_stem(st, method, path, &f, allowed);
    }
    if (f.route == cpm_routes_count)
        return *allowed ? CPM_MATCH_NO_METHOD : CPM_MATCH_NO_PATH;
    for (size_t c = 0; c < f.ncap; c++) {
        params[c] = cpm_arena_strndup(arena, f.cap_start[c], f.cap_len[c]);
        if (params[c] == NULL)
            return CPM_MATCH_NO_PATH;
    }
    *out = &cpm_routes[f.route];
    return CPM_MATCH_OK;
}
