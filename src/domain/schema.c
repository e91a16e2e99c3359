/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema.c — the declarative JSON validator behind config.c.
 *
 * Walks a jansson value along a static field table, adds one fault per
 * problem with its field path, and fills defaults. Value formats that only
 * the schema needs (colours, origins, IRIs) live here; ids, locales and
 * durations are public and live in config.c.
 */
#include "core/common.h"

#include "domain/config.h"
#include "domain/schema.h"

#define QUOTE_BYTES_MAX 48  /* user text echoed in a message */
#define LIST_BYTES_MAX  160 /* "allowed: …", "expected one of: …"; keeps messages < 256 */
#define HOST_BYTES_MAX  253

struct walk {
    struct cpm_detail *detail;
    cpm_err err; /* CPM_ERR_NOMEM once a default could not be set */
};

static void check_object(struct walk *w, const struct cpm__schema *schema, json_t *obj,
                         const char *path);

int cpm__detail_total(const struct cpm_detail *d)
{
    return d->count + d->dropped;
}

/* The longest prefix of s no longer than n bytes that does not split a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

void cpm__schema_quote(char *out, size_t size, const char *s)
{
    CPM_ASSERT(size > 4);
    size_t room = size - 1 < QUOTE_BYTES_MAX ? size - 1 : QUOTE_BYTES_MAX;
    size_t len = strlen(s);
    if (len <= room) {
        memcpy(out, s, len + 1);
        return;
    }
    size_t n = utf8_cut(s, room - 3);
    memcpy(out, s, n);
    memcpy(out + n, "\xE2\x80\xA6", 4); /* "…" and NUL */
}

void cpm__schema_path_key(char *out, size_t size, const char *base, const char *key)
{
    int n = snprintf(out, size, "%s%s", base, *base != '\0' ? "." : "");
    if (n < 0 || (size_t)n >= size)
        return;
    size_t len = strlen(key);
    if (len > size - 1 - (size_t)n)
        len = utf8_cut(key, size - 1 - (size_t)n);
    memcpy(out + n, key, len);
    out[(size_t)n + len] = '\0';
}

void cpm__schema_path_index(char *out, size_t size, const char *base, size_t index)
{
    snprintf(out, size, "%s[%zu]", base, index);
}

/* Appends ", s" (or s) to the list in out; ends it with "…" when full. */
static void list_append(char *out, size_t size, const char *s)
{
    size_t used = strlen(out);
    const char *sep = used > 0 ? ", " : "";
    if (used + strlen(sep) + strlen(s) + sizeof(", \xE2\x80\xA6") > size) {
        if (used < 3 || strcmp(out + used - 3, "\xE2\x80\xA6") != 0)
            snprintf(out + used, size - used, ", \xE2\x80\xA6");
        return;
    }
    snprintf(out + used, size - used, "%s%s", sep, s);
}

bool cpm__purpose_id_valid(const char *s)
{
    return cpm_config_id_valid(s) && strstr(s, "..") == NULL && s[strlen(s) - 1] != '.';
}

static bool hex_digit(char c)
{
    return cpm__ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool colour_valid(const char *s)
{
    if (s[0] != '#' || strlen(s) != 7)
        return false;
    for (size_t i = 1; i < 7; i++)
        if (!hex_digit(s[i]))
            return false;
    return true;
}

bool cpm__host_valid(const char *h, size_t len)
{
    if (len == 0 || len > HOST_BYTES_MAX)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0 || h[i - 1] == '-')
                return false;
            label = 0;
        } else if (cpm__ascii_lower(c) || cpm__ascii_digit(c) || (c == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0 && h[len - 1] != '-';
}

static bool origin_valid(const char *s)
{
    bool https = strncmp(s, "https://", 8) == 0;
    if (!https && strncmp(s, "http://", 7) != 0)
        return false;
    const char *host = s + (https ? 8 : 7);
    const char *colon = strchr(host, ':');
    size_t len = colon != NULL ? (size_t)(colon - host) : strlen(host);
    if (!cpm__host_valid(host, len))
        return false;
    bool loopback = (len == 9 && memcmp(host, "localhost", 9) == 0) ||
                    (len == 9 && memcmp(host, "127.0.0.1", 9) == 0);
    if (!https && !loopback)
        return false;
    int64_t port;
    return colon == NULL ||
           (colon[1] != '0' && colon[1] != '-' && cpm_parse_int64(colon + 1, 1, 65535, &port));
}

/* An absolute https IRI: a non-empty authority, no spaces, controls or characters RFC 3987
 * excludes. */
static bool iri_valid(const char *s)
{
    if (strncmp(s, "https://", 8) != 0 || strchr("/?#", s[8]) != NULL)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p <= 0x20 || *p == 0x7F || strchr("<>\"{}|\\^`", *p) != NULL)
            return false;
    return true;
}

