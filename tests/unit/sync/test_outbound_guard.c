/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_outbound_guard.c — the SSRF guard (src/sync/outbound_guard.c): every
 * blocked class of address, IPv4 and IPv6, also written IPv4-mapped,
 * IPv4-compatible and NAT64; public addresses and the edges of each range;
 * the allowlist (single hosts, /8, IPv6, mapped addresses); and parsing:
 * spaces, bare addresses, host bits masked, and each kind of bad entry.
 */
#include "core/common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <setjmp.h>
#include <cmocka.h>

#include "support/fixture.h"
#include "sync/outbound_guard.h"

#define FIELD "CPM_OUTBOUND_ALLOW"

/* A socket address for text (IPv4 or IPv6); fails the test when it is neither. */
static const struct sockaddr *sa(const char *text, struct sockaddr_storage *storage)
{
    memset(storage, 0, sizeof(*storage));
    struct sockaddr_in *in = (struct sockaddr_in *)storage;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)storage;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(443);
    } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(443);
    } else {
        fail_msg("bad test address '%s'", text);
    }
    return (const struct sockaddr *)storage;
}

static struct cpm_outbound_guard *guard_of(const char *list)
{
    static struct cpm_outbound_guard guard;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    if (cpm_outbound_guard_parse(&guard, list, FIELD, &detail) != CPM_OK)
        fail_msg("'%s' refused: %s", list, detail.count > 0 ? detail.faults[0].message : "");
    return &guard;
}

/*
 * Checks addr against guard: want_reason NULL means allowed, otherwise
 * refused with a reason that starts with want_reason.
 */
static void check(const struct cpm_outbound_guard *guard, const char *addr, const char *want_reason)
{
    struct sockaddr_storage storage;
    const char *why = NULL;
    bool allowed = cpm_outbound_guard_allows(guard, sa(addr, &storage), &why);
    if (want_reason == NULL) {
        if (!allowed)
            fail_msg("%s refused (%s), want allowed", addr, why);
        return;
    }
    if (allowed)
        fail_msg("%s allowed, want refused as %s", addr, want_reason);
    if (why == NULL || strncmp(why, want_reason, strlen(want_reason)) != 0)
        fail_msg("%s refused as '%s', want '%s…'", addr, why ? why : "(null)", want_reason);
    if (strstr(why, "CPM_OUTBOUND_ALLOW") == NULL)
        fail_msg("%s: '%s' does not say how to allowlist it", addr, why);
}

#define ALLOWED         NULL
#define UNSPECIFIED     "unspecified"
#define PRIVATE         "private address"
#define CGNAT           "carrier-grade NAT address"
#define LOOPBACK        "loopback address"
#define LINK_LOCAL      "link-local address"
#define IETF            "IETF protocol assignment address"
#define DOCUMENTATION   "documentation address"
#define BENCHMARKING    "benchmarking address"
#define MULTICAST       "multicast address"
#define BROADCAST       "broadcast address"
#define RESERVED        "reserved address"
#define UNIQUE_LOCAL    "unique local (private) address"
#define UNSPECIFIED_ALL "unspecified address"
#define SITE_LOCAL      "site-local (private) address"
#define LOCAL_NAT64     "local-use NAT64 address"

