/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verify.c — `cpm verify`: checks evidence without trusting the server.
 *
 *   cpm verify BUNDLE --key VKEY   an evidence bundle, offline: the checkpoint's
 *                                  signature, every event's inclusion proof,
 *                                  that every event is the subject's, and every
 *                                  notice text's SHA-256
 *   cpm verify PACK [--key VKEY]   an evidence pack (a tar archive), offline:
 *                                  the same, plus the manifest's hashes and the
 *                                  delivery log (verify_pack.c)
 *   cpm verify --store [--data D]  the whole store: re-derives the tree from the
 *                                  stored events, compares every stored node and
 *                                  every signed checkpoint
 *
 * Exit status 0 when everything verifies, 1 naming the first failure, 2 on
 * a usage error.
 */
#include "core/common.h"

#include <sodium.h>

#include "cli/cli.h"
#include "cli/verify.h"
#include "core/alloc.h"
#include "core/tar.h"
#include "crypto/keyring.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "store/checkpointer.h"
#include "store/datadir.h"
#include "store/ledger_verify.h"

#define PROGRESS_EVERY 100000

static void usage(FILE *out)
{
    fprintf(out, "usage: cpm verify BUNDLE --key VKEY\n"
                 "       cpm verify PACK [--key VKEY]\n"
                 "       cpm verify --store [--data DIR]\n\n"
                 "BUNDLE is an evidence bundle (GET /v1/subjects/{id}/evidence); PACK an\n"
                 "evidence pack (GET /v1/evidence-packs, cpm evidence-pack); VKEY is the\n"
                 "verifier key line (GET /v1/ledger/key) or a file holding it. Without\n"
                 "--key a pack is checked with its own key: that shows it is intact, not\n"
                 "whose ledger it comes from.\n");
}

static int failed(const char *fmt, ...) CPM_PRINTF(1, 2);
static int failed(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cpm verify: FAILED: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CPM_EXIT_FAILURE;
}

bool cpm__verify_read_vkey(const char *arg, char *out, size_t size)
{
    if (strchr(arg, '+') != NULL && strchr(arg, '/') == NULL) {
        cpm_strlcpy(out, arg, size);
        return true;
    }
    FILE *f = fopen(arg, "r");
    if (f == NULL)
        return strchr(arg, '+') != NULL && cpm_strlcpy(out, arg, size) < size;
    bool ok = fgets(out, (int)size, f) != NULL;
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return ok;
}

bool cpm__verify_is_pack(const char *path)
{
    uint8_t block[CPM_TAR_BLOCK_BYTES];
    FILE *f = fopen(path, "rb");
    bool pack = f != NULL && fread(block, 1, sizeof(block), f) == sizeof(block) &&
                memcmp(block + 257, "ustar", 5) == 0;
    if (f != NULL)
        fclose(f);
    return pack;
}

