/* SPDX-License-Identifier: Apache-2.0 */
/*
 * subjects.c — a data subject: its age status, identifiers and guardians,
 * its lookup by identifier, and its erasure (docs/SUBJECTS.md).
 *
 *   PUT    /v1/subjects/{id}             age status (creates the subject)
 *   GET    /v1/subjects/{id}             the subject, identifiers opened for display
 *   GET    /v1/subjects?identifier_…     which subject an identifier belongs to
 *   POST   /v1/subjects/{id}/identities  link an identifier, or merge a device (devices.c)
 *   POST   /v1/subjects/{id}/guardians   link a guardian (PIPL Art. 31)
 *   DELETE /v1/subjects/{id}             erasure (PIPL Art. 47)
 *
 * Every change is one ledger event written through the single writer with
 * the rows it changes, in one transaction; its leaf holds pseudonyms and
 * keyed hashes, never an identifier or a subject id. Identifier values are
 * normalised, looked up by their keyed hash and kept only sealed under the
 * subject's data key. Erasure destroys that key and the identifier rows;
 * the events stay, so every proof still verifies.
 *
 * A write that meets a concurrent one (the subject created or erased in
 * between, the identifier taken) is tried once more from the start, so it
 * is answered from what is then stored.
 */
#include "core/common.h"

#include <sodium.h>

#include "api/api.h"
#include "api/subject_keys.h"
#include "api/support.h"
#include "crypto/device.h"
#include "crypto/random_id.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "crypto/keyring.h"
#include "domain/schema.h"
#include "domain/subject.h"
#include "http/app.h"
#include "http/device_auth.h"
#include "store/config_writer.h"
#include "store/writer.h"

#define WRITE_ATTEMPTS 2   /* once more after a concurrent change */
#define EVENTS_PAGE    200 /* events read at a time for an erased subject's identifiers */

/* One subject change: the subject (stored or new), its data key, its one event. */
struct change {
    struct cpm_subject subject;
    bool is_new;
    uint8_t data_key[CPM_DATA_KEY_BYTES];
    struct cpm_subject_leaf_info leaf; /* type and the type's own fields set by the caller */
    struct cpm_event event;
    int64_t now_ms;
};

static void change_reset(struct change *c)
{
    cpm_free(c->event.leaf);
    sodium_memzero(c->data_key, sizeof(c->data_key));
    memset(c, 0, sizeof(*c));
}

/* Makes c's event (and its leaf) about c->subject. */
static cpm_err change_event(struct change *c)
{
    struct cpm_event *e = &c->event;
    cpm_random_id(e->id, sizeof(e->id), "evt_");
    cpm_strlcpy(e->type, c->leaf.type, sizeof(e->type));
    cpm_strlcpy(e->subject_id, c->subject.id, sizeof(e->subject_id));
    e->time_ms = c->now_ms;
    c->leaf.event_id = e->id;
    c->leaf.subject_pseudonym = c->subject.pseudonym;
    c->leaf.time_ms = c->now_ms;
    e->leaf = cpm_subject_leaf(&c->leaf, &e->leaf_len);
    return e->leaf != NULL ? CPM_OK : CPM_ERR_NOMEM;
}

static json_t *event_json(const struct cpm_event *e)
{
    return json_pack("{s:I, s:s, s:s, s:o}", "seq", (json_int_t)e->seq, "id", e->id, "type",
                     e->type, "time", cpm_api_time(e->time_ms));
}

/* Answers a write the writer refused, or that met a concurrent change twice. */
static void respond_write_failed(struct cpm_request *req, cpm_err err, const char *id)
{
    if (err == CPM_ERR_TAMPERED)
        cpm_respond_error(req, err, NULL, "writes are refused: %s",
                          cpm_writer_refusal(req->app->writer));
    else if (err == CPM_ERR_CONFLICT)
        cpm_respond_error(req, err, NULL,
                          "subject '%s' was changed by another request meanwhile; retry", id);
    else
        cpm_respond_error(req, err, NULL, "the change to subject '%s' could not be recorded", id);
}

/* One attempt at a subject write; ctx is the handler's own state. */
typedef cpm_err (*write_once_fn)(struct cpm_request *req, const char *id, void *ctx,
                                 struct change *c, bool *answered);

