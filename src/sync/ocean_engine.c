/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ocean_engine.c — the ocean_engine destination kind (巨量引擎 Marketing API,
 * DMP data source / 人群包): consent to ads.* given → the subject's hashed
 * mobile number is added to a DMP data source; withdrawn, refused, expired
 * or objected → deleted from it. Batched by ads_audience.c: one upload and
 * one update per operation per flush (batch_interval_ms, or when every one
 * of the dispatcher's lanes has an event waiting — at most CPM_ADS_LANES (2048)
 * ids per operation and flush), the two requests chained on one lane.
 *
 * Followed (the vendor's own pages were not in the stored material; these
 * are the SDKs that implement them): bububa/oceanengine
 * (marketing-api/api/dmp/datasource/file_upload.go, update.go, the models
 * beside them and dmp.proto) and MrNullPoint/OceanEngineApi (dmp.go,
 * pb/toutiao_dmp_validate.py):
 *
 *   1. POST {endpoint}/2/dmp/data_source/file/upload/   header Access-Token
 *      multipart/form-data: advertiser_id, file (a zip), file_signature (the
 *      MD5 hex of the zip) → {"code": 0, "message": "OK", "request_id": …,
 *      "data": {"file_path": …}}
 *   2. POST {endpoint}/2/dmp/data_source/update/        header Access-Token
 *      JSON {"advertiser_id": N, "data_source_id": "…", "operation_type":
 *      1 (add) | 2 (delete), "data_format": 0 (protobuf), "file_storage_type":
 *      0 (API), "file_paths": ["…"]} → {"code": 0, "message": "OK", …}
 *
 * The file: a zip of one text file whose lines are each the base64 of a
 * DmpData message (toutiao.dmp, proto2) with one IdItem {dataType:
 * MOBILE_HASH_SHA256 (6), id: the lowercase SHA-256 hex of the 11-digit
 * mobile number} — one hashed id a line.
 *
 * The destination: endpoint is the API base (https://ad.oceanengine.com/
 * open_api), secret the advertiser's access token, account_id the
 * advertiser id (advertiser_id, an integer), audience_id the DMP data
 * source id (data_source_id). The vendor documents that an update takes
 * effect in the audience package (人群包) only once it is published again
 * (dmp/custom_audience/publish/), and that a data source takes at most 50
 * updates a day: choose batch_interval_ms accordingly (see the report).
 *
 * Answer codes: the code list page itself was not found; those used are
 * the ByteDance open-API ones (also TikTok Business API's): 0 delivered;
 * 40100 (too many requests) → retried after a second; 40102, 40103,
 * 40104, 40105, 40107 (access token expired, invalid or empty) → retried
 * with a detail saying to set a new secret; 50000-59999 (system),
 * HTTP 429 or 5xx, and an answer without a JSON code → retried; any
 * other code → rejected (dead letter) with code and message.
 */
#include "core/common.h"

#include <jansson.h>

#include "core/alloc.h"
#include "sync/ads_audience.h"

#define PATH_UPLOAD "/2/dmp/data_source/file/upload/"
#define PATH_UPDATE "/2/dmp/data_source/update/"

enum stage { STAGE_UPLOAD, STAGE_UPDATE };

static void hash_sha256(const char *mobile, char out[CPM__ADS_HASH_HEX_BYTES])
{
    cpm__ads_sha256_hex(mobile, strlen(mobile), out);
}

static bool check(const json_t *dest, struct cpm_detail *detail)
{
    const char *advertiser = json_string_value(json_object_get(dest, "account_id"));
    int64_t id;
    if (advertiser == NULL || !cpm_parse_int64(advertiser, 1, INT64_MAX, &id)) {
        cpm_detail_add(detail, "account_id", "must be the numeric advertiser id (advertiser_id)");
        return false;
    }
    return true;
}

static bool headers(const struct cpm__ads_config *c, const char *content_type,
                    struct curl_slist **h)
{
    return cpm_http_header(h, "Access-Token", c->secret) &&
           cpm_http_header(h, "Content-Type", content_type) &&
           cpm_http_header(h, "Accept", "application/json") && cpm_http_header(h, "Expect", "");
}

static cpm_err post(struct cpm__ads_sink *s, const char *path, const char *content_type,
                    const struct cpm__ads_buf *body)
{
    const struct cpm__ads_config *c = cpm__ads_config_get(s);
    char url[CPM_URL_BYTES_MAX];
    struct curl_slist *h = NULL;
    int n = snprintf(url, sizeof(url), "%s%s", c->endpoint, path);
    if (n < 0 || (size_t)n >= sizeof(url))
        return CPM_ERR_INTERNAL;
    if (!headers(c, content_type, &h))
        return CPM_ERR_NOMEM;
    return cpm_http_lanes_start(cpm__ads_http_get(s), 0, "POST", url, h, body->data, body->len);
}

/* Step 1: the zip of DmpData lines, uploaded. */
static cpm_err start(struct cpm__ads_sink *s, struct cpm__ads_batch *b)
{
    const struct cpm__ads_config *c = cpm__ads_config_get(s);
    char boundary[48] = "opencpm-", content_type[96], name[48], zip_name[48], signature[33];
    cpm__ads_random_hex(boundary + 8, 16);
    snprintf(content_type, sizeof(content_type), "multipart/form-data; boundary=%s", boundary);
    snprintf(name, sizeof(name), "opencpm-%s.txt", b->op == CPM__ADS_APPEND ? "append" : "reduce");
    snprintf(zip_name, sizeof(zip_name), "opencpm-%s.zip",
             b->op == CPM__ADS_APPEND ? "append" : "reduce");
    struct cpm__ads_buf text;
    cpm__ads_buf_init(&text, CPM__ADS_BODY_BYTES_MAX);
    bool ok = true;
    for (const char *line = b->lines.data; ok && line != NULL && *line;) {
        const char *end = strchr(line, '\n');
        char id[CPM__ADS_HASH_HEX_BYTES];
        size_t len = end ? (size_t)(end - line) : strlen(line);
        ok = len < sizeof(id);
        if (ok) {
            memcpy(id, line, len);
            id[len] = '\0';
            ok = cpm__ads_dmp_line(&text, CPM__ADS_DMP_MOBILE_HASH_SHA256, id);
        }
        line = end ? end + 1 : NULL;
    }
    cpm__ads_buf_reset(&b->aux);
    ok = ok && cpm__ads_zip_stored(&b->aux, name, text.data, text.len);
    cpm__ads_buf_release(&text);
    if (!ok)
        return CPM_ERR_NOMEM;
    cpm__ads_md5_hex(b->aux.data, b->aux.len, signature);
    cpm__ads_buf_reset(&b->body);
    ok = cpm__ads_multipart_field(&b->body, boundary, "advertiser_id", c->account_id) &&
         cpm__ads_multipart_file(&b->body, boundary, "file", zip_name, "application/zip",
                                 b->aux.data, b->aux.len) &&
         cpm__ads_multipart_field(&b->body, boundary, "file_signature", signature) &&
         cpm__ads_multipart_end(&b->body, boundary);
    if (!ok)
        return CPM_ERR_NOMEM;
    b->stage = STAGE_UPLOAD;
    return post(s, PATH_UPLOAD, content_type, &b->body);
}

/* Step 2: the data source updated with the uploaded file. */
static cpm_err update(struct cpm__ads_sink *s, struct cpm__ads_batch *b, const char *file_path)
{
    const struct cpm__ads_config *c = cpm__ads_config_get(s);
    int64_t advertiser = 0;
    bool numeric = cpm_parse_int64(c->account_id, 1, INT64_MAX, &advertiser);
    CPM_ASSERT(numeric); /* checked at open */
    json_t *doc = json_pack("{s:I, s:s, s:i, s:i, s:i, s:[s]}", "advertiser_id",
                            (json_int_t)advertiser, "data_source_id", c->audience_id,
                            "operation_type", b->op == CPM__ADS_APPEND ? 1 : 2, "data_format", 0,
                            "file_storage_type", 0, "file_paths", file_path);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    cpm__ads_buf_reset(&b->body);
    bool ok = text != NULL && cpm__ads_buf_str(&b->body, text);
    cpm_free(text); /* jansson allocates through cpm_malloc */
    if (!ok)
        return CPM_ERR_NOMEM;
    b->stage = STAGE_UPDATE;
    return post(s, PATH_UPDATE, "application/json", &b->body);
}

static bool token_problem(long code)
{
    return code == 40102 || code == 40103 || code == 40104 || code == 40105 || code == 40107;
}

static bool judge(struct cpm__ads_sink *s, struct cpm__ads_batch *b,
                  const struct cpm_http_answer *a, struct cpm_sink_result *r)
{
    const struct cpm__ads_config *c = cpm__ads_config_get(s);
    json_t *root = NULL;
    const json_t *data = NULL;
    long code = 0;
    char message[CPM__ADS_MESSAGE_BYTES], file_path[160] = "";
    const char *op = cpm__ads_op_name(b->op);
    const char *step = b->stage == STAGE_UPLOAD ? "file upload" : "data source update";
    if (!a->transferred || !cpm__ads_answer_parse(a->body, a->body_len, &root, &code, message,
                                                  sizeof(message), &data)) {
        cpm__ads_judge_transport(a, r);
        char why[sizeof(r->detail)];
        snprintf(why, sizeof(why), "%s", r->detail);
        snprintf(r->detail, sizeof(r->detail), "%s %s: %.150s", op, step, why);
        return true;
    }
    r->status = (int)a->status;
    r->retry_after_ms = a->retry_after_ms;
    bool ok = code == 0 && a->status >= 200 && a->status < 300;
    const char *path = json_string_value(json_object_get(data, "file_path"));
    if (ok && b->stage == STAGE_UPLOAD)
        snprintf(file_path, sizeof(file_path), "%s", path ? path : "");
    if (ok && b->stage == STAGE_UPLOAD && file_path[0] == '\0') {
        r->outcome = CPM_SINK_RETRY;
        snprintf(r->detail, sizeof(r->detail), "%s file upload: answered without data.file_path",
                 op);
    } else if (ok && b->stage == STAGE_UPLOAD) {
        json_decref(root); /* the answer is read: the next request may reuse the lane */
        cpm_err err = update(s, b, file_path);
        if (err == CPM_OK)
            return false;
        r->outcome = CPM_SINK_RETRY;
        snprintf(r->detail, sizeof(r->detail), "%s data source update not sent: %s", op,
                 cpm_err_message(err));
        return true;
    } else if (ok) {
        r->outcome = CPM_SINK_DELIVERED;
        snprintf(r->detail, sizeof(r->detail),
                 "%s of %zu hashed phone(s): data source %.64s updated", op, b->ids,
                 c->audience_id);
    } else if (code == 40100) {
        r->outcome = CPM_SINK_RETRY;
        if (r->retry_after_ms <= 0)
            r->retry_after_ms = 1000;
        snprintf(r->detail, sizeof(r->detail), "%s %s: rate limited, code %ld: %s", op, step, code,
                 message);
    } else if (token_problem(code)) {
        r->outcome = CPM_SINK_RETRY;
        snprintf(r->detail, sizeof(r->detail),
                 "%s %s: the access token is expired or invalid (code %ld): set a new secret on "
                 "the destination",
                 op, step, code);
    } else if (code == 0 || (code >= 50000 && code <= 59999) || a->status >= 500 ||
               a->status == 429) {
        r->outcome = CPM_SINK_RETRY;
        snprintf(r->detail, sizeof(r->detail), "%s %s: code %ld: %s", op, step, code, message);
    } else {
        r->outcome = CPM_SINK_REJECTED;
        snprintf(r->detail, sizeof(r->detail), "%s %s refused: code %ld: %s", op, step, code,
                 message);
    }
    json_decref(root);
    return true;
}

static const struct cpm__ads_vendor ocean_engine = {
    .kind = "ocean_engine",
    .hash_name = "SHA-256",
    .hash = hash_sha256,
    .check = check,
    .start = start,
    .judge = judge,
};

static cpm_err ocean_engine_open(const json_t *dest, const struct cpm_sink_env *env, void **out,
                                 struct cpm_detail *detail)
{
    return cpm__ads_open(&ocean_engine, dest, env, out, detail);
}

const struct cpm_sink_ops cpm_sink_ocean_engine_ops = {
    .kind = "ocean_engine",
    .lanes = CPM_ADS_LANES,
    .open = ocean_engine_open,
    .send = cpm__ads_send,
    .poll = cpm__ads_poll,
    .wake = cpm__ads_wake,
    .close = cpm__ads_close,
};
