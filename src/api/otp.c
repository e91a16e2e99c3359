/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otp.c — one-time codes, the second factor a policy with `otp_required`
 * asks before a consent counts (the financial case):
 *
 *   POST /v1/otp/challenges              send a code to the subject's phone
 *   POST /v1/otp/challenges/{id}/verify  check the code the person typed
 *
 * The caller is the person (their end-user token: its subject and
 * property) or the company's back end (an API key with consents:write,
 * naming subject and property). The routes are PUBLIC in the table because
 * the token is not bound to a /subjects/me path; each handler
 * authenticates itself (cpm_api_authenticate).
 *
 * A code is 6 random digits sent through the property's otp_destination
 * (an sms_gateway, src/sync/sms_send.c) and stored only as its keyed hash;
 * it can be verified for 5 minutes, with 5 tries. At most 5 codes per
 * subject and 20 per caller IP address in an hour. The consent action
 * then names the verified challenge (src/api/consents.c), which is used
 * once. The code is never answered, logged or recorded.
 */
#include "core/common.h"

#include <sodium.h>

#include "api/api.h"
#include "api/support.h"
#include "core/clock.h"
#include "crypto/config_secrets.h"
#include "crypto/keyring.h"
#include "crypto/random_id.h"
#include "domain/subject.h"
#include "http/app.h"
#include "http/rate_limit.h"
#include "http/auth.h"
#include "http/end_user.h"
#include "store/config_writer.h"
#include "sync/identifier.h"
#include "sync/sms_send.h"

#define CODE_DIGITS 6
#define PHONE_BYTES 32
#define IP_BYTES    64

/* Who asks, about whom: filled from the token, or from the body with an API key. */
struct caller {
    bool end_user;
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    char property[CPM_ID_BYTES_MAX + 1];
};

/* Authenticates the caller; false when answered. */
static bool authenticate(struct cpm_request *req, struct caller *c)
{
    struct cpm_end_user user;
    c->end_user = cpm_end_user_bearer(cpm_request_header(req, "Authorization"));
    if (!cpm_api_authenticate(req, c->end_user, CPM_SCOPE_CONSENTS_WRITE, &user,
                              "one-time codes need the person's end-user token or an API key"
                              " with consents:write"))
        return false;
    const char *origin = cpm_request_origin(req); /* checked with the token */
    if (c->end_user) {
        req->cors_origin = origin;
        cpm_strlcpy(c->subject_id, user.subject_id, sizeof(c->subject_id));
        cpm_strlcpy(c->property, user.property, sizeof(c->property));
    }
    return true;
}

/*
 * The body of a new challenge: {subject, property}, required with an API
 * key; with a token optional, and then the token's own ("me" for subject).
 */
static bool read_target(struct cpm_request *req, const json_t *body, struct caller *c)
{
    struct cpm_detail d;
    cpm_detail_init(&d);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)body, key,
                        value) if (strcmp(key, "subject") != 0 && strcmp(key, "property") != 0)
        cpm_detail_add(&d, key, "unknown field");
    const json_t *subject = json_object_get(body, "subject");
    const json_t *property = json_object_get(body, "property");
    const char *s = json_string_value(subject), *p = json_string_value(property);
    if (subject != NULL && (s == NULL || !cpm_subject_id_valid(s)))
        cpm_detail_add(&d, "subject", "must be a subject id (1–128 printable ASCII, no space)");
    else if (s == NULL && !c->end_user)
        cpm_detail_add(&d, "subject", "is required: whose phone gets the code");
    else if (s != NULL && c->end_user && strcmp(s, CPM_SUBJECT_ME) != 0 &&
             strcmp(s, c->subject_id) != 0)
        cpm_detail_add(&d, "subject", "must be 'me' (or left out) with an end-user token");
    if (property != NULL && (p == NULL || !cpm_config_id_valid(p)))
        cpm_detail_add(&d, "property", "must be a property id");
    else if (p == NULL && !c->end_user)
        cpm_detail_add(&d, "property", "is required: whose otp_destination sends the code");
    else if (p != NULL && c->end_user && strcmp(p, c->property) != 0)
        cpm_detail_add(&d, "property", "must be '%s', the property the token is for", c->property);
    if (d.count > 0) {
        cpm_respond_problem(req, CPM_ERR_VALIDATION, &d);
        return false;
    }
    if (!c->end_user) {
        cpm_strlcpy(c->subject_id, s, sizeof(c->subject_id));
        cpm_strlcpy(c->property, p, sizeof(c->property));
    }
    return true;
}

