/* SPDX-License-Identifier: Apache-2.0 */
/*
 * experience.c — GET /v1/experience: for a property, a region, a locale and
 * (optionally) a person, what the consent popup shows and whether it
 * should appear now — the policy that applies, the purposes it asks with
 * their texts in the best locale, the notice version and its hash, the UI
 * texts and theme, and, for a known person, why it should show (never
 * asked, re-consent required, expired, a refusal's cool-down over) and
 * whether a guardian must act (PIPL Art. 31).
 *
 * Anyone may ask for the texts; a person's own answer needs their
 * end-user token (subject=me), anyone else's an API key with
 * decisions:read.
 */
#include "core/common.h"

#include "api/api.h"
#include "api/support.h"
#include "core/clock.h"
#include "domain/config.h"
#include "domain/experience.h"
#include "domain/schema.h"
#include "domain/subject.h"
#include "http/app.h"
#include "http/auth.h"
#include "http/end_user.h"
#include "http/rate_limit.h"
#include "store/config_writer.h"

#define LOCALE_BYTES_MAX 36

struct experience {
    const char *property_id, *region;
    json_t *property, *policies, *notice, *states;
    const json_t *policy;
    struct cpm_notice_version version;
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1]; /* "" when nobody in particular */
    char age_status[16];
    char locale[LOCALE_BYTES_MAX];
};

static void experience_release(struct experience *x)
{
    json_decref(x->property);
    json_decref(x->policies);
    json_decref(x->notice);
    json_decref(x->states);
    cpm_notice_version_release(&x->version);
}

/* A guardian's token asking about a child it is the linked guardian of. */
static bool authorise_ward(struct cpm_request *req, struct experience *x,
                           const struct cpm_end_user *user, const char *child)
{
    bool linked = false;
    if (!cpm_api_subject_id_checked(req, child))
        return false;
    cpm_err err = cpm_store_guardian_linked(req->app->store, child, user->subject_id, &linked);
    if (err != CPM_OK)
        cpm_api_respond_store_error(req, err, "guardians of subject", child);
    else if (!linked)
        cpm_respond_error(req, CPM_ERR_FORBIDDEN, "subject",
                          "a token reaches its holder (subject=me) and the holder's wards only");
    else
        cpm_strlcpy(x->subject_id, child, sizeof(x->subject_id));
    return err == CPM_OK && linked;
}

/* Who is asking about whom; false when answered (401/403/422). */
static bool authorise(struct cpm_request *req, struct experience *x)
{
    const char *subject = cpm_request_query(req, "subject");
    if (subject == NULL)
        return true;
    bool me = strcmp(subject, CPM_SUBJECT_ME) == 0;
    if (me || cpm_end_user_bearer(cpm_request_header(req, "Authorization"))) {
        struct cpm_end_user user;
        if (!cpm_api_authenticate(req, true, 0, &user,
                                  "subject=me needs the person's end-user token"))
            return false;
        if (strcmp(user.property, x->property_id) != 0) {
            cpm_respond_error(req, CPM_ERR_FORBIDDEN, "property", "the token is for property '%s'",
                              user.property);
            return false;
        }
        return me ? (cpm_strlcpy(x->subject_id, user.subject_id, sizeof(x->subject_id)), true)
                  : authorise_ward(req, x, &user, subject);
    }
    if (!cpm_api_authenticate(req, false, CPM_SCOPE_DECISIONS_READ, NULL,
                              "a person's experience needs their end-user token"
                              " (subject=me) or an API key with decisions:read") ||
        !cpm_api_subject_id_checked(req, subject))
        return false;
    cpm_strlcpy(x->subject_id, subject, sizeof(x->subject_id));
    return true;
}

static cpm_err state_visit(void *ctx, const struct cpm_consent_state *s)
{
    json_t *states = ctx;
    if (s->recipient[0]) /* per-recipient consents are asked where the recipient is named */
        return CPM_OK;
    json_t *st =
        json_pack("{s:s, s:I}", "status", s->status, "ask_again_ms", (json_int_t)s->ask_again_ms);
    return st && json_object_set_new(states, s->purpose, st) == 0 ? CPM_OK : CPM_ERR_NOMEM;
}

