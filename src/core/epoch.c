/* SPDX-License-Identifier: Apache-2.0 */
/*
 * epoch.c — epoch-based reclamation (see epoch.h).
 *
 * A global epoch counter; one slot per reader thread holding the epoch it
 * entered in (0 while outside). Retiring records the current epoch and
 * then advances it, so a reader that entered later cannot have seen the
 * retired pointer (the writer published its replacement first). An item
 * retired in epoch E is freed once every occupied slot holds an epoch
 * above E. The publish, the slot store and the slot scan are sequentially
 * consistent, which is what makes "a reader not yet in a slot will see the
 * new pointer" true.
 */
#include "core/common.h"

#include <pthread.h>
#include <stdatomic.h>

#include "core/alloc.h"
#include "core/epoch.h"

struct retired {
    void *ptr;
    void (*free_fn)(void *);
    uint64_t epoch;
    struct retired *next;
};

struct slot {
    _Atomic uint64_t epoch;
    char pad[64 - sizeof(uint64_t)]; /* one cache line per reader */
};

static _Atomic uint64_t global_epoch = 1;
static struct slot slots[CPM_EPOCH_READERS_MAX];
static atomic_int slots_used;
static _Thread_local int my_slot = -1;

static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;
static struct retired *retired_head;

bool cpm_epoch_enter(void)
{
    if (my_slot < 0) {
        int n = atomic_fetch_add(&slots_used, 1);
        if (n >= CPM_EPOCH_READERS_MAX)
            return false;
        my_slot = n;
    }
    atomic_store(&slots[my_slot].epoch, atomic_load(&global_epoch));
    return true;
}

void cpm_epoch_exit(void)
{
    CPM_ASSERT(my_slot >= 0);
    atomic_store_explicit(&slots[my_slot].epoch, 0, memory_order_release);
}

void cpm_epoch_retire(void *ptr, void (*free_fn)(void *))
{
    if (ptr == NULL)
        return;
    struct retired *r = cpm_malloc(sizeof(*r));
    if (r == NULL)
        return; /* no memory to remember it: leak it rather than free it under a reader */
    pthread_mutex_lock(&retired_lock);
    *r = (struct retired){.ptr = ptr, .free_fn = free_fn, .epoch = atomic_load(&global_epoch)};
    r->next = retired_head;
    retired_head = r;
    atomic_fetch_add(&global_epoch, 1);
    pthread_mutex_unlock(&retired_lock);
}

/* The oldest epoch a reader is in; UINT64_MAX when nobody reads. */
static uint64_t oldest_reader(void)
{
    uint64_t oldest = UINT64_MAX;
    int used = atomic_load(&slots_used);
    for (int i = 0; i < used && i < CPM_EPOCH_READERS_MAX; i++) {
        uint64_t e = atomic_load(&slots[i].epoch);
        if (e != 0 && e < oldest)
            oldest = e;
    }
    return oldest;
}

static size_t free_before(uint64_t epoch)
{
    size_t waiting = 0;
    struct retired *doomed = NULL;
    pthread_mutex_lock(&retired_lock);
    for (struct retired **p = &retired_head; *p != NULL;) {
        struct retired *r = *p;
        if (r->epoch < epoch) {
            *p = r->next;
            r->next = doomed;
            doomed = r;
        } else {
            waiting++;
            p = &r->next;
        }
    }
    pthread_mutex_unlock(&retired_lock);
    for (struct retired *r = doomed, *next; r != NULL; r = next) {
        next = r->next;
        r->free_fn(r->ptr);
        cpm_free(r);
    }
    return waiting;
}

size_t cpm_epoch_reclaim(void)
{
    return free_before(oldest_reader());
}

void cpm_epoch_drain(void)
{
    free_before(UINT64_MAX);
}
