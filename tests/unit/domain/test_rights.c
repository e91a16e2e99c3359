/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rights.c — rights requests (src/domain/rights.c): the due date of
 * 15 working days in Asia/Shanghai (weekday, Friday and weekend receipts,
 * a late evening in UTC that is already the next day in Shanghai, a year
 * end, a DST zone), checked also by brute force over every hour of six
 * weeks; the forward-only statuses; the bodies with their faults; and the
 * leaves (fixed key order, no free text).
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>

#include "support/fixture.h"
#include "support/time_fixture.h"

#include "core/alloc.h"
#include "domain/rights.h"

#define DAY_MS ((int64_t)86400000)

static int64_t due(const char *received)
{
    return cpm_rights_due_ms(zone(CPM_RIGHTS_TIME_ZONE), at(received), CPM_RIGHTS_DUE_WORKING_DAYS);
}

static void due_is(const char *received, const char *expected)
{
    char got[CPM_TIME_TEXT_BYTES];
    cpm_time_format(due(received), got, sizeof(got));
    if (strcmp(got, expected) != 0)
        fail_msg("received %s: due %s, expected %s", received, got, expected);
}

static void test_due_dates(void **state)
{
    CPM_UNUSED(state);
    /* 2026-01-05 is a Monday: three weeks later, the same weekday, at the end of the day. */
    due_is("2026-01-05T10:00:00+08:00", "2026-01-26T15:59:59.999Z");
    due_is("2026-01-05T00:00:00+08:00", "2026-01-26T15:59:59.999Z"); /* the first instant */
    due_is("2026-01-07T23:59:59.999+08:00", "2026-01-28T15:59:59.999Z");
    /* A Friday: the 15th working day is the Friday three weeks on. */
    due_is("2026-01-09T09:00:00+08:00", "2026-01-30T15:59:59.999Z");
    /* Saturday and Sunday count from Monday: due the same Friday. */
    due_is("2026-01-10T12:00:00+08:00", "2026-01-30T15:59:59.999Z");
    due_is("2026-01-11T23:00:00+08:00", "2026-01-30T15:59:59.999Z");
    /* Thursday 16:30 UTC is already Friday 00:30 in Shanghai: a Friday receipt. */
    due_is("2026-01-08T16:30:00Z", "2026-01-30T15:59:59.999Z");
    /* One millisecond earlier it is still Thursday there. */
    due_is("2026-01-08T15:59:59.999Z", "2026-01-29T15:59:59.999Z");
    /* Friday 20:00 UTC is Saturday 04:00 in Shanghai. */
    due_is("2026-01-09T20:00:00Z", "2026-01-30T15:59:59.999Z");
    /* Public holidays are not known: New Year's Day counts as a working day. */
    due_is("2025-12-31T12:00:00+08:00", "2026-01-21T15:59:59.999Z");
}

static void test_due_other_counts_and_zones(void **state)
{
    CPM_UNUSED(state);
    const struct cpm_tz *sh = zone(CPM_RIGHTS_TIME_ZONE);
    char got[CPM_TIME_TEXT_BYTES];
    /* One working day after a Friday is the Monday. */
    cpm_time_format(cpm_rights_due_ms(sh, at("2026-01-09T18:00:00+08:00"), 1), got, sizeof(got));
    assert_string_equal(got, "2026-01-12T15:59:59.999Z");
    /* Any zone: Berlin moves to summer time on 2026-03-29; the end of day follows it. */
    const struct cpm_tz *berlin = zone("Europe/Berlin");
    cpm_time_format(cpm_rights_due_ms(berlin, at("2026-03-16T08:00:00+01:00"), 15), got,
                    sizeof(got));
    assert_string_equal(got, "2026-04-06T21:59:59.999Z");
    cpm_time_format(cpm_rights_due_ms(zone("UTC"), at("2026-01-09T23:59:59Z"), 15), got,
                    sizeof(got));
    assert_string_equal(got, "2026-01-30T23:59:59.999Z");
}

/* 0 = Monday … 6 = Sunday of the Shanghai day holding utc_ms. */
static int shanghai_weekday(int64_t utc_ms, int64_t *day)
{
    *day = (utc_ms + 8 * 3600 * 1000) / DAY_MS;
    return (int)((*day % 7 + 7 + 3) % 7);
}

/* Every hour of six weeks: due at a Shanghai day's last ms, a weekday, 15 weekdays on. */
static void test_due_brute_force(void **state)
{
    CPM_UNUSED(state);
    const struct cpm_tz *sh = zone(CPM_RIGHTS_TIME_ZONE);
    int64_t from = at("2026-02-02T00:00:00Z");
    for (int64_t t = from; t < from + 42 * DAY_MS; t += 3600 * 1000 + 7) {
        int64_t d = cpm_rights_due_ms(sh, t, CPM_RIGHTS_DUE_WORKING_DAYS);
        int64_t received_day, due_day;
        shanghai_weekday(t, &received_day);
        assert_true(shanghai_weekday(d, &due_day) < 5);
        assert_int_equal((d + 1 + 8 * 3600 * 1000) % DAY_MS, 0); /* next local midnight */
        int weekdays = 0;
        for (int64_t day = received_day + 1; day <= due_day; day++)
            weekdays += (day % 7 + 7 + 3) % 7 < 5;
        assert_int_equal(weekdays, CPM_RIGHTS_DUE_WORKING_DAYS);
    }
}

