/* SPDX-License-Identifier: Apache-2.0 */
/*
 * app.h — what every handler can reach: the store and the server's state.
 *
 * One cpm_app lives as long as the server. Handlers borrow it through
 * req->app; they never keep pointers into it past their request.
 */
#ifndef CPM_HTTP_APP_H
#define CPM_HTTP_APP_H

#include <stdatomic.h>

#include "core/common.h"
#include "store/store.h"

struct cpm_keyring;
struct cpm_node_cache;
struct cpm_writer;
struct cpm_index;
struct cpm_decider;
struct cpm_dispatcher;
struct cpm_outbound_guard;
struct cpm_session_table;
struct cpm_verifier;

struct cpm_app {
    struct cpm_store *store;                /* borrowed; outlives the HTTP server */
    struct cpm_writer *writer;              /* the single writer of the ledger */
    struct cpm_node_cache *nodes;           /* the tree's upper levels, for proofs */
    struct cpm_index *index;                /* every subject's state, for decisions */
    struct cpm_decider *decider;            /* questions checked and answered from the index */
    struct cpm_dispatcher *dispatcher;      /* delivers events to destinations */
    const struct cpm_keyring *keyring;      /* subkeys of the master key */
    const char *vkey;                       /* the checkpoint verifier key, signed-note format */
    const char *origin;                     /* the checkpoints' origin line: this ledger's name */
    const struct cpm_outbound_guard *guard; /* private addresses destinations may reach */
    struct cpm_session_table *sessions;     /* the admin console's (http/session.h) */
    struct cpm_verifier *verifier;          /* the full ledger check on request */
    int64_t evidence_pack_events_max;       /* GET /v1/evidence-packs refuses more */
    atomic_bool draining;                   /* set on SIGTERM: /readyz answers 503 */
    atomic_int requests_open;               /* requests between first byte and completion */
    int64_t started_ms;
};

#endif /* CPM_HTTP_APP_H */
