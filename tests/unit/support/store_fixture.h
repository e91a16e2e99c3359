/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_fixture.h — a real SQLite store in a fresh temporary directory for
 * the store's unit tests, and a one-number query on its connection.
 * Header-only, included after cmocka.h and support/fixture.h.
 */
#ifndef CPM_TEST_STORE_FIXTURE_H
#define CPM_TEST_STORE_FIXTURE_H

#include <stdlib.h>

#include "core/alloc.h"
#include "store/sqlite.h"
#include "store/store.h"

#define FIXTURE_DIR_BYTES 64

/* Opens a store in a new directory made from prefix ("/tmp/cpm-x"); NULL on failure. */
static inline struct cpm_store *fixture_store_open(char dir[FIXTURE_DIR_BYTES], const char *prefix)
{
    struct cpm_detail detail;
    struct cpm_store *store = NULL;
    snprintf(dir, FIXTURE_DIR_BYTES, "%s-XXXXXX", prefix);
    cpm_detail_init(&detail);
    if (mkdtemp(dir) == NULL || cpm_store_open(dir, &store, &detail) != CPM_OK)
        return NULL;
    return store;
}

/* Closes the store and removes its directory; 0 when no allocation leaked. */
static inline int fixture_store_close(struct cpm_store *store, const char *dir)
{
    cpm_store_close(store);
    fixture_rm_tree(dir);
    return cpm_alloc_bytes_in_use() == 0 ? 0 : -1;
}

/* The single integer sql answers on db. */
static inline int64_t fixture_query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

#endif /* CPM_TEST_STORE_FIXTURE_H */
