/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite.h — internals shared by the SQLite backend (store/sqlite.c), its
 * migrations (store/migrations/sqlite.c) and its unit tests. Other modules
 * use store.h only.
 */
#ifndef CPM_STORE_SQLITE_H
#define CPM_STORE_SQLITE_H

#include <sqlite3.h>

#include "store/store.h"

/*
 * Brings db (the file at location, named in messages) to CPM_SCHEMA_VERSION,
 * each pending migration in its own BEGIN IMMEDIATE transaction. Returns
 * CPM_ERR_SCHEMA_TOO_NEW with detail, having written nothing, when db is
 * newer; CPM_ERR_STORE when a migration fails (it is rolled back).
 */
cpm_err cpm__sqlite_migrate(sqlite3 *db, const char *location,
                            struct cpm_detail *detail) CPM_MUST_CHECK;

/* The schema version db records (PRAGMA user_version); CPM_ERR_STORE (logged). */
cpm_err cpm__sqlite_user_version(sqlite3 *db, int *out) CPM_MUST_CHECK;

/*
 * Test and diagnostics hook: the connection (borrowed) of a store opened by
 * cpm_store_sqlite_ops. Use it only while no other thread uses the store.
 */
sqlite3 *cpm__sqlite_db(struct cpm_store *store);

#endif /* CPM_STORE_SQLITE_H */
