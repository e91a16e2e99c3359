/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keymap.c — open addressing over keys that are already uniform hashes
 * (keymap.h): a key's first 8 bytes pick its slot.
 */
#include "core/common.h"

#include "core/alloc.h"
#include "core/keymap.h"

#define LOAD_PERCENT_MAX 70
#define CAP_MIN          1024

void cpm_keymap_init(struct cpm_keymap *m, size_t value_bytes, size_t count_max)
{
    CPM_ASSERT(value_bytes % 8 == 0);
    memset(m, 0, sizeof(*m));
    m->value_bytes = value_bytes;
    m->slot_bytes = (CPM_KEYMAP_KEY_BYTES + value_bytes + 1 + 7) & ~(size_t)7;
    m->count_max = count_max;
}

void cpm_keymap_release(struct cpm_keymap *m)
{
    cpm_free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

/* A slot: the key, the value (8-byte aligned), then a byte set when the slot is used. */
static uint8_t *slot_at(const struct cpm_keymap *m, size_t i)
{
    return m->slots + i * m->slot_bytes;
}

static bool used(const struct cpm_keymap *m, const uint8_t *slot)
{
    return slot[CPM_KEYMAP_KEY_BYTES + m->value_bytes] != 0;
}

/* The slot holding key, or the empty one where it would go. */
static uint8_t *find(const struct cpm_keymap *m, const uint8_t key[CPM_KEYMAP_KEY_BYTES])
{
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        uint8_t *slot = slot_at(m, i);
        if (!used(m, slot) || memcmp(slot, key, CPM_KEYMAP_KEY_BYTES) == 0)
            return slot;
    }
}

static bool grow(struct cpm_keymap *m)
{
    size_t cap = m->cap ? m->cap * 2 : CAP_MIN;
    struct cpm_keymap bigger = *m;
    bigger.cap = cap;
    bigger.slots = cpm_calloc(cap, m->slot_bytes);
    if (bigger.slots == NULL)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        const uint8_t *slot = slot_at(m, i);
        if (used(m, slot))
            memcpy(find(&bigger, slot), slot, m->slot_bytes);
    }
    cpm_free(m->slots);
    *m = bigger;
    return true;
}

void *cpm_keymap_put(struct cpm_keymap *m, const uint8_t key[CPM_KEYMAP_KEY_BYTES], bool *added)
{
    *added = false;
    if (m->cap > 0) {
        uint8_t *slot = find(m, key);
        if (used(m, slot))
            return slot + CPM_KEYMAP_KEY_BYTES;
    }
    if (m->count == m->count_max)
        return NULL;
    if ((m->count + 1) * 100 > m->cap * LOAD_PERCENT_MAX && !grow(m))
        return NULL;
    uint8_t *slot = find(m, key);
    memcpy(slot, key, CPM_KEYMAP_KEY_BYTES);
    slot[CPM_KEYMAP_KEY_BYTES + m->value_bytes] = 1;
    m->count++;
    *added = true;
    return slot + CPM_KEYMAP_KEY_BYTES;
}

void *cpm_keymap_get(const struct cpm_keymap *m, const uint8_t key[CPM_KEYMAP_KEY_BYTES])
{
    if (m->cap == 0)
        return NULL;
    uint8_t *slot = find(m, key);
    return used(m, slot) ? slot + CPM_KEYMAP_KEY_BYTES : NULL;
}
