/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c — libmicrohttpd glue. The access handler is called once with the
 * headers, then once per body chunk, then once more with no data: the
 * request is routed and authenticated on the first call, the body collected
 * on the chunk calls, and the handler run and its answer queued on the last.
 * A streamed route's handler runs on the first call instead and its sink
 * takes the chunks as they come; the answer is still queued on the last call
 * (never on the first: MHD would close a keep-alive connection).
 */
#include "core/common.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/fmt.h"
#include "core/log.h"
#include "core/ticker.h"
#include "http/acceptor.h"
#include "http/auth.h"
#include "http/inflate.h"
#include "http/metrics.h"
#include "http/router.h"
#include "domain/subject.h"
#include "http/device_auth.h"
#include "http/end_user.h"
#include "http/rate_limit.h"
#include "http/server.h"
#include "http/session.h"

#define REQUEST_ARENA_BYTES_MAX (4 * 1024 * 1024)

#define LOG_FLUSH_MS 100 /* the request log's lines wait no longer (core/log.h) */

struct cpm_http {
    struct MHD_Daemon *daemon;
    struct cpm_acceptor *acceptor; /* NULL once quiesced */
    struct cpm_app *app;
    struct cpm_ticker *log_flusher;
    uint16_t port;
};

static void flush_log(void *ctx)
{
    CPM_UNUSED(ctx);
    cpm_log_flush();
}

cpm_err cpm_http_parse_listen(const char *text, struct cpm_http_options *opt,
                              struct cpm_detail *detail)
{
    const char *colon = strrchr(text, ':');
    const char *host = text;
    size_t host_len = colon ? (size_t)(colon - text) : 0;
    if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
        host++;
        host_len -= 2;
    }
    int64_t port;
    if (colon == NULL || host_len == 0 || host_len >= sizeof(opt->host) ||
        !cpm_parse_int64(colon + 1, 0, 65535, &port)) {
        cpm_detail_add(detail, "listen", "'%s' is not HOST:PORT (e.g. 127.0.0.1:8080)", text);
        return CPM_ERR_USAGE;
    }
    memcpy(opt->host, host, host_len);
    opt->host[host_len] = '\0';
    opt->port = (uint16_t)port;
    return CPM_OK;
}

/*
 * A request id without a system call per request: each worker thread seeds
 * a 64-bit state once from the OS generator and steps it with splitmix64.
 * Ids are for correlating logs, not secrets.
 */
static uint64_t next_request_id(void)
{
    static _Thread_local uint64_t state;
    if (state == 0)
        randombytes_buf(&state, sizeof(state));
    uint64_t z = (state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void make_request_id(struct cpm_request *req)
{
    const char *given = cpm_request_header(req, "X-Request-Id");
    if (given != NULL) {
        size_t len = strlen(given);
        bool ok = len > 0 && len <= CPM_REQUEST_ID_BYTES_MAX;
        for (size_t i = 0; ok && i < len; i++)
            ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:",
                        given[i]) != NULL;
        if (ok) {
            memcpy(req->request_id, given, len + 1);
            return;
        }
    }
    uint64_t id = next_request_id();
    sodium_bin2hex(req->request_id, sizeof(req->request_id), (const unsigned char *)&id,
                   sizeof(id));
}

static bool json_content_type(const char *ct)
{
    static const char want[] = "application/json";
    if (ct == NULL || strncasecmp(ct, want, sizeof(want) - 1) != 0)
        return false;
    char next = ct[sizeof(want) - 1];
    return next == '\0' || next == ';' || next == ' ';
}

static void early_message(struct cpm_request *req, const struct cpm_detail *detail)
{
    if (detail->count > 0)
        cpm_strlcpy(req->early_message, detail->faults[0].message, sizeof(req->early_message));
}

static cpm_err screen_api_key(struct cpm_request *req, const char *authorization)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    /* the admin console's cookie stands for its key, when no key is sent (http/session.h) */
    cpm_err err = authorization == NULL && cpm_session_cookie(req) != NULL
                      ? cpm_session_screen(req)
                      : cpm_auth_check(req->app->store, authorization, &req->key, &detail);
    if (err == CPM_OK && !cpm_scopes_allow(req->key.scopes, req->route->scope))
        err = CPM_ERR_FORBIDDEN;
    if (err == CPM_OK && req->route->access == CPM_ACCESS_SUBJECT &&
        strcmp(req->params[0], CPM_SUBJECT_ME) == 0) {
        cpm_strlcpy(req->early_message,
                    "'me' stands for the caller of an end-user token; an API"
                    " key names the subject",
                    sizeof(req->early_message));
        err = CPM_ERR_VALIDATION;
    }
    if (err == CPM_OK && cpm_device_subject_write_reserved(req)) {
        cpm_strlcpy(req->early_message,
                    "subject ids starting 'anon-' are reserved for anonymous devices: only the"
                    " device's own credential writes them",
                    sizeof(req->early_message));
        err = CPM_ERR_VALIDATION;
    }
    return err;
}

