/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c — fixed arrays of relaxed atomics, one row per route (plus one
 * for requests no route matched), rendered on demand.
 */
#include "core/common.h"

#include <stdatomic.h>
#include <unistd.h>

#include "core/alloc.h"
#include "http/metrics.h"

#define ROUTES_MAX CPM_ROUTES_MAX /* routes.c checks the table against it when it compiles */

static const int status_slots[] = {200, 201, 204, 400, 401, 403, 404, 405,
                                   409, 412, 413, 415, 422, 429, 500, 503};
#define STATUS_OTHER   CPM_ARRAY_LEN(status_slots)
#define STATUS_COLUMNS (STATUS_OTHER + 1)

static const int64_t bucket_le_us[] = {100,  250,   500,   1000,   2500,
                                       5000, 10000, 50000, 250000, 1000000};
#define BUCKETS (CPM_ARRAY_LEN(bucket_le_us) + 1) /* the last is +Inf */

struct row {
    atomic_uint_least64_t by_status[STATUS_COLUMNS];
    atomic_uint_least64_t buckets[BUCKETS];
    atomic_uint_least64_t sum_us;
};

static struct row rows[ROUTES_MAX + 1]; /* [ROUTES_MAX] is "no route" */

static size_t status_column(int status)
{
    for (size_t i = 0; i < CPM_ARRAY_LEN(status_slots); i++)
        if (status_slots[i] == status)
            return i;
    return STATUS_OTHER;
}

void cpm_metrics_record(const struct cpm_route *route, int status, int64_t duration_ns)
{
    size_t r = route ? (size_t)(route - cpm_routes) : ROUTES_MAX;
    CPM_ASSERT(r <= ROUTES_MAX);
    struct row *row = &rows[r];
    int64_t us = duration_ns / 1000;
    size_t b = 0;
    while (b < CPM_ARRAY_LEN(bucket_le_us) && us > bucket_le_us[b])
        b++;
    atomic_fetch_add_explicit(&row->by_status[status_column(status)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&row->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&row->sum_us, (uint64_t)us, memory_order_relaxed);
}

struct out {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void emit(struct out *o, const char *fmt, ...) CPM_PRINTF(2, 3);
static void emit(struct out *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n;
        char *grown = cpm_realloc(o->buf, cap);
        if (grown == NULL) {
            o->failed = true;
            return;
        }
        o->buf = grown;
        o->cap = cap;
    }
}

static void route_labels(size_t r, char *out, size_t size)
{
    if (r == ROUTES_MAX)
        snprintf(out, size, "route=\"unmatched\",method=\"\"");
    else
        snprintf(out, size, "route=\"%s\",method=\"%s\"", cpm_routes[r].path,
                 cpm_method_name(cpm_routes[r].method));
}

static void render_requests(struct out *o)
{
    emit(o, "# HELP cpm_http_requests_total HTTP requests answered, by route and status.\n"
            "# TYPE cpm_http_requests_total counter\n");
    for (size_t r = 0; r <= ROUTES_MAX; r++) {
        if (r != ROUTES_MAX && r >= cpm_routes_count)
            continue;
        char labels[256];
        route_labels(r, labels, sizeof(labels));
        for (size_t s = 0; s < STATUS_COLUMNS; s++) {
            uint64_t n = atomic_load_explicit(&rows[r].by_status[s], memory_order_relaxed);
            if (n == 0)
                continue;
            if (s == STATUS_OTHER)
                emit(o, "cpm_http_requests_total{%s,status=\"other\"} %llu\n", labels,
                     (unsigned long long)n);
            else
                emit(o, "cpm_http_requests_total{%s,status=\"%d\"} %llu\n", labels, status_slots[s],
                     (unsigned long long)n);
        }
    }
}

static void render_histogram(struct out *o, size_t r)
{
    char labels[256];
    route_labels(r, labels, sizeof(labels));
    uint64_t cumulative = 0;
    for (size_t b = 0; b < BUCKETS; b++) {
        cumulative += atomic_load_explicit(&rows[r].buckets[b], memory_order_relaxed);
        if (b < CPM_ARRAY_LEN(bucket_le_us))
            emit(o, "cpm_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", labels,
                 (double)bucket_le_us[b] / 1e6, (unsigned long long)cumulative);
        else
            emit(o, "cpm_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", labels,
                 (unsigned long long)cumulative);
    }
    emit(o, "cpm_http_request_duration_seconds_sum{%s} %.6f\n", labels,
         (double)atomic_load_explicit(&rows[r].sum_us, memory_order_relaxed) / 1e6);
    emit(o, "cpm_http_request_duration_seconds_count{%s} %llu\n", labels,
         (unsigned long long)cumulative);
}

static int64_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1;
    long long size = 0, resident = 0;
    int n = fscanf(f, "%lld %lld", &size, &resident);
    fclose(f);
    return n == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

char *cpm_metrics_render(size_t *len)
{
    struct out o = {.buf = cpm_malloc(8192), .cap = 8192};
    if (o.buf == NULL)
        return NULL;
    render_requests(&o);
    emit(&o, "# HELP cpm_http_request_duration_seconds Time from first byte to answer.\n"
             "# TYPE cpm_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < cpm_routes_count && r < ROUTES_MAX; r++)
        if (atomic_load_explicit(&rows[r].sum_us, memory_order_relaxed) ||
            atomic_load_explicit(&rows[r].buckets[0], memory_order_relaxed))
            render_histogram(&o, r);
    emit(&o,
         "# HELP cpm_memory_heap_bytes Bytes allocated by OpenCPM and jansson.\n"
         "# TYPE cpm_memory_heap_bytes gauge\ncpm_memory_heap_bytes %lld\n",
         (long long)cpm_alloc_bytes_in_use());
    emit(&o,
         "# HELP process_resident_memory_bytes Resident set size.\n"
         "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %lld\n",
         (long long)resident_bytes());
    if (o.failed) {
        cpm_free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}
