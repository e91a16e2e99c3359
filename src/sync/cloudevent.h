/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloudevent.h — a ledger event as a CloudEvents 1.0 structured JSON body,
 * and its Standard Webhooks signature.
 *
 * The body: specversion "1.0", id = the event's id (stable across retries
 * and replays, so receivers de-duplicate on it), source, type "cpm." + the
 * ledger type, subject = the company's subject id (absent for configuration
 * events), time, datacontenttype, data = the ledger leaf's fields plus
 * "seq". The leaf itself carries no plaintext personal data.
 *
 * Thread safety: reentrant.
 */
#ifndef CPM_SYNC_CLOUDEVENT_H
#define CPM_SYNC_CLOUDEVENT_H

#include "core/common.h"
#include "domain/destination.h"

#define CPM_WEBHOOK_SIGNATURE_BYTES 64 /* "v1," + base64 of 32 bytes + NUL, with room */

/*
 * The body (cpm_free) for the event whose ledger leaf is leaf (a JSON
 * object's text, as stored: it is spliced in, not parsed and re-written —
 * the dispatcher's largest cost otherwise). NULL when out of memory or the
 * leaf is not an object's text.
 */
char *cpm_cloudevent_body(int64_t seq, const char *id, const char *type, const char *subject_id,
                          int64_t time_ms, const char *leaf, size_t leaf_len, const char *source,
                          size_t *len);

/*
 * Standard Webhooks: "v1," + base64(HMAC-SHA256(key, id "." timestamp "."
 * body)) into out.
 */
void cpm_webhook_sign(const uint8_t *key, size_t key_len, const char *id, int64_t timestamp_s,
                      const char *body, size_t body_len, char out[CPM_WEBHOOK_SIGNATURE_BYTES]);

#endif /* CPM_SYNC_CLOUDEVENT_H */
