/* SPDX-License-Identifier: Apache-2.0 */
/*
 * import.c — `cpm import`: consents a company recorded in another system,
 * each row one decision with its original time, into the ledger
 * (docs/IMPORT-EXPORT.md).
 *
 * One pass over the file. Each row is checked — its values, the consent
 * rules against the stored configuration, its subject (not erased),
 * duplicates within the file — and, while every row before it was good,
 * its event is built as the API would build it (method `import`, the
 * original time, when it was imported) and handed to the ledger's writer
 * in chunks, in file order: the ledger's order is the file's. The writer
 * writes the chunks while the next rows are checked (the two cores), all
 * into one transaction (the store's bulk load), committed only once the
 * last row is checked: a file with a bad row is refused whole, every bad
 * line named, and nothing of it is written; an import that stops for any
 * reason leaves the store as it was.
 *
 * A row's event id is a keyed hash of its identity (subject, purpose,
 * recipient, time, decision, source_id), so a re-run finds the rows it
 * imported and skips them, and the store's unique event ids make a second
 * copy impossible. A subject's consent state follows its newest decision
 * by time: an imported decision older than the one that stands (a live
 * one, or a newer row) joins the history only. A row that is the newest
 * of its consent so far sets the state (a later, newer row replaces it in
 * the same transaction), so no second look at the file is needed.
 *
 * The data directory's writer lock keeps the other writer, cpmd, out while
 * an import writes; --dry-run only reads and may run beside it.
 */
#include "core/common.h"

#include <pthread.h>
#include <sodium.h>
#include <sys/statvfs.h>

#include "api/subject_keys.h"
#include "cli/cli.h"
#include "cli/import.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/keymap.h"
#include "crypto/random_id.h"
#include "domain/subject.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "store/checkpointer.h"
#include "store/config_writer.h"
#include "store/datadir.h"
#include "store/ledger_check.h"
#include "store/writer.h"

#define PROGRESS_EVERY_ROWS 1024

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cpm import [--data DIR] [--dry-run] [--format csv|ndjson] [--progress] FILE\n\n"
            "Records decisions made in another system, one a row with its original time, in\n"
            "the ledger (method import). FILE is CSV with a header row or NDJSON (by its\n"
            "extension, else --format); - reads standard input. Every row is checked first:\n"
            "with any bad row nothing is written and every bad line is named. Rows imported\n"
            "before are skipped. cpmd must be stopped (--dry-run may run beside it).\n"
            "docs/IMPORT-EXPORT.md describes the columns.\n");
}

struct import_args {
    const char *data, *path, *format;
    bool dry_run, progress;
};

/* What the first pass learnt of a subject. */
enum { SUBJECT_NEW = 1, SUBJECT_EXISTS, SUBJECT_ERASED };
struct subject_entry {
    uint8_t status;
    bool child;   /* under 14: the rules want a guardian, whom an import cannot name */
    bool created; /* second pass: added to a chunk already */
    uint8_t padding[5];
};

/* A subject's consent on a purpose (and recipient): the stored decision and the file's newest. */
struct state_entry {
    int64_t stored_ms;    /* the decision time of the stored state; -1: none */
    int64_t newest_ms;    /* the newest row's time */
    uint64_t newest_line; /* 0: no row yet */
    bool set;             /* a row of the file set the state (counted once) */
    uint8_t padding[7];
};

/* One writer submission of up to CPM_IMPORT_CHUNK_ROWS rows, in the bulk load's transaction. */
struct chunk {
    struct cpm_write_request req;
    struct import *im;
    bool busy; /* submitted, not yet committed (under im->lock) */
    size_t events, states, subjects;
    struct cpm_event event[CPM_IMPORT_CHUNK_ROWS];
    uint8_t leaf_hash[CPM_IMPORT_CHUNK_ROWS][CPM_HASH_BYTES];
    struct cpm_consent_state state[CPM_IMPORT_CHUNK_ROWS];
    struct cpm_subject subject[CPM_IMPORT_CHUNK_ROWS];
};

