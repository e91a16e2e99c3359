/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_router.c — src/http: route matching against the real table, scopes,
 * listen-address parsing, API key hashing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/common.h"
#include "http/auth.h"
#include "http/router.h"
#include "http/server.h"

/* One match's inputs and results; the arena holds the captures of every match of a test. */
struct matching {
    struct cpm_arena arena;
    const struct cpm_route *r;
    const char *params[CPM_PATH_PARAMS_MAX];
    unsigned allowed;
};

static int matching_setup(void **state)
{
    struct matching *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -1;
    cpm_arena_init(&m->arena, 1 << 16);
    *state = m;
    return 0;
}

static int matching_teardown(void **state)
{
    struct matching *m = *state;
    cpm_arena_release(&m->arena);
    free(m);
    return 0;
}

static enum cpm_match match(struct matching *m, enum cpm_method method, const char *path)
{
    m->r = NULL;
    return cpm_router_match(method, path, &m->arena, &m->r, m->params, &m->allowed);
}

static void test_matching(void **state)
{
    struct matching *m = *state;
    assert_int_equal(match(m, CPM_GET, "/healthz"), CPM_MATCH_OK);
    assert_string_equal(m->r->path, "/healthz");
    assert_int_equal(match(m, CPM_GET, "/v1/purposes/marketing.sms"), CPM_MATCH_OK);
    assert_string_equal(m->r->path, "/v1/purposes/{id}");
    assert_string_equal(m->params[0], "marketing.sms");
    assert_int_equal(match(m, CPM_GET, "/v1/notices/privacy/versions/3"), CPM_MATCH_OK);
    assert_string_equal(m->params[0], "privacy");
    assert_string_equal(m->params[1], "3");
    assert_int_equal(match(m, CPM_DELETE, "/v1/purposes"), CPM_MATCH_NO_METHOD);
    assert_int_equal(m->allowed, CPM_GET | CPM_POST);
    assert_int_equal(match(m, CPM_GET, "/v1/purposes/"), CPM_MATCH_NO_PATH);
    assert_int_equal(match(m, CPM_GET, "/v1/purposes/a/b"), CPM_MATCH_NO_PATH);
    assert_int_equal(match(m, CPM_GET, "/healthz/"), CPM_MATCH_NO_PATH);
    assert_int_equal(match(m, CPM_GET, ""), CPM_MATCH_NO_PATH);
    assert_int_equal(match(m, CPM_GET, "healthz"), CPM_MATCH_NO_PATH);
    assert_int_equal(match(m, 0, "/healthz"), CPM_MATCH_NO_METHOD);
}

/* path: the template with each {capture} written as "x1", which no literal segment is. */
static void concrete_path(const char *tmpl, char *path, size_t size)
{
    size_t len = 0;
    for (const char *t = tmpl; *t != '\0' && len + 3 < size;) {
        if (*t == '{') {
            memcpy(path + len, "x1", 2);
            len += 2;
            t += strcspn(t, "}") + 1;
        } else {
            path[len++] = *t++;
        }
    }
    path[len] = '\0';
}

/* Every route is found by a path it fits, with every method its template has. */
static void test_every_route_is_found(void **state)
{
    struct matching *m = *state;
    char path[256];
    for (size_t i = 0; i < cpm_routes_count; i++) {
        unsigned methods = 0;
        for (size_t j = 0; j < cpm_routes_count; j++)
            if (strcmp(cpm_routes[j].path, cpm_routes[i].path) == 0)
                methods |= (unsigned)cpm_routes[j].method;
        concrete_path(cpm_routes[i].path, path, sizeof(path));
        assert_int_equal(match(m, cpm_routes[i].method, path), CPM_MATCH_OK);
        assert_ptr_equal(m->r, &cpm_routes[i]);
        assert_int_equal(m->allowed & methods, methods); /* a literal sibling may add its own */
        if (strchr(cpm_routes[i].path, '{') != NULL)
            assert_string_equal(m->params[0], "x1");
        size_t len = strlen(path); /* one segment more fits no route of this template */
        memcpy(path + len, "/x1", 4);
        if (match(m, cpm_routes[i].method, path) == CPM_MATCH_OK)
            assert_string_not_equal(m->r->path, cpm_routes[i].path);
    }
}

