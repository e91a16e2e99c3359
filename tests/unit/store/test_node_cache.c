/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_node_cache.c — the tree's upper levels in memory (store/node_cache.c):
 * filled by the writer as it commits and loaded from the store at start,
 * equal to the stored nodes, and ignoring nodes that come out of order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "support/fixture.h"
#include "support/store_fixture.h"

#include "core/alloc.h"
#include "ledger/merkle.h"
#include "store/node_cache.h"
#include "store/writer.h"

#define EVENTS 700 /* two complete nodes at level 8, one at level 9 */

static void fill(struct cpm_store *store, struct cpm_node_cache *nodes)
{
    struct cpm_writer *w = NULL;
    assert_int_equal(cpm_writer_start(store, nodes, NULL, &w), CPM_OK);
    for (int i = 0; i < EVENTS; i++) {
        struct cpm_event e = {.time_ms = 1};
        snprintf(e.id, sizeof(e.id), "evt_%d", i);
        cpm_strlcpy(e.type, "config.created", sizeof(e.type));
        char leaf[32];
        snprintf(leaf, sizeof(leaf), "{\"n\":%d}", i);
        e.leaf = leaf;
        e.leaf_len = strlen(leaf);
        struct cpm_write_request r = {.events = &e, .event_count = 1};
        assert_int_equal(cpm_writer_submit(w, &r), CPM_OK);
    }
    cpm_writer_stop(w);
}

static void test_cache_equals_store(void **state)
{
    (void)state;
    char dir[FIXTURE_DIR_BYTES];
    struct cpm_store *store = fixture_store_open(dir, "/tmp/cpm-nodes");
    assert_non_null(store);
    struct cpm_node_cache *live = NULL, *loaded = NULL;
    assert_int_equal(cpm_node_cache_new(store, &live), CPM_OK); /* empty store */
    fill(store, live);
    assert_int_equal(cpm_node_cache_new(store, &loaded), CPM_OK);
    const struct {
        unsigned level;
        uint64_t index;
    } nodes[] = {{8, 0}, {8, 1}, {9, 0}, {0, 5}, {3, 80}};
    for (size_t i = 0; i < CPM_ARRAY_LEN(nodes); i++) {
        uint8_t stored[32], a[32], b[32];
        assert_int_equal(store->ops->merkle_node_get(store, nodes[i].level, nodes[i].index, stored),
                         CPM_OK);
        assert_int_equal(cpm_node_cache_get(live, nodes[i].level, nodes[i].index, a), CPM_OK);
        assert_int_equal(cpm_node_cache_get(loaded, nodes[i].level, nodes[i].index, b), CPM_OK);
        assert_memory_equal(stored, a, 32);
        assert_memory_equal(stored, b, 32);
    }
    uint8_t root_store[32], root_cache[32], absent[32];
    assert_int_equal(cpm_merkle_root(EVENTS, cpm_node_cache_get, live, root_cache), CPM_OK);
    struct cpm_merkle_frontier f;
    assert_int_equal(cpm_merkle_frontier_load(&f, EVENTS, cpm_node_cache_get, loaded), CPM_OK);
    cpm_merkle_frontier_root(&f, root_store);
    assert_memory_equal(root_store, root_cache, 32);
    /* Out of order: not cached, and the store still answers (here: absent). */
    struct cpm_merkle_node far = {.level = 8, .index = 9};
    memset(far.hash, 0xab, 32);
    cpm_node_cache_add(live, &far);
    assert_int_equal(cpm_node_cache_get(live, 8, 9, absent), CPM_ERR_NOT_FOUND);
    cpm_node_cache_free(live);
    cpm_node_cache_free(loaded);
    /* a level read whole must be whole: a missing node is a damaged store */
    assert_int_equal(sqlite3_exec(cpm__sqlite_db(store),
                                  "DELETE FROM merkle_nodes WHERE level = 8 AND idx = 1", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    struct cpm_node_cache *damaged = NULL;
    assert_int_equal(cpm_node_cache_new(store, &damaged), CPM_ERR_STORE);
    assert_null(damaged);
    assert_int_equal(fixture_store_close(store, dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cache_equals_store)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
