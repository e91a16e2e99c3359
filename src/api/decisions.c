/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decisions.c — GET /v1/decide (one question in the query string) and
 * POST /v1/decide (up to CPM_DECIDE_BATCH_MAX questions in a body): may we
 * contact this subject for this purpose, on this channel, about this topic,
 * at this time? Answered from the in-memory index; rules in docs/DECISIONS.md.
 */
#include "core/common.h"

#include "api/api.h"
#include "api/support.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/fmt.h"
#include "cpm/decide.h"
#include "domain/decide.h"
#include "domain/subject.h"
#include "http/app.h"

#define CPM_DECIDE_BATCH_MAX 1000
#define ANSWER_BYTES_MAX     1024 /* one answer: a 128-byte id escaped, every reason, two times */

struct question {
    const char *subject, *purpose, *channel, *topic, *recipient, *at;
};

/* Appends s as a JSON string: ids are printable ASCII. */
static void put_json_string(struct cpm_fmt *f, const char *s)
{
    cpm_fmt_mem(f, "\"", 1);
    for (size_t n; *s != '\0'; s += n) {
        n = strcspn(s, "\"\\");
        cpm_fmt_mem(f, s, n);
        if (s[n] != '\0') {
            cpm_fmt_mem(f, "\\", 1);
            cpm_fmt_mem(f, s + n, 1);
            n++;
        }
    }
    cpm_fmt_mem(f, "\"", 1);
}

/* Appends the time at ms as a JSON string. */
static void put_time(struct cpm_fmt *f, int64_t ms)
{
    char time[CPM_TIME_TEXT_BYTES];
    cpm_time_format(ms, time, sizeof(time));
    cpm_fmt_mem(f, "\"", 1);
    cpm_fmt_str(f, time);
    cpm_fmt_mem(f, "\"", 1);
}

/*
 * One answer as JSON text, written by hand: the hot path of the decision
 * API spends its time here and not in a JSON library. Returns its length.
 */
static size_t answer_text(const struct question *q, const struct cpm_answer *a, int64_t at_ms,
                          char *out, size_t size)
{
    struct cpm_fmt f;
    const char *sep = "\"";
    cpm_fmt_init(&f, out, size);
    cpm_fmt_str(&f, "{\"subject\":");
    put_json_string(&f, q->subject);
    cpm_fmt_str(&f, ",\"purpose\":\"");
    cpm_fmt_str(&f, q->purpose);
    cpm_fmt_str(&f, a->allowed ? "\",\"allowed\":true,\"reasons\":["
                               : "\",\"allowed\":false,\"reasons\":[");
    for (unsigned i = 0; cpm_reason_name(i) != NULL; i++) {
        if (a->reasons & (1u << i)) {
            cpm_fmt_str(&f, sep);
            cpm_fmt_str(&f, cpm_reason_name(i));
            cpm_fmt_str(&f, "\"");
            sep = ",\"";
        }
    }
    cpm_fmt_str(&f, "],\"deciding_event\":");
    if (a->deciding_seq > 0)
        cpm_fmt_u64(&f, (uint64_t)a->deciding_seq, 0);
    else
        cpm_fmt_str(&f, "null");
    cpm_fmt_str(&f, ",\"next_allowed_at\":");
    if (a->next_allowed_ms)
        put_time(&f, a->next_allowed_ms);
    else
        cpm_fmt_str(&f, "null");
    cpm_fmt_str(&f, ",\"at\":");
    put_time(&f, at_ms);
    cpm_fmt_str(&f, "}");
    CPM_ASSERT(!f.cut); /* ANSWER_BYTES_MAX holds the longest answer */
    return f.len;
}

/* Checks q (faults under prefix) and decides it; NULL with faults in detail when invalid. */
static size_t decide(struct cpm_request *req, const struct question *q, const char *prefix,
                     struct cpm_detail *detail, cpm_err *err, char *out, size_t size)
{
    struct cpm_detail own;
    struct cpm_prepared prepared;
    struct cpm_answer answer;
    int64_t at_ms = cpm_clock_now_ms();
    char path[CPM_FIELD_PATH_BYTES_MAX];
    cpm_detail_init(&own);
    if (q->subject == NULL || !cpm_subject_id_valid(q->subject))
        cpm_detail_add(&own, "subject", q->subject ? "is not a subject id" : "is required");
    if (q->at != NULL && !cpm_time_parse(q->at, &at_ms))
        cpm_detail_add(&own, "at", "must be an RFC 3339 time such as 2026-05-01T12:00:00Z");
    *err = cpm_decider_prepare(req->app->decider, q->purpose, q->channel, q->topic, q->recipient,
                               &prepared, &own);
    if (*err == CPM_OK && own.count > 0)
        *err = CPM_ERR_VALIDATION;
    for (int i = 0; i < own.count; i++) {
        snprintf(path, sizeof(path), "%s%s", prefix, own.faults[i].field);
        cpm_detail_add(detail, path, "%s", own.faults[i].message);
    }
    if (*err != CPM_OK)
        return 0;
    cpm_decider_decide(req->app->decider, &prepared, q->subject, at_ms, &answer);
    return answer_text(q, &answer, at_ms, out, size);
}