/*
 * Runs once, and once more when another request changed the subject
 * meanwhile. True when the write went through; otherwise the request has
 * been answered (by the attempt itself or with the failure).
 */
static bool write_with_retry(struct cpm_request *req, const char *id, write_once_fn once, void *ctx,
                             struct change *c, cpm_err *err)
{
    bool answered = false;
    for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        change_reset(c);
        *err = once(req, id, ctx, c, &answered);
        if (answered || *err != CPM_ERR_CONFLICT)
            break;
    }
    if (!answered && *err != CPM_OK)
        respond_write_failed(req, *err, id);
    return !answered && *err == CPM_OK;
}

/* Loads the subject of c (or prepares it); answers 409 when it was erased. */
static cpm_err load(struct cpm_request *req, const char *id, struct change *c, bool *answered)
{
    c->now_ms = cpm_clock_now_ms();
    cpm_err err =
        cpm_api_subject_load(req->app, id, c->now_ms, &c->subject, &c->is_new, c->data_key);
    if (err == CPM_ERR_CONFLICT) {
        cpm_respond_error(req, err, NULL, "subject '%s' was erased", id);
        *answered = true;
    }
    return err;
}

/* ---- reading: the subject view ---- */

struct view {
    const struct cpm_subject *subject;
    const uint8_t *data_key;
    json_t *identifiers;
    json_t *guardians;
    int64_t last_seq;
    size_t seen;
};

static cpm_err identity_visit(void *ctx, const struct cpm_identity *identity)
{
    struct view *v = ctx;
    char value[CPM_IDENTITY_SEALED_BYTES_MAX];
    size_t len = 0;
    cpm_err err = cpm_field_open(v->data_key, v->subject->id, identity->type, identity->sealed,
                                 identity->sealed_len, value, sizeof(value) - 1, &len);
    if (err != CPM_OK)
        return err;
    value[len] = '\0';
    json_t *item = json_pack("{s:s, s:s%}", "type", identity->type, "value", value, len);
    sodium_memzero(value, sizeof(value));
    return item && json_array_append_new(v->identifiers, item) == 0 ? CPM_OK : CPM_ERR_NOMEM;
}

/* An erased subject's identifiers: their types, from its identity.linked events. */
static cpm_err erased_identity_visit(void *ctx, const struct cpm_event *e)
{
    struct view *v = ctx;
    v->last_seq = e->seq;
    v->seen++;
    if (strcmp(e->type, CPM_EVENT_IDENTITY_LINKED) != 0)
        return CPM_OK;
    json_t *leaf = json_loadb(e->leaf, e->leaf_len, 0, NULL);
    const char *type = json_string_value(json_object_get(leaf, "identifier_type"));
    json_t *item = type ? json_pack("{s:s, s:s}", "type", type, "value", "erased") : NULL;
    json_decref(leaf);
    return item && json_array_append_new(v->identifiers, item) == 0 ? CPM_OK : CPM_ERR_NOMEM;
}

static cpm_err erased_identifiers(struct cpm_store *store, struct view *v)
{
    cpm_err err = CPM_OK;
    do {
        v->seen = 0;
        err = store->ops->event_list(store, v->subject->id, v->last_seq, EVENTS_PAGE,
                                     erased_identity_visit, v);
    } while (err == CPM_OK && v->seen == EVENTS_PAGE);
    return err;
}

static cpm_err guardian_id_visit(void *ctx, const struct cpm_guardian_link *link)
{
    struct view *v = ctx;
    return json_array_append_new(v->guardians, json_string(link->guardian_id)) == 0 ? CPM_OK
                                                                                    : CPM_ERR_NOMEM;
}

