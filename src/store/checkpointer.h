/* SPDX-License-Identifier: Apache-2.0 */
/*
 * checkpointer.h — signs the ledger's tree head: a C2SP signed note
 * (tlog-checkpoint, Ed25519) stored at most a second after the tree grows,
 * one on start when the head has none, and a last one on stop.
 */
#ifndef CPM_STORE_CHECKPOINTER_H
#define CPM_STORE_CHECKPOINTER_H

#include "store/store.h"
#include "store/writer.h"

#define CPM_CHECKPOINT_INTERVAL_MS 250 /* how often the head is looked at */
#define CPM_ORIGIN_BYTES_MAX       96
#define CPM_VKEY_BYTES_MAX         256 /* "origin+keyid+base64(0x01 ‖ key)" */

struct cpm_checkpointer;

/*
 * Starts signing the heads of writer with the Ed25519 seed (copied) under
 * origin (the note's first line and the key's name). Signs the current head
 * first if it has no checkpoint yet.
 */
cpm_err cpm_checkpointer_start(struct cpm_store *store, struct cpm_writer *writer,
                               const char *origin, const uint8_t seed[32],
                               struct cpm_checkpointer **out) CPM_MUST_CHECK;

/* Signs the head if it moved, stops the thread, frees c (NULL: no-op). */
void cpm_checkpointer_stop(struct cpm_checkpointer *c);

/* The log's origin for a signing public key: "opencpm/<first 4 bytes of SHA-256(pk), hex>". */
void cpm_checkpoint_origin(const uint8_t public_key[32], char out[CPM_ORIGIN_BYTES_MAX]);

#endif /* CPM_STORE_CHECKPOINTER_H */
