/* SPDX-License-Identifier: Apache-2.0 */
/*
 * csv.c — a streaming RFC 4180 reader (csv.h): one input block and one
 * record in memory, every malformed record consumed to its end and named.
 */
#include "core/common.h"

#include "core/alloc.h"
#include "core/csv.h"

struct cpm_csv_reader {
    cpm_csv_read_fn read;
    void *ctx;
    size_t pos, len; /* in[pos, len) not read yet */
    bool eof, failed, started;
    uint64_t line; /* the line of the next byte */
    size_t record_bytes_max;
    size_t used;  /* record[0, used): the fields so far, each with its NUL */
    char *record; /* record_bytes_max + CPM_CSV_FIELDS_MAX + 1 bytes */
    char message[80];
    char in[CPM_CSV_BLOCK_BYTES];
};

/* One record being read. */
struct parse {
    struct cpm_csv_record *rec;
    size_t field_start; /* where the current field begins in record[] */
    size_t text;        /* the record's bytes so far, without NULs */
    bool quoted;        /* some field was quoted: not an empty line */
};

struct cpm_csv_reader *cpm_csv_reader_new(cpm_csv_read_fn read, void *ctx, size_t record_bytes_max)
{
    struct cpm_csv_reader *r = cpm_calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->record = cpm_malloc(record_bytes_max + CPM_CSV_FIELDS_MAX + 1);
    if (r->record == NULL) {
        cpm_free(r);
        return NULL;
    }
    r->read = read;
    r->ctx = ctx;
    r->line = 1;
    r->record_bytes_max = record_bytes_max;
    return r;
}

void cpm_csv_reader_free(struct cpm_csv_reader *r)
{
    if (r == NULL)
        return;
    cpm_free(r->record);
    cpm_free(r);
}

/* Reads the next block; at the very start, drops a UTF-8 byte order mark. */
static void fill(struct cpm_csv_reader *r)
{
    r->pos = r->len = 0;
    while (!r->eof && !r->failed && r->len < (r->started ? 1 : 3)) {
        ssize_t n = r->read(r->ctx, r->in + r->len, sizeof(r->in) - r->len);
        if (n < 0)
            r->failed = true;
        else if (n == 0)
            r->eof = true;
        else
            r->len += (size_t)n;
    }
    if (!r->started && r->len >= 3 && memcmp(r->in, "\xEF\xBB\xBF", 3) == 0)
        r->pos = 3;
    r->started = true;
}

/* The next byte without taking it; -1 at the end (or after a read error). */
static int peek(struct cpm_csv_reader *r)
{
    while (r->pos == r->len && !r->eof && !r->failed)
        fill(r); /* again after a byte order mark that was all the first read gave */
    return r->pos < r->len ? (unsigned char)r->in[r->pos] : -1;
}

static int take(struct cpm_csv_reader *r)
{
    int c = peek(r);
    if (c >= 0) {
        r->pos++;
        r->line += c == '\n';
    }
    return c;
}

/* Marks the record malformed (the first reason stays); its bytes are no longer kept. */
static void set_error(struct parse *p, const char *why)
{
    if (p->rec->error == NULL)
        p->rec->error = why;
}

static void add(struct cpm_csv_reader *r, struct parse *p, int c)
{
    if (c == 0)
        set_error(p, "holds a NUL byte");
    if (p->rec->error != NULL)
        return;
    if (p->text == r->record_bytes_max) {
        snprintf(r->message, sizeof(r->message), "is longer than %zu bytes", r->record_bytes_max);
        set_error(p, r->message);
        return;
    }
    r->record[r->used++] = (char)c;
    p->text++;
}

static void end_field(struct cpm_csv_reader *r, struct parse *p)
{
    struct cpm_csv_record *rec = p->rec;
    if (rec->error == NULL && rec->count == CPM_CSV_FIELDS_MAX) {
        snprintf(r->message, sizeof(r->message), "has more than %d fields", CPM_CSV_FIELDS_MAX);
        set_error(p, r->message);
    }
    if (rec->error != NULL)
        return;
    rec->fields[rec->count] = r->record + p->field_start;
    rec->lengths[rec->count] = r->used - p->field_start;
    rec->count++;
    r->record[r->used++] = '\0';
    p->field_start = r->used;
}

