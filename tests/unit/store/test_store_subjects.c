/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_subjects.c — the store's subject operations (ops version 3)
 * against a real SQLite file: identifiers and guardian links written in a
 * batch with their event and found again, one identifier per subject, a
 * subject given as new twice, the age status, and erasure — key and
 * identifiers destroyed, consent states `erased`, every later event of the
 * subject refused, the ledger itself untouched.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "support/fixture.h"
#include "support/store_fixture.h"

#include <unistd.h>

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
    f.store = fixture_store_open(f.dir, "/tmp/cpm-subjects");
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

/* Writes one event with what b holds besides; the seq advances on success. */
static cpm_err write_one(struct fixture *f, struct cpm_write_batch *b, struct cpm_event *e)
{
    b->events = e;
    b->event_count = 1;
    cpm_err err = f->store->ops->batch_write(f->store, b);
    if (err == CPM_OK)
        f->next_seq++;
    return err;
}

static struct cpm_identity identity(const char *subject_id, const char *type, uint8_t fill)
{
    struct cpm_identity id = {.created_ms = 3000, .sealed_len = 60};
    cpm_strlcpy(id.subject_id, subject_id, sizeof(id.subject_id));
    cpm_strlcpy(id.type, type, sizeof(id.type));
    memset(id.hash, fill, sizeof(id.hash));
    memset(id.sealed, fill ^ 0xff, id.sealed_len);
    return id;
}

struct seen {
    int count;
    char text[4][2 * CPM_SUBJECT_ID_BYTES_MAX];
};

static cpm_err see_identity(void *ctx, const struct cpm_identity *id)
{
    struct seen *s = ctx;
    assert_int_equal(id->sealed_len, 60);
    assert_int_equal(id->sealed[0], (uint8_t)(id->hash[0] ^ 0xff));
    cpm_strlcpy(s->text[s->count++], id->type, sizeof(s->text[0]));
    return CPM_OK;
}

static cpm_err see_guardian(void *ctx, const struct cpm_guardian_link *g)
{
    struct seen *s = ctx;
    snprintf(s->text[s->count++], sizeof(s->text[0]), "%s:%s", g->guardian_id, g->relation);
    return CPM_OK;
}

static void test_identities(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_subject kid = subject("kid"), other = subject("other");
    struct cpm_identity phone = identity("kid", "phone", 1), email = identity("kid", "email", 2);
    struct cpm_event e = event(f, "identity.linked", "kid");
    struct cpm_write_batch b = {
        .subjects = &kid, .subject_count = 1, .identities = &phone, .identity_count = 1};
    assert_int_equal(write_one(f, &b, &e), CPM_OK);
    e = event(f, "identity.linked", "kid");
    b = (struct cpm_write_batch){.identities = &email, .identity_count = 1};
    assert_int_equal(write_one(f, &b, &e), CPM_OK);

    char owner[CPM_SUBJECT_ID_BYTES_MAX + 1];
    assert_int_equal(ops->identity_find(f->store, "phone", phone.hash, owner), CPM_OK);
    assert_string_equal(owner, "kid");
    assert_int_equal(ops->identity_find(f->store, "email", phone.hash, owner), CPM_ERR_NOT_FOUND);
    struct seen seen = {0};
    assert_int_equal(ops->identity_list(f->store, "kid", 8, see_identity, &seen), CPM_OK);
    assert_int_equal(seen.count, 2);
    assert_string_equal(seen.text[0], "email"); /* by type */
    assert_string_equal(seen.text[1], "phone");

    /* One identifier, one subject: the whole batch fails, its event too. */
    struct cpm_identity taken = identity("other", "phone", 1);
    e = event(f, "identity.linked", "other");
    b = (struct cpm_write_batch){
        .subjects = &other, .subject_count = 1, .identities = &taken, .identity_count = 1};
    assert_int_equal(write_one(f, &b, &e), CPM_ERR_CONFLICT);
    uint64_t size = 0;
    assert_int_equal(ops->ledger_size(f->store, &size), CPM_OK);
    assert_int_equal(size, 2);
    struct cpm_subject got;
    assert_int_equal(ops->subject_get(f->store, "other", &got), CPM_ERR_NOT_FOUND);
}

static void test_new_subject_twice(void **state)
{
    struct fixture *f = *state;
    struct cpm_subject kid = subject("kid");
    struct cpm_event e = event(f, "subject.age_status_set", "kid");
    struct cpm_write_batch b = {.subjects = &kid, .subject_count = 1};
    assert_int_equal(write_one(f, &b, &e), CPM_OK);
    /* Another request prepared it as new too: its data key would be lost. */
    struct cpm_subject twin = subject("kid");
    twin.wrapped_key[0] = 0x01;
    e = event(f, "subject.age_status_set", "kid");
    b = (struct cpm_write_batch){.subjects = &twin, .subject_count = 1};
    assert_int_equal(write_one(f, &b, &e), CPM_ERR_CONFLICT);
    struct cpm_subject got;
    assert_int_equal(f->store->ops->subject_get(f->store, "kid", &got), CPM_OK);
    assert_int_equal(got.wrapped_key[0], 0xab);
}

