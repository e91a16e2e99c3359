/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fmt.c — text appended by hand to a fixed buffer (fmt.h).
 */
#include "core/common.h"

#include "core/fmt.h"

#define U64_DIGITS_MAX 20

void cpm_fmt_init(struct cpm_fmt *f, char *buf, size_t size)
{
    CPM_ASSERT(size >= 1);
    f->buf = buf;
    f->size = size;
    f->len = 0;
    f->cut = false;
    buf[0] = '\0';
}

void cpm_fmt_mem(struct cpm_fmt *f, const char *s, size_t n)
{
    size_t room = f->size - 1 - f->len;
    if (n > room) {
        n = room;
        f->cut = true;
    }
    memcpy(f->buf + f->len, s, n);
    f->len += n;
    f->buf[f->len] = '\0';
}

void cpm_fmt_str(struct cpm_fmt *f, const char *s)
{
    cpm_fmt_mem(f, s, strlen(s));
}

void cpm_fmt_u64(struct cpm_fmt *f, uint64_t v, unsigned width)
{
    char digits[U64_DIGITS_MAX];
    size_t n = U64_DIGITS_MAX;
    CPM_ASSERT(width <= U64_DIGITS_MAX);
    do
        digits[--n] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (U64_DIGITS_MAX - n < width)
        digits[--n] = '0';
    cpm_fmt_mem(f, digits + n, U64_DIGITS_MAX - n);
}
