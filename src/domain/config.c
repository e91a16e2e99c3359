/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c — the rules of docs/CONFIGURATION.md, in one place.
 *
 * Each kind of document is a field table (checked by schema.c) plus a rules
 * function for what a table cannot say: fields that depend on each other,
 * and references to other documents, resolved through the caller's lookup.
 * Also the value formats other modules share: ids, locale tags, durations.
 */
#include "core/common.h"

#include <sodium.h>

#include "core/clock.h"
#include "crypto/jwt.h"
#include "domain/config.h"
#include "domain/decide.h"
#include "domain/tz.h"
#include "domain/window.h"
#include "domain/schema.h"

#define SHA256_HEX_BYTES (crypto_hash_sha256_BYTES * 2 + 1)

static const char *const kind_names[] = {"property", "purpose", "notice",     "policy",
                                         "topic",    "channel", "destination"};
_Static_assert(CPM_ARRAY_LEN(kind_names) == CPM_DOC__COUNT, "kind names out of sync");

static const char *const property_kinds[] = {"web", "h5",          "mini_program", "app", "wecom",
                                             "crm", "call_centre", "other",        NULL};
static const char *const legal_bases[] = {
    "consent",         "contract",       "hr_management",    "legal_obligation", "public_health",
    "vital_interests", "news_reporting", "public_disclosed", "other_law",        NULL};
static const char *const consent_forms[] = {"general", "separate", "written", NULL};
static const char *const changes[] = {"material", "notify_only", NULL};
static const char *const gpc_modes[] = {"ignore", "refuse_sale_and_ads", NULL};

/* Shorthands for the field tables below. */
/* clang-format off */
#define NAME(n)           {.name = (n), .type = CPM__SCHEMA_STRING, .required = true, \
                           .bytes_min = 1, .bytes_max = CPM_NAME_BYTES_MAX}
#define TEXT(n, req, lo, hi) {.name = (n), .type = CPM__SCHEMA_LOCALE_MAP, .required = (req), \
                           .min = (req), .item = CPM__SCHEMA_STRING, .bytes_min = (lo), \
                           .bytes_max = (hi)}
#define OPTIONAL(n, t)    {.name = (n), .type = (t)}
#define REQUIRED(n, t)    {.name = (n), .type = (t), .required = true}
#define FLAG(n)           {.name = (n), .type = CPM__SCHEMA_BOOL, .dflt = "false"}
#define READ_ONLY(n)      {.name = (n), .type = CPM__SCHEMA_READ_ONLY}
#define STORED_READ_ONLY  READ_ONLY("revision"), READ_ONLY("created_at"), READ_ONLY("updated_at")
#define OBJECTS(n, schema) {.name = (n), .type = CPM__SCHEMA_ARRAY, .required = true, .min = 1, \
                           .item = CPM__SCHEMA_OBJECT, .nested = &(schema)}
/* clang-format on */

/* A JWK of a property's token verification keys (checked whole by cpm_jwk_parse). */
static const struct cpm__schema_field jwk_fields[] = {
    REQUIRED("kty", CPM__SCHEMA_STRING), OPTIONAL("kid", CPM__SCHEMA_STRING),
    OPTIONAL("alg", CPM__SCHEMA_STRING), OPTIONAL("use", CPM__SCHEMA_STRING),
    OPTIONAL("crv", CPM__SCHEMA_STRING), OPTIONAL("x", CPM__SCHEMA_STRING),
    OPTIONAL("y", CPM__SCHEMA_STRING),   OPTIONAL("k", CPM__SCHEMA_STRING),
};
static const struct cpm__schema jwk_schema = CPM__SCHEMA(jwk_fields, NULL);

