/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fmt.h — text appended by hand to a caller's fixed buffer: what the hot
 * paths (the request log line, the decision answer) use instead of
 * snprintf, whose format parsing had cost more than the rest of a decision
 * request's own code. A piece that does not fit is cut short and `cut` is
 * set; the text is NUL-terminated after every call.
 *
 * Thread safety: a cpm_fmt belongs to one thread. No allocation, no I/O.
 */
#ifndef CPM_CORE_FMT_H
#define CPM_CORE_FMT_H

#include "core/common.h"

struct cpm_fmt {
    char *buf;
    size_t size; /* bytes of buf, the NUL included; at least 1 */
    size_t len;  /* bytes written, without the NUL */
    bool cut;    /* something did not fit */
};

/* An empty text in buf (size >= 1 bytes). */
void cpm_fmt_init(struct cpm_fmt *f, char *buf, size_t size);
/* Appends n bytes of s. */
void cpm_fmt_mem(struct cpm_fmt *f, const char *s, size_t n);
/* Appends the NUL-terminated s. */
void cpm_fmt_str(struct cpm_fmt *f, const char *s);
/* Appends v in decimal, with zeros in front up to width digits (0: none; at most 20). */
void cpm_fmt_u64(struct cpm_fmt *f, uint64_t v, unsigned width);

#endif /* CPM_CORE_FMT_H */
