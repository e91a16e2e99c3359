/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audiences.c — POST /v1/audiences/filter: of a list of subject ids (one a
 * line, any length), which may be contacted for a purpose (and channel,
 * topic) at a time. The answer a campaign tool asks before every send.
 *
 * Memory stays constant whatever the audience size: the body streams in
 * (cpm_request_stream) and each id is decided from the in-memory index as
 * its line completes, keeping only a partial last line between pieces. The
 * answer lines go to a spool — memory up to CPM_AUDIENCE_SPOOL_MEMORY_BYTES_MAX,
 * an unlinked temporary file beyond — which is sent once the body has
 * ended (HTTP/1.1 here is half-duplex: an answer ends the upload), read
 * back as it goes out. Lines that are not subject ids are counted and
 * skipped, never fatal: a list of millions should not fail on one typo.
 */
#include "core/common.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "api/api.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "cpm/decide.h"
#include "domain/subject.h"
#include "http/app.h"
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

/* A file no other process can open, gone when closed: O_TMPFILE, else mkstemp + unlink. */
static int temp_file_open(void)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] != '/')
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/cpm-audience-XXXXXX", dir) >= (int)sizeof(path))
        return -1;
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static cpm_err write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return CPM_ERR_IO;
        data += n;
        len -= (size_t)n;
    }
    return CPM_OK;
}

/* Moves what memory holds to the file (opened on first use). */
static cpm_err spool_flush(struct spool *sp)
{
    if (sp->fd < 0)
        sp->fd = temp_file_open();
    if (sp->fd < 0) {
        cpm_log_error("audiences", "cannot open a temporary file in $TMPDIR or /tmp: %s",
                      strerror(errno));
        return CPM_ERR_IO;
    }
    if (write_all(sp->fd, sp->mem, sp->mem_len) != CPM_OK) {
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
static void put_json_id(struct line_out *o, const char *id)
{
    put(o, "\"", 1);
    for (const char *p = id; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            put(o, "\\", 1);
        put(o, p, 1);
    }
    put(o, "\"", 1);
}

static void put_explained(struct line_out *o, const char *id, const struct cpm_answer *a)
{
    put_str(o, "{\"subject\":");
    put_json_id(o, id);
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
    size_t line_len;                         /* bytes of the current line, even past line[] */
    char line[CPM_SUBJECT_ID_BYTES_MAX + 2]; /* an id, its CR, and room for the NUL */
    /* ids waiting to be decided together (their lookups overlap), in input order */
    size_t batch_count;
    char batch[CPM_INDEX_VIEW_BATCH][CPM_SUBJECT_ID_BYTES_MAX + 1];
};

static void filter_free(void *pending)
{
    struct filter *f = pending;
    if (f == NULL)
        return;
    spool_free(f->spool);
    cpm_free(f);
}

static void spool_line(struct filter *f, const struct line_out *o)
{
    if (f->err == CPM_OK)
        f->err = spool_write(f->spool, o->text, o->len);
}

static void flush(struct filter *f);

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

/* Decides the waiting ids and spools their answer lines, in order. */
static void flush(struct filter *f)
{
    const char *ids[CPM_INDEX_VIEW_BATCH];
    struct cpm_answer answers[CPM_INDEX_VIEW_BATCH];
    for (size_t i = 0; i < f->batch_count; i++)
        ids[i] = f->batch[i];
    cpm_decider_decide_many(f->decider, &f->question, ids, f->batch_count, f->at_ms, answers);
    for (size_t i = 0; i < f->batch_count; i++) {
        f->in++;
        f->allowed += answers[i].allowed;
        if (!f->explain && !answers[i].allowed)
            continue;
        struct line_out o;
        o.len = 0;
        if (f->explain) {
            put_explained(&o, ids[i], &answers[i]);
        } else {
            put_str(&o, ids[i]);
            put(&o, "\n", 1);
        }
        spool_line(f, &o);
    }
    f->batch_count = 0;
}

static void decide(struct filter *f, const char *id, size_t len)
{
    memcpy(f->batch[f->batch_count], id, len + 1);
    if (++f->batch_count == CPM_INDEX_VIEW_BATCH)
        flush(f);
}

/* A line has ended (LF, or the end of the body): decide it, skip it or reject it. */
static void line_end(struct filter *f)
{
    size_t len = f->line_len;
    f->line_no++;
    f->line_len = 0;
    if (f->err != CPM_OK)
        return; /* the answer is lost anyway; the rest is only read */
    if (len <= sizeof(f->line) - 1 && len > 0 && f->line[len - 1] == '\r')
        len--;
    if (len == 0)
        return; /* empty lines are allowed anywhere */
    if (len > CPM_SUBJECT_ID_BYTES_MAX) {
        reject(f, "longer than " CPM_STRINGIFY(CPM_SUBJECT_ID_BYTES_MAX) " bytes");
        return;
    }
    f->line[len] = '\0';
    if (!cpm_subject_id_valid(f->line)) {
        reject(f, "not a subject id: printable ASCII without spaces or '/'");
        return;
    }
    decide(f, f->line, len);
}

/* Adds bytes of the current line; what is past line[] is only counted. */
static void line_add(struct filter *f, const char *data, size_t len)
{
    size_t room = sizeof(f->line) - 1;
    if (f->line_len < room) {
        size_t copy = len < room - f->line_len ? len : room - f->line_len;
        memcpy(f->line + f->line_len, data, copy);
    }
    f->line_len = len > SIZE_MAX - f->line_len ? SIZE_MAX : f->line_len + len;
}

static void filter_chunk(struct cpm_request *req, const char *data, size_t size)
{
    struct filter *f = req->pending;
    while (size > 0) {
        const char *lf = memchr(data, '\n', size);
        size_t take = lf != NULL ? (size_t)(lf - data) : size;
        line_add(f, data, take);
        if (lf == NULL)
            return;
        line_end(f);
        data += take + 1;
        size -= take + 1;
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
    if (f->line_len > 0)
        line_end(f); /* a last line without LF */
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
