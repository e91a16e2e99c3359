/* SPDX-License-Identifier: Apache-2.0 */
/*
 * devices.c — anonymous visitors' first-party devices, and their merge
 * into the person who logs in (docs/END-USERS.md "Anonymous visitors and
 * login"):
 *
 *   POST /v1/devices                   a new device subject and its credential
 *   POST /v1/subjects/{id}/identities  {type: "device", device_token}: the merge
 *                                      (subjects.c hands such a body over)
 *
 * Issuing a device stores nothing: the credential is a MAC over property
 * and subject (crypto/device.c), so a script asking for devices costs a
 * rate-limited hash, not a row. The device then records consents like a
 * person with a token (server.c's screen, http/device_auth.c).
 *
 * The merge is one writer submission: an identity.merged event on the
 * person, a consent event on the person for each of the device's
 * consents that carries over (domain/device_merge.c), each pointing to its
 * source event on the device, the person's consent states they set, and
 * the device linked to the person as an identity of type "device". The
 * identity row makes a merge happen once: again into the same person is
 * 200 with nothing written, into another person 409, and the device may no
 * longer write.
 */
#include "core/common.h"

#include <sodium.h>

#include "api/api.h"
#include "api/subject_keys.h"
#include "api/support.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "crypto/device.h"
#include "crypto/keyring.h"
#include "crypto/random_id.h"
#include "domain/consent.h"
#include "domain/device_merge.h"
#include "domain/schema.h"
#include "domain/subject.h"
#include "http/app.h"
#include "http/device_auth.h"
#include "http/end_user.h"
#include "http/rate_limit.h"
#include "ledger/merkle.h"
#include "store/config_writer.h"
#include "store/writer.h"

#define WRITE_ATTEMPTS 2 /* once more after a concurrent change */
#define IP_BYTES       64

/* ---- POST /v1/devices ---- */

/* The body {property}; its property, or NULL when answered (422). */
static const char *device_property(struct cpm_request *req, json_t *body)
{
    static const struct cpm__schema_field fields[] = {
        {.name = "property", .type = CPM__SCHEMA_SLUG, .required = true},
    };
    static const struct cpm__schema schema = CPM__SCHEMA(fields, NULL);
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    cpm_err err = cpm__schema_validate(&schema, body, "", &detail);
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
        return NULL;
    }
    return json_string_value(json_object_get(body, "property"));
}

/* The property exists and, when a browser says where from, lists the origin; else answers. */
static bool property_admits(struct cpm_request *req, const char *property, const char *origin)
{
    json_t *doc = NULL;
    int64_t revision;
    cpm_err err = cpm_config_read(req->app->store, CPM_DOC_PROPERTY, property, &doc, &revision);
    bool listed = err == CPM_OK && (origin == NULL || cpm_end_user_origin_listed(doc, origin));
    json_decref(doc);
    if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, CPM_ERR_VALIDATION, "property", "unknown property '%s'", property);
    else if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "cannot read property '%s'", property);
    else if (!listed)
        cpm_respond_error(req, CPM_ERR_FORBIDDEN, "Origin",
                          "this page's origin is not one of property '%s''s allowed_origins",
                          property);
    return err == CPM_OK && listed;
}

void cpm_api_devices_create(struct cpm_request *req)
{
    char ip[IP_BYTES];
    int64_t wait_ms = 0;
    cpm_request_client_ip(req, ip, sizeof(ip)); /* anyone may ask: limited per address */
    if (!cpm_rate_limit_take(cpm_rate_limit_key("devices", ip), cpm_clock_monotonic_ns() / 1000000,
                             CPM_DEVICES_BURST, CPM_DEVICES_EVERY_MS, &wait_ms)) {
        cpm_api_respond_rate_limited(req, wait_ms, "too many devices asked for from this address");
        return;
    }
    json_t *body = cpm_request_json_object(req);
    const char *origin = cpm_request_origin(req);
    const char *property = body ? device_property(req, body) : NULL;
    if (property != NULL && property_admits(req, property, origin)) {
        struct cpm_device device;
        char token[CPM_DEVICE_TOKEN_BYTES_MAX];
        cpm_device_new(req->app->keyring, property, &device, token);
        req->cors_origin = origin; /* the property's own page reads the answer */
        cpm_respond_json(req, 201,
                         json_pack("{s:s, s:s, s:s}", "subject", device.subject_id, "device_token",
                                   token, "property", device.property));
        sodium_memzero(token, sizeof(token));
    }
    json_decref(body);
}

