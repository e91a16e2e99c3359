/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_merkle.c — src/ledger/merkle.c: the RFC 6962 known answers from the
 * shared vectors (roots, inclusion and consistency proofs, generated and
 * verified, and tampered proofs refused), frontiers saved and reloaded, a
 * 1000-leaf tree checked against a naive recursive implementation of the
 * RFC, and the number of node reads per proof up to 2^64 leaves.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>

#include "support/fixture.h"

#include "ledger/merkle.h"

/* ---- an in-memory node store, filled by cpm_merkle_append's emit ---- */

#define STORE_LEVELS     11 /* 2^10 = 1024 leaves */
#define STORE_LEAVES_MAX 1024

struct store {
    uint8_t hash[STORE_LEVELS][STORE_LEAVES_MAX][32];
    bool present[STORE_LEVELS][STORE_LEAVES_MAX];
    size_t emitted;
    size_t gets;
    cpm_err fail_with; /* CPM_OK: answer normally */
};

static struct store store; /* 360 KiB: static, not on the stack */

static void store_reset(void)
{
    memset(&store, 0, sizeof(store));
}

static void store_emit(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    struct store *s = ctx;
    assert_true(level < STORE_LEVELS);
    assert_true(index < STORE_LEAVES_MAX);
    assert_false(s->present[level][index]); /* each complete node is created once */
    memcpy(s->hash[level][index], hash, 32);
    s->present[level][index] = true;
    s->emitted++;
}

static cpm_err store_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    struct store *s = ctx;
    s->gets++;
    if (s->fail_with != CPM_OK)
        return s->fail_with;
    if (level >= STORE_LEVELS || index >= STORE_LEAVES_MAX || !s->present[level][index])
        return CPM_ERR_NOT_FOUND;
    memcpy(out, s->hash[level][index], 32);
    return CPM_OK;
}

/* ---- the RFC's recursive definitions, naively, over all leaf hashes ---- */

