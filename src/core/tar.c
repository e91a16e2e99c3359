/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tar.c — POSIX ustar headers, and a streaming writer and reader of
 * archives of regular files (tar.h). The format: POSIX.1-2017, pax's
 * "ustar Interchange Format"; 512-byte blocks, octal numbers, a checksum
 * over the header with its own field read as spaces.
 */
#include "core/common.h"

#include "core/tar.h"

#define NAME_FIELD_BYTES   100
#define PREFIX_FIELD_BYTES 155
#define COPY_BLOCK_BYTES   (64 * 1024)

/* Field offsets and widths in a header block. */
enum {
    AT_NAME = 0,
    AT_MODE = 100,
    AT_UID = 108,
    AT_GID = 116,
    AT_SIZE = 124,
    AT_MTIME = 136,
    AT_CHECKSUM = 148,
    AT_TYPE = 156,
    AT_MAGIC = 257,
    AT_VERSION = 263,
    AT_PREFIX = 345,
};

static const uint8_t zero_block[CPM_TAR_BLOCK_BYTES];

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* True when every '/'-separated part of name[0..len) is a plain, non-empty name. */
static bool parts_valid(const char *name, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '/') {
            if (!name_char(name[i]))
                return false;
            continue;
        }
        size_t part = i - start;
        if (part == 0 || (part == 1 && name[start] == '.') ||
            (part == 2 && name[start] == '.' && name[start + 1] == '.'))
            return false;
        start = i + 1;
    }
    return true;
}

/* Where name splits into prefix and name fields: the index of the '/', or len when it fits whole.
 */
static size_t split_point(const char *name, size_t len)
{
    if (len <= NAME_FIELD_BYTES)
        return len;
    for (size_t i = len - 1; i > 0; i--)
        if (name[i] == '/' && len - i - 1 <= NAME_FIELD_BYTES && i <= PREFIX_FIELD_BYTES)
            return i;
    return 0; /* no place: invalid */
}

bool cpm_tar_name_valid(const char *name)
{
    size_t len = name ? strnlen(name, CPM_TAR_NAME_BYTES_MAX + 1) : 0;
    return len > 0 && len <= CPM_TAR_NAME_BYTES_MAX && parts_valid(name, len) &&
           split_point(name, len) > 0;
}

/* Writes value as width-1 zero-padded octal digits and a NUL. */
static void put_octal(uint8_t *field, size_t width, uint64_t value)
{
    for (size_t i = width - 1; i-- > 0;) {
        field[i] = (uint8_t)('0' + (value & 7));
        value >>= 3;
    }
    field[width - 1] = '\0';
}

static unsigned checksum(const uint8_t block[CPM_TAR_BLOCK_BYTES])
{
    unsigned sum = 0;
    for (size_t i = 0; i < CPM_TAR_BLOCK_BYTES; i++)
        sum += i >= AT_CHECKSUM && i < AT_CHECKSUM + 8 ? ' ' : block[i];
    return sum;
}

cpm_err cpm_tar_header_encode(const struct cpm_tar_entry *e, uint8_t block[CPM_TAR_BLOCK_BYTES])
{
    size_t len = strnlen(e->name, sizeof(e->name));
    if (!cpm_tar_name_valid(e->name) || e->size > (uint64_t)CPM_TAR_FILE_BYTES_MAX)
        return CPM_ERR_VALIDATION;
    memset(block, 0, CPM_TAR_BLOCK_BYTES);
    size_t split = split_point(e->name, len);
    if (split == len) {
        memcpy(block + AT_NAME, e->name, len);
    } else {
        memcpy(block + AT_PREFIX, e->name, split);
        memcpy(block + AT_NAME, e->name + split + 1, len - split - 1);
    }
    put_octal(block + AT_MODE, 8, 0644);
    put_octal(block + AT_UID, 8, 0);
    put_octal(block + AT_GID, 8, 0);
    put_octal(block + AT_SIZE, 12, e->size);
    put_octal(block + AT_MTIME, 12, e->mtime_s > 0 ? (uint64_t)e->mtime_s : 0);
    block[AT_TYPE] = '0';
    memcpy(block + AT_MAGIC, "ustar", 6); /* with its NUL */
    memcpy(block + AT_VERSION, "00", 2);
    put_octal(block + AT_CHECKSUM, 7, checksum(block));
    block[AT_CHECKSUM + 7] = ' ';
    return CPM_OK;
}

