/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_session.c — src/http/session.c: the admin console's session table.
 * Opening and checking, idle expiry and its refresh on use, the absolute
 * lifetime, the CSRF check (and that a wrong token neither passes nor
 * refreshes), capacity (expired sessions make room, a full table refuses,
 * a key's oldest session goes past its share), sign-out and revocation,
 * the token comparison, and the open-addressing table against a model
 * under random opens and ends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/common.h"
#include "http/session.h"

static const uint8_t KEY_HASH[CPM_API_KEY_HASH_BYTES] = {1, 2, 3};

static struct cpm_session_table *table_with(int64_t idle_ms, int64_t lifetime_ms, size_t capacity,
                                            size_t per_key_max)
{
    struct cpm_session_options o = {.idle_ms = idle_ms,
                                    .lifetime_ms = lifetime_ms,
                                    .capacity = capacity,
                                    .per_key_max = per_key_max};
    struct cpm_session_table *t = NULL;
    assert_int_equal(cpm_session_table_new(&o, &t), CPM_OK);
    assert_non_null(t);
    return t;
}

static void open_one(struct cpm_session_table *t, const char *key_id, int64_t now_ms,
                     char id[CPM_SESSION_TOKEN_BYTES], struct cpm_session_info *info)
{
    assert_int_equal(cpm_session_open(t, key_id, KEY_HASH, now_ms, id, info), CPM_OK);
}

static cpm_err check(struct cpm_session_table *t, const char *id, const char *csrf, int64_t now_ms)
{
    struct cpm_session_info info;
    return cpm_session_check(t, id, csrf, now_ms, &info);
}

static void test_open_and_check(void **state)
{
    (void)state;
    struct cpm_session_table *t = table_with(1000, 10000, 16, 4);
    char id[CPM_SESSION_TOKEN_BYTES], other[CPM_SESSION_TOKEN_BYTES];
    struct cpm_session_info info, seen;
    open_one(t, "key_a", 100, id, &info);
    assert_int_equal(strlen(id), 43);
    assert_int_equal(strlen(info.csrf), 43);
    assert_string_not_equal(id, info.csrf);
    assert_string_equal(info.key_id, "key_a");
    assert_memory_equal(info.key_hash, KEY_HASH, sizeof(KEY_HASH));
    assert_int_equal(info.created_ms, 100);
    assert_int_equal(info.idle_ends_ms, 1100);
    assert_int_equal(info.lifetime_ends_ms, 10100);

    assert_int_equal(cpm_session_check(t, id, NULL, 600, &seen), CPM_OK);
    assert_string_equal(seen.key_id, "key_a");
    assert_string_equal(seen.csrf, info.csrf);
    assert_int_equal(seen.used_ms, 600);
    assert_int_equal(seen.idle_ends_ms, 1600);

    /* a second session of the same key is another id and another token */
    open_one(t, "key_a", 700, other, &seen);
    assert_string_not_equal(other, id);
    assert_string_not_equal(seen.csrf, info.csrf);
    assert_int_equal(cpm_session_count(t, 700), 2);

    /* malformed, unknown: 401 */
    const char *bad[] = {"", "abc", "not a session id at all, but exactly 43 chr",
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad); i++)
        assert_int_equal(check(t, bad[i], NULL, 800), CPM_ERR_UNAUTHORIZED);
    assert_int_equal(check(t, NULL, NULL, 800), CPM_ERR_UNAUTHORIZED);
    cpm_session_table_free(t);
    cpm_session_table_free(NULL);
}