/*
 * A token for a subject other than `me`: only a child whose linked guardian
 * (PIPL Art. 31) holds the token, who then acts for it (*for_ward).
 */
static cpm_err screen_ward(struct cpm_request *req, const struct cpm_end_user *user, bool *for_ward)
{
    const char *child = req->params[0];
    cpm_err err = CPM_OK;
    if (cpm_subject_id_valid(child) && strcmp(child, user->subject_id) != 0)
        err = cpm_store_guardian_linked(req->app->store, child, user->subject_id, for_ward);
    if (err == CPM_OK && !*for_ward) {
        cpm_strlcpy(req->early_message,
                    "an end-user token reaches only /v1/subjects/me/… and its holder's wards",
                    sizeof(req->early_message));
        err = CPM_ERR_FORBIDDEN;
    }
    return err;
}

/*
 * An end-user token: verified against its property's keys, sent from one
 * of the property's origins (when a browser says where from), and only
 * for the caller's own subject, written `me`, which becomes its id — or a
 * ward's, named by its id.
 */
static cpm_err screen_end_user(struct cpm_request *req, const char *authorization)
{
    struct cpm_end_user user;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    const char *origin = cpm_request_origin(req);
    cpm_err err = cpm_end_user_check(req->app->store, req->app->keyring, authorization, origin,
                                     cpm_clock_now_ms() / 1000, &user, &detail);
    early_message(req, &detail);
    bool for_ward = false;
    if (err == CPM_OK && strcmp(req->params[0], CPM_SUBJECT_ME) != 0)
        err = screen_ward(req, &user, &for_ward);
    if (err == CPM_OK && req->method != CPM_GET &&
        !cpm_rate_limit_take(cpm_rate_limit_key(user.property, user.subject_id),
                             cpm_clock_monotonic_ns() / 1000000, CPM_END_USER_WRITES_BURST,
                             CPM_END_USER_WRITES_EVERY_MS, &req->retry_after_ms)) {
        cpm_strlcpy(req->early_message, "too many changes from this person: retry later",
                    sizeof(req->early_message));
        err = CPM_ERR_RATE_LIMITED;
    }
    if (err != CPM_OK)
        return err;
    cpm_strlcpy(req->end_user_property, user.property, sizeof(req->end_user_property));
    req->cors_origin = origin;
    if (for_ward) {
        cpm_strlcpy(req->acting_guardian, user.subject_id, sizeof(req->acting_guardian));
        return CPM_OK;
    }
    req->params[0] = cpm_arena_strndup(&req->arena, user.subject_id, strlen(user.subject_id));
    return req->params[0] != NULL ? CPM_OK : CPM_ERR_NOMEM;
}

/*
 * A body's content coding: none ("identity"), or gzip on a streamed route,
 * undone as the body comes (http/inflate.h). Anything else is refused
 * before the body is read, not taken for the body itself (RFC 9110 §15.5.16).
 */
static cpm_err screen_coding(struct cpm_request *req)
{
    if (req->route->has_body == CPM_BODY_NONE) /* a GET or DELETE: nothing to look up */
        return CPM_OK;
    const char *coding = cpm_request_header(req, "Content-Encoding");
    if (coding == NULL || strcasecmp(coding, "identity") == 0)
        return CPM_OK;
    bool streamed = req->route->has_body == CPM_BODY_STREAM;
    if (streamed && cpm_inflate_coding(coding))
        return cpm_inflate_new(&req->inflate);
    snprintf(req->early_message, sizeof(req->early_message),
             "Content-Encoding '%.40s' is not accepted here: send the body %s", coding,
             streamed ? "as it is or gzipped" : "without a content coding");
    return CPM_ERR_UNSUPPORTED_MEDIA;
}

