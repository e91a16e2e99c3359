/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tar.h — POSIX ustar archives, written and read as streams in bounded
 * memory. Evidence packs are ustar files (docs/EVIDENCE-PACKS.md): every
 * tar, every zip tool and every language's standard library opens them.
 *
 * Only what packs need, and only what is safe to read from a stranger:
 * regular files (and, when reading, directory entries a re-archiving tool
 * may add), names of at most 256 bytes from [A-Za-z0-9._/-] with no
 * absolute path, no `.` or `..` part and no empty part, sizes up to 8 GiB.
 * Links, devices, pax and GNU extension headers are refused.
 *
 * Why this file does I/O although core/ does not: the writer and reader
 * work on a stdio stream the caller opened (no paths, sockets or
 * databases), so cpmd, the CLI and the unit tests share one implementation.
 * The writer needs a seekable stream: a file's header goes before its
 * content but its size is known only at its end, so the header is written
 * last, in the place kept for it.
 *
 * Thread safety: a writer or reader belongs to one thread.
 */
#ifndef CPM_CORE_TAR_H
#define CPM_CORE_TAR_H

#include <sys/types.h>

#include "core/common.h"
#include "core/detail.h"

#define CPM_TAR_BLOCK_BYTES    512
#define CPM_TAR_NAME_BYTES_MAX 256 /* prefix (155) '/' name (100) */
/* 11 octal digits: the largest size a plain ustar header holds (8 GiB - 1) */
#define CPM_TAR_FILE_BYTES_MAX 077777777777LL

struct cpm_tar_entry {
    char name[CPM_TAR_NAME_BYTES_MAX + 1];
    uint64_t size;   /* bytes of content */
    int64_t mtime_s; /* seconds since the epoch */
    bool directory;  /* reading only: a directory entry (size 0), no content */
};

/*
 * True when name is one the writer writes and the reader accepts: 1–256
 * bytes of [A-Za-z0-9._-] parts joined by '/', no part empty, "." or "..",
 * and (longer than 100 bytes) a '/' where it splits into ustar's prefix
 * (≤ 155) and name (≤ 100).
 */
bool cpm_tar_name_valid(const char *name);

/*
 * Writes e's ustar header (regular file, mode 0644, owner 0) into block.
 * CPM_ERR_VALIDATION when the name is not valid or the size too large.
 */
cpm_err cpm_tar_header_encode(const struct cpm_tar_entry *e,
                              uint8_t block[CPM_TAR_BLOCK_BYTES]) CPM_MUST_CHECK;

/*
 * Reads a ustar header (POSIX "ustar\0" "00", or GNU tar's "ustar  \0"):
 * checksum, octal fields, type and name checked. CPM_ERR_VALIDATION with a
 * fault saying what is wrong (field "" — the caller knows which entry).
 */
cpm_err cpm_tar_header_decode(const uint8_t block[CPM_TAR_BLOCK_BYTES], struct cpm_tar_entry *e,
                              struct cpm_detail *detail) CPM_MUST_CHECK;

/* True when block is all zero bytes (an end-of-archive block). */
bool cpm_tar_block_is_zero(const uint8_t block[CPM_TAR_BLOCK_BYTES]);

/* ---- writing: begin a file, write its content in pieces, end it; finish the archive ---- */

struct cpm_tar_writer {
    FILE *out;               /* borrowed; seekable */
    struct cpm_tar_entry at; /* the file being written */
    off_t header_offset;     /* where its header goes */
    bool open;               /* a file is begun and not ended */
    cpm_err err;             /* the first failure; every later call returns it */
};

/* Starts an archive on out (borrowed, positioned at its start, seekable). */
void cpm_tar_writer_init(struct cpm_tar_writer *w, FILE *out);
/* Begins a file. CPM_ERR_VALIDATION on a bad name; CPM_ERR_IO. */
cpm_err cpm_tar_file_begin(struct cpm_tar_writer *w, const char *name,
                           int64_t mtime_s) CPM_MUST_CHECK;
/* Appends len bytes to the file begun. CPM_ERR_TOO_LARGE past CPM_TAR_FILE_BYTES_MAX; CPM_ERR_IO.
 */
cpm_err cpm_tar_file_write(struct cpm_tar_writer *w, const void *data, size_t len) CPM_MUST_CHECK;
/* Ends the file: pads it to a block and writes its header. CPM_ERR_IO. */
cpm_err cpm_tar_file_end(struct cpm_tar_writer *w) CPM_MUST_CHECK;
/* Writes the two zero blocks that end an archive and flushes. CPM_ERR_IO. */
cpm_err cpm_tar_writer_finish(struct cpm_tar_writer *w) CPM_MUST_CHECK;

/* ---- reading: entry after entry, each one's content in pieces ---- */

struct cpm_tar_reader {
    FILE *in;         /* borrowed */
    uint64_t offset;  /* bytes consumed from in */
    uint64_t left;    /* content of the current entry not read yet */
    uint64_t padding; /* zero bytes after it, to the next block */
    bool ended;       /* the end-of-archive blocks were read */
};

/* Starts reading the archive on in (borrowed, positioned at its start). */
void cpm_tar_reader_init(struct cpm_tar_reader *r, FILE *in);
/*
 * The next entry; what was not read of the current one is skipped. Its
 * content starts at *data_offset in the stream. CPM_ERR_NOT_FOUND after the
 * end-of-archive blocks; CPM_ERR_VALIDATION with a fault on a malformed or
 * truncated archive; CPM_ERR_IO.
 */
cpm_err cpm_tar_reader_next(struct cpm_tar_reader *r, struct cpm_tar_entry *e,
                            uint64_t *data_offset, struct cpm_detail *detail) CPM_MUST_CHECK;
/* Reads up to cap bytes of the current entry's content; *got is 0 at its end. CPM_ERR_IO. */
cpm_err cpm_tar_reader_read(struct cpm_tar_reader *r, void *buf, size_t cap,
                            size_t *got) CPM_MUST_CHECK;
/*
 * Makes the size bytes at data_offset (an entry's content, as _next told)
 * the current content, for reading a file again (a seekable stream only).
 * Reading on with _next afterwards is not supported. CPM_ERR_IO.
 */
cpm_err cpm_tar_reader_reopen(struct cpm_tar_reader *r, uint64_t data_offset,
                              uint64_t size) CPM_MUST_CHECK;

#endif /* CPM_CORE_TAR_H */
