/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwt.c — JWK parsing and JWS-compact JWT verification (jwt.h): HS256 and
 * EdDSA with libsodium, ES256 with OpenSSL's EVP interface (libsodium has
 * no P-256). Work buffers are on the stack, sized by CPM_JWT_BYTES_MAX.
 */
#include "core/common.h"

#include <math.h>
#include <strings.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "core/clock.h"
#include "core/json.h"
#include "crypto/jwt.h"

#define HS256_SIG_BYTES    crypto_auth_hmacsha256_BYTES
#define EDDSA_SIG_BYTES    crypto_sign_BYTES
#define ES256_SIG_BYTES    64 /* r ‖ s, 32 bytes each (RFC 7518 §3.4) */
#define P256_COORD_BYTES   32
#define SIG_BYTES_MAX      64
#define ALG_NAME_BYTES_MAX 16             /* an "alg" or "kty" short enough to name in a message */
#define TIME_YEAR_9999_S   253402300799LL /* the last second cpm_time_format writes as a date */
#define TIME_TEXT_BYTES    (CPM_TIME_TEXT_BYTES + 16) /* a date, or a count of seconds */
#define SKEW_S_MAX         86400
#define LIFETIME_S_MAX     (366 * 86400)
#define NOW_S_MAX          (INT64_MAX / 4)

_Static_assert(EDDSA_SIG_BYTES == SIG_BYTES_MAX && HS256_SIG_BYTES <= SIG_BYTES_MAX, "sig sizes");
_Static_assert(crypto_sign_PUBLICKEYBYTES <= CPM_JWT_KEY_BYTES_MAX, "Ed25519 key fits");
_Static_assert(2 * P256_COORD_BYTES <= CPM_JWT_KEY_BYTES_MAX, "P-256 point fits");
_Static_assert(CPM_JWT_AUDIENCE_BYTES_MAX <= CPM_ID_BYTES_MAX, "an audience is a property id");

/* The order n of P-256's base point, big-endian (SEC 2 §2.4.2). */
static const uint8_t p256_order[P256_COORD_BYTES] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

/* The header "alg" names accepted; "Ed25519" is RFC 9864's fully specified name for EdDSA. */
static const struct {
    const char *name;
    enum cpm_jwt_alg alg;
    size_t sig_bytes;
} algs[] = {
    {"HS256", CPM_JWT_HS256, HS256_SIG_BYTES},
    {"ES256", CPM_JWT_ES256, ES256_SIG_BYTES},
    {"EdDSA", CPM_JWT_EDDSA, EDDSA_SIG_BYTES},
    {"Ed25519", CPM_JWT_EDDSA, EDDSA_SIG_BYTES},
};

/* True when text is 1–max bytes of printable ASCII: safe to name in a message. */
static bool printable(const char *text, size_t max)
{
    size_t n = strnlen(text, max + 1);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (text[i] < ' ' || text[i] > '~')
            return false;
    return true;
}

static bool is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/*
 * Unpadded base64url (RFC 7515 §2) into out. The alphabet is checked here
 * first: libsodium 1.0.18 takes any byte over 0x7f for a base64 digit where
 * char is signed. It still rejects the rest: other bytes, a length of 1 mod
 * 4, and unused bits not zero (so each value has one encoding).
 */