/* ---- the merge ---- */

/* One of the device's consents, and what the merge does with it. */
struct device_consent {
    struct cpm_consent_state state;
    bool person_has;
    struct cpm_merge_consent person; /* the person's on the same purpose and recipient */
    const char *skip;                /* why it does not carry over; NULL when it does */
    char source_event[CPM_EVENT_ID_BYTES];
};

/* Everything one merge builds, freed at once. */
struct merge {
    struct cpm_device device;
    struct cpm_subject person;
    bool person_is_new;
    uint8_t data_key[CPM_DATA_KEY_BYTES];
    char device_pseudonym[CPM_PSEUDONYM_BYTES];
    char hash_hex[2 * CPM_HASH_BYTES + 1];
    char action_id[CPM_EVENT_ID_BYTES];
    int64_t now_ms;
    struct device_consent *consents; /* CPM_DEVICE_MERGE_CONSENTS_MAX */
    size_t count;
    bool too_many;
    struct cpm_event *events;         /* identity.merged, then one per consent carried */
    struct cpm_consent_state *states; /* one per consent carried */
    size_t carried;
    struct cpm_identity identity;
    int identities; /* the person's, counted */
};

static void merge_reset(struct merge *m)
{
    for (size_t i = 0; m->events != NULL && i <= m->carried; i++) {
        cpm_free(m->events[i].leaf);
        m->events[i].leaf = NULL;
    }
    m->count = m->carried = 0;
    m->too_many = false;
    m->identities = 0;
    sodium_memzero(m->data_key, sizeof(m->data_key));
    sodium_memzero(&m->identity, sizeof(m->identity));
}

static void merge_free(struct merge *m)
{
    if (m == NULL)
        return;
    merge_reset(m);
    cpm_free(m->consents);
    cpm_free(m->events);
    cpm_free(m->states);
    cpm_free(m);
}

static struct merge *merge_new(void)
{
    struct merge *m = cpm_calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->consents = cpm_calloc(CPM_DEVICE_MERGE_CONSENTS_MAX, sizeof(*m->consents));
    m->events = cpm_calloc(CPM_DEVICE_MERGE_CONSENTS_MAX + 1, sizeof(*m->events));
    m->states = cpm_calloc(CPM_DEVICE_MERGE_CONSENTS_MAX, sizeof(*m->states));
    if (m->consents == NULL || m->events == NULL || m->states == NULL) {
        merge_free(m);
        return NULL;
    }
    return m;
}

/*
 * The body {type: "device", device_token} and who may merge it: an API
 * key, or the person's own token for the same property — never a device.
 * False when answered.
 */
