/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scheduler.h — consent state that moves by itself.
 *
 * Expiry: a thread looks every CPM_SCHEDULER_INTERVAL_MS for given
 * consents whose validity (the policy's consent_validity) has run out and
 * records a consent.expired event for each, in batches. The due consents
 * are found from the stored state, so nothing is lost across restarts: a
 * consent that expired while cpmd was down expires at the next start.
 *
 * Re-consent: publishing a notice version that marks a purpose `material`
 * puts every consent on that purpose agreed under an older version of the
 * notice into reconsent_required, one event per subject, written in batches
 * rather than one transaction per subject.
 */
#ifndef CPM_STORE_SCHEDULER_H
#define CPM_STORE_SCHEDULER_H

#include "crypto/keyring.h"
#include "store/store.h"
#include "store/writer.h"

#define CPM_SCHEDULER_INTERVAL_MS 1000
#define CPM_SCHEDULER_BATCH       256 /* events per write request */

struct cpm_scheduler;

cpm_err cpm_scheduler_start(struct cpm_store *store, struct cpm_writer *writer,
                            const struct cpm_keyring *keyring,
                            struct cpm_scheduler **out) CPM_MUST_CHECK;
/* Stops the thread and frees s; NULL is a no-op. */
void cpm_scheduler_stop(struct cpm_scheduler *s);

/*
 * Sends every given consent on purpose agreed under a version of notice
 * older than version back to re-consent. *count gets how many.
 */
cpm_err cpm_reconsent_sweep(struct cpm_store *store, struct cpm_writer *writer,
                            const struct cpm_keyring *keyring, const char *notice, int64_t version,
                            const char *purpose, int64_t *count) CPM_MUST_CHECK;

#endif /* CPM_STORE_SCHEDULER_H */
