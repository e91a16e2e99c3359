/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rate_limit.c — token buckets (see the header).
 */
#include "core/common.h"

#include <pthread.h>

#include "http/rate_limit.h"

#define SLOTS   4096 /* buckets */
#define STRIPES 64   /* locks, each guarding SLOTS / STRIPES buckets */

struct bucket {
    uint64_t key;
    int64_t tokens_ms; /* the tokens held, in units of every_ms: a token is every_ms */
    int64_t at_ms;     /* when tokens_ms was last brought up to date */
};

static struct bucket buckets[SLOTS];
static pthread_mutex_t stripes[STRIPES];
static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;

static void stripes_init(void)
{
    for (size_t i = 0; i < STRIPES; i++)
        CPM_ASSERT(pthread_mutex_init(&stripes[i], NULL) == 0);
}

uint64_t cpm_rate_limit_key(const char *scope, const char *name)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)scope; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h *= 1099511628211ull; /* the separator */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h | 1; /* 0 marks a free slot */
}

bool cpm_rate_limit_take(uint64_t key, int64_t now_ms, int burst, int64_t every_ms,
                         int64_t *retry_after_ms)
{
    CPM_ASSERT(burst > 0 && every_ms > 0);
    pthread_once(&stripes_once, stripes_init);
    size_t slot = key % SLOTS;
    int64_t full = (int64_t)burst * every_ms;
    pthread_mutex_t *lock = &stripes[slot % STRIPES];
    pthread_mutex_lock(lock);
    struct bucket *b = &buckets[slot];
    if (b->key != key) /* free, or another key's: start full */
        *b = (struct bucket){.key = key, .tokens_ms = full, .at_ms = now_ms};
    int64_t earned = now_ms > b->at_ms ? now_ms - b->at_ms : 0;
    b->tokens_ms = b->tokens_ms + earned < full ? b->tokens_ms + earned : full;
    b->at_ms = now_ms;
    bool ok = b->tokens_ms >= every_ms;
    if (ok)
        b->tokens_ms -= every_ms;
    else
        *retry_after_ms = every_ms - b->tokens_ms;
    pthread_mutex_unlock(lock);
    return ok;
}
