/* SPDX-License-Identifier: Apache-2.0 */
/*
 * siphash.h — SipHash-2-4 with a 128-bit output (libsodium's
 * crypto_shorthash_siphashx24, bit for bit) of many short inputs at once.
 *
 * The index hashes every subject id it is asked about; an audience asks
 * about millions in a row, and one id at a time through libsodium costs
 * ≈ 30 ns here, a quarter of a lookup. Eight inputs hashed side by side in
 * vector registers (eight 64-bit lanes: AVX-512, or two AVX2 registers, or
 * whatever the compiler makes of a 64-byte vector) cost ≈ 10 ns each.
 * Inputs longer than CPM_SIPHASH_LANE_BYTES_MAX are hashed by libsodium.
 */
#ifndef CPM_CRYPTO_SIPHASH_H
#define CPM_CRYPTO_SIPHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_SIPHASH_KEY_BYTES      16
#define CPM_SIPHASH_LANE_BYTES_MAX 135 /* 16 whole 8-byte blocks and a tail */

/*
 * out[i] = the 16 bytes of SipHash-2-4-128 of in[i] (lens[i] bytes, NUL or
 * not) under key, for i < n: exactly crypto_shorthash_siphashx24's output.
 * Thread safe.
 */
void cpm_siphash128_many(const uint8_t key[CPM_SIPHASH_KEY_BYTES], const char *const *in,
                         const size_t *lens, size_t n, uint64_t (*out)[2]);

/* The implementations, for tests that compare each with libsodium. */
enum cpm_siphash_impl {
    CPM_SIPHASH_ONE_BY_ONE, /* libsodium, input by input */
    CPM_SIPHASH_VECTOR,     /* eight lanes, the compiler's baseline instructions */
    CPM_SIPHASH_AVX2,
    CPM_SIPHASH_AVX512,
    CPM_SIPHASH__COUNT
};

/* cpm_siphash128_many by impl; false (out untouched) when this machine cannot run it. */
bool cpm_siphash128_many_by(enum cpm_siphash_impl impl, const uint8_t key[CPM_SIPHASH_KEY_BYTES],
                            const char *const *in, const size_t *lens, size_t n,
                            uint64_t (*out)[2]);

#endif /* CPM_CRYPTO_SIPHASH_H */
