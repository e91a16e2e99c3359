/* SPDX-License-Identifier: Apache-2.0 */
/*
 * arena.c — chunked bump allocation. Chunks grow geometrically from 4 KiB;
 * a request larger than a chunk gets a chunk of its own.
 */
#include "core/common.h"

#include "core/alloc.h"
#include "core/arena.h"

#define CHUNK_BYTES_MIN 4096
#define ALIGN           16

struct cpm_arena_chunk {
    struct cpm_arena_chunk *next;
    size_t size;
    size_t used;
    _Alignas(ALIGN) unsigned char data[];
};

void cpm_arena_init(struct cpm_arena *arena, size_t bytes_max)
{
    arena->head = NULL;
    arena->bytes_max = bytes_max;
    arena->bytes_used = 0;
}

void cpm_arena_release(struct cpm_arena *arena)
{
    struct cpm_arena_chunk *chunk = arena->head;
    while (chunk != NULL) {
        struct cpm_arena_chunk *next = chunk->next;
        cpm_free(chunk);
        chunk = next;
    }
    arena->head = NULL;
    arena->bytes_used = 0;
}

void *cpm_arena_alloc(struct cpm_arena *arena, size_t size)
{
    size_t rounded = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (rounded < size || rounded > arena->bytes_max - arena->bytes_used)
        return NULL;
    struct cpm_arena_chunk *chunk = arena->head;
    if (chunk == NULL || chunk->size - chunk->used < rounded) {
        size_t want = chunk == NULL ? CHUNK_BYTES_MIN : chunk->size * 2;
        if (want < rounded)
            want = rounded;
        struct cpm_arena_chunk *fresh = cpm_malloc(sizeof(*fresh) + want);
        if (fresh == NULL)
            return NULL;
        fresh->next = chunk;
        fresh->size = want;
        fresh->used = 0;
        arena->head = fresh;
        chunk = fresh;
    }
    void *p = chunk->data + chunk->used;
    chunk->used += rounded;
    arena->bytes_used += rounded;
    return p;
}

char *cpm_arena_strndup(struct cpm_arena *arena, const char *s, size_t len)
{
    char *copy = cpm_arena_alloc(arena, len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *cpm_arena_printf(struct cpm_arena *arena, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *out = cpm_arena_alloc(arena, (size_t)n + 1);
    if (out == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return out;
}
