/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rights.c — rights requests (PIPL Art. 44–50): the names of their types
 * and statuses, the forward-only moves between statuses, the due date in
 * working days, the bodies that file and change a request, and their
 * ledger leaves. The field tables open the file.
 */
#include "core/common.h"

#include "core/clock.h"
#include "domain/rights.h"
#include "domain/schema.h"
#include "domain/tz.h"

#define DAY_MS ((int64_t)86400000)

static const char *const type_names[] = {"access",   "portability", "correction",
                                         "deletion", "explanation", NULL};
static const char *const status_names[] = {"received", "in_progress", "completed", "refused", NULL};
/* What an operator may set: never back to received. */
static const char *const change_names[] = {"in_progress", "completed", "refused", NULL};

_Static_assert(CPM_ARRAY_LEN(type_names) == CPM_RIGHTS_TYPE_COUNT + 1, "one name per type");
_Static_assert(CPM_ARRAY_LEN(status_names) == CPM_RIGHTS_STATUS_COUNT + 1, "one name per status");

/* clang-format off */
static const struct cpm__schema_field input_fields[] = {
    {.name = "type", .type = CPM__SCHEMA_ENUM, .required = true, .values = type_names},
    {.name = "property", .type = CPM__SCHEMA_SLUG},
    {.name = "note", .type = CPM__SCHEMA_STRING, .bytes_max = CPM_RIGHTS_TEXT_BYTES_MAX},
};
static const struct cpm__schema input_schema = CPM__SCHEMA(input_fields, NULL);

static const struct cpm__schema_field change_fields[] = {
    {.name = "status", .type = CPM__SCHEMA_ENUM, .required = true, .values = change_names},
    {.name = "reply", .type = CPM__SCHEMA_STRING, .bytes_min = 1,
     .bytes_max = CPM_RIGHTS_TEXT_BYTES_MAX},
    {.name = "reason", .type = CPM__SCHEMA_STRING, .bytes_min = 1,
     .bytes_max = CPM_RIGHTS_TEXT_BYTES_MAX},
};
static const struct cpm__schema change_schema = CPM__SCHEMA(change_fields, NULL);
/* clang-format on */

const char *cpm_rights_type_name(enum cpm_rights_type t)
{
    CPM_ASSERT((unsigned)t < CPM_RIGHTS_TYPE_COUNT);
    return type_names[t];
}

const char *cpm_rights_status_name(enum cpm_rights_status s)
{
    CPM_ASSERT((unsigned)s < CPM_RIGHTS_STATUS_COUNT);
    return status_names[s];
}

