/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h — one-line structured logs to stderr (logfmt: key=value).
 *
 * Every line carries a UTC timestamp, the level and the module; the request
 * id when there is one. Messages must never contain secrets (API keys,
 * master key material, tokens) or personal data. The audit trail is data in
 * the store, never this log.
 *
 * Thread safety: lines from concurrent threads never interleave. Lines
 * held by cpm_log_buffered may come out after later direct lines: order by ts.
 */
#ifndef CPM_CORE_LOG_H
#define CPM_CORE_LOG_H

#include "core/common.h"

enum cpm_log_level { CPM_LOG_DEBUG, CPM_LOG_INFO, CPM_LOG_WARN, CPM_LOG_ERROR };

/* Lines below level are dropped. Default CPM_LOG_INFO. */
void cpm_log_set_level(enum cpm_log_level level);
/* True when lines at level are written; lets callers skip formatting. */
bool cpm_log_enabled(enum cpm_log_level level);
/* Parses "debug", "info", "warn" or "error"; false otherwise. */
bool cpm_log_level_parse(const char *name, enum cpm_log_level *out);

/*
 * Writes `ts=… level=… module=… [rid=…] msg="…"` then the extra fields.
 * fields is a preformatted `key=value key=value` tail, or NULL. msg is quoted
 * and escaped; fields are written as given (callers quote their values with
 * cpm_log_quote).
 */
void cpm_log(enum cpm_log_level level, const char *module, const char *request_id,
             const char *fields, const char *fmt, ...) CPM_PRINTF(5, 6);

/*
 * The same line for a log written at thousands of lines a second (the
 * request log): kept in the calling thread's buffer and written with the
 * lines before it in one write(2) when the buffer fills, when its oldest
 * line is 100 ms old at the next line, or by cpm_log_flush. Lines at warn
 * and above are written at once. msg is a fixed message. A crash loses the
 * lines still held (at most about 100 ms of them while something calls
 * cpm_log_flush every 100 ms, as the HTTP server does).
 */
void cpm_log_buffered(enum cpm_log_level level, const char *module, const char *request_id,
                      const char *fields, const char *msg);
/* Writes out every thread's held lines. */
void cpm_log_flush(void);

/* Writes s as a quoted, escaped logfmt value into out (size bytes, truncates). */
void cpm_log_quote(char *out, size_t size, const char *s);

#define cpm_log_info(module, ...)  cpm_log(CPM_LOG_INFO, module, NULL, NULL, __VA_ARGS__)
#define cpm_log_warn(module, ...)  cpm_log(CPM_LOG_WARN, module, NULL, NULL, __VA_ARGS__)
#define cpm_log_error(module, ...) cpm_log(CPM_LOG_ERROR, module, NULL, NULL, __VA_ARGS__)

#endif /* CPM_CORE_LOG_H */
