/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_lanes.c — libcurl multi behind the destination kinds (see the header).
 */
#include "core/common.h"

#include <pthread.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "sync/http_lanes.h"

#define CONNECT_TIMEOUT_MS_MAX 5000

struct lane {
    CURL *easy;
    struct curl_slist *headers;
    bool busy;
    int64_t retry_after_ms;
    char *answer; /* CPM_HTTP_ANSWER_BYTES_MAX + 1 */
    size_t answer_len;
    char refused[120]; /* set when the guard refused the address */
    const struct cpm_outbound_guard *guard;
};

struct cpm_http_lanes {
    CURLM *multi;
    unsigned count;
    int64_t timeout_ms;
    struct lane *lanes;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    CPM_ASSERT(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
}

static size_t keep_answer(char *data, size_t size, size_t count, void *ctx)
{
    struct lane *l = ctx;
    size_t n = size * count, room = CPM_HTTP_ANSWER_BYTES_MAX - l->answer_len;
    memcpy(l->answer + l->answer_len, data, n < room ? n : room);
    l->answer_len += n < room ? n : room;
    l->answer[l->answer_len] = '\0';
    return n;
}

/* Retry-After: delay-seconds or an HTTP date. */
static size_t read_header(char *data, size_t size, size_t count, void *ctx)
{
    struct lane *l = ctx;
    size_t n = size * count;
    char value[64];
    if (n > 12 && n < 12 + sizeof(value) && strncasecmp(data, "retry-after:", 12) == 0) {
        memcpy(value, data + 12, n - 12);
        value[n - 12] = '\0';
        value[strcspn(value, "\r\n")] = '\0';
        const char *v = value + strspn(value, " \t");
        int64_t seconds;
        time_t when;
        if (cpm_parse_int64(v, 0, 86400 * 7, &seconds))
            l->retry_after_ms = seconds * 1000;
        else if ((when = curl_getdate(v, NULL)) > 0)
            l->retry_after_ms = (int64_t)when * 1000 - cpm_clock_now_ms();
        if (l->retry_after_ms < 0)
            l->retry_after_ms = 0;
    }
    return n;
}

/* Every socket is opened here: the guard sees the address, not a name. */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *address)
{
    struct lane *l = ctx;
    const char *why = NULL;
    CPM_UNUSED(purpose);
    if (!cpm_outbound_guard_allows(l->guard, &address->addr, &why)) {
        snprintf(l->refused, sizeof(l->refused), "refused by the outbound guard: %s", why);
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

static cpm_err lane_init(struct cpm_http_lanes *hl, struct lane *l)
{
    l->easy = curl_easy_init();
    l->answer = cpm_malloc(CPM_HTTP_ANSWER_BYTES_MAX + 1);
    if (l->easy == NULL || l->answer == NULL)
        return CPM_ERR_NOMEM;
    CURL *e = l->easy;
    long connect_ms =
        (long)(hl->timeout_ms < CONNECT_TIMEOUT_MS_MAX ? hl->timeout_ms : CONNECT_TIMEOUT_MS_MAX);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never an environment proxy: the guard would see it */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)hl->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "OpenCPM/1");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, l);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, read_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, l);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, l);
    curl_easy_setopt(e, CURLOPT_PRIVATE, l);
    return CPM_OK;
}

cpm_err cpm_http_lanes_new(const struct cpm_outbound_guard *guard, unsigned lanes,
                           int64_t timeout_ms, struct cpm_http_lanes **out)
{
    pthread_once(&curl_once, curl_init_once);
    struct cpm_http_lanes *l = cpm_calloc(1, sizeof(*l));
    cpm_err err = l ? CPM_OK : CPM_ERR_NOMEM;
    if (err == CPM_OK) {
        l->count = lanes;
        l->timeout_ms = timeout_ms;
        l->multi = curl_multi_init();
        l->lanes = cpm_calloc(lanes, sizeof(struct lane));
        err = l->multi && l->lanes ? CPM_OK : CPM_ERR_NOMEM;
    }
    for (unsigned i = 0; err == CPM_OK && i < lanes; i++) {
        l->lanes[i].guard = guard;
        err = lane_init(l, &l->lanes[i]);
    }
    if (err != CPM_OK) {
        cpm_http_lanes_free(l);
        return err;
    }
    *out = l;
    return CPM_OK;
}

