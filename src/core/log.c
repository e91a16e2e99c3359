/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c — logfmt lines, each written with a single write(2) so lines from
 * concurrent threads never interleave; the request log's lines gathered per
 * thread first (cpm_log_buffered), many to a write.
 */
#include "core/common.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/fmt.h"
#include "core/log.h"

#define LINE_BYTES_MAX 2048
/* a thread's lines waiting for one write: no more than a pipe writes whole (stderr may be one) */
#define BUFFER_BYTES       PIPE_BUF
#define BUFFER_LINE_MS_MAX 100 /* how long a line may wait at the most (with cpm_log_flush) */

static atomic_int min_level = CPM_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void cpm_log_set_level(enum cpm_log_level level)
{
    atomic_store(&min_level, (int)level);
}

bool cpm_log_enabled(enum cpm_log_level level)
{
    return (int)level >= atomic_load_explicit(&min_level, memory_order_relaxed);
}

bool cpm_log_level_parse(const char *name, enum cpm_log_level *out)
{
    for (size_t i = 0; i < CPM_ARRAY_LEN(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum cpm_log_level)i;
            return true;
        }
    }
    return false;
}

/* Appends s to f in double quotes, " and \ escaped, controls as spaces; the closing quote always
 * fits. */
static void put_quoted(struct cpm_fmt *f, const char *s)
{
    if (f->size - f->len < 3) {
        f->cut = true;
        return;
    }
    f->buf[f->len++] = '"';
    for (; *s != '\0' && f->len + 3 < f->size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            f->buf[f->len++] = '\\';
            f->buf[f->len++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            f->buf[f->len++] = ' '; /* control characters would break the one-line rule */
        } else {
            f->buf[f->len++] = (char)c;
        }
    }
    f->cut |= *s != '\0';
    f->buf[f->len++] = '"';
    f->buf[f->len] = '\0';
}

void cpm_log_quote(char *out, size_t size, const char *s)
{
    struct cpm_fmt f;
    if (size == 0)
        return;
    cpm_fmt_init(&f, out, size);
    put_quoted(&f, s);
}

/* Formats one line (ending in a newline) made at now_ms into line; its length. */
static size_t format_line(enum cpm_log_level level, const char *module, const char *request_id,
                          const char *fields, const char *msg, int64_t now_ms,
                          char line[LINE_BYTES_MAX])
{
    char ts[CPM_TIME_TEXT_BYTES];
    struct cpm_fmt f;
    cpm_time_format(now_ms, ts, sizeof(ts));
    cpm_fmt_init(&f, line, LINE_BYTES_MAX);
    cpm_fmt_str(&f, "ts=");
    cpm_fmt_str(&f, ts);
    cpm_fmt_str(&f, " level=");
    cpm_fmt_str(&f, level_names[level]);
    cpm_fmt_str(&f, " module=");
    cpm_fmt_str(&f, module);
    if (request_id != NULL) {
        cpm_fmt_str(&f, " rid=");
        cpm_fmt_str(&f, request_id);
    }
    cpm_fmt_str(&f, " msg=");
    put_quoted(&f, msg);
    if (fields != NULL) {
        cpm_fmt_str(&f, " ");
        cpm_fmt_str(&f, fields);
    }
    cpm_fmt_str(&f, "\n");
    line[f.len - 1] = '\n'; /* a line cut short still ends */
    return f.len;
}

static void write_out(const char *data, size_t len)
{
    bool ok = cpm_write_all(STDERR_FILENO, data, len);
    CPM_UNUSED(ok); /* nothing sensible to do if stderr is gone */
}

void cpm_log(enum cpm_log_level level, const char *module, const char *request_id,
             const char *fields, const char *fmt, ...)
{
    if (!cpm_log_enabled(level))
        return;
    char msg[1024];
    if (strchr(fmt, '%') == NULL) { /* most lines: a fixed message */
        cpm_strlcpy(msg, fmt, sizeof(msg));
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
    }
    char line[LINE_BYTES_MAX];
    write_out(line, format_line(level, module, request_id, fields, msg, cpm_clock_now_ms(), line));
}

/* ---- the request log: lines gathered per thread ---- */

struct log_buffer {
    pthread_mutex_t lock; /* the owner appends, the flusher writes out */
    struct log_buffer *next;
    int64_t oldest_ms; /* when the first line held was made; 0: empty */
    size_t len;
    char data[BUFFER_BYTES];
};

static pthread_mutex_t buffers_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the list */
static struct log_buffer *buffers;
static pthread_key_t buffer_key;
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;

static void flush_locked(struct log_buffer *b)
{
    if (b->len > 0)
        write_out(b->data, b->len);
    b->len = 0;
    b->oldest_ms = 0;
}

/* A thread ends: its lines are written and its buffer goes. */
static void buffer_release(void *arg)
{
    struct log_buffer *b = arg;
    pthread_mutex_lock(&buffers_lock);
    for (struct log_buffer **p = &buffers; *p != NULL; p = &(*p)->next) {
        if (*p == b) {
            *p = b->next;
            break;
        }
    }
    pthread_mutex_unlock(&buffers_lock);
    flush_locked(b);
    pthread_mutex_destroy(&b->lock);
    cpm_free(b);
}

static void make_key(void)
{
    if (pthread_key_create(&buffer_key, buffer_release) != 0)
        abort(); /* at the first request line: nothing can run without keys */
}

/* The calling thread's buffer, made on its first line; NULL when out of memory. */
static struct log_buffer *my_buffer(void)
{
    pthread_once(&buffer_once, make_key);
    struct log_buffer *b = pthread_getspecific(buffer_key);
    if (b != NULL)
        return b;
    b = cpm_malloc(sizeof(*b));
    if (b == NULL)
        return NULL;
    pthread_mutex_init(&b->lock, NULL);
    b->len = 0;
    b->oldest_ms = 0;
    if (pthread_setspecific(buffer_key, b) != 0) {
        pthread_mutex_destroy(&b->lock);
        cpm_free(b);
        return NULL;
    }
    pthread_mutex_lock(&buffers_lock);
    b->next = buffers;
    buffers = b;
    pthread_mutex_unlock(&buffers_lock);
    return b;
}

void cpm_log_buffered(enum cpm_log_level level, const char *module, const char *request_id,
                      const char *fields, const char *msg)
{
    if (!cpm_log_enabled(level))
        return;
    char line[LINE_BYTES_MAX];
    int64_t now = cpm_clock_now_ms();
    size_t len = format_line(level, module, request_id, fields, msg, now, line);
    struct log_buffer *b = level < CPM_LOG_WARN ? my_buffer() : NULL;
    if (b == NULL) {
        write_out(line, len); /* warnings and errors are never held back */
        return;
    }
    pthread_mutex_lock(&b->lock);
    if (b->len + len > sizeof(b->data))
        flush_locked(b);
    memcpy(b->data + b->len, line, len);
    b->len += len;
    if (b->oldest_ms == 0)
        b->oldest_ms = now;
    else if (now - b->oldest_ms >= BUFFER_LINE_MS_MAX)
        flush_locked(b);
    pthread_mutex_unlock(&b->lock);
}

void cpm_log_flush(void)
{
    pthread_mutex_lock(&buffers_lock);
    for (struct log_buffer *b = buffers; b != NULL; b = b->next) {
        pthread_mutex_lock(&b->lock);
        flush_locked(b);
        pthread_mutex_unlock(&b->lock);
    }
    pthread_mutex_unlock(&buffers_lock);
}