static void test_idle_expiry_and_refresh(void **state)
{
    (void)state;
    struct cpm_session_table *t = table_with(1000, 60000, 16, 4);
    char id[CPM_SESSION_TOKEN_BYTES], idle[CPM_SESSION_TOKEN_BYTES];
    struct cpm_session_info info;
    open_one(t, "key_a", 0, id, &info);
    open_one(t, "key_a", 0, idle, &info);
    /* each use within the idle time keeps it: 0 → 999 → 1998 → 2997 */
    for (int64_t now = 999; now < 3000; now += 999)
        assert_int_equal(check(t, id, NULL, now), CPM_OK);
    /* the one left alone ended at 1000, and is gone once seen */
    assert_int_equal(check(t, idle, NULL, 1000), CPM_ERR_UNAUTHORIZED);
    assert_int_equal(cpm_session_count(t, 2997), 1);
    /* 1000 ms after its last use (2997) it ends too: exactly at the limit */
    assert_int_equal(check(t, id, NULL, 3996), CPM_OK);
    assert_int_equal(check(t, id, NULL, 4996), CPM_ERR_UNAUTHORIZED);
    assert_int_equal(check(t, id, NULL, 4997), CPM_ERR_UNAUTHORIZED);
    assert_int_equal(cpm_session_count(t, 4997), 0);
    cpm_session_table_free(t);
}

static void test_lifetime_caps_use(void **state)
{
    (void)state;
    struct cpm_session_table *t = table_with(1000, 5000, 16, 4);
    char id[CPM_SESSION_TOKEN_BYTES];
    struct cpm_session_info info;
    open_one(t, "key_a", 0, id, &info);
    int64_t now = 0;
    for (now = 900; now < 5000; now += 900) {
        assert_int_equal(cpm_session_check(t, id, NULL, now, &info), CPM_OK);
        assert_true(info.idle_ends_ms <= 5000); /* never promised past the lifetime */
    }
    assert_int_equal(info.idle_ends_ms, 5000);
    /* used 900 ms ago (at 4500), yet over: the lifetime counts from sign-in */
    assert_int_equal(check(t, id, NULL, 5000), CPM_ERR_UNAUTHORIZED);
    cpm_session_table_free(t);
}

static void test_csrf(void **state)
{
    (void)state;
    struct cpm_session_table *t = table_with(1000, 60000, 16, 4);
    char id[CPM_SESSION_TOKEN_BYTES], other[CPM_SESSION_TOKEN_BYTES];
    struct cpm_session_info info, info_other;
    open_one(t, "key_a", 0, id, &info);
    open_one(t, "key_a", 0, other, &info_other);
    assert_int_equal(check(t, id, info.csrf, 100), CPM_OK);
    char wrong[CPM_SESSION_TOKEN_BYTES];
    memcpy(wrong, info.csrf, sizeof(wrong));
    wrong[42] = wrong[42] == 'A' ? 'B' : 'A';
    assert_int_equal(check(t, id, wrong, 200), CPM_ERR_FORBIDDEN);
    assert_int_equal(check(t, id, "", 200), CPM_ERR_FORBIDDEN);
    /* another session's token is no good here */
    assert_int_equal(check(t, id, info_other.csrf, 200), CPM_ERR_FORBIDDEN);
    /* the session id itself is no CSRF token */
    assert_int_equal(check(t, id, id, 200), CPM_ERR_FORBIDDEN);
    /* wrong tokens did not refresh it: last used at 100, so over at 1100 */
    assert_int_equal(check(t, id, info.csrf, 1100), CPM_ERR_UNAUTHORIZED);
    cpm_session_table_free(t);
}

