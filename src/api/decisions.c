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
#include "core/clock.h"
#include "cpm/decide.h"
#include "domain/decide.h"
#include "domain/subject.h"
#include "http/app.h"

#define CPM_DECIDE_BATCH_MAX 1000

struct question {
    const char *subject, *purpose, *channel, *topic, *recipient, *at;
};

static json_t *answer_json(const struct question *q, const struct cpm_answer *a, int64_t at_ms)
{
    json_t *reasons = json_array();
    for (unsigned i = 0; reasons != NULL && cpm_reason_name(i) != NULL; i++)
        if (a->reasons & (1u << i))
            json_array_append_new(reasons, json_string(cpm_reason_name(i)));
    return json_pack("{s:s, s:s, s:b, s:o, s:o, s:o, s:o}", "subject", q->subject, "purpose",
                     q->purpose, "allowed", a->allowed, "reasons", reasons, "deciding_event",
                     a->deciding_seq ? json_integer(a->deciding_seq) : json_null(),
                     "next_allowed_at", cpm_api_time(a->next_allowed_ms), "at",
                     cpm_api_time(at_ms));
}

/* Checks q (faults under prefix) and decides it; NULL with faults in detail when invalid. */
static json_t *decide(struct cpm_request *req, const struct question *q, const char *prefix,
                      struct cpm_detail *detail, cpm_err *err)
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
        return NULL;
    cpm_decider_decide(req->app->decider, &prepared, q->subject, at_ms, &answer);
    return answer_json(q, &answer, at_ms);
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
    json_t *answer = decide(req, &q, "", &detail, &err);
    if (answer == NULL)
        cpm_respond_problem(req, err == CPM_OK ? CPM_ERR_NOMEM : err, &detail);
    else
        cpm_respond_json(req, 200, answer);
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
    json_t *body = cpm_request_json_object(req), *answers = json_array();
    const json_t *questions = json_object_get(body, "questions");
    struct cpm_detail detail;
    cpm_err err = CPM_OK;
    char prefix[48];
    cpm_detail_init(&detail);
    if (body == NULL)
        goto out;
    if (!json_is_array(questions) || json_array_size(questions) == 0 ||
        json_array_size(questions) > CPM_DECIDE_BATCH_MAX) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "questions",
                          "must be an array of 1 to %d questions", CPM_DECIDE_BATCH_MAX);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(questions) && answers != NULL; i++) {
        const json_t *item = json_array_get(questions, i);
        snprintf(prefix, sizeof(prefix), "questions[%zu].", i);
        struct question q = {.subject = member(item, "subject", &detail, prefix),
                             .purpose = member(item, "purpose", &detail, prefix),
                             .channel = member(item, "channel", &detail, prefix),
                             .topic = member(item, "topic", &detail, prefix),
                             .recipient = member(item, "recipient", &detail, prefix),
                             .at = member(item, "at", &detail, prefix)};
        cpm_err one;
        json_t *a = json_is_object(item) ? decide(req, &q, prefix, &detail, &one) : NULL;
        if (!json_is_object(item))
            cpm_detail_add(&detail, prefix, "must be an object");
        if (a != NULL)
            json_array_append_new(answers, a);
        else if (json_is_object(item) && one != CPM_ERR_VALIDATION)
            err = one;
    }
    if (err == CPM_OK && detail.count > 0)
        err = CPM_ERR_VALIDATION;
    if (answers == NULL)
        err = CPM_ERR_NOMEM;
    if (err != CPM_OK)
        cpm_respond_problem(req, err, &detail);
    else
        cpm_respond_json(req, 200, json_pack("{s:O}", "answers", answers));
out:
    json_decref(answers);
    json_decref(body);
}
