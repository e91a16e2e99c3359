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

static const char *const kinds[] = {"webhook",    "nats",        "wecom_tags",   "sms_gateway",
                                    "ma_journey", "tencent_ads", "ocean_engine", NULL};
static const char *const actions[] = {"tag_add",         "tag_remove",      "suppress",
                                      "unsuppress",      "exit_journey",    "reschedule",
                                      "audience_append", "audience_reduce", NULL};

/* What each connector kind can do, and what it needs besides endpoint and secret. */
static const struct {
    const char *kind;
    const char *actions[3];
    const char *required[3];
} connectors[] = {
    {"wecom_tags", {"tag_add", "tag_remove"}, {"corp_id", "owner_userid"}},
    {"sms_gateway", {"suppress", "unsuppress"}, {NULL}},
    {"ma_journey", {"exit_journey", "reschedule"}, {NULL}},
    {"tencent_ads", {"audience_append", "audience_reduce"}, {"account_id", "audience_id"}},
    {"ocean_engine", {"audience_append", "audience_reduce"}, {"account_id", "audience_id"}},
};
static const char *const roles[] = {"processor", "independent", "cross_border", NULL};
static const char *const mechanisms[] = {"security_assessment", "standard_contract",
                                         "certification", NULL};

static const char *pattern_check(const char *s);
static const char *country_check(const char *s);

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

static const struct cpm__schema_field rule_fields[] = {
    {.name = "when", .type = CPM__SCHEMA_OBJECT, .nested = &filter_schema, .dflt = "{}"},
    {.name = "action", .type = CPM__SCHEMA_ENUM, .required = true, .values = actions},
    {.name = "tag", .type = CPM__SCHEMA_STRING, .bytes_min = 1, .bytes_max = 128},
};
static const struct cpm__schema rule_schema = CPM__SCHEMA(rule_fields, NULL);

static const struct cpm__schema_field destination_fields[] = {
    {.name = "id", .type = CPM__SCHEMA_SLUG, .required = true},
    {.name = "name",
     .type = CPM__SCHEMA_STRING,
     .required = true,
     .bytes_min = 1,
     .bytes_max = CPM_NAME_BYTES_MAX},
    {.name = "kind", .type = CPM__SCHEMA_ENUM, .required = true, .values = kinds},
    {.name = "endpoint", .type = CPM__SCHEMA_STRING, .required = true, .bytes_min = 1},
    /* 512 bytes of credential, or (stored) its sealed form */
    {.name = "secret", .type = CPM__SCHEMA_STRING, .bytes_min = 1, .bytes_max = 800},
    {.name = "enabled", .type = CPM__SCHEMA_BOOL, .dflt = "true"},
    {.name = "filter", .type = CPM__SCHEMA_OBJECT, .nested = &filter_schema, .dflt = "{}"},
    {.name = "role", .type = CPM__SCHEMA_ENUM, .values = roles, .dflt = "\"processor\""},
    {.name = "recipient", .type = CPM__SCHEMA_SLUG},
    {.name = "country", .type = CPM__SCHEMA_STRING, .check = country_check},
    {.name = "transfer_mechanism", .type = CPM__SCHEMA_ENUM, .values = mechanisms},
    {.name = "stream", .type = CPM__SCHEMA_STRING, .bytes_min = 1, .bytes_max = 64},
    {.name = "subject_prefix", .type = CPM__SCHEMA_STRING, .bytes_min = 1, .bytes_max = 64},
    {.name = "corp_id", .type = CPM__SCHEMA_STRING, .bytes_min = 1, .bytes_max = 64},
    {.name = "owner_userid", .type = CPM__SCHEMA_STRING, .bytes_min = 1, .bytes_max = 64},
    {.name = "account_id", .type = CPM__SCHEMA_STRING, .bytes_min = 1, .bytes_max = 64},
    {.name = "audience_id", .type = CPM__SCHEMA_STRING, .bytes_min = 1, .bytes_max = 64},
    {.name = "batch_interval_ms",
     .type = CPM__SCHEMA_INTEGER,
     .min = 100,
     .max = 3600000,
     .dflt = "10000"},
    {.name = "rules",
     .type = CPM__SCHEMA_ARRAY,
     .item = CPM__SCHEMA_OBJECT,
     .nested = &rule_schema,
     .max = 32},
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

static const char *webhook_secret_check(const char *s)
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
    bool nats = strcmp(kind, "nats") == 0, webhook = strcmp(kind, "webhook") == 0;
    if (endpoint != NULL && !nats && !webhook_url_valid(endpoint))
        cpm_detail_add(d, "endpoint",
                       "must be an http:// or https:// URL with a lowercase host, an optional "
                       "port and path, no user name or fragment");
    if (endpoint != NULL && !nats && !webhook && strpbrk(endpoint, "?#") != NULL)
        cpm_detail_add(d, "endpoint",
                       "must be the API base URL without a query: the connector appends its paths");
    if (endpoint != NULL && nats && !nats_url_valid(endpoint))
        cpm_detail_add(d, "endpoint", "must be a NATS server URL like nats://127.0.0.1:4222");
    if (nats && str(doc, "stream") == NULL)
        cpm_detail_add(d, "stream", "is required for a nats destination (the JetStream stream)");
    if (str(doc, "stream") != NULL && !nats_name_valid(str(doc, "stream"), false))
        cpm_detail_add(d, "stream", "must be a stream name without spaces, dots or wildcards");
    if (str(doc, "subject_prefix") != NULL && !nats_name_valid(str(doc, "subject_prefix"), true))
        cpm_detail_add(d, "subject_prefix",
                       "must be NATS subject tokens like cpm or acme.consent (not $…)");
    if (!nats && (str(doc, "stream") || str(doc, "subject_prefix")))
        cpm_detail_add(d, str(doc, "stream") ? "stream" : "subject_prefix",
                       "is only for nats destinations");
    const char *secret = str(doc, "secret");
    bool sealed = secret != NULL && strncmp(secret, "sealed:", 7) == 0; /* checked when written */
    if (webhook && secret != NULL && !sealed && webhook_secret_check(secret) != NULL)
        cpm_detail_add(d, "secret", "%s", webhook_secret_check(secret));
    if (strcmp(kind, "nats") == 0 && secret != NULL)
        cpm_detail_add(d, "secret", "is not used by nats destinations");
}

