/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_verify.c — the full ledger check (ledger_verify.h): the events
 * replayed checkpoint by checkpoint, smallest first, through a Merkle
 * frontier that hands back every node it completes; each is compared with
 * the stored one, and the tree at each signed size with the root signed.
 */
#include "core/common.h"

#include <sodium.h>

#include "ledger/merkle.h"
#include "ledger/note.h"
#include "store/checkpointer.h"
#include "store/ledger_verify.h"

#define VERIFY_PAGE 1000

struct replay {
    struct cpm_store *store;
    struct cpm_merkle_frontier frontier;
    int64_t expected_seq;
    uint64_t total;
    cpm_ledger_progress_fn progress;
    void *ctx;
    struct cpm_ledger_verify_result *out;
};

static bool found(struct replay *r)
{
    return r->out->problem[0] != '\0';
}

static void problem(struct replay *r, int64_t seq, const char *fmt, ...) CPM_PRINTF(3, 4);
static void problem(struct replay *r, int64_t seq, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->out->problem, sizeof(r->out->problem), fmt, ap);
    va_end(ap);
    r->out->problem_seq = seq;
}

static void compare_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    struct replay *r = ctx;
    uint8_t stored[32];
    if (found(r))
        return;
    if (r->store->ops->merkle_node_get(r->store, level, index, stored) != CPM_OK ||
        sodium_memcmp(stored, hash, 32) != 0)
        problem(r, r->expected_seq, "%s",
                level == 0 ? "its stored leaf hash differs from the hash of its text"
                           : "a stored tree node differs from the one its events give");
}

static cpm_err replay_event(void *ctx, const struct cpm_event *e)
{
    struct replay *r = ctx;
    if (found(r))
        return CPM_OK;
    if (e->seq != r->expected_seq) {
        problem(r, r->expected_seq, "the sequence has a gap");
        return CPM_OK;
    }
    uint8_t leaf[32];
    cpm_merkle_leaf_hash(e->leaf, e->leaf_len, leaf);
    cpm_merkle_append(&r->frontier, leaf, compare_node, r);
    r->expected_seq++;
    return CPM_OK;
}

/* Replays events up to (and including) seq `until`, a page at a time. */
static cpm_err replay_until(struct replay *r, uint64_t until)
{
    while (!found(r) && r->frontier.size < until) {
        uint64_t before = r->frontier.size;
        int limit = until - before < VERIFY_PAGE ? (int)(until - before) : VERIFY_PAGE;
        cpm_err err =
            r->store->ops->event_list(r->store, NULL, (int64_t)before, limit, replay_event, r);
        if (err != CPM_OK)
            return err;
        if (r->frontier.size == before && !found(r))
            problem(r, (int64_t)before + 1, "events are missing");
        r->out->events = r->frontier.size;
        if (r->progress != NULL && !r->progress(r->ctx, r->frontier.size, r->total))
            return CPM_ERR_UNAVAILABLE;
    }
    return CPM_OK;
}

/* Compares the replayed tree with the root checkpoint cp signed. */
static void check_checkpoint(struct replay *r, const struct cpm_checkpoint *cp, const char *vkey)
{
    const char *body;
    size_t body_len;
    char origin[CPM_ORIGIN_BYTES_MAX];
    uint64_t size;
    uint8_t root[32], ours[32];
    if (cpm_note_verify(cp->note, strlen(cp->note), vkey, &body, &body_len) != CPM_OK ||
        cpm_checkpoint_parse(body, body_len, origin, sizeof(origin), &size, root) != CPM_OK ||
        size != cp->size) {
        problem(r, 0,
                "the stored checkpoint of size %llu is not validly signed by this store's key",
                (unsigned long long)cp->size);
        return;
    }
    cpm_merkle_frontier_root(&r->frontier, ours);
    if (sodium_memcmp(ours, root, 32) != 0)
        problem(r, 0, "the events give a different tree than the checkpoint of size %llu signed",
                (unsigned long long)cp->size);
}

/* Replays the events checkpoint by checkpoint, comparing each signed root. */
static cpm_err check_checkpoints(struct replay *r, const char *vkey)
{
    struct cpm_checkpoint cp;
    cpm_err err = CPM_OK;
    while (!found(r) &&
           (err = r->store->ops->checkpoint_after(
                r->store, r->out->checkpoints ? (int64_t)r->out->latest : -1, &cp)) == CPM_OK) {
        err = replay_until(r, cp.size);
        if (err == CPM_OK && !found(r))
            check_checkpoint(r, &cp, vkey);
        r->out->latest = cp.size;
        cpm_checkpoint_release(&cp);
        if (err != CPM_OK)
            return err;
        r->out->checkpoints++;
    }
    return err == CPM_ERR_NOT_FOUND ? CPM_OK : err;
}

cpm_err cpm_ledger_verify(struct cpm_store *store, const char *vkey,
                          cpm_ledger_progress_fn progress, void *ctx,
                          struct cpm_ledger_verify_result *out)
{
    memset(out, 0, sizeof(*out));
    struct replay r = {
        .store = store, .expected_seq = 1, .progress = progress, .ctx = ctx, .out = out};
    cpm_merkle_frontier_init(&r.frontier);
    cpm_err err = store->ops->ledger_size(store, &r.total);
    if (err == CPM_OK)
        err = check_checkpoints(&r, vkey);
    /* events past the latest checkpoint: their nodes still have to match */
    if (err == CPM_OK && !found(&r))
        err = replay_until(&r, r.total);
    out->events = r.frontier.size;
    if (err != CPM_OK)
        return err;
    return found(&r) ? CPM_ERR_TAMPERED : CPM_OK;
}
