/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verify_pack.c — `cpm verify PACK [--key VKEY]`: checks an evidence pack
 * (docs/EVIDENCE-PACKS.md) offline, trusting nothing in it but what it
 * proves:
 *
 *   1. the archive: well-formed ustar, regular files only, at most
 *      CPM_EVIDENCE_PACK_FILES_MAX, no name twice; every file hashed;
 *   2. manifest.json: every file it lists is there with its SHA-256, and
 *      nothing else is;
 *   3. checkpoint.txt: signed by VKEY (else by the pack's own
 *      ledger-key.txt, which proves integrity only — the report says so);
 *   4. events.ndjson: each leaf's inclusion proof against the signed root,
 *      seqs increasing, a subject pack's leaves all of its pseudonym, a
 *      range's all recorded within it, and every notice a leaf refers to
 *      present with the SHA-256 it quotes;
 *   5. deliveries.ndjson: each row names an event of the pack, by seq and id;
 *   6. prior-checkpoint.txt and consistency.json, when present: signed by
 *      the same key, and the log only grew from it.
 *
 * Every failure is named (file and what failed) on stderr; exit 1. Memory:
 * the file index, the notice texts' hashes and each event's seq and id
 * (the pack holds at most CPM_EVIDENCE_PACK_EVENTS_MAX_MAX events).
 */
#include "core/common.h"

#include <sodium.h>

#include "cli/cli.h"
#include "cli/verify.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/tar.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/pack.h"
#include "store/checkpointer.h"

#define NOTE_BYTES_MAX   (64 * 1024)
#define READ_BLOCK       (64 * 1024)
#define FAILURES_PRINTED CPM_ERRORS_REPORTED_MAX

struct entry {
    struct cpm_pack_file file;
    uint64_t offset; /* of its content in the archive */
};

/* A notice file of the pack: a locale's text, or (locale "") the version document. */
struct notice_file {
    char notice[CPM_ID_BYTES_MAX + 1];
    int64_t version;
    char locale[CPM_PACK_LOCALE_BYTES_MAX];
    char hex[65];
};

struct seen_event {
    int64_t seq;
    char id[CPM_EVENT_ID_BYTES];
};

struct verify {
    const char *path;
    FILE *in;
    struct entry *entries;
    size_t count;
    json_t *manifest;
    char vkey[CPM_VKEY_BYTES_MAX];
    bool pinned; /* the key came from --key */
    char origin[CPM_ORIGIN_BYTES_MAX];
    uint64_t size;
    uint8_t root[32];
    bool signed_ok;
    struct notice_file *notices;
    size_t notice_count;
    struct seen_event *events;
    size_t event_count, event_cap; /* cap: the count the manifest declares */
    const char *pseudonym;         /* a subject pack's */
    bool ranged;
    int64_t from_ms, to_ms;
    int64_t deliveries;
    struct cpm_detail failures;
    int failed;
};

static void fail(struct verify *v, const char *file, const char *fmt, ...) CPM_PRINTF(3, 4);
static void fail(struct verify *v, const char *file, const char *fmt, ...)
{
    char message[CPM_MESSAGE_BYTES_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    cpm_detail_add(&v->failures, file, "%s", message);
    v->failed++;
}

static const char *or_text(const char *s, const char *otherwise)
{
    return s != NULL ? s : otherwise;
}

static const struct entry *find(const struct verify *v, const char *name)
{
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->entries[i].file.name, name) == 0)
            return &v->entries[i];
    return NULL;
}

/* ---- 1. the archive ---- */

static bool hash_content(struct verify *v, struct cpm_tar_reader *r, struct entry *e)
{
    static uint8_t block[READ_BLOCK];
    crypto_hash_sha256_state sha;
    crypto_hash_sha256_init(&sha);
    size_t got = 0;
    do {
        if (cpm_tar_reader_read(r, block, sizeof(block), &got) != CPM_OK) {
            fail(v, e->file.name, "ends early: the archive is truncated or unreadable");
            return false;
        }
        crypto_hash_sha256_update(&sha, block, got);
    } while (got > 0);
    crypto_hash_sha256_final(&sha, e->file.sha256);
    return true;
}