struct import {
    struct import_args args;
    const char *data;
    struct cpm__import_input in;
    struct cpm_store *store;
    struct cpm_keyring kr;
    /* cpm_identifier_hash's HMAC keyed and fed its type, once: rows only add their value */
    crypto_auth_hmacsha256_state row_mac, source_mac;
    char origin[CPM_ORIGIN_BYTES_MAX], vkey[CPM_VKEY_BYTES_MAX];
    int lock_fd;
    struct cpm_config_cache cache;
    struct cpm_config_lookup lookup;
    json_t *policies;
    int64_t now_ms;
    char action_id[CPM_EVENT_ID_BYTES];                /* the import run: every leaf's `action` */
    struct cpm_keymap rows, sources, subjects, states; /* rows: identity → its line */
    char last_subject[CPM_SUBJECT_ID_BYTES_MAX + 1];   /* the last event's, and its pseudonym */
    char last_pseudonym[CPM_PSEUDONYM_BYTES];
    struct cpm_cli_progress progress;
    /* counts */
    uint64_t rows_read, bad_lines, skipped, new_subjects, states_set, history_only;
    uint64_t decisions[3]; /* given, refused, withdrawn */
    /* writing */
    struct cpm_writer *writer; /* NULL on a dry run */
    struct cpm_checkpointer *checkpointer;
    struct chunk *chunks[2];
    int current;
    pthread_mutex_t lock;
    pthread_cond_t done;
    cpm_err failed; /* the first commit that failed */
    uint64_t written;
    bool committed; /* the bulk load's transaction is in */
};

/* ---- small helpers ---- */

static void hash16(const char *text, size_t len, uint8_t out[CPM_KEYMAP_KEY_BYTES])
{
    crypto_generichash(out, CPM_KEYMAP_KEY_BYTES, (const unsigned char *)text, len, NULL, 0);
}

static void subject_key(const char *subject, uint8_t out[CPM_KEYMAP_KEY_BYTES])
{
    hash16(subject, strlen(subject), out);
}

static void state_key(const char *subject, const char *purpose, const char *recipient,
                      uint8_t out[CPM_KEYMAP_KEY_BYTES])
{
    char text[CPM_SUBJECT_ID_BYTES_MAX + 2 * CPM_ID_BYTES_MAX + 4];
    int n = snprintf(text, sizeof(text), "%s\x1f%s\x1f%s", subject, purpose,
                     recipient ? recipient : "");
    hash16(text, (size_t)n, out);
}

/*
 * cpm_identifier_hash(kr, type, value) is HMAC(identifier key, type ‖ 0x00
 * ‖ value): the HMAC's two key blocks and the type are hashed once here,
 * and each row copies the state (a row needs two: its identity, its
 * source). Checked against cpm_identifier_hash before use: false if they
 * disagree.
 */
static bool identifier_mac_init(struct import *im, const char *type,
                                crypto_auth_hmacsha256_state *st)
{
    uint8_t mine[CPM_IDENTIFIER_HASH_BYTES], theirs[CPM_IDENTIFIER_HASH_BYTES];
    crypto_auth_hmacsha256_state probe;
    crypto_auth_hmacsha256_init(st, im->kr.identifier_key, sizeof(im->kr.identifier_key));
    crypto_auth_hmacsha256_update(st, (const uint8_t *)type, strlen(type) + 1); /* and its NUL */
    probe = *st;
    crypto_auth_hmacsha256_update(&probe, (const uint8_t *)"probe", 5);
    crypto_auth_hmacsha256_final(&probe, mine);
    cpm_identifier_hash(&im->kr, type, "probe", theirs);
    sodium_memzero(&probe, sizeof(probe));
    return sodium_memcmp(mine, theirs, sizeof(mine)) == 0;
}

static void identifier_mac(const crypto_auth_hmacsha256_state *keyed, const char *value,
                           uint8_t out[CPM_IDENTIFIER_HASH_BYTES])
{
    crypto_auth_hmacsha256_state st = *keyed;
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)value, strlen(value));
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

/* The row's identity, keyed: its map key and its event id ("evt_" + 32 hex). */
static void row_identity(const struct import *im, const struct cpm_import_record *r,
                         uint8_t key[CPM_IDENTIFIER_HASH_BYTES], char id[CPM_EVENT_ID_BYTES])
{
    char text[CPM_IMPORT_KEY_TEXT_BYTES];
    cpm_import_key_text(r, text, sizeof(text));
    identifier_mac(&im->row_mac, text, key); /* cpm_identifier_hash(kr, "import", text) */
    memcpy(id, "evt_", 4);
    sodium_bin2hex(id + 4, CPM_EVENT_ID_BYTES - 4, key, 16);
}

static int decision_index(const char *decision)
{
    return decision[0] == 'g' ? 0 : decision[0] == 'r' ? 1 : 2;
}

/* Prints a bad line's faults (the first CPM_IMPORT_BAD_LINES_SHOWN lines), and counts it. */
static void report_line(struct import *im, uint64_t line, const struct cpm_detail *d)
{
    if (++im->bad_lines > CPM_IMPORT_BAD_LINES_SHOWN)
        return;
    cpm_cli_progress_clear(&im->progress);
    for (int i = 0; i < d->count; i++)
        fprintf(stderr, "cpm import: %s:%llu: %s%s%s\n", im->in.name, (unsigned long long)line,
                d->faults[i].field, d->faults[i].field[0] ? ": " : "", d->faults[i].message);
    if (d->dropped)
        fprintf(stderr, "cpm import: %s:%llu: … and %d more faults\n", im->in.name,
                (unsigned long long)line, d->dropped);
}