/* Decides from the headers alone whether the request can go on. */
static void screen_request(struct cpm_request *req, const char *method_name, unsigned *allowed)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    req->method = cpm_method_parse(method_name);
    enum cpm_match m =
        cpm_router_match(req->method, req->path, &req->arena, &req->route, req->params, allowed);
    if (m == CPM_MATCH_NO_PATH) {
        req->early_err = CPM_ERR_NOT_FOUND;
        return;
    }
    if (m == CPM_MATCH_NO_METHOD) {
        req->early_err = CPM_ERR_METHOD_NOT_ALLOWED;
        return;
    }
    const struct cpm_route *r = req->route;
    const char *authorization = cpm_request_header(req, "Authorization");
    cpm_err err = CPM_OK;
    if (r->access == CPM_ACCESS_SUBJECT && cpm_end_user_bearer(authorization))
        err = screen_end_user(req, authorization);
    else if (r->access == CPM_ACCESS_SUBJECT && cpm_device_authorization(authorization))
        err = cpm_device_screen(req, authorization);
    else if (r->access == CPM_ACCESS_SESSION)
        err = cpm_session_screen(req);
    else if (r->access != CPM_ACCESS_PUBLIC)
        err = screen_api_key(req, authorization);
    if (err == CPM_OK)
        err = screen_coding(req);
    if (err != CPM_OK) {
        req->early_err = err;
        return;
    }
    if (r->has_body == CPM_BODY_STREAM)
        return; /* no size limit; its handler checks the media type */
    const char *length = cpm_request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t declared;
    if (length && cpm_parse_int64(length, 0, INT64_MAX, &declared) &&
        declared > CPM_BODY_BYTES_MAX) {
        req->early_err = CPM_ERR_TOO_LARGE;
        return;
    }
    if (r->has_body == CPM_BODY_JSON && !json_content_type(cpm_request_header(req, "Content-Type")))
        req->early_err = CPM_ERR_UNSUPPORTED_MEDIA;
}

static void answer_early(struct cpm_request *req, unsigned allowed)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    if (req->early_message[0]) {
        cpm_detail_add(&detail, NULL, "%s", req->early_message);
        cpm_respond_problem(req, req->early_err, &detail);
        if (req->early_err == CPM_ERR_UNSUPPORTED_MEDIA) /* a content coding refused */
            cpm_respond_header(req, "Accept-Encoding",
                               req->route->has_body == CPM_BODY_STREAM ? "gzip" : "identity");
        if (req->early_err == CPM_ERR_RATE_LIMITED)
            cpm_respond_retry_after(req, req->retry_after_ms);
        return;
    }
    switch (req->early_err) {
    case CPM_ERR_NOT_FOUND:
        cpm_detail_add(&detail, NULL, "no route for %s", req->path);
        break;
    case CPM_ERR_METHOD_NOT_ALLOWED:
        cpm_detail_add(&detail, NULL, "%s does not accept this method", req->path);
        break;
    case CPM_ERR_UNAUTHORIZED:
        cpm_detail_add(&detail, NULL, "a valid API key is required: Authorization: Bearer cpm_…");
        break;
    case CPM_ERR_FORBIDDEN: {
        char scope[CPM_SCOPES_TEXT_BYTES];
        cpm_scopes_format(req->route->scope, scope, sizeof(scope));
        cpm_detail_add(&detail, NULL, "this API key lacks the '%s' scope", scope);
        break;
    }
    case CPM_ERR_TOO_LARGE:
        cpm_detail_add(&detail, NULL, "the body is over %d bytes", CPM_BODY_BYTES_MAX);
        break;
    case CPM_ERR_UNSUPPORTED_MEDIA:
        cpm_detail_add(&detail, "Content-Type", "send the body as application/json");
        break;
    default:
        break;
    }
    cpm_respond_problem(req, req->early_err, &detail);
    if (req->early_err == CPM_ERR_METHOD_NOT_ALLOWED) {
        char allow[64] = "";
        for (unsigned bit = 1; bit <= CPM_DELETE; bit <<= 1)
            if (allowed & bit)
                snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
                         allow[0] ? ", " : "", cpm_method_name((enum cpm_method)bit));
        cpm_respond_header(req, MHD_HTTP_HEADER_ALLOW, allow);
    }
}

