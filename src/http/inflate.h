/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inflate.h — a streamed body's gzip content coding (RFC 9110 §8.4.1.3),
 * undone piece by piece as the body arrives, in constant memory.
 *
 * A 10 M-id audience is 110 MB as text and about a quarter of that
 * gzipped; a client may send it either way. Members may follow one another
 * (`cat a.gz b.gz`). A body that unpacks to over 200 times its size is
 * refused as a decompression bomb. Other codings, and any coding on a body
 * that is not streamed, are refused before the body is read
 * (src/http/server.c).
 */
#ifndef CPM_HTTP_INFLATE_H
#define CPM_HTTP_INFLATE_H

#include "core/common.h"

struct cpm_inflate;

/* What the decoded bytes are handed to, in order, a piece at a time. */
typedef void (*cpm_inflate_emit_fn)(void *ctx, const char *data, size_t size);

/* True for a Content-Encoding this module undoes ("gzip", "x-gzip"; any case). */
bool cpm_inflate_coding(const char *content_encoding);

cpm_err cpm_inflate_new(struct cpm_inflate **out);
void cpm_inflate_free(struct cpm_inflate *in);

/*
 * Decodes size more bytes of the body, emitting what they decode to. False
 * once the body is not gzip or a bomb (then and after: cpm_inflate_error
 * says why; nothing more is emitted).
 */
bool cpm_inflate_feed(struct cpm_inflate *in, const char *data, size_t size,
                      cpm_inflate_emit_fn emit, void *ctx);

/* At the body's end: false when it is not a whole gzip stream (cut short, or not gzip). */
bool cpm_inflate_end(struct cpm_inflate *in);

/* Why the body was refused, for the client ("" while all is well). */
const char *cpm_inflate_error(const struct cpm_inflate *in);

#endif /* CPM_HTTP_INFLATE_H */
