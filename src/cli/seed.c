/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seed.c — `cpm seed FILE`: loads configuration from a JSON file
 *
 *   {"properties": [...], "purposes": [...],
 *    "notices": [{..., "versions": [{content, purposes, summary}, ...]}],
 *    "policies": [...]}
 *
 * in two passes. The first validates every document against the store and
 * the file together and writes nothing; only a file with no fault reaches
 * the second, which writes through the same path as the API. Documents that
 * already exist are kept as they are (so seeding twice is harmless), and a
 * notice's versions are published only past those it already has.
 */
#include "core/common.h"

#include "cli/cli.h"
#include "store/config_writer.h"

#define SEED_FILE_BYTES_MAX (16 * 1024 * 1024)

static const struct {
    const char *key;
    enum cpm_doc_kind kind;
} sections[] = {
    {"properties", CPM_DOC_PROPERTY}, {"purposes", CPM_DOC_PURPOSE}, {"notices", CPM_DOC_NOTICE},
    {"policies", CPM_DOC_POLICY},     {"topics", CPM_DOC_TOPIC},     {"channels", CPM_DOC_CHANNEL},
};

struct seed {
    struct cpm_store *store;
    json_t *file;
    bool writing; /* second pass */
    int created, kept, published;
};

/* Finds kind/id among the file's documents, else in the store. */
static const json_t *lookup_file_then_store(void *ctx, enum cpm_doc_kind kind, const char *id,
                                            bool *failed)
{
    struct seed *seed = ctx;
    json_t *list = json_object_get(seed->file, sections[kind].key);
    size_t i;
    json_t *doc;
    json_array_foreach(list, i, doc)
    {
        const char *doc_id = json_string_value(json_object_get(doc, "id"));
        if (doc_id && strcmp(doc_id, id) == 0)
            return doc;
    }
    json_t *stored = NULL;
    cpm_err err = cpm_config_read(seed->store, kind, id, &stored, NULL);
    if (err != CPM_OK && err != CPM_ERR_NOT_FOUND)
        *failed = true;
    /* Kept alive by the file object until the seed ends. */
    if (stored != NULL)
        json_object_set_new(json_object_get(seed->file, "_stored"), id, stored);
    return stored;
}

/* Prefixes the faults added since `from` with "section[i]." and reports them. */
static void report(struct cpm_detail *d, const char *section, size_t index, cpm_err err)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "%s[%zu]", section, index);
    for (int f = 0; f < d->count; f++) {
        char field[CPM_FIELD_PATH_BYTES_MAX + 80];
        snprintf(field, sizeof(field), "%s%s%s", prefix, d->faults[f].field[0] ? "." : "",
                 d->faults[f].field);
        cpm_strlcpy(d->faults[f].field, field, sizeof(d->faults[f].field));
    }
    cpm_cli_report("seed", err, d);
}

static cpm_err seed_versions(struct seed *seed, const char *notice_id, json_t *versions,
                             struct cpm_detail *d)
{
    struct cpm_notice_version latest = {0};
    cpm_err err = seed->store->ops->notice_version_get(seed->store, notice_id, 0, &latest);
    int64_t have = err == CPM_OK ? latest.version : 0;
    cpm_notice_version_release(&latest);
    if (err != CPM_OK && err != CPM_ERR_NOT_FOUND)
        return err;
    for (size_t v = (size_t)have; v < json_array_size(versions); v++) {
        int64_t number;
        json_t *copy = json_deep_copy(json_array_get(versions, v));
        err = copy ? cpm_config_publish(seed->store, notice_id, copy, &number, d) : CPM_ERR_NOMEM;
        json_decref(copy);
        if (err != CPM_OK)
            return err;
        seed->published++;
    }
    return CPM_OK;
}

