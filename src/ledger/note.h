/* SPDX-License-Identifier: Apache-2.0 */
/*
 * note.h — C2SP signed notes with Ed25519, and C2SP tlog-checkpoint bodies:
 * how the ledger's tree head is published and checked.
 *
 *   cpm.example/log                  ← origin (also the key's name)
 *   8                                ← tree size, decimal
 *   XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=   ← root hash, base64
 *                                    ← blank line: the separator
 *   — cpm.example/log qg+VVI2I…      ← em dash, key name, base64(key id ‖ signature)
 *
 * Key id = the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key). A
 * verifier key is the line "name+KEYID+base64(0x01 ‖ public key)", KEYID as 8
 * lowercase hex digits. Key names are non-empty UTF-8 without Unicode spaces
 * or '+'.
 *
 * Pure: libsodium only, no I/O, no allocation. Every function is reentrant;
 * all pointer arguments are borrowed for the call only, except the body
 * pointer cpm_note_verify returns, which points into the caller's note.
 */
#ifndef CPM_LEDGER_NOTE_H
#define CPM_LEDGER_NOTE_H

#include "core/common.h"

/* The most signature lines a note may carry (the spec asks verifiers to take at least 16). */
#define CPM_NOTE_SIGNATURES_MAX 32
/* The most decoded bytes in one signature (key id ‖ signature; post-quantum ones run to ~5 kB). */
#define CPM_NOTE_SIGNATURE_BYTES_MAX 5120

/*
 * Writes the checkpoint body "origin\nSIZE\nBASE64(root)\n" into out (cap
 * bytes, NUL-terminated). Errors: CPM_ERR_VALIDATION when origin is empty,
 * not UTF-8 or holds a control character; CPM_ERR_TOO_LARGE when out is too
 * small (out is then "").
 */
cpm_err cpm_checkpoint_format(const char *origin, uint64_t size, const uint8_t root[32], char *out,
                              size_t cap) CPM_MUST_CHECK;

/*
 * Parses the checkpoint body body[0 .. len) (need not be NUL-terminated):
 * origin into origin (origin_cap bytes, NUL-terminated), the tree size, and
 * the 32-byte root. Strict: UTF-8 without control characters other than
 * newline, ending in a newline; at least three lines; the size decimal
 * without sign or leading zeros ("0" alone is fine) and within 64 bits; the
 * root standard base64 with its padding, decoding to exactly 32 bytes.
 * Extension lines after the third must be non-empty and are ignored.
 * Errors: CPM_ERR_VALIDATION for any of that, or an origin longer than
 * origin_cap - 1; outputs are written only on success.
 */
cpm_err cpm_checkpoint_parse(const char *body, size_t len, char *origin, size_t origin_cap,
                             uint64_t *size, uint8_t root[32]) CPM_MUST_CHECK;

/*
 * Writes the verifier key line "name+KEYIDHEX8+base64(0x01 ‖ pk)" into out
 * (cap bytes, NUL-terminated). Programmer errors, asserted: an invalid key
 * name, or cap under strlen(name) + 55.
 */
void cpm_note_vkey(const char *name, const uint8_t pk[32], char *out, size_t cap);

/*
 * Parses a verifier key line (NUL-terminated, no trailing newline) into its
 * name (cap bytes, NUL-terminated), Ed25519 public key and key id. Errors:
 * CPM_ERR_VALIDATION when the line is malformed, the name invalid or longer
 * than cap - 1, the key type is not Ed25519 (0x01), or the key id is not the
 * one the name and key give.
 */
cpm_err cpm_note_vkey_parse(const char *vkey, char *name, size_t cap, uint8_t pk[32],
                            uint8_t keyid[4]) CPM_MUST_CHECK;

/*
 * Signs body with the Ed25519 key of seed under the key name `name`, writing
 * the signed note body ‖ "\n" ‖ "— name base64(keyid ‖ signature)\n" into out
 * (cap bytes, NUL-terminated). body is signed exactly as given; it must be
 * non-empty UTF-8 without control characters other than newline, end in a
 * newline and hold no blank line (what this module signs never does, and a
 * note's blank line is its separator). The secret key is wiped before
 * returning. Errors: CPM_ERR_VALIDATION for a bad body or key name;
 * CPM_ERR_TOO_LARGE when out is too small (out is then ""); CPM_ERR_CRYPTO
 * when libsodium fails.
 */
cpm_err cpm_note_sign(const char *body, const char *name, const uint8_t seed[32], char *out,
                      size_t cap) CPM_MUST_CHECK;

/*
 * Verifies the signed note note[0 .. len) against the verifier key line
 * vkey. On CPM_OK *body and *body_len give the signed text, including its
 * final newline; *body points into note (borrowed from the caller).
 *
 * CPM_OK only when the note is well formed (UTF-8 without control characters
 * other than newline; text, blank line, then 1 to CPM_NOTE_SIGNATURES_MAX
 * well-formed signature lines, each decoding to 5 ..
 * CPM_NOTE_SIGNATURE_BYTES_MAX bytes), at least one line carries the key's
 * name and key id, and every such line holds a valid Ed25519 signature of
 * the text. Lines of other keys are ignored, as the spec requires. As the
 * spec allows, the text may hold blank lines: the last blank line of the
 * note separates it from the signatures. CPM_ERR_VALIDATION otherwise
 * (including a malformed vkey); CPM_ERR_CRYPTO when libsodium cannot start.
 */
cpm_err cpm_note_verify(const char *note, size_t len, const char *vkey, const char **body,
                        size_t *body_len) CPM_MUST_CHECK;

#endif /* CPM_LEDGER_NOTE_H */
