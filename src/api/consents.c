/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consents.c — recording consent actions and reading a subject's consents
 * and history.
 *
 * POST /v1/subjects/{id}/consents turns one UI action into one ledger event
 * per purpose. The rules (src/domain/consent.c) run first; the subject is
 * created on first sight with its own data key; the client context (IP,
 * user agent) is sealed under that key and only its hash enters the leaf.
 * The answer is sent once the writer has made the events durable. With an
 * Idempotency-Key a retry gets the first answer back instead of new events.
 */
#include "core/common.h"

#include <sodium.h>

#include "api/api.h"
#include "api/subject_keys.h"
#include "api/support.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "crypto/keyring.h"
#include "crypto/random_id.h"
#include "domain/consent.h"
#include "http/app.h"
#include "store/config_writer.h"
#include "store/writer.h"

/* Everything one consent request builds, freed at once. */
struct consent_write {
    struct cpm_consent_action action;
    struct cpm_subject subject;
    bool subject_is_new;
    uint8_t data_key[32];
    char guardian_pseudonym[CPM_PSEUDONYM_BYTES]; /* "" unless a linked guardian acts */
    uint8_t *sealed;
    size_t sealed_len;
    char context_sha256[2 * CPM_HASH_BYTES + 1];
    char action_id[CPM_EVENT_ID_BYTES];
    int64_t now_ms;
    struct cpm_event *events;         /* one per decision */
    struct cpm_consent_state *states; /* one per decision */
    struct cpm_idempotency idempotency;
    bool with_idempotency;
    char *answer; /* the response text, also what a retry gets back */
    /* across the suspension while the writer commits */
    json_t *body; /* the parsed request: action's strings point into it */
    struct cpm_request *req;
    struct cpm_write_request write;
    bool retried;
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1]; /* whose action it is */
    int64_t otp_verified_ms; /* the action's one-time code, once used; 0: none */
};

/* Drops what one attempt built from the subject, keeping the parsed action. */
static void consent_write_reset(struct consent_write *w)
{
    for (size_t i = 0; w->events != NULL && i < w->action.count; i++) {
        cpm_free(w->events[i].leaf);
        w->events[i].leaf = NULL;
    }
    cpm_free(w->sealed);
    w->sealed = NULL;
    w->sealed_len = 0;
    w->guardian_pseudonym[0] = '\0';
    sodium_memzero(w->data_key, sizeof(w->data_key));
}

static void consent_write_free(void *pending)
{
    struct consent_write *w = pending;
    if (w == NULL)
        return;
    consent_write_reset(w);
    cpm_free(w->answer);
    cpm_free(w->events);
    cpm_free(w->states);
    json_decref(w->body);
    cpm_free(w);
}

/* Loads the subject, or prepares a new one with a fresh data key. */
static cpm_err load_subject(struct cpm_request *req, const char *id, struct consent_write *w)
{
    return cpm_api_subject_load(req->app, id, w->now_ms, &w->subject, &w->subject_is_new,
                                w->data_key);
}

/* Whether the acting guardian is linked to the subject; its pseudonym then goes in the leaves. */
static cpm_err find_guardian(struct cpm_request *req, struct consent_write *w, bool *linked)
{
    *linked = false;
    if (w->action.guardian_id == NULL || w->subject_is_new)
        return CPM_OK;
    cpm_err err =
        cpm_store_guardian_linked(req->app->store, w->subject.id, w->action.guardian_id, linked);
    if (*linked)
        cpm_subject_pseudonym(req->app->keyring, w->action.guardian_id, w->guardian_pseudonym);
    return err;
}

