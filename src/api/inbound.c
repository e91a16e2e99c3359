/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inbound.c — opt-outs that start downstream. POST /v1/inbound/sms: an SMS
 * gateway forwards a person's reply (an MO message); "TD", "T", "N", "R",
 * "退订" in any spelling withdraws SMS marketing for the subject whose
 * phone it came from, as a consent action of method sms_reply, and the
 * dispatcher then stops every other system too. PIPL Art. 15: withdrawing
 * is as easy as consenting; MIIT rules require SMS marketing to honour a
 * reply opt-out.
 */
#include "core/common.h"

#include "api/api.h"
#include "api/support.h"
#include "crypto/keyring.h"
#include "domain/schema.h"
#include "domain/sms_reply.h"
#include "http/app.h"
#include "store/config_writer.h"

#define SMS_PURPOSE "marketing.sms" /* and marketing.sms.*, when no sms channel document says */

static const struct cpm__schema_field fields[] = {
    {.name = "from", .type = CPM__SCHEMA_STRING, .required = true, .bytes_min = 1, .bytes_max = 32},
    {.name = "text",
     .type = CPM__SCHEMA_STRING,
     .required = true,
     .bytes_max = CPM_SMS_TEXT_BYTES_MAX},
    {.name = "property", .type = CPM__SCHEMA_SLUG, .required = true},
    {.name = "received_at", .type = CPM__SCHEMA_STRING, .bytes_max = 40},
    {.name = "message_id", .type = CPM__SCHEMA_STRING, .bytes_max = 128},
};
static const struct cpm__schema schema = CPM__SCHEMA(fields, NULL);

/* The purposes SMS marketing rests on: the sms channel document's, else marketing.sms(.*). */
static bool sms_purpose(const json_t *channel, const char *purpose)
{
    const json_t *listed = json_object_get(channel, "purposes");
    size_t i;
    const json_t *p;
    if (json_array_size(listed) > 0) {
        json_array_foreach(listed, i,
                           p) if (strcmp(json_string_value(p), purpose) == 0) return true;
        return false;
    }
    size_t n = strlen(SMS_PURPOSE);
    return strncmp(purpose, SMS_PURPOSE, n) == 0 && (purpose[n] == '\0' || purpose[n] == '.');
}

struct given_ctx {
    const json_t *channel;
    json_t *decisions;
};

static cpm_err given_visit(void *ctx, const struct cpm_consent_state *s)
{
    struct given_ctx *g = ctx;
    if (strcmp(s->status, "given") != 0 || !sms_purpose(g->channel, s->purpose))
        return CPM_OK;
    json_t *d = json_pack("{s:s, s:s}", "purpose", s->purpose, "decision", "withdrawn");
    if (d != NULL && s->recipient[0])
        json_object_set_new(d, "recipient", json_string(s->recipient));
    return d && json_array_append_new(g->decisions, d) == 0 ? CPM_OK : CPM_ERR_NOMEM;
}

/* Whose phone it is; false when answered (no such number, or a bad one). */
static bool find_subject(struct cpm_request *req, const char *from,
                         char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1])
{
    char normalised[CPM_IDENTIFIER_BYTES_MAX];
    uint8_t hash[CPM_IDENTIFIER_HASH_BYTES];
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    if (cpm_identifier_normalise("phone", from, normalised, sizeof(normalised), &detail) !=
        CPM_OK) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "from", "is not a phone number");
        return false;
    }
    cpm_identifier_hash(req->app->keyring, "phone", normalised, hash);
    struct cpm_store *store = req->app->store;
    cpm_err err = store->ops->identity_find(store, "phone", hash, subject_id);
    if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_json(req, 200,
                         json_pack("{s:s, s:s}", "action", "none", "reason",
                                   "no subject has this phone number"));
    else if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "cannot look the number up");
    return err == CPM_OK;
}

/* The consent action withdrawing every given SMS marketing consent; NULL when answered. */
static json_t *withdrawal(struct cpm_request *req, const char *subject_id, const json_t *body)
{
    json_t *channel = NULL;
    int64_t revision;
    cpm_err err = cpm_config_read(req->app->store, CPM_DOC_CHANNEL, "sms", &channel, &revision);
    struct given_ctx g = {.channel = channel, .decisions = json_array()};
    if (err == CPM_ERR_NOT_FOUND)
        err = CPM_OK;
    if (err == CPM_OK)
        err = g.decisions ? req->app->store->ops->consent_state_list(req->app->store, subject_id,
                                                                     given_visit, &g)
                          : CPM_ERR_NOMEM;
    json_decref(channel);
    if (err != CPM_OK || json_array_size(g.decisions) == 0) {
        json_decref(g.decisions);
        if (err != CPM_OK)
            cpm_respond_error(req, err, NULL, "cannot read the subject's consents");
        else
            cpm_respond_json(req, 200,
                             json_pack("{s:s, s:s, s:s}", "action", "none", "subject", subject_id,
                                       "reason", "no given SMS marketing consent to withdraw"));
        return NULL;
    }
    return json_pack("{s:O, s:s, s:s, s:s, s:o}", "property", json_object_get(body, "property"),
                     "channel", "sms", "locale", "zh-Hans", "method", "sms_reply", "decisions",
                     g.decisions);
}

void cpm_api_inbound_sms(struct cpm_request *req)
{
    char subject_id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    if (req->pending != NULL) { /* resumed: the consent write goes on */
        cpm_api_consents_record_action(req, "", NULL);
        return;
    }
    json_t *body = cpm_request_json_object(req), *action = NULL;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    if (body == NULL)
        return;
    if (cpm__schema_validate(&schema, body, "", &detail) != CPM_OK) {
        cpm_respond_problem(req, CPM_ERR_VALIDATION, &detail);
        goto out;
    }
    if (!cpm_sms_reply_is_opt_out(json_string_value(json_object_get(body, "text")))) {
        cpm_respond_json(
            req, 200,
            json_pack("{s:s, s:s}", "action", "none", "reason", "the message is not an opt-out"));
        goto out;
    }
    if (find_subject(req, json_string_value(json_object_get(body, "from")), subject_id) &&
        (action = withdrawal(req, subject_id, body)) != NULL)
        cpm_api_consents_record_action(req, subject_id, action);
out:
    json_decref(body);
}