/* ---- the checks (both passes) ---- */

/* Loads a stored subject's consent states: a row must be newer than its state to replace it. */
static cpm_err note_stored_state(void *ctx, const struct cpm_consent_state *s)
{
    struct import *im = ctx;
    uint8_t key[CPM_KEYMAP_KEY_BYTES];
    bool added;
    state_key(s->subject_id, s->purpose, s->recipient, key);
    struct state_entry *e = cpm_keymap_put(&im->states, key, &added);
    if (e == NULL)
        return CPM_ERR_NOMEM;
    e->stored_ms = s->decided_ms;
    return CPM_OK;
}

/* What the store knows of the row's subject, read once per subject. */
static cpm_err look_up_subject(struct import *im, const char *id, struct subject_entry **out)
{
    uint8_t key[CPM_KEYMAP_KEY_BYTES];
    bool added;
    subject_key(id, key);
    struct subject_entry *e = cpm_keymap_put(&im->subjects, key, &added);
    *out = e;
    if (e == NULL)
        return CPM_ERR_NOMEM;
    if (!added)
        return CPM_OK;
    struct cpm_subject s;
    cpm_err err = im->store->ops->subject_get(im->store, id, &s);
    e->status = SUBJECT_NEW;
    if (err != CPM_OK)
        return err == CPM_ERR_NOT_FOUND ? CPM_OK : err;
    e->status = s.erased_ms != 0 ? SUBJECT_ERASED : SUBJECT_EXISTS;
    e->child = strcmp(s.age_status, CPM_AGE_STATUS_CHILD_UNDER_14) == 0;
    return e->status == SUBJECT_EXISTS
               ? im->store->ops->consent_state_list(im->store, id, note_stored_state, im)
               : CPM_OK;
}

/* The consent rules on the row's action; *sha256 gets the hash of the text the person saw. */
static cpm_err check_rules(struct import *im, const struct cpm_import_record *r,
                           const struct subject_entry *subject, const char **sha256,
                           struct cpm_detail *d)
{
    const json_t *version = NULL;
    *sha256 = NULL;
    cpm_err err = CPM_OK;
    if (r->notice_id != NULL)
        err =
            cpm_config_notice_version_cached(im->store, r->notice_id, r->notice_version, &version);
    if (err != CPM_OK && err != CPM_ERR_NOT_FOUND)
        return err;
    const json_t *text = json_object_get(json_object_get(version, "content"), r->locale);
    *sha256 = json_string_value(json_object_get(text, "sha256"));
    struct cpm_consent_action a;
    cpm_import_action(r, *sha256, &a);
    struct cpm_consent_subject facts = {.age_status =
                                            subject->child ? CPM_AGE_STATUS_CHILD_UNDER_14 : NULL};
    err = cpm_consent_check(&a, &im->lookup, version, &facts, d);
    cpm_import_rename_faults(d);
    if (subject->status == SUBJECT_ERASED)
        cpm_detail_add(d, "subject", "was erased: nothing more is recorded for it (PIPL Art. 47)");
    return err == CPM_ERR_VALIDATION ? CPM_OK : err;
}

/*
 * A good row: duplicates, imported before (*skipped), the newest decision
 * per consent (*state: the row's consent); id gets its event id.
 */
static cpm_err note_row(struct import *im, const struct cpm_import_record *r, uint64_t line,
                        const struct subject_entry *subject, char id[CPM_EVENT_ID_BYTES],
                        bool *skipped, struct state_entry **state, struct cpm_detail *d)
{
    uint8_t key[CPM_IDENTIFIER_HASH_BYTES], source[CPM_KEYMAP_KEY_BYTES];
    bool added, exists = false;
    row_identity(im, r, key, id);
    uint64_t *first = cpm_keymap_put(&im->rows, key, &added);
    if (first == NULL)
        return im->rows.count == im->rows.count_max ? CPM_ERR_TOO_LARGE : CPM_ERR_NOMEM;
    if (!added) {
        cpm_detail_add(d, "",
                       "repeats line %llu: the same subject, purpose, recipient, time, decision "
                       "and source_id",
                       (unsigned long long)*first);
        return CPM_OK;
    }
    *first = line;
    if (r->source_id != NULL) {
        hash16(r->source_id, strlen(r->source_id), source);
        uint64_t *source_line = cpm_keymap_put(&im->sources, source, &added);
        if (source_line == NULL)
            return CPM_ERR_NOMEM;
        if (!added)
            cpm_detail_add(d, "source_id", "is on line %llu too", (unsigned long long)*source_line);
        else
            *source_line = line;
    }
    cpm_err err = subject->status == SUBJECT_EXISTS
                      ? im->store->ops->event_id_exists(im->store, id, &exists)
                      : CPM_OK;
    *skipped = exists;
    im->skipped += exists;
    if (err != CPM_OK || exists)
        return err;
    state_key(r->subject, r->purpose, r->recipient, key);
    struct state_entry *st = cpm_keymap_put(&im->states, key, &added);
    if (st == NULL)
        return CPM_ERR_NOMEM;
    if (added)
        st->stored_ms = -1;
    if (st->newest_line == 0 || r->time_ms >= st->newest_ms) { /* a tie: the later row */
        st->newest_ms = r->time_ms;
        st->newest_line = line;
    }
    *state = st;
    return CPM_OK;
}

