/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consent.c — the shape of a consent action, the rules that admit it, and
 * the leaf each of its decisions becomes in the ledger.
 */
#include "core/common.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/textbuf.h"
#include "domain/consent.h"
#include "domain/schema.h"
#include "domain/subject.h"

const char *const cpm_consent_channels[] = {"web", "h5",          "app", "mini_program", "wecom",
                                            "sms", "call_centre", "api", "import",       NULL};
static const char *const methods[] = {"click", "checkbox", "sms_reply", "api", "import", NULL};
static const char *const actors[] = {"self", "guardian", NULL};
static const char *const decisions[] = {
    "given", "refused", "withdrawn", "objected", "objection_withdrawn", NULL};

/* An objection (or its withdrawal): to processing on a basis other than consent (PIPL Art. 44). */
static bool is_objection(const char *decision)
{
    return strncmp(decision, "objection", 9) == 0 || strcmp(decision, "objected") == 0;
}

static const char *sha256_check(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (!cpm__ascii_digit(s[n]) && !(s[n] >= 'a' && s[n] <= 'f'))
            return "must be lowercase hex";
    return n == 64 ? NULL : "must be 64 hex digits (SHA-256)";
}

/* clang-format off */
static const struct cpm__schema_field notice_fields[] = {
    {.name = "id", .type = CPM__SCHEMA_SLUG, .required = true},
    {.name = "version", .type = CPM__SCHEMA_INTEGER, .required = true, .min = 1, .max = INT32_MAX},
    {.name = "sha256", .type = CPM__SCHEMA_STRING, .required = true, .check = sha256_check},
};
static const struct cpm__schema notice_schema = CPM__SCHEMA(notice_fields, NULL);

static const struct cpm__schema_field actor_fields[] = {
    {.name = "type", .type = CPM__SCHEMA_ENUM, .required = true, .values = actors},
    {.name = "guardian_id", .type = CPM__SCHEMA_STRING, .bytes_min = 1,
     .bytes_max = CPM_SUBJECT_ID_BYTES_MAX},
};
static const struct cpm__schema actor_schema = CPM__SCHEMA(actor_fields, NULL);

static const struct cpm__schema_field context_fields[] = {
    {.name = "ip", .type = CPM__SCHEMA_STRING, .bytes_min = 2, .bytes_max = 64},
    {.name = "user_agent", .type = CPM__SCHEMA_STRING, .bytes_max = 512},
};
static const struct cpm__schema context_schema = CPM__SCHEMA(context_fields, NULL);

/* True when s is prefix (4 bytes) and 32 lowercase hex digits: an event's or a challenge's id. */
static bool random_id_valid(const char *s, const char *prefix)
{
    size_t n = strlen(s);
    bool ok = n == 36 && strncmp(s, prefix, 4) == 0;
    for (size_t i = 4; ok && i < n; i++)
        ok = cpm__ascii_digit(s[i]) || (s[i] >= 'a' && s[i] <= 'f');
    return ok;
}

/* The notice.displayed event the action answers. */
static const char *display_check(const char *s)
{
    return random_id_valid(s, "evt_")
               ? NULL
               : "must be the id of the notice.displayed event the popup recorded";
}

/* A one-time code challenge. */
static const char *otp_challenge_check(const char *s)
{
    return random_id_valid(s, "otp_")
               ? NULL
               : "must be the id of a one-time code challenge (POST /v1/otp/challenges)";
}

static const struct cpm__schema_field otp_fields[] = {
    {.name = "challenge", .type = CPM__SCHEMA_STRING, .required = true,
     .check = otp_challenge_check},
};
static const struct cpm__schema otp_schema = CPM__SCHEMA(otp_fields, NULL);

static const struct cpm__schema_field decision_fields[] = {
    {.name = "purpose", .type = CPM__SCHEMA_PURPOSE_ID, .required = true},
    {.name = "decision", .type = CPM__SCHEMA_ENUM, .required = true, .values = decisions},
    {.name = "separate", .type = CPM__SCHEMA_BOOL, .dflt = "false"},
    {.name = "recipient", .type = CPM__SCHEMA_SLUG},
};
static const struct cpm__schema decision_schema = CPM__SCHEMA(decision_fields, "purpose");

