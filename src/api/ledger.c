/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger.c — the verifiable log over HTTP: the latest signed checkpoint,
 * the verifier key, inclusion and consistency proofs (RFC 9162), and the
 * events themselves. Proofs are computed from stored complete-subtree
 * hashes, O(log n) reads, never a scan of the log.
 */
#include "core/common.h"

#include <sodium.h>

#include "api/api.h"
#include "api/support.h"
#include "core/alloc.h"
#include "http/app.h"
#include "ledger/merkle.h"
#include "store/node_cache.h"
#include "store/writer.h"

#define B64_HASH_BYTES sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)

static json_t *b64(const uint8_t hash[32])
{
    char text[B64_HASH_BYTES];
    sodium_bin2base64(text, sizeof(text), hash, 32, sodium_base64_VARIANT_ORIGINAL);
    return json_string(text);
}

void cpm_api_ledger_checkpoint(struct cpm_request *req)
{
    struct cpm_checkpoint cp = {0};
    cpm_err err = req->app->store->ops->checkpoint_latest(req->app->store, &cp);
    if (err == CPM_OK) {
        cpm_respond_owned(req, 200, "text/plain; charset=utf-8", cp.note, strlen(cp.note));
        cp.note = NULL;
    } else {
        cpm_respond_error(req, err == CPM_ERR_NOT_FOUND ? CPM_ERR_UNAVAILABLE : err, NULL,
                          "no checkpoint has been signed yet");
    }
    cpm_checkpoint_release(&cp);
}

void cpm_api_ledger_key(struct cpm_request *req)
{
    cpm_respond_static(req, 200, "text/plain; charset=utf-8", req->app->vkey,
                       strlen(req->app->vkey));
}

/* Reads an integer query parameter in [min, max]; answers 422 and returns false when bad. */
static bool query_u64(struct cpm_request *req, const char *name, bool required, uint64_t min,
                      uint64_t max, uint64_t *out)
{
    const char *text = cpm_request_query(req, name);
    int64_t v;
    if (text == NULL && !required)
        return true;
    if (text == NULL || !cpm_parse_int64(text, (int64_t)min, (int64_t)max, &v)) {
        if (max < min)
            cpm_respond_error(req, CPM_ERR_VALIDATION, name, "the ledger has no such entry yet");
        else
            cpm_respond_error(req, CPM_ERR_VALIDATION, name, "must be an integer %llu–%llu",
                              (unsigned long long)min, (unsigned long long)max);
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

static uint64_t head_size(struct cpm_request *req)
{
    uint64_t size;
    uint8_t root[32];
    cpm_writer_head(req->app->writer, &size, root);
    return size;
}

static json_t *path_json(const uint8_t path[][32], size_t len)
{
    json_t *out = json_array();
    for (size_t i = 0; out && i < len; i++)
        json_array_append_new(out, b64(path[i]));
    return out;
}

void cpm_api_ledger_inclusion(struct cpm_request *req)
{
    uint64_t head = head_size(req), seq = 0, size = head;
    if (!query_u64(req, "seq", true, 1, head, &seq) ||
        !query_u64(req, "tree_size", false, seq, head, &size))
        return;
    uint8_t path[CPM_MERKLE_PATH_MAX][32], leaf[32], root[32];
    size_t len = 0;
    cpm_err err = cpm_merkle_inclusion_proof(seq - 1, size, cpm_node_cache_get, req->app->nodes,
                                             path, CPM_MERKLE_PATH_MAX, &len);
    if (err == CPM_OK)
        err = cpm_node_cache_get(req->app->nodes, 0, seq - 1, leaf);
    if (err == CPM_OK)
        err = cpm_merkle_root(size, cpm_node_cache_get, req->app->nodes, root);
    if (err != CPM_OK) {
        cpm_respond_error(req, err, NULL, "cannot build the proof");
        return;
    }
    cpm_respond_json(req, 200,
                     json_pack("{s:I, s:I, s:I, s:o, s:o, s:o}", "seq", (json_int_t)seq,
                               "leaf_index", (json_int_t)(seq - 1), "tree_size", (json_int_t)size,
                               "leaf_hash", b64(leaf), "root_hash", b64(root), "path",
                               path_json((const uint8_t(*)[32])path, len)));
}

void cpm_api_ledger_consistency(struct cpm_request *req)
{
    uint64_t head = head_size(req), from = 0, to = head;
    if (!query_u64(req, "from", true, 1, head, &from) ||
        !query_u64(req, "to", false, from, head, &to))
        return;
    uint8_t path[CPM_MERKLE_PATH_MAX][32], root1[32], root2[32];
    size_t len = 0;
    cpm_err err = cpm_merkle_consistency_proof(from, to, cpm_node_cache_get, req->app->nodes, path,
                                               CPM_MERKLE_PATH_MAX, &len);
    if (err == CPM_OK)
        err = cpm_merkle_root(from, cpm_node_cache_get, req->app->nodes, root1);
    if (err == CPM_OK)
        err = cpm_merkle_root(to, cpm_node_cache_get, req->app->nodes, root2);
    if (err != CPM_OK) {
        cpm_respond_error(req, err, NULL, "cannot build the proof");
        return;
    }
    cpm_respond_json(req, 200,
                     json_pack("{s:I, s:I, s:o, s:o, s:o}", "from", (json_int_t)from, "to",
                               (json_int_t)to, "from_root", b64(root1), "to_root", b64(root2),
                               "path", path_json((const uint8_t(*)[32])path, len)));
}