/* ---- writing: chunks for the writer ---- */

static void chunk_done(struct cpm_write_request *req)
{
    struct chunk *c = req->ctx;
    struct import *im = c->im;
    pthread_mutex_lock(&im->lock);
    if (req->result != CPM_OK && im->failed == CPM_OK)
        im->failed = req->result;
    else if (req->result == CPM_OK)
        im->written += c->events;
    c->busy = false;
    pthread_cond_broadcast(&im->done);
    pthread_mutex_unlock(&im->lock);
}

static void chunk_reset(struct chunk *c)
{
    for (size_t i = 0; i < c->events; i++)
        cpm_free(c->event[i].leaf);
    c->events = c->states = c->subjects = 0;
}

/*
 * Hands the current chunk to the writer (a dry run only counts it), once
 * the one before it is written: one chunk is written while the next is
 * built, in file order, and none after one that failed (which dropped the
 * whole load).
 */
static cpm_err flush(struct import *im)
{
    struct chunk *c = im->chunks[im->current], *before = im->chunks[im->current ^ 1];
    pthread_mutex_lock(&im->lock);
    while (before->busy)
        pthread_cond_wait(&im->done, &im->lock);
    cpm_err err = im->failed;
    c->busy = err == CPM_OK && c->events > 0 && im->writer != NULL;
    pthread_mutex_unlock(&im->lock);
    chunk_reset(before);
    if (err != CPM_OK || c->events == 0)
        return err;
    if (im->writer == NULL) {
        im->written += c->events;
        chunk_reset(c);
        return CPM_OK;
    }
    c->req = (struct cpm_write_request){
        .subjects = c->subject,
        .subject_count = c->subjects,
        .events = c->event,
        .event_count = c->events,
        .leaf_hashes = (const uint8_t(*)[CPM_HASH_BYTES])c->leaf_hash,
        .states = c->state,
        .state_count = c->states,
        .on_done = chunk_done,
        .ctx = c,
    };
    err = cpm_writer_submit_async(im->writer, &c->req);
    if (err != CPM_OK) { /* never queued: chunk_done will not run */
        pthread_mutex_lock(&im->lock);
        c->busy = false;
        pthread_mutex_unlock(&im->lock);
        return err;
    }
    im->current ^= 1;
    return CPM_OK;
}

/* Hands over the last chunk and waits until nothing is being committed. */
static cpm_err drain(struct import *im)
{
    cpm_err err = flush(im);
    pthread_mutex_lock(&im->lock);
    while (im->chunks[0]->busy || im->chunks[1]->busy)
        pthread_cond_wait(&im->done, &im->lock);
    err = err != CPM_OK ? err : im->failed;
    pthread_mutex_unlock(&im->lock);
    return err;
}

/* A new subject goes into the chunk before its first event. */
static cpm_err add_subject(struct import *im, struct chunk *c, const char *id,
                           struct subject_entry *subject)
{
    if (subject->status != SUBJECT_NEW || subject->created)
        return CPM_OK;
    uint8_t data_key[CPM_DATA_KEY_BYTES];
    cpm_err err =
        cpm_api_subject_prepare(&im->kr, id, im->now_ms, &c->subject[c->subjects], data_key);
    sodium_memzero(data_key, sizeof(data_key));
    if (err == CPM_OK) {
        c->subjects++;
        subject->created = true;
        im->new_subjects++;
    }
    return err;
}

/*
 * The row's consent state, when it is the newest decision of its consent
 * so far and newer than the stored one: a newer row later in the file sets
 * it again, after this one, in the same transaction.
 */
