/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_openapi_routes.c — docs/openapi.yaml (embedded as cpm_openapi_json)
 * and the route table (src/api/routes.c) describe the same API: the same
 * (method, path) pairs both ways, the same access (public routes declare
 * `security: []`, scoped ones the scope as the apiKey role, the admin
 * console's session routes the sessionCookie scheme alone), and every
 * operation documents its errors as problem documents and X-Request-Id
 * (and a body it takes: JSON with 400 and 415, a streamed one with 415).
 * Each failure lists every mismatch found.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

#include "api/openapi.h"
#include "http/auth.h"
#include "http/router.h"

#define REPORT_BYTES_MAX 8192
#define REF_DEPTH_MAX    8
#define PROBLEM_SCHEMA   "#/components/schemas/Problem"
#define SECURITY_SCHEME  "apiKey"
#define END_USER_SCHEME  "endUserToken"
#define DEVICE_SCHEME    "deviceCredential"
#define SESSION_SCHEME   "sessionCookie"

/* Mismatches found so far, one per line. */
struct report {
    char text[REPORT_BYTES_MAX];
    size_t len;
    int count;
};

static void report_add(struct report *r, const char *fmt, ...) CPM_PRINTF(2, 3);

static void report_add(struct report *r, const char *fmt, ...)
{
    r->count++;
    if (r->len + 2 >= sizeof(r->text))
        return;
    r->text[r->len++] = '\n';
    r->text[r->len++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->text + r->len, sizeof(r->text) - r->len, fmt, ap);
    va_end(ap);
    size_t room = sizeof(r->text) - r->len - 1;
    if (n > 0)
        r->len += (size_t)n < room ? (size_t)n : room;
}

static void report_check(const struct report *r, const char *what)
{
    if (r->count > 0)
        fail_msg("%d %s:%s", r->count, what, r->text);
}

static json_t *load_doc(void)
{
    assert_int_equal(strlen(cpm_openapi_json), cpm_openapi_json_len);
    json_error_t error;
    json_t *doc =
        json_loadb(cpm_openapi_json, cpm_openapi_json_len, JSON_REJECT_DUPLICATES, &error);
    if (doc == NULL)
        fail_msg("cpm_openapi_json is not JSON: line %d: %s", error.line, error.text);
    assert_true(json_is_object(json_object_get(doc, "paths")));
    return doc;
}

/* The OpenAPI key of a method: "get", "post", … */
static void method_key(enum cpm_method method, char *out, size_t size)
{
    const char *name = cpm_method_name(method);
    size_t i = 0;
    for (; name[i] != '\0' && i + 1 < size; i++)
        out[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    out[i] = '\0';
}

static bool is_operation_key(const char *key)
{
    static const char *const keys[] = {"get",     "put",  "post",  "delete",
                                       "options", "head", "patch", "trace"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(keys); i++)
        if (strcmp(keys[i], key) == 0)
            return true;
    return false;
}

/* The operation of route in doc, or NULL. */
static json_t *operation_of(json_t *doc, const struct cpm_route *route)
{
    char key[16];
    method_key(route->method, key, sizeof(key));
    return json_object_get(json_object_get(json_object_get(doc, "paths"), route->path), key);
}

static const struct cpm_route *route_of(const char *method_key_text, const char *path)
{
    for (size_t i = 0; i < cpm_routes_count; i++) {
        char key[16];
        method_key(cpm_routes[i].method, key, sizeof(key));
        if (strcmp(key, method_key_text) == 0 && strcmp(cpm_routes[i].path, path) == 0)
            return &cpm_routes[i];
    }
    return NULL;
}

/* Follows local "$ref"s ("#/components/…", no escapes needed here); NULL when dangling. */
static json_t *resolve(json_t *doc, json_t *node)
{
    for (int depth = 0; node != NULL && depth < REF_DEPTH_MAX; depth++) {
        const char *ref = json_string_value(json_object_get(node, "$ref"));
        if (ref == NULL)
            return node;
        if (strncmp(ref, "#/", 2) != 0)
            return NULL;
        node = doc;
        char segment[128];
        for (const char *p = ref + 2; node != NULL && *p != '\0';) {
            size_t len = strcspn(p, "/");
            if (len >= sizeof(segment))
                return NULL;
            memcpy(segment, p, len);
            segment[len] = '\0';
            node = json_object_get(node, segment);
            p += len + (p[len] == '/');
        }
    }
    return node;
}

static void test_embedded_document(void **state)
{
    CPM_UNUSED(state);
    json_t *doc = load_doc();
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_t *scheme = json_object_get(
        json_object_get(json_object_get(doc, "components"), "securitySchemes"), SECURITY_SCHEME);
    assert_string_equal(json_string_value(json_object_get(scheme, "type")), "http");
    assert_string_equal(json_string_value(json_object_get(scheme, "scheme")), "bearer");
    json_t *ref = json_pack("{s:s}", "$ref", PROBLEM_SCHEMA);
    assert_non_null(resolve(doc, ref));
    json_decref(ref);
    json_decref(doc);
}

static void test_routes_and_paths_agree(void **state)
{
    CPM_UNUSED(state);
    json_t *doc = load_doc();
    struct report r = {0};

    for (size_t i = 0; i < cpm_routes_count; i++) {
        const struct cpm_route *route = &cpm_routes[i];
        const char *method = cpm_method_name(route->method);
        if (!json_is_object(operation_of(doc, route)))
            report_add(&r, "route %s %s is not in docs/openapi.yaml", method, route->path);
        for (size_t j = 0; j < i; j++)
            if (cpm_routes[j].method == route->method &&
                strcmp(cpm_routes[j].path, route->path) == 0)
                report_add(&r, "route %s %s is in the route table twice", method, route->path);
    }

    const char *path, *key;
    json_t *item, *op;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        json_object_foreach(item, key, op)
        {
            if (is_operation_key(key) && route_of(key, path) == NULL)
                report_add(&r, "docs/openapi.yaml has %s %s, which src/api/routes.c lacks", key,
                           path);
        }
    }
    json_decref(doc);
    report_check(&r, "mismatches between the route table and docs/openapi.yaml");
}

static void test_security_matches_access(void **state)
{
    CPM_UNUSED(state);
    json_t *doc = load_doc();
    struct report r = {0};

    for (size_t i = 0; i < cpm_routes_count; i++) {
        const struct cpm_route *route = &cpm_routes[i];
        const char *method = cpm_method_name(route->method);
        json_t *op = operation_of(doc, route);
        if (op == NULL)
            continue; /* reported by test_routes_and_paths_agree */
        json_t *security = json_object_get(op, "security");
        if (!json_is_array(security)) {
            report_add(&r, "%s %s: no operation-level `security`", method, route->path);
            continue;
        }
        if (route->access == CPM_ACCESS_PUBLIC) {
            if (json_array_size(security) != 0)
                report_add(&r, "%s %s is public: expected `security: []`", method, route->path);
            continue;
        }
        if (route->access == CPM_ACCESS_SESSION) { /* the console's cookie alone */
            json_t *cookie = json_object_get(json_array_get(security, 0), SESSION_SCHEME);
            if (json_array_size(security) != 1 || !json_is_array(cookie) ||
                json_array_size(cookie) != 0)
                report_add(&r, "%s %s takes the console's session: expected `security: [{%s: []}]`",
                           method, route->path, SESSION_SCHEME);
            continue;
        }
        char want[CPM_SCOPES_TEXT_BYTES], got[CPM_SCOPES_TEXT_BYTES] = "";
        cpm_scopes_format(route->scope, want, sizeof(want));
        json_t *roles = json_object_get(json_array_get(security, 0), SECURITY_SCHEME);
        size_t j;
        json_t *role;
        json_array_foreach(roles, j, role)
        {
            size_t used = strlen(got);
            snprintf(got + used, sizeof(got) - used, "%s%s", used ? " " : "",
                     json_is_string(role) ? json_string_value(role) : "?");
        }
        /*
         * a subject route also takes an end-user token and a device credential: a second
         * and a third requirement, no roles
         */
        size_t expected = route->access == CPM_ACCESS_SUBJECT ? 3 : 1;
        json_t *end_user = json_object_get(json_array_get(security, 1), END_USER_SCHEME);
        json_t *device = json_object_get(json_array_get(security, 2), DEVICE_SCHEME);
        bool end_user_ok =
            expected == 1 || (json_is_array(end_user) && json_array_size(end_user) == 0 &&
                              json_is_array(device) && json_array_size(device) == 0);
        if (json_array_size(security) != expected || !json_is_array(roles) ||
            strcmp(got, want) != 0 || !end_user_ok)
            report_add(&r,
                       "%s %s needs scope '%s'%s: expected `security: [{%s: [%s]}%s]`, found %zu "
                       "requirement(s), the first with roles [%s]",
                       method, route->path, want,
                       expected == 3 ? " or an end-user token or a device credential" : "",
                       SECURITY_SCHEME, want,
                       expected == 3 ? ", {" END_USER_SCHEME ": []}, {" DEVICE_SCHEME ": []}" : "",
                       json_array_size(security), got);
    }
    json_decref(doc);
    report_check(&r, "operations whose security differs from the route table");
}

/* True when response (resolved) is an application/problem+json Problem. */
static bool is_problem(json_t *doc, json_t *response)
{
    json_t *media =
        json_object_get(json_object_get(response, "content"), "application/problem+json");
    const char *ref = json_string_value(json_object_get(json_object_get(media, "schema"), "$ref"));
    return ref != NULL && strcmp(ref, PROBLEM_SCHEMA) == 0 && resolve(doc, media) != NULL;
}

static void check_responses(json_t *doc, const struct cpm_route *route, json_t *op,
                            struct report *r)
{
    const char *method = cpm_method_name(route->method), *status;
    json_t *responses = json_object_get(op, "responses"), *response;
    int errors = 0;
    json_object_foreach(responses, status, response)
    {
        json_t *resolved = resolve(doc, response);
        if (resolved == NULL) {
            report_add(r, "%s %s: response %s is a dangling $ref", method, route->path, status);
            continue;
        }
        if (json_object_get(json_object_get(resolved, "headers"), "X-Request-Id") == NULL)
            report_add(r, "%s %s: response %s does not document X-Request-Id", method, route->path,
                       status);
        if (status[0] == '4' || status[0] == '5') {
            errors++;
            if (!is_problem(doc, resolved))
                report_add(r, "%s %s: response %s is not application/problem+json Problem", method,
                           route->path, status);
        }
    }
    if (errors == 0)
        report_add(r, "%s %s: no 4xx/5xx response documented", method, route->path);
    if (route->access != CPM_ACCESS_PUBLIC &&
        (json_object_get(responses, "401") == NULL || json_object_get(responses, "403") == NULL))
        report_add(r, "%s %s needs a key: document 401 and 403", method, route->path);
    if (route->has_body == CPM_BODY_JSON) {
        json_t *body = resolve(doc, json_object_get(op, "requestBody"));
        if (json_object_get(json_object_get(body, "content"), "application/json") == NULL)
            report_add(r, "%s %s takes a body: document an application/json requestBody", method,
                       route->path);
        if (json_object_get(responses, "400") == NULL || json_object_get(responses, "415") == NULL)
            report_add(r, "%s %s takes a body: document 400 and 415", method, route->path);
    }
    if (route->has_body == CPM_BODY_STREAM) {
        json_t *body = resolve(doc, json_object_get(op, "requestBody"));
        if (json_object_size(json_object_get(body, "content")) == 0 ||
            json_object_get(responses, "415") == NULL)
            report_add(r, "%s %s streams a body: document its requestBody and 415", method,
                       route->path);
    }
}

static void test_operations_are_documented(void **state)
{
    CPM_UNUSED(state);
    json_t *doc = load_doc();
    json_t *ids = json_object();
    struct report r = {0};

    for (size_t i = 0; i < cpm_routes_count; i++) {
        const struct cpm_route *route = &cpm_routes[i];
        const char *method = cpm_method_name(route->method);
        json_t *op = operation_of(doc, route);
        if (op == NULL)
            continue; /* reported by test_routes_and_paths_agree */
        const char *id = json_string_value(json_object_get(op, "operationId"));
        if (id == NULL || id[0] == '\0')
            report_add(&r, "%s %s: no operationId", method, route->path);
        else if (json_object_get(ids, id) != NULL)
            report_add(&r, "%s %s: operationId '%s' is used twice", method, route->path, id);
        else
            json_object_set_new(ids, id, json_true());
        check_responses(doc, route, op, &r);
    }
    json_decref(ids);
    json_decref(doc);
    report_check(&r, "operations not fully documented");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_document),
        cmocka_unit_test(test_routes_and_paths_agree),
        cmocka_unit_test(test_security_matches_access),
        cmocka_unit_test(test_operations_are_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
