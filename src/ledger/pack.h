/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pack.h — the evidence pack format (docs/EVIDENCE-PACKS.md): the names of
 * the files in the archive, where notice texts go, and the manifest check
 * the verifier runs. Pure: JSON and SHA-256 values in, faults out. The
 * builder is src/store/evidence_pack.c, the verifier src/cli/verify_pack.c.
 *
 * Thread safety: every function is reentrant.
 */
#ifndef CPM_LEDGER_PACK_H
#define CPM_LEDGER_PACK_H

#include <jansson.h>

#include "core/common.h"
#include "core/detail.h"
#include "core/tar.h"

#define CPM_PACK_FORMAT           "opencpm-evidence-pack/1"
#define CPM_PACK_MANIFEST         "manifest.json"
#define CPM_PACK_CHECKPOINT       "checkpoint.txt"
#define CPM_PACK_KEY              "ledger-key.txt"
#define CPM_PACK_PRIOR_CHECKPOINT "prior-checkpoint.txt"
#define CPM_PACK_CONSISTENCY      "consistency.json"
#define CPM_PACK_EVENTS           "events.ndjson"
#define CPM_PACK_DELIVERIES       "deliveries.ndjson"
#define CPM_PACK_SUMMARY          "summary.html"
#define CPM_PACK_NOTICES_DIR      "notices"
#define CPM_PACK_NOTICE_DOC       "version.json" /* the stored version, byte for byte */

#define CPM_PACK_LOCALE_BYTES_MAX 36 /* a locale tag cpm_locale_valid accepts, with room */

/* A file of an archive and the SHA-256 of its bytes. */
struct cpm_pack_file {
    char name[CPM_TAR_NAME_BYTES_MAX + 1];
    uint64_t bytes;
    uint8_t sha256[32];
};

/*
 * The archive name of a notice version's file: the text of one locale
 * (notices/ID/vVERSION/LOCALE.txt, its bytes exactly those the leaves
 * hash) or, with locale NULL, the stored version document
 * (notices/ID/vVERSION/version.json). False when it does not fit cap or
 * is not a valid archive name.
 */
bool cpm_pack_notice_path(char *out, size_t cap, const char *notice, int64_t version,
                          const char *locale);

/*
 * Reads a name made by cpm_pack_notice_path back: notice id, version, and
 * locale ("" for version.json). False for any other name.
 */
bool cpm_pack_notice_path_parse(const char *name, char notice[CPM_ID_BYTES_MAX + 1],
                                int64_t *version, char locale[CPM_PACK_LOCALE_BYTES_MAX]);

/* Lowercase hex of a SHA-256 (65 bytes with the NUL). */
void cpm_pack_hex(const uint8_t sha256[32], char out[65]);

/*
 * Compares manifest's `files` ([{name, bytes, sha256 (hex)}]) with the
 * files found in the archive (manifest.json itself excluded). Adds to
 * detail one fault per problem, field the file's name: listed but missing,
 * in the archive but not listed, a different size or SHA-256, listed twice,
 * or a malformed list. Returns the number of problems (0: they agree).
 */
int cpm_pack_manifest_check(const json_t *manifest, const struct cpm_pack_file *files, size_t count,
                            struct cpm_detail *detail);

#endif /* CPM_LEDGER_PACK_H */
