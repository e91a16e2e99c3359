/* SPDX-License-Identifier: Apache-2.0 */
/*
 * textbuf.c — a growable text buffer with a maximum (textbuf.h).
 */
#include "core/common.h"

#include "core/alloc.h"
#include "core/textbuf.h"

void cpm_textbuf_init(struct cpm_textbuf *b, size_t bytes_max)
{
    memset(b, 0, sizeof(*b));
    b->bytes_max = bytes_max;
}

void cpm_textbuf_release(struct cpm_textbuf *b)
{
    cpm_free(b->data);
    memset(b, 0, sizeof(*b));
}

void cpm_textbuf_clear(struct cpm_textbuf *b)
{
    b->len = 0;
    b->failed = false;
}

/* Makes room for n more bytes; false (and failed) when it cannot. */
static bool reserve(struct cpm_textbuf *b, size_t n)
{
    if (b->failed || n > b->bytes_max - b->len) {
        b->failed = true;
        return false;
    }
    if (b->len + n <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
        cap *= 2;
    if (cap > b->bytes_max)
        cap = b->bytes_max;
    char *grown = cpm_realloc(b->data, cap);
    if (grown == NULL) {
        b->failed = true;
        return false;
    }
    b->data = grown;
    b->cap = cap;
    return true;
}

bool cpm_textbuf_put(struct cpm_textbuf *b, const char *s, size_t n)
{
    if (n == 0)
        return !b->failed;
    if (!reserve(b, n))
        return false;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return true;
}

bool cpm_textbuf_puts(struct cpm_textbuf *b, const char *s)
{
    return cpm_textbuf_put(b, s, strlen(s));
}

bool cpm_textbuf_int(struct cpm_textbuf *b, int64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof(text), "%lld", (long long)v);
    return cpm_textbuf_put(b, text, (size_t)n);
}

/* jansson's escapes (dump.c), so text written here matches what json_dumps writes. */
static size_t escape(char *out, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    static const char shorts[] = {
        ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
    out[0] = '\\';
    if (c == '"' || c == '\\') {
        out[1] = (char)c;
        return 2;
    }
    if (c < sizeof(shorts) && shorts[c]) {
        out[1] = shorts[c];
        return 2;
    }
    memcpy(out + 1, "u00", 3);
    out[4] = hex[c >> 4];
    out[5] = hex[c & 15];
    return 6;
}

bool cpm_textbuf_json_string(struct cpm_textbuf *b, const char *s, size_t n)
{
    if (!reserve(b, 2 + 6 * n)) /* every byte takes at most 6 */
        return false;
    char *out = b->data + b->len;
    size_t at = 0;
    out[at++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c < 0x20)
            at += escape(out + at, c);
        else
            out[at++] = (char)c;
    }
    out[at++] = '"';
    b->len += at;
    return true;
}

bool cpm_textbuf_csv_field(struct cpm_textbuf *b, const char *s, size_t n)
{
    size_t quotes = 0;
    bool quoted = false;
    for (size_t i = 0; i < n; i++) {
        quotes += s[i] == '"';
        quoted |= s[i] == '"' || s[i] == ',' || s[i] == '\r' || s[i] == '\n';
    }
    if (!quoted)
        return cpm_textbuf_put(b, s, n);
    if (!reserve(b, n + quotes + 2))
        return false;
    char *out = b->data + b->len;
    size_t at = 0;
    out[at++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            out[at++] = '"';
        out[at++] = s[i];
    }
    out[at++] = '"';
    b->len += at;
    return true;
}