static bool b64url_decode(const char *text, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    *out_len = 0;
    for (size_t i = 0; i < len; i++)
        if (!is_b64url(text[i]))
            return false;
    return sodium_base642bin(out, cap, text, len, NULL, out_len, NULL,
                             sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0;
}

/* The bytes len base64 characters (no padding) decode to. */
static size_t b64_decoded_len(size_t len)
{
    return len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
}

/* ---- ES256 ---- */

static bool scalar_in_range(const uint8_t be[P256_COORD_BYTES])
{
    static const uint8_t zero[P256_COORD_BYTES];
    return memcmp(be, zero, sizeof(zero)) != 0 && memcmp(be, p256_order, sizeof(p256_order)) < 0;
}

/* A DER INTEGER of the unsigned big-endian be into out (up to 35 bytes); its length. */
static size_t der_integer(uint8_t *out, const uint8_t be[P256_COORD_BYTES])
{
    size_t skip = 0;
    while (skip < P256_COORD_BYTES - 1 && be[skip] == 0)
        skip++;
    size_t n = P256_COORD_BYTES - skip;
    size_t pad = (be[skip] & 0x80) != 0 ? 1 : 0;
    out[0] = 0x02;
    out[1] = (uint8_t)(n + pad);
    out[2] = 0x00;
    memcpy(out + 2 + pad, be + skip, n);
    return 2 + pad + n;
}

/* ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279) of r ‖ s; its length. */
static size_t der_signature(uint8_t out[72], const uint8_t rs[ES256_SIG_BYTES])
{
    size_t n = der_integer(out + 2, rs);
    n += der_integer(out + 2 + n, rs + P256_COORD_BYTES);
    out[0] = 0x30;
    out[1] = (uint8_t)n; /* at most 70: the short form */
    return 2 + n;
}

/* An OpenSSL public key of the P-256 point x ‖ y; NULL when it is not on the curve. */
static EVP_PKEY *p256_public_key(const uint8_t xy[2 * P256_COORD_BYTES])
{
    uint8_t point[1 + 2 * P256_COORD_BYTES];
    EVP_PKEY *pkey = NULL;
    point[0] = 0x04; /* uncompressed (SEC 1 §2.3.3) */
    memcpy(point + 1, xy, 2 * P256_COORD_BYTES);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return pkey;
}

/* True when xy is a valid P-256 public point (on the curve, not infinity). */
static bool p256_point_valid(const uint8_t xy[2 * P256_COORD_BYTES])
{
    EVP_PKEY *pkey = p256_public_key(xy);
    EVP_PKEY_CTX *ctx = pkey != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    bool ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return ok;
}

/* CPM_OK with *valid; CPM_ERR_CRYPTO when OpenSSL cannot run (out of memory, no provider). */
static cpm_err es256_verify(const uint8_t xy[2 * P256_COORD_BYTES],
                            const uint8_t rs[ES256_SIG_BYTES], const uint8_t *input, size_t len,
                            bool *valid)
{
    uint8_t der[72];
    cpm_err err = CPM_OK;
    EVP_MD_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    *valid = false;
    /* OpenSSL checks this too; done here so that it does not rest on that. */
    if (!scalar_in_range(rs) || !scalar_in_range(rs + P256_COORD_BYTES))
        goto out;
    size_t der_len = der_signature(der, rs);
    pkey = p256_public_key(xy);
    ctx = EVP_MD_CTX_new();
    if (pkey == NULL || ctx == NULL ||
        EVP_DigestVerifyInit_ex(ctx, NULL, "SHA256", NULL, NULL, pkey, NULL) != 1) {
        err = CPM_ERR_CRYPTO;
        goto out;
    }
    *valid = EVP_DigestVerify(ctx, der, der_len, input, len) == 1;
out:
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return err;
}

/* ---- keys ---- */

void cpm_jwt_key_wipe(struct cpm_jwt_key *key)
{
    if (key != NULL)
        sodium_memzero(key, sizeof(*key));
}

/* field + "." + member, or member alone when field is empty. */
static void member_path(char out[CPM_FIELD_PATH_BYTES_MAX], const char *field, const char *member)
{
    if (field == NULL || field[0] == '\0')
        snprintf(out, CPM_FIELD_PATH_BYTES_MAX, "%s", member);
    else
        snprintf(out, CPM_FIELD_PATH_BYTES_MAX, "%s.%s", field, member);
}

struct jwk_reader {
    const json_t *jwk;
    const char *field;
    struct cpm_detail *detail;
    int faults;
};

static void jwk_fault(struct jwk_reader *r, const char *member, const char *fmt, ...)
    CPM_PRINTF(3, 4);
static void jwk_fault(struct jwk_reader *r, const char *member, const char *fmt, ...)
{
    char path[CPM_FIELD_PATH_BYTES_MAX], message[CPM_MESSAGE_BYTES_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    member_path(path, r->field, member);
    cpm_detail_add(r->detail, path, "%s", message);
    r->faults++;
}

/* The string member name; NULL when absent (a fault if required) or not a string (a fault). */
static const char *jwk_string(struct jwk_reader *r, const char *name, bool required)
{
    const json_t *v = json_object_get(r->jwk, name);
    if (v == NULL) {
        if (required)
            jwk_fault(r, name, "required");
        return NULL;
    }
    if (!json_is_string(v)) {
        jwk_fault(r, name, "must be a string");
        return NULL;
    }
    return json_string_value(v);
}

/* The binary member name (base64url, no padding) of min–max bytes into out; false with a fault. */
static bool jwk_bytes(struct jwk_reader *r, const char *name, size_t min, size_t max, uint8_t *out,
                      size_t *len)
{
    uint8_t buf[2 * CPM_JWT_KEY_BYTES_MAX];
    size_t n = 0;
    bool ok = false;
    const char *text = jwk_string(r, name, true);
    if (text == NULL)
        return false;
    size_t text_len = strnlen(text, 4 * sizeof(buf));
    if (text_len == 4 * sizeof(buf) || !b64url_decode(text, text_len, buf, sizeof(buf), &n))
        jwk_fault(r, name, "must be base64url without padding");
    else if ((n < min || n > max) && min == max)
        jwk_fault(r, name, "must be %zu bytes, not %zu", min, n);
    else if (n < min || n > max)
        jwk_fault(r, name, "must be %zu to %zu bytes, not %zu", min, max, n);
    else
        ok = true;
    if (ok) {
        memcpy(out, buf, n);
        *len = n;
    }
    sodium_memzero(buf, sizeof(buf));
    return ok;
}

static void jwk_oct(struct jwk_reader *r, struct cpm_jwt_key *key)
{
    key->alg = CPM_JWT_HS256;
    jwk_bytes(r, "k", CPM_JWT_HS256_BYTES_MIN, CPM_JWT_KEY_BYTES_MAX, key->material, &key->len);
}

static void jwk_okp(struct jwk_reader *r, struct cpm_jwt_key *key)
{
    const char *crv = jwk_string(r, "crv", true);
    key->alg = CPM_JWT_EDDSA;
    if (crv != NULL && strcmp(crv, "Ed25519") != 0)
        jwk_fault(r, "crv", "an OKP key must be on curve Ed25519");
    if (jwk_bytes(r, "x", crypto_sign_PUBLICKEYBYTES, crypto_sign_PUBLICKEYBYTES, key->material,
                  &key->len) &&
        crypto_core_ed25519_is_valid_point(key->material) != 1)
        jwk_fault(r, "x", "not a valid Ed25519 public key");
}

static void jwk_ec(struct jwk_reader *r, struct cpm_jwt_key *key)
{
    const char *crv = jwk_string(r, "crv", true);
    size_t x_len = 0, y_len = 0;
    key->alg = CPM_JWT_ES256;
    if (crv != NULL && strcmp(crv, "P-256") != 0)
        jwk_fault(r, "crv", "an EC key must be on curve P-256");
    bool x = jwk_bytes(r, "x", P256_COORD_BYTES, P256_COORD_BYTES, key->material, &x_len);
    bool y = jwk_bytes(r, "y", P256_COORD_BYTES, P256_COORD_BYTES, key->material + P256_COORD_BYTES,
                       &y_len);
    key->len = 2 * P256_COORD_BYTES;
    if (crv != NULL && strcmp(crv, "P-256") == 0 && x && y && !p256_point_valid(key->material))
        jwk_fault(r, "x", "(x, y) is not a point on P-256");
}

cpm_err cpm_jwk_parse(const json_t *jwk, const char *field, struct cpm_jwt_key *out,
                      struct cpm_detail *detail)
{
    struct cpm_jwt_key key;
    struct jwk_reader r = {.jwk = jwk, .field = field, .detail = detail};
    CPM_ASSERT(out != NULL);
    memset(&key, 0, sizeof(key));
    if (!json_is_object(jwk)) {
        cpm_detail_add(detail, field, "a key must be a JWK (a JSON object)");
        return CPM_ERR_VALIDATION;
    }
    const char *kty = jwk_string(&r, "kty", true);
    const char *kid = jwk_string(&r, "kid", false);
    const char *alg = jwk_string(&r, "alg", false);
    const char *use = jwk_string(&r, "use", false);
    if (kid != NULL && !printable(kid, CPM_JWT_KID_BYTES_MAX))
        jwk_fault(&r, "kid", "must be 1 to %d printable ASCII characters", CPM_JWT_KID_BYTES_MAX);
    else if (kid != NULL)
        cpm_strlcpy(key.kid, kid, sizeof(key.kid));
    if (use != NULL && strcmp(use, "sig") != 0)
        jwk_fault(&r, "use", "must be 'sig': the key verifies signatures");
    if (kty == NULL)
        goto out;
    const char *expected = NULL;
    if (strcmp(kty, "oct") == 0) {
        jwk_oct(&r, &key);
        expected = "'HS256'";
    } else if (strcmp(kty, "OKP") == 0) {
        jwk_okp(&r, &key);
        expected = "'EdDSA' or 'Ed25519'";
    } else if (strcmp(kty, "EC") == 0) {
        jwk_ec(&r, &key);
        expected = "'ES256'";
    } else if (printable(kty, ALG_NAME_BYTES_MAX)) {
        jwk_fault(&r, "kty", "unknown key type '%s'; expected one of: oct, OKP, EC", kty);
        goto out;
    } else {
        jwk_fault(&r, "kty", "unknown key type; expected one of: oct, OKP, EC");
        goto out;
    }
    if (key.alg != CPM_JWT_HS256 && json_object_get(jwk, "d") != NULL)
        jwk_fault(&r, "d", "a private key is refused: give only the public key");
    if (alg != NULL) {
        bool fits = false;
        for (size_t i = 0; i < CPM_ARRAY_LEN(algs); i++)
            fits = fits || (strcmp(alg, algs[i].name) == 0 && algs[i].alg == key.alg);
        if (!fits)
            jwk_fault(&r, "alg", "does not fit a key of type %s: expected %s", kty, expected);
    }
out:
    if (r.faults == 0 && kty != NULL)
        *out = key;
    sodium_memzero(&key, sizeof(key));
    return r.faults == 0 && kty != NULL ? CPM_OK : CPM_ERR_VALIDATION;
}

/* ---- tokens ---- */

/* A refusal: CPM_ERR_UNAUTHORIZED with one fault, no field. */
static cpm_err refuse(struct cpm_detail *detail, const char *fmt, ...) CPM_PRINTF(2, 3);
static cpm_err refuse(struct cpm_detail *detail, const char *fmt, ...)
{
    char message[CPM_MESSAGE_BYTES_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    cpm_detail_add(detail, NULL, "%s", message);
    return CPM_ERR_UNAUTHORIZED;
}

/*
 * Parses the decoded part what ("header", "payload") into a JSON object.
 * jansson's own error text is never passed on: it quotes the input.
 */
static cpm_err parse_object(const uint8_t *text, size_t len, const char *what, json_t **out,
                            struct cpm_detail *detail)
{
    json_error_t error;
    *out = NULL;
    if (cpm_json_depth((const char *)text, len) > CPM_JSON_DEPTH_MAX)
        return refuse(detail, "malformed: the %s is nested too deep", what);
    json_t *doc =
        json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (doc == NULL) {
        switch (json_error_code(&error)) {
        case json_error_out_of_memory:
            return CPM_ERR_NOMEM;
        case json_error_duplicate_key:
            return refuse(detail, "malformed: the %s has a duplicate member", what);
        case json_error_numeric_overflow:
            return refuse(detail, "malformed: the %s has a number out of range", what);
        default:
            return refuse(detail, "malformed: the %s is not JSON", what);
        }
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return refuse(detail, "malformed: the %s is not a JSON object", what);
    }
    *out = doc;
    return CPM_OK;
}

/* seconds as RFC 3339 (or as a count when past year 9999 or before 1970). */
static void format_time(int64_t seconds, char out[TIME_TEXT_BYTES])
{
    if (seconds >= 0 && seconds <= TIME_YEAR_9999_S)
        cpm_time_format(seconds * 1000, out, TIME_TEXT_BYTES);
    else
        snprintf(out, TIME_TEXT_BYTES, "%lld s since the epoch", (long long)seconds);
}

/* What verification found in the header. */
struct header {
    const char *alg_name; /* borrowed from the header document */
    enum cpm_jwt_alg alg;
    size_t sig_bytes;
    const char *kid; /* NULL when absent */
};

static cpm_err check_header(const json_t *h, struct header *out, struct cpm_detail *detail)
{
    const json_t *alg = json_object_get(h, "alg"), *kid = json_object_get(h, "kid");
    const json_t *typ = json_object_get(h, "typ");
    if (alg == NULL)
        return refuse(detail, "malformed: the header has no 'alg'");
    if (!json_is_string(alg))
        return refuse(detail, "malformed: header 'alg' is not a string");
    out->alg_name = json_string_value(alg);
    out->alg = 0;
    for (size_t i = 0; i < CPM_ARRAY_LEN(algs) && out->alg == 0; i++)
        if (strcmp(out->alg_name, algs[i].name) == 0) {
            out->alg = algs[i].alg;
            out->sig_bytes = algs[i].sig_bytes;
        }
    if (out->alg == 0 && printable(out->alg_name, ALG_NAME_BYTES_MAX))
        return refuse(detail, "the token's algorithm '%s' is not accepted", out->alg_name);
    if (out->alg == 0)
        return refuse(detail, "the token's algorithm is not accepted");
    if (kid != NULL && !json_is_string(kid))
        return refuse(detail, "malformed: header 'kid' is not a string");
    out->kid = json_string_value(kid);
    if (typ != NULL &&
        (!json_is_string(typ) || (strcasecmp(json_string_value(typ), "JWT") != 0 &&
                                  strcasecmp(json_string_value(typ), "application/jwt") != 0)))
        return refuse(detail, "malformed: header 'typ' is not 'JWT'");
    /* RFC 7515 §4.1.11: extensions the recipient must understand; this one knows none. */
    if (json_object_get(h, "crit") != NULL)
        return refuse(detail, "malformed: header 'crit' names extensions this server does not "
                              "support");
    return CPM_OK;
}

/* Tries the keys that fit the header on input and sig; *index is the one that verified. */
static cpm_err check_signature(const struct header *h, const struct cpm_jwt_key *keys,
                               size_t key_count, const uint8_t *input, size_t input_len,
                               const uint8_t *sig, size_t sig_len, size_t *index,
                               struct cpm_detail *detail)
{
    bool kid_known = false, alg_known = false;
    if (sig_len != h->sig_bytes)
        return refuse(detail, "malformed: the signature is not %zu bytes, as %s needs",
                      h->sig_bytes, h->alg_name);
    for (size_t i = 0; i < key_count; i++) {
        const struct cpm_jwt_key *key = &keys[i];
        if (h->kid != NULL && key->kid[0] != '\0' && strcmp(key->kid, h->kid) != 0)
            continue;
        kid_known = true;
        if (key->alg != h->alg)
            continue;
        alg_known = true;
        bool valid = false;
        if (key->alg == CPM_JWT_HS256) {
            uint8_t mac[HS256_SIG_BYTES];
            CPM_ASSERT(key->len >= CPM_JWT_HS256_BYTES_MIN && key->len <= CPM_JWT_KEY_BYTES_MAX);
            crypto_auth_hmacsha256_state st;
            crypto_auth_hmacsha256_init(&st, key->material, key->len);
            crypto_auth_hmacsha256_update(&st, input, input_len);
            crypto_auth_hmacsha256_final(&st, mac);
            valid = sodium_memcmp(mac, sig, sizeof(mac)) == 0;
            sodium_memzero(&st, sizeof(st));
            sodium_memzero(mac, sizeof(mac));
        } else if (key->alg == CPM_JWT_EDDSA) {
            CPM_ASSERT(key->len == crypto_sign_PUBLICKEYBYTES);
            valid = crypto_sign_verify_detached(sig, input, input_len, key->material) == 0;
        } else {
            CPM_ASSERT(key->alg == CPM_JWT_ES256 && key->len == 2 * P256_COORD_BYTES);
            cpm_err err = es256_verify(key->material, sig, input, input_len, &valid);
            if (err != CPM_OK)
                return err;
        }
        if (valid) {
            *index = i;
            return CPM_OK;
        }
    }
    if (!kid_known && printable(h->kid, CPM_JWT_KID_BYTES_MAX))
        return refuse(detail, "no key has kid '%s'", h->kid);
    if (!kid_known)
        return refuse(detail, "no key has the token's kid");
    if (!alg_known && h->kid != NULL && printable(h->kid, CPM_JWT_KID_BYTES_MAX))
        return refuse(detail, "the token's algorithm '%s' is not accepted for kid '%s'",
                      h->alg_name, h->kid);
    if (!alg_known)
        return refuse(detail, "the token's algorithm '%s' is not accepted", h->alg_name);
    return refuse(detail, "signature does not verify");
}

/* A NumericDate claim: *present false when absent; a refusal when not an int64 number. */
static cpm_err time_claim(const json_t *payload, const char *name, bool required, int64_t *out,
                          bool *present, struct cpm_detail *detail)
{
    const json_t *v = json_object_get(payload, name);
    *out = 0;
    *present = v != NULL;
    if (v == NULL)
        return required ? refuse(detail, "malformed: claim '%s' is missing", name) : CPM_OK;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return CPM_OK;
    }
    if (!json_is_real(v))
        return refuse(detail, "malformed: claim '%s' is not a number", name);
    double d = json_real_value(v);
    /* -2^63 and 2^63 are exact doubles; jansson never yields NaN or infinities */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
        return refuse(detail, "malformed: claim '%s' is out of range", name);
    *out = (int64_t)floor(d);
    return CPM_OK;
}

/* A string claim of 1–max bytes without control characters into out; a refusal otherwise. */
static cpm_err string_claim(const json_t *payload, const char *name, bool required, size_t max,
                            char *out, size_t cap, struct cpm_detail *detail)
{
    const json_t *v = json_object_get(payload, name);
    CPM_ASSERT(cap > max);
    out[0] = '\0';
    if (v == NULL)
        return required ? refuse(detail, "malformed: claim '%s' is missing", name) : CPM_OK;
    if (!json_is_string(v))
        return refuse(detail, "malformed: claim '%s' is not a string", name);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0)
        return refuse(detail, "malformed: claim '%s' is empty", name);
    if (n > max)
        return refuse(detail, "malformed: claim '%s' is over %zu bytes", name, max);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        /* C0, DEL, and C1 (U+0080–U+009F: 0xC2 0x80–0x9F; jansson checked the UTF-8) */
        if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < n && (uint8_t)s[i + 1] < 0xa0))
            return refuse(detail, "malformed: claim '%s' has control characters", name);
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return CPM_OK;
}