static void add_state(struct import *im, struct chunk *c, const struct cpm_import_record *r,
                      uint64_t line, struct state_entry *st)
{
    if (st->newest_line != line || st->newest_ms <= st->stored_ms)
        return;
    if (!st->set)
        im->states_set++; /* each consent once; the other rows join the history only */
    st->set = true;
    struct cpm_consent_state *s = &c->state[c->states++];
    memset(s, 0, sizeof(*s));
    cpm_strlcpy(s->subject_id, r->subject, sizeof(s->subject_id));
    cpm_strlcpy(s->purpose, r->purpose, sizeof(s->purpose));
    cpm_strlcpy(s->recipient, r->recipient ? r->recipient : "", sizeof(s->recipient));
    cpm_strlcpy(s->status, r->decision, sizeof(s->status));
    cpm_strlcpy(s->notice, r->notice_id ? r->notice_id : "", sizeof(s->notice));
    s->notice_version = r->notice_id ? r->notice_version : 0;
    s->decided_ms = r->time_ms;
    struct cpm_consent_times t = {.expires_ms = r->expires_ms};
    cpm_consent_policy_times(cpm_policy_select(im->policies, r->region, r->property), r->decision,
                             r->time_ms, &t);
    s->expires_ms = t.expires_ms;
    s->remind_ms = t.expires_ms > im->now_ms ? t.remind_ms : 0; /* lapsed: it just expires */
    s->ask_again_ms = t.ask_again_ms;
    s->seq = (int64_t)c->events; /* the chunk's event just added, 1-based */
}

/* The row's event, built as the API builds a consent's. */
static cpm_err add_event(struct import *im, struct chunk *c, const struct cpm_import_record *r,
                         const char *id, const char *sha256)
{
    struct cpm_event *e = &c->event[c->events];
    char source[2 * CPM_IDENTIFIER_HASH_BYTES + 1];
    uint8_t source_hash[CPM_IDENTIFIER_HASH_BYTES];
    memset(e, 0, sizeof(*e));
    cpm_strlcpy(e->id, id, sizeof(e->id));
    cpm_strlcpy(e->type, cpm_consent_event_type(r->decision), sizeof(e->type));
    cpm_strlcpy(e->subject_id, r->subject, sizeof(e->subject_id));
    cpm_strlcpy(e->purpose, r->purpose, sizeof(e->purpose));
    e->time_ms = r->time_ms;
    cpm_strlcpy(e->region, r->region ? r->region : "", sizeof(e->region)); /* for reports */
    if (strcmp(r->subject, im->last_subject) != 0) { /* rows of a subject come together, often */
        cpm_strlcpy(im->last_subject, r->subject, sizeof(im->last_subject));
        cpm_subject_pseudonym(&im->kr, r->subject, im->last_pseudonym);
    }
    if (r->source_id != NULL) {
        identifier_mac(&im->source_mac, r->source_id, source_hash); /* "import-source" */
        sodium_bin2hex(source, sizeof(source), source_hash, sizeof(source_hash));
    }
    struct cpm_consent_action a;
    cpm_import_action(r, sha256, &a);
    struct cpm_consent_leaf_info info = {
        .event_id = id,
        .action_id = im->action_id,
        .subject_pseudonym = im->last_pseudonym,
        .time_ms = r->time_ms,
        .imported_ms = im->now_ms,
        .import_source = r->source_id ? source : NULL,
    };
    e->leaf = cpm_consent_leaf(&a, 0, &info, &e->leaf_len);
    if (e->leaf == NULL)
        return CPM_ERR_NOMEM;
    cpm_merkle_leaf_hash(e->leaf, e->leaf_len, c->leaf_hash[c->events]); /* not on the writer */
    c->events++;
    im->decisions[decision_index(r->decision)]++;
    return CPM_OK;
}

/*
 * A good row, new to the store, while every row before it was good: its
 * subject (when new), event and state go into the current chunk.
 */
static cpm_err write_row(struct import *im, const struct cpm_import_record *r, uint64_t line,
                         struct subject_entry *subject, const char *id, const char *sha256,
                         struct state_entry *st)
{
    struct chunk *c = im->chunks[im->current];
    cpm_err err = add_subject(im, c, r->subject, subject);
    if (err == CPM_OK)
        err = add_event(im, c, r, id, sha256);
    if (err == CPM_OK)
        add_state(im, c, r, line, st);
    if (err == CPM_OK && c->events == CPM_IMPORT_CHUNK_ROWS)
        err = flush(im);
    return err;
}

/* ---- the passes ---- */

