/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rights.c — data subjects' rights requests (PIPL Art. 44–50,
 * docs/RIGHTS.md): the person files them, operators work the queue.
 *
 *   POST  /v1/subjects/{id}/requests  file one (the person's token, or an API key)
 *   GET   /v1/subjects/{id}/requests  a subject's requests, newest first
 *   GET   /v1/requests                the operators' queue, soonest due first
 *   GET   /v1/requests/{id}           one request
 *   PATCH /v1/requests/{id}           move one on: in_progress, completed, refused
 *
 * Filing records `rights.requested` and each move `rights.updated`, each
 * written through the single writer with its row, in one transaction. A
 * leaf holds the request's id, type, status and due date, never the
 * person's note: that is sealed under the subject's data key (field name:
 * the request id), so erasing the subject makes it unreadable while the
 * request, its status and its history stay, and may still be answered.
 *
 * A write that meets a concurrent one (the subject created or erased, an
 * open request of the type filed, the request moved on) is tried once
 * more from the start, so it is answered from what is then stored.
 */
#include "core/common.h"

#include <sodium.h>

#include "api/api.h"
#include "api/subject_keys.h"
#include "api/support.h"
#include "core/clock.h"
#include "crypto/keyring.h"
#include "crypto/random_id.h"
#include "core/alloc.h"
#include "domain/rights.h"
#include "domain/tz.h"
#include "http/app.h"
#include "http/device_auth.h"
#include "store/config_writer.h"
#include "store/writer.h"

#define WRITE_ATTEMPTS        2 /* once more after a concurrent change */
#define NOTE_SEALED_BYTES_MAX (CPM_RIGHTS_TEXT_BYTES_MAX + CPM_SEALED_OVERHEAD)
#define KEY_END_USER          "end_user" /* a leaf's `key` when the person's own token filed it */
#define KEY_DEVICE            "device"   /* … or an anonymous device's credential */
#define CURSOR_BYTES_MAX      CPM_ID_BYTES_MAX /* "<ms>.<id>": what cpm_api_page_result encodes */

/* ---- presenting a request ---- */

/* Opens notes, unwrapping each subject's data key once for a run of its requests. */
struct opener {
    struct cpm_app *app;
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1]; /* whose key is loaded; "" when none */
    bool erased;
    uint8_t key[CPM_DATA_KEY_BYTES];
};

static void opener_release(struct opener *o)
{
    sodium_memzero(o->key, sizeof(o->key));
    o->subject_id[0] = '\0';
}

static cpm_err opener_load(struct opener *o, const char *subject_id)
{
    if (o->subject_id[0] && strcmp(o->subject_id, subject_id) == 0)
        return CPM_OK;
    opener_release(o);
    struct cpm_subject s;
    struct cpm_store *store = o->app->store;
    cpm_err err = store->ops->subject_get(store, subject_id, &s);
    if (err == CPM_ERR_NOT_FOUND)
        err = CPM_ERR_STORE; /* a request's subject always exists */
    o->erased = err == CPM_OK && s.erased_ms != 0;
    if (err == CPM_OK && !o->erased)
        err = cpm_data_key_unwrap(o->app->keyring, subject_id, s.wrapped_key, s.wrapped_key_len,
                                  o->key);
    if (err == CPM_OK)
        cpm_strlcpy(o->subject_id, subject_id, sizeof(o->subject_id));
    return err;
}

/* The note opened into *out (JSON string), or JSON null when none or erased (*erased). */
static cpm_err note_json(struct opener *o, const struct cpm_rights_request *r, json_t **out,
                         bool *erased)
{
    char text[CPM_RIGHTS_TEXT_BYTES_MAX + 1];
    size_t len = 0;
    *out = NULL;
    *erased = false;
    if (r->note_sealed == NULL) {
        *out = json_null();
        return CPM_OK;
    }
    cpm_err err = opener_load(o, r->subject_id);
    if (err == CPM_OK && o->erased) {
        *erased = true;
        *out = json_null();
        return CPM_OK;
    }
    if (err == CPM_OK)
        err = cpm_field_open(o->key, r->subject_id, r->id, r->note_sealed, r->note_sealed_len, text,
                             sizeof(text) - 1, &len);
    if (err == CPM_OK && (*out = json_stringn(text, len)) == NULL)
        err = CPM_ERR_NOMEM;
    sodium_memzero(text, sizeof(text));
    return err;
}

