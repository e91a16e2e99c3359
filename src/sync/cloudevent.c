/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloudevent.c — CloudEvents bodies and Standard Webhooks signatures.
 */
#include "core/common.h"

#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "store/store.h"
#include "sync/cloudevent.h"

/* Appends s as a JSON string (quotes, backslashes and control bytes escaped). */
static void put_string(char *out, size_t *at, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    out[(*at)++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            out[(*at)++] = '\\';
            out[(*at)++] = (char)*p;
        } else if (*p < 0x20) {
            memcpy(out + *at, "\\u00", 4);
            out[*at + 4] = hex[*p >> 4];
            out[*at + 5] = hex[*p & 15];
            *at += 6;
        } else {
            out[(*at)++] = (char)*p;
        }
    }
    out[(*at)++] = '"';
}

static void put(char *out, size_t *at, const char *s)
{
    size_t n = strlen(s);
    memcpy(out + *at, s, n);
    *at += n;
}

char *cpm_cloudevent_body(int64_t seq, const char *id, const char *type, const char *subject_id,
                          int64_t time_ms, const char *leaf, size_t leaf_len, const char *source,
                          size_t *len)
{
    char ce_type[CPM_EVENT_TYPE_BYTES + 8], time_text[CPM_TIME_TEXT_BYTES], tail[32];
    while (leaf_len > 0 && strchr(" \t\r\n", leaf[leaf_len - 1]) != NULL)
        leaf_len--;
    size_t open = 0;
    while (open < leaf_len && strchr(" \t\r\n", leaf[open]) != NULL)
        open++;
    if (leaf_len < open + 2 || leaf[open] != '{' || leaf[leaf_len - 1] != '}')
        return NULL;
    bool empty = true; /* "{}": no comma before seq */
    for (size_t i = open + 1; i + 1 < leaf_len && empty; i++)
        empty = strchr(" \t\r\n", leaf[i]) != NULL;
    snprintf(ce_type, sizeof(ce_type), "cpm.%s", type);
    cpm_time_format(time_ms, time_text, sizeof(time_text));
    snprintf(tail, sizeof(tail), "%s\"seq\":%lld}}", empty ? "" : ",", (long long)seq);
    /* every escaped byte takes at most 6; the fixed text well under 256 */
    size_t cap = 256 + 6 * (strlen(id) + strlen(source) + strlen(ce_type) + strlen(subject_id)) +
                 strlen(time_text) + leaf_len + strlen(tail);
    char *out = cpm_malloc(cap);
    size_t at = 0;
    if (out == NULL)
        return NULL;
    put(out, &at, "{\"specversion\":\"1.0\",\"id\":");
    put_string(out, &at, id);
    put(out, &at, ",\"source\":");
    put_string(out, &at, source);
    put(out, &at, ",\"type\":");
    put_string(out, &at, ce_type);
    if (subject_id[0]) {
        put(out, &at, ",\"subject\":");
        put_string(out, &at, subject_id);
    }
    put(out, &at, ",\"time\":");
    put_string(out, &at, time_text);
    put(out, &at, ",\"datacontenttype\":\"application/json\",\"data\":");
    memcpy(out + at, leaf + open, leaf_len - open - 1); /* the leaf without its closing brace */
    at += leaf_len - open - 1;
    put(out, &at, tail);
    CPM_ASSERT(at < cap);
    out[at] = '\0';
    *len = at;
    return out;
}

void cpm_webhook_sign(const uint8_t *key, size_t key_len, const char *id, int64_t timestamp_s,
                      const char *body, size_t body_len, char out[CPM_WEBHOOK_SIGNATURE_BYTES])
{
    crypto_auth_hmacsha256_state st;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    char ts[24];
    int ts_len = snprintf(ts, sizeof(ts), ".%lld.", (long long)timestamp_s);
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (size_t)ts_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, CPM_WEBHOOK_SIGNATURE_BYTES - 3, mac, sizeof(mac),
                      sodium_base64_VARIANT_ORIGINAL);
}