static bool add_entry(struct verify *v, struct cpm_tar_reader *r, const struct cpm_tar_entry *te,
                      uint64_t offset)
{
    if (v->count == CPM_EVIDENCE_PACK_FILES_MAX) {
        fail(v, "", "the archive holds more than %d files", CPM_EVIDENCE_PACK_FILES_MAX);
        return false;
    }
    if (find(v, te->name) != NULL) {
        fail(v, te->name, "is in the archive twice");
        return false;
    }
    struct entry *e = &v->entries[v->count++];
    cpm_strlcpy(e->file.name, te->name, sizeof(e->file.name));
    e->file.bytes = te->size;
    e->offset = offset;
    return hash_content(v, r, e);
}

static bool index_archive(struct verify *v)
{
    struct cpm_tar_reader r;
    cpm_tar_reader_init(&r, v->in);
    for (size_t n = 1;; n++) {
        struct cpm_tar_entry te;
        struct cpm_detail detail;
        uint64_t offset = 0;
        cpm_detail_init(&detail);
        cpm_err err = cpm_tar_reader_next(&r, &te, &offset, &detail);
        if (err == CPM_ERR_NOT_FOUND)
            return true;
        if (err != CPM_OK) {
            fail(v, "", "not a valid evidence pack: entry %zu %s", n,
                 detail.count ? detail.faults[0].message : cpm_err_message(err));
            return false;
        }
        if (!te.directory && !add_entry(v, &r, &te, offset))
            return false;
    }
}

/* A whole file of at most max bytes, NUL-terminated (owned), or NULL when absent or too large. */
static char *read_file(struct verify *v, const char *name, size_t max, size_t *len)
{
    const struct entry *e = find(v, name);
    if (e == NULL)
        return NULL;
    if (e->file.bytes > max) {
        fail(v, name, "is larger than %zu bytes", max);
        return NULL;
    }
    struct cpm_tar_reader r;
    cpm_tar_reader_init(&r, v->in);
    char *text = cpm_malloc((size_t)e->file.bytes + 1);
    size_t got = 0, at = 0;
    bool ok = text != NULL && cpm_tar_reader_reopen(&r, e->offset, e->file.bytes) == CPM_OK;
    while (ok && at < e->file.bytes) {
        ok = cpm_tar_reader_read(&r, text + at, (size_t)e->file.bytes - at, &got) == CPM_OK &&
             got > 0;
        at += got;
    }
    if (!ok) {
        fail(v, name, "cannot be read");
        cpm_free(text);
        return NULL;
    }
    text[at] = '\0';
    *len = at;
    return text;
}

/* ---- 2. the manifest ---- */

static bool load_manifest(struct verify *v)
{
    size_t len = 0;
    char *text = read_file(v, CPM_PACK_MANIFEST, CPM_EVIDENCE_PACK_JSON_BYTES_MAX, &len);
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    if (text == NULL) {
        if (find(v, CPM_PACK_MANIFEST) == NULL)
            fail(v, CPM_PACK_MANIFEST, "is missing: this is not an evidence pack");
        return false;
    }
    cpm_err err = cpm_json_parse_object(text, len, &v->manifest, &detail);
    cpm_free(text);
    if (err != CPM_OK) {
        fail(v, CPM_PACK_MANIFEST, "is not a JSON object: %s",
             detail.count ? detail.faults[0].message : cpm_err_message(err));
        return false;
    }
    const char *format = json_string_value(json_object_get(v->manifest, "format"));
    if (format == NULL || strcmp(format, CPM_PACK_FORMAT) != 0) {
        fail(v, CPM_PACK_MANIFEST, "has format '%s', not " CPM_PACK_FORMAT,
             format ? format : "(none)");
        return false;
    }
    return true;
}

static void check_manifest(struct verify *v)
{
    struct cpm_pack_file *files = cpm_calloc(v->count ? v->count : 1, sizeof(*files));
    if (files == NULL) {
        fail(v, CPM_PACK_MANIFEST, "cannot be checked: out of memory");
        return;
    }
    for (size_t i = 0; i < v->count; i++)
        files[i] = v->entries[i].file;
    struct cpm_detail found;
    cpm_detail_init(&found);
    int problems = cpm_pack_manifest_check(v->manifest, files, v->count, &found);
    for (int i = 0; i < found.count; i++)
        fail(v, found.faults[i].field, "%s", found.faults[i].message);
    v->failed += problems - found.count; /* those over the detail's cap */
    cpm_free(files);
}