static void test_token_equal(void **state)
{
    (void)state;
    uint8_t stored[CPM_SESSION_RANDOM_BYTES];
    for (size_t i = 0; i < sizeof(stored); i++)
        stored[i] = (uint8_t)(i * 7 + 1);
    /* the base64url of stored, without padding (as the table writes it) */
    char text[CPM_SESSION_TOKEN_BYTES];
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = 0;
    for (size_t i = 0; i < sizeof(stored); i += 3) {
        uint32_t v = (uint32_t)stored[i] << 16;
        if (i + 1 < sizeof(stored))
            v |= (uint32_t)stored[i + 1] << 8;
        if (i + 2 < sizeof(stored))
            v |= stored[i + 2];
        size_t chars = i + 2 < sizeof(stored) ? 4 : i + 1 < sizeof(stored) ? 3 : 2;
        for (size_t c = 0; c < chars; c++)
            text[n++] = alphabet[(v >> (18 - 6 * c)) & 63];
    }
    text[n] = '\0';
    assert_int_equal(n, 43);
    assert_true(cpm_session_token_equal(stored, text));

    char changed[CPM_SESSION_TOKEN_BYTES];
    for (size_t at = 0; at < 43; at += 21) { /* the first, a middle and the last character */
        memcpy(changed, text, sizeof(changed));
        changed[at] = changed[at] == 'A' ? 'B' : 'A';
        assert_false(cpm_session_token_equal(stored, changed));
    }
    memcpy(changed, text, sizeof(changed));
    changed[42] = '\0'; /* one character short */
    assert_false(cpm_session_token_equal(stored, changed));
    memcpy(changed, text, 43);
    changed[43] = 'A';
    changed[44] = '\0'; /* one too many */
    assert_false(cpm_session_token_equal(stored, changed));
    memcpy(changed, text, 43);
    changed[43] = '=';
    changed[44] = '\0'; /* padded */
    assert_false(cpm_session_token_equal(stored, changed));
    memcpy(changed, text, sizeof(changed));
    changed[10] = '+'; /* the other alphabet */
    assert_false(cpm_session_token_equal(stored, changed));
    assert_false(cpm_session_token_equal(stored, NULL));
    assert_false(cpm_session_token_equal(stored, ""));
    /* all-zero bytes and an undecodable text that becomes zeros must not meet */
    uint8_t zeros[CPM_SESSION_RANDOM_BYTES] = {0};
    assert_false(cpm_session_token_equal(zeros, "!!!"));
    assert_false(cpm_session_token_equal(zeros, ""));
}

static void test_capacity(void **state)
{
    (void)state;
    struct cpm_session_table *t = table_with(1000, 60000, 4, 16);
    char ids[5][CPM_SESSION_TOKEN_BYTES];
    struct cpm_session_info info;
    for (int i = 0; i < 4; i++)
        open_one(t, i % 2 ? "key_a" : "key_b", 10 * i, ids[i], &info);
    /* full of live sessions: refused, and nobody is signed out for it */
    assert_int_equal(cpm_session_open(t, "key_c", KEY_HASH, 100, ids[4], &info),
                     CPM_ERR_UNAVAILABLE);
    for (int i = 0; i < 4; i++)
        assert_int_equal(check(t, ids[i], NULL, 100 + i), CPM_OK);
    /* once sessions have gone idle, they make room */
    assert_int_equal(check(t, ids[0], NULL, 1050), CPM_OK);
    open_one(t, "key_c", 1103, ids[4], &info); /* 1..3 last used at 101..103: over */
    assert_int_equal(cpm_session_count(t, 1103), 2);
    assert_int_equal(check(t, ids[0], NULL, 1103), CPM_OK);
    assert_int_equal(check(t, ids[4], NULL, 1103), CPM_OK);
    for (int i = 1; i < 4; i++)
        assert_int_equal(check(t, ids[i], NULL, 1103), CPM_ERR_UNAUTHORIZED);
    cpm_session_table_free(t);
}

static void test_per_key_share(void **state)
{
    (void)state;
    struct cpm_session_table *t = table_with(100000, 1000000, 16, 2);
    char a[CPM_SESSION_TOKEN_BYTES], b[CPM_SESSION_TOKEN_BYTES], c[CPM_SESSION_TOKEN_BYTES];
    char other[CPM_SESSION_TOKEN_BYTES];
    struct cpm_session_info info;
    open_one(t, "key_a", 0, a, &info);
    open_one(t, "key_a", 1, b, &info);
    open_one(t, "key_b", 2, other, &info);
    assert_int_equal(check(t, a, NULL, 3), CPM_OK); /* b is now key_a's least recently used */
    open_one(t, "key_a", 4, c, &info);
    assert_int_equal(check(t, a, NULL, 5), CPM_OK);
    assert_int_equal(check(t, c, NULL, 5), CPM_OK);
    assert_int_equal(check(t, b, NULL, 5), CPM_ERR_UNAUTHORIZED);
    assert_int_equal(check(t, other, NULL, 5), CPM_OK); /* another key's share is its own */
    cpm_session_table_free(t);
}

