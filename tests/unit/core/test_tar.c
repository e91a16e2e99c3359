/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tar.c — src/core/tar.c: names (safe, split into prefix and name),
 * headers encoded and decoded (checksums, octal fields, the GNU magic, what
 * is refused: links, pax headers, bad checksums), and archives written and
 * read back through real streams: sizes around the 512-byte block, the
 * header written last in its kept place, truncation and a missing end
 * found, a file read again, and a non-seekable stream refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/common.h"

#include <unistd.h>

#include "core/tar.h"

static const char long_name[] =
    "notices/a-notice-id-of-sixty-four-characters-0123456789abcdefghijklmn/v12345/"
    "zh-Hant-HK-with-a-long-locale-tag-0123456789.txt";

static void test_names(void **state)
{
    CPM_UNUSED(state);
    assert_true(cpm_tar_name_valid("manifest.json"));
    assert_true(cpm_tar_name_valid("notices/privacy/v1/zh-Hans.txt"));
    assert_true(strlen(long_name) > 100);
    assert_true(cpm_tar_name_valid(long_name)); /* splits at a '/' */
    const char *bad[] = {"",     "/etc/passwd", "a/../b", "..",   ".",       "./a",
                         "a//b", "a/",          "a b",    "a\\b", "ünïcode", "a:b"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad); i++)
        assert_false(cpm_tar_name_valid(bad[i]));
    char flat[120];
    memset(flat, 'a', sizeof(flat) - 1);
    flat[sizeof(flat) - 1] = '\0';
    assert_false(cpm_tar_name_valid(flat)); /* over 100 bytes with no '/' to split at */
}

static void test_header_round_trip(void **state)
{
    CPM_UNUSED(state);
    struct cpm_tar_entry e = {.size = 12345, .mtime_s = 1764400000}, back;
    struct cpm_detail d;
    uint8_t block[CPM_TAR_BLOCK_BYTES];
    cpm_strlcpy(e.name, long_name, sizeof(e.name));
    assert_int_equal(cpm_tar_header_encode(&e, block), CPM_OK);
    assert_memory_equal(block + 257,
                        "ustar\0"
                        "00",
                        8);
    assert_int_equal(block[156], '0');
    assert_memory_equal(block + 124, "00000030071", 12); /* 12345 in octal, NUL-terminated */
    cpm_detail_init(&d);
    assert_int_equal(cpm_tar_header_decode(block, &back, &d), CPM_OK);
    assert_string_equal(back.name, long_name);
    assert_int_equal(back.size, 12345);
    assert_int_equal(back.mtime_s, 1764400000);
    assert_false(back.directory);

    e.size = (uint64_t)CPM_TAR_FILE_BYTES_MAX + 1;
    assert_int_equal(cpm_tar_header_encode(&e, block), CPM_ERR_VALIDATION);
    cpm_strlcpy(e.name, "../x", sizeof(e.name));
    e.size = 1;
    assert_int_equal(cpm_tar_header_encode(&e, block), CPM_ERR_VALIDATION);
}

/* Re-computes the checksum after a test changed the header. */
static void reseal(uint8_t block[CPM_TAR_BLOCK_BYTES])
{
    unsigned sum = 0;
    memset(block + 148, ' ', 8);
    for (size_t i = 0; i < CPM_TAR_BLOCK_BYTES; i++)
        sum += block[i];
    snprintf((char *)block + 148, 8, "%06o", sum);
}

static void expect_refused(const uint8_t block[CPM_TAR_BLOCK_BYTES], const char *message_part)
{
    struct cpm_tar_entry e;
    struct cpm_detail d;
    cpm_detail_init(&d);
    assert_int_equal(cpm_tar_header_decode(block, &e, &d), CPM_ERR_VALIDATION);
    assert_int_equal(d.count, 1);
    if (strstr(d.faults[0].message, message_part) == NULL)
        fail_msg("'%s' does not say '%s'", d.faults[0].message, message_part);
}