static bool read_device(struct cpm_request *req, json_t *body, struct cpm_device *device)
{
    static const char *const types[] = {CPM_IDENTITY_TYPE_DEVICE, NULL};
    static const struct cpm__schema_field fields[] = {
        {.name = "type", .type = CPM__SCHEMA_ENUM, .required = true, .values = types},
        {.name = "device_token",
         .type = CPM__SCHEMA_STRING,
         .required = true,
         .bytes_min = 1,
         .bytes_max = CPM_DEVICE_TOKEN_BYTES_MAX - 1},
    };
    static const struct cpm__schema schema = CPM__SCHEMA(fields, NULL);
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    if (cpm_device_authorization(cpm_request_header(req, "Authorization"))) {
        cpm_respond_error(req, CPM_ERR_FORBIDDEN, NULL,
                          "a device cannot merge itself: once the person logs in, their token"
                          " (or the company's back end) merges it");
        return false;
    }
    if (req->acting_guardian[0]) { /* the browser is the guardian's, its choices theirs */
        cpm_respond_error(req, CPM_ERR_FORBIDDEN, NULL,
                          "a guardian's token merges a device into its holder only, not a ward");
        return false;
    }
    cpm_err err = cpm__schema_validate(&schema, body, "", &detail);
    const char *token = json_string_value(json_object_get(body, "device_token"));
    if (err == CPM_OK && cpm_device_open(req->app->keyring, token, device) != CPM_OK) {
        cpm_detail_add(&detail, "device_token", "is not a device credential this service issued");
        err = CPM_ERR_VALIDATION;
    }
    if (err == CPM_OK && req->end_user_property[0] &&
        strcmp(device->property, req->end_user_property) != 0) {
        cpm_detail_add(&detail, "device_token",
                       "was issued for property '%s'; the token is for property '%s'",
                       device->property, req->end_user_property);
        err = CPM_ERR_VALIDATION;
    }
    if (err != CPM_OK)
        cpm_respond_problem(req, err, &detail);
    return err == CPM_OK;
}

static json_t *merge_answer(const char *person, const struct merge *m, bool written);

/* Answers when the device is merged already: into this person (200) or another (409). */
static cpm_err check_owner(struct cpm_request *req, const char *id, struct merge *m, bool *answered)
{
    char owner[CPM_SUBJECT_ID_BYTES_MAX + 1];
    cpm_err err =
        cpm_device_merged_into(req->app->store, req->app->keyring, m->device.subject_id, owner);
    if (err == CPM_ERR_NOT_FOUND)
        return CPM_OK;
    if (err != CPM_OK)
        return err;
    *answered = true;
    if (strcmp(owner, id) == 0)
        cpm_respond_json(req, 200, merge_answer(id, m, false));
    else
        cpm_respond_error(req, CPM_ERR_CONFLICT, "device_token",
                          "this device was merged into another subject");
    return CPM_ERR_CONFLICT;
}

/* The person (stored or new) with its data key; answers 409 when erased. */
static cpm_err load_person(struct cpm_request *req, const char *id, struct merge *m, bool *answered)
{
    cpm_err err =
        cpm_api_subject_load(req->app, id, m->now_ms, &m->person, &m->person_is_new, m->data_key);
    if (err == CPM_ERR_CONFLICT) {
        cpm_respond_error(req, err, NULL, "subject '%s' was erased", id);
        *answered = true;
    }
    return err;
}

static cpm_err device_consent_visit(void *ctx, const struct cpm_consent_state *s)
{
    struct merge *m = ctx;
    if (m->count == CPM_DEVICE_MERGE_CONSENTS_MAX) {
        m->too_many = true;
        return CPM_ERR_CONFLICT;
    }
    memset(&m->consents[m->count], 0, sizeof(m->consents[m->count]));
    m->consents[m->count++].state = *s;
    return CPM_OK;
}

/* The device's consents; answers 409 when the device was erased or has too many. */
static cpm_err load_device(struct cpm_request *req, struct merge *m, bool *answered)
{
    struct cpm_store *store = req->app->store;
    struct cpm_subject device;
    cpm_err err = store->ops->subject_get(store, m->device.subject_id, &device);
    if (err == CPM_ERR_NOT_FOUND)
        return CPM_OK; /* it recorded nothing: only the link is written */
    if (err == CPM_OK && device.erased_ms != 0) {
        cpm_respond_error(req, CPM_ERR_CONFLICT, "device_token", "device subject '%s' was erased",
                          m->device.subject_id);
        *answered = true;
        return CPM_ERR_CONFLICT;
    }
    if (err == CPM_OK)
        err = store->ops->consent_state_list(store, m->device.subject_id, device_consent_visit, m);
    if (m->too_many) {
        cpm_respond_error(req, CPM_ERR_CONFLICT, "device_token",
                          "the device has more than %d consents, more than a merge carries",
                          CPM_DEVICE_MERGE_CONSENTS_MAX);
        *answered = true;
    }
    return err;
}

