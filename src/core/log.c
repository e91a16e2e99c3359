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

void cpm_log_quote(char *out, size_t size, const char *s)
{
    size_t o = 0;
    if (size < 3) {
        if (size > 0)
            out[0] = '\0';
        return;
    }
    out[o++] = '"';
    for (; *s != '\0' && o + 3 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            out[o++] = ' '; /* control characters would break the one-line rule */
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* Formats one line (ending in a newline) into line; its length, 0 when it cannot. */
static size_t format_line(enum cpm_log_level level, const char *module, const char *request_id,
                          const char *fields, const char *msg, char line[LINE_BYTES_MAX])
{
    char quoted[1100];
    cpm_log_quote(quoted, sizeof(quoted), msg);
    char ts[CPM_TIME_TEXT_BYTES];
    cpm_time_format(cpm_clock_now_ms(), ts, sizeof(ts));
    int n = snprintf(line, LINE_BYTES_MAX, "ts=%s level=%s module=%s%s%s msg=%s%s%s\n", ts,
                     level_names[level], module, request_id ? " rid=" : "",
                     request_id ? request_id : "", quoted, fields ? " " : "", fields ? fields : "");
    if (n < 0)
        return 0;
    size_t len = (size_t)n < LINE_BYTES_MAX ? (size_t)n : LINE_BYTES_MAX - 1;
    line[len - 1] = '\n';
    return len;
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
    size_t len = format_line(level, module, request_id, fields, msg, line);
    if (len > 0)
        write_out(line, len);
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
    size_t len = format_line(level, module, request_id, fields, msg, line);
    struct log_buffer *b = level < CPM_LOG_WARN ? my_buffer() : NULL;
    if (len == 0 || b == NULL) {
        if (len > 0)
            write_out(line, len); /* warnings and errors are never held back */
        return;
    }
    int64_t now = cpm_clock_now_ms();
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