/* Validates (first pass) or writes (second pass) one document. */
static cpm_err seed_one(struct seed *seed, enum cpm_doc_kind kind, json_t *doc,
                        struct cpm_detail *d)
{
    if (!json_is_object(doc)) {
        cpm_detail_add(d, "", "must be a JSON object");
        return CPM_ERR_VALIDATION;
    }
    json_t *versions = json_incref(json_object_get(doc, "versions"));
    json_t *copy = json_deep_copy(doc);
    cpm_err err = copy ? CPM_OK : CPM_ERR_NOMEM;
    if (copy != NULL)
        json_object_del(copy, "versions");
    if (err == CPM_OK && !seed->writing) {
        struct cpm_config_lookup lookup = {lookup_file_then_store, seed};
        err = cpm_config_validate(kind, copy, &lookup, d);
        if (versions != NULL && (kind != CPM_DOC_NOTICE || !json_is_array(versions))) {
            cpm_detail_add(d, "versions", "only notices have versions, as an array");
            err = CPM_ERR_VALIDATION;
        }
    } else if (err == CPM_OK) {
        const char *id = json_string_value(json_object_get(copy, "id"));
        json_t *existing = NULL;
        err = cpm_config_read(seed->store, kind, id, &existing, NULL);
        json_decref(existing);
        if (err == CPM_OK)
            seed->kept++;
        else if (err == CPM_ERR_NOT_FOUND &&
                 (err = cpm_config_create(seed->store, kind, copy, d)) == CPM_OK)
            seed->created++;
        if (err == CPM_OK && versions != NULL)
            err = seed_versions(seed, id, versions, d);
    }
    json_decref(copy);
    json_decref(versions);
    return err;
}

static cpm_err seed_pass(struct seed *seed)
{
    cpm_err worst = CPM_OK;
    for (size_t s = 0; s < CPM_ARRAY_LEN(sections); s++) {
        json_t *list = json_object_get(seed->file, sections[s].key);
        size_t i;
        json_t *doc;
        json_array_foreach(list, i, doc)
        {
            struct cpm_detail d;
            cpm_detail_init(&d);
            cpm_err err = seed_one(seed, sections[s].kind, doc, &d);
            if (err != CPM_OK) {
                report(&d, sections[s].key, i, err);
                worst = err;
                if (seed->writing)
                    return err;
            }
        }
    }
    return worst;
}

static bool check_shape(const json_t *file, const char *path)
{
    bool ok = json_is_object(file);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)file, key, value)
    {
        bool known = false;
        for (size_t s = 0; s < CPM_ARRAY_LEN(sections); s++)
            known |= strcmp(key, sections[s].key) == 0;
        if (!known || !json_is_array(value)) {
            fprintf(stderr,
                    "cpm seed: %s: '%s' is not one of properties, purposes, notices, "
                    "policies as an array\n",
                    path, key);
            ok = false;
        }
    }
    return ok;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: cpm seed [--data DIR] FILE\n\n"
                 "Loads properties, purposes, notices (with versions) and policies from a JSON\n"
                 "file. Every document is validated first; with any fault nothing is written.\n"
                 "Documents that already exist are kept unchanged.\n");
}

int cpm_cli_seed(int argc, char **argv)
{
    const char *data = NULL, *path = NULL;
    bool bad = false;
    for (int i = 1; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CPM_EXIT_OK;
        }
        if (cpm_cli_flag(argc, argv, &i, "--data", &data, &bad))
            continue;
        if (argv[i][0] != '-' && path == NULL)
            path = argv[i];
        else
            bad = true;
    }
    if (bad || path == NULL) {
        usage(stderr);
        return CPM_EXIT_USAGE;
    }
    json_error_t error;
    json_t *file = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    if (file == NULL) {
        fprintf(stderr, "cpm seed: %s:%d:%d: %s\n", path, error.line, error.column, error.text);
        return CPM_EXIT_FAILURE;
    }
    struct seed seed = {.file = file};
    int status = CPM_EXIT_FAILURE;
    if (!check_shape(file, path))
        goto out;
    json_object_set_new(file, "_stored", json_object());
    seed.store = cpm_cli_open_store("seed", cpm_cli_data_dir(data));
    if (seed.store == NULL || seed_pass(&seed) != CPM_OK)
        goto out;
    seed.writing = true;
    if (seed_pass(&seed) != CPM_OK)
        goto out;
    fprintf(stderr, "cpm seed: %d created, %d already present, %d notice versions published\n",
            seed.created, seed.kept, seed.published);
    status = CPM_EXIT_OK;
out:
    cpm_store_close(seed.store);
    json_decref(file);
    return status;
}
