/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_index.c — the SQLite backend's part in decisions: preferences and
 * recorded sends (written in the group commit), and the one pass over the
 * tables that rebuilds the in-memory index on start.
 */
#include "core/common.h"

#include <sodium.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "domain/decide.h"
#include "store/sqlite_internal.h"

static cpm_err put_preferences(struct sqlite_store *s, const struct cpm_preferences_row *p)
{
    sqlite3_stmt *st = s->stmts[ST_PREFS_UPSERT];
    int rc = cpm__sqlite_bind_text(st, 1, p->subject_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, p->doc);
    rc = rc ? rc : sqlite3_bind_int64(st, 3, p->seq);
    rc = rc ? rc : sqlite3_bind_int64(st, 4, p->updated_ms);
    return cpm__sqlite_run(s, ST_PREFS_UPSERT, rc, "batch_write preferences");
}

static cpm_err put_contact(struct sqlite_store *s, const struct cpm_contact *c)
{
    sqlite3_stmt *st = s->stmts[ST_CONTACT_INSERT];
    int rc = cpm__sqlite_bind_text(st, 1, c->subject_id);
    rc = rc ? rc : cpm__sqlite_bind_text(st, 2, cpm_channel_name((enum cpm_channel)c->channel));
    rc = rc ? rc : cpm__sqlite_bind_text(st, 3, c->purpose);
    rc = rc ? rc : sqlite3_bind_int64(st, 4, c->time_ms);
    return cpm__sqlite_run(s, ST_CONTACT_INSERT, rc, "batch_write contact");
}

cpm_err cpm__sqlite_batch_preferences(struct sqlite_store *s, const struct cpm_write_batch *b)
{
    cpm_err err = CPM_OK;
    for (size_t i = 0; err == CPM_OK && i < b->preference_count; i++)
        err = put_preferences(s, &b->preferences[i]);
    for (size_t i = 0; err == CPM_OK && i < b->contact_count; i++)
        err = put_contact(s, &b->contacts[i]);
    return err;
}

cpm_err cpm__sqlite_erase_preferences(struct sqlite_store *s, const char *subject_id)
{
    cpm_err err = cpm__sqlite_run(s, ST_PREFS_ERASE,
                                  cpm__sqlite_bind_text(s->stmts[ST_PREFS_ERASE], 1, subject_id),
                                  "batch_write erase preferences");
    if (err == CPM_OK)
        err = cpm__sqlite_run(s, ST_CONTACT_ERASE,
                              cpm__sqlite_bind_text(s->stmts[ST_CONTACT_ERASE], 1, subject_id),
                              "batch_write erase contacts");
    return err;
}

cpm_err cpm__sqlite_preferences_get(struct cpm_store *store, const char *subject_id, char **doc,
                                    int64_t *seq, int64_t *updated_ms)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    sqlite3_stmt *st = s->stmts[ST_PREFS_GET];
    cpm_err err = cpm__sqlite_step_row(s, ST_PREFS_GET, cpm__sqlite_bind_text(st, 1, subject_id),
                                       "preferences_get");
    if (err == CPM_OK) {
        *doc = cpm__sqlite_column_strdup(st, 0);
        *seq = sqlite3_column_int64(st, 1);
        *updated_ms = sqlite3_column_int64(st, 2);
        err = *doc != NULL ? CPM_OK : CPM_ERR_NOMEM;
    }
    cpm__sqlite_done(st);
    cpm__sqlite_unlock(s);
    return err;
}

/* ---- the index's load ---------------------------------------------------------- */

typedef cpm_err (*row_fn)(sqlite3_stmt *st, const struct cpm_index_loader *l);

/* The text of column col; "" for NULL (ten million rows and more: nothing copied). */
static const char *text_of(sqlite3_stmt *st, int col)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    return text != NULL ? text : "";
}

static cpm_err subject_row(sqlite3_stmt *st, const struct cpm_index_loader *l)
{
    int64_t erased_seq = sqlite3_column_int64(st, 3);
    bool erased = sqlite3_column_int64(st, 2) != 0;
    return l->subject(l->ctx, text_of(st, 0), text_of(st, 1),
                      erased ? (erased_seq ? erased_seq : 1) : 0);
}