/* The property's SMS destination, its secret opened; false when answered. */
static bool load_destination(struct cpm_request *req, const char *property, json_t **dest)
{
    struct cpm_store *store = req->app->store;
    json_t *doc = NULL;
    int64_t revision;
    cpm_err err = cpm_config_read(store, CPM_DOC_PROPERTY, property, &doc, &revision);
    const char *id = json_string_value(json_object_get(doc, "otp_destination"));
    if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, CPM_ERR_VALIDATION, "property", "unknown property '%s'", property);
    else if (err == CPM_OK && id == NULL)
        cpm_respond_error(req, CPM_ERR_VALIDATION, "property",
                          "property '%s' sends no one-time codes (no otp_destination)", property);
    if (err != CPM_OK || id == NULL) {
        if (err != CPM_OK && err != CPM_ERR_NOT_FOUND)
            cpm_respond_error(req, err, NULL, "cannot read the property");
        json_decref(doc);
        return false;
    }
    err = cpm_config_read(store, CPM_DOC_DESTINATION, id, dest, &revision);
    const char *kind = json_string_value(json_object_get(*dest, "kind"));
    if (err == CPM_OK && (kind == NULL || strcmp(kind, "sms_gateway") != 0))
        err = CPM_ERR_NOT_FOUND; /* deleted and reused meanwhile */
    if (err == CPM_OK)
        err = cpm_config_secrets_open(CPM_DOC_DESTINATION, *dest, req->app->keyring);
    if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, CPM_ERR_VALIDATION, "property",
                          "the otp_destination '%s' of property '%s' is not an sms_gateway"
                          " destination any more",
                          id, property);
    else if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "cannot open the SMS destination");
    json_decref(doc);
    if (err != CPM_OK) {
        json_decref(*dest);
        *dest = NULL;
    }
    return err == CPM_OK;
}

/* False (answered 429) when the subject or the IP asked for too many codes this hour. */
static bool within_limits(struct cpm_request *req, const struct cpm_otp_challenge *c)
{
    struct cpm_store *store = req->app->store;
    int64_t since = c->created_ms - CPM_OTP_LIMIT_WINDOW_MS, by_subject = 0, by_ip = 0;
    cpm_err err = store->ops->otp_count_since(store, c->subject_id, NULL, since, &by_subject);
    if (err == CPM_OK && c->has_ip_hash)
        err = store->ops->otp_count_since(store, NULL, c->ip_hash, since, &by_ip);
    if (err != CPM_OK) {
        cpm_respond_error(req, err, NULL, "cannot count the codes sent");
        return false;
    }
    /*
     * The stored count sees only codes already sent; requests racing in
     * parallel would all pass it. A bucket in memory takes each one at once.
     */
    int64_t wait_ms = 0, now = cpm_clock_monotonic_ns() / 1000000;
    bool burst_ok = cpm_rate_limit_take(
        cpm_rate_limit_key("otp", c->subject_id), now, CPM_OTP_CHALLENGES_SUBJECT_MAX,
        CPM_OTP_LIMIT_WINDOW_MS / CPM_OTP_CHALLENGES_SUBJECT_MAX, &wait_ms);
    if (by_subject < CPM_OTP_CHALLENGES_SUBJECT_MAX && by_ip < CPM_OTP_CHALLENGES_IP_MAX &&
        burst_ok)
        return true;
    bool person = by_subject >= CPM_OTP_CHALLENGES_SUBJECT_MAX || !burst_ok;
    char message[96];
    snprintf(message, sizeof(message), "at most %d codes per %s in an hour: retry later",
             person ? CPM_OTP_CHALLENGES_SUBJECT_MAX : CPM_OTP_CHALLENGES_IP_MAX,
             person ? "person" : "caller address");
    cpm_api_respond_rate_limited(req, CPM_OTP_LIMIT_WINDOW_MS, message); /* at the latest */
    return false;
}

/* Sends the code, then stores the challenge; answers either way. */
static void send_and_store(struct cpm_request *req, struct cpm_otp_challenge *c, const json_t *dest,
                           const char *phone)
{
    char code[CODE_DIGITS + 1], masked[24];
    struct cpm_detail d;
    cpm_detail_init(&d);
    snprintf(code, sizeof(code), "%06u", (unsigned)randombytes_uniform(1000000));
    cpm_keyring_otp_hash(req->app->keyring, c->id, code, c->code_hash);
    /* sent first: a code that could not be sent is never stored, so never verifiable */
    cpm_err err = cpm_sms_send_otp(req->app->guard, dest, phone, code, c->id, &d);
    sodium_memzero(code, sizeof(code));
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &d); /* 503 unavailable: ask again later */
        return;
    }
    err = req->app->store->ops->otp_insert(req->app->store, c);
    if (err != CPM_OK) {
        cpm_respond_error(req, err, NULL, "the code was sent but could not be recorded; ask again");
        return;
    }
    cpm_phone_mask(phone, masked, sizeof(masked));
    cpm_respond_json(req, 201,
                     json_pack("{s:s, s:o, s:s}", "id", c->id, "expires_at",
                               cpm_api_time(c->expires_ms), "sent_to", masked));
}