static const struct {
    const char *addr;
    const char *reason; /* ALLOWED or the start of the reason */
} classes[] = {
    /* IPv4: each range, its first and last address, and its neighbours outside. */
    {"0.0.0.0", UNSPECIFIED},
    {"0.255.255.255", UNSPECIFIED},
    {"1.0.0.0", ALLOWED},
    {"9.255.255.255", ALLOWED},
    {"10.0.0.0", PRIVATE},
    {"10.255.255.255", PRIVATE},
    {"11.0.0.0", ALLOWED},
    {"100.63.255.255", ALLOWED},
    {"100.64.0.0", CGNAT},
    {"100.127.255.255", CGNAT},
    {"100.128.0.0", ALLOWED},
    {"126.255.255.255", ALLOWED},
    {"127.0.0.1", LOOPBACK},
    {"127.255.255.254", LOOPBACK},
    {"128.0.0.0", ALLOWED},
    {"169.253.255.255", ALLOWED},
    {"169.254.169.254", LINK_LOCAL}, /* cloud metadata */
    {"169.255.0.0", ALLOWED},
    {"172.15.255.255", ALLOWED},
    {"172.16.0.0", PRIVATE},
    {"172.31.255.255", PRIVATE},
    {"172.32.0.0", ALLOWED},
    {"192.0.0.8", IETF},
    {"192.0.1.0", ALLOWED},
    {"192.0.2.1", DOCUMENTATION},
    {"192.0.3.0", ALLOWED},
    {"192.167.255.255", ALLOWED},
    {"192.168.0.1", PRIVATE},
    {"192.168.255.255", PRIVATE},
    {"192.169.0.0", ALLOWED},
    {"198.17.255.255", ALLOWED},
    {"198.18.0.0", BENCHMARKING},
    {"198.19.255.255", BENCHMARKING},
    {"198.20.0.0", ALLOWED},
    {"198.51.100.7", DOCUMENTATION},
    {"203.0.113.7", DOCUMENTATION},
    {"203.0.114.0", ALLOWED},
    {"223.255.255.255", ALLOWED},
    {"224.0.0.1", MULTICAST},
    {"239.255.255.250", MULTICAST},
    {"240.0.0.1", RESERVED},
    {"254.255.255.255", RESERVED},
    {"255.255.255.255", BROADCAST},
    {"1.1.1.1", ALLOWED},
    {"8.8.8.8", ALLOWED},
    /* IPv6. */
    {"::", UNSPECIFIED_ALL},
    {"::1", LOOPBACK},
    {"fc00::1", UNIQUE_LOCAL},
    {"fd12:3456:789a::1", UNIQUE_LOCAL},
    {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ALLOWED},
    {"fe80::1", LINK_LOCAL},
    {"febf:ffff::1", LINK_LOCAL},
    {"fec0::1", SITE_LOCAL},
    {"feff:ffff::1", SITE_LOCAL},
    {"64:ff9b:1::1", LOCAL_NAT64},
    {"64:ff9b:1:ffff::1", LOCAL_NAT64},
    {"64:ff9b:2::1", ALLOWED},
    {"ff02::1", MULTICAST},
    {"ff0e::101", MULTICAST},
    {"2001:db8::1", DOCUMENTATION},
    {"2001:db8:ffff:ffff::1", DOCUMENTATION},
    {"2001:db7:ffff::1", ALLOWED},
    {"2001:db9::1", ALLOWED},
    {"2606:4700::1111", ALLOWED},
    {"2a00:1450:4001:80b::200e", ALLOWED},
    /* IPv4-mapped: judged as the IPv4 address they carry. */
    {"::ffff:127.0.0.1", LOOPBACK},
    {"::ffff:10.1.2.3", PRIVATE},
    {"::ffff:169.254.169.254", LINK_LOCAL},
    {"::ffff:100.64.0.1", CGNAT},
    {"::ffff:0.0.0.0", UNSPECIFIED},
    {"::ffff:224.0.0.1", MULTICAST},
    {"::ffff:255.255.255.255", BROADCAST},
    {"::ffff:7f00:1", LOOPBACK}, /* the same address written in hex */
    {"::ffff:1.1.1.1", ALLOWED},
    /* IPv4-compatible (::a.b.c.d). */
    {"::127.0.0.1", LOOPBACK},
    {"::192.168.1.1", PRIVATE},
    {"::0.0.0.2", UNSPECIFIED},
    {"::1.1.1.1", ALLOWED},
    /* NAT64 (64:ff9b::/96). */
    {"64:ff9b::127.0.0.1", LOOPBACK},
    {"64:ff9b::a9fe:a9fe", LINK_LOCAL},
    {"64:ff9b::172.16.0.1", PRIVATE},
    {"64:ff9b::1.1.1.1", ALLOWED},
    /* Near the embedding prefixes, but outside them: plain IPv6. */
    {"::1:0:0:0", ALLOWED},
    {"::fffe:7f00:1", ALLOWED},
    {"64:ff9b:2::7f00:1", ALLOWED},
};

static void test_blocked_classes(void **state)
{
    (void)state;
    struct cpm_outbound_guard *none = guard_of(NULL);
    for (size_t i = 0; i < CPM_ARRAY_LEN(classes); i++)
        check(none, classes[i].addr, classes[i].reason);

    /* why may be NULL, and is left alone when the address is allowed. */
    struct sockaddr_storage storage;
    assert_false(cpm_outbound_guard_allows(none, sa("127.0.0.1", &storage), NULL));
    assert_true(cpm_outbound_guard_allows(none, sa("1.1.1.1", &storage), NULL));
    const char *why = "untouched";
    assert_true(cpm_outbound_guard_allows(none, sa("2606:4700::1111", &storage), &why));
    assert_string_equal(why, "untouched");
    assert_false(cpm_outbound_guard_allows(none, sa("::1", &storage), &why));
    assert_string_equal(why, "loopback address: add it to CPM_OUTBOUND_ALLOW to allow it");
}