/* The subject as GET shows it; identifiers opened with its data key. */
static cpm_err view_json(struct cpm_app *app, const struct cpm_subject *s, json_t **out)
{
    uint8_t key[CPM_DATA_KEY_BYTES];
    struct view v = {
        .subject = s, .data_key = key, .identifiers = json_array(), .guardians = json_array()};
    struct cpm_store *store = app->store;
    cpm_err err = v.identifiers && v.guardians ? CPM_OK : CPM_ERR_NOMEM;
    if (err == CPM_OK && s->erased_ms != 0)
        err = erased_identifiers(store, &v);
    else if (err == CPM_OK)
        err = cpm_data_key_unwrap(app->keyring, s->id, s->wrapped_key, s->wrapped_key_len, key);
    if (err == CPM_OK && s->erased_ms == 0)
        err = store->ops->identity_list(store, s->id, CPM_IDENTITIES_PER_SUBJECT_MAX,
                                        identity_visit, &v);
    sodium_memzero(key, sizeof(key));
    if (err == CPM_OK)
        err = store->ops->guardian_list(store, s->id, CPM_GUARDIANS_PER_SUBJECT_MAX,
                                        guardian_id_visit, &v);
    *out = err == CPM_OK
               ? json_pack("{s:s, s:s, s:s, s:o, s:o, s:O, s:O}", "id", s->id, "pseudonym",
                           s->pseudonym, "age_status", s->age_status, "created_at",
                           cpm_api_time(s->created_ms), "erased_at", cpm_api_time(s->erased_ms),
                           "identifiers", v.identifiers, "guardians", v.guardians)
               : NULL;
    json_decref(v.identifiers);
    json_decref(v.guardians);
    return err == CPM_OK && *out == NULL ? CPM_ERR_NOMEM : err;
}

static void respond_view(struct cpm_request *req, const char *id, int status)
{
    struct cpm_subject s;
    json_t *view = NULL;
    cpm_err err = req->app->store->ops->subject_get(req->app->store, id, &s);
    if (err == CPM_OK)
        err = view_json(req->app, &s, &view);
    if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, err, NULL, "no subject '%s'", id);
    else if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "cannot read subject '%s'", id);
    else
        cpm_respond_json(req, status, view);
}

void cpm_api_subjects_get(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    if (cpm_api_subject_id_checked(req, id))
        respond_view(req, id, 200);
}

/* ---- lookup by identifier ---- */

/* Normalises and hashes (type, value); faults name the given fields. */
static cpm_err identifier_hash(struct cpm_request *req, const char *type, const char *value,
                               const char *type_field, const char *value_field,
                               struct cpm_detail *detail, uint8_t hash[CPM_HASH_BYTES])
{
    char normalised[CPM_IDENTIFIER_BYTES_MAX];
    cpm_err err = cpm_identifier_normalise(type, value, normalised, sizeof(normalised), detail);
    for (int i = 0; i < detail->count; i++) {
        struct cpm_fault *f = &detail->faults[i];
        const char *field = strcmp(f->field, "type") == 0 ? type_field : value_field;
        cpm_strlcpy(f->field, field, sizeof(f->field));
    }
    if (err == CPM_OK)
        cpm_identifier_hash(req->app->keyring, type, normalised, hash);
    sodium_memzero(normalised, sizeof(normalised));
    return err;
}

void cpm_api_subjects_find(struct cpm_request *req)
{
    const char *type = cpm_request_query(req, "identifier_type");
    const char *value = cpm_request_query(req, "identifier_value");
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    if (type == NULL)
        cpm_detail_add(&detail, "identifier_type", "is required");
    if (value == NULL)
        cpm_detail_add(&detail, "identifier_value", "is required");
    uint8_t hash[CPM_HASH_BYTES];
    cpm_err err = detail.count ? CPM_ERR_VALIDATION
                               : identifier_hash(req, type, value, "identifier_type",
                                                 "identifier_value", &detail, hash);
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
        return;
    }
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    err = req->app->store->ops->identity_find(req->app->store, type, hash, subject_id);
    if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, err, NULL, "no subject has this %s identifier", type);
    else if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "cannot look the identifier up");
    else
        cpm_respond_json(req, 200, json_pack("{s:s}", "id", subject_id));
}

/* ---- PUT: age status ---- */

