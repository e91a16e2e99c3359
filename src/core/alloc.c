/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alloc.c — counted allocation. Each block carries a 16-byte header holding
 * its size, so frees can be subtracted without a lookup table.
 */
#include "core/common.h"

#include <jansson.h>
#include <stdatomic.h>

#include "core/alloc.h"

#define HEADER_BYTES 16 /* keeps the user pointer 16-byte aligned */

static atomic_int_least64_t bytes_in_use;
static atomic_int_least64_t fail_countdown = -1;

static bool should_fail(void)
{
    int64_t left = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (left < 0)
        return false;
    return atomic_fetch_sub(&fail_countdown, 1) == 0;
}

void *cpm_malloc(size_t size)
{
    if (size > SIZE_MAX - HEADER_BYTES || should_fail())
        return NULL;
    unsigned char *block = malloc(size + HEADER_BYTES);
    if (block == NULL)
        return NULL;
    memcpy(block, &size, sizeof(size));
    atomic_fetch_add_explicit(&bytes_in_use, (int64_t)size, memory_order_relaxed);
    return block + HEADER_BYTES;
}

void *cpm_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = cpm_malloc(count * size);
    if (p != NULL)
        memset(p, 0, count * size);
    return p;
}

static size_t block_size(const void *ptr)
{
    size_t size;
    memcpy(&size, (const unsigned char *)ptr - HEADER_BYTES, sizeof(size));
    return size;
}

void *cpm_realloc(void *ptr, size_t size)
{
    if (ptr == NULL)
        return cpm_malloc(size);
    if (size > SIZE_MAX - HEADER_BYTES || should_fail())
        return NULL;
    size_t old = block_size(ptr);
    unsigned char *block = realloc((unsigned char *)ptr - HEADER_BYTES, size + HEADER_BYTES);
    if (block == NULL)
        return NULL;
    memcpy(block, &size, sizeof(size));
    atomic_fetch_add_explicit(&bytes_in_use, (int64_t)size - (int64_t)old, memory_order_relaxed);
    return block + HEADER_BYTES;
}

void cpm_free(void *ptr)
{
    if (ptr == NULL)
        return;
    atomic_fetch_sub_explicit(&bytes_in_use, (int64_t)block_size(ptr), memory_order_relaxed);
    free((unsigned char *)ptr - HEADER_BYTES);
}

char *cpm_strndup(const char *s, size_t len)
{
    char *copy = cpm_malloc(len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *cpm_strdup(const char *s)
{
    return cpm_strndup(s, strlen(s));
}

int64_t cpm_alloc_bytes_in_use(void)
{
    return atomic_load_explicit(&bytes_in_use, memory_order_relaxed);
}

/*
 * Runs before main in every program linking this file, so memory jansson
 * hands out (json_dumps) is always ours to cpm_free.
 */
__attribute__((constructor)) static void install_at_start(void)
{
    json_set_alloc_funcs(cpm_malloc, cpm_free);
}

void cpm_alloc_fail_after(int64_t count)
{
    atomic_store(&fail_countdown, count);
}
