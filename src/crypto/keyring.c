/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyring.c — subkey derivation, identifier normalisation and hashing,
 * subject pseudonyms, per-subject data keys and field sealing (keyring.h).
 * libsodium only: HMAC-SHA-256, XChaCha20-Poly1305-IETF, Ed25519.
 */
#include "core/common.h"

#include <sodium.h>

#include "crypto/keyring.h"

#define NONCE_BYTES      crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES        crypto_aead_xchacha20poly1305_ietf_ABYTES
#define EMAIL_BYTES_MAX  254
#define OPAQUE_BYTES_MAX 128
#define PHONE_DIGITS_MIN 8
#define PHONE_DIGITS_MAX 15
#define AD_BYTES_MAX     (CPM_SUBJECT_ID_BYTES_MAX + 1 + CPM_FIELD_NAME_BYTES_MAX)
#define IDENTIFIER_TYPES                                                                           \
    "phone, email, wechat_openid, wechat_unionid, wecom_external_userid, device_id, device"

_Static_assert(CPM_KEYRING_KEY_BYTES == crypto_auth_hmacsha256_KEYBYTES, "HMAC key size");
_Static_assert(CPM_KEYRING_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "AEAD key");
_Static_assert(CPM_DATA_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "data key");
_Static_assert(CPM_SEALED_OVERHEAD == NONCE_BYTES + TAG_BYTES, "sealed overhead");
_Static_assert(CPM_DATA_KEY_WRAPPED_BYTES == CPM_SEALED_OVERHEAD + CPM_DATA_KEY_BYTES, "wrapped");
_Static_assert(CPM_MASTER_KEY_BYTES == crypto_kdf_KEYBYTES, "master key size");
_Static_assert(CPM_SIGNING_SEED_BYTES == crypto_sign_SEEDBYTES, "signing seed size");
_Static_assert(sizeof(((struct cpm_keyring *)0)->signing_secret_key) == crypto_sign_SECRETKEYBYTES,
               "signing secret key size");

/* Subkey ids and contexts: never change them, stored data depends on them. */
enum {
    SUBKEY_IDENTIFIER = 1,
    SUBKEY_WRAPPING = 2,
    SUBKEY_PSEUDONYM = 3,
    SUBKEY_SECRETS = 4,
    SUBKEY_OTP = 5,
    SUBKEY_DEVICE = 6
};

cpm_err cpm_keyring_init(struct cpm_keyring *kr, const struct cpm_datadir_keys *keys)
{
    CPM_ASSERT(kr != NULL && keys != NULL);
    memset(kr, 0, sizeof(*kr));
    if (sodium_init() < 0)
        return CPM_ERR_CRYPTO;
    int rc = crypto_kdf_derive_from_key(kr->identifier_key, sizeof(kr->identifier_key),
                                        SUBKEY_IDENTIFIER, "cpmident", keys->master);
    rc |= crypto_kdf_derive_from_key(kr->wrapping_key, sizeof(kr->wrapping_key), SUBKEY_WRAPPING,
                                     "cpmwrap_", keys->master);
    rc |= crypto_kdf_derive_from_key(kr->pseudonym_key, sizeof(kr->pseudonym_key), SUBKEY_PSEUDONYM,
                                     "cpmsubjr", keys->master);
    rc |= crypto_kdf_derive_from_key(kr->secrets_key, sizeof(kr->secrets_key), SUBKEY_SECRETS,
                                     "cpmsecrt", keys->master);
    rc |= crypto_kdf_derive_from_key(kr->otp_key, sizeof(kr->otp_key), SUBKEY_OTP, "cpmotp__",
                                     keys->master);
    rc |= crypto_kdf_derive_from_key(kr->device_key, sizeof(kr->device_key), SUBKEY_DEVICE,
                                     "cpmdevic", keys->master);
    memcpy(kr->signing_seed, keys->signing_seed, sizeof(kr->signing_seed));
    rc |= crypto_sign_seed_keypair(kr->signing_public_key, kr->signing_secret_key,
                                   keys->signing_seed);
    if (rc != 0) {
        cpm_keyring_wipe(kr);
        return CPM_ERR_CRYPTO;
    }
    return CPM_OK;
}

void cpm_keyring_wipe(struct cpm_keyring *kr)
{
    if (kr != NULL)
        sodium_memzero(kr, sizeof(*kr));
}