static void test_unknown_family(void **state)
{
    (void)state;
    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    cpm_strlcpy(un.sun_path, "/run/cpm.sock", sizeof(un.sun_path));
    const char *why = NULL;
    assert_false(
        cpm_outbound_guard_allows(guard_of("0.0.0.0/0,::/0"), (const struct sockaddr *)&un, &why));
    assert_non_null(why);

    struct sockaddr_storage unspec;
    memset(&unspec, 0, sizeof(unspec));
    unspec.ss_family = AF_UNSPEC;
    assert_false(cpm_outbound_guard_allows(guard_of(NULL), (const struct sockaddr *)&unspec, NULL));
}

static void test_allowlist(void **state)
{
    (void)state;
    /* One host: only that host, in either spelling. */
    struct cpm_outbound_guard *g = guard_of("127.0.0.1/32");
    check(g, "127.0.0.1", ALLOWED);
    check(g, "::ffff:127.0.0.1", ALLOWED);
    check(g, "127.0.0.2", LOOPBACK);
    check(g, "::ffff:127.0.0.2", LOOPBACK);
    check(g, "::1", LOOPBACK);
    check(g, "10.0.0.1", PRIVATE);
    check(g, "1.1.1.1", ALLOWED);

    /* A /8. */
    g = guard_of("10.0.0.0/8");
    check(g, "10.0.0.1", ALLOWED);
    check(g, "10.255.255.255", ALLOWED);
    check(g, "::ffff:10.20.30.40", ALLOWED);
    check(g, "172.16.0.1", PRIVATE);
    check(g, "192.168.0.1", PRIVATE);
    check(g, "127.0.0.1", LOOPBACK);

    /* IPv6 ranges; an IPv6 range does not cover IPv4 addresses, nor the reverse. */
    g = guard_of("fd00::/8, ::1");
    check(g, "fd12:3456::1", ALLOWED);
    check(g, "fdff:ffff::1", ALLOWED);
    check(g, "fc00::1", UNIQUE_LOCAL);
    check(g, "::1", ALLOWED);
    check(g, "127.0.0.1", LOOPBACK);
    check(g, "fe80::1", LINK_LOCAL);

    g = guard_of("fe80::/10,2001:db8:1::/48");
    check(g, "fe80::1234", ALLOWED);
    check(g, "2001:db8:1:2::3", ALLOWED);
    check(g, "2001:db8:2::3", DOCUMENTATION);

    /* An IPv4-mapped range is the IPv4 range it names: it covers both spellings. */
    g = guard_of("::ffff:192.168.0.0/112");
    assert_int_equal(g->allow[0].family, AF_INET);
    assert_int_equal(g->allow[0].prefix_bits, 16);
    check(g, "192.168.4.5", ALLOWED);
    check(g, "::ffff:192.168.4.5", ALLOWED);
    check(g, "192.169.4.5", ALLOWED);
    check(g, "10.0.0.1", PRIVATE);

    /* Several entries, the later ones count too. */
    g = guard_of("203.0.113.0/24 , 169.254.169.254 ,100.64.0.0/10");
    check(g, "203.0.113.9", ALLOWED);
    check(g, "169.254.169.254", ALLOWED);
    check(g, "169.254.169.253", LINK_LOCAL);
    check(g, "100.100.100.100", ALLOWED);

    /* Everything. */
    g = guard_of("0.0.0.0/0,::/0");
    for (size_t i = 0; i < CPM_ARRAY_LEN(classes); i++)
        check(g, classes[i].addr, ALLOWED);
}