/* One attempt; *answered when it answered itself. */
static cpm_err set_age(struct cpm_request *req, const char *id, void *ctx, struct change *c,
                       bool *answered)
{
    const char *age_status = ctx;
    cpm_err err = load(req, id, c, answered);
    if (err != CPM_OK)
        return err;
    if (!c->is_new && strcmp(c->subject.age_status, age_status) == 0)
        return CPM_OK; /* unchanged: nothing to record */
    struct cpm_subject_update update = {0};
    cpm_strlcpy(update.id, id, sizeof(update.id));
    cpm_strlcpy(update.age_status, age_status, sizeof(update.age_status));
    c->leaf.type = CPM_EVENT_AGE_STATUS_SET;
    c->leaf.age_status = age_status;
    err = change_event(c);
    struct cpm_write_request wr = {
        .subject = c->is_new ? &c->subject : NULL,
        .events = &c->event,
        .event_count = 1,
        .update = &update,
    };
    return err == CPM_OK ? cpm_writer_submit(req->app->writer, &wr) : err;
}

void cpm_api_subjects_put(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    if (!cpm_api_subject_id_checked(req, id))
        return;
    json_t *body = cpm_request_json_object(req);
    if (body == NULL)
        return;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    const char *age_status = NULL;
    struct change c = {0};
    cpm_err err = cpm_subject_age_parse(body, &age_status, &detail);
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
        goto out;
    }
    if (write_with_retry(req, id, set_age, (void *)age_status, &c, &err))
        respond_view(req, id, 200);
out:
    change_reset(&c);
    json_decref(body);
}

/* ---- POST identities ---- */

struct link_identity {
    const char *type;
    char normalised[CPM_IDENTIFIER_BYTES_MAX];
    uint8_t hash[CPM_HASH_BYTES];
    char hash_hex[2 * CPM_HASH_BYTES + 1];
    struct cpm_identity identity;
};

static cpm_err count_visit(void *ctx, const struct cpm_identity *identity)
{
    CPM_UNUSED(identity);
    (*(int *)ctx)++;
    return CPM_OK;
}

/* Answers when the identifier is linked already: to this subject (200) or another (409). */
static cpm_err check_taken(struct cpm_request *req, const char *id, struct link_identity *l,
                           bool *answered)
{
    char owner[CPM_SUBJECT_ID_BYTES_MAX + 1];
    struct cpm_store *store = req->app->store;
    cpm_err err = store->ops->identity_find(store, l->type, l->hash, owner);
    if (err == CPM_ERR_NOT_FOUND)
        return CPM_OK;
    if (err != CPM_OK)
        return err;
    *answered = true;
    if (strcmp(owner, id) == 0)
        cpm_respond_json(req, 200,
                         json_pack("{s:s, s:s, s:n}", "subject", id, "type", l->type, "event"));
    else
        cpm_respond_error(req, CPM_ERR_CONFLICT, "value",
                          "this %s identifier belongs to another subject", l->type);
    return CPM_ERR_CONFLICT;
}

static cpm_err link_identity_once(struct cpm_request *req, const char *id, void *ctx,
                                  struct change *c, bool *answered)
{
    struct link_identity *l = ctx;
    cpm_err err = check_taken(req, id, l, answered);
    if (err == CPM_OK)
        err = load(req, id, c, answered);
    int count = 0;
    if (err == CPM_OK && !c->is_new)
        err = req->app->store->ops->identity_list(
            req->app->store, id, CPM_IDENTITIES_PER_SUBJECT_MAX, count_visit, &count);
    if (err == CPM_OK && count >= CPM_IDENTITIES_PER_SUBJECT_MAX) {
        cpm_respond_error(req, CPM_ERR_CONFLICT, NULL,
                          "subject '%s' has %d identifiers, the most allowed", id, count);
        *answered = true;
        return CPM_ERR_CONFLICT;
    }
    struct cpm_identity *row = &l->identity;
    memset(row, 0, sizeof(*row));
    cpm_strlcpy(row->subject_id, id, sizeof(row->subject_id));
    cpm_strlcpy(row->type, l->type, sizeof(row->type));
    memcpy(row->hash, l->hash, CPM_HASH_BYTES);
    row->created_ms = c->now_ms;
    if (err == CPM_OK)
        err = cpm_field_seal(c->data_key, id, l->type, l->normalised, strlen(l->normalised),
                             row->sealed, sizeof(row->sealed), &row->sealed_len);
    c->leaf.type = CPM_EVENT_IDENTITY_LINKED;
    c->leaf.identifier_type = l->type;
    c->leaf.identifier_hash = l->hash_hex;
    if (err == CPM_OK)
        err = change_event(c);
    struct cpm_write_request wr = {
        .subject = c->is_new ? &c->subject : NULL,
        .events = &c->event,
        .event_count = 1,
        .identity = row,
    };
    return err == CPM_OK ? cpm_writer_submit(req->app->writer, &wr) : err;
}

