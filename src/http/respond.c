/* SPDX-License-Identifier: Apache-2.0 */
/*
 * respond.c — how handlers answer: JSON, problem documents (RFC 9457),
 * static and owned buffers. Every answer carries X-Request-Id and is
 * marked not to be cached or sniffed.
 */
#include "core/common.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "core/alloc.h"
#include "core/json.h"
#include "http/request.h"

#define READER_BLOCK_BYTES (64 * 1024) /* what MHD asks a body reader for at a time */

_Static_assert(CPM_BODY_READER_ERROR == MHD_CONTENT_READER_END_WITH_ERROR,
               "a body reader's error is MHD's");
_Static_assert(CPM_BODY_READER_END == MHD_CONTENT_READER_END_OF_STREAM,
               "a body reader's end is MHD's");
_Static_assert(CPM_BODY_LENGTH_UNKNOWN == MHD_SIZE_UNKNOWN, "an unknown length is MHD's");

void cpm_request_suspend(struct cpm_request *req)
{
    req->async = true;
    MHD_suspend_connection(req->conn);
}

void cpm_request_resume(struct cpm_request *req)
{
    MHD_resume_connection(req->conn);
}

/* True when ct is the media type want, with or without parameters ("; charset=utf-8"). */
static bool media_type_is(const char *ct, const char *want)
{
    size_t len = strlen(want);
    if (ct == NULL || strncasecmp(ct, want, len) != 0)
        return false;
    return ct[len] == '\0' || ct[len] == ';' || ct[len] == ' ';
}

bool cpm_request_stream(struct cpm_request *req, const struct cpm_body_sink *sink)
{
    CPM_ASSERT(sink->chunk != NULL && sink->end != NULL && req->sink == NULL);
    if (!media_type_is(cpm_request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE), sink->content_type)) {
        cpm_respond_error(req, CPM_ERR_UNSUPPORTED_MEDIA, "Content-Type", "send the body as %s",
                          sink->content_type);
        return false;
    }
    req->sink = sink;
    return true;
}

const char *cpm_request_param(const struct cpm_request *req, size_t n)
{
    CPM_ASSERT(n < CPM_PATH_PARAMS_MAX && req->params[n] != NULL);
    return req->params[n];
}

