/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_evidence.c — the SQLite store's evidence-pack reads: events
 * of a time range read window by window of seqs (times out of seq order
 * included), and delivery log rows of a seq range window by window of ids,
 * with the log's last id to stop at.
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
    f->store = fixture_store_open(f->dir, "/tmp/cpm-evidence");
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

/* Event seq i + 1 is recorded at times[i] (configuration events: no subject). */
static const int64_t times[] = {1000, 2000, 1500, 3000, 2999, 500, 2000, 4000};

static void write_events(struct fixture *f)
{
    static char leaf[] = "{\"v\":1}";
    struct cpm_event events[CPM_ARRAY_LEN(times)];
    for (size_t i = 0; i < CPM_ARRAY_LEN(times); i++) {
        events[i] = (struct cpm_event){
            .seq = (int64_t)i + 1, .time_ms = times[i], .leaf = leaf, .leaf_len = strlen(leaf)};
        snprintf(events[i].id, sizeof(events[i].id), "evt_%zu", i + 1);
        cpm_strlcpy(events[i].type, "config.updated", sizeof(events[i].type));
    }
    struct cpm_write_batch b = {.events = events, .event_count = CPM_ARRAY_LEN(times)};
    assert_int_equal(f->store->ops->batch_write(f->store, &b), CPM_OK);
}

struct seen {
    int count;
    int64_t keys[16];
};

static cpm_err see_event(void *ctx, const struct cpm_event *e)
{
    struct seen *s = ctx;
    assert_string_equal(e->leaf, "{\"v\":1}");
    s->keys[s->count++] = e->seq;
    return CPM_OK;
}

static void test_events_between(void **state)
{
    struct fixture *f = *state;
    write_events(f);
    struct seen s = {0};
    /* [1500, 3000): seqs 2, 3, 5, 7 — in seq order, whatever their times */
    assert_int_equal(f->store->ops->event_list_between(f->store, 1500, 3000, 0, 100, see_event, &s),
                     CPM_OK);
    assert_int_equal(s.count, 4);
    assert_int_equal(s.keys[0], 2);
    assert_int_equal(s.keys[1], 3);
    assert_int_equal(s.keys[2], 5);
    assert_int_equal(s.keys[3], 7);
    /* a window of seqs (3, 6] */
    s = (struct seen){0};
    assert_int_equal(f->store->ops->event_list_between(f->store, 0, 10000, 3, 6, see_event, &s),
                     CPM_OK);
    assert_int_equal(s.count, 3);
    assert_int_equal(s.keys[0], 4);
    assert_int_equal(s.keys[2], 6);
    /* nothing in range */
    s = (struct seen){0};
    assert_int_equal(f->store->ops->event_list_between(f->store, 5000, 6000, 0, 8, see_event, &s),
                     CPM_OK);
    assert_int_equal(s.count, 0);
}

static cpm_err see_delivery(void *ctx, const struct cpm_delivery *d)
{
    struct seen *s = ctx;
    s->keys[s->count++] = d->seq;
    return CPM_OK;
}

static void test_deliveries_of_seqs(void **state)
{
    struct fixture *f = *state;
    struct cpm_delivery rows[6];
    for (int i = 0; i < 6; i++) {
        rows[i] = (struct cpm_delivery){.seq = i + 1, .attempt = 1, .time_ms = 1000 + i};
        snprintf(rows[i].event_id, sizeof(rows[i].event_id), "evt_%d", i + 1);
        cpm_strlcpy(rows[i].event_type, "consent.given", sizeof(rows[i].event_type));
        cpm_strlcpy(rows[i].outcome, "delivered", sizeof(rows[i].outcome));
    }
    struct seen s = {0};
    int64_t last = -1;
    assert_int_equal(
        f->store->ops->delivery_list_seqs(f->store, 1, 10, 0, 100, see_delivery, &s, &last),
        CPM_OK);
    assert_int_equal(last, 0); /* an empty log */
    assert_int_equal(s.count, 0);
    assert_int_equal(f->store->ops->delivery_record(f->store, "crm", rows, 6, NULL, 0), CPM_OK);
    assert_int_equal(f->store->ops->delivery_record(f->store, "erp", rows, 3, NULL, 0), CPM_OK);
    /* seqs 2..4 of the whole log: crm's 2, 3, 4 then erp's 2, 3 */
    assert_int_equal(
        f->store->ops->delivery_list_seqs(f->store, 2, 4, 0, 100, see_delivery, &s, &last), CPM_OK);
    assert_int_equal(last, 9);
    assert_int_equal(s.count, 5);
    assert_int_equal(s.keys[0], 2);
    assert_int_equal(s.keys[3], 2);
    /* ids (3, 8] only: crm's 4 (id 4), erp's 2 (id 8) */
    s = (struct seen){0};
    assert_int_equal(
        f->store->ops->delivery_list_seqs(f->store, 2, 4, 3, 8, see_delivery, &s, &last), CPM_OK);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.keys[0], 4);
    assert_int_equal(s.keys[1], 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_events_between, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliveries_of_seqs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