/* The property, its policy, the notice version in force, the person's states. */
static cpm_err load(struct cpm_request *req, struct experience *x)
{
    struct cpm_store *store = req->app->store;
    int64_t revision;
    cpm_err err = cpm_config_read(store, CPM_DOC_PROPERTY, x->property_id, &x->property, &revision);
    if (err == CPM_OK)
        err = cpm_config_policies_cached(store, &x->policies);
    if (err == CPM_OK) {
        x->policy = cpm_policy_select(x->policies, x->region, x->property_id);
        err = x->policy ? CPM_OK : CPM_ERR_NOT_FOUND;
    }
    const char *notice = x->policy ? json_string_value(json_object_get(x->policy, "notice")) : "";
    if (err == CPM_OK)
        err = store->ops->notice_version_get(store, notice, 0, &x->version);
    if (err == CPM_OK)
        x->notice = json_loads(x->version.body, 0, NULL);
    x->states = json_object();
    if (err == CPM_OK && (x->notice == NULL || x->states == NULL))
        err = CPM_ERR_NOMEM;
    struct cpm_subject s;
    if (err == CPM_OK && x->subject_id[0]) {
        cpm_err found = store->ops->subject_get(store, x->subject_id, &s);
        if (found == CPM_OK)
            cpm_strlcpy(x->age_status, s.age_status, sizeof(x->age_status));
        err = found == CPM_OK
                  ? store->ops->consent_state_list(store, x->subject_id, state_visit, x->states)
              : found == CPM_ERR_NOT_FOUND ? CPM_OK
                                           : found;
    }
    return err;
}

/* A locale map's text in the chosen locale, else the default's, else any. */
static const char *text_in(const json_t *map, const char *locale, const char *fallback)
{
    const char *text = json_string_value(json_object_get(map, locale));
    if (text == NULL)
        text = json_string_value(json_object_get(map, fallback));
    if (text == NULL && json_object_size(map) > 0) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)map, key, value) return json_string_value(value);
    }
    return text;
}

/* Whether the topic covers one of the policy's purposes. */
static bool topic_asked(const json_t *topic, const json_t *policy)
{
    size_t i, j;
    const json_t *t, *p;
    json_array_foreach(json_object_get(topic, "purposes"), i, t)
    {
        json_array_foreach(json_object_get(policy, "purposes"), j, p)
        {
            if (json_equal(t, json_object_get(p, "purpose")))
                return true;
        }
    }
    return false;
}

/* The configured topics of the policy's purposes, named in the locale: what a person may turn off.
 */
static json_t *topics(struct cpm_request *req, struct experience *x)
{
    const char *fallback = json_string_value(json_object_get(x->property, "default_locale"));
    json_t *all = NULL, *out = json_array();
    const json_t *topic;
    size_t i;
    if (cpm_config_all(req->app->store, CPM_DOC_TOPIC, &all) != CPM_OK)
        return out; /* the popup and center go on without them */
    json_array_foreach(all, i, topic)
    {
        if (!topic_asked(topic, x->policy))
            continue;
        const json_t *name = json_object_get(topic, "name");
        json_array_append_new(out,
                              json_pack("{s:O, s:s?}", "id", json_object_get(topic, "id"), "name",
                                        json_is_string(name) ? json_string_value(name)
                                                             : text_in(name, x->locale, fallback)));
    }
    json_decref(all);
    return out;
}

