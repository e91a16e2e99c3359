/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_siphash.c — src/crypto/siphash.c: every implementation this machine
 * runs gives libsodium's crypto_shorthash_siphashx24 bit for bit, for every
 * input length a lane takes and past it (libsodium's way), in groups of
 * mixed lengths and partial groups, with inputs that end where their
 * allocation ends (ASan reports any read past them); and the reference
 * implementation's published vectors.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>

#include "core/alloc.h"
#include "crypto/siphash.h"

#define LEN_MAX (CPM_SIPHASH_LANE_BYTES_MAX + 9) /* some inputs too long for a lane */
#define N_MAX   21                               /* two groups and a part */

static const char *const impl_names[CPM_SIPHASH__COUNT] = {"one by one", "vector", "AVX2",
                                                           "AVX-512"};

/* Input i of a run: its own allocation of exactly len bytes. */
static char *input_of(size_t len, unsigned seed)
{
    char *p = cpm_malloc(len ? len : 1);
    assert_non_null(p);
    for (size_t j = 0; j < len; j++)
        p[j] = (char)(seed * 131u + j * 7u + 1u);
    return p;
}

/* Runs n inputs of the given lengths through impl; false when it does not run here. */
static bool check_run(enum cpm_siphash_impl impl, const uint8_t *key, const size_t *lens, size_t n,
                      unsigned seed)
{
    char *in[N_MAX] = {0};
    uint64_t out[N_MAX][2];
    for (size_t i = 0; i < n; i++)
        in[i] = input_of(lens[i], seed + (unsigned)i);
    bool ran = cpm_siphash128_many_by(impl, key, (const char *const *)in, lens, n, out);
    for (size_t i = 0; ran && i < n; i++) {
        uint8_t want[crypto_shorthash_siphashx24_BYTES];
        crypto_shorthash_siphashx24(want, (const unsigned char *)in[i], lens[i], key);
        if (memcmp(want, out[i], sizeof(want)) != 0)
            fail_msg("%s: input %zu of %zu (%zu bytes) differs from libsodium", impl_names[impl], i,
                     n, lens[i]);
    }
    for (size_t i = 0; i < n; i++)
        cpm_free(in[i]);
    return ran;
}

static void test_every_length_and_group(void **state)
{
    CPM_UNUSED(state);
    int ran[CPM_SIPHASH__COUNT] = {0};
    uint8_t key[CPM_SIPHASH_KEY_BYTES];
    size_t lens[N_MAX];
    for (unsigned round = 0; round < 400; round++) {
        randombytes_buf(key, sizeof(key));
        size_t n = round % (N_MAX + 1);
        for (size_t i = 0; i < n; i++) /* every length in turn, beside others */
            lens[i] = (round * 5 + i * 11 + (i == 0 ? round : 0)) % (LEN_MAX + 1);
        for (int impl = 0; impl < CPM_SIPHASH__COUNT; impl++)
            ran[impl] += check_run((enum cpm_siphash_impl)impl, key, lens, n, round);
    }
    for (size_t len = 0; len <= LEN_MAX; len++) /* each length alone, and eight alike */
        for (int impl = 0; impl < CPM_SIPHASH__COUNT; impl++) {
            size_t same[8] = {len, len, len, len, len, len, len, len};
            check_run((enum cpm_siphash_impl)impl, key, same, 1, (unsigned)len);
            check_run((enum cpm_siphash_impl)impl, key, same, 8, (unsigned)len);
        }
    for (int impl = 0; impl < CPM_SIPHASH__COUNT; impl++)
        if (ran[impl] == 0)
            print_message("siphash: %s does not run on this machine: not tested\n",
                          impl_names[impl]);
    assert_true(ran[CPM_SIPHASH_ONE_BY_ONE] > 0 && ran[CPM_SIPHASH_VECTOR] > 0);
}

/* The first, second and last of the SipHash-2-4-128 reference vectors (key 00..0f, input 00..). */
static void test_reference_vectors(void **state)
{
    CPM_UNUSED(state);
    static const struct {
        size_t len;
        const char *hex;
    } vectors[] = {{0, "a3817f04ba25a8e66df67214c7550293"},
                   {1, "da87c1d86b99af44347659119b22fc45"},
                   {63, "5150d1772f50834a503e069a973fbd7c"}};
    uint8_t key[CPM_SIPHASH_KEY_BYTES];
    char input[64];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(input); i++)
        input[i] = (char)i;
    for (size_t v = 0; v < CPM_ARRAY_LEN(vectors); v++) {
        const char *in[1] = {input};
        size_t lens[1] = {vectors[v].len};
        uint64_t out[1][2];
        char hex[33];
        cpm_siphash128_many(key, in, lens, 1, out);
        sodium_bin2hex(hex, sizeof(hex), (const unsigned char *)out[0], 16);
        assert_string_equal(hex, vectors[v].hex);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_length_and_group),
        cmocka_unit_test(test_reference_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