void cpm_api_subject_identities_link(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    if (!cpm_api_subject_id_checked(req, id))
        return;
    json_t *body = cpm_request_json_object(req);
    if (body == NULL)
        return;
    const char *type = json_string_value(json_object_get(body, "type"));
    if (type != NULL && strcmp(type, CPM_IDENTITY_TYPE_DEVICE) == 0) {
        cpm_api_device_merge(req, id, body); /* an anonymous visitor's history (devices.c) */
        return;
    }
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct cpm_identity_input in;
    struct link_identity l = {0};
    struct change c = {0};
    if (req->end_user_property[0]) {
        cpm_respond_error(req, CPM_ERR_FORBIDDEN, "type",
                          "with an end-user token only a device is merged ({\"type\": \"device\"});"
                          " other identifiers are linked by the company's back end");
        goto out;
    }
    cpm_err err = cpm_identity_parse(body, &in, &detail);
    if (err == CPM_OK)
        err = cpm_identifier_normalise(in.type, in.value, l.normalised, sizeof(l.normalised),
                                       &detail);
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
        goto out;
    }
    l.type = in.type;
    cpm_identifier_hash(req->app->keyring, l.type, l.normalised, l.hash);
    sodium_bin2hex(l.hash_hex, sizeof(l.hash_hex), l.hash, sizeof(l.hash));
    if (write_with_retry(req, id, link_identity_once, &l, &c, &err))
        cpm_respond_json(req, 201,
                         json_pack("{s:s, s:s, s:o}", "subject", id, "type", l.type, "event",
                                   event_json(&c.event)));
out:
    sodium_memzero(&l, sizeof(l));
    change_reset(&c);
    json_decref(body);
}

/* ---- POST guardians ---- */

struct link_guardian {
    struct cpm_guardian_input in;
    struct change guardian; /* the guardian subject, stored or new */
    struct cpm_guardian_link link;
    int count;
    char stored_relation[CPM_GUARDIAN_RELATION_BYTES]; /* "" unless linked already */
};

static cpm_err link_visit(void *ctx, const struct cpm_guardian_link *link)
{
    struct link_guardian *g = ctx;
    g->count++;
    if (strcmp(link->guardian_id, g->in.guardian_id) == 0)
        cpm_strlcpy(g->stored_relation, link->relation, sizeof(g->stored_relation));
    return CPM_OK;
}

/* Answers when the guardian is linked already (200) or the child has the most guardians. */
static cpm_err check_linked(struct cpm_request *req, const char *id, struct link_guardian *g,
                            bool *answered)
{
    g->count = 0;
    g->stored_relation[0] = '\0';
    cpm_err err = req->app->store->ops->guardian_list(req->app->store, id,
                                                      CPM_GUARDIANS_PER_SUBJECT_MAX, link_visit, g);
    if (err != CPM_OK)
        return err;
    if (g->stored_relation[0])
        cpm_respond_json(req, 200,
                         json_pack("{s:s, s:s, s:s, s:n}", "subject", id, "guardian_id",
                                   g->in.guardian_id, "relation", g->stored_relation, "event"));
    else if (g->count >= CPM_GUARDIANS_PER_SUBJECT_MAX)
        cpm_respond_error(req, CPM_ERR_CONFLICT, NULL,
                          "subject '%s' has %d guardians, the most allowed", id, g->count);
    else
        return CPM_OK;
    *answered = true;
    return CPM_ERR_CONFLICT;
}

