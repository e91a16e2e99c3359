/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evidence.c — GET /v1/subjects/{id}/evidence: a self-contained proof
 * bundle anyone can check offline (`cpm verify BUNDLE --key VKEY`): the
 * subject's events as exact leaf texts, an inclusion proof of each in the
 * tree of the latest signed checkpoint, that checkpoint, the verifier key,
 * and the full texts of the notice versions the events refer to, so their
 * SHA-256 can be recomputed. Events newer than the checkpoint are counted
 * as pending; they are provable a second later.
 */
#include "core/common.h"

#include <sodium.h>

#include "api/api.h"
#include "api/support.h"
#include "http/app.h"
#include "ledger/merkle.h"
#include "store/node_cache.h"

#define EVIDENCE_PAGE 200

struct bundle {
    struct cpm_store *store;
    struct cpm_node_cache *nodes;
    uint64_t tree_size;
    json_t *events;
    json_t *notices; /* "id@version" → null, filled at the end */
    int64_t pending;
};

static json_t *proof_json(struct cpm_node_cache *nodes, int64_t seq, uint64_t size)
{
    uint8_t path[CPM_MERKLE_PATH_MAX][32];
    size_t len = 0;
    if (cpm_merkle_inclusion_proof((uint64_t)seq - 1, size, cpm_node_cache_get, nodes, path,
                                   CPM_MERKLE_PATH_MAX, &len) != CPM_OK)
        return NULL;
    json_t *out = json_array();
    for (size_t i = 0; out && i < len; i++) {
        char text[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(text, sizeof(text), path[i], 32, sodium_base64_VARIANT_ORIGINAL);
        json_array_append_new(out, json_string(text));
    }
    return out;
}

static void note_notice(struct bundle *b, const char *leaf, size_t len)
{
    json_t *doc = json_loadb(leaf, len, 0, NULL);
    json_t *notice = json_object_get(doc, "notice");
    const char *id = json_string_value(json_object_get(notice, "id"));
    json_int_t version = json_integer_value(json_object_get(notice, "version"));
    if (id != NULL && version > 0) {
        char key[CPM_ID_BYTES_MAX + 24];
        snprintf(key, sizeof(key), "%s@%lld", id, (long long)version);
        json_object_set_new(b->notices, key, json_pack("{s:s, s:I}", "id", id, "version", version));
    }
    json_decref(doc);
}

static cpm_err event_visit(void *ctx, const struct cpm_event *e)
{
    struct bundle *b = ctx;
    if ((uint64_t)e->seq > b->tree_size) {
        b->pending++;
        return CPM_OK;
    }
    json_t *path = proof_json(b->nodes, e->seq, b->tree_size);
    json_t *item = path ? json_pack("{s:I, s:s%, s:o}", "seq", (json_int_t)e->seq, "leaf", e->leaf,
                                    e->leaf_len, "inclusion_path", path)
                        : NULL;
    if (item == NULL || json_array_append_new(b->events, item) != 0)
        return CPM_ERR_NOMEM;
    note_notice(b, e->leaf, e->leaf_len);
    return CPM_OK;
}

/* Walks the subject's events page by page (the store caps a page). */
static cpm_err collect_events(struct bundle *b, const char *subject_id)
{
    int64_t after = 0;
    for (;;) {
        size_t before = json_array_size(b->events);
        cpm_err err =
            b->store->ops->event_list(b->store, subject_id, after, EVIDENCE_PAGE, event_visit, b);
        size_t got = json_array_size(b->events) - before;
        /* Events come by seq: once one is past the checkpoint, so are the rest. */
        if (err != CPM_OK || b->pending > 0 || got < EVIDENCE_PAGE)
            return err;
        json_t *last = json_array_get(b->events, json_array_size(b->events) - 1);
        after = json_integer_value(json_object_get(last, "seq"));
    }
}

/* Replaces each referenced notice version by its stored text. */
static cpm_err collect_notices(struct bundle *b, json_t **out)
{
    *out = json_array();
    const char *key;
    json_t *ref;
    json_object_foreach(b->notices, key, ref)
    {
        struct cpm_notice_version v = {0};
        const char *id = json_string_value(json_object_get(ref, "id"));
        int64_t version = json_integer_value(json_object_get(ref, "version"));
        cpm_err err = b->store->ops->notice_version_get(b->store, id, version, &v);
        json_t *body = err == CPM_OK ? json_loads(v.body, 0, NULL) : NULL;
        if (body != NULL) {
            json_object_set_new(body, "notice", json_string(id));
            json_object_set_new(body, "version", json_integer(version));
            json_object_set_new(body, "published_at", cpm_api_time(v.published_ms));
            json_array_append_new(*out, body);
        }
        cpm_notice_version_release(&v);
        if (err != CPM_OK || body == NULL)
            return err != CPM_OK ? err : CPM_ERR_STORE;
    }
    return CPM_OK;
}

void cpm_api_subject_evidence(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    if (!cpm_api_subject_id_checked(req, id))
        return;
    struct cpm_store *store = req->app->store;
    struct cpm_subject subject;
    struct cpm_checkpoint cp = {0};
    struct bundle b = {
        .store = store, .nodes = req->app->nodes, .events = json_array(), .notices = json_object()};
    json_t *notices = NULL;
    cpm_err err = store->ops->subject_get(store, id, &subject);
    if (err == CPM_OK)
        err = store->ops->checkpoint_latest(store, &cp);
    b.tree_size = cp.size;
    if (err == CPM_OK)
        err = collect_events(&b, id);
    if (err == CPM_OK)
        err = collect_notices(&b, &notices);
    if (err == CPM_ERR_NOT_FOUND)
        cpm_respond_error(req, err, NULL, "no event was ever recorded for subject '%s'", id);
    else if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "cannot assemble the evidence");
    else
        cpm_respond_json(req, 200,
                         json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:O, s:O, s:I}", "format",
                                   "opencpm-evidence/1", "subject", id, "subject_pseudonym",
                                   subject.pseudonym, "checkpoint", cp.note, "verifier_key",
                                   req->app->vkey, "tree_size", (json_int_t)cp.size, "events",
                                   b.events, "notices", notices, "pending_events",
                                   (json_int_t)b.pending));
    json_decref(b.events);
    json_decref(b.notices);
    json_decref(notices);
    cpm_checkpoint_release(&cp);
}
