/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ads_audience.c — the ad-audience kinds' pure helpers
 * (src/sync/ads_audience.c): the mobile number's vendor form, MD5 against
 * RFC 1321's vectors, SHA-256 and CRC-32, URL escaping, multipart bytes,
 * the stored zip's structure, the Ocean Engine DMP line, the vendors' JSON
 * answer, the batch plan; and the batching sink itself with a stub vendor
 * (no network): nothing-to-do outcomes, the flush on the interval (and
 * never a sleep past it), the flush when every lane waits, REDUCE before
 * APPEND, one hash in both operations, an unknown action.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/fixture.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "sync/ads_audience.h"
#include "sync/outbound_guard.h"

#define MD5_13800138000    "7945bd83237335e5376ff44d62e4f0ae"
#define SHA256_13800138000 "a6942f9771d67f34034d2f1926988ed3fad3bf1b4e7cedb9a31f31398dea43bc"

static void test_mobile(void **state)
{
    CPM_UNUSED(state);
    char out[CPM__ADS_MOBILE_BYTES];
    assert_true(cpm__ads_mobile_cn("+8613800138000", out));
    assert_string_equal(out, "13800138000");
    const char *bad[] = {"+12025550100",   "+861380013800",  "+86138001380001", "13800138000",
                         "+8603800138000", "+86138001380a0", "+85213800138000", ""};
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad); i++)
        assert_false(cpm__ads_mobile_cn(bad[i], out));
}

static void test_digests(void **state)
{
    CPM_UNUSED(state);
    static const char *const vectors[][2] = {
        /* RFC 1321, appendix A.5 */
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
         "0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"123456789012345678901234567890123456789012345678901"
         "23456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"}};
    char md5[33], sha[65], text[128];
    for (size_t i = 0; i < CPM_ARRAY_LEN(vectors); i++) {
        cpm__ads_md5_hex(vectors[i][0], strlen(vectors[i][0]), md5);
        assert_string_equal(md5, vectors[i][1]);
    }
    /* the padding's edges: 56 bytes (a second block), 64, 119 */
    memset(text, 'x', 56);
    cpm__ads_md5_hex(text, 56, md5);
    assert_string_equal(md5, "668a72d5ba17f08e62dabcafad6db14b");
    memset(text, 'y', 64);
    cpm__ads_md5_hex(text, 64, md5);
    assert_string_equal(md5, "b0c4864f4e28d2d76929c38d87db7ed5");
    memset(text, 'z', 119);
    cpm__ads_md5_hex(text, 119, md5);
    assert_string_equal(md5, "caf43ee6c9defaeccfc1d7c24647646e");
    cpm__ads_md5_hex("13800138000", 11, md5);
    assert_string_equal(md5, MD5_13800138000);
    cpm__ads_sha256_hex("13800138000", 11, sha);
    assert_string_equal(sha, SHA256_13800138000);
    assert_int_equal(cpm__ads_crc32("123456789", 9), 0xcbf43926u);
    char a[33], b[33];
    cpm__ads_random_hex(a, 16);
    cpm__ads_random_hex(b, 16);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b);
}

static void test_bodies(void **state)
{
    CPM_UNUSED(state);
    struct cpm__ads_buf b;
    cpm__ads_buf_init(&b, 4096);
    assert_true(cpm__ads_url_escape(&b, "a.B-c_d~1 +/=&%é"));
    assert_string_equal(b.data, "a.B-c_d~1%20%2B%2F%3D%26%25%C3%A9");
    cpm__ads_buf_reset(&b);
    assert_true(cpm__ads_multipart_field(&b, "XyZ", "account_id", "123"));
    assert_true(cpm__ads_multipart_file(&b, "XyZ", "file", "f.txt", "text/plain", "ab\n", 3));
    assert_true(cpm__ads_multipart_end(&b, "XyZ"));
    assert_string_equal(b.data, "--XyZ\r\nContent-Disposition: form-data; name=\"account_id\"\r\n"
                                "\r\n123\r\n"
                                "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                                "filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\nab\n\r\n"
                                "--XyZ--\r\n");
    cpm__ads_buf_release(&b);

    /* a buffer never grows past its maximum, and stays failed */
    cpm__ads_buf_init(&b, 8);
    assert_true(cpm__ads_buf_str(&b, "12345678"));
    assert_false(cpm__ads_buf_str(&b, "9"));
    assert_true(b.failed);
    assert_false(cpm__ads_buf_str(&b, ""));
    cpm__ads_buf_release(&b);
}