static bool is_open(const char *status)
{
    enum cpm_rights_status s;
    return cpm_rights_status_parse(status, &s) && cpm_rights_status_open(s);
}

/* The request as the API shows it; note is the note already opened (taken), or NULL to open it. */
static cpm_err request_json(struct opener *o, const struct cpm_rights_request *r, json_t *note,
                            json_t **out)
{
    bool erased = false;
    cpm_err err = note != NULL ? CPM_OK : note_json(o, r, &note, &erased);
    if (err != CPM_OK)
        return err;
    *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:o, s:b, s:s?, s:s?}", "id",
                     r->id, "subject", r->subject_id, "property", r->property, "type", r->type,
                     "status", r->status, "created_at", cpm_api_time(r->created_ms), "updated_at",
                     cpm_api_time(r->updated_ms), "due_at", cpm_api_time(r->due_ms), "overdue",
                     is_open(r->status) && cpm_clock_now_ms() > r->due_ms, "note", note,
                     "note_erased", erased, "reply", r->reply, "reason", r->reason);
    return *out != NULL ? CPM_OK : CPM_ERR_NOMEM;
}

static json_t *event_json(const struct cpm_event *e)
{
    return json_pack("{s:I, s:s, s:s, s:o}", "seq", (json_int_t)e->seq, "id", e->id, "type",
                     e->type, "time", cpm_api_time(e->time_ms));
}

/* Answers the request with its event (201 filed, 200 moved). */
static void respond_request(struct cpm_request *req, int status, const struct cpm_rights_request *r,
                            json_t *note, const struct cpm_event *e)
{
    struct opener o = {.app = req->app};
    json_t *body = NULL;
    cpm_err err = request_json(&o, r, note, &body);
    opener_release(&o);
    if (err == CPM_OK && json_object_set_new(body, "event", event_json(e)) != 0)
        err = CPM_ERR_NOMEM;
    if (err != CPM_OK) {
        json_decref(body);
        cpm_respond_error(req, err, NULL, "the request was recorded but cannot be shown");
        return;
    }
    cpm_respond_json(req, status, body);
}

/* Answers a write the writer refused, or that met a concurrent change twice. */
static void respond_write_failed(struct cpm_request *req, cpm_err err, const char *what)
{
    if (err == CPM_ERR_TAMPERED)
        cpm_respond_error(req, err, NULL, "writes are refused: %s",
                          cpm_writer_refusal(req->app->writer));
    else if (err == CPM_ERR_CONFLICT)
        cpm_respond_error(req, err, NULL, "%s was changed by another request meanwhile; retry",
                          what);
    else
        cpm_respond_error(req, err, NULL, "the change to %s could not be recorded", what);
}

/* Makes e a subject event of type with the leaf built from info (its id, time set here). */
static cpm_err build_event(struct cpm_event *e, const char *subject_id,
                           struct cpm_rights_leaf_info *info)
{
    cpm_random_id(e->id, sizeof(e->id), "evt_");
    cpm_strlcpy(e->type, info->type, sizeof(e->type));
    cpm_strlcpy(e->subject_id, subject_id, sizeof(e->subject_id));
    e->time_ms = info->time_ms;
    info->event_id = e->id;
    e->leaf = cpm_rights_leaf(info, &e->leaf_len);
    return e->leaf != NULL ? CPM_OK : CPM_ERR_NOMEM;
}

/* ---- POST /v1/subjects/{id}/requests ---- */

