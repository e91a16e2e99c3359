/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_rights.c — the store's rights requests (ops version 8)
 * against a real SQLite file: a request written in a batch with its event
 * and read back (sealed note, reply, reason), one open request per subject
 * and type, forward moves only while the status read is still stored,
 * finished requests and deletions refused by the schema, the queue by due
 * date with its filters and keyset pages, a subject's requests newest
 * first, and erasure: the rows stay and may still be answered
 * (rights.updated), nothing else is recorded for the subject.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "support/fixture.h"
#include "support/store_fixture.h"

#include "core/alloc.h"
#include "store/sqlite.h"
#include "store/store.h"

struct fixture {
    char dir[64];
    struct cpm_store *store;
    int64_t next_seq;
};

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    f.store = fixture_store_open(f.dir, "/tmp/cpm-rights");
    f.next_seq = 1;
    *state = &f;
    return f.store != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    return fixture_store_close(f->store, f->dir);
}

static int64_t query_int(struct fixture *f, const char *sql)
{
    return fixture_query_int(cpm__sqlite_db(f->store), sql);
}

static cpm_err exec(struct fixture *f, const char *sql)
{
    return sqlite3_exec(cpm__sqlite_db(f->store), sql, NULL, NULL, NULL) == SQLITE_OK
               ? CPM_OK
               : CPM_ERR_CONFLICT;
}

static struct cpm_subject subject(const char *id)
{
    struct cpm_subject s = {.created_ms = 1000, .wrapped_key_len = 72};
    cpm_strlcpy(s.id, id, sizeof(s.id));
    snprintf(s.pseudonym, sizeof(s.pseudonym), "p-%s", id);
    memset(s.wrapped_key, 0xab, s.wrapped_key_len);
    cpm_strlcpy(s.age_status, "unknown", sizeof(s.age_status));
    return s;
}

static struct cpm_event event(struct fixture *f, const char *type, const char *subject_id)
{
    static char leaf[] = "{\"v\":1}";
    struct cpm_event e = {.seq = f->next_seq, .time_ms = 2000, .leaf = leaf};
    snprintf(e.id, sizeof(e.id), "evt_%lld", (long long)f->next_seq);
    cpm_strlcpy(e.type, type, sizeof(e.type));
    cpm_strlcpy(e.subject_id, subject_id, sizeof(e.subject_id));
    e.leaf_len = strlen(leaf);
    return e;
}

static struct cpm_rights_request request(const char *id, const char *subject_id, const char *type,
                                         int64_t created_ms, int64_t due_ms)
{
    struct cpm_rights_request r = {
        .created_ms = created_ms, .updated_ms = created_ms, .due_ms = due_ms};
    cpm_strlcpy(r.id, id, sizeof(r.id));
    cpm_strlcpy(r.subject_id, subject_id, sizeof(r.subject_id));
    cpm_strlcpy(r.property, "shop", sizeof(r.property));
    cpm_strlcpy(r.type, type, sizeof(r.type));
    cpm_strlcpy(r.status, "received", sizeof(r.status));
    return r;
}

/* Files r with its rights.requested event (and new, when not NULL); the seq advances on success. */
static cpm_err file(struct fixture *f, const struct cpm_subject *new_subject,
                    const struct cpm_rights_request *r)
{
    struct cpm_event e = event(f, "rights.requested", r->subject_id);
    struct cpm_write_batch b = {.subjects = new_subject,
                                .subject_count = new_subject != NULL,
                                .events = &e,
                                .event_count = 1,
                                .rights_requests = r,
                                .rights_request_count = 1};
    cpm_err err = f->store->ops->batch_write(f->store, &b);
    if (err == CPM_OK)
        f->next_seq++;
    return err;
}

static cpm_err move(struct fixture *f, const char *subject_id, const char *id, const char *from,
                    const char *to, const char *reply, const char *reason)
{
    struct cpm_rights_update u = {.reply = reply, .reason = reason, .updated_ms = 9000};
    cpm_strlcpy(u.id, id, sizeof(u.id));
    cpm_strlcpy(u.from, from, sizeof(u.from));
    cpm_strlcpy(u.status, to, sizeof(u.status));
    struct cpm_event e = event(f, "rights.updated", subject_id);
    struct cpm_write_batch b = {
        .events = &e, .event_count = 1, .rights_updates = &u, .rights_update_count = 1};
    cpm_err err = f->store->ops->batch_write(f->store, &b);
    if (err == CPM_OK)
        f->next_seq++;
    return err;
}

static uint64_t ledger_size(struct fixture *f)
{
    uint64_t size = 0;
    assert_int_equal(f->store->ops->ledger_size(f->store, &size), CPM_OK);
    return size;
}

struct seen {
    int count;
    char ids[8][CPM_RIGHTS_ID_BYTES];
};

static cpm_err see(void *ctx, const struct cpm_rights_request *r)
{
    struct seen *s = ctx;
    assert_true(s->count < 8);
    cpm_strlcpy(s->ids[s->count++], r->id, sizeof(s->ids[0]));
    return CPM_OK;
}