static uint32_t u32(const char *p)
{
    const uint8_t *x = (const uint8_t *)p;
    return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}

static uint32_t u16(const char *p)
{
    const uint8_t *x = (const uint8_t *)p;
    return (uint32_t)x[0] | (uint32_t)x[1] << 8;
}

static void test_zip(void **state)
{
    CPM_UNUSED(state);
    struct cpm__ads_buf b;
    cpm__ads_buf_init(&b, 4096);
    const char *data = "line one\nline two\n";
    size_t n = strlen(data);
    assert_true(cpm__ads_zip_stored(&b, "ids.txt", data, n));
    /* local header, then the data, stored */
    assert_int_equal(u32(b.data), 0x04034b50);
    assert_int_equal(u16(b.data + 8), 0); /* method: stored */
    assert_int_equal(u32(b.data + 14), cpm__ads_crc32(data, n));
    assert_int_equal(u32(b.data + 18), n);
    assert_int_equal(u32(b.data + 22), n);
    assert_int_equal(u16(b.data + 26), 7);
    assert_memory_equal(b.data + 30, "ids.txt", 7);
    assert_memory_equal(b.data + 37, data, n);
    /* the end record points at a central directory naming the same file at offset 0 */
    const char *end = b.data + b.len - 22;
    assert_int_equal(u32(end), 0x06054b50);
    assert_int_equal(u16(end + 10), 1);
    const char *dir = b.data + u32(end + 16);
    assert_int_equal(u32(dir), 0x02014b50);
    assert_int_equal(u32(dir + 16), cpm__ads_crc32(data, n));
    assert_int_equal(u32(dir + 42), 0);
    assert_memory_equal(dir + 46, "ids.txt", 7);
    assert_int_equal(u32(end + 12), b.len - 22 - u32(end + 16));
    cpm__ads_buf_release(&b);
}

static void test_dmp_line(void **state)
{
    CPM_UNUSED(state);
    struct cpm__ads_buf b;
    cpm__ads_buf_init(&b, 4096);
    assert_true(cpm__ads_dmp_line(&b, CPM__ADS_DMP_MOBILE_HASH_SHA256, SHA256_13800138000));
    /* DmpData{idList: [IdItem{dataType: 6, id: …}]}, as protobuf's own encoder writes it */
    assert_string_equal(b.data, "CkQQBhpAYTY5NDJmOTc3MWQ2N2YzNDAzNGQyZjE5MjY5ODhlZDNmYWQzYmYxYjRlN2"
                                "NlZGI5YTMxZjMxMzk4ZGVhNDNiYw==\n");
    cpm__ads_buf_release(&b);
}

static void test_answer(void **state)
{
    CPM_UNUSED(state);
    json_t *root;
    const json_t *data;
    long code;
    char message[16];
    const char *ok =
        "{\"code\":0,\"message\":\"OK\",\"request_id\":\"r\",\"data\":{\"file_path\":\"p\"}}";
    assert_true(
        cpm__ads_answer_parse(ok, strlen(ok), &root, &code, message, sizeof(message), &data));
    assert_int_equal(code, 0);
    assert_string_equal(message, "OK");
    assert_string_equal(json_string_value(json_object_get(data, "file_path")), "p");
    json_decref(root);
    const char *err = "{\"code\":11016,\"message\":\"limit\\nper second, long message\"}";
    assert_true(
        cpm__ads_answer_parse(err, strlen(err), &root, &code, message, sizeof(message), &data));
    assert_int_equal(code, 11016);
    assert_string_equal(message, "limit per secon"); /* cut, control characters blanked */
    assert_null(data);
    json_decref(root);
    const char *bad[] = {"", "<html>", "{\"code\":\"0\"}", "{\"message\":\"x\"}", "[0]"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad); i++) {
        assert_false(cpm__ads_answer_parse(bad[i], strlen(bad[i]), &root, &code, message,
                                           sizeof(message), &data));
        assert_null(root);
    }
}

