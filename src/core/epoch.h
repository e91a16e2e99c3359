/* SPDX-License-Identifier: Apache-2.0 */
/*
 * epoch.h — epoch-based reclamation: memory that readers may still be
 * looking at is freed only once every reader has moved on.
 *
 * Readers (HTTP threads deciding) never take a lock: they announce the
 * epoch they read in (cpm_epoch_enter), read shared structures, and leave
 * (cpm_epoch_exit). A writer that replaces a structure retires the old one
 * (cpm_epoch_retire); cpm_epoch_reclaim frees what was retired before the
 * oldest epoch any reader is still in. Sections must be short (a decision),
 * never block, and never nest.
 *
 * Thread safety: enter/exit from any thread (each thread takes a reader
 * slot on first use, up to CPM_EPOCH_READERS_MAX threads); retire and
 * reclaim from one thread at a time (the writer), or under a caller's lock.
 */
#ifndef CPM_CORE_EPOCH_H
#define CPM_CORE_EPOCH_H

#include "core/common.h"

#define CPM_EPOCH_READERS_MAX 1024

/*
 * Enters a read section. False when this thread could not get a reader
 * slot (more than CPM_EPOCH_READERS_MAX threads ever read): the caller
 * must not read shared structures then.
 */
bool cpm_epoch_enter(void);
void cpm_epoch_exit(void);

/* Frees ptr with free_fn once no reader can see it any more. */
void cpm_epoch_retire(void *ptr, void (*free_fn)(void *));

/* Frees what no reader can see any more; returns how many are still waiting. */
size_t cpm_epoch_reclaim(void);

/* Frees everything retired, readers or not: only when no thread reads (exit, tests). */
void cpm_epoch_drain(void);

#endif /* CPM_CORE_EPOCH_H */
