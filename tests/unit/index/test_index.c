/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_index.c — the index's lookups of many subjects at once
 * (cpm_index_view_each: a pipeline over any number of ids, given as
 * pointer and length) and the decider's long runs shared with its helper
 * threads (cpm_decider_decide_many_len): both must answer exactly as the
 * one-by-one lookup and decision do, in order, for runs of every length
 * around the pipeline's distances and the blocks, with unknown ids among
 * the known, ids that are not NUL-terminated, two callers at once, and a
 * run left in the background while its caller decides another.
 */
#include "core/common.h"

#include <pthread.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "core/epoch.h"
#include "cpm/decide.h"
#include "domain/tz.h"
#include "index/index.h"
#include "store/store.h"

#define SUBJECTS 5000
#define UNKNOWN  3 /* every UNKNOWN-th id asked is not in the index */
#define RUN_MAX  3000
#define ID_BYTES 16
#define PURPOSE  "marketing.sms"
#define THREADS  2
#define REPEATS  20

static struct cpm_index *ix;
static int purpose_slot;

static void subject_id(unsigned n, char out[ID_BYTES])
{
    snprintf(out, ID_BYTES, "u%05u", n);
}

/* Subject n: given when n % 4 is 0, refused when 1, withdrawn when 2, no consent when 3. */
static const char *status_of(unsigned n)
{
    static const char *const statuses[] = {"given", "refused", "withdrawn", NULL};
    return statuses[n % 4];
}

static int setup(void **state)
{
    CPM_UNUSED(state);
    assert_int_equal(cpm_index_new(&ix), CPM_OK);
    struct cpm_subject *subjects = cpm_calloc(SUBJECTS, sizeof(*subjects));
    struct cpm_consent_state *states = cpm_calloc(SUBJECTS, sizeof(*states));
    assert_non_null(subjects);
    assert_non_null(states);
    size_t state_count = 0;
    for (unsigned n = 0; n < SUBJECTS; n++) {
        subject_id(n, subjects[n].id);
        cpm_strlcpy(subjects[n].age_status, "adult", sizeof(subjects[n].age_status));
        if (status_of(n) == NULL)
            continue;
        struct cpm_consent_state *st = &states[state_count++];
        subject_id(n, st->subject_id);
        cpm_strlcpy(st->purpose, PURPOSE, sizeof(st->purpose));
        cpm_strlcpy(st->status, status_of(n), sizeof(st->status));
        st->seq = 1000 + n;
    }
    struct cpm_write_batch batch = {.subjects = subjects,
                                    .subject_count = SUBJECTS,
                                    .states = states,
                                    .state_count = state_count};
    cpm_index_apply(ix, &batch);
    cpm_free(subjects);
    cpm_free(states);
    purpose_slot = cpm_index_slot(ix, CPM_SLOT_PURPOSE, PURPOSE, false);
    assert_true(purpose_slot >= 0);
    return 0;
}

static int teardown(void **state)
{
    CPM_UNUSED(state);
    cpm_index_free(ix);
    cpm_epoch_drain();
    return 0;
}

/*
 * The ids of a run, packed one after the other with a ',' between them (not
 * NUL-terminated) in text; ids[i] and lens[i] point into it. Id i is subject
 * (start + 7 i) % SUBJECTS, or a name the index does not know.
 */
struct run {
    char text[RUN_MAX * ID_BYTES];
    const char *ids[RUN_MAX];
    size_t lens[RUN_MAX];
    char copies[RUN_MAX][ID_BYTES]; /* the same, NUL-terminated */
};

static void run_make(struct run *r, size_t n, unsigned start)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        char id[ID_BYTES];
        if (i % UNKNOWN == 2)
            snprintf(id, sizeof(id), "nobody-%u", (unsigned)(i % 100000));
        else
            subject_id((unsigned)((start + 7 * i) % SUBJECTS), id);
        size_t len = strlen(id);
        memcpy(r->text + at, id, len);
        r->text[at + len] = ',';
        r->ids[i] = r->text + at;
        r->lens[i] = len;
        memcpy(r->copies[i], id, len + 1);
        at += len + 1;
    }
}

