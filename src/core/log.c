/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c — logfmt lines, each written with a single write(2) so lines from
 * concurrent threads never interleave.
 */
#include "core/common.h"

#include <stdatomic.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

#define LINE_BYTES_MAX 2048

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
    char quoted[1100];
    cpm_log_quote(quoted, sizeof(quoted), msg);
    char ts[CPM_TIME_TEXT_BYTES];
    cpm_time_format(cpm_clock_now_ms(), ts, sizeof(ts));

    char line[LINE_BYTES_MAX];
    int n = snprintf(line, sizeof(line), "ts=%s level=%s module=%s%s%s msg=%s%s%s\n", ts,
                     level_names[level], module, request_id ? " rid=" : "",
                     request_id ? request_id : "", quoted, fields ? " " : "", fields ? fields : "");
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    line[len - 1] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    CPM_UNUSED(w); /* nothing sensible to do if stderr is gone */
}
