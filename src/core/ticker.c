/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ticker.c — a periodic thread on a condition variable, so stop never
 * waits out an interval.
 */
#include "core/common.h"

#include <pthread.h>
#include <time.h>

#include "core/alloc.h"
#include "core/ticker.h"

struct cpm_ticker {
    unsigned interval_ms;
    void (*tick)(void *ctx);
    void *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

static struct timespec deadline(unsigned interval_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)(interval_ms % 1000) * 1000000;
    until.tv_sec += interval_ms / 1000 + until.tv_nsec / 1000000000;
    until.tv_nsec %= 1000000000;
    return until;
}

static void *run(void *arg)
{
    struct cpm_ticker *t = arg;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        struct timespec until = deadline(t->interval_ms);
        while (!t->stopping && pthread_cond_timedwait(&t->wake, &t->lock, &until) == 0)
            ; /* woken early without a stop: wait out the interval */
        if (t->stopping)
            break;
        pthread_mutex_unlock(&t->lock);
        t->tick(t->ctx);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

cpm_err cpm_ticker_start(unsigned interval_ms, void (*tick)(void *ctx), void *ctx,
                         struct cpm_ticker **out)
{
    struct cpm_ticker *t = cpm_calloc(1, sizeof(*t));
    if (t == NULL)
        return CPM_ERR_NOMEM;
    t->interval_ms = interval_ms;
    t->tick = tick;
    t->ctx = ctx;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    if (pthread_create(&t->thread, NULL, run, t) != 0) {
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
        cpm_free(t);
        return CPM_ERR_INTERNAL;
    }
    *out = t;
    return CPM_OK;
}

void cpm_ticker_stop(struct cpm_ticker *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    cpm_free(t);
}