static const struct cpm__schema_field property_fields[] = {
    REQUIRED("id", CPM__SCHEMA_SLUG),
    NAME("name"),
    {.name = "kind", .type = CPM__SCHEMA_ENUM, .required = true, .values = property_kinds},
    {.name = "allowed_origins",
     .type = CPM__SCHEMA_ARRAY,
     .item = CPM__SCHEMA_ORIGIN,
     .dflt = "[]"},
    {.name = "locales",
     .type = CPM__SCHEMA_ARRAY,
     .required = true,
     .item = CPM__SCHEMA_LOCALE,
     .min = 1,
     .max = CPM_LOCALES_MAX},
    REQUIRED("default_locale", CPM__SCHEMA_LOCALE),
    {.name = "token_keys",
     .type = CPM__SCHEMA_ARRAY,
     .item = CPM__SCHEMA_OBJECT,
     .nested = &jwk_schema,
     .max = 8,
     .dflt = "[]"},
    {.name = "token_lifetime_max", .type = CPM__SCHEMA_DURATION, .dflt = "\"PT1H\""},
    OPTIONAL("otp_destination", CPM__SCHEMA_SLUG),
    STORED_READ_ONLY,
};

static const struct cpm__schema_field purpose_fields[] = {
    REQUIRED("id", CPM__SCHEMA_PURPOSE_ID),
    TEXT("name", true, 1, CPM_NAME_BYTES_MAX),
    TEXT("description", false, 0, CPM_STRING_BYTES_MAX),
    {.name = "legal_basis", .type = CPM__SCHEMA_ENUM, .required = true, .values = legal_bases},
    {.name = "consent_form", .type = CPM__SCHEMA_ENUM, .values = consent_forms},
    FLAG("sensitive"),
    {.name = "pi_categories", .type = CPM__SCHEMA_ARRAY, .item = CPM__SCHEMA_SLUG, .dflt = "[]"},
    {.name = "recipients", .type = CPM__SCHEMA_ARRAY, .item = CPM__SCHEMA_SLUG, .dflt = "[]"},
    REQUIRED("retention", CPM__SCHEMA_DURATION),
    FLAG("necessary_for_service"),
    FLAG("personalised"),
    OPTIONAL("dpv_iri", CPM__SCHEMA_HTTPS_IRI),
    STORED_READ_ONLY,
};

static const struct cpm__schema_field notice_fields[] = {
    REQUIRED("id", CPM__SCHEMA_SLUG),
    NAME("name"),
    REQUIRED("default_locale", CPM__SCHEMA_LOCALE),
    STORED_READ_ONLY,
};

static const struct cpm__schema_field policy_purpose_fields[] = {
    REQUIRED("purpose", CPM__SCHEMA_PURPOSE_ID),
    FLAG("default"),
};
static const struct cpm__schema policy_purpose_schema =
    CPM__SCHEMA(policy_purpose_fields, "purpose");

static const struct cpm__schema_field theme_fields[] = {
    OPTIONAL("primary_color", CPM__SCHEMA_COLOUR),
    OPTIONAL("background_color", CPM__SCHEMA_COLOUR),
};
static const struct cpm__schema theme_schema = CPM__SCHEMA(theme_fields, NULL);

static const struct cpm__schema_field texts_fields[] = {
    TEXT("title", false, 0, 0),
    TEXT("accept", false, 0, 0),
    TEXT("refuse", false, 0, 0),
    TEXT("settings", false, 0, 0),
};
static const struct cpm__schema texts_schema = CPM__SCHEMA(texts_fields, NULL);

static const struct cpm__schema_field ui_fields[] = {
    {.name = "theme", .type = CPM__SCHEMA_OBJECT, .nested = &theme_schema},
    {.name = "texts", .type = CPM__SCHEMA_OBJECT, .nested = &texts_schema},
};
static const struct cpm__schema ui_schema = CPM__SCHEMA(ui_fields, NULL);

