/* SPDX-License-Identifier: Apache-2.0 */
/*
 * import_input.c — the input of `cpm import` (import.h): the file, or
 * standard input copied aside; CSV records mapped to columns by the header
 * row; NDJSON lines parsed with the API's JSON limits.
 */
#include "core/common.h"

#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/import.h"
#include "core/alloc.h"
#include "core/json.h"
#include "http/tempfile.h"

#define COPY_BYTES (64 * 1024)

static ssize_t read_fd(void *ctx, char *buf, size_t cap)
{
    struct cpm__import_input *in = ctx;
    ssize_t n;
    do
        n = read(in->fd, buf, cap);
    while (n < 0 && errno == EINTR);
    return n;
}

/* Copies src (standard input, a pipe) to a private temporary file: in->fd. */
static cpm_err spool(struct cpm__import_input *in, int src, struct cpm_detail *d)
{
    in->fd = cpm_temp_file_open();
    if (in->fd < 0) {
        cpm_detail_add(d, "", "cannot make a temporary file for %s: %s", in->name, strerror(errno));
        return CPM_ERR_IO;
    }
    in->spooled = true;
    char *buf = cpm_malloc(COPY_BYTES);
    cpm_err err = buf ? CPM_OK : CPM_ERR_NOMEM;
    long long total = 0;
    ssize_t n = 0;
    struct cpm__import_input from = {.fd = src};
    while (err == CPM_OK && (n = read_fd(&from, buf, COPY_BYTES)) > 0) {
        total += n;
        if (total > CPM_IMPORT_FILE_BYTES_MAX) {
            cpm_detail_add(d, "", "%s is over %lld bytes: split it into files", in->name,
                           (long long)CPM_IMPORT_FILE_BYTES_MAX);
            err = CPM_ERR_TOO_LARGE;
        } else if (!cpm_write_all(in->fd, buf, (size_t)n)) {
            cpm_detail_add(d, "", "cannot copy %s aside: %s", in->name, strerror(errno));
            err = CPM_ERR_IO;
        }
    }
    if (err == CPM_OK && n < 0) {
        cpm_detail_add(d, "", "cannot read %s: %s", in->name, strerror(errno));
        err = CPM_ERR_IO;
    }
    cpm_free(buf);
    return err;
}

cpm_err cpm__import_input_open(const char *path, enum cpm__import_format format,
                               struct cpm__import_input *in, struct cpm_detail *detail)
{
    memset(in, 0, sizeof(*in));
    in->fd = -1;
    in->format = format;
    bool stdin_ = strcmp(path, "-") == 0;
    in->name = stdin_ ? "stdin" : path;
    int src = stdin_ ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    cpm_err err = CPM_OK;
    if (src < 0 || fstat(src, &st) != 0) {
        cpm_detail_add(detail, "", "cannot open %s: %s", path, strerror(errno));
        err = CPM_ERR_IO;
    } else if (S_ISREG(st.st_mode)) {
        in->fd = src; /* read twice in place */
        src = -1;
    } else {
        err = spool(in, src, detail); /* a pipe can be read once: keep a copy */
    }
    if (src > STDIN_FILENO)
        close(src);
    if (err == CPM_OK && fstat(in->fd, &in->st) != 0) {
        cpm_detail_add(detail, "", "cannot stat %s: %s", in->name, strerror(errno));
        err = CPM_ERR_IO;
    }
    if (err != CPM_OK)
        cpm__import_input_close(in);
    return err;
}

void cpm__import_input_close(struct cpm__import_input *in)
{
    cpm_csv_reader_free(in->reader);
    in->reader = NULL;
    if (in->fd >= 0 && in->fd != STDIN_FILENO)
        close(in->fd);
    in->fd = -1;
}

