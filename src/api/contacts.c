/* SPDX-License-Identifier: Apache-2.0 */
/*
 * contacts.c — POST /v1/subjects/{id}/contacts: a send to a person is
 * recorded so frequency caps can count it. With "reserve": true it is
 * decide-and-reserve: the send is recorded only if the decision allows it,
 * and the decision is taken on the writer thread counting the sends already
 * in the same group commit, so two marketing workers cannot both take the
 * last slot of a cap. Sends are operational records (the contacts table),
 * not ledger events.
 */
#include "core/common.h"

#include <stdlib.h>

#include "api/api.h"
#include "api/support.h"
#include "core/clock.h"
#include "cpm/decide.h"
#include "domain/decide.h"
#include "domain/schema.h"
#include "http/app.h"
#include "index/index.h"
#include "store/writer.h"

static const struct cpm__schema_field contact_fields[] = {
    {.name = "channel", .type = CPM__SCHEMA_ENUM, .required = true, .values = cpm__channel_names},
    {.name = "purpose", .type = CPM__SCHEMA_PURPOSE_ID, .required = true},
    {.name = "topic", .type = CPM__SCHEMA_SLUG},
    {.name = "at", .type = CPM__SCHEMA_STRING, .bytes_max = 64},
    {.name = "reserve", .type = CPM__SCHEMA_BOOL, .dflt = "false"},
};
static const struct cpm__schema contact_schema = CPM__SCHEMA(contact_fields, NULL);

struct reservation {
    struct cpm_decider *decider;
    struct cpm_prepared prepared;
    const char *subject_id;
    int64_t at_ms;
    struct cpm_answer answer;
};

static int cmp_ms(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* On the writer thread: decides counting the sends already in this batch. */
static bool admit(struct cpm_write_request *wr, const struct cpm_contact *pending, size_t count)
{
    struct reservation *r = wr->ctx;
    int64_t extra[CPM_INDEX_SENDS_MERGE_MAX];
    size_t n = 0;
    for (size_t i = 0; i < count && n < CPM_INDEX_SENDS_MERGE_MAX; i++)
        if (pending[i].channel == r->prepared.channel &&
            strcmp(pending[i].subject_id, r->subject_id) == 0)
            extra[n++] = pending[i].time_ms;
    qsort(extra, n, sizeof(extra[0]), cmp_ms);
    cpm_decider_decide_with(r->decider, &r->prepared, r->subject_id, r->at_ms, extra, n,
                            &r->answer);
    return r->answer.allowed;
}

static json_t *reasons_json(uint32_t reasons)
{
    json_t *list = json_array();
    for (unsigned i = 0; list != NULL && cpm_reason_name(i) != NULL; i++)
        if (reasons & (1u << i))
            json_array_append_new(list, json_string(cpm_reason_name(i)));
    return list;
}

static void answer(struct cpm_request *req, bool recorded, const struct reservation *r)
{
    if (r == NULL) {
        cpm_respond_json(req, 201, json_pack("{s:b}", "recorded", true));
        return;
    }
    cpm_respond_json(
        req, recorded ? 201 : 200,
        json_pack("{s:b, s:b, s:o, s:o, s:o}", "recorded", recorded, "allowed", r->answer.allowed,
                  "reasons", reasons_json(r->answer.reasons), "deciding_event",
                  r->answer.deciding_seq ? json_integer(r->answer.deciding_seq) : json_null(),
                  "next_allowed_at", cpm_api_time(r->answer.next_allowed_ms)));
}

/* Validates body and the subject; fills contact and r; false when answered. */
static bool parse(struct cpm_request *req, const char *id, json_t *body,
                  struct cpm_contact *contact, struct reservation *r)
{
    struct cpm_detail detail;
    struct cpm_subject subject;
    cpm_detail_init(&detail);
    cpm_err err = cpm__schema_validate(&contact_schema, body, "", &detail);
    const char *at = json_string_value(json_object_get(body, "at"));
    r->at_ms = cpm_clock_now_ms();
    if (at != NULL && !cpm_time_parse(at, &r->at_ms))
        cpm_detail_add(&detail, "at", "must be an RFC 3339 time such as 2026-05-01T12:00:00Z");
    if (err == CPM_OK && detail.count == 0)
        err = cpm_decider_prepare(
            req->app->decider, json_string_value(json_object_get(body, "purpose")),
            json_string_value(json_object_get(body, "channel")),
            json_string_value(json_object_get(body, "topic")), NULL, &r->prepared, &detail);
    if (err != CPM_OK || detail.count > 0) {
        cpm_respond_problem(req, err != CPM_OK ? err : CPM_ERR_VALIDATION, &detail);
        return false;
    }
    err = req->app->store->ops->subject_get(req->app->store, id, &subject);
    if (err != CPM_OK) {
        cpm_api_respond_store_error(req, err, "subject", id);
        return false;
    }
    if (subject.erased_ms != 0) {
        cpm_respond_error(req, CPM_ERR_CONFLICT, NULL, "subject '%s' was erased", id);
        return false;
    }
    cpm_strlcpy(contact->subject_id, id, sizeof(contact->subject_id));
    contact->channel = (uint8_t)r->prepared.channel;
    cpm_strlcpy(contact->purpose, json_string_value(json_object_get(body, "purpose")),
                sizeof(contact->purpose));
    contact->time_ms = r->at_ms;
    r->decider = req->app->decider;
    r->subject_id = contact->subject_id;
    return true;
}

void cpm_api_contacts_record(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    if (!cpm_api_subject_id_checked(req, id))
        return;
    json_t *body = cpm_request_json_object(req);
    struct cpm_contact contact = {0};
    struct reservation r = {0};
    if (body == NULL || !parse(req, id, body, &contact, &r))
        goto out;
    bool reserve = json_is_true(json_object_get(body, "reserve"));
    struct cpm_write_request wr = {.contact = &contact, .admit = reserve ? admit : NULL, .ctx = &r};
    cpm_err err = cpm_writer_submit(req->app->writer, &wr);
    if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "the send to '%s' could not be recorded", id);
    else
        answer(req, wr.admitted, reserve ? &r : NULL);
out:
    json_decref(body);
}