struct filing {
    struct cpm_rights_input in;
    const char *subject_id;
    const char *property;
    const char *guardian_id; /* a guardian's token acting for its ward, else NULL */
    const char *key;         /* the API key's id, KEY_END_USER or KEY_DEVICE */
    /* one attempt's */
    struct cpm_subject subject;
    bool is_new;
    uint8_t data_key[CPM_DATA_KEY_BYTES];
    struct cpm_rights_request row;
    uint8_t sealed[NOTE_SEALED_BYTES_MAX];
    char note_sha256[2 * CPM_HASH_BYTES + 1];
    char guardian[CPM_PSEUDONYM_BYTES];
    struct cpm_event event;
};

static void filing_reset(struct filing *f)
{
    cpm_free(f->event.leaf);
    memset(&f->event, 0, sizeof(f->event));
    memset(&f->row, 0, sizeof(f->row));
    sodium_memzero(f->data_key, sizeof(f->data_key));
    f->is_new = false;
}

/*
 * The property the request is filed on: the token's, or (with an API key)
 * the one named, which must exist. Answers 422 and returns false.
 */
static bool filing_property(struct cpm_request *req, struct filing *f)
{
    const char *named = f->in.property;
    if (req->end_user_property[0]) {
        f->property = req->end_user_property;
        if (named == NULL || strcmp(named, f->property) == 0)
            return true;
        cpm_respond_error(req, CPM_ERR_VALIDATION, "property",
                          "must be '%s', the property the token is for", f->property);
        return false;
    }
    if (named == NULL) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "property",
                          "is required with an API key: the property where the person asked");
        return false;
    }
    json_t *doc = NULL;
    int64_t revision = 0;
    cpm_err err = cpm_config_read(req->app->store, CPM_DOC_PROPERTY, named, &doc, &revision);
    json_decref(doc);
    if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, CPM_ERR_VALIDATION, "property", "unknown property '%s'", named);
    else if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "cannot read property '%s'", named);
    f->property = named;
    return err == CPM_OK;
}

/* Who files, for the leaf: the API key's id, or the person's own credential. */
static const char *filer_key(const struct cpm_request *req)
{
    if (req->key.id[0])
        return req->key.id;
    return cpm_device_authorization(cpm_request_header(req, "Authorization")) ? KEY_DEVICE
                                                                              : KEY_END_USER;
}

/* Answers 409 when the subject has an open request of the type already. */
static cpm_err check_open(struct cpm_request *req, struct filing *f, bool *answered)
{
    struct cpm_rights_request open = {0};
    struct cpm_store *store = req->app->store;
    const char *type = cpm_rights_type_name(f->in.type);
    cpm_err err = store->ops->rights_request_open(store, f->subject_id, type, &open);
    if (err == CPM_ERR_NOT_FOUND)
        return CPM_OK;
    if (err == CPM_OK) {
        struct cpm_detail detail;
        cpm_detail_init(&detail);
        cpm_detail_add(&detail, "type",
                       "subject '%s' has an open %s request, '%s' (%s): it is answered first",
                       f->subject_id, type, open.id, open.status);
        cpm_respond_problem_with(req, CPM_ERR_CONFLICT, &detail,
                                 json_pack("{s:s}", "request", open.id));
        *answered = true;
        err = CPM_ERR_CONFLICT;
    }
    cpm_rights_request_release(&open);
    return err;
}

/* Seals the note under the subject's key; its hash goes in the leaf. */
static cpm_err seal_note(struct filing *f)
{
    if (f->in.note == NULL)
        return CPM_OK;
    cpm_err err = cpm_field_seal(f->data_key, f->subject_id, f->row.id, f->in.note, f->in.note_len,
                                 f->sealed, sizeof(f->sealed), &f->row.note_sealed_len);
    if (err != CPM_OK)
        return err;
    uint8_t hash[CPM_HASH_BYTES];
    crypto_hash_sha256(hash, f->sealed, f->row.note_sealed_len);
    sodium_bin2hex(f->note_sha256, sizeof(f->note_sha256), hash, sizeof(hash));
    f->row.note_sealed = f->sealed;
    return CPM_OK;
}