static const struct cpm__schema_field action_fields[] = {
    {.name = "property", .type = CPM__SCHEMA_SLUG, .required = true},
    {.name = "channel", .type = CPM__SCHEMA_ENUM, .required = true, .values = cpm_consent_channels},
    {.name = "locale", .type = CPM__SCHEMA_LOCALE, .required = true},
    {.name = "region", .type = CPM__SCHEMA_STRING, .bytes_max = 8, .check = cpm__region_check},
    {.name = "method", .type = CPM__SCHEMA_ENUM, .required = true, .values = methods},
    {.name = "actor", .type = CPM__SCHEMA_OBJECT, .nested = &actor_schema,
     .dflt = "{\"type\":\"self\"}"},
    {.name = "notice", .type = CPM__SCHEMA_OBJECT, .nested = &notice_schema},
    {.name = "context", .type = CPM__SCHEMA_OBJECT, .nested = &context_schema},
    {.name = "display", .type = CPM__SCHEMA_STRING, .check = display_check},
    {.name = "otp", .type = CPM__SCHEMA_OBJECT, .nested = &otp_schema},
    {.name = "decisions", .type = CPM__SCHEMA_ARRAY, .required = true, .min = 1,
     .max = CPM_DECISIONS_MAX, .item = CPM__SCHEMA_OBJECT, .nested = &decision_schema},
};
static const struct cpm__schema action_schema = CPM__SCHEMA(action_fields, NULL);
/* clang-format on */

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static void fill(json_t *body, struct cpm_consent_action *a)
{
    memset(a, 0, sizeof(*a));
    a->property = str(body, "property");
    a->channel = str(body, "channel");
    a->locale = str(body, "locale");
    a->region = str(body, "region");
    a->method = str(body, "method");
    a->display = str(body, "display");
    a->otp_challenge = str(json_object_get(body, "otp"), "challenge");
    const json_t *actor = json_object_get(body, "actor");
    a->actor = str(actor, "type");
    a->guardian_id = str(actor, "guardian_id");
    const json_t *notice = json_object_get(body, "notice");
    a->notice_id = str(notice, "id");
    a->notice_version = json_integer_value(json_object_get(notice, "version"));
    a->notice_sha256 = str(notice, "sha256");
    const json_t *context = json_object_get(body, "context");
    a->ip = str(context, "ip");
    a->user_agent = str(context, "user_agent");
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(body, "decisions"), i, d)
    {
        a->decisions[i].purpose = str(d, "purpose");
        a->decisions[i].decision = str(d, "decision");
        a->decisions[i].separate = json_is_true(json_object_get(d, "separate"));
        a->decisions[i].recipient = str(d, "recipient");
    }
    a->count = json_array_size(json_object_get(body, "decisions"));
}

cpm_err cpm_consent_parse(json_t *body, struct cpm_consent_action *action,
                          struct cpm_detail *detail)
{
    cpm_err err = cpm__schema_validate(&action_schema, body, "", detail);
    if (err != CPM_OK)
        return err;
    fill(body, action);
    bool guardian = strcmp(action->actor, "guardian") == 0;
    if (guardian != (action->guardian_id != NULL))
        cpm_detail_add(detail, "actor.guardian_id",
                       guardian ? "is required when a guardian acts" : "only when a guardian acts");
    bool needs_notice = false;
    for (size_t i = 0; i < action->count; i++)
        needs_notice |= strcmp(action->decisions[i].decision, "withdrawn") != 0 &&
                        !is_objection(action->decisions[i].decision);
    if (needs_notice && action->notice_id == NULL)
        cpm_detail_add(detail, "notice",
                       "is required to give or refuse: the notice version the person was shown");
    return detail->count ? CPM_ERR_VALIDATION : CPM_OK;
}

/* The content of locale in a notice version, or NULL. */
static const json_t *version_text(const json_t *version, const char *locale)
{
    return json_object_get(json_object_get(version, "content"), locale);
}

static bool version_covers(const json_t *version, const char *purpose)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(version, "purposes"), i, p)
    {
        const char *id = str(p, "purpose");
        if (id && strcmp(id, purpose) == 0)
            return true;
    }
    return false;
}