static void entry(struct cpm__ads_entry *e, enum cpm__ads_op op, int64_t seq, const char *hash)
{
    e->op = op;
    e->seq = seq;
    cpm_strlcpy(e->hash, hash, sizeof(e->hash));
}

static void test_plan(void **state)
{
    CPM_UNUSED(state);
    struct cpm__ads_entry e[5];
    entry(&e[0], CPM__ADS_APPEND, 10, "aa");
    entry(&e[1], CPM__ADS_REDUCE, 11, "aa"); /* the same id, later: waits */
    entry(&e[2], CPM__ADS_APPEND, 12, "bb");
    entry(&e[3], CPM__ADS_APPEND, 13, "bb"); /* the same id twice: one line */
    entry(&e[4], CPM__ADS_REDUCE, 9, "cc");
    cpm__ads_plan(e, 5);
    assert_true(e[0].take);
    assert_false(e[1].take);
    assert_true(e[2].take && e[3].take && e[4].take);
    struct cpm__ads_buf b;
    size_t count;
    cpm__ads_buf_init(&b, 4096);
    assert_true(cpm__ads_lines(e, 5, CPM__ADS_APPEND, &b, &count));
    assert_string_equal(b.data, "aa\nbb\n");
    assert_int_equal(count, 2);
    cpm__ads_buf_reset(&b);
    assert_true(cpm__ads_lines(e, 5, CPM__ADS_REDUCE, &b, &count));
    assert_string_equal(b.data, "cc\n");
    assert_int_equal(count, 1);
    cpm__ads_buf_release(&b);

    /* the earlier operation wins whichever order the lanes are in */
    entry(&e[0], CPM__ADS_APPEND, 21, "dd");
    entry(&e[1], CPM__ADS_REDUCE, 20, "dd");
    cpm__ads_plan(e, 2);
    assert_false(e[0].take);
    assert_true(e[1].take);
}

/* ---- the batching sink, with a stub vendor ---------------------------------------- */

#define STARTS_MAX 8

static struct {
    enum cpm__ads_op op[STARTS_MAX];
    char lines[STARTS_MAX][256];
    int count;
} starts;

static struct {
    struct cpm_sink_result r[8];
    bool done[8];
    int count;
} outcomes;

static void stub_hash(const char *mobile, char out[CPM__ADS_HASH_HEX_BYTES])
{
    cpm__ads_md5_hex(mobile, strlen(mobile), out);
}

static bool stub_check(const json_t *dest, struct cpm_detail *detail)
{
    CPM_UNUSED(dest);
    CPM_UNUSED(detail);
    return true;
}

/* Records the batch and refuses to start it: the flush completes it at once (RETRY). */
static cpm_err stub_start(struct cpm__ads_sink *s, struct cpm__ads_batch *b)
{
    CPM_UNUSED(s);
    CPM_ASSERT(starts.count < STARTS_MAX);
    starts.op[starts.count] = b->op;
    cpm_strlcpy(starts.lines[starts.count], b->lines.data, sizeof(starts.lines[0]));
    starts.count++;
    return CPM_ERR_INTERNAL;
}

static bool stub_judge(struct cpm__ads_sink *s, struct cpm__ads_batch *b,
                       const struct cpm_http_answer *a, struct cpm_sink_result *r)
{
    CPM_UNUSED(s);
    CPM_UNUSED(b);
    CPM_UNUSED(a);
    CPM_UNUSED(r);
    fail_msg("no request is ever started");
    return true;
}

static const struct cpm__ads_vendor stub = {
    .kind = "stub_ads",
    .hash_name = "MD5",
    .hash = stub_hash,
    .check = stub_check,
    .start = stub_start,
    .judge = stub_judge,
};