/* One row; a store failure is returned, the row's faults go to d. */
static cpm_err take_row(struct import *im, json_t *row, uint64_t line, struct cpm_detail *d)
{
    struct cpm_import_record r;
    struct subject_entry *subject = NULL;
    struct state_entry *st = NULL;
    const char *sha256;
    char id[CPM_EVENT_ID_BYTES];
    bool skipped = false;
    if (im->rows_read == CPM_IMPORT_ROWS_MAX)
        return CPM_ERR_TOO_LARGE;
    im->rows_read++;
    if (row == NULL || cpm_import_row_parse(row, im->now_ms, &r, d) != CPM_OK)
        return CPM_OK;
    cpm_err err = look_up_subject(im, r.subject, &subject);
    if (err == CPM_OK)
        err = check_rules(im, &r, subject, &sha256, d);
    if (err == CPM_OK && d->count == 0)
        err = note_row(im, &r, line, subject, id, &skipped, &st, d);
    if (err != CPM_OK || d->count > 0 || skipped || im->bad_lines > 0)
        return err; /* after a bad line, only checks: nothing will be written */
    return write_row(im, &r, line, subject, id, sha256, st);
}

/* Reads the whole input once, each row to take_row. */
static cpm_err pass(struct import *im)
{
    const char *phase = im->args.dry_run ? "checking" : "importing";
    struct cpm_detail d;
    cpm_detail_init(&d);
    cpm_err err = cpm__import_input_start(&im->in, &d);
    if (err == CPM_ERR_VALIDATION)
        report_line(im, 1, &d);
    size_t rows = 0;
    while (err == CPM_OK) {
        json_t *row = NULL;
        uint64_t line = 0, digest = 0;
        cpm_detail_init(&d);
        err = cpm__import_input_next(&im->in, &row, &line, &digest, &d);
        if (err == CPM_OK)
            err = take_row(im, row, line, &d);
        if (err == CPM_OK && d.count > 0)
            report_line(im, line, &d);
        json_decref(row);
        if (err == CPM_OK && ++rows % PROGRESS_EVERY_ROWS == 0)
            cpm_cli_progress_tick(&im->progress, phase, rows);
    }
    cpm_cli_progress_end(&im->progress);
    return err == CPM_ERR_NOT_FOUND ? CPM_OK : err;
}

/* ---- set-up and the run ---- */

static cpm_err start_writing(struct import *im, struct cpm_detail *d)
{
    for (int i = 0; i < 2; i++) {
        im->chunks[i] = cpm_calloc(1, sizeof(struct chunk));
        if (im->chunks[i] == NULL)
            return CPM_ERR_NOMEM;
        im->chunks[i]->im = im;
    }
    cpm_err err = cpm_config_policies_cached(im->store, &im->policies);
    if (err != CPM_OK || im->args.dry_run)
        return err;
    err = cpm_writer_start(im->store, NULL, NULL, &im->writer); /* the tree head, committed */
    if (err == CPM_OK)
        err = im->store->ops->bulk_load(im->store, true);
    if (err != CPM_OK)
        cpm_detail_add(d, "", "cannot start writing the ledger");
    return err;
}

/*
 * After the pass: the last chunk written, then the whole load committed
 * (durable) when every row was good, else dropped. Then the checkpointer
 * signs the new head (at release): never a head that was not committed.
 */
static cpm_err finish_writing(struct import *im, cpm_err err)
{
    if (im->bad_lines > 0 && im->chunks[0] && im->chunks[1])
        chunk_reset(im->chunks[im->current]); /* dropped anyway */
    cpm_err drained = im->chunks[0] && im->chunks[1] ? drain(im) : CPM_OK;
    err = err != CPM_OK ? err : drained;
    if (im->writer == NULL)
        return err;
    if (err == CPM_OK && im->bad_lines == 0)
        err = im->store->ops->bulk_load(im->store, false);
    else
        im->store->ops->bulk_abort(im->store);
    if (err != CPM_OK || im->bad_lines > 0) {
        im->written = 0;
        return err;
    }
    im->committed = true;
    err = cpm_checkpointer_start(im->store, im->writer, im->origin,
                                 cpm_keyring_signing_seed(&im->kr), &im->checkpointer);
    return err;
}

/*
 * The store grows by about 13 times the input's size (events, tree nodes,
 * states, their indexes: 1.1 GB for an 85 MB file of 1 M rows), and the WAL
 * by as much again until the one commit: warn before starting when the data
 * directory's file system has less free (docs/IMPORT-EXPORT.md).
 */
#define GROWTH_PER_INPUT_BYTE 15

static void warn_disk_space(const struct import *im)
{
    struct statvfs fs;
    if (statvfs(im->data, &fs) != 0 || im->in.st.st_size <= 0)
        return;
    double need = (double)im->in.st.st_size * GROWTH_PER_INPUT_BYTE * 2 / 1e6;
    double have = (double)fs.f_bavail * (double)fs.f_frsize / 1e6;
    if (have < need)
        fprintf(stderr,
                "cpm import: warning: %s has %.0f MB free; this import may need about %.0f MB "
                "(the store's growth, and the WAL as large until the import commits)\n",
                im->data, have, need);
}