static void check_notice(const struct cpm_consent_action *a, const json_t *version,
                         struct cpm_detail *d)
{
    if (a->notice_id == NULL)
        return;
    if (version == NULL) {
        cpm_detail_add(d, "notice.version", "notice '%s' has no version %lld", a->notice_id,
                       (long long)a->notice_version);
        return;
    }
    const json_t *text = version_text(version, a->locale);
    const char *hash = str(text, "sha256");
    if (text == NULL)
        cpm_detail_add(d, "locale", "notice '%s' version %lld has no '%s' text", a->notice_id,
                       (long long)a->notice_version, a->locale);
    else if (hash == NULL || strcmp(hash, a->notice_sha256) != 0)
        cpm_detail_add(d, "notice.sha256",
                       "does not match the '%s' text of notice '%s' version %lld: the person "
                       "must be shown the published text",
                       a->locale, a->notice_id, (long long)a->notice_version);
}

/*
 * A purpose that provides data to recipients (other processors, companies
 * abroad) is decided per recipient, each its own consent (PIPL Art. 23, 39):
 * the decision names one of the purpose's recipients, and only then.
 */
static void check_recipient(const struct cpm_consent_decision *c, const json_t *purpose,
                            const char *field, struct cpm_detail *d)
{
    char at[80];
    snprintf(at, sizeof(at), "%s.recipient", field);
    const json_t *recipients = json_object_get(purpose, "recipients");
    bool listed = false;
    size_t i;
    json_t *r;
    json_array_foreach(recipients, i, r)
    {
        listed |= c->recipient && strcmp(json_string_value(r), c->recipient) == 0;
    }
    if (json_array_size(recipients) > 0 && c->recipient == NULL)
        cpm_detail_add(d, at,
                       "'%s' is decided per recipient (PIPL Art. 23, 39): name one of its "
                       "recipients",
                       c->purpose);
    else if (c->recipient != NULL && !listed)
        cpm_detail_add(d, at, "'%s' is not a recipient of '%s'", c->recipient, c->purpose);
}

static void check_decision(const struct cpm_consent_action *a, size_t i, const json_t *purpose,
                           const json_t *version, struct cpm_detail *d)
{
    const struct cpm_consent_decision *c = &a->decisions[i];
    char field[64];
    snprintf(field, sizeof(field), "decisions[%zu]", i);
    char at[80];
    snprintf(at, sizeof(at), "%s.purpose", field);
    if (purpose == NULL) {
        cpm_detail_add(d, at, "unknown purpose '%s'", c->purpose);
        return;
    }
    const char *basis = str(purpose, "legal_basis");
    const char *form = str(purpose, "consent_form");
    bool giving = strcmp(c->decision, "given") == 0;
    bool withdrawing = strcmp(c->decision, "withdrawn") == 0 || is_objection(c->decision);
    bool on_consent = basis != NULL && strcmp(basis, "consent") == 0;
    if (is_objection(c->decision) && on_consent)
        cpm_detail_add(d, at, "'%s' rests on consent: refuse or withdraw it instead", c->purpose);
    else if (is_objection(c->decision) && strcmp(basis, "legal_obligation") == 0)
        cpm_detail_add(d, at,
                       "'%s' fulfils a legal obligation: the law does not let it be refused "
                       "(PIPL Art. 44)",
                       c->purpose);
    else if (!is_objection(c->decision) && !on_consent)
        cpm_detail_add(d, at,
                       "'%s' rests on the legal basis '%s', not consent: it cannot be given, "
                       "refused or withdrawn (PIPL Art. 13)",
                       c->purpose, basis ? basis : "?");
    if (json_is_true(json_object_get(purpose, "necessary_for_service")) && !giving)
        cpm_detail_add(d, at, "'%s' is necessary for the service: it cannot be %s (PIPL Art. 16)",
                       c->purpose, c->decision);
    snprintf(at, sizeof(at), "%s.separate", field);
    if (giving && form && strcmp(form, "general") != 0 && !c->separate)
        cpm_detail_add(d, at,
                       "'%s' needs its own explicit consent, never implied by a bundle: send "
                       "separate: true for the person's own act (PIPL Art. 23, 29, 39)",
                       c->purpose);
    check_recipient(c, purpose, field, d);
    snprintf(at, sizeof(at), "%s.purpose", field);
    if (!withdrawing && version != NULL && !version_covers(version, c->purpose))
        cpm_detail_add(d, at, "'%s' is not covered by notice '%s' version %lld", c->purpose,
                       a->notice_id, (long long)a->notice_version);
}