static const struct cpm__schema_field policy_fields[] = {
    REQUIRED("id", CPM__SCHEMA_SLUG),
    {.name = "region", .type = CPM__SCHEMA_STRING, .required = true, .check = cpm__region_check},
    REQUIRED("property", CPM__SCHEMA_SLUG),
    REQUIRED("notice", CPM__SCHEMA_SLUG),
    OBJECTS("purposes", policy_purpose_schema),
    OPTIONAL("consent_validity", CPM__SCHEMA_DURATION),
    OPTIONAL("reminder_before", CPM__SCHEMA_DURATION),
    OPTIONAL("refusal_cooldown", CPM__SCHEMA_DURATION),
    FLAG("otp_required"),
    {.name = "guardian_age_below", .type = CPM__SCHEMA_INTEGER, .min = 1, .max = 18, .dflt = "14"},
    {.name = "gpc",
     .type = CPM__SCHEMA_ENUM,
     .values = gpc_modes,
     .dflt = "\"refuse_sale_and_ads\""},
    {.name = "ui", .type = CPM__SCHEMA_OBJECT, .nested = &ui_schema},
    STORED_READ_ONLY,
};

#define PURPOSE_IDS(req)                                                                           \
    {                                                                                              \
        .name = "purposes", .type = CPM__SCHEMA_ARRAY, .required = (req), .min = (req),            \
        .item = CPM__SCHEMA_PURPOSE_ID, .dflt = (req) ? NULL : "[]"                                \
    }

static const struct cpm__schema_field topic_fields[] = {
    REQUIRED("id", CPM__SCHEMA_SLUG),
    TEXT("name", true, 1, CPM_NAME_BYTES_MAX),
    PURPOSE_IDS(true),
    STORED_READ_ONLY,
};

const char *const cpm__weekdays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};

static const struct cpm__schema_field hours_fields[] = {
    {.name = "time_zone", .type = CPM__SCHEMA_STRING, .required = true, .check = cpm__tz_check},
    {.name = "from", .type = CPM__SCHEMA_STRING, .required = true, .check = cpm__clock_check},
    {.name = "to", .type = CPM__SCHEMA_STRING, .required = true, .check = cpm__clock_check},
    CPM__SCHEMA_DAYS_FIELD,
};
static const struct cpm__schema hours_schema = CPM__SCHEMA(hours_fields, NULL);

static const struct cpm__schema_field channel_fields[] = {
    {.name = "id", .type = CPM__SCHEMA_ENUM, .required = true, .values = cpm__channel_names},
    PURPOSE_IDS(false),
    {.name = "allowed_hours", .type = CPM__SCHEMA_OBJECT, .nested = &hours_schema},
    STORED_READ_ONLY,
};

static const struct cpm__schema_field content_fields[] = {
    NAME("title"),
    {.name = "text",
     .type = CPM__SCHEMA_STRING,
     .required = true,
     .bytes_min = 1,
     .bytes_max = CPM_TEXT_BYTES_MAX},
    READ_ONLY("sha256"),
};
static const struct cpm__schema content_schema = CPM__SCHEMA(content_fields, NULL);

static const struct cpm__schema_field version_purpose_fields[] = {
    REQUIRED("purpose", CPM__SCHEMA_PURPOSE_ID),
    {.name = "change", .type = CPM__SCHEMA_ENUM, .values = changes, .dflt = "\"material\""},
};
static const struct cpm__schema version_purpose_schema =
    CPM__SCHEMA(version_purpose_fields, "purpose");

static const struct cpm__schema_field version_fields[] = {
    {.name = "content",
     .type = CPM__SCHEMA_LOCALE_MAP,
     .required = true,
     .min = 1,
     .item = CPM__SCHEMA_OBJECT,
     .nested = &content_schema},
    OBJECTS("purposes", version_purpose_schema),
    OPTIONAL("summary", CPM__SCHEMA_STRING),
    READ_ONLY("version"),
    READ_ONLY("published_at"),
};
static const struct cpm__schema version_schema = CPM__SCHEMA(version_fields, NULL);

/* ---- rules a table cannot state ---------------------------------------- */

