/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evidence_summary.h — an evidence pack's summary.html: a printable,
 * self-contained page in Chinese and English (inline CSS, no script, no
 * external resource, a Content-Security-Policy that forbids both) saying
 * what the pack covers, counts by event type, each purpose's state and
 * deciding event, the notice versions, the delivery timeline per
 * destination, and how to verify. Every value from the store is escaped.
 *
 * Pure: it renders the facts the builder gathered (evidence_pack.c);
 * the page is informative — the proofs are the pack's other files.
 *
 * Thread safety: reentrant.
 */
#ifndef CPM_STORE_EVIDENCE_SUMMARY_H
#define CPM_STORE_EVIDENCE_SUMMARY_H

#include <jansson.h>

#include "core/common.h"

/* Where the page goes, piece by piece; a failure stops the rendering and is returned. */
typedef cpm_err (*cpm_summary_put_fn)(void *ctx, const char *text, size_t len);

/*
 * Renders facts (borrowed) as the page, through put. facts, all members
 * optional (docs/EVIDENCE-PACKS.md lists what the builder gives):
 *   generated_ms, generator, verifier_key,
 *   scope {subject, pseudonym, erased_ms, from_ms, to_ms},
 *   ledger {origin, tree_size, signed_ms, root, prior_size},
 *   events {count, pending, first_ms, last_ms, listed: [[seq, ms, type, purpose]]},
 *   types {type: n}, purposes {purpose: {type: n}},
 *   purpose_names {purpose: {locale: name}},
 *   states [{purpose, recipient, status, seq, notice, version, decided_ms, expires_ms}],
 *   notices [{notice, version, published_ms, titles {locale: title},
 *             texts [{locale, sha256, bytes}]}],
 *   destinations {id: {delivered, failed, dead, blocked, last_ms}},
 *   deliveries {count, listed: [[destination, seq, type, attempt, outcome, ms, status, lag_ms]]}.
 * Returns put's error, else CPM_OK.
 */
cpm_err cpm_evidence_summary_render(const json_t *facts, cpm_summary_put_fn put,
                                    void *ctx) CPM_MUST_CHECK;

#endif /* CPM_STORE_EVIDENCE_SUMMARY_H */