cpm_err cpm_consent_check(const struct cpm_consent_action *action,
                          const struct cpm_config_lookup *lookup, const json_t *notice_version,
                          const struct cpm_consent_subject *subject, struct cpm_detail *detail)
{
    bool failed = false;
    if (lookup->fn(lookup->ctx, CPM_DOC_PROPERTY, action->property, &failed) == NULL && !failed)
        cpm_detail_add(detail, "property", "unknown property '%s'", action->property);
    check_notice(action, notice_version, detail);
    for (size_t i = 0; i < action->count && !failed; i++) {
        const json_t *purpose =
            lookup->fn(lookup->ctx, CPM_DOC_PURPOSE, action->decisions[i].purpose, &failed);
        check_decision(action, i, purpose, notice_version, detail);
    }
    if (subject->age_status && strcmp(subject->age_status, CPM_AGE_STATUS_CHILD_UNDER_14) == 0 &&
        strcmp(action->actor, "guardian") != 0)
        cpm_detail_add(detail, "actor.type",
                       "the person is under 14: a guardian must act for them (PIPL Art. 31)");
    if (action->guardian_id != NULL && !subject->guardian_linked) {
        char quoted[48];
        cpm__schema_quote(quoted, sizeof(quoted), action->guardian_id);
        cpm_detail_add(detail, "actor.guardian_id",
                       "'%s' is not a linked guardian of this subject (PIPL Art. 31)", quoted);
    }
    if (failed)
        return CPM_ERR_STORE;
    return detail->count ? CPM_ERR_VALIDATION : CPM_OK;
}

const char *cpm_consent_event_type(const char *decision)
{
    static const char *const types[] = {"consent.given", "consent.refused", "consent.withdrawn",
                                        "consent.objected", "consent.objection_withdrawn"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(types); i++)
        if (strcmp(decision, decisions[i]) == 0)
            return types[i];
    return "consent.withdrawn";
}

/* Leaves are bounded: ids, slugs, hashes and times, each capped by its schema. */
#define LEAF_BYTES_MAX 16384

/* ,"key": (no comma right after an opening brace); keys are constants needing no escape. */
static void leaf_key(struct cpm_textbuf *b, const char *key)
{
    cpm_textbuf_puts(b, b->len > 0 && b->data[b->len - 1] == '{' ? "\"" : ",\"");
    cpm_textbuf_puts(b, key);
    cpm_textbuf_puts(b, "\":");
}

static void leaf_string(struct cpm_textbuf *b, const char *key, const char *value)
{
    leaf_key(b, key);
    cpm_textbuf_json_string(b, value, strlen(value));
}

static void leaf_time(struct cpm_textbuf *b, const char *key, int64_t ms)
{
    char text[CPM_TIME_TEXT_BYTES];
    cpm_time_format(ms, text, sizeof(text));
    leaf_string(b, key, text);
}

/* The owned, NUL-terminated text of b, or NULL when it could not be written whole. */
static char *leaf_text(struct cpm_textbuf *b, size_t *len)
{
    size_t n = b->len;
    if (!cpm_textbuf_put(b, "", 1) || b->failed) {
        cpm_textbuf_release(b);
        return NULL;
    }
    *len = n;
    return b->data; /* taken: b is not released */
}

/*
 * Written straight into a buffer, in the fixed key order, exactly as
 * json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) writes the same object (a
 * unit test holds the two against each other): the consent path and an
 * import build hundreds of thousands of these.
 */
