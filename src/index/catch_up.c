/* SPDX-License-Identifier: Apache-2.0 */
/*
 * catch_up.c — an index restored from a snapshot brought up to the store:
 * every subject with an event after the snapshot's mark, or a send recorded
 * after it, is cleared and read again (its row, consent states,
 * preferences and recent sends), so the index answers as a full load
 * would. Everything else in a snapshot is as it was at the mark: a live
 * save may also hold later changes, but only of subjects read again here.
 * docs/DECISIONS.md.
 */
#include "core/common.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/epoch.h"
#include "core/log.h"
#include "core/textbuf.h"
#include "index/index_internal.h"

struct catch_up {
    struct cpm_index *ix;
    struct memo memo;
    int64_t now_ms;
    struct cpm_textbuf ids; /* the subjects to read again, each NUL-terminated */
    size_t count;
};

static cpm_err changed(void *ctx, const char *subject_id)
{
    struct catch_up *c = ctx;
    c->count++;
    return cpm_textbuf_put(&c->ids, subject_id, strlen(subject_id) + 1) ? CPM_OK : CPM_ERR_NOMEM;
}

static cpm_err put_subject(void *ctx, const char *id, const char *age_status, int64_t erased_seq)
{
    struct catch_up *c = ctx;
    uint64_t key[2];
    cpm__index_hash_memo(c->ix, &c->memo, id, key);
    cpm__index_put_subject(c->ix, key, age_status[0] ? (int)cpm_age_parse(age_status) : -1,
                           erased_seq);
    return CPM_OK;
}

static cpm_err put_state(void *ctx, const struct cpm_state_row *st)
{
    struct catch_up *c = ctx;
    struct xconsent xc;
    uint64_t key[2];
    if (cpm__index_consent_of(c->ix, &c->memo, st, &xc)) {
        cpm__index_hash_memo(c->ix, &c->memo, st->subject_id, key);
        cpm__index_put_consent(c->ix, key, &xc);
    }
    return CPM_OK;
}

static cpm_err put_preferences(void *ctx, const char *subject_id, const char *text)
{
    struct catch_up *c = ctx;
    struct cpm_preferences *p = cpm_malloc(sizeof(*p));
    uint64_t key[2];
    if (p == NULL)
        return CPM_ERR_NOMEM;
    if (cpm__index_preferences_of(text, p)) {
        cpm__index_hash_memo(c->ix, &c->memo, subject_id, key);
        cpm__index_put_preferences(c->ix, key, p);
    }
    cpm_free(p);
    return CPM_OK;
}

static cpm_err put_contact(void *ctx, const struct cpm_contact *ct)
{
    struct catch_up *c = ctx;
    uint64_t key[2];
    cpm__index_hash_memo(c->ix, &c->memo, ct->subject_id, key);
    cpm__index_put_contact(c->ix, key, ct->channel, ct->time_ms, c->now_ms);
    return CPM_OK;
}

/* Reads every listed subject again; the first error. */
static cpm_err read_again(struct catch_up *c, struct cpm_store *store)
{
    struct cpm_index_loader loader = {.ctx = c,
                                      .contacts_since_ms = c->now_ms - CPM_INDEX_SENDS_KEPT_MS,
                                      .subject = put_subject,
                                      .state = put_state,
                                      .preferences = put_preferences,
                                      .contact = put_contact};
    cpm_err err = CPM_OK;
    for (size_t at = 0; err == CPM_OK && at < c->ids.len;) {
        const char *id = c->ids.data + at;
        uint64_t key[2];
        cpm__index_hash(c->ix, id, strlen(id), key);
        cpm__index_clear(c->ix, key);
        err = store->ops->index_load_subject(store, id, &loader);
        at += strlen(id) + 1;
    }
    cpm_epoch_reclaim();
    return err;
}

cpm_err cpm_index_catch_up(struct cpm_index *ix, struct cpm_store *store,
                           const struct cpm_index_mark *since)
{
    struct catch_up c = {.ix = ix, .now_ms = cpm_clock_now_ms()};
    cpm_textbuf_init(&c.ids, SIZE_MAX);
    cpm_err err =
        store->ops->index_changed(store, since->ledger_size, since->contacts, since->contacts_stamp,
                                  CPM_INDEX_CATCH_UP_MAX, changed, &c);
    if (err == CPM_ERR_CONFLICT || err == CPM_ERR_TOO_LARGE) {
        cpm_log_info("index",
                     "the snapshot is not caught up (%s since it was written): "
                     "loading from the store",
                     err == CPM_ERR_CONFLICT ? "the last send it saw was erased"
                                             : "too many changes");
        err = CPM_ERR_CONFLICT;
    } else if (err == CPM_OK) {
        err = read_again(&c, store);
        if (err == CPM_OK)
            cpm_log_info("index", "caught up: %zu subjects read again (%.1f s)", c.count,
                         (double)(cpm_clock_now_ms() - c.now_ms) / 1000.0);
    }
    cpm_textbuf_release(&c.ids);
    return err != CPM_OK ? err : cpm_index_degraded(ix) ? CPM_ERR_NOMEM : CPM_OK;
}
