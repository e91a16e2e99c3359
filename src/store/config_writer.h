/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_writer.h — validated configuration into the store.
 *
 * The one path by which a configuration document or notice version is
 * written, whoever writes it (the HTTP API, `cpm seed`): the domain rules
 * run (src/domain/config.c) with references looked up in the store, then
 * the store op runs. Nothing is written unless every rule passed.
 */
#ifndef CPM_STORE_CONFIG_WRITER_H
#define CPM_STORE_CONFIG_WRITER_H

#include <jansson.h>

#include "domain/config.h"
#include "store/store.h"

/*
 * Validates doc (a whole document with `id`; completed in place with its
 * defaults) and creates it. CPM_ERR_VALIDATION / CPM_ERR_CONFLICT (field
 * `id`, or `region` for a policy whose region and property are taken) with
 * detail; CPM_ERR_STORE; CPM_ERR_NOMEM.
 */
cpm_err cpm_config_create(struct cpm_store *store, enum cpm_doc_kind kind, json_t *doc,
                          struct cpm_detail *detail) CPM_MUST_CHECK;

/*
 * Validates doc and replaces the stored one if its revision is still
 * expected_revision (CPM_ERR_PRECONDITION otherwise). Same errors as create,
 * plus CPM_ERR_NOT_FOUND.
 */
cpm_err cpm_config_update(struct cpm_store *store, enum cpm_doc_kind kind, json_t *doc,
                          int64_t expected_revision, struct cpm_detail *detail) CPM_MUST_CHECK;

/* Reads kind/id as a JSON document with `id` (owned) into *out. NOT_FOUND, STORE, NOMEM. */
cpm_err cpm_config_read(struct cpm_store *store, enum cpm_doc_kind kind, const char *id,
                        json_t **out, int64_t *revision) CPM_MUST_CHECK;

/*
 * Validates version for the existing notice notice_id (completing it with
 * hashes and defaults) and publishes it; *out_version gets its number.
 * CPM_ERR_NOT_FOUND when the notice does not exist.
 */
cpm_err cpm_config_publish(struct cpm_store *store, const char *notice_id, json_t *version,
                           int64_t *out_version, struct cpm_detail *detail) CPM_MUST_CHECK;

/*
 * A store-backed lookup for the domain rules, caching what it reads for
 * one validation: documents it returns live until cpm_config_cache_release.
 */
struct cpm_config_cache {
    struct cpm_store *store;
    json_t *docs; /* "kind/id" → document (with id) or null */
};
void cpm_config_cache_init(struct cpm_config_cache *cache, struct cpm_store *store,
                           struct cpm_config_lookup *out);
void cpm_config_cache_release(struct cpm_config_cache *cache);

/* Every document of kind (with id) into *out, an owned array. STORE, NOMEM. */
cpm_err cpm_config_all(struct cpm_store *store, enum cpm_doc_kind kind,
                       json_t **out) CPM_MUST_CHECK;

/* Goes up on every configuration change this process makes. */
uint64_t cpm_config_generation(void);

/*
 * Every policy, from a process-wide cache refreshed when this process changed
 * a policy or after CPM_POLICY_CACHE_MS (changes by `cpm seed` in another
 * process). *out is a new reference (json_decref). Thread safe.
 */
#define CPM_POLICY_CACHE_MS 1000
cpm_err cpm_config_policies_cached(struct cpm_store *store, json_t **out) CPM_MUST_CHECK;

/*
 * A published notice version's body, parsed once and kept: versions are
 * immutable, so the cache never goes stale. *out is borrowed for the life
 * of the process; read it, never change its reference count. NOT_FOUND,
 * STORE, NOMEM. Thread safe.
 */
cpm_err cpm_config_notice_version_cached(struct cpm_store *store, const char *notice,
                                         int64_t version, const json_t **out) CPM_MUST_CHECK;

/* Parses a stored document body and puts `id` first; NULL on OOM or a corrupt body. */
json_t *cpm_config_doc_json(const struct cpm_doc *doc);

#endif /* CPM_STORE_CONFIG_WRITER_H */
