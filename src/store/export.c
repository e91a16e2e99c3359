/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export.c — events and consent states as NDJSON or CSV, one store page at
 * a time (export.h). A row is a list of named cells; one writer turns it
 * into a JSON object line or a CSV record, so both formats always carry
 * the same columns in the same order.
 */
#include "core/common.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/textbuf.h"
#include "store/export.h"

enum cell_type { CELL_NULL, CELL_TEXT, CELL_INT, CELL_BOOL, CELL_TIME };

struct cell {
    enum cell_type type;
    const char *text; /* CELL_TEXT */
    int64_t n;        /* CELL_INT, CELL_BOOL, CELL_TIME (ms) */
};

#define TEXT(s)         ((struct cell){.type = CELL_TEXT, .text = (s)})
#define TEXT_OR_NULL(s) ((s) != NULL && (s)[0] ? TEXT(s) : (struct cell){.type = CELL_NULL})
#define INT(v)          ((struct cell){.type = CELL_INT, .n = (v)})
#define BOOL(v)         ((struct cell){.type = CELL_BOOL, .n = (v)})
#define TIME_OR_NULL(ms)                                                                           \
    ((ms) != 0 ? (struct cell){.type = CELL_TIME, .n = (ms)} : (struct cell){.type = CELL_NULL})

static const char *const event_columns[] = {"seq",     "id",   "type", "subject", "subject_erased",
                                            "purpose", "time", "leaf"};
static const char *const state_columns[] = {
    "subject",    "purpose",      "recipient", "status",         "deciding_event", "decided_at",
    "expires_at", "ask_again_at", "notice_id", "notice_version", "by_guardian"};

struct cpm_export {
    struct cpm_store *store;
    struct cpm_export_options o;
    int64_t after_seq;             /* events: the last one rendered */
    struct cpm_consent_state last; /* states: the last one rendered */
    bool started, ended;
    struct cpm_textbuf text; /* rendered, text.data[sent, len) not read yet */
    size_t sent;
    uint64_t rows;
};

struct cpm_export *cpm_export_new(struct cpm_store *store, const struct cpm_export_options *o)
{
    struct cpm_export *x = cpm_calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    x->store = store;
    x->o = *o;
    x->after_seq = o->from_seq > 0 ? o->from_seq - 1 : 0;
    cpm_textbuf_init(&x->text, CPM_EXPORT_BUFFER_BYTES_MAX);
    return x;
}

void cpm_export_free(struct cpm_export *x)
{
    if (x == NULL)
        return;
    cpm_textbuf_release(&x->text);
    cpm_free(x);
}

uint64_t cpm_export_rows(const struct cpm_export *x)
{
    return x->rows;
}

bool cpm_export_format_parse(const char *s, enum cpm_export_format *out)
{
    if (strcmp(s, "ndjson") == 0)
        *out = CPM_EXPORT_NDJSON;
    else if (strcmp(s, "csv") == 0)
        *out = CPM_EXPORT_CSV;
    else
        return false;
    return true;
}

const char *cpm_export_content_type(enum cpm_export_format format)
{
    return format == CPM_EXPORT_CSV ? "text/csv; charset=utf-8" : "application/x-ndjson";
}

/* One cell's value: JSON (a string quoted) or CSV (quoted only when it must be). */
static void put_cell(struct cpm_textbuf *b, bool csv, const struct cell *c)
{
    char time_text[CPM_TIME_TEXT_BYTES];
    switch (c->type) {
    case CELL_NULL:
        if (!csv)
            cpm_textbuf_puts(b, "null");
        break;
    case CELL_TEXT:
        if (csv)
            cpm_textbuf_csv_field(b, c->text, strlen(c->text));
        else
            cpm_textbuf_json_string(b, c->text, strlen(c->text));
        break;
    case CELL_INT:
        cpm_textbuf_int(b, c->n);
        break;
    case CELL_BOOL:
        cpm_textbuf_puts(b, c->n ? "true" : "false");
        break;
    case CELL_TIME:
        cpm_time_format(c->n, time_text, sizeof(time_text));
        cpm_textbuf_puts(b, csv ? "" : "\"");
        cpm_textbuf_puts(b, time_text);
        cpm_textbuf_puts(b, csv ? "" : "\"");
        break;
    }
}