/* A literal segment and a capture both fit: the earlier route wins, both give their methods. */
static void test_literal_beside_capture(void **state)
{
    struct matching *m = *state;
    assert_int_equal(match(m, CPM_GET, "/v1/policies/preview"), CPM_MATCH_OK);
    assert_string_equal(m->r->path, "/v1/policies/{id}");
    assert_string_equal(m->params[0], "preview");
    assert_int_equal(m->allowed, CPM_GET | CPM_PATCH | CPM_POST);
    assert_int_equal(match(m, CPM_POST, "/v1/policies/preview"), CPM_MATCH_OK);
    assert_string_equal(m->r->path, "/v1/policies/preview");
    assert_int_equal(match(m, CPM_GET, "/widget/consent.js"), CPM_MATCH_OK);
    assert_string_equal(m->params[0], "consent.js");
    assert_int_equal(match(m, CPM_GET, "/widget"), CPM_MATCH_NO_PATH);
    assert_int_equal(match(m, CPM_GET, "/v1"), CPM_MATCH_NO_PATH);
    assert_int_equal(match(m, CPM_GET, "/"), CPM_MATCH_NO_PATH);
    assert_int_equal(match(m, CPM_GET, "//"), CPM_MATCH_NO_PATH);
}

static void test_table_is_sane(void **state)
{
    (void)state;
    for (size_t i = 0; i < cpm_routes_count; i++) {
        const struct cpm_route *r = &cpm_routes[i];
        assert_non_null(r->handler);
        assert_true(r->path[0] == '/');
        /* public and session routes need no scope; every other route names one */
        assert_true(r->access == CPM_ACCESS_PUBLIC || r->access == CPM_ACCESS_SESSION ||
                    r->scope != 0);
        assert_false(r->has_body && r->method == CPM_GET);
        for (size_t j = i + 1; j < cpm_routes_count; j++)
            assert_false(r->method == cpm_routes[j].method &&
                         strcmp(r->path, cpm_routes[j].path) == 0);
    }
}

static void test_scopes(void **state)
{
    (void)state;
    assert_int_equal(cpm_scope_parse("consents:write"), CPM_SCOPE_CONSENTS_WRITE);
    assert_int_equal(cpm_scope_parse("root"), 0);
    assert_true(cpm_scopes_allow(CPM_SCOPE_ADMIN, CPM_SCOPE_CONFIG));
    assert_true(cpm_scopes_allow(CPM_SCOPE_CONFIG | CPM_SCOPE_EXPORT, CPM_SCOPE_CONFIG));
    assert_false(cpm_scopes_allow(CPM_SCOPE_EXPORT, CPM_SCOPE_CONFIG));
    assert_false(cpm_scopes_allow(CPM_SCOPE_CONFIG, CPM_SCOPE_ADMIN));
    char text[CPM_SCOPES_TEXT_BYTES];
    cpm_scopes_format(CPM_SCOPE_CONFIG | CPM_SCOPE_LEDGER_READ, text, sizeof(text));
    assert_string_equal(text, "config ledger:read");
}

static void test_listen_parsing(void **state)
{
    (void)state;
    struct cpm_http_options o;
    struct cpm_detail d;
    cpm_detail_init(&d);
    assert_int_equal(cpm_http_parse_listen("127.0.0.1:8080", &o, &d), CPM_OK);
    assert_string_equal(o.host, "127.0.0.1");
    assert_int_equal(o.port, 8080);
    assert_int_equal(cpm_http_parse_listen("[::1]:0", &o, &d), CPM_OK);
    assert_string_equal(o.host, "::1");
    assert_int_equal(o.port, 0);
    assert_int_equal(cpm_http_parse_listen("localhost:65535", &o, &d), CPM_OK);
    assert_int_equal(cpm_http_parse_listen("127.0.0.1", &o, &d), CPM_ERR_USAGE);
    assert_int_equal(cpm_http_parse_listen(":80", &o, &d), CPM_ERR_USAGE);
    assert_int_equal(cpm_http_parse_listen("h:65536", &o, &d), CPM_ERR_USAGE);
    assert_int_equal(cpm_http_parse_listen("h:x", &o, &d), CPM_ERR_USAGE);
}

static void test_key_hash(void **state)
{
    (void)state;
    uint8_t a[CPM_API_KEY_HASH_BYTES], b[CPM_API_KEY_HASH_BYTES];
    cpm_api_key_hash("cpm_x", 5, a);
    cpm_api_key_hash("cpm_y", 5, b);
    assert_memory_not_equal(a, b, sizeof(a));
    /* SHA-256("abc") */
    static const uint8_t abc[4] = {0xba, 0x78, 0x16, 0xbf};
    cpm_api_key_hash("abc", 3, a);
    assert_memory_equal(a, abc, sizeof(abc));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_matching, matching_setup, matching_teardown),
        cmocka_unit_test_setup_teardown(test_every_route_is_found, matching_setup,
                                        matching_teardown),
        cmocka_unit_test_setup_teardown(test_literal_beside_capture, matching_setup,
                                        matching_teardown),
        cmocka_unit_test(test_table_is_sane),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_listen_parsing),
        cmocka_unit_test(test_key_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