/* The index of name in names (NULL-terminated), or -1. */
static int name_index(const char *const *names, const char *name)
{
    for (int i = 0; name != NULL && names[i] != NULL; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

bool cpm_rights_type_parse(const char *name, enum cpm_rights_type *out)
{
    int i = name_index(type_names, name);
    if (i >= 0)
        *out = (enum cpm_rights_type)i;
    return i >= 0;
}

bool cpm_rights_status_parse(const char *name, enum cpm_rights_status *out)
{
    int i = name_index(status_names, name);
    if (i >= 0)
        *out = (enum cpm_rights_status)i;
    return i >= 0;
}

bool cpm_rights_status_open(enum cpm_rights_status s)
{
    return s == CPM_RIGHTS_RECEIVED || s == CPM_RIGHTS_IN_PROGRESS;
}

bool cpm_rights_transition_allowed(enum cpm_rights_status from, enum cpm_rights_status to)
{
    if (!cpm_rights_status_open(from))
        return false;
    return to == CPM_RIGHTS_COMPLETED || to == CPM_RIGHTS_REFUSED ||
           (from == CPM_RIGHTS_RECEIVED && to == CPM_RIGHTS_IN_PROGRESS);
}

/* ---- the due date ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return q - (a % b != 0 && (a < 0) != (b < 0));
}

/* 0 = Monday … 6 = Sunday of a day counted from 1970-01-01 (a Thursday). */
static int weekday(int64_t day)
{
    return (int)((day % 7 + 7 + 3) % 7);
}

/* The UTC instant of local midnight starting day in tz (offset looked up twice: near a change). */
static int64_t local_midnight_utc(const struct cpm_tz *tz, int64_t day)
{
    int64_t local_ms = day * DAY_MS;
    int64_t guess = local_ms - (int64_t)cpm_tz_offset_s(tz, local_ms) * 1000;
    return local_ms - (int64_t)cpm_tz_offset_s(tz, guess) * 1000;
}

int64_t cpm_rights_due_ms(const struct cpm_tz *tz, int64_t received_ms, int working_days)
{
    CPM_ASSERT(tz != NULL && working_days >= 1 && working_days <= CPM_RIGHTS_WORKING_DAYS_MAX);
    int64_t local_ms = received_ms + (int64_t)cpm_tz_offset_s(tz, received_ms) * 1000;
    int64_t day = floor_div(local_ms, DAY_MS);
    for (int counted = 0; counted < working_days;)
        if (weekday(++day) < 5)
            counted++;
    return local_midnight_utc(tz, day + 1) - 1;
}

/* ---- bodies ---- */

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

cpm_err cpm_rights_input_parse(json_t *body, struct cpm_rights_input *out,
                               struct cpm_detail *detail)
{
    /* A form may send an empty note as null or "": both mean none. */
    if (json_is_object(body) && json_is_null(json_object_get(body, "note")))
        json_object_del(body, "note");
    cpm_err err = cpm__schema_validate(&input_schema, body, "", detail);
    if (err != CPM_OK)
        return err;
    memset(out, 0, sizeof(*out));
    bool known = cpm_rights_type_parse(str(body, "type"), &out->type);
    CPM_ASSERT(known); /* the schema checked the enum */
    out->property = str(body, "property");
    const json_t *note = json_object_get(body, "note");
    if (note != NULL && json_string_length(note) > 0) {
        out->note = json_string_value(note);
        out->note_len = json_string_length(note);
    }
    return CPM_OK;
}

cpm_err cpm_rights_change_parse(json_t *body, struct cpm_rights_change *out,
                                struct cpm_detail *detail)
{
    cpm_err err = cpm__schema_validate(&change_schema, body, "", detail);
    if (err != CPM_OK)
        return err;
    memset(out, 0, sizeof(*out));
    bool known = cpm_rights_status_parse(str(body, "status"), &out->status);
    CPM_ASSERT(known); /* the schema checked the enum */
    out->reply = str(body, "reply");
    out->reason = str(body, "reason");
    if (out->status == CPM_RIGHTS_REFUSED && out->reason == NULL)
        cpm_detail_add(detail, "reason",
                       "is required to refuse: the person must be told why (PIPL Art. 50)");
    else if (out->status != CPM_RIGHTS_REFUSED && out->reason != NULL)
        cpm_detail_add(detail, "reason", "only when refusing (status refused); use reply");
    else
        return CPM_OK;
    return CPM_ERR_VALIDATION;
}

/* ---- leaves ---- */

static int set_string(json_t *leaf, const char *key, const char *value)
{
    CPM_ASSERT(value != NULL);
    return json_object_set_new(leaf, key, json_string(value));
}

char *cpm_rights_leaf(const struct cpm_rights_leaf_info *info, size_t *len)
{
    CPM_ASSERT(info->type != NULL && info->event_id != NULL && info->subject_pseudonym != NULL &&
               info->request_id != NULL && info->key != NULL);
    bool requested = strcmp(info->type, CPM_EVENT_RIGHTS_REQUESTED) == 0;
    CPM_ASSERT(requested || strcmp(info->type, CPM_EVENT_RIGHTS_UPDATED) == 0);
    char time_text[CPM_TIME_TEXT_BYTES], due_text[CPM_TIME_TEXT_BYTES];
    cpm_time_format(info->time_ms, time_text, sizeof(time_text));
    cpm_time_format(info->due_ms, due_text, sizeof(due_text));
    json_t *leaf =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "v", 1, "id", info->event_id, "type",
                  info->type, "time", time_text, "subject", info->subject_pseudonym, "request",
                  info->request_id, "request_type", cpm_rights_type_name(info->request_type),
                  "status", cpm_rights_status_name(info->status));
    int rc = leaf != NULL ? 0 : -1;
    if (rc == 0 && !requested)
        rc = set_string(leaf, "previous", cpm_rights_status_name(info->previous));
    rc = rc ? rc : set_string(leaf, "due", due_text);
    if (rc == 0 && requested)
        rc = set_string(leaf, "property", info->property);
    if (rc == 0 && requested && info->note_sha256 != NULL)
        rc = set_string(leaf, "note_sha256", info->note_sha256);
    if (rc == 0 && requested && info->guardian != NULL)
        rc = set_string(leaf, "guardian", info->guardian);
    rc = rc ? rc : set_string(leaf, "key", info->key);
    char *text = rc == 0 ? json_dumps(leaf, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(leaf);
    if (text != NULL)
        *len = strlen(text);
    return text;
}
