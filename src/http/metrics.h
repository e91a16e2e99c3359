/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.h — request counters and latency histograms for /metrics.
 *
 * Lock-free: each worker thread adds to relaxed atomic counters indexed by
 * route and status, so recording costs a few nanoseconds and never blocks.
 * Rendered as Prometheus text exposition format 0.0.4.
 */
#ifndef CPM_HTTP_METRICS_H
#define CPM_HTTP_METRICS_H

#include "core/common.h"
#include "http/router.h"

/* Records one finished request (route NULL when none matched). */
void cpm_metrics_record(const struct cpm_route *route, int status, int64_t duration_ns);

/*
 * Renders every metric into an owned buffer (cpm_malloc; *len its length).
 * NULL on out of memory.
 */
char *cpm_metrics_render(size_t *len);

#endif /* CPM_HTTP_METRICS_H */
