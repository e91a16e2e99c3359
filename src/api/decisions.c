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
#include "cpm/decide.h"
#include "domain/decide.h"
#include "domain/subject.h"
#include "http/app.h"

#define CPM_DECIDE_BATCH_MAX 1000
#define ANSWER_BYTES_MAX     1024 /* one answer: a 128-byte id escaped, every reason, two times */

struct question {
    const char *subject, *purpose, *channel, *topic, *recipient, *at;
};

/* Appends s to out (at *len, within size) as a JSON string: ids are printable ASCII. */
static void put_json_string(char *out, size_t size, size_t *len, const char *s)
{
    if (*len < size)
        out[(*len)++] = '"';
    for (; *s != '\0' && *len + 2 < size; s++) {
        if (*s == '"' || *s == '\\')
            out[(*len)++] = '\\';
        out[(*len)++] = *s;
    }
    if (*len < size)
        out[(*len)++] = '"';
}

/* Appends s to out (at *len, within size). */
static void put_str(char *out, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n < size) {
        memcpy(out + *len, s, n);
        *len += n;
    }
}

/*
 * One answer as JSON text, written by hand: the hot path of the decision
 * API spends its time here and not in a JSON library. Returns its length.
 */
static size_t answer_text(const struct question *q, const struct cpm_answer *a, int64_t at_ms,
                          char *out, size_t size)
{
    char time[CPM_TIME_TEXT_BYTES], seq[24];
    size_t len = 0;
    const char *sep = "\"";
    put_str(out, size, &len, "{\"subject\":");
    put_json_string(out, size, &len, q->subject);
    put_str(out, size, &len, ",\"purpose\":\"");
    put_str(out, size, &len, q->purpose);
    put_str(out, size, &len,
            a->allowed ? "\",\"allowed\":true,\"reasons\":["
                       : "\",\"allowed\":false,\"reasons\":[");
    for (unsigned i = 0; cpm_reason_name(i) != NULL; i++) {
        if (a->reasons & (1u << i)) {
            put_str(out, size, &len, sep);
            put_str(out, size, &len, cpm_reason_name(i));
            put_str(out, size, &len, "\"");
            sep = ",\"";
        }
    }
    snprintf(seq, sizeof(seq), "%lld", (long long)a->deciding_seq);
    put_str(out, size, &len, "],\"deciding_event\":");
    put_str(out, size, &len, a->deciding_seq ? seq : "null");
    put_str(out, size, &len, ",\"next_allowed_at\":");
    if (a->next_allowed_ms) {
        cpm_time_format(a->next_allowed_ms, time, sizeof(time));
        put_str(out, size, &len, "\"");
        put_str(out, size, &len, time);
        put_str(out, size, &len, "\"");
    } else {
        put_str(out, size, &len, "null");
    }
    cpm_time_format(at_ms, time, sizeof(time));
    put_str(out, size, &len, ",\"at\":\"");
    put_str(out, size, &len, time);
    put_str(out, size, &len, "\"}");
    return len;
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
    char *text = cpm_malloc(ANSWER_BYTES_MAX);
    size_t len = text != NULL ? decide(req, &q, "", &detail, &err, text, ANSWER_BYTES_MAX) : 0;
    if (len == 0) {
        cpm_free(text);
        cpm_respond_problem(req, text == NULL ? CPM_ERR_NOMEM : err, &detail);
        return;
    }
    cpm_respond_owned(req, 200, "application/json", text, len);
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
    char prefix[48], *text = NULL;
    size_t len = 0, size = 0;
    cpm_detail_init(&detail);
    if (body == NULL)
        goto out;
    if (!json_is_array(questions) || json_array_size(questions) == 0 ||
        json_array_size(questions) > CPM_DECIDE_BATCH_MAX) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "questions",
                          "must be an array of 1 to %d questions", CPM_DECIDE_BATCH_MAX);
        goto out;
    }
    size = json_array_size(questions) * (ANSWER_BYTES_MAX + 1) + 32;
    text = cpm_malloc(size);
    if (text == NULL) {
        cpm_respond_problem(req, CPM_ERR_NOMEM, NULL);
        goto out;
    }
    put_str(text, size, &len, "{\"answers\":[");
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
            put_str(text, size, &len, ",");
        len += decide(req, &q, prefix, &detail, &one, text + len, ANSWER_BYTES_MAX);
        if (one != CPM_OK && one != CPM_ERR_VALIDATION)
            err = one;
    }
    put_str(text, size, &len, "]}");
    if (err == CPM_OK && detail.count > 0)
        err = CPM_ERR_VALIDATION;
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
    } else {
        cpm_respond_owned(req, 200, "application/json", text, len);
        text = NULL;
    }
out:
    cpm_free(text);
    json_decref(body);
}