/* Erased states are not shown (checked here, not in SQL: one comparison less per row there). */
static cpm_err state_row(sqlite3_stmt *st, const struct cpm_index_loader *l)
{
    if (strcmp(text_of(st, 3), "erased") == 0)
        return CPM_OK;
    struct cpm_state_row row = {.subject_id = text_of(st, 0),
                                .purpose = text_of(st, 1),
                                .recipient = text_of(st, 2),
                                .status = text_of(st, 3),
                                .seq = sqlite3_column_int64(st, 4),
                                .expires_ms = sqlite3_column_int64(st, 5),
                                .by_guardian = sqlite3_column_int(st, 6) != 0};
    return l->state(l->ctx, &row);
}

static cpm_err preferences_row(sqlite3_stmt *st, const struct cpm_index_loader *l)
{
    return l->preferences(l->ctx, (const char *)sqlite3_column_text(st, 0),
                          (const char *)sqlite3_column_text(st, 1));
}

static cpm_err contact_row(sqlite3_stmt *st, const struct cpm_index_loader *l)
{
    struct cpm_contact c = {0};
    cpm__sqlite_column_copy(st, 0, c.subject_id, sizeof(c.subject_id));
    enum cpm_channel channel = cpm_channel_parse((const char *)sqlite3_column_text(st, 1));
    if (channel == CPM_CHANNEL_NONE)
        return CPM_OK; /* a channel this version does not know: it caps nothing */
    c.channel = (uint8_t)channel;
    cpm__sqlite_column_copy(st, 2, c.purpose, sizeof(c.purpose));
    c.time_ms = sqlite3_column_int64(st, 3);
    return l->contact(l->ctx, &c);
}

static cpm_err each_row(struct sqlite_store *s, enum stmt id, int bind_rc, row_fn row,
                        const struct cpm_index_loader *l)
{
    sqlite3_stmt *st = s->stmts[id];
    int rc = bind_rc;
    cpm_err err = CPM_OK;
    while (err == CPM_OK && rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        err = row(st, l);
        rc = SQLITE_OK;
    }
    if (err == CPM_OK && rc != SQLITE_DONE && rc != SQLITE_OK)
        err = cpm__sqlite_fail(s, "index_load", rc);
    cpm__sqlite_done(st);
    return err;
}

/* Subject ids are printable ASCII: every one is >= "" and < "\x7f". */
#define ID_LOW  ""
#define ID_HIGH "\x7f"
#define SAMPLES 256 /* subject ids read to cut the key space into parts */

/* What part l->part of l->parts reads: a range of subjects' rows, a range of ids. */
struct share {
    uint64_t subjects; /* about (rowids in use), of all parts */
    int64_t rowid_low, rowid_high;
    char id_low[CPM_SUBJECT_ID_BYTES_MAX + 1], id_high[CPM_SUBJECT_ID_BYTES_MAX + 1];
};

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/*
 * The share of part of parts: subjects by equal rowid ranges, the tables
 * keyed by subject id by the quantiles of SAMPLES ids spread evenly over
 * the subjects' rows (the same ones in every part: they read one commit).
 */
static cpm_err share_of(struct sqlite_store *s, unsigned part, unsigned parts, struct share *out)
{
    cpm_err err = cpm__sqlite_step_row(s, ST_LOAD_ROWIDS, SQLITE_OK, "index_load");
    int64_t lo = sqlite3_column_int64(s->stmts[ST_LOAD_ROWIDS], 0);
    int64_t hi = sqlite3_column_int64(s->stmts[ST_LOAD_ROWIDS], 1);
    cpm__sqlite_done(s->stmts[ST_LOAD_ROWIDS]);
    int64_t span = hi - lo + 1;
    out->subjects = hi > 0 ? (uint64_t)span : 0;
    out->rowid_low = part == 0 ? INT64_MIN : lo + span * part / parts;
    out->rowid_high = part + 1 == parts ? INT64_MAX : lo + span * (part + 1) / parts - 1;
    char(*sample)[CPM_SUBJECT_ID_BYTES_MAX + 1] = cpm_calloc(SAMPLES, sizeof(*sample));
    if (sample == NULL)
        return CPM_ERR_NOMEM;
    int n = 0;
    sqlite3_stmt *st = s->stmts[ST_LOAD_SAMPLE];
    for (int k = 0; err == CPM_OK && parts > 1 && k < SAMPLES; k++) {
        err = cpm__sqlite_step_row(
            s, ST_LOAD_SAMPLE, sqlite3_bind_int64(st, 1, lo + span * k / SAMPLES), "index_load");
        if (err == CPM_OK)
            cpm__sqlite_column_copy(st, 0, sample[n++], sizeof(sample[0]));
        cpm__sqlite_done(st);
        err = err == CPM_ERR_NOT_FOUND ? CPM_OK : err;
    }
    qsort(sample, (size_t)n, sizeof(sample[0]), cmp_id);
    cpm_strlcpy(out->id_low, part == 0 || n == 0 ? ID_LOW : sample[(size_t)n * part / parts],
                sizeof(out->id_low));
    cpm_strlcpy(out->id_high,
                part + 1 == parts || n == 0 ? ID_HIGH : sample[(size_t)n * (part + 1) / parts],
                sizeof(out->id_high));
    cpm_free(sample);
    return err;
}

