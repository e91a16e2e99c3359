/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pack.c — src/ledger/pack.c: where a notice version's files go in an
 * evidence pack and how their names read back, and the manifest check:
 * an archive that agrees, and every way it can disagree (a file changed,
 * dropped, added, listed twice, the list malformed or listing itself).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>

#include "support/fixture.h"

#include "core/common.h"
#include "ledger/pack.h"

static void test_notice_paths(void **state)
{
    CPM_UNUSED(state);
    char name[CPM_TAR_NAME_BYTES_MAX + 1], notice[CPM_ID_BYTES_MAX + 1],
        locale[CPM_PACK_LOCALE_BYTES_MAX];
    int64_t version = 0;
    assert_true(cpm_pack_notice_path(name, sizeof(name), "privacy", 3, "zh-Hans"));
    assert_string_equal(name, "notices/privacy/v3/zh-Hans.txt");
    assert_true(cpm_pack_notice_path_parse(name, notice, &version, locale));
    assert_string_equal(notice, "privacy");
    assert_int_equal(version, 3);
    assert_string_equal(locale, "zh-Hans");

    assert_true(cpm_pack_notice_path(name, sizeof(name), "privacy.cn", 12, NULL));
    assert_string_equal(name, "notices/privacy.cn/v12/version.json");
    assert_true(cpm_pack_notice_path_parse(name, notice, &version, locale));
    assert_int_equal(version, 12);
    assert_string_equal(locale, "");

    assert_false(cpm_pack_notice_path(name, sizeof(name), "a/b", 1, "en"));
    assert_false(cpm_pack_notice_path(name, sizeof(name), "privacy", 1, "zh/Hans"));
    assert_false(cpm_pack_notice_path(name, sizeof(name), "privacy", 0, "en"));
    assert_false(cpm_pack_notice_path(name, 10, "privacy", 1, "en"));

    const char *others[] = {
        "notices/privacy/v1/en.json",  "notices/privacy/1/en.txt", "notices/privacy/v01/en.txt",
        "notices/privacy/v1/x/en.txt", "notices/privacy/v1/.txt",  "events.ndjson",
        "notices/privacy/v-1/en.txt",  "notices//v1/en.txt",       "notices/privacy/v1/version.js"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(others); i++)
        if (cpm_pack_notice_path_parse(others[i], notice, &version, locale))
            fail_msg("'%s' read as a notice file", others[i]);
}

static struct cpm_pack_file file(const char *name, const char *content)
{
    struct cpm_pack_file f = {.bytes = strlen(content)};
    cpm_strlcpy(f.name, name, sizeof(f.name));
    crypto_hash_sha256(f.sha256, (const unsigned char *)content, strlen(content));
    return f;
}

/* The manifest listing files[0..count) as they are. */
static json_t *manifest_of(const struct cpm_pack_file *files, size_t count)
{
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++) {
        char hex[65];
        cpm_pack_hex(files[i].sha256, hex);
        json_array_append_new(list, json_pack("{s:s, s:I, s:s}", "name", files[i].name, "bytes",
                                              (json_int_t)files[i].bytes, "sha256", hex));
    }
    return json_pack("{s:s, s:o}", "format", CPM_PACK_FORMAT, "files", list);
}

static void test_manifest_agrees(void **state)
{
    CPM_UNUSED(state);
    struct cpm_pack_file files[] = {file("checkpoint.txt", "note"), file("events.ndjson", "{}\n"),
                                    file("manifest.json", "itself, never listed")};
    json_t *m = manifest_of(files, 2);
    struct cpm_detail d;
    cpm_detail_init(&d);
    assert_int_equal(cpm_pack_manifest_check(m, files, 3, &d), 0);
    assert_int_equal(d.count, 0);
    json_decref(m);
}

static void test_manifest_disagrees(void **state)
{
    CPM_UNUSED(state);
    struct cpm_pack_file listed[] = {file("checkpoint.txt", "note"), file("events.ndjson", "{}\n"),
                                     file("notices/p/v1/en.txt", "text")};
    json_t *m = manifest_of(listed, 3);
    /* in the archive: events changed, the notice dropped, an extra file added */
    struct cpm_pack_file found[] = {file("checkpoint.txt", "note"),
                                    file("events.ndjson", "{}\n{}\n"), file("extra.txt", "?")};
    struct cpm_detail d;
    cpm_detail_init(&d);
    assert_int_equal(cpm_pack_manifest_check(m, found, 3, &d), 3);
    expect(&d, "events.ndjson", "its SHA-256 differs from the manifest's");
    expect(&d, "notices/p/v1/en.txt", "is listed in the manifest but missing from the archive");
    expect(&d, "extra.txt", "is in the archive but not listed in the manifest");
    json_decref(m);

    /* the same content under the same name, but a different size listed */
    m = manifest_of(listed, 1);
    json_object_set_new(json_array_get(json_object_get(m, "files"), 0), "bytes", json_integer(5));
    cpm_detail_init(&d);
    assert_int_equal(cpm_pack_manifest_check(m, listed, 1, &d), 1);
    expect(&d, "checkpoint.txt", "its SHA-256 differs");
    json_decref(m);
}

static void test_manifest_malformed(void **state)
{
    CPM_UNUSED(state);
    struct cpm_pack_file files[] = {file("checkpoint.txt", "note")};
    struct cpm_detail d;
    json_t *m = J("{'files': 'all of them'}");
    cpm_detail_init(&d);
    assert_int_equal(cpm_pack_manifest_check(m, files, 1, &d), 1);
    expect(&d, "manifest.json", "has no files list");
    json_decref(m);

    m = manifest_of(files, 1);
    json_t *list = json_object_get(m, "files");
    json_array_append(list, json_array_get(list, 0)); /* twice */
    json_array_append_new(list, json_pack("{s:s}", "name", "x"));
    json_array_append_new(
        list, json_pack("{s:s, s:i, s:s}", "name", "manifest.json", "bytes", 1, "sha256", "00"));
    cpm_detail_init(&d);
    assert_int_equal(cpm_pack_manifest_check(m, files, 1, &d), 3);
    expect(&d, "checkpoint.txt", "is listed twice");
    expect(&d, "manifest.json", "files[2] is not {name, bytes, sha256}");
    expect(&d, "manifest.json", "lists itself");
    json_decref(m);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notice_paths),
        cmocka_unit_test(test_manifest_agrees),
        cmocka_unit_test(test_manifest_disagrees),
        cmocka_unit_test(test_manifest_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
