/* SPDX-License-Identifier: Apache-2.0 */
/*
 * subject.c — the bodies that set a subject's age status and link its
 * identifiers and guardians, and the leaves those changes (and erasure)
 * become in the ledger. The field tables open the file.
 */
#include "core/common.h"

#include "core/clock.h"
#include "domain/schema.h"
#include "domain/subject.h"

static const char *const age_statuses[] = {"adult", "minor_14_17", CPM_AGE_STATUS_CHILD_UNDER_14,
                                           "unknown", NULL};
static const char *const relations[] = {"parent", "legal_guardian", NULL};

#define IDENTIFIER_TYPE_BYTES_MAX  31  /* "wecom_external_userid" with room */
#define IDENTIFIER_VALUE_BYTES_MAX 320 /* before trimming; normalised values are shorter */

static const char *subject_id_check(const char *s)
{
    return cpm_subject_id_valid(s) ? NULL
                                   : "a subject id is 1–128 printable ASCII characters without "
                                     "spaces or '/'";
}

/* clang-format off */
static const struct cpm__schema_field age_fields[] = {
    {.name = "age_status", .type = CPM__SCHEMA_ENUM, .required = true, .values = age_statuses},
};
static const struct cpm__schema age_schema = CPM__SCHEMA(age_fields, NULL);

static const struct cpm__schema_field identity_fields[] = {
    {.name = "type", .type = CPM__SCHEMA_STRING, .required = true, .bytes_min = 1,
     .bytes_max = IDENTIFIER_TYPE_BYTES_MAX},
    {.name = "value", .type = CPM__SCHEMA_STRING, .required = true, .bytes_min = 1,
     .bytes_max = IDENTIFIER_VALUE_BYTES_MAX},
};
static const struct cpm__schema identity_schema = CPM__SCHEMA(identity_fields, NULL);

static const struct cpm__schema_field guardian_fields[] = {
    {.name = "guardian_id", .type = CPM__SCHEMA_STRING, .required = true, .bytes_min = 1,
     .bytes_max = CPM_SUBJECT_ID_BYTES_MAX, .check = subject_id_check},
    {.name = "relation", .type = CPM__SCHEMA_ENUM, .required = true, .values = relations},
};
static const struct cpm__schema guardian_schema = CPM__SCHEMA(guardian_fields, NULL);
/* clang-format on */

bool cpm_subject_id_valid(const char *id)
{
    size_t n = strlen(id);
    bool ok = n > 0 && n <= CPM_SUBJECT_ID_BYTES_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = id[i] > ' ' && id[i] <= '~' && id[i] != '/';
    return ok && strcmp(id, CPM_SUBJECT_ME) != 0;
}

bool cpm_age_status_valid(const char *status)
{
    for (size_t i = 0; status != NULL && age_statuses[i] != NULL; i++)
        if (strcmp(status, age_statuses[i]) == 0)
            return true;
    return false;
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

cpm_err cpm_subject_age_parse(json_t *body, const char **age_status, struct cpm_detail *detail)
{
    cpm_err err = cpm__schema_validate(&age_schema, body, "", detail);
    if (err == CPM_OK)
        *age_status = str(body, "age_status");
    return err;
}

cpm_err cpm_identity_parse(json_t *body, struct cpm_identity_input *out, struct cpm_detail *detail)
{
    cpm_err err = cpm__schema_validate(&identity_schema, body, "", detail);
    if (err == CPM_OK) {
        out->type = str(body, "type");
        out->value = str(body, "value");
    }
    return err;
}

cpm_err cpm_guardian_parse(json_t *body, const char *child_id, struct cpm_guardian_input *out,
                           struct cpm_detail *detail)
{
    cpm_err err = cpm__schema_validate(&guardian_schema, body, "", detail);
    if (err != CPM_OK)
        return err;
    out->guardian_id = str(body, "guardian_id");
    out->relation = str(body, "relation");
    if (strcmp(out->guardian_id, child_id) == 0) {
        cpm_detail_add(detail, "guardian_id", "a subject cannot be its own guardian");
        return CPM_ERR_VALIDATION;
    }
    return CPM_OK;
}

/* The type's own keys, appended in a fixed order. */
static int add_own_keys(json_t *leaf, const struct cpm_subject_leaf_info *info)
{
    const char *t = info->type;
    if (strcmp(t, CPM_EVENT_AGE_STATUS_SET) == 0) {
        CPM_ASSERT(cpm_age_status_valid(info->age_status));
        return json_object_set_new(leaf, "age_status", json_string(info->age_status));
    }
    if (strcmp(t, CPM_EVENT_IDENTITY_LINKED) == 0) {
        CPM_ASSERT(info->identifier_type != NULL && info->identifier_hash != NULL);
        int rc = json_object_set_new(leaf, "identifier_type", json_string(info->identifier_type));
        return rc ? rc
                  : json_object_set_new(leaf, "identifier_hash",
                                        json_string(info->identifier_hash));
    }
    if (strcmp(t, CPM_EVENT_GUARDIAN_LINKED) == 0) {
        CPM_ASSERT(info->guardian_pseudonym != NULL && info->relation != NULL);
        int rc = json_object_set_new(leaf, "guardian", json_string(info->guardian_pseudonym));
        return rc ? rc : json_object_set_new(leaf, "relation", json_string(info->relation));
    }
    if (strcmp(t, CPM_EVENT_NOTICE_DISPLAYED) == 0) {
        CPM_ASSERT(json_is_object(info->display));
        return json_object_set_new(leaf, "display", json_deep_copy(info->display));
    }
    CPM_ASSERT(strcmp(t, CPM_EVENT_SUBJECT_ERASED) == 0);
    return 0;
}

char *cpm_subject_leaf(const struct cpm_subject_leaf_info *info, size_t *len)
{
    CPM_ASSERT(info->type != NULL && info->event_id != NULL && info->subject_pseudonym != NULL);
    char time_text[CPM_TIME_TEXT_BYTES];
    cpm_time_format(info->time_ms, time_text, sizeof(time_text));
    json_t *leaf = json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", 1, "id", info->event_id, "type",
                             info->type, "time", time_text, "subject", info->subject_pseudonym);
    char *text = NULL;
    if (leaf != NULL && add_own_keys(leaf, info) == 0)
        text = json_dumps(leaf, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(leaf);
    if (text != NULL)
        *len = strlen(text);
    return text;
}

void cpm_phone_mask(const char *phone, char *out, size_t cap)
{
    CPM_ASSERT(cap >= 24);
    size_t n = phone[0] == '+' ? strlen(phone + 1) : 0;
    bool ok = n >= 8 && n <= 15;
    for (size_t i = 1; ok && i <= n; i++)
        ok = phone[i] >= '0' && phone[i] <= '9';
    out[0] = '\0';
    if (!ok)
        return;
    if (n == 13 && strncmp(phone, "+861", 4) == 0) {
        snprintf(out, cap, "+86 %.3s****%s", phone + 3, phone + 10);
        return;
    }
    size_t o = 0;
    out[o++] = '+';
    for (size_t i = 1; i <= n; i++)
        out[o++] = i <= 2 || i > n - 4 ? phone[i] : '*';
    out[o] = '\0';
}