static uint64_t ref_split(uint64_t n)
{
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

/* MTH(D[n]) from leaf hashes d. */
static void ref_mth(const uint8_t (*d)[32], uint64_t n, uint8_t out[32])
{
    if (n == 0) {
        crypto_hash_sha256(out, NULL, 0);
    } else if (n == 1) {
        memcpy(out, d[0], 32);
    } else {
        uint64_t k = ref_split(n);
        uint8_t l[32], r[32];
        ref_mth(d, k, l);
        ref_mth(d + k, n - k, r);
        cpm_merkle_node_hash(l, r, out);
    }
}

/* PATH(m, D[n]) into out; returns its length. */
static size_t ref_path(uint64_t m, const uint8_t (*d)[32], uint64_t n, uint8_t out[][32])
{
    if (n == 1)
        return 0;
    uint64_t k = ref_split(n);
    size_t len;
    if (m < k) {
        len = ref_path(m, d, k, out);
        ref_mth(d + k, n - k, out[len]);
    } else {
        len = ref_path(m - k, d + k, n - k, out);
        ref_mth(d, k, out[len]);
    }
    return len + 1;
}

/* SUBPROOF(m, D[n], b) into out; returns its length. */
static size_t ref_subproof(uint64_t m, const uint8_t (*d)[32], uint64_t n, bool b,
                           uint8_t out[][32])
{
    if (m == n) {
        if (b)
            return 0;
        ref_mth(d, m, out[0]);
        return 1;
    }
    uint64_t k = ref_split(n);
    size_t len;
    if (m <= k) {
        len = ref_subproof(m, d, k, b, out);
        ref_mth(d + k, n - k, out[len]);
    } else {
        len = ref_subproof(m - k, d + k, n - k, false, out);
        ref_mth(d, k, out[len]);
    }
    return len + 1;
}

/* ---- helpers ---- */

static void hex_decode(const char *hex, uint8_t *out, size_t len)
{
    size_t got = 0;
    assert_non_null(hex);
    assert_int_equal(sodium_hex2bin(out, len, hex, strlen(hex), NULL, &got, NULL), 0);
    assert_int_equal(got, len);
}

static void hex32(const json_t *v, uint8_t out[32])
{
    hex_decode(json_string_value(v), out, 32);
}

/* Reads a JSON array of hex hashes into path; returns its length. */
static size_t hex_path(const json_t *array, uint8_t path[][32])
{
    size_t i;
    json_t *v;
    assert_true(json_array_size(array) <= CPM_MERKLE_PATH_MAX);
    json_array_foreach(array, i, v) hex32(v, path[i]);
    return json_array_size(array);
}

static json_t *load_vectors(void)
{
    const char *root = getenv("CPM_SOURCE_DIR");
    if (root == NULL)
        fail_msg("CPM_SOURCE_DIR is not set (ctest sets it to the repository root)");
    char path[4096];
    assert_true((size_t)snprintf(path, sizeof(path), "%s/tests/vectors/rfc6962_vectors.json",
                                 root) < sizeof(path));
    json_error_t error;
    json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    if (v == NULL)
        fail_msg("%s: %s", path, error.text);
    return v;
}

static unsigned ceil_log2(uint64_t n)
{
    unsigned bits = 0;
    while (bits < 64 && (UINT64_C(1) << bits) < n)
        bits++;
    return bits;
}

static unsigned popcount(uint64_t v)
{
    return (unsigned)__builtin_popcountll(v);
}

/* roots[s] = the vectors' root at size s, 1 .. 8. */
static void vector_roots(const json_t *vectors, uint8_t roots[9][32])
{
    memset(roots[0], 0, 32);
    for (unsigned s = 1; s <= 8; s++) {
        char key[4];
        snprintf(key, sizeof(key), "%u", s);
        hex32(json_object_get(json_object_get(vectors, "roots_hex"), key), roots[s]);
    }
}

/* Appends leaves[0 .. n) of the vectors to a fresh store and f. */
static void build_vector_tree(const json_t *vectors, struct cpm_merkle_frontier *f,
                              uint8_t leaf_hashes[][32])
{
    store_reset();
    cpm_merkle_frontier_init(f);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(vectors, "leaves_hex"), i, v)
    {
        const char *hex = json_string_value(v);
        uint8_t data[64];
        size_t len = 0;
        assert_int_equal(sodium_hex2bin(data, sizeof(data), hex, strlen(hex), NULL, &len, NULL), 0);
        cpm_merkle_leaf_hash(data, len, leaf_hashes[i]);
        cpm_merkle_append(f, leaf_hashes[i], store_emit, &store);
    }
}

/* ---- known answers ---- */