static cpm_err append_body(struct cpm_request *req, const char *data, size_t size)
{
    if (size > CPM_BODY_BYTES_MAX - req->body_len)
        return CPM_ERR_TOO_LARGE;
    if (req->body_len + size + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap * 2 : 4096;
        while (cap < req->body_len + size + 1)
            cap *= 2;
        if (cap > CPM_BODY_BYTES_MAX + 1)
            cap = CPM_BODY_BYTES_MAX + 1;
        char *grown = cpm_realloc(req->body, cap);
        if (grown == NULL)
            return CPM_ERR_NOMEM;
        req->body = grown;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, size);
    req->body_len += size;
    req->body[req->body_len] = '\0';
    return CPM_OK;
}

/*
 * Drops body bytes of a request already answered (MHD can only send the
 * answer once the body has been read). A client that goes on sending far
 * past the limit is cut off without an answer — unless a streamed route
 * refused an authorised caller (a bad query): any length is its normal
 * upload, so it is read to the end and the client sees why.
 */
static enum MHD_Result discard(struct cpm_request *req, size_t size)
{
    req->body_discarded += size;
    if (req->early_err == CPM_OK && req->route->has_body == CPM_BODY_STREAM)
        return MHD_YES;
    return req->body_discarded > CPM_BODY_DISCARD_BYTES_MAX ? MHD_NO : MHD_YES;
}

static void to_sink(void *ctx, const char *data, size_t size)
{
    struct cpm_request *req = ctx;
    req->sink->chunk(req, data, size);
}

/*
 * A piece of the body: to a streamed route's sink, else into req->body. The
 * sink is unset only when the route's handler neither answered nor accepted
 * the body; queue() then answers 500 and the body is dropped.
 */
static enum MHD_Result take_body(struct cpm_request *req, const char *data, size_t size)
{
    if (req->response != NULL)
        return discard(req, size); /* already answered early */
    if (req->route->has_body == CPM_BODY_STREAM) {
        if (req->sink != NULL && req->inflate != NULL) /* false once not gzip: said at the end */
            (void)cpm_inflate_feed(req->inflate, data, size, to_sink, req);
        else if (req->sink != NULL)
            req->sink->chunk(req, data, size);
        return MHD_YES;
    }
    cpm_err err = append_body(req, data, size);
    if (err != CPM_OK) {
        req->early_err = err;
        answer_early(req, 0);
    }
    return MHD_YES;
}

/* The body has ended (or there was none): the handler, or a streamed body's sink, answers. */
static void run_handler(struct cpm_request *req)
{
    req->async = false;
    if (req->route->has_body != CPM_BODY_STREAM)
        req->route->handler(req);
    else if (req->sink != NULL && req->inflate != NULL && !cpm_inflate_end(req->inflate))
        cpm_respond_error(req, CPM_ERR_BAD_REQUEST, "Content-Encoding", "%s",
                          cpm_inflate_error(req->inflate));
    else if (req->sink != NULL)
        req->sink->end(req);
}

static enum MHD_Result queue(struct cpm_request *req)
{
    if (req->response == NULL)
        cpm_respond_error(req, CPM_ERR_INTERNAL, NULL, "the handler gave no answer");
    if (req->response == NULL)
        return MHD_NO;
    if (req->cors_origin != NULL) { /* an allowed page: it may read the answer */
        MHD_add_response_header(req->response, "Access-Control-Allow-Origin", req->cors_origin);
        MHD_add_response_header(req->response, "Vary", "Origin");
    }
    return MHD_queue_response(req->conn, (unsigned)req->status, req->response);
}

/*
 * A browser's CORS preflight carries no token, so an origin is let through
 * when some property allows it; the real request is then checked against
 * its own token's property.
 */