static cpm_err phone_of(void *ctx, const char *subject_id, const char *type, char *out, size_t cap)
{
    CPM_UNUSED(ctx);
    assert_string_equal(type, "phone");
    const char *phone = strcmp(subject_id, "s-cn") == 0 || strcmp(subject_id, "s-dup") == 0
                            ? "+8613800138000"
                        : strcmp(subject_id, "s-cn2") == 0 ? "+8613900139000"
                        : strcmp(subject_id, "s-us") == 0  ? "+12025550100"
                                                           : NULL;
    if (phone == NULL)
        return CPM_ERR_NOT_FOUND;
    cpm_strlcpy(out, phone, cap);
    return CPM_OK;
}

static void on_done(void *ctx, unsigned lane, const struct cpm_sink_result *r)
{
    CPM_UNUSED(ctx);
    assert_true(lane < 8);
    assert_false(outcomes.done[lane]);
    outcomes.done[lane] = true;
    outcomes.r[lane] = *r;
    outcomes.count++;
}

static void *open_stub(unsigned lanes, int64_t interval_ms)
{
    static struct cpm_outbound_guard guard;
    struct cpm_sink_env env = {.guard = &guard,
                               .lanes = lanes,
                               .timeout_ms = 1000,
                               .identifier = phone_of,
                               .identifier_ctx = NULL};
    json_t *dest = json_pack("{s:s, s:s, s:s, s:s, s:I}", "endpoint", "http://127.0.0.1:9/api/",
                             "secret", "token", "account_id", "1", "audience_id", "2",
                             "batch_interval_ms", (json_int_t)interval_ms);
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    void *sink = NULL;
    assert_int_equal(cpm__ads_open(&stub, dest, &env, &sink, &detail), CPM_OK);
    assert_string_equal(cpm__ads_config_get(sink)->endpoint, "http://127.0.0.1:9/api");
    json_decref(dest);
    memset(&starts, 0, sizeof(starts));
    memset(&outcomes, 0, sizeof(outcomes));
    return sink;
}

static void send_one(void *sink, unsigned lane, int64_t seq, const char *subject,
                     const char *action)
{
    struct cpm_outbound_event e = {.seq = seq,
                                   .id = "evt_x",
                                   .type = "consent.given",
                                   .subject_id = subject,
                                   .purpose = "ads.personalised",
                                   .action = action};
    assert_int_equal(cpm__ads_send(sink, lane, &e), CPM_OK);
}

static int64_t now_ms(void)
{
    return cpm_clock_monotonic_ns() / 1000000;
}

static void test_sink_interval(void **state)
{
    CPM_UNUSED(state);
    void *sink = open_stub(4, 200);
    send_one(sink, 0, 1, "s-cn", "audience_append");
    send_one(sink, 1, 2, "s-none", "audience_append");
    send_one(sink, 2, 3, "s-us", "audience_reduce");
    send_one(sink, 3, 4, "s-cn2", "audience_reduce");
    cpm__ads_poll(sink, 0, on_done, NULL);
    assert_int_equal(outcomes.count, 2); /* the two with nothing to do, at once */
    assert_int_equal(outcomes.r[1].outcome, CPM_SINK_DELIVERED);
    assert_string_equal(outcomes.r[1].detail, "no phone for this subject: nothing to do");
    assert_int_equal(outcomes.r[2].outcome, CPM_SINK_DELIVERED);
    assert_non_null(strstr(outcomes.r[2].detail, "not a mainland China mobile number"));
    assert_null(strstr(outcomes.r[2].detail, "2025550100"));
    assert_int_equal(starts.count, 0);
    /* a long poll ends at the flush, not at its timeout */
    int64_t t0 = now_ms();
    cpm__ads_poll(sink, 5000, on_done, NULL);
    int64_t waited = now_ms() - t0;
    assert_true(waited >= 150 && waited < 1500);
    assert_int_equal(starts.count, 2);
    assert_int_equal(starts.op[0], CPM__ADS_REDUCE);
    char md5[33], line[40];
    cpm__ads_md5_hex("13900139000", 11, md5);
    snprintf(line, sizeof(line), "%s\n", md5);
    assert_string_equal(starts.lines[0], line);
    assert_int_equal(starts.op[1], CPM__ADS_APPEND);
    assert_string_equal(starts.lines[1], MD5_13800138000 "\n");
    assert_int_equal(outcomes.count, 4);
    assert_int_equal(outcomes.r[0].outcome, CPM_SINK_RETRY);
    assert_string_equal(outcomes.r[0].detail, "APPEND batch not sent: internal error");
    assert_int_equal(outcomes.r[3].outcome, CPM_SINK_RETRY);
    assert_string_equal(outcomes.r[3].detail, "REDUCE batch not sent: internal error");
    cpm__ads_close(sink);
}

