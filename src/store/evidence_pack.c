/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evidence_pack.c — builds an evidence pack (evidence_pack.h). The archive,
 * in this order (docs/EVIDENCE-PACKS.md): checkpoint.txt, ledger-key.txt,
 * [prior-checkpoint.txt, consistency.json], events.ndjson,
 * deliveries.ndjson, notices/ID/vN/{version.json, LOCALE.txt},
 * summary.html, manifest.json — the manifest last, since it holds the
 * SHA-256 of every file before it, computed as each is streamed.
 */
#include "core/common.h"

#include <jansson.h>
#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/tar.h"
#include "ledger/note.h"
#include "ledger/pack.h"
#include "store/checkpointer.h"
#include "store/evidence_pack.h"
#include "store/evidence_summary.h"

#define EVENT_PAGE       200  /* a subject's events per store call */
#define SEQ_WINDOW       4096 /* a range's seqs per store call */
#define DELIVERY_PAGE    200  /* a subject's delivery rows per store call */
#define DELIVERY_WINDOW  4096 /* delivery log ids per store call, for a range */
#define SUMMARY_KEYS_MAX 256  /* types, purposes, states, destinations the summary shows */
#define B64_HASH_BYTES   sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)

struct pack {
    const struct cpm_evidence_pack_source *src;
    const struct cpm_evidence_pack_query *q;
    struct cpm_detail *detail;
    struct cpm_tar_writer tar;
    crypto_hash_sha256_state sha; /* of the file being written */
    int64_t now_ms;
    struct cpm_checkpoint cp;
    char origin[CPM_ORIGIN_BYTES_MAX];
    struct cpm_subject subject;
    int64_t *seqs; /* the pack's events, ascending */
    size_t seq_count, seq_cap;
    int64_t pending;
    int64_t deliveries;
    int64_t page_rows, last_key; /* the page just visited: rows, last seq or delivery id */
    json_t *files;               /* manifest: [{name, bytes, sha256}] */
    json_t *notice_refs;         /* "id@version" → [id, version], in the order first named */
    json_t *notices;             /* manifest: the notice versions and their files */
    json_t *facts;               /* for summary.html (evidence_summary.h) */
};

static const char *limit_field(const struct pack *p)
{
    return p->q->subject_id != NULL && !p->q->ranged ? "subject" : "to";
}

static json_t *time_json(int64_t ms)
{
    char text[CPM_TIME_TEXT_BYTES];
    cpm_time_format(ms, text, sizeof(text));
    return json_string(text);
}

static void b64(const uint8_t hash[32], char out[B64_HASH_BYTES])
{
    sodium_bin2base64(out, B64_HASH_BYTES, hash, 32, sodium_base64_VARIANT_ORIGINAL);
}

/* ---- files: streamed into the archive, hashed on the way ---- */

static cpm_err file_begin(struct pack *p, const char *name)
{
    crypto_hash_sha256_init(&p->sha);
    return cpm_tar_file_begin(&p->tar, name, p->now_ms / 1000);
}

static cpm_err file_put(struct pack *p, const void *data, size_t len)
{
    crypto_hash_sha256_update(&p->sha, data, len);
    return cpm_tar_file_write(&p->tar, data, len);
}

/* Ends the file and lists it, with its size and SHA-256, for the manifest. */
static cpm_err file_end(struct pack *p)
{
    uint8_t hash[32];
    char hex[65];
    uint64_t bytes = p->tar.at.size;
    cpm_err err = cpm_tar_file_end(&p->tar);
    crypto_hash_sha256_final(&p->sha, hash);
    cpm_pack_hex(hash, hex);
    if (err == CPM_OK &&
        json_array_append_new(p->files, json_pack("{s:s, s:I, s:s}", "name", p->tar.at.name,
                                                  "bytes", (json_int_t)bytes, "sha256", hex)) != 0)
        err = CPM_ERR_NOMEM;
    return err;
}

static cpm_err file_whole(struct pack *p, const char *name, const char *data, size_t len)
{
    cpm_err err = file_begin(p, name);
    if (err == CPM_OK)
        err = file_put(p, data, len);
    return err == CPM_OK ? file_end(p) : err;
}