static void answer_preflight(struct cpm_request *req)
{
    const char *origin = cpm_request_origin(req);
    if (origin == NULL || !cpm_end_user_origin_allowed(req->app->store, NULL, origin)) {
        cpm_respond_error(req, CPM_ERR_FORBIDDEN, "Origin",
                          "this origin is not in any property's allowed_origins");
        return;
    }
    cpm_respond_static(req, 204, NULL, "", 0);
    cpm_respond_header(req, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE");
    cpm_respond_header(req, "Access-Control-Allow-Headers",
                       "Authorization, Content-Type, Idempotency-Key, If-Match");
    cpm_respond_header(req, "Access-Control-Max-Age", "600");
    req->cors_origin = origin;
}

static struct cpm_request *request_new(struct cpm_http *http, struct MHD_Connection *conn,
                                       const char *url)
{
    struct cpm_request *req = cpm_calloc(1, sizeof(*req));
    if (req == NULL)
        return NULL;
    req->conn = conn;
    req->app = http->app;
    req->start_ns = cpm_clock_monotonic_ns();
    cpm_arena_init(&req->arena, REQUEST_ARENA_BYTES_MAX);
    req->path = url; /* MHD keeps it until the request completes */
    atomic_fetch_add(&http->app->requests_open, 1);
    make_request_id(req);
    return req;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    CPM_UNUSED(version);
    struct cpm_http *http = cls;
    struct cpm_request *req = *con_cls;
    if (req == NULL) {
        req = request_new(http, conn, url);
        if (req == NULL)
            return MHD_NO;
        *con_cls = req;
        if (strcmp(method, "OPTIONS") == 0) {
            answer_preflight(req);
            return MHD_YES;
        }
        unsigned allowed = 0;
        screen_request(req, method, &allowed);
        if (req->early_err != CPM_OK) {
            answer_early(req, allowed);
            /* An over-large body is refused at once; the connection closes. */
            if (req->early_err == CPM_ERR_TOO_LARGE)
                return queue(req);
        } else if (req->route->has_body == CPM_BODY_STREAM) {
            req->route->handler(req); /* answers (queued later) or accepts the body */
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        return take_body(req, upload_data, size);
    }
    if (req->response == NULL) {
        run_handler(req);
        if (req->async)
            return MHD_YES; /* answered on a later call, after cpm_request_resume */
    }
    return queue(req);
}

static enum cpm_log_level log_level_for(const struct cpm_request *req)
{
    if (req->status >= 500)
        return CPM_LOG_ERROR;
    if (req->route && strncmp(req->route->path, "/v1/", 4) != 0)
        return CPM_LOG_DEBUG; /* probes and scrapes would drown the log */
    return CPM_LOG_INFO;
}

static void log_request(const struct cpm_request *req, int64_t duration_ns)
{
    enum cpm_log_level level = log_level_for(req);
    if (!cpm_log_enabled(level))
        return;
    /* The route template, never the raw path: paths can carry subject ids. */
    char route[160], fields[384];
    struct cpm_fmt f;
    cpm_log_quote(route, sizeof(route), req->route ? req->route->path : "unmatched");
    uint64_t us = duration_ns > 0 ? (uint64_t)duration_ns / 1000 : 0;
    cpm_fmt_init(&f, fields, sizeof(fields));
    cpm_fmt_str(&f, "method=");
    cpm_fmt_str(&f, req->method ? cpm_method_name(req->method) : "other");
    cpm_fmt_str(&f, " route=");
    cpm_fmt_str(&f, route);
    cpm_fmt_str(&f, " status=");
    cpm_fmt_u64(&f, (uint64_t)req->status, 0);
    cpm_fmt_str(&f, " ms="); /* three decimals, without floating point */
    cpm_fmt_u64(&f, us / 1000, 0);
    cpm_fmt_str(&f, ".");
    cpm_fmt_u64(&f, us % 1000, 3);
    cpm_fmt_str(&f, " key=");
    cpm_fmt_str(&f, req->key.id[0] ? req->key.id : "-");
    cpm_log_buffered(level, "http", req->request_id, fields, "request");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    CPM_UNUSED(conn);
    struct cpm_http *http = cls;
    struct cpm_request *req = *con_cls;
    if (req == NULL)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && req->status == 0)
        req->status = 408; /* timed out or the client went away before an answer */
    int64_t duration_ns = cpm_clock_monotonic_ns() - req->start_ns;
    cpm_metrics_record(req->route, req->status, duration_ns);
    log_request(req, duration_ns);
    if (req->response != NULL)
        MHD_destroy_response(req->response);
    if (req->pending_free != NULL)
        req->pending_free(req->pending);
    cpm_inflate_free(req->inflate);
    cpm_free(req->body);
    cpm_arena_release(&req->arena);
    cpm_free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&http->app->requests_open, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    CPM_UNUSED(cls);
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t len = strlen(msg);
    while (len > 0 && msg[len - 1] == '\n')
        msg[--len] = '\0';
    cpm_log(CPM_LOG_WARN, "mhd", NULL, NULL, "%s", msg);
}

static bool make_address(const struct cpm_http_options *opt, struct sockaddr_storage *addr,
                         bool *ipv6)
{
    memset(addr, 0, sizeof(*addr));
    const char *host = strcmp(opt->host, "localhost") == 0 ? "127.0.0.1" : opt->host;
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(opt->port);
        *ipv6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(opt->port);
        *ipv6 = true;
        return true;
    }
    return false;
}