/* "sealed:v1:" ‖ base64url(nonce ‖ XChaCha20-Poly1305(text)), name as associated data. */
#define SEALED_PREFIX "sealed:v1:"

bool cpm_secret_is_sealed(const char *text)
{
    return strncmp(text, SEALED_PREFIX, strlen(SEALED_PREFIX)) == 0;
}

cpm_err cpm_secret_seal(const struct cpm_keyring *kr, const char *name, const char *text, char *out,
                        size_t cap)
{
    size_t len = strlen(text);
    uint8_t box[CPM_SECRET_BYTES_MAX + CPM_SEALED_OVERHEAD];
    size_t prefix = strlen(SEALED_PREFIX);
    if (len > CPM_SECRET_BYTES_MAX)
        return CPM_ERR_VALIDATION;
    CPM_ASSERT(cap >= CPM_SECRET_SEALED_BYTES_MAX);
    randombytes_buf(box, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(box + 24, NULL, (const uint8_t *)text, len,
                                               (const uint8_t *)name, strlen(name), NULL, box,
                                               kr->secrets_key);
    memcpy(out, SEALED_PREFIX, prefix);
    sodium_bin2base64(out + prefix, cap - prefix, box, len + CPM_SEALED_OVERHEAD,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return CPM_OK;
}

cpm_err cpm_secret_open(const struct cpm_keyring *kr, const char *name, const char *sealed,
                        char *out, size_t cap)
{
    uint8_t box[CPM_SECRET_BYTES_MAX + CPM_SEALED_OVERHEAD];
    size_t len = 0;
    unsigned long long plain_len = 0;
    const char *b64 = sealed + strlen(SEALED_PREFIX);
    if (!cpm_secret_is_sealed(sealed) ||
        sodium_base642bin(box, sizeof(box), b64, strlen(b64), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len < CPM_SEALED_OVERHEAD || len - CPM_SEALED_OVERHEAD >= cap ||
        crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)out, &plain_len, NULL, box + 24,
                                                   len - 24, (const uint8_t *)name, strlen(name),
                                                   box, kr->secrets_key) != 0)
        return CPM_ERR_CRYPTO;
    out[plain_len] = '\0';
    return CPM_OK;
}

const uint8_t *cpm_keyring_signing_seed(const struct cpm_keyring *kr)
{
    return kr->signing_seed;
}

const uint8_t *cpm_keyring_signing_public_key(const struct cpm_keyring *kr)
{
    return kr->signing_public_key;
}

/* ---- identifiers ---- */

enum identifier_kind { KIND_PHONE, KIND_EMAIL, KIND_OPAQUE };

static const struct {
    const char *name;
    enum identifier_kind kind;
} identifier_types[] = {
    {"phone", KIND_PHONE},
    {"email", KIND_EMAIL},
    {"wechat_openid", KIND_OPAQUE},
    {"wechat_unionid", KIND_OPAQUE},
    {"wecom_external_userid", KIND_OPAQUE},
    {"device_id", KIND_OPAQUE},
    {"device", KIND_OPAQUE}, /* an anonymous visitor's device merged at login (crypto/device.h) */
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Printable ASCII without the space. */
static bool is_graph(char c)
{
    return c > ' ' && c < 0x7f;
}

static bool normalise_phone(const char *v, size_t n, char *out)
{
    char digits[PHONE_DIGITS_MAX + 3]; /* "00" + the longest number */
    size_t count = 0;
    bool plus = false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == ' ' || v[i] == '-' || v[i] == '(' || v[i] == ')')
            continue;
        if (v[i] == '+' && count == 0 && !plus)
            plus = true;
        else if (!is_digit(v[i]) || count == sizeof(digits))
            return false;
        else
            digits[count++] = v[i];
    }
    const char *country = "";
    const char *number = digits;
    if (!plus && count >= 2 && digits[0] == '0' && digits[1] == '0') {
        number += 2;
        count -= 2;
    } else if (!plus && count == 11 && digits[0] == '1') {
        country = "86";
    } else if (!plus) {
        return false;
    }
    size_t total = strlen(country) + count;
    if (total < PHONE_DIGITS_MIN || total > PHONE_DIGITS_MAX ||
        (*country == '\0' && *number == '0'))
        return false;
    snprintf(out, PHONE_DIGITS_MAX + 2, "+%s%.*s", country, (int)count, number);
    return true;
}