static void test_parse(void **state)
{
    (void)state;
    struct cpm_outbound_guard g;
    struct cpm_detail d;
    cpm_detail_init(&d);
    memset(&g, 0xa5, sizeof(g));
    assert_int_equal(cpm_outbound_guard_parse(&g, NULL, FIELD, &d), CPM_OK);
    assert_int_equal(g.allow_count, 0);
    memset(&g, 0xa5, sizeof(g));
    assert_int_equal(cpm_outbound_guard_parse(&g, "", FIELD, &d), CPM_OK);
    assert_int_equal(g.allow_count, 0);
    assert_int_equal(cpm_outbound_guard_parse(&g, "   ", FIELD, &d), CPM_OK);
    assert_int_equal(g.allow_count, 0);
    assert_int_equal(d.count, 0);

    /* Spaces around commas; a bare address is its single host. */
    assert_int_equal(
        cpm_outbound_guard_parse(&g, " 10.1.0.0/16 ,::1,  1.2.3.4\t, fd00::/8 ", FIELD, &d),
        CPM_OK);
    assert_int_equal(d.count, 0);
    assert_int_equal(g.allow_count, 4);
    static const uint8_t ten_one[16] = {10, 1};
    static const uint8_t loop6[16] = {[15] = 1};
    static const uint8_t host[16] = {1, 2, 3, 4};
    static const uint8_t fd[16] = {0xfd};
    assert_int_equal(g.allow[0].family, AF_INET);
    assert_int_equal(g.allow[0].prefix_bits, 16);
    assert_memory_equal(g.allow[0].addr, ten_one, 16);
    assert_int_equal(g.allow[1].family, AF_INET6);
    assert_int_equal(g.allow[1].prefix_bits, 128);
    assert_memory_equal(g.allow[1].addr, loop6, 16);
    assert_int_equal(g.allow[2].family, AF_INET);
    assert_int_equal(g.allow[2].prefix_bits, 32);
    assert_memory_equal(g.allow[2].addr, host, 16);
    assert_int_equal(g.allow[3].family, AF_INET6);
    assert_int_equal(g.allow[3].prefix_bits, 8);
    assert_memory_equal(g.allow[3].addr, fd, 16);

    /* Exactly the maximum is fine. */
    char list[1024] = "";
    size_t used = 0;
    for (int i = 0; i < CPM_OUTBOUND_ALLOW_MAX; i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s10.0.%d.0/24",
                                 i > 0 ? "," : "", i);
    assert_true(used < sizeof(list));
    assert_int_equal(cpm_outbound_guard_parse(&g, list, FIELD, &d), CPM_OK);
    assert_int_equal(g.allow_count, CPM_OUTBOUND_ALLOW_MAX);
    assert_int_equal(d.count, 0);

    /* A NULL detail is allowed. */
    assert_int_equal(cpm_outbound_guard_parse(&g, "nope", FIELD, NULL), CPM_ERR_VALIDATION);
}