enum state { FIELD_START, UNQUOTED, QUOTED, AFTER_QUOTE };

/* A byte of a quoted field; returns the state after it. */
static enum state quoted_byte(struct cpm_csv_reader *r, struct parse *p, int c)
{
    if (c != '"') {
        add(r, p, c); /* commas and line breaks included */
        return QUOTED;
    }
    if (peek(r) != '"')
        return AFTER_QUOTE;
    take(r);
    add(r, p, '"');
    return QUOTED;
}

/* Reads one record to its end (the caller saw it does not start at the end of the input). */
static void parse_record(struct cpm_csv_reader *r, struct parse *p)
{
    enum state state = FIELD_START;
    for (;;) {
        int c = take(r);
        if (state == QUOTED && c >= 0) {
            state = quoted_byte(r, p, c);
            continue;
        }
        if (state == QUOTED)
            set_error(p, "a quoted field is not closed before the end of the input");
        if (c < 0 || c == '\n' || (c == '\r' && peek(r) == '\n')) {
            if (c == '\r')
                take(r);
            end_field(r, p);
            return;
        }
        if (state == AFTER_QUOTE && c != ',') {
            set_error(p, "has text after a closing quote (quote a field whole, doubling the "
                         "quotes inside it)");
            state = UNQUOTED;
        } else if (c == ',') {
            end_field(r, p);
            state = FIELD_START;
        } else if (c == '"' && state == FIELD_START) {
            p->quoted = true;
            state = QUOTED;
        } else if (c == '"') {
            set_error(p, "has a quote inside an unquoted field (quote the whole field and double "
                         "the quotes inside it)");
        } else if (c == '\r') {
            set_error(p, "has a carriage return (CR) without a line feed (LF) after it");
        } else {
            add(r, p, c);
            state = UNQUOTED;
        }
    }
}

/* Starts a record; NOT_FOUND at the end of the input, IO after a read error. */
static cpm_err start(struct cpm_csv_reader *r, struct cpm_csv_record *rec, struct parse *p)
{
    memset(rec, 0, sizeof(*rec));
    memset(p, 0, sizeof(*p));
    p->rec = rec;
    r->used = 0;
    int c = peek(r);
    if (r->failed)
        return CPM_ERR_IO;
    rec->line = r->line;
    return c < 0 ? CPM_ERR_NOT_FOUND : CPM_OK;
}

/* An empty line: one empty field, never quoted. */
static bool empty(const struct cpm_csv_record *rec, const struct parse *p)
{
    return rec->error == NULL && rec->count == 1 && rec->lengths[0] == 0 && !p->quoted;
}

/* The record as the caller sees it: no fields when it is malformed. */
static cpm_err finish(struct cpm_csv_reader *r, struct cpm_csv_record *rec)
{
    if (rec->error != NULL)
        rec->count = 0;
    return r->failed ? CPM_ERR_IO : CPM_OK;
}

cpm_err cpm_csv_next(struct cpm_csv_reader *r, struct cpm_csv_record *rec)
{
    struct parse p;
    cpm_err err;
    while ((err = start(r, rec, &p)) == CPM_OK) {
        parse_record(r, &p);
        if (!empty(rec, &p) || r->failed)
            return finish(r, rec);
    }
    return err;
}

cpm_err cpm_csv_next_line(struct cpm_csv_reader *r, struct cpm_csv_record *rec)
{
    struct parse p;
    cpm_err err;
    while ((err = start(r, rec, &p)) == CPM_OK) {
        int c;
        while ((c = take(r)) >= 0 && c != '\n')
            add(r, &p, c);
        if (rec->error == NULL && p.text > 0 && r->record[r->used - 1] == '\r') {
            r->used--;
            p.text--;
        }
        end_field(r, &p);
        if (!empty(rec, &p) || r->failed)
            return finish(r, rec);
    }
    return err;
}