/* The policy's purposes as shown, each with the person's status and why it is asked. */
static json_t *purposes(struct cpm_request *req, struct experience *x, json_t *reasons)
{
    const char *fallback = json_string_value(json_object_get(x->property, "default_locale"));
    json_t *out = json_array();
    size_t i;
    const json_t *item;
    int64_t now = cpm_clock_now_ms();
    json_array_foreach(json_object_get(x->policy, "purposes"), i, item)
    {
        const char *id = json_string_value(json_object_get(item, "purpose"));
        json_t *doc = NULL;
        int64_t revision;
        if (cpm_config_read(req->app->store, CPM_DOC_PURPOSE, id, &doc, &revision) != CPM_OK)
            continue;
        const char *form = json_string_value(json_object_get(doc, "consent_form"));
        const json_t *state = json_object_get(x->states, id);
        bool by_consent =
            strcmp(json_string_value(json_object_get(doc, "legal_basis")), "consent") == 0 &&
            !json_is_true(json_object_get(doc, "necessary_for_service"));
        struct cpm_purpose_prompt prompt = {
            .status = json_string_value(json_object_get(state, "status")),
            .ask_again_ms = json_integer_value(json_object_get(state, "ask_again_ms"))};
        const char *why =
            x->subject_id[0] && by_consent ? cpm_experience_prompt_reason(&prompt, now) : NULL;
        if (why != NULL)
            json_array_append_new(reasons, json_pack("{s:s, s:s}", "purpose", id, "reason", why));
        json_array_append_new(
            out,
            json_pack("{s:s, s:s?, s:s?, s:s, s:s?, s:b, s:b, s:b, s:b, s:s?}", "id", id, "name",
                      text_in(json_object_get(doc, "name"), x->locale, fallback), "description",
                      text_in(json_object_get(doc, "description"), x->locale, fallback),
                      "legal_basis", json_string_value(json_object_get(doc, "legal_basis")),
                      "consent_form", form, "separate",
                      form && (strcmp(form, "separate") == 0 || strcmp(form, "written") == 0),
                      "default", json_is_true(json_object_get(item, "default")), "necessary",
                      json_is_true(json_object_get(doc, "necessary_for_service")), "sensitive",
                      json_is_true(json_object_get(doc, "sensitive")), "status", prompt.status));
        json_decref(doc);
    }
    return out;
}

/* The policy's UI texts in the chosen locale, and its theme. */
static json_t *ui(const struct experience *x)
{
    const json_t *ui = json_object_get(x->policy, "ui");
    const char *fallback = json_string_value(json_object_get(x->property, "default_locale"));
    json_t *texts = json_object(), *out = json_object();
    const char *key;
    json_t *map;
    json_object_foreach(json_object_get(ui, "texts"), key, map)
    {
        const char *t = text_in(map, x->locale, fallback);
        if (t != NULL)
            json_object_set_new(texts, key, json_string(t));
    }
    json_t *theme = json_object_get(ui, "theme");
    json_object_set_new(out, "texts", texts);
    json_object_set_new(out, "theme", theme ? json_incref(theme) : json_object());
    return out;
}

/* The first tag of an Accept-Language header ("zh-HK,zh;q=0.9" → "zh-HK"). */
static void first_language(const char *header, char *out, size_t cap)
{
    out[0] = '\0';
    if (header == NULL)
        return;
    size_t n = strcspn(header, ",;");
    if (n < cap && n > 0) {
        memcpy(out, header, n);
        out[n] = '\0';
    }
}

static json_t *answer(struct cpm_request *req, struct experience *x)
{
    const json_t *content = json_object_get(x->notice, "content");
    json_t *available = json_array(), *reasons = json_array();
    const char *key;
    json_t *value;
    char accept[LOCALE_BYTES_MAX];
    json_object_foreach((json_t *)content, key, value)
        json_array_append_new(available, json_string(key));
    const char *requested = cpm_request_query(req, "locale");
    first_language(cpm_request_header(req, "Accept-Language"), accept, sizeof(accept));
    cpm_experience_locale(available,
                          requested   ? requested
                          : accept[0] ? accept
                                      : NULL,
                          x->region,
                          json_string_value(json_object_get(x->property, "default_locale")),
                          x->locale, sizeof(x->locale));
    const json_t *shown = json_object_get(content, x->locale);
    json_t *list = purposes(req, x, reasons);
    bool guardian = strcmp(x->age_status, "child_under_14") == 0;
    const char *sec_gpc = cpm_request_header(req, "Sec-GPC"); /* the browser's GPC signal */
    return json_pack(
        "{s:s, s:s?, s:O, s:s, s:o, s:{s:s, s:I, s:s?, s:s?, s:s?}, s:o, s:o, s:o, s:O?, s:b, s:s?,"
        " s:b, s:s?, s:b, s:o, s:b}",
        "property", x->property_id, "region", x->region, "policy", json_object_get(x->policy, "id"),
        "locale", x->locale, "locales", available, "notice", "id", x->version.notice_id, "version",
        (json_int_t)x->version.version, "sha256",
        json_string_value(json_object_get(shown, "sha256")), "title",
        json_string_value(json_object_get(shown, "title")), "text",
        json_string_value(json_object_get(shown, "text")), "purposes", list, "topics",
        topics(req, x), "ui", ui(x), "consent_validity",
        json_object_get(x->policy, "consent_validity"), "otp_required",
        json_is_true(json_object_get(x->policy, "otp_required")), "gpc",
        json_string_value(json_object_get(x->policy, "gpc")), "gpc_signal",
        sec_gpc != NULL && strcmp(sec_gpc, "1") == 0, "subject",
        x->subject_id[0] ? x->subject_id : NULL, "show",
        x->subject_id[0] ? json_array_size(reasons) > 0 : true, "reasons", reasons,
        "guardian_required", guardian);
}