/* One JSON value as a compact line (newline included). */
static cpm_err file_line(struct pack *p, json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    if (text == NULL)
        return CPM_ERR_NOMEM;
    size_t len = strlen(text);
    cpm_err err = CPM_ERR_STORE;
    if (len < CPM_EVIDENCE_PACK_LINE_BYTES_MAX)
        err = file_put(p, text, len);
    else
        cpm_detail_add(p->detail, "", "a line of %s would be over %d bytes: %.40s…", p->tar.at.name,
                       CPM_EVIDENCE_PACK_LINE_BYTES_MAX, text);
    cpm_free(text);
    return err == CPM_OK ? file_put(p, "\n", 1) : err;
}

static cpm_err put_summary(void *ctx, const char *text, size_t len)
{
    return file_put(ctx, text, len);
}

/* ---- the checkpoint ---- */

static cpm_err load_checkpoint(struct pack *p)
{
    const char *body = NULL;
    size_t body_len = 0;
    uint64_t size = 0;
    uint8_t root[32];
    cpm_err err = p->src->store->ops->checkpoint_latest(p->src->store, &p->cp);
    if (err == CPM_ERR_NOT_FOUND) {
        cpm_detail_add(p->detail, "", "no checkpoint has been signed yet: try again in a second");
        return err;
    }
    if (err == CPM_OK && (cpm_note_verify(p->cp.note, strlen(p->cp.note), p->src->vkey, &body,
                                          &body_len) != CPM_OK ||
                          cpm_checkpoint_parse(body, body_len, p->origin, sizeof(p->origin), &size,
                                               root) != CPM_OK ||
                          size != p->cp.size || memcmp(root, p->cp.root, 32) != 0)) {
        cpm_detail_add(p->detail, "",
                       "the latest stored checkpoint does not verify with this "
                       "ledger's key: run cpm verify --store");
        err = CPM_ERR_STORE;
    }
    return err;
}

static cpm_err write_ledger_files(struct pack *p)
{
    char key_line[CPM_VKEY_BYTES_MAX + 2];
    snprintf(key_line, sizeof(key_line), "%s\n", p->src->vkey);
    cpm_err err = file_whole(p, CPM_PACK_CHECKPOINT, p->cp.note, strlen(p->cp.note));
    return err == CPM_OK ? file_whole(p, CPM_PACK_KEY, key_line, strlen(key_line)) : err;
}

