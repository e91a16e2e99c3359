/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ads_audience.c — the batching sink behind the ad-audience kinds
 * (tencent_ads.c, ocean_engine.c) and its pure helpers; see the header for
 * the batching rules.
 *
 * Limits: a batch holds at most env.lanes ids per operation (the dispatcher
 * keeps one event in flight per lane, and this sink holds each until its
 * batch is answered), so one flush carries at most CPM_ADS_LANES (2048)
 * ids in all; a request body is at most CPM__ADS_BODY_BYTES_MAX.
 */
#include "core/common.h"

#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "sync/ads_audience.h"

#define MODULE    "sync"
#define HTTP_LANE 0 /* the operations of a flush go one after the other */

const char *cpm__ads_op_name(enum cpm__ads_op op)
{
    return op == CPM__ADS_APPEND ? "APPEND" : "REDUCE";
}

/* ---- buffers ------------------------------------------------------------------ */

void cpm__ads_buf_init(struct cpm__ads_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void cpm__ads_buf_release(struct cpm__ads_buf *b)
{
    if (b->data != NULL)
        sodium_memzero(b->data, b->cap);
    cpm_free(b->data);
    cpm__ads_buf_init(b, b->max);
}

void cpm__ads_buf_reset(struct cpm__ads_buf *b)
{
    if (b->data != NULL)
        sodium_memzero(b->data, b->cap);
    b->len = 0;
    b->failed = false;
}

bool cpm__ads_buf_add(struct cpm__ads_buf *b, const void *p, size_t n)
{
    if (b->failed || n > b->max - b->len) {
        b->failed = true;
        return false;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = cpm_malloc(cap);
        if (data == NULL) {
            b->failed = true;
            return false;
        }
        if (b->data != NULL) {
            memcpy(data, b->data, b->len);
            sodium_memzero(b->data, b->cap); /* it may hold ids or a token */
            cpm_free(b->data);
        }
        b->data = data;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool cpm__ads_buf_str(struct cpm__ads_buf *b, const char *s)
{
    return cpm__ads_buf_add(b, s, strlen(s));
}

bool cpm__ads_buf_printf(struct cpm__ads_buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        b->failed = true;
        return false;
    }
    return cpm__ads_buf_add(b, line, (size_t)n);
}

/* ---- ids ---------------------------------------------------------------------- */

bool cpm__ads_mobile_cn(const char *e164, char out[CPM__ADS_MOBILE_BYTES])
{
    if (strncmp(e164, "+86", 3) != 0 || strlen(e164) != 3 + 11 || e164[3] != '1')
        return false;
    for (const char *p = e164 + 3; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    memcpy(out, e164 + 3, 11);
    out[11] = '\0';
    return true;
}

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* MD5, RFC 1321: the per-round constants (floor(|sin(i + 1)| · 2^32)) and shifts. */
static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
static const uint8_t md5_s[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                  5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

static void md5_block(uint32_t h[4], const uint8_t *p)
{
    uint32_t m[16], a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    for (unsigned i = 0; i < 64; i++) {
        uint32_t f;
        unsigned g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
        }
        f += a + md5_k[i] + m[g];
        a = d;
        d = c;
        c = b;
        b += (f << md5_s[i]) | (f >> (32 - md5_s[i]));
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

void cpm__ads_md5_hex(const void *p, size_t n, char out[33])
{
    uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    const uint8_t *in = p;
    uint8_t tail[128] = {0}, digest[16];
    size_t full = n - n % 64, rest = n % 64;
    for (size_t i = 0; i < full; i += 64)
        md5_block(h, in + i);
    memcpy(tail, in + full, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        tail[tail_len - 8 + i] = (uint8_t)(bits >> (8 * i));
    md5_block(h, tail);
    if (tail_len == 128)
        md5_block(h, tail + 64);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            digest[4 * i + j] = (uint8_t)(h[i] >> (8 * j));
    to_hex(digest, sizeof(digest), out);
    sodium_memzero(tail, sizeof(tail));
}

void cpm__ads_sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, p, n);
    to_hex(digest, sizeof(digest), out);
}

uint32_t cpm__ads_crc32(const void *p, size_t n)
{
    const uint8_t *in = p;
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= in[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

void cpm__ads_random_hex(char *out, size_t n)
{
    uint8_t bytes[64];
    CPM_ASSERT(n <= sizeof(bytes));
    randombytes_buf(bytes, n);
    to_hex(bytes, n, out);
}

/* ---- request bodies ------------------------------------------------------------- */

bool cpm__ads_url_escape(struct cpm__ads_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL;
        if (plain ? !cpm__ads_buf_add(b, p, 1) : !cpm__ads_buf_printf(b, "%%%02X", *p))
            return false;
    }
    return !b->failed;
}

bool cpm__ads_multipart_field(struct cpm__ads_buf *b, const char *boundary, const char *name,
                              const char *value)
{
    return cpm__ads_buf_printf(b, "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n",
                               boundary, name) &&
           cpm__ads_buf_str(b, value) && cpm__ads_buf_str(b, "\r\n");
}

bool cpm__ads_multipart_file(struct cpm__ads_buf *b, const char *boundary, const char *name,
                             const char *filename, const char *content_type, const void *data,
                             size_t n)
{
    return cpm__ads_buf_printf(b,
                               "--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
                               "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n",
                               boundary, name, filename, content_type) &&
           cpm__ads_buf_add(b, data, n) && cpm__ads_buf_str(b, "\r\n");
}

bool cpm__ads_multipart_end(struct cpm__ads_buf *b, const char *boundary)
{
    return cpm__ads_buf_printf(b, "--%s--\r\n", boundary);
}

static bool put_u16(struct cpm__ads_buf *b, uint32_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    return cpm__ads_buf_add(b, x, 2);
}

static bool put_u32(struct cpm__ads_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return cpm__ads_buf_add(b, x, 4);
}

/* PKWARE APPNOTE 4.3: local file header, data, central directory, end record. */
bool cpm__ads_zip_stored(struct cpm__ads_buf *b, const char *name, const void *data, size_t n)
{
    const uint32_t date = (0 << 9) | (1 << 5) | 1; /* 1980-01-01, the DOS epoch */
    size_t name_len = strlen(name), start = b->len;
    if (n > UINT32_MAX - 1024 || name_len > 255)
        return false;
    uint32_t crc = cpm__ads_crc32(data, n), size = (uint32_t)n;
    bool ok = put_u32(b, 0x04034b50) && put_u16(b, 10) && put_u16(b, 0) && put_u16(b, 0) &&
              put_u16(b, 0) && put_u16(b, date) && put_u32(b, crc) && put_u32(b, size) &&
              put_u32(b, size) && put_u16(b, (uint32_t)name_len) && put_u16(b, 0) &&
              cpm__ads_buf_add(b, name, name_len) && cpm__ads_buf_add(b, data, n);
    size_t directory = b->len;
    ok = ok && put_u32(b, 0x02014b50) && put_u16(b, 20) && put_u16(b, 10) && put_u16(b, 0) &&
         put_u16(b, 0) && put_u16(b, 0) && put_u16(b, date) && put_u32(b, crc) &&
         put_u32(b, size) && put_u32(b, size) && put_u16(b, (uint32_t)name_len) && put_u16(b, 0) &&
         put_u16(b, 0) && put_u16(b, 0) && put_u16(b, 0) && put_u32(b, 0) &&
         put_u32(b, (uint32_t)(start)) && cpm__ads_buf_add(b, name, name_len);
    size_t end = b->len;
    return ok && put_u32(b, 0x06054b50) && put_u16(b, 0) && put_u16(b, 0) && put_u16(b, 1) &&
           put_u16(b, 1) && put_u32(b, (uint32_t)(end - directory)) &&
           put_u32(b, (uint32_t)(directory - start)) && put_u16(b, 0);
}

/* A protobuf varint. */
static size_t varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    do {
        out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v > 0);
    return n;
}

bool cpm__ads_dmp_line(struct cpm__ads_buf *b, int data_type, const char *id)
{
    uint8_t item[160], message[180];
    size_t id_len = strlen(id), n = 0, m = 0;
    if (id_len > 128 || data_type < 0)
        return false;
    item[n++] = (2 << 3) | 0; /* IdItem.dataType, varint */
    n += varint(item + n, (uint64_t)data_type);
    item[n++] = (3 << 3) | 2; /* IdItem.id, length-delimited */
    n += varint(item + n, id_len);
    memcpy(item + n, id, id_len);
    n += id_len;
    message[m++] = (1 << 3) | 2; /* DmpData.idList, length-delimited */
    m += varint(message + m, n);
    memcpy(message + m, item, n);
    m += n;
    char b64[sodium_base64_ENCODED_LEN(sizeof(message), sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), message, m, sodium_base64_VARIANT_ORIGINAL);
    return cpm__ads_buf_str(b, b64) && cpm__ads_buf_str(b, "\n");
}

bool cpm__ads_answer_parse(const char *body, size_t len, json_t **root, long *code, char *message,
                           size_t cap, const json_t **data)
{
    *root = len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
    const json_t *c = json_object_get(*root, "code");
    if (!json_is_integer(c)) {
        json_decref(*root);
        *root = NULL;
        return false;
    }
    *code = (long)json_integer_value(c);
    const char *m = json_string_value(json_object_get(*root, "message"));
    snprintf(message, cap, "%s", m ? m : "");
    for (char *p = message; *p; p++)
        *p = (unsigned char)*p < 0x20 ? ' ' : *p;
    *data = json_object_get(*root, "data");
    return true;
}

/* ---- the batch plan ------------------------------------------------------------- */

void cpm__ads_plan(struct cpm__ads_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        entries[i].take = true;
    for (size_t i = 0; i < n; i++) {
        /* the operation of this hash's lowest seq goes now; the other one waits */
        const struct cpm__ads_entry *first = &entries[i];
        for (size_t j = 0; j < n; j++)
            if (strcmp(entries[j].hash, first->hash) == 0 && entries[j].seq < first->seq)
                first = &entries[j];
        entries[i].take = entries[i].op == first->op;
    }
}

bool cpm__ads_lines(const struct cpm__ads_entry *entries, size_t n, enum cpm__ads_op op,
                    struct cpm__ads_buf *b, size_t *count)
{
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!entries[i].take || entries[i].op != op)
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = entries[j].take && entries[j].op == op &&
                   strcmp(entries[j].hash, entries[i].hash) == 0;
        if (seen)
            continue;
        if (!cpm__ads_buf_str(b, entries[i].hash) || !cpm__ads_buf_str(b, "\n"))
            return false;
        (*count)++;
    }
    return true;
}

/* ---- the sink ----------------------------------------------------------------- */

enum slot_state {
    SLOT_FREE,
    SLOT_READY,   /* finished without a request (no phone, …): reported by the next poll */
    SLOT_WAITING, /* its id waits for the next flush */
    SLOT_BATCHED, /* in a batch of the flush under way */
};

struct slot {
    enum slot_state state;
    enum cpm__ads_op op;
    int64_t seq;
    int64_t since_ms; /* when it was sent to the sink (monotonic) */
    char hash[CPM__ADS_HASH_HEX_BYTES];
    struct cpm_sink_result result; /* SLOT_READY */
};

struct cpm__ads_sink {
    const struct cpm__ads_vendor *vendor;
    struct cpm__ads_config config; /* points into the owned copies below */
    char *endpoint, *secret, *account_id, *audience_id;
    struct cpm_http_lanes *http;
    cpm_sink_identifier_fn identifier;
    void *identifier_ctx;
    unsigned lanes;
    struct slot *slots;
    unsigned waiting, ready;
    struct cpm__ads_entry *entries; /* a flush's plan (lanes of them) */
    unsigned *entry_lanes;
    struct cpm__ads_batch batches[CPM__ADS_OPS];
};

struct poll_ctx {
    struct cpm__ads_sink *s;
    cpm_sink_done_fn done;
    void *ctx;
};

const struct cpm__ads_config *cpm__ads_config_get(const struct cpm__ads_sink *s)
{
    return &s->config;
}

struct cpm_http_lanes *cpm__ads_http_get(struct cpm__ads_sink *s)
{
    return s->http;
}

void cpm__ads_close(void *sink)
{
    struct cpm__ads_sink *s = sink;
    if (s == NULL)
        return;
    cpm_http_lanes_free(s->http);
    for (int op = 0; op < CPM__ADS_OPS; op++) {
        cpm__ads_buf_release(&s->batches[op].lines);
        cpm__ads_buf_release(&s->batches[op].body);
        cpm__ads_buf_release(&s->batches[op].aux);
        cpm_free(s->batches[op].lanes);
    }
    if (s->secret != NULL)
        sodium_memzero(s->secret, strlen(s->secret));
    cpm_free(s->endpoint);
    cpm_free(s->secret);
    cpm_free(s->account_id);
    cpm_free(s->audience_id);
    if (s->slots != NULL)
        sodium_memzero(s->slots, s->lanes * sizeof(*s->slots));
    cpm_free(s->slots);
    cpm_free(s->entries);
    cpm_free(s->entry_lanes);
    cpm_free(s);
}

static char *dup_field(const json_t *dest, const char *key)
{
    const char *v = json_string_value(json_object_get(dest, key));
    return v ? cpm_strdup(v) : NULL;
}

cpm_err cpm__ads_open(const struct cpm__ads_vendor *vendor, const json_t *dest,
                      const struct cpm_sink_env *env, void **out, struct cpm_detail *detail)
{
    static const char *const required[] = {"endpoint", "secret", "account_id", "audience_id"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(required); i++)
        if (json_string_value(json_object_get(dest, required[i])) == NULL) {
            cpm_detail_add(detail, required[i], "is required for a %s destination", vendor->kind);
            return CPM_ERR_VALIDATION;
        }
    if (!vendor->check(dest, detail))
        return CPM_ERR_VALIDATION;
    struct cpm__ads_sink *s = cpm_calloc(1, sizeof(*s));
    if (s == NULL)
        return CPM_ERR_NOMEM;
    s->vendor = vendor;
    s->lanes = env->lanes;
    s->identifier = env->identifier;
    s->identifier_ctx = env->identifier_ctx;
    json_int_t interval = json_integer_value(json_object_get(dest, "batch_interval_ms"));
    s->config.batch_interval_ms = interval > 0 ? interval : 10000;
    s->endpoint = dup_field(dest, "endpoint");
    if (s->endpoint != NULL) { /* the API base: the vendor appends its paths */
        size_t len = strlen(s->endpoint);
        while (len > 0 && s->endpoint[len - 1] == '/')
            s->endpoint[--len] = '\0';
    }
    s->secret = dup_field(dest, "secret");
    s->account_id = dup_field(dest, "account_id");
    s->audience_id = dup_field(dest, "audience_id");
    s->config.endpoint = s->endpoint;
    s->config.secret = s->secret;
    s->config.account_id = s->account_id;
    s->config.audience_id = s->audience_id;
    s->slots = cpm_calloc(env->lanes, sizeof(*s->slots));
    s->entries = cpm_calloc(env->lanes, sizeof(*s->entries));
    s->entry_lanes = cpm_calloc(env->lanes, sizeof(*s->entry_lanes));
    bool ok = s->endpoint && s->secret && s->account_id && s->audience_id && s->slots &&
              s->entries && s->entry_lanes;
    for (int op = 0; op < CPM__ADS_OPS; op++) {
        struct cpm__ads_batch *b = &s->batches[op];
        b->op = (enum cpm__ads_op)op;
        b->lanes = cpm_calloc(env->lanes, sizeof(*b->lanes));
        ok = ok && b->lanes != NULL;
        cpm__ads_buf_init(&b->lines, CPM__ADS_BODY_BYTES_MAX);
        cpm__ads_buf_init(&b->body, CPM__ADS_BODY_BYTES_MAX);
        cpm__ads_buf_init(&b->aux, CPM__ADS_BODY_BYTES_MAX);
    }
    cpm_err err = ok ? cpm_http_lanes_new(env->guard, 1, env->timeout_ms, &s->http) : CPM_ERR_NOMEM;
    if (err != CPM_OK) {
        cpm__ads_close(s);
        return err;
    }
    *out = s;
    return CPM_OK;
}

/* The interval is measured on the monotonic clock: a wall-clock step neither stalls nor rushes it.
 */
static int64_t monotonic_ms(void)
{
    return cpm_clock_monotonic_ns() / 1000000;
}

static void ready(struct cpm__ads_sink *s, unsigned lane, enum cpm_sink_outcome outcome,
                  const char *fmt, ...) CPM_PRINTF(4, 5);

static void ready(struct cpm__ads_sink *s, unsigned lane, enum cpm_sink_outcome outcome,
                  const char *fmt, ...)
{
    struct slot *slot = &s->slots[lane];
    va_list ap;
    va_start(ap, fmt);
    cpm_sink_result_vset(&slot->result, outcome, fmt, ap);
    va_end(ap);
    slot->state = SLOT_READY;
    s->ready++;
}

cpm_err cpm__ads_send(void *sink, unsigned lane, const struct cpm_outbound_event *e)
{
    struct cpm__ads_sink *s = sink;
    CPM_ASSERT(lane < s->lanes && s->slots[lane].state == SLOT_FREE);
    struct slot *slot = &s->slots[lane];
    const char *action = e->action ? e->action : "";
    char phone[64], mobile[CPM__ADS_MOBILE_BYTES];
    if (strcmp(action, "audience_append") != 0 && strcmp(action, "audience_reduce") != 0) {
        ready(s, lane, CPM_SINK_REJECTED, "action '%.40s' is not one a %s destination takes",
              action, s->vendor->kind);
        return CPM_OK;
    }
    if (e->subject_id[0] == '\0') {
        ready(s, lane, CPM_SINK_DELIVERED, "not about a subject: nothing to do");
        return CPM_OK;
    }
    cpm_err err = s->identifier(s->identifier_ctx, e->subject_id, "phone", phone, sizeof(phone));
    if (err == CPM_ERR_NOT_FOUND) {
        ready(s, lane, CPM_SINK_DELIVERED, "no phone for this subject: nothing to do");
    } else if (err != CPM_OK) {
        ready(s, lane, CPM_SINK_RETRY, "reading the subject's phone failed: %s",
              cpm_err_message(err));
    } else if (!cpm__ads_mobile_cn(phone, mobile)) {
        ready(s, lane, CPM_SINK_DELIVERED,
              "the subject's phone is not a mainland China mobile number: nothing to do");
    } else {
        s->vendor->hash(mobile, slot->hash);
        slot->op = strcmp(action, "audience_append") == 0 ? CPM__ADS_APPEND : CPM__ADS_REDUCE;
        slot->seq = e->seq;
        slot->since_ms = monotonic_ms();
        slot->state = SLOT_WAITING;
        s->waiting++;
    }
    sodium_memzero(phone, sizeof(phone));
    sodium_memzero(mobile, sizeof(mobile));
    return CPM_OK;
}

/* Finishes every event of b with r. */
static void complete(struct poll_ctx *pc, struct cpm__ads_batch *b, const struct cpm_sink_result *r)
{
    struct cpm__ads_sink *s = pc->s;
    b->in_flight = false;
    b->queued = false;
    for (unsigned i = 0; i < b->lane_count; i++) {
        struct slot *slot = &s->slots[b->lanes[i]];
        CPM_ASSERT(slot->state == SLOT_BATCHED);
        slot->state = SLOT_FREE;
        pc->done(pc->ctx, b->lanes[i], r);
    }
    b->lane_count = 0;
    cpm__ads_buf_reset(&b->lines);
    cpm__ads_buf_reset(&b->body);
    cpm__ads_buf_reset(&b->aux);
}

static bool flush_under_way(const struct cpm__ads_sink *s)
{
    for (int op = 0; op < CPM__ADS_OPS; op++)
        if (s->batches[op].queued || s->batches[op].in_flight)
            return true;
    return false;
}

/* Starts the next queued batch of the flush when none is in flight: REDUCE first. */
static void advance(struct poll_ctx *pc)
{
    static const enum cpm__ads_op order[] = {CPM__ADS_REDUCE, CPM__ADS_APPEND};
    struct cpm__ads_sink *s = pc->s;
    for (size_t i = 0; i < CPM_ARRAY_LEN(order); i++) {
        if (s->batches[order[i]].in_flight)
            return;
    }
    for (size_t i = 0; i < CPM_ARRAY_LEN(order); i++) {
        struct cpm__ads_batch *b = &s->batches[order[i]];
        if (!b->queued)
            continue;
        b->queued = false;
        b->stage = 0;
        cpm_err err = s->vendor->start(s, b);
        if (err == CPM_OK) {
            b->in_flight = true;
            return;
        }
        struct cpm_sink_result r = {.outcome = CPM_SINK_RETRY};
        snprintf(r.detail, sizeof(r.detail), "%s batch not sent: %s", cpm__ads_op_name(b->op),
                 cpm_err_message(err));
        complete(pc, b, &r);
    }
}

static int64_t oldest_waiting_ms(const struct cpm__ads_sink *s)
{
    int64_t oldest = INT64_MAX;
    for (unsigned i = 0; i < s->lanes; i++)
        if (s->slots[i].state == SLOT_WAITING && s->slots[i].since_ms < oldest)
            oldest = s->slots[i].since_ms;
    return oldest;
}

/* Builds a flush when it is due (interval passed, or every lane waiting) and starts it. */
static void maybe_flush(struct poll_ctx *pc)
{
    struct cpm__ads_sink *s = pc->s;
    if (s->waiting == 0 || flush_under_way(s))
        return;
    int64_t now = monotonic_ms();
    if (s->waiting < s->lanes && now - oldest_waiting_ms(s) < s->config.batch_interval_ms)
        return;
    size_t n = 0;
    for (unsigned i = 0; i < s->lanes; i++) {
        const struct slot *slot = &s->slots[i];
        if (slot->state != SLOT_WAITING)
            continue;
        s->entries[n].op = slot->op;
        s->entries[n].seq = slot->seq;
        memcpy(s->entries[n].hash, slot->hash, sizeof(slot->hash));
        s->entry_lanes[n++] = i;
    }
    cpm__ads_plan(s->entries, n);
    size_t counts[CPM__ADS_OPS] = {0};
    for (int op = 0; op < CPM__ADS_OPS; op++) {
        struct cpm__ads_batch *b = &s->batches[op];
        b->lane_count = 0;
        cpm__ads_buf_reset(&b->lines);
        for (size_t i = 0; i < n; i++) {
            if (!s->entries[i].take || s->entries[i].op != b->op)
                continue;
            b->lanes[b->lane_count++] = s->entry_lanes[i];
            s->slots[s->entry_lanes[i]].state = SLOT_BATCHED;
            s->waiting--;
        }
        if (b->lane_count == 0)
            continue;
        counts[op] = b->lane_count;
        b->queued = true;
        if (!cpm__ads_lines(s->entries, n, b->op, &b->lines, &b->ids)) {
            struct cpm_sink_result r = {.outcome = CPM_SINK_RETRY};
            snprintf(r.detail, sizeof(r.detail), "%s batch not built: out of memory",
                     cpm__ads_op_name(b->op));
            complete(pc, b, &r);
        }
    }
    cpm_log(CPM_LOG_DEBUG, MODULE, NULL, NULL,
            "%s: flush of %zu APPEND and %zu REDUCE events (%s-hashed phones)", s->vendor->kind,
            counts[CPM__ADS_APPEND], counts[CPM__ADS_REDUCE], s->vendor->hash_name);
    advance(pc);
}

static void on_answer(void *ctx, unsigned lane, const struct cpm_http_answer *a)
{
    struct poll_ctx *pc = ctx;
    struct cpm__ads_sink *s = pc->s;
    CPM_ASSERT(lane == HTTP_LANE);
    struct cpm__ads_batch *b = NULL;
    for (int op = 0; op < CPM__ADS_OPS; op++)
        if (s->batches[op].in_flight)
            b = &s->batches[op];
    CPM_ASSERT(b != NULL);
    struct cpm_sink_result r = {.outcome = CPM_SINK_RETRY};
    if (!s->vendor->judge(s, b, a, &r))
        return; /* the chain goes on */
    complete(pc, b, &r);
    advance(pc);
}

void cpm__ads_poll(void *sink, int timeout_ms, cpm_sink_done_fn done, void *ctx)
{
    struct cpm__ads_sink *s = sink;
    struct poll_ctx pc = {s, done, ctx};
    for (unsigned i = 0; i < s->lanes && s->ready > 0; i++) {
        struct slot *slot = &s->slots[i];
        if (slot->state != SLOT_READY)
            continue;
        struct cpm_sink_result r = slot->result;
        slot->state = SLOT_FREE;
        s->ready--;
        done(ctx, i, &r);
    }
    maybe_flush(&pc);
    int64_t wait = timeout_ms > 0 ? timeout_ms : 0;
    if (s->waiting > 0 && !flush_under_way(s)) { /* never sleep past the flush */
        int64_t due = oldest_waiting_ms(s) + s->config.batch_interval_ms - monotonic_ms();
        wait = due < wait ? (due > 0 ? due : 0) : wait;
    }
    cpm_http_lanes_poll(s->http, (int)wait, on_answer, &pc);
    maybe_flush(&pc);
}

void cpm__ads_wake(void *sink)
{
    struct cpm__ads_sink *s = sink;
    cpm_http_lanes_wake(s->http);
}

void cpm__ads_judge_transport(const struct cpm_http_answer *a, struct cpm_sink_result *r)
{
    r->outcome = CPM_SINK_RETRY;
    r->status = a->transferred ? (int)a->status : 0;
    r->retry_after_ms = a->retry_after_ms;
    if (!a->transferred) {
        snprintf(r->detail, sizeof(r->detail), "%s", a->error);
        return;
    }
    char answer[CPM__ADS_MESSAGE_BYTES + 1];
    snprintf(answer, sizeof(answer), "%s", a->body ? a->body : "");
    for (char *p = answer; *p; p++)
        *p = (unsigned char)*p < 0x20 ? ' ' : *p;
    snprintf(r->detail, sizeof(r->detail), "HTTP %ld without a JSON code%s%s", a->status,
             answer[0] ? ": " : "", answer);
}