static void test_names_and_moves(void **state)
{
    CPM_UNUSED(state);
    enum cpm_rights_type t;
    enum cpm_rights_status s;
    assert_true(cpm_rights_type_parse("portability", &t));
    assert_int_equal(t, CPM_RIGHTS_PORTABILITY);
    assert_string_equal(cpm_rights_type_name(CPM_RIGHTS_EXPLANATION), "explanation");
    assert_false(cpm_rights_type_parse("erasure", &t));
    assert_false(cpm_rights_type_parse(NULL, &t));
    assert_true(cpm_rights_status_parse("in_progress", &s));
    assert_int_equal(s, CPM_RIGHTS_IN_PROGRESS);
    assert_false(cpm_rights_status_parse("done", &s));
    assert_true(cpm_rights_status_open(CPM_RIGHTS_RECEIVED));
    assert_false(cpm_rights_status_open(CPM_RIGHTS_REFUSED));

    static const struct {
        enum cpm_rights_status from, to;
        bool allowed;
    } moves[] = {
        {CPM_RIGHTS_RECEIVED, CPM_RIGHTS_IN_PROGRESS, true},
        {CPM_RIGHTS_RECEIVED, CPM_RIGHTS_COMPLETED, true},
        {CPM_RIGHTS_RECEIVED, CPM_RIGHTS_REFUSED, true},
        {CPM_RIGHTS_IN_PROGRESS, CPM_RIGHTS_COMPLETED, true},
        {CPM_RIGHTS_IN_PROGRESS, CPM_RIGHTS_REFUSED, true},
        {CPM_RIGHTS_RECEIVED, CPM_RIGHTS_RECEIVED, false},
        {CPM_RIGHTS_IN_PROGRESS, CPM_RIGHTS_IN_PROGRESS, false},
        {CPM_RIGHTS_IN_PROGRESS, CPM_RIGHTS_RECEIVED, false},
        {CPM_RIGHTS_COMPLETED, CPM_RIGHTS_REFUSED, false},
        {CPM_RIGHTS_COMPLETED, CPM_RIGHTS_IN_PROGRESS, false},
        {CPM_RIGHTS_REFUSED, CPM_RIGHTS_COMPLETED, false},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(moves); i++)
        assert_int_equal(cpm_rights_transition_allowed(moves[i].from, moves[i].to),
                         moves[i].allowed);
}