/* Keys, the writer lock (not on a dry run), the store, and the ledger's integrity. */
static cpm_err open_data(struct import *im, struct cpm_detail *d)
{
    struct cpm_datadir_keys keys;
    cpm_err err = cpm_datadir_load_keys(im->data, &keys, d);
    if (err == CPM_OK)
        err = cpm_keyring_init(&im->kr, &keys);
    cpm_datadir_keys_wipe(&keys);
    if (err == CPM_OK && (!identifier_mac_init(im, "import", &im->row_mac) ||
                          !identifier_mac_init(im, "import-source", &im->source_mac)))
        err = CPM_ERR_CRYPTO; /* cpm_identifier_hash changed: update identifier_mac */
    if (err == CPM_OK && !im->args.dry_run) {
        err = cpm_datadir_lock(im->data, &im->lock_fd, d);
        warn_disk_space(im);
    }
    if (err == CPM_OK)
        err = im->args.dry_run ? cpm_store_open_readonly(im->data, false, &im->store, d)
                               : cpm_store_open(im->data, &im->store, d);
    if (err != CPM_OK)
        return err;
    const uint8_t *pk = cpm_keyring_signing_public_key(&im->kr);
    cpm_checkpoint_origin(pk, im->origin);
    cpm_note_vkey(im->origin, pk, im->vkey, sizeof(im->vkey));
    err = cpm_ledger_check(im->store, im->vkey, d);
    if (err == CPM_OK)
        cpm_config_cache_init(&im->cache, im->store, &im->lookup);
    return err;
}

static void print_summary(const struct import *im)
{
    bool dry = im->args.dry_run;
    FILE *out = dry ? stdout : stderr;
    fprintf(out, "cpm import: %s: %llu rows%s\n", im->in.name, (unsigned long long)im->rows_read,
            dry ? " checked; dry run: nothing written" : "");
    fprintf(out, "events %s: %llu (given %llu, refused %llu, withdrawn %llu)\n",
            dry ? "to write" : "written", (unsigned long long)im->written,
            (unsigned long long)im->decisions[0], (unsigned long long)im->decisions[1],
            (unsigned long long)im->decisions[2]);
    fprintf(out, "already imported: %llu (skipped)\n", (unsigned long long)im->skipped);
    fprintf(out, "new subjects: %llu\n", (unsigned long long)im->new_subjects);
    fprintf(out, "consent states set: %llu\n", (unsigned long long)im->states_set);
    fprintf(out, "history only: %llu (older than the decision that stands)\n",
            (unsigned long long)im->history_only);
}

/* Says why the first pass refused the file. */
static void print_refusal(const struct import *im)
{
    if (im->bad_lines > CPM_IMPORT_BAD_LINES_SHOWN)
        fprintf(stderr, "cpm import: … and %llu more bad lines\n",
                (unsigned long long)(im->bad_lines - CPM_IMPORT_BAD_LINES_SHOWN));
    fprintf(stderr, "cpm import: %s: %llu bad lines of %llu rows: nothing was written\n",
            im->in.name, (unsigned long long)im->bad_lines, (unsigned long long)im->rows_read);
}

static int run(struct import *im)
{
    struct cpm_detail d;
    cpm_detail_init(&d);
    cpm_err err = open_data(im, &d);
    if (err == CPM_OK)
        err = start_writing(im, &d);
    if (err == CPM_OK)
        err = pass(im);
    err = finish_writing(im, err);
    if (err == CPM_ERR_TOO_LARGE)
        cpm_detail_add(&d, "", "%s has more than %d rows: split it (a re-run skips what is in)",
                       im->in.name, CPM_IMPORT_ROWS_MAX);
    if (err != CPM_OK) {
        cpm_cli_report("import", err, &d);
        if (im->committed) /* only the checkpointer did not start */
            fprintf(stderr,
                    "cpm import: %llu events were written, but no checkpoint signs them "
                    "yet: cpmd signs its head once it runs\n",
                    (unsigned long long)im->written);
        else
            fprintf(stderr, "cpm import: nothing was written (an import is one transaction); "
                            "run it again: rows imported before are skipped\n");
        return CPM_EXIT_FAILURE;
    }
    if (im->bad_lines > 0) {
        print_refusal(im);
        return CPM_EXIT_FAILURE;
    }
    im->history_only = im->written - im->states_set;
    print_summary(im);
    return CPM_EXIT_OK;
}

