/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ticker.h — a thread that calls a function every interval until stopped:
 * what the checkpointer, the scheduler and the log flusher run on. Stopping wakes it at
 * once and waits for the call in progress to end.
 */
#ifndef CPM_CORE_TICKER_H
#define CPM_CORE_TICKER_H

#include "core/common.h"

struct cpm_ticker;

/* Starts calling tick(ctx) every interval_ms (the first call after one interval). */
cpm_err cpm_ticker_start(unsigned interval_ms, void (*tick)(void *ctx), void *ctx,
                         struct cpm_ticker **out) CPM_MUST_CHECK;
/* Stops the thread and frees t; NULL is a no-op. */
void cpm_ticker_stop(struct cpm_ticker *t);

#endif /* CPM_CORE_TICKER_H */