static int bind_ids(sqlite3_stmt *st, const struct share *sh)
{
    int rc = cpm__sqlite_bind_text(st, 1, sh->id_low);
    return rc ? rc : cpm__sqlite_bind_text(st, 2, sh->id_high);
}

/* The commit the read transaction sees, told to the loader before any row. */
static cpm_err begun(struct sqlite_store *s, const struct cpm_index_loader *l, uint64_t subjects)
{
    int64_t size = 0, contacts = 0;
    cpm_err err = cpm__sqlite_step_row(s, ST_EVENT_MAX_SEQ, SQLITE_OK, "index_load");
    if (err == CPM_OK)
        size = sqlite3_column_int64(s->stmts[ST_EVENT_MAX_SEQ], 0);
    cpm__sqlite_done(s->stmts[ST_EVENT_MAX_SEQ]);
    if (err == CPM_OK)
        err = cpm__sqlite_step_row(s, ST_CONTACT_MARK, SQLITE_OK, "index_load");
    if (err == CPM_OK)
        contacts = sqlite3_column_int64(s->stmts[ST_CONTACT_MARK], 0);
    cpm__sqlite_done(s->stmts[ST_CONTACT_MARK]);
    return err == CPM_OK && l->begun != NULL ? l->begun(l->ctx, (uint64_t)size, contacts, subjects)
                                             : err;
}

static cpm_err load_subjects(struct sqlite_store *s, const struct share *sh,
                             const struct cpm_index_loader *l)
{
    sqlite3_stmt *st = s->stmts[ST_LOAD_SUBJECTS];
    int rc = sqlite3_bind_int64(st, 1, sh->rowid_low);
    return each_row(s, ST_LOAD_SUBJECTS, rc ? rc : sqlite3_bind_int64(st, 2, sh->rowid_high),
                    subject_row, l);
}

/* The last part's states run to the end of the table: no end to check on every row. */
static cpm_err load_states(struct sqlite_store *s, const struct share *sh, bool last,
                           const struct cpm_index_loader *l)
{
    if (!last)
        return each_row(s, ST_LOAD_STATES, bind_ids(s->stmts[ST_LOAD_STATES], sh), state_row, l);
    return each_row(s, ST_LOAD_STATES_TAIL,
                    cpm__sqlite_bind_text(s->stmts[ST_LOAD_STATES_TAIL], 1, sh->id_low), state_row,
                    l);
}

/*
 * One read transaction: the tables as of one commit, this part's share of
 * them. Odd parts read the subjects last: their rows are quick to read and
 * slower to place, the states' the other way round, so parts read side by
 * side keep the one thread that places them busy without outrunning it.
 */