static int connector_of(const char *kind)
{
    for (size_t i = 0; i < CPM_ARRAY_LEN(connectors); i++)
        if (strcmp(connectors[i].kind, kind) == 0)
            return (int)i;
    return -1;
}

static bool has(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n && list[i] != NULL; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* A connector: its credentials and ids, and rules whose actions it can take. */
static void connector_rules(const json_t *doc, int c, struct cpm_detail *d)
{
    const json_t *rules = json_object_get(doc, "rules");
    char path[CPM_FIELD_PATH_BYTES_MAX];
    size_t i;
    const json_t *rule;
    if (str(doc, "secret") == NULL)
        cpm_detail_add(d, "secret", "is required: the %s credential", connectors[c].kind);
    for (size_t r = 0; r < CPM_ARRAY_LEN(connectors[c].required) && connectors[c].required[r]; r++)
        if (str(doc, connectors[c].required[r]) == NULL)
            cpm_detail_add(d, connectors[c].required[r], "is required for a %s destination",
                           connectors[c].kind);
    if (json_array_size(rules) == 0)
        cpm_detail_add(d, "rules", "needs at least one rule: which changes trigger which action");
    json_array_foreach(rules, i, rule)
    {
        const char *action = str(rule, "action");
        cpm__schema_path_index(path, sizeof(path), "rules", i);
        if (action != NULL && !has(connectors[c].actions, 3, action))
            cpm_detail_add(d, path, "action '%s' is not one a %s destination takes", action,
                           connectors[c].kind);
        if (action != NULL && strncmp(action, "tag_", 4) == 0 && str(rule, "tag") == NULL)
            cpm_detail_add(d, path, "needs the WeCom tag id its action adds or removes");
    }
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
    int c = kind != NULL ? connector_of(kind) : -1;
    if (kind != NULL)
        kind_rules(doc, kind, d);
    if (c >= 0)
        connector_rules(doc, c, d);
    else if (kind != NULL && json_object_get(doc, "rules") != NULL)
        cpm_detail_add(d, "rules",
                       "are for connectors; a %s destination sends what its filter"
                       " matches",
                       kind);
    role_rules(doc, d);
    return CPM_OK;
}

/* PIPL Art. 15 and 44: a stop reaches every system that acts on the person. */
#define STOPS                                                                                      \
    "\"consent.withdrawn\", \"consent.refused\", \"consent.expired\", \"consent.objected\""

static const struct {
    const char *kind;
    const char *rules;
} default_rules[] = {
    {"sms_gateway",
     "[{\"when\": {\"types\": [" STOPS "], \"purposes\": [\"marketing.sms\", \"marketing.sms.*\"]},"
     " \"action\": \"suppress\"},"
     " {\"when\": {\"types\": [\"consent.given\", \"consent.objection_withdrawn\"],"
     " \"purposes\": [\"marketing.sms\", \"marketing.sms.*\"]}, \"action\": \"unsuppress\"}]"},
    {"ma_journey",
     "[{\"when\": {\"types\": [" STOPS ", \"subject.erased\"]}, \"action\": \"exit_journey\"},"
     " {\"when\": {\"types\": [\"preferences.changed\"]}, \"action\": \"reschedule\"}]"},
    {"tencent_ads", "[{\"when\": {\"types\": [" STOPS
                    "], \"purposes\": [\"ads.*\"]}, \"action\": \"audience_reduce\"},"
                    " {\"when\": {\"types\": [\"consent.given\"], \"purposes\": [\"ads.*\"]},"
                    " \"action\": \"audience_append\"}]"},
    {"ocean_engine", "[{\"when\": {\"types\": [" STOPS
                     "], \"purposes\": [\"ads.*\"]}, \"action\": \"audience_reduce\"},"
                     " {\"when\": {\"types\": [\"consent.given\"], \"purposes\": [\"ads.*\"]},"
                     " \"action\": \"audience_append\"}]"},
};

/* Ocean Engine updates a data source at most 50 times a day: a flush every 30 minutes fits. */
#define OCEAN_ENGINE_INTERVAL_MS 1800000

void cpm_destination_fill_defaults(json_t *doc)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    for (size_t i = 0; kind != NULL && i < CPM_ARRAY_LEN(default_rules); i++)
        if (strcmp(default_rules[i].kind, kind) == 0 && json_object_get(doc, "rules") == NULL)
            json_object_set_new(doc, "rules", json_loads(default_rules[i].rules, 0, NULL));
    if (kind != NULL && strcmp(kind, "ocean_engine") == 0 &&
        json_object_get(doc, "batch_interval_ms") == NULL)
        json_object_set_new(doc, "batch_interval_ms", json_integer(OCEAN_ENGINE_INTERVAL_MS));
}

bool cpm_destination_rule_matches(const json_t *when, const char *type, const char *purpose)
{
    const json_t *purposes = json_object_get(when, "purposes");
    if (!cpm_destination_patterns_match(json_object_get(when, "types"), type))
        return false;
    return json_array_size(purposes) == 0 ||
           (purpose[0] != '\0' && cpm_destination_patterns_match(purposes, purpose));
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
