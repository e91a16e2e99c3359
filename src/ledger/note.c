/* SPDX-License-Identifier: Apache-2.0 */
/*
 * note.c — C2SP signed notes (Ed25519) and tlog-checkpoint bodies.
 *
 * Everything read here comes from outside (bundles, files, other logs), so
 * parsing is strict and bounded: UTF-8 is validated code point by code
 * point, base64 must be canonical with its padding, sizes are decimal
 * without leading zeros, and a note carries at most CPM_NOTE_SIGNATURES_MAX
 * signatures of at most CPM_NOTE_SIGNATURE_BYTES_MAX bytes each.
 */
#include "core/common.h"

#include <sodium.h>

#include "ledger/note.h"

#define EM_DASH           "\xE2\x80\x94" /* U+2014, which opens a signature line */
#define SIG_PREFIX        EM_DASH " "
#define SIG_PREFIX_BYTES  (sizeof(SIG_PREFIX) - 1)
#define KEY_TYPE_ED25519  0x01
#define KEYID_BYTES       4
#define ED25519_SIG_BYTES (KEYID_BYTES + crypto_sign_BYTES) /* key id ‖ signature */
#define ROOT_B64_BYTES    sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)
#define VKEY_KEY_B64_BYTES                                                                         \
    sodium_base64_ENCODED_LEN(1 + crypto_sign_PUBLICKEYBYTES, sodium_base64_VARIANT_ORIGINAL)

/* A name and key taken from a verifier key line; name points into the line. */
struct vkey {
    const char *name;
    size_t name_len;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t keyid[KEYID_BYTES];
};

/*
 * Decodes the UTF-8 sequence at s[0 .. len) into *cp; returns its length, or
 * 0 when it is not strict UTF-8 (overlong forms, surrogates, > U+10FFFF).
 */
static size_t utf8_decode(const uint8_t *s, size_t len, uint32_t *cp)
{
    uint8_t b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF; /* the bounds of the second byte */
    if (b >= 0xC2 && b <= 0xDF) {
        need = 2;
        *cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 3;
        *cp = b & 0x0F;
        lo = b == 0xE0 ? 0xA0 : 0x80;
        hi = b == 0xED ? 0x9F : 0xBF;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 4;
        *cp = b & 0x07;
        lo = b == 0xF0 ? 0x90 : 0x80;
        hi = b == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (len < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    return need;
}

/* Note text: strict UTF-8 with no control character but newline. */
static bool text_ok(const char *text, size_t len)
{
    const uint8_t *s = (const uint8_t *)text;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(s + i, len - i, &cp);
        if (n == 0 || (cp < 0x20 && cp != '\n'))
            return false;
        i += n;
    }
    return true;
}

/* Unicode White_Space (what Go's unicode.IsSpace reports, as the reference implementation uses). */
static bool unicode_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

/* A key name: non-empty UTF-8 without control characters, Unicode spaces or '+'. */
static bool name_ok(const char *name, size_t len)
{
    const uint8_t *s = (const uint8_t *)name;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(s + i, len - i, &cp);
        if (n == 0 || cp < 0x20 || cp == 0x7F || cp == '+' || unicode_space(cp))
            return false;
        i += n;
    }
    return true;
}

/* Canonical standard base64 with padding, all of text[0 .. len), into at most cap bytes. */
static bool base64_decode(const char *text, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    return sodium_base642bin(out, cap, text, len, NULL, out_len, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0;
}

/* Decimal without sign or leading zeros, within 64 bits. */
static bool parse_size(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20 || (s[0] == '0' && len > 1))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

/* SHA-256(name ‖ "\n" ‖ 0x01 ‖ pk)[:4]. */
static void key_id(const char *name, size_t name_len, const uint8_t pk[32],
                   uint8_t out[KEYID_BYTES])
{
    static const uint8_t sep_type[2] = {'\n', KEY_TYPE_ED25519};
    uint8_t hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, name_len);
    crypto_hash_sha256_update(&st, sep_type, sizeof(sep_type));
    crypto_hash_sha256_update(&st, pk, crypto_sign_PUBLICKEYBYTES);
    crypto_hash_sha256_final(&st, hash);
    memcpy(out, hash, KEYID_BYTES);
}

