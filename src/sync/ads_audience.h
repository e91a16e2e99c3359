/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ads_audience.h — what the ad-audience destination kinds (tencent_ads,
 * ocean_engine) share (internal): the batching sink around a vendor's
 * requests, and the pure helpers it is built from (phone normalisation,
 * MD5 / SHA-256 hex, multipart bodies, a stored zip, the Ocean Engine DMP
 * line, the vendors' JSON answer).
 *
 * The batching: an audience API is batch and rate limited, so the sink keeps
 * the events it is sent (at most one per lane: the dispatcher keeps one in
 * flight per lane) and sends ONE request per operation (APPEND / REDUCE) per
 * flush. A flush happens when batch_interval_ms has passed since the oldest
 * pending event, or when every lane has one pending — the largest batch the
 * dispatcher can give (CPM_ADS_LANES ids, both operations together). One flush is
 * in flight at a time and its operations go one after the other (REDUCE
 * first: a stop reaches the vendor before anything new is added; and the
 * vendors refuse a file while the audience's previous one is in progress).
 * A batch's answer completes each of its events with the same outcome.
 * Expected lag: batch_interval_ms plus one request per operation (two
 * chained ones for Ocean Engine).
 *
 * The id sent is the subject's `phone` identifier as the vendor documents
 * it: a mainland China mobile number's 11 digits (no +86), hashed. The
 * plaintext number is wiped as soon as it is hashed and never sent or
 * logged. A subject without such a number is delivered with "nothing to do".
 */
#ifndef CPM_SYNC_ADS_AUDIENCE_H
#define CPM_SYNC_ADS_AUDIENCE_H

#include <curl/curl.h>
#include <jansson.h>

#include "core/common.h"
#include "sync/http_lanes.h"
#include "sync/sink.h"

/*
 * Lanes of an audience destination: the events a flush can carry at most
 * (one per lane). 2048 hashed ids is far under both vendors' file limits.
 */
#define CPM_ADS_LANES 2048

#define CPM__ADS_HASH_HEX_BYTES 65                /* SHA-256 hex + NUL (MD5 uses 33 of them) */
#define CPM__ADS_MOBILE_BYTES   12                /* 11 digits + NUL */
#define CPM__ADS_BODY_BYTES_MAX (4 * 1024 * 1024) /* a request body, at most */
#define CPM__ADS_MESSAGE_BYTES  120               /* of a vendor's message, in the delivery log */

enum cpm__ads_op { CPM__ADS_APPEND, CPM__ADS_REDUCE, CPM__ADS_OPS };

/* "APPEND" / "REDUCE" */
const char *cpm__ads_op_name(enum cpm__ads_op op);

/* ---- pure helpers ---------------------------------------------------------- */

/* A growable byte buffer with a maximum; once an append fails it stays failed. */
struct cpm__ads_buf {
    char *data; /* NUL-terminated after every append */
    size_t len, cap, max;
    bool failed;
};

void cpm__ads_buf_init(struct cpm__ads_buf *b, size_t max);
void cpm__ads_buf_release(struct cpm__ads_buf *b); /* wipes, then frees */
void cpm__ads_buf_reset(struct cpm__ads_buf *b);   /* len 0, keeps the memory */
bool cpm__ads_buf_add(struct cpm__ads_buf *b, const void *p, size_t n);
bool cpm__ads_buf_str(struct cpm__ads_buf *b, const char *s);
bool cpm__ads_buf_printf(struct cpm__ads_buf *b, const char *fmt, ...) CPM_PRINTF(2, 3);

/*
 * The 11 digits of a mainland China mobile number from its E.164 form
 * ("+8613800138000" → "13800138000"); false for anything else.
 */
bool cpm__ads_mobile_cn(const char *e164, char out[CPM__ADS_MOBILE_BYTES]);

/* Lowercase hex digests: MD5 (RFC 1321) into 33 bytes, SHA-256 into 65. */
void cpm__ads_md5_hex(const void *p, size_t n, char out[33]);
void cpm__ads_sha256_hex(const void *p, size_t n, char out[65]);
/* CRC-32 (ISO 3309, as zip uses it). */
uint32_t cpm__ads_crc32(const void *p, size_t n);
/* n random bytes as 2n lowercase hex digits (out: 2n + 1 bytes). */
void cpm__ads_random_hex(char *out, size_t n);

/* Percent-encodes s for a URL query (RFC 3986 unreserved characters kept). */
bool cpm__ads_url_escape(struct cpm__ads_buf *b, const char *s);

/* multipart/form-data (RFC 7578) parts and the closing delimiter. */
bool cpm__ads_multipart_field(struct cpm__ads_buf *b, const char *boundary, const char *name,
                              const char *value);
bool cpm__ads_multipart_file(struct cpm__ads_buf *b, const char *boundary, const char *name,
                             const char *filename, const char *content_type, const void *data,
                             size_t n);
bool cpm__ads_multipart_end(struct cpm__ads_buf *b, const char *boundary);

/* A zip archive holding one file, stored (not compressed), dated 1980-01-01. */
bool cpm__ads_zip_stored(struct cpm__ads_buf *b, const char *name, const void *data, size_t n);

/*
 * One line of an Ocean Engine DMP data source file: the base64 of a
 * DmpData protobuf message (toutiao.dmp, proto2) holding one IdItem
 * {dataType, id}, then "\n".
 */
#define CPM__ADS_DMP_MOBILE_HASH_SHA256 6 /* IdItem.DataType */
bool cpm__ads_dmp_line(struct cpm__ads_buf *b, int data_type, const char *id);

/*
 * A vendor's JSON answer {"code": N, "message": "…", "data": {…}}: code,
 * the message (control characters blanked, cut to cap) and data (borrowed
 * from *root, which the caller json_decref()s). False when it is not that.
 */
bool cpm__ads_answer_parse(const char *body, size_t len, json_t **root, long *code, char *message,
                           size_t cap, const json_t **data);

/* ---- the batch plan ---------------------------------------------------------- */

/* One pending event, as the plan sees it. */
struct cpm__ads_entry {
    enum cpm__ads_op op;
    int64_t seq;
    char hash[CPM__ADS_HASH_HEX_BYTES];
    bool take; /* OUT: goes in this flush */
};

/*
 * Marks which entries go in this flush: all of them, except that when one
 * hash is in both operations (two subjects sharing a phone — one event per
 * lane and lanes by subject make it impossible for one subject), only the
 * entries of the operation of its lowest seq go now; the others wait for
 * the next flush, so the ledger's order holds for that id.
 */
void cpm__ads_plan(struct cpm__ads_entry *entries, size_t n);

/*
 * The distinct hashes of op among the taken entries, in entry order, each
 * followed by "\n"; *count: how many lines.
 */
bool cpm__ads_lines(const struct cpm__ads_entry *entries, size_t n, enum cpm__ads_op op,
                    struct cpm__ads_buf *b, size_t *count);

/* ---- the batching sink --------------------------------------------------------- */

struct cpm__ads_sink;

/* One operation's batch, from its flush to its answer. */
struct cpm__ads_batch {
    enum cpm__ads_op op;
    bool queued;     /* built by a flush, not started yet */
    bool in_flight;  /* its request (chain) is under way on http lane 0 */
    unsigned *lanes; /* the dispatcher lanes it completes */
    unsigned lane_count;
    size_t ids;                /* distinct ids in it */
    struct cpm__ads_buf lines; /* one hash a line */
    struct cpm__ads_buf body;  /* the request body in flight (borrowed by http_lanes) */
    struct cpm__ads_buf aux;   /* the vendor's scratch (Ocean Engine: the zip) */
    int stage;                 /* the vendor's: which request of a chain */
};

/* What a vendor adds to the batching sink. */
struct cpm__ads_vendor {
    const char *kind;      /* "tencent_ads" */
    const char *hash_name; /* "MD5", for the file comment and log */
    void (*hash)(const char *mobile, char out[CPM__ADS_HASH_HEX_BYTES]);
    /* Checks the destination's fields beyond what destination.c checks. */
    bool (*check)(const json_t *dest, struct cpm_detail *detail);
    /* Starts the first request of b (its lines are ready) on http lane 0. */
    cpm_err (*start)(struct cpm__ads_sink *s, struct cpm__ads_batch *b);
    /*
     * Judges an answer to b's request: fills r and returns true when b is
     * finished, or returns false after starting b's next request (a chain).
     */
    bool (*judge)(struct cpm__ads_sink *s, struct cpm__ads_batch *b,
                  const struct cpm_http_answer *a, struct cpm_sink_result *r);
};

/* The destination's fields, as the vendors read them (borrowed from the sink). */
struct cpm__ads_config {
    const char *endpoint; /* without a trailing '/' */
    const char *secret;   /* the access token */
    const char *account_id;
    const char *audience_id;
    int64_t batch_interval_ms;
};

const struct cpm__ads_config *cpm__ads_config_get(const struct cpm__ads_sink *s);
struct cpm_http_lanes *cpm__ads_http_get(struct cpm__ads_sink *s);

/* The sink operations, shared by the vendors (open takes the vendor). */
cpm_err cpm__ads_open(const struct cpm__ads_vendor *vendor, const json_t *dest,
                      const struct cpm_sink_env *env, void **out, struct cpm_detail *detail);
cpm_err cpm__ads_send(void *sink, unsigned lane, const struct cpm_outbound_event *e);
void cpm__ads_poll(void *sink, int timeout_ms, cpm_sink_done_fn done, void *ctx);
void cpm__ads_wake(void *sink);
void cpm__ads_close(void *sink);

/*
 * Fills r from a transfer without a JSON answer (none, or not JSON):
 * RETRY with the reason, the HTTP status and Retry-After.
 */
void cpm__ads_judge_transport(const struct cpm_http_answer *a, struct cpm_sink_result *r);

#endif /* CPM_SYNC_ADS_AUDIENCE_H */