static cpm_err check_audience(const json_t *payload, const char *audience,
                              struct cpm_detail *detail)
{
    const json_t *aud = json_object_get(payload, "aud"), *item;
    bool found = false;
    size_t i;
    if (aud == NULL)
        return refuse(detail, "malformed: claim 'aud' is missing");
    if (json_is_string(aud))
        found = strcmp(json_string_value(aud), audience) == 0;
    else if (!json_is_array(aud))
        return refuse(detail, "malformed: claim 'aud' is not a string or an array of strings");
    json_array_foreach(aud, i, item)
    {
        if (!json_is_string(item))
            return refuse(detail, "malformed: claim 'aud' is not a string or an array of strings");
        found = found || strcmp(json_string_value(item), audience) == 0;
    }
    return found ? CPM_OK : refuse(detail, "audience is not '%s'", audience);
}

static cpm_err check_claims(const json_t *payload, const char *audience, int64_t now_s,
                            int64_t skew_s, int64_t max_lifetime_s, struct cpm_jwt_claims *c,
                            struct cpm_detail *detail)
{
    char when[TIME_TEXT_BYTES];
    bool has_exp = false, has_nbf = false, has_iat = false;
    cpm_err err = string_claim(payload, "sub", true, CPM_SUBJECT_ID_BYTES_MAX, c->sub,
                               sizeof(c->sub), detail);
    if (err == CPM_OK)
        err = time_claim(payload, "exp", true, &c->exp, &has_exp, detail);
    if (err == CPM_OK)
        err = time_claim(payload, "nbf", false, &c->nbf, &has_nbf, detail);
    if (err == CPM_OK)
        err = time_claim(payload, "iat", false, &c->iat, &has_iat, detail);
    if (err == CPM_OK)
        err = string_claim(payload, "jti", false, CPM_JWT_JTI_BYTES_MAX, c->jti, sizeof(c->jti),
                           detail);
    if (err == CPM_OK)
        err = check_audience(payload, audience, detail);
    if (err != CPM_OK)
        return err;
    /* now_s ± skew_s cannot overflow (asserted bounds); exp - max_lifetime_s neither, once exp is
     * past now_s - skew_s; iat is at most now_s + skew_s by then. */
    if (c->exp <= now_s - skew_s) {
        format_time(c->exp, when);
        return refuse(detail, "expired at %s", when);
    }
    if (has_nbf && c->nbf > now_s + skew_s) {
        format_time(c->nbf, when);
        return refuse(detail, "not valid before %s", when);
    }
    if (has_iat && c->iat > now_s + skew_s) {
        format_time(c->iat, when);
        return refuse(detail, "issued in the future (at %s)", when);
    }
    if (c->exp - max_lifetime_s > (has_iat ? c->iat : now_s))
        return refuse(detail, "lifetime over %lld s", (long long)max_lifetime_s);
    cpm_strlcpy(c->aud, audience, sizeof(c->aud));
    return CPM_OK;
}

