/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_keyring.c — src/crypto/keyring.c: subkey derivation, identifier
 * normalisation and hashing, pseudonyms, data-key wrapping, field sealing,
 * crypto-shredding, and the signing key against the shared test vector.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>

#include "support/fixture.h"

#include "crypto/keyring.h"

static void keyring_from(struct cpm_keyring *kr, uint8_t master_byte, uint8_t seed_byte)
{
    struct cpm_datadir_keys keys;
    memset(keys.master, master_byte, sizeof(keys.master));
    memset(keys.signing_seed, seed_byte, sizeof(keys.signing_seed));
    assert_int_equal(cpm_keyring_init(kr, &keys), CPM_OK);
    cpm_datadir_keys_wipe(&keys);
}

static void test_derivation(void **state)
{
    CPM_UNUSED(state);
    struct cpm_keyring a, b, c;
    keyring_from(&a, 0x42, 0x01);
    keyring_from(&b, 0x42, 0x01);
    keyring_from(&c, 0x43, 0x01);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_memory_not_equal(a.identifier_key, c.identifier_key, 32);
    assert_memory_not_equal(a.wrapping_key, c.wrapping_key, 32);
    assert_memory_not_equal(a.pseudonym_key, c.pseudonym_key, 32);
    assert_memory_not_equal(a.secrets_key, c.secrets_key, 32);
    uint8_t master[32];
    memset(master, 0x42, sizeof(master));
    const uint8_t *subkeys[] = {a.identifier_key, a.wrapping_key, a.pseudonym_key, a.secrets_key,
                                master};
    for (size_t i = 0; i < CPM_ARRAY_LEN(subkeys); i++)
        for (size_t j = i + 1; j < CPM_ARRAY_LEN(subkeys); j++)
            assert_memory_not_equal(subkeys[i], subkeys[j], 32);
    cpm_keyring_wipe(&a);
    uint8_t zero[sizeof(a)] = {0};
    assert_memory_equal(&a, zero, sizeof(a));
}

static void test_signing_vector(void **state)
{
    CPM_UNUSED(state);
    struct cpm_keyring kr;
    keyring_from(&kr, 0x42, 0x01);
    uint8_t seed[32], tagged[33];
    memset(seed, 0x01, sizeof(seed));
    assert_memory_equal(cpm_keyring_signing_seed(&kr), seed, 32);
    tagged[0] = 0x01; /* C2SP signed-note key type: Ed25519 */
    memcpy(tagged + 1, cpm_keyring_signing_public_key(&kr), 32);
    char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), tagged, sizeof(tagged), sodium_base64_VARIANT_ORIGINAL);
    assert_string_equal(b64, "AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c");
}

static void test_identifier_hash(void **state)
{
    CPM_UNUSED(state);
    struct cpm_keyring kr, other;
    keyring_from(&kr, 0x42, 0x01);
    keyring_from(&other, 0x43, 0x01);
    uint8_t h1[32], h2[32], h3[32], h4[32];
    cpm_identifier_hash(&kr, "phone", "+8613800138000", h1);
    cpm_identifier_hash(&kr, "phone", "+8613800138000", h2);
    assert_memory_equal(h1, h2, 32);
    cpm_identifier_hash(&kr, "email", "+8613800138000", h3);
    assert_memory_not_equal(h1, h3, 32);
    cpm_identifier_hash(&other, "phone", "+8613800138000", h4);
    assert_memory_not_equal(h1, h4, 32);
    /* the separator keeps "ab"/"c" apart from "a"/"bc" */
    cpm_identifier_hash(&kr, "ab", "c", h2);
    cpm_identifier_hash(&kr, "a", "bc", h3);
    assert_memory_not_equal(h2, h3, 32);
}