static bool lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Splits "name+keyid+base64(0x01 ‖ pk)" and checks the key id against name and key. */
static bool vkey_split(const char *line, struct vkey *k)
{
    const char *plus = strchr(line, '+');
    if (plus == NULL || !name_ok(line, (size_t)(plus - line)))
        return false;
    k->name = line;
    k->name_len = (size_t)(plus - line);
    const char *hex = plus + 1;
    for (size_t i = 0; i < 2 * KEYID_BYTES; i++)
        if (!lower_hex(hex[i])) /* stops at the NUL too */
            return false;
    if (hex[2 * KEYID_BYTES] != '+')
        return false;
    uint8_t given[KEYID_BYTES];
    size_t given_len = 0;
    if (sodium_hex2bin(given, sizeof(given), hex, 2 * KEYID_BYTES, NULL, &given_len, NULL) != 0 ||
        given_len != KEYID_BYTES)
        return false;
    const char *b64 = hex + 2 * KEYID_BYTES + 1;
    uint8_t key[1 + crypto_sign_PUBLICKEYBYTES];
    size_t key_len = 0;
    if (!base64_decode(b64, strlen(b64), key, sizeof(key), &key_len) || key_len != sizeof(key) ||
        key[0] != KEY_TYPE_ED25519)
        return false;
    memcpy(k->pk, key + 1, crypto_sign_PUBLICKEYBYTES);
    key_id(k->name, k->name_len, k->pk, k->keyid);
    return memcmp(k->keyid, given, KEYID_BYTES) == 0;
}

cpm_err cpm_checkpoint_format(const char *origin, uint64_t size, const uint8_t root[32], char *out,
                              size_t cap)
{
    if (cap > 0)
        out[0] = '\0';
    size_t origin_len = strlen(origin);
    if (origin_len == 0 || !text_ok(origin, origin_len) || memchr(origin, '\n', origin_len))
        return CPM_ERR_VALIDATION;
    char b64[ROOT_B64_BYTES];
    sodium_bin2base64(b64, sizeof(b64), root, 32, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(out, cap, "%s\n%llu\n%s\n", origin, (unsigned long long)size, b64);
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return CPM_ERR_TOO_LARGE;
    }
    return CPM_OK;
}

cpm_err cpm_checkpoint_parse(const char *body, size_t len, char *origin, size_t origin_cap,
                             uint64_t *size, uint8_t root[32])
{
    if (len == 0 || body[len - 1] != '\n' || !text_ok(body, len))
        return CPM_ERR_VALIDATION;
    const char *line[3] = {NULL, NULL, NULL};
    size_t line_len[3] = {0, 0, 0}, lines = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(body + pos, '\n', len - pos); /* found: body ends in one */
        size_t n = (size_t)(nl - (body + pos));
        if (n == 0)
            return CPM_ERR_VALIDATION; /* every line, extensions too, is non-empty */
        if (lines < 3) {
            line[lines] = body + pos;
            line_len[lines] = n;
        }
        lines++;
        pos += n + 1;
    }
    uint64_t parsed_size;
    uint8_t parsed_root[32];
    size_t root_len = 0;
    if (lines < 3 || line_len[0] >= origin_cap || !parse_size(line[1], line_len[1], &parsed_size) ||
        !base64_decode(line[2], line_len[2], parsed_root, sizeof(parsed_root), &root_len) ||
        root_len != sizeof(parsed_root))
        return CPM_ERR_VALIDATION;
    memcpy(origin, line[0], line_len[0]);
    origin[line_len[0]] = '\0';
    *size = parsed_size;
    memcpy(root, parsed_root, sizeof(parsed_root));
    return CPM_OK;
}

