/* SPDX-License-Identifier: Apache-2.0 */
/*
 * import.h — one row of a consent import (`cpm import`, docs/IMPORT-EXPORT.md):
 * its columns, the checks on each value, the consent action it stands for,
 * and the identity that makes a re-run skip it.
 *
 * A row is one decision a person made in another system, with its original
 * time. Its values are checked here (shape, enums, times against "now");
 * the consent rules then run on the action it becomes (cpm_consent_check,
 * with method `import` and actor `self`), their faults renamed to the
 * import's column names.
 *
 * Pure: no store, no keys, no I/O. Thread safety: reentrant.
 */
#ifndef CPM_DOMAIN_IMPORT_H
#define CPM_DOMAIN_IMPORT_H

#include <jansson.h>

#include "core/common.h"
#include "core/detail.h"
#include "domain/consent.h"

enum cpm_import_column {
    CPM_IMPORT_SUBJECT,
    CPM_IMPORT_PURPOSE,
    CPM_IMPORT_DECISION,
    CPM_IMPORT_TIME,
    CPM_IMPORT_PROPERTY,
    CPM_IMPORT_CHANNEL,
    CPM_IMPORT_LOCALE,
    CPM_IMPORT_NOTICE_ID,
    CPM_IMPORT_NOTICE_VERSION,
    /* optional columns: a file may leave them out */
    CPM_IMPORT_RECIPIENT,
    CPM_IMPORT_EXPIRES_AT,
    CPM_IMPORT_SOURCE_ID,
    CPM_IMPORT_SEPARATE,
    CPM_IMPORT_REGION,
    CPM_IMPORT_COLUMNS
};

#define CPM_IMPORT_COLUMNS_REQUIRED    CPM_IMPORT_RECIPIENT /* the columns before it */
#define CPM_IMPORT_SOURCE_ID_BYTES_MAX 128
#define CPM_IMPORT_KEY_TEXT_BYTES                                                                  \
    (CPM_SUBJECT_ID_BYTES_MAX + 2 * CPM_ID_BYTES_MAX + CPM_IMPORT_SOURCE_ID_BYTES_MAX + 64)

/* The column's name in a CSV header or an NDJSON object ("subject", "notice_version"). */
const char *cpm_import_column_name(enum cpm_import_column c);
/* The column named name[0..len), or -1 when there is none. */
int cpm_import_column_find(const char *name, size_t len);

/*
 * A CSV row as a JSON object: values[c] (lengths[c] bytes; NULL or empty:
 * absent) as a string, notice_version as an integer when it is digits,
 * separate as a boolean when it is true or false (anything else stays a
 * string, for the checks to name). CPM_ERR_VALIDATION naming a column that
 * is not UTF-8; CPM_ERR_NOMEM.
 */
cpm_err cpm_import_row_object(const char *const values[CPM_IMPORT_COLUMNS],
                              const size_t lengths[CPM_IMPORT_COLUMNS], json_t **out,
                              struct cpm_detail *detail) CPM_MUST_CHECK;

/* A row whose values passed cpm_import_row_parse. Strings borrowed from the row. */
struct cpm_import_record {
    const char *subject;
    const char *purpose;
    const char *decision; /* given, refused, withdrawn */
    int64_t time_ms;      /* the original decision time */
    const char *property;
    const char *channel;
    const char *locale;
    const char *notice_id; /* NULL: none (a withdrawal may name none) */
    int64_t notice_version;
    const char *recipient;
    int64_t expires_ms; /* 0: the policy decides */
    const char *source_id;
    bool separate;
    const char *region;
};

/*
 * Checks a row (a JSON object: an NDJSON line, or cpm_import_row_object's;
 * null members are dropped as absent): every column known, the subject id,
 * the purpose and other ids, the decision, the channel, the locale, the
 * times (RFC 3339, not after now_ms, an expiry after the decision and only
 * on a consent given), the notice (required to give or refuse). Faults are
 * named by column. Fills out, borrowing row's strings, on success;
 * CPM_ERR_VALIDATION otherwise.
 */
cpm_err cpm_import_row_parse(json_t *row, int64_t now_ms, struct cpm_import_record *out,
                             struct cpm_detail *detail) CPM_MUST_CHECK;

/*
 * Fills out from a row that passed cpm_import_row_parse before (its values
 * are not checked again), borrowing its strings.
 */
void cpm_import_row_fill(json_t *row, struct cpm_import_record *out);

/*
 * The consent action of a record (method `import`, actor `self`, one
 * decision) into a, borrowing r's strings. notice_sha256: the hash of the
 * notice version's text in the record's locale (the text the person was
 * shown), or NULL when unknown (the consent rules then name the fault).
 */
void cpm_import_action(const struct cpm_import_record *r, const char *notice_sha256,
                       struct cpm_consent_action *a);

/*
 * Renames the faults cpm_consent_check gives about an import's action to the
 * import's columns: decisions[0].purpose → purpose, notice.version →
 * notice_version, actor.type → subject, …
 */
void cpm_import_rename_faults(struct cpm_detail *detail);

/*
 * The identity of the decision a record imports, as text to hash: subject,
 * purpose, recipient, time (ms), decision and source id, separated by 0x1f
 * (which none of them may hold). Two rows with the same identity are one
 * decision: a re-run skips it, a second row in one file is a duplicate.
 * Returns the length (< cap; cap ≥ CPM_IMPORT_KEY_TEXT_BYTES).
 */
size_t cpm_import_key_text(const struct cpm_import_record *r, char *out, size_t cap);

#endif /* CPM_DOMAIN_IMPORT_H */