static void test_empty_tree(void **state)
{
    CPM_UNUSED(state);
    uint8_t want[32], root[32];
    hex_decode("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
    struct cpm_merkle_frontier f;
    cpm_merkle_frontier_init(&f);
    cpm_merkle_frontier_root(&f, root);
    assert_memory_equal(root, want, 32);
    store_reset();
    assert_int_equal(cpm_merkle_root(0, store_get, &store, root), CPM_OK);
    assert_memory_equal(root, want, 32);
    assert_int_equal(store.gets, 0);
    assert_int_equal(cpm_merkle_frontier_load(&f, 0, store_get, &store), CPM_OK);
    assert_int_equal(f.size, 0);
}

static void test_vector_roots(void **state)
{
    CPM_UNUSED(state);
    json_t *vectors = load_vectors();
    const json_t *roots = json_object_get(vectors, "roots_hex");
    assert_int_equal(json_object_size(roots), 8);
    store_reset();
    struct cpm_merkle_frontier f;
    cpm_merkle_frontier_init(&f);
    const json_t *leaves = json_object_get(vectors, "leaves_hex");
    assert_int_equal(json_array_size(leaves), 8);
    size_t emitted_before = 0;
    for (size_t n = 1; n <= 8; n++) {
        const char *hex = json_string_value(json_array_get(leaves, n - 1));
        uint8_t data[64], leaf[32];
        size_t len = 0;
        assert_int_equal(sodium_hex2bin(data, sizeof(data), hex, strlen(hex), NULL, &len, NULL), 0);
        cpm_merkle_leaf_hash(data, len, leaf);
        cpm_merkle_append(&f, leaf, store_emit, &store);
        /* the leaf and one parent per trailing one bit of the old size */
        assert_int_equal(store.emitted - emitted_before, 1 + (size_t)__builtin_ctzll(n));
        emitted_before = store.emitted;
        assert_memory_equal(store.hash[0][n - 1], leaf, 32);

        char key[4];
        snprintf(key, sizeof(key), "%zu", n);
        uint8_t want[32], root[32];
        hex32(json_object_get(roots, key), want);
        cpm_merkle_frontier_root(&f, root);
        assert_memory_equal(root, want, 32);
        store.gets = 0;
        assert_int_equal(cpm_merkle_root(n, store_get, &store, root), CPM_OK);
        assert_memory_equal(root, want, 32);
        assert_int_equal(store.gets, popcount(n));

        struct cpm_merkle_frontier loaded;
        assert_int_equal(cpm_merkle_frontier_load(&loaded, n, store_get, &store), CPM_OK);
        assert_int_equal(loaded.size, n);
        cpm_merkle_frontier_root(&loaded, root);
        assert_memory_equal(root, want, 32);
    }
    json_decref(vectors);
}

/*
 * Every way of spoiling a valid inclusion proof must be refused. roots[s] is
 * the true root at size s (1 .. 8). A proof does not bind the tree size by
 * itself — the signed root does (leaf 0 has the same path in trees of 3 and
 * 4 leaves) — so a wrong size is checked against that size's own root.
 */
static void inclusion_tampered(uint64_t index, uint64_t size, const uint8_t leaf[32],
                               uint8_t path[][32], size_t len, const uint8_t roots[9][32])
{
    const uint8_t *root = roots[size];
    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 256; bit += 37) {
            path[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_false(cpm_merkle_verify_inclusion(index, size, leaf, (const uint8_t(*)[32])path,
                                                     len, root));
            path[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
    }
    const uint8_t(*p)[32] = (const uint8_t(*)[32])path;
    assert_true(cpm_merkle_verify_inclusion(index, size, leaf, p, len, root));
    uint8_t bad_leaf[32];
    memcpy(bad_leaf, leaf, 32);
    bad_leaf[31] ^= 1;
    assert_false(cpm_merkle_verify_inclusion(index, size, bad_leaf, p, len, root));
    uint8_t bad_root[32];
    memcpy(bad_root, root, 32);
    bad_root[0] ^= 0x80;
    assert_false(cpm_merkle_verify_inclusion(index, size, leaf, p, len, bad_root));
    for (uint64_t other = 0; other < size + 2; other++)
        if (other != index)
            assert_false(cpm_merkle_verify_inclusion(other, size, leaf, p, len, root));
    for (uint64_t other = index + 1; other <= 8; other++)
        if (other != size)
            assert_false(cpm_merkle_verify_inclusion(index, other, leaf, p, len, roots[other]));
    if (len > 0) {
        assert_false(cpm_merkle_verify_inclusion(index, size, leaf, p, len - 1, root));
        assert_false(cpm_merkle_verify_inclusion(index, size, leaf, p + 1, len - 1, root));
    }
    uint8_t longer[CPM_MERKLE_PATH_MAX + 1][32];
    memcpy(longer, path, len * 32);
    memcpy(longer[len], root, 32);
    assert_false(cpm_merkle_verify_inclusion(index, size, leaf, (const uint8_t(*)[32])longer,
                                             len + 1, root));
}

static void test_vector_inclusion(void **state)
{
    CPM_UNUSED(state);
    json_t *vectors = load_vectors();
    struct cpm_merkle_frontier f;
    uint8_t leaves[8][32];
    build_vector_tree(vectors, &f, leaves);
    uint8_t roots[9][32];
    vector_roots(vectors, roots);
    const json_t *cases = json_object_get(vectors, "inclusion");
    assert_int_equal(json_array_size(cases), 36);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        uint64_t index = (uint64_t)json_integer_value(json_object_get(c, "leaf_index"));
        uint64_t size = (uint64_t)json_integer_value(json_object_get(c, "tree_size"));
        uint8_t want[CPM_MERKLE_PATH_MAX][32], got[CPM_MERKLE_PATH_MAX][32], leaf[32], root[32];
        size_t want_len = hex_path(json_object_get(c, "path"), want), got_len = 99;
        hex32(json_object_get(c, "leaf_hash"), leaf);
        hex32(json_object_get(c, "root"), root);
        assert_memory_equal(leaf, leaves[index], 32);

        store.gets = 0;
        assert_int_equal(cpm_merkle_inclusion_proof(index, size, store_get, &store, got,
                                                    CPM_MERKLE_PATH_MAX, &got_len),
                         CPM_OK);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, want_len * 32);
        assert_true(store.gets <= want_len + popcount(size));

        assert_true(cpm_merkle_verify_inclusion(index, size, leaf, (const uint8_t(*)[32])want,
                                                want_len, root));
        assert_memory_equal(root, roots[size], 32);
        inclusion_tampered(index, size, leaf, want, want_len, (const uint8_t(*)[32])roots);
    }
    json_decref(vectors);
}