/* The row of a new request, received now and due CPM_RIGHTS_DUE_WORKING_DAYS on. */
static cpm_err build_row(struct filing *f, int64_t now_ms)
{
    const struct cpm_tz *tz = cpm_tz_get(CPM_RIGHTS_TIME_ZONE);
    if (tz == NULL)
        return CPM_ERR_INTERNAL; /* cpmd does not start without it (the decider needs it) */
    struct cpm_rights_request *r = &f->row;
    cpm_random_id(r->id, sizeof(r->id), "rr_");
    cpm_strlcpy(r->subject_id, f->subject_id, sizeof(r->subject_id));
    cpm_strlcpy(r->property, f->property, sizeof(r->property));
    cpm_strlcpy(r->type, cpm_rights_type_name(f->in.type), sizeof(r->type));
    cpm_strlcpy(r->status, cpm_rights_status_name(CPM_RIGHTS_RECEIVED), sizeof(r->status));
    r->created_ms = r->updated_ms = now_ms;
    r->due_ms = cpm_rights_due_ms(tz, now_ms, CPM_RIGHTS_DUE_WORKING_DAYS);
    return seal_note(f);
}

static cpm_err file_once(struct cpm_request *req, struct filing *f, bool *answered)
{
    int64_t now_ms = cpm_clock_now_ms();
    cpm_err err =
        cpm_api_subject_load(req->app, f->subject_id, now_ms, &f->subject, &f->is_new, f->data_key);
    if (err == CPM_ERR_CONFLICT) {
        cpm_respond_error(req, err, NULL, "subject '%s' was erased", f->subject_id);
        *answered = true;
    }
    if (err == CPM_OK && !f->is_new)
        err = check_open(req, f, answered);
    if (err == CPM_OK)
        err = build_row(f, now_ms);
    if (f->guardian_id != NULL)
        cpm_subject_pseudonym(req->app->keyring, f->guardian_id, f->guardian);
    struct cpm_rights_leaf_info info = {
        .type = CPM_EVENT_RIGHTS_REQUESTED,
        .subject_pseudonym = f->subject.pseudonym,
        .time_ms = now_ms,
        .request_id = f->row.id,
        .request_type = f->in.type,
        .status = CPM_RIGHTS_RECEIVED,
        .due_ms = f->row.due_ms,
        .property = f->property,
        .note_sha256 = f->row.note_sealed != NULL ? f->note_sha256 : NULL,
        .guardian = f->guardian_id != NULL ? f->guardian : NULL,
        .key = f->key,
    };
    if (err == CPM_OK)
        err = build_event(&f->event, f->subject_id, &info);
    struct cpm_write_request wr = {
        .subject = f->is_new ? &f->subject : NULL,
        .events = &f->event,
        .event_count = 1,
        .rights_request = &f->row,
    };
    return err == CPM_OK ? cpm_writer_submit(req->app->writer, &wr) : err;
}

void cpm_api_subject_requests_create(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    json_t *body = NULL;
    struct filing f = {.subject_id = id};
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    if (!cpm_api_subject_id_checked(req, id) || (body = cpm_request_json_object(req)) == NULL)
        goto out;
    cpm_err err = cpm_rights_input_parse(body, &f.in, &detail);
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
        goto out;
    }
    if (!filing_property(req, &f))
        goto out;
    f.guardian_id = req->acting_guardian[0] ? req->acting_guardian : NULL;
    f.key = filer_key(req);
    bool answered = false;
    for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        filing_reset(&f);
        err = file_once(req, &f, &answered);
        if (answered || err != CPM_ERR_CONFLICT)
            break;
    }
    if (answered)
        goto out;
    if (err != CPM_OK) {
        char what[CPM_SUBJECT_ID_BYTES_MAX + 16];
        snprintf(what, sizeof(what), "subject '%s'", id);
        respond_write_failed(req, err, what);
        goto out;
    }
    /* the note is shown from the text sent, not opened again */
    json_t *note = f.in.note ? json_stringn(f.in.note, f.in.note_len) : json_null();
    respond_request(req, 201, &f.row, note, &f.event);
out:
    filing_reset(&f);
    sodium_memzero(f.sealed, sizeof(f.sealed));
    json_decref(body);
}

