/* SPDX-License-Identifier: Apache-2.0 */
/*
 * index_saver.c — see index_saver.h. One ticker thread; a save of 10 M
 * subjects takes about two seconds of one core and writes ≈ 560 MB.
 */
#include "core/common.h"

#include <limits.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/ticker.h"
#include "server/index_saver.h"

struct cpm_index_saver {
    struct cpm_store *store;
    struct cpm_writer *writer;
    struct cpm_index *ix;
    char path[PATH_MAX];
    struct cpm_index_mark saved; /* what the last save reflected */
    bool any_saved;
    struct cpm_ticker *ticker;
};

static void save(void *ctx)
{
    struct cpm_index_saver *s = ctx;
    struct cpm_index_mark mark;
    if (cpm_writer_refusal(s->writer) != NULL || cpm_index_degraded(s->ix) ||
        cpm_index_mark_read(s->store, &mark) != CPM_OK)
        return;
    if (s->any_saved && memcmp(&mark, &s->saved, sizeof(mark)) == 0)
        return;                    /* nothing new */
    cpm_writer_barrier(s->writer); /* every batch up to the mark is in the index now */
    if (cpm_index_save(s->ix, s->path, &mark) == CPM_OK) {
        s->saved = mark;
        s->any_saved = true;
    }
}

cpm_err cpm_index_saver_start(struct cpm_store *store, struct cpm_writer *writer,
                              struct cpm_index *ix, const char *path, unsigned interval_s,
                              bool current, struct cpm_index_saver **out)
{
    struct cpm_index_saver *s = cpm_calloc(1, sizeof(*s));
    if (s == NULL)
        return CPM_ERR_NOMEM;
    s->store = store;
    s->writer = writer;
    s->ix = ix;
    cpm_strlcpy(s->path, path, sizeof(s->path));
    s->any_saved = current && cpm_index_mark_read(store, &s->saved) == CPM_OK;
    cpm_err err = cpm_ticker_start(interval_s * 1000u, save, s, &s->ticker);
    if (err != CPM_OK) {
        cpm_free(s);
        return err;
    }
    *out = s;
    return CPM_OK;
}

void cpm_index_saver_stop(struct cpm_index_saver *s)
{
    if (s == NULL)
        return;
    cpm_ticker_stop(s->ticker);
    cpm_free(s);
}