static bool decode_hash(const json_t *v, uint8_t out[32])
{
    const char *text = json_string_value(v);
    size_t len = 0;
    return text &&
           sodium_base642bin(out, 32, text, strlen(text), NULL, &len, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
           len == 32;
}

static void sha256_hex(const char *text, char out[65])
{
    uint8_t hash[32];
    crypto_hash_sha256(hash, (const unsigned char *)text, strlen(text));
    sodium_bin2hex(out, 65, hash, 32);
}

/*
 * True when the bundle holds the notice text the leaf refers to, with that
 * hash; for a leaf that names a version without a hash (a system event:
 * consent.reconsent_required names the version that changed), the version.
 */
static bool notice_matches(const json_t *notices, const json_t *ref)
{
    const char *id = json_string_value(json_object_get(ref, "id"));
    json_int_t version = json_integer_value(json_object_get(ref, "version"));
    const char *want = json_string_value(json_object_get(ref, "sha256"));
    size_t i;
    json_t *n;
    json_array_foreach(notices, i, n)
    {
        const char *nid = json_string_value(json_object_get(n, "notice"));
        if (!nid || !id || strcmp(nid, id) != 0 ||
            json_integer_value(json_object_get(n, "version")) != version)
            continue;
        if (want == NULL)
            return true;
        const char *locale;
        json_t *text;
        json_object_foreach(json_object_get(n, "content"), locale, text)
        {
            const char *body = json_string_value(json_object_get(text, "text"));
            char hex[65];
            if (body == NULL || want == NULL)
                continue;
            sha256_hex(body, hex);
            if (strcmp(hex, want) == 0)
                return true;
        }
    }
    return false;
}

/* Checks one event of a bundle; NULL when fine, else why not. */
static const char *check_event(const json_t *e, const json_t *bundle, uint64_t size,
                               const uint8_t root[32])
{
    const char *leaf = json_string_value(json_object_get(e, "leaf"));
    json_int_t seq = json_integer_value(json_object_get(e, "seq"));
    const json_t *path_json = json_object_get(e, "inclusion_path");
    size_t n = json_array_size(path_json);
    uint8_t path[CPM_MERKLE_PATH_MAX][32], leaf_hash[32];
    if (leaf == NULL || seq < 1 || n > CPM_MERKLE_PATH_MAX)
        return "is malformed";
    for (size_t i = 0; i < n; i++)
        if (!decode_hash(json_array_get(path_json, i), path[i]))
            return "has a malformed proof";
    cpm_merkle_leaf_hash(leaf, strlen(leaf), leaf_hash);
    if (!cpm_merkle_verify_inclusion((uint64_t)seq - 1, size, leaf_hash, (const uint8_t(*)[32])path,
                                     n, root))
        return "is not in the signed tree (its inclusion proof fails)";
    json_t *doc = json_loads(leaf, 0, NULL);
    const char *subject = json_string_value(json_object_get(doc, "subject"));
    const char *want = json_string_value(json_object_get(bundle, "subject_pseudonym"));
    const char *why = NULL;
    if (subject == NULL || want == NULL || strcmp(subject, want) != 0)
        why = "belongs to another subject";
    else if (json_object_get(doc, "notice") &&
             !notice_matches(json_object_get(bundle, "notices"), json_object_get(doc, "notice")))
        why = "refers to a notice text the bundle does not hold with that SHA-256";
    json_decref(doc);
    return why;
}

static int verify_bundle(const char *path, const char *vkey_arg)
{
    char vkey[CPM_VKEY_BYTES_MAX];
    if (!cpm__verify_read_vkey(vkey_arg, vkey, sizeof(vkey)))
        return failed("cannot read the verifier key '%s'", vkey_arg);
    json_error_t error;
    json_t *bundle = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    if (bundle == NULL)
        return failed("%s:%d: %s", path, error.line, error.text);
    const char *note = json_string_value(json_object_get(bundle, "checkpoint"));
    const char *body = NULL;
    size_t body_len = 0;
    char origin[CPM_ORIGIN_BYTES_MAX];
    uint64_t size = 0;
    uint8_t root[32];
    int status = CPM_EXIT_OK;
    if (note == NULL || cpm_note_verify(note, strlen(note), vkey, &body, &body_len) != CPM_OK)
        status = failed("the checkpoint's signature does not verify with key %s", vkey);
    else if (cpm_checkpoint_parse(body, body_len, origin, sizeof(origin), &size, root) != CPM_OK)
        status = failed("the checkpoint is malformed");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(bundle, "events"), i, e)
    {
        const char *why = status == CPM_EXIT_OK ? check_event(e, bundle, size, root) : NULL;
        if (why != NULL) {
            status = failed("event seq %lld %s",
                            (long long)json_integer_value(json_object_get(e, "seq")), why);
            break;
        }
    }
    if (status == CPM_EXIT_OK)
        printf("verified: %zu events of subject %s are in log %s at tree size %llu\n",
               json_array_size(json_object_get(bundle, "events")),
               json_string_value(json_object_get(bundle, "subject")), origin,
               (unsigned long long)size);
    json_decref(bundle);
    return status;
}

