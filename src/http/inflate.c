/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inflate.c — see inflate.h. zlib's inflate with gzip framing only
 * (windowBits 16 + 15): a zlib or raw deflate stream is refused as not gzip.
 */
#include "core/common.h"

#include <strings.h>
#include <zlib.h>

#include "core/alloc.h"
#include "http/inflate.h"

#define OUT_BYTES   (16 * 1024)
#define GZIP_WBITS  (16 + MAX_WBITS)
#define ERROR_BYTES 192
/*
 * A body that unpacks to more than RATIO_MAX times its size, past
 * RATIO_FREE_BYTES, is refused as a decompression bomb: lists of ids pack
 * 4–20 times (the 10 M audience of bench/audience.sh: 4.2 with gzip -1),
 * and a megabyte that unpacks to a gigabyte would keep a worker busy for
 * nothing.
 */
#define RATIO_MAX        200
#define RATIO_FREE_BYTES (64u << 20)

struct cpm_inflate {
    z_stream z;
    bool in_member; /* a member has begun and not yet ended */
    uint64_t read;  /* body bytes taken */
    uint64_t made;  /* bytes they unpacked to */
    char error[ERROR_BYTES];
    char out[OUT_BYTES];
};

bool cpm_inflate_coding(const char *content_encoding)
{
    return content_encoding != NULL && (strcasecmp(content_encoding, "gzip") == 0 ||
                                        strcasecmp(content_encoding, "x-gzip") == 0);
}

cpm_err cpm_inflate_new(struct cpm_inflate **out)
{
    struct cpm_inflate *in = cpm_calloc(1, sizeof(*in));
    if (in == NULL)
        return CPM_ERR_NOMEM;
    if (inflateInit2(&in->z, GZIP_WBITS) != Z_OK) {
        cpm_free(in);
        return CPM_ERR_NOMEM;
    }
    *out = in;
    return CPM_OK;
}

void cpm_inflate_free(struct cpm_inflate *in)
{
    if (in == NULL)
        return;
    inflateEnd(&in->z);
    cpm_free(in);
}

static bool refuse(struct cpm_inflate *in, const char *why)
{
    snprintf(in->error, sizeof(in->error), "the body is not gzip (%s, near byte %llu)", why,
             (unsigned long long)(in->read - in->z.avail_in));
    return false;
}

bool cpm_inflate_feed(struct cpm_inflate *in, const char *data, size_t size,
                      cpm_inflate_emit_fn emit, void *ctx)
{
    if (in->error[0] != '\0')
        return false;
    in->read += size;
    in->z.next_in = (Bytef *)(uintptr_t)data;
    in->z.avail_in = (uInt)size; /* libmicrohttpd hands over a few KiB at a time */
    CPM_ASSERT(in->z.avail_in == size);
    bool full = false; /* the last call filled the output: zlib may hold more */
    while (in->z.avail_in > 0 || full) {
        if (!in->in_member && in->z.avail_in > 0 && inflateReset(&in->z) != Z_OK)
            return refuse(in, "zlib could not restart");
        in->in_member = in->in_member || in->z.avail_in > 0;
        uInt before = in->z.avail_in;
        in->z.next_out = (Bytef *)in->out;
        in->z.avail_out = sizeof(in->out);
        int rc = inflate(&in->z, Z_NO_FLUSH);
        size_t made = sizeof(in->out) - in->z.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            return refuse(in, in->z.msg != NULL ? in->z.msg : "zlib failed");
        in->made += made;
        if (in->made > RATIO_FREE_BYTES && in->made / RATIO_MAX > in->read) {
            snprintf(in->error, sizeof(in->error),
                     "the gzip body unpacks to over %d times its size (%llu bytes from %llu): "
                     "refused as a decompression bomb",
                     RATIO_MAX, (unsigned long long)in->made, (unsigned long long)in->read);
            return false;
        }
        if (made > 0)
            emit(ctx, in->out, made);
        full = in->z.avail_out == 0 && rc != Z_STREAM_END;
        if (rc == Z_STREAM_END)
            in->in_member = false; /* another member may follow */
        else if (made == 0 && in->z.avail_in == before)
            break; /* zlib wants more input */
    }
    return true;
}

bool cpm_inflate_end(struct cpm_inflate *in)
{
    if (in->error[0] != '\0')
        return false;
    if (in->in_member) {
        snprintf(in->error, sizeof(in->error),
                 "the gzip body ended in the middle of its data (after %llu bytes): it was cut "
                 "short",
                 (unsigned long long)in->read);
        return false;
    }
    return true;
}

const char *cpm_inflate_error(const struct cpm_inflate *in)
{
    return in->error;
}