static cpm_err link_guardian_once(struct cpm_request *req, const char *id, void *ctx,
                                  struct change *c, bool *answered)
{
    struct link_guardian *g = ctx;
    change_reset(&g->guardian);
    const char *guardian_id = g->in.guardian_id;
    cpm_err err = load(req, id, c, answered);
    if (err == CPM_OK && !c->is_new)
        err = check_linked(req, id, g, answered);
    if (err == CPM_OK) {
        err = cpm_api_subject_load(req->app, guardian_id, c->now_ms, &g->guardian.subject,
                                   &g->guardian.is_new, g->guardian.data_key);
        if (err == CPM_ERR_CONFLICT) {
            cpm_respond_error(req, err, "guardian_id", "guardian '%s' was erased", guardian_id);
            *answered = true;
        }
    }
    struct cpm_guardian_link *link = &g->link;
    memset(link, 0, sizeof(*link));
    cpm_strlcpy(link->child_id, id, sizeof(link->child_id));
    cpm_strlcpy(link->guardian_id, guardian_id, sizeof(link->guardian_id));
    cpm_strlcpy(link->relation, g->in.relation, sizeof(link->relation));
    link->created_ms = c->now_ms;
    c->leaf.type = CPM_EVENT_GUARDIAN_LINKED;
    c->leaf.guardian_pseudonym = g->guardian.subject.pseudonym;
    c->leaf.relation = g->in.relation;
    if (err == CPM_OK)
        err = change_event(c);
    struct cpm_write_request wr = {
        .subject = c->is_new ? &c->subject : NULL,
        .guardian_subject = g->guardian.is_new ? &g->guardian.subject : NULL,
        .events = &c->event,
        .event_count = 1,
        .guardian_link = link,
    };
    return err == CPM_OK ? cpm_writer_submit(req->app->writer, &wr) : err;
}

void cpm_api_subject_guardians_link(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    if (!cpm_api_subject_id_checked(req, id))
        return;
    json_t *body = cpm_request_json_object(req);
    if (body == NULL)
        return;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct link_guardian g = {0};
    struct change c = {0};
    cpm_err err = cpm_guardian_parse(body, id, &g.in, &detail);
    if (err == CPM_OK && cpm_device_subject_reserved(g.in.guardian_id)) {
        cpm_detail_add(&detail, "guardian_id",
                       "ids starting 'anon-' are reserved for anonymous devices");
        err = CPM_ERR_VALIDATION;
    }
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
        goto out;
    }
    if (write_with_retry(req, id, link_guardian_once, &g, &c, &err))
        cpm_respond_json(req, 201,
                         json_pack("{s:s, s:s, s:s, s:o}", "subject", id, "guardian_id",
                                   g.in.guardian_id, "relation", g.in.relation, "event",
                                   event_json(&c.event)));
out:
    change_reset(&g.guardian);
    change_reset(&c);
    json_decref(body);
}

/* ---- POST displays: the popup was shown ---- */

/*
 * What was displayed, checked against the configuration and completed: the
 * notice version's hash in the locale shown, the policy's revision (the UI
 * configuration version). Answers 422/404 itself and returns NULL.
 */