typedef cpm_err (*rules_fn)(const json_t *doc, const struct cpm_config_lookup *lookup,
                            struct cpm_detail *d);

/* destination.c */
extern const struct cpm__schema cpm__destination_schema;
cpm_err cpm__destination_rules(const json_t *doc, const struct cpm_config_lookup *lookup,
                               struct cpm_detail *d);

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool is(const char *s, const char *value)
{
    return s != NULL && strcmp(s, value) == 0;
}

const char *cpm__region_check(const char *s)
{
    size_t n = 0;
    bool alpha2 = cpm__ascii_upper(s[0]) && cpm__ascii_upper(s[1]);
    if (alpha2 && s[2] == '-')
        while (n < 4 && (cpm__ascii_upper(s[3 + n]) || cpm__ascii_digit(s[3 + n])))
            n++;
    if (is(s, "*") || (alpha2 && s[2] == '\0') || (n >= 1 && n <= 3 && s[3 + n] == '\0'))
        return NULL;
    return "must be '*', an ISO 3166-1 alpha-2 code (CN) or an ISO 3166-2 code (CN-HK)";
}

const char *cpm__tz_check(const char *s)
{
    return cpm_tz_get(s) != NULL ? NULL : "must be an IANA time zone such as Asia/Shanghai";
}

const char *cpm__clock_check(const char *s)
{
    uint16_t minutes;
    return cpm_window_parse_time(s, &minutes) ? NULL : "must be a local time HH:MM (00:00-24:00)";
}

cpm_err cpm__config_resolve(const struct cpm_config_lookup *lookup, int kind, const char *id,
                            const char *path, struct cpm_detail *d, const json_t **out)
{
    char quoted[CPM_ID_BYTES_MAX + 4];
    bool failed = false;
    const json_t *found = NULL;
    bool valid = kind == CPM_DOC_PURPOSE ? cpm__purpose_id_valid(id) : cpm_config_id_valid(id);
    if (valid) { /* an invalid id was reported by the schema */
        CPM_ASSERT(lookup != NULL && lookup->fn != NULL);
        found = lookup->fn(lookup->ctx, kind, id, &failed);
        if (failed)
            return CPM_ERR_STORE;
    }
    if (valid && found == NULL) {
        cpm__schema_quote(quoted, sizeof(quoted), id);
        cpm_detail_add(d, path, "unknown %s '%s'", cpm_doc_kind_name(kind), quoted);
    }
    if (out != NULL)
        *out = found;
    return CPM_OK;
}

/* Each purposes[i].purpose exists; with check_default, consent purposes are not pre-ticked. */
static cpm_err check_purposes(const json_t *doc, const struct cpm_config_lookup *lookup,
                              bool check_default, struct cpm_detail *d)
{
    char item[CPM_FIELD_PATH_BYTES_MAX], path[CPM_FIELD_PATH_BYTES_MAX];
    const json_t *purposes = json_object_get(doc, "purposes"), *purpose;
    cpm_err err = CPM_OK;
    for (size_t i = 0; i < json_array_size(purposes) && i < CPM_ARRAY_ITEMS_MAX; i++) {
        const json_t *entry = json_array_get(purposes, i);
        cpm__schema_path_index(item, sizeof(item), "purposes", i);
        cpm__schema_path_key(path, sizeof(path), item, "purpose");
        err =
            cpm__config_resolve(lookup, CPM_DOC_PURPOSE, str(entry, "purpose"), path, d, &purpose);
        if (err != CPM_OK)
            goto out;
        if (check_default && purpose != NULL && json_is_true(json_object_get(entry, "default")) &&
            is(str(purpose, "legal_basis"), "consent")) {
            cpm__schema_path_key(path, sizeof(path), item, "default");
            cpm_detail_add(d, path, "consent purposes are never pre-ticked (PIPL Art. 14)");
        }
    }
out:
    return err;
}

