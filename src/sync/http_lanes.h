/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_lanes.h — outbound HTTP for the destination kinds: libcurl multi with
 * one kept easy handle per lane (connections reused), every connection
 * checked by the outbound guard against the address actually connected
 * to, http and https only, no redirects, explicit connect and total
 * timeouts, the answer's first bytes and Retry-After kept.
 *
 * Used by one thread (the destination's worker), except wake.
 */
#ifndef CPM_SYNC_HTTP_LANES_H
#define CPM_SYNC_HTTP_LANES_H

#include <curl/curl.h>

#include "core/common.h"
#include "sync/outbound_guard.h"

#define CPM_HTTP_ANSWER_BYTES_MAX 16384 /* of an answer's body, kept for judging */

struct cpm_http_answer {
    bool transferred;       /* an HTTP answer came (status is valid) */
    long status;            /* its status */
    int64_t retry_after_ms; /* Retry-After, when sent; else 0 */
    const char *body;       /* its first bytes, NUL-terminated; valid during the callback */
    size_t body_len;
    const char *error; /* when !transferred: why (guard refusal, timeout, reset, …) */
};

typedef void (*cpm_http_done_fn)(void *ctx, unsigned lane, const struct cpm_http_answer *a);

struct cpm_http_lanes;

/* guard is borrowed; it must outlive the lanes. */
cpm_err cpm_http_lanes_new(const struct cpm_outbound_guard *guard, unsigned lanes,
                           int64_t timeout_ms, struct cpm_http_lanes **out) CPM_MUST_CHECK;
void cpm_http_lanes_free(struct cpm_http_lanes *l);

/*
 * Starts a request on lane (idle): method "GET" or "POST" (body then, len
 * bytes, borrowed until its done call); headers are taken (freed by the
 * lanes; may be NULL). CPM_ERR_NOMEM / CPM_ERR_INTERNAL: not started.
 */
cpm_err cpm_http_lanes_start(struct cpm_http_lanes *l, unsigned lane, const char *method,
                             const char *url, struct curl_slist *headers, const char *body,
                             size_t len) CPM_MUST_CHECK;
/* True while lane has a request outstanding. */
bool cpm_http_lanes_busy(const struct cpm_http_lanes *l, unsigned lane);
/* Waits up to timeout_ms, then calls done for each finished request. */
void cpm_http_lanes_poll(struct cpm_http_lanes *l, int timeout_ms, cpm_http_done_fn done,
                         void *ctx);
/* Makes a poll return soon; any thread. */
void cpm_http_lanes_wake(struct cpm_http_lanes *l);

/* Appends "name: value" to *list; false when out of memory (the list is then freed, NULL). */
bool cpm_http_header(struct curl_slist **list, const char *name, const char *value);

#endif /* CPM_SYNC_HTTP_LANES_H */