const char *cpm_request_query(const struct cpm_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *cpm_request_header(const struct cpm_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *cpm_request_origin(const struct cpm_request *req)
{
    const char *origin = cpm_request_header(req, "Origin");
    const char *host = cpm_request_header(req, "Host");
    if (origin == NULL || host == NULL || host[0] == '\0')
        return origin;
    const char *rest = strncmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                             : NULL;
    return rest != NULL && strcmp(rest, host) == 0 ? NULL : origin;
}

static void set_response(struct cpm_request *req, int status, struct MHD_Response *resp,
                         const char *content_type)
{
    CPM_ASSERT(req->response == NULL); /* a handler answers once */
    if (resp == NULL) {
        req->status = 503;
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (resp == NULL)
            return;
        content_type = NULL;
        status = 503;
    }
    if (content_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    req->response = resp;
    req->status = status;
}

void cpm_respond_owned(struct cpm_request *req, int status, const char *content_type, char *data,
                       size_t len)
{
    struct MHD_Response *resp =
        data ? MHD_create_response_from_buffer_with_free_callback(len, data, cpm_free) : NULL;
    if (resp == NULL)
        cpm_free(data);
    set_response(req, status, resp, content_type);
}

void cpm_respond_copy(struct cpm_request *req, int status, const char *content_type,
                      const void *data, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    set_response(req, status, resp, content_type);
}

void cpm_respond_reader(struct cpm_request *req, int status, const char *content_type, uint64_t len,
                        cpm_body_reader_fn read, void *cls, void (*cls_free)(void *cls))
{
    /* MHD calls cls_free once the response is destroyed, and only then. */
    struct MHD_Response *resp =
        MHD_create_response_from_callback(len, READER_BLOCK_BYTES, read, cls, cls_free);
    if (resp == NULL)
        cls_free(cls);
    set_response(req, status, resp, content_type);
}

void cpm_respond_static(struct cpm_request *req, int status, const char *content_type,
                        const void *data, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    set_response(req, status, resp, content_type);
}

static void respond_json_type(struct cpm_request *req, int status, json_t *body,
                              const char *content_type)
{
    if (body == NULL) {
        cpm_respond_static(req, status, NULL, "", 0);
        return;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    cpm_respond_owned(req, status, content_type, text, text ? strlen(text) : 0);
}

void cpm_respond_json(struct cpm_request *req, int status, json_t *body)
{
    respond_json_type(req, status, body, "application/json");
}

static json_t *problem_errors(const struct cpm_detail *detail)
{
    json_t *errors = json_array();
    for (int i = 0; errors && i < detail->count; i++) {
        const struct cpm_fault *f = &detail->faults[i];
        json_array_append_new(errors,
                              json_pack("{s:s, s:s}", "field", f->field, "message", f->message));
    }
    return errors;
}

void cpm_respond_problem(struct cpm_request *req, cpm_err err, const struct cpm_detail *detail)
{
    cpm_respond_problem_with(req, err, detail, NULL);
}

void cpm_respond_problem_with(struct cpm_request *req, cpm_err err, const struct cpm_detail *detail,
                              json_t *extra)
{
    int status = cpm_err_http_status(err);
    char type[96], detail_text[CPM_FIELD_PATH_BYTES_MAX + CPM_MESSAGE_BYTES_MAX + 8];
    snprintf(type, sizeof(type), "urn:opencpm:problem:%s", cpm_err_code(err));
    const struct cpm_fault *first = detail && detail->count ? &detail->faults[0] : NULL;
    if (first && first->field[0])
        snprintf(detail_text, sizeof(detail_text), "%s: %s", first->field, first->message);
    else
        cpm_strlcpy(detail_text, first ? first->message : cpm_err_message(err),
                    sizeof(detail_text));
    json_t *doc = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "type", type, "title",
                            cpm_err_message(err), "status", status, "detail", detail_text, "code",
                            cpm_err_code(err), "request_id", req->request_id);
    if (doc && first) {
        json_object_set_new(doc, "field", json_string(first->field));
        json_object_set_new(doc, "errors", problem_errors(detail));
        if (detail->dropped)
            json_object_set_new(doc, "errors_not_shown", json_integer(detail->dropped));
    }
    if (doc && extra)
        json_object_update(doc, extra);
    json_decref(extra);
    respond_json_type(req, status, doc, "application/problem+json");
    if (status == 401 && req->response)
        MHD_add_response_header(req->response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"opencpm\"");
}

void cpm_request_client_ip(const struct cpm_request *req, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    out[0] = '\0';
    if (sa != NULL && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa != NULL && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

void cpm_respond_error(struct cpm_request *req, cpm_err err, const char *field, const char *fmt,
                       ...)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    char message[CPM_MESSAGE_BYTES_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    cpm_detail_add(&detail, field, "%s", message);
    cpm_respond_problem(req, err, &detail);
}

void cpm_respond_header(struct cpm_request *req, const char *name, const char *value)
{
    if (req->response != NULL)
        MHD_add_response_header(req->response, name, value);
}

json_t *cpm_request_json_object(struct cpm_request *req)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    json_t *doc;
    cpm_err err = cpm_json_parse_object(req->body ? req->body : "", req->body_len, &doc, &detail);
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
        return NULL;
    }
    return doc;
}

void cpm_respond_retry_after(struct cpm_request *req, int64_t retry_after_ms)
{
    char seconds[24];
    snprintf(seconds, sizeof(seconds), "%lld",
             (long long)(retry_after_ms > 0 ? (retry_after_ms + 999) / 1000 : 1));
    cpm_respond_header(req, "Retry-After", seconds);
}
