/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_sqlite.c — the SQLite store and the data directory, against
 * real files in a fresh mkdtemp directory per test: schema and pragmas,
 * migrations refusing a newer schema, documents, notice versions (and their
 * immutability in the database itself), API keys, and key files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "support/fixture.h"
#include "support/store_fixture.h"

#include "core/common.h"

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "store/datadir.h"
#include "store/sqlite.h"
#include "store/store.h"

struct fixture {
    char dir[FIXTURE_DIR_BYTES];
    char db_path[128];
    struct cpm_store *store;
};

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    f.store = fixture_store_open(f.dir, "/tmp/cpm-store");
    snprintf(f.db_path, sizeof(f.db_path), "%s/%s", f.dir, CPM_STORE_SQLITE_FILE);
    *state = &f;
    return f.store != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    return fixture_store_close(f->store, f->dir);
}

/* Runs sql on the file with a separate connection; returns the sqlite3 result code. */
static int raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 1000);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static size_t read_file(const char *path, unsigned char *buf, size_t size)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, size, fp);
    assert_true(feof(fp)); /* read whole */
    fclose(fp);
    return n;
}

struct seen {
    int count;
    char ids[8][CPM_ID_BYTES_MAX + 1];
    int64_t numbers[8];
};

static cpm_err see_doc(void *ctx, const struct cpm_doc *doc)
{
    struct seen *s = ctx;
    cpm_strlcpy(s->ids[s->count], doc->id, sizeof(s->ids[0]));
    s->numbers[s->count++] = doc->revision;
    return CPM_OK;
}

static cpm_err see_version(void *ctx, const struct cpm_notice_version *v)
{
    struct seen *s = ctx;
    s->numbers[s->count++] = v->version;
    return CPM_OK;
}

static cpm_err see_key(void *ctx, const struct cpm_api_key *key)
{
    struct seen *s = ctx;
    cpm_strlcpy(s->ids[s->count], key->id, sizeof(s->ids[0]));
    s->numbers[s->count++] = key->revoked_ms;
    return CPM_OK;
}

static void test_open_creates_schema(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    int version = 0;
    assert_string_equal(ops->name, "sqlite");
    assert_int_equal(ops->ping(f->store), CPM_OK);
    assert_int_equal(ops->schema_version(f->store, &version), CPM_OK);
    assert_int_equal(version, CPM_SCHEMA_VERSION);
    sqlite3 *db = cpm__sqlite_db(f->store);
    assert_int_equal(fixture_query_int(db,
                                       "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
                                       " name IN ('config_docs', 'notice_versions', 'api_keys')"),
                     3);
    /*
     * notice versions ×2, events ×2, events of an erased subject, checkpoints ×2, deliveries,
     * rights requests ×3
     */
    assert_int_equal(
        fixture_query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 11);
}

