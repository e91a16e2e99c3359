/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbound_guard.c — which network addresses cpmd may connect to (SSRF guard).
 *
 * Contains: the CPM_OUTBOUND_ALLOW parser, and one table of the blocked
 * ranges with the reason each is refused. A check looks in the allowlist
 * first, then walks the table (first match wins); IPv6 ranges that carry an
 * IPv4 address (IPv4-mapped, IPv4-compatible, NAT64) send the embedded
 * address through the IPv4 rows, so ::ffff:127.0.0.1 is refused as loopback.
 */
#include "core/common.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "sync/outbound_guard.h"

#define ALLOW_HINT ": add it to CPM_OUTBOUND_ALLOW to allow it"

/* The longest entry quoted in a parse error; the rest is cut with "…". */
#define ENTRY_QUOTE_BYTES_MAX 64

enum row_action {
    ROW_BLOCK,      /* refused, for reason */
    ROW_EMBEDS_IPV4 /* the last 32 bits are an IPv4 address: judged by the IPv4 rows */
};

struct blocked_row {
    int family;
    uint8_t addr[16];
    unsigned prefix_bits;
    enum row_action action;
    const char *reason;
};

/* First match wins: a narrower row comes before the wider one that holds it. */
static const struct blocked_row blocked[] = {
    {AF_INET, {0}, 8, ROW_BLOCK, "unspecified ('this network') address" ALLOW_HINT},
    {AF_INET, {10}, 8, ROW_BLOCK, "private address" ALLOW_HINT},
    {AF_INET, {100, 64}, 10, ROW_BLOCK, "carrier-grade NAT address" ALLOW_HINT},
    {AF_INET, {127}, 8, ROW_BLOCK, "loopback address" ALLOW_HINT},
    {AF_INET, {169, 254}, 16, ROW_BLOCK, "link-local address" ALLOW_HINT},
    {AF_INET, {172, 16}, 12, ROW_BLOCK, "private address" ALLOW_HINT},
    {AF_INET, {192, 0, 0}, 24, ROW_BLOCK, "IETF protocol assignment address" ALLOW_HINT},
    {AF_INET, {192, 0, 2}, 24, ROW_BLOCK, "documentation address" ALLOW_HINT},
    {AF_INET, {192, 168}, 16, ROW_BLOCK, "private address" ALLOW_HINT},
    {AF_INET, {198, 18}, 15, ROW_BLOCK, "benchmarking address" ALLOW_HINT},
    {AF_INET, {198, 51, 100}, 24, ROW_BLOCK, "documentation address" ALLOW_HINT},
    {AF_INET, {203, 0, 113}, 24, ROW_BLOCK, "documentation address" ALLOW_HINT},
    {AF_INET, {224}, 4, ROW_BLOCK, "multicast address" ALLOW_HINT},
    {AF_INET, {255, 255, 255, 255}, 32, ROW_BLOCK, "broadcast address" ALLOW_HINT},
    {AF_INET, {240}, 4, ROW_BLOCK, "reserved address" ALLOW_HINT},
    {AF_INET6, {0}, 128, ROW_BLOCK, "unspecified address" ALLOW_HINT},
    {AF_INET6, {[15] = 1}, 128, ROW_BLOCK, "loopback address" ALLOW_HINT},
    {AF_INET6, {[10] = 0xff, [11] = 0xff}, 96, ROW_EMBEDS_IPV4, NULL}, /* IPv4-mapped */
    {AF_INET6, {0}, 96, ROW_EMBEDS_IPV4, NULL},                        /* IPv4-compatible */
    {AF_INET6, {0x00, 0x64, 0xff, 0x9b}, 96, ROW_EMBEDS_IPV4, NULL},   /* NAT64 */
    {AF_INET6, {0xfc}, 7, ROW_BLOCK, "unique local (private) address" ALLOW_HINT},
    {AF_INET6, {0xfe, 0x80}, 10, ROW_BLOCK, "link-local address" ALLOW_HINT},
    {AF_INET6, {0xfe, 0xc0}, 10, ROW_BLOCK, "site-local (private) address" ALLOW_HINT},
    {AF_INET6,
     {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01},
     48,
     ROW_BLOCK,
     "local-use NAT64 address" ALLOW_HINT},
    {AF_INET6, {0xff}, 8, ROW_BLOCK, "multicast address" ALLOW_HINT},
    {AF_INET6, {0x20, 0x01, 0x0d, 0xb8}, 32, ROW_BLOCK, "documentation address" ALLOW_HINT},
};

static const uint8_t ipv4_mapped_prefix[12] = {[10] = 0xff, [11] = 0xff};

static unsigned family_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

/* Whether the first prefix_bits bits of a and b agree. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix_bits)
{
    unsigned whole = prefix_bits / 8;
    unsigned rest = prefix_bits % 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* Clears the bits of addr past prefix_bits (addr holds family_bits(family) bits). */
static void mask_host_bits(uint8_t *addr, int family, unsigned prefix_bits)
{
    unsigned bytes = family_bits(family) / 8;
    for (unsigned i = 0; i < bytes; i++) {
        if (prefix_bits >= (i + 1) * 8)
            continue;
        unsigned keep = prefix_bits > i * 8 ? prefix_bits - i * 8 : 0;
        addr[i] &= (uint8_t)(0xff << (8 - keep));
    }
}

static bool in_range(const struct cpm_outbound_range *r, int family, const uint8_t *addr)
{
    return r->family == family && prefix_equal(r->addr, addr, r->prefix_bits);
}

