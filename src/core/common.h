/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common.h — what every OpenCPM source file includes first.
 *
 * The usual system headers, the error enum, the limits, assertions that stay
 * on in release builds, and (last) the list of banned libc calls.
 */
#ifndef CPM_COMMON_H
#define CPM_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpm/err.h"
#include "cpm/limits.h"

/*
 * CPM_ASSERT stays on in every build: a consent system that goes on after a
 * broken invariant records wrong legal facts. Only for programmer errors —
 * bad input and operating failures are returned, never asserted.
 */
#define CPM_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            cpm__assert_fail(#cond, __FILE__, __LINE__);                                           \
    } while (0)

_Noreturn void cpm__assert_fail(const char *expr, const char *file, int line);

#define CPM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CPM_UNUSED(x)    ((void)(x))
#define CPM_STR_(x)      #x
#define CPM_STRINGIFY(x) CPM_STR_(x) /* a macro's value as a string literal */

#if defined(__GNUC__)
#define CPM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CPM_PRINTF(fmt, args)
#endif

/* Copies src into dst (size bytes), always NUL-terminated; returns strlen(src). */
size_t cpm_strlcpy(char *dst, const char *src, size_t size);
/* Writes all len bytes of buf to fd, retrying short writes and EINTR; false on an error. */
bool cpm_write_all(int fd, const void *buf, size_t len);

/* Parses a whole decimal integer in [min, max]; false on anything else. */
bool cpm_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

#include "core/banned.h"

#endif /* CPM_COMMON_H */
