/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export.h — the ledger's events and the current consent states as a byte
 * stream of NDJSON or CSV (docs/IMPORT-EXPORT.md), read page by page from
 * the store, so memory stays one page whatever the store's size. Both
 * GET /v1/export/… (src/api/export.c) and `cpm export` (src/cli/export.c)
 * read through it.
 *
 * What an export holds: the company's own subject ids (pseudonymous
 * already), never a sealed field opened; an erased subject's events come
 * with no subject id and `subject_erased` true, and its states are left
 * out. Events carry their exact leaf text, so they can be checked against
 * the signed tree.
 *
 * Thread safety: an export belongs to one thread; the store may be shared.
 */
#ifndef CPM_STORE_EXPORT_H
#define CPM_STORE_EXPORT_H

#include "store/store.h"

enum cpm_export_kind { CPM_EXPORT_EVENTS, CPM_EXPORT_STATE };
enum cpm_export_format { CPM_EXPORT_NDJSON, CPM_EXPORT_CSV };

/* What to export; from_seq and to_seq bound the events (both included). */
struct cpm_export_options {
    enum cpm_export_kind kind;
    enum cpm_export_format format;
    int64_t from_seq; /* ≥ 1 */
    int64_t to_seq;   /* the caller picks the head at the start, so the export ends */
};

struct cpm_export;

/* A new export reading store (borrowed: it must outlive the export). NULL when out of memory. */
struct cpm_export *cpm_export_new(struct cpm_store *store, const struct cpm_export_options *o);
/* NULL is a no-op. */
void cpm_export_free(struct cpm_export *x);

/*
 * Copies the next bytes of the export (at most cap) into buf; *len 0 means
 * the export has ended. Store errors as they come; CPM_ERR_TOO_LARGE when
 * one page does not fit CPM_EXPORT_BUFFER_BYTES_MAX.
 */
cpm_err cpm_export_read(struct cpm_export *x, char *buf, size_t cap, size_t *len) CPM_MUST_CHECK;

/* Rows (events or states) read so far. */
uint64_t cpm_export_rows(const struct cpm_export *x);

/* "ndjson" or "csv" into *out; false for anything else. */
bool cpm_export_format_parse(const char *s, enum cpm_export_format *out);
/* The media type of a format: application/x-ndjson, text/csv; charset=utf-8. */
const char *cpm_export_content_type(enum cpm_export_format format);

#endif /* CPM_STORE_EXPORT_H */
