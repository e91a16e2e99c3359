/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_index_load.c — the index rebuilt from a real SQLite store by 1 to 4
 * reader threads (cpm_index_load_with) must answer every question exactly
 * as the store says, whatever the number of readers: subjects with and
 * without consents, ids of every length, ten purposes (two past the inline
 * eight), a recipient, an expiry, guardians, erasures, preferences and
 * recent sends. And the store's side: the parts of a load together read
 * every row once, each part says which commit it reads, and a part that
 * begins after a write says so.
 */
#include "core/common.h"

#include <setjmp.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/epoch.h"
#include "domain/tz.h"
#include "index/index.h"
#include "store/sqlite.h"
#include "support/fixture.h"
#include "support/store_fixture.h"

#define SUBJECTS  3000
#define PURPOSES  10
#define RECIPIENT "partner-1"
#define NOW_MS    1764400000000LL
#define PREFS_DOC                                                                                  \
    "{\"channels\":{\"email\":true,\"sms\":false},"                                                \
    "\"contact_windows\":[{\"days\":[\"mon\",\"tue\"],\"from\":\"19:00\",\"to\":\"22:00\"}],"      \
    "\"frequency_caps\":[{\"channel\":\"sms\",\"max\":2,\"per\":\"week\"}],"                       \
    "\"personalisation\":false,\"time_zone\":\"Asia/Shanghai\","                                   \
    "\"topics\":{\"coupons\":true,\"new_arrivals\":false}}"

static const char *const purposes[PURPOSES] = {
    "analytics",      "ads.third_party", "cross_border.transfer", "marketing.email",
    "marketing.push", "marketing.sms",   "personalisation",       "research",
    "survey",         "zz.last"};
static const char *const statuses[] = {"given", "refused", "withdrawn", "objected"};

/* Ids of many lengths and shapes, so the sampled split points fall anywhere. */
static void subject_id(unsigned n, char out[CPM_SUBJECT_ID_BYTES_MAX + 1])
{
    static const char *const shapes[] = {"s%07u", "%u", "user-%u@example", "Z%u~x", "a.%u"};
    snprintf(out, CPM_SUBJECT_ID_BYTES_MAX + 1, shapes[n % 5], n * 7919u % 100000u);
}

static void exec(sqlite3 *db, const char *sql)
{
    char *message = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK)
        fail_msg("%s: %s", sql, message);
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    return st;
}

static void step_done(sqlite3_stmt *st)
{
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Subject n's consent on purpose p: a status index, or -1 for none. */
static int status_of(unsigned n, unsigned p)
{
    unsigned h = (n * 31u + p * 17u) % 11u;
    return h < 4 ? (int)h : h < 7 ? 0 : -1;
}

static void insert_subject(sqlite3 *db, sqlite3_stmt *st, unsigned n)
{
    char id[CPM_SUBJECT_ID_BYTES_MAX + 1], pseudonym[32];
    static const char *const ages[] = {"adult", "minor", "unknown"};
    subject_id(n, id);
    snprintf(pseudonym, sizeof(pseudonym), "p%u", n);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, pseudonym, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, ages[n % 3], -1, SQLITE_STATIC);
    step_done(st);
    CPM_UNUSED(db);
}

static void insert_states(sqlite3_stmt *st, unsigned n, int64_t *seq)
{
    char id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    subject_id(n, id);
    for (unsigned p = 0; p < PURPOSES; p++) {
        int s = status_of(n, p);
        if (s < 0)
            continue;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, purposes[p], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, p == 5 && n % 13 == 0 ? RECIPIENT : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, statuses[s], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, ++*seq);
        sqlite3_bind_int64(st, 6, s == 0 && n % 9 == 0 ? NOW_MS + 86400000LL * n : 0);
        sqlite3_bind_int(st, 7, n % 17 == 0);
        step_done(st);
    }
}