/* ---- the whole store ---- */

/* A line on stderr every PROGRESS_EVERY events, so a long check shows it is moving. */
static bool print_progress(void *ctx, uint64_t checked, uint64_t total)
{
    uint64_t *next = ctx;
    if (checked >= *next) {
        fprintf(stderr, "cpm verify: %llu of %llu events checked\n", (unsigned long long)checked,
                (unsigned long long)total);
        *next = checked + PROGRESS_EVERY;
    }
    return true;
}

bool cpm__verify_data_vkey(const char *command, const char *data, char origin[CPM_ORIGIN_BYTES_MAX],
                           char vkey[CPM_VKEY_BYTES_MAX])
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct cpm_datadir_keys keys;
    struct cpm_keyring kr;
    cpm_err err = cpm_datadir_load_keys(data, &keys, &detail);
    if (err == CPM_OK)
        err = cpm_keyring_init(&kr, &keys);
    cpm_datadir_keys_wipe(&keys);
    if (err != CPM_OK) {
        cpm_cli_report(command, err, &detail);
        return false;
    }
    cpm_checkpoint_origin(cpm_keyring_signing_public_key(&kr), origin);
    cpm_note_vkey(origin, cpm_keyring_signing_public_key(&kr), vkey, CPM_VKEY_BYTES_MAX);
    cpm_keyring_wipe(&kr);
    return true;
}

static int verify_store(const char *data)
{
    char origin[CPM_ORIGIN_BYTES_MAX], vkey[CPM_VKEY_BYTES_MAX];
    if (!cpm__verify_data_vkey("verify", data, origin, vkey))
        return CPM_EXIT_FAILURE;
    struct cpm_store *store = cpm_cli_open_store("verify", data);
    if (store == NULL)
        return CPM_EXIT_FAILURE;
    struct cpm_ledger_verify_result res;
    uint64_t next = PROGRESS_EVERY;
    cpm_err err = cpm_ledger_verify(store, vkey, print_progress, &next, &res);
    cpm_store_close(store);
    if (err == CPM_ERR_TAMPERED && res.problem_seq > 0)
        return failed("event seq %lld: %s", (long long)res.problem_seq, res.problem);
    if (err == CPM_ERR_TAMPERED)
        return failed("%s", res.problem);
    if (err != CPM_OK)
        return failed("the store could not be read: %s", cpm_err_message(err));
    printf("verified: %llu events re-derive the stored tree; all %llu signed checkpoints "
           "match (the latest of size %llu, log %s)\n",
           (unsigned long long)res.events, (unsigned long long)res.checkpoints,
           (unsigned long long)res.latest, origin);
    return CPM_EXIT_OK;
}

int cpm_cli_verify(int argc, char **argv)
{
    const char *data = NULL, *key = NULL, *bundle = NULL;
    bool store = false, bad = false;
    for (int i = 1; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CPM_EXIT_OK;
        }
        if (cpm_cli_flag(argc, argv, &i, "--data", &data, &bad) ||
            cpm_cli_flag(argc, argv, &i, "--key", &key, &bad))
            continue;
        if (strcmp(argv[i], "--store") == 0)
            store = true;
        else if (argv[i][0] != '-' && bundle == NULL)
            bundle = argv[i];
        else
            bad = true;
    }
    bool pack = bundle != NULL && cpm__verify_is_pack(bundle);
    if (bad || store == (bundle != NULL) || (bundle && !key && !pack) || (store && key)) {
        usage(stderr);
        return CPM_EXIT_USAGE;
    }
    if (pack)
        return cpm__verify_pack(bundle, key);
    return store ? verify_store(cpm_cli_data_dir(data)) : verify_bundle(bundle, key);
}