/*
 * Reads an octal field: optional leading spaces, at least one digit, then
 * NUL or space to the end. Base-256 (GNU's large numbers) is refused.
 */
static bool get_octal(const uint8_t *field, size_t width, uint64_t *out)
{
    size_t i = 0;
    uint64_t value = 0;
    while (i < width && field[i] == ' ')
        i++;
    size_t digits = 0;
    for (; i < width && field[i] >= '0' && field[i] <= '7'; i++, digits++) {
        if (value >> 60)
            return false;
        value = value << 3 | (uint64_t)(field[i] - '0');
    }
    for (; i < width; i++)
        if (field[i] != '\0' && field[i] != ' ')
            return false;
    *out = value;
    return digits > 0;
}

static const char *type_name(uint8_t type)
{
    switch (type) {
    case '1':
        return "a hard link";
    case '2':
        return "a symbolic link";
    case '3':
    case '4':
        return "a device";
    case '6':
        return "a FIFO";
    case 'x':
    case 'g':
        return "a pax extended header";
    case 'L':
    case 'K':
        return "a GNU long-name header";
    default:
        return "an unknown kind of entry";
    }
}

/* Joins prefix and name fields into e->name; false when the result is not a valid name. */
static bool decode_name(const uint8_t block[CPM_TAR_BLOCK_BYTES], bool posix, bool directory,
                        struct cpm_tar_entry *e)
{
    size_t name_len = strnlen((const char *)block + AT_NAME, NAME_FIELD_BYTES);
    size_t prefix_len = posix ? strnlen((const char *)block + AT_PREFIX, PREFIX_FIELD_BYTES) : 0;
    size_t at = 0;
    if (prefix_len > 0) {
        memcpy(e->name, block + AT_PREFIX, prefix_len);
        e->name[prefix_len] = '/';
        at = prefix_len + 1;
    }
    memcpy(e->name + at, block + AT_NAME, name_len);
    at += name_len;
    if (directory && at > 0 && e->name[at - 1] == '/')
        at--;
    e->name[at] = '\0';
    return at > 0 && parts_valid(e->name, at);
}

cpm_err cpm_tar_header_decode(const uint8_t block[CPM_TAR_BLOCK_BYTES], struct cpm_tar_entry *e,
                              struct cpm_detail *detail)
{
    memset(e, 0, sizeof(*e));
    bool posix = memcmp(block + AT_MAGIC,
                        "ustar\0"
                        "00",
                        8) == 0;
    bool gnu = memcmp(block + AT_MAGIC, "ustar  \0", 8) == 0;
    uint64_t sum = 0, size = 0, mtime = 0;
    uint8_t type = block[AT_TYPE];
    const char *why = NULL;
    if (!posix && !gnu)
        why = "is not a ustar header (the file is not a tar archive, or is damaged)";
    else if (!get_octal(block + AT_CHECKSUM, 8, &sum) || sum != checksum(block))
        why = "has a wrong header checksum (the archive is damaged)";
    else if (type != '0' && type != '\0' && type != '5') {
        cpm_detail_add(detail, "", "is %s: evidence packs hold regular files only",
                       type_name(type));
        return CPM_ERR_VALIDATION;
    } else if (!get_octal(block + AT_SIZE, 12, &size) || size > (uint64_t)CPM_TAR_FILE_BYTES_MAX ||
               (type == '5' && size != 0))
        why = "has a malformed size";
    else if (!get_octal(block + AT_MTIME, 12, &mtime))
        why = "has a malformed modification time";
    else if (!decode_name(block, posix, type == '5', e))
        why = "has a name that is not a plain relative path of [A-Za-z0-9._-] parts";
    if (why != NULL) {
        cpm_detail_add(detail, "", "%s", why);
        return CPM_ERR_VALIDATION;
    }
    e->size = size;
    e->mtime_s = (int64_t)mtime;
    e->directory = type == '5';
    return CPM_OK;
}