void cpm_api_otp_challenges_create(struct cpm_request *req)
{
    struct caller who = {0};
    struct cpm_otp_challenge c = {0};
    char phone[PHONE_BYTES], ip[IP_BYTES];
    json_t *dest = NULL, *body = NULL;
    if (!authenticate(req, &who) || (body = cpm_request_json_object(req)) == NULL)
        return;
    if (!read_target(req, body, &who) || !load_destination(req, who.property, &dest))
        goto out;
    cpm_err err = cpm_subject_identifier_open(req->app->store, req->app->keyring, who.subject_id,
                                              "phone", phone, sizeof(phone));
    if (err == CPM_ERR_NOT_FOUND) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "subject",
                          "subject '%s' has no phone identifier to send a code to", who.subject_id);
        goto out;
    }
    if (err != CPM_OK) {
        cpm_respond_error(req, err, NULL, "cannot read the subject's phone");
        goto out;
    }
    cpm_random_id(c.id, sizeof(c.id), "otp_");
    cpm_strlcpy(c.subject_id, who.subject_id, sizeof(c.subject_id));
    cpm_strlcpy(c.property, who.property, sizeof(c.property));
    c.created_ms = cpm_clock_now_ms();
    c.expires_ms = c.created_ms + CPM_OTP_TTL_MS;
    cpm_request_client_ip(req, ip, sizeof(ip));
    c.has_ip_hash = ip[0] != '\0';
    if (c.has_ip_hash)
        cpm_keyring_otp_hash(req->app->keyring, "ip", ip, c.ip_hash);
    if (within_limits(req, &c))
        send_and_store(req, &c, dest, phone);
    sodium_memzero(phone, sizeof(phone));
out:
    json_decref(dest);
    json_decref(body);
}

/* Answers a wrong or unusable code: 422 with how many tries are left. */
static void refuse_code(struct cpm_request *req, int attempts_left, const char *why)
{
    struct cpm_detail d;
    cpm_detail_init(&d);
    cpm_detail_add(&d, "code", "%s", why);
    cpm_respond_problem_with(req, CPM_ERR_VALIDATION, &d,
                             json_pack("{s:i}", "attempts_left", attempts_left));
}

/* The code typed: CODE_DIGITS digits; NULL (answered) otherwise. */
static const char *read_code(struct cpm_request *req, const json_t *body)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)body, key, value) if (strcmp(key, "code") != 0)
    {
        cpm_respond_error(req, CPM_ERR_VALIDATION, key, "unknown field");
        return NULL;
    }
    const char *code = json_string_value(json_object_get(body, "code"));
    bool ok = code != NULL && strlen(code) == CODE_DIGITS;
    for (size_t i = 0; ok && i < CODE_DIGITS; i++)
        ok = code[i] >= '0' && code[i] <= '9';
    if (!ok)
        cpm_respond_error(req, CPM_ERR_VALIDATION, "code", "is required: the %d digits sent",
                          CODE_DIGITS);
    return ok ? code : NULL;
}

void cpm_api_otp_challenges_verify(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    struct caller who = {0};
    struct cpm_otp_challenge c;
    struct cpm_store *store = req->app->store;
    json_t *body = NULL;
    const char *code;
    if (!authenticate(req, &who) || (body = cpm_request_json_object(req)) == NULL ||
        (code = read_code(req, body)) == NULL)
        goto out;
    cpm_err err =
        strlen(id) < CPM_OTP_ID_BYTES ? store->ops->otp_get(store, id, &c) : CPM_ERR_NOT_FOUND;
    if (err == CPM_OK && who.end_user &&
        (strcmp(c.subject_id, who.subject_id) != 0 || strcmp(c.property, who.property) != 0))
        err = CPM_ERR_NOT_FOUND; /* another person's: not to be probed */
    if (err != CPM_OK) {
        cpm_api_respond_store_error(req, err, "one-time code challenge", id);
        goto out;
    }
    int64_t now = cpm_clock_now_ms();
    if (c.used_ms != 0) {
        refuse_code(req, 0, "this challenge was used already; ask for a new code");
        goto out;
    }
    if (c.attempts >= CPM_OTP_ATTEMPTS_MAX) {
        refuse_code(req, 0, "too many wrong codes: the challenge is dead; ask for a new code");
        goto out;
    }
    if (now >= c.expires_ms) {
        refuse_code(req, 0, "expired: ask for a new code");
        goto out;
    }
    uint8_t hash[CPM_HASH_BYTES];
    cpm_keyring_otp_hash(req->app->keyring, c.id, code, hash);
    bool right = sodium_memcmp(hash, c.code_hash, sizeof(hash)) == 0;
    err = store->ops->otp_attempt(store, c.id, CPM_OTP_ATTEMPTS_MAX, right ? now : 0);
    int left = CPM_OTP_ATTEMPTS_MAX - c.attempts - 1;
    if (err == CPM_ERR_CONFLICT || (err == CPM_OK && !right && left <= 0))
        refuse_code(req, 0,
                    "wrong code, and too many of them: the challenge is dead; ask for a new code");
    else if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "cannot record the attempt");
    else if (!right)
        refuse_code(req, left, "wrong code");
    else
        cpm_respond_json(req, 200, json_pack("{s:s, s:b}", "id", c.id, "verified", true));
out:
    json_decref(body);
}