static bool normalise_email(const char *v, size_t n, char *out)
{
    if (n > EMAIL_BYTES_MAX)
        return false;
    size_t at = n, ats = 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if ((unsigned char)c <= ' ' || c == 0x7f)
            return false;
        if (c == '@') {
            at = i;
            ats++;
        }
        out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    if (ats != 1 || at == 0)
        return false;
    const char *domain = out + at + 1;
    const char *dot = strchr(domain, '.');
    return dot != NULL && dot != domain && domain[strlen(domain) - 1] != '.';
}

static bool normalise_opaque(const char *v, size_t n, char *out)
{
    if (n == 0 || n > OPAQUE_BYTES_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_graph(v[i]))
            return false;
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

cpm_err cpm_identifier_normalise(const char *type, const char *value, char *out, size_t cap,
                                 struct cpm_detail *detail)
{
    CPM_ASSERT(type != NULL && value != NULL && out != NULL && cap >= CPM_IDENTIFIER_BYTES_MAX);
    out[0] = '\0';
    size_t t = 0;
    while (t < CPM_ARRAY_LEN(identifier_types) && strcmp(identifier_types[t].name, type) != 0)
        t++;
    if (t == CPM_ARRAY_LEN(identifier_types)) {
        cpm_detail_add(detail, "type", "unknown identifier type '%.40s'; expected one of: %s", type,
                       IDENTIFIER_TYPES);
        return CPM_ERR_VALIDATION;
    }
    size_t n = strlen(value);
    while (n > 0 && is_space(value[n - 1]))
        n--;
    while (n > 0 && is_space(*value)) {
        value++;
        n--;
    }
    bool ok = false;
    const char *expected = "";
    switch (identifier_types[t].kind) {
    case KIND_PHONE:
        ok = normalise_phone(value, n, out);
        expected = "an E.164 phone number such as +8613800138000";
        break;
    case KIND_EMAIL:
        ok = normalise_email(value, n, out);
        expected = "an e-mail address of at most 254 bytes";
        break;
    case KIND_OPAQUE:
        ok = normalise_opaque(value, n, out);
        expected = "1-128 bytes of printable ASCII without spaces";
        break;
    }
    if (ok)
        return CPM_OK;
    out[0] = '\0';
    cpm_detail_add(detail, "value", "not a valid %s identifier: expected %s", type, expected);
    return CPM_ERR_VALIDATION;
}

static void hmac(const uint8_t key[CPM_KEYRING_KEY_BYTES], const char *a, const char *b,
                 uint8_t out[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, CPM_KEYRING_KEY_BYTES);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)a, strlen(a));
    if (b != NULL) {
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)"", 1); /* the 0x00 separator */
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)b, strlen(b));
    }
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

void cpm_identifier_hash(const struct cpm_keyring *kr, const char *type,
                         const char *normalised_value, uint8_t out[CPM_IDENTIFIER_HASH_BYTES])
{
    CPM_ASSERT(kr != NULL && type != NULL && normalised_value != NULL);
    hmac(kr->identifier_key, type, normalised_value, out);
}

void cpm_keyring_otp_hash(const struct cpm_keyring *kr, const char *scope, const char *text,
                          uint8_t out[CPM_IDENTIFIER_HASH_BYTES])
{
    CPM_ASSERT(kr != NULL && scope != NULL && text != NULL);
    hmac(kr->otp_key, scope, text, out);
}

void cpm_subject_pseudonym(const struct cpm_keyring *kr, const char *subject_id,
                           char out[CPM_PSEUDONYM_BYTES])
{
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    CPM_ASSERT(kr != NULL && subject_id != NULL);
    hmac(kr->pseudonym_key, subject_id, NULL, mac);
    sodium_bin2hex(out, CPM_PSEUDONYM_BYTES, mac, sizeof(mac));
}

/* ---- data keys and sealed fields ---- */

/* nonce ‖ AEAD(plain) into out; cap was checked by the caller. */
static cpm_err seal(const uint8_t key[32], const uint8_t *ad, size_t ad_len, const void *plain,
                    size_t len, uint8_t *out, size_t *out_len)
{
    unsigned long long clen = 0;
    randombytes_buf(out, NONCE_BYTES);
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + NONCE_BYTES, &clen, plain, len, ad, ad_len,
                                                   NULL, out, key) != 0)
        return CPM_ERR_CRYPTO;
    *out_len = NONCE_BYTES + (size_t)clen;
    return CPM_OK;
}

