/* SPDX-License-Identifier: Apache-2.0 */
/*
 * arena.h — a bump allocator for per-request memory.
 *
 * A request's strings and small structures come from its arena and are all
 * released at once when the request completes; handlers never free
 * piecemeal. Anything that must outlive the request is copied to its owner.
 *
 * Thread safety: an arena belongs to one thread at a time.
 */
#ifndef CPM_CORE_ARENA_H
#define CPM_CORE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include "core/common.h"

struct cpm_arena_chunk;

struct cpm_arena {
    struct cpm_arena_chunk *head;
    size_t bytes_max; /* total cap; allocation beyond it fails */
    size_t bytes_used;
};

/* Initialises an empty arena (caller's storage) that may hold bytes_max bytes. */
void cpm_arena_init(struct cpm_arena *arena, size_t bytes_max);
/* Frees every chunk; the arena may be reused after cpm_arena_init. */
void cpm_arena_release(struct cpm_arena *arena);

/* Returns size bytes aligned to 16, owned by the arena; NULL when over the cap or OOM. */
void *cpm_arena_alloc(struct cpm_arena *arena, size_t size);
/* Returns a NUL-terminated copy of s[0..len) in the arena, or NULL. */
char *cpm_arena_strndup(struct cpm_arena *arena, const char *s, size_t len);
/* printf into the arena; NULL on OOM or over the cap. */
char *cpm_arena_printf(struct cpm_arena *arena, const char *fmt, ...) CPM_PRINTF(2, 3);

#endif /* CPM_CORE_ARENA_H */