static void test_sink_full(void **state)
{
    CPM_UNUSED(state);
    void *sink = open_stub(2, 3600000);
    send_one(sink, 0, 1, "s-cn", "audience_append");
    cpm__ads_poll(sink, 0, on_done, NULL);
    assert_int_equal(starts.count, 0);
    send_one(sink, 1, 2, "s-cn2", "audience_append");
    cpm__ads_poll(sink, 0, on_done, NULL); /* every lane waits: the batch is full */
    assert_int_equal(starts.count, 1);
    assert_int_equal(outcomes.count, 2);
    cpm__ads_close(sink);
}

static void test_sink_same_id_order(void **state)
{
    CPM_UNUSED(state);
    void *sink = open_stub(3, 100);
    send_one(sink, 0, 10, "s-cn", "audience_append");
    send_one(sink, 1, 11, "s-dup", "audience_reduce"); /* another subject, the same phone */
    send_one(sink, 2, 12, "s-cn2", "audience_append");
    for (int i = 0; i < 10 && outcomes.count < 3; i++)
        cpm__ads_poll(sink, 500, on_done, NULL);
    assert_int_equal(outcomes.count, 3);
    assert_int_equal(starts.count, 2);
    char md5[33], lines[80];
    cpm__ads_md5_hex("13900139000", 11, md5);
    snprintf(lines, sizeof(lines), "%s\n%s\n", MD5_13800138000, md5);
    assert_int_equal(starts.op[0], CPM__ADS_APPEND); /* seq 10 first, with seq 12 */
    assert_string_equal(starts.lines[0], lines);
    assert_int_equal(starts.op[1], CPM__ADS_REDUCE); /* then seq 11, in the next flush */
    assert_string_equal(starts.lines[1], MD5_13800138000 "\n");
    cpm__ads_close(sink);
}

static void test_sink_unknown_action(void **state)
{
    CPM_UNUSED(state);
    void *sink = open_stub(2, 100);
    send_one(sink, 0, 1, "s-cn", "tag_add");
    send_one(sink, 1, 2, "", "audience_append");
    cpm__ads_poll(sink, 0, on_done, NULL);
    assert_int_equal(outcomes.r[0].outcome, CPM_SINK_REJECTED);
    assert_string_equal(outcomes.r[0].detail,
                        "action 'tag_add' is not one a stub_ads destination takes");
    assert_int_equal(outcomes.r[1].outcome, CPM_SINK_DELIVERED);
    assert_int_equal(starts.count, 0);
    cpm__ads_close(sink);
}

static void test_open_refuses(void **state)
{
    CPM_UNUSED(state);
    static struct cpm_outbound_guard guard;
    struct cpm_sink_env env = {.guard = &guard, .lanes = 2, .timeout_ms = 1000};
    json_t *dest =
        json_pack("{s:s, s:s, s:s}", "endpoint", "http://x", "secret", "t", "account_id", "1");
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    void *sink = NULL;
    assert_int_equal(cpm__ads_open(&stub, dest, &env, &sink, &detail), CPM_ERR_VALIDATION);
    assert_string_equal(detail.faults[0].field, "audience_id");
    assert_null(sink);
    json_decref(dest);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mobile),
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_zip),
        cmocka_unit_test(test_dmp_line),
        cmocka_unit_test(test_answer),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_sink_interval),
        cmocka_unit_test(test_sink_full),
        cmocka_unit_test(test_sink_same_id_order),
        cmocka_unit_test(test_sink_unknown_action),
        cmocka_unit_test(test_open_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
