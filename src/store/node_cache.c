/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node_cache.c — per level, fixed chunks of hashes that never move once
 * allocated, and an atomic count of the nodes published.
 */
#include "core/common.h"

#include <stdatomic.h>

#include "core/alloc.h"
#include "core/log.h"
#include "store/node_cache.h"

#define LEVELS      64
#define CHUNK_NODES 4096
#define CHUNKS_MAX  8192 /* 33.5 M nodes per level: 8.6 G leaves at level 8 */

struct level {
    atomic_uint_least64_t count;
    uint8_t (*chunks[CHUNKS_MAX])[CPM_HASH_BYTES];
};

struct cpm_node_cache {
    struct cpm_store *store;
    struct level levels[LEVELS];
};

void cpm_node_cache_add(struct cpm_node_cache *cache, const struct cpm_merkle_node *node)
{
    if (node->level < CPM_NODE_CACHE_LEVEL_MIN || node->level >= LEVELS)
        return;
    struct level *l = &cache->levels[node->level];
    uint64_t count = atomic_load_explicit(&l->count, memory_order_relaxed);
    uint64_t chunk = node->index / CHUNK_NODES;
    if (node->index != count || chunk >= CHUNKS_MAX)
        return; /* not the next one: readers fall back to the store */
    if (l->chunks[chunk] == NULL) {
        l->chunks[chunk] = cpm_malloc(CHUNK_NODES * CPM_HASH_BYTES);
        if (l->chunks[chunk] == NULL)
            return;
    }
    memcpy(l->chunks[chunk][node->index % CHUNK_NODES], node->hash, CPM_HASH_BYTES);
    atomic_store_explicit(&l->count, count + 1, memory_order_release);
}

cpm_err cpm_node_cache_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    struct cpm_node_cache *cache = ctx;
    if (level >= CPM_NODE_CACHE_LEVEL_MIN && level < LEVELS &&
        index < atomic_load_explicit(&cache->levels[level].count, memory_order_acquire)) {
        memcpy(out, cache->levels[level].chunks[index / CHUNK_NODES][index % CHUNK_NODES],
               CPM_HASH_BYTES);
        return CPM_OK;
    }
    return cache->store->ops->merkle_node_get(cache->store, level, index, out);
}

/* Reads the complete nodes of the cached levels of a tree of size leaves, a level at a time. */
static cpm_err load(struct cpm_node_cache *cache, uint64_t size)
{
    cpm_err err = CPM_OK;
    for (unsigned level = CPM_NODE_CACHE_LEVEL_MIN;
         err == CPM_OK && level < LEVELS && (size >> level) > 0; level++) {
        uint64_t count = size >> level;
        uint8_t(*hashes)[CPM_HASH_BYTES] = cpm_malloc(count * CPM_HASH_BYTES);
        if (hashes == NULL)
            return CPM_ERR_NOMEM;
        err = cache->store->ops->merkle_level(cache->store, level, count, hashes);
        for (uint64_t i = 0; err == CPM_OK && i < count; i++) {
            struct cpm_merkle_node node = {.level = level, .index = i};
            memcpy(node.hash, hashes[i], CPM_HASH_BYTES);
            cpm_node_cache_add(cache, &node);
        }
        cpm_free(hashes);
    }
    return err;
}

cpm_err cpm_node_cache_new(struct cpm_store *store, struct cpm_node_cache **out)
{
    struct cpm_node_cache *cache = cpm_calloc(1, sizeof(*cache));
    if (cache == NULL)
        return CPM_ERR_NOMEM;
    cache->store = store;
    uint64_t size = 0;
    cpm_err err = store->ops->ledger_size(store, &size);
    if (err == CPM_OK)
        err = load(cache, size);
    if (err != CPM_OK) {
        cpm_log_error("ledger", "cannot load the tree's upper levels: %s", cpm_err_message(err));
        cpm_node_cache_free(cache);
        return err;
    }
    *out = cache;
    return CPM_OK;
}

void cpm_node_cache_free(struct cpm_node_cache *cache)
{
    if (cache == NULL)
        return;
    for (unsigned level = 0; level < LEVELS; level++)
        for (size_t c = 0; c < CHUNKS_MAX && cache->levels[level].chunks[c]; c++)
            cpm_free(cache->levels[level].chunks[c]);
    cpm_free(cache);
}
