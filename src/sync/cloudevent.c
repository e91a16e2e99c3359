/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloudevent.c — CloudEvents bodies and Standard Webhooks signatures.
 */
#include "core/common.h"

#include <jansson.h>
#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "store/store.h"
#include "sync/cloudevent.h"

char *cpm_cloudevent_body(int64_t seq, const char *id, const char *type, const char *subject_id,
                          int64_t time_ms, json_t *data, const char *source, size_t *len)
{
    char ce_type[CPM_EVENT_TYPE_BYTES + 8], time_text[CPM_TIME_TEXT_BYTES];
    CPM_ASSERT(json_is_object(data));
    snprintf(ce_type, sizeof(ce_type), "cpm.%s", type);
    cpm_time_format(time_ms, time_text, sizeof(time_text));
    json_object_set_new(data, "seq", json_integer(seq));
    json_t *ce = json_pack("{s:s, s:s, s:s, s:s}", "specversion", "1.0", "id", id, "source", source,
                           "type", ce_type);
    if (ce != NULL && subject_id[0])
        json_object_set_new(ce, "subject", json_string(subject_id));
    if (ce != NULL) {
        json_object_set_new(ce, "time", json_string(time_text));
        json_object_set_new(ce, "datacontenttype", json_string("application/json"));
        json_object_set(ce, "data", data);
    }
    json_decref(data);
    char *text = ce ? json_dumps(ce, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(ce);
    if (text != NULL)
        *len = strlen(text);
    return text;
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