char *cpm_consent_leaf(const struct cpm_consent_action *a, size_t i,
                       const struct cpm_consent_leaf_info *info, size_t *len)
{
    const struct cpm_consent_decision *c = &a->decisions[i];
    struct cpm_textbuf b;
    cpm_textbuf_init(&b, LEAF_BYTES_MAX);
    cpm_textbuf_puts(&b, "{\"v\":1");
    leaf_string(&b, "id", info->event_id);
    leaf_string(&b, "type", cpm_consent_event_type(c->decision));
    leaf_time(&b, "time", info->time_ms);
    leaf_string(&b, "subject", info->subject_pseudonym);
    leaf_string(&b, "purpose", c->purpose);
    leaf_string(&b, "action", info->action_id);
    leaf_string(&b, "property", a->property);
    leaf_string(&b, "channel", a->channel);
    leaf_string(&b, "locale", a->locale);
    leaf_string(&b, "method", a->method);
    leaf_key(&b, "separate");
    cpm_textbuf_puts(&b, c->separate ? "true" : "false");
    leaf_string(&b, "actor", a->actor);
    if (c->recipient)
        leaf_string(&b, "recipient", c->recipient);
    if (info->guardian_pseudonym)
        leaf_string(&b, "guardian", info->guardian_pseudonym);
    if (a->notice_id) {
        leaf_key(&b, "notice");
        cpm_textbuf_puts(&b, "{");
        leaf_string(&b, "id", a->notice_id);
        leaf_key(&b, "version");
        cpm_textbuf_int(&b, a->notice_version);
        leaf_string(&b, "sha256", a->notice_sha256);
        cpm_textbuf_puts(&b, "}");
    }
    if (info->context_sha256)
        leaf_string(&b, "context_sha256", info->context_sha256);
    if (a->display)
        leaf_string(&b, "display", a->display);
    if (a->otp_challenge && info->otp_verified_ms) {
        leaf_key(&b, "otp");
        cpm_textbuf_puts(&b, "{");
        leaf_string(&b, "challenge", a->otp_challenge);
        leaf_time(&b, "verified_at", info->otp_verified_ms);
        cpm_textbuf_puts(&b, "}");
    }
    if (info->imported_ms) { /* when it was imported; the old system's row id, hashed */
        leaf_key(&b, "import");
        cpm_textbuf_puts(&b, "{");
        leaf_time(&b, "at", info->imported_ms);
        if (info->import_source != NULL)
            leaf_string(&b, "source", info->import_source);
        cpm_textbuf_puts(&b, "}");
    }
    cpm_textbuf_puts(&b, "}");
    return leaf_text(&b, len);
}

char *cpm_consent_system_leaf(const char *event_id, const char *type, const char *pseudonym,
                              const char *purpose, int64_t time_ms, int64_t deciding_seq,
                              const char *notice, int64_t notice_version, size_t *len)
{
    char time_text[CPM_TIME_TEXT_BYTES];
    cpm_time_format(time_ms, time_text, sizeof(time_text));
    json_t *leaf = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I}", "v", 1, "id", event_id, "type",
                             type, "time", time_text, "subject", pseudonym, "purpose", purpose,
                             "ends", (json_int_t)deciding_seq);
    if (leaf != NULL && notice != NULL)
        json_object_set_new(
            leaf, "notice",
            json_pack("{s:s, s:I}", "id", notice, "version", (json_int_t)notice_version));
    char *text = leaf ? json_dumps(leaf, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(leaf);
    if (text != NULL)
        *len = strlen(text);
    return text;
}

/* ms + the policy's duration field, or 0 when the policy has none. */
static int64_t policy_after(const json_t *policy, const char *field, int64_t ms)
{
    struct cpm_duration d;
    const char *text = json_string_value(json_object_get(policy, field));
    return text && cpm_duration_parse(text, &d) ? cpm_duration_after(ms, &d) : 0;
}

/* When to remind the person to renew: reminder_before the expiry, if after the decision. */
static int64_t reminder_time(const json_t *policy, int64_t decided_ms, int64_t expires_ms)
{
    struct cpm_duration d;
    const char *text = json_string_value(json_object_get(policy, "reminder_before"));
    if (text == NULL || !cpm_duration_parse(text, &d))
        return 0;
    /* expires - d = the instant whose "after d" is the expiry, found by negating the parts */
    struct cpm_duration back = {-d.years, -d.months, -d.weeks, -d.days, -d.seconds};
    int64_t at = cpm_duration_after(expires_ms, &back);
    return at > decided_ms ? at : 0;
}

void cpm_consent_policy_times(const json_t *policy, const char *status, int64_t decided_ms,
                              struct cpm_consent_times *t)
{
    bool given = strcmp(status, "given") == 0;
    if (!given)
        t->expires_ms = 0;
    if (given && t->expires_ms == 0)
        t->expires_ms = policy_after(policy, "consent_validity", decided_ms);
    t->remind_ms = t->expires_ms ? reminder_time(policy, decided_ms, t->expires_ms) : 0;
    t->ask_again_ms = !t->expires_ms && strcmp(status, "refused") == 0
                          ? policy_after(policy, "refusal_cooldown", decided_ms)
                          : 0;
}
