/* SPDX-License-Identifier: Apache-2.0 */
/*
 * siphash.c — see siphash.h.
 *
 * Eight inputs make a group, one per lane. A lane's input is cut into its
 * 8-byte blocks and its last block (the tail bytes and the length), all
 * laid out before the rounds start, step by step; a lane whose input has
 * fewer blocks than the group's longest keeps its state through the steps
 * after its last (a mask). Then every lane finishes together. The body is
 * compiled three times, for the baseline instructions, AVX2 and AVX-512;
 * the machine's best is chosen on the first call.
 */
#include "core/common.h"

#include <pthread.h>
#include <sodium.h>

#include "crypto/siphash.h"

#define LANES     8
#define STEPS_MAX (CPM_SIPHASH_LANE_BYTES_MAX / 8 + 1)
_Static_assert(crypto_shorthash_siphashx24_KEYBYTES == CPM_SIPHASH_KEY_BYTES, "the key's size");
_Static_assert(crypto_shorthash_siphashx24_BYTES == 16, "a 128-bit output");

typedef uint64_t lanes __attribute__((vector_size(LANES * sizeof(uint64_t))));

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3)                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof(x));
    return x;
}

static inline uint32_t load32(const unsigned char *p)
{
    uint32_t x;
    memcpy(&x, p, sizeof(x));
    return x;
}

/* SipHash's last block: the len & 7 bytes after the whole blocks, and len in the top byte. */
static inline uint64_t last_block(const unsigned char *p, size_t len)
{
    size_t left = len & 7;
    uint64_t b = (uint64_t)len << 56;
    if (left == 0)
        return b;
    if (len >= 8) /* the input's last 8 bytes, its first ones shifted out: no read past its end */
        return b | (load64(p + len - 8) >> (64 - 8 * left));
    if (left >= 4)
        return b | load32(p) | (uint64_t)load32(p + left - 4) << (8 * (left - 4));
    b |= p[0];
    if (left > 1)
        b |= (uint64_t)p[1] << 8;
    if (left > 2)
        b |= (uint64_t)p[2] << 16;
    return b;
}

/* One group's blocks, step by step, and the mask of the lanes already done at each step. */
struct group {
    uint64_t block[STEPS_MAX][LANES] __attribute__((aligned(64)));
    uint64_t done[STEPS_MAX][LANES] __attribute__((aligned(64)));
    size_t steps;
};

/* Lays out lanes [0, m) of a group (the others hash an empty input); false when one is too long. */
static inline bool group_of(const char *const *in, const size_t *lens, size_t m, struct group *g)
{
    g->steps = 1;
    for (size_t l = 0; l < LANES; l++) {
        const unsigned char *p = (const unsigned char *)(l < m ? in[l] : "");
        size_t len = l < m ? lens[l] : 0;
        if (len > CPM_SIPHASH_LANE_BYTES_MAX)
            return false;
        size_t whole = len / 8;
        for (size_t j = 0; j < whole; j++) {
            g->block[j][l] = load64(p + 8 * j);
            g->done[j][l] = 0;
        }
        g->block[whole][l] = last_block(p, len);
        g->done[whole][l] = 0;
        for (size_t j = whole + 1; j < g->steps; j++) {
            g->block[j][l] = 0;
            g->done[j][l] = ~UINT64_C(0);
        }
        for (; g->steps < whole + 1; g->steps++) /* lanes before this one are done by then */
            for (size_t q = 0; q < l; q++) {
                g->block[g->steps][q] = 0;
                g->done[g->steps][q] = ~UINT64_C(0);
            }
    }
    return true;
}

static void one_by_one(const uint8_t key[CPM_SIPHASH_KEY_BYTES], const char *const *in,
                       const size_t *lens, size_t n, uint64_t (*out)[2])
{
    for (size_t i = 0; i < n; i++) {
        uint8_t h[crypto_shorthash_siphashx24_BYTES];
        crypto_shorthash_siphashx24(h, (const unsigned char *)in[i], lens[i], key);
        memcpy(out[i], h, sizeof(h));
    }
}