static cpm_err person_consent_visit(void *ctx, const struct cpm_consent_state *s)
{
    struct merge *m = ctx;
    for (size_t i = 0; i < m->count; i++) {
        struct device_consent *c = &m->consents[i];
        if (strcmp(c->state.purpose, s->purpose) == 0 &&
            strcmp(c->state.recipient, s->recipient) == 0) {
            c->person_has = true;
            c->person.decided_ms = s->decided_ms;
            c->person.expires_ms = s->expires_ms;
        }
    }
    return CPM_OK;
}

static cpm_err count_visit(void *ctx, const struct cpm_identity *identity)
{
    CPM_UNUSED(identity);
    ((struct merge *)ctx)->identities++;
    return CPM_OK;
}

/* The person's consents (set against the device's) and identifiers; 409 when it has the most. */
static cpm_err load_person_side(struct cpm_request *req, const char *id, struct merge *m,
                                bool *answered)
{
    struct cpm_store *store = req->app->store;
    if (m->person_is_new)
        return CPM_OK;
    cpm_err err = store->ops->consent_state_list(store, id, person_consent_visit, m);
    if (err == CPM_OK)
        err = store->ops->identity_list(store, id, CPM_IDENTITIES_PER_SUBJECT_MAX, count_visit, m);
    if (err == CPM_OK && m->identities >= CPM_IDENTITIES_PER_SUBJECT_MAX) {
        cpm_respond_error(req, CPM_ERR_CONFLICT, NULL,
                          "subject '%s' has %d identifiers, the most allowed", id, m->identities);
        *answered = true;
        return CPM_ERR_CONFLICT;
    }
    return err;
}

/* Decides, for each of the device's consents, whether it carries over. */
static void choose(struct merge *m)
{
    bool under_14 = strcmp(m->person.age_status, CPM_AGE_STATUS_CHILD_UNDER_14) == 0;
    for (size_t i = 0; i < m->count; i++) {
        struct device_consent *c = &m->consents[i];
        struct cpm_merge_consent device = {.status = c->state.status,
                                           .decided_ms = c->state.decided_ms,
                                           .expires_ms = c->state.expires_ms};
        c->skip =
            cpm_merge_skip_reason(&device, c->person_has ? &c->person : NULL, under_14, m->now_ms);
    }
}

/* The source event of a carried consent, and the leaf that carries it. */
struct source_visit {
    struct merge *m;
    struct device_consent *consent;
    struct cpm_event *event; /* the person's new event: its leaf is made here */
    bool found;
};

static cpm_err source_visit(void *ctx, const struct cpm_event *e)
{
    struct source_visit *v = ctx;
    struct merge *m = v->m;
    struct device_consent *c = v->consent;
    if (e->seq != c->state.seq)
        return CPM_OK; /* not the deciding event: the state and the ledger disagree */
    uint8_t hash[CPM_HASH_BYTES];
    char hash_hex[2 * CPM_HASH_BYTES + 1];
    cpm_merkle_leaf_hash(e->leaf, e->leaf_len, hash);
    sodium_bin2hex(hash_hex, sizeof(hash_hex), hash, sizeof(hash));
    json_t *leaf = json_loadb(e->leaf, e->leaf_len, 0, NULL);
    if (leaf == NULL)
        return CPM_ERR_INTERNAL;
    cpm_strlcpy(c->source_event, e->id, sizeof(c->source_event));
    struct cpm_merge_source source = {.subject_pseudonym = m->device_pseudonym,
                                      .seq = e->seq,
                                      .event_id = e->id,
                                      .leaf_hash = hash_hex,
                                      .leaf = leaf};
    struct cpm_merge_leaf_info info = {
        .event_id = v->event->id,
        .action_id = m->action_id,
        .subject_pseudonym = m->person.pseudonym,
        .time_ms = m->now_ms,
        .purpose = c->state.purpose,
        .recipient = c->state.recipient[0] ? c->state.recipient : NULL,
        .status = c->state.status,
    };
    v->event->leaf = cpm_merge_consent_leaf(&info, &source, &v->event->leaf_len);
    json_decref(leaf);
    v->found = true;
    return v->event->leaf != NULL ? CPM_OK : CPM_ERR_NOMEM;
}