/* Seals the client context under the subject's key; its hash goes in the leaves. */
static cpm_err seal_context(struct consent_write *w)
{
    const struct cpm_consent_action *a = &w->action;
    if (a->ip == NULL && a->user_agent == NULL)
        return CPM_OK;
    json_t *context = json_pack("{s:s?, s:s?}", "ip", a->ip, "user_agent", a->user_agent);
    char *plain = context ? json_dumps(context, JSON_COMPACT) : NULL;
    json_decref(context);
    if (plain == NULL)
        return CPM_ERR_NOMEM;
    size_t len = strlen(plain), cap = len + CPM_SEALED_OVERHEAD;
    w->sealed = cpm_malloc(cap);
    cpm_err err = w->sealed ? cpm_field_seal(w->data_key, w->subject.id, "context", plain, len,
                                             w->sealed, cap, &w->sealed_len)
                            : CPM_ERR_NOMEM;
    sodium_memzero(plain, len);
    cpm_free(plain);
    if (err == CPM_OK) {
        uint8_t hash[CPM_HASH_BYTES];
        crypto_hash_sha256(hash, w->sealed, w->sealed_len);
        sodium_bin2hex(w->context_sha256, sizeof(w->context_sha256), hash, sizeof(hash));
    }
    return err;
}

/*
 * The policy for the action's region and property sets how long a consent
 * lasts (consent_validity) and how long a refusal holds before the person
 * may be asked again (refusal_cooldown).
 */
static cpm_err apply_policy(struct cpm_request *req, struct consent_write *w)
{
    json_t *policies;
    cpm_err err = cpm_config_policies_cached(req->app->store, &policies);
    if (err != CPM_OK)
        return err;
    const json_t *policy = cpm_policy_select(policies, w->action.region, w->action.property);
    for (size_t i = 0; policy && i < w->action.count; i++) {
        struct cpm_consent_state *s = &w->states[i];
        struct cpm_consent_times t = {0};
        cpm_consent_policy_times(policy, s->status, s->decided_ms, &t);
        s->expires_ms = t.expires_ms;
        s->remind_ms = t.remind_ms;
        s->ask_again_ms = t.ask_again_ms;
    }
    json_decref(policies);
    return CPM_OK;
}

static cpm_err build_events(struct consent_write *w)
{
    const struct cpm_consent_action *a = &w->action;
    cpm_random_id(w->action_id, sizeof(w->action_id), "act_");
    for (size_t i = 0; i < a->count; i++) {
        struct cpm_event *e = &w->events[i];
        cpm_random_id(e->id, sizeof(e->id), "evt_");
        cpm_strlcpy(e->type, cpm_consent_event_type(a->decisions[i].decision), sizeof(e->type));
        cpm_strlcpy(e->subject_id, w->subject.id, sizeof(e->subject_id));
        cpm_strlcpy(e->purpose, a->decisions[i].purpose, sizeof(e->purpose));
        e->time_ms = w->now_ms;
        cpm_strlcpy(e->region, a->region ? a->region : "", sizeof(e->region)); /* for reports */
        e->sealed = w->sealed;
        e->sealed_len = w->sealed_len;
        struct cpm_consent_leaf_info info = {
            .event_id = e->id,
            .action_id = w->action_id,
            .subject_pseudonym = w->subject.pseudonym,
            .guardian_pseudonym = w->guardian_pseudonym[0] ? w->guardian_pseudonym : NULL,
            .context_sha256 = w->sealed ? w->context_sha256 : NULL,
            .time_ms = w->now_ms,
            .otp_verified_ms = w->otp_verified_ms,
        };
        e->leaf = cpm_consent_leaf(a, i, &info, &e->leaf_len);
        if (e->leaf == NULL)
            return CPM_ERR_NOMEM;
        struct cpm_consent_state *s = &w->states[i];
        memset(s, 0, sizeof(*s));
        cpm_strlcpy(s->subject_id, w->subject.id, sizeof(s->subject_id));
        cpm_strlcpy(s->purpose, a->decisions[i].purpose, sizeof(s->purpose));
        cpm_strlcpy(s->recipient, a->decisions[i].recipient ? a->decisions[i].recipient : "",
                    sizeof(s->recipient));
        cpm_strlcpy(s->status, a->decisions[i].decision, sizeof(s->status));
        cpm_strlcpy(s->notice, a->notice_id ? a->notice_id : "", sizeof(s->notice));
        s->notice_version = a->notice_id ? a->notice_version : 0;
        s->decided_ms = w->now_ms;
        s->by_guardian = a->actor != NULL && strcmp(a->actor, "guardian") == 0;
        s->seq = (int64_t)i + 1;
    }
    return CPM_OK;
}

