/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema.h — a small declarative validator for JSON documents (internal).
 *
 * An object type is a static table of fields: name, type, whether it is
 * required, size limits, enum values, the nested table for objects, and a
 * default filled in when the field is absent. The validator walks a jansson
 * value against such a table, reports every fault it finds with its field
 * path ("purposes[2].purpose", "content.zh-Hant.text"), refuses unknown
 * fields, and fills defaults. It recurses only along the static tables, so
 * the depth of untrusted input never drives recursion.
 *
 * Thread safety: reentrant; the tables are read-only.
 */
#ifndef CPM_DOMAIN_SCHEMA_H
#define CPM_DOMAIN_SCHEMA_H

#include <jansson.h>

#include "core/common.h"
#include "core/detail.h"

enum cpm__schema_type {
    CPM__SCHEMA_STRING,     /* bytes_min..bytes_max (0: CPM_STRING_BYTES_MAX) */
    CPM__SCHEMA_SLUG,       /* cpm_config_id_valid */
    CPM__SCHEMA_PURPOSE_ID, /* a slug without empty dotted segments: marketing.sms */
    CPM__SCHEMA_LOCALE,     /* cpm_locale_valid */
    CPM__SCHEMA_DURATION,   /* cpm_duration_parse */
    CPM__SCHEMA_COLOUR,     /* #rrggbb */
    CPM__SCHEMA_ORIGIN,     /* https://host[:port]; http only for localhost, 127.0.0.1 */
    CPM__SCHEMA_HTTPS_IRI,  /* an absolute https:// IRI */
    CPM__SCHEMA_ENUM,       /* one of values */
    CPM__SCHEMA_BOOL,
    CPM__SCHEMA_INTEGER,    /* min..max */
    CPM__SCHEMA_OBJECT,     /* nested */
    CPM__SCHEMA_ARRAY,      /* of item; min..max items (0: CPM_ARRAY_ITEMS_MAX), no duplicates */
    CPM__SCHEMA_LOCALE_MAP, /* locale tag → item; min..max locales (0: CPM_LOCALES_MAX) */
    CPM__SCHEMA_READ_ONLY,  /* set by the server: refused when sent */
};

struct cpm__schema;

struct cpm__schema_field {
    const char *name;
    enum cpm__schema_type type;
    bool required;
    enum cpm__schema_type item; /* ARRAY and LOCALE_MAP: the element's (scalar or OBJECT) */
    size_t bytes_min, bytes_max;
    int64_t min, max;                    /* INTEGER value; ARRAY items; LOCALE_MAP locales */
    const char *const *values;           /* ENUM (also as item): NULL-terminated */
    const struct cpm__schema *nested;    /* OBJECT (also as item) */
    const char *(*check)(const char *s); /* extra string rule: NULL when fine, else a message */
    const char *dflt;                    /* JSON text set when the field is absent */
};

struct cpm__schema {
    const struct cpm__schema_field *fields;
    size_t count;
    const char *unique; /* as array items: this string field must not repeat across items */
};

#define CPM__SCHEMA(table, unique_field)                                                           \
    {                                                                                              \
        (table), CPM_ARRAY_LEN(table), (unique_field)                                              \
    }

/*
 * Validates obj (a JSON object, or a fault "must be an object") against
 * schema, adding each fault to detail (not NULL) with its path under the
 * prefix path ("" at the top), and sets absent fields that have a default.
 * Returns CPM_OK when no fault was added, CPM_ERR_VALIDATION, or
 * CPM_ERR_NOMEM when a default could not be allocated.
 */
cpm_err cpm__schema_validate(const struct cpm__schema *schema, json_t *obj, const char *path,
                             struct cpm_detail *detail) CPM_MUST_CHECK;

/* Writes "base.key" (or "key" when base is "") into out, cut at a UTF-8 boundary. */
void cpm__schema_path_key(char *out, size_t size, const char *base, const char *key);
/* Writes "base[index]" into out. */
void cpm__schema_path_index(char *out, size_t size, const char *base, size_t index);
/* Copies s into out for quoting in a message, cut at a UTF-8 boundary with "…" when long. */
void cpm__schema_quote(char *out, size_t size, const char *s);

/* Faults in d so far, kept and dropped. */
int cpm__detail_total(const struct cpm_detail *d);

/* NULL when s is a region ("*", "CN", "CN-HK"), else the message saying so. */
const char *cpm__region_check(const char *s);

/* "mon" … "sun", NULL-terminated: a schema's enum values. */
extern const char *const cpm__weekdays[];

/* The `days` field of a weekly window: weekdays, at least one, every day by default. */
#define CPM__SCHEMA_DAYS_FIELD                                                                     \
    {                                                                                              \
        .name = "days", .type = CPM__SCHEMA_ARRAY, .item = CPM__SCHEMA_ENUM,                       \
        .values = cpm__weekdays, .min = 1,                                                         \
        .dflt = "[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"]"                        \
    }

struct cpm_config_lookup;
/*
 * Looks up id of kind through lookup; adds "unknown <kind> 'id'" at path
 * when absent (an id of the wrong shape was reported by the schema and is
 * not looked up). *out (may be NULL) gets the document. STORE when the
 * lookup failed.
 */
cpm_err cpm__config_resolve(const struct cpm_config_lookup *lookup, int kind, const char *id,
                            const char *path, struct cpm_detail *d, const json_t **out);

/* NULL when s names an IANA time zone this system has, else the message saying so. */
const char *cpm__tz_check(const char *s);

/* NULL when s is a local time "HH:MM" (00:00–24:00), else the message saying so. */
const char *cpm__clock_check(const char *s);

/* A DNS name or IPv4 address in lowercase: labels of [a-z0-9-], 1–63 bytes, no edge hyphen. */
bool cpm__host_valid(const char *h, size_t len);

/* True when s is a purpose id: a slug whose dotted segments are not empty. */
bool cpm__purpose_id_valid(const char *s);

/* ASCII classes, independent of the C locale. */
static inline bool cpm__ascii_lower(char c)
{
    return c >= 'a' && c <= 'z';
}
static inline bool cpm__ascii_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}
static inline bool cpm__ascii_digit(char c)
{
    return c >= '0' && c <= '9';
}

#endif /* CPM_DOMAIN_SCHEMA_H */
