/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_jwt.c — src/crypto/jwt.c: JWK parsing, and JWT verification against
 * known-answer tokens minted by the `jose` npm package (jwt_vectors.h) and
 * against tokens crafted here (HS256 signed with libsodium) to reach each
 * refusal: algorithm confusion, "none", keys and kids, times, audiences,
 * claims, malformed encodings, and out-of-range ES256 signatures.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>

#include "support/fixture.h"

#include "crypto/jwt.h"
#include "jwt_vectors.h"

#define NOW       (JWT_VECTOR_IAT + 10)
#define SKEW      60
#define LIFE      3600
#define TOKEN_CAP 8192

enum { HS, ES, ED, KEY_COUNT };
static struct cpm_jwt_key keys[KEY_COUNT]; /* from jwk_hs256, jwk_es256, jwk_eddsa */

/* P-256's base point: a valid public key that signed none of the vectors. */
static const uint8_t p256_g[64] = {
    0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2,
    0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96,
    0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16,
    0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
};
/* The order n of P-256. */
static const uint8_t p256_n[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

/* ---- helpers ---- */

static cpm_err parse_jwk_text(const char *text, const char *field, struct cpm_jwt_key *key,
                              struct cpm_detail *d)
{
    json_error_t error;
    json_t *jwk = json_loads(text, JSON_DECODE_ANY, &error);
    if (jwk == NULL)
        fail_msg("bad test JWK: %s", error.text);
    cpm_err err = cpm_jwk_parse(jwk, field, key, d);
    json_decref(jwk);
    return err;
}

static void load_key(const char *text, struct cpm_jwt_key *key)
{
    struct cpm_detail d;
    cpm_detail_init(&d);
    assert_int_equal(parse_jwk_text(text, "token_keys[0]", key, &d), CPM_OK);
    assert_int_equal(d.count, 0);
}

static int setup(void **state)
{
    CPM_UNUSED(state);
    if (sodium_init() < 0)
        return -1;
    load_key(jwk_hs256, &keys[HS]);
    load_key(jwk_es256, &keys[ES]);
    load_key(jwk_eddsa, &keys[ED]);
    return 0;
}

static void b64url(const void *bytes, size_t len, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, bytes, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* text with ' turned into " (test JSON written with single quotes) into out. */
static void dq(const char *text, char *out, size_t cap)
{
    assert_true(cpm_strlcpy(out, text, cap) < cap);
    for (char *p = out; *p != '\0'; p++)
        *p = *p == '\'' ? '"' : *p;
}

/* base64url(header) "." base64url(payload) "." base64url(sig) into out. */
static void assemble(const char *header, const char *payload, const uint8_t *sig, size_t sig_len,
                     char *out)
{
    char h[TOKEN_CAP], p[TOKEN_CAP];
    size_t n;
    dq(header, h, sizeof(h));
    dq(payload, p, sizeof(p));
    b64url(h, strlen(h), out, TOKEN_CAP);
    n = strlen(out);
    out[n++] = '.';
    b64url(p, strlen(p), out + n, TOKEN_CAP - n);
    n = strlen(out);
    out[n++] = '.';
    b64url(sig, sig_len, out + n, TOKEN_CAP - n);
}

/* An HS256 token of header and payload (single-quoted JSON) under secret into out. */
static void hs256_with(const uint8_t *secret, size_t secret_len, const char *header,
                       const char *payload, char *out)
{
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    assemble(header, payload, (const uint8_t *)"", 0, out);
    size_t signed_len = strrchr(out, '.') - out;
    crypto_auth_hmacsha256_init(&st, secret, secret_len);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)out, signed_len);
    crypto_auth_hmacsha256_final(&st, mac);
    b64url(mac, sizeof(mac), out + signed_len + 1, TOKEN_CAP - signed_len - 1);
}

/* An HS256 token under the "hs-1" key (kid hs-1 unless the header says otherwise). */
static void hs256(const char *header, const char *payload, char *out)
{
    hs256_with(keys[HS].material, keys[HS].len, header, payload, out);
}

#define HS_HEADER "{'alg':'HS256','kid':'hs-1'}"
/* A payload with the vectors' sub, aud, iat and exp, then extra members. */
#define CLAIMS(extra)                                                                              \
    "{'sub':'user-42','aud':'shop','iat':" CPM_STRINGIFY(JWT_VECTOR_IAT) ",'exp':" CPM_STRINGIFY(  \
        JWT_VECTOR_EXP) extra "}"

/* The token's signing input and signature replaced by sig (len bytes) into out. */
static void with_signature(const char *token, const uint8_t *sig, size_t len, char *out)
{
    size_t signed_len = strrchr(token, '.') - token;
    memcpy(out, token, signed_len + 1);
    b64url(sig, len, out + signed_len + 1, TOKEN_CAP - signed_len - 1);
}

/* Fails when message quotes any 12 consecutive characters of token. */
static void no_echo(const char *token, const char *message)
{
    char window[13];
    size_t n = strlen(token);
    for (size_t i = 0; i + 12 <= n; i++) {
        memcpy(window, token + i, 12);
        window[12] = '\0';
        if (strstr(message, window) != NULL)
            fail_msg("the message quotes the token: %s", message);
    }
}

static void verify_ok(const char *token, const struct cpm_jwt_key *k, size_t n,
                      const char *audience, int64_t now, int64_t life, struct cpm_jwt_claims *out)
{
    struct cpm_detail d;
    cpm_detail_init(&d);
    cpm_err err = cpm_jwt_verify(token, k, n, audience, now, SKEW, life, out, &d);
    for (int i = 0; i < d.count; i++)
        print_message("  %s\n", d.faults[i].message);
    assert_int_equal(err, CPM_OK);
    assert_int_equal(d.count, 0);
}

/* Refused with one fault (no field) starting with prefix, out untouched, nothing quoted. */
static void refused_with(const char *token, const struct cpm_jwt_key *k, size_t n,
                         const char *audience, int64_t now, int64_t life, const char *prefix)
{
    struct cpm_detail d;
    struct cpm_jwt_claims out, before;
    cpm_detail_init(&d);
    memset(&out, 0xa5, sizeof(out));
    before = out;
    assert_int_equal(cpm_jwt_verify(token, k, n, audience, now, SKEW, life, &out, &d),
                     CPM_ERR_UNAUTHORIZED);
    expect(&d, "", prefix);
    assert_int_equal(d.count, 1);
    assert_memory_equal(&out, &before, sizeof(out));
    no_echo(token, d.faults[0].message);
}

