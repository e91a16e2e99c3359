/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_api.h — what the bearer-token JSON-over-HTTP connectors share: the
 * request URL, the credential's shape, what an answer means and the part of
 * it fit for the delivery log (internal to src/sync).
 *
 * The contract the bearer-token connectors (sms_gateway, ma_journey) share:
 * 2xx delivered; 401/403 a retry whose detail never quotes the body (it may
 * echo the credential); 400/422 rejected (dead letter) with the receiver's
 * message; 410 gone; anything else, and no answer, a retry (Retry-After
 * honoured). Reentrant. The sink those connectors share is json_connector.h.
 */
#ifndef CPM_SYNC_JSON_API_H
#define CPM_SYNC_JSON_API_H

#include "core/common.h"
#include "sync/http_lanes.h"
#include "sync/sink.h"

#define CPM_SYNC_MESSAGE_BYTES_LOGGED 120 /* of a receiver's message, in the delivery log */
#define CPM_SYNC_BEARER_BYTES_MAX     512 /* a connector's bearer token */

/* endpoint without its trailing slashes, then path (owned); NULL when out of memory. */
char *cpm_sync_url_join(const char *endpoint, const char *path);

/* True when s can be a bearer token in a header: 1–512 bytes of printable ASCII, no spaces. */
bool cpm_sync_bearer_valid(const char *s);

/*
 * The receiver's message: the "message" of a JSON answer, else the body;
 * control characters removed, runs of 7 or more digits (a phone number?)
 * masked as ***, invalid UTF-8 replaced, at most
 * CPM_SYNC_MESSAGE_BYTES_LOGGED bytes, never a split character.
 */
void cpm_sync_answer_message(const char *body, size_t len, char *out, size_t cap);

/*
 * text made fit for the delivery log into out (cap bytes, NUL included):
 * control characters dropped, runs of 7+ digits masked as ***, invalid
 * UTF-8 replaced by '?', cut at a character boundary.
 */
void cpm_sync_text_clean(const char *text, char *out, size_t cap);

/* Judges a; who names the receiver in details ("gateway"); done_detail is a success's detail. */
void cpm_sync_judge_json_answer(const struct cpm_http_answer *a, const char *who,
                                const char *done_detail, struct cpm_sink_result *r);

#endif /* CPM_SYNC_JSON_API_H */
