/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_events.h — configuration changes as ledger events.
 *
 * After a configuration document is created or changed, or a notice
 * version published, an event records which document, its new revision or
 * version, the SHA-256 of the exact stored text, and the API key that made
 * the change (or "system:<part>" when cpmd made it itself, e.g. the
 * dispatcher disabling a destination that answered 410). The document
 * itself is in the store; the hash in the ledger proves later which text
 * was in force.
 */
#ifndef CPM_STORE_CONFIG_EVENTS_H
#define CPM_STORE_CONFIG_EVENTS_H

#include "domain/config.h"
#include "store/writer.h"

/*
 * Records `type` ("config.created", "config.updated", "config.deleted",
 * "notice.published") for kind/id at number (revision or version) with the
 * stored body text, made by key_id, through the writer. request_id (may be
 * NULL) goes in the log line of a failure, which is only logged: the change
 * itself is already durable.
 */
void cpm_config_event(struct cpm_writer *writer, const char *type, enum cpm_doc_kind kind,
                      const char *id, int64_t number, const char *body, const char *key_id,
                      const char *request_id);

#endif /* CPM_STORE_CONFIG_EVENTS_H */
