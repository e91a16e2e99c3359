/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audiences.c — POST /v1/audiences/filter: of a list of subject ids (one a
 * line, any length), which may be contacted for a purpose (and channel,
 * topic) at a time. The answer a campaign tool asks before every send.
 *
 * Memory stays constant whatever the audience size: the body streams in
 * (cpm_request_stream), 64 KiB of it is gathered at a time and its ids are
 * decided from the in-memory index in runs (their lookups overlapped, and
 * shared with the decider's helper threads), keeping only a cut last line
 * between pieces. The answer lines go to a spool — memory up to
 * CPM_AUDIENCE_SPOOL_MEMORY_BYTES_MAX, an unlinked temporary file beyond —
 * which is sent once the body has ended (HTTP/1.1 here is half-duplex: an
 * answer ends the upload), read back as it goes out. Lines that are not
 * subject ids are counted and skipped, never fatal: a list of millions
 * should not fail on one typo.
 */
#include "core/common.h"

#include <unistd.h>

#include "api/api.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "cpm/decide.h"
#include "domain/subject.h"
#include "http/app.h"
#include "http/tempfile.h"
#include "index/index.h"

#define SPOOL_MEMORY_BYTES_MIN (16 * 1024) /* the first buffer; doubled up to the max */
#define LINE_BYTES_MAX         1024        /* one answer line, escaped id and every reason */
#define TEXT_TYPE              "text/plain; charset=utf-8"
#define NDJSON_TYPE            "application/x-ndjson"

_Static_assert(2 * CPM_SUBJECT_ID_BYTES_MAX + 600 < LINE_BYTES_MAX, "an answer line fits");
_Static_assert(LINE_BYTES_MAX < SPOOL_MEMORY_BYTES_MIN, "a line fits in an empty spool");

/* ---- the spool: memory, then an unlinked temporary file ------------------------------------- */

/*
 * The answer so far: its first file_bytes in the file (once it outgrew
 * memory), the rest in mem. Read back from offset 0 as it is sent.
 */
struct spool {
    char *mem;
    size_t mem_len, mem_cap;
    int fd; /* -1 until the answer outgrows memory */
    uint64_t file_bytes;
};

static struct spool *spool_new(void)
{
    struct spool *sp = cpm_calloc(1, sizeof(*sp));
    if (sp != NULL)
        sp->fd = -1;
    return sp;
}

static void spool_free(void *cls)
{
    struct spool *sp = cls;
    if (sp == NULL)
        return;
    if (sp->fd >= 0)
        close(sp->fd);
    cpm_free(sp->mem);
    cpm_free(sp);
}

static uint64_t spool_size(const struct spool *sp)
{
    return sp->file_bytes + sp->mem_len;
}

/* Moves what memory holds to the file (opened on first use). */
static cpm_err spool_flush(struct spool *sp)
{
    if (sp->fd < 0)
        sp->fd = cpm_temp_file_open();
    if (sp->fd < 0) {
        cpm_log_error("audiences", "cannot open a temporary file in $TMPDIR or /tmp: %s",
                      strerror(errno));
        return CPM_ERR_IO;
    }
    if (!cpm_write_all(sp->fd, sp->mem, sp->mem_len)) {
        cpm_log_error("audiences", "cannot write the answer's temporary file: %s", strerror(errno));
        return CPM_ERR_IO;
    }
    sp->file_bytes += sp->mem_len;
    sp->mem_len = 0;
    return CPM_OK;
}

/* Makes room for len more bytes: a bigger buffer up to the max, then the file. */
static cpm_err spool_reserve(struct spool *sp, size_t len)
{
    while (sp->mem_len + len > sp->mem_cap && sp->mem_cap < CPM_AUDIENCE_SPOOL_MEMORY_BYTES_MAX) {
        size_t cap = sp->mem_cap ? sp->mem_cap * 2 : SPOOL_MEMORY_BYTES_MIN;
        if (cap > CPM_AUDIENCE_SPOOL_MEMORY_BYTES_MAX)
            cap = CPM_AUDIENCE_SPOOL_MEMORY_BYTES_MAX;
        char *grown = cpm_realloc(sp->mem, cap);
        if (grown == NULL)
            return CPM_ERR_NOMEM;
        sp->mem = grown;
        sp->mem_cap = cap;
    }
    return sp->mem_len + len <= sp->mem_cap ? CPM_OK : spool_flush(sp);
}

static cpm_err spool_write(struct spool *sp, const char *data, size_t len)
{
    CPM_ASSERT(len <= SPOOL_MEMORY_BYTES_MIN);
    if (spool_size(sp) + len > (uint64_t)CPM_AUDIENCE_SPOOL_BYTES_MAX)
        return CPM_ERR_TOO_LARGE;
    cpm_err err = spool_reserve(sp, len);
    if (err != CPM_OK)
        return err;
    memcpy(sp->mem + sp->mem_len, data, len);
    sp->mem_len += len;
    return CPM_OK;
}

/* An id and its LF: the answer's line when explain is off, millions of times. */
static cpm_err spool_write_id(struct spool *sp, const char *id, size_t len)
{
    if (spool_size(sp) + len + 1 > (uint64_t)CPM_AUDIENCE_SPOOL_BYTES_MAX)
        return CPM_ERR_TOO_LARGE;
    if (sp->mem_len + len + 1 > sp->mem_cap) {
        cpm_err err = spool_reserve(sp, len + 1);
        if (err != CPM_OK)
            return err;
    }
    memcpy(sp->mem + sp->mem_len, id, len);
    sp->mem[sp->mem_len + len] = '\n';
    sp->mem_len += len + 1;
    return CPM_OK;
}

/* The body reader of the answer (cpm_body_reader_fn): the file's part, then memory's. */
static ssize_t spool_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct spool *sp = cls;
    if (pos < sp->file_bytes) {
        uint64_t left = sp->file_bytes - pos;
        size_t want = left < max ? (size_t)left : max;
        ssize_t n;
        do
            n = pread(sp->fd, buf, want, (off_t)pos);
        while (n < 0 && errno == EINTR);
        return n > 0 ? n : CPM_BODY_READER_ERROR;
    }
    uint64_t at = pos - sp->file_bytes;
    if (at >= sp->mem_len)
        return CPM_BODY_READER_ERROR;
    size_t want = sp->mem_len - (size_t)at < max ? sp->mem_len - (size_t)at : max;
    memcpy(buf, sp->mem + at, want);
    return (ssize_t)want;
}

