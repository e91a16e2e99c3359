/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rate_limit.h — token buckets in memory, for what end users may do: a
 * person's token can change only their own subject, but without a limit it
 * could still write without end into the ledger.
 *
 * A fixed table of buckets keyed by a 64-bit hash; a key that lands on a
 * slot another key holds takes it over with a full bucket (so the table
 * never grows, and a collision can only make a limit laxer, never lock an
 * innocent person out). Thread safe (striped locks).
 */
#ifndef CPM_HTTP_RATE_LIMIT_H
#define CPM_HTTP_RATE_LIMIT_H

#include "core/common.h"

/* An end user's changes: bursts of 30, then one every 2 s. */
#define CPM_END_USER_WRITES_BURST    30
#define CPM_END_USER_WRITES_EVERY_MS 2000

/* The key of a (scope, name) pair: FNV-1a 64 of scope ‖ 0 ‖ name. */
uint64_t cpm_rate_limit_key(const char *scope, const char *name);

/*
 * Takes one token of key's bucket (burst tokens, one more every every_ms)
 * at now_ms. False when empty; *retry_after_ms then says when one will be
 * there.
 */
bool cpm_rate_limit_take(uint64_t key, int64_t now_ms, int burst, int64_t every_ms,
                         int64_t *retry_after_ms);

#endif /* CPM_HTTP_RATE_LIMIT_H */
