/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preferences.c — a subject's contact preferences (see preferences.h): the
 * document's rules, its compiled form for the index, and its ledger leaf.
 *
 * The fixed fields go through a schema table (schema.c). `channels` and
 * `topics` are maps whose keys are the data (channel names, topic ids),
 * which a table cannot state, so they are checked here with the schema's
 * message style; so are the rules across fields (from == to, one cap per
 * channel and period).
 */
#include "core/common.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "domain/preferences.h"
#include "domain/schema.h"

#define QUOTE_BYTES_MAX 48  /* user text echoed in a message, as schema.c */
#define LIST_BYTES_MAX  160 /* "expected one of: …" */
#define LEAF_KEY        ",\"preferences\":"

_Static_assert(CPM_CHANNEL__COUNT <= 8, "channels_off has a bit per channel");
_Static_assert(CPM_PREFERENCES_CAPS_MAX == CPM_CHANNEL__COUNT * 3, "one cap per channel, period");

static const char *const periods[] = {"day", "week", "month", NULL};

/* clang-format off */
/* Checked by hand (check_channels, check_topics): listed so "allowed: …" names them. */
#define BY_HAND(n) {.name = (n), .type = CPM__SCHEMA_OBJECT}
/* clang-format on */

static const struct cpm__schema_field window_fields[] = {
    CPM__SCHEMA_DAYS_FIELD,
    {.name = "from", .type = CPM__SCHEMA_STRING, .required = true, .check = cpm__clock_check},
    {.name = "to", .type = CPM__SCHEMA_STRING, .required = true, .check = cpm__clock_check},
};
static const struct cpm__schema window_schema = CPM__SCHEMA(window_fields, NULL);

static const struct cpm__schema_field cap_fields[] = {
    {.name = "channel", .type = CPM__SCHEMA_ENUM, .required = true, .values = cpm__channel_names},
    {.name = "max", .type = CPM__SCHEMA_INTEGER, .required = true, .min = 1, .max = 1000},
    {.name = "per", .type = CPM__SCHEMA_ENUM, .required = true, .values = periods},
};
static const struct cpm__schema cap_schema = CPM__SCHEMA(cap_fields, NULL);

static const struct cpm__schema_field preference_fields[] = {
    BY_HAND("channels"),
    BY_HAND("topics"),
    {.name = "time_zone", .type = CPM__SCHEMA_STRING, .check = cpm__tz_check},
    {.name = "contact_windows",
     .type = CPM__SCHEMA_ARRAY,
     .item = CPM__SCHEMA_OBJECT,
     .nested = &window_schema,
     .max = CPM_PREFERENCES_WINDOWS_MAX},
    {.name = "frequency_caps",
     .type = CPM__SCHEMA_ARRAY,
     .item = CPM__SCHEMA_OBJECT,
     .nested = &cap_schema,
     .max = CPM_PREFERENCES_CAPS_MAX},
    {.name = "language", .type = CPM__SCHEMA_LOCALE},
    {.name = "personalisation", .type = CPM__SCHEMA_BOOL},
};
static const struct cpm__schema preference_schema = CPM__SCHEMA(preference_fields, NULL);

