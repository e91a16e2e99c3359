/* SPDX-License-Identifier: Apache-2.0 */
/*
 * index_saver.h — the index written to its snapshot file every few minutes
 * while cpmd runs, so a start after a crash reads the snapshot and catches
 * up from the store instead of reading the whole store (docs/DECISIONS.md).
 */
#ifndef CPM_SERVER_INDEX_SAVER_H
#define CPM_SERVER_INDEX_SAVER_H

#include "core/common.h"
#include "index/index.h"
#include "store/writer.h"

struct cpm_index_saver;

/*
 * Every interval_s seconds, when the store moved since the last save: the
 * store's mark read, an empty request through the writer (so the index has
 * applied everything up to that mark), then ix saved to path while the
 * writer goes on. Nothing is saved while writes are refused or the index
 * is degraded. current: the file at path already reflects the store as it
 * is now (a start that read it and found nothing newer), so the first save
 * waits for a change too.
 */
cpm_err cpm_index_saver_start(struct cpm_store *store, struct cpm_writer *writer,
                              struct cpm_index *ix, const char *path, unsigned interval_s,
                              bool current, struct cpm_index_saver **out) CPM_MUST_CHECK;
/* Waits for a save in progress, then stops; NULL is a no-op. */
void cpm_index_saver_stop(struct cpm_index_saver *s);

#endif /* CPM_SERVER_INDEX_SAVER_H */