/* ---- cursors: "<ms>.<id>" of the last item shown ---- */

static bool cursor_split(const char *text, int64_t *ms, char id[CPM_RIGHTS_ID_BYTES])
{
    char number[24];
    const char *dot = strchr(text, '.');
    size_t digits = dot != NULL ? (size_t)(dot - text) : 0;
    if (digits == 0 || digits >= sizeof(number) || strlen(dot + 1) == 0 ||
        strlen(dot + 1) >= CPM_RIGHTS_ID_BYTES)
        return false;
    memcpy(number, text, digits);
    number[digits] = '\0';
    cpm_strlcpy(id, dot + 1, CPM_RIGHTS_ID_BYTES);
    return cpm_parse_int64(number, INT64_MIN, INT64_MAX, ms);
}

/* Reads ?cursor= (after cpm_api_page_parse); answers 422 and returns false when it is not ours. */
static bool cursor_read(struct cpm_request *req, const struct cpm_page *page, int64_t *ms,
                        char id[CPM_RIGHTS_ID_BYTES], bool *given)
{
    *given = page->after[0] != '\0';
    if (!*given || cursor_split(page->after, ms, id))
        return true;
    cpm_respond_error(req, CPM_ERR_VALIDATION, "cursor", "not a cursor this server gave out");
    return false;
}

/* A page of requests built by a store walk. */
struct listing {
    struct opener opener;
    json_t *items;
    bool by_due; /* the cursor follows due_ms (the queue), else created_ms */
    char last[CURSOR_BYTES_MAX + 1];
};

static cpm_err listing_visit(void *ctx, const struct cpm_rights_request *r)
{
    struct listing *l = ctx;
    json_t *item = NULL;
    cpm_err err = request_json(&l->opener, r, NULL, &item);
    if (err == CPM_OK && json_array_append_new(l->items, item) != 0)
        err = CPM_ERR_NOMEM;
    snprintf(l->last, sizeof(l->last), "%lld.%s",
             (long long)(l->by_due ? r->due_ms : r->created_ms), r->id);
    return err;
}

/* The page's {items, next_cursor} (items taken), or answers the failure and returns NULL. */
static json_t *listing_page(struct cpm_request *req, struct listing *l, cpm_err err,
                            const struct cpm_page *page)
{
    opener_release(&l->opener);
    json_t *result =
        err == CPM_OK ? cpm_api_page_result(l->items, page, l->last[0] ? l->last : NULL) : NULL;
    if (err != CPM_OK)
        json_decref(l->items);
    if (result == NULL)
        cpm_respond_error(req, err != CPM_OK ? err : CPM_ERR_NOMEM, NULL,
                          "cannot read the rights requests");
    return result;
}

/* ---- GET /v1/subjects/{id}/requests ---- */

void cpm_api_subject_requests_list(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    struct cpm_page page;
    int64_t before_ms = 0;
    char before_id[CPM_RIGHTS_ID_BYTES] = "";
    bool given = false;
    if (!cpm_api_subject_id_checked(req, id) || !cpm_api_page_parse(req, &page) ||
        !cursor_read(req, &page, &before_ms, before_id, &given))
        return;
    struct listing l = {.opener = {.app = req->app}, .items = json_array()};
    struct cpm_store *store = req->app->store;
    cpm_err err =
        l.items ? store->ops->rights_request_list(store, id, before_ms, given ? before_id : NULL,
                                                  page.limit, listing_visit, &l)
                : CPM_ERR_NOMEM;
    json_t *result = listing_page(req, &l, err, &page);
    if (result == NULL)
        return;
    /* the preference center's shape: the subject and its requests */
    cpm_respond_json(req, 200,
                     json_pack("{s:s, s:O, s:O}", "subject", id, "requests",
                               json_object_get(result, "items"), "next_cursor",
                               json_object_get(result, "next_cursor")));
    json_decref(result);
}

/* ---- GET /v1/requests: the operators' queue ---- */

