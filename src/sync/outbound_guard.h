/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbound_guard.h — which network addresses cpmd may connect to (SSRF guard).
 *
 * A destination's endpoint is written by an operator, and an endpoint such as
 * http://169.254.169.254/ or http://127.0.0.1:6379/ would turn cpmd into a
 * way into the internal network. Every outbound connection is checked here
 * against the resolved address (not the host name, so DNS rebinding does
 * not help): loopback, private, link-local, carrier-grade NAT, multicast,
 * unspecified, reserved and documentation ranges (IPv4 and IPv6, IPv4-mapped
 * IPv6 included) are refused unless the operator allowlisted them
 * (CPM_OUTBOUND_ALLOW="127.0.0.1/32,10.1.0.0/16,::1/128").
 *
 * Pure: no I/O. Thread safety: a guard is read-only after parse.
 */
#ifndef CPM_SYNC_OUTBOUND_GUARD_H
#define CPM_SYNC_OUTBOUND_GUARD_H

#include <sys/socket.h>

#include "core/common.h"
#include "core/detail.h"

#define CPM_OUTBOUND_ALLOW_MAX 32 /* allowlisted ranges */

struct cpm_outbound_range {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix_bits;
};

struct cpm_outbound_guard {
    struct cpm_outbound_range allow[CPM_OUTBOUND_ALLOW_MAX];
    unsigned allow_count;
};

/*
 * Fills guard from a comma-separated list of CIDR ranges (spaces allowed
 * around commas; a bare address means its single host; NULL or "" allows
 * nothing extra). CPM_ERR_VALIDATION with a fault on field naming the bad
 * entry; guard is then empty.
 */
cpm_err cpm_outbound_guard_parse(struct cpm_outbound_guard *guard, const char *list,
                                 const char *field, struct cpm_detail *detail) CPM_MUST_CHECK;

/*
 * True when a connection to addr may be made: a public address, or one in
 * an allowlisted range. *why (may be NULL) gets a static reason when not,
 * e.g. "loopback address (allowlist it with CPM_OUTBOUND_ALLOW)".
 */
bool cpm_outbound_guard_allows(const struct cpm_outbound_guard *guard, const struct sockaddr *addr,
                               const char **why);

#endif /* CPM_SYNC_OUTBOUND_GUARD_H */