/*
 * Each token key is a public JWK (or an HS256 secret) of an algorithm end
 * users' tokens may use; ids tell several apart. A sealed `k` was checked
 * when it was written.
 */
static void token_key_rules(const json_t *doc, struct cpm_detail *d)
{
    const json_t *keys = json_object_get(doc, "token_keys"), *jwk;
    char path[CPM_FIELD_PATH_BYTES_MAX];
    struct cpm_jwt_key key;
    size_t i;
    json_array_foreach(keys, i, jwk)
    {
        const char *k = str(jwk, "k");
        cpm__schema_path_index(path, sizeof(path), "token_keys", i);
        cpm_err err = k == NULL || strncmp(k, "sealed:", 7) != 0
                          ? cpm_jwk_parse(jwk, path, &key, d) /* faults go in d */
                          : CPM_OK;
        CPM_UNUSED(err);
        if (json_array_size(keys) > 1 && str(jwk, "kid") == NULL)
            cpm_detail_add(d, path, "needs a kid: the property has several token keys");
    }
    sodium_memzero(&key, sizeof(key));
}

/* The destination that sends one-time codes exists and is an SMS gateway. */
static cpm_err otp_destination_rules(const json_t *doc, const struct cpm_config_lookup *lookup,
                                     struct cpm_detail *d)
{
    const char *id = str(doc, "otp_destination");
    const json_t *dest = NULL;
    if (id == NULL)
        return CPM_OK;
    cpm_err err = cpm__config_resolve(lookup, CPM_DOC_DESTINATION, id, "otp_destination", d, &dest);
    if (err == CPM_OK && dest != NULL && !is(str(dest, "kind"), "sms_gateway"))
        cpm_detail_add(d, "otp_destination", "must be an sms_gateway destination, not a %s",
                       str(dest, "kind") ? str(dest, "kind") : "destination of no kind");
    return err;
}

static cpm_err property_rules(const json_t *doc, const struct cpm_config_lookup *lookup,
                              struct cpm_detail *d)
{
    token_key_rules(doc, d);
    struct cpm_duration lifetime;
    const char *lifetime_text = str(doc, "token_lifetime_max");
    if (lifetime_text != NULL && cpm_duration_parse(lifetime_text, &lifetime) &&
        cpm_duration_after(0, &lifetime) > 86400 * 1000)
        cpm_detail_add(d, "token_lifetime_max",
                       "must be at most a day (P1D): tokens are short-lived");
    cpm_err err = otp_destination_rules(doc, lookup, d);
    if (err != CPM_OK)
        return err;
    const char *locale = str(doc, "default_locale");
    const json_t *locales = json_object_get(doc, "locales"), *tag;
    size_t i;
    if (locale == NULL || !cpm_locale_valid(locale) || !json_is_array(locales))
        return CPM_OK;
    json_array_foreach(locales, i, tag)
    {
        if (is(json_string_value(tag), locale))
            return CPM_OK;
    }
    cpm_detail_add(d, "default_locale", "must be one of locales");
    return CPM_OK;
}

static cpm_err purpose_rules(const json_t *doc, const struct cpm_config_lookup *lookup,
                             struct cpm_detail *d)
{
    CPM_UNUSED(lookup);
    const char *basis = str(doc, "legal_basis"), *form = str(doc, "consent_form");
    bool has_form = json_object_get(doc, "consent_form") != NULL, known = false;
    for (size_t i = 0; basis != NULL && legal_bases[i] != NULL; i++)
        known |= is(basis, legal_bases[i]);
    if (!known)
        return CPM_OK; /* the schema reported it */
    if (is(basis, "consent") && !has_form)
        cpm_detail_add(d, "consent_form", "is required when legal_basis is consent");
    else if (!is(basis, "consent") && has_form)
        cpm_detail_add(d, "consent_form", "is only for legal_basis consent");
    else if (is(basis, "consent") && json_is_true(json_object_get(doc, "sensitive")) &&
             is(form, "general"))
        cpm_detail_add(d, "consent_form",
                       "must be separate or written for sensitive personal information "
                       "(PIPL Art. 29)");
    return CPM_OK;
}