/* ---- validation --------------------------------------------------------------- */

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Writes "a, b, c" (the NULL-terminated names) into out. */
static void join(char *out, size_t size, const char *const *names)
{
    size_t used = 0;
    out[0] = '\0';
    for (; *names != NULL && used < size; names++) {
        int n = snprintf(out + used, size - used, "%s%s", used > 0 ? ", " : "", *names);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* doc without the hand-checked maps: a shallow copy (values shared), or NULL. */
static json_t *without_maps(json_t *doc)
{
    json_t *rest = json_object(), *value;
    const char *key;
    if (rest == NULL)
        return NULL;
    json_object_foreach(doc, key, value)
    {
        if (strcmp(key, "channels") == 0 || strcmp(key, "topics") == 0)
            continue;
        if (json_object_set(rest, key, value) != 0) {
            json_decref(rest);
            return NULL;
        }
    }
    return rest;
}

/* A map's value: true or false. */
static void check_flag(const json_t *value, const char *path, struct cpm_detail *d)
{
    if (!json_is_boolean(value))
        cpm_detail_add(d, path, "must be true or false");
}

/* channels: {"<channel name>": bool}. */
static void check_channels(json_t *channels, struct cpm_detail *d)
{
    char path[CPM_FIELD_PATH_BYTES_MAX], quoted[QUOTE_BYTES_MAX + 4], list[LIST_BYTES_MAX];
    const char *key;
    json_t *value;
    if (channels == NULL)
        return;
    if (!json_is_object(channels)) {
        cpm_detail_add(d, "channels", "must be an object from channel name to true or false");
        return;
    }
    json_object_foreach(channels, key, value)
    {
        cpm__schema_path_key(path, sizeof(path), "channels", key);
        if (cpm_channel_parse(key) == CPM_CHANNEL_NONE) {
            cpm__schema_quote(quoted, sizeof(quoted), key);
            join(list, sizeof(list), cpm__channel_names);
            cpm_detail_add(d, path, "unknown channel '%s'; expected one of: %s", quoted, list);
        }
        check_flag(value, path, d);
    }
}

/* Adds "unknown topic 'id'" at path when lookup has no such topic. */
/* topics: {"<topic id>": bool}, each topic configured. */
static cpm_err check_topics(json_t *topics, const struct cpm_config_lookup *lookup,
                            struct cpm_detail *d)
{
    char path[CPM_FIELD_PATH_BYTES_MAX];
    const char *key;
    json_t *value;
    cpm_err err = CPM_OK;
    if (topics == NULL)
        goto out;
    if (!json_is_object(topics)) {
        cpm_detail_add(d, "topics", "must be an object from topic id to true or false");
        goto out;
    }
    if (json_object_size(topics) > CPM_PREFERENCES_TOPICS_MAX) {
        cpm_detail_add(d, "topics", "has %zu topics; the limit is %d", json_object_size(topics),
                       CPM_PREFERENCES_TOPICS_MAX);
        goto out;
    }
    json_object_foreach(topics, key, value)
    {
        cpm__schema_path_key(path, sizeof(path), "topics", key);
        if (cpm_config_id_valid(key)) {
            err = cpm__config_resolve(lookup, CPM_DOC_TOPIC, key, path, d, NULL);
            if (err != CPM_OK)
                goto out;
        } else {
            cpm_detail_add(d, path,
                           "is not a topic id: 1-64 bytes of a-z 0-9 . _ -, starting with a "
                           "letter or a digit");
        }
        check_flag(value, path, d);
    }
out:
    return err;
}

/* Each window opens before 24:00 and does not end where it starts. */
static void check_windows(const json_t *windows, struct cpm_detail *d)
{
    char item[CPM_FIELD_PATH_BYTES_MAX], from_path[CPM_FIELD_PATH_BYTES_MAX];
    char to_path[CPM_FIELD_PATH_BYTES_MAX];
    uint16_t from, to;
    if (json_array_size(windows) > CPM_PREFERENCES_WINDOWS_MAX)
        return; /* the schema reported it */
    for (size_t i = 0; i < json_array_size(windows); i++) {
        const json_t *w = json_array_get(windows, i);
        if (!cpm_window_parse_time(str(w, "from"), &from))
            continue;
        cpm__schema_path_index(item, sizeof(item), "contact_windows", i);
        cpm__schema_path_key(from_path, sizeof(from_path), item, "from");
        cpm__schema_path_key(to_path, sizeof(to_path), item, "to");
        if (from == CPM_WINDOW_MINUTES_MAX)
            cpm_detail_add(d, from_path, "must be 00:00-23:59: 24:00 only ends a window");
        else if (cpm_window_parse_time(str(w, "to"), &to) && from == to)
            cpm_detail_add(d, to_path, "must differ from %s", from_path);
    }
}

/* At most one cap per (channel, period). */
static void check_caps(const json_t *caps, struct cpm_detail *d)
{
    char path[CPM_FIELD_PATH_BYTES_MAX];
    if (json_array_size(caps) > CPM_PREFERENCES_CAPS_MAX)
        return; /* the schema reported it */
    for (size_t i = 0; i < json_array_size(caps); i++) {
        const json_t *a = json_array_get(caps, i);
        const char *channel = str(a, "channel"), *per = str(a, "per");
        if (cpm_channel_parse(channel) == CPM_CHANNEL_NONE || cpm_cap_period_parse(per) < 0)
            continue;
        for (size_t j = 0; j < i; j++) {
            const json_t *b = json_array_get(caps, j);
            if (!same(channel, str(b, "channel")) || !same(per, str(b, "per")))
                continue;
            cpm__schema_path_index(path, sizeof(path), "frequency_caps", i);
            cpm_detail_add(d, path,
                           "duplicate cap on '%s' per '%s' (as frequency_caps[%zu]); at most one "
                           "per channel and period",
                           channel, per, j);
            break;
        }
    }
}

cpm_err cpm_preferences_validate(json_t *doc, const struct cpm_config_lookup *lookup,
                                 struct cpm_detail *detail)
{
    CPM_ASSERT(doc != NULL && detail != NULL);
    int before = cpm__detail_total(detail);
    json_t *rest = NULL;
    cpm_err err = CPM_ERR_VALIDATION;
    if (!json_is_object(doc)) {
        cpm_detail_add(detail, "", "must be an object");
        goto out;
    }
    err = CPM_ERR_NOMEM;
    rest = without_maps(doc);
    if (rest == NULL)
        goto out;
    err = cpm__schema_validate(&preference_schema, rest, "", detail);
    if (err == CPM_ERR_NOMEM)
        goto out;
    check_channels(json_object_get(doc, "channels"), detail);
    err = check_topics(json_object_get(doc, "topics"), lookup, detail);
    if (err != CPM_OK)
        goto out;
    check_windows(json_object_get(doc, "contact_windows"), detail);
    check_caps(json_object_get(doc, "frequency_caps"), detail);
    err = cpm__detail_total(detail) > before ? CPM_ERR_VALIDATION : CPM_OK;
out:
    json_decref(rest);
    return err;
}

/* ---- the compiled form ---------------------------------------------------------- */

static void copy_text(char *out, size_t size, const json_t *value)
{
    const char *s = json_string_value(value);
    if (s == NULL)
        return;
    size_t len = cpm_strlcpy(out, s, size);
    CPM_ASSERT(len < size);
}

static void compile_channels(json_t *channels, struct cpm_preferences *out)
{
    const char *key;
    json_t *value;
    json_object_foreach(channels, key, value)
    {
        enum cpm_channel c = cpm_channel_parse(key);
        CPM_ASSERT(c != CPM_CHANNEL_NONE && json_is_boolean(value));
        if (json_is_false(value))
            out->channels_off |= (uint8_t)(1u << c);
    }
}

static void compile_window(const json_t *w, struct cpm_window *out)
{
    const json_t *days = json_object_get(w, "days"), *day;
    size_t i;
    out->days = days == NULL ? CPM_WINDOW_DAYS_ALL : 0;
    json_array_foreach(days, i, day)
    {
        int n = cpm_window_day(json_string_value(day));
        CPM_ASSERT(n >= 0);
        out->days |= (uint8_t)(1u << n);
    }
    bool parsed = cpm_window_parse_time(str(w, "from"), &out->from_min) &&
                  cpm_window_parse_time(str(w, "to"), &out->to_min);
    CPM_ASSERT(parsed && cpm_window_valid(out));
}

static void compile_windows(const json_t *windows, struct cpm_preferences *out)
{
    CPM_ASSERT(json_array_size(windows) <= CPM_PREFERENCES_WINDOWS_MAX);
    out->window_count = json_array_size(windows);
    for (size_t i = 0; i < out->window_count; i++)
        compile_window(json_array_get(windows, i), &out->windows[i]);
}

static void compile_caps(const json_t *caps, struct cpm_preferences *out)
{
    CPM_ASSERT(json_array_size(caps) <= CPM_PREFERENCES_CAPS_MAX);
    out->cap_count = json_array_size(caps);
    for (size_t i = 0; i < out->cap_count; i++) {
        const json_t *c = json_array_get(caps, i);
        enum cpm_channel channel = cpm_channel_parse(str(c, "channel"));
        int period = cpm_cap_period_parse(str(c, "per"));
        json_int_t max = json_integer_value(json_object_get(c, "max"));
        CPM_ASSERT(channel != CPM_CHANNEL_NONE && period >= 0 && max >= 1 && max <= 1000);
        out->caps[i].channel = (uint8_t)channel;
        out->caps[i].cap.max = (uint16_t)max;
        out->caps[i].cap.period = (uint8_t)period;
    }
}

/* Topics sorted by id, so the index can search them. */
static void compile_topics(json_t *topics, struct cpm_preferences *out)
{
    const char *key;
    json_t *value;
    CPM_ASSERT(json_object_size(topics) <= CPM_PREFERENCES_TOPICS_MAX);
    json_object_foreach(topics, key, value)
    {
        size_t i = out->topic_count++;
        CPM_ASSERT(json_is_boolean(value));
        for (; i > 0 && strcmp(out->topics[i - 1].id, key) > 0; i--)
            out->topics[i] = out->topics[i - 1];
        size_t id_len = cpm_strlcpy(out->topics[i].id, key, sizeof(out->topics[i].id));
        CPM_ASSERT(id_len < sizeof(out->topics[i].id));
        out->topics[i].on = json_is_true(value);
    }
}

void cpm_preferences_compile(const json_t *doc, struct cpm_preferences *out)
{
    CPM_ASSERT(json_is_object(doc) && out != NULL);
    memset(out, 0, sizeof(*out));
    compile_channels(json_object_get(doc, "channels"), out);
    out->personalisation_off = json_is_false(json_object_get(doc, "personalisation"));
    copy_text(out->time_zone, sizeof(out->time_zone), json_object_get(doc, "time_zone"));
    copy_text(out->language, sizeof(out->language), json_object_get(doc, "language"));
    compile_windows(json_object_get(doc, "contact_windows"), out);
    compile_caps(json_object_get(doc, "frequency_caps"), out);
    compile_topics(json_object_get(doc, "topics"), out);
}

/* ---- the leaf ------------------------------------------------------------------- */

/* head ("{…}") with ',"preferences":' body inserted before its closing brace; owned. */
static char *splice(const char *head, const char *body, size_t *len)
{
    size_t head_len = strlen(head), body_len = strlen(body), key_len = strlen(LEAF_KEY);
    CPM_ASSERT(head_len >= 2 && head[head_len - 1] == '}');
    size_t total = head_len - 1 + key_len + body_len + 1;
    char *text = cpm_malloc(total + 1);
    if (text == NULL)
        return NULL;
    memcpy(text, head, head_len - 1);
    memcpy(text + head_len - 1, LEAF_KEY, key_len);
    memcpy(text + head_len - 1 + key_len, body, body_len);
    memcpy(text + total - 1, "}", 2);
    *len = total;
    return text;
}

char *cpm_preferences_leaf(const char *event_id, const char *pseudonym, const char *guardian,
                           int64_t time_ms, const json_t *doc, size_t *len)
{
    CPM_ASSERT(event_id != NULL && pseudonym != NULL && json_is_object(doc) && len != NULL);
    char time_text[CPM_TIME_TEXT_BYTES];
    char *head = NULL, *body = NULL, *text = NULL;
    cpm_time_format(time_ms, time_text, sizeof(time_text));
    json_t *leaf =
        json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", 1, "id", event_id, "type",
                  CPM_EVENT_PREFERENCES_CHANGED, "time", time_text, "subject", pseudonym);
    if (leaf == NULL ||
        (guardian != NULL && json_object_set_new(leaf, "guardian", json_string(guardian)) != 0))
        goto out;
    head = json_dumps(leaf, JSON_COMPACT | JSON_PRESERVE_ORDER);
    body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (head != NULL && body != NULL)
        text = splice(head, body, len);
out:
    json_decref(leaf);
    cpm_free(head);
    cpm_free(body);
    return text;
}
