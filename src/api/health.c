/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health.c — liveness, readiness, metrics and the OpenAPI document.
 *
 * /healthz answers from a static buffer: it is what load balancers hit most
 * and what the HTTP benchmark measures. /readyz asks the store and answers
 * 503 once shutdown has begun, or once the decision index could not take an
 * update, so balancers drain the node first.
 */
#include "core/common.h"

#include "api/api.h"
#include "api/openapi.h"
#include "core/alloc.h"
#include "http/app.h"
#include "sync/dispatcher.h"
#include "http/metrics.h"
#include "index/index.h"

static const char healthy[] = "{\"status\":\"ok\"}";
static const char ready[] = "{\"status\":\"ready\"}";

void cpm_api_healthz(struct cpm_request *req)
{
    cpm_respond_static(req, 200, "application/json", healthy, sizeof(healthy) - 1);
}

void cpm_api_readyz(struct cpm_request *req)
{
    if (atomic_load(&req->app->draining)) {
        cpm_respond_error(req, CPM_ERR_UNAVAILABLE, NULL, "shutting down");
        return;
    }
    if (req->app->store->ops->ping(req->app->store) != CPM_OK) {
        cpm_respond_error(req, CPM_ERR_UNAVAILABLE, NULL, "the store does not answer");
        return;
    }
    if (req->app->index != NULL && cpm_index_degraded(req->app->index)) {
        cpm_respond_error(
            req, CPM_ERR_UNAVAILABLE, NULL,
            "the decision index missed an update (out of memory): restart to rebuild");
        return;
    }
    cpm_respond_static(req, 200, "application/json", ready, sizeof(ready) - 1);
}

/* Appends the dispatcher's figures to text (owned, len bytes); NULL when out of memory. */
static char *append_sync(struct cpm_request *req, char *text, size_t *len)
{
    char *sync = NULL;
    size_t sync_len = 0;
    FILE *f = req->app->dispatcher != NULL ? open_memstream(&sync, &sync_len) : NULL;
    if (f == NULL)
        return text;
    cpm_dispatcher_metrics(req->app->dispatcher, f);
    fclose(f);
    char *all = cpm_realloc(text, *len + sync_len + 1);
    if (all == NULL) {
        cpm_free(text);
    } else {
        memcpy(all + *len, sync, sync_len + 1);
        *len += sync_len;
    }
    free(sync); /* open_memstream's buffer comes from malloc */
    return all;
}

void cpm_api_metrics(struct cpm_request *req)
{
    size_t len = 0;
    char *text = cpm_metrics_render(&len);
    if (text != NULL)
        text = append_sync(req, text, &len);
    if (text == NULL) {
        cpm_respond_error(req, CPM_ERR_NOMEM, NULL, "cannot render metrics");
        return;
    }
    cpm_respond_owned(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

void cpm_api_openapi(struct cpm_request *req)
{
    cpm_respond_static(req, 200, "application/json", cpm_openapi_json, cpm_openapi_json_len);
}
