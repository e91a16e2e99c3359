/* SPDX-License-Identifier: Apache-2.0 */
/*
 * merkle.c — RFC 6962 / RFC 9162 Merkle tree over stored complete subtrees.
 *
 * Proofs follow the RFCs' recursive PATH and SUBPROOF definitions, unrolled
 * into loops: a descent from the root lists the sibling subtrees as leaf
 * ranges, then each range is hashed from stored nodes. A range that is a
 * complete aligned subtree is one read; the only other ranges are right-edge
 * remainders [a, n), which split into the complete subtrees of the set bits
 * of n - a (the same decomposition a frontier keeps).
 */
#include "core/common.h"

#include <sodium.h>

#include "ledger/merkle.h"

/* The most ranges a descent lists: one per level, and a consistency proof's final subtree. */
#define RANGES_MAX (CPM_MERKLE_LEVELS + 1)

/* Leaves [start, end) of the tree. */
struct range {
    uint64_t start;
    uint64_t end;
};

void cpm_merkle_leaf_hash(const void *data, size_t len, uint8_t out[32])
{
    static const uint8_t prefix = 0x00;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    if (len > 0)
        crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out);
}

void cpm_merkle_node_hash(const uint8_t l[32], const uint8_t r[32], uint8_t out[32])
{
    static const uint8_t prefix = 0x01;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, l, 32);
    crypto_hash_sha256_update(&st, r, 32);
    crypto_hash_sha256_final(&st, out);
}

static void empty_root(uint8_t out[32])
{
    crypto_hash_sha256(out, NULL, 0);
}

static bool bit_set(uint64_t v, unsigned bit)
{
    return (v >> bit) & 1u;
}

