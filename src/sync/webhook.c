/* SPDX-License-Identifier: Apache-2.0 */
/*
 * webhook.c — the webhook destination kind: one HTTP POST per event, a
 * CloudEvents 1.0 structured body signed per Standard Webhooks.
 *
 * libcurl multi, one easy handle per lane (kept, so connections are
 * reused). Every connection is checked by the outbound guard against the
 * address actually being connected to; redirects are never followed; only
 * http and https; explicit connect and total timeouts. The answer decides:
 * 2xx delivered, 410 gone (the destination is disabled), anything else a
 * retry, honouring Retry-After (seconds or an HTTP date).
 */
#include "core/common.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "sync/cloudevent.h"
#include "sync/outbound_guard.h"
#include "sync/sink.h"

#define ANSWER_BYTES_KEPT      120 /* of the receiver's body, for the delivery log */
#define CONNECT_TIMEOUT_MS_MAX 5000

struct lane {
    CURL *easy;
    struct curl_slist *headers;
    bool busy;
    int64_t retry_after_ms;
    char answer[ANSWER_BYTES_KEPT + 1];
    size_t answer_len;
    char refused[120]; /* set by the guard when it refused the address */
    const struct cpm_outbound_guard *guard;
};

struct webhook {
    CURLM *multi;
    char *url;
    uint8_t key[CPM_WEBHOOK_KEY_BYTES_MAX];
    size_t key_len;
    const struct cpm_outbound_guard *guard;
    int64_t timeout_ms;
    unsigned lane_count;
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
    size_t n = size * count, room = ANSWER_BYTES_KEPT - l->answer_len;
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

static void webhook_close(void *sink)
{
    struct webhook *w = sink;
    if (w == NULL)
        return;
    for (unsigned i = 0; w->lanes != NULL && i < w->lane_count; i++) {
        struct lane *l = &w->lanes[i];
        if (l->easy != NULL) {
            if (l->busy)
                curl_multi_remove_handle(w->multi, l->easy);
            curl_easy_cleanup(l->easy);
        }
        curl_slist_free_all(l->headers);
    }
    if (w->multi != NULL)
        curl_multi_cleanup(w->multi);
    sodium_memzero(w->key, sizeof(w->key));
    cpm_free(w->lanes);
    cpm_free(w->url);
    cpm_free(w);
}

static cpm_err lane_init(struct webhook *w, struct lane *l)
{
    l->easy = curl_easy_init();
    if (l->easy == NULL)
        return CPM_ERR_NOMEM;
    CURL *e = l->easy;
    curl_easy_setopt(e, CURLOPT_URL, w->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
    curl_easy_setopt(
        e, CURLOPT_CONNECTTIMEOUT_MS,
        (long)(w->timeout_ms < CONNECT_TIMEOUT_MS_MAX ? w->timeout_ms : CONNECT_TIMEOUT_MS_MAX));
    curl_easy_setopt(e, CURLOPT_USERAGENT, "OpenCPM-webhook/1");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, l);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, read_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, l);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, l);
    curl_easy_setopt(e, CURLOPT_PRIVATE, l);
    return CPM_OK;
}

static cpm_err webhook_open(const json_t *dest, const struct cpm_sink_env *env, void **out,
                            struct cpm_detail *detail)
{
    pthread_once(&curl_once, curl_init_once);
    const char *url = json_string_value(json_object_get(dest, "endpoint"));
    const char *secret = json_string_value(json_object_get(dest, "secret"));
    struct webhook *w = cpm_calloc(1, sizeof(*w));
    cpm_err err = w ? CPM_OK : CPM_ERR_NOMEM;
    if (err == CPM_OK && (url == NULL || secret == NULL ||
                          !cpm_webhook_secret_decode(secret, w->key, &w->key_len))) {
        cpm_detail_add(detail, url == NULL ? "endpoint" : "secret", "is missing or malformed");
        err = CPM_ERR_VALIDATION;
    }
    if (err == CPM_OK) {
        w->guard = env->guard;
        w->timeout_ms = env->timeout_ms;
        w->lane_count = env->lanes;
        w->url = cpm_strdup(url);
        w->multi = curl_multi_init();
        w->lanes = cpm_calloc(env->lanes, sizeof(struct lane));
        err = w->url && w->multi && w->lanes ? CPM_OK : CPM_ERR_NOMEM;
    }
    for (unsigned i = 0; err == CPM_OK && i < env->lanes; i++) {
        w->lanes[i].guard = env->guard;
        err = lane_init(w, &w->lanes[i]);
    }
    if (err != CPM_OK) {
        webhook_close(w);
        return err;
    }
    *out = w;
    return CPM_OK;
}