static void test_file_and_read(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_subject kid = subject("kid");
    uint8_t sealed[60];
    memset(sealed, 0x5a, sizeof(sealed));
    struct cpm_rights_request r = request("rr_a", "kid", "access", 100, 5000);
    r.note_sealed = sealed;
    r.note_sealed_len = sizeof(sealed);
    assert_int_equal(file(f, &kid, &r), CPM_OK);

    struct cpm_rights_request got = {0};
    assert_int_equal(ops->rights_request_get(f->store, "rr_a", &got), CPM_OK);
    assert_string_equal(got.subject_id, "kid");
    assert_string_equal(got.type, "access");
    assert_string_equal(got.status, "received");
    assert_int_equal(got.due_ms, 5000);
    assert_int_equal(got.note_sealed_len, sizeof(sealed));
    assert_memory_equal(got.note_sealed, sealed, sizeof(sealed));
    assert_null(got.reply);
    assert_null(got.reason);
    cpm_rights_request_release(&got);
    assert_int_equal(ops->rights_request_get(f->store, "rr_none", &got), CPM_ERR_NOT_FOUND);
    assert_int_equal(ops->rights_request_open(f->store, "kid", "access", &got), CPM_OK);
    assert_string_equal(got.id, "rr_a");
    cpm_rights_request_release(&got);
    assert_int_equal(ops->rights_request_open(f->store, "kid", "deletion", &got),
                     CPM_ERR_NOT_FOUND);

    /* One open request per subject and type: the whole batch fails, its event too. */
    struct cpm_rights_request twin = request("rr_b", "kid", "access", 200, 6000);
    assert_int_equal(file(f, NULL, &twin), CPM_ERR_CONFLICT);
    assert_int_equal(ledger_size(f), 1);
    /* Another type is fine; so is the same id never twice. */
    struct cpm_rights_request other = request("rr_c", "kid", "deletion", 300, 7000);
    assert_int_equal(file(f, NULL, &other), CPM_OK);
    struct cpm_rights_request same_id = request("rr_c", "kid", "correction", 300, 7000);
    assert_int_equal(file(f, NULL, &same_id), CPM_ERR_CONFLICT);
}

static void test_moves(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_subject kid = subject("kid");
    struct cpm_rights_request r = request("rr_a", "kid", "correction", 100, 5000);
    assert_int_equal(file(f, &kid, &r), CPM_OK);

    assert_int_equal(move(f, "kid", "rr_a", "received", "in_progress", "on it", NULL), CPM_OK);
    /* Read as received, but it moved on meanwhile: nothing is written. */
    assert_int_equal(move(f, "kid", "rr_a", "received", "completed", NULL, NULL), CPM_ERR_CONFLICT);
    assert_int_equal(ledger_size(f), 2);
    /* A refusal without a reason breaks the schema's rule. */
    assert_int_not_equal(move(f, "kid", "rr_a", "in_progress", "refused", NULL, NULL), CPM_OK);
    assert_int_equal(move(f, "kid", "rr_a", "in_progress", "refused", NULL, "not ours"), CPM_OK);

    struct cpm_rights_request got = {0};
    assert_int_equal(ops->rights_request_get(f->store, "rr_a", &got), CPM_OK);
    assert_string_equal(got.status, "refused");
    assert_string_equal(got.reply, "on it"); /* kept: not sent again */
    assert_string_equal(got.reason, "not ours");
    assert_int_equal(got.updated_ms, 9000);
    cpm_rights_request_release(&got);

    /* Finished: never changed, never deleted, whoever asks. */
    assert_int_equal(move(f, "kid", "rr_a", "refused", "completed", NULL, NULL), CPM_ERR_CONFLICT);
    assert_int_equal(exec(f, "UPDATE rights_requests SET reply = 'x' WHERE id = 'rr_a'"),
                     CPM_ERR_CONFLICT);
    assert_int_equal(exec(f, "DELETE FROM rights_requests"), CPM_ERR_CONFLICT);
    /* What was asked never changes, even while open. */
    struct cpm_rights_request next = request("rr_b", "kid", "correction", 200, 6000);
    assert_int_equal(file(f, NULL, &next), CPM_OK); /* the type is free again */
    assert_int_equal(exec(f, "UPDATE rights_requests SET type = 'access' WHERE id = 'rr_b'"),
                     CPM_ERR_CONFLICT);
    assert_int_equal(exec(f, "UPDATE rights_requests SET due_ms = 1 WHERE id = 'rr_b'"),
                     CPM_ERR_CONFLICT);
}