static void test_header_refusals(void **state)
{
    CPM_UNUSED(state);
    struct cpm_tar_entry e = {.size = 3};
    uint8_t good[CPM_TAR_BLOCK_BYTES], block[CPM_TAR_BLOCK_BYTES];
    cpm_strlcpy(e.name, "events.ndjson", sizeof(e.name));
    assert_int_equal(cpm_tar_header_encode(&e, good), CPM_OK);

    memcpy(block, good, sizeof(block));
    block[0] ^= 1; /* one bit of the name, checksum left alone */
    expect_refused(block, "checksum");

    memcpy(block, good, sizeof(block));
    memcpy(block + 257, "nope\0\0", 6);
    expect_refused(block, "not a ustar header");

    const char types[] = {'1', '2', 'x', 'g', 'L', '3'};
    const char *said[] = {"hard link", "symbolic link", "pax", "pax", "GNU long-name", "device"};
    for (size_t i = 0; i < sizeof(types); i++) {
        memcpy(block, good, sizeof(block));
        block[156] = (uint8_t)types[i];
        reseal(block);
        expect_refused(block, said[i]);
    }

    memcpy(block, good, sizeof(block));
    memcpy(block + 124, "0000000001x", 12);
    reseal(block);
    expect_refused(block, "size");

    memcpy(block, good, sizeof(block));
    block[124] = 0x80; /* GNU base-256 */
    reseal(block);
    expect_refused(block, "size");

    memcpy(block, good, sizeof(block));
    memcpy(block, "a/../b\0", 7);
    reseal(block);
    expect_refused(block, "name");
}

static void test_header_gnu_and_directory(void **state)
{
    CPM_UNUSED(state);
    struct cpm_tar_entry e = {0}, back;
    struct cpm_detail d;
    uint8_t block[CPM_TAR_BLOCK_BYTES];
    cpm_strlcpy(e.name, "notices", sizeof(e.name));
    assert_int_equal(cpm_tar_header_encode(&e, block), CPM_OK);
    memcpy(block, "notices/\0", 9);
    block[156] = '5';
    memcpy(block + 257, "ustar  \0", 8); /* GNU tar's own magic */
    reseal(block);
    cpm_detail_init(&d);
    assert_int_equal(cpm_tar_header_decode(block, &back, &d), CPM_OK);
    assert_true(back.directory);
    assert_string_equal(back.name, "notices");
}

static void write_file(struct cpm_tar_writer *w, const char *name, size_t bytes, char fill)
{
    char chunk[700];
    memset(chunk, fill, sizeof(chunk));
    assert_int_equal(cpm_tar_file_begin(w, name, 1764400000), CPM_OK);
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < sizeof(chunk) ? bytes - done : sizeof(chunk);
        assert_int_equal(cpm_tar_file_write(w, chunk, n), CPM_OK);
        done += n;
    }
    assert_int_equal(cpm_tar_file_end(w), CPM_OK);
}

static const size_t sizes[] = {0, 1, 511, 512, 513, 5000};

/* An archive of files f0..f5 of the sizes above, each filled with its own letter. */
static FILE *sample_archive(void)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    struct cpm_tar_writer w;
    cpm_tar_writer_init(&w, f);
    for (size_t i = 0; i < CPM_ARRAY_LEN(sizes); i++) {
        char name[16];
        snprintf(name, sizeof(name), "dir/f%zu", i);
        write_file(&w, name, sizes[i], (char)('a' + i));
    }
    assert_int_equal(cpm_tar_writer_finish(&w), CPM_OK);
    rewind(f);
    return f;
}

