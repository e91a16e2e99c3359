/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_sync.c — the SQLite store's sync operations: lane cursors
 * (absent, written with log rows in one transaction, forgotten), the
 * append-only delivery log listed by destination, outcome and subject,
 * with paging, and config document deletion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/fixture.h"
#include "support/store_fixture.h"

struct fixture {
    char dir[FIXTURE_DIR_BYTES];
    struct cpm_store *store;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->store = fixture_store_open(f->dir, "/tmp/cpm-sync");
    *state = f;
    return f->store == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = fixture_store_close(f->store, f->dir);
    free(f);
    return rc;
}

static struct cpm_delivery row(int64_t seq, const char *subject, const char *outcome, int attempt)
{
    struct cpm_delivery d = {.seq = seq, .attempt = attempt, .time_ms = 1000 + seq, .status = 204};
    snprintf(d.event_id, sizeof(d.event_id), "evt_%lld", (long long)seq);
    cpm_strlcpy(d.event_type, "consent.given", sizeof(d.event_type));
    cpm_strlcpy(d.subject_id, subject, sizeof(d.subject_id));
    cpm_strlcpy(d.outcome, outcome, sizeof(d.outcome));
    cpm_strlcpy(d.detail, "ok", sizeof(d.detail));
    return d;
}

struct seen {
    int count;
    int64_t seqs[16];
    int64_t last_id;
    char outcome[16][16];
};

static cpm_err see(void *ctx, const struct cpm_delivery *d)
{
    struct seen *s = ctx;
    assert_true(d->id > s->last_id); /* oldest first */
    s->last_id = d->id;
    cpm_strlcpy(s->outcome[s->count], d->outcome, sizeof(s->outcome[0]));
    s->seqs[s->count++] = d->seq;
    return CPM_OK;
}

static void test_cursors(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_lane_cursor set[4];
    int64_t back[8];
    unsigned lanes = 99;
    assert_int_equal(ops->delivery_cursors_get(f->store, "crm", back, 8, &lanes),
                     CPM_ERR_NOT_FOUND);
    for (unsigned i = 0; i < 4; i++)
        set[i] = (struct cpm_lane_cursor){i, 100 + i};
    assert_int_equal(ops->delivery_record(f->store, "crm", NULL, 0, set, 4), CPM_OK);
    assert_int_equal(ops->delivery_cursors_get(f->store, "crm", back, 8, &lanes), CPM_OK);
    assert_int_equal(lanes, 4);
    assert_int_equal(back[0], 100);
    assert_int_equal(back[3], 103);
    assert_int_equal(back[4], 0); /* not stored */

    /* only the lanes given move */
    struct cpm_lane_cursor one = {2, 500};
    assert_int_equal(ops->delivery_record(f->store, "crm", NULL, 0, &one, 1), CPM_OK);
    assert_int_equal(ops->delivery_cursors_get(f->store, "crm", back, 2, &lanes), CPM_OK);
    assert_int_equal(lanes, 4); /* stored lanes, though only 2 were asked for */
    assert_int_equal(back[1], 101);
    assert_int_equal(ops->delivery_cursors_get(f->store, "crm", back, 8, &lanes), CPM_OK);
    assert_int_equal(back[2], 500);

    assert_int_equal(ops->delivery_cursors_get(f->store, "other", back, 8, &lanes),
                     CPM_ERR_NOT_FOUND);
    assert_int_equal(ops->delivery_cursors_delete(f->store, "crm"), CPM_OK);
    assert_int_equal(ops->delivery_cursors_get(f->store, "crm", back, 8, &lanes),
                     CPM_ERR_NOT_FOUND);
}

static void test_log_lists(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_delivery rows[] = {row(1, "a", "delivered", 1), row(2, "b", "failed", 1),
                                  row(2, "b", "dead", 2), row(3, "", "delivered", 1),
                                  row(4, "a", "blocked", 0)};
    struct cpm_lane_cursor cursor = {0, 2};
    assert_int_equal(ops->delivery_record(f->store, "crm", rows, 3, &cursor, 1), CPM_OK);
    assert_int_equal(ops->delivery_record(f->store, "crm", rows + 3, 2, NULL, 0), CPM_OK);
    assert_int_equal(ops->delivery_record(f->store, "erp", rows, 1, NULL, 0), CPM_OK);

    struct seen s = {0};
    struct cpm_delivery_filter all = {.destination_id = "crm"};
    assert_int_equal(ops->delivery_list(f->store, &all, 10, see, &s), CPM_OK);
    assert_int_equal(s.count, 5);
    assert_string_equal(s.outcome[2], "dead");

    struct seen dead = {0};
    struct cpm_delivery_filter only_dead = {.destination_id = "crm", .outcome = "dead"};
    assert_int_equal(ops->delivery_list(f->store, &only_dead, 10, see, &dead), CPM_OK);
    assert_int_equal(dead.count, 1);
    assert_int_equal(dead.seqs[0], 2);

    struct seen of_a = {0};
    struct cpm_delivery_filter subject = {.subject_id = "a"};
    assert_int_equal(ops->delivery_list(f->store, &subject, 10, see, &of_a), CPM_OK);
    assert_int_equal(of_a.count, 3); /* crm ×2, erp ×1 */

    struct seen page1 = {0}, page2 = {0};
    assert_int_equal(ops->delivery_list(f->store, &all, 2, see, &page1), CPM_OK);
    struct cpm_delivery_filter rest = {.destination_id = "crm", .after_id = page1.last_id};
    assert_int_equal(ops->delivery_list(f->store, &rest, 10, see, &page2), CPM_OK);
    assert_int_equal(page1.count + page2.count, 5);
    assert_int_equal(page2.seqs[0], 2);

    sqlite3 *db = cpm__sqlite_db(f->store);
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE deliveries SET outcome = 'delivered'", NULL, NULL, NULL),
        SQLITE_OK);
}

static void test_bad_outcome_writes_nothing(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_delivery rows[] = {row(1, "a", "delivered", 1), row(2, "a", "lost", 1)};
    struct cpm_lane_cursor cursor = {0, 7};
    int64_t seqs[1];
    unsigned lanes;
    assert_int_not_equal(ops->delivery_record(f->store, "crm", rows, 2, &cursor, 1), CPM_OK);
    struct seen s = {0};
    struct cpm_delivery_filter all = {.destination_id = "crm"};
    assert_int_equal(ops->delivery_list(f->store, &all, 10, see, &s), CPM_OK);
    assert_int_equal(s.count, 0);
    assert_int_equal(ops->delivery_cursors_get(f->store, "crm", seqs, 1, &lanes),
                     CPM_ERR_NOT_FOUND); /* the cursor was not written either */
}

static void test_doc_delete(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    assert_int_equal(ops->doc_create(f->store, CPM_DOC_DESTINATION, "crm", NULL, "{}", 1), CPM_OK);
    assert_int_equal(ops->doc_delete(f->store, CPM_DOC_DESTINATION, "crm"), CPM_OK);
    assert_int_equal(ops->doc_delete(f->store, CPM_DOC_DESTINATION, "crm"), CPM_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cursors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_outcome_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doc_delete, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