static cpm_err open_sealed(const uint8_t key[32], const uint8_t *ad, size_t ad_len,
                           const uint8_t *sealed, size_t len, void *out, size_t *out_len)
{
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &plen, NULL, sealed + NONCE_BYTES,
                                                   len - NONCE_BYTES, ad, ad_len, sealed, key) != 0)
        return CPM_ERR_CRYPTO;
    *out_len = (size_t)plen;
    return CPM_OK;
}

cpm_err cpm_data_key_new(const struct cpm_keyring *kr, const char *subject_id,
                         uint8_t key[CPM_DATA_KEY_BYTES], uint8_t *wrapped, size_t wrapped_cap,
                         size_t *wrapped_len)
{
    CPM_ASSERT(kr != NULL && subject_id != NULL && wrapped_cap >= CPM_DATA_KEY_WRAPPED_BYTES);
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    cpm_err err = seal(kr->wrapping_key, (const uint8_t *)subject_id, strlen(subject_id), key,
                       CPM_DATA_KEY_BYTES, wrapped, wrapped_len);
    if (err != CPM_OK)
        sodium_memzero(key, CPM_DATA_KEY_BYTES);
    return err;
}

cpm_err cpm_data_key_unwrap(const struct cpm_keyring *kr, const char *subject_id,
                            const uint8_t *wrapped, size_t len, uint8_t key[CPM_DATA_KEY_BYTES])
{
    size_t key_len = 0;
    CPM_ASSERT(kr != NULL && subject_id != NULL);
    if (wrapped == NULL || len != CPM_DATA_KEY_WRAPPED_BYTES)
        return CPM_ERR_CRYPTO;
    return open_sealed(kr->wrapping_key, (const uint8_t *)subject_id, strlen(subject_id), wrapped,
                       len, key, &key_len);
}

/* subject_id ‖ 0x00 ‖ field_name into ad; false when the subject id is too long. */
static bool field_ad(const char *subject_id, const char *field_name, uint8_t ad[AD_BYTES_MAX],
                     size_t *ad_len)
{
    size_t s = strlen(subject_id), f = strlen(field_name);
    CPM_ASSERT(f <= CPM_FIELD_NAME_BYTES_MAX);
    if (s > CPM_SUBJECT_ID_BYTES_MAX)
        return false;
    memcpy(ad, subject_id, s);
    ad[s] = 0x00;
    memcpy(ad + s + 1, field_name, f);
    *ad_len = s + 1 + f;
    return true;
}

cpm_err cpm_field_seal(const uint8_t key[CPM_DATA_KEY_BYTES], const char *subject_id,
                       const char *field_name, const void *plain, size_t len, uint8_t *out,
                       size_t cap, size_t *out_len)
{
    uint8_t ad[AD_BYTES_MAX];
    size_t ad_len = 0;
    CPM_ASSERT(key != NULL && subject_id != NULL && field_name != NULL && out != NULL);
    CPM_ASSERT(cap >= CPM_SEALED_OVERHEAD && len <= cap - CPM_SEALED_OVERHEAD);
    CPM_ASSERT(plain != NULL || len == 0);
    if (!field_ad(subject_id, field_name, ad, &ad_len))
        return CPM_ERR_VALIDATION;
    return seal(key, ad, ad_len, plain, len, out, out_len);
}

cpm_err cpm_field_open(const uint8_t key[CPM_DATA_KEY_BYTES], const char *subject_id,
                       const char *field_name, const uint8_t *sealed, size_t len, void *out,
                       size_t cap, size_t *out_len)
{
    uint8_t ad[AD_BYTES_MAX];
    size_t ad_len = 0;
    CPM_ASSERT(key != NULL && subject_id != NULL && field_name != NULL && out_len != NULL);
    *out_len = 0;
    if (sealed == NULL || len < CPM_SEALED_OVERHEAD)
        return CPM_ERR_CRYPTO;
    if (cap < len - CPM_SEALED_OVERHEAD)
        return CPM_ERR_INTERNAL;
    if (!field_ad(subject_id, field_name, ad, &ad_len))
        return CPM_ERR_CRYPTO;
    return open_sealed(key, ad, ad_len, sealed, len, out, out_len);
}
