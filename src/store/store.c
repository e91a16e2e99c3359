/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.c — backend-independent parts of the store: choosing the backend
 * for a data directory, releasing the structs the backends fill, and
 * questions answered from the ops alone.
 */
#include "core/common.h"

#include <limits.h>

#include "core/alloc.h"
#include "core/log.h"
#include "store/store.h"

/* DIR/cpm.db into path; false (with a fault) when it does not fit. */
static bool store_path(const char *data_dir, char path[PATH_MAX], struct cpm_detail *detail)
{
    int n = snprintf(path, PATH_MAX, "%s/%s", data_dir, CPM_STORE_SQLITE_FILE);
    if (n >= 0 && n < PATH_MAX)
        return true;
    cpm_detail_add(detail, "", "the data directory path is too long: %s", data_dir);
    return false;
}

cpm_err cpm_store_open(const char *data_dir, struct cpm_store **out, struct cpm_detail *detail)
{
    const struct cpm_store_ops *ops = &cpm_store_sqlite_ops;
    char path[PATH_MAX];
    CPM_ASSERT(data_dir != NULL && out != NULL);
    *out = NULL;
    if (ops->version < CPM_STORE_OPS_VERSION) {
        cpm_log_error("store", "backend %s has ops version %d, need %d", ops->name, ops->version,
                      CPM_STORE_OPS_VERSION);
        return CPM_ERR_INTERNAL;
    }
    if (!store_path(data_dir, path, detail))
        return CPM_ERR_IO;
    return ops->open(path, out, detail);
}

cpm_err cpm_store_open_readonly(const char *data_dir, bool immutable, struct cpm_store **out,
                                struct cpm_detail *detail)
{
    const struct cpm_store_ops *ops = &cpm_store_sqlite_ops;
    char path[PATH_MAX];
    *out = NULL;
    if (!store_path(data_dir, path, detail))
        return CPM_ERR_IO;
    return ops->open_readonly(path, immutable, out, detail);
}

void cpm_store_close(struct cpm_store *store)
{
    if (store != NULL)
        store->ops->close(store);
}

void cpm_doc_release(struct cpm_doc *doc)
{
    if (doc == NULL)
        return;
    cpm_free(doc->body);
    doc->body = NULL;
}

void cpm_notice_version_release(struct cpm_notice_version *v)
{
    if (v == NULL)
        return;
    cpm_free(v->body);
    v->body = NULL;
}

void cpm_event_release(struct cpm_event *e)
{
    if (e == NULL)
        return;
    cpm_free(e->leaf);
    cpm_free(e->sealed);
    e->leaf = NULL;
    e->sealed = NULL;
}

void cpm_checkpoint_release(struct cpm_checkpoint *cp)
{
    if (cp == NULL)
        return;
    cpm_free(cp->note);
    cp->note = NULL;
}

void cpm_idempotency_release(struct cpm_idempotency *r)
{
    if (r == NULL)
        return;
    cpm_free(r->response);
    r->response = NULL;
}

void cpm_rights_request_release(struct cpm_rights_request *r)
{
    if (r == NULL)
        return;
    cpm_free(r->note_sealed);
    cpm_free(r->reply);
    cpm_free(r->reason);
    r->note_sealed = NULL;
    r->reply = NULL;
    r->reason = NULL;
}

static cpm_err guardian_visit(void *ctx, const struct cpm_guardian_link *link)
{
    const char **guardian_id = ctx;
    if (*guardian_id != NULL && strcmp(link->guardian_id, *guardian_id) == 0)
        *guardian_id = NULL; /* found */
    return CPM_OK;
}

cpm_err cpm_store_guardian_linked(struct cpm_store *store, const char *child_id,
                                  const char *guardian_id, bool *linked)
{
    const char *wanted = guardian_id;
    cpm_err err = store->ops->guardian_list(store, child_id, CPM_GUARDIANS_PER_SUBJECT_MAX,
                                            guardian_visit, &wanted);
    *linked = err == CPM_OK && wanted == NULL;
    return err;
}
