/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_index_snapshot.c — an index snapshot saved while the writer goes on
 * (cpmd saves every few minutes) must restore whole: every subject the
 * writer did not touch during the save exactly as it was; one it touched
 * or added is there, in whatever state (its entry and its out-of-line part
 * may come from either side of a change: cpm_index_catch_up reads those
 * again from the store); the file checked. A snapshot whose mark the store
 * does not continue is refused and deleted.
 */
#include "core/common.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/epoch.h"
#include "domain/tz.h"
#include "index/index.h"
#include "support/fixture.h"
#include "support/store_fixture.h"

#define SUBJECTS 20000
#define CHANGED  (SUBJECTS / 2) /* the writer changes every third subject from here on */
#define PURPOSE  "marketing.sms"
#define SAVES    3

static void subject_id(unsigned n, char out[CPM_SUBJECT_ID_BYTES_MAX + 1])
{
    snprintf(out, CPM_SUBJECT_ID_BYTES_MAX + 1, "s-%u", n);
}

/* Subject n's consent on PURPOSE, written with seq: given, refused or withdrawn by n and round. */
static void put_consent(struct cpm_index *ix, unsigned n, int64_t seq, unsigned round)
{
    static const char *const statuses[] = {"given", "refused", "withdrawn"};
    struct cpm_consent_state st = {.seq = seq};
    struct cpm_subject sub = {0};
    subject_id(n, st.subject_id);
    subject_id(n, sub.id);
    cpm_strlcpy(sub.age_status, "adult", sizeof(sub.age_status));
    cpm_strlcpy(st.purpose, PURPOSE, sizeof(st.purpose));
    cpm_strlcpy(st.status, statuses[(n + round) % 3], sizeof(st.status));
    /* every 7th given consent has an expiry: it lives out of line */
    st.expires_ms = n % 7 == 0 ? 1000000 + n : 0;
    struct cpm_write_batch b = {
        .subjects = &sub, .subject_count = 1, .states = &st, .state_count = 1};
    cpm_index_apply(ix, &b);
}

struct writer_arg {
    struct cpm_index *ix;
    atomic_bool stop;
    unsigned rounds;
};

static bool changed(unsigned n)
{
    return n >= CHANGED && (n - CHANGED) % 3 == 0;
}

/* Changes subjects CHANGED, CHANGED + 3, … and adds new ones until told to stop. */
static void *writer(void *p)
{
    struct writer_arg *w = p;
    int64_t seq = 10 * SUBJECTS;
    unsigned added = SUBJECTS;
    while (!atomic_load(&w->stop)) {
        w->rounds++;
        for (unsigned n = CHANGED; n < SUBJECTS && !atomic_load(&w->stop); n += 3)
            put_consent(w->ix, n, ++seq, w->rounds);
        put_consent(w->ix, added++, ++seq, 0);
    }
    return NULL;
}

static void view(struct cpm_index *ix, unsigned n, struct cpm_decide_subject *out)
{
    char id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    subject_id(n, id);
    struct cpm_index_question q = {.subject_id = id,
                                   .purpose = cpm_index_slot(ix, CPM_SLOT_PURPOSE, PURPOSE, false),
                                   .recipient = -1,
                                   .topic = -1,
                                   .channel = CPM_CHANNEL_NONE};
    assert_true(cpm_epoch_enter());
    cpm_index_view(ix, &q, out);
    cpm_epoch_exit();
}

static void test_saved_while_written(void **state)
{
    CPM_UNUSED(state);
    char dir[FIXTURE_DIR_BYTES], path[FIXTURE_DIR_BYTES + 32];
    struct cpm_store *store = fixture_store_open(dir, "/tmp/cpm-index-snap");
    assert_non_null(store);
    snprintf(path, sizeof(path), "%s/index.snapshot", dir);
    struct cpm_index *ix = NULL;
    assert_int_equal(cpm_index_new(&ix), CPM_OK);
    for (unsigned n = 0; n < SUBJECTS; n++)
        put_consent(ix, n, 1 + n, 0);
    static struct cpm_decide_subject was[SUBJECTS];
    for (unsigned n = 0; n < SUBJECTS; n++)
        view(ix, n, &was[n]);
    struct cpm_index_mark mark; /* the empty store's: what a restore here checks against */
    assert_int_equal(cpm_index_mark_read(store, &mark), CPM_OK);
    struct writer_arg w = {.ix = ix};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, writer, &w), 0);
    for (int i = 0; i < SAVES; i++)
        assert_int_equal(cpm_index_save(ix, path, &mark), CPM_OK);
    atomic_store(&w.stop, true);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_true(w.rounds > 0);

    struct cpm_index *back = NULL;
    struct cpm_index_mark read_mark;
    assert_int_equal(cpm_index_new(&back), CPM_OK);
    assert_int_equal(cpm_index_restore(back, path, store, &read_mark), CPM_OK);
    assert_memory_equal(&read_mark, &mark, sizeof(mark));
    assert_true(access(path, F_OK) == 0); /* kept: the base of the next start */
    uint64_t subjects, bytes;
    cpm_index_stats(back, &subjects, &bytes);
    assert_true(subjects >= SUBJECTS);
    for (unsigned n = 0; n < SUBJECTS; n++) {
        struct cpm_decide_subject v;
        view(back, n, &v);
        assert_true(v.known);
        if (!changed(n))
            assert_memory_equal(&v, &was[n], sizeof(v));
    }
    cpm_index_free(back);
    cpm_index_free(ix);

    /* a store that does not continue the mark: refused, and the file deleted */
    struct cpm_index_mark ahead = mark;
    ahead.ledger_size = 5;
    assert_int_equal(cpm_index_new(&ix), CPM_OK);
    assert_int_equal(cpm_index_save(ix, path, &ahead), CPM_OK);
    cpm_index_free(ix);
    assert_int_equal(cpm_index_new(&back), CPM_OK);
    assert_int_equal(cpm_index_restore(back, path, store, &read_mark), CPM_ERR_CONFLICT);
    assert_true(access(path, F_OK) != 0);
    cpm_index_free(back);
    cpm_epoch_drain();
    cpm_tz_cache_clear();
    assert_int_equal(fixture_store_close(store, dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_saved_while_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
