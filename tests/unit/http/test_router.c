/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_router.c — src/http: route matching against the real table, scopes,
 * listen-address parsing, API key hashing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/common.h"
#include "http/auth.h"
#include "http/router.h"
#include "http/server.h"

static enum cpm_match match(enum cpm_method m, const char *path, const struct cpm_route **route,
                            const char *params[CPM_PATH_PARAMS_MAX], unsigned *allowed,
                            struct cpm_arena *arena)
{
    *route = NULL;
    return cpm_router_match(m, path, arena, route, params, allowed);
}

static void test_matching(void **state)
{
    (void)state;
    struct cpm_arena arena;
    cpm_arena_init(&arena, 4096);
    const struct cpm_route *r;
    const char *params[CPM_PATH_PARAMS_MAX];
    unsigned allowed;
    assert_int_equal(match(CPM_GET, "/healthz", &r, params, &allowed, &arena), CPM_MATCH_OK);
    assert_string_equal(r->path, "/healthz");
    assert_int_equal(match(CPM_GET, "/v1/purposes/marketing.sms", &r, params, &allowed, &arena),
                     CPM_MATCH_OK);
    assert_string_equal(r->path, "/v1/purposes/{id}");
    assert_string_equal(params[0], "marketing.sms");
    assert_int_equal(match(CPM_GET, "/v1/notices/privacy/versions/3", &r, params, &allowed, &arena),
                     CPM_MATCH_OK);
    assert_string_equal(params[0], "privacy");
    assert_string_equal(params[1], "3");
    assert_int_equal(match(CPM_DELETE, "/v1/purposes", &r, params, &allowed, &arena),
                     CPM_MATCH_NO_METHOD);
    assert_int_equal(allowed, CPM_GET | CPM_POST);
    assert_int_equal(match(CPM_GET, "/v1/purposes/", &r, params, &allowed, &arena),
                     CPM_MATCH_NO_PATH);
    assert_int_equal(match(CPM_GET, "/v1/purposes/a/b", &r, params, &allowed, &arena),
                     CPM_MATCH_NO_PATH);
    assert_int_equal(match(CPM_GET, "/healthz/", &r, params, &allowed, &arena), CPM_MATCH_NO_PATH);
    assert_int_equal(match(CPM_GET, "", &r, params, &allowed, &arena), CPM_MATCH_NO_PATH);
    assert_int_equal(match(CPM_GET, "healthz", &r, params, &allowed, &arena), CPM_MATCH_NO_PATH);
    assert_int_equal(match(0, "/healthz", &r, params, &allowed, &arena), CPM_MATCH_NO_METHOD);
    cpm_arena_release(&arena);
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
        cmocka_unit_test(test_matching), cmocka_unit_test(test_table_is_sane),
        cmocka_unit_test(test_scopes),   cmocka_unit_test(test_listen_parsing),
        cmocka_unit_test(test_key_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