/* The first row of the blocked table that holds addr, or NULL. */
static const struct blocked_row *blocked_lookup(int family, const uint8_t *addr)
{
    for (size_t i = 0; i < CPM_ARRAY_LEN(blocked); i++)
        if (blocked[i].family == family &&
            prefix_equal(blocked[i].addr, addr, blocked[i].prefix_bits))
            return &blocked[i];
    return NULL;
}

/*
 * Parses one entry, already trimmed (len > 0). An IPv4-mapped IPv6 range of
 * at least 96 bits is stored as the IPv4 range it names, so one allowlist
 * entry covers both ways of writing the address.
 */
static bool parse_entry(const char *entry, size_t len, struct cpm_outbound_range *out)
{
    char text[INET6_ADDRSTRLEN];
    const char *slash = memchr(entry, '/', len);
    size_t addr_len = slash != NULL ? (size_t)(slash - entry) : len;
    if (addr_len == 0 || addr_len >= sizeof(text))
        return false;
    memcpy(text, entry, addr_len);
    text[addr_len] = '\0';

    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, text, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, text, out->addr) == 1)
        out->family = AF_INET6;
    else
        return false;

    unsigned max_bits = family_bits(out->family);
    unsigned prefix_bits = max_bits;
    if (slash != NULL) {
        const char *digits = slash + 1;
        size_t digits_len = len - addr_len - 1;
        if (digits_len == 0 || digits_len > 3)
            return false;
        prefix_bits = 0;
        for (size_t i = 0; i < digits_len; i++) {
            if (digits[i] < '0' || digits[i] > '9')
                return false;
            prefix_bits = prefix_bits * 10 + (unsigned)(digits[i] - '0');
        }
        if (prefix_bits > max_bits)
            return false;
    }
    out->prefix_bits = prefix_bits;
    mask_host_bits(out->addr, out->family, prefix_bits);

    if (out->family == AF_INET6 && prefix_bits >= 96 &&
        memcmp(out->addr, ipv4_mapped_prefix, sizeof(ipv4_mapped_prefix)) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
        out->prefix_bits = prefix_bits - 96;
    }
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

cpm_err cpm_outbound_guard_parse(struct cpm_outbound_guard *guard, const char *list,
                                 const char *field, struct cpm_detail *detail)
{
    CPM_ASSERT(guard != NULL);
    cpm_err err = CPM_OK;
    memset(guard, 0, sizeof(*guard));
    if (list == NULL)
        goto out;

    const char *p = list;
    while (is_space(*p))
        p++;
    if (*p == '\0') /* "" or only spaces: nothing allowlisted */
        goto out;

    for (const char *start = list;;) {
        const char *end = strchr(start, ',');
        if (end == NULL)
            end = start + strlen(start);
        const char *last = end;
        while (start < last && is_space(*start))
            start++;
        while (last > start && is_space(last[-1]))
            last--;
        size_t len = (size_t)(last - start);
        int shown = len > ENTRY_QUOTE_BYTES_MAX ? ENTRY_QUOTE_BYTES_MAX : (int)len;
        const char *cut = len > ENTRY_QUOTE_BYTES_MAX ? "…" : "";

        if (len == 0) {
            cpm_detail_add(detail, field, "empty entry in the list of address ranges");
            err = CPM_ERR_VALIDATION;
            goto out;
        }
        if (guard->allow_count == CPM_OUTBOUND_ALLOW_MAX) {
            cpm_detail_add(detail, field, "too many address ranges at '%.*s%s' (at most %d)", shown,
                           start, cut, CPM_OUTBOUND_ALLOW_MAX);
            err = CPM_ERR_VALIDATION;
            goto out;
        }
        if (!parse_entry(start, len, &guard->allow[guard->allow_count])) {
            cpm_detail_add(detail, field,
                           "'%.*s%s' is not an IPv4 or IPv6 address or CIDR range "
                           "(such as 10.1.0.0/16 or fd00::/8)",
                           shown, start, cut);
            err = CPM_ERR_VALIDATION;
            goto out;
        }
        guard->allow_count++;
        if (*end == '\0')
            break;
        start = end + 1;
    }

out:
    if (err != CPM_OK)
        memset(guard, 0, sizeof(*guard));
    return err;
}

bool cpm_outbound_guard_allows(const struct cpm_outbound_guard *guard, const struct sockaddr *addr,
                               const char **why)
{
    CPM_ASSERT(guard != NULL && addr != NULL);
    CPM_ASSERT(guard->allow_count <= CPM_OUTBOUND_ALLOW_MAX);
    int family = addr->sa_family;
    uint8_t bytes[16] = {0};
    if (family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)addr;
        memcpy(bytes, &in->sin_addr, 4);
    } else if (family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)addr;
        memcpy(bytes, &in6->sin6_addr, 16);
    } else {
        if (why != NULL)
            *why = "not an IPv4 or IPv6 address: only those may be connected to";
        return false;
    }

    /* An IPv4-mapped IPv6 address is that IPv4 address to the allowlist. */
    bool mapped = family == AF_INET6 && memcmp(bytes, ipv4_mapped_prefix, 12) == 0;
    for (unsigned i = 0; i < guard->allow_count; i++)
        if (in_range(&guard->allow[i], family, bytes) ||
            (mapped && in_range(&guard->allow[i], AF_INET, bytes + 12)))
            return true;

    const struct blocked_row *row = blocked_lookup(family, bytes);
    if (row != NULL && row->action == ROW_EMBEDS_IPV4)
        row = blocked_lookup(AF_INET, bytes + 12); /* IPv4 rows only: no further embedding */
    if (row == NULL)
        return true;
    CPM_ASSERT(row->action == ROW_BLOCK);
    if (why != NULL)
        *why = row->reason;
    return false;
}