struct seen {
    size_t count;
    struct cpm_decide_subject views[RUN_MAX];
};

static void remember(void *ctx, size_t i, const struct cpm_decide_subject *s)
{
    struct seen *seen = ctx;
    assert_int_equal(i, seen->count); /* in order, each once */
    seen->views[seen->count++] = *s;
}

static void test_view_each_matches_one_by_one(void **state)
{
    CPM_UNUSED(state);
    static struct run r;
    static struct seen seen;
    static const size_t lengths[] = {0,  1,  2,  5,  8,   15,  16,   17,     31,
                                     33, 63, 64, 65, 127, 129, 1000, RUN_MAX};
    struct cpm_index_question q = {
        .purpose = purpose_slot, .recipient = -1, .topic = -1, .channel = CPM_CHANNEL_NONE};
    for (size_t k = 0; k < CPM_ARRAY_LEN(lengths); k++) {
        size_t n = lengths[k];
        run_make(&r, n, (unsigned)k * 101);
        seen.count = 0;
        cpm_index_view_each(ix, &q, r.ids, r.lens, n, remember, &seen);
        assert_int_equal(seen.count, n);
        for (size_t i = 0; i < n; i++) {
            struct cpm_decide_subject one;
            q.subject_id = r.copies[i];
            assert_true(cpm_epoch_enter());
            cpm_index_view(ix, &q, &one);
            cpm_epoch_exit();
            const struct cpm_decide_subject *many = &seen.views[i];
            assert_int_equal(many->known, one.known);
            assert_int_equal(many->known, i % UNKNOWN != 2);
            assert_int_equal(many->status, one.status);
            assert_int_equal(many->seq, one.seq);
            assert_int_equal(many->age, one.age);
        }
    }
}

static struct cpm_prepared question(void)
{
    return (struct cpm_prepared){.purpose = purpose_slot,
                                 .topic = -1,
                                 .recipient = -1,
                                 .channel = -1,
                                 .consent_basis = true};
}

/* Every length's answers from decide_many_len, decide_many and decide agree: the mismatches. */
static size_t check_runs(struct cpm_decider *d, unsigned start)
{
    static const size_t lengths[] = {0, 1, 200, 255, 256, 257, 511, 1000, 2049, RUN_MAX};
    struct run *r = cpm_calloc(1, sizeof(*r));
    struct cpm_answer *many = cpm_calloc(RUN_MAX, sizeof(*many));
    struct cpm_answer *many_nul = cpm_calloc(RUN_MAX, sizeof(*many_nul));
    const char **copies = cpm_calloc(RUN_MAX, sizeof(*copies));
    if (r == NULL || many == NULL || many_nul == NULL || copies == NULL)
        return SIZE_MAX;
    struct cpm_prepared q = question();
    size_t wrong = 0;
    for (size_t k = 0; k < CPM_ARRAY_LEN(lengths); k++) {
        size_t n = lengths[k];
        run_make(r, n, start + (unsigned)k);
        memset(many, 0xa5, RUN_MAX * sizeof(*many));
        cpm_decider_decide_many_len(d, &q, r->ids, r->lens, n, 0, many);
        for (size_t i = 0; i < n; i++)
            copies[i] = r->copies[i];
        cpm_decider_decide_many(d, &q, copies, n, 0, many_nul);
        for (size_t i = 0; i < n; i++) {
            struct cpm_answer one;
            cpm_decider_decide(d, &q, r->copies[i], 0, &one);
            unsigned subject = (unsigned)((start + k + 7 * i) % SUBJECTS);
            bool expected = i % UNKNOWN != 2 && subject % 4 == 0;
            wrong += many[i].allowed != one.allowed || many[i].reasons != one.reasons ||
                     many[i].deciding_seq != one.deciding_seq ||
                     many_nul[i].allowed != one.allowed || many_nul[i].reasons != one.reasons ||
                     one.allowed != expected;
        }
    }
    cpm_free(copies);
    cpm_free(many_nul);
    cpm_free(many);
    cpm_free(r);
    return wrong;
}