static void test_prefix_masking(void **state)
{
    (void)state;
    static const struct {
        const char *entry;
        int family;
        unsigned prefix_bits;
        uint8_t addr[16];
    } masked[] = {
        {"10.1.2.3/8", AF_INET, 8, {10}},
        {"192.168.1.255/23", AF_INET, 23, {192, 168, 0, 0}},
        {"172.31.255.255/12", AF_INET, 12, {172, 16}},
        {"100.127.1.1/10", AF_INET, 10, {100, 64}},
        {"1.2.3.4/0", AF_INET, 0, {0}},
        {"1.2.3.4/32", AF_INET, 32, {1, 2, 3, 4}},
        {"fd12:3456::1/16", AF_INET6, 16, {0xfd, 0x12}},
        {"fe80::1/10", AF_INET6, 10, {0xfe, 0x80}},
        {"febf:ffff::/10", AF_INET6, 10, {0xfe, 0x80}},
        {"2001:db8:abcd:12ff::/57", AF_INET6, 57, {0x20, 0x01, 0x0d, 0xb8, 0xab, 0xcd, 0x12, 0x80}},
        {"::ffff:10.9.8.7/104", AF_INET, 8, {10}},
        {"::ffff:10.9.8.7", AF_INET, 32, {10, 9, 8, 7}},
        {"::ffff:0:0/95", AF_INET6, 95, {[10] = 0xff, [11] = 0xfe}},
        {"ffff::1/0", AF_INET6, 0, {0}},
        {"10.0.0.1/008", AF_INET, 8, {10}},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(masked); i++) {
        struct cpm_outbound_guard g;
        struct cpm_detail d;
        cpm_detail_init(&d);
        cpm_err err = cpm_outbound_guard_parse(&g, masked[i].entry, FIELD, &d);
        if (err != CPM_OK)
            fail_msg("'%s' refused", masked[i].entry);
        assert_int_equal(g.allow_count, 1);
        if (g.allow[0].family != masked[i].family ||
            g.allow[0].prefix_bits != masked[i].prefix_bits ||
            memcmp(g.allow[0].addr, masked[i].addr, 16) != 0)
            fail_msg("'%s' parsed as family %d /%u", masked[i].entry, g.allow[0].family,
                     g.allow[0].prefix_bits);
    }

    /* The masked range still matches the addresses it covers. */
    struct cpm_outbound_guard *g = guard_of("127.1.2.3/8");
    check(g, "127.0.0.1", ALLOWED);
    check(g, "127.255.0.9", ALLOWED);
    g = guard_of("fe80::abcd/64");
    check(g, "fe80::1", ALLOWED);
    check(g, "fe80:0:0:1::1", LINK_LOCAL);
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *list;
        const char *message; /* start of the fault's message */
    } bad[] = {
        {"10.0.0.0/33", "'10.0.0.0/33' is not"},
        {"::1/129", "'::1/129' is not"},
        {"10.0.0.0/999", "'10.0.0.0/999' is not"},
        {"10.0.0.0/1000", "'10.0.0.0/1000' is not"},
        {"10.0.0.0/", "'10.0.0.0/' is not"},
        {"10.0.0.0/-1", "'10.0.0.0/-1' is not"},
        {"10.0.0.0/+8", "'10.0.0.0/+8' is not"},
        {"10.0.0.0/8x", "'10.0.0.0/8x' is not"},
        {"10.0.0.0/8/8", "'10.0.0.0/8/8' is not"},
        {"10.0.0.0 /8", "'10.0.0.0 /8' is not"},
        {"10.0.0.0/ 8", "'10.0.0.0/ 8' is not"},
        {"/8", "'/8' is not"},
        {"banana", "'banana' is not"},
        {"1.2.3", "'1.2.3' is not"},
        {"256.0.0.1", "'256.0.0.1' is not"},
        {"010.0.0.1", "'010.0.0.1' is not"}, /* octal or decimal? refused, not guessed */
        {"localhost", "'localhost' is not"},
        {"fe80::1%eth0", "'fe80::1%eth0' is not"},
        {"[::1]", "'[::1]' is not"},
        {"10.0.0.0/8 10.1.0.0/16", "'10.0.0.0/8 10.1.0.0/16' is not"},
        {"10.0.0.0/8;127.0.0.1", "'10.0.0.0/8;127.0.0.1' is not"},
        {"1.1.1.1, 10.0.0.0/8, nope, ::1", "'nope' is not"},
        {"10.0.0.0/8,,1.1.1.1", "empty entry"},
        {"10.0.0.0/8,", "empty entry"},
        {",10.0.0.0/8", "empty entry"},
        {" , ", "empty entry"},
        {"0000:0000:0000:0000:0000:0000:0000:0000:1", "'0000:0000:0000:0000:0000:0000:"},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad); i++) {
        struct cpm_outbound_guard g;
        struct cpm_detail d;
        cpm_detail_init(&d);
        cpm_err err = cpm_outbound_guard_parse(&g, bad[i].list, FIELD, &d);
        if (err != CPM_ERR_VALIDATION)
            fail_msg("'%s': %d, want CPM_ERR_VALIDATION", bad[i].list, err);
        assert_int_equal(d.count, 1);
        expect(&d, FIELD, bad[i].message);
        assert_int_equal(g.allow_count, 0); /* nothing half-parsed is left behind */
    }

    /* One entry over the maximum: the message names the first entry that did not fit. */
    char list[1024] = "";
    size_t used = 0;
    for (int i = 0; i <= CPM_OUTBOUND_ALLOW_MAX; i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s10.0.%d.0/24",
                                 i > 0 ? ", " : "", i);
    assert_true(used < sizeof(list));
    struct cpm_outbound_guard g;
    struct cpm_detail d;
    cpm_detail_init(&d);
    assert_int_equal(cpm_outbound_guard_parse(&g, list, FIELD, &d), CPM_ERR_VALIDATION);
    expect(&d, FIELD, "too many address ranges at '10.0." CPM_STRINGIFY(CPM_OUTBOUND_ALLOW_MAX));
    assert_non_null(strstr(d.faults[0].message, "at most " CPM_STRINGIFY(CPM_OUTBOUND_ALLOW_MAX)));
    assert_int_equal(g.allow_count, 0);

    /* A long bad entry is quoted, cut short, and the message still fits. */
    char longer[600];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    cpm_detail_init(&d);
    assert_int_equal(cpm_outbound_guard_parse(&g, longer, FIELD, &d), CPM_ERR_VALIDATION);
    expect(&d, FIELD, "'xxxxxxxxxxxxxxxx");
    assert_non_null(strstr(d.faults[0].message, "…' is not"));

    /* A NULL field is allowed (the fault then names no field). */
    cpm_detail_init(&d);
    assert_int_equal(cpm_outbound_guard_parse(&g, "nope", NULL, &d), CPM_ERR_VALIDATION);
    expect(&d, "", "'nope' is not");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocked_classes), cmocka_unit_test(test_unknown_family),
        cmocka_unit_test(test_allowlist),       cmocka_unit_test(test_parse),
        cmocka_unit_test(test_prefix_masking),  cmocka_unit_test(test_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
