/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preferences.c — GET, PUT and PATCH /v1/subjects/{id}/preferences: how a
 * person wants to be contacted (channels, topics, windows, caps, language,
 * personalisation). Every change is a `preferences.changed` ledger event
 * whose leaf holds the whole new document under the subject's pseudonym;
 * the index learns it in the same commit. Rules: docs/PREFERENCES.md.
 */
#include "core/common.h"

#include <sodium.h>

#include "api/api.h"
#include "api/subject_keys.h"
#include "api/support.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/json.h"
#include "crypto/random_id.h"
#include "domain/preferences.h"
#include "http/app.h"
#include "store/config_writer.h"
#include "store/writer.h"

#define WRITE_ATTEMPTS 2 /* once more when the subject was created meanwhile */

static void respond_preferences(struct cpm_request *req, const char *id, json_t *doc, int64_t seq,
                                int64_t updated_ms)
{
    cpm_respond_json(req, 200,
                     json_pack("{s:s, s:o, s:o, s:o}", "subject", id, "preferences", doc, "seq",
                               seq ? json_integer(seq) : json_null(), "updated_at",
                               cpm_api_time(updated_ms)));
}

/* The stored document (a new empty one when none was set); false when answered. */
static bool stored(struct cpm_request *req, const char *id, json_t **doc, int64_t *seq,
                   int64_t *updated_ms)
{
    char *text = NULL;
    *seq = *updated_ms = 0;
    cpm_err err =
        req->app->store->ops->preferences_get(req->app->store, id, &text, seq, updated_ms);
    if (err == CPM_ERR_NOT_FOUND) {
        *doc = json_object();
        return *doc != NULL || (cpm_respond_problem(req, CPM_ERR_NOMEM, NULL), false);
    }
    if (err != CPM_OK) {
        cpm_api_respond_store_error(req, err, "preferences of subject", id);
        return false;
    }
    *doc = json_loads(text, 0, NULL);
    cpm_free(text);
    if (*doc == NULL)
        cpm_respond_error(req, CPM_ERR_STORE, NULL, "the stored preferences are unreadable");
    return *doc != NULL;
}

void cpm_api_preferences_get(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    struct cpm_subject subject;
    if (!cpm_api_subject_id_checked(req, id))
        return;
    cpm_err err = req->app->store->ops->subject_get(req->app->store, id, &subject);
    if (err != CPM_OK) {
        cpm_api_respond_store_error(req, err, "subject", id);
        return;
    }
    if (subject.erased_ms != 0) {
        cpm_respond_error(req, CPM_ERR_CONFLICT, NULL, "subject '%s' was erased", id);
        return;
    }
    json_t *doc;
    int64_t seq, updated_ms;
    if (stored(req, id, &doc, &seq, &updated_ms))
        respond_preferences(req, id, doc, seq, updated_ms);
}

/* One attempt at recording doc (valid) for subject id. */
static cpm_err record_once(struct cpm_request *req, const char *id, const json_t *doc,
                           const struct cpm_preferences *compiled, int64_t *seq, int64_t *now_ms)
{
    struct cpm_subject subject;
    uint8_t data_key[CPM_DATA_KEY_BYTES];
    bool is_new;
    *now_ms = cpm_clock_now_ms();
    cpm_err err = cpm_api_subject_load(req->app, id, *now_ms, &subject, &is_new, data_key);
    sodium_memzero(data_key, sizeof(data_key));
    if (err != CPM_OK)
        return err;
    struct cpm_event e = {.time_ms = *now_ms};
    cpm_random_id(e.id, sizeof(e.id), "evt_");
    cpm_strlcpy(e.type, CPM_EVENT_PREFERENCES_CHANGED, sizeof(e.type));
    cpm_strlcpy(e.subject_id, id, sizeof(e.subject_id));
    char guardian[CPM_PSEUDONYM_BYTES];
    if (req->acting_guardian[0])
        cpm_subject_pseudonym(req->app->keyring, req->acting_guardian, guardian);
    e.leaf =
        cpm_preferences_leaf(e.id, subject.pseudonym, req->acting_guardian[0] ? guardian : NULL,
                             *now_ms, doc, &e.leaf_len);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    struct cpm_preferences_row row = {
        .doc = text, .seq = 1, .updated_ms = *now_ms, .compiled = compiled};
    cpm_strlcpy(row.subject_id, id, sizeof(row.subject_id));
    struct cpm_write_request wr = {
        .subject = is_new ? &subject : NULL, .events = &e, .event_count = 1, .preferences = &row};
    err = e.leaf != NULL && text != NULL ? cpm_writer_submit(req->app->writer, &wr) : CPM_ERR_NOMEM;
    *seq = e.seq;
    cpm_free(e.leaf);
    cpm_free(text);
    return err;
}

static void record(struct cpm_request *req, const char *id, json_t *doc)
{
    struct cpm_detail detail;
    struct cpm_config_cache cache;
    struct cpm_config_lookup lookup;
    struct cpm_preferences compiled;
    cpm_detail_init(&detail);
    cpm_config_cache_init(&cache, req->app->store, &lookup);
    cpm_err err = cpm_preferences_validate(doc, &lookup, &detail);
    cpm_config_cache_release(&cache);
    if (err != CPM_OK) {
        cpm_respond_problem(req, err, &detail);
        return;
    }
    cpm_preferences_compile(doc, &compiled);
    int64_t seq = 0, now_ms = 0;
    for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        err = record_once(req, id, doc, &compiled, &seq, &now_ms);
        if (err != CPM_ERR_CONFLICT)
            break;
    }
    if (err == CPM_ERR_CONFLICT)
        cpm_respond_error(req, err, NULL, "subject '%s' was erased or changed meanwhile", id);
    else if (err == CPM_ERR_TAMPERED)
        cpm_respond_error(req, err, NULL, "writes are refused: %s",
                          cpm_writer_refusal(req->app->writer));
    else if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "the preferences of '%s' could not be recorded", id);
    else
        respond_preferences(req, id, json_incref(doc), seq, now_ms);
}

void cpm_api_preferences_put(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    if (!cpm_api_subject_id_checked(req, id))
        return;
    json_t *body = cpm_request_json_object(req);
    if (body == NULL)
        return;
    record(req, id, body);
    json_decref(body);
}

void cpm_api_preferences_patch(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    if (!cpm_api_subject_id_checked(req, id))
        return;
    json_t *patch = cpm_request_json_object(req), *doc = NULL;
    int64_t seq, updated_ms;
    if (patch == NULL)
        return;
    struct cpm_subject subject;
    cpm_err err = req->app->store->ops->subject_get(req->app->store, id, &subject);
    if (err != CPM_OK && err != CPM_ERR_NOT_FOUND)
        cpm_api_respond_store_error(req, err, "subject", id);
    else if (err == CPM_ERR_NOT_FOUND ? (doc = json_object()) != NULL
                                      : stored(req, id, &doc, &seq, &updated_ms)) {
        if (cpm_json_merge_patch(&doc, patch) != CPM_OK)
            cpm_respond_problem(req, CPM_ERR_NOMEM, NULL);
        else
            record(req, id, doc);
    }
    json_decref(doc);
    json_decref(patch);
}