void cpm_note_vkey(const char *name, const uint8_t pk[32], char *out, size_t cap)
{
    size_t name_len = strlen(name);
    CPM_ASSERT(name_ok(name, name_len));
    uint8_t keyid[KEYID_BYTES], key[1 + crypto_sign_PUBLICKEYBYTES];
    key_id(name, name_len, pk, keyid);
    key[0] = KEY_TYPE_ED25519;
    memcpy(key + 1, pk, crypto_sign_PUBLICKEYBYTES);
    char hex[2 * KEYID_BYTES + 1], b64[VKEY_KEY_B64_BYTES];
    sodium_bin2hex(hex, sizeof(hex), keyid, sizeof(keyid));
    sodium_bin2base64(b64, sizeof(b64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(out, cap, "%s+%s+%s", name, hex, b64);
    CPM_ASSERT(n > 0 && (size_t)n < cap);
}

cpm_err cpm_note_vkey_parse(const char *vkey, char *name, size_t cap, uint8_t pk[32],
                            uint8_t keyid[4])
{
    struct vkey k;
    if (!vkey_split(vkey, &k) || k.name_len >= cap)
        return CPM_ERR_VALIDATION;
    memcpy(name, k.name, k.name_len);
    name[k.name_len] = '\0';
    memcpy(pk, k.pk, sizeof(k.pk));
    memcpy(keyid, k.keyid, sizeof(k.keyid));
    return CPM_OK;
}

cpm_err cpm_note_sign(const char *body, const char *name, const uint8_t seed[32], char *out,
                      size_t cap)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t sig[ED25519_SIG_BYTES];
    char b64[sodium_base64_ENCODED_LEN(ED25519_SIG_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    cpm_err err = CPM_OK;
    if (cap > 0)
        out[0] = '\0';
    size_t body_len = strlen(body), name_len = strlen(name);
    if (body_len == 0 || body[body_len - 1] != '\n' || strstr(body, "\n\n") != NULL ||
        !text_ok(body, body_len) || !name_ok(name, name_len)) {
        err = CPM_ERR_VALIDATION;
        goto out;
    }
    if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, sk, seed) != 0) {
        err = CPM_ERR_CRYPTO;
        goto out;
    }
    key_id(name, name_len, pk, sig);
    if (crypto_sign_detached(sig + KEYID_BYTES, NULL, (const uint8_t *)body, body_len, sk) != 0) {
        err = CPM_ERR_CRYPTO;
        goto out;
    }
    sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(out, cap, "%s\n" SIG_PREFIX "%s %s\n", body, name, b64);
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            out[0] = '\0';
        err = CPM_ERR_TOO_LARGE;
    }
out:
    sodium_memzero(sk, sizeof(sk));
    return err;
}

/*
 * Checks one signature line line[0 .. len) (without its newline). Sets *ours
 * when it carries k's name and key id, and then *valid when it verifies.
 */
static bool check_signature_line(const char *line, size_t len, const struct vkey *k,
                                 const char *body, size_t body_len, bool *ours, bool *valid)
{
    uint8_t sig[CPM_NOTE_SIGNATURE_BYTES_MAX];
    *ours = *valid = false;
    if (len < SIG_PREFIX_BYTES || memcmp(line, SIG_PREFIX, SIG_PREFIX_BYTES) != 0)
        return false;
    const char *name = line + SIG_PREFIX_BYTES;
    const char *space = memchr(name, ' ', len - SIG_PREFIX_BYTES);
    if (space == NULL || !name_ok(name, (size_t)(space - name)))
        return false;
    size_t name_len = (size_t)(space - name), sig_len = 0;
    const char *b64 = space + 1;
    if (!base64_decode(b64, (size_t)(line + len - b64), sig, sizeof(sig), &sig_len) ||
        sig_len < KEYID_BYTES + 1)
        return false;
    *ours = name_len == k->name_len && memcmp(name, k->name, name_len) == 0 &&
            memcmp(sig, k->keyid, KEYID_BYTES) == 0;
    *valid =
        *ours && sig_len == ED25519_SIG_BYTES &&
        crypto_sign_verify_detached(sig + KEYID_BYTES, (const uint8_t *)body, body_len, k->pk) == 0;
    return true;
}

cpm_err cpm_note_verify(const char *note, size_t len, const char *vkey, const char **body,
                        size_t *body_len)
{
    struct vkey k;
    if (sodium_init() < 0)
        return CPM_ERR_CRYPTO;
    if (!vkey_split(vkey, &k) || len < 2 || note[len - 1] != '\n' || !text_ok(note, len))
        return CPM_ERR_VALIDATION;
    /* Signature lines are never empty, so the last blank line is the separator. */
    size_t sep = len - 1;
    while (sep > 0 && !(note[sep - 1] == '\n' && note[sep] == '\n'))
        sep--;
    if (sep == 0)
        return CPM_ERR_VALIDATION;
    size_t text_len = sep; /* the text ends with the newline before the blank line */
    size_t lines = 0, verified = 0;
    for (size_t pos = sep + 1; pos < len;) {
        const char *nl = memchr(note + pos, '\n', len - pos); /* found: the note ends in one */
        size_t n = (size_t)(nl - (note + pos));
        bool ours, valid;
        if (++lines > CPM_NOTE_SIGNATURES_MAX ||
            !check_signature_line(note + pos, n, &k, note, text_len, &ours, &valid))
            return CPM_ERR_VALIDATION;
        if (ours && !valid)
            return CPM_ERR_VALIDATION; /* a bad signature from the trusted key: reject the note */
        verified += valid;
        pos += n + 1;
    }
    if (verified == 0)
        return CPM_ERR_VALIDATION;
    *body = note;
    *body_len = text_len;
    return CPM_OK;
}
