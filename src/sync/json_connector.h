/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_connector.h — the sink of the bearer-token JSON-over-HTTP destination
 * kinds (sms_gateway, ma_journey), built from a small description of each
 * (internal to src/sync).
 *
 * For every event about a subject whose rule action is one of the kind's,
 * the sink sends
 *
 *   POST {endpoint}{the action's path}
 *   Authorization: Bearer {the destination's secret}
 *   Content-Type: application/json
 *   Idempotency-Key: {event id}
 *
 * with the body the kind builds, one request per event, and judges the
 * answer with cpm_sync_judge_json_answer (json_api.h). Without a request:
 * an event about no subject is delivered ("not about a subject: nothing to
 * do"); an action the kind does not take is rejected; when the kind needs
 * an identifier (identifier_type), a subject without one is delivered ("no
 * <type> for this subject: nothing to do") and a failure to read it is
 * retried. The identifier is wiped once the body is built, and every body
 * once its request is done (it may hold the identifier). Neither the
 * secret nor the identifier is ever logged.
 *
 * The destination document needs `endpoint` (a base URL without query or
 * fragment) and `secret` (a bearer token: cpm_sync_bearer_valid).
 */
#ifndef CPM_SYNC_JSON_CONNECTOR_H
#define CPM_SYNC_JSON_CONNECTOR_H

#include <jansson.h>

#include "core/common.h"
#include "sync/sink.h"

#define CPM__JSON_CONNECTOR_ACTIONS_MAX 4 /* actions of one kind, at most */

/* One action a kind takes, as the destination's rules name it. */
struct cpm__json_connector_action {
    const char *name;        /* the rule action: "suppress" */
    const char *path;        /* appended to the endpoint: "/suppressions" */
    const char *done_detail; /* a success's detail, for the delivery log: "suppressed" */
};

/*
 * Builds the request body of e for actions[action] (identifier: the
 * subject's identifier of the kind's type, or NULL when the kind needs
 * none; borrowed). Returns owned JSON text (cpm_free), or NULL when out
 * of memory.
 */
typedef char *(*cpm__json_connector_body_fn)(const struct cpm_outbound_event *e, unsigned action,
                                             const char *identifier);

/* What a kind is; a static table that outlives its sinks. */
struct cpm__json_connector_kind {
    const char *kind;     /* "sms_gateway"; details say "… not one an <kind> takes" */
    const char *receiver; /* in details: "gateway", "marketing automation" */
    const char *paths;    /* in the endpoint's detail: "/suppressions", "/journeys/…" */
    const struct cpm__json_connector_action *actions;
    unsigned action_count;       /* 1 to CPM__JSON_CONNECTOR_ACTIONS_MAX */
    const char *identifier_type; /* "phone"; NULL when the body needs none */
    cpm__json_connector_body_fn body;
};

/*
 * The sink operations (see sink.h); open takes the kind (borrowed until
 * close), so each kind's ops table wraps it.
 */
cpm_err cpm__json_connector_open(const struct cpm__json_connector_kind *kind, const json_t *dest,
                                 const struct cpm_sink_env *env, void **out,
                                 struct cpm_detail *detail) CPM_MUST_CHECK;
cpm_err cpm__json_connector_send(void *sink, unsigned lane, const struct cpm_outbound_event *e);
void cpm__json_connector_poll(void *sink, int timeout_ms, cpm_sink_done_fn done, void *ctx);
void cpm__json_connector_wake(void *sink);
void cpm__json_connector_close(void *sink);

#endif /* CPM_SYNC_JSON_CONNECTOR_H */
