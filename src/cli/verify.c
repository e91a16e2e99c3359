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

#define VERIFY_PAGE    1000
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

struct replay {
    struct cpm_store *store;
    struct cpm_merkle_frontier frontier;
    int64_t expected_seq;
    const char *problem;
    int64_t problem_seq;
    cpm_err err;
};

static void compare_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    struct replay *r = ctx;
    uint8_t stored[32];
    if (r->problem != NULL)
        return;
    if (r->store->ops->merkle_node_get(r->store, level, index, stored) != CPM_OK ||
        sodium_memcmp(stored, hash, 32) != 0) {
        r->problem = level == 0 ? "its stored leaf hash differs from the hash of its text"
                                : "a stored tree node differs from the one its events give";
        r->problem_seq = r->expected_seq;
    }
}

static cpm_err replay_event(void *ctx, const struct cpm_event *e)
{
    struct replay *r = ctx;
    if (r->problem != NULL)
        return CPM_OK;
    if (e->seq != r->expected_seq) {
        r->problem = "the sequence has a gap";
        r->problem_seq = r->expected_seq;
        return CPM_OK;
    }
    uint8_t leaf[32];
    cpm_merkle_leaf_hash(e->leaf, e->leaf_len, leaf);
    cpm_merkle_append(&r->frontier, leaf, compare_node, r);
    r->expected_seq++;
    if (r->frontier.size % PROGRESS_EVERY == 0)
        fprintf(stderr, "cpm verify: %llu events checked\n", (unsigned long long)r->frontier.size);
    return CPM_OK;
}

/* Replays events up to (and including) seq `until`. */
static cpm_err replay_until(struct replay *r, uint64_t until)
{
    while (r->problem == NULL && r->frontier.size < until) {
        uint64_t before = r->frontier.size;
        int limit = until - before < VERIFY_PAGE ? (int)(until - before) : VERIFY_PAGE;
        cpm_err err =
            r->store->ops->event_list(r->store, NULL, (int64_t)before, limit, replay_event, r);
        if (err != CPM_OK)
            return err;
        if (r->frontier.size == before && r->problem == NULL) {
            r->problem = "events are missing";
            r->problem_seq = (int64_t)before + 1;
        }
    }
    return CPM_OK;
}

static int check_checkpoint(struct replay *r, const struct cpm_checkpoint *cp, const char *vkey)
{
    const char *body;
    size_t body_len;
    char origin[CPM_ORIGIN_BYTES_MAX];
    uint64_t size;
    uint8_t root[32], ours[32];
    if (cpm_note_verify(cp->note, strlen(cp->note), vkey, &body, &body_len) != CPM_OK ||
        cpm_checkpoint_parse(body, body_len, origin, sizeof(origin), &size, root) != CPM_OK ||
        size != cp->size)
        return failed(
            "the stored checkpoint of size %llu is not validly signed by this store's key",
            (unsigned long long)cp->size);
    cpm_merkle_frontier_root(&r->frontier, ours);
    if (sodium_memcmp(ours, root, 32) != 0)
        return failed("the events give a different tree than the checkpoint of size %llu signed",
                      (unsigned long long)cp->size);
    return CPM_EXIT_OK;
}

/*
 * Replays the events checkpoint by checkpoint, smallest first, and compares
 * the tree at each size with the root that checkpoint signed.
 */
static cpm_err check_checkpoints(struct replay *r, const char *vkey, uint64_t *checked,
                                 uint64_t *latest, int *status)
{
    struct cpm_checkpoint cp;
    cpm_err err;
    while (*status == CPM_EXIT_OK && r->problem == NULL &&
           (err = r->store->ops->checkpoint_after(r->store, *checked ? (int64_t)*latest : -1,
                                                  &cp)) == CPM_OK) {
        err = replay_until(r, cp.size);
        if (err == CPM_OK && r->problem == NULL)
            *status = check_checkpoint(r, &cp, vkey);
        *latest = cp.size;
        cpm_checkpoint_release(&cp);
        if (err != CPM_OK)
            return err;
        ++*checked;
    }
    return *status != CPM_EXIT_OK || r->problem != NULL || err == CPM_ERR_NOT_FOUND ? CPM_OK : err;
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
    cpm_err err;
    struct replay r = {.store = cpm_cli_open_store("verify", data), .expected_seq = 1};
    if (r.store == NULL)
        return CPM_EXIT_FAILURE;
    cpm_merkle_frontier_init(&r.frontier);
    uint64_t size = 0, checked = 0, latest = 0;
    int status = CPM_EXIT_OK;
    err = check_checkpoints(&r, vkey, &checked, &latest, &status);
    if (err == CPM_OK && r.problem == NULL && status == CPM_EXIT_OK)
        err = r.store->ops->ledger_size(r.store, &size);
    if (err == CPM_OK && r.problem == NULL && status == CPM_EXIT_OK)
        err = replay_until(&r, size);
    if (err != CPM_OK)
        status = failed("the store could not be read: %s", cpm_err_message(err));
    else if (r.problem != NULL)
        status = failed("event seq %lld: %s", (long long)r.problem_seq, r.problem);
    else if (status == CPM_EXIT_OK)
        printf("verified: %llu events re-derive the stored tree; all %llu signed checkpoints "
               "match (the latest of size %llu, log %s)\n",
               (unsigned long long)r.frontier.size, (unsigned long long)checked,
               (unsigned long long)latest, origin);
    cpm_store_close(r.store);
    return status;
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