/* On the writer thread, once seqs are known: the answer, kept for retries. */
static cpm_err finish(struct cpm_write_request *wr)
{
    struct consent_write *w = wr->ctx;
    json_t *events = json_array();
    for (size_t i = 0; events && i < w->action.count; i++) {
        const struct cpm_event *e = &w->events[i];
        json_array_append_new(events,
                              json_pack("{s:I, s:s, s:s, s:s, s:o}", "seq", (json_int_t)e->seq,
                                        "id", e->id, "type", e->type, "purpose", e->purpose, "time",
                                        cpm_api_time(e->time_ms)));
    }
    json_t *answer = json_pack("{s:s, s:s, s:o}", "subject", w->subject.id, "action", w->action_id,
                               "events", events);
    cpm_free(w->answer);
    w->answer = answer ? json_dumps(answer, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(answer);
    if (w->answer == NULL)
        return CPM_ERR_NOMEM;
    w->idempotency.response = w->answer;
    return CPM_OK;
}

/* Checks the action against configuration; answers and returns false on a fault. */
static bool admit(struct cpm_request *req, struct consent_write *w)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct cpm_store *store = req->app->store;
    const struct cpm_consent_action *a = &w->action;
    const json_t *version = NULL;
    struct cpm_consent_subject facts = {.age_status = w->subject.age_status};
    cpm_err err = find_guardian(req, w, &facts.guardian_linked);
    if (err == CPM_OK && a->notice_id)
        err = cpm_config_notice_version_cached(store, a->notice_id, a->notice_version, &version);
    if (err == CPM_OK || err == CPM_ERR_NOT_FOUND) {
        struct cpm_config_lookup lookup;
        struct cpm_config_cache cache;
        cpm_config_cache_init(&cache, store, &lookup);
        err = cpm_consent_check(a, &lookup, version, &facts, &detail);
        cpm_config_cache_release(&cache);
    }
    if (err != CPM_OK)
        cpm_respond_problem(req, err, &detail);
    return err == CPM_OK;
}

/* Whether the policy for the action asks a second factor and the action gives anything. */
static cpm_err needs_otp(struct cpm_request *req, const struct cpm_consent_action *a, bool *needed)
{
    json_t *policies;
    *needed = false;
    cpm_err err = cpm_config_policies_cached(req->app->store, &policies);
    if (err != CPM_OK)
        return err;
    const json_t *policy = cpm_policy_select(policies, a->region, a->property);
    for (size_t i = 0;
         policy && json_is_true(json_object_get(policy, "otp_required")) && i < a->count; i++)
        *needed = *needed || strcmp(a->decisions[i].decision, "given") == 0;
    json_decref(policies);
    return CPM_OK;
}

/*
 * A policy with otp_required: a consent given needs a verified, unused,
 * recent one-time code of the same subject and property, used up here
 * (before the write: a concurrent second use is a conflict). Refusals and
 * withdrawals need none. Answers and returns false when refused.
 */
