/* SPDX-License-Identifier: Apache-2.0 */
/*
 * textbuf.h — a growable text buffer with a maximum, and the two escapings
 * an export writes: a JSON string and an RFC 4180 CSV field.
 *
 * A buffer that would pass its maximum, or cannot grow, turns `failed` and
 * ignores what follows, so a caller appends a whole line and checks once.
 * Memory comes from cpm_realloc. No I/O.
 *
 * Thread safety: a buffer belongs to one thread.
 */
#ifndef CPM_CORE_TEXTBUF_H
#define CPM_CORE_TEXTBUF_H

#include "core/common.h"

struct cpm_textbuf {
    char *data; /* owned; not NUL-terminated */
    size_t len;
    size_t cap;
    size_t bytes_max; /* the buffer never holds more */
    bool failed;      /* over bytes_max or out of memory: the text is incomplete */
};

/* An empty buffer that will hold at most bytes_max bytes (caller's storage). */
void cpm_textbuf_init(struct cpm_textbuf *b, size_t bytes_max);
/* Frees the text; b may be reused after cpm_textbuf_init. */
void cpm_textbuf_release(struct cpm_textbuf *b);
/* Empties b, keeping its memory and clearing `failed`. */
void cpm_textbuf_clear(struct cpm_textbuf *b);

/* Appends n bytes of s; false once b failed. */
bool cpm_textbuf_put(struct cpm_textbuf *b, const char *s, size_t n);
/* Appends the NUL-terminated s. */
bool cpm_textbuf_puts(struct cpm_textbuf *b, const char *s);
/* Appends a decimal integer. */
bool cpm_textbuf_int(struct cpm_textbuf *b, int64_t v);
/*
 * Appends s (n bytes, UTF-8) as a JSON string: quoted, with ", \ and control
 * bytes escaped exactly as jansson's json_dumps escapes them (\n, \u001F, …).
 */
bool cpm_textbuf_json_string(struct cpm_textbuf *b, const char *s, size_t n);
/*
 * Appends s (n bytes) as one CSV field (RFC 4180): as it is, or quoted with
 * its quotes doubled when it holds a comma, a quote, CR or LF.
 */
bool cpm_textbuf_csv_field(struct cpm_textbuf *b, const char *s, size_t n);

#endif /* CPM_CORE_TEXTBUF_H */