#define REFUSED(token, prefix) refused_with(token, keys, KEY_COUNT, "shop", NOW, LIFE, prefix)
#define OK(token, claims)      verify_ok(token, keys, KEY_COUNT, "shop", NOW, LIFE, claims)

/* ---- the vectors verify ---- */

static void test_each_algorithm(void **state)
{
    CPM_UNUSED(state);
    struct cpm_jwt_claims c;
    OK(token_hs256, &c);
    assert_string_equal(c.sub, "user-42");
    assert_string_equal(c.aud, "shop");
    assert_int_equal(c.iat, JWT_VECTOR_IAT);
    assert_int_equal(c.exp, JWT_VECTOR_EXP);
    assert_int_equal(c.nbf, 0);
    assert_string_equal(c.jti, "j-1");
    assert_int_equal(c.key_index, HS);

    OK(token_es256, &c);
    assert_string_equal(c.sub, "user-42");
    assert_int_equal(c.nbf, JWT_VECTOR_IAT);
    assert_int_equal(c.exp, JWT_VECTOR_EXP);
    assert_string_equal(c.jti, "");
    assert_int_equal(c.key_index, ES);

    OK(token_eddsa, &c);
    assert_string_equal(c.sub, "user-42");
    assert_int_equal(c.iat, JWT_VECTOR_IAT);
    assert_int_equal(c.key_index, ED);

    OK(token_ed25519, &c); /* RFC 9864's name for EdDSA on Ed25519 */
    assert_string_equal(c.sub, "user-43");

    /* each key alone is enough for its token */
    verify_ok(token_hs256, &keys[HS], 1, "shop", NOW, LIFE, &c);
    verify_ok(token_es256, &keys[ES], 1, "shop", NOW, LIFE, &c);
    verify_ok(token_eddsa, &keys[ED], 1, "shop", NOW, LIFE, &c);
    assert_int_equal(c.key_index, 0);
}

static void test_key_choice(void **state)
{
    CPM_UNUSED(state);
    struct cpm_jwt_claims c;
    struct cpm_jwt_key only = keys[HS], two[2] = {keys[HS], keys[HS]};
    /* no kid in the token, several keys: those of its algorithm are tried */
    OK(token_hs256_no_kid, &c);
    assert_int_equal(c.key_index, HS);
    /* no kid anywhere: the only key */
    only.kid[0] = '\0';
    verify_ok(token_hs256_no_kid, &only, 1, "shop", NOW, LIFE, &c);
    /* a key without a kid answers a token with one */
    verify_ok(token_hs256, &only, 1, "shop", NOW, LIFE, &c);
    /* rotation: an old secret first, then the right one, both without kids */
    two[0].material[0] ^= 1;
    two[0].kid[0] = two[1].kid[0] = '\0';
    verify_ok(token_hs256_no_kid, two, 2, "shop", NOW, LIFE, &c);
    assert_int_equal(c.key_index, 1);
    /* the token's kid picks hs-1 even where another HS256 key would not verify */
    two[0].material[0] ^= 1;
    cpm_strlcpy(two[0].kid, "hs-0", sizeof(two[0].kid));
    two[0].material[1] ^= 1;
    cpm_strlcpy(two[1].kid, "hs-1", sizeof(two[1].kid));
    verify_ok(token_hs256, two, 2, "shop", NOW, LIFE, &c);
    assert_int_equal(c.key_index, 1);
    /* no key for the token's algorithm at all */
    refused_with(token_hs256_no_kid, &keys[ES], 2, "shop", NOW, LIFE,
                 "the token's algorithm 'HS256' is not accepted");
    refused_with(token_hs256, NULL, 0, "shop", NOW, LIFE, "no key has kid 'hs-1'");
}

/* ---- signatures ---- */

