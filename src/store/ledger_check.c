/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_check.c — the start-up tamper alarm: the last signed checkpoint
 * against the stored tree, and the newest events against their leaves.
 */
#include "core/common.h"

#include <sodium.h>

#include "ledger/merkle.h"
#include "ledger/note.h"
#include "store/checkpointer.h"
#include "store/ledger_check.h"

static cpm_err read_node(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    struct cpm_store *store = ctx;
    return store->ops->merkle_node_get(store, level, index, out);
}

struct tail {
    struct cpm_store *store;
    int64_t bad_seq;
    cpm_err err;
};

static cpm_err check_leaf(void *ctx, const struct cpm_event *e)
{
    struct tail *t = ctx;
    uint8_t ours[32], stored[32];
    cpm_merkle_leaf_hash(e->leaf, e->leaf_len, ours);
    cpm_err err = read_node(t->store, 0, (uint64_t)e->seq - 1, stored);
    if (err == CPM_ERR_NOT_FOUND || (err == CPM_OK && sodium_memcmp(ours, stored, 32) != 0)) {
        if (t->bad_seq == 0)
            t->bad_seq = e->seq;
        return CPM_OK;
    }
    return err;
}

/* The signed head: verified note, parsed size and root. */
static cpm_err signed_head(struct cpm_store *store, const char *vkey, uint64_t *size,
                           uint8_t root[32], struct cpm_detail *detail)
{
    struct cpm_checkpoint cp = {0};
    cpm_err err = store->ops->checkpoint_latest(store, &cp);
    const char *body = NULL;
    size_t body_len = 0;
    char origin[CPM_ORIGIN_BYTES_MAX];
    if (err == CPM_OK &&
        (cpm_note_verify(cp.note, strlen(cp.note), vkey, &body, &body_len) != CPM_OK ||
         cpm_checkpoint_parse(body, body_len, origin, sizeof(origin), size, root) != CPM_OK ||
         *size != cp.size)) {
        cpm_detail_add(detail, NULL,
                       "the checkpoint of size %llu is not validly signed by this installation's "
                       "key",
                       (unsigned long long)cp.size);
        err = CPM_ERR_TAMPERED;
    }
    cpm_checkpoint_release(&cp);
    return err;
}

cpm_err cpm_ledger_check(struct cpm_store *store, const char *vkey, struct cpm_detail *detail)
{
    uint64_t signed_size = 0, size = 0;
    uint8_t signed_root[32], root[32];
    cpm_err err = signed_head(store, vkey, &signed_size, signed_root, detail);
    if (err == CPM_ERR_NOT_FOUND)
        return CPM_OK; /* never signed: a new ledger */
    if (err == CPM_OK)
        err = store->ops->ledger_size(store, &size);
    if (err == CPM_OK && size < signed_size) {
        cpm_detail_add(detail, NULL, "the ledger holds %llu events but %llu were signed",
                       (unsigned long long)size, (unsigned long long)signed_size);
        return CPM_ERR_TAMPERED;
    }
    if (err == CPM_OK)
        err = cpm_merkle_root(signed_size, read_node, store, root);
    if (err == CPM_ERR_NOT_FOUND || (err == CPM_OK && sodium_memcmp(root, signed_root, 32) != 0)) {
        cpm_detail_add(detail, NULL, "the stored tree does not give the root signed at size %llu",
                       (unsigned long long)signed_size);
        return CPM_ERR_TAMPERED;
    }
    struct tail t = {.store = store};
    int64_t from =
        size > CPM_LEDGER_CHECK_TAIL_EVENTS ? (int64_t)(size - CPM_LEDGER_CHECK_TAIL_EVENTS) : 0;
    if (err == CPM_OK)
        err =
            store->ops->event_list(store, NULL, from, CPM_LEDGER_CHECK_TAIL_EVENTS, check_leaf, &t);
    if (err == CPM_OK && t.bad_seq != 0) {
        cpm_detail_add(detail, NULL, "event seq %lld no longer hashes to its stored leaf",
                       (long long)t.bad_seq);
        return CPM_ERR_TAMPERED;
    }
    return err;
}