/* As inclusion_tampered, for a consistency proof between sizes in 1 .. 8. */
static void consistency_tampered(uint64_t size1, uint64_t size2, const uint8_t roots[9][32],
                                 uint8_t path[][32], size_t len)
{
    const uint8_t *root1 = roots[size1], *root2 = roots[size2];
    const uint8_t(*p)[32] = (const uint8_t(*)[32])path;
    assert_true(cpm_merkle_verify_consistency(size1, size2, root1, root2, p, len));
    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 256; bit += 37) {
            path[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_false(cpm_merkle_verify_consistency(size1, size2, root1, root2, p, len));
            path[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
    }
    uint8_t bad1[32], bad2[32];
    memcpy(bad1, root1, 32);
    memcpy(bad2, root2, 32);
    bad1[5] ^= 4;
    bad2[7] ^= 2;
    assert_false(cpm_merkle_verify_consistency(size1, size2, bad1, root2, p, len));
    assert_false(cpm_merkle_verify_consistency(size1, size2, root1, bad2, p, len));
    /* other sizes, each with its own true root; any equal pair holds with the empty path */
    for (uint64_t s1 = 1; s1 <= 8; s1++)
        for (uint64_t s2 = s1; s2 <= 8; s2++)
            if ((s1 != size1 || s2 != size2) && !(s1 == s2 && len == 0))
                assert_false(cpm_merkle_verify_consistency(s1, s2, roots[s1], roots[s2], p, len));
    assert_false(cpm_merkle_verify_consistency(0, size2, root1, root2, p, len));
    assert_false(cpm_merkle_verify_consistency(size2 + 1, size2, root1, root2, p, len));
    if (len > 0) {
        assert_false(cpm_merkle_verify_consistency(size1, size2, root1, root2, p, len - 1));
        assert_false(cpm_merkle_verify_consistency(size1, size2, root1, root2, p + 1, len - 1));
    }
    uint8_t longer[CPM_MERKLE_PATH_MAX + 1][32];
    memcpy(longer, path, len * 32);
    memcpy(longer[len], root2, 32);
    assert_false(cpm_merkle_verify_consistency(size1, size2, root1, root2,
                                               (const uint8_t(*)[32])longer, len + 1));
}

static void test_vector_consistency(void **state)
{
    CPM_UNUSED(state);
    json_t *vectors = load_vectors();
    struct cpm_merkle_frontier f;
    uint8_t leaves[8][32];
    build_vector_tree(vectors, &f, leaves);
    uint8_t roots[9][32];
    vector_roots(vectors, roots);
    const json_t *cases = json_object_get(vectors, "consistency");
    assert_int_equal(json_array_size(cases), 36);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        uint64_t size1 = (uint64_t)json_integer_value(json_object_get(c, "size1"));
        uint64_t size2 = (uint64_t)json_integer_value(json_object_get(c, "size2"));
        uint8_t want[CPM_MERKLE_PATH_MAX][32], got[CPM_MERKLE_PATH_MAX][32], root1[32], root2[32];
        size_t want_len = hex_path(json_object_get(c, "proof"), want), got_len = 99;
        hex32(json_object_get(c, "root1"), root1);
        hex32(json_object_get(c, "root2"), root2);

        store.gets = 0;
        assert_int_equal(cpm_merkle_consistency_proof(size1, size2, store_get, &store, got,
                                                      CPM_MERKLE_PATH_MAX, &got_len),
                         CPM_OK);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, want_len * 32);
        assert_true(store.gets <= want_len + popcount(size2));

        assert_memory_equal(root1, roots[size1], 32);
        assert_memory_equal(root2, roots[size2], 32);
        consistency_tampered(size1, size2, (const uint8_t(*)[32])roots, want, want_len);
    }
    json_decref(vectors);
}