static void test_tampered(void **state)
{
    CPM_UNUSED(state);
    const char *tokens[] = {token_hs256, token_es256, token_eddsa};
    char t[TOKEN_CAP], payload[128];
    for (size_t i = 0; i < CPM_ARRAY_LEN(tokens); i++) {
        /* a payload of another subject under the original header and signature */
        const char *dot1 = strchr(tokens[i], '.'), *dot2 = strrchr(tokens[i], '.');
        size_t h = (size_t)(dot1 - tokens[i]) + 1;
        memcpy(t, tokens[i], h);
        dq(CLAIMS(""), payload, sizeof(payload));
        payload[14] = '3'; /* user-42 → user-43 */
        assert_non_null(strstr(payload, "user-43"));
        b64url(payload, strlen(payload), t + h, sizeof(t) - h);
        cpm_strlcpy(t + strlen(t), dot2, sizeof(t) - strlen(t));
        REFUSED(t, "signature does not verify");
        /* a signature with one bit changed, at its start, middle and end */
        uint8_t sig[64];
        size_t sig_len = 0;
        assert_int_equal(sodium_base642bin(sig, sizeof(sig), dot2 + 1, strlen(dot2 + 1), NULL,
                                           &sig_len, NULL,
                                           sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                         0);
        for (size_t at = 0; at < sig_len; at += sig_len / 2 - 1) {
            sig[at] ^= 0x01;
            with_signature(tokens[i], sig, sig_len, t);
            REFUSED(t, "signature does not verify");
            sig[at] ^= 0x01;
        }
        /* the same through the text (the first character stays canonical) */
        cpm_strlcpy(t, tokens[i], sizeof(t));
        char *s = strrchr(t, '.') + 1;
        *s = *s == 'A' ? 'B' : 'A';
        REFUSED(t, "signature does not verify");
        /* the header changed: alg and kid the same, typ added or dropped */
        assemble(i == 1
                     ? "{'alg':'ES256','kid':'es-1','typ':'JWT'}"
                     : (i == 0 ? "{'alg':'HS256','kid':'hs-1'}" : "{'alg':'EdDSA','kid':'ed-1'}"),
                 CLAIMS(""), (const uint8_t *)"", 0, t);
        cpm_strlcpy(strrchr(t, '.'), dot2, sizeof(t) - (size_t)(strrchr(t, '.') - t));
        REFUSED(t, "signature does not verify");
    }
}

static void test_swapped_key(void **state)
{
    CPM_UNUSED(state);
    struct cpm_jwt_key other[KEY_COUNT];
    memcpy(other, keys, sizeof(other));
    other[HS].material[31] ^= 0x80;
    uint8_t sk[crypto_sign_SECRETKEYBYTES], seed[crypto_sign_SEEDBYTES] = {7};
    crypto_sign_seed_keypair(other[ED].material, sk, seed);
    memcpy(other[ES].material, p256_g, sizeof(p256_g));
    refused_with(token_hs256, other, KEY_COUNT, "shop", NOW, LIFE, "signature does not verify");
    refused_with(token_es256, other, KEY_COUNT, "shop", NOW, LIFE, "signature does not verify");
    refused_with(token_eddsa, other, KEY_COUNT, "shop", NOW, LIFE, "signature does not verify");
    /* each token against another property's key of another algorithm, same kid */
    struct cpm_jwt_key ed_as_hs = keys[ED];
    cpm_strlcpy(ed_as_hs.kid, "hs-1", sizeof(ed_as_hs.kid));
    refused_with(token_hs256, &ed_as_hs, 1, "shop", NOW, LIFE,
                 "the token's algorithm 'HS256' is not accepted for kid 'hs-1'");
}

/*
 * The classic confusion: a token says HS256 and is "signed" with the bytes of
 * a public key the attacker knows. It must fail because the key is declared
 * EdDSA / ES256, not because the MAC is wrong — the controls below show that
 * the MAC is right.
 */
static void test_algorithm_confusion(void **state)
{
    CPM_UNUSED(state);
    struct cpm_jwt_claims c;
    REFUSED(token_hs256_ed_public, "the token's algorithm 'HS256' is not accepted for kid 'ed-1'");
    REFUSED(token_hs256_es_public, "the token's algorithm 'HS256' is not accepted for kid 'es-1'");
    struct cpm_jwt_key single = keys[ED];
    single.kid[0] = '\0';
    refused_with(token_hs256_ed_public, &single, 1, "shop", NOW, LIFE,
                 "the token's algorithm 'HS256' is not accepted");
    /* controls: a verifier trusting the token's alg would have accepted both */
    struct cpm_jwt_key naive = keys[ED];
    naive.alg = CPM_JWT_HS256;
    verify_ok(token_hs256_ed_public, &naive, 1, "shop", NOW, LIFE, &c);
    naive = keys[ES];
    naive.alg = CPM_JWT_HS256;
    verify_ok(token_hs256_es_public, &naive, 1, "shop", NOW, LIFE, &c);
    /* an EdDSA token against a key declared ES256, and the other way round */
    struct cpm_jwt_key swapped[2] = {keys[ES], keys[ED]};
    cpm_strlcpy(swapped[0].kid, "ed-1", sizeof(swapped[0].kid));
    cpm_strlcpy(swapped[1].kid, "es-1", sizeof(swapped[1].kid));
    refused_with(token_eddsa, swapped, 2, "shop", NOW, LIFE,
                 "the token's algorithm 'EdDSA' is not accepted for kid 'ed-1'");
    refused_with(token_es256, swapped, 2, "shop", NOW, LIFE,
                 "the token's algorithm 'ES256' is not accepted for kid 'es-1'");
}

static void test_alg_none_and_others(void **state)
{
    CPM_UNUSED(state);
    char t[TOKEN_CAP];
    assemble("{'alg':'none','typ':'JWT'}", CLAIMS(""), (const uint8_t *)"", 0, t);
    assert_int_equal(t[strlen(t) - 1], '.'); /* an unsecured JWS: empty signature */
    REFUSED(t, "the token's algorithm 'none' is not accepted");
    assemble("{'alg':'none','kid':'hs-1'}", CLAIMS(""), (const uint8_t *)"", 0, t);
    REFUSED(t, "the token's algorithm 'none' is not accepted");
    const char *headers[] = {"{'alg':'None'}", "{'alg':'HS512','kid':'hs-1'}",
                             "{'alg':'RS256','kid':'hs-1'}", "{'alg':'hs256'}", "{'alg':'PS256'}"};
    const char *names[] = {"None", "HS512", "RS256", "hs256", "PS256"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(headers); i++) {
        char want[80];
        hs256(headers[i], CLAIMS(""), t);
        snprintf(want, sizeof(want), "the token's algorithm '%s' is not accepted", names[i]);
        REFUSED(t, want);
    }
    /* a name that cannot be shown is not shown */
    hs256("{'alg':'HS256HS256HS256HS256HS256'}", CLAIMS(""), t);
    REFUSED(t, "the token's algorithm is not accepted");
    hs256("{'alg':'HS\\u0001'}", CLAIMS(""), t);
    REFUSED(t, "the token's algorithm is not accepted");
}

static void test_unknown_kid(void **state)
{
    CPM_UNUSED(state);
    char t[TOKEN_CAP];
    hs256("{'alg':'HS256','kid':'k9'}", CLAIMS(""), t);
    REFUSED(t, "no key has kid 'k9'");
    hs256("{'alg':'HS256','kid':'0123456789012345678901234567890123456789012345678901234567890123"
          "4'}",
          CLAIMS(""), t);
    REFUSED(t, "no key has the token's kid");
    hs256("{'alg':'HS256','kid':'k\\n9'}", CLAIMS(""), t);
    REFUSED(t, "no key has the token's kid");
    hs256("{'alg':'HS256','kid':''}", CLAIMS(""), t);
    REFUSED(t, "no key has the token's kid");
}

/* Crafted ES256 signatures: r or s zero or not below the order n. */
static void test_es256_signature_range(void **state)
{
    CPM_UNUSED(state);
    char t[TOKEN_CAP];
    uint8_t good[64], sig[64];
    size_t len = 0;
    const char *s = strrchr(token_es256, '.') + 1;
    assert_int_equal(sodium_base642bin(good, sizeof(good), s, strlen(s), NULL, &len, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    assert_int_equal(len, 64);
    for (int half = 0; half < 2; half++) {
        uint8_t *part = sig + 32 * half;
        memcpy(sig, good, 64);
        memset(part, 0, 32); /* zero */
        with_signature(token_es256, sig, 64, t);
        REFUSED(t, "signature does not verify");
        memcpy(part, p256_n, 32); /* n */
        with_signature(token_es256, sig, 64, t);
        REFUSED(t, "signature does not verify");
        part[31]++; /* n + 1 */
        with_signature(token_es256, sig, 64, t);
        REFUSED(t, "signature does not verify");
        memset(part, 0xff, 32); /* 2^256 - 1 */
        with_signature(token_es256, sig, 64, t);
        REFUSED(t, "signature does not verify");
        memcpy(part, good + 32 * half, 32); /* r or s + n, when it still fits in 32 bytes */
        unsigned carry = 0;
        for (int i = 31; i >= 0; i--) {
            unsigned v = part[i] + p256_n[i] + carry;
            part[i] = (uint8_t)v;
            carry = v >> 8;
        }
        if (carry == 0) {
            with_signature(token_es256, sig, 64, t);
            REFUSED(t, "signature does not verify");
        }
    }
    /* (r, n - s) is the same signature's twin: ECDSA accepts it, and so does JWS */
    memcpy(sig, good, 64);
    unsigned borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int v = (int)p256_n[i] - good[32 + i] - (int)borrow;
        borrow = v < 0;
        sig[32 + i] = (uint8_t)(v + (v < 0 ? 256 : 0));
    }
    with_signature(token_es256, sig, 64, t);
    struct cpm_jwt_claims c;
    OK(t, &c);
    /* not 64 bytes: r ‖ s in DER, short, long */
    with_signature(token_es256, good, 63, t);
    REFUSED(t, "malformed: the signature is not 64 bytes, as ES256 needs");
    uint8_t der[72] = {0x30, 0x44, 0x02, 0x20};
    memcpy(der + 4, good, 32);
    der[36] = 0x02;
    der[37] = 0x20;
    memcpy(der + 38, good + 32, 32);
    with_signature(token_es256, der, 70, t);
    REFUSED(t, "malformed: the signature is over 64 bytes");
    with_signature(token_hs256, good, 31, t);
    REFUSED(t, "malformed: the signature is not 32 bytes, as HS256 needs");
    with_signature(token_eddsa, good, 32, t);
    REFUSED(t, "malformed: the signature is not 64 bytes, as EdDSA needs");
}

/* ---- times ---- */

static void test_times(void **state)
{
    CPM_UNUSED(state);
    struct cpm_jwt_claims c;
    char t[TOKEN_CAP];
    const struct cpm_jwt_key *k = keys;
    /* exp: valid until exp + skew, exclusive */
    verify_ok(token_hs256, k, KEY_COUNT, "shop", JWT_VECTOR_EXP + SKEW - 1, LIFE, &c);
    refused_with(token_hs256, k, KEY_COUNT, "shop", JWT_VECTOR_EXP + SKEW, LIFE,
                 "expired at 2026-01-01T00:05:00");
    refused_with(token_eddsa, k, KEY_COUNT, "shop", JWT_VECTOR_EXP + SKEW + 1, LIFE,
                 "expired at 2026-01-01T00:05:00.000Z");
    refused_with(token_es256, k, KEY_COUNT, "shop", JWT_VECTOR_EXP + SKEW + 1, LIFE, "expired");
    /* nbf IAT + 120: not before IAT + 60 */
    refused_with(token_eddsa_nbf_later, k, KEY_COUNT, "shop", JWT_VECTOR_IAT, LIFE,
                 "not valid before 2026-01-01T00:02:00.000Z");
    verify_ok(token_eddsa_nbf_later, k, KEY_COUNT, "shop", JWT_VECTOR_IAT + 60, LIFE, &c);
    assert_int_equal(c.nbf, JWT_VECTOR_IAT + 120);
    /* iat in the future */
    refused_with(token_hs256, k, KEY_COUNT, "shop", JWT_VECTOR_IAT - SKEW - 1, LIFE,
                 "issued in the future (at 2026-01-01T00:00:00.000Z)");
    verify_ok(token_hs256, k, KEY_COUNT, "shop", JWT_VECTOR_IAT - SKEW, LIFE, &c);
    /* lifetime: exp - iat */
    verify_ok(token_hs256, k, KEY_COUNT, "shop", NOW, 300, &c);
    refused_with(token_hs256, k, KEY_COUNT, "shop", NOW, 299, "lifetime over 299 s");
    refused_with(token_es256_long_lived, k, KEY_COUNT, "shop", NOW, LIFE, "lifetime over 3600 s");
    verify_ok(token_es256_long_lived, k, KEY_COUNT, "shop", NOW, 7200, &c);
    /* lifetime without iat: exp - now */
    hs256(HS_HEADER, "{'sub':'u','aud':'shop','exp':1767229211}", t); /* NOW + 3601 */
    REFUSED(t, "lifetime over 3600 s");
    hs256(HS_HEADER, "{'sub':'u','aud':'shop','exp':1767229210}", t);
    OK(t, &c);
    assert_int_equal(c.iat, 0);
    /* extreme values do not overflow */
    hs256(HS_HEADER, "{'sub':'u','aud':'shop','exp':9223372036854775807,'iat':1767225600}", t);
    REFUSED(t, "lifetime over 3600 s");
    hs256(HS_HEADER, "{'sub':'u','aud':'shop','exp':1767225700,'iat':-9223372036854775808}", t);
    REFUSED(t, "lifetime over 3600 s");
    hs256(HS_HEADER, "{'sub':'u','aud':'shop','exp':-9223372036854775808}", t);
    REFUSED(t, "expired at -9223372036854775808 s since the epoch");
    hs256(HS_HEADER, "{'sub':'u','aud':'shop','exp':1767225700,'nbf':9223372036854775807}", t);
    REFUSED(t, "not valid before 9223372036854775807 s since the epoch");
    /* reals: the fraction is dropped */
    hs256(HS_HEADER, "{'sub':'u','aud':'shop','exp':1767225700.9,'iat':1.7672256e9}", t);
    OK(t, &c);
    assert_int_equal(c.exp, 1767225700);
    assert_int_equal(c.iat, 1767225600);
}

/* ---- audience and claims ---- */

static void test_audience(void **state)
{
    CPM_UNUSED(state);
    struct cpm_jwt_claims c;
    char t[TOKEN_CAP];
    refused_with(token_hs256, keys, KEY_COUNT, "blog", NOW, LIFE, "audience is not 'blog'");
    verify_ok(token_es256, keys, KEY_COUNT, "blog", NOW, LIFE, &c); /* ["blog","shop"] */
    assert_string_equal(c.aud, "blog");
    verify_ok(token_es256, keys, KEY_COUNT, "shop", NOW, LIFE, &c);
    assert_string_equal(c.aud, "shop");
    refused_with(token_es256, keys, KEY_COUNT, "news", NOW, LIFE, "audience is not 'news'");
    refused_with(token_hs256, keys, KEY_COUNT, "sho", NOW, LIFE, "audience is not 'sho'");
    refused_with(token_hs256, keys, KEY_COUNT, "shopping", NOW, LIFE, "audience is not 'shopping'");
    hs256(HS_HEADER, "{'sub':'u','aud':[],'exp':1767225700}", t);
    REFUSED(t, "audience is not 'shop'");
    hs256(HS_HEADER, "{'sub':'u','aud':['shop',1],'exp':1767225700}", t);
    REFUSED(t, "malformed: claim 'aud' is not a string or an array of strings");
    hs256(HS_HEADER, "{'sub':'u','aud':{'shop':1},'exp':1767225700}", t);
    REFUSED(t, "malformed: claim 'aud' is not a string or an array of strings");
    hs256(HS_HEADER, "{'sub':'u','exp':1767225700}", t);
    REFUSED(t, "malformed: claim 'aud' is missing");
}

static void test_claims(void **state)
{
    CPM_UNUSED(state);
    struct cpm_jwt_claims c;
    char t[TOKEN_CAP], payload[1024];
    REFUSED(token_hs256_no_sub, "malformed: claim 'sub' is missing");
    REFUSED(token_hs256_no_exp, "malformed: claim 'exp' is missing");
    static const struct {
        const char *payload, *refusal; /* refusal NULL: accepted */
    } cases[] = {
        {"{'sub':'','aud':'shop','exp':1767225700}", "malformed: claim 'sub' is empty"},
        {"{'sub':5,'aud':'shop','exp':1767225700}", "malformed: claim 'sub' is not a string"},
        {"{'sub':null,'aud':'shop','exp':1767225700}", "malformed: claim 'sub' is not a string"},
        {"{'sub':'a\\u0001b','aud':'shop','exp':1767225700}",
         "malformed: claim 'sub' has control characters"},
        {"{'sub':'ab\\n','aud':'shop','exp':1767225700}",
         "malformed: claim 'sub' has control characters"},
        {"{'sub':'a\\u007f','aud':'shop','exp':1767225700}",
         "malformed: claim 'sub' has control characters"},
        {"{'sub':'a\\u0085','aud':'shop','exp':1767225700}",
         "malformed: claim 'sub' has control characters"},
        {"{'sub':'a\\u0000b','aud':'shop','exp':1767225700}", "malformed: the payload is not JSON"},
        {"{'sub':'\\u7528\\u6237 7','aud':'shop','exp':1767225700}", NULL}, /* 用户 7 */
        {"{'sub':'u','aud':'shop','exp':'1767225700'}", "malformed: claim 'exp' is not a number"},
        {"{'sub':'u','aud':'shop','exp':true}", "malformed: claim 'exp' is not a number"},
        {"{'sub':'u','aud':'shop','exp':1e19}", "malformed: claim 'exp' is out of range"},
        {"{'sub':'u','aud':'shop','exp':-1e19}", "malformed: claim 'exp' is out of range"},
        {"{'sub':'u','aud':'shop','exp':99999999999999999999}",
         "malformed: the payload has a number out of range"},
        {"{'sub':'u','aud':'shop','exp':1e999}",
         "malformed: the payload has a number out of range"},
        {"{'sub':'u','aud':'shop','exp':1767225700,'nbf':'now'}",
         "malformed: claim 'nbf' is not a number"},
        {"{'sub':'u','aud':'shop','exp':1767225700,'iat':[1]}",
         "malformed: claim 'iat' is not a number"},
        {"{'sub':'u','aud':'shop','exp':1767225700,'jti':7}",
         "malformed: claim 'jti' is not a string"},
        {"{'sub':'u','aud':'shop','exp':1767225700,'jti':'"
         "01234567890123456789012345678901234567890123456789012345678901234'}",
         "malformed: claim 'jti' is over 64 bytes"},
        {"{'sub':'u','aud':'shop','exp':1767225700,'jti':'"
         "0123456789012345678901234567890123456789012345678901234567890123'}",
         NULL},
        {"{'sub':'u','aud':'shop','exp':1767225700,'iss':'x','scope':['a'],'n':{'m':null}}", NULL},
        {"{'sub':'u','sub':'v','aud':'shop','exp':1767225700}",
         "malformed: the payload has a duplicate member"},
        {"{'sub':'u','aud':'shop','exp':1767225700} x", "malformed: the payload is not JSON"},
        {"{'sub':'u','aud':'shop','exp':1767225700", "malformed: the payload is not JSON"},
        {"", "malformed: the payload is not JSON"},
        {"'just a string'", "malformed: the payload is not a JSON object"},
        {"[1,2]", "malformed: the payload is not a JSON object"},
        {"null", "malformed: the payload is not a JSON object"},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(cases); i++) {
        print_message("case %zu\n", i);
        hs256(HS_HEADER, cases[i].payload, t);
        if (cases[i].refusal == NULL)
            OK(t, &c);
        else
            REFUSED(t, cases[i].refusal);
    }
    /* nesting: the object and 31 arrays pass, one more does not */
    for (int depth = CPM_JSON_DEPTH_MAX - 1; depth <= CPM_JSON_DEPTH_MAX; depth++) {
        char nested[2 * CPM_JSON_DEPTH_MAX + 1];
        memset(nested, '[', (size_t)depth);
        memset(nested + depth, ']', (size_t)depth);
        nested[2 * depth] = '\0';
        snprintf(payload, sizeof(payload), "{'sub':'u','aud':'shop','exp':1767225700,'a':%s}",
                 nested);
        hs256(HS_HEADER, payload, t);
        if (depth < CPM_JSON_DEPTH_MAX)
            OK(t, &c);
        else
            REFUSED(t, "malformed: the payload is nested too deep");
    }
    /* sub: 128 bytes pass, 129 do not */
    char sub[130];
    memset(sub, 'x', sizeof(sub));
    sub[128] = '\0';
    snprintf(payload, sizeof(payload), "{'sub':'%s','aud':'shop','exp':1767225700}", sub);
    hs256(HS_HEADER, payload, t);
    OK(t, &c);
    assert_string_equal(c.sub, sub);
    sub[128] = 'x';
    sub[129] = '\0';
    snprintf(payload, sizeof(payload), "{'sub':'%s','aud':'shop','exp':1767225700}", sub);
    hs256(HS_HEADER, payload, t);
    REFUSED(t, "malformed: claim 'sub' is over 128 bytes");
    /* the payload is not read before the signature verified */
    assemble(HS_HEADER, "not json", (const uint8_t *)"0123456789abcdef0123456789abcdef", 32, t);
    REFUSED(t, "signature does not verify");
}

static void test_header(void **state)
{
    CPM_UNUSED(state);
    struct cpm_jwt_claims c;
    char t[TOKEN_CAP];
    static const struct {
        const char *header, *refusal; /* refusal NULL: accepted */
    } cases[] = {
        {"{'alg':'HS256','kid':'hs-1','typ':'JWT'}", NULL},
        {"{'alg':'HS256','kid':'hs-1','typ':'jwt'}", NULL},
        {"{'alg':'HS256','kid':'hs-1','typ':'application/jwt'}", NULL},
        {"{'alg':'HS256','kid':'hs-1','cty':'x','x5u':'https://a.example/k','jwk':{}}", NULL},
        {"{'alg':'HS256','kid':'hs-1','typ':'at+jwt'}", "malformed: header 'typ' is not 'JWT'"},
        {"{'alg':'HS256','kid':'hs-1','typ':1}", "malformed: header 'typ' is not 'JWT'"},
        {"{'alg':'HS256','kid':'hs-1','crit':['exp']}", "malformed: header 'crit' names"},
        {"{'alg':'HS256','kid':'hs-1','b64':false,'crit':['b64']}", "malformed: header 'crit'"},
        {"{'alg':'HS256','kid':7}", "malformed: header 'kid' is not a string"},
        {"{'kid':'hs-1'}", "malformed: the header has no 'alg'"},
        {"{'alg':['HS256']}", "malformed: header 'alg' is not a string"},
        {"{'alg':'HS256','alg':'HS256','kid':'hs-1'}",
         "malformed: the header has a duplicate member"},
        {"{'alg':'none','alg':'HS256'}", "malformed: the header has a duplicate member"},
        {"['HS256']", "malformed: the header is not a JSON object"},
        {"'HS256'", "malformed: the header is not a JSON object"},
        {"{alg:HS256}", "malformed: the header is not JSON"},
        {"", "malformed: the header is not JSON"},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(cases); i++) {
        print_message("case %zu\n", i);
        hs256(cases[i].header, CLAIMS(""), t);
        if (cases[i].refusal == NULL)
            OK(t, &c);
        else
            REFUSED(t, cases[i].refusal);
    }
}

/* ---- encodings ---- */

static void test_malformed(void **state)
{
    CPM_UNUSED(state);
    char t[TOKEN_CAP];
    const char *parts = "malformed: not three parts separated by dots";
    REFUSED("", parts);
    REFUSED("abc", parts);
    REFUSED("abc.def", parts);
    REFUSED("a.b.c.d", parts);
    REFUSED("...", parts);
    snprintf(t, sizeof(t), "%s.", token_hs256);
    REFUSED(t, parts);
    snprintf(t, sizeof(t), "%s.%s", token_hs256, strrchr(token_hs256, '.') + 1); /* JWE-like */
    REFUSED(t, parts);
    /* trailing and leading data */
    const char *sig_b64 = "malformed: the signature is not base64url without padding";
    snprintf(t, sizeof(t), "%s\n", token_hs256);
    REFUSED(t, sig_b64);
    snprintf(t, sizeof(t), "%s ", token_hs256);
    REFUSED(t, sig_b64);
    snprintf(t, sizeof(t), " %s", token_hs256);
    REFUSED(t, "malformed: the header is not base64url without padding");
    /* padding */
    char h[64], p[256];
    dq(HS_HEADER, h, sizeof(h)); /* 28 bytes: "==" in padded base64 */
    dq(CLAIMS(""), p, sizeof(p));
    assert_int_equal(strlen(h) % 3, 1);
    sodium_bin2base64(t, sizeof(t), (const uint8_t *)h, strlen(h), sodium_base64_VARIANT_URLSAFE);
    assert_non_null(strchr(t, '='));
    size_t n = strlen(t);
    t[n++] = '.';
    b64url(p, strlen(p), t + n, sizeof(t) - n);
    n = strlen(t);
    snprintf(t + n, sizeof(t) - n, "%s", strrchr(token_hs256, '.'));
    REFUSED(t, "malformed: the header is not base64url without padding");
    snprintf(t, sizeof(t), "%s=", token_hs256);
    REFUSED(t, sig_b64);
    /* the standard alphabet, and other bytes */
    cpm_strlcpy(t, token_hs256, sizeof(t));
    strchr(t, '.')[3] = '+';
    REFUSED(t, "malformed: the payload is not base64url without padding");
    strchr(t, '.')[3] = '/';
    REFUSED(t, "malformed: the payload is not base64url without padding");
    strchr(t, '.')[3] = '\x01';
    REFUSED(t, "malformed: the payload is not base64url without padding");
    strchr(t, '.')[3] = '\xc3';
    REFUSED(t, "malformed: the payload is not base64url without padding");
    /* bytes over 0x7f (libsodium 1.0.18 alone would take them for a base64 digit) */
    for (int c = 0x80; c <= 0xff; c++) {
        cpm_strlcpy(t, token_hs256, sizeof(t));
        strrchr(t, '.')[5] = (char)c;
        REFUSED(t, sig_b64);
    }
    /* a non-canonical last character (unused bits set): another encoding of the same MAC */
    cpm_strlcpy(t, token_hs256, sizeof(t));
    char *last = t + strlen(t) - 1;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t v = (size_t)(strchr(alphabet, *last) - alphabet);
    assert_int_equal(v % 4, 0); /* 43 characters for 32 bytes: the last 2 bits are 0 */
    *last = alphabet[v + 1];
    REFUSED(t, sig_b64);
    /* a part of length 1 mod 4 */
    cpm_strlcpy(t, token_hs256, sizeof(t));
    cpm_strlcpy(strrchr(t, '.') + 1, "AAAAA", 6);
    REFUSED(t, sig_b64);
    /* huge */
    char *huge = malloc(CPM_JWT_BYTES_MAX + 100);
    assert_non_null(huge);
    memset(huge, 'A', CPM_JWT_BYTES_MAX + 99);
    huge[100] = huge[200] = '.';
    huge[CPM_JWT_BYTES_MAX + 99] = '\0';
    REFUSED(huge, "malformed: over 4096 bytes");
    huge[CPM_JWT_BYTES_MAX + 1] = '\0';
    REFUSED(huge, "malformed: over 4096 bytes");
    free(huge);
}

/* A token right at the size limit verifies; one byte more does not. */
static void test_size_limit(void **state)
{
    CPM_UNUSED(state);
    struct cpm_jwt_claims c;
    char t[TOKEN_CAP], payload[4096], pad[3500];
    size_t pad_len = 2000;
    for (;;) {
        memset(pad, 'p', pad_len);
        pad[pad_len] = '\0';
        snprintf(payload, sizeof(payload), "{'sub':'u','aud':'shop','exp':1767225700,'x':'%s'}",
                 pad);
        hs256(HS_HEADER, payload, t);
        if (strlen(t) >= CPM_JWT_BYTES_MAX - 1)
            break;
        pad_len++;
    }
    if (strlen(t) == CPM_JWT_BYTES_MAX - 1) { /* base64 skips a length: one more header byte */
        hs256("{'alg':'HS256','kid':'hs-1' }", payload, t);
    }
    assert_int_equal(strlen(t), CPM_JWT_BYTES_MAX);
    OK(t, &c);
    pad[pad_len++] = 'p';
    pad[pad_len] = '\0';
    snprintf(payload, sizeof(payload), "{'sub':'u','aud':'shop','exp':1767225700,'x':'%s'}", pad);
    hs256("{'alg':'HS256','kid':'hs-1','x':'xx'}", payload, t);
    assert_true(strlen(t) > CPM_JWT_BYTES_MAX);
    REFUSED(t, "malformed: over 4096 bytes");
}

/* ---- JWKs ---- */

static void test_jwk_good(void **state)
{
    CPM_UNUSED(state);
    struct cpm_jwt_key k;
    uint8_t secret[32];
    crypto_hash_sha256(secret, (const uint8_t *)"opencpm jwt test hs256", 22);
    assert_string_equal(keys[HS].kid, "hs-1");
    assert_int_equal(keys[HS].alg, CPM_JWT_HS256);
    assert_int_equal(keys[HS].len, 32);
    assert_memory_equal(keys[HS].material, secret, 32);
    assert_string_equal(keys[ES].kid, "es-1");
    assert_int_equal(keys[ES].alg, CPM_JWT_ES256);
    assert_int_equal(keys[ES].len, 64);
    assert_string_equal(keys[ED].kid, "ed-1");
    assert_int_equal(keys[ED].alg, CPM_JWT_EDDSA);
    assert_int_equal(keys[ED].len, 32);
    static const char *good[] = {
        "{'kty':'OKP','crv':'Ed25519','alg':'Ed25519','use':'sig',"
        "'x':'tKloUeT_bNOsV5kPe3UC1aBL2e09NybvdxKmVnqNWlg'}",
        "{'kty':'OKP','crv':'Ed25519','alg':'EdDSA','x':'tKloUeT_"
        "bNOsV5kPe3UC1aBL2e09NybvdxKmVnqNWlg',"
        "'key_ops':['verify'],'x5t':'ignored'}",
        "{'kty':'EC','crv':'P-256','alg':'ES256','x':'nohIcd5gBevWYu-AaT19VoIK74y9rm0Aa1Vxg1Fqrnc',"
        "'y':'fXV23SzRpzJ555YN3Iblimd2MAoyAUWUap0qJSgXKk4'}",
        "{'kty':'oct','k':'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'}",
        "{'kty':'oct','k':'"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'}",
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(good); i++) {
        char text[512];
        struct cpm_detail d;
        cpm_detail_init(&d);
        dq(good[i], text, sizeof(text));
        memset(&k, 0xa5, sizeof(k));
        assert_int_equal(parse_jwk_text(text, NULL, &k, &d), CPM_OK);
        assert_int_equal(d.count, 0);
        assert_string_equal(k.kid, "");
    }
    assert_int_equal(k.len, 64);
    assert_int_equal(k.alg, CPM_JWT_HS256);
    /* detail may be NULL */
    assert_int_equal(parse_jwk_text(jwk_eddsa, "k", &k, NULL), CPM_OK);
    assert_int_equal(parse_jwk_text("{}", "k", &k, NULL), CPM_ERR_VALIDATION);
    cpm_jwt_key_wipe(&k);
    uint8_t zero[sizeof(k)] = {0};
    assert_memory_equal(&k, zero, sizeof(k));
}

static void test_jwk_bad(void **state)
{
    CPM_UNUSED(state);
#define X_ED "'x':'tKloUeT_bNOsV5kPe3UC1aBL2e09NybvdxKmVnqNWlg'"
#define XY_EC                                                                                      \
    "'x':'nohIcd5gBevWYu-AaT19VoIK74y9rm0Aa1Vxg1Fqrnc','y':'"                                      \
    "fXV23SzRpzJ555YN3Iblimd2MAoyAUWUap0qJSgXKk4'"
    static const struct {
        const char *jwk, *field, *message;
    } cases[] = {
        {"[]", "token_keys[2]", "a key must be a JWK"},
        {"'k'", "token_keys[2]", "a key must be a JWK"},
        {"{}", "token_keys[2].kty", "required"},
        {"{'kty':7}", "token_keys[2].kty", "must be a string"},
        {"{'kty':'RSA','n':'AQAB','e':'AQAB'}", "token_keys[2].kty",
         "unknown key type 'RSA'; expected one of: oct, OKP, EC"},
        {"{'kty':'oct'}", "token_keys[2].k", "required"},
        {"{'kty':'oct','k':'AAAAAAAAAAAAAAAAAAAAAA'}", "token_keys[2].k",
         "must be 32 to 64 bytes, not 16"},
        {"{'kty':'oct','k':'"
         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'"
         "}",
         "token_keys[2].k", "must be 32 to 64 bytes, not 66"},
        {"{'kty':'oct','k':'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='}", "token_keys[2].k",
         "must be base64url without padding"},
        {"{'kty':'oct','k':'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+/'}", "token_keys[2].k",
         "must be base64url without padding"},
        {"{'kty':'oct','k':'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA','alg':'HS512'}",
         "token_keys[2].alg", "does not fit a key of type oct: expected 'HS256'"},
        {"{'kty':'oct','k':'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA','alg':'EdDSA'}",
         "token_keys[2].alg", "does not fit a key of type oct"},
        {"{'kty':'OKP','crv':'X25519'," X_ED "}", "token_keys[2].crv",
         "an OKP key must be on curve Ed25519"},
        {"{'kty':'OKP','crv':'Ed448'," X_ED "}", "token_keys[2].crv",
         "an OKP key must be on curve Ed25519"},
        {"{'kty':'OKP'," X_ED "}", "token_keys[2].crv", "required"},
        {"{'kty':'OKP','crv':'Ed25519'," X_ED ",'d':'SVd68AoVr_Yg5JYRZw8Bfptmjgo4lJf8fSSJ_DaQw2o'}",
         "token_keys[2].d", "a private key is refused"},
        {"{'kty':'OKP','crv':'Ed25519','alg':'ES256'," X_ED "}", "token_keys[2].alg",
         "does not fit a key of type OKP: expected 'EdDSA' or 'Ed25519'"},
        {"{'kty':'OKP','crv':'Ed25519','x':'tKloUeT_bNOsV5kPe3UC1aBL2e09NybvdxKmVnqNWg'}",
         "token_keys[2].x", "must be 32 bytes, not 31"},
        {"{'kty':'OKP','crv':'Ed25519','x':'tKloUeT_bNOsV5kPe3UC1aBL2e09NybvdxKmVnqNWlg='}",
         "token_keys[2].x", "must be base64url without padding"},
        {"{'kty':'OKP','crv':'Ed25519','x':'tKloUeT_bNOsV5kPe3UC1aBL2e09NybvdxKmVnq\u00e9lg'}",
         "token_keys[2].x", "must be base64url without padding"},
        {"{'kty':'OKP','crv':'Ed25519','x':'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'}",
         "token_keys[2].x", "not a valid Ed25519 public key"}, /* small order */
        {"{'kty':'OKP','crv':'Ed25519','x':'AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'}",
         "token_keys[2].x", "not a valid Ed25519 public key"}, /* the identity */
        {"{'kty':'EC','crv':'P-384'," XY_EC "}", "token_keys[2].crv",
         "an EC key must be on curve P-256"},
        {"{'kty':'EC','crv':'secp256k1'," XY_EC "}", "token_keys[2].crv",
         "an EC key must be on curve P-256"},
        {"{'kty':'EC','crv':'P-256'," XY_EC ",'d':'IO4-v7uodRU4PgdRTVb7xVYik8-qWOwQvC9tZ8ujhCc'}",
         "token_keys[2].d", "a private key is refused"},
        {"{'kty':'EC','crv':'P-256','alg':'HS256'," XY_EC "}", "token_keys[2].alg",
         "does not fit a key of type EC: expected 'ES256'"},
        {"{'kty':'EC','crv':'P-256','x':'nohIcd5gBevWYu-AaT19VoIK74y9rm0Aa1Vxg1Fqrnc'}",
         "token_keys[2].y", "required"},
        {"{'kty':'EC','crv':'P-256','x':'nohIcd5gBevWYu-AaT19VoIK74y9rm0Aa1Vxg1Fqrnc','y':'"
         "AH11dt0s0acyeeeWDdyG5YpndjAKMgFFlGqdKiUoFypO'}",
         "token_keys[2].y", "must be 32 bytes, not 33"},
        {"{'kty':'EC','crv':'P-256','x':'nohIcd5gBevWYu-AaT19VoIK74y9rm0Aa1Vxg1Fqrnc','y':"
         "'fXV23SzRpzJ555YN3Iblimd2MAoyAUWUap0qJSgXKk8'}",
         "token_keys[2].x", "(x, y) is not a point on P-256"},
        {"{'kty':'EC','crv':'P-256','x':'nohIcd5gBevWYu-AaT19VoIK74y9rm0Aa1Vxg1Fqrnc','y':'"
         "fXV23SzRpzJ555YN3Iblimd2MAoyAUWUap0qJSgXKk4','use':'enc'}",
         "token_keys[2].use", "must be 'sig'"},
        {"{'kty':'EC','crv':'P-256'," XY_EC ",'kid':''}", "token_keys[2].kid",
         "must be 1 to 64 printable ASCII characters"},
        {"{'kty':'EC','crv':'P-256'," XY_EC ",'kid':'k\\n'}", "token_keys[2].kid",
         "must be 1 to 64 printable ASCII characters"},
        {"{'kty':'EC','crv':'P-256'," XY_EC
         ",'kid':'01234567890123456789012345678901234567890123456789012345678901234'}",
         "token_keys[2].kid", "must be 1 to 64 printable ASCII characters"},
        {"{'kty':'EC','crv':'P-256'," XY_EC ",'kid':1}", "token_keys[2].kid", "must be a string"},
    };
#undef X_ED
#undef XY_EC
    for (size_t i = 0; i < CPM_ARRAY_LEN(cases); i++) {
        char text[512];
        struct cpm_detail d;
        struct cpm_jwt_key k, before;
        print_message("case %zu\n", i);
        cpm_detail_init(&d);
        dq(cases[i].jwk, text, sizeof(text));
        memset(&k, 0xa5, sizeof(k));
        before = k;
        assert_int_equal(parse_jwk_text(text, "token_keys[2]", &k, &d), CPM_ERR_VALIDATION);
        expect(&d, cases[i].field, cases[i].message);
        assert_memory_equal(&k, &before, sizeof(k));
    }
    /* the vectors' private JWKs */
    struct cpm_detail d;
    struct cpm_jwt_key k;
    cpm_detail_init(&d);
    assert_int_equal(parse_jwk_text(jwk_es256_private, "token_keys[0]", &k, &d),
                     CPM_ERR_VALIDATION);
    expect(&d, "token_keys[0].d", "a private key is refused");
    cpm_detail_init(&d);
    assert_int_equal(parse_jwk_text(jwk_eddsa_private, "", &k, &d), CPM_ERR_VALIDATION);
    expect(&d, "d", "a private key is refused");
    /* a secret is never quoted */
    cpm_detail_init(&d);
    assert_int_equal(parse_jwk_text("{\"kty\":\"oct\",\"k\":\"c2VjcmV0LXNlY3JldA\"}", "t", &k, &d),
                     CPM_ERR_VALIDATION);
    assert_null(strstr(d.faults[0].message, "c2VjcmV0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_algorithm),
        cmocka_unit_test(test_key_choice),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_swapped_key),
        cmocka_unit_test(test_algorithm_confusion),
        cmocka_unit_test(test_alg_none_and_others),
        cmocka_unit_test(test_unknown_kid),
        cmocka_unit_test(test_es256_signature_range),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_audience),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_jwk_good),
        cmocka_unit_test(test_jwk_bad),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