static void test_normalise(void **state)
{
    CPM_UNUSED(state);
    static const struct {
        const char *type, *value, *want; /* want NULL: a fault on "value" */
    } cases[] = {
        {"phone", "138 0013 8000", "+8613800138000"},
        {"phone", "0086 138-0013-8000", "+8613800138000"},
        {"phone", " +86 (138) 0013 8000\n", "+8613800138000"},
        {"phone", "+1 (415) 555-2671", "+14155552671"},
        {"phone", "0044 20 7946 0958", "+442079460958"},
        {"phone", "13800138000", "+8613800138000"},
        {"phone", "010 1234 5678", NULL},     /* national, no country */
        {"phone", "+86 138 0013 800a", NULL}, /* letter */
        {"phone", "+1234567", NULL},          /* 7 digits */
        {"phone", "+1234567890123456", NULL}, /* 16 digits */
        {"phone", "+0123456789", NULL},       /* country code 0 */
        {"phone", "138+0013", NULL},          /* plus inside */
        {"phone", "", NULL},
        {"email", "Alice@Example.COM ", "alice@example.com"},
        {"email", "\tbob.smith+tag@mail.example.cn", "bob.smith+tag@mail.example.cn"},
        {"email", "alice@localhost", NULL},
        {"email", "alice@@example.com", NULL},
        {"email", "a@b@example.com", NULL},
        {"email", "@example.com", NULL},
        {"email", "alice@.com", NULL},
        {"email", "alice@example.", NULL},
        {"email", "ali ce@example.com", NULL},
        {"email", "alice.example.com", NULL},
        {"wechat_openid", " oUpF8uMuAJO_M2pxb1Q9zNjWeS6o ", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        {"wechat_openid", "o Up", NULL},
        {"wechat_unionid", "o6_bmasdasdsad6_2sgVt7hMZOPfL", "o6_bmasdasdsad6_2sgVt7hMZOPfL"},
        {"wechat_unionid", "   ", NULL},
        {"wecom_external_userid", "wmXXXXXXXXXXXXXXXXXXXXXXXX", "wmXXXXXXXXXXXXXXXXXXXXXXXX"},
        {"wecom_external_userid", "wm\x01x", NULL},
        {"device_id", "IDFA-1E2D-3C4B", "IDFA-1E2D-3C4B"},
        {"device_id", "caf\xc3\xa9", NULL}, /* not ASCII */
    };
    char out[CPM_IDENTIFIER_BYTES_MAX];
    struct cpm_detail d;
    for (size_t i = 0; i < CPM_ARRAY_LEN(cases); i++) {
        cpm_detail_init(&d);
        cpm_err err = cpm_identifier_normalise(cases[i].type, cases[i].value, out, sizeof(out), &d);
        if (err != (cases[i].want != NULL ? CPM_OK : CPM_ERR_VALIDATION))
            fail_msg("%s '%s': %s", cases[i].type, cases[i].value, cpm_err_code(err));
        if (cases[i].want != NULL) {
            assert_int_equal(err, CPM_OK);
            assert_string_equal(out, cases[i].want);
        } else {
            assert_int_equal(err, CPM_ERR_VALIDATION);
            expect(&d, "value", "not a valid ");
        }
    }
    /* lengths: 254-byte e-mail and 128-byte id pass, one more fails */
    char long_value[300];
    memset(long_value, 'a', sizeof(long_value));
    memcpy(long_value + 254 - 12, "@example.com", 13);
    assert_int_equal(cpm_identifier_normalise("email", long_value, out, sizeof(out), &d), CPM_OK);
    memset(long_value, 'a', sizeof(long_value));
    memcpy(long_value + 255 - 12, "@example.com", 13);
    assert_int_equal(cpm_identifier_normalise("email", long_value, out, sizeof(out), &d),
                     CPM_ERR_VALIDATION);
    memset(long_value, 'x', 129);
    long_value[129] = '\0';
    assert_int_equal(cpm_identifier_normalise("device_id", long_value, out, sizeof(out), &d),
                     CPM_ERR_VALIDATION);
    long_value[128] = '\0';
    assert_int_equal(cpm_identifier_normalise("device_id", long_value, out, sizeof(out), &d),
                     CPM_OK);
    cpm_detail_init(&d);
    assert_int_equal(cpm_identifier_normalise("qq", "12345", out, sizeof(out), &d),
                     CPM_ERR_VALIDATION);
    expect(&d, "type",
           "unknown identifier type 'qq'; expected one of: phone, email, wechat_openid");
}

static void test_pseudonym(void **state)
{
    CPM_UNUSED(state);
    struct cpm_keyring kr;
    keyring_from(&kr, 0x42, 0x01);
    char p1[CPM_PSEUDONYM_BYTES], p2[CPM_PSEUDONYM_BYTES], p3[CPM_PSEUDONYM_BYTES];
    cpm_subject_pseudonym(&kr, "user-1", p1);
    cpm_subject_pseudonym(&kr, "user-1", p2);
    cpm_subject_pseudonym(&kr, "user-2", p3);
    assert_string_equal(p1, p2);
    assert_string_not_equal(p1, p3);
    assert_int_equal(strlen(p1), 64);
    assert_int_equal(strspn(p1, "0123456789abcdef"), 64);
}

static void test_data_key(void **state)
{
    CPM_UNUSED(state);
    struct cpm_keyring kr, other;
    keyring_from(&kr, 0x42, 0x01);
    keyring_from(&other, 0x43, 0x01);
    uint8_t key[32], again[32], wrapped[CPM_DATA_KEY_WRAPPED_BYTES + 8];
    size_t len = 0;
    assert_int_equal(cpm_data_key_new(&kr, "user-1", key, wrapped, sizeof(wrapped), &len), CPM_OK);
    assert_int_equal(len, CPM_DATA_KEY_WRAPPED_BYTES);
    assert_int_equal(cpm_data_key_unwrap(&kr, "user-1", wrapped, len, again), CPM_OK);
    assert_memory_equal(key, again, 32);
    assert_int_equal(cpm_data_key_unwrap(&kr, "user-2", wrapped, len, again), CPM_ERR_CRYPTO);
    assert_int_equal(cpm_data_key_unwrap(&other, "user-1", wrapped, len, again), CPM_ERR_CRYPTO);
    assert_int_equal(cpm_data_key_unwrap(&kr, "user-1", wrapped, len - 1, again), CPM_ERR_CRYPTO);
    for (size_t i = 0; i < len; i++) {
        wrapped[i] ^= 0x01;
        assert_int_equal(cpm_data_key_unwrap(&kr, "user-1", wrapped, len, again), CPM_ERR_CRYPTO);
        wrapped[i] ^= 0x01;
    }
}

static void test_seal_open(void **state)
{
    CPM_UNUSED(state);
    uint8_t key[32], other[32], sealed[64 + CPM_SEALED_OVERHEAD];
    char plain[64];
    size_t len = 0, plain_len = 0;
    randombytes_buf(key, sizeof(key));
    randombytes_buf(other, sizeof(other));
    static const char ip[] = "{\"ip\":\"203.0.113.7\"}";
    assert_int_equal(
        cpm_field_seal(key, "user-1", "context", ip, strlen(ip), sealed, sizeof(sealed), &len),
        CPM_OK);
    assert_int_equal(len, strlen(ip) + CPM_SEALED_OVERHEAD);
    assert_int_equal(
        cpm_field_open(key, "user-1", "context", sealed, len, plain, sizeof(plain), &plain_len),
        CPM_OK);
    assert_int_equal(plain_len, strlen(ip));
    assert_memory_equal(plain, ip, plain_len);
    /* wrong field, wrong subject, "user-1c" / "ontext" split, truncated, flipped, wrong key */
    assert_int_equal(
        cpm_field_open(key, "user-1", "user_agent", sealed, len, plain, sizeof(plain), &plain_len),
        CPM_ERR_CRYPTO);
    assert_int_equal(
        cpm_field_open(key, "user-2", "context", sealed, len, plain, sizeof(plain), &plain_len),
        CPM_ERR_CRYPTO);
    assert_int_equal(
        cpm_field_open(key, "user-1c", "ontext", sealed, len, plain, sizeof(plain), &plain_len),
        CPM_ERR_CRYPTO);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(
            cpm_field_open(key, "user-1", "context", sealed, cut, plain, sizeof(plain), &plain_len),
            CPM_ERR_CRYPTO);
    sealed[len - 1] ^= 0x80;
    assert_int_equal(
        cpm_field_open(key, "user-1", "context", sealed, len, plain, sizeof(plain), &plain_len),
        CPM_ERR_CRYPTO);
    sealed[len - 1] ^= 0x80;
    assert_int_equal(
        cpm_field_open(other, "user-1", "context", sealed, len, plain, sizeof(plain), &plain_len),
        CPM_ERR_CRYPTO);
    assert_int_equal(cpm_field_open(key, "user-1", "context", sealed, len, plain, 3, &plain_len),
                     CPM_ERR_INTERNAL);
    /* an empty value seals too */
    assert_int_equal(cpm_field_seal(key, "user-1", "ua", "", 0, sealed, sizeof(sealed), &len),
                     CPM_OK);
    assert_int_equal(cpm_field_open(key, "user-1", "ua", sealed, len, plain, 0, &plain_len),
                     CPM_OK);
    assert_int_equal(plain_len, 0);
}

/* Erasure: once the wrapped data key is gone, neither a new key nor the master opens the data. */
static void test_secrets(void **state)
{
    CPM_UNUSED(state);
    struct cpm_keyring kr, other;
    char sealed[CPM_SECRET_SEALED_BYTES_MAX], again[CPM_SECRET_SEALED_BYTES_MAX], plain[600];
    keyring_from(&kr, 0x42, 0x01);
    keyring_from(&other, 0x43, 0x01);
    assert_int_equal(cpm_secret_seal(&kr, "destination/crm", "whsec_abc", sealed, sizeof(sealed)),
                     CPM_OK);
    assert_true(cpm_secret_is_sealed(sealed));
    assert_false(cpm_secret_is_sealed("whsec_abc"));
    assert_null(strstr(sealed, "whsec_abc"));
    assert_int_equal(cpm_secret_seal(&kr, "destination/crm", "whsec_abc", again, sizeof(again)),
                     CPM_OK);
    assert_string_not_equal(sealed, again); /* a fresh nonce each time */
    assert_int_equal(cpm_secret_open(&kr, "destination/crm", sealed, plain, sizeof(plain)), CPM_OK);
    assert_string_equal(plain, "whsec_abc");
    /* bound to its document and to the master key; tampering is noticed */
    assert_int_equal(cpm_secret_open(&kr, "destination/erp", sealed, plain, sizeof(plain)),
                     CPM_ERR_CRYPTO);
    assert_int_equal(cpm_secret_open(&other, "destination/crm", sealed, plain, sizeof(plain)),
                     CPM_ERR_CRYPTO);
    sealed[strlen(sealed) - 2] = sealed[strlen(sealed) - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(cpm_secret_open(&kr, "destination/crm", sealed, plain, sizeof(plain)),
                     CPM_ERR_CRYPTO);
    assert_int_equal(cpm_secret_open(&kr, "destination/crm", "whsec_abc", plain, sizeof(plain)),
                     CPM_ERR_CRYPTO);
    /* the longest credential fits; one byte more is refused */
    char longest[CPM_SECRET_BYTES_MAX + 2];
    memset(longest, 'x', sizeof(longest) - 1);
    longest[CPM_SECRET_BYTES_MAX] = '\0';
    assert_int_equal(cpm_secret_seal(&kr, "d/x", longest, sealed, sizeof(sealed)), CPM_OK);
    assert_int_equal(cpm_secret_open(&kr, "d/x", sealed, plain, sizeof(plain)), CPM_OK);
    assert_string_equal(plain, longest);
    longest[CPM_SECRET_BYTES_MAX] = 'x';
    longest[CPM_SECRET_BYTES_MAX + 1] = '\0';
    assert_int_equal(cpm_secret_seal(&kr, "d/x", longest, sealed, sizeof(sealed)),
                     CPM_ERR_VALIDATION);
    cpm_keyring_wipe(&kr);
    cpm_keyring_wipe(&other);
}

static void test_erasure(void **state)
{
    CPM_UNUSED(state);
    struct cpm_keyring kr;
    keyring_from(&kr, 0x42, 0x01);
    uint8_t key[32], wrapped[CPM_DATA_KEY_WRAPPED_BYTES], sealed[32 + CPM_SEALED_OVERHEAD];
    uint8_t hash_before[32], hash_after[32];
    char plain[32];
    size_t wrapped_len = 0, len = 0, plain_len = 0;
    assert_int_equal(cpm_data_key_new(&kr, "user-1", key, wrapped, sizeof(wrapped), &wrapped_len),
                     CPM_OK);
    assert_int_equal(
        cpm_field_seal(key, "user-1", "phone", "+8613800138000", 14, sealed, sizeof(sealed), &len),
        CPM_OK);
    crypto_hash_sha256(hash_before, sealed, len);
    sodium_memzero(key, sizeof(key));
    sodium_memzero(wrapped, sizeof(wrapped)); /* the erasure */
    assert_int_equal(cpm_data_key_unwrap(&kr, "user-1", wrapped, wrapped_len, key), CPM_ERR_CRYPTO);
    assert_int_equal(cpm_data_key_new(&kr, "user-1", key, wrapped, sizeof(wrapped), &wrapped_len),
                     CPM_OK);
    assert_int_equal(
        cpm_field_open(key, "user-1", "phone", sealed, len, plain, sizeof(plain), &plain_len),
        CPM_ERR_CRYPTO);
    crypto_hash_sha256(hash_after, sealed, len);
    assert_memory_equal(hash_before, hash_after, 32); /* what the ledger committed to still holds */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derivation),      cmocka_unit_test(test_signing_vector),
        cmocka_unit_test(test_identifier_hash), cmocka_unit_test(test_normalise),
        cmocka_unit_test(test_pseudonym),       cmocka_unit_test(test_data_key),
        cmocka_unit_test(test_seal_open),       cmocka_unit_test(test_erasure),
        cmocka_unit_test(test_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