static json_t *display_record(struct cpm_request *req, const json_t *body)
{
    static const struct cpm__schema_field notice_fields[] = {
        {.name = "id", .type = CPM__SCHEMA_SLUG, .required = true},
        {.name = "version",
         .type = CPM__SCHEMA_INTEGER,
         .required = true,
         .min = 1,
         .max = INT32_MAX},
    };
    static const struct cpm__schema notice_schema = CPM__SCHEMA(notice_fields, NULL);
    static const struct cpm__schema_field fields[] = {
        {.name = "property", .type = CPM__SCHEMA_SLUG, .required = true},
        {.name = "locale", .type = CPM__SCHEMA_LOCALE, .required = true},
        {.name = "notice", .type = CPM__SCHEMA_OBJECT, .required = true, .nested = &notice_schema},
        {.name = "policy", .type = CPM__SCHEMA_SLUG},
        {.name = "channel",
         .type = CPM__SCHEMA_STRING,
         .bytes_min = 1,
         .bytes_max = 32,
         .dflt = "\"web\""},
    };
    static const struct cpm__schema schema = CPM__SCHEMA(fields, NULL);
    struct cpm_detail detail;
    struct cpm_notice_version version = {0};
    json_t *shown = json_deep_copy(body), *doc = NULL, *content = NULL, *policy = NULL;
    int64_t revision = 0;
    cpm_detail_init(&detail);
    cpm_err err = shown ? cpm__schema_validate(&schema, shown, "", &detail) : CPM_ERR_NOMEM;
    const json_t *notice = json_object_get(shown, "notice");
    const char *locale = json_string_value(json_object_get(shown, "locale"));
    const char *policy_id = json_string_value(json_object_get(shown, "policy"));
    if (err == CPM_OK && cpm_config_read(req->app->store, CPM_DOC_PROPERTY,
                                         json_string_value(json_object_get(shown, "property")),
                                         &doc, &revision) != CPM_OK)
        cpm_detail_add(&detail, "property", "unknown property");
    if (err == CPM_OK &&
        req->app->store->ops->notice_version_get(
            req->app->store, json_string_value(json_object_get(notice, "id")),
            json_integer_value(json_object_get(notice, "version")), &version) != CPM_OK)
        cpm_detail_add(&detail, "notice", "no such published notice version");
    content = version.body ? json_loads(version.body, 0, NULL) : NULL;
    const char *sha256 = json_string_value(
        json_object_get(json_object_get(json_object_get(content, "content"), locale), "sha256"));
    if (err == CPM_OK && version.body != NULL && sha256 == NULL)
        cpm_detail_add(&detail, "locale", "the notice version has no text in this locale");
    if (err == CPM_OK && policy_id != NULL &&
        cpm_config_read(req->app->store, CPM_DOC_POLICY, policy_id, &policy, &revision) != CPM_OK)
        cpm_detail_add(&detail, "policy", "unknown policy");
    if (err == CPM_OK && detail.count == 0) {
        json_object_set_new((json_t *)notice, "sha256", json_string(sha256));
        if (policy_id != NULL)
            json_object_set_new(
                shown, "policy",
                json_pack("{s:s, s:I}", "id", policy_id, "revision", (json_int_t)revision));
    } else {
        cpm_respond_problem(req, err != CPM_OK ? err : CPM_ERR_VALIDATION, &detail);
        json_decref(shown);
        shown = NULL;
    }
    json_decref(doc);
    json_decref(content);
    json_decref(policy);
    cpm_notice_version_release(&version);
    return shown;
}

static cpm_err record_display(struct cpm_request *req, const char *id, void *ctx, struct change *c,
                              bool *answered)
{
    cpm_err err = load(req, id, c, answered);
    if (err != CPM_OK)
        return err;
    c->leaf.type = CPM_EVENT_NOTICE_DISPLAYED;
    c->leaf.display = ctx;
    err = change_event(c);
    struct cpm_write_request wr = {
        .subject = c->is_new ? &c->subject : NULL, .events = &c->event, .event_count = 1};
    return err == CPM_OK ? cpm_writer_submit(req->app->writer, &wr) : err;
}

void cpm_api_subject_displays_record(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    json_t *body = NULL, *shown = NULL;
    struct change c = {0};
    cpm_err err;
    if (!cpm_api_subject_id_checked(req, id) || (body = cpm_request_json_object(req)) == NULL)
        goto out;
    const char *property = json_string_value(json_object_get(body, "property"));
    if (req->end_user_property[0] &&
        (property == NULL || strcmp(property, req->end_user_property) != 0)) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "property",
                          "must be '%s', the property the token is for", req->end_user_property);
        goto out;
    }
    if ((shown = display_record(req, body)) != NULL &&
        write_with_retry(req, id, record_display, shown, &c, &err))
        cpm_respond_json(
            req, 201,
            json_pack("{s:s, s:o}", "display", c.event.id, "event", event_json(&c.event)));
out:
    change_reset(&c);
    json_decref(shown);
    json_decref(body);
}

/* ---- DELETE: erasure ---- */

/* Erases one subject (its personal data crypto-shredded); CONFLICT when erased already. */
static cpm_err erase_one(struct cpm_request *req, const char *id, struct change *c,
                         struct cpm_subject_update *update)
{
    *update = (struct cpm_subject_update){.erased_ms = c->now_ms};
    cpm_strlcpy(update->id, id, sizeof(update->id));
    cpm_err err = req->app->store->ops->subject_get(req->app->store, id, &c->subject);
    if (err == CPM_OK && c->subject.erased_ms != 0)
        err = CPM_ERR_CONFLICT;
    c->leaf.type = CPM_EVENT_SUBJECT_ERASED;
    if (err == CPM_OK)
        err = change_event(c);
    struct cpm_write_request wr = {.events = &c->event, .event_count = 1, .update = update};
    return err == CPM_OK ? cpm_writer_submit(req->app->writer, &wr) : err;
}