static cpm_err load_share(struct sqlite_store *s, const struct cpm_index_loader *l)
{
    unsigned parts = l->parts ? l->parts : 1;
    bool subjects_last = l->part % 2 == 1;
    struct share sh;
    cpm_err err = cpm__sqlite_run(s, ST_BEGIN_READ, SQLITE_OK, "index_load");
    if (err != CPM_OK)
        return err;
    err = share_of(s, l->part, parts, &sh);
    if (err == CPM_OK)
        err = begun(s, l, sh.subjects);
    if (err == CPM_OK && !subjects_last)
        err = load_subjects(s, &sh, l);
    if (err == CPM_OK)
        err = load_states(s, &sh, l->part + 1 == parts, l);
    if (err == CPM_OK)
        err =
            each_row(s, ST_LOAD_PREFS, bind_ids(s->stmts[ST_LOAD_PREFS], &sh), preferences_row, l);
    if (err == CPM_OK && subjects_last)
        err = load_subjects(s, &sh, l);
    if (err == CPM_OK && l->part == 0)
        err = each_row(s, ST_LOAD_CONTACTS,
                       sqlite3_bind_int64(s->stmts[ST_LOAD_CONTACTS], 1, l->contacts_since_ms),
                       contact_row, l);
    return cpm__sqlite_tx_end(s, err, "index_load");
}

cpm_err cpm__sqlite_index_load(struct cpm_store *store, const struct cpm_index_loader *l)
{
    if (l->parts <= 1) {
        struct sqlite_store *s = cpm__sqlite_lock_read(store);
        cpm_err err = load_share(s, l);
        cpm__sqlite_unlock(s);
        return err;
    }
    /* a connection of its own: the parts read side by side */
    struct sqlite_store *own = NULL;
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    cpm_err err = cpm__sqlite_connect_reader(s, &own);
    cpm__sqlite_unlock(s);
    if (err == CPM_OK)
        err = load_share(own, l);
    if (own != NULL)
        cpm__sqlite_disconnect(own);
    return err;
}

/* ---- catching a restored index up ---------------------------------------------------------- */

/* Runs body(s, ctx) on the read connection inside one read transaction. */
static cpm_err in_read_tx(struct cpm_store *store, const char *op,
                          cpm_err (*body)(struct sqlite_store *s, void *ctx), void *ctx)
{
    struct sqlite_store *s = cpm__sqlite_lock_read(store);
    cpm_err err = cpm__sqlite_run(s, ST_BEGIN_READ, SQLITE_OK, op);
    if (err == CPM_OK)
        err = cpm__sqlite_tx_end(s, body(s, ctx), op);
    cpm__sqlite_unlock(s);
    return err;
}

/* The stamp of the send at row (BLAKE2b of what it holds); NOT_FOUND when there is none. */
static cpm_err contact_stamp(struct sqlite_store *s, int64_t row, uint64_t *stamp)
{
    sqlite3_stmt *st = s->stmts[ST_CONTACT_AT];
    cpm_err err =
        cpm__sqlite_step_row(s, ST_CONTACT_AT, sqlite3_bind_int64(st, 1, row), "contact_stamp");
    if (err == CPM_OK) {
        crypto_generichash_state h;
        uint8_t out[crypto_generichash_BYTES_MIN]; /* the first 8 bytes are the stamp */
        int64_t time_ms = sqlite3_column_int64(st, 3);
        crypto_generichash_init(&h, NULL, 0, sizeof(out));
        for (int col = 0; col < 3; col++) /* each with its NUL: no two rows run together alike */
            crypto_generichash_update(&h, (const uint8_t *)text_of(st, col),
                                      strlen(text_of(st, col)) + 1);
        crypto_generichash_update(&h, (const uint8_t *)&time_ms, sizeof(time_ms));
        crypto_generichash_final(&h, out, sizeof(out));
        memcpy(stamp, out, sizeof(*stamp));
    }
    cpm__sqlite_done(st);
    return err;
}

static cpm_err read_contacts_mark(struct sqlite_store *s, int64_t *out, uint64_t *stamp)
{
    cpm_err err = cpm__sqlite_step_row(s, ST_CONTACT_MARK, SQLITE_OK, "contacts_mark");
    *out = err == CPM_OK ? sqlite3_column_int64(s->stmts[ST_CONTACT_MARK], 0) : 0;
    cpm__sqlite_done(s->stmts[ST_CONTACT_MARK]);
    *stamp = 0;
    return err == CPM_OK && *out > 0 ? contact_stamp(s, *out, stamp) : err;
}

struct contacts_mark {
    int64_t row;
    uint64_t stamp;
};

static cpm_err contacts_mark_in_tx(struct sqlite_store *s, void *ctx)
{
    struct contacts_mark *m = ctx;
    return read_contacts_mark(s, &m->row, &m->stamp);
}