/* Reads ?status= and ?overdue= into f; answers 422 and returns false when bad. */
static bool queue_filter(struct cpm_request *req, struct cpm_rights_filter *f, int64_t now_ms)
{
    static const char *const open_statuses[2] = {"received", "in_progress"};
    const char *status = cpm_request_query(req, "status");
    const char *overdue = cpm_request_query(req, "overdue");
    enum cpm_rights_status s = CPM_RIGHTS_RECEIVED;
    bool open = status != NULL && strcmp(status, "open") == 0;
    f->due_before_ms = INT64_MAX;
    if (status != NULL && !open && !cpm_rights_status_parse(status, &s)) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "status",
                          "must be open, received, in_progress, completed or refused");
        return false;
    }
    if (overdue != NULL && strcmp(overdue, "true") != 0) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "overdue",
                          "must be true (leave it out to list every request)");
        return false;
    }
    if (overdue != NULL && status != NULL && !open && !cpm_rights_status_open(s)) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "overdue",
                          "only open requests are overdue: use status open, received or "
                          "in_progress");
        return false;
    }
    if (open || (overdue != NULL && status == NULL)) {
        f->statuses[0] = open_statuses[0];
        f->statuses[1] = open_statuses[1];
    } else if (status != NULL) {
        f->statuses[0] = cpm_rights_status_name(s);
    }
    if (overdue != NULL)
        f->due_before_ms = now_ms;
    return true;
}

void cpm_api_requests_queue(struct cpm_request *req)
{
    struct cpm_page page;
    struct cpm_rights_filter f = {0};
    char after_id[CPM_RIGHTS_ID_BYTES] = "";
    bool given = false;
    if (!cpm_api_page_parse(req, &page) || !queue_filter(req, &f, cpm_clock_now_ms()) ||
        !cursor_read(req, &page, &f.after_due_ms, after_id, &given))
        return;
    f.after_id = given ? after_id : NULL;
    struct listing l = {.opener = {.app = req->app}, .items = json_array(), .by_due = true};
    struct cpm_store *store = req->app->store;
    cpm_err err = l.items
                      ? store->ops->rights_request_queue(store, &f, page.limit, listing_visit, &l)
                      : CPM_ERR_NOMEM;
    json_t *result = listing_page(req, &l, err, &page);
    if (result != NULL)
        cpm_respond_json(req, 200, result);
}

/* ---- GET /v1/requests/{id} ---- */

/* Reads request id into *out; answers 404 (or the failure) and returns false. */
static bool request_read(struct cpm_request *req, const char *id, struct cpm_rights_request *out)
{
    struct cpm_store *store = req->app->store;
    cpm_err err = strlen(id) < CPM_RIGHTS_ID_BYTES ? store->ops->rights_request_get(store, id, out)
                                                   : CPM_ERR_NOT_FOUND;
    if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, err, NULL, "no rights request '%s'", id);
    else if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "cannot read rights request '%s'", id);
    return err == CPM_OK;
}

void cpm_api_requests_get(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    struct cpm_rights_request r = {0};
    if (!request_read(req, id, &r))
        return;
    struct opener o = {.app = req->app};
    json_t *body = NULL;
    cpm_err err = request_json(&o, &r, NULL, &body);
    opener_release(&o);
    cpm_rights_request_release(&r);
    if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "cannot show rights request '%s'", id);
    else
        cpm_respond_json(req, 200, body);
}

/* ---- PATCH /v1/requests/{id} ---- */

struct move {
    struct cpm_rights_change change;
    struct cpm_rights_request row; /* as read */
    struct cpm_rights_update update;
    struct cpm_event event;
};

static void move_reset(struct move *m)
{
    cpm_free(m->event.leaf);
    memset(&m->event, 0, sizeof(m->event));
    cpm_rights_request_release(&m->row);
    memset(&m->update, 0, sizeof(m->update));
}

