/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink.h — what the dispatcher asks of a destination kind (internal).
 *
 * A destination kind (webhook, nats, wecom_tags, …) is a table of
 * operations, like a store backend. The dispatcher owns ordering, cursors,
 * retries and the delivery log; a sink only sends one event and says how
 * it went. A sink is used by one dispatcher thread only (never shared),
 * except `wake`, which any thread may call.
 *
 * Flow: open → (send … poll …)* → close. The dispatcher keeps at most one
 * event in flight per lane, so a sink may have up to `lanes` sends
 * outstanding; each one is finished by exactly one `done` call from poll
 * (close drops unfinished ones without calling done).
 */
#ifndef CPM_SYNC_SINK_H
#define CPM_SYNC_SINK_H

#include <jansson.h>
#include <stdarg.h>

#include "core/common.h"
#include "core/detail.h"

struct cpm_outbound_guard;

/* One ledger event on its way out. Everything is borrowed until its done call. */
struct cpm_outbound_event {
    int64_t seq;
    const char *id;         /* "evt_…": the de-duplication key (webhook-id, Nats-Msg-Id) */
    const char *type;       /* the ledger type: "consent.withdrawn" */
    const char *subject_id; /* the company's subject id; "" for configuration events */
    const char *purpose;    /* "" when none */
    int64_t time_ms;        /* when the event was recorded */
    const char *leaf;       /* the ledger leaf, canonical JSON (no plaintext personal data) */
    size_t leaf_len;
    const char *body; /* the CloudEvents 1.0 structured JSON the dispatcher built */
    size_t body_len;
    /* connectors: the first of the destination's rules the event matched */
    const char *action; /* "tag_add", "suppress", …; NULL for webhook and nats */
    const json_t *rule; /* that rule (its tag, …) */
};

enum cpm_sink_outcome {
    CPM_SINK_DELIVERED, /* acknowledged by the receiver */
    CPM_SINK_RETRY,     /* failed; try again later (retry_after_ms when the receiver said) */
    CPM_SINK_REJECTED,  /* refused for good (e.g. 400): no retry, straight to the dead letters */
    CPM_SINK_GONE,      /* the receiver is gone (HTTP 410): disable the destination */
};

struct cpm_sink_result {
    enum cpm_sink_outcome outcome;
    int status;             /* the HTTP status, or 0 when there was none */
    int64_t retry_after_ms; /* > 0: the receiver asked to wait this long */
    char detail[200];       /* what happened, for the delivery log: never a secret */
};

/* Called from poll, once per finished send. */
typedef void (*cpm_sink_done_fn)(void *ctx, unsigned lane, const struct cpm_sink_result *r);

/*
 * A subject's identifier of type ("phone", "wecom_external_userid"), in its
 * normalised form, into out. NOT_FOUND when it has none (or was erased).
 */
typedef cpm_err (*cpm_sink_identifier_fn)(void *ctx, const char *subject_id, const char *type,
                                          char *out, size_t cap);

/* What every sink is opened with: the struct only during open, what it points to until close. */
struct cpm_sink_env {
    const struct cpm_outbound_guard *guard; /* which addresses may be reached */
    unsigned lanes;                         /* sends outstanding at most */
    int64_t timeout_ms;                     /* per send, everything included */
    cpm_sink_identifier_fn identifier;      /* connectors: who the subject is downstream */
    void *identifier_ctx;
};

#define CPM_SINK_LANES_DEFAULT 32

struct cpm_sink_ops {
    const char *kind; /* as in the destination document: "webhook" */
    /*
     * Lanes a destination of this kind has (0: CPM_SINK_LANES_DEFAULT): the
     * events in flight at most, and so a batching kind's largest batch.
     */
    unsigned lanes;
    /*
     * Opens a sink for the destination document dest (validated, secret
     * included). CPM_ERR_VALIDATION (detail) or CPM_ERR_NOMEM; a receiver
     * that cannot be reached yet is not an error here (sends report it).
     */
    cpm_err (*open)(const json_t *dest, const struct cpm_sink_env *env, void **out,
                    struct cpm_detail *detail);
    /* Starts sending e on lane (< env.lanes, none outstanding on it). An error means not started.
     */
    cpm_err (*send)(void *sink, unsigned lane, const struct cpm_outbound_event *e);
    /*
     * Waits up to timeout_ms for sends to finish (or for wake), calling
     * done for each finished one before returning.
     */
    void (*poll)(void *sink, int timeout_ms, cpm_sink_done_fn done, void *ctx);
    /* Makes a poll in progress (or the next one) return soon. Any thread. */
    void (*wake)(void *sink);
    /* Drops outstanding sends and frees the sink; NULL is a no-op. */
    void (*close)(void *sink);
};

extern const struct cpm_sink_ops cpm_sink_webhook_ops;
extern const struct cpm_sink_ops cpm_sink_nats_ops;
extern const struct cpm_sink_ops cpm_sink_wecom_tags_ops;
extern const struct cpm_sink_ops cpm_sink_sms_gateway_ops;
extern const struct cpm_sink_ops cpm_sink_ma_journey_ops;
extern const struct cpm_sink_ops cpm_sink_tencent_ads_ops;
extern const struct cpm_sink_ops cpm_sink_ocean_engine_ops;

/* The operations of a destination kind ("webhook"), or NULL when there is no such kind. */
const struct cpm_sink_ops *cpm_sink_find(const char *kind);

/* Empties r and sets its outcome and detail (cut to fit). */
void cpm_sink_result_set(struct cpm_sink_result *r, enum cpm_sink_outcome outcome, const char *fmt,
                         ...) CPM_PRINTF(3, 4);
void cpm_sink_result_vset(struct cpm_sink_result *r, enum cpm_sink_outcome outcome, const char *fmt,
                          va_list ap) CPM_PRINTF(3, 0);

#endif /* CPM_SYNC_SINK_H */