/* ---- errors ---- */

static void test_errors(void **state)
{
    CPM_UNUSED(state);
    json_t *vectors = load_vectors();
    struct cpm_merkle_frontier f;
    uint8_t leaves[8][32], path[CPM_MERKLE_PATH_MAX][32], root[32];
    build_vector_tree(vectors, &f, leaves);
    json_decref(vectors);
    size_t len = 99;

    assert_int_equal(cpm_merkle_inclusion_proof(0, 0, store_get, &store, path, 64, &len),
                     CPM_ERR_VALIDATION);
    assert_int_equal(len, 0);
    assert_int_equal(cpm_merkle_inclusion_proof(8, 8, store_get, &store, path, 64, &len),
                     CPM_ERR_VALIDATION);
    assert_int_equal(cpm_merkle_inclusion_proof(UINT64_MAX, 8, store_get, &store, path, 64, &len),
                     CPM_ERR_VALIDATION);
    assert_int_equal(cpm_merkle_consistency_proof(0, 8, store_get, &store, path, 64, &len),
                     CPM_ERR_VALIDATION);
    assert_int_equal(cpm_merkle_consistency_proof(0, 0, store_get, &store, path, 64, &len),
                     CPM_ERR_VALIDATION);
    assert_int_equal(cpm_merkle_consistency_proof(5, 4, store_get, &store, path, 64, &len),
                     CPM_ERR_VALIDATION);
    /* a path buffer too small */
    assert_int_equal(cpm_merkle_inclusion_proof(2, 7, store_get, &store, path, 2, &len),
                     CPM_ERR_TOO_LARGE);
    assert_int_equal(len, 0);
    assert_int_equal(cpm_merkle_inclusion_proof(2, 7, store_get, &store, path, 3, &len), CPM_OK);
    assert_int_equal(len, 3);
    assert_int_equal(cpm_merkle_consistency_proof(3, 7, store_get, &store, path, 3, &len),
                     CPM_ERR_TOO_LARGE);
    assert_int_equal(cpm_merkle_consistency_proof(3, 7, store_get, &store, path, 4, &len), CPM_OK);
    assert_int_equal(len, 4);

    /* the store's errors come back unchanged */
    store.fail_with = CPM_ERR_STORE;
    assert_int_equal(cpm_merkle_inclusion_proof(2, 7, store_get, &store, path, 64, &len),
                     CPM_ERR_STORE);
    assert_int_equal(len, 0);
    assert_int_equal(cpm_merkle_consistency_proof(3, 7, store_get, &store, path, 64, &len),
                     CPM_ERR_STORE);
    assert_int_equal(cpm_merkle_root(7, store_get, &store, root), CPM_ERR_STORE);
    struct cpm_merkle_frontier loaded;
    assert_int_equal(cpm_merkle_frontier_load(&loaded, 7, store_get, &store), CPM_ERR_STORE);
    assert_int_equal(loaded.size, 0);
    store.fail_with = CPM_OK;
    /* nodes the store does not have */
    assert_int_equal(cpm_merkle_root(9, store_get, &store, root), CPM_ERR_NOT_FOUND);
    assert_int_equal(cpm_merkle_inclusion_proof(7, 9, store_get, &store, path, 64, &len),
                     CPM_ERR_NOT_FOUND);

    /* verifiers refuse impossible arguments */
    uint8_t h[32] = {0};
    assert_false(cpm_merkle_verify_inclusion(0, 0, h, (const uint8_t(*)[32])path, 0, h));
    assert_false(cpm_merkle_verify_inclusion(1, 1, h, (const uint8_t(*)[32])path, 0, h));
    assert_true(cpm_merkle_verify_inclusion(0, 1, h, (const uint8_t(*)[32])path, 0, h));
    assert_false(cpm_merkle_verify_consistency(0, 0, h, h, (const uint8_t(*)[32])path, 0));
    assert_false(cpm_merkle_verify_consistency(0, 3, h, h, (const uint8_t(*)[32])path, 0));
    assert_false(cpm_merkle_verify_consistency(3, 2, h, h, (const uint8_t(*)[32])path, 0));
    assert_false(cpm_merkle_verify_consistency(3, 5, h, h, (const uint8_t(*)[32])path, 0));
    assert_true(cpm_merkle_verify_consistency(3, 3, h, h, (const uint8_t(*)[32])path, 0));
    assert_false(cpm_merkle_verify_consistency(3, 3, h, h, (const uint8_t(*)[32])path, 1));
    uint8_t h2[32] = {1};
    assert_false(cpm_merkle_verify_consistency(3, 3, h, h2, (const uint8_t(*)[32])path, 0));
}