static bool duration_valid(const char *s)
{
    struct cpm_duration d;
    return cpm_duration_parse(s, &d);
}

static const struct {
    enum cpm__schema_type type;
    bool (*valid)(const char *s);
    const char *message;
} formats[] = {
    {CPM__SCHEMA_SLUG, cpm_config_id_valid,
     "must be an id: 1-64 bytes of a-z 0-9 . _ -, starting with a letter or a digit"},
    {CPM__SCHEMA_PURPOSE_ID, cpm__purpose_id_valid,
     "must be a purpose id like marketing.sms: 1-64 bytes of a-z 0-9 . _ -, no empty segment"},
    {CPM__SCHEMA_LOCALE, cpm_locale_valid,
     "must be a locale tag like en, en-GB, zh-Hans, zh-Hant-HK"},
    {CPM__SCHEMA_DURATION, duration_valid,
     "must be a non-zero ISO 8601 duration like P30D, P12M, P1Y6M, PT12H or P2W"},
    {CPM__SCHEMA_COLOUR, colour_valid, "must be a colour #rrggbb"},
    {CPM__SCHEMA_ORIGIN, origin_valid,
     "must be an origin https://host[:port] in lowercase, without a path (http only for "
     "localhost and 127.0.0.1)"},
    {CPM__SCHEMA_HTTPS_IRI, iri_valid, "must be an absolute https:// IRI"},
};

static void check_enum(struct walk *w, const struct cpm__schema_field *f, const char *s,
                       const char *path)
{
    char list[LIST_BYTES_MAX] = "", quoted[QUOTE_BYTES_MAX + 4];
    for (const char *const *v = f->values; *v != NULL; v++)
        if (strcmp(*v, s) == 0)
            return;
    for (const char *const *v = f->values; *v != NULL; v++)
        list_append(list, sizeof(list), *v);
    cpm__schema_quote(quoted, sizeof(quoted), s);
    cpm_detail_add(w->detail, path, "unknown value '%s'; expected one of: %s", quoted, list);
}

static void check_string(struct walk *w, const struct cpm__schema_field *f,
                         enum cpm__schema_type type, const json_t *v, const char *path)
{
    if (!json_is_string(v)) {
        cpm_detail_add(w->detail, path, "must be a string");
        return;
    }
    const char *s = json_string_value(v), *why = NULL;
    size_t len = json_string_length(v);
    size_t max = f->bytes_max > 0 ? f->bytes_max : CPM_STRING_BYTES_MAX;
    if (strlen(s) != len) {
        cpm_detail_add(w->detail, path, "must not contain a NUL character");
        return;
    }
    if (len == 0 && f->bytes_min > 0) {
        cpm_detail_add(w->detail, path, "must not be empty");
        return;
    }
    if (len > max || len < f->bytes_min) {
        cpm_detail_add(w->detail, path, "is %zu bytes; the %s is %zu", len,
                       len > max ? "limit" : "minimum", len > max ? max : f->bytes_min);
        return;
    }
    if (type == CPM__SCHEMA_ENUM) {
        check_enum(w, f, s, path);
        return;
    }
    for (size_t i = 0; i < CPM_ARRAY_LEN(formats); i++)
        if (formats[i].type == type && !formats[i].valid(s))
            why = formats[i].message;
    if (why == NULL && f->check != NULL)
        why = f->check(s);
    if (why != NULL)
        cpm_detail_add(w->detail, path, "%s", why);
}

