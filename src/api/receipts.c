/* SPDX-License-Identifier: Apache-2.0 */
/*
 * receipts.c — GET /v1/subjects/{id}/receipts/{event}: one consent event as
 * a receipt with ISO/IEC TS 27560 consent-record field names (mapping in
 * docs/LEDGER.md), joined with the purpose as configured and the ledger
 * position that proves it. {event} is the event id ("evt_…") or its seq.
 */
#include "core/common.h"

#include <sodium.h>

#include "api/api.h"
#include "api/support.h"
#include "core/alloc.h"
#include "http/app.h"
#include "ledger/merkle.h"
#include "store/config_writer.h"

struct find {
    const char *wanted;
    int64_t wanted_seq;
    struct cpm_event found;
    bool hit;
    int64_t last_seq;
    int seen;
};

static cpm_err match(void *ctx, const struct cpm_event *e)
{
    struct find *f = ctx;
    f->last_seq = e->seq;
    f->seen++;
    if (f->hit || (e->seq != f->wanted_seq && strcmp(e->id, f->wanted) != 0))
        return CPM_OK;
    f->found = *e; /* the row is freed after the visit: keep a copy of the leaf */
    f->found.sealed = NULL;
    f->found.sealed_len = 0;
    f->found.leaf = cpm_strndup(e->leaf, e->leaf_len);
    f->hit = f->found.leaf != NULL;
    return f->hit ? CPM_OK : CPM_ERR_NOMEM;
}

/* Looks the event up among the subject's, page by page. */
static cpm_err find_event(struct cpm_store *store, const char *subject, struct find *f)
{
    cpm_err err = CPM_OK;
    do {
        f->seen = 0;
        err = store->ops->event_list(store, subject, f->last_seq, CPM_PAGE_LIMIT_MAX, match, f);
    } while (err == CPM_OK && !f->hit && f->seen == CPM_PAGE_LIMIT_MAX);
    return err != CPM_OK ? err : f->hit ? CPM_OK : CPM_ERR_NOT_FOUND;
}

static json_t *purpose_part(struct cpm_store *store, const char *purpose_id)
{
    json_t *purpose = NULL;
    json_t *out = json_pack("{s:s}", "purpose_id", purpose_id);
    if (cpm_config_read(store, CPM_DOC_PURPOSE, purpose_id, &purpose, NULL) == CPM_OK) {
        json_object_set(out, "purpose_name", json_object_get(purpose, "name"));
        json_object_set(out, "lawful_basis", json_object_get(purpose, "legal_basis"));
        json_object_set(out, "consent_type", json_object_get(purpose, "consent_form"));
        json_object_set(out, "pii_categories", json_object_get(purpose, "pi_categories"));
        json_object_set(out, "retention", json_object_get(purpose, "retention"));
    }
    json_decref(purpose);
    return out;
}

static json_t *receipt(struct cpm_store *store, const struct cpm_event *e, json_t *leaf)
{
    uint8_t hash[32];
    char hex[65];
    cpm_merkle_leaf_hash(e->leaf, e->leaf_len, hash);
    sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
    const char *type = json_string_value(json_object_get(leaf, "type"));
    const char *status = type && strncmp(type, "consent.", 8) == 0 ? type + 8 : type;
    json_t *notice = json_object_get(leaf, "notice");
    return json_pack(
        "{s:s, s:s, s:s, s:s?, s:o, s:s?, s:{s:s?, s:O?, s:s?, s:s?, s:s?, s:s?}, s:O?, s:O?, "
        "s:{s:I, s:s, s:s}}",
        "schema_version", "ISO/IEC TS 27560:2023; opencpm-receipt/1", "record_id", e->id,
        "pii_principal_id", json_string_value(json_object_get(leaf, "subject")), "pii_controller",
        json_string_value(json_object_get(leaf, "property")), "purpose",
        purpose_part(store, e->purpose), "consent_status", status, "event", "event_type", type,
        "event_time", json_object_get(leaf, "time"), "collection_method",
        json_string_value(json_object_get(leaf, "method")), "actor",
        json_string_value(json_object_get(leaf, "actor")), "channel",
        json_string_value(json_object_get(leaf, "channel")), "language",
        json_string_value(json_object_get(leaf, "locale")), "separate_consent",
        json_object_get(leaf, "separate"), "privacy_notice", notice, "evidence", "ledger_seq",
        (json_int_t)e->seq, "leaf_sha256", hex, "proof",
        "GET /v1/ledger/proofs/inclusion?seq=<ledger_seq>");
}

void cpm_api_subject_receipt(struct cpm_request *req)
{
    const char *id = cpm_request_param(req, 0);
    const char *wanted = cpm_request_param(req, 1);
    if (!cpm_api_subject_id_checked(req, id))
        return;
    struct find f = {.wanted = wanted, .wanted_seq = -1};
    int64_t seq;
    if (cpm_parse_int64(wanted, 1, INT64_MAX, &seq))
        f.wanted_seq = seq;
    cpm_err err = find_event(req->app->store, id, &f);
    json_t *leaf = f.hit ? json_loadb(f.found.leaf, f.found.leaf_len, 0, NULL) : NULL;
    if (leaf != NULL) {
        cpm_respond_json(req, 200, receipt(req->app->store, &f.found, leaf));
    } else if (err == CPM_ERR_NOT_FOUND || err == CPM_OK) {
        cpm_respond_error(req, CPM_ERR_NOT_FOUND, NULL, "subject '%s' has no event '%s'", id,
                          wanted);
    } else {
        cpm_respond_error(req, err, NULL, "cannot read the events");
    }
    cpm_free(f.found.leaf);
    json_decref(leaf);
}