/* The rounds of a laid-out group; compiled into each instruction set's variant. */
static inline __attribute__((always_inline)) void
group_hash(uint64_t k0, uint64_t k1, const struct group *g, size_t m, uint64_t (*out)[2])
{
    lanes zero = {0};
    lanes v0 = zero + (k0 ^ UINT64_C(0x736f6d6570736575));
    lanes v1 = zero + (k1 ^ UINT64_C(0x646f72616e646f6d) ^ 0xee);
    lanes v2 = zero + (k0 ^ UINT64_C(0x6c7967656e657261));
    lanes v3 = zero + (k1 ^ UINT64_C(0x7465646279746573));
    for (size_t j = 0; j < g->steps; j++) {
        lanes b, done;
        memcpy(&b, g->block[j], sizeof(b));
        memcpy(&done, g->done[j], sizeof(done));
        lanes o0 = v0, o1 = v1, o2 = v2, o3 = v3;
        v3 ^= b;
        SIPROUND(v0, v1, v2, v3);
        SIPROUND(v0, v1, v2, v3);
        v0 ^= b;
        v0 = (v0 & ~done) | (o0 & done);
        v1 = (v1 & ~done) | (o1 & done);
        v2 = (v2 & ~done) | (o2 & done);
        v3 = (v3 & ~done) | (o3 & done);
    }
    v2 ^= 0xee;
    for (int r = 0; r < 4; r++)
        SIPROUND(v0, v1, v2, v3);
    lanes h0 = v0 ^ v1 ^ v2 ^ v3;
    v1 ^= 0xdd;
    for (int r = 0; r < 4; r++)
        SIPROUND(v0, v1, v2, v3);
    lanes h1 = v0 ^ v1 ^ v2 ^ v3;
    for (size_t l = 0; l < m; l++) {
        out[l][0] = h0[l];
        out[l][1] = h1[l];
    }
}

static inline __attribute__((always_inline)) void many(const uint8_t key[CPM_SIPHASH_KEY_BYTES],
                                                       const char *const *in, const size_t *lens,
                                                       size_t n, uint64_t (*out)[2])
{
    uint64_t k0 = load64(key), k1 = load64(key + 8);
    struct group g;
    for (size_t base = 0; base < n; base += LANES) {
        size_t m = n - base < LANES ? n - base : LANES;
        if (group_of(in + base, lens + base, m, &g))
            group_hash(k0, k1, &g, m, out + base);
        else
            one_by_one(key, in + base, lens + base, m, out + base);
    }
}

static void many_vector(const uint8_t key[CPM_SIPHASH_KEY_BYTES], const char *const *in,
                        const size_t *lens, size_t n, uint64_t (*out)[2])
{
    many(key, in, lens, n, out);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86_VARIANTS 1
__attribute__((target("avx2"))) static void many_avx2(const uint8_t key[CPM_SIPHASH_KEY_BYTES],
                                                      const char *const *in, const size_t *lens,
                                                      size_t n, uint64_t (*out)[2])
{
    many(key, in, lens, n, out);
}

__attribute__((target("avx512f"))) static void many_avx512(const uint8_t key[CPM_SIPHASH_KEY_BYTES],
                                                           const char *const *in,
                                                           const size_t *lens, size_t n,
                                                           uint64_t (*out)[2])
{
    many(key, in, lens, n, out);
}
#endif

static bool runs_here(enum cpm_siphash_impl impl)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    return impl == CPM_SIPHASH_ONE_BY_ONE; /* the lanes read blocks in the host's order */
#else
    switch (impl) {
    case CPM_SIPHASH_ONE_BY_ONE:
    case CPM_SIPHASH_VECTOR:
        return true;
#ifdef HAVE_X86_VARIANTS
    case CPM_SIPHASH_AVX2:
        return __builtin_cpu_supports("avx2");
    case CPM_SIPHASH_AVX512:
        return __builtin_cpu_supports("avx512f");
#endif
    default:
        return false;
    }
#endif
}

bool cpm_siphash128_many_by(enum cpm_siphash_impl impl, const uint8_t key[CPM_SIPHASH_KEY_BYTES],
                            const char *const *in, const size_t *lens, size_t n, uint64_t (*out)[2])
{
    if (!runs_here(impl))
        return false;
    switch (impl) {
    case CPM_SIPHASH_VECTOR:
        many_vector(key, in, lens, n, out);
        break;
#ifdef HAVE_X86_VARIANTS
    case CPM_SIPHASH_AVX2:
        many_avx2(key, in, lens, n, out);
        break;
    case CPM_SIPHASH_AVX512:
        many_avx512(key, in, lens, n, out);
        break;
#endif
    default:
        one_by_one(key, in, lens, n, out);
        break;
    }
    return true;
}

static enum cpm_siphash_impl best;
static pthread_once_t best_once = PTHREAD_ONCE_INIT;

/* The machine's best implementation, chosen once: a run asks every eight ids. */
static void choose_best(void)
{
    static const enum cpm_siphash_impl best_first[] = {CPM_SIPHASH_AVX512, CPM_SIPHASH_AVX2,
                                                       CPM_SIPHASH_VECTOR};
    best = CPM_SIPHASH_ONE_BY_ONE;
    for (size_t i = 0; i < CPM_ARRAY_LEN(best_first) && best == CPM_SIPHASH_ONE_BY_ONE; i++)
        if (runs_here(best_first[i]))
            best = best_first[i];
}

void cpm_siphash128_many(const uint8_t key[CPM_SIPHASH_KEY_BYTES], const char *const *in,
                         const size_t *lens, size_t n, uint64_t (*out)[2])
{
    pthread_once(&best_once, choose_best);
    (void)cpm_siphash128_many_by(best, key, in, lens, n, out);
}
