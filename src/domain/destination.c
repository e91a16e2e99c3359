/* SPDX-License-Identifier: Apache-2.0 */
/*
 * destination.c — the destination document's fields and rules, the webhook
 * secret format, and the event filter's patterns.
 */
#include "core/common.h"

#include <sodium.h>

#include "domain/config.h"
#include "domain/decide.h"
#include "domain/destination.h"
#include "domain/schema.h"

static const char *const kinds[] = {"webhook", "nats", NULL};
static const char *const roles[] = {"processor", "independent", "cross_border", NULL};
static const char *const mechanisms[] = {"security_assessment", "standard_contract",
                                         "certification", NULL};

static const char *pattern_check(const char *s);
static const char *country_check(const char *s);
static const char *secret_check(const char *s);

static const struct cpm__schema_field filter_fields[] = {
    {.name = "types",
     .type = CPM__SCHEMA_ARRAY,
     .item = CPM__SCHEMA_STRING,
     .check = pattern_check},
    {.name = "purposes",
     .type = CPM__SCHEMA_ARRAY,
     .item = CPM__SCHEMA_STRING,
     .check = pattern_check},
    {.name = "channels",
     .type = CPM__SCHEMA_ARRAY,
     .item = CPM__SCHEMA_ENUM,
     .values = cpm__channel_names},
};
static const struct cpm__schema filter_schema = CPM__SCHEMA(filter_fields, NULL);

static const struct cpm__schema_field destination_fields[] = {
    {.name = "id", .type = CPM__SCHEMA_SLUG, .required = true},
    {.name = "name",
     .type = CPM__SCHEMA_STRING,
     .required = true,
     .bytes_min = 1,
     .bytes_max = CPM_NAME_BYTES_MAX},
    {.name = "kind", .type = CPM__SCHEMA_ENUM, .required = true, .values = kinds},
    {.name = "endpoint", .type = CPM__SCHEMA_STRING, .required = true, .bytes_min = 1},
    {.name = "secret", .type = CPM__SCHEMA_STRING, .check = secret_check},
    {.name = "enabled", .type = CPM__SCHEMA_BOOL, .dflt = "true"},
    {.name = "filter", .type = CPM__SCHEMA_OBJECT, .nested = &filter_schema, .dflt = "{}"},
    {.name = "role", .type = CPM__SCHEMA_ENUM, .values = roles, .dflt = "\"processor\""},
    {.name = "recipient", .type = CPM__SCHEMA_SLUG},
    {.name = "country", .type = CPM__SCHEMA_STRING, .check = country_check},
    {.name = "transfer_mechanism", .type = CPM__SCHEMA_ENUM, .values = mechanisms},
    {.name = "stream", .type = CPM__SCHEMA_STRING, .bytes_min = 1, .bytes_max = 64},
    {.name = "subject_prefix", .type = CPM__SCHEMA_STRING, .bytes_min = 1, .bytes_max = 64},
    {.name = "max_attempts", .type = CPM__SCHEMA_INTEGER, .min = 1, .max = 50, .dflt = "12"},
    {.name = "timeout_ms", .type = CPM__SCHEMA_INTEGER, .min = 100, .max = 60000, .dflt = "10000"},
    {.name = "from_seq", .type = CPM__SCHEMA_INTEGER, .min = 1, .max = INT64_MAX},
    {.name = "revision", .type = CPM__SCHEMA_READ_ONLY},
    {.name = "created_at", .type = CPM__SCHEMA_READ_ONLY},
    {.name = "updated_at", .type = CPM__SCHEMA_READ_ONLY},
};
const struct cpm__schema cpm__destination_schema = CPM__SCHEMA(destination_fields, NULL);

static const char *pattern_check(const char *s)
{
    size_t len = strlen(s);
    bool wild = len >= 2 && strcmp(s + len - 2, ".*") == 0;
    char head[CPM_ID_BYTES_MAX + 1];
    if (strcmp(s, "*") == 0)
        return NULL;
    if (len - (wild ? 2 : 0) > CPM_ID_BYTES_MAX)
        return "is too long for a pattern";
    memcpy(head, s, len - (wild ? 2 : 0));
    head[len - (wild ? 2 : 0)] = '\0';
    return cpm__purpose_id_valid(head)
               ? NULL
               : "must be a name like consent.withdrawn, or a prefix pattern like consent.*";
}