cpm_err cpm_jwt_verify(const char *token, const struct cpm_jwt_key *keys, size_t key_count,
                       const char *audience, int64_t now_s, int64_t skew_s, int64_t max_lifetime_s,
                       struct cpm_jwt_claims *out, struct cpm_detail *detail)
{
    /* decoded parts are at most 3/4 of the token */
    uint8_t header_bytes[CPM_JWT_BYTES_MAX], payload_bytes[CPM_JWT_BYTES_MAX], sig[SIG_BYTES_MAX];
    size_t header_len = 0, payload_len = 0, sig_len = 0;
    struct cpm_jwt_claims claims;
    struct header h = {0};
    json_t *header = NULL, *payload = NULL;
    cpm_err err = CPM_OK;
    CPM_ASSERT(token != NULL && (keys != NULL || key_count == 0) && out != NULL);
    CPM_ASSERT(key_count <= CPM_JWT_KEYS_MAX);
    CPM_ASSERT(audience != NULL && audience[0] != '\0' &&
               strlen(audience) <= CPM_JWT_AUDIENCE_BYTES_MAX);
    CPM_ASSERT(now_s >= 0 && now_s <= NOW_S_MAX && skew_s >= 0 && skew_s <= SKEW_S_MAX);
    CPM_ASSERT(max_lifetime_s >= 1 && max_lifetime_s <= LIFETIME_S_MAX);
    memset(&claims, 0, sizeof(claims));