cpm_err cpm_http_start(struct cpm_app *app, const struct cpm_http_options *opt,
                       struct cpm_http **out, struct cpm_detail *detail)
{
    CPM_ASSERT(opt->threads >= 1 && opt->threads <= CPM_THREADS_MAX);
    struct sockaddr_storage addr;
    bool ipv6;
    if (!make_address(opt, &addr, &ipv6)) {
        cpm_detail_add(detail, "listen", "'%s' is not a numeric IP address or localhost",
                       opt->host);
        return CPM_ERR_USAGE;
    }
    struct cpm_http *http = cpm_calloc(1, sizeof(*http));
    if (http == NULL)
        return CPM_ERR_NOMEM;
    http->app = app;
    socklen_t addr_len = ipv6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    struct cpm_detail why;
    cpm_detail_init(&why);
    if (cpm_acceptor_listen((const struct sockaddr *)&addr, addr_len, &http->acceptor, &http->port,
                            &why) != CPM_OK) {
        cpm_detail_add(detail, "listen", "cannot listen on %s:%u: %s", opt->host, opt->port,
                       why.count > 0 ? why.faults[0].message : "out of memory");
        cpm_free(http);
        return CPM_ERR_IO;
    }
    if (cpm_ticker_start(LOG_FLUSH_MS, flush_log, NULL, &http->log_flusher) != CPM_OK) {
        cpm_acceptor_close(http->acceptor);
        cpm_free(http);
        return CPM_ERR_INTERNAL;
    }
    /* Connections come from the acceptor (http/acceptor.h), not from MHD's own accept. */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    /* The logger goes first, so MHD reports nothing through its own. */
    http->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, http, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, opt->threads, MHD_OPTION_CONNECTION_TIMEOUT,
        opt->connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT, CPM_CONNECTIONS_MAX,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CPM_HEADER_BYTES_MAX,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, http, MHD_OPTION_END);
    if (http->daemon == NULL ||
        cpm_acceptor_run(http->acceptor, http->daemon, CPM_CONNECTIONS_MAX) != CPM_OK) {
        cpm_detail_add(detail, "listen", "cannot start the HTTP server's threads");
        cpm_acceptor_close(http->acceptor);
        if (http->daemon != NULL)
            MHD_stop_daemon(http->daemon);
        cpm_ticker_stop(http->log_flusher);
        cpm_free(http);
        return CPM_ERR_INTERNAL;
    }
    *out = http;
    return CPM_OK;
}

uint16_t cpm_http_port(const struct cpm_http *http)
{
    return http->port;
}

void cpm_http_quiesce(struct cpm_http *http)
{
    cpm_acceptor_close(http->acceptor);
    http->acceptor = NULL;
}

void cpm_http_free(struct cpm_http *http)
{
    if (http == NULL)
        return;
    cpm_acceptor_close(http->acceptor);
    MHD_stop_daemon(http->daemon);
    cpm_ticker_stop(http->log_flusher);
    cpm_log_flush(); /* the last requests' lines */
    cpm_free(http);
}
