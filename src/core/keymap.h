/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keymap.h — a hash map from 16-byte keys that are hashes already (BLAKE2b,
 * HMAC) to a small fixed-size value, with a maximum number of entries.
 * Open addressing, linear probing, grown at 70 % load; nothing is removed.
 * Memory comes from cpm_calloc. No I/O.
 *
 * Thread safety: a map belongs to one thread.
 */
#ifndef CPM_CORE_KEYMAP_H
#define CPM_CORE_KEYMAP_H

#include "core/common.h"

#define CPM_KEYMAP_KEY_BYTES 16

struct cpm_keymap {
    uint8_t *slots; /* cap slots of slot_bytes: the key, the value, a used byte */
    size_t value_bytes, slot_bytes;
    size_t cap, count, count_max;
};

/* An empty map of values of value_bytes (a multiple of 8: values are 8-byte aligned), holding at
 * most count_max keys (caller's storage). */
void cpm_keymap_init(struct cpm_keymap *m, size_t value_bytes, size_t count_max);
/* Frees the map's memory. */
void cpm_keymap_release(struct cpm_keymap *m);

/*
 * The value of key: the stored one (*added false) or a new one, zeroed
 * (*added true). NULL when the map is full (count_max) or out of memory.
 * The pointer is valid until the next put.
 */
void *cpm_keymap_put(struct cpm_keymap *m, const uint8_t key[CPM_KEYMAP_KEY_BYTES], bool *added);
/* The value of key, or NULL when absent. */
void *cpm_keymap_get(const struct cpm_keymap *m, const uint8_t key[CPM_KEYMAP_KEY_BYTES]);

#endif /* CPM_CORE_KEYMAP_H */