/* ---- one answer line ------------------------------------------------------------------------ */

/* Set len to 0 and nothing else: text[] is written before it is read (1 KiB a line). */
struct line_out {
    char text[LINE_BYTES_MAX];
    size_t len;
};

static void put(struct line_out *o, const char *s, size_t len)
{
    CPM_ASSERT(o->len + len <= sizeof(o->text));
    memcpy(o->text + o->len, s, len);
    o->len += len;
}

static void put_str(struct line_out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* A subject id as a JSON string: printable ASCII, so only '"' and '\' need escaping. */
static void put_json_id(struct line_out *o, const char *id, size_t len)
{
    put(o, "\"", 1);
    for (const char *p = id; p < id + len; p++) {
        if (*p == '"' || *p == '\\')
            put(o, "\\", 1);
        put(o, p, 1);
    }
    put(o, "\"", 1);
}

static void put_explained(struct line_out *o, const char *id, size_t len,
                          const struct cpm_answer *a)
{
    put_str(o, "{\"subject\":");
    put_json_id(o, id, len);
    put_str(o, a->allowed ? ",\"allowed\":true,\"reasons\":[" : ",\"allowed\":false,\"reasons\":[");
    bool first = true;
    const char *name;
    for (unsigned i = 0; (name = cpm_reason_name(i)) != NULL; i++) {
        if ((a->reasons & (1u << i)) == 0)
            continue;
        put_str(o, first ? "\"" : ",\"");
        put_str(o, name);
        put(o, "\"", 1);
        first = false;
    }
    put_str(o, "]}\n");
}

/* ---- the filter ----------------------------------------------------------------------------- */

/*
 * The body is gathered FILTER_INPUT_BYTES at a time (libmicrohttpd hands
 * it over a few KiB at a time) and its whole lines are decided where they
 * lie, up to FILTER_BATCH at a time: long runs, which the decider shares
 * with its helper threads. A run goes on in the background while the next
 * input is read and split (cpm_decider_run_start), so the two inputs and
 * batches alternate: a run's ids point into the input it was read from,
 * which is not written again before the run is finished and answered. A
 * line cut by the end of an input moves to the front of the other; one too
 * long to be an id is only read to its LF.
 */
#define FILTER_INPUT_BYTES (32 * 1024)
#define FILTER_BATCH       4096
#define LINE_HELD_MAX      (CPM_SUBJECT_ID_BYTES_MAX + 1) /* longer: not an id, even with a CR */

_Static_assert(FILTER_INPUT_BYTES >= 4 * LINE_HELD_MAX, "a cut line leaves room for more");

/* Ids waiting to be decided together, in input order, and then their answers. */
struct batch {
    size_t count;
    const char *ids[FILTER_BATCH];
    size_t lens[FILTER_BATCH];
    struct cpm_answer answers[FILTER_BATCH];
};

struct filter {
    struct cpm_decider *decider; /* borrowed from the app */
    struct cpm_prepared question;
    int64_t at_ms;
    bool explain;
    struct spool *spool;  /* owned until handed to the answer */
    cpm_err err;          /* the spool failed: answered once the body has ended */
    uint64_t line_no;     /* lines completed, empty ones too: 1-based numbers for the client */
    uint64_t in, allowed; /* ids decided, ids allowed */
    uint64_t rejected, first_rejected;
    bool overlong;    /* in a line longer than LINE_HELD_MAX: skipped to its LF */
    unsigned reading; /* input[reading] takes the body */
    size_t input_len; /* of input[reading] */
    unsigned filling; /* batches[filling] takes the ids read */
    bool running;     /* batches[1 - filling] is being decided, as run */
    struct cpm_decider_run run;
    char input[2][FILTER_INPUT_BYTES];
    struct batch batches[2];
};

static void filter_free(void *pending)
{
    struct filter *f = pending;
    if (f == NULL)
        return;
    if (f->running) /* an upload cut short: the helpers must be done with f's batch */
        cpm_decider_run_finish(&f->run);
    spool_free(f->spool);
    cpm_free(f);
}

static void spool_line(struct filter *f, const struct line_out *o)
{
    if (f->err == CPM_OK)
        f->err = spool_write(f->spool, o->text, o->len);
}

/* Spools the answer lines of a decided batch, in order, and empties it. */
static void spool_answers(struct filter *f, struct batch *b)
{
    f->in += b->count;
    for (size_t i = 0; i < b->count; i++) {
        const struct cpm_answer *a = &b->answers[i];
        f->allowed += a->allowed;
        if (f->err != CPM_OK || (!f->explain && !a->allowed))
            continue;
        if (!f->explain) {
            f->err = spool_write_id(f->spool, b->ids[i], b->lens[i]);
            continue;
        }
        struct line_out o;
        o.len = 0;
        put_explained(&o, b->ids[i], b->lens[i], a);
        spool_line(f, &o);
    }
    b->count = 0;
}

/*
 * Finishes the run in the background (if any), starts the filling batch as
 * the next one, and only then spools the finished run's answers: the
 * helpers decide the new run meanwhile.
 */
static void cycle(struct filter *f)
{
    struct batch *next = &f->batches[f->filling], *done = &f->batches[1 - f->filling];
    bool finished = f->running;
    if (finished)
        cpm_decider_run_finish(&f->run);
    f->running = next->count > 0;
    if (f->running) {
        cpm_decider_run_start(f->decider, &f->question, next->ids, next->lens, next->count,
                              f->at_ms, next->answers, &f->run);
        f->filling = 1 - f->filling; /* done, once spooled, takes the next ids */
    }
    if (finished)
        spool_answers(f, done);
}

/* Decides and spools every id read so far: nothing is left running. */
static void flush(struct filter *f)
{
    cycle(f);
    cycle(f);
}

static void reject(struct filter *f, const char *why)
{
    flush(f); /* the lines before it keep their place */
    f->rejected++;
    if (f->first_rejected == 0)
        f->first_rejected = f->line_no;
    if (!f->explain || f->rejected > CPM_AUDIENCE_ERRORS_LISTED_MAX)
        return;
    struct line_out o;
    o.len = 0;
    char head[64];
    snprintf(head, sizeof(head), "{\"line\":%llu,\"error\":\"", (unsigned long long)f->line_no);
    put_str(&o, head);
    put_str(&o, why);
    put_str(&o, "\"}\n");
    spool_line(f, &o);
}

/*
 * A byte a subject id may hold: printable ASCII but space and '/'. With
 * is_me, cpm_subject_id_valid (src/domain/subject.c) on a slice: the rule
 * must stay the same as there.
 */
static inline bool id_byte(unsigned char c)
{
    return c > ' ' && c <= '~' && c != '/';
}

static bool is_me(const char *id, size_t len)
{
    return len == sizeof(CPM_SUBJECT_ME) - 1 && memcmp(id, CPM_SUBJECT_ME, len) == 0;
}

static void reject_long(struct filter *f)
{
    reject(f, "longer than " CPM_STRINGIFY(CPM_SUBJECT_ID_BYTES_MAX) " bytes");
}

/* An id to decide, of len bytes that are all id bytes: it waits in the batch. */
static void take_id(struct filter *f, const char *id, size_t len)
{
    if (len > CPM_SUBJECT_ID_BYTES_MAX) {
        reject_long(f);
        return;
    }
    if (is_me(id, len)) {
        reject(f, "not a subject id: printable ASCII without spaces or '/'");
        return;
    }
    struct batch *b = &f->batches[f->filling];
    b->ids[b->count] = id;
    b->lens[b->count] = len;
    if (++b->count == FILTER_BATCH)
        cycle(f);
}

/*
 * A line of len bytes has ended (LF, or the end of the body): decide it,
 * skip it or reject it. Past LINE_HELD_MAX its text is not read (NULL for
 * a line skipped to its LF).
 */
static void line_end(struct filter *f, const char *text, size_t len)
{
    f->line_no++;
    if (f->err != CPM_OK)
        return; /* the answer is lost anyway; the rest is only read */
    if (len > LINE_HELD_MAX) {
        reject_long(f);
        return;
    }
    if (len > 0 && text[len - 1] == '\r')
        len--;
    if (len == 0)
        return; /* empty lines are allowed anywhere */
    for (size_t i = 0; i < len; i++) {
        if (!id_byte((unsigned char)text[i])) {
            reject(f, "not a subject id: printable ASCII without spaces or '/'");
            return;
        }
    }
    take_id(f, text, len);
}

/*
 * Decides the whole lines gathered in input[reading] (and the last one,
 * without its LF, at the body's end), then moves the line they cut to the
 * other input, which takes the body next. The common line, an id and LF
 * (or CRLF), is found by one pass over its bytes; any other takes the
 * general way (line_end).
 */
static void take_lines(struct filter *f, bool body_end)
{
    const char *p = f->input[f->reading], *end = p + f->input_len;
    while (p < end) {
        const char *q = p;
        while (q < end && id_byte((unsigned char)*q))
            q++;
        if (q == end)
            break; /* cut */
        if (*q == '\n' && q > p && f->err == CPM_OK) {
            f->line_no++;
            take_id(f, p, (size_t)(q - p));
            p = q + 1;
            continue;
        }
        if (*q == '\r' && q + 1 < end && q[1] == '\n' && q > p && f->err == CPM_OK) {
            f->line_no++;
            take_id(f, p, (size_t)(q - p));
            p = q + 2;
            continue;
        }
        const char *lf = memchr(q, '\n', (size_t)(end - q));
        if (lf == NULL)
            break;
        line_end(f, p, (size_t)(lf - p));
        p = lf + 1;
    }
    if (body_end && p < end) {
        line_end(f, p, (size_t)(end - p));
        p = end;
    }
    /* The run left in the background points into input[reading]; the other input is free. */
    cycle(f);
    size_t rest = (size_t)(end - p);
    if (rest > LINE_HELD_MAX) {
        f->overlong = true; /* rejected once its LF comes */
        rest = 0;
    }
    f->reading = 1 - f->reading;
    memcpy(f->input[f->reading], p, rest);
    f->input_len = rest;
}

static void filter_chunk(struct cpm_request *req, const char *data, size_t size)
{
    struct filter *f = req->pending;
    while (size > 0) {
        if (f->overlong) {
            const char *lf = memchr(data, '\n', size);
            if (lf == NULL)
                return;
            f->overlong = false;
            line_end(f, NULL, SIZE_MAX);
            size -= (size_t)(lf + 1 - data);
            data = lf + 1;
            continue;
        }
        size_t take = FILTER_INPUT_BYTES - f->input_len;
        if (take > size)
            take = size;
        memcpy(f->input[f->reading] + f->input_len, data, take);
        f->input_len += take;
        data += take;
        size -= take;
        if (f->input_len == FILTER_INPUT_BYTES)
            take_lines(f, false);
    }
}

static void header_u64(struct cpm_request *req, const char *name, uint64_t value)
{
    char text[24];
    snprintf(text, sizeof(text), "%llu", (unsigned long long)value);
    cpm_respond_header(req, name, text);
}

static void filter_end(struct cpm_request *req)
{
    struct filter *f = req->pending;
    if (f->overlong)
        line_end(f, NULL, SIZE_MAX); /* a last line without LF */
    else
        take_lines(f, true);
    flush(f);
    if (f->err == CPM_ERR_TOO_LARGE) {
        cpm_respond_error(req, f->err, NULL,
                          "the answer would be over %lld GiB: filter the audience in parts",
                          CPM_AUDIENCE_SPOOL_BYTES_MAX >> 30);
        return;
    }
    if (f->err != CPM_OK) {
        cpm_respond_error(req, f->err, NULL, "the answer could not be spooled");
        return;
    }
    struct spool *sp = f->spool;
    f->spool = NULL; /* the answer owns it now */
    cpm_respond_reader(req, 200, f->explain ? NDJSON_TYPE : TEXT_TYPE, spool_size(sp), spool_read,
                       sp, spool_free);
    header_u64(req, "X-CPM-Audience-In", f->in);
    header_u64(req, "X-CPM-Audience-Allowed", f->allowed);
    header_u64(req, "X-CPM-Rejected-Lines", f->rejected);
    if (f->rejected > 0)
        header_u64(req, "X-CPM-First-Rejected-Line", f->first_rejected);
}

static const struct cpm_body_sink filter_sink = {
    .content_type = "text/plain",
    .chunk = filter_chunk,
    .end = filter_end,
};

/* Reads the query into f; every fault goes to detail. */
static cpm_err filter_parse(struct cpm_request *req, struct filter *f, struct cpm_detail *detail)
{
    const char *at = cpm_request_query(req, "at");
    f->at_ms = cpm_clock_now_ms();
    if (at != NULL && !cpm_time_parse(at, &f->at_ms))
        cpm_detail_add(detail, "at", "must be an RFC 3339 time such as 2026-05-01T12:00:00Z");
    const char *explain = cpm_request_query(req, "explain");
    f->explain = explain != NULL && (strcmp(explain, "1") == 0 || strcmp(explain, "true") == 0);
    if (explain != NULL && !f->explain && strcmp(explain, "0") != 0 &&
        strcmp(explain, "false") != 0)
        cpm_detail_add(detail, "explain", "must be 1 or 0");
    cpm_err err = cpm_decider_prepare(f->decider, cpm_request_query(req, "purpose"),
                                      cpm_request_query(req, "channel"),
                                      cpm_request_query(req, "topic"), NULL, &f->question, detail);
    if (err == CPM_OK && detail->count > 0)
        err = CPM_ERR_VALIDATION;
    return err;
}

void cpm_api_audiences_filter(struct cpm_request *req)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    if (!cpm_request_stream(req, &filter_sink))
        return;
    struct filter *f = cpm_calloc(1, sizeof(*f));
    if (f != NULL)
        f->spool = spool_new();
    if (f == NULL || f->spool == NULL) {
        filter_free(f);
        cpm_respond_error(req, CPM_ERR_NOMEM, NULL, "out of memory");
        return;
    }
    f->decider = req->app->decider;
    req->pending = f;
    req->pending_free = filter_free;
    cpm_err err = filter_parse(req, f, &detail);
    if (err != CPM_OK)
        cpm_respond_problem(req, err, &detail);
}