void cpm_http_lanes_free(struct cpm_http_lanes *l)
{
    if (l == NULL)
        return;
    for (unsigned i = 0; l->lanes != NULL && i < l->count; i++) {
        struct lane *lane = &l->lanes[i];
        if (lane->easy != NULL) {
            if (lane->busy)
                curl_multi_remove_handle(l->multi, lane->easy);
            curl_easy_cleanup(lane->easy);
        }
        curl_slist_free_all(lane->headers);
        cpm_free(lane->answer);
    }
    if (l->multi != NULL)
        curl_multi_cleanup(l->multi);
    cpm_free(l->lanes);
    cpm_free(l);
}

cpm_err cpm_http_lanes_start(struct cpm_http_lanes *l, unsigned lane, const char *method,
                             const char *url, struct curl_slist *headers, const char *body,
                             size_t len)
{
    CPM_ASSERT(lane < l->count && !l->lanes[lane].busy);
    struct lane *ln = &l->lanes[lane];
    bool post = strcmp(method, "POST") == 0;
    curl_slist_free_all(ln->headers);
    ln->headers = headers;
    ln->answer_len = 0;
    ln->answer[0] = '\0';
    ln->refused[0] = '\0';
    ln->retry_after_ms = 0;
    curl_easy_setopt(ln->easy, CURLOPT_URL, url);
    curl_easy_setopt(ln->easy, CURLOPT_HTTPHEADER, headers);
    if (post) {
        curl_easy_setopt(ln->easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(ln->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(ln->easy, CURLOPT_HTTPGET, 1L);
    }
    if (curl_multi_add_handle(l->multi, ln->easy) != CURLM_OK)
        return CPM_ERR_INTERNAL;
    ln->busy = true;
    return CPM_OK;
}

bool cpm_http_lanes_busy(const struct cpm_http_lanes *l, unsigned lane)
{
    CPM_ASSERT(lane < l->count);
    return l->lanes[lane].busy;
}

/* Reports every finished transfer; returns how many. */
static unsigned finish_done(struct cpm_http_lanes *l, cpm_http_done_fn done, void *ctx)
{
    unsigned finished = 0;
    int left = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(l->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct lane *ln = NULL;
        CURLcode code = m->data.result;
        CURL *easy = m->easy_handle;
        struct cpm_http_answer a = {.transferred = code == CURLE_OK};
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&ln);
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &a.status);
        curl_multi_remove_handle(l->multi, easy);
        ln->busy = false;
        a.retry_after_ms = ln->retry_after_ms;
        a.body = ln->answer;
        a.body_len = ln->answer_len;
        a.error = ln->refused[0] ? ln->refused : curl_easy_strerror(code);
        done(ctx, (unsigned)(ln - l->lanes), &a);
        finished++;
    }
    return finished;
}

/*
 * Transfers that finished while being driven are reported at once: waiting
 * on curl_multi_poll first would sleep the whole timeout with nothing left
 * to wait for (measured: one-second stalls in a busy destination).
 */
void cpm_http_lanes_poll(struct cpm_http_lanes *l, int timeout_ms, cpm_http_done_fn done, void *ctx)
{
    int running = 0;
    curl_multi_perform(l->multi, &running);
    if (finish_done(l, done, ctx) > 0)
        return;
    curl_multi_poll(l->multi, NULL, 0, timeout_ms, NULL);
    curl_multi_perform(l->multi, &running);
    finish_done(l, done, ctx);
}

void cpm_http_lanes_wake(struct cpm_http_lanes *l)
{
    curl_multi_wakeup(l->multi);
}

bool cpm_http_header(struct curl_slist **list, const char *name, const char *value)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "%s: %s", name, value);
    struct curl_slist *next =
        n > 0 && (size_t)n < sizeof(line) ? curl_slist_append(*list, line) : NULL;
    if (next == NULL) {
        curl_slist_free_all(*list);
        *list = NULL;
        return false;
    }
    *list = next;
    return true;
}