static void check_integer(struct walk *w, const struct cpm__schema_field *f, const json_t *v,
                          const char *path)
{
    if (!json_is_integer(v)) {
        cpm_detail_add(w->detail, path, "must be an integer");
        return;
    }
    json_int_t n = json_integer_value(v);
    if (n < f->min || n > f->max)
        cpm_detail_add(w->detail, path, "is %lld; it must be between %lld and %lld", (long long)n,
                       (long long)f->min, (long long)f->max);
}

/* True when item i of array repeats an earlier item (by unique key for objects). */
static bool repeated(const json_t *array, size_t i, const char *key)
{
    const json_t *a = json_array_get(array, i);
    const char *s = json_string_value(key != NULL ? json_object_get(a, key) : a);
    for (size_t j = 0; s != NULL && j < i; j++) {
        const json_t *b = json_array_get(array, j);
        const char *t = json_string_value(key != NULL ? json_object_get(b, key) : b);
        if (t != NULL && strcmp(s, t) == 0)
            return true;
    }
    return false;
}

static void check_value(struct walk *w, const struct cpm__schema_field *f,
                        enum cpm__schema_type type, json_t *v, const char *path);

static bool check_count(struct walk *w, const struct cpm__schema_field *f, size_t n, int64_t limit,
                        const char *unit, const char *path)
{
    int64_t max = f->max > 0 ? f->max : limit;
    if ((int64_t)n > max) {
        cpm_detail_add(w->detail, path, "has %zu %s; the limit is %lld", n, unit, (long long)max);
        return false;
    }
    if ((int64_t)n < f->min) {
        if (n == 0)
            cpm_detail_add(w->detail, path, "must not be empty");
        else
            cpm_detail_add(w->detail, path, "needs at least %lld %s", (long long)f->min, unit);
        return false;
    }
    return true;
}

static void check_array(struct walk *w, const struct cpm__schema_field *f, json_t *v,
                        const char *path)
{
    char item_path[CPM_FIELD_PATH_BYTES_MAX], key_path[CPM_FIELD_PATH_BYTES_MAX];
    char quoted[QUOTE_BYTES_MAX + 4];
    if (!json_is_array(v)) {
        cpm_detail_add(w->detail, path, "must be an array");
        return;
    }
    if (!check_count(w, f, json_array_size(v), CPM_ARRAY_ITEMS_MAX, "items", path))
        return;
    const char *key = f->item == CPM__SCHEMA_OBJECT ? f->nested->unique : NULL;
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *item = json_array_get(v, i);
        cpm__schema_path_index(item_path, sizeof(item_path), path, i);
        check_value(w, f, f->item, item, item_path);
        if (!repeated(v, i, key))
            continue;
        if (key != NULL) {
            cpm__schema_path_key(key_path, sizeof(key_path), item_path, key);
            item = json_object_get(item, key);
        }
        cpm__schema_quote(quoted, sizeof(quoted), json_string_value(item));
        cpm_detail_add(w->detail, key != NULL ? key_path : item_path, "duplicate value '%s'",
                       quoted);
    }
}

static void check_locale_map(struct walk *w, const struct cpm__schema_field *f, json_t *v,
                             const char *path)
{
    char key_path[CPM_FIELD_PATH_BYTES_MAX];
    const char *key;
    json_t *value;
    if (!json_is_object(v)) {
        cpm_detail_add(w->detail, path, "must be an object from locale tag to value");
        return;
    }
    if (!check_count(w, f, json_object_size(v), CPM_LOCALES_MAX, "locales", path))
        return;
    json_object_foreach(v, key, value)
    {
        cpm__schema_path_key(key_path, sizeof(key_path), path, key);
        if (!cpm_locale_valid(key))
            cpm_detail_add(w->detail, key_path, "%s", "is not a locale tag like en, zh-Hans");
        else
            check_value(w, f, f->item, value, key_path);
    }
}

