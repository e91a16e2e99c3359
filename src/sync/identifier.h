/* SPDX-License-Identifier: Apache-2.0 */
/*
 * identifier.h — a subject's identifier (phone, e-mail, …) in the clear,
 * opened with the subject's data key for the moment it is needed: by the
 * connectors that tell a downstream system about the subject, and by the
 * one-time code sender. It is never stored or logged in the clear.
 */
#ifndef CPM_SYNC_IDENTIFIER_H
#define CPM_SYNC_IDENTIFIER_H

#include "core/common.h"

struct cpm_store;
struct cpm_keyring;

/*
 * Opens subject_id's first identifier of type into out (cap bytes, NUL
 * terminated). CPM_ERR_NOT_FOUND when the subject is unknown, erased, has
 * none of that type, or keyring is NULL; CPM_ERR_CRYPTO when it does not
 * open; store errors as they come. The caller wipes out when done.
 * Thread safety: any thread.
 */
cpm_err cpm_subject_identifier_open(struct cpm_store *store, const struct cpm_keyring *keyring,
                                    const char *subject_id, const char *type, char *out,
                                    size_t cap) CPM_MUST_CHECK;

#endif /* CPM_SYNC_IDENTIFIER_H */