static bool second_factor(struct cpm_request *req, struct consent_write *w)
{
    const struct cpm_consent_action *a = &w->action;
    struct cpm_store *store = req->app->store;
    struct cpm_otp_challenge c;
    bool needed = false;
    if (w->otp_verified_ms != 0) /* a retry of this request: used already, by it */
        return true;
    cpm_err err = needs_otp(req, a, &needed);
    if (err == CPM_OK && !needed)
        return true;
    /* the code proves who acts: the subject, or the guardian acting for them */
    const char *actor = strcmp(a->actor, "guardian") == 0 ? a->guardian_id : w->subject.id;
    const char *why = NULL;
    if (err == CPM_OK && a->otp_challenge == NULL)
        why = "this consent needs a verified one-time code (POST /v1/otp/challenges)";
    if (err == CPM_OK && why == NULL) {
        err = store->ops->otp_get(store, a->otp_challenge, &c);
        if (err == CPM_ERR_NOT_FOUND || (err == CPM_OK && (strcmp(c.subject_id, actor) != 0 ||
                                                           strcmp(c.property, a->property) != 0))) {
            err = CPM_OK;
            why = "is not a one-time code challenge of the person acting (the subject, or the"
                  " guardian acting for them) and this property";
        } else if (err == CPM_OK && c.verified_ms == 0)
            why = "was not verified (POST /v1/otp/challenges/{id}/verify)";
        else if (err == CPM_OK && c.used_ms != 0)
            why = "was used already: ask for a new code";
        else if (err == CPM_OK && w->now_ms - c.verified_ms > CPM_OTP_USE_WITHIN_MS)
            why = "was verified more than 10 minutes ago: ask for a new code";
    }
    if (err == CPM_OK && why == NULL) {
        err = store->ops->otp_use(store, a->otp_challenge, w->now_ms);
        if (err == CPM_ERR_CONFLICT) {
            cpm_respond_error(req, err, "otp.challenge",
                              "was used by another request meanwhile: ask for a new code");
            return false;
        }
    }
    if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "cannot check the one-time code");
    else if (why != NULL)
        cpm_respond_error(req, CPM_ERR_FORBIDDEN, a->otp_challenge ? "otp.challenge" : "otp", "%s",
                          why);
    else
        w->otp_verified_ms = c.verified_ms;
    return err == CPM_OK && why == NULL;
}

/* Replays a remembered answer; false when there is none (or answers a mismatch). */
static bool replayed(struct cpm_request *req, struct consent_write *w, bool *answered)
{
    struct cpm_idempotency *r = &w->idempotency;
    struct cpm_idempotency stored = {0};
    cpm_err err = req->app->store->ops->idempotency_get(req->app->store, r->scope, r->key, &stored);
    *answered = err != CPM_ERR_NOT_FOUND;
    if (err == CPM_OK && sodium_memcmp(stored.request_hash, r->request_hash, CPM_HASH_BYTES) != 0)
        cpm_respond_error(req, CPM_ERR_VALIDATION, "Idempotency-Key",
                          "was used before with a different body; use a new key");
    else if (err == CPM_OK) {
        cpm_respond_owned(req, stored.status, "application/json", stored.response,
                          strlen(stored.response));
        stored.response = NULL;
        cpm_respond_header(req, "Idempotent-Replayed", "true");
    } else if (*answered)
        cpm_respond_error(req, err, NULL, "cannot read the idempotency record");
    cpm_idempotency_release(&stored);
    return *answered;
}

/* Reads Idempotency-Key; false when it is malformed (answered). */
static bool read_idempotency(struct cpm_request *req, const char *subject_id,
                             struct consent_write *w)
{
    const char *key = cpm_request_header(req, "Idempotency-Key");
    if (key == NULL)
        return true;
    size_t n = strlen(key);
    bool ok = n > 0 && n <= CPM_IDEMPOTENCY_KEY_BYTES_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = key[i] > ' ' && key[i] <= '~';
    if (!ok) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "Idempotency-Key",
                          "must be 1–%d printable ASCII characters", CPM_IDEMPOTENCY_KEY_BYTES_MAX);
        return false;
    }
    struct cpm_idempotency *r = &w->idempotency;
    snprintf(r->scope, sizeof(r->scope), "%s|%s", req->key.id, subject_id);
    cpm_strlcpy(r->key, key, sizeof(r->key));
    crypto_hash_sha256(r->request_hash, (const unsigned char *)req->body, req->body_len);
    r->status = 201;
    r->created_ms = w->now_ms;
    w->with_idempotency = true;
    return true;
}