/* ---- a larger tree against the naive reference ---- */

#define RANDOM_LEAVES 1000

static uint64_t rng_state = 0x0123456789abcdefu;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint8_t random_leaves[RANDOM_LEAVES][32];
static uint8_t random_roots[RANDOM_LEAVES + 1][32]; /* naive MTH of every prefix */

/* The most node reads a proof may take: one per path entry, plus one right edge. */
static size_t reads_max(uint64_t size)
{
    return 2 * (size_t)ceil_log2(size) + 1;
}

static void check_proofs_at(uint64_t n, bool all_against_reference)
{
    uint8_t got[CPM_MERKLE_PATH_MAX + 1][32], want[CPM_MERKLE_PATH_MAX + 1][32];
    size_t got_len, want_len;
    for (uint64_t i = 0; i < n; i++) {
        store.gets = 0;
        assert_int_equal(
            cpm_merkle_inclusion_proof(i, n, store_get, &store, got, CPM_MERKLE_PATH_MAX, &got_len),
            CPM_OK);
        assert_true(store.gets <= reads_max(n));
        assert_true(got_len <= ceil_log2(n));
        assert_true(cpm_merkle_verify_inclusion(i, n, random_leaves[i], (const uint8_t(*)[32])got,
                                                got_len, random_roots[n]));
        if (all_against_reference || i % 37 == 0 || i + 1 == n) {
            want_len = ref_path(i, (const uint8_t(*)[32])random_leaves, n, want);
            assert_int_equal(got_len, want_len);
            assert_memory_equal(got, want, want_len * 32);
        }
    }
    for (uint64_t m = 1; m <= n; m++) {
        store.gets = 0;
        assert_int_equal(cpm_merkle_consistency_proof(m, n, store_get, &store, got,
                                                      CPM_MERKLE_PATH_MAX, &got_len),
                         CPM_OK);
        assert_true(store.gets <= reads_max(n));
        assert_true(got_len <= ceil_log2(n) + 1);
        assert_true(cpm_merkle_verify_consistency(m, n, random_roots[m], random_roots[n],
                                                  (const uint8_t(*)[32])got, got_len));
        if (m < n)
            assert_false(cpm_merkle_verify_consistency(m, n, random_roots[m], random_roots[n - 1],
                                                       (const uint8_t(*)[32])got, got_len));
        if (all_against_reference || m % 37 == 0 || m + 1 >= n) {
            want_len = ref_subproof(m, (const uint8_t(*)[32])random_leaves, n, true, want);
            assert_int_equal(got_len, want_len);
            assert_memory_equal(got, want, want_len * 32);
        }
    }
}