/* A row: {"name":value,…} and LF, or value,… and CRLF (RFC 4180). */
static void put_row(struct cpm_export *x, const char *const names[], const struct cell cells[],
                    size_t count)
{
    bool csv = x->o.format == CPM_EXPORT_CSV;
    cpm_textbuf_puts(&x->text, csv ? "" : "{");
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            cpm_textbuf_puts(&x->text, ",");
        if (!csv) {
            cpm_textbuf_json_string(&x->text, names[i], strlen(names[i]));
            cpm_textbuf_puts(&x->text, ":");
        }
        put_cell(&x->text, csv, &cells[i]);
    }
    cpm_textbuf_puts(&x->text, csv ? "\r\n" : "}\n");
}

/* The CSV header row: the column names. */
static void put_header(struct cpm_export *x, const char *const names[], size_t count)
{
    for (size_t i = 0; i < count; i++) {
        cpm_textbuf_puts(&x->text, i ? "," : "");
        cpm_textbuf_puts(&x->text, names[i]);
    }
    cpm_textbuf_puts(&x->text, "\r\n");
}

static cpm_err event_row(void *ctx, const struct cpm_event *e, bool subject_erased)
{
    struct cpm_export *x = ctx;
    const struct cell cells[] = {
        INT(e->seq),
        TEXT(e->id),
        TEXT(e->type),
        subject_erased ? (struct cell){.type = CELL_NULL} : TEXT_OR_NULL(e->subject_id),
        BOOL(subject_erased),
        TEXT_OR_NULL(e->purpose),
        TIME_OR_NULL(e->time_ms),
        TEXT(e->leaf),
    };
    _Static_assert(CPM_ARRAY_LEN(cells) == CPM_ARRAY_LEN(event_columns), "a cell per column");
    put_row(x, event_columns, cells, CPM_ARRAY_LEN(cells));
    x->after_seq = e->seq;
    x->rows++;
    return x->text.failed ? CPM_ERR_TOO_LARGE : CPM_OK;
}

static cpm_err state_row(void *ctx, const struct cpm_consent_state *s)
{
    struct cpm_export *x = ctx;
    const struct cell cells[] = {
        TEXT(s->subject_id),
        TEXT(s->purpose),
        TEXT_OR_NULL(s->recipient),
        TEXT(s->status),
        INT(s->seq),
        TIME_OR_NULL(s->decided_ms),
        TIME_OR_NULL(s->expires_ms),
        TIME_OR_NULL(s->ask_again_ms),
        TEXT_OR_NULL(s->notice),
        s->notice[0] ? INT(s->notice_version) : (struct cell){.type = CELL_NULL},
        BOOL(s->by_guardian),
    };
    _Static_assert(CPM_ARRAY_LEN(cells) == CPM_ARRAY_LEN(state_columns), "a cell per column");
    put_row(x, state_columns, cells, CPM_ARRAY_LEN(cells));
    x->last = *s;
    x->rows++;
    return x->text.failed ? CPM_ERR_TOO_LARGE : CPM_OK;
}

/* Renders the next page (the CSV header first); ended once a page is empty. */
static cpm_err next_page(struct cpm_export *x)
{
    bool events = x->o.kind == CPM_EXPORT_EVENTS;
    cpm_textbuf_clear(&x->text);
    x->sent = 0;
    if (!x->started && x->o.format == CPM_EXPORT_CSV)
        put_header(x, events ? event_columns : state_columns,
                   events ? CPM_ARRAY_LEN(event_columns) : CPM_ARRAY_LEN(state_columns));
    uint64_t before = x->rows;
    cpm_err err;
    if (events && x->after_seq >= x->o.to_seq)
        err = CPM_OK;
    else if (events)
        err = x->store->ops->event_export(x->store, x->after_seq, x->o.to_seq, CPM_EXPORT_PAGE_ROWS,
                                          event_row, x);
    else
        err = x->store->ops->consent_state_page(x->store, x->started ? &x->last : NULL,
                                                CPM_EXPORT_PAGE_ROWS, state_row, x);
    x->started = true;
    x->ended = x->rows == before;
    return err;
}

cpm_err cpm_export_read(struct cpm_export *x, char *buf, size_t cap, size_t *len)
{
    *len = 0;
    while (x->sent == x->text.len && !x->ended) {
        cpm_err err = next_page(x);
        if (err != CPM_OK)
            return err;
    }
    size_t n = x->text.len - x->sent;
    *len = n < cap ? n : cap;
    if (*len > 0)
        memcpy(buf, x->text.data + x->sent, *len);
    x->sent += *len;
    return CPM_OK;
}