static const char *country_check(const char *s)
{
    return strlen(s) == 2 && cpm__ascii_upper(s[0]) && cpm__ascii_upper(s[1])
               ? NULL
               : "must be an ISO 3166-1 alpha-2 country code like SG or DE";
}

static const char *secret_check(const char *s)
{
    uint8_t key[CPM_WEBHOOK_KEY_BYTES_MAX];
    size_t len;
    bool ok = cpm_webhook_secret_decode(s, key, &len);
    sodium_memzero(key, sizeof(key));
    return ok ? NULL : "must be whsec_ followed by the base64 of a 24-64 byte key";
}

/* An http(s) URL: scheme, lowercase host (or [IPv6]), optional port and path, nothing else. */
static bool webhook_url_valid(const char *s)
{
    bool https = strncmp(s, "https://", 8) == 0;
    if (!https && strncmp(s, "http://", 7) != 0)
        return false;
    const char *host = s + (https ? 8 : 7), *end = host + strcspn(host, "/?#");
    if (*end == '#' || memchr(host, '@', (size_t)(end - host)) != NULL)
        return false;
    const char *colon = NULL;
    if (*host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (close == NULL || close == host + 1)
            return false;
        for (const char *p = host + 1; p < close; p++)
            if (!cpm__ascii_digit(*p) && !strchr("abcdef:.", *p))
                return false;
        colon = close + 1 < end ? close + 1 : NULL;
        if (colon != NULL && *colon != ':')
            return false;
    } else {
        colon = memchr(host, ':', (size_t)(end - host));
        if (!cpm__host_valid(host, (size_t)((colon ? colon : end) - host)))
            return false;
    }
    if (colon != NULL) {
        char port[8] = "";
        int64_t n;
        size_t len = (size_t)(end - colon - 1);
        if (len == 0 || len >= sizeof(port))
            return false;
        memcpy(port, colon + 1, len);
        if (port[0] == '0' || !cpm_parse_int64(port, 1, 65535, &n))
            return false;
    }
    for (const unsigned char *p = (const unsigned char *)end; *p != '\0'; p++)
        if (*p <= 0x20 || *p >= 0x7F || *p == '#')
            return false;
    return true;
}

/* nats://host:port */
static bool nats_url_valid(const char *s)
{
    if (strncmp(s, "nats://", 7) != 0)
        return false;
    const char *host = s + 7, *colon = strrchr(host, ':');
    int64_t port;
    return colon != NULL && cpm__host_valid(host, (size_t)(colon - host)) && colon[1] != '0' &&
           cpm_parse_int64(colon + 1, 1, 65535, &port);
}

/* NATS stream names and subject tokens: no spaces, dots, wildcards or separators. */
static bool nats_name_valid(const char *s, bool dots)
{
    for (const char *p = s; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || strchr("*>/\\", *p) || (*p == '.' && !dots))
            return false;
    return s[0] != '\0' && s[0] != '.' && s[0] != '$' && s[strlen(s) - 1] != '.' &&
           strstr(s, "..") == NULL;
}

static const char *str(const json_t *doc, const char *key)
{
    return json_string_value(json_object_get(doc, key));
}

