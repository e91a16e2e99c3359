/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pack.c — the evidence pack's names and its manifest check (pack.h).
 */
#include "core/common.h"

#include <sodium.h>

#include "core/alloc.h"
#include "ledger/pack.h"

#define TEXT_SUFFIX ".txt"

bool cpm_pack_notice_path(char *out, size_t cap, const char *notice, int64_t version,
                          const char *locale)
{
    int n = locale != NULL
                ? snprintf(out, cap, CPM_PACK_NOTICES_DIR "/%s/v%lld/%s" TEXT_SUFFIX, notice,
                           (long long)version, locale)
                : snprintf(out, cap, CPM_PACK_NOTICES_DIR "/%s/v%lld/" CPM_PACK_NOTICE_DOC, notice,
                           (long long)version);
    return n > 0 && (size_t)n < cap && version > 0 && strchr(notice, '/') == NULL &&
           (locale == NULL || strchr(locale, '/') == NULL) && cpm_tar_name_valid(out);
}

/* Copies s[0..len) into out (cap bytes with the NUL); false when empty or too long. */
static bool copy_part(char *out, size_t cap, const char *s, size_t len)
{
    if (len == 0 || len >= cap)
        return false;
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

bool cpm_pack_notice_path_parse(const char *name, char notice[CPM_ID_BYTES_MAX + 1],
                                int64_t *version, char locale[CPM_PACK_LOCALE_BYTES_MAX])
{
    const char *dir = CPM_PACK_NOTICES_DIR "/";
    if (strncmp(name, dir, strlen(dir)) != 0)
        return false;
    const char *id = name + strlen(dir);
    const char *slash = strchr(id, '/');
    if (slash == NULL || !copy_part(notice, CPM_ID_BYTES_MAX + 1, id, (size_t)(slash - id)))
        return false;
    const char *v = slash + 1;
    const char *file = strchr(v, '/');
    char number[24];
    if (file == NULL || v[0] != 'v' ||
        !copy_part(number, sizeof(number), v + 1, (size_t)(file - v - 1)) ||
        !cpm_parse_int64(number, 1, INT64_MAX, version) || number[0] == '0' || number[0] == '+')
        return false;
    file++;
    size_t len = strlen(file), suffix = strlen(TEXT_SUFFIX);
    if (strchr(file, '/') != NULL)
        return false;
    if (strcmp(file, CPM_PACK_NOTICE_DOC) == 0) {
        locale[0] = '\0';
        return true;
    }
    return len > suffix && strcmp(file + len - suffix, TEXT_SUFFIX) == 0 &&
           copy_part(locale, CPM_PACK_LOCALE_BYTES_MAX, file, len - suffix);
}

void cpm_pack_hex(const uint8_t sha256[32], char out[65])
{
    sodium_bin2hex(out, 65, sha256, 32);
}

/* The index of the file named name, or count. */
static size_t find_file(const struct cpm_pack_file *files, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(files[i].name, name) == 0)
            return i;
    return count;
}

/* True when manifest entry i (before it in the list) names the same file as an earlier one. */
static bool listed_before(const json_t *list, size_t i, const char *name)
{
    for (size_t j = 0; j < i; j++) {
        const char *other = json_string_value(json_object_get(json_array_get(list, j), "name"));
        if (other != NULL && strcmp(other, name) == 0)
            return true;
    }
    return false;
}

/* Checks one manifest entry against the archive; counts and reports its problems. */
static int check_listed(const json_t *list, size_t i, const struct cpm_pack_file *files,
                        size_t count, bool *seen, struct cpm_detail *detail)
{
    const json_t *item = json_array_get(list, i);
    const char *name = json_string_value(json_object_get(item, "name"));
    const char *sha = json_string_value(json_object_get(item, "sha256"));
    const json_t *bytes = json_object_get(item, "bytes");
    if (name == NULL || sha == NULL || !json_is_integer(bytes)) {
        cpm_detail_add(detail, CPM_PACK_MANIFEST, "files[%zu] is not {name, bytes, sha256}", i);
        return 1;
    }
    if (strcmp(name, CPM_PACK_MANIFEST) == 0) {
        cpm_detail_add(detail, CPM_PACK_MANIFEST, "lists itself (it cannot hold its own hash)");
        return 1;
    }
    if (listed_before(list, i, name)) {
        cpm_detail_add(detail, name, "is listed twice in the manifest");
        return 1;
    }
    size_t at = find_file(files, count, name);
    if (at == count) {
        cpm_detail_add(detail, name, "is listed in the manifest but missing from the archive");
        return 1;
    }
    seen[at] = true;
    char hex[65];
    cpm_pack_hex(files[at].sha256, hex);
    if (json_integer_value(bytes) < 0 || (uint64_t)json_integer_value(bytes) != files[at].bytes ||
        strcmp(hex, sha) != 0) {
        cpm_detail_add(detail, name,
                       "its SHA-256 differs from the manifest's: the file was changed "
                       "(%llu bytes, sha256 %s)",
                       (unsigned long long)files[at].bytes, hex);
        return 1;
    }
    return 0;
}

int cpm_pack_manifest_check(const json_t *manifest, const struct cpm_pack_file *files, size_t count,
                            struct cpm_detail *detail)
{
    const json_t *list = json_object_get(manifest, "files");
    if (!json_is_array(list)) {
        cpm_detail_add(detail, CPM_PACK_MANIFEST, "has no files list");
        return 1;
    }
    bool *seen = count > 0 ? cpm_calloc(count, sizeof(bool)) : NULL;
    if (count > 0 && seen == NULL) {
        cpm_detail_add(detail, CPM_PACK_MANIFEST, "cannot be checked: out of memory");
        return 1;
    }
    int problems = 0;
    for (size_t i = 0; i < json_array_size(list); i++)
        problems += check_listed(list, i, files, count, seen, detail);
    for (size_t i = 0; i < count; i++) {
        if (seen[i] || strcmp(files[i].name, CPM_PACK_MANIFEST) == 0)
            continue;
        cpm_detail_add(detail, files[i].name, "is in the archive but not listed in the manifest");
        problems++;
    }
    cpm_free(seen);
    return problems;
}
