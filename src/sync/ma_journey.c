/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ma_journey.c — the ma_journey destination kind: tells a marketing
 * automation to take a subject out of its journeys when they stop
 * (withdraw, refuse, object, expire; or are erased), and to reschedule
 * their pending steps when their preferences (channels, topics, contact
 * windows, frequency caps) change. The rules say which event does what
 * (default: the stops of any purpose and subject.erased exit;
 * preferences.changed reschedules).
 *
 * Vendor documentation followed: none — there is no common API among
 * marketing-automation products (each has its own journey model), so this
 * kind speaks one JSON contract of our own, and a deployment bridges it to
 * its product with a small adapter.
 *
 * The contract (version 1):
 *
 *   POST {endpoint}/journeys/exit         take the subject out of every journey
 *   POST {endpoint}/journeys/reschedule   re-plan the subject's pending steps
 *   Authorization: Bearer {the destination's secret}
 *   Content-Type: application/json
 *   Idempotency-Key: {event_id}
 *
 *   {"subject": "u-1001",              the company's own subject id
 *    "event_id": "evt_…",              the ledger event: the same on every retry
 *    "event_type": "consent.withdrawn",  its ledger type
 *    "purpose": "marketing.email",     exit only; absent when the event has none
 *    "occurred_at": "2026-11-29T07:04:44.123Z"}   when it was recorded (RFC 3339, UTC)
 *
 * No other fields are sent: no personal data beyond the company's own
 * subject id. A reschedule carries no preferences — the automation reads
 * the current ones itself, GET /v1/subjects/{subject}/preferences on this
 * server with its own API key (scope decisions:read), so they never travel
 * in the push and it always acts on the latest. Exiting a subject not in
 * any journey is a success. The automation de-duplicates on
 * Idempotency-Key: a repeated key answers as the first time did, without a
 * second effect, so a retry after a lost answer is safe.
 *
 * Answers: 2xx delivered; 401/403 retried ("the marketing automation
 * refused the credential"); 429 retried after its Retry-After; 5xx
 * retried; 400/422 refused for good: the event goes to the dead letters
 * with the automation's message (the "message" of a JSON answer, else the
 * body: its first 120 bytes, control characters removed, runs of 7 or
 * more digits masked); 410 disables the destination, as for webhooks; any
 * other answer, a timeout or a refused connection is retried. The secret
 * is never logged.
 */
#include "core/common.h"

#include <jansson.h>

#include "core/clock.h"
#include "sync/json_connector.h"

#define KIND "ma_journey"

enum action { EXIT_JOURNEY, RESCHEDULE };

static const struct cpm__json_connector_action actions[] = {
    [EXIT_JOURNEY] = {"exit_journey", "/journeys/exit", "exited the journeys"},
    [RESCHEDULE] = {"reschedule", "/journeys/reschedule", "rescheduled"},
};

static char *body(const struct cpm_outbound_event *e, unsigned action, const char *identifier)
{
    char when[CPM_TIME_TEXT_BYTES];
    CPM_UNUSED(identifier); /* none: the company's own subject id is enough */
    cpm_time_format(e->time_ms, when, sizeof(when));
    const char *purpose = action == EXIT_JOURNEY && e->purpose[0] ? e->purpose : NULL;
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s*, s:s}", "subject", e->subject_id, "event_id",
                            e->id, "event_type", e->type, "purpose", purpose, "occurred_at", when);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

static const struct cpm__json_connector_kind ma_journey = {
    .kind = KIND,
    .receiver = "marketing automation",
    .paths = "/journeys/…",
    .actions = actions,
    .action_count = CPM_ARRAY_LEN(actions),
    .identifier_type = NULL,
    .body = body,
};

static cpm_err ma_open(const json_t *dest, const struct cpm_sink_env *env, void **out,
                       struct cpm_detail *detail)
{
    return cpm__json_connector_open(&ma_journey, dest, env, out, detail);
}

const struct cpm_sink_ops cpm_sink_ma_journey_ops = {
    .kind = KIND,
    .open = ma_open,
    .send = cpm__json_connector_send,
    .poll = cpm__json_connector_poll,
    .wake = cpm__json_connector_wake,
    .close = cpm__json_connector_close,
};