static void test_pragmas(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = cpm__sqlite_db(f->store);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(fixture_query_int(db, "PRAGMA synchronous"), 2);
    assert_int_equal(fixture_query_int(db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(fixture_query_int(db, "PRAGMA busy_timeout"), CPM_STORE_BUSY_TIMEOUT_MS);
}

static void test_reopen_keeps_data(void **state)
{
    struct fixture *f = *state;
    struct cpm_detail detail;
    struct cpm_doc doc;
    assert_int_equal(
        f->store->ops->doc_create(f->store, CPM_DOC_PURPOSE, "analytics", NULL, "{\"a\":1}", 1000),
        CPM_OK);
    cpm_store_close(f->store);
    f->store = NULL;
    cpm_detail_init(&detail);
    assert_int_equal(cpm_store_open(f->dir, &f->store, &detail), CPM_OK);
    assert_int_equal(f->store->ops->doc_get(f->store, CPM_DOC_PURPOSE, "analytics", &doc), CPM_OK);
    assert_string_equal(doc.body, "{\"a\":1}");
    assert_int_equal(doc.created_ms, 1000);
    cpm_doc_release(&doc);
}

static void test_schema_too_new(void **state)
{
    struct fixture *f = *state;
    static unsigned char before[1 << 20], after[1 << 20];
    struct cpm_detail detail;
    cpm_store_close(f->store);
    f->store = NULL;
    assert_int_equal(raw_exec(f->db_path, "PRAGMA user_version = 99"), SQLITE_OK);
    size_t before_bytes = read_file(f->db_path, before, sizeof(before));
    cpm_detail_init(&detail);
    assert_int_equal(cpm_store_open(f->dir, &f->store, &detail), CPM_ERR_SCHEMA_TOO_NEW);
    assert_null(f->store);
    assert_int_equal(detail.count, 1);
    assert_non_null(strstr(detail.faults[0].message, "schema version 99"));
    char knows[32];
    snprintf(knows, sizeof(knows), "knows up to %d", CPM_SCHEMA_VERSION);
    assert_non_null(strstr(detail.faults[0].message, knows));
    assert_non_null(strstr(detail.faults[0].message, f->db_path));
    size_t after_bytes = read_file(f->db_path, after, sizeof(after));
    assert_int_equal(before_bytes, after_bytes);
    assert_memory_equal(before, after, before_bytes);
}

static void test_docs(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_doc doc;
    int64_t revision = 0;
    assert_int_equal(ops->doc_create(f->store, CPM_DOC_NOTICE, "privacy", NULL, "{}", 10), CPM_OK);
    assert_int_equal(ops->doc_get(f->store, CPM_DOC_NOTICE, "privacy", &doc), CPM_OK);
    assert_string_equal(doc.id, "privacy");
    assert_int_equal(doc.revision, 1);
    cpm_doc_release(&doc);
    assert_int_equal(
        ops->doc_update(f->store, CPM_DOC_NOTICE, "privacy", NULL, "{\"v\":2}", 1, 20, &revision),
        CPM_OK);
    assert_int_equal(revision, 2);
    assert_int_equal(
        ops->doc_update(f->store, CPM_DOC_NOTICE, "privacy", NULL, "{\"v\":3}", 0, 30, &revision),
        CPM_OK);
    assert_int_equal(revision, 3);
    assert_int_equal(ops->doc_get(f->store, CPM_DOC_NOTICE, "privacy", &doc), CPM_OK);
    assert_string_equal(doc.body, "{\"v\":3}");
    assert_int_equal(doc.revision, 3);
    assert_int_equal(doc.created_ms, 10);
    assert_int_equal(doc.updated_ms, 30);
    cpm_doc_release(&doc);
    assert_int_equal(ops->doc_get(f->store, CPM_DOC_PURPOSE, "privacy", &doc), CPM_ERR_NOT_FOUND);
    assert_int_equal(
        ops->doc_update(f->store, CPM_DOC_NOTICE, "privacy", NULL, "{}", 2, 40, &revision),
        CPM_ERR_PRECONDITION);
    assert_int_equal(
        ops->doc_update(f->store, CPM_DOC_NOTICE, "missing", NULL, "{}", 0, 40, &revision),
        CPM_ERR_NOT_FOUND);
}

static void test_doc_list_pages(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    static const char *const ids[] = {"e", "a", "d", "b", "c"};
    struct seen seen = {0};
    for (size_t i = 0; i < CPM_ARRAY_LEN(ids); i++)
        assert_int_equal(ops->doc_create(f->store, CPM_DOC_PROPERTY, ids[i], NULL, "{}", 1),
                         CPM_OK);
    assert_int_equal(ops->doc_create(f->store, CPM_DOC_PURPOSE, "other", NULL, "{}", 1), CPM_OK);
    assert_int_equal(ops->doc_list(f->store, CPM_DOC_PROPERTY, NULL, 2, see_doc, &seen), CPM_OK);
    assert_int_equal(seen.count, 2);
    assert_string_equal(seen.ids[0], "a");
    assert_string_equal(seen.ids[1], "b");
    assert_int_equal(ops->doc_list(f->store, CPM_DOC_PROPERTY, "b", 10, see_doc, &seen), CPM_OK);
    assert_int_equal(seen.count, 5);
    assert_string_equal(seen.ids[2], "c");
    assert_string_equal(seen.ids[4], "e");
    assert_int_equal(ops->doc_list(f->store, CPM_DOC_PROPERTY, "e", 10, see_doc, &seen), CPM_OK);
    assert_int_equal(seen.count, 5);
}

static void test_doc_conflicts(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_store *s = f->store;
    int64_t rev = 0;
    assert_int_equal(ops->doc_create(s, CPM_DOC_POLICY, "p1", "cn|web", "{}", 1), CPM_OK);
    assert_int_equal(ops->doc_create(s, CPM_DOC_POLICY, "p1", "eu|web", "{}", 1), CPM_ERR_CONFLICT);
    assert_int_equal(ops->doc_create(s, CPM_DOC_POLICY, "p2", "cn|web", "{}", 1), CPM_ERR_CONFLICT);
    /* The same id or key in another kind is fine; NULL and "" keys never collide. */
    assert_int_equal(ops->doc_create(s, CPM_DOC_PURPOSE, "p1", "cn|web", "{}", 1), CPM_OK);
    assert_int_equal(ops->doc_create(s, CPM_DOC_PURPOSE, "x", NULL, "{}", 1), CPM_OK);
    assert_int_equal(ops->doc_create(s, CPM_DOC_PURPOSE, "y", "", "{}", 1), CPM_OK);
    assert_int_equal(ops->doc_create(s, CPM_DOC_PURPOSE, "z", "", "{}", 1), CPM_OK);
    assert_int_equal(ops->doc_create(s, CPM_DOC_POLICY, "p2", "eu|web", "{}", 1), CPM_OK);
    assert_int_equal(ops->doc_update(s, CPM_DOC_POLICY, "p2", "cn|web", "{}", 0, 2, &rev),
                     CPM_ERR_CONFLICT);
    /* Clearing p1's key frees it for p2. */
    assert_int_equal(ops->doc_update(s, CPM_DOC_POLICY, "p1", NULL, "{}", 0, 2, &rev), CPM_OK);
    assert_int_equal(ops->doc_update(s, CPM_DOC_POLICY, "p2", "cn|web", "{}", 0, 2, &rev), CPM_OK);
    assert_int_equal(rev, 2);
}

static void test_notice_versions(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_notice_version v;
    struct seen seen = {0};
    int64_t version = 0;
    assert_int_equal(ops->notice_version_publish(f->store, "privacy", "{}", 1, &version),
                     CPM_ERR_NOT_FOUND);
    assert_int_equal(ops->doc_create(f->store, CPM_DOC_PURPOSE, "privacy", NULL, "{}", 1), CPM_OK);
    assert_int_equal(ops->notice_version_publish(f->store, "privacy", "{}", 1, &version),
                     CPM_ERR_NOT_FOUND); /* a purpose is not a notice */
    assert_int_equal(ops->notice_version_get(f->store, "privacy", 0, &v), CPM_ERR_NOT_FOUND);
    assert_int_equal(ops->doc_create(f->store, CPM_DOC_NOTICE, "privacy", NULL, "{}", 1), CPM_OK);
    for (int64_t i = 1; i <= 3; i++) {
        char body[32];
        snprintf(body, sizeof(body), "{\"n\":%lld}", (long long)i);
        assert_int_equal(ops->notice_version_publish(f->store, "privacy", body, 100 * i, &version),
                         CPM_OK);
        assert_int_equal(version, i);
    }
    assert_int_equal(ops->notice_version_get(f->store, "privacy", 0, &v), CPM_OK);
    assert_int_equal(v.version, 3);
    assert_string_equal(v.body, "{\"n\":3}");
    cpm_notice_version_release(&v);
    assert_int_equal(ops->notice_version_get(f->store, "privacy", 2, &v), CPM_OK);
    assert_string_equal(v.notice_id, "privacy");
    assert_string_equal(v.body, "{\"n\":2}");
    assert_int_equal(v.published_ms, 200);
    cpm_notice_version_release(&v);
    assert_int_equal(ops->notice_version_get(f->store, "privacy", 4, &v), CPM_ERR_NOT_FOUND);
    assert_int_equal(ops->notice_version_list(f->store, "privacy", 1, 10, see_version, &seen),
                     CPM_OK);
    assert_int_equal(seen.count, 2);
    assert_int_equal(seen.numbers[0], 2);
    assert_int_equal(seen.numbers[1], 3);
}

static void test_notice_versions_immutable(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_notice_version v;
    assert_int_equal(ops->doc_create(f->store, CPM_DOC_NOTICE, "terms", NULL, "{}", 1), CPM_OK);
    assert_int_equal(ops->notice_version_publish(f->store, "terms", "{\"t\":1}", 5, NULL), CPM_OK);
    assert_int_equal(raw_exec(f->db_path, "UPDATE notice_versions SET body = '{}'"),
                     SQLITE_CONSTRAINT);
    assert_int_equal(raw_exec(f->db_path, "DELETE FROM notice_versions"), SQLITE_CONSTRAINT);
    assert_int_equal(ops->notice_version_get(f->store, "terms", 1, &v), CPM_OK);
    assert_string_equal(v.body, "{\"t\":1}");
    cpm_notice_version_release(&v);
}

static void test_api_keys(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_api_key k1 = {.id = "key_0001", .name = "admin", .scopes = 7, .created_ms = 10};
    struct cpm_api_key k2 = {.id = "key_0002", .name = "widget", .scopes = 1, .created_ms = 20};
    struct cpm_api_key found;
    struct seen seen = {0};
    uint8_t h1[CPM_API_KEY_HASH_BYTES], h2[CPM_API_KEY_HASH_BYTES], h3[CPM_API_KEY_HASH_BYTES];
    memset(h1, 1, sizeof(h1));
    memset(h2, 2, sizeof(h2));
    memset(h3, 3, sizeof(h3));
    assert_int_equal(ops->api_key_insert(f->store, &k1, h1), CPM_OK);
    assert_int_equal(ops->api_key_insert(f->store, &k2, h1), CPM_ERR_CONFLICT);
    assert_int_equal(ops->api_key_insert(f->store, &k1, h2), CPM_ERR_CONFLICT);
    assert_int_equal(ops->api_key_insert(f->store, &k2, h2), CPM_OK);
    assert_int_equal(ops->api_key_find(f->store, h2, &found), CPM_OK);
    assert_string_equal(found.id, "key_0002");
    assert_string_equal(found.name, "widget");
    assert_int_equal(found.scopes, 1);
    assert_int_equal(found.revoked_ms, 0);
    assert_int_equal(ops->api_key_find(f->store, h3, &found), CPM_ERR_NOT_FOUND);
    assert_int_equal(ops->api_key_revoke(f->store, "key_0001", 99), CPM_OK);
    assert_int_equal(ops->api_key_revoke(f->store, "key_0001", 100), CPM_ERR_NOT_FOUND);
    assert_int_equal(ops->api_key_revoke(f->store, "key_9999", 100), CPM_ERR_NOT_FOUND);
    assert_int_equal(ops->api_key_find(f->store, h1, &found), CPM_OK);
    assert_int_equal(found.revoked_ms, 99);
    assert_int_equal(ops->api_key_list(f->store, NULL, 10, see_key, &seen), CPM_OK);
    assert_int_equal(seen.count, 2);
    assert_string_equal(seen.ids[0], "key_0001");
    assert_int_equal(seen.numbers[0], 99);
    assert_int_equal(ops->api_key_list(f->store, "key_0001", 10, see_key, &seen), CPM_OK);
    assert_int_equal(seen.count, 3);
    assert_string_equal(seen.ids[2], "key_0002");
}

/* A visitor may use the store: lists release the lock before visiting. */
static cpm_err get_again(void *ctx, const struct cpm_doc *doc)
{
    struct cpm_store *store = ctx;
    struct cpm_doc again;
    cpm_err err = store->ops->doc_get(store, CPM_DOC_PURPOSE, doc->id, &again);
    cpm_doc_release(&again);
    return err;
}

static void *create_many(void *arg)
{
    struct cpm_store *store = arg;
    static atomic_int next;
    for (int i = 0; i < 50; i++) {
        char id[32];
        snprintf(id, sizeof(id), "t%04d", atomic_fetch_add(&next, 1));
        if (store->ops->doc_create(store, CPM_DOC_PURPOSE, id, NULL, "{}", 1) != CPM_OK)
            return store;
    }
    return NULL;
}

static void test_threads_and_reentrant_visitor(void **state)
{
    struct fixture *f = *state;
    pthread_t threads[4];
    struct seen seen = {0};
    for (size_t i = 0; i < CPM_ARRAY_LEN(threads); i++)
        assert_int_equal(pthread_create(&threads[i], NULL, create_many, f->store), 0);
    for (size_t i = 0; i < CPM_ARRAY_LEN(threads); i++) {
        void *failed = NULL;
        assert_int_equal(pthread_join(threads[i], &failed), 0);
        assert_null(failed);
    }
    assert_int_equal(
        f->store->ops->doc_list(f->store, CPM_DOC_PURPOSE, NULL, 200, get_again, f->store), CPM_OK);
    assert_int_equal(f->store->ops->doc_list(f->store, CPM_DOC_PURPOSE, "t0195", 8, see_doc, &seen),
                     CPM_OK);
    assert_int_equal(seen.count, 4);
    assert_string_equal(seen.ids[3], "t0199");
}

static void assert_mode(const char *path, unsigned mode)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, mode);
}