/* The person's event and state for carried consent c (the n-th carried, 1-based). */
static cpm_err carry(struct cpm_request *req, struct merge *m, struct device_consent *c, size_t n)
{
    struct cpm_event *e = &m->events[n];
    cpm_random_id(e->id, sizeof(e->id), "evt_");
    cpm_strlcpy(e->type, cpm_consent_event_type(c->state.status), sizeof(e->type));
    cpm_strlcpy(e->subject_id, m->person.id, sizeof(e->subject_id));
    cpm_strlcpy(e->purpose, c->state.purpose, sizeof(e->purpose));
    e->time_ms = m->now_ms;
    struct source_visit v = {.m = m, .consent = c, .event = e};
    struct cpm_store *store = req->app->store;
    cpm_err err =
        store->ops->event_list(store, m->device.subject_id, c->state.seq - 1, 1, source_visit, &v);
    if (err == CPM_OK && !v.found)
        err = CPM_ERR_INTERNAL;
    struct cpm_consent_state *s = &m->states[n - 1];
    *s = c->state; /* the device's decision, as decided then: time, expiry, cool-down */
    cpm_strlcpy(s->subject_id, m->person.id, sizeof(s->subject_id));
    s->seq = (int64_t)n + 1; /* its event: after identity.merged */
    s->seq_kept = false;
    s->by_guardian = false;
    return err;
}

/* The identity.merged event and the device's identity row on the person. */
static cpm_err link(struct cpm_request *req, struct merge *m)
{
    struct cpm_event *e = &m->events[0];
    struct cpm_identity *row = &m->identity;
    uint8_t hash[CPM_IDENTIFIER_HASH_BYTES];
    const char *device = m->device.subject_id;
    cpm_identifier_hash(req->app->keyring, CPM_IDENTITY_TYPE_DEVICE, device, hash);
    sodium_bin2hex(m->hash_hex, sizeof(m->hash_hex), hash, sizeof(hash));
    cpm_strlcpy(row->subject_id, m->person.id, sizeof(row->subject_id));
    cpm_strlcpy(row->type, CPM_IDENTITY_TYPE_DEVICE, sizeof(row->type));
    memcpy(row->hash, hash, sizeof(row->hash));
    row->created_ms = m->now_ms;
    cpm_random_id(e->id, sizeof(e->id), "evt_");
    cpm_strlcpy(e->type, CPM_EVENT_IDENTITY_MERGED, sizeof(e->type));
    cpm_strlcpy(e->subject_id, m->person.id, sizeof(e->subject_id));
    e->time_ms = m->now_ms;
    e->leaf = cpm_merge_identity_leaf(e->id, m->action_id, m->person.pseudonym, m->now_ms,
                                      m->hash_hex, m->device_pseudonym, m->carried, &e->leaf_len);
    if (e->leaf == NULL)
        return CPM_ERR_NOMEM;
    return cpm_field_seal(m->data_key, m->person.id, CPM_IDENTITY_TYPE_DEVICE, device,
                          strlen(device), row->sealed, sizeof(row->sealed), &row->sealed_len);
}

/* One attempt: reads both sides, builds the events, submits them; *answered when it answered. */
static cpm_err merge_once(struct cpm_request *req, const char *id, struct merge *m, bool *answered)
{
    merge_reset(m);
    m->now_ms = cpm_clock_now_ms();
    cpm_random_id(m->action_id, sizeof(m->action_id), "act_");
    cpm_subject_pseudonym(req->app->keyring, m->device.subject_id, m->device_pseudonym);
    cpm_err err = check_owner(req, id, m, answered);
    if (err == CPM_OK)
        err = load_person(req, id, m, answered);
    if (err == CPM_OK)
        err = load_device(req, m, answered);
    if (err == CPM_OK)
        err = load_person_side(req, id, m, answered);
    if (err != CPM_OK)
        return err;
    choose(m);
    for (size_t i = 0; err == CPM_OK && i < m->count; i++)
        if (m->consents[i].skip == NULL) {
            m->carried++;
            err = carry(req, m, &m->consents[i], m->carried);
        }
    if (err == CPM_OK)
        err = link(req, m);
    struct cpm_write_request wr = {
        .subject = m->person_is_new ? &m->person : NULL,
        .events = m->events,
        .event_count = m->carried + 1,
        .states = m->states,
        .state_count = m->carried,
        .identity = &m->identity,
    };
    return err == CPM_OK ? cpm_writer_submit(req->app->writer, &wr) : err;
}