void cpm_api_experience(struct cpm_request *req)
{
    struct experience x = {.property_id = cpm_request_query(req, "property"),
                           .region = cpm_request_query(req, "region")};
    char ip[64];
    int64_t wait_ms = 0;
    cpm_request_client_ip(req, ip, sizeof(ip)); /* anyone may ask: limited per address */
    if (!cpm_rate_limit_take(cpm_rate_limit_key("experience", ip),
                             cpm_clock_monotonic_ns() / 1000000, CPM_EXPERIENCE_BURST,
                             CPM_EXPERIENCE_EVERY_MS, &wait_ms)) {
        cpm_api_respond_rate_limited(req, wait_ms, "too many requests from this address");
        return;
    }
    if (x.property_id == NULL || !cpm_config_id_valid(x.property_id)) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "property", "is required: a property id");
        return;
    }
    if (x.region != NULL && cpm__region_check(x.region) != NULL) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "region", "%s", cpm__region_check(x.region));
        return;
    }
    const char *locale = cpm_request_query(req, "locale");
    if (locale != NULL && !cpm_locale_valid(locale)) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "locale",
                          "must be a locale tag like en, zh-HK, zh-Hant");
        return;
    }
    if (!authorise(req, &x))
        return;
    const char *origin = cpm_request_origin(req);
    if (origin != NULL && cpm_end_user_origin_allowed(req->app->store, x.property_id, origin))
        req->cors_origin = origin; /* the property's own pages read the answer */
    cpm_err err = load(req, &x);
    json_t *body = err == CPM_OK ? answer(req, &x) : NULL;
    if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, err, NULL,
                          "property '%s' has no policy for region '%s' (nor a '*' policy), or it"
                          " does not exist, or its notice has no published version",
                          x.property_id, x.region ? x.region : "*");
    else if (err != CPM_OK || body == NULL)
        cpm_respond_error(req, err != CPM_OK ? err : CPM_ERR_NOMEM, NULL,
                          "cannot resolve the experience");
    else {
        cpm_respond_json(req, 200, body);
        cpm_respond_header(req, "Cache-Control", "no-store");
        cpm_respond_header(req, "Vary", "Authorization, Accept-Language");
    }
    experience_release(&x);
}

/*
 * The experience anyone (no person) would get from a draft policy, built by
 * the same code as GET /v1/experience, with the draft in place of the stored
 * policy and its notice's current version (POST /v1/policies/preview,
 * policy_preview.c). policy is borrowed, already validated; the locale comes
 * from ?locale= and Accept-Language as above. CPM_ERR_NOT_FOUND: the notice
 * has no published version.
 */
cpm_err cpm__experience_preview(struct cpm_request *req, const json_t *policy, json_t **out)
{
    const char *region = json_string_value(json_object_get(policy, "region"));
    struct experience x = {.property_id = json_string_value(json_object_get(policy, "property")),
                           .region = region && strcmp(region, "*") != 0 ? region : NULL,
                           .policy = policy};
    struct cpm_store *store = req->app->store;
    int64_t revision;
    *out = NULL;
    cpm_err err = cpm_config_read(store, CPM_DOC_PROPERTY, x.property_id, &x.property, &revision);
    if (err == CPM_OK)
        err = store->ops->notice_version_get(
            store, json_string_value(json_object_get(policy, "notice")), 0, &x.version);
    if (err == CPM_OK) {
        x.notice = json_loads(x.version.body, 0, NULL);
        x.states = json_object();
        *out = x.notice && x.states ? answer(req, &x) : NULL;
        err = *out ? CPM_OK : CPM_ERR_NOMEM;
    }
    experience_release(&x);
    return err;
}
