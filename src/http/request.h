/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request.h — one HTTP request as a handler sees it, and how it answers.
 *
 * The server glue (server.c) builds a cpm_request per request: route
 * matched, caller authenticated, body read within its limit (or streamed to
 * the route: cpm_request_stream). The route's handler then answers exactly
 * once with one of the cpm_respond_* calls.
 * Memory a handler needs for the request comes from req->arena.
 *
 * Thread safety: a request belongs to one worker thread.
 */
#ifndef CPM_HTTP_REQUEST_H
#define CPM_HTTP_REQUEST_H

#include <jansson.h>
#include <sys/types.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/detail.h"
#include "store/store.h"

struct MHD_Connection;
struct MHD_Response;
struct cpm_app;
struct cpm_route;
struct cpm_body_sink;

enum cpm_method {
    CPM_GET = 1 << 0,
    CPM_POST = 1 << 1,
    CPM_PUT = 1 << 2,
    CPM_PATCH = 1 << 3,
    CPM_DELETE = 1 << 4,
};

struct cpm_request {
    struct MHD_Connection *conn;
    struct cpm_app *app;
    struct cpm_arena arena;
    const struct cpm_route *route; /* NULL when no route matched */
    enum cpm_method method;
    const char *path;
    const char *params[CPM_PATH_PARAMS_MAX]; /* {captures} in route order */
    char request_id[CPM_REQUEST_ID_BYTES_MAX + 1];
    struct cpm_api_key key;                       /* the authenticated caller; id "" when none */
    char end_user_property[CPM_ID_BYTES_MAX + 1]; /* an end-user token's property, else "" */
    /* a token's holder acting for a ward (a child they are the linked guardian of), else "" */
    char acting_guardian[CPM_SUBJECT_ID_BYTES_MAX + 1];
    const char *cors_origin; /* answered with CORS headers when set */
    char early_message[160]; /* why an early 401/403/422 was given, when more is known */
    int64_t retry_after_ms;  /* an early 429: when to come back */
    char *body;              /* NUL-terminated, owned by the server glue */
    size_t body_len;
    size_t body_cap;
    size_t body_discarded; /* bytes dropped after an early answer */
    cpm_err early_err;     /* decided from headers: 404, 405, 401, 403, 413, 415 */
    int64_t start_ns;
    bool async;                          /* the handler will answer later (cpm_request_suspend) */
    void *pending;                       /* the handler's state across a suspension */
    void (*pending_free)(void *pending); /* called when the request completes */
    const struct cpm_body_sink *sink;    /* where a streamed body goes (cpm_request_stream) */
    struct cpm_inflate *inflate;         /* a streamed body's gzip coding, undone as it comes */
    int status;                          /* the status answered, for logs and metrics */
    struct MHD_Response *response;       /* queued at the end of the request */
};

/*
 * For a handler whose answer waits on other work (a ledger commit): call
 * before starting that work, then return. The connection sleeps (no worker
 * thread waits) until cpm_request_resume. Keep the handler's state in
 * req->pending, freed through req->pending_free when the request ends.
 */
void cpm_request_suspend(struct cpm_request *req);
/*
 * From any thread, once the answer is given with cpm_respond_*: wakes the
 * connection to send it. Resumed without an answer, the route's handler is
 * called again (to retry), and finds its req->pending.
 */
void cpm_request_resume(struct cpm_request *req);

/*
 * A streamed body (a CPM_BODY_STREAM route). Such a route's handler runs
 * once the caller is authorised, before any body byte: it answers at once
 * to refuse (a bad query: the body is then read to its end and dropped, so
 * the client sees the answer), or calls cpm_request_stream. The server then
 * hands every piece of the body to sink->chunk as it arrives (pieces split
 * lines and characters anywhere; no size limit applies: the route bounds its
 * own memory) and calls sink->end once the body has ended, which answers.
 * chunk may answer early to stop; the rest is then dropped likewise. State
 * lives in req->pending (freed through req->pending_free). Answers are sent
 * only after the whole body is read: HTTP/1.1 here is half-duplex.
 */
struct cpm_body_sink {
    const char *content_type; /* the body's media type ("text/plain"); parameters are allowed */
    void (*chunk)(struct cpm_request *req, const char *data, size_t size);
    void (*end)(struct cpm_request *req);
};

