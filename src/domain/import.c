/* SPDX-License-Identifier: Apache-2.0 */
/*
 * import.c — the columns of a consent import and the checks on one row
 * (import.h). The shape is a schema table, like the API's bodies, so a
 * row's faults read like the API's; the rules that need "now" or two
 * columns together follow it.
 */
#include "core/common.h"

#include "core/clock.h"
#include "domain/import.h"
#include "domain/schema.h"
#include "domain/subject.h"

static const char *const column_names[CPM_IMPORT_COLUMNS] = {
    [CPM_IMPORT_SUBJECT] = "subject",
    [CPM_IMPORT_PURPOSE] = "purpose",
    [CPM_IMPORT_DECISION] = "decision",
    [CPM_IMPORT_TIME] = "time",
    [CPM_IMPORT_PROPERTY] = "property",
    [CPM_IMPORT_CHANNEL] = "channel",
    [CPM_IMPORT_LOCALE] = "locale",
    [CPM_IMPORT_NOTICE_ID] = "notice_id",
    [CPM_IMPORT_NOTICE_VERSION] = "notice_version",
    [CPM_IMPORT_RECIPIENT] = "recipient",
    [CPM_IMPORT_EXPIRES_AT] = "expires_at",
    [CPM_IMPORT_SOURCE_ID] = "source_id",
    [CPM_IMPORT_SEPARATE] = "separate",
    [CPM_IMPORT_REGION] = "region",
};

static const char *const decisions[] = {"given", "refused", "withdrawn", NULL};

static const char *subject_check(const char *s)
{
    return cpm_subject_id_valid(s) ? NULL
                                   : "a subject id is 1–" CPM_STRINGIFY(
                                         CPM_SUBJECT_ID_BYTES_MAX) " printable ASCII characters "
                                                                   "without spaces or '/'";
}

static const char *time_check(const char *s)
{
    int64_t ms;
    return cpm_time_parse(s, &ms) && ms > 0
               ? NULL
               : "must be an RFC 3339 time after 1970 like 2024-03-01T09:30:00Z or "
                 "2024-03-01T17:30:00.250+08:00";
}

/* Printable ASCII: the key text separates columns with 0x1f, which this keeps out. */
static const char *source_id_check(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return "must be printable ASCII (the row's id in the system it comes from)";
    return NULL;
}

/* clang-format off */
static const struct cpm__schema_field row_fields[] = {
    {.name = "subject", .type = CPM__SCHEMA_STRING, .required = true, .check = subject_check},
    {.name = "purpose", .type = CPM__SCHEMA_PURPOSE_ID, .required = true},
    {.name = "decision", .type = CPM__SCHEMA_ENUM, .required = true, .values = decisions},
    {.name = "time", .type = CPM__SCHEMA_STRING, .required = true, .bytes_max = 64,
     .check = time_check},
    {.name = "property", .type = CPM__SCHEMA_SLUG, .required = true},
    {.name = "channel", .type = CPM__SCHEMA_ENUM, .required = true,
     .values = cpm_consent_channels},
    {.name = "locale", .type = CPM__SCHEMA_LOCALE, .required = true},
    {.name = "notice_id", .type = CPM__SCHEMA_SLUG},
    {.name = "notice_version", .type = CPM__SCHEMA_INTEGER, .min = 1, .max = INT32_MAX},
    {.name = "recipient", .type = CPM__SCHEMA_SLUG},
    {.name = "expires_at", .type = CPM__SCHEMA_STRING, .bytes_max = 64, .check = time_check},
    {.name = "source_id", .type = CPM__SCHEMA_STRING, .bytes_min = 1,
     .bytes_max = CPM_IMPORT_SOURCE_ID_BYTES_MAX, .check = source_id_check},
    {.name = "separate", .type = CPM__SCHEMA_BOOL},
    {.name = "region", .type = CPM__SCHEMA_STRING, .bytes_max = 8, .check = cpm__region_check},
};
static const struct cpm__schema row_schema = CPM__SCHEMA(row_fields, NULL);
/* clang-format on */