static void test_age_and_guardians(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_subject both[2] = {subject("kid"), subject("mum")};
    struct cpm_subject_update age = {.id = "kid", .age_status = "child_under_14"};
    struct cpm_guardian_link link = {
        .child_id = "kid", .guardian_id = "mum", .relation = "parent", .created_ms = 5};
    struct cpm_event e = event(f, "guardian.linked", "kid");
    struct cpm_write_batch b = {.subjects = both,
                                .subject_count = 2,
                                .subject_updates = &age,
                                .subject_update_count = 1,
                                .guardian_links = &link,
                                .guardian_link_count = 1};
    assert_int_equal(write_one(f, &b, &e), CPM_OK);
    struct cpm_subject got;
    assert_int_equal(ops->subject_get(f->store, "kid", &got), CPM_OK);
    assert_string_equal(got.age_status, "child_under_14");
    struct seen seen = {0};
    assert_int_equal(ops->guardian_list(f->store, "kid", 8, see_guardian, &seen), CPM_OK);
    assert_int_equal(seen.count, 1);
    assert_string_equal(seen.text[0], "mum:parent");
    seen.count = 0;
    assert_int_equal(ops->guardian_list(f->store, "mum", 8, see_guardian, &seen), CPM_OK);
    assert_int_equal(seen.count, 0);
    /* The same link again: the primary key refuses it. */
    e = event(f, "guardian.linked", "kid");
    b = (struct cpm_write_batch){.guardian_links = &link, .guardian_link_count = 1};
    assert_int_equal(write_one(f, &b, &e), CPM_ERR_CONFLICT);
}

static void test_erasure(void **state)
{
    struct fixture *f = *state;
    const struct cpm_store_ops *ops = f->store->ops;
    struct cpm_subject three[3] = {subject("kid"), subject("mum"), subject("other")};
    struct cpm_identity phone = identity("kid", "phone", 7);
    struct cpm_guardian_link link = {.child_id = "kid", .guardian_id = "mum", .relation = "parent"};
    struct cpm_consent_state given = {.subject_id = "kid",
                                      .purpose = "mkt",
                                      .status = "given",
                                      .seq = 1,
                                      .notice = "privacy",
                                      .notice_version = 1,
                                      .decided_ms = 10,
                                      .expires_ms = 99};
    struct cpm_event e = event(f, "consent.given", "kid");
    struct cpm_write_batch b = {.subjects = three,
                                .subject_count = 3,
                                .identities = &phone,
                                .identity_count = 1,
                                .guardian_links = &link,
                                .guardian_link_count = 1,
                                .states = &given,
                                .state_count = 1};
    assert_int_equal(write_one(f, &b, &e), CPM_OK);

    struct cpm_subject_update erase = {.id = "kid", .erased_ms = 7777};
    e = event(f, "subject.erased", "kid");
    b = (struct cpm_write_batch){.subject_updates = &erase, .subject_update_count = 1};
    assert_int_equal(write_one(f, &b, &e), CPM_OK);

    struct cpm_subject got;
    assert_int_equal(ops->subject_get(f->store, "kid", &got), CPM_OK);
    assert_int_equal(got.erased_ms, 7777);
    assert_int_equal(got.wrapped_key_len, 0);
    assert_string_equal(got.age_status, "unknown"); /* kept */
    char owner[CPM_SUBJECT_ID_BYTES_MAX + 1];
    assert_int_equal(ops->identity_find(f->store, "phone", phone.hash, owner), CPM_ERR_NOT_FOUND);
    assert_int_equal(query_int(f, "SELECT count(*) FROM identities"), 0);
    assert_int_equal(query_int(f, "SELECT count(*) FROM guardians"), 0);
    assert_int_equal(query_int(f, "SELECT count(*) FROM consent_state WHERE subject_id = 'kid'"
                                  " AND status = 'erased' AND seq = 2 AND expires_ms = 0"),
                     1);
    assert_int_equal(query_int(f, "SELECT count(*) FROM events"), 2); /* untouched */

    /* Erased is final: a second erasure, and any other event of the subject, are refused. */
    e = event(f, "subject.erased", "kid");
    assert_int_equal(write_one(f, &b, &e), CPM_ERR_CONFLICT);
    e = event(f, "consent.given", "kid");
    b = (struct cpm_write_batch){0};
    assert_int_equal(write_one(f, &b, &e), CPM_ERR_CONFLICT);
    struct cpm_guardian_link late = {
        .child_id = "other", .guardian_id = "kid", .relation = "parent"};
    e = event(f, "guardian.linked", "other");
    b = (struct cpm_write_batch){.guardian_links = &late, .guardian_link_count = 1};
    assert_int_equal(write_one(f, &b, &e), CPM_ERR_CONFLICT);
    /* Others go on. */
    e = event(f, "consent.given", "other");
    b = (struct cpm_write_batch){0};
    assert_int_equal(write_one(f, &b, &e), CPM_OK);
}

/* A request queued after an erasure in the same batch fails the batch (the writer retries). */
static void test_erasure_then_event_in_one_batch(void **state)
{
    struct fixture *f = *state;
    struct cpm_subject kid = subject("kid");
    struct cpm_event e = event(f, "consent.given", "kid");
    struct cpm_write_batch b = {.subjects = &kid, .subject_count = 1};
    assert_int_equal(write_one(f, &b, &e), CPM_OK);
    struct cpm_subject_update erase = {.id = "kid", .erased_ms = 1};
    struct cpm_event two[2] = {event(f, "subject.erased", "kid"), event(f, "consent.given", "kid")};
    two[1].seq++;
    cpm_strlcpy(two[1].id, "evt_b", sizeof(two[1].id));
    b = (struct cpm_write_batch){
        .events = two, .event_count = 2, .subject_updates = &erase, .subject_update_count = 1};
    assert_int_equal(f->store->ops->batch_write(f->store, &b), CPM_ERR_CONFLICT);
    struct cpm_subject got;
    assert_int_equal(f->store->ops->subject_get(f->store, "kid", &got), CPM_OK);
    assert_int_equal(got.erased_ms, 0); /* nothing of the batch */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_subject_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_age_and_guardians, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erasure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erasure_then_event_in_one_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
