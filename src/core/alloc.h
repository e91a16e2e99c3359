/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alloc.h — counted, fault-injectable heap allocation.
 *
 * Every allocation in OpenCPM (and jansson's: alloc.c installs itself before main)
 * goes through these wrappers so /metrics can report the bytes in use and
 * tests can make the n-th allocation fail. Sizes that come from a request
 * must be checked against a limit before they get here.
 *
 * Thread safety: all functions may be called from any thread.
 */
#ifndef CPM_CORE_ALLOC_H
#define CPM_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Returns owned memory or NULL when out of memory (or when a test fault fires). */
void *cpm_malloc(size_t size);
void *cpm_calloc(size_t count, size_t size);
void *cpm_realloc(void *ptr, size_t size);
/* cpm_free(NULL) is a no-op. */
void cpm_free(void *ptr);
/* Returns an owned copy of s (len bytes + NUL), or NULL. */
char *cpm_strndup(const char *s, size_t len);
char *cpm_strdup(const char *s);

/* Bytes currently allocated through the wrappers. */
int64_t cpm_alloc_bytes_in_use(void);

/*
 * Test hook: the allocation after `count` more successful ones fails.
 * A negative count disables the fault. Not for production use.
 */
void cpm_alloc_fail_after(int64_t count);

#endif /* CPM_CORE_ALLOC_H */