static void test_input_body(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    struct cpm_rights_input in;
    json_t *body = J("{'type': 'correction', 'property': 'shop', 'note': '地址写错了'}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_rights_input_parse(body, &in, &d), CPM_OK);
    assert_int_equal(in.type, CPM_RIGHTS_CORRECTION);
    assert_string_equal(in.property, "shop");
    assert_int_equal(in.note_len, strlen("地址写错了"));
    json_decref(body);

    /* An empty note, or null, is no note. */
    body = J("{'type': 'access', 'note': null}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_rights_input_parse(body, &in, &d), CPM_OK);
    assert_null(in.note);
    assert_null(in.property);
    json_decref(body);
    body = J("{'type': 'access', 'note': ''}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_rights_input_parse(body, &in, &d), CPM_OK);
    assert_null(in.note);
    json_decref(body);

    body = J("{'type': 'erasure', 'property': 'Shop!', 'note': 7, 'why': 'x'}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_rights_input_parse(body, &in, &d), CPM_ERR_VALIDATION);
    expect(&d, "type", "unknown value 'erasure'");
    expect(&d, "property", "");
    expect(&d, "note", "must be a string");
    expect(&d, "why", "unknown field");
    json_decref(body);
    body = J("{}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_rights_input_parse(body, &in, &d), CPM_ERR_VALIDATION);
    expect(&d, "type", "is required");
    json_decref(body);

    /* 2000 bytes of note are fine, 2001 are not; the note is never quoted. */
    char note[CPM_RIGHTS_TEXT_BYTES_MAX + 2];
    memset(note, 'n', sizeof(note));
    note[CPM_RIGHTS_TEXT_BYTES_MAX] = '\0';
    body = json_pack("{s:s, s:s}", "type", "deletion", "note", note);
    cpm_detail_init(&d);
    assert_int_equal(cpm_rights_input_parse(body, &in, &d), CPM_OK);
    json_decref(body);
    note[CPM_RIGHTS_TEXT_BYTES_MAX] = 'n';
    note[CPM_RIGHTS_TEXT_BYTES_MAX + 1] = '\0';
    body = json_pack("{s:s, s:s}", "type", "deletion", "note", note);
    cpm_detail_init(&d);
    assert_int_equal(cpm_rights_input_parse(body, &in, &d), CPM_ERR_VALIDATION);
    expect(&d, "note", "is 2001 bytes; the limit is 2000");
    assert_null(strstr(d.faults[0].message, "nnn"));
    json_decref(body);
}

static void test_change_body(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    struct cpm_rights_change c;
    json_t *body = J("{'status': 'refused', 'reason': 'we hold no data on you', 'reply': 'sorry'}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_rights_change_parse(body, &c, &d), CPM_OK);
    assert_int_equal(c.status, CPM_RIGHTS_REFUSED);
    assert_string_equal(c.reason, "we hold no data on you");
    assert_string_equal(c.reply, "sorry");
    json_decref(body);

    body = J("{'status': 'refused'}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_rights_change_parse(body, &c, &d), CPM_ERR_VALIDATION);
    expect(&d, "reason", "is required to refuse");
    json_decref(body);
    body = J("{'status': 'completed', 'reason': 'x'}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_rights_change_parse(body, &c, &d), CPM_ERR_VALIDATION);
    expect(&d, "reason", "only when refusing");
    json_decref(body);
    /* Never back to received; reply and reason are not empty; unknown fields refused. */
    body = J("{'status': 'received', 'reply': '', 'note': 'x'}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_rights_change_parse(body, &c, &d), CPM_ERR_VALIDATION);
    expect(&d, "status", "unknown value 'received'");
    expect(&d, "reply", "must not be empty");
    expect(&d, "note", "unknown field");
    json_decref(body);
}

static void leaf_is(const struct cpm_rights_leaf_info *info, const char *expected)
{
    size_t len = 0;
    char *leaf = cpm_rights_leaf(info, &len);
    assert_non_null(leaf);
    assert_string_equal(leaf, expected);
    assert_int_equal(len, strlen(expected));
    cpm_free(leaf);
}

static void test_leaves(void **state)
{
    CPM_UNUSED(state);
    struct cpm_rights_leaf_info info = {
        .type = CPM_EVENT_RIGHTS_REQUESTED,
        .event_id = "evt_1",
        .subject_pseudonym = "8a9b",
        .time_ms = at("2026-01-05T02:00:00Z"),
        .request_id = "rr_1",
        .request_type = CPM_RIGHTS_ACCESS,
        .status = CPM_RIGHTS_RECEIVED,
        .due_ms = at("2026-01-26T15:59:59.999Z"),
        .property = "shop",
        .note_sha256 = "ab12",
        .key = "end_user",
    };
    leaf_is(&info, "{\"v\":1,\"id\":\"evt_1\",\"type\":\"rights.requested\",\"time\":\"2026-01-05T"
                   "02:00:00.000Z\",\"subject\":\"8a9b\",\"request\":\"rr_1\",\"request_type\":"
                   "\"access\",\"status\":\"received\",\"due\":\"2026-01-26T15:59:59.999Z\","
                   "\"property\":\"shop\",\"note_sha256\":\"ab12\",\"key\":\"end_user\"}");
    info.note_sha256 = NULL;
    info.guardian = "c0de";
    leaf_is(&info, "{\"v\":1,\"id\":\"evt_1\",\"type\":\"rights.requested\",\"time\":\"2026-01-05T"
                   "02:00:00.000Z\",\"subject\":\"8a9b\",\"request\":\"rr_1\",\"request_type\":"
                   "\"access\",\"status\":\"received\",\"due\":\"2026-01-26T15:59:59.999Z\","
                   "\"property\":\"shop\",\"guardian\":\"c0de\",\"key\":\"end_user\"}");
    info.type = CPM_EVENT_RIGHTS_UPDATED;
    info.status = CPM_RIGHTS_REFUSED;
    info.previous = CPM_RIGHTS_IN_PROGRESS;
    info.key = "key_0123";
    leaf_is(&info, "{\"v\":1,\"id\":\"evt_1\",\"type\":\"rights.updated\",\"time\":\"2026-01-05T"
                   "02:00:00.000Z\",\"subject\":\"8a9b\",\"request\":\"rr_1\",\"request_type\":"
                   "\"access\",\"status\":\"refused\",\"previous\":\"in_progress\",\"due\":"
                   "\"2026-01-26T15:59:59.999Z\",\"key\":\"key_0123\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due_dates),       cmocka_unit_test(test_due_other_counts_and_zones),
        cmocka_unit_test(test_due_brute_force), cmocka_unit_test(test_names_and_moves),
        cmocka_unit_test(test_input_body),      cmocka_unit_test(test_change_body),
        cmocka_unit_test(test_leaves),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cpm_tz_cache_clear();
    return failed;
}