bool cpm_tar_block_is_zero(const uint8_t block[CPM_TAR_BLOCK_BYTES])
{
    return memcmp(block, zero_block, CPM_TAR_BLOCK_BYTES) == 0;
}

/* ---- writing ---- */

static cpm_err put(struct cpm_tar_writer *w, const void *data, size_t len)
{
    if (w->err == CPM_OK && len > 0 && fwrite(data, 1, len, w->out) != len)
        w->err = CPM_ERR_IO;
    return w->err;
}

void cpm_tar_writer_init(struct cpm_tar_writer *w, FILE *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

cpm_err cpm_tar_file_begin(struct cpm_tar_writer *w, const char *name, int64_t mtime_s)
{
    CPM_ASSERT(!w->open);
    if (w->err != CPM_OK)
        return w->err;
    if (!cpm_tar_name_valid(name))
        return CPM_ERR_VALIDATION;
    memset(&w->at, 0, sizeof(w->at));
    cpm_strlcpy(w->at.name, name, sizeof(w->at.name));
    w->at.mtime_s = mtime_s;
    w->header_offset = ftello(w->out);
    if (w->header_offset < 0)
        return w->err = CPM_ERR_IO; /* not seekable */
    w->open = true;
    return put(w, zero_block, sizeof(zero_block)); /* the header's place */
}

cpm_err cpm_tar_file_write(struct cpm_tar_writer *w, const void *data, size_t len)
{
    CPM_ASSERT(w->open);
    if (w->err == CPM_OK && len > (uint64_t)CPM_TAR_FILE_BYTES_MAX - w->at.size)
        w->err = CPM_ERR_TOO_LARGE;
    if (put(w, data, len) == CPM_OK)
        w->at.size += len;
    return w->err;
}

cpm_err cpm_tar_file_end(struct cpm_tar_writer *w)
{
    CPM_ASSERT(w->open);
    w->open = false;
    uint8_t header[CPM_TAR_BLOCK_BYTES];
    size_t tail = (size_t)(w->at.size % CPM_TAR_BLOCK_BYTES);
    if (tail != 0)
        put(w, zero_block, CPM_TAR_BLOCK_BYTES - tail);
    if (w->err == CPM_OK && cpm_tar_header_encode(&w->at, header) != CPM_OK)
        w->err = CPM_ERR_INTERNAL; /* name and size were checked on the way */
    if (w->err == CPM_OK && fseeko(w->out, w->header_offset, SEEK_SET) != 0)
        w->err = CPM_ERR_IO;
    put(w, header, sizeof(header));
    if (w->err == CPM_OK && fseeko(w->out, 0, SEEK_END) != 0)
        w->err = CPM_ERR_IO;
    return w->err;
}

cpm_err cpm_tar_writer_finish(struct cpm_tar_writer *w)
{
    CPM_ASSERT(!w->open);
    put(w, zero_block, sizeof(zero_block));
    put(w, zero_block, sizeof(zero_block));
    if (w->err == CPM_OK && fflush(w->out) != 0)
        w->err = CPM_ERR_IO;
    return w->err;
}

/* ---- reading ---- */

void cpm_tar_reader_init(struct cpm_tar_reader *r, FILE *in)
{
    memset(r, 0, sizeof(*r));
    r->in = in;
}

/* Reads exactly len bytes; *short_read when the stream ended first. */
static cpm_err take(struct cpm_tar_reader *r, void *buf, size_t len, bool *short_read)
{
    size_t got = fread(buf, 1, len, r->in);
    r->offset += got;
    *short_read = got < len;
    return got < len && ferror(r->in) ? CPM_ERR_IO : CPM_OK;
}

/* Skips n bytes of the stream; *short_read when it ended first. */
static cpm_err skip(struct cpm_tar_reader *r, uint64_t n, bool *short_read)
{
    static _Thread_local uint8_t sink[COPY_BLOCK_BYTES];
    *short_read = false;
    while (n > 0 && !*short_read) {
        size_t step = n < sizeof(sink) ? (size_t)n : sizeof(sink);
        cpm_err err = take(r, sink, step, short_read);
        if (err != CPM_OK)
            return err;
        n -= step;
    }
    return CPM_OK;
}

static cpm_err truncated(struct cpm_detail *detail, const char *where)
{
    cpm_detail_add(detail, "", "the archive ends %s (it is truncated)", where);
    return CPM_ERR_VALIDATION;
}

/* After a zero block: a second one ends the archive (the stream may also just end). */
static cpm_err read_end(struct cpm_tar_reader *r, struct cpm_detail *detail)
{
    uint8_t block[CPM_TAR_BLOCK_BYTES];
    bool short_read;
    cpm_err err = take(r, block, sizeof(block), &short_read);
    if (err != CPM_OK)
        return err;
    if (!short_read && !cpm_tar_block_is_zero(block)) {
        cpm_detail_add(detail, "", "has an empty block in the middle of the archive");
        return CPM_ERR_VALIDATION;
    }
    r->ended = true;
    return CPM_ERR_NOT_FOUND;
}

cpm_err cpm_tar_reader_next(struct cpm_tar_reader *r, struct cpm_tar_entry *e,
                            uint64_t *data_offset, struct cpm_detail *detail)
{
    if (r->ended)
        return CPM_ERR_NOT_FOUND;
    bool short_read;
    cpm_err err = skip(r, r->left + r->padding, &short_read);
    if (err == CPM_OK && short_read)
        err = truncated(detail, "in the middle of a file");
    uint8_t block[CPM_TAR_BLOCK_BYTES];
    if (err == CPM_OK)
        err = take(r, block, sizeof(block), &short_read);
    if (err != CPM_OK)
        return err;
    r->left = r->padding = 0;
    if (short_read)
        return truncated(detail, "without its end-of-archive blocks");
    if (cpm_tar_block_is_zero(block))
        return read_end(r, detail);
    err = cpm_tar_header_decode(block, e, detail);
    if (err != CPM_OK)
        return err;
    *data_offset = r->offset;
    r->left = e->size;
    r->padding = (CPM_TAR_BLOCK_BYTES - e->size % CPM_TAR_BLOCK_BYTES) % CPM_TAR_BLOCK_BYTES;
    return CPM_OK;
}

cpm_err cpm_tar_reader_read(struct cpm_tar_reader *r, void *buf, size_t cap, size_t *got)
{
    size_t want = r->left < cap ? (size_t)r->left : cap;
    bool short_read = false;
    cpm_err err = want > 0 ? take(r, buf, want, &short_read) : CPM_OK;
    if (err != CPM_OK)
        return err;
    if (short_read)
        return CPM_ERR_VALIDATION; /* the stream ended inside the entry */
    r->left -= want;
    *got = want;
    return CPM_OK;
}

cpm_err cpm_tar_reader_reopen(struct cpm_tar_reader *r, uint64_t data_offset, uint64_t size)
{
    if (data_offset > (uint64_t)INT64_MAX || fseeko(r->in, (off_t)data_offset, SEEK_SET) != 0)
        return CPM_ERR_IO;
    r->offset = data_offset;
    r->left = size;
    r->padding = 0;
    r->ended = true;
    return CPM_OK;
}