static void test_queue_and_lists(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_subject a = subject("a"), b = subject("b");
    struct cpm_rights_request rows[] = {
        request("rr_1", "a", "access", 10, 4000),      request("rr_2", "a", "deletion", 20, 1000),
        request("rr_3", "b", "access", 30, 3000),      request("rr_4", "b", "correction", 40, 3000),
        request("rr_5", "b", "explanation", 50, 2000),
    };
    assert_int_equal(file(f, &a, &rows[0]), CPM_OK);
    assert_int_equal(file(f, NULL, &rows[1]), CPM_OK);
    assert_int_equal(file(f, &b, &rows[2]), CPM_OK);
    assert_int_equal(file(f, NULL, &rows[3]), CPM_OK);
    assert_int_equal(file(f, NULL, &rows[4]), CPM_OK);
    assert_int_equal(move(f, "b", "rr_5", "received", "completed", "done", NULL), CPM_OK);
    assert_int_equal(move(f, "b", "rr_3", "received", "in_progress", NULL, NULL), CPM_OK);

    /* Everything, soonest due first; equal due dates by id. */
    struct seen s = {0};
    struct cpm_rights_filter all = {.due_before_ms = INT64_MAX};
    assert_int_equal(ops->rights_request_queue(f->store, &all, 10, see, &s), CPM_OK);
    assert_int_equal(s.count, 5);
    const char *order[] = {"rr_2", "rr_5", "rr_3", "rr_4", "rr_1"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(s.ids[i], order[i]);
    /* Pages of two, each after the last one seen. */
    struct cpm_rights_filter page = all;
    memset(&s, 0, sizeof(s));
    assert_int_equal(ops->rights_request_queue(f->store, &page, 2, see, &s), CPM_OK);
    page.after_due_ms = 2000;
    page.after_id = "rr_5";
    assert_int_equal(ops->rights_request_queue(f->store, &page, 2, see, &s), CPM_OK);
    assert_int_equal(s.count, 4);
    assert_string_equal(s.ids[2], "rr_3");
    assert_string_equal(s.ids[3], "rr_4");
    /* Open ones due before 3500 (the overdue at that instant): not the completed rr_5. */
    struct cpm_rights_filter overdue = {.statuses = {"received", "in_progress"},
                                        .due_before_ms = 3500};
    memset(&s, 0, sizeof(s));
    assert_int_equal(ops->rights_request_queue(f->store, &overdue, 10, see, &s), CPM_OK);
    assert_int_equal(s.count, 3);
    assert_string_equal(s.ids[0], "rr_2");
    assert_string_equal(s.ids[1], "rr_3");
    assert_string_equal(s.ids[2], "rr_4");
    struct cpm_rights_filter one = {.statuses = {"in_progress"}, .due_before_ms = INT64_MAX};
    memset(&s, 0, sizeof(s));
    assert_int_equal(ops->rights_request_queue(f->store, &one, 10, see, &s), CPM_OK);
    assert_int_equal(s.count, 1);
    assert_string_equal(s.ids[0], "rr_3");

    /* A subject's, newest first, in pages. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(ops->rights_request_list(f->store, "b", 0, NULL, 2, see, &s), CPM_OK);
    assert_int_equal(ops->rights_request_list(f->store, "b", 40, "rr_4", 2, see, &s), CPM_OK);
    assert_int_equal(s.count, 3);
    assert_string_equal(s.ids[0], "rr_5");
    assert_string_equal(s.ids[1], "rr_4");
    assert_string_equal(s.ids[2], "rr_3");
    memset(&s, 0, sizeof(s));
    assert_int_equal(ops->rights_request_list(f->store, "nobody", 0, NULL, 2, see, &s), CPM_OK);
    assert_int_equal(s.count, 0);
}

static void test_erasure(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_subject kid = subject("kid");
    uint8_t sealed[48] = {1};
    struct cpm_rights_request r = request("rr_a", "kid", "deletion", 100, 5000);
    r.note_sealed = sealed;
    r.note_sealed_len = sizeof(sealed);
    assert_int_equal(file(f, &kid, &r), CPM_OK);
    struct cpm_subject_update erase = {.id = "kid", .erased_ms = 7777};
    struct cpm_event e = event(f, "subject.erased", "kid");
    struct cpm_write_batch b = {
        .events = &e, .event_count = 1, .subject_updates = &erase, .subject_update_count = 1};
    assert_int_equal(ops->batch_write(f->store, &b), CPM_OK);
    f->next_seq++;

    /* The request stays (its note only sealed: the key is gone) and is still answered. */
    struct cpm_rights_request got = {0};
    assert_int_equal(ops->rights_request_get(f->store, "rr_a", &got), CPM_OK);
    assert_int_equal(got.note_sealed_len, sizeof(sealed));
    cpm_rights_request_release(&got);
    assert_int_equal(move(f, "kid", "rr_a", "received", "completed", "deleted", NULL), CPM_OK);
    /* Nothing new is filed for the erased subject, nor any other event recorded. */
    struct cpm_rights_request late = request("rr_b", "kid", "access", 200, 6000);
    assert_int_equal(file(f, NULL, &late), CPM_ERR_CONFLICT);
    e = event(f, "consent.given", "kid");
    b = (struct cpm_write_batch){.events = &e, .event_count = 1};
    assert_int_equal(ops->batch_write(f->store, &b), CPM_ERR_CONFLICT);
    assert_int_equal(query_int(f, "SELECT count(*) FROM rights_requests"), 1);
    assert_int_equal(query_int(f, "SELECT count(*) FROM events WHERE subject_id = 'kid'"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_and_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erasure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