/* The largest power of two strictly below n (n >= 2): RFC 6962's split point k. */
static uint64_t split_point(uint64_t n)
{
    CPM_ASSERT(n >= 2);
    return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

/*
 * MTH(D[r.start : r.end]) from stored nodes. The range must be aligned so its
 * complete subtrees are stored nodes: r.start a multiple of the largest power
 * of two in r.end - r.start. Reads one node per set bit of the length.
 */
static cpm_err range_hash(struct range r, cpm_merkle_node_fn get, void *ctx, uint8_t out[32])
{
    uint64_t count = r.end - r.start;
    CPM_ASSERT(r.end > r.start);
    bool have = false;
    for (unsigned level = 0; level < CPM_MERKLE_LEVELS; level++) {
        if (!bit_set(count, level))
            continue;
        uint64_t width = UINT64_C(1) << level;
        /* Complete subtrees run largest first from start; this one ends where the
         * smaller ones (the bits below `level`) begin. */
        uint64_t first = r.start + (count - (count & (width - 1)) - width);
        CPM_ASSERT((first & (width - 1)) == 0);
        uint8_t node[32];
        cpm_err err = get(ctx, level, first >> level, node);
        if (err != CPM_OK)
            return err;
        if (have) {
            cpm_merkle_node_hash(node, out, out);
        } else {
            memcpy(out, node, 32);
            have = true;
        }
    }
    return CPM_OK;
}

/* Hashes ranges[count - 1] down to ranges[0] into path[0 ..]: the descent lists them root first. */
static cpm_err fill_path(const struct range *ranges, size_t count, cpm_merkle_node_fn get,
                         void *ctx, uint8_t path[][32], size_t path_max, size_t *path_len)
{
    if (count > path_max)
        return CPM_ERR_TOO_LARGE;
    for (size_t i = 0; i < count; i++) {
        cpm_err err = range_hash(ranges[count - 1 - i], get, ctx, path[i]);
        if (err != CPM_OK)
            return err;
    }
    *path_len = count;
    return CPM_OK;
}

void cpm_merkle_frontier_init(struct cpm_merkle_frontier *f)
{
    memset(f, 0, sizeof(*f));
}

void cpm_merkle_append(struct cpm_merkle_frontier *f, const uint8_t leaf[32],
                       cpm_merkle_emit_fn emit, void *ctx)
{
    CPM_ASSERT(f->size < UINT64_MAX);
    uint64_t size = f->size;
    uint8_t hash[32];
    memcpy(hash, leaf, 32);
    if (emit != NULL)
        emit(ctx, 0, size, hash);
    /* Each set low bit of the old size is a complete left sibling: carry upwards. */
    unsigned level = 0;
    while (bit_set(size, level)) {
        cpm_merkle_node_hash(f->hashes[level], hash, hash);
        level++;
        if (emit != NULL)
            emit(ctx, level, ((size + 1) >> level) - 1, hash);
    }
    memcpy(f->hashes[level], hash, 32);
    f->size = size + 1;
}

void cpm_merkle_frontier_root(const struct cpm_merkle_frontier *f, uint8_t out[32])
{
    if (f->size == 0) {
        empty_root(out);
        return;
    }
    /* The right edge folds from the smallest subtree up: MTH = node(left, MTH(rest)). */
    bool have = false;
    for (unsigned level = 0; level < CPM_MERKLE_LEVELS; level++) {
        if (!bit_set(f->size, level))
            continue;
        if (have) {
            cpm_merkle_node_hash(f->hashes[level], out, out);
        } else {
            memcpy(out, f->hashes[level], 32);
            have = true;
        }
    }
}

cpm_err cpm_merkle_frontier_load(struct cpm_merkle_frontier *f, uint64_t size,
                                 cpm_merkle_node_fn get, void *ctx)
{
    cpm_merkle_frontier_init(f);
    for (unsigned level = 0; level < CPM_MERKLE_LEVELS; level++) {
        if (!bit_set(size, level))
            continue;
        cpm_err err = get(ctx, level, (size >> level) - 1, f->hashes[level]);
        if (err != CPM_OK) {
            cpm_merkle_frontier_init(f);
            return err;
        }
    }
    f->size = size;
    return CPM_OK;
}

cpm_err cpm_merkle_root(uint64_t size, cpm_merkle_node_fn get, void *ctx, uint8_t out[32])
{
    if (size == 0) {
        empty_root(out);
        return CPM_OK;
    }
    return range_hash((struct range){0, size}, get, ctx, out);
}

cpm_err cpm_merkle_inclusion_proof(uint64_t index, uint64_t size, cpm_merkle_node_fn get, void *ctx,
                                   uint8_t path[][32], size_t path_max, size_t *path_len)
{
    *path_len = 0;
    if (index >= size)
        return CPM_ERR_VALIDATION;
    /* PATH(m, D[n]): descend towards the leaf, noting the other side at each split. */
    struct range ranges[RANGES_MAX];
    size_t count = 0;
    struct range at = {0, size};
    while (at.end - at.start > 1) {
        uint64_t k = split_point(at.end - at.start);
        CPM_ASSERT(count < CPM_MERKLE_LEVELS);
        if (index < at.start + k) {
            ranges[count++] = (struct range){at.start + k, at.end};
            at.end = at.start + k;
        } else {
            ranges[count++] = (struct range){at.start, at.start + k};
            at.start += k;
        }
    }
    cpm_err err = fill_path(ranges, count, get, ctx, path, path_max, path_len);
    if (err != CPM_OK)
        *path_len = 0;
    return err;
}

cpm_err cpm_merkle_consistency_proof(uint64_t size1, uint64_t size2, cpm_merkle_node_fn get,
                                     void *ctx, uint8_t path[][32], size_t path_max,
                                     size_t *path_len)
{
    *path_len = 0;
    if (size1 == 0 || size1 > size2)
        return CPM_ERR_VALIDATION;
    /* SUBPROOF(m, D[n], b), with m counted from the range's start as size1 - start. */
    struct range ranges[RANGES_MAX];
    size_t count = 0;
    struct range at = {0, size2};
    bool whole = true; /* b: the range is the whole old tree's left edge */
    for (;;) {
        uint64_t n = at.end - at.start, m = size1 - at.start;
        CPM_ASSERT(count < RANGES_MAX);
        if (m == n) {
            if (!whole)
                ranges[count++] = at;
            break;
        }
        uint64_t k = split_point(n);
        if (m <= k) {
            ranges[count++] = (struct range){at.start + k, at.end};
            at.end = at.start + k;
        } else {
            ranges[count++] = (struct range){at.start, at.start + k};
            at.start += k;
            whole = false;
        }
    }
    cpm_err err = fill_path(ranges, count, get, ctx, path, path_max, path_len);
    if (err != CPM_OK)
        *path_len = 0;
    return err;
}

/* Shifts fn and sn right together until fn's low bit is set or fn is 0. */
static void shift_while_even(uint64_t *fn, uint64_t *sn)
{
    while (*fn != 0 && !bit_set(*fn, 0)) {
        *fn >>= 1;
        *sn >>= 1;
    }
}

bool cpm_merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf_hash[32],
                                 const uint8_t path[][32], size_t path_len, const uint8_t root[32])
{
    if (index >= size)
        return false;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[32];
    memcpy(r, leaf_hash, 32);
    for (size_t i = 0; i < path_len; i++) {
        if (sn == 0)
            return false;
        if (bit_set(fn, 0) || fn == sn) {
            cpm_merkle_node_hash(path[i], r, r);
            if (!bit_set(fn, 0))
                shift_while_even(&fn, &sn);
        } else {
            cpm_merkle_node_hash(r, path[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && sodium_memcmp(r, root, 32) == 0;
}

bool cpm_merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t root1[32],
                                   const uint8_t root2[32], const uint8_t path[][32],
                                   size_t path_len)
{
    if (size1 == 0 || size1 > size2)
        return false;
    if (size1 == size2)
        return path_len == 0 && sodium_memcmp(root1, root2, 32) == 0;
    if (path_len == 0)
        return false;
    /* When size1 is a power of two the old root is the first hash, implied, not sent. */
    const bool implied = (size1 & (size1 - 1)) == 0;
    const uint8_t *first = implied ? root1 : path[0];
    size_t next = implied ? 0 : 1;
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (bit_set(fn, 0)) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[32], sr[32];
    memcpy(fr, first, 32);
    memcpy(sr, first, 32);
    for (size_t i = next; i < path_len; i++) {
        if (sn == 0)
            return false;
        if (bit_set(fn, 0) || fn == sn) {
            cpm_merkle_node_hash(path[i], fr, fr);
            cpm_merkle_node_hash(path[i], sr, sr);
            if (!bit_set(fn, 0))
                shift_while_even(&fn, &sn);
        } else {
            cpm_merkle_node_hash(sr, path[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && sodium_memcmp(fr, root1, 32) == 0 && sodium_memcmp(sr, root2, 32) == 0;
}