static void test_datadir(void **state)
{
    struct fixture *f = *state;
    struct cpm_detail detail;
    struct cpm_datadir_keys keys, zero = {0};
    char dir[128], path[192];
    snprintf(dir, sizeof(dir), "%s/data", f->dir);
    cpm_detail_init(&detail);
    assert_int_equal(cpm_datadir_load_keys(dir, &keys, &detail), CPM_ERR_NOT_FOUND);
    assert_non_null(strstr(detail.faults[0].message, "cpm init --data"));
    assert_int_equal(cpm_datadir_create(dir, &detail), CPM_OK);
    assert_mode(dir, 0700);
    snprintf(path, sizeof(path), "%s/master.key", dir);
    assert_mode(path, 0600);
    assert_int_equal(cpm_datadir_load_keys(dir, &keys, &detail), CPM_OK);
    assert_memory_not_equal(keys.master, zero.master, sizeof(keys.master));
    assert_memory_not_equal(keys.master, keys.signing_seed, sizeof(keys.master));
    cpm_datadir_keys_wipe(&keys);
    assert_memory_equal(&keys, &zero, sizeof(keys));
    assert_int_equal(cpm_datadir_create(dir, &detail), CPM_ERR_EXISTS);
    /* The fixture's own directory holds cpm.db: initialised too. */
    assert_int_equal(cpm_datadir_create(f->dir, &detail), CPM_ERR_EXISTS);
    assert_int_equal(chmod(path, 0644), 0);
    cpm_detail_init(&detail);
    assert_int_equal(cpm_datadir_load_keys(dir, &keys, &detail), CPM_ERR_IO);
    assert_non_null(strstr(detail.faults[0].message, "chmod 600"));
    assert_int_equal(truncate(path, 16), 0);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(cpm_datadir_load_keys(dir, &keys, &detail), CPM_ERR_IO);
}

static void test_datadir_existing_empty(void **state)
{
    struct fixture *f = *state;
    struct cpm_detail detail;
    struct cpm_datadir_keys keys;
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/empty", f->dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    cpm_detail_init(&detail);
    assert_int_equal(cpm_datadir_load_keys(dir, &keys, &detail), CPM_ERR_NOT_FOUND);
    assert_int_equal(cpm_datadir_create(dir, &detail), CPM_OK);
    assert_mode(dir, 0700);
    assert_int_equal(cpm_datadir_load_keys(dir, &keys, &detail), CPM_OK);
    cpm_datadir_keys_wipe(&keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pragmas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_too_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_docs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doc_list_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doc_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notice_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notice_versions_immutable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_and_reentrant_visitor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_datadir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_datadir_existing_empty, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
