/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sms_gateway.c — the sms_gateway destination kind: puts a subject's phone
 * number on an SMS gateway's suppression list when they withdraw (refuse,
 * object to, let expire) SMS marketing, and takes it off when they give it
 * again. The rules say which event does what (default: the stops of
 * marketing.sms and marketing.sms.* suppress; consent.given and
 * consent.objection_withdrawn of them unsuppress).
 *
 * Vendor documentation followed: none could be — neither major Chinese SMS
 * provider documents an opt-out API. Alibaba Cloud SMS (Dysmsapi
 * 2017-05-25, API catalogue help.aliyun.com/zh/sms/developer-reference/
 * api-dysmsapi-2017-05-25-dir) has qualification, signature, template,
 * sending, query, card-SMS, short-link and tag operations, no blacklist or
 * unsubscribe one. Tencent Cloud SMS (API 3.0, sms 2021-01-11,
 * cloud.tencent.com/document/api/382) has sending, status pulls,
 * statistics, signatures, templates, conversion and a number lookup; its
 * do-not-disturb list and unsubscribed users are managed in the console
 * only (cloud.tencent.com/document/product/382/37807). Baidu Cloud SMS does
 * document POST /sms/v3/blacklist (bce-auth-v1 signatures, 11-digit
 * domestic numbers): an adapter can bridge this contract to it. So this
 * kind speaks one JSON contract of our own, and a deployment bridges it to
 * its gateway with a small adapter.
 *
 * The contract (version 1):
 *
 *   POST {endpoint}/suppressions          put the number on the list
 *   POST {endpoint}/suppressions/delete   take it off
 *   Authorization: Bearer {the destination's secret}
 *   Content-Type: application/json
 *   Idempotency-Key: {event_id}
 *
 *   {"phone": "+8613800138000",      the subject's phone identifier, E.164
 *    "reason": "consent.withdrawn",  the ledger type of the deciding event
 *    "purpose": "marketing.sms",     its purpose (absent when it has none)
 *    "event_id": "evt_…",            the ledger event: the same on every retry
 *    "occurred_at": "2026-11-29T07:04:44.123Z"}   when it was recorded (RFC 3339, UTC)
 *
 * No other fields are sent. A suppression is of (phone, purpose): a
 * gateway with a single list suppresses the number on the first and lifts
 * it when none is left. Taking off a number that is not on the list is a
 * success. The gateway de-duplicates on Idempotency-Key: a repeated key
 * answers as the first time did, without a second effect, so a retry
 * after a lost answer is safe.
 *
 * Answers: 2xx delivered; 401/403 retried ("the gateway refused the
 * credential"); 429 retried after its Retry-After; 5xx retried; 400/422
 * refused for good: the event goes to the dead letters with the gateway's
 * message (the "message" of a JSON answer, else the body: its first 120
 * bytes, control characters removed, and any run of 7 or more digits — a
 * number the gateway may have echoed — masked); 410 disables the
 * destination, as for webhooks; any other answer, a timeout or a refused
 * connection is retried. A subject without a phone identifier (or erased)
 * is delivered with "no phone for this subject: nothing to do": there is
 * nothing to tell the gateway. Neither the secret nor the number is ever
 * logged.
 *
 * Messages (contract version 1, one-time codes; sent by src/sync/sms_send.c
 * when a property names this destination as its `otp_destination`):
 *
 *   POST {endpoint}/messages
 *   Authorization: Bearer {the destination's secret}
 *   Content-Type: application/json
 *   Idempotency-Key: {message_id}
 *
 *   {"phone": "+8613800138000",         the subject's phone identifier, E.164
 *    "template": "otp",                 the gateway's template for codes
 *    "params": {"code": "123456"},      its parameters: the 6-digit code
 *    "message_id": "otp_…"}             the challenge id: the same on a retry
 *
 * 2xx means sent. The request is made while the caller waits (at most the
 * destination's timeout_ms) and is not retried: any other answer, a
 * timeout or a refused connection leaves the challenge unusable, and the
 * person asks for a new code. Neither the code nor the number is logged.
 */
#include "core/common.h"

#include <jansson.h>

#include "core/clock.h"
#include "sync/json_connector.h"

#define KIND "sms_gateway"

enum action { SUPPRESS, UNSUPPRESS };

static const struct cpm__json_connector_action actions[] = {
    [SUPPRESS] = {"suppress", "/suppressions", "suppressed"},
    [UNSUPPRESS] = {"unsuppress", "/suppressions/delete", "unsuppressed"},
};

static char *body(const struct cpm_outbound_event *e, unsigned action, const char *phone)
{
    char when[CPM_TIME_TEXT_BYTES];
    CPM_UNUSED(action); /* both actions send the same body */
    cpm_time_format(e->time_ms, when, sizeof(when));
    json_t *doc =
        json_pack("{s:s, s:s, s:s*, s:s, s:s}", "phone", phone, "reason", e->type, "purpose",
                  e->purpose[0] ? e->purpose : NULL, "event_id", e->id, "occurred_at", when);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

static const struct cpm__json_connector_kind sms_gateway = {
    .kind = KIND,
    .receiver = "gateway",
    .paths = "/suppressions",
    .actions = actions,
    .action_count = CPM_ARRAY_LEN(actions),
    .identifier_type = "phone",
    .body = body,
};

static cpm_err sms_open(const json_t *dest, const struct cpm_sink_env *env, void **out,
                        struct cpm_detail *detail)
{
    return cpm__json_connector_open(&sms_gateway, dest, env, out, detail);
}

const struct cpm_sink_ops cpm_sink_sms_gateway_ops = {
    .kind = KIND,
    .open = sms_open,
    .send = cpm__json_connector_send,
    .poll = cpm__json_connector_poll,
    .wake = cpm__json_connector_wake,
    .close = cpm__json_connector_close,
};