/* Answers the outcome of a commit (or of a failure before it). */
static void answer(struct cpm_request *req, const char *id, struct consent_write *w, cpm_err err)
{
    if (err == CPM_ERR_CONFLICT && w->with_idempotency)
        cpm_respond_error(req, err, "Idempotency-Key",
                          "a request with this key is being recorded; retry to get its answer");
    else if (err == CPM_ERR_TAMPERED)
        cpm_respond_error(req, err, NULL, "writes are refused: %s",
                          cpm_writer_refusal(req->app->writer));
    else if (err == CPM_ERR_CONFLICT)
        cpm_respond_error(req, err, NULL,
                          "subject '%s' was created or erased by another request meanwhile; retry",
                          id);
    else if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "the consent could not be recorded");
    else {
        cpm_respond_owned(req, 201, "application/json", w->answer, strlen(w->answer));
        w->answer = NULL;
    }
}

/*
 * On the writer thread, once the batch holding this action committed or
 * failed. A new subject that another request created meanwhile conflicts:
 * the handler runs once more, with the stored subject.
 */
static void committed(struct cpm_write_request *wr)
{
    struct consent_write *w = wr->ctx;
    struct cpm_request *req = w->req;
    if (wr->result == CPM_ERR_CONFLICT && w->subject_is_new && !w->retried) {
        w->retried = true;
        cpm_request_resume(req); /* without an answer: the handler retries */
        return;
    }
    answer(req, w->subject_id, w, wr->result);
    cpm_request_resume(req);
}

/* Builds the events and hands them to the writer; the answer comes in committed(). */
static void record(struct cpm_request *req, const char *id, struct consent_write *w)
{
    cpm_err err = load_subject(req, id, w);
    if (err == CPM_ERR_CONFLICT) {
        cpm_respond_error(req, err, NULL, "subject '%s' was erased", id);
        return;
    }
    if (err == CPM_OK && (!admit(req, w) || !second_factor(req, w)))
        return;
    if (err == CPM_OK)
        err = seal_context(w);
    if (err == CPM_OK)
        err = build_events(w);
    if (err == CPM_OK)
        err = apply_policy(req, w);
    if (err != CPM_OK) {
        answer(req, id, w, err);
        return;
    }
    w->write = (struct cpm_write_request){
        .subject = w->subject_is_new ? &w->subject : NULL,
        .events = w->events,
        .event_count = w->action.count,
        .states = w->states,
        .state_count = w->action.count,
        .idempotency = w->with_idempotency ? &w->idempotency : NULL,
        .finish = finish,
        .on_done = committed,
        .ctx = w,
    };
    w->req = req;
    cpm_request_suspend(req);
    err = cpm_writer_submit_async(req->app->writer, &w->write);
    if (err != CPM_OK) {
        answer(req, id, w, err);
        cpm_request_resume(req);
    }
}

/* A guardian's token on a ward's subject acts as that guardian unless the body says who. */
static cpm_err act_for_ward(struct cpm_request *req, json_t *body)
{
    if (!req->acting_guardian[0] || json_object_get(body, "actor") != NULL)
        return CPM_OK;
    json_t *actor =
        json_pack("{s:s, s:s}", "type", "guardian", "guardian_id", req->acting_guardian);
    return actor != NULL && json_object_set_new(body, "actor", actor) == 0 ? CPM_OK : CPM_ERR_NOMEM;
}

/*
 * With an end-user token the property is the token's, and the actor is its
 * holder: themselves on `me`, the guardian they are on a ward's subject.
 */
static cpm_err end_user_action(struct cpm_request *req, const struct cpm_consent_action *a,
                               struct cpm_detail *detail)
{
    if (strcmp(a->property, req->end_user_property) != 0)
        cpm_detail_add(detail, "property", "must be '%s', the property the token is for",
                       req->end_user_property);
    bool guardian = strcmp(a->actor, "guardian") == 0;
    if (req->acting_guardian[0] && (!guardian || strcmp(a->guardian_id, req->acting_guardian) != 0))
        cpm_detail_add(detail, "actor",
                       "on a ward's subject the actor is the guardian holding the token");
    else if (!req->acting_guardian[0] && guardian)
        cpm_detail_add(detail, "actor.type",
                       "with a person's own token the actor is that person: 'self'");
    return detail->count > 0 ? CPM_ERR_VALIDATION : CPM_OK;
}

