/* SPDX-License-Identifier: Apache-2.0 */
/*
 * subject_keys.c — loading a subject for a write, or preparing a new one
 * with its pseudonym and a fresh data key (consents.c, subjects.c).
 */
#include "core/common.h"

#include "api/subject_keys.h"

cpm_err cpm_api_subject_load(const struct cpm_app *app, const char *id, int64_t now_ms,
                             struct cpm_subject *subject, bool *is_new,
                             uint8_t data_key[CPM_DATA_KEY_BYTES])
{
    const struct cpm_keyring *kr = app->keyring;
    *is_new = false;
    cpm_err err = app->store->ops->subject_get(app->store, id, subject);
    if (err == CPM_OK) {
        if (subject->erased_ms != 0)
            return CPM_ERR_CONFLICT;
        return cpm_data_key_unwrap(kr, id, subject->wrapped_key, subject->wrapped_key_len,
                                   data_key);
    }
    if (err != CPM_ERR_NOT_FOUND)
        return err;
    *is_new = true;
    return cpm_api_subject_prepare(kr, id, now_ms, subject, data_key);
}

cpm_err cpm_api_subject_prepare(const struct cpm_keyring *kr, const char *id, int64_t now_ms,
                                struct cpm_subject *subject, uint8_t data_key[CPM_DATA_KEY_BYTES])
{
    memset(subject, 0, sizeof(*subject));
    cpm_strlcpy(subject->id, id, sizeof(subject->id));
    cpm_subject_pseudonym(kr, id, subject->pseudonym);
    cpm_strlcpy(subject->age_status, "unknown", sizeof(subject->age_status));
    subject->created_ms = now_ms;
    return cpm_data_key_new(kr, id, data_key, subject->wrapped_key, sizeof(subject->wrapped_key),
                            &subject->wrapped_key_len);
}
