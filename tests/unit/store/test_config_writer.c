/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config_writer.c — configuration written through the one path
 * (store/config_writer.c) into a real SQLite store: rules before writes,
 * conflicts explained, and every allocation failure answered cleanly with
 * nothing half-written and nothing leaked (SQLite's failure-injection idea,
 * applied to our allocator).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "support/fixture.h"
#include "support/store_fixture.h"

#include <ftw.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "store/config_writer.h"

#define FAULT_STEPS_MAX 400 /* far more allocations than one create makes */

static char dir[FIXTURE_DIR_BYTES];
static struct cpm_store *store;

static int setup(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    cpm_detail_init(&d);
    if ((store = fixture_store_open(dir, "/tmp/cpm-writer")) == NULL)
        return -1;
    json_t *property =
        J("{'id':'shop','name':'Shop','kind':'web','locales':['en'],'default_locale':'en'}");
    json_t *notice = J("{'id':'privacy','name':'Privacy','default_locale':'en'}");
    cpm_err err = cpm_config_create(store, CPM_DOC_PROPERTY, property, &d);
    if (err == CPM_OK)
        err = cpm_config_create(store, CPM_DOC_NOTICE, notice, &d);
    json_decref(property);
    json_decref(notice);
    return err == CPM_OK ? 0 : -1;
}

static int teardown(void **state)
{
    CPM_UNUSED(state);
    cpm_store_close(store);
    fixture_rm_tree(dir);
    return 0;
}

static json_t *purpose(const char *id)
{
    json_t *p = J("{'name':{'en':'SMS'},'legal_basis':'consent','consent_form':'general',"
                  "'retention':'P1Y'}");
    json_object_set_new(p, "id", json_string(id));
    return p;
}

static bool stored(enum cpm_doc_kind kind, const char *id)
{
    json_t *doc = NULL;
    cpm_err err = cpm_config_read(store, kind, id, &doc, NULL);
    json_decref(doc);
    return err == CPM_OK;
}

static void test_rules_before_writes(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    cpm_detail_init(&d);
    json_t *bad = purpose("bad.one");
    json_object_set_new(bad, "legal_basis", json_string("whim"));
    assert_int_equal(cpm_config_create(store, CPM_DOC_PURPOSE, bad, &d), CPM_ERR_VALIDATION);
    expect(&d, "legal_basis", "unknown value 'whim'");
    assert_false(stored(CPM_DOC_PURPOSE, "bad.one"));
    json_decref(bad);
}

static void test_conflicts_are_explained(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    json_t *p = purpose("dup.one");
    cpm_detail_init(&d);
    assert_int_equal(cpm_config_create(store, CPM_DOC_PURPOSE, p, &d), CPM_OK);
    cpm_detail_init(&d);
    assert_int_equal(cpm_config_create(store, CPM_DOC_PURPOSE, p, &d), CPM_ERR_CONFLICT);
    expect(&d, "id", "a purpose 'dup.one' already exists");
    json_decref(p);

    const char *policy = "{'id':'%s','region':'CN','property':'shop','notice':'privacy',"
                         "'purposes':[{'purpose':'dup.one'}]}";
    char text[256];
    snprintf(text, sizeof(text), policy, "cn-1");
    json_t *first = J(text);
    snprintf(text, sizeof(text), policy, "cn-2");
    json_t *second = J(text);
    cpm_detail_init(&d);
    assert_int_equal(cpm_config_create(store, CPM_DOC_POLICY, first, &d), CPM_OK);
    cpm_detail_init(&d);
    assert_int_equal(cpm_config_create(store, CPM_DOC_POLICY, second, &d), CPM_ERR_CONFLICT);
    expect(&d, "region", "another policy already covers");
    assert_false(stored(CPM_DOC_POLICY, "cn-2"));
    json_decref(first);
    json_decref(second);
}

static void test_update_checks_revision(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    json_t *p = purpose("rev.one"), *doc = NULL;
    int64_t revision = 0;
    cpm_detail_init(&d);
    assert_int_equal(cpm_config_create(store, CPM_DOC_PURPOSE, p, &d), CPM_OK);
    assert_int_equal(cpm_config_read(store, CPM_DOC_PURPOSE, "rev.one", &doc, &revision), CPM_OK);
    assert_int_equal(revision, 1);
    json_object_set_new(doc, "retention", json_string("P2Y"));
    assert_int_equal(cpm_config_update(store, CPM_DOC_PURPOSE, doc, 1, &d), CPM_OK);
    assert_int_equal(cpm_config_update(store, CPM_DOC_PURPOSE, doc, 1, &d), CPM_ERR_PRECONDITION);
    json_decref(doc);
    json_decref(p);
}

/* Fails the n-th allocation for n = 0, 1, 2, … until a create succeeds. */
static void test_every_allocation_failure(void **state)
{
    CPM_UNUSED(state);
    bool succeeded = false;
    for (int n = 0; n < FAULT_STEPS_MAX && !succeeded; n++) {
        char id[32];
        snprintf(id, sizeof(id), "fault.%d", n);
        json_t *doc = purpose(id);
        struct cpm_detail d;
        cpm_detail_init(&d);
        int64_t before = cpm_alloc_bytes_in_use();
        cpm_alloc_fail_after(n);
        cpm_err err = cpm_config_create(store, CPM_DOC_PURPOSE, doc, &d);
        cpm_alloc_fail_after(-1);
        json_decref(doc);
        if (err != CPM_OK && err != CPM_ERR_NOMEM && err != CPM_ERR_STORE)
            fail_msg("allocation %d failing gave %s", n, cpm_err_code(err));
        assert_int_equal(stored(CPM_DOC_PURPOSE, id), err == CPM_OK);
        assert_true(cpm_alloc_bytes_in_use() <= before);
        succeeded = err == CPM_OK;
        if (succeeded)
            print_message("create succeeded once %d allocations could; every earlier "
                          "failure was answered cleanly\n",
                          n);
    }
    assert_true(succeeded);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_before_writes),
        cmocka_unit_test(test_conflicts_are_explained),
        cmocka_unit_test(test_update_checks_revision),
        cmocka_unit_test(test_every_allocation_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