static json_t *path_json(const uint8_t (*path)[32], size_t len)
{
    json_t *out = json_array();
    for (size_t i = 0; out != NULL && i < len; i++) {
        char text[B64_HASH_BYTES];
        b64(path[i], text);
        if (json_array_append_new(out, json_string(text)) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* The earlier checkpoint the query names, and the proof that the log only grew since. */
static cpm_err write_prior(struct pack *p)
{
    struct cpm_checkpoint prior = {0};
    uint8_t path[CPM_MERKLE_PATH_MAX][32];
    size_t len = 0;
    int64_t size = p->q->prior_size;
    cpm_err err = (uint64_t)size <= p->cp.size
                      ? p->src->store->ops->checkpoint_after(p->src->store, size - 1, &prior)
                      : CPM_ERR_NOT_FOUND;
    if (err == CPM_OK && prior.size != (uint64_t)size)
        err = CPM_ERR_NOT_FOUND;
    if (err == CPM_ERR_NOT_FOUND) {
        cpm_detail_add(p->detail, "prior_size",
                       "no signed checkpoint has size %lld (the latest has size %llu)",
                       (long long)size, (unsigned long long)p->cp.size);
        err = CPM_ERR_VALIDATION;
    }
    if (err == CPM_OK)
        err = cpm_merkle_consistency_proof((uint64_t)size, p->cp.size, p->src->nodes,
                                           p->src->nodes_ctx, path, CPM_MERKLE_PATH_MAX, &len);
    if (err == CPM_OK)
        err = file_whole(p, CPM_PACK_PRIOR_CHECKPOINT, prior.note, strlen(prior.note));
    json_t *doc = err == CPM_OK ? json_pack("{s:I, s:I, s:o}", "from_size", (json_int_t)size,
                                            "to_size", (json_int_t)p->cp.size, "path",
                                            path_json((const uint8_t(*)[32])path, len))
                                : NULL;
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (err == CPM_OK)
        err = text ? file_whole(p, CPM_PACK_CONSISTENCY, text, strlen(text)) : CPM_ERR_NOMEM;
    cpm_free(text);
    json_decref(doc);
    cpm_checkpoint_release(&prior);
    return err;
}

/* ---- events ---- */

/* Adds one to obj[key], or to obj["other"] once obj holds SUMMARY_KEYS_MAX keys. */
static void count_in(json_t *obj, const char *key)
{
    json_t *n = json_object_get(obj, key);
    if (n == NULL && json_object_size(obj) >= SUMMARY_KEYS_MAX)
        n = json_object_get(obj, key = "other");
    if (n != NULL)
        json_integer_set(n, json_integer_value(n) + 1);
    else
        json_object_set_new(obj, key, json_integer(1));
}

static cpm_err too_many(struct pack *p, const char *what, long long limit)
{
    cpm_detail_add(p->detail, limit_field(p),
                   "the pack would hold more than %lld %s (the limit of one pack): %s", limit, what,
                   p->q->ranged ? "narrow the time range" : "give a time range with from and to");
    return CPM_ERR_VALIDATION;
}

/* Notes the notice version a leaf names (a consent's, or a notice.published event's). */
static cpm_err note_notice(struct pack *p, const json_t *leaf)
{
    const json_t *ref = json_object_get(leaf, "notice");
    const char *id = json_string_value(json_object_get(ref, "id"));
    json_int_t version = json_integer_value(json_object_get(ref, "version"));
    const char *kind = json_string_value(json_object_get(leaf, "kind"));
    if (id == NULL && kind != NULL && strcmp(kind, "notice") == 0 &&
        json_object_get(leaf, "version") != NULL) {
        id = json_string_value(json_object_get(leaf, "doc"));
        version = json_integer_value(json_object_get(leaf, "version"));
    }
    char key[CPM_ID_BYTES_MAX + 24];
    if (id == NULL || version < 1)
        return CPM_OK;
    snprintf(key, sizeof(key), "%s@%lld", id, (long long)version);
    if (json_object_get(p->notice_refs, key) != NULL)
        return CPM_OK;
    if (json_object_size(p->notice_refs) >= CPM_EVIDENCE_PACK_NOTICES_MAX)
        return too_many(p, "notice versions", CPM_EVIDENCE_PACK_NOTICES_MAX);
    return json_object_set_new(p->notice_refs, key, json_pack("[s, I]", id, version)) == 0
               ? CPM_OK
               : CPM_ERR_NOMEM;
}

static void note_event_facts(struct pack *p, const struct cpm_event *e)
{
    json_t *events = json_object_get(p->facts, "events");
    count_in(json_object_get(p->facts, "types"), e->type);
    if (e->purpose[0] != '\0') {
        json_t *purposes = json_object_get(p->facts, "purposes");
        json_t *counts = json_object_get(purposes, e->purpose);
        if (counts == NULL && json_object_size(purposes) < SUMMARY_KEYS_MAX)
            json_object_set_new(purposes, e->purpose, counts = json_object());
        if (counts != NULL)
            count_in(counts, e->type);
    }
    json_t *listed = json_object_get(events, "listed");
    if (p->q->subject_id != NULL && json_array_size(listed) < CPM_EVIDENCE_PACK_SUMMARY_ROWS_MAX)
        json_array_append_new(listed, json_pack("[I, I, s, s]", (json_int_t)e->seq,
                                                (json_int_t)e->time_ms, e->type, e->purpose));
    json_int_t first = json_integer_value(json_object_get(events, "first_ms"));
    if (first == 0 || e->time_ms < first)
        json_object_set_new(events, "first_ms", json_integer(e->time_ms));
    if (e->time_ms > json_integer_value(json_object_get(events, "last_ms")))
        json_object_set_new(events, "last_ms", json_integer(e->time_ms));
}

static cpm_err remember_seq(struct pack *p, int64_t seq)
{
    if (p->seq_count == p->seq_cap) {
        size_t cap = p->seq_cap ? p->seq_cap * 2 : 256;
        int64_t *grown = cpm_realloc(p->seqs, cap * sizeof(*grown));
        if (grown == NULL)
            return CPM_ERR_NOMEM;
        p->seqs = grown;
        p->seq_cap = cap;
    }
    p->seqs[p->seq_count++] = seq;
    return CPM_OK;
}

/* One line of events.ndjson: the exact leaf and its inclusion proof. */
static cpm_err write_event(struct pack *p, const struct cpm_event *e)
{
    uint8_t path[CPM_MERKLE_PATH_MAX][32];
    size_t len = 0;
    cpm_err err = cpm_merkle_inclusion_proof((uint64_t)e->seq - 1, p->cp.size, p->src->nodes,
                                             p->src->nodes_ctx, path, CPM_MERKLE_PATH_MAX, &len);
    if (err != CPM_OK)
        return err;
    json_t *proof = path_json((const uint8_t(*)[32])path, len);
    return file_line(p, proof ? json_pack("{s:I, s:s%, s:o}", "seq", (json_int_t)e->seq, "leaf",
                                          e->leaf, e->leaf_len, "inclusion_path", proof)
                              : NULL);
}

static cpm_err event_visit(void *ctx, const struct cpm_event *e)
{
    struct pack *p = ctx;
    p->page_rows++;
    p->last_key = e->seq;
    if (p->q->ranged && (e->time_ms < p->q->from_ms || e->time_ms >= p->q->to_ms))
        return CPM_OK; /* a subject's event outside the range */
    if ((uint64_t)e->seq > p->cp.size) {
        p->pending++;
        return CPM_OK;
    }
    if ((int64_t)p->seq_count >= p->q->events_max)
        return too_many(p, "events", (long long)p->q->events_max);
    json_t *leaf = json_loadb(e->leaf, e->leaf_len, 0, NULL);
    cpm_err err = leaf != NULL ? note_notice(p, leaf) : CPM_ERR_STORE;
    json_decref(leaf);
    if (err == CPM_OK)
        err = write_event(p, e);
    if (err == CPM_OK)
        err = remember_seq(p, e->seq);
    if (err == CPM_OK)
        note_event_facts(p, e);
    return err;
}

static cpm_err subject_events(struct pack *p)
{
    struct cpm_store *store = p->src->store;
    cpm_err err;
    p->last_key = 0;
    do {
        p->page_rows = 0;
        err = store->ops->event_list(store, p->q->subject_id, p->last_key, EVENT_PAGE, event_visit,
                                     p);
    } while (err == CPM_OK && p->page_rows == EVENT_PAGE);
    return err;
}

/* Every event of [from, to): the ledger read window by window, then past the checkpoint. */
static cpm_err range_events(struct pack *p)
{
    struct cpm_store *store = p->src->store;
    uint64_t size = 0;
    cpm_err err = store->ops->ledger_size(store, &size);
    for (uint64_t after = 0; err == CPM_OK && after < size; after += SEQ_WINDOW) {
        uint64_t until = size - after < SEQ_WINDOW ? size : after + SEQ_WINDOW;
        err = store->ops->event_list_between(store, p->q->from_ms, p->q->to_ms, (int64_t)after,
                                             (int64_t)until, event_visit, p);
    }
    return err;
}

static cpm_err write_events(struct pack *p)
{
    cpm_err err = file_begin(p, CPM_PACK_EVENTS);
    if (err == CPM_OK)
        err = p->q->subject_id != NULL ? subject_events(p) : range_events(p);
    return err == CPM_OK ? file_end(p) : err;
}

/* ---- the delivery log ---- */

static bool in_pack(const struct pack *p, int64_t seq)
{
    size_t lo = 0, hi = p->seq_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->seqs[mid] == seq)
            return true;
        if (p->seqs[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static void note_delivery_facts(struct pack *p, const struct cpm_delivery *d)
{
    json_t *destinations = json_object_get(p->facts, "destinations");
    json_t *counts = json_object_get(destinations, d->destination_id);
    if (counts == NULL && json_object_size(destinations) < SUMMARY_KEYS_MAX)
        json_object_set_new(destinations, d->destination_id,
                            counts = json_pack("{s:i, s:i, s:i, s:i}", "delivered", 0, "failed", 0,
                                               "dead", 0, "blocked", 0));
    json_t *n = json_object_get(counts, d->outcome);
    if (n != NULL)
        json_integer_set(n, json_integer_value(n) + 1);
    json_t *listed = json_object_get(json_object_get(p->facts, "deliveries"), "listed");
    if (json_array_size(listed) < CPM_EVIDENCE_PACK_SUMMARY_ROWS_MAX)
        json_array_append_new(listed,
                              json_pack("[s, I, s, i, s, I, i, I]", d->destination_id,
                                        (json_int_t)d->seq, d->event_type, d->attempt, d->outcome,
                                        (json_int_t)d->time_ms, d->status, (json_int_t)d->lag_ms));
}

static cpm_err delivery_visit(void *ctx, const struct cpm_delivery *d)
{
    struct pack *p = ctx;
    p->page_rows++;
    p->last_key = d->id;
    if (!in_pack(p, d->seq))
        return CPM_OK;
    if (p->deliveries >= CPM_EVIDENCE_PACK_DELIVERIES_MAX)
        return too_many(p, "delivery log rows", CPM_EVIDENCE_PACK_DELIVERIES_MAX);
    p->deliveries++;
    note_delivery_facts(p, d);
    /* a time range's pack names no company subject id: its leaves carry pseudonyms */
    const char *subject = p->q->subject_id != NULL && d->subject_id[0] ? d->subject_id : NULL;
    return file_line(
        p, json_pack("{s:I, s:s, s:I, s:s, s:s, s:s*, s:i, s:o, s:s, s:i, s:I, s:I, s:s}", "id",
                     (json_int_t)d->id, "destination", d->destination_id, "seq", (json_int_t)d->seq,
                     "event_id", d->event_id, "event_type", d->event_type, "subject", subject,
                     "attempt", d->attempt, "time", time_json(d->time_ms), "outcome", d->outcome,
                     "status", d->status, "latency_ms", (json_int_t)d->latency_ms,
                     "acknowledged_after_ms", (json_int_t)d->lag_ms, "detail", d->detail));
}

static cpm_err subject_deliveries(struct pack *p)
{
    struct cpm_store *store = p->src->store;
    struct cpm_delivery_filter filter = {.subject_id = p->q->subject_id};
    cpm_err err;
    p->last_key = 0;
    do {
        p->page_rows = 0;
        filter.after_id = p->last_key;
        err = store->ops->delivery_list(store, &filter, DELIVERY_PAGE, delivery_visit, p);
    } while (err == CPM_OK && p->page_rows == DELIVERY_PAGE);
    return err;
}

/* The log read window by window up to its end when the walk began. */
static cpm_err range_deliveries(struct pack *p)
{
    struct cpm_store *store = p->src->store;
    int64_t end = -1, last_id = 0;
    cpm_err err = CPM_OK;
    for (int64_t after = 0; err == CPM_OK && (end < 0 || after < end); after += DELIVERY_WINDOW) {
        err = store->ops->delivery_list_seqs(store, p->seqs[0], p->seqs[p->seq_count - 1], after,
                                             after + DELIVERY_WINDOW, delivery_visit, p, &last_id);
        if (end < 0)
            end = last_id;
    }
    return err;
}

static cpm_err write_deliveries(struct pack *p)
{
    cpm_err err = file_begin(p, CPM_PACK_DELIVERIES);
    if (err == CPM_OK && p->seq_count > 0)
        err = p->q->subject_id != NULL ? subject_deliveries(p) : range_deliveries(p);
    return err == CPM_OK ? file_end(p) : err;
}

/* ---- notices ---- */

/* One locale's text as its own file; its facts for the manifest and the summary. */
static cpm_err write_notice_text(struct pack *p, const char *id, int64_t version,
                                 const char *locale, const json_t *content, json_t *texts)
{
    const char *text = json_string_value(json_object_get(content, "text"));
    const char *stored = json_string_value(json_object_get(content, "sha256"));
    char name[CPM_TAR_NAME_BYTES_MAX + 1], hex[65];
    uint8_t hash[32];
    if (text == NULL || !cpm_pack_notice_path(name, sizeof(name), id, version, locale)) {
        cpm_detail_add(p->detail, "", "notice '%s' version %lld: its '%s' text cannot be packed",
                       id, (long long)version, locale);
        return CPM_ERR_STORE;
    }
    crypto_hash_sha256(hash, (const unsigned char *)text, strlen(text));
    cpm_pack_hex(hash, hex);
    if (stored != NULL && strcmp(stored, hex) != 0) {
        cpm_detail_add(p->detail, "",
                       "notice '%s' version %lld: the stored '%s' text no longer "
                       "hashes to its recorded SHA-256",
                       id, (long long)version, locale);
        return CPM_ERR_STORE;
    }
    cpm_err err = file_whole(p, name, text, strlen(text));
    if (err == CPM_OK &&
        json_array_append_new(texts,
                              json_pack("{s:s, s:s, s:s, s:I}", "locale", locale, "file", name,
                                        "sha256", hex, "bytes", (json_int_t)strlen(text))) != 0)
        err = CPM_ERR_NOMEM;
    return err;
}

static cpm_err write_notice_texts(struct pack *p, const struct cpm_notice_version *v, json_t *texts,
                                  json_t *titles)
{
    json_t *body = json_loads(v->body, 0, NULL);
    const char *locale;
    json_t *content;
    cpm_err err = body != NULL ? CPM_OK : CPM_ERR_STORE;
    json_object_foreach(json_object_get(body, "content"), locale, content)
    {
        if (err == CPM_OK)
            err = write_notice_text(p, v->notice_id, v->version, locale, content, texts);
        const char *title = json_string_value(json_object_get(content, "title"));
        if (title != NULL)
            json_object_set_new(titles, locale, json_string(title));
    }
    json_decref(body);
    return err;
}

/* The stored version document (its SHA-256 is what notice.published leaves quote) and its texts. */
static cpm_err write_notice(struct pack *p, const char *id, int64_t version)
{
    struct cpm_notice_version v = {0};
    char name[CPM_TAR_NAME_BYTES_MAX + 1];
    json_t *texts = json_array(), *titles = json_object();
    cpm_err err = p->src->store->ops->notice_version_get(p->src->store, id, version, &v);
    if (err == CPM_ERR_NOT_FOUND) {
        cpm_detail_add(p->detail, "",
                       "an event refers to notice '%s' version %lld, which the "
                       "store does not hold",
                       id, (long long)version);
        err = CPM_ERR_STORE;
    }
    if (err == CPM_OK && !cpm_pack_notice_path(name, sizeof(name), id, version, NULL))
        err = CPM_ERR_STORE;
    if (err == CPM_OK)
        err = file_whole(p, name, v.body, strlen(v.body));
    if (err == CPM_OK)
        err = write_notice_texts(p, &v, texts, titles);
    if (err == CPM_OK &&
        json_array_append_new(p->notices, json_pack("{s:s, s:I, s:o, s:s, s:O}", "notice", id,
                                                    "version", (json_int_t)version, "published_at",
                                                    time_json(v.published_ms), "file", name,
                                                    "texts", texts)) != 0)
        err = CPM_ERR_NOMEM;
    if (err == CPM_OK) /* the summary's: it shows what it has */
        json_array_append_new(json_object_get(p->facts, "notices"),
                              json_pack("{s:s, s:I, s:I, s:O, s:O}", "notice", id, "version",
                                        (json_int_t)version, "published_ms",
                                        (json_int_t)v.published_ms, "titles", titles, "texts",
                                        texts));
    json_decref(texts);
    json_decref(titles);
    cpm_notice_version_release(&v);
    return err;
}

static cpm_err write_notices(struct pack *p)
{
    const char *key;
    json_t *ref;
    json_object_foreach(p->notice_refs, key, ref)
    {
        cpm_err err = write_notice(p, json_string_value(json_array_get(ref, 0)),
                                   json_integer_value(json_array_get(ref, 1)));
        if (err != CPM_OK)
            return err;
    }
    return CPM_OK;
}

/* ---- the summary's other facts ---- */

static cpm_err state_visit(void *ctx, const struct cpm_consent_state *s)
{
    struct pack *p = ctx;
    json_t *states = json_object_get(p->facts, "states");
    if (json_array_size(states) >= SUMMARY_KEYS_MAX)
        return CPM_OK;
    return json_array_append_new(
               states,
               json_pack("{s:s, s:s?, s:s, s:I, s:s?, s:I, s:I, s:I}", "purpose", s->purpose,
                         "recipient", s->recipient[0] ? s->recipient : NULL, "status", s->status,
                         "seq", (json_int_t)s->seq, "notice", s->notice[0] ? s->notice : NULL,
                         "version", (json_int_t)s->notice_version, "decided_ms",
                         (json_int_t)s->decided_ms, "expires_ms", (json_int_t)s->expires_ms)) == 0
               ? CPM_OK
               : CPM_ERR_NOMEM;
}

static void note_purpose_name(struct pack *p, const char *purpose)
{
    json_t *names = json_object_get(p->facts, "purpose_names");
    struct cpm_doc doc = {0};
    if (json_object_get(names, purpose) != NULL ||
        p->src->store->ops->doc_get(p->src->store, CPM_DOC_PURPOSE, purpose, &doc) != CPM_OK)
        return;
    json_t *body = json_loads(doc.body, 0, NULL);
    json_t *name = json_object_get(body, "name");
    if (json_is_object(name))
        json_object_set(names, purpose, name);
    json_decref(body);
    cpm_doc_release(&doc);
}

/* Purpose names as configured now (the summary shows them; they are not evidence). */
static void note_purpose_names(struct pack *p)
{
    const char *purpose;
    json_t *value;
    size_t i;
    json_object_foreach(json_object_get(p->facts, "purposes"), purpose, value)
        note_purpose_name(p, purpose);
    json_array_foreach(json_object_get(p->facts, "states"), i, value)
        note_purpose_name(p, json_string_value(json_object_get(value, "purpose")));
}

static cpm_err write_summary(struct pack *p)
{
    cpm_err err = CPM_OK;
    if (p->q->subject_id != NULL)
        err =
            p->src->store->ops->consent_state_list(p->src->store, p->q->subject_id, state_visit, p);
    if (err != CPM_OK)
        return err;
    note_purpose_names(p);
    json_t *events = json_object_get(p->facts, "events");
    json_object_set_new(events, "count", json_integer((json_int_t)p->seq_count));
    json_object_set_new(events, "pending", json_integer(p->pending));
    json_object_set_new(json_object_get(p->facts, "deliveries"), "count",
                        json_integer(p->deliveries));
    err = file_begin(p, CPM_PACK_SUMMARY);
    if (err == CPM_OK)
        err = cpm_evidence_summary_render(p->facts, put_summary, p);
    return err == CPM_OK ? file_end(p) : err;
}

/* ---- scope, facts and manifest ---- */

static json_t *scope_json(const struct pack *p)
{
    json_t *scope = json_object();
    if (p->q->subject_id != NULL) {
        json_object_set_new(scope, "subject", json_string(p->q->subject_id));
        json_object_set_new(scope, "subject_pseudonym", json_string(p->subject.pseudonym));
        json_object_set_new(scope, "erased_at",
                            p->subject.erased_ms ? time_json(p->subject.erased_ms) : json_null());
    }
    if (p->q->ranged) {
        json_object_set_new(scope, "from", time_json(p->q->from_ms));
        json_object_set_new(scope, "to", time_json(p->q->to_ms));
    }
    return scope;
}

static cpm_err start_facts(struct pack *p)
{
    char root[B64_HASH_BYTES];
    b64(p->cp.root, root);
    json_t *scope = json_object();
    if (p->q->subject_id != NULL) {
        json_object_set_new(scope, "subject", json_string(p->q->subject_id));
        json_object_set_new(scope, "pseudonym", json_string(p->subject.pseudonym));
        json_object_set_new(scope, "erased_ms", json_integer(p->subject.erased_ms));
    }
    if (p->q->ranged) {
        json_object_set_new(scope, "from_ms", json_integer(p->q->from_ms));
        json_object_set_new(scope, "to_ms", json_integer(p->q->to_ms));
    }
    p->facts = json_pack(
        "{s:I, s:s, s:s, s:o, s:{s:s, s:I, s:I, s:s, s:I}, s:{s:[]}, s:{}, s:{}, s:{}, s:[], s:[],"
        " s:{}, s:{s:[]}}",
        "generated_ms", (json_int_t)p->now_ms, "generator", p->src->generator, "verifier_key",
        p->src->vkey, "scope", scope, "ledger", "origin", p->origin, "tree_size",
        (json_int_t)p->cp.size, "signed_ms", (json_int_t)p->cp.signed_ms, "root", root,
        "prior_size", (json_int_t)p->q->prior_size, "events", "listed", "types", "purposes",
        "purpose_names", "states", "notices", "destinations", "deliveries", "listed");
    return p->facts != NULL ? CPM_OK : CPM_ERR_NOMEM;
}

static json_t *ledger_json(const struct pack *p)
{
    char root[B64_HASH_BYTES];
    b64(p->cp.root, root);
    return json_pack("{s:s, s:s, s:I, s:s, s:o, s:s, s:s}", "origin", p->origin, "verifier_key",
                     p->src->vkey, "tree_size", (json_int_t)p->cp.size, "root", root, "signed_at",
                     time_json(p->cp.signed_ms), "checkpoint", CPM_PACK_CHECKPOINT, "key",
                     CPM_PACK_KEY);
}

static cpm_err write_manifest(struct pack *p)
{
    json_t *events = json_pack("{s:s, s:I, s:I, s:I, s:I}", "file", CPM_PACK_EVENTS, "count",
                               (json_int_t)p->seq_count, "first_seq",
                               (json_int_t)(p->seq_count ? p->seqs[0] : 0), "last_seq",
                               (json_int_t)(p->seq_count ? p->seqs[p->seq_count - 1] : 0),
                               "pending", (json_int_t)p->pending);
    json_t *prior =
        p->q->prior_size > 0
            ? json_pack("{s:I, s:s, s:s}", "tree_size", (json_int_t)p->q->prior_size, "checkpoint",
                        CPM_PACK_PRIOR_CHECKPOINT, "consistency", CPM_PACK_CONSISTENCY)
            : NULL;
    json_t *manifest = json_pack(
        "{s:s, s:o, s:s, s:o, s:o, s:o*, s:o, s:O, s:{s:s, s:I}, s:s, s:O}", "format",
        CPM_PACK_FORMAT, "generated_at", time_json(p->now_ms), "generator", p->src->generator,
        "scope", scope_json(p), "ledger", ledger_json(p), "prior", prior, "events", events,
        "notices", p->notices, "deliveries", "file", CPM_PACK_DELIVERIES, "count",
        (json_int_t)p->deliveries, "summary", CPM_PACK_SUMMARY, "files", p->files);
    char *text = manifest ? json_dumps(manifest, JSON_INDENT(1)) : NULL;
    json_decref(manifest);
    cpm_err err = CPM_ERR_NOMEM;
    if (text != NULL) {
        /* not listed in files: it cannot hold its own hash */
        err = cpm_tar_file_begin(&p->tar, CPM_PACK_MANIFEST, p->now_ms / 1000);
        if (err == CPM_OK)
            err = cpm_tar_file_write(&p->tar, text, strlen(text));
        if (err == CPM_OK)
            err = cpm_tar_file_end(&p->tar);
    }
    cpm_free(text);
    return err;
}

/* ---- the whole ---- */

static cpm_err load_subject(struct pack *p)
{
    cpm_err err = p->src->store->ops->subject_get(p->src->store, p->q->subject_id, &p->subject);
    if (err == CPM_ERR_NOT_FOUND)
        cpm_detail_add(p->detail, "subject", "no event was ever recorded for subject '%s'",
                       p->q->subject_id);
    return err;
}

static cpm_err build(struct pack *p)
{
    cpm_err err = p->q->subject_id != NULL ? load_subject(p) : CPM_OK;
    if (err == CPM_OK)
        err = load_checkpoint(p);
    if (err == CPM_OK)
        err = start_facts(p);
    if (err == CPM_OK)
        err = write_ledger_files(p);
    if (err == CPM_OK && p->q->prior_size > 0)
        err = write_prior(p);
    if (err == CPM_OK)
        err = write_events(p);
    if (err == CPM_OK)
        err = write_deliveries(p);
    if (err == CPM_OK)
        err = write_notices(p);
    if (err == CPM_OK)
        err = write_summary(p);
    if (err == CPM_OK)
        err = write_manifest(p);
    return err == CPM_OK ? cpm_tar_writer_finish(&p->tar) : err;
}

cpm_err cpm_evidence_pack_write(const struct cpm_evidence_pack_source *src,
                                const struct cpm_evidence_pack_query *query, FILE *out,
                                struct cpm_evidence_pack_result *result, struct cpm_detail *detail)
{
    CPM_ASSERT(query->events_max > 0 && (query->subject_id != NULL || query->ranged));
    struct pack p = {.src = src,
                     .q = query,
                     .detail = detail,
                     .now_ms = cpm_clock_now_ms(),
                     .files = json_array(),
                     .notice_refs = json_object(),
                     .notices = json_array()};
    cpm_tar_writer_init(&p.tar, out);
    cpm_err err = p.files && p.notice_refs && p.notices ? build(&p) : CPM_ERR_NOMEM;
    if (err == CPM_ERR_IO)
        cpm_detail_add(detail, "", "the pack could not be written: %s", strerror(errno));
    *result = (struct cpm_evidence_pack_result){.tree_size = p.cp.size,
                                                .events = (int64_t)p.seq_count,
                                                .pending = p.pending,
                                                .deliveries = p.deliveries,
                                                .notices = (int64_t)json_array_size(p.notices)};
    cpm_free(p.seqs);
    json_decref(p.files);
    json_decref(p.notice_refs);
    json_decref(p.notices);
    json_decref(p.facts);
    cpm_checkpoint_release(&p.cp);
    return err;
}
