/* SPDX-License-Identifier: Apache-2.0 */
/*
 * subject_keys.h — the subject a write is about, with its data key: the
 * one place that loads a subject for writing or prepares a new one.
 *
 * A request that records something about a subject (a consent, an age
 * status, an identifier, a guardian) needs the subject's pseudonym for its
 * leaves and its data key to seal personal fields. A known subject's key is
 * unwrapped; an unknown one is prepared with its pseudonym, a fresh random
 * data key (stored only wrapped) and age status `unknown`, for the write to
 * insert in the same transaction as its events (the store answers CONFLICT
 * when another request created it meanwhile).
 */
#ifndef CPM_API_SUBJECT_KEYS_H
#define CPM_API_SUBJECT_KEYS_H

#include "crypto/keyring.h"
#include "http/app.h"

/*
 * Loads subject id into *subject with its data key in data_key (*is_new
 * false), or prepares a new one created at now_ms (*is_new true). The
 * caller wipes data_key (sodium_memzero) when done. CPM_ERR_CONFLICT when
 * the subject was erased (nothing more is recorded for it), CPM_ERR_CRYPTO
 * when its wrapped key does not open, store errors as they come.
 * Thread safety: any thread.
 */
cpm_err cpm_api_subject_load(const struct cpm_app *app, const char *id, int64_t now_ms,
                             struct cpm_subject *subject, bool *is_new,
                             uint8_t data_key[CPM_DATA_KEY_BYTES]) CPM_MUST_CHECK;

/*
 * Prepares a new subject id created at now_ms into *subject: its pseudonym,
 * a fresh data key (into data_key; the caller wipes it) stored only
 * wrapped, age status `unknown` — for a write that inserts it (a known
 * subject is never prepared again: its data key would be lost).
 * CPM_ERR_CRYPTO. Thread safety: any thread.
 */
cpm_err cpm_api_subject_prepare(const struct cpm_keyring *kr, const char *id, int64_t now_ms,
                                struct cpm_subject *subject,
                                uint8_t data_key[CPM_DATA_KEY_BYTES]) CPM_MUST_CHECK;

#endif /* CPM_API_SUBJECT_KEYS_H */