/* Answers 409 unless the stored request may move to the status asked. */
static bool move_allowed(struct cpm_request *req, struct move *m, enum cpm_rights_status from)
{
    enum cpm_rights_status to = m->change.status;
    if (cpm_rights_transition_allowed(from, to))
        return true;
    if (!cpm_rights_status_open(from))
        cpm_respond_error(req, CPM_ERR_CONFLICT, "status",
                          "rights request '%s' is %s: a finished request never changes", m->row.id,
                          m->row.status);
    else
        cpm_respond_error(req, CPM_ERR_CONFLICT, "status",
                          "rights request '%s' is %s: it only moves forward, not to %s", m->row.id,
                          m->row.status, cpm_rights_status_name(to));
    return false;
}

static cpm_err move_once(struct cpm_request *req, const char *id, struct move *m, bool *answered)
{
    enum cpm_rights_status from;
    enum cpm_rights_type type;
    struct cpm_subject subject;
    struct cpm_store *store = req->app->store;
    if (!request_read(req, id, &m->row)) {
        *answered = true;
        return CPM_ERR_NOT_FOUND;
    }
    if (!cpm_rights_status_parse(m->row.status, &from) ||
        !cpm_rights_type_parse(m->row.type, &type))
        return CPM_ERR_STORE;
    if (!move_allowed(req, m, from)) {
        *answered = true;
        return CPM_ERR_CONFLICT;
    }
    cpm_err err = store->ops->subject_get(store, m->row.subject_id, &subject);
    if (err == CPM_ERR_NOT_FOUND)
        err = CPM_ERR_STORE;
    struct cpm_rights_update *u = &m->update;
    cpm_strlcpy(u->id, m->row.id, sizeof(u->id));
    cpm_strlcpy(u->from, m->row.status, sizeof(u->from));
    cpm_strlcpy(u->status, cpm_rights_status_name(m->change.status), sizeof(u->status));
    u->reply = m->change.reply;
    u->reason = m->change.reason;
    u->updated_ms = cpm_clock_now_ms();
    struct cpm_rights_leaf_info info = {
        .type = CPM_EVENT_RIGHTS_UPDATED,
        .subject_pseudonym = subject.pseudonym,
        .time_ms = u->updated_ms,
        .request_id = m->row.id,
        .request_type = type,
        .status = m->change.status,
        .previous = from,
        .due_ms = m->row.due_ms,
        .key = req->key.id,
    };
    if (err == CPM_OK)
        err = build_event(&m->event, m->row.subject_id, &info);
    struct cpm_write_request wr = {.events = &m->event, .event_count = 1, .rights_update = u};
    return err == CPM_OK ? cpm_writer_submit(req->app->writer, &wr) : err;
}

void cpm_api_requests_patch(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    json_t *body = cpm_request_json_object(req);
    if (body == NULL)
        return;
    struct move m = {0};
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    cpm_err err = cpm_rights_change_parse(body, &m.change, &detail);
    bool answered = false;
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
        goto out;
    }
    for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        move_reset(&m);
        err = move_once(req, id, &m, &answered);
        if (answered || err != CPM_ERR_CONFLICT)
            break;
    }
    if (answered)
        goto out;
    if (err != CPM_OK) {
        char what[CPM_RIGHTS_ID_BYTES + 24];
        snprintf(what, sizeof(what), "rights request '%s'", id);
        respond_write_failed(req, err, what);
        goto out;
    }
    /* the row as it now stands: the read before, with the move applied */
    cpm_strlcpy(m.row.status, m.update.status, sizeof(m.row.status));
    m.row.updated_ms = m.update.updated_ms;
    if (m.change.reply != NULL) {
        cpm_free(m.row.reply);
        m.row.reply = cpm_strdup(m.change.reply);
    }
    if (m.change.reason != NULL) {
        cpm_free(m.row.reason);
        m.row.reason = cpm_strdup(m.change.reason);
    }
    if ((m.change.reply != NULL && m.row.reply == NULL) ||
        (m.change.reason != NULL && m.row.reason == NULL))
        cpm_respond_error(req, CPM_ERR_NOMEM, NULL, "the change was recorded but cannot be shown");
    else
        respond_request(req, 200, &m.row, NULL, &m.event);
out:
    move_reset(&m);
    json_decref(body);
}