/* The first call: checks, parses body (taken), and keeps the state in req->pending. */
static struct consent_write *start(struct cpm_request *req, const char *id, json_t *body)
{
    struct consent_write *w = cpm_calloc(1, sizeof(*w));
    if (w == NULL) {
        json_decref(body);
        cpm_respond_error(req, CPM_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    req->pending = w;
    req->pending_free = consent_write_free;
    w->body = body;
    w->now_ms = cpm_clock_now_ms();
    cpm_strlcpy(w->subject_id, id, sizeof(w->subject_id));
    bool answered = false;
    if (!read_idempotency(req, id, w) || (w->with_idempotency && replayed(req, w, &answered)))
        return NULL;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    cpm_err err = act_for_ward(req, w->body);
    if (err == CPM_OK)
        err = cpm_consent_parse(w->body, &w->action, &detail);
    if (err == CPM_OK && req->end_user_property[0])
        err = end_user_action(req, &w->action, &detail);
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
        return NULL;
    }
    w->events = cpm_calloc(w->action.count, sizeof(*w->events));
    w->states = cpm_calloc(w->action.count, sizeof(*w->states));
    if (w->events == NULL || w->states == NULL) {
        cpm_respond_error(req, CPM_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    return w;
}

void cpm_api_consents_record_action(struct cpm_request *req, const char *id, json_t *body)
{
    struct consent_write *w = req->pending;
    if (w != NULL) { /* resumed to retry with the subject another request created */
        json_decref(body);
        consent_write_reset(w);
        record(req, w->subject_id, w);
        return;
    }
    if ((w = start(req, id, body)) != NULL)
        record(req, id, w);
}

void cpm_api_consents_record(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    if (req->pending != NULL) {
        cpm_api_consents_record_action(req, id, NULL);
        return;
    }
    json_t *body = NULL;
    if (cpm_api_subject_id_checked(req, id) && (body = cpm_request_json_object(req)) != NULL)
        cpm_api_consents_record_action(req, id, body);
}

static cpm_err state_visit(void *ctx, const struct cpm_consent_state *s)
{
    json_t *item =
        json_pack("{s:s, s:s, s:I, s:o, s:o}", "purpose", s->purpose, "status", s->status,
                  "deciding_event", (json_int_t)s->seq, "decided_at", cpm_api_time(s->decided_ms),
                  "expires_at", cpm_api_time(s->expires_ms));
    if (item && s->ask_again_ms)
        json_object_set_new(item, "ask_again_at", cpm_api_time(s->ask_again_ms));
    if (item && s->notice[0])
        json_object_set_new(
            item, "notice",
            json_pack("{s:s, s:I}", "id", s->notice, "version", (json_int_t)s->notice_version));
    if (item && s->recipient[0])
        json_object_set_new(item, "recipient", json_string(s->recipient));
    return item && json_array_append_new(ctx, item) == 0 ? CPM_OK : CPM_ERR_NOMEM;
}

void cpm_api_consents_list(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    if (!cpm_api_subject_id_checked(req, id))
        return;
    struct cpm_subject subject;
    struct cpm_store *store = req->app->store;
    cpm_err err = store->ops->subject_get(store, id, &subject);
    json_t *items = json_array();
    if (err == CPM_OK)
        err = items ? store->ops->consent_state_list(store, id, state_visit, items) : CPM_ERR_NOMEM;
    if (err == CPM_ERR_NOT_FOUND) {
        cpm_respond_error(req, err, NULL, "no consent was ever recorded for subject '%s'", id);
    } else if (err != CPM_OK) {
        cpm_respond_error(req, err, NULL, "cannot read the consents");
    } else {
        cpm_respond_json(req, 200, json_pack("{s:s, s:O}", "subject", id, "consents", items));
    }
    json_decref(items);
}