/* Maps the header's names to columns: each known, once, every required one there. */
static cpm_err read_header(struct cpm__import_input *in, struct cpm_detail *d)
{
    struct cpm_csv_record rec;
    bool seen[CPM_IMPORT_COLUMNS] = {false};
    cpm_err err = cpm_csv_next(in->reader, &rec);
    if (err == CPM_ERR_NOT_FOUND)
        cpm_detail_add(d, "header", "the file is empty: it needs a header row naming its columns");
    if (err != CPM_OK)
        return err == CPM_ERR_NOT_FOUND ? CPM_ERR_VALIDATION : err;
    if (rec.error != NULL)
        cpm_detail_add(d, "header", "%s", rec.error);
    in->fields = rec.count;
    for (size_t i = 0; i < rec.count; i++) {
        int c = cpm_import_column_find(rec.fields[i], rec.lengths[i]);
        in->columns[i] = c;
        if (c < 0)
            cpm_detail_add(d, "header", "unknown column '%.40s' (docs/IMPORT-EXPORT.md lists them)",
                           rec.fields[i]);
        else if (seen[c])
            cpm_detail_add(d, "header", "column '%s' appears twice", rec.fields[i]);
        else
            seen[c] = true;
    }
    for (int c = 0; rec.error == NULL && c < CPM_IMPORT_COLUMNS_REQUIRED; c++)
        if (!seen[c])
            cpm_detail_add(d, "header", "column '%s' is missing",
                           cpm_import_column_name((enum cpm_import_column)c));
    return d->count > 0 ? CPM_ERR_VALIDATION : CPM_OK;
}

cpm_err cpm__import_input_start(struct cpm__import_input *in, struct cpm_detail *detail)
{
    struct stat now;
    if (fstat(in->fd, &now) != 0 || now.st_size != in->st.st_size ||
        now.st_mtim.tv_sec != in->st.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != in->st.st_mtim.tv_nsec) {
        cpm_detail_add(detail, "", "%s changed while it was being imported", in->name);
        return CPM_ERR_CONFLICT;
    }
    if (lseek(in->fd, 0, SEEK_SET) != 0) {
        cpm_detail_add(detail, "", "cannot read %s from its start: %s", in->name, strerror(errno));
        return CPM_ERR_IO;
    }
    cpm_csv_reader_free(in->reader);
    in->reader = cpm_csv_reader_new(read_fd, in, CPM_IMPORT_LINE_BYTES_MAX);
    if (in->reader == NULL)
        return CPM_ERR_NOMEM;
    return in->format == CPM__IMPORT_CSV ? read_header(in, detail) : CPM_OK;
}

/* A CSV record as a row object, by the header's columns. */
static cpm_err csv_row(struct cpm__import_input *in, const struct cpm_csv_record *rec, json_t **row,
                       struct cpm_detail *d)
{
    const char *values[CPM_IMPORT_COLUMNS] = {NULL};
    size_t lengths[CPM_IMPORT_COLUMNS] = {0};
    if (rec->count != in->fields) {
        cpm_detail_add(d, "", "has %zu fields, the header %zu", rec->count, in->fields);
        return CPM_ERR_VALIDATION;
    }
    for (size_t i = 0; i < rec->count; i++) {
        values[in->columns[i]] = rec->fields[i];
        lengths[in->columns[i]] = rec->lengths[i];
    }
    return cpm_import_row_object(values, lengths, row, d);
}

/* BLAKE2b (8 bytes) of the record's fields and their lengths. */
static uint64_t digest_of(const struct cpm_csv_record *rec)
{
    crypto_generichash_state st;
    uint64_t digest = 0;
    crypto_generichash_init(&st, NULL, 0, sizeof(digest));
    for (size_t i = 0; i < rec->count; i++) {
        crypto_generichash_update(&st, (const unsigned char *)&rec->lengths[i],
                                  sizeof(rec->lengths[i]));
        crypto_generichash_update(&st, (const unsigned char *)rec->fields[i], rec->lengths[i]);
    }
    crypto_generichash_final(&st, (unsigned char *)&digest, sizeof(digest));
    return digest;
}

cpm_err cpm__import_input_next(struct cpm__import_input *in, json_t **row, uint64_t *line,
                               uint64_t *digest, struct cpm_detail *detail)
{
    struct cpm_csv_record rec;
    *row = NULL;
    cpm_err err = in->format == CPM__IMPORT_CSV ? cpm_csv_next(in->reader, &rec)
                                                : cpm_csv_next_line(in->reader, &rec);
    if (err != CPM_OK)
        return err;
    *line = rec.line;
    *digest = rec.error == NULL ? digest_of(&rec) : 0;
    if (rec.error != NULL)
        cpm_detail_add(detail, "", "%s", rec.error);
    else if (in->format == CPM__IMPORT_CSV)
        err = csv_row(in, &rec, row, detail);
    else
        err = cpm_json_parse_object(rec.fields[0], rec.lengths[0], row, detail);
    return err == CPM_ERR_NOMEM ? err : CPM_OK;
}