static cpm_err policy_rules(const json_t *doc, const struct cpm_config_lookup *lookup,
                            struct cpm_detail *d)
{
    cpm_err err;
    if (json_object_get(doc, "reminder_before") != NULL &&
        json_object_get(doc, "consent_validity") == NULL)
        cpm_detail_add(d, "reminder_before", "needs consent_validity");
    err = cpm__config_resolve(lookup, CPM_DOC_PROPERTY, str(doc, "property"), "property", d, NULL);
    if (err != CPM_OK)
        goto out;
    err = cpm__config_resolve(lookup, CPM_DOC_NOTICE, str(doc, "notice"), "notice", d, NULL);
    if (err != CPM_OK)
        goto out;
    err = check_purposes(doc, lookup, true, d);
out:
    return err;
}

/* Each purposes[i] names a purpose that exists. */
static cpm_err purpose_list_rules(const json_t *doc, const struct cpm_config_lookup *lookup,
                                  struct cpm_detail *d)
{
    char path[CPM_FIELD_PATH_BYTES_MAX];
    const json_t *purposes = json_object_get(doc, "purposes");
    cpm_err err = CPM_OK;
    for (size_t i = 0; i < json_array_size(purposes) && i < CPM_ARRAY_ITEMS_MAX && !err; i++) {
        cpm__schema_path_index(path, sizeof(path), "purposes", i);
        err = cpm__config_resolve(lookup, CPM_DOC_PURPOSE,
                                  json_string_value(json_array_get(purposes, i)), path, d, NULL);
    }
    return err;
}

static cpm_err channel_rules(const json_t *doc, const struct cpm_config_lookup *lookup,
                             struct cpm_detail *d)
{
    const json_t *hours = json_object_get(doc, "allowed_hours");
    uint16_t from, to;
    if (cpm_window_parse_time(str(hours, "from"), &from) &&
        cpm_window_parse_time(str(hours, "to"), &to) && from == to)
        cpm_detail_add(d, "allowed_hours.to", "must differ from allowed_hours.from");
    return purpose_list_rules(doc, lookup, d);
}

static const struct cpm__schema property_schema = CPM__SCHEMA(property_fields, NULL),
                                purpose_schema = CPM__SCHEMA(purpose_fields, NULL),
                                notice_schema = CPM__SCHEMA(notice_fields, NULL),
                                policy_schema = CPM__SCHEMA(policy_fields, NULL),
                                topic_schema = CPM__SCHEMA(topic_fields, NULL),
                                channel_schema = CPM__SCHEMA(channel_fields, NULL);

static const struct {
    const struct cpm__schema *schema;
    rules_fn rules;
} kinds[] = {
    [CPM_DOC_PROPERTY] = {&property_schema, property_rules},
    [CPM_DOC_PURPOSE] = {&purpose_schema, purpose_rules},
    [CPM_DOC_NOTICE] = {&notice_schema, NULL},
    [CPM_DOC_POLICY] = {&policy_schema, policy_rules},
    [CPM_DOC_TOPIC] = {&topic_schema, purpose_list_rules},
    [CPM_DOC_CHANNEL] = {&channel_schema, channel_rules},
    [CPM_DOC_DESTINATION] = {&cpm__destination_schema, cpm__destination_rules},
};
_Static_assert(CPM_ARRAY_LEN(kinds) == CPM_DOC__COUNT, "kinds out of sync");

/* ---- public --------------------------------------------------------------- */

const char *cpm_doc_kind_name(enum cpm_doc_kind kind)
{
    CPM_ASSERT((unsigned)kind < CPM_DOC__COUNT);
    return kind_names[kind];
}