static void test_write_read(void **state)
{
    CPM_UNUSED(state);
    FILE *f = sample_archive();
    struct cpm_tar_reader r;
    struct cpm_tar_entry e;
    struct cpm_detail d;
    uint64_t offset, offsets[CPM_ARRAY_LEN(sizes)];
    char buf[8192];
    size_t got;
    cpm_detail_init(&d);
    cpm_tar_reader_init(&r, f);
    for (size_t i = 0; i < CPM_ARRAY_LEN(sizes); i++) {
        assert_int_equal(cpm_tar_reader_next(&r, &e, &offset, &d), CPM_OK);
        assert_int_equal(e.size, sizes[i]);
        assert_int_equal(offset % CPM_TAR_BLOCK_BYTES, 0);
        offsets[i] = offset;
        if (i % 2 == 0) /* odd ones are skipped unread */
            continue;
        assert_int_equal(cpm_tar_reader_read(&r, buf, sizeof(buf), &got), CPM_OK);
        assert_int_equal(got, sizes[i]);
        for (size_t j = 0; j < got; j++)
            assert_int_equal(buf[j], 'a' + (int)i);
        assert_int_equal(cpm_tar_reader_read(&r, buf, sizeof(buf), &got), CPM_OK);
        assert_int_equal(got, 0);
    }
    assert_int_equal(cpm_tar_reader_next(&r, &e, &offset, &d), CPM_ERR_NOT_FOUND);
    assert_int_equal(cpm_tar_reader_next(&r, &e, &offset, &d), CPM_ERR_NOT_FOUND);
    assert_int_equal(d.count, 0);

    /* a file read again, by the offset the reader gave */
    assert_int_equal(cpm_tar_reader_reopen(&r, offsets[5], sizes[5]), CPM_OK);
    assert_int_equal(cpm_tar_reader_read(&r, buf, 100, &got), CPM_OK);
    assert_int_equal(got, 100);
    assert_int_equal(buf[99], 'f');
    fclose(f);
}

/* The first n bytes of the sample archive, as a stream. */
static FILE *cut_archive(long n)
{
    FILE *whole = sample_archive(), *cut = tmpfile();
    char byte;
    for (long i = 0; i < n && fread(&byte, 1, 1, whole) == 1; i++)
        fputc(byte, cut);
    fclose(whole);
    rewind(cut);
    return cut;
}

/* Reads every entry and its content; the first failure. */
static cpm_err read_all(FILE *f, struct cpm_detail *d)
{
    struct cpm_tar_reader r;
    struct cpm_tar_entry e;
    uint64_t offset;
    char buf[4096];
    size_t got;
    cpm_tar_reader_init(&r, f);
    for (;;) {
        cpm_err err = cpm_tar_reader_next(&r, &e, &offset, d);
        if (err != CPM_OK)
            return err;
        do
            err = cpm_tar_reader_read(&r, buf, sizeof(buf), &got);
        while (err == CPM_OK && got > 0);
        if (err != CPM_OK)
            return err;
    }
}

static void test_truncated(void **state)
{
    CPM_UNUSED(state);
    struct cpm_detail d;
    /* inside the last file's content */
    FILE *f = cut_archive(512 * 11 + 100);
    cpm_detail_init(&d);
    assert_int_equal(read_all(f, &d), CPM_ERR_VALIDATION);
    fclose(f);
    /* every file whole, but no end-of-archive blocks */
    f = cut_archive(512 * 21);
    cpm_detail_init(&d);
    assert_int_equal(read_all(f, &d), CPM_ERR_VALIDATION);
    assert_non_null(strstr(d.faults[0].message, "end-of-archive"));
    fclose(f);
    /* one end block is enough when the stream ends there */
    f = cut_archive(512 * 22);
    cpm_detail_init(&d);
    assert_int_equal(read_all(f, &d), CPM_ERR_NOT_FOUND);
    fclose(f);
}

static void test_writer_refusals(void **state)
{
    CPM_UNUSED(state);
    FILE *f = tmpfile();
    struct cpm_tar_writer w;
    cpm_tar_writer_init(&w, f);
    assert_int_equal(cpm_tar_file_begin(&w, "../escape", 0), CPM_ERR_VALIDATION);
    write_file(&w, "ok.txt", 3, 'x');
    assert_int_equal(cpm_tar_writer_finish(&w), CPM_OK);
    fclose(f);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    FILE *pipe_out = fdopen(fds[1], "wb");
    cpm_tar_writer_init(&w, pipe_out);
    assert_int_equal(cpm_tar_file_begin(&w, "a.txt", 0), CPM_ERR_IO); /* not seekable */
    assert_int_equal(cpm_tar_writer_finish(&w), CPM_ERR_IO);          /* and it stays failed */
    fclose(pipe_out);
    close(fds[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),           cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_header_refusals), cmocka_unit_test(test_header_gnu_and_directory),
        cmocka_unit_test(test_write_read),      cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_writer_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