static void test_random_tree(void **state)
{
    CPM_UNUSED(state);
    for (size_t i = 0; i < RANDOM_LEAVES; i++) {
        uint8_t data[64];
        size_t len = rng() % (sizeof(data) + 1);
        for (size_t j = 0; j < len; j++)
            data[j] = (uint8_t)rng();
        cpm_merkle_leaf_hash(data, len, random_leaves[i]);
    }
    for (uint64_t n = 0; n <= RANDOM_LEAVES; n++)
        ref_mth((const uint8_t(*)[32])random_leaves, n, random_roots[n]);

    store_reset();
    struct cpm_merkle_frontier f;
    cpm_merkle_frontier_init(&f);
    for (uint64_t n = 1; n <= RANDOM_LEAVES; n++) {
        cpm_merkle_append(&f, random_leaves[n - 1], store_emit, &store);
        assert_int_equal(f.size, n);
        uint8_t root[32];
        cpm_merkle_frontier_root(&f, root);
        assert_memory_equal(root, random_roots[n], 32);
        store.gets = 0;
        assert_int_equal(cpm_merkle_root(n, store_get, &store, root), CPM_OK);
        assert_memory_equal(root, random_roots[n], 32);
        assert_int_equal(store.gets, popcount(n));

        /* a reloaded frontier equals the appended one, and appends the same way */
        struct cpm_merkle_frontier loaded;
        assert_int_equal(cpm_merkle_frontier_load(&loaded, n, store_get, &store), CPM_OK);
        assert_int_equal(loaded.size, f.size);
        for (unsigned level = 0; level < CPM_MERKLE_LEVELS; level++)
            if ((n >> level) & 1)
                assert_memory_equal(loaded.hashes[level], f.hashes[level], 32);
        if (n < RANDOM_LEAVES) {
            struct cpm_merkle_frontier a = f;
            cpm_merkle_append(&a, random_leaves[n], NULL, NULL);
            cpm_merkle_append(&loaded, random_leaves[n], NULL, NULL);
            uint8_t ra[32], rl[32];
            cpm_merkle_frontier_root(&a, ra);
            cpm_merkle_frontier_root(&loaded, rl);
            assert_memory_equal(ra, rl, 32);
            assert_memory_equal(ra, random_roots[n + 1], 32);
        }
    }
    /* every complete node was emitted exactly once (store_emit refuses repeats) */
    size_t expected = 0;
    for (unsigned level = 0; level < STORE_LEVELS; level++) {
        uint64_t complete = RANDOM_LEAVES >> level;
        expected += complete;
        for (uint64_t i = 0; i < STORE_LEAVES_MAX; i++)
            assert_int_equal(store.present[level][i], i < complete);
    }
    assert_int_equal(store.emitted, expected);

    for (uint64_t n = 1; n <= 70; n++)
        check_proofs_at(n, true);
    const uint64_t sizes[] = {127, 128, 129, 255, 256, 257, 511, 512, 513, 640, 999, 1000};
    for (size_t i = 0; i < CPM_ARRAY_LEN(sizes); i++)
        check_proofs_at(sizes[i], sizes[i] <= 257);
}

/* ---- node reads on huge trees, through a store that makes nodes up ---- */

struct sparse {
    uint64_t size; /* the tree being proved in */
    size_t gets;
};