static void check_value(struct walk *w, const struct cpm__schema_field *f,
                        enum cpm__schema_type type, json_t *v, const char *path)
{
    switch (type) {
    case CPM__SCHEMA_BOOL:
        if (!json_is_boolean(v))
            cpm_detail_add(w->detail, path, "must be true or false");
        break;
    case CPM__SCHEMA_INTEGER:
        check_integer(w, f, v, path);
        break;
    case CPM__SCHEMA_OBJECT:
        check_object(w, f->nested, v, path);
        break;
    case CPM__SCHEMA_ARRAY:
        CPM_ASSERT(type == f->type); /* arrays hold scalars or objects, never arrays */
        check_array(w, f, v, path);
        break;
    case CPM__SCHEMA_LOCALE_MAP:
        CPM_ASSERT(type == f->type);
        check_locale_map(w, f, v, path);
        break;
    case CPM__SCHEMA_READ_ONLY:
        cpm_detail_add(w->detail, path, "is read-only: the server sets it");
        break;
    default:
        check_string(w, f, type, v, path);
        break;
    }
}

static void report_unknown(struct walk *w, const struct cpm__schema *schema, json_t *obj,
                           const char *path)
{
    char field_path[CPM_FIELD_PATH_BYTES_MAX], allowed[LIST_BYTES_MAX] = "";
    bool allowed_done = false;
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        bool known = false;
        for (size_t i = 0; !known && i < schema->count; i++)
            known = strcmp(schema->fields[i].name, key) == 0;
        if (known)
            continue;
        for (size_t i = 0; i < schema->count && allowed_done == false; i++)
            if (schema->fields[i].type != CPM__SCHEMA_READ_ONLY)
                list_append(allowed, sizeof(allowed), schema->fields[i].name);
        allowed_done = true;
        cpm__schema_path_key(field_path, sizeof(field_path), path, key);
        cpm_detail_add(w->detail, field_path, "unknown field; allowed: %s", allowed);
    }
}

static void set_default(struct walk *w, const struct cpm__schema_field *f, json_t *obj)
{
    json_t *value = json_loads(f->dflt, JSON_DECODE_ANY, NULL);
    if (value == NULL || json_object_set_new(obj, f->name, value) != 0)
        w->err = CPM_ERR_NOMEM;
}

static void check_object(struct walk *w, const struct cpm__schema *schema, json_t *obj,
                         const char *path)
{
    char field_path[CPM_FIELD_PATH_BYTES_MAX];
    if (!json_is_object(obj)) {
        cpm_detail_add(w->detail, path, "must be an object");
        return;
    }
    report_unknown(w, schema, obj, path);
    for (size_t i = 0; i < schema->count && w->err == CPM_OK; i++) {
        const struct cpm__schema_field *f = &schema->fields[i];
        json_t *value = json_object_get(obj, f->name);
        cpm__schema_path_key(field_path, sizeof(field_path), path, f->name);
        if (value != NULL)
            check_value(w, f, f->type, value, field_path);
        else if (f->required)
            cpm_detail_add(w->detail, field_path, "is required");
        else if (f->dflt != NULL)
            set_default(w, f, obj);
    }
}

cpm_err cpm__schema_validate(const struct cpm__schema *schema, json_t *obj, const char *path,
                             struct cpm_detail *detail)
{
    CPM_ASSERT(schema != NULL && path != NULL && detail != NULL);
    struct walk w = {detail, CPM_OK};
    int before = cpm__detail_total(detail);
    check_object(&w, schema, obj, path);
    if (w.err != CPM_OK)
        return w.err;
    return cpm__detail_total(detail) > before ? CPM_ERR_VALIDATION : CPM_OK;
}
