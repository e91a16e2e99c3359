/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_events.h — configuration changes as ledger events.
 *
 * After a configuration document is created or changed, or a notice
 * version published, an event records which document, its new revision or
 * version, the SHA-256 of the exact stored text, and the API key that made
 * the change. The document itself is in the store; the hash in the ledger
 * proves later which text was in force.
 */
#ifndef CPM_API_CONFIG_EVENTS_H
#define CPM_API_CONFIG_EVENTS_H

#include "domain/config.h"
#include "http/request.h"

/*
 * Records `type` ("config.created", "config.updated", "notice.published")
 * for kind/id at number (revision or version) with the stored body text.
 * A failure is logged: the change itself is already durable.
 */
void cpm_api_config_event(struct cpm_request *req, const char *type, enum cpm_doc_kind kind,
                          const char *id, int64_t number, const char *body);

#endif /* CPM_API_CONFIG_EVENTS_H */