/* True when the manifest lists name (then a missing file was reported already). */
static bool listed(const struct verify *v, const char *name)
{
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(v->manifest, "files"), i, f)
    {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

static void missing(struct verify *v, const char *name)
{
    if (!listed(v, name))
        fail(v, name, "is missing from the archive");
}

/* ---- 3. the key and the checkpoint ---- */

static bool load_key(struct verify *v, const char *key_arg)
{
    size_t len = 0;
    if (key_arg != NULL) {
        v->pinned = true;
        if (cpm__verify_read_vkey(key_arg, v->vkey, sizeof(v->vkey)))
            return true;
        fail(v, "--key", "cannot read the verifier key '%s'", key_arg);
        return false;
    }
    char *text = read_file(v, CPM_PACK_KEY, sizeof(v->vkey) + 2, &len);
    if (text == NULL) {
        missing(v, CPM_PACK_KEY);
        return false;
    }
    text[strcspn(text, "\r\n")] = '\0';
    cpm_strlcpy(v->vkey, text, sizeof(v->vkey));
    cpm_free(text);
    return true;
}

/* Verifies a signed checkpoint file with the key; false (reported) when it does not. */
static bool signed_checkpoint(struct verify *v, const char *name, char *origin, size_t origin_cap,
                              uint64_t *size, uint8_t root[32])
{
    size_t len = 0;
    const char *body = NULL;
    size_t body_len = 0;
    char *note = read_file(v, name, NOTE_BYTES_MAX, &len);
    bool ok = false;
    if (note == NULL)
        missing(v, name);
    else if (cpm_note_verify(note, len, v->vkey, &body, &body_len) != CPM_OK)
        fail(v, name, "its signature does not verify with key %s%s", v->vkey,
             v->pinned ? "" : " (the pack's own)");
    else if (cpm_checkpoint_parse(body, body_len, origin, origin_cap, size, root) != CPM_OK)
        fail(v, name, "is signed but is not a valid checkpoint");
    else
        ok = true;
    cpm_free(note);
    return ok;
}

static void check_checkpoint(struct verify *v)
{
    v->signed_ok =
        signed_checkpoint(v, CPM_PACK_CHECKPOINT, v->origin, sizeof(v->origin), &v->size, v->root);
    const json_t *ledger = json_object_get(v->manifest, "ledger");
    if (v->signed_ok &&
        json_integer_value(json_object_get(ledger, "tree_size")) != (json_int_t)v->size)
        fail(v, CPM_PACK_MANIFEST, "names tree size %lld, but the signed checkpoint has %llu",
             (long long)json_integer_value(json_object_get(ledger, "tree_size")),
             (unsigned long long)v->size);
}

/* ---- 4. events ---- */

static void index_notices(struct verify *v)
{
    v->notices = cpm_calloc(v->count ? v->count : 1, sizeof(*v->notices));
    for (size_t i = 0; v->notices != NULL && i < v->count; i++) {
        struct notice_file *n = &v->notices[v->notice_count];
        if (!cpm_pack_notice_path_parse(v->entries[i].file.name, n->notice, &n->version, n->locale))
            continue;
        cpm_pack_hex(v->entries[i].file.sha256, n->hex);
        v->notice_count++;
    }
}

/* The pack's notice file of (id, version) with hex, or any of them when hex is NULL. */
static const struct notice_file *find_notice(const struct verify *v, const char *id,
                                             int64_t version, bool document, const char *hex)
{
    for (size_t i = 0; id != NULL && i < v->notice_count; i++) {
        const struct notice_file *n = &v->notices[i];
        if (n->version == version && strcmp(n->notice, id) == 0 &&
            (n->locale[0] == '\0') == document && (hex == NULL || strcmp(n->hex, hex) == 0))
            return n;
    }
    return NULL;
}

/* The notice a leaf names: a text with the SHA-256 it quotes, or the version itself. */
static void check_leaf_notice(struct verify *v, int64_t seq, const json_t *leaf)
{
    const json_t *ref = json_object_get(leaf, "notice");
    const char *id = json_string_value(json_object_get(ref, "id"));
    json_int_t version = json_integer_value(json_object_get(ref, "version"));
    const char *sha = json_string_value(json_object_get(ref, "sha256"));
    const char *kind = json_string_value(json_object_get(leaf, "kind"));
    if (ref != NULL && sha != NULL && find_notice(v, id, version, false, sha) == NULL)
        fail(v, CPM_PACK_EVENTS,
             "event seq %lld refers to notice '%s' version %lld with SHA-256 %s, which no notice "
             "text in the pack has",
             (long long)seq, id ? id : "?", (long long)version, sha);
    else if (ref != NULL && sha == NULL && find_notice(v, id, version, true, NULL) == NULL)
        fail(v, CPM_PACK_EVENTS,
             "event seq %lld refers to notice '%s' version %lld, which the "
             "pack does not hold",
             (long long)seq, id ? id : "?", (long long)version);
    if (ref != NULL || kind == NULL || strcmp(kind, "notice") != 0 ||
        json_object_get(leaf, "version") == NULL)
        return;
    /* notice.published: the leaf hashes the stored version document */
    id = json_string_value(json_object_get(leaf, "doc"));
    version = json_integer_value(json_object_get(leaf, "version"));
    sha = json_string_value(json_object_get(leaf, "sha256"));
    if (sha == NULL || find_notice(v, id, version, true, sha) == NULL)
        fail(v, CPM_PACK_EVENTS,
             "event seq %lld publishes notice '%s' version %lld, whose document in the pack does "
             "not have the SHA-256 it quotes",
             (long long)seq, id ? id : "?", (long long)version);
}

static void check_leaf(struct verify *v, int64_t seq, const json_t *leaf)
{
    const char *subject = json_string_value(json_object_get(leaf, "subject"));
    const char *time_text = json_string_value(json_object_get(leaf, "time"));
    int64_t time_ms = 0;
    if (v->pseudonym != NULL && (subject == NULL || strcmp(subject, v->pseudonym) != 0))
        fail(v, CPM_PACK_EVENTS, "event seq %lld belongs to another subject", (long long)seq);
    if (v->ranged && (time_text == NULL || !cpm_time_parse(time_text, &time_ms) ||
                      time_ms < v->from_ms || time_ms >= v->to_ms))
        fail(v, CPM_PACK_EVENTS, "event seq %lld was recorded at %s, outside the pack's range",
             (long long)seq, time_text ? time_text : "(no time)");
    check_leaf_notice(v, seq, leaf);
}

static bool decode_hash(const json_t *value, uint8_t out[32])
{
    const char *text = json_string_value(value);
    size_t len = 0;
    return text != NULL &&
           sodium_base642bin(out, 32, text, strlen(text), NULL, &len, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
           len == 32;
}

/* Decodes a proof; false when it is not a list of at most CPM_MERKLE_PATH_MAX hashes. */
static bool decode_path(const json_t *list, uint8_t path[][32], size_t *len)
{
    *len = json_array_size(list);
    if (!json_is_array(list) || *len > CPM_MERKLE_PATH_MAX)
        return false;
    for (size_t i = 0; i < *len; i++)
        if (!decode_hash(json_array_get(list, i), path[i]))
            return false;
    return true;
}

/* The leaf's proof; then the leaf itself. */
static void check_event_line(struct verify *v, size_t line_no, const json_t *line)
{
    json_int_t seq = json_integer_value(json_object_get(line, "seq"));
    const char *leaf = json_string_value(json_object_get(line, "leaf"));
    uint8_t path[CPM_MERKLE_PATH_MAX][32], hash[32];
    size_t n = 0;
    if (seq < 1 || leaf == NULL ||
        !decode_path(json_object_get(line, "inclusion_path"), path, &n)) {
        fail(v, CPM_PACK_EVENTS, "line %zu is not {seq, leaf, inclusion_path}", line_no);
        return;
    }
    if (v->event_count == v->event_cap)
        return; /* more lines than the manifest declares: the count check names it */
    if (v->event_count > 0 && seq <= v->events[v->event_count - 1].seq) {
        fail(v, CPM_PACK_EVENTS, "line %zu: seq %lld does not follow the line before's", line_no,
             (long long)seq);
        return;
    }
    cpm_merkle_leaf_hash(leaf, strlen(leaf), hash);
    if (v->signed_ok && !cpm_merkle_verify_inclusion((uint64_t)seq - 1, v->size, hash,
                                                     (const uint8_t(*)[32])path, n, v->root))
        fail(v, CPM_PACK_EVENTS,
             "event seq %lld is not in the signed tree (its inclusion proof "
             "fails)",
             (long long)seq);
    json_t *doc = NULL;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    if (cpm_json_parse_object(leaf, strlen(leaf), &doc, &detail) != CPM_OK)
        fail(v, CPM_PACK_EVENTS, "event seq %lld: its leaf is not a JSON object", (long long)seq);
    else
        check_leaf(v, seq, doc);
    struct seen_event *e = &v->events[v->event_count++];
    e->seq = seq;
    cpm_strlcpy(e->id, or_text(json_string_value(json_object_get(doc, "id")), ""), sizeof(e->id));
    json_decref(doc);
}

/* ---- lines of an .ndjson file ---- */

struct lines {
    struct cpm_tar_reader r;
    char *buf; /* CPM_EVIDENCE_PACK_LINE_BYTES_MAX + READ_BLOCK */
    size_t len, start;
    bool eof;
    size_t number;
};

/* The next line (without its newline), NUL-terminated in place: 1, 0 at the end, -1 on failure. */
static int next_line(struct verify *v, const char *name, struct lines *l, char **line)
{
    for (;;) {
        char *nl = memchr(l->buf + l->start, '\n', l->len - l->start);
        if (nl != NULL || (l->eof && l->start < l->len)) {
            char *end = nl ? nl : l->buf + l->len;
            *end = '\0';
            *line = l->buf + l->start;
            l->start = (size_t)(end - l->buf) + (nl ? 1 : 0);
            l->number++;
            return 1;
        }
        if (l->eof)
            return 0;
        if (l->len - l->start >= CPM_EVIDENCE_PACK_LINE_BYTES_MAX) {
            fail(v, name, "line %zu is longer than %d bytes", l->number + 1,
                 CPM_EVIDENCE_PACK_LINE_BYTES_MAX);
            return -1;
        }
        memmove(l->buf, l->buf + l->start, l->len - l->start);
        l->len -= l->start;
        l->start = 0;
        size_t got = 0;
        if (cpm_tar_reader_read(&l->r, l->buf + l->len, READ_BLOCK, &got) != CPM_OK) {
            fail(v, name, "cannot be read");
            return -1;
        }
        l->len += got;
        l->eof = got == 0;
    }
}

typedef void (*line_fn)(struct verify *v, size_t line_no, const json_t *line);

/* Calls check on each line of the file as JSON; returns the number of lines. */
static size_t each_line(struct verify *v, const char *name, line_fn check)
{
    const struct entry *e = find(v, name);
    struct lines l = {.buf = cpm_malloc(CPM_EVIDENCE_PACK_LINE_BYTES_MAX + READ_BLOCK + 1)};
    char *line = NULL;
    if (e == NULL || l.buf == NULL) {
        if (e == NULL)
            missing(v, name);
        cpm_free(l.buf);
        return 0;
    }
    cpm_tar_reader_init(&l.r, v->in);
    if (cpm_tar_reader_reopen(&l.r, e->offset, e->file.bytes) != CPM_OK)
        fail(v, name, "cannot be read");
    else
        while (next_line(v, name, &l, &line) > 0) {
            json_t *doc = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
            if (json_is_object(doc))
                check(v, l.number, doc);
            else
                fail(v, name, "line %zu is not a JSON object", l.number);
            json_decref(doc);
        }
    cpm_free(l.buf);
    return l.number;
}

static void count_matches(struct verify *v, const char *part, size_t count)
{
    const json_t *declared = json_object_get(json_object_get(v->manifest, part), "count");
    if (json_integer_value(declared) != (json_int_t)count)
        fail(v, CPM_PACK_MANIFEST, "says %s holds %lld, but it has %zu", part,
             (long long)json_integer_value(declared), count);
}

static void check_scope(struct verify *v)
{
    const json_t *scope = json_object_get(v->manifest, "scope");
    const char *from = json_string_value(json_object_get(scope, "from"));
    const char *to = json_string_value(json_object_get(scope, "to"));
    v->pseudonym = json_string_value(json_object_get(scope, "subject_pseudonym"));
    if (json_object_get(scope, "subject") != NULL && v->pseudonym == NULL)
        fail(v, CPM_PACK_MANIFEST, "names a subject without its pseudonym");
    if (from == NULL && to == NULL)
        return;
    v->ranged = from != NULL && to != NULL && cpm_time_parse(from, &v->from_ms) &&
                cpm_time_parse(to, &v->to_ms);
    if (!v->ranged)
        fail(v, CPM_PACK_MANIFEST, "has a malformed time range");
}

static void check_events(struct verify *v)
{
    json_int_t declared =
        json_integer_value(json_object_get(json_object_get(v->manifest, "events"), "count"));
    if (declared < 0 || declared > CPM_EVIDENCE_PACK_EVENTS_MAX_MAX) {
        fail(v, CPM_PACK_MANIFEST, "declares %lld events; a pack holds 0 to %d",
             (long long)declared, CPM_EVIDENCE_PACK_EVENTS_MAX_MAX);
        return;
    }
    v->event_cap = (size_t)declared;
    v->events = cpm_calloc(v->event_cap + 1, sizeof(*v->events));
    if (v->events == NULL) {
        fail(v, CPM_PACK_EVENTS, "cannot be checked: out of memory");
        return;
    }
    count_matches(v, "events", each_line(v, CPM_PACK_EVENTS, check_event_line));
}

/* ---- 5. deliveries ---- */

static const struct seen_event *find_event(const struct verify *v, int64_t seq)
{
    size_t lo = 0, hi = v->event_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->events[mid].seq == seq)
            return &v->events[mid];
        if (v->events[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void check_delivery_line(struct verify *v, size_t line_no, const json_t *line)
{
    json_int_t seq = json_integer_value(json_object_get(line, "seq"));
    const char *event_id = json_string_value(json_object_get(line, "event_id"));
    const struct seen_event *e = find_event(v, seq);
    v->deliveries++;
    if (event_id == NULL || json_string_value(json_object_get(line, "destination")) == NULL ||
        json_string_value(json_object_get(line, "outcome")) == NULL)
        fail(v, CPM_PACK_DELIVERIES, "line %zu is not a delivery log row", line_no);
    else if (e == NULL)
        fail(v, CPM_PACK_DELIVERIES, "line %zu names event seq %lld, which is not in the pack",
             line_no, (long long)seq);
    else if (strcmp(e->id, event_id) != 0)
        fail(v, CPM_PACK_DELIVERIES, "line %zu names event %s, but seq %lld is event %s", line_no,
             event_id, (long long)seq, e->id);
}

/* ---- 6. the prior checkpoint ---- */

static void check_prior(struct verify *v)
{
    if (!json_is_object(json_object_get(v->manifest, "prior")) &&
        find(v, CPM_PACK_PRIOR_CHECKPOINT) == NULL)
        return;
    char origin[CPM_ORIGIN_BYTES_MAX];
    uint64_t size1 = 0;
    uint8_t root1[32], path[CPM_MERKLE_PATH_MAX][32];
    size_t len = 0, n = 0;
    if (!signed_checkpoint(v, CPM_PACK_PRIOR_CHECKPOINT, origin, sizeof(origin), &size1, root1) ||
        !v->signed_ok)
        return;
    char *text = read_file(v, CPM_PACK_CONSISTENCY, CPM_EVIDENCE_PACK_JSON_BYTES_MAX, &len);
    json_t *doc = text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (text == NULL)
        missing(v, CPM_PACK_CONSISTENCY);
    else if (doc == NULL || !decode_path(json_object_get(doc, "path"), path, &n) ||
             json_integer_value(json_object_get(doc, "from_size")) != (json_int_t)size1 ||
             json_integer_value(json_object_get(doc, "to_size")) != (json_int_t)v->size)
        fail(v, CPM_PACK_CONSISTENCY, "is not a proof from size %llu to size %llu",
             (unsigned long long)size1, (unsigned long long)v->size);
    else if (strcmp(origin, v->origin) != 0 ||
             !cpm_merkle_verify_consistency(size1, v->size, root1, v->root,
                                            (const uint8_t(*)[32])path, n))
        fail(v, CPM_PACK_CONSISTENCY,
             "the log at tree size %llu does not extend the prior checkpoint of size %llu (the "
             "consistency proof fails)",
             (unsigned long long)v->size, (unsigned long long)size1);
    json_decref(doc);
    cpm_free(text);
}

/* ---- the report ---- */

static void report_ok(const struct verify *v)
{
    const json_t *scope = json_object_get(v->manifest, "scope");
    const char *subject = json_string_value(json_object_get(scope, "subject"));
    printf("evidence pack %s (%s, generated %s by %s)\n", v->path, CPM_PACK_FORMAT,
           or_text(json_string_value(json_object_get(v->manifest, "generated_at")), "?"),
           or_text(json_string_value(json_object_get(v->manifest, "generator")), "?"));
    printf("  ok  manifest.json: %zu files, each with the SHA-256 it lists\n", v->count - 1);
    printf("  ok  checkpoint.txt: log %s, tree size %llu, signed by %s\n", v->origin,
           (unsigned long long)v->size, v->pinned ? "the key given (--key)" : "the pack's own key");
    printf("  ok  events.ndjson: %zu events, each in the signed tree (inclusion proofs)\n",
           v->event_count);
    printf("  ok  notices: %zu files; every notice a leaf refers to is here with its SHA-256\n",
           v->notice_count);
    printf("  ok  deliveries.ndjson: %lld rows, each naming an event of the pack\n",
           (long long)v->deliveries);
    if (json_is_object(json_object_get(v->manifest, "prior")))
        printf("  ok  consistency.json: the log only grew since the prior checkpoint\n");
    if (subject != NULL)
        printf("verified: %zu events of subject %s are in log %s at tree size %llu\n",
               v->event_count, subject, v->origin, (unsigned long long)v->size);
    else
        printf("verified: %zu events recorded from %s to %s are in log %s at tree size %llu\n",
               v->event_count, or_text(json_string_value(json_object_get(scope, "from")), "?"),
               or_text(json_string_value(json_object_get(scope, "to")), "?"), v->origin,
               (unsigned long long)v->size);
    if (!v->pinned)
        printf("note: checked with the pack's own key (ledger-key.txt), which proves the pack is "
               "intact, not whose ledger it is: pin the ledger's key with --key\n");
}

static int report(const struct verify *v)
{
    if (v->failed == 0) {
        report_ok(v);
        return CPM_EXIT_OK;
    }
    for (int i = 0; i < v->failures.count; i++)
        fprintf(stderr, "cpm verify: FAILED: %s%s%s\n", v->failures.faults[i].field,
                v->failures.faults[i].field[0] ? ": " : "", v->failures.faults[i].message);
    if (v->failed > v->failures.count)
        fprintf(stderr, "cpm verify: … and %d more failures\n", v->failed - v->failures.count);
    fprintf(stderr, "cpm verify: %s does not verify (%d failure%s)\n", v->path, v->failed,
            v->failed == 1 ? "" : "s");
    return CPM_EXIT_FAILURE;
}

static void check_all(struct verify *v, const char *key_arg)
{
    if (!index_archive(v) || !load_manifest(v))
        return;
    check_manifest(v);
    check_scope(v);
    if (load_key(v, key_arg))
        check_checkpoint(v);
    index_notices(v);
    check_events(v);
    size_t rows = each_line(v, CPM_PACK_DELIVERIES, check_delivery_line);
    count_matches(v, "deliveries", rows);
    check_prior(v);
}

int cpm__verify_pack(const char *path, const char *key_arg)
{
    struct verify v = {.path = path};
    cpm_detail_init(&v.failures);
    v.in = fopen(path, "rb");
    v.entries = cpm_calloc(CPM_EVIDENCE_PACK_FILES_MAX, sizeof(*v.entries));
    if (v.in == NULL)
        fail(&v, path, "cannot be opened: %s", strerror(errno));
    else if (v.entries == NULL)
        fail(&v, path, "cannot be checked: out of memory");
    else
        check_all(&v, key_arg);
    int status = report(&v);
    if (v.in != NULL)
        fclose(v.in);
    json_decref(v.manifest);
    cpm_free(v.entries);
    cpm_free(v.notices);
    cpm_free(v.events);
    return status;
}
