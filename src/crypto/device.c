/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device.c — device credentials: made and checked without any state (see
 * the header).
 */
#include "core/common.h"

#include <sodium.h>

#include "crypto/device.h"
#include "domain/config.h"

#define MAC_CONTEXT "cpm-device-v1"
#define PREFIX_LEN  (sizeof(CPM_DEVICE_TOKEN_PREFIX) - 1)
#define SUBJECT_LEN (CPM_DEVICE_SUBJECT_BYTES - 1)

_Static_assert(sodium_base64_ENCODED_LEN(CPM_DEVICE_RANDOM_BYTES,
                                         sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
                   CPM_DEVICE_SUBJECT_BYTES - 5,
               "a device subject's random part");
_Static_assert(sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES,
                                         sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
                   CPM_DEVICE_MAC_TEXT_BYTES + 1,
               "a device credential's MAC");

static bool base64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool cpm_device_subject_reserved(const char *subject_id)
{
    return strncmp(subject_id, CPM_DEVICE_SUBJECT_PREFIX, strlen(CPM_DEVICE_SUBJECT_PREFIX)) == 0;
}

bool cpm_device_subject_valid(const char *subject_id)
{
    size_t prefix = strlen(CPM_DEVICE_SUBJECT_PREFIX);
    bool ok = cpm_device_subject_reserved(subject_id) && strlen(subject_id) == SUBJECT_LEN;
    for (size_t i = prefix; ok && i < SUBJECT_LEN; i++)
        ok = base64url_char(subject_id[i]);
    return ok;
}

/* The MAC of (property, subject), as unpadded base64url text. */
static void mac_text(const struct cpm_keyring *kr, const char *property, const char *subject,
                     char out[CPM_DEVICE_MAC_TEXT_BYTES + 1])
{
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, kr->device_key, sizeof(kr->device_key));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)MAC_CONTEXT, sizeof(MAC_CONTEXT));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)property, strlen(property) + 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)subject, strlen(subject));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
    sodium_bin2base64(out, CPM_DEVICE_MAC_TEXT_BYTES + 1, mac, sizeof(mac),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void cpm_device_new(const struct cpm_keyring *kr, const char *property, struct cpm_device *out,
                    char token[CPM_DEVICE_TOKEN_BYTES_MAX])
{
    CPM_ASSERT(cpm_config_id_valid(property));
    uint8_t random[CPM_DEVICE_RANDOM_BYTES];
    char mac[CPM_DEVICE_MAC_TEXT_BYTES + 1];
    size_t prefix = strlen(CPM_DEVICE_SUBJECT_PREFIX);
    randombytes_buf(random, sizeof(random));
    memcpy(out->subject_id, CPM_DEVICE_SUBJECT_PREFIX, prefix);
    sodium_bin2base64(out->subject_id + prefix, sizeof(out->subject_id) - prefix, random,
                      sizeof(random), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    cpm_strlcpy(out->property, property, sizeof(out->property));
    mac_text(kr, out->property, out->subject_id, mac);
    int n = snprintf(token, CPM_DEVICE_TOKEN_BYTES_MAX, "%s%s.%s.%s", CPM_DEVICE_TOKEN_PREFIX,
                     out->property, out->subject_id, mac);
    CPM_ASSERT(n > 0 && n < CPM_DEVICE_TOKEN_BYTES_MAX);
}

cpm_err cpm_device_open(const struct cpm_keyring *kr, const char *token, struct cpm_device *out)
{
    size_t len = strnlen(token, CPM_DEVICE_TOKEN_BYTES_MAX);
    /* the shortest: the prefix, a 1-byte property, the subject, the MAC and 2 dots */
    if (len >= CPM_DEVICE_TOKEN_BYTES_MAX ||
        len < PREFIX_LEN + 1 + 1 + SUBJECT_LEN + 1 + CPM_DEVICE_MAC_TEXT_BYTES ||
        memcmp(token, CPM_DEVICE_TOKEN_PREFIX, PREFIX_LEN) != 0)
        return CPM_ERR_UNAUTHORIZED;
    const char *mac = token + len - CPM_DEVICE_MAC_TEXT_BYTES;
    const char *subject = mac - 1 - SUBJECT_LEN;
    size_t property_len = (size_t)(subject - 1 - (token + PREFIX_LEN));
    struct cpm_device d;
    memset(&d, 0, sizeof(d));
    if (mac[-1] != '.' || subject[-1] != '.' || property_len > CPM_ID_BYTES_MAX)
        return CPM_ERR_UNAUTHORIZED;
    memcpy(d.subject_id, subject, SUBJECT_LEN);
    memcpy(d.property, token + PREFIX_LEN, property_len);
    if (!cpm_device_subject_valid(d.subject_id) || !cpm_config_id_valid(d.property))
        return CPM_ERR_UNAUTHORIZED;
    char expected[CPM_DEVICE_MAC_TEXT_BYTES + 1];
    mac_text(kr, d.property, d.subject_id, expected);
    if (sodium_memcmp(expected, mac, CPM_DEVICE_MAC_TEXT_BYTES) != 0)
        return CPM_ERR_UNAUTHORIZED;
    *out = d;
    return CPM_OK;
}