/* Answers any complete node of a tree of s->size leaves with a made-up hash; fails others. */
static cpm_err sparse_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    struct sparse *s = ctx;
    s->gets++;
    assert_true(level < 64);
    assert_true(index < (s->size >> level)); /* complete: (index + 1)·2^level <= size */
    memset(out, 0, 32);
    memcpy(out, &index, sizeof(index));
    out[31] = (uint8_t)level;
    return CPM_OK;
}

static void test_read_counts(void **state)
{
    CPM_UNUSED(state);
    const uint64_t sizes[] = {1000,
                              (UINT64_C(1) << 20) - 1,
                              UINT64_C(1) << 20,
                              (UINT64_C(1) << 20) + 1,
                              999999,
                              UINT64_C(0x5555555555),
                              (UINT64_C(1) << 40) + 12345,
                              UINT64_C(1) << 62,
                              INT64_MAX,
                              (UINT64_C(1) << 63) + 1,
                              UINT64_MAX};
    uint8_t path[CPM_MERKLE_PATH_MAX + 1][32], root[32];
    size_t len;
    for (size_t s = 0; s < CPM_ARRAY_LEN(sizes); s++) {
        uint64_t n = sizes[s];
        struct sparse sp = {.size = n};
        assert_int_equal(cpm_merkle_root(n, sparse_get, &sp, root), CPM_OK);
        assert_int_equal(sp.gets, popcount(n));
        struct cpm_merkle_frontier f;
        sp.gets = 0;
        assert_int_equal(cpm_merkle_frontier_load(&f, n, sparse_get, &sp), CPM_OK);
        assert_int_equal(sp.gets, popcount(n));

        const uint64_t picks[] = {0, 1, n / 2, n / 3, n - 2, n - 1, rng() % n, rng() % n};
        for (size_t p = 0; p < CPM_ARRAY_LEN(picks); p++) {
            uint64_t i = picks[p] < n ? picks[p] : 0;
            sp.gets = 0;
            assert_int_equal(
                cpm_merkle_inclusion_proof(i, n, sparse_get, &sp, path, CPM_MERKLE_PATH_MAX, &len),
                CPM_OK);
            assert_true(len <= ceil_log2(n));
            assert_true(sp.gets <= reads_max(n));
            assert_true(sp.gets <= 64 * 64);

            uint64_t m = i + 1;
            sp.gets = 0;
            cpm_err err = cpm_merkle_consistency_proof(m, n, sparse_get, &sp, path,
                                                       CPM_MERKLE_PATH_MAX + 1, &len);
            assert_int_equal(err, CPM_OK);
            assert_true(len <= ceil_log2(n) + 1);
            assert_true(sp.gets <= reads_max(n));
            if (n < (UINT64_C(1) << 63))
                assert_true(len <= CPM_MERKLE_PATH_MAX);
        }
    }
    /* above 2^63 leaves a consistency proof can need 65 hashes: refused, not overrun */
    uint64_t n = (UINT64_C(1) << 63) + 1, m = (UINT64_C(1) << 63) - 1;
    struct sparse sp = {.size = n};
    assert_int_equal(
        cpm_merkle_consistency_proof(m, n, sparse_get, &sp, path, CPM_MERKLE_PATH_MAX, &len),
        CPM_ERR_TOO_LARGE);
    assert_int_equal(len, 0);
    assert_int_equal(
        cpm_merkle_consistency_proof(m, n, sparse_get, &sp, path, CPM_MERKLE_PATH_MAX + 1, &len),
        CPM_OK);
    assert_int_equal(len, CPM_MERKLE_PATH_MAX + 1);
}

int main(void)
{
    assert_true(sodium_init() >= 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_tree),       cmocka_unit_test(test_vector_roots),
        cmocka_unit_test(test_vector_inclusion), cmocka_unit_test(test_vector_consistency),
        cmocka_unit_test(test_errors),           cmocka_unit_test(test_random_tree),
        cmocka_unit_test(test_read_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