_Static_assert(CPM_ARRAY_LEN(row_fields) == CPM_IMPORT_COLUMNS, "one schema field per column");

const char *cpm_import_column_name(enum cpm_import_column c)
{
    CPM_ASSERT((unsigned)c < CPM_IMPORT_COLUMNS);
    return column_names[c];
}

int cpm_import_column_find(const char *name, size_t len)
{
    for (int c = 0; c < CPM_IMPORT_COLUMNS; c++)
        if (strlen(column_names[c]) == len && memcmp(column_names[c], name, len) == 0)
            return c;
    return -1;
}

/* A CSV value as JSON: digits as an integer for notice_version, true/false for separate. */
static json_t *csv_value(enum cpm_import_column c, const char *s, size_t len)
{
    int64_t n;
    if (c == CPM_IMPORT_NOTICE_VERSION && len < 12 && cpm_parse_int64(s, 0, INT64_MAX, &n))
        return json_integer((json_int_t)n);
    if (c == CPM_IMPORT_SEPARATE && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0))
        return json_boolean(s[0] == 't');
    return json_stringn(s, len); /* NULL when not UTF-8 */
}

cpm_err cpm_import_row_object(const char *const values[CPM_IMPORT_COLUMNS],
                              const size_t lengths[CPM_IMPORT_COLUMNS], json_t **out,
                              struct cpm_detail *detail)
{
    json_t *row = json_object();
    cpm_err err = row ? CPM_OK : CPM_ERR_NOMEM;
    for (int c = 0; err == CPM_OK && c < CPM_IMPORT_COLUMNS; c++) {
        if (values[c] == NULL || lengths[c] == 0)
            continue;
        json_t *v = csv_value((enum cpm_import_column)c, values[c], lengths[c]);
        if (v == NULL)
            cpm_detail_add(detail, column_names[c], "is not valid UTF-8");
        else if (json_object_set_new(row, column_names[c], v) != 0)
            err = CPM_ERR_NOMEM;
    }
    if (err == CPM_OK && detail->count > 0)
        err = CPM_ERR_VALIDATION;
    if (err != CPM_OK) {
        json_decref(row);
        row = NULL;
    }
    *out = row;
    return err;
}

static const char *str(const json_t *row, enum cpm_import_column c)
{
    return json_string_value(json_object_get(row, column_names[c]));
}

static void drop_nulls(json_t *row)
{
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(row, tmp, key, value)
    {
        if (json_is_null(value))
            json_object_del(row, key);
    }
}

/* The rules between columns and against now, on a row of the right shape. */
static void check_together(const struct cpm_import_record *r, int64_t now_ms, struct cpm_detail *d)
{
    char now[CPM_TIME_TEXT_BYTES];
    cpm_time_format(now_ms, now, sizeof(now));
    if (r->time_ms > now_ms)
        cpm_detail_add(d, "time", "is in the future (it is %s now)", now);
    bool given = strcmp(r->decision, "given") == 0;
    if (r->expires_ms != 0 && !given)
        cpm_detail_add(d, "expires_at", "only a consent given expires");
    else if (r->expires_ms != 0 && r->expires_ms <= r->time_ms)
        cpm_detail_add(d, "expires_at", "must be after time");
    bool withdrawn = strcmp(r->decision, "withdrawn") == 0;
    if (!withdrawn && r->notice_id == NULL)
        cpm_detail_add(d, "notice_id",
                       "is required to give or refuse: the notice the person was shown");
    if (r->notice_id != NULL && r->notice_version == 0)
        cpm_detail_add(d, "notice_version",
                       "is required with notice_id: the version the person was shown");
    else if (r->notice_id == NULL && r->notice_version != 0)
        cpm_detail_add(d, "notice_id", "is required with notice_version");
}