/* A store of SUBJECTS subjects written straight into the tables the load reads. */
static void fill(struct cpm_store *store)
{
    sqlite3 *db = cpm__sqlite_db(store);
    exec(db, "PRAGMA foreign_keys = OFF; BEGIN");
    sqlite3_stmt *subject =
        prepare(db, "INSERT INTO subjects (id, pseudonym, age_status, created_ms) VALUES (?1, ?2, "
                    "?3, 1)");
    sqlite3_stmt *state = prepare(db, "INSERT INTO consent_state (subject_id, purpose, recipient, "
                                      "status, seq, notice, notice_version, decided_ms, "
                                      "expires_ms, by_guardian) VALUES (?1, ?2, ?3, ?4, ?5, "
                                      "'privacy', 1, 1, ?6, ?7)");
    sqlite3_stmt *prefs = prepare(db, "INSERT INTO preferences (subject_id, doc, seq, updated_ms) "
                                      "VALUES (?1, '" PREFS_DOC "', 1, 1)");
    sqlite3_stmt *send = prepare(db, "INSERT INTO contacts (subject_id, channel, purpose, time_ms) "
                                     "VALUES (?1, 'sms', 'marketing.sms', ?2)");
    int64_t seq = 0;
    for (unsigned n = 0; n < SUBJECTS; n++) {
        char id[CPM_SUBJECT_ID_BYTES_MAX + 1];
        subject_id(n, id);
        insert_subject(db, subject, n);
        insert_states(state, n, &seq);
        if (n % 7 == 0) {
            sqlite3_bind_text(prefs, 1, id, -1, SQLITE_TRANSIENT);
            step_done(prefs);
        }
        for (unsigned k = 0; n % 5 == 0 && k < n % 4; k++) {
            sqlite3_bind_text(send, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(send, 2, cpm_clock_now_ms() - 3600000LL * (k + 1));
            step_done(send);
        }
    }
    /* every 50th subject erased: its event, then its row and states marked */
    exec(db, "INSERT INTO events (seq, id, type, subject_id, time_ms, leaf)"
             " SELECT 1000000 + rowid, 'e' || rowid, 'subject.erased', id, 1, x'00'"
             " FROM subjects WHERE rowid % 50 = 0");
    exec(db, "UPDATE subjects SET erased_ms = 5 WHERE rowid % 50 = 0");
    exec(db, "UPDATE consent_state SET status = 'erased' WHERE subject_id IN"
             " (SELECT id FROM subjects WHERE erased_ms <> 0)");
    exec(db, "COMMIT; PRAGMA foreign_keys = ON");
    sqlite3_finalize(subject);
    sqlite3_finalize(state);
    sqlite3_finalize(prefs);
    sqlite3_finalize(send);
}

static void assert_same_view(const struct cpm_decide_subject *a, const struct cpm_decide_subject *b,
                             const char *id, const char *purpose)
{
    if (a->known != b->known || a->erased != b->erased || a->age != b->age ||
        a->status != b->status || a->by_guardian != b->by_guardian || a->seq != b->seq ||
        a->expires_ms != b->expires_ms || a->channel_off != b->channel_off ||
        a->topic_off != b->topic_off || a->personalisation_off != b->personalisation_off ||
        a->tz != b->tz || a->window_count != b->window_count || a->cap_count != b->cap_count ||
        a->send_count != b->send_count)
        fail_msg("%s, %s: the views differ (status %d/%d, seq %lld/%lld)", id, purpose, a->status,
                 b->status, (long long)a->seq, (long long)b->seq);
    assert_memory_equal(a->windows, b->windows, sizeof(*a->windows) * a->window_count);
    assert_memory_equal(a->caps, b->caps, sizeof(*a->caps) * a->cap_count);
    assert_memory_equal(a->sends, b->sends, sizeof(*a->sends) * a->send_count);
}

static void view(struct cpm_index *ix, const char *id, const char *purpose, const char *recipient,
                 const char *topic, struct cpm_decide_subject *out)
{
    struct cpm_index_question q = {
        .subject_id = id,
        .purpose = cpm_index_slot(ix, CPM_SLOT_PURPOSE, purpose, false),
        .recipient = recipient ? cpm_index_slot(ix, CPM_SLOT_RECIPIENT, recipient, false) : -1,
        .topic = cpm_index_slot(ix, CPM_SLOT_TOPIC, topic, false),
        .channel = CPM_CHANNEL_SMS};
    assert_true(cpm_epoch_enter());
    cpm_index_view(ix, &q, out);
    cpm_epoch_exit();
}

/* What the store says of subject n and purpose p, checked on one index. */
static void assert_as_stored(const struct cpm_decide_subject *v, unsigned n, unsigned p)
{
    assert_true(v->known);
    assert_int_equal(v->erased, (n + 1) % 50 == 0); /* rowid n + 1 */
    if (v->erased)
        return;
    int s = p == 5 && n % 13 == 0 ? -1 : status_of(n, p); /* that one is a recipient's */
    assert_int_equal(v->status, s < 0 ? CPM_STATUS_NONE : cpm_consent_status_parse(statuses[s]));
    assert_int_equal(v->personalisation_off, n % 7 == 0);
    assert_int_equal(v->channel_off, n % 7 == 0);
    assert_int_equal(v->send_count, n % 5 == 0 ? n % 4 : 0);
}

static void test_readers_agree_with_the_store(void **state)
{
    CPM_UNUSED(state);
    char dir[FIXTURE_DIR_BYTES];
    struct cpm_store *store = fixture_store_open(dir, "/tmp/cpm-index-load");
    assert_non_null(store);
    fill(store);
    struct cpm_index *ixs[4];
    for (unsigned r = 0; r < 4; r++) {
        assert_int_equal(cpm_index_new(&ixs[r]), CPM_OK);
        assert_int_equal(cpm_index_load_with(ixs[r], store, r + 1), CPM_OK);
        uint64_t subjects, bytes;
        cpm_index_stats(ixs[r], &subjects, &bytes);
        assert_int_equal(subjects, SUBJECTS);
    }
    for (unsigned n = 0; n < SUBJECTS; n++) {
        char id[CPM_SUBJECT_ID_BYTES_MAX + 1];
        subject_id(n, id);
        for (unsigned p = 0; p < PURPOSES; p++) {
            struct cpm_decide_subject one, other;
            view(ixs[0], id, purposes[p], NULL, "new_arrivals", &one);
            assert_as_stored(&one, n, p);
            for (unsigned r = 1; r < 4; r++) {
                view(ixs[r], id, purposes[p], NULL, "new_arrivals", &other);
                assert_same_view(&one, &other, id, purposes[p]);
            }
        }
        struct cpm_decide_subject one, other;
        view(ixs[0], id, "marketing.sms", RECIPIENT, "coupons", &one);
        for (unsigned r = 1; r < 4; r++) {
            view(ixs[r], id, "marketing.sms", RECIPIENT, "coupons", &other);
            assert_same_view(&one, &other, id, RECIPIENT);
        }
    }
    struct cpm_decide_subject nobody;
    view(ixs[3], "nobody-here", "analytics", NULL, "coupons", &nobody);
    assert_false(nobody.known);
    for (unsigned r = 0; r < 4; r++)
        cpm_index_free(ixs[r]);
    cpm_epoch_drain();
    cpm_tz_cache_clear();
    assert_int_equal(fixture_store_close(store, dir), 0);
}

/*
 * When the readers cannot all begin on one commit (here: the database file
 * is gone, so no reader can open a connection of its own; in life, another
 * process wrote between their BEGINs), nothing was read, and one reader
 * loads everything through the store's own connection.
 */
static void test_one_reader_when_the_parts_cannot_agree(void **state)
{
    CPM_UNUSED(state);
    char dir[FIXTURE_DIR_BYTES], db[FIXTURE_DIR_BYTES + 16];
    struct cpm_store *store = fixture_store_open(dir, "/tmp/cpm-index-fallback");
    assert_non_null(store);
    fill(store);
    snprintf(db, sizeof(db), "%s/" CPM_STORE_SQLITE_FILE, dir);
    assert_int_equal(unlink(db), 0); /* open connections go on reading it */
    struct cpm_index *ix = NULL;
    assert_int_equal(cpm_index_new(&ix), CPM_OK);
    assert_int_equal(cpm_index_load_with(ix, store, 3), CPM_OK);
    uint64_t subjects, bytes;
    cpm_index_stats(ix, &subjects, &bytes);
    assert_int_equal(subjects, SUBJECTS);
    for (unsigned n = 0; n < SUBJECTS; n += 7) {
        char id[CPM_SUBJECT_ID_BYTES_MAX + 1];
        subject_id(n, id);
        struct cpm_decide_subject v;
        view(ix, id, purposes[n % PURPOSES], NULL, "new_arrivals", &v);
        assert_as_stored(&v, n, n % PURPOSES);
    }
    cpm_index_free(ix);
    cpm_epoch_drain();
    cpm_tz_cache_clear();
    assert_int_equal(fixture_store_close(store, dir), 0);
}

/* ---- the store's side: parts ------------------------------------------------------ */

struct tally {
    unsigned subjects, states, preferences;
    uint64_t ledger_size;
    int64_t contacts_mark;
    char seen[SUBJECTS][CPM_SUBJECT_ID_BYTES_MAX + 1];
};

static cpm_err tally_begun(void *ctx, uint64_t ledger_size, int64_t contacts_mark,
                           uint64_t subjects)
{
    struct tally *t = ctx;
    assert_int_equal(subjects, SUBJECTS);
    t->ledger_size = ledger_size;
    t->contacts_mark = contacts_mark;
    return CPM_OK;
}

static cpm_err tally_subject(void *ctx, const char *id, const char *age, int64_t erased_seq)
{
    struct tally *t = ctx;
    CPM_UNUSED(age);
    CPM_UNUSED(erased_seq);
    assert_true(t->subjects < SUBJECTS);
    cpm_strlcpy(t->seen[t->subjects++], id, sizeof(t->seen[0]));
    return CPM_OK;
}

static cpm_err tally_state(void *ctx, const struct cpm_state_row *row)
{
    CPM_UNUSED(row);
    ((struct tally *)ctx)->states++;
    return CPM_OK;
}

static cpm_err tally_preferences(void *ctx, const char *id, const char *doc)
{
    CPM_UNUSED(id);
    CPM_UNUSED(doc);
    ((struct tally *)ctx)->preferences++;
    return CPM_OK;
}

static cpm_err tally_contact(void *ctx, const struct cpm_contact *c)
{
    CPM_UNUSED(ctx);
    CPM_UNUSED(c);
    return CPM_OK;
}

static struct tally *load_part(struct cpm_store *store, unsigned part, unsigned parts)
{
    struct tally *t = cpm_calloc(1, sizeof(*t));
    assert_non_null(t);
    struct cpm_index_loader loader = {.ctx = t,
                                      .part = part,
                                      .parts = parts,
                                      .begun = tally_begun,
                                      .subject = tally_subject,
                                      .state = tally_state,
                                      .preferences = tally_preferences,
                                      .contact = tally_contact};
    assert_int_equal(store->ops->index_load(store, &loader), CPM_OK);
    return t;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_parts_read_every_row_once(void **state)
{
    CPM_UNUSED(state);
    char dir[FIXTURE_DIR_BYTES];
    struct cpm_store *store = fixture_store_open(dir, "/tmp/cpm-index-parts");
    assert_non_null(store);
    fill(store);
    struct tally *whole = load_part(store, 0, 1);
    assert_int_equal(whole->subjects, SUBJECTS);
    struct tally *all = cpm_calloc(1, sizeof(*all));
    assert_non_null(all);
    for (unsigned p = 0; p < 3; p++) {
        struct tally *t = load_part(store, p, 3);
        assert_true(t->states > whole->states / 6); /* shared out, roughly evenly */
        assert_int_equal(t->ledger_size, whole->ledger_size);
        assert_int_equal(t->contacts_mark, whole->contacts_mark);
        for (unsigned i = 0; i < t->subjects; i++)
            memcpy(all->seen[all->subjects++], t->seen[i], sizeof(t->seen[0]));
        all->states += t->states;
        all->preferences += t->preferences;
        cpm_free(t);
    }
    assert_int_equal(all->subjects, SUBJECTS);
    assert_int_equal(all->states, whole->states);
    assert_int_equal(all->preferences, whole->preferences);
    qsort(all->seen, SUBJECTS, sizeof(all->seen[0]), cmp_id);
    for (unsigned i = 1; i < SUBJECTS; i++)
        assert_true(strcmp(all->seen[i - 1], all->seen[i]) < 0); /* each once */
    /* a part that begins after a write reads another commit, and says so */
    exec(cpm__sqlite_db(store), "INSERT INTO contacts (subject_id, channel, purpose, time_ms)"
                                " SELECT id, 'sms', 'x', 1 FROM subjects LIMIT 1");
    struct tally *later = load_part(store, 1, 2);
    assert_int_equal(later->contacts_mark, whole->contacts_mark + 1);
    cpm_free(later);
    cpm_free(all);
    cpm_free(whole);
    assert_int_equal(fixture_store_close(store, dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readers_agree_with_the_store),
        cmocka_unit_test(test_one_reader_when_the_parts_cannot_agree),
        cmocka_unit_test(test_parts_read_every_row_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