cpm_err cpm_config_validate(enum cpm_doc_kind kind, json_t *doc,
                            const struct cpm_config_lookup *lookup, struct cpm_detail *detail)
{
    CPM_ASSERT((unsigned)kind < CPM_DOC__COUNT && doc != NULL && detail != NULL);
    int before = cpm__detail_total(detail);
    cpm_err err = cpm__schema_validate(kinds[kind].schema, doc, "", detail);
    if (err == CPM_ERR_NOMEM)
        goto out;
    if (json_is_object(doc) && kinds[kind].rules != NULL) {
        err = kinds[kind].rules(doc, lookup, detail);
        if (err != CPM_OK)
            goto out;
    }
    err = cpm__detail_total(detail) > before ? CPM_ERR_VALIDATION : CPM_OK;
out:
    return err;
}

void cpm_config_unique_key(enum cpm_doc_kind kind, const json_t *doc, char *out, size_t size)
{
    CPM_ASSERT(size > 0);
    out[0] = '\0';
    if (kind != CPM_DOC_POLICY)
        return;
    const char *region = str(doc, "region"), *property = str(doc, "property");
    CPM_ASSERT(region != NULL && property != NULL);
    snprintf(out, size, "%s|%s", region, property);
}

/* Sets content.<locale>.sha256 to the lowercase hex SHA-256 of its text. */
static cpm_err hash_content(json_t *content)
{
    unsigned char hash[crypto_hash_sha256_BYTES];
    char hex[SHA256_HEX_BYTES];
    const char *locale;
    json_t *entry;
    if (sodium_init() < 0)
        return CPM_ERR_CRYPTO;
    json_object_foreach(content, locale, entry)
    {
        const json_t *text = json_object_get(entry, "text");
        crypto_hash_sha256(hash, (const unsigned char *)json_string_value(text),
                           json_string_length(text));
        sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
        if (json_object_set_new(entry, "sha256", json_string(hex)) != 0)
            return CPM_ERR_NOMEM;
    }
    return CPM_OK;
}

cpm_err cpm_notice_version_validate(json_t *version, const json_t *notice,
                                    const struct cpm_config_lookup *lookup,
                                    struct cpm_detail *detail)
{
    CPM_ASSERT(version != NULL && detail != NULL);
    const char *locale = str(notice, "default_locale");
    CPM_ASSERT(locale != NULL); /* notice is a stored, valid document */
    int before = cpm__detail_total(detail);
    cpm_err err = cpm__schema_validate(&version_schema, version, "", detail);
    if (err == CPM_ERR_NOMEM || !json_is_object(version))
        goto out;
    const json_t *content_map = json_object_get(version, "content");
    if (json_is_object(content_map) && json_object_get(content_map, locale) == NULL)
        cpm_detail_add(detail, "content", "must include the notice's default locale '%s'", locale);
    err = check_purposes(version, lookup, false, detail);
    if (err != CPM_OK)
        goto out;
    err = CPM_ERR_VALIDATION;
    if (cpm__detail_total(detail) > before)
        goto out;
    err = hash_content(json_object_get(version, "content"));
out:
    return err;
}

/* ---- value formats -------------------------------------------------------- */

bool cpm_config_id_valid(const char *s)
{
    if (s == NULL || !(cpm__ascii_lower(s[0]) || cpm__ascii_digit(s[0])))
        return false;
    for (size_t i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        if (i >= CPM_ID_BYTES_MAX)
            return false;
        if (!cpm__ascii_lower(c) && !cpm__ascii_digit(c) && c != '.' && c != '_' && c != '-')
            return false;
    }
    return true;
}

static size_t run(const char *s, bool (*in_class)(char))
{
    size_t n = 0;
    while (s[n] != '\0' && in_class(s[n]))
        n++;
    return n;
}

static bool ascii_letter(char c)
{
    return cpm__ascii_lower(c) || cpm__ascii_upper(c);
}