void cpm_api_decide_get(struct cpm_request *req)
{
    struct question q = {
        .subject = cpm_request_query(req, "subject"),
        .purpose = cpm_request_query(req, "purpose"),
        .channel = cpm_request_query(req, "channel"),
        .topic = cpm_request_query(req, "topic"),
        .recipient = cpm_request_query(req, "recipient"),
        .at = cpm_request_query(req, "at"),
    };
    struct cpm_detail detail;
    cpm_err err;
    cpm_detail_init(&detail);
    char text[ANSWER_BYTES_MAX];
    size_t len = decide(req, &q, "", &detail, &err, text, sizeof(text));
    if (len == 0) {
        cpm_respond_problem(req, err, &detail);
        return;
    }
    cpm_respond_copy(req, 200, "application/json", text, len);
}

static const char *member(const json_t *obj, const char *key, struct cpm_detail *d,
                          const char *prefix)
{
    const json_t *v = json_object_get(obj, key);
    char path[CPM_FIELD_PATH_BYTES_MAX];
    snprintf(path, sizeof(path), "%s%s", prefix, key);
    if (v != NULL && !json_is_string(v))
        cpm_detail_add(d, path, "must be a string");
    return json_string_value(v);
}

void cpm_api_decide_post(struct cpm_request *req)
{
    json_t *body = cpm_request_json_object(req);
    const json_t *questions = json_object_get(body, "questions");
    struct cpm_detail detail;
    cpm_err err = CPM_OK;
    char prefix[48], one_text[ANSWER_BYTES_MAX], *text = NULL;
    struct cpm_fmt all;
    cpm_detail_init(&detail);
    if (body == NULL)
        goto out;
    if (!json_is_array(questions) || json_array_size(questions) == 0 ||
        json_array_size(questions) > CPM_DECIDE_BATCH_MAX) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "questions",
                          "must be an array of 1 to %d questions", CPM_DECIDE_BATCH_MAX);
        goto out;
    }
    size_t size = json_array_size(questions) * (ANSWER_BYTES_MAX + 1) + 32;
    text = cpm_malloc(size);
    if (text == NULL) {
        cpm_respond_problem(req, CPM_ERR_NOMEM, NULL);
        goto out;
    }
    cpm_fmt_init(&all, text, size);
    cpm_fmt_str(&all, "{\"answers\":[");
    for (size_t i = 0; i < json_array_size(questions); i++) {
        const json_t *item = json_array_get(questions, i);
        snprintf(prefix, sizeof(prefix), "questions[%zu].", i);
        struct question q = {.subject = member(item, "subject", &detail, prefix),
                             .purpose = member(item, "purpose", &detail, prefix),
                             .channel = member(item, "channel", &detail, prefix),
                             .topic = member(item, "topic", &detail, prefix),
                             .recipient = member(item, "recipient", &detail, prefix),
                             .at = member(item, "at", &detail, prefix)};
        cpm_err one = CPM_ERR_VALIDATION;
        if (!json_is_object(item)) {
            cpm_detail_add(&detail, prefix, "must be an object");
            continue;
        }
        if (i > 0)
            cpm_fmt_str(&all, ",");
        cpm_fmt_mem(&all, one_text,
                    decide(req, &q, prefix, &detail, &one, one_text, sizeof(one_text)));
        if (one != CPM_OK && one != CPM_ERR_VALIDATION)
            err = one;
    }
    cpm_fmt_str(&all, "]}");
    if (err == CPM_OK && detail.count > 0)
        err = CPM_ERR_VALIDATION;
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
    } else {
        cpm_respond_owned(req, 200, "application/json", text, all.len);
        text = NULL;
    }
out:
    cpm_free(text);
    json_decref(body);
}