/* The anonymous devices merged into a subject: their subject ids, opened with its data key. */
struct merged {
    const char *subject_id;
    const uint8_t *data_key;
    json_t *ids;
};

static cpm_err merged_visit(void *ctx, const struct cpm_identity *identity)
{
    struct merged *m = ctx;
    if (strcmp(identity->type, CPM_IDENTITY_TYPE_DEVICE) != 0)
        return CPM_OK;
    char device[CPM_IDENTITY_SEALED_BYTES_MAX];
    size_t len = 0;
    cpm_err err = cpm_field_open(m->data_key, m->subject_id, identity->type, identity->sealed,
                                 identity->sealed_len, device, sizeof(device) - 1, &len);
    if (err != CPM_OK)
        return err;
    return json_array_append_new(m->ids, json_stringn(device, len)) == 0 ? CPM_OK : CPM_ERR_NOMEM;
}

/*
 * A person's merged devices are that person (docs/END-USERS.md "Anonymous
 * visitors and login"): each is erased before the person, so what the
 * device recorded goes too (PIPL Art. 47). *ids gets those erased now.
 */
static cpm_err erase_devices(struct cpm_request *req, const char *id, json_t *ids)
{
    struct cpm_store *store = req->app->store;
    struct cpm_subject person;
    uint8_t key[CPM_DATA_KEY_BYTES];
    json_t *found = json_array();
    struct merged m = {.subject_id = id, .data_key = key, .ids = found};
    cpm_err err = found != NULL ? store->ops->subject_get(store, id, &person) : CPM_ERR_NOMEM;
    if (err == CPM_OK && person.erased_ms == 0)
        err = cpm_data_key_unwrap(req->app->keyring, id, person.wrapped_key, person.wrapped_key_len,
                                  key);
    if (err == CPM_OK && person.erased_ms == 0)
        err =
            store->ops->identity_list(store, id, CPM_IDENTITIES_PER_SUBJECT_MAX, merged_visit, &m);
    sodium_memzero(key, sizeof(key));
    size_t i;
    json_t *device;
    json_array_foreach(found, i, device)
    {
        if (err != CPM_OK)
            break;
        struct change c = {.now_ms = cpm_clock_now_ms()};
        struct cpm_subject_update update;
        err = erase_one(req, json_string_value(device), &c, &update);
        if (err == CPM_OK)
            json_array_append(ids, device);
        if (err == CPM_ERR_CONFLICT || err == CPM_ERR_NOT_FOUND)
            err = CPM_OK; /* erased already (an earlier, interrupted erasure) */
        change_reset(&c);
    }
    json_decref(found);
    return err == CPM_ERR_NOT_FOUND ? CPM_OK : err; /* no person: answered below */
}

void cpm_api_subjects_erase(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    if (!cpm_api_subject_id_checked(req, id))
        return;
    struct change c = {.now_ms = cpm_clock_now_ms()};
    struct cpm_subject_update update;
    json_t *devices = json_array();
    cpm_err err = devices != NULL ? erase_devices(req, id, devices) : CPM_ERR_NOMEM;
    if (err == CPM_OK)
        err = erase_one(req, id, &c, &update);
    if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, err, NULL, "no subject '%s'", id);
    else if (err == CPM_ERR_CONFLICT)
        cpm_respond_error(req, err, NULL, "subject '%s' was erased already", id);
    else if (err != CPM_OK)
        respond_write_failed(req, err, id);
    else
        cpm_respond_json(req, 200,
                         json_pack("{s:s, s:o, s:o, s:O}", "subject", id, "erased_at",
                                   cpm_api_time(update.erased_ms), "event", event_json(&c.event),
                                   "devices_erased", devices));
    json_decref(devices);
    change_reset(&c);
}