cpm_err cpm__sqlite_contacts_mark(struct cpm_store *store, int64_t *out, uint64_t *stamp)
{
    struct contacts_mark m = {0};
    cpm_err err = in_read_tx(store, "contacts_mark", contacts_mark_in_tx, &m);
    *out = m.row;
    *stamp = m.stamp;
    return err;
}

struct changed_query {
    uint64_t after_seq, max, contact_stamp;
    int64_t after_contact;
    cpm_err (*visit)(void *ctx, const char *subject_id);
    void *ctx;
};

static cpm_err changed_subjects(struct sqlite_store *s, void *ctx)
{
    const struct changed_query *q = ctx;
    uint64_t stamp = 0;
    cpm_err err = q->after_contact > 0 ? contact_stamp(s, q->after_contact, &stamp) : CPM_OK;
    if (err == CPM_ERR_NOT_FOUND || (err == CPM_OK && stamp != q->contact_stamp))
        return CPM_ERR_CONFLICT; /* the mark's send was erased: its row number may be used again */
    if (err != CPM_OK)
        return err;
    sqlite3_stmt *st = s->stmts[ST_CHANGED_SUBJECTS];
    int rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)q->after_seq);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, q->after_contact);
    uint64_t seen = 0;
    err = CPM_OK;
    while (err == CPM_OK && rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        err = ++seen > q->max ? CPM_ERR_TOO_LARGE : q->visit(q->ctx, text_of(st, 0));
        rc = SQLITE_OK;
    }
    if (err == CPM_OK && rc != SQLITE_DONE && rc != SQLITE_OK)
        err = cpm__sqlite_fail(s, "index_changed", rc);
    cpm__sqlite_done(st);
    return err;
}

cpm_err cpm__sqlite_index_changed(struct cpm_store *store, uint64_t after_seq,
                                  int64_t after_contact, uint64_t contact_stamp, uint64_t max,
                                  cpm_err (*visit)(void *ctx, const char *subject_id), void *ctx)
{
    struct changed_query q = {.after_seq = after_seq,
                              .max = max,
                              .contact_stamp = contact_stamp,
                              .after_contact = after_contact,
                              .visit = visit,
                              .ctx = ctx};
    return in_read_tx(store, "index_changed", changed_subjects, &q);
}

struct subject_query {
    const char *subject_id;
    const struct cpm_index_loader *loader;
};

static int bind_id(sqlite3_stmt *st, const char *subject_id)
{
    return cpm__sqlite_bind_text(st, 1, subject_id);
}

static cpm_err one_subject(struct sqlite_store *s, void *ctx)
{
    const struct subject_query *q = ctx;
    const struct cpm_index_loader *l = q->loader;
    sqlite3_stmt *subject = s->stmts[ST_SUBJECT_LOAD];
    cpm_err err = cpm__sqlite_step_row(s, ST_SUBJECT_LOAD, bind_id(subject, q->subject_id),
                                       "index_load_subject");
    if (err == CPM_OK)
        err = subject_row(subject, l);
    cpm__sqlite_done(subject);
    if (err == CPM_OK)
        err = each_row(s, ST_SUBJECT_STATES, bind_id(s->stmts[ST_SUBJECT_STATES], q->subject_id),
                       state_row, l);
    if (err == CPM_OK)
        err = each_row(s, ST_SUBJECT_PREFS, bind_id(s->stmts[ST_SUBJECT_PREFS], q->subject_id),
                       preferences_row, l);
    sqlite3_stmt *contacts = s->stmts[ST_SUBJECT_CONTACTS];
    if (err == CPM_OK) {
        int rc = bind_id(contacts, q->subject_id);
        err = each_row(s, ST_SUBJECT_CONTACTS,
                       rc ? rc : sqlite3_bind_int64(contacts, 2, l->contacts_since_ms), contact_row,
                       l);
    }
    return err;
}

cpm_err cpm__sqlite_index_load_subject(struct cpm_store *store, const char *subject_id,
                                       const struct cpm_index_loader *loader)
{
    struct subject_query q = {.subject_id = subject_id, .loader = loader};
    return in_read_tx(store, "index_load_subject", one_subject, &q);
}
