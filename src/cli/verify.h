/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verify.h — what `cpm verify`'s files share (verify.c: bundles and the
 * store; verify_pack.c: evidence packs).
 */
#ifndef CPM_CLI_VERIFY_H
#define CPM_CLI_VERIFY_H

#include "core/common.h"

#include "store/checkpointer.h"

/* The verifier key line itself, or the first line of the file it names; false when unreadable. */
bool cpm__verify_read_vkey(const char *arg, char *out, size_t size);

/*
 * The origin and verifier key of data's ledger, from its signing key;
 * false (reported as "cpm COMMAND: …") when the keys cannot be read.
 */
bool cpm__verify_data_vkey(const char *command, const char *data, char origin[CPM_ORIGIN_BYTES_MAX],
                           char vkey[CPM_VKEY_BYTES_MAX]);

/* True when the file at path starts with a ustar header (an evidence pack), not JSON. */
bool cpm__verify_is_pack(const char *path);

/*
 * Checks an evidence pack offline and prints a report (docs/EVIDENCE-PACKS.md):
 * the archive, the manifest's hashes, the checkpoint's signature (with
 * key_arg, or the pack's own key when NULL), every inclusion proof, every
 * notice hash a leaf quotes, the delivery rows' events, the optional
 * consistency proof. Returns the exit status: 0 verified, 1 naming each
 * failure on stderr.
 */
int cpm__verify_pack(const char *path, const char *key_arg);

#endif /* CPM_CLI_VERIFY_H */
