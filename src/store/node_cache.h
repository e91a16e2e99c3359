/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node_cache.h — the Merkle tree's upper levels in memory.
 *
 * Nodes at level CPM_NODE_CACHE_LEVEL_MIN and above (one per 256 leaves and
 * up: 1/128 of the tree's nodes) are kept in memory, loaded at start and
 * appended by the writer after each commit, so an inclusion proof reads only
 * its lowest levels from the store. Append-only and never moved: readers take
 * no lock (a release/acquire count per level publishes new nodes).
 *
 * Thread safety: one writer thread appends; any thread gets.
 */
#ifndef CPM_STORE_NODE_CACHE_H
#define CPM_STORE_NODE_CACHE_H

#include "store/store.h"

#define CPM_NODE_CACHE_LEVEL_MIN 8

struct cpm_node_cache;

/* Loads the cached levels of the store's tree (size from the store). */
cpm_err cpm_node_cache_new(struct cpm_store *store, struct cpm_node_cache **out) CPM_MUST_CHECK;
void cpm_node_cache_free(struct cpm_node_cache *cache);

/* Writer thread only: a committed node. Out-of-order nodes are not cached. */
void cpm_node_cache_add(struct cpm_node_cache *cache, const struct cpm_merkle_node *node);

/* A cpm_merkle_node_fn (ctx: the cache): memory when cached, else the store. */
cpm_err cpm_node_cache_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32]);

#endif /* CPM_STORE_NODE_CACHE_H */
