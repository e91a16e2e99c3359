/* SPDX-License-Identifier: Apache-2.0 */
/*
 * err.h — the one error enum of OpenCPM.
 *
 * Every fallible function returns a cpm_err. The list below is the single
 * source of the codes, their stable machine names (used as the `code` of an
 * HTTP problem document and in logs), the HTTP status an API answers them
 * with, and a default human message. Append only: a code once shipped keeps
 * its number and its name forever.
 */
#ifndef CPM_ERR_H
#define CPM_ERR_H

/*     enum name               machine code              HTTP  default message */
#define CPM_ERR_LIST(X)                                                                            \
    X(CPM_OK, "ok", 200, "success")                                                                \
    X(CPM_ERR_NOMEM, "out_of_memory", 503, "out of memory")                                        \
    X(CPM_ERR_IO, "io_error", 500, "input/output error")                                           \
    X(CPM_ERR_INTERNAL, "internal_error", 500, "internal error")                                   \
    X(CPM_ERR_MALFORMED_JSON, "malformed_json", 400, "the body is not valid JSON")                 \
    X(CPM_ERR_VALIDATION, "validation_failed", 422, "a field is invalid")                          \
    X(CPM_ERR_NOT_FOUND, "not_found", 404, "no such resource")                                     \
    X(CPM_ERR_CONFLICT, "conflict", 409, "the resource already exists")                            \
    X(CPM_ERR_UNAUTHORIZED, "unauthorized", 401, "a valid API key is required")                    \
    X(CPM_ERR_FORBIDDEN, "forbidden", 403, "the API key lacks the required scope")                 \
    X(CPM_ERR_METHOD_NOT_ALLOWED, "method_not_allowed", 405, "method not allowed here")            \
    X(CPM_ERR_TOO_LARGE, "body_too_large", 413, "the body is over the size limit")                 \
    X(CPM_ERR_UNSUPPORTED_MEDIA, "unsupported_media_type", 415,                                    \
      "the body's media type or content coding is not accepted here")                              \
    X(CPM_ERR_BAD_REQUEST, "bad_request", 400, "the request is malformed")                         \
    X(CPM_ERR_SCHEMA_TOO_NEW, "schema_too_new", 500, "the store was written by a newer OpenCPM")   \
    X(CPM_ERR_STORE, "store_error", 500, "the store failed")                                       \
    X(CPM_ERR_CRYPTO, "crypto_error", 500, "a cryptographic operation failed")                     \
    X(CPM_ERR_UNAVAILABLE, "unavailable", 503, "the service is shutting down or not ready")        \
    X(CPM_ERR_USAGE, "usage", 400, "invalid command-line usage")                                   \
    X(CPM_ERR_EXISTS, "already_initialised", 409, "the data directory is already initialised")     \
    X(CPM_ERR_PRECONDITION, "precondition_failed", 412, "the resource has changed")                \
    X(CPM_ERR_TAMPERED, "ledger_tampered", 503,                                                    \
      "the ledger failed its integrity check: writes are refused")                                 \
    X(CPM_ERR_RATE_LIMITED, "rate_limited", 429, "too many requests: retry later")

typedef enum {
#define CPM__ERR_ENUM(e, code, status, msg) e,
    CPM_ERR_LIST(CPM__ERR_ENUM)
#undef CPM__ERR_ENUM
        CPM_ERR__COUNT
} cpm_err;

/* The stable machine name of err ("validation_failed"); never NULL. */
const char *cpm_err_code(cpm_err err);
/* The HTTP status an API answers err with. */
int cpm_err_http_status(cpm_err err);
/* The default human message of err; never NULL. */
const char *cpm_err_message(cpm_err err);

#if defined(__GNUC__)
#define CPM_MUST_CHECK __attribute__((warn_unused_result))
#else
#define CPM_MUST_CHECK
#endif

#endif /* CPM_ERR_H */