static void kind_rules(const json_t *doc, const char *kind, struct cpm_detail *d)
{
    const char *endpoint = str(doc, "endpoint");
    bool webhook = strcmp(kind, "webhook") == 0;
    if (endpoint != NULL && webhook && !webhook_url_valid(endpoint))
        cpm_detail_add(d, "endpoint",
                       "must be an http:// or https:// URL with a lowercase host, an optional "
                       "port and path, no user name or fragment");
    if (endpoint != NULL && !webhook && !nats_url_valid(endpoint))
        cpm_detail_add(d, "endpoint", "must be a NATS server URL like nats://127.0.0.1:4222");
    if (!webhook && str(doc, "stream") == NULL)
        cpm_detail_add(d, "stream", "is required for a nats destination (the JetStream stream)");
    if (str(doc, "stream") != NULL && !nats_name_valid(str(doc, "stream"), false))
        cpm_detail_add(d, "stream", "must be a stream name without spaces, dots or wildcards");
    if (str(doc, "subject_prefix") != NULL && !nats_name_valid(str(doc, "subject_prefix"), true))
        cpm_detail_add(d, "subject_prefix",
                       "must be NATS subject tokens like cpm or acme.consent (not $…)");
    if (webhook && (str(doc, "stream") || str(doc, "subject_prefix")))
        cpm_detail_add(d, str(doc, "stream") ? "stream" : "subject_prefix",
                       "is only for nats destinations");
    if (!webhook && str(doc, "secret") != NULL)
        cpm_detail_add(d, "secret", "is only for webhook destinations");
}

/* PIPL Art. 23 and 38/39: a recipient's own consent, and the transfer's legal mechanism. */
static void role_rules(const json_t *doc, struct cpm_detail *d)
{
    const char *role = str(doc, "role");
    bool processor = role == NULL || strcmp(role, "processor") == 0;
    bool cross_border = role != NULL && strcmp(role, "cross_border") == 0;
    if (!processor && str(doc, "recipient") == NULL)
        cpm_detail_add(d, "recipient",
                       "is required for role %s: the recipient id subjects' separate consents name",
                       role);
    if (cross_border && str(doc, "country") == NULL)
        cpm_detail_add(d, "country", "is required for a cross-border recipient");
    if (cross_border && str(doc, "transfer_mechanism") == NULL)
        cpm_detail_add(d, "transfer_mechanism",
                       "is required for a cross-border recipient (PIPL Art. 38)");
    if (!cross_border && (str(doc, "country") || str(doc, "transfer_mechanism")))
        cpm_detail_add(d, str(doc, "country") ? "country" : "transfer_mechanism",
                       "is only for role cross_border");
}

cpm_err cpm__destination_rules(const json_t *doc, const struct cpm_config_lookup *lookup,
                               struct cpm_detail *d)
{
    CPM_UNUSED(lookup);
    const char *kind = str(doc, "kind");
    if (kind != NULL)
        kind_rules(doc, kind, d);
    role_rules(doc, d);
    return CPM_OK;
}

void cpm_webhook_secret_new(char out[CPM_WEBHOOK_SECRET_BYTES_MAX])
{
    uint8_t key[CPM_WEBHOOK_KEY_BYTES_NEW];
    randombytes_buf(key, sizeof(key));
    memcpy(out, "whsec_", 6);
    sodium_bin2base64(out + 6, CPM_WEBHOOK_SECRET_BYTES_MAX - 6, key, sizeof(key),
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof(key));
}

bool cpm_webhook_secret_decode(const char *secret, uint8_t key[CPM_WEBHOOK_KEY_BYTES_MAX],
                               size_t *len)
{
    const char *end = NULL;
    if (strncmp(secret, "whsec_", 6) != 0)
        return false;
    if (sodium_base642bin(key, CPM_WEBHOOK_KEY_BYTES_MAX, secret + 6, strlen(secret + 6), NULL, len,
                          &end, sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    return *end == '\0' && *len >= CPM_WEBHOOK_KEY_BYTES_MIN;
}

bool cpm_destination_pattern_matches(const char *pattern, const char *value)
{
    size_t len = strlen(pattern);
    if (strcmp(pattern, "*") == 0)
        return true;
    if (len >= 2 && strcmp(pattern + len - 2, ".*") == 0)
        return strncmp(value, pattern, len - 1) == 0 && value[len - 1] != '\0';
    return strcmp(pattern, value) == 0;
}

bool cpm_destination_patterns_match(const json_t *patterns, const char *value)
{
    size_t i;
    const json_t *p;
    if (json_array_size(patterns) == 0)
        return true;
    json_array_foreach(patterns, i, p) if (cpm_destination_pattern_matches(json_string_value(p),
                                                                           value)) return true;
    return false;
}
