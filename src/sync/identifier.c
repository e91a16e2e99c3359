/* SPDX-License-Identifier: Apache-2.0 */
/*
 * identifier.c — a subject's identifier opened with its data key (see the
 * header).
 */
#include "core/common.h"

#include <sodium.h>

#include "crypto/keyring.h"
#include "store/store.h"
#include "sync/identifier.h"

struct identifier_ctx {
    const char *type;
    const uint8_t *key;
    const char *subject_id;
    char *out;
    size_t cap;
    bool found;
};

static cpm_err identifier_visit(void *ctx, const struct cpm_identity *identity)
{
    struct identifier_ctx *ic = ctx;
    size_t len = 0;
    if (ic->found || strcmp(identity->type, ic->type) != 0)
        return CPM_OK;
    cpm_err err = cpm_field_open(ic->key, ic->subject_id, identity->type, identity->sealed,
                                 identity->sealed_len, ic->out, ic->cap - 1, &len);
    if (err == CPM_OK) {
        ic->out[len] = '\0';
        ic->found = true;
    }
    return err;
}

cpm_err cpm_subject_identifier_open(struct cpm_store *store, const struct cpm_keyring *keyring,
                                    const char *subject_id, const char *type, char *out, size_t cap)
{
    struct cpm_subject s;
    uint8_t key[CPM_DATA_KEY_BYTES];
    CPM_ASSERT(cap > 0);
    cpm_err err = store->ops->subject_get(store, subject_id, &s);
    if (err == CPM_OK && (s.wrapped_key_len == 0 || keyring == NULL))
        err = CPM_ERR_NOT_FOUND; /* erased: nothing to say about them */
    if (err == CPM_OK)
        err = cpm_data_key_unwrap(keyring, subject_id, s.wrapped_key, s.wrapped_key_len, key);
    struct identifier_ctx ic = {type, key, subject_id, out, cap, false};
    if (err == CPM_OK)
        err = store->ops->identity_list(store, subject_id, 32, identifier_visit, &ic);
    sodium_memzero(key, sizeof(key));
    return err == CPM_OK && !ic.found ? CPM_ERR_NOT_FOUND : err;
}