/*
 * Accepts the body into sink (static storage). False when the request's
 * Content-Type is not sink->content_type: then it has answered 415.
 */
bool cpm_request_stream(struct cpm_request *req, const struct cpm_body_sink *sink);

/* The n-th path capture ("{id}"); never NULL for a matched route. */
const char *cpm_request_param(const struct cpm_request *req, size_t n);
/* A query-string argument, or NULL. */
const char *cpm_request_query(const struct cpm_request *req, const char *name);
/* A request header, or NULL. */
const char *cpm_request_header(const struct cpm_request *req, const char *name);
/*
 * The page's Origin when it is another site's: NULL for a caller that is no
 * browser page, and for cpmd's own pages (/center, /demo), whose Origin is
 * the scheme and Host they were served from — a browser never lets a page
 * forge its Origin, so only the same site can match.
 */
const char *cpm_request_origin(const struct cpm_request *req);

/*
 * Parses the body as a JSON object (limits in cpm/limits.h). On failure
 * answers the problem itself and returns NULL. The result is owned by the
 * caller (json_decref).
 */
json_t *cpm_request_json_object(struct cpm_request *req);

/* Answers status with body (takes ownership of body; NULL means no body). */
void cpm_respond_json(struct cpm_request *req, int status, json_t *body);
/* Answers err as application/problem+json with the faults in detail (may be NULL). */
void cpm_respond_problem(struct cpm_request *req, cpm_err err, const struct cpm_detail *detail);
/* As cpm_respond_problem, with extra's members added to the problem (extra taken; may be NULL). */
void cpm_respond_problem_with(struct cpm_request *req, cpm_err err, const struct cpm_detail *detail,
                              json_t *extra);
/*
 * The address of the connection's peer as text (IPv4 or IPv6), or "" when
 * unknown: for limits per caller. Proxies' forwarding headers are not read.
 */
void cpm_request_client_ip(const struct cpm_request *req, char *out, size_t cap);
/* Answers err with one fault: field (may be NULL) and a formatted message. */
void cpm_respond_error(struct cpm_request *req, cpm_err err, const char *field, const char *fmt,
                       ...) CPM_PRINTF(4, 5);
/* Answers a static buffer (not copied: it must outlive the server). */
void cpm_respond_static(struct cpm_request *req, int status, const char *content_type,
                        const void *data, size_t len);
/* Answers an owned buffer allocated with cpm_malloc (ownership taken). */
void cpm_respond_owned(struct cpm_request *req, int status, const char *content_type, char *data,
                       size_t len);
/* Answers a copy of len bytes of data (a small answer built on the stack). */
void cpm_respond_copy(struct cpm_request *req, int status, const char *content_type,
                      const void *data, size_t len);
/*
 * Produces a body on demand: copies up to max bytes from offset pos into
 * buf and returns how many (> 0), or CPM_BODY_READER_ERROR to abort the
 * answer (the connection closes). Called from the request's worker thread.
 */
typedef ssize_t (*cpm_body_reader_fn)(void *cls, uint64_t pos, char *buf, size_t max);
#define CPM_BODY_READER_ERROR ((ssize_t)-2)
/* A reader's "the body ends here", for a body of unknown length (sent chunked). */
#define CPM_BODY_READER_END ((ssize_t)-1)
/* cpm_respond_reader's len for a body whose length is not known before it ends. */
#define CPM_BODY_LENGTH_UNKNOWN UINT64_MAX

/*
 * Answers a body of len bytes read through read(cls, …) as it is sent,
 * never held whole. Takes cls: cls_free(cls) runs when the answer is done
 * with (also when it could not be created).
 */
void cpm_respond_reader(struct cpm_request *req, int status, const char *content_type, uint64_t len,
                        cpm_body_reader_fn read, void *cls, void (*cls_free)(void *cls));
/* Adds a header to the answer already given (e.g. ETag, Location). */
void cpm_respond_header(struct cpm_request *req, const char *name, const char *value);
/* Adds Retry-After: retry_after_ms rounded up to whole seconds, at least 1. */
void cpm_respond_retry_after(struct cpm_request *req, int64_t retry_after_ms);

#endif /* CPM_HTTP_REQUEST_H */