/* One event of the answer; a carried consent's with its purpose and where it came from. */
static json_t *event_item(const struct merge *m, size_t n, const struct device_consent *c)
{
    const struct cpm_event *e = &m->events[n];
    json_t *item = json_pack("{s:I, s:s, s:s, s:o}", "seq", (json_int_t)e->seq, "id", e->id, "type",
                             e->type, "time", cpm_api_time(e->time_ms));
    if (item == NULL || c == NULL)
        return item;
    json_object_set_new(item, "purpose", json_string(c->state.purpose));
    if (c->state.recipient[0])
        json_object_set_new(item, "recipient", json_string(c->state.recipient));
    json_object_set_new(item, "from",
                        json_pack("{s:s, s:I, s:s}", "subject", m->device.subject_id, "seq",
                                  (json_int_t)c->state.seq, "event", c->source_event));
    return item;
}

static json_t *skipped_item(const struct device_consent *c)
{
    json_t *item = json_pack("{s:s, s:s, s:s}", "purpose", c->state.purpose, "status",
                             c->state.status, "reason", c->skip);
    if (item && c->state.recipient[0])
        json_object_set_new(item, "recipient", json_string(c->state.recipient));
    return item;
}

/*
 * The answer: the events written, identity.merged first (none on a
 * repeat), and the device's consents that did not carry over, with why.
 */
static json_t *merge_answer(const char *person, const struct merge *m, bool written)
{
    json_t *events = json_array(), *skipped = json_array();
    if (written)
        json_array_append_new(events, event_item(m, 0, NULL));
    for (size_t i = 0, n = 0; written && i < m->count; i++) {
        const struct device_consent *c = &m->consents[i];
        if (c->skip != NULL)
            json_array_append_new(skipped, skipped_item(c));
        else
            json_array_append_new(events, event_item(m, ++n, c));
    }
    return json_pack("{s:s, s:s, s:s?, s:o, s:o}", "subject", person, "device",
                     m->device.subject_id, "action", written ? m->action_id : NULL, "events",
                     events, "skipped", skipped);
}

static void respond_failed(struct cpm_request *req, cpm_err err, const char *id)
{
    if (err == CPM_ERR_TAMPERED)
        cpm_respond_error(req, err, NULL, "writes are refused: %s",
                          cpm_writer_refusal(req->app->writer));
    else if (err == CPM_ERR_CONFLICT)
        cpm_respond_error(req, err, NULL,
                          "subject '%s' or the device was changed by another request meanwhile;"
                          " retry",
                          id);
    else
        cpm_respond_error(req, err, NULL, "the device could not be merged into subject '%s'", id);
}

void cpm_api_device_merge(struct cpm_request *req, const char *id, json_t *body)
{
    struct merge *m = merge_new();
    bool answered = false;
    cpm_err err = CPM_ERR_NOMEM;
    if (m == NULL) {
        cpm_respond_error(req, err, NULL, "out of memory");
        goto out;
    }
    if (!read_device(req, body, &m->device))
        goto out;
    for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        err = merge_once(req, id, m, &answered);
        if (answered || err != CPM_ERR_CONFLICT)
            break;
    }
    if (answered)
        goto out;
    if (err != CPM_OK)
        respond_failed(req, err, id);
    else
        cpm_respond_json(req, 201, merge_answer(id, m, true));
out:
    merge_free(m);
    json_decref(body);
}