    size_t len = strnlen(token, CPM_JWT_BYTES_MAX + 1);
    if (len > CPM_JWT_BYTES_MAX) {
        err = refuse(detail, "malformed: over %d bytes", CPM_JWT_BYTES_MAX);
        goto out;
    }
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 =
        dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL) {
        err = refuse(detail, "malformed: not three parts separated by dots");
        goto out;
    }
    const char *sig_text = dot2 + 1;
    size_t sig_text_len = len - (size_t)(sig_text - token);
    if (!b64url_decode(token, (size_t)(dot1 - token), header_bytes, sizeof(header_bytes),
                       &header_len)) {
        err = refuse(detail, "malformed: the header is not base64url without padding");
        goto out;
    }
    if (!b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), payload_bytes, sizeof(payload_bytes),
                       &payload_len)) {
        err = refuse(detail, "malformed: the payload is not base64url without padding");
        goto out;
    }
    if (b64_decoded_len(sig_text_len) > sizeof(sig)) {
        err = refuse(detail, "malformed: the signature is over %zu bytes", sizeof(sig));
        goto out;
    }
    if (!b64url_decode(sig_text, sig_text_len, sig, sizeof(sig), &sig_len)) {
        err = refuse(detail, "malformed: the signature is not base64url without padding");
        goto out;
    }
    err = parse_object(header_bytes, header_len, "header", &header, detail);
    if (err == CPM_OK)
        err = check_header(header, &h, detail);
    /* the payload is read only once the signature over it verified */
    if (err == CPM_OK)
        err = check_signature(&h, keys, key_count, (const uint8_t *)token, (size_t)(dot2 - token),
                              sig, sig_len, &claims.key_index, detail);
    if (err == CPM_OK)
        err = parse_object(payload_bytes, payload_len, "payload", &payload, detail);
    if (err == CPM_OK)
        err = check_claims(payload, audience, now_s, skew_s, max_lifetime_s, &claims, detail);
    if (err == CPM_OK)
        *out = claims;
out:
    json_decref(header);
    json_decref(payload);
    sodium_memzero(&claims, sizeof(claims));
    return err;
}
