/* SPDX-License-Identifier: Apache-2.0 */
/*
 * util.c — the error table's accessors, fault details, assertions and the
 * few string helpers that replace banned libc calls.
 */
#include "core/common.h"

#include <unistd.h>

#include "core/detail.h"

static const struct {
    const char *code;
    int status;
    const char *message;
} err_table[] = {
#define CPM__ERR_ROW(e, code, status, msg) {code, status, msg},
    CPM_ERR_LIST(CPM__ERR_ROW)
#undef CPM__ERR_ROW
};

_Static_assert(CPM_ARRAY_LEN(err_table) == CPM_ERR__COUNT, "error table out of sync");

const char *cpm_err_code(cpm_err err)
{
    return (unsigned)err < CPM_ERR__COUNT ? err_table[err].code : "internal_error";
}

int cpm_err_http_status(cpm_err err)
{
    return (unsigned)err < CPM_ERR__COUNT ? err_table[err].status : 500;
}

const char *cpm_err_message(cpm_err err)
{
    return (unsigned)err < CPM_ERR__COUNT ? err_table[err].message : "internal error";
}

void cpm_detail_init(struct cpm_detail *d)
{
    d->count = 0;
    d->dropped = 0;
}

void cpm_detail_add(struct cpm_detail *d, const char *field, const char *fmt, ...)
{
    if (d == NULL)
        return;
    if (d->count >= CPM_ERRORS_REPORTED_MAX) {
        d->dropped++;
        return;
    }
    struct cpm_fault *f = &d->faults[d->count++];
    cpm_strlcpy(f->field, field ? field : "", sizeof(f->field));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
}

_Noreturn void cpm__assert_fail(const char *expr, const char *file, int line)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "level=error module=assert msg=\"%s\" at=%s:%d\n", expr,
                     file, line);
    if (n > 0) {
        ssize_t w = write(STDERR_FILENO, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf));
        CPM_UNUSED(w);
    }
    abort();
}

size_t cpm_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);
    if (size > 0) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

bool cpm_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (s == NULL || *s == '\0')
        return false;
    bool neg = *s == '-';
    const char *p = neg ? s + 1 : s;
    if (*p == '\0')
        return false;
    uint64_t v = 0;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > (uint64_t)INT64_MAX + neg)
        return false;
    int64_t val = neg ? (int64_t)(0 - v) : (int64_t)v;
    if (val < min || val > max)
        return false;
    *out = val;
    return true;
}

bool cpm_write_all(int fd, const void *buf, size_t len)
{
    const char *at = buf;
    while (len > 0) {
        ssize_t n = write(fd, at, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        at += n;
        len -= (size_t)n;
    }
    return true;
}
