/* SPDX-License-Identifier: Apache-2.0 */
/*
 * csv.h — a streaming reader of RFC 4180 CSV records, and of plain lines.
 *
 * The reader pulls bytes through a callback (a file, a pipe, a test's
 * string), so memory stays one input block and one record whatever the
 * size of the input. A record is a line of comma-separated fields; a field
 * in double quotes may hold commas, quotes (doubled) and line breaks.
 * Records end with CRLF or LF; an empty line is skipped; a UTF-8 byte
 * order mark at the start is skipped.
 *
 * A malformed record (a quote inside an unquoted field, text after a
 * closing quote, a quoted field never closed, a bare CR, a NUL byte, more
 * than CPM_CSV_FIELDS_MAX fields, more than record_bytes_max bytes) is
 * still consumed to its end and returned with `error` set, so the caller
 * can report it with its line number and go on to the next one.
 *
 * cpm_csv_next_line gives the same reader's input as plain lines (NDJSON),
 * with the same limits, line numbers and byte order mark handling.
 *
 * No I/O of its own: the callback does it. Thread safety: a reader
 * belongs to one thread.
 */
#ifndef CPM_CORE_CSV_H
#define CPM_CORE_CSV_H

#include <sys/types.h>

#include "core/common.h"

#define CPM_CSV_FIELDS_MAX  32          /* fields in one record */
#define CPM_CSV_BLOCK_BYTES (64 * 1024) /* what the reader asks the callback for at a time */

/* Reads up to cap bytes into buf: how many, 0 at the end, -1 on an error. */
typedef ssize_t (*cpm_csv_read_fn)(void *ctx, char *buf, size_t cap);

struct cpm_csv_record {
    uint64_t line; /* the line the record starts on, from 1 */
    size_t count;  /* fields */
    /* NUL-terminated (a field holding a NUL is an error), borrowed until the next call */
    const char *fields[CPM_CSV_FIELDS_MAX];
    size_t lengths[CPM_CSV_FIELDS_MAX];
    const char *error; /* NULL, or why the record is malformed: then its fields are unusable */
};

struct cpm_csv_reader;

/*
 * A reader of records of at most record_bytes_max bytes (fields' text,
 * without quotes and separators) pulled from read(ctx, …). NULL when out of
 * memory. Free with cpm_csv_reader_free.
 */
struct cpm_csv_reader *cpm_csv_reader_new(cpm_csv_read_fn read, void *ctx, size_t record_bytes_max);
void cpm_csv_reader_free(struct cpm_csv_reader *r);

/*
 * The next record into rec: CPM_OK (rec->error may be set), CPM_ERR_NOT_FOUND
 * at the end of the input, CPM_ERR_IO when the callback failed.
 */
cpm_err cpm_csv_next(struct cpm_csv_reader *r, struct cpm_csv_record *rec) CPM_MUST_CHECK;

/*
 * The next non-empty line as rec's only field, without its CRLF or LF
 * (a line over record_bytes_max or holding a NUL sets rec->error). Same
 * returns as cpm_csv_next.
 */
cpm_err cpm_csv_next_line(struct cpm_csv_reader *r, struct cpm_csv_record *rec) CPM_MUST_CHECK;

#endif /* CPM_CORE_CSV_H */