void cpm_import_row_fill(json_t *row, struct cpm_import_record *out)
{
    struct cpm_import_record *r = out;
    drop_nulls(row);
    memset(r, 0, sizeof(*r));
    r->subject = str(row, CPM_IMPORT_SUBJECT);
    r->purpose = str(row, CPM_IMPORT_PURPOSE);
    r->decision = str(row, CPM_IMPORT_DECISION);
    r->property = str(row, CPM_IMPORT_PROPERTY);
    r->channel = str(row, CPM_IMPORT_CHANNEL);
    r->locale = str(row, CPM_IMPORT_LOCALE);
    r->notice_id = str(row, CPM_IMPORT_NOTICE_ID);
    r->notice_version = json_integer_value(json_object_get(row, "notice_version"));
    r->recipient = str(row, CPM_IMPORT_RECIPIENT);
    r->source_id = str(row, CPM_IMPORT_SOURCE_ID);
    r->separate = json_is_true(json_object_get(row, "separate"));
    r->region = str(row, CPM_IMPORT_REGION);
    const char *time = str(row, CPM_IMPORT_TIME), *expires = str(row, CPM_IMPORT_EXPIRES_AT);
    if (time == NULL || !cpm_time_parse(time, &r->time_ms))
        r->time_ms = 0;
    if (expires == NULL || !cpm_time_parse(expires, &r->expires_ms))
        r->expires_ms = 0;
}

cpm_err cpm_import_row_parse(json_t *row, int64_t now_ms, struct cpm_import_record *out,
                             struct cpm_detail *detail)
{
    drop_nulls(row);
    cpm_err err = cpm__schema_validate(&row_schema, row, "", detail);
    if (err != CPM_OK)
        return err;
    cpm_import_row_fill(row, out);
    check_together(out, now_ms, detail);
    return detail->count > 0 || detail->dropped > 0 ? CPM_ERR_VALIDATION : CPM_OK;
}

void cpm_import_action(const struct cpm_import_record *r, const char *notice_sha256,
                       struct cpm_consent_action *a)
{
    memset(a, 0, sizeof(*a));
    a->property = r->property;
    a->channel = r->channel;
    a->locale = r->locale;
    a->region = r->region;
    a->method = "import";
    a->actor = "self";
    a->notice_id = r->notice_id;
    a->notice_version = r->notice_version;
    a->notice_sha256 = notice_sha256 != NULL ? notice_sha256 : "";
    a->count = 1;
    a->decisions[0] = (struct cpm_consent_decision){
        .purpose = r->purpose,
        .decision = r->decision,
        .separate = r->separate,
        .recipient = r->recipient,
    };
}

void cpm_import_rename_faults(struct cpm_detail *detail)
{
    static const struct {
        const char *from, *to;
    } names[] = {
        {"decisions[0].purpose", "purpose"},
        {"decisions[0].separate", "separate"},
        {"decisions[0].recipient", "recipient"},
        {"notice.version", "notice_version"},
        {"notice.sha256", "notice_version"},
        {"notice", "notice_id"},
        {"actor.type", "subject"},
    };
    for (int f = 0; f < detail->count; f++)
        for (size_t i = 0; i < CPM_ARRAY_LEN(names); i++)
            if (strcmp(detail->faults[f].field, names[i].from) == 0) {
                cpm_strlcpy(detail->faults[f].field, names[i].to, sizeof(detail->faults[f].field));
                break;
            }
}

size_t cpm_import_key_text(const struct cpm_import_record *r, char *out, size_t cap)
{
    CPM_ASSERT(cap >= CPM_IMPORT_KEY_TEXT_BYTES);
    int n = snprintf(out, cap, "%s\x1f%s\x1f%s\x1f%lld\x1f%s\x1f%s", r->subject, r->purpose,
                     r->recipient ? r->recipient : "", (long long)r->time_ms, r->decision,
                     r->source_id ? r->source_id : "");
    CPM_ASSERT(n > 0 && (size_t)n < cap);
    return (size_t)n;
}