static void test_decide_many_len_matches_decide(void **state)
{
    CPM_UNUSED(state);
    struct cpm_decider *d = NULL;
    assert_int_equal(cpm_decider_new(NULL, ix, &d), CPM_OK);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(check_runs(d, i * 13), 0);
    cpm_decider_free(d);
}

/* What check_run_in_background compares: the answers of a run against one by one. */
static size_t mismatches(struct cpm_decider *d, const struct run *r, size_t n,
                         const struct cpm_answer *got)
{
    struct cpm_prepared q = question();
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) {
        struct cpm_answer one;
        cpm_decider_decide(d, &q, r->copies[i], 0, &one);
        wrong += got[i].allowed != one.allowed || got[i].reasons != one.reasons ||
                 got[i].deciding_seq != one.deciding_seq;
    }
    return wrong;
}

/*
 * A run in the background (the audience filter's way): started, then
 * another run decided by the same thread meanwhile, then finished; and a
 * run finished at once, and one too short to be shared.
 */
static void test_run_in_background(void **state)
{
    CPM_UNUSED(state);
    struct cpm_decider *d = NULL;
    assert_int_equal(cpm_decider_new(NULL, ix, &d), CPM_OK);
    struct run *r1 = cpm_calloc(1, sizeof(*r1)), *r2 = cpm_calloc(1, sizeof(*r2));
    struct cpm_answer *a1 = cpm_calloc(RUN_MAX, sizeof(*a1)),
                      *a2 = cpm_calloc(RUN_MAX, sizeof(*a2));
    assert_true(r1 != NULL && r2 != NULL && a1 != NULL && a2 != NULL);
    struct cpm_prepared q = question();
    static const size_t lengths[] = {0, 10, 255, 256, 1000, RUN_MAX};
    for (size_t k = 0; k < CPM_ARRAY_LEN(lengths); k++) {
        size_t n = lengths[k];
        run_make(r1, n, (unsigned)k * 3);
        run_make(r2, RUN_MAX - n, (unsigned)k * 5 + 1);
        struct cpm_decider_run run;
        cpm_decider_run_start(d, &q, r1->ids, r1->lens, n, 0, a1, &run);
        cpm_decider_decide_many_len(d, &q, r2->ids, r2->lens, RUN_MAX - n, 0, a2);
        cpm_decider_run_finish(&run);
        assert_int_equal(mismatches(d, r1, n, a1), 0);
        assert_int_equal(mismatches(d, r2, RUN_MAX - n, a2), 0);
        cpm_decider_run_start(d, &q, r2->ids, r2->lens, RUN_MAX - n, 0, a2, &run);
        cpm_decider_run_finish(&run);
        assert_int_equal(mismatches(d, r2, RUN_MAX - n, a2), 0);
    }
    cpm_free(a2);
    cpm_free(a1);
    cpm_free(r2);
    cpm_free(r1);
    cpm_decider_free(d);
}

struct caller_arg {
    struct cpm_decider *d;
    unsigned seed;
    size_t wrong;
};

static void *caller(void *arg)
{
    struct caller_arg *a = arg;
    for (unsigned i = 0; i < REPEATS; i++)
        a->wrong += check_runs(a->d, a->seed + i * 31);
    return NULL;
}

/* Two callers share the helpers (each run is taken by at most the idle ones). */
static void test_two_callers_at_once(void **state)
{
    CPM_UNUSED(state);
    struct cpm_decider *d = NULL;
    assert_int_equal(cpm_decider_new(NULL, ix, &d), CPM_OK);
    pthread_t threads[THREADS];
    struct caller_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct caller_arg){.d = d, .seed = (unsigned)i * 1000};
        assert_int_equal(pthread_create(&threads[i], NULL, caller, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(args[i].wrong, 0);
    }
    cpm_decider_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view_each_matches_one_by_one),
        cmocka_unit_test(test_decide_many_len_matches_decide),
        cmocka_unit_test(test_two_callers_at_once),
        cmocka_unit_test(test_run_in_background),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    cpm_tz_cache_clear();
    return failed;
}