bool cpm_locale_valid(const char *s)
{
    if (s == NULL)
        return false;
    size_t n = run(s, cpm__ascii_lower); /* language: en, zh, yue */
    if (n < 2 || n > 3)
        return false;
    s += n;
    if (s[0] == '-' && run(s + 1, ascii_letter) == 4) { /* script: Hans */
        if (!cpm__ascii_upper(s[1]) || run(s + 2, cpm__ascii_lower) != 3)
            return false;
        s += 5;
    }
    if (s[0] == '-') { /* region: GB, 419 */
        s++;
        n = run(s, cpm__ascii_upper) == 2 ? 2 : run(s, cpm__ascii_digit) == 3 ? 3 : 0;
        if (n == 0)
            return false;
        s += n;
    }
    return s[0] == '\0';
}

/* Designators in the order ISO 8601 requires; weeks stand alone. */
static const struct {
    char designator;
    bool time;
    int64_t seconds; /* 0: a calendar part */
} duration_parts[] = {
    {'Y', false, 0},   {'M', false, 0}, {'W', false, 0}, {'D', false, 0},
    {'H', true, 3600}, {'M', true, 60}, {'S', true, 1},
};

static void duration_add(struct cpm_duration *d, size_t part, int64_t n)
{
    int32_t *calendar[] = {&d->years, &d->months, &d->weeks, &d->days};
    if (part < CPM_ARRAY_LEN(calendar))
        *calendar[part] = (int32_t)n;
    else
        d->seconds += n * duration_parts[part].seconds;
}

bool cpm_duration_parse(const char *s, struct cpm_duration *out)
{
    struct cpm_duration d = {0};
    size_t next = 0, parts = 0, time_parts = 0;
    bool time = false, nonzero = false, weeks = false;
    if (s == NULL || *s++ != 'P')
        return false;
    while (*s != '\0') {
        if (*s == 'T' && !time) {
            time = true;
            next = 4; /* H */
            s++;
            continue;
        }
        int64_t n = 0;
        size_t digits = 0;
        for (; cpm__ascii_digit(*s); s++, digits++)
            n = digits < 9 ? n * 10 + (*s - '0') : n;
        size_t part = next;
        while (part < CPM_ARRAY_LEN(duration_parts) &&
               (duration_parts[part].designator != *s || duration_parts[part].time != time))
            part++;
        if (digits == 0 || digits > 9 || part == CPM_ARRAY_LEN(duration_parts))
            return false;
        duration_add(&d, part, n);
        nonzero |= n > 0;
        weeks |= part == 2;
        parts++;
        time_parts += time;
        next = part + 1;
        s++;
    }
    if (parts == 0 || (time && time_parts == 0) || !nonzero || (weeks && parts > 1))
        return false;
    *out = d;
    return true;
}

int64_t cpm_duration_after(int64_t ms, const struct cpm_duration *d)
{
    return cpm_time_add_calendar(ms, d->years * 12 + d->months, d->weeks * 7 + d->days, d->seconds);
}

static const json_t *policy_for_region(const json_t *policies, const char *region,
                                       const char *property)
{
    size_t i;
    json_t *p;
    json_array_foreach(policies, i, p)
    {
        const char *r = json_string_value(json_object_get(p, "region"));
        const char *prop = json_string_value(json_object_get(p, "property"));
        if (r && prop && strcmp(r, region) == 0 && strcmp(prop, property) == 0)
            return p;
    }
    return NULL;
}

const json_t *cpm_policy_select(const json_t *policies, const char *region, const char *property)
{
    char country[8] = "";
    if (region != NULL && strlen(region) < sizeof(country)) {
        cpm_strlcpy(country, region, sizeof(country));
        country[strcspn(country, "-")] = '\0';
    }
    const json_t *found = region ? policy_for_region(policies, region, property) : NULL;
    if (found == NULL && country[0])
        found = policy_for_region(policies, country, property);
    return found ? found : policy_for_region(policies, "*", property);
}
