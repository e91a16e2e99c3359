/* SPDX-License-Identifier: Apache-2.0 */
/*
 * merkle.h — the ledger's Merkle tree: RFC 6962 / RFC 9162 hashing, appends,
 * roots, and inclusion and consistency proofs with their verifiers.
 *
 * Pure: libsodium's SHA-256 only, no I/O. The tree is never held in memory.
 * Every complete subtree is stored by the caller once, as it is created, and
 * read back through a cpm_merkle_node_fn; the right edge needed to append is
 * kept in a cpm_merkle_frontier (about 2 KiB).
 *
 * Node addressing: node (level L, index i) is the hash of the complete subtree
 * over leaves [i·2^L, (i+1)·2^L); level 0 holds the leaf hashes. A node is
 * complete, and so stored, once the tree has (i+1)·2^L leaves, and never
 * changes after that.
 *
 * Cost: a root reads one node per set bit of the size; an inclusion or a
 * consistency proof reads one node per path entry plus at most one set of
 * right-edge nodes (one per set bit of the size): at most 2·⌈log2 n⌉ + 1
 * reads, never a leaf range.
 *
 * Thread safety: every function is reentrant and keeps no global state. A
 * frontier is plain data: the caller serialises its own use of one.
 */
#ifndef CPM_LEDGER_MERKLE_H
#define CPM_LEDGER_MERKLE_H

#include "core/common.h"

/* The most hashes in an inclusion proof, and in a consistency proof for sizes below 2^63. */
#define CPM_MERKLE_PATH_MAX 64
/* One per bit of a 64-bit size: the most complete subtrees on a right edge. */
#define CPM_MERKLE_LEVELS 64

/*
 * Reads the stored complete node (level, index) into out. Returns CPM_OK, or
 * the caller's error (CPM_ERR_NOT_FOUND, CPM_ERR_STORE, …), which the proof
 * functions return unchanged.
 */
typedef cpm_err (*cpm_merkle_node_fn)(void *ctx, unsigned level, uint64_t index, uint8_t out[32]);

/* Told of a complete node just created by an append, so the caller can store it. */
typedef void (*cpm_merkle_emit_fn)(void *ctx, unsigned level, uint64_t index,
                                   const uint8_t hash[32]);

/*
 * The right edge of a tree of `size` leaves: for every set bit L of size,
 * hashes[L] is the complete subtree (L, (size >> L) - 1). Entries of unset
 * bits are meaningless. Caller's storage; plain data, copyable with `=`.
 */
struct cpm_merkle_frontier {
    uint64_t size;
    uint8_t hashes[CPM_MERKLE_LEVELS][32];
};

/* SHA-256(0x00 ‖ data): the hash of a leaf. data is borrowed (may be NULL when len is 0). */
void cpm_merkle_leaf_hash(const void *data, size_t len, uint8_t out[32]);
/* SHA-256(0x01 ‖ l ‖ r): the hash of an inner node. out may alias l or r. */
void cpm_merkle_node_hash(const uint8_t l[32], const uint8_t r[32], uint8_t out[32]);

/* Makes f the frontier of the empty tree. */
void cpm_merkle_frontier_init(struct cpm_merkle_frontier *f);

/*
 * Appends the leaf hash `leaf` as leaf number f->size and calls emit (when
 * not NULL) for every complete node this creates, bottom up: the leaf itself
 * at (0, old size), then each parent it completes. emit runs before append
 * returns; ctx is passed through. Asserts the tree is not full (2^64 - 1).
 */
void cpm_merkle_append(struct cpm_merkle_frontier *f, const uint8_t leaf[32],
                       cpm_merkle_emit_fn emit, void *ctx);

/* The root of f's tree; the empty tree's root is SHA-256 of the empty string. */
void cpm_merkle_frontier_root(const struct cpm_merkle_frontier *f, uint8_t out[32]);

/*
 * Rebuilds into f the frontier of the stored tree of `size` leaves, reading
 * one node per set bit of size. On error f is the empty frontier and get's
 * error is returned.
 */
cpm_err cpm_merkle_frontier_load(struct cpm_merkle_frontier *f, uint64_t size,
                                 cpm_merkle_node_fn get, void *ctx) CPM_MUST_CHECK;

/* The root of the stored tree of `size` leaves (size 0: SHA-256 of ""). Errors: get's. */
cpm_err cpm_merkle_root(uint64_t size, cpm_merkle_node_fn get, void *ctx,
                        uint8_t out[32]) CPM_MUST_CHECK;

/*
 * The RFC 9162 §2.1.3.1 inclusion proof PATH(index, D[size]) of leaf `index`
 * (0-based) in the stored tree of `size` leaves, written to path[0 ..
 * *path_len), the sibling nearest the leaf first. Errors: CPM_ERR_VALIDATION
 * when index >= size; CPM_ERR_TOO_LARGE when the proof has more than
 * path_max hashes (never when path_max >= CPM_MERKLE_PATH_MAX); get's error.
 * On error *path_len is 0 and path is unspecified.
 */
cpm_err cpm_merkle_inclusion_proof(uint64_t index, uint64_t size, cpm_merkle_node_fn get, void *ctx,
                                   uint8_t path[][32], size_t path_max,
                                   size_t *path_len) CPM_MUST_CHECK;

/*
 * The RFC 9162 §2.1.4.1 consistency proof PROOF(size1, D[size2]) between the
 * stored tree's heads at size1 and size2, written to path[0 .. *path_len).
 * size1 == size2 gives the empty proof. Errors: CPM_ERR_VALIDATION when
 * size1 == 0 or size1 > size2; CPM_ERR_TOO_LARGE when the proof has more than
 * path_max hashes (never when path_max >= CPM_MERKLE_PATH_MAX and size2 <
 * 2^63; above that a proof can have 65); get's error. On error *path_len is 0.
 */
cpm_err cpm_merkle_consistency_proof(uint64_t size1, uint64_t size2, cpm_merkle_node_fn get,
                                     void *ctx, uint8_t path[][32], size_t path_max,
                                     size_t *path_len) CPM_MUST_CHECK;

/*
 * RFC 9162 §2.1.3.2: true when path proves that leaf_hash is leaf `index` of
 * the tree of `size` leaves whose root is `root`. All arguments borrowed.
 */
bool cpm_merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf_hash[32],
                                 const uint8_t path[][32], size_t path_len, const uint8_t root[32]);

/*
 * RFC 9162 §2.1.4.2: true when path proves that the tree of size2 leaves with
 * root2 extends the tree of size1 leaves with root1. size1 == size2 holds
 * with an empty path and equal roots; size1 == 0 is refused (RFC 6962 defines
 * proofs for 0 < size1 only). All arguments borrowed.
 */
bool cpm_merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t root1[32],
                                   const uint8_t root2[32], const uint8_t path[][32],
                                   size_t path_len);

#endif /* CPM_LEDGER_MERKLE_H */