static void test_end_and_revoke(void **state)
{
    (void)state;
    struct cpm_session_table *t = table_with(1000, 60000, 16, 8);
    char a[3][CPM_SESSION_TOKEN_BYTES], b[CPM_SESSION_TOKEN_BYTES];
    struct cpm_session_info info;
    for (int i = 0; i < 3; i++)
        open_one(t, "key_a", i, a[i], &info);
    open_one(t, "key_b", 3, b, &info);
    assert_int_equal(cpm_session_end(t, a[0]), CPM_OK);
    assert_int_equal(cpm_session_end(t, a[0]), CPM_ERR_NOT_FOUND);
    assert_int_equal(cpm_session_end(t, "junk"), CPM_ERR_NOT_FOUND);
    assert_int_equal(check(t, a[0], NULL, 10), CPM_ERR_UNAUTHORIZED);
    assert_int_equal(cpm_session_end_key(t, "key_a"), 2);
    assert_int_equal(cpm_session_end_key(t, "key_a"), 0);
    for (int i = 1; i < 3; i++)
        assert_int_equal(check(t, a[i], NULL, 10), CPM_ERR_UNAUTHORIZED);
    assert_int_equal(check(t, b, NULL, 10), CPM_OK);
    assert_int_equal(cpm_session_count(t, 10), 1);
    cpm_session_table_free(t);
}

/*
 * Random opens, ends and checks on a small table (long runs, tombstones,
 * wrap-around) against a plain list of what should be live.
 */
static void test_table_against_model(void **state)
{
    (void)state;
    enum { CAP = 8, STEPS = 4000 };
    struct cpm_session_table *t = table_with(1000000, 100000000, CAP, CAP);
    char live[CAP][CPM_SESSION_TOKEN_BYTES], ended[CPM_SESSION_TOKEN_BYTES] = "";
    size_t count = 0;
    uint64_t x = 0x9e3779b97f4a7c15u;
    struct cpm_session_info info;
    for (int step = 0; step < STEPS; step++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t now = step;
        if (count < CAP && (x % 3 != 0 || count == 0)) {
            open_one(t, "key_a", now, live[count], &info);
            count++;
        } else if (count == CAP && x % 3 != 0) {
            assert_int_equal(cpm_session_open(t, "key_b", KEY_HASH, now, ended, &info),
                             CPM_ERR_UNAVAILABLE);
        } else {
            size_t victim = (size_t)(x >> 8) % count;
            assert_int_equal(cpm_session_end(t, live[victim]), CPM_OK);
            memcpy(ended, live[victim], sizeof(ended));
            memmove(live[victim], live[count - 1], sizeof(live[0]));
            count--;
            assert_int_equal(check(t, ended, NULL, now), CPM_ERR_UNAUTHORIZED);
        }
        for (size_t i = 0; i < count; i++)
            assert_int_equal(check(t, live[i], NULL, now), CPM_OK);
        assert_int_equal(cpm_session_count(t, now), count);
    }
    cpm_session_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_and_check),      cmocka_unit_test(test_idle_expiry_and_refresh),
        cmocka_unit_test(test_lifetime_caps_use),   cmocka_unit_test(test_csrf),
        cmocka_unit_test(test_token_equal),         cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_per_key_share),       cmocka_unit_test(test_end_and_revoke),
        cmocka_unit_test(test_table_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
