/* SPDX-License-Identifier: Apache-2.0 */
/*
 * checkpointer.c — a thread that looks at the writer's committed head every
 * CPM_CHECKPOINT_INTERVAL_MS and, when it grew, signs and stores a
 * checkpoint. Signing the head (not each event) keeps signatures off the
 * write path: Ed25519 costs ~20 µs, a checkpoint a second costs nothing.
 */
#include "core/common.h"

#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "ledger/note.h"
#include "store/checkpointer.h"
#include "core/ticker.h"

#define NOTE_BYTES_MAX 1024

struct cpm_checkpointer {
    struct cpm_store *store;
    struct cpm_writer *writer;
    char origin[CPM_ORIGIN_BYTES_MAX];
    uint8_t seed[32];
    uint64_t signed_size; /* the largest size stored, or UINT64_MAX before any */
    struct cpm_ticker *ticker;
};

void cpm_checkpoint_origin(const uint8_t public_key[32], char out[CPM_ORIGIN_BYTES_MAX])
{
    uint8_t hash[32];
    crypto_hash_sha256(hash, public_key, 32);
    char hex[9];
    sodium_bin2hex(hex, sizeof(hex), hash, 4);
    snprintf(out, CPM_ORIGIN_BYTES_MAX, "opencpm/%s", hex);
}

/* Signs and stores the head when it is larger than the last checkpoint. */
static cpm_err sign_head(struct cpm_checkpointer *c)
{
    uint64_t size;
    uint8_t root[CPM_HASH_BYTES];
    cpm_writer_head(c->writer, &size, root);
    if (c->signed_size != UINT64_MAX && size <= c->signed_size)
        return CPM_OK;
    char body[NOTE_BYTES_MAX], note[NOTE_BYTES_MAX];
    cpm_err err = cpm_checkpoint_format(c->origin, size, root, body, sizeof(body));
    if (err == CPM_OK)
        err = cpm_note_sign(body, c->origin, c->seed, note, sizeof(note));
    struct cpm_checkpoint cp = {.size = size, .note = note, .signed_ms = cpm_clock_now_ms()};
    memcpy(cp.root, root, sizeof(root));
    if (err == CPM_OK)
        err = c->store->ops->checkpoint_put(c->store, &cp);
    if (err == CPM_OK || err == CPM_ERR_CONFLICT)
        c->signed_size = size;
    if (err != CPM_OK && err != CPM_ERR_CONFLICT)
        cpm_log_error("ledger", "cannot store the checkpoint of size %llu: %s",
                      (unsigned long long)size, cpm_err_message(err));
    return err == CPM_ERR_CONFLICT ? CPM_OK : err;
}

static void tick(void *ctx)
{
    (void)sign_head(ctx); /* failures are logged; the next tick retries */
}

static uint64_t latest_size(struct cpm_store *store)
{
    struct cpm_checkpoint cp = {0};
    cpm_err err = store->ops->checkpoint_latest(store, &cp);
    cpm_checkpoint_release(&cp);
    return err == CPM_OK ? cp.size : UINT64_MAX;
}

cpm_err cpm_checkpointer_start(struct cpm_store *store, struct cpm_writer *writer,
                               const char *origin, const uint8_t seed[32],
                               struct cpm_checkpointer **out)
{
    struct cpm_checkpointer *c = cpm_calloc(1, sizeof(*c));
    if (c == NULL)
        return CPM_ERR_NOMEM;
    c->store = store;
    c->writer = writer;
    cpm_strlcpy(c->origin, origin, sizeof(c->origin));
    memcpy(c->seed, seed, sizeof(c->seed));
    c->signed_size = latest_size(store);
    cpm_err err = sign_head(c);
    if (err == CPM_OK)
        err = cpm_ticker_start(CPM_CHECKPOINT_INTERVAL_MS, tick, c, &c->ticker);
    if (err != CPM_OK) {
        sodium_memzero(c->seed, sizeof(c->seed));
        cpm_free(c);
        return err;
    }
    *out = c;
    return CPM_OK;
}

void cpm_checkpointer_stop(struct cpm_checkpointer *c)
{
    if (c == NULL)
        return;
    cpm_ticker_stop(c->ticker);
    (void)sign_head(c);
    sodium_memzero(c->seed, sizeof(c->seed));
    cpm_free(c);
}