static void release(struct import *im)
{

    cpm_checkpointer_stop(im->checkpointer); /* signs the final head */
    cpm_writer_stop(im->writer);
    for (int i = 0; i < 2; i++)
        if (im->chunks[i] != NULL) {
            chunk_reset(im->chunks[i]);
            cpm_free(im->chunks[i]);
        }
    if (im->cache.store != NULL)
        cpm_config_cache_release(&im->cache);
    json_decref(im->policies);
    cpm_store_close(im->store);
    cpm_datadir_unlock(im->lock_fd);
    cpm__import_input_close(&im->in);
    cpm_keymap_release(&im->rows);
    cpm_keymap_release(&im->sources);
    cpm_keymap_release(&im->subjects);
    cpm_keymap_release(&im->states);
    cpm_keyring_wipe(&im->kr);
    sodium_memzero(&im->row_mac, sizeof(im->row_mac));
    sodium_memzero(&im->source_mac, sizeof(im->source_mac));
    pthread_cond_destroy(&im->done);
    pthread_mutex_destroy(&im->lock);
}

/* --format, else the file's extension (.csv, .ndjson or .jsonl); false when neither says. */
static bool pick_format(const struct import_args *a, enum cpm__import_format *out)
{
    const char *dot = strrchr(a->path, '.');
    const char *name = a->format ? a->format : dot ? dot + 1 : "";
    bool csv = strcmp(name, "csv") == 0;
    bool ndjson = strcmp(name, "ndjson") == 0 || (a->format == NULL && strcmp(name, "jsonl") == 0);
    *out = csv ? CPM__IMPORT_CSV : CPM__IMPORT_NDJSON;
    if (!csv && !ndjson && a->format != NULL)
        fprintf(stderr, "cpm import: --format is csv or ndjson\n");
    else if (!csv && !ndjson)
        fprintf(stderr,
                "cpm import: cannot tell the format of %s: name it .csv or .ndjson, or give "
                "--format\n",
                a->path);
    return csv || ndjson;
}

/* false on a usage error (reported) */
static bool parse(int argc, char **argv, struct import_args *a, bool *help)
{
    bool bad = false;
    for (int i = 1; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--help") == 0)
            *help = true;
        else if (cpm_cli_flag(argc, argv, &i, "--data", &a->data, &bad) ||
                 cpm_cli_flag(argc, argv, &i, "--format", &a->format, &bad))
            continue;
        else if (strcmp(argv[i], "--dry-run") == 0)
            a->dry_run = true;
        else if (strcmp(argv[i], "--progress") == 0)
            a->progress = true;
        else if ((argv[i][0] != '-' || strcmp(argv[i], "-") == 0) && a->path == NULL)
            a->path = argv[i];
        else
            bad = true;
    }
    return !bad && (*help || a->path != NULL);
}

int cpm_cli_import(int argc, char **argv)
{
    struct import *im = cpm_calloc(1, sizeof(*im));
    bool help = false;
    if (im == NULL) {
        fprintf(stderr, "cpm import: out of memory\n");
        return CPM_EXIT_FAILURE;
    }
    im->lock_fd = -1;
    im->in.fd = -1;
    pthread_mutex_init(&im->lock, NULL);
    pthread_cond_init(&im->done, NULL);
    enum cpm__import_format format = CPM__IMPORT_CSV;
    int status = CPM_EXIT_USAGE;
    if (!parse(argc, argv, &im->args, &help) || (!help && !pick_format(&im->args, &format))) {
        usage(stderr);
        goto out;
    }
    status = CPM_EXIT_OK;
    if (help) {
        usage(stdout);
        goto out;
    }
    struct cpm_detail d;
    cpm_detail_init(&d);
    im->data = cpm_cli_data_dir(im->args.data);
    im->now_ms = cpm_clock_now_ms();
    cpm_random_id(im->action_id, sizeof(im->action_id), "act_");
    cpm_keymap_init(&im->rows, sizeof(uint64_t), CPM_IMPORT_ROWS_MAX);
    cpm_keymap_init(&im->sources, sizeof(uint64_t), CPM_IMPORT_ROWS_MAX);
    cpm_keymap_init(&im->subjects, sizeof(struct subject_entry), CPM_IMPORT_ROWS_MAX);
    cpm_keymap_init(&im->states, sizeof(struct state_entry), 2 * (size_t)CPM_IMPORT_ROWS_MAX);
    cpm_cli_progress_init(&im->progress, "import", im->args.progress);
    if (cpm__import_input_open(im->args.path, format, &im->in, &d) != CPM_OK) {
        cpm_cli_report("import", CPM_ERR_IO, &d);
        status = CPM_EXIT_FAILURE;
        goto out;
    }
    status = run(im);
out:
    release(im);
    cpm_free(im);
    return status;
}
