/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tencent_ads.c — the tencent_ads destination kind (腾讯广告 Marketing API):
 * consent to ads.* given → the subject's hashed mobile number is APPENDed to
 * a customer-file audience (客户文件人群); withdrawn, refused, expired or
 * objected → REDUCEd from it. Batched by ads_audience.c: one request per
 * operation per flush (batch_interval_ms, or when every one of the
 * dispatcher's lanes has an event waiting — at most CPM_ADS_LANES (2048) ids per
 * operation and flush).
 *
 * Followed: the Marketing API v1.3 reference for custom_audience_files/add
 * (developers.e.qq.com, datanexus.qq.com "上传数据文件") and Tencent's own
 * SDK (TencentAd/marketing-api-go-sdk, pkg/api/api_custom_audience_files.go):
 *
 *   POST {endpoint}/v1.3/custom_audience_files/add
 *        ?access_token=…&timestamp=<seconds>&nonce=<unique, ≤ 32 chars>
 *   multipart/form-data: account_id, audience_id, user_id_type
 *   (HASH_MOBILE_PHONE), operation_type (APPEND | REDUCE), file (a text file,
 *   one id a line)
 *   → {"code": 0, "message": "", "data": {"custom_audience_file_id": …}}
 *
 * HASH_MOBILE_PHONE is documented (客户文件人群) as the MD5 of the 11-digit
 * number, 32 hex digits; we send it lowercase. The destination: endpoint is
 * the API base (https://api.e.qq.com), secret the OAuth access token,
 * account_id the 推广帐号 id, audience_id the customer-file audience's id
 * (both integers). There is no refresh token here, so an expired or
 * invalid token is retried with a detail saying to set a new secret.
 *
 * Answer codes (developers.e.qq.com/v3.0/docs/errors): 0 delivered;
 * 11008, 11016 (per second), 11017 (per minute), 11018 (per day), 11019,
 * 30104, 50018, 60005 rate limits → retried after the wait they imply;
 * 11000, 11002, 11004, 11005 token → retried; 10000, 10001, 12100 (nonce
 * used: a new one is made), 12101, 12700, 30000-30099, 51001, 54307 (the
 * audience's last file is still in progress), 60000 transient → retried;
 * so is HTTP 429 or 5xx, and an answer without a JSON code; any other
 * code → rejected (dead letter) with the code and message.
 */
#include "core/common.h"

#include "core/clock.h"
#include "sync/ads_audience.h"

#define PATH         "/v1.3/custom_audience_files/add"
#define USER_ID_TYPE "HASH_MOBILE_PHONE"

static void hash_md5(const char *mobile, char out[CPM__ADS_HASH_HEX_BYTES])
{
    cpm__ads_md5_hex(mobile, strlen(mobile), out);
}

static bool digits(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 20)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool check(const json_t *dest, struct cpm_detail *detail)
{
    bool ok = true;
    if (!digits(json_string_value(json_object_get(dest, "account_id")))) {
        cpm_detail_add(detail, "account_id", "must be the numeric 推广帐号 (account) id");
        ok = false;
    }
    if (!digits(json_string_value(json_object_get(dest, "audience_id")))) {
        cpm_detail_add(detail, "audience_id", "must be the numeric customer-file audience id");
        ok = false;
    }
    return ok;
}

static cpm_err start(struct cpm__ads_sink *s, struct cpm__ads_batch *b)
{
    const struct cpm__ads_config *c = cpm__ads_config_get(s);
    char boundary[48] = "opencpm-", nonce[33], content_type[96], filename[40];
    cpm__ads_random_hex(boundary + 8, 16);
    cpm__ads_random_hex(nonce, 16);
    snprintf(content_type, sizeof(content_type), "multipart/form-data; boundary=%s", boundary);
    snprintf(filename, sizeof(filename), "opencpm-%s.txt",
             b->op == CPM__ADS_APPEND ? "append" : "reduce");
    struct cpm__ads_buf *body = &b->body;
    cpm__ads_buf_reset(body);
    bool ok = cpm__ads_multipart_field(body, boundary, "account_id", c->account_id) &&
              cpm__ads_multipart_field(body, boundary, "audience_id", c->audience_id) &&
              cpm__ads_multipart_field(body, boundary, "user_id_type", USER_ID_TYPE) &&
              cpm__ads_multipart_field(body, boundary, "operation_type", cpm__ads_op_name(b->op)) &&
              cpm__ads_multipart_file(body, boundary, "file", filename, "text/plain", b->lines.data,
                                      b->lines.len) &&
              cpm__ads_multipart_end(body, boundary);
    struct cpm__ads_buf url;
    cpm__ads_buf_init(&url, CPM_URL_BYTES_MAX * 2);
    ok = ok && cpm__ads_buf_str(&url, c->endpoint) && cpm__ads_buf_str(&url, PATH) &&
         cpm__ads_buf_str(&url, "?access_token=") && cpm__ads_url_escape(&url, c->secret) &&
         cpm__ads_buf_printf(&url, "&timestamp=%lld&nonce=%s",
                             (long long)(cpm_clock_now_ms() / 1000), nonce);
    struct curl_slist *h = NULL;
    ok = ok && cpm_http_header(&h, "Content-Type", content_type) &&
         cpm_http_header(&h, "Accept", "application/json") &&
         cpm_http_header(&h, "Expect", ""); /* no 100-continue round trip */
    cpm_err err = ok ? cpm_http_lanes_start(cpm__ads_http_get(s), 0, "POST", url.data, h,
                                            body->data, body->len)
                     : CPM_ERR_NOMEM;
    if (!ok)
        curl_slist_free_all(h);
    cpm__ads_buf_release(&url); /* it holds the token: wiped */
    return err;
}

/* The wait a rate-limit code implies, in ms; 0 when code is not one. */
static int64_t rate_limit_wait_ms(long code)
{
    switch (code) {
    case 11016: /* per second */
        return 1000;
    case 11019: /* too frequent */
    case 50018:
        return 10000;
    case 11008:
    case 11017: /* per minute */
    case 30104:
    case 60005:
        return 60000;
    case 11018: /* per day: the dispatcher caps a wait at an hour */
        return 3600000;
    default:
        return 0;
    }
}

static bool token_problem(long code)
{
    return code == 11000 || code == 11002 || code == 11004 || code == 11005;
}

static bool transient(long code)
{
    return code == 10000 || code == 10001 || code == 12100 || code == 12101 || code == 12700 ||
           (code >= 30000 && code <= 30099) || code == 51001 || code == 54307 || code == 60000;
}

static bool judge(struct cpm__ads_sink *s, struct cpm__ads_batch *b,
                  const struct cpm_http_answer *a, struct cpm_sink_result *r)
{
    CPM_UNUSED(s);
    json_t *root = NULL;
    const json_t *data = NULL;
    long code = 0;
    char message[CPM__ADS_MESSAGE_BYTES];
    if (!a->transferred || !cpm__ads_answer_parse(a->body, a->body_len, &root, &code, message,
                                                  sizeof(message), &data)) {
        cpm__ads_judge_transport(a, r);
        return true;
    }
    r->status = (int)a->status;
    r->retry_after_ms = a->retry_after_ms;
    const char *op = cpm__ads_op_name(b->op);
    if (code == 0 && a->status >= 200 && a->status < 300) {
        r->outcome = CPM_SINK_DELIVERED;
        snprintf(r->detail, sizeof(r->detail),
                 "%s of %zu hashed phone(s) accepted (custom_audience_file_id %lld)", op, b->ids,
                 (long long)json_integer_value(json_object_get(data, "custom_audience_file_id")));
    } else if (rate_limit_wait_ms(code) > 0) {
        r->outcome = CPM_SINK_RETRY;
        if (r->retry_after_ms <= 0)
            r->retry_after_ms = rate_limit_wait_ms(code);
        snprintf(r->detail, sizeof(r->detail), "%s: rate limited, code %ld: %s", op, code, message);
    } else if (token_problem(code)) {
        r->outcome = CPM_SINK_RETRY;
        snprintf(r->detail, sizeof(r->detail),
                 "%s: the access token is expired or invalid (code %ld): set a new secret on "
                 "the destination",
                 op, code);
    } else if (transient(code) || code == 0 || a->status >= 500 || a->status == 429) {
        r->outcome = CPM_SINK_RETRY;
        snprintf(r->detail, sizeof(r->detail), "%s: code %ld: %s", op, code, message);
    } else {
        r->outcome = CPM_SINK_REJECTED;
        snprintf(r->detail, sizeof(r->detail), "%s refused: code %ld: %s", op, code, message);
    }
    json_decref(root);
    return true;
}

static const struct cpm__ads_vendor tencent = {
    .kind = "tencent_ads",
    .hash_name = "MD5",
    .hash = hash_md5,
    .check = check,
    .start = start,
    .judge = judge,
};

static cpm_err tencent_open(const json_t *dest, const struct cpm_sink_env *env, void **out,
                            struct cpm_detail *detail)
{
    return cpm__ads_open(&tencent, dest, env, out, detail);
}

const struct cpm_sink_ops cpm_sink_tencent_ads_ops = {
    .kind = "tencent_ads",
    .lanes = CPM_ADS_LANES,
    .open = tencent_open,
    .send = cpm__ads_send,
    .poll = cpm__ads_poll,
    .wake = cpm__ads_wake,
    .close = cpm__ads_close,
};
