/* SPDX-License-Identifier: Apache-2.0 */
/*
 * import.h — what `cpm import` reads (internal to src/cli): the input file
 * (standard input is first copied to an unlinked temporary file, so it is
 * read like a file, and its size is checked), and its rows as JSON objects,
 * from CSV with a header row or from NDJSON. docs/IMPORT-EXPORT.md
 * describes the formats.
 */
#ifndef CPM_CLI_IMPORT_H
#define CPM_CLI_IMPORT_H

#include <jansson.h>
#include <sys/stat.h>

#include "core/common.h"
#include "core/csv.h"
#include "core/detail.h"
#include "domain/import.h"

enum cpm__import_format { CPM__IMPORT_CSV, CPM__IMPORT_NDJSON };

struct cpm__import_input {
    int fd;           /* the file, or standard input's copy */
    const char *name; /* for messages: the path, or "stdin" */
    bool spooled;     /* fd is a private copy of standard input or a pipe */
    struct stat st;   /* as first opened: a file that changes between passes is refused */
    enum cpm__import_format format;
    struct cpm_csv_reader *reader;
    int columns[CPM_CSV_FIELDS_MAX]; /* CSV: the column of each field of a record */
    size_t fields;                   /* CSV: fields in the header */
};

/*
 * Opens path as in (caller's storage, closed with cpm__import_input_close):
 * a regular file is read in place; "-" (standard input) or a pipe is first
 * copied to an unlinked temporary file, at most CPM_IMPORT_FILE_BYTES_MAX
 * bytes. CPM_ERR_IO / CPM_ERR_TOO_LARGE with a fault.
 */
cpm_err cpm__import_input_open(const char *path, enum cpm__import_format format,
                               struct cpm__import_input *in,
                               struct cpm_detail *detail) CPM_MUST_CHECK;
void cpm__import_input_close(struct cpm__import_input *in);

/*
 * Reads from the start again; for CSV reads and checks the header (its
 * faults into detail: CPM_ERR_VALIDATION). CPM_ERR_CONFLICT when the file
 * changed since it was opened (size or modification time).
 */
cpm_err cpm__import_input_start(struct cpm__import_input *in,
                                struct cpm_detail *detail) CPM_MUST_CHECK;

/*
 * The next row: CPM_OK with *row (owned: json_decref), *line (where it
 * starts) and *digest (a hash of its text), or with *row NULL and the
 * line's faults in detail when it is malformed; CPM_ERR_NOT_FOUND at the
 * end; CPM_ERR_IO.
 */
cpm_err cpm__import_input_next(struct cpm__import_input *in, json_t **row, uint64_t *line,
                               uint64_t *digest, struct cpm_detail *detail) CPM_MUST_CHECK;

#endif /* CPM_CLI_IMPORT_H */