static cpm_err webhook_send(void *sink, unsigned lane, const struct cpm_outbound_event *e)
{
    struct webhook *w = sink;
    struct lane *l = &w->lanes[lane];
    CPM_ASSERT(lane < w->lane_count && !l->busy);
    char signature[CPM_WEBHOOK_SIGNATURE_BYTES], header[CPM_WEBHOOK_SIGNATURE_BYTES + 32];
    int64_t now_s = cpm_clock_now_ms() / 1000;
    cpm_webhook_sign(w->key, w->key_len, e->id, now_s, e->body, e->body_len, signature);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/cloudevents+json");
    snprintf(header, sizeof(header), "webhook-id: %s", e->id);
    h = h ? curl_slist_append(h, header) : NULL;
    snprintf(header, sizeof(header), "webhook-timestamp: %lld", (long long)now_s);
    h = h ? curl_slist_append(h, header) : NULL;
    snprintf(header, sizeof(header), "webhook-signature: %s", signature);
    h = h ? curl_slist_append(h, header) : NULL;
    h = h ? curl_slist_append(h, "Expect:") : NULL; /* no 100-continue round trip */
    if (h == NULL)
        return CPM_ERR_NOMEM;
    curl_slist_free_all(l->headers);
    l->headers = h;
    l->answer_len = 0;
    l->answer[0] = '\0';
    l->refused[0] = '\0';
    l->retry_after_ms = 0;
    curl_easy_setopt(l->easy, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(l->easy, CURLOPT_POSTFIELDS, e->body);
    curl_easy_setopt(l->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)e->body_len);
    if (curl_multi_add_handle(w->multi, l->easy) != CURLM_OK)
        return CPM_ERR_INTERNAL;
    l->busy = true;
    return CPM_OK;
}

/* What one finished transfer means. */
static void judge(struct lane *l, CURLcode code, long status, struct cpm_sink_result *r)
{
    memset(r, 0, sizeof(*r));
    r->status = (int)status;
    r->retry_after_ms = l->retry_after_ms;
    if (code != CURLE_OK) {
        r->outcome = CPM_SINK_RETRY;
        snprintf(r->detail, sizeof(r->detail), "%s",
                 l->refused[0] ? l->refused : curl_easy_strerror(code));
    } else if (status >= 200 && status < 300) {
        r->outcome = CPM_SINK_DELIVERED;
    } else {
        r->outcome = status == 410 ? CPM_SINK_GONE : CPM_SINK_RETRY;
        for (char *p = l->answer; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = ' ';
        snprintf(r->detail, sizeof(r->detail), "HTTP %ld%s%s", status, l->answer_len ? ": " : "",
                 l->answer);
    }
}

static void webhook_poll(void *sink, int timeout_ms, cpm_sink_done_fn done, void *ctx)
{
    struct webhook *w = sink;
    int running = 0, left = 0;
    curl_multi_perform(w->multi, &running);
    curl_multi_poll(w->multi, NULL, 0, timeout_ms, NULL);
    curl_multi_perform(w->multi, &running);
    CURLMsg *m;
    while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct lane *l = NULL;
        long status = 0;
        CURLcode code = m->data.result;
        CURL *easy = m->easy_handle;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&l);
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(w->multi, easy);
        l->busy = false;
        struct cpm_sink_result r;
        judge(l, code, status, &r);
        unsigned lane = (unsigned)(l - w->lanes);
        done(ctx, lane, &r);
    }
}

static void webhook_wake(void *sink)
{
    struct webhook *w = sink;
    curl_multi_wakeup(w->multi);
}

const struct cpm_sink_ops cpm_sink_webhook_ops = {
    .kind = "webhook",
    .open = webhook_open,
    .send = webhook_send,
    .poll = webhook_poll,
    .wake = webhook_wake,
    .close = webhook_close,
};
