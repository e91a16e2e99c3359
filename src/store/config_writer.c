/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_writer.c — the domain rules, then the store: the only way
 * configuration gets written.
 */
#include "core/common.h"

#include <pthread.h>
#include <stdatomic.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "store/config_writer.h"

/* Bumped on every configuration write in this process: caches compare it. */
static atomic_uint_least64_t config_generation;

json_t *cpm_config_doc_json(const struct cpm_doc *doc)
{
    json_t *body = json_loads(doc->body, JSON_REJECT_DUPLICATES, NULL);
    json_t *out = json_object();
    if (body == NULL || out == NULL || json_object_set_new(out, "id", json_string(doc->id)) ||
        json_object_update(out, body)) {
        json_decref(body);
        json_decref(out);
        return NULL;
    }
    json_decref(body);
    return out;
}

cpm_err cpm_config_read(struct cpm_store *store, enum cpm_doc_kind kind, const char *id,
                        json_t **out, int64_t *revision)
{
    *out = NULL;
    if (!cpm_config_id_valid(id))
        return CPM_ERR_NOT_FOUND;
    struct cpm_doc doc = {0};
    cpm_err err = store->ops->doc_get(store, kind, id, &doc);
    if (err == CPM_OK) {
        *out = cpm_config_doc_json(&doc);
        err = *out ? CPM_OK : CPM_ERR_STORE;
        if (revision != NULL)
            *revision = doc.revision;
    }
    cpm_doc_release(&doc);
    return err;
}

static const json_t *lookup_doc(void *ctx, enum cpm_doc_kind kind, const char *id, bool *failed)
{
    struct cpm_config_cache *cache = ctx;
    char key[CPM_ID_BYTES_MAX + 32];
    snprintf(key, sizeof(key), "%s/%s", cpm_doc_kind_name(kind), id);
    json_t *hit = json_object_get(cache->docs, key);
    if (hit != NULL)
        return json_is_null(hit) ? NULL : hit;
    json_t *found;
    cpm_err err = cpm_config_read(cache->store, kind, id, &found, NULL);
    if (err != CPM_OK && err != CPM_ERR_NOT_FOUND) {
        *failed = true;
        return NULL;
    }
    if (json_object_set_new(cache->docs, key, found ? found : json_null()) != 0) {
        *failed = true; /* not kept: it would leak or dangle */
        return NULL;
    }
    return found;
}

void cpm_config_cache_init(struct cpm_config_cache *cache, struct cpm_store *store,
                           struct cpm_config_lookup *out)
{
    cache->store = store;
    cache->docs = json_object(); /* on OOM every lookup misses and reports a failure */
    out->fn = lookup_doc;
    out->ctx = cache;
}

void cpm_config_cache_release(struct cpm_config_cache *cache)
{
    json_decref(cache->docs);
    cache->docs = NULL;
}

/* Runs validate(kind or version) with a fresh lookup cache over the store. */
static cpm_err validate(struct cpm_store *store, enum cpm_doc_kind kind, json_t *doc,
                        const json_t *notice, struct cpm_detail *detail)
{
    struct cpm_config_cache cache;
    struct cpm_config_lookup lookup;
    cpm_config_cache_init(&cache, store, &lookup);
    if (cache.docs == NULL)
        return CPM_ERR_NOMEM;
    cpm_err err = notice ? cpm_notice_version_validate(doc, notice, &lookup, detail)
                         : cpm_config_validate(kind, doc, &lookup, detail);
    cpm_config_cache_release(&cache);
    return err;
}

/* The stored body: the document without its id. Owned, cpm_free. */
static char *stored_body(const json_t *doc)
{
    json_t *copy = json_copy((json_t *)doc);
    if (copy == NULL)
        return NULL;
    json_object_del(copy, "id");
    char *text = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(copy);
    return text;
}

static void explain_conflict(struct cpm_store *store, enum cpm_doc_kind kind, const char *id,
                             bool creating, struct cpm_detail *detail)
{
    struct cpm_doc existing = {0};
    bool id_taken = creating && store->ops->doc_get(store, kind, id, &existing) == CPM_OK;
    cpm_doc_release(&existing);
    if (id_taken)
        cpm_detail_add(detail, "id", "a %s '%s' already exists", cpm_doc_kind_name(kind), id);
    else
        cpm_detail_add(detail, "region", "another policy already covers this region and property");
}

static cpm_err write_doc(struct cpm_store *store, enum cpm_doc_kind kind, json_t *doc,
                         int64_t expected_revision, struct cpm_detail *detail)
{
    cpm_err err = validate(store, kind, doc, NULL, detail);
    if (err != CPM_OK)
        return err;
    const char *id = json_string_value(json_object_get(doc, "id"));
    char unique[CPM_ID_BYTES_MAX * 2 + 16];
    cpm_config_unique_key(kind, doc, unique, sizeof(unique));
    const char *unique_key = unique[0] ? unique : NULL;
    char *body = stored_body(doc);
    if (body == NULL)
        return CPM_ERR_NOMEM;
    int64_t now = cpm_clock_now_ms(), revision;
    err = expected_revision == 0 ? store->ops->doc_create(store, kind, id, unique_key, body, now)
                                 : store->ops->doc_update(store, kind, id, unique_key, body,
                                                          expected_revision, now, &revision);
    cpm_free(body);
    atomic_fetch_add(&config_generation, 1);
    if (err == CPM_ERR_CONFLICT)
        explain_conflict(store, kind, id, expected_revision == 0, detail);
    return err;
}

cpm_err cpm_config_create(struct cpm_store *store, enum cpm_doc_kind kind, json_t *doc,
                          struct cpm_detail *detail)
{
    return write_doc(store, kind, doc, 0, detail);
}

cpm_err cpm_config_update(struct cpm_store *store, enum cpm_doc_kind kind, json_t *doc,
                          int64_t expected_revision, struct cpm_detail *detail)
{
    CPM_ASSERT(expected_revision > 0);
    return write_doc(store, kind, doc, expected_revision, detail);
}

cpm_err cpm_config_publish(struct cpm_store *store, const char *notice_id, json_t *version,
                           int64_t *out_version, struct cpm_detail *detail)
{
    json_t *notice;
    cpm_err err = cpm_config_read(store, CPM_DOC_NOTICE, notice_id, &notice, NULL);
    if (err == CPM_OK)
        err = validate(store, CPM_DOC_NOTICE, version, notice, detail);
    json_decref(notice);
    if (err != CPM_OK)
        return err;
    char *body = json_dumps(version, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (body == NULL)
        return CPM_ERR_NOMEM;
    err =
        store->ops->notice_version_publish(store, notice_id, body, cpm_clock_now_ms(), out_version);
    cpm_free(body);
    return err;
}

static cpm_err collect_doc(void *ctx, const struct cpm_doc *doc)
{
    json_t *parsed = cpm_config_doc_json(doc);
    return parsed && json_array_append_new(ctx, parsed) == 0 ? CPM_OK : CPM_ERR_NOMEM;
}

uint64_t cpm_config_generation(void)
{
    return atomic_load(&config_generation);
}

cpm_err cpm_config_all(struct cpm_store *store, enum cpm_doc_kind kind, json_t **out)
{
    *out = json_array();
    cpm_err err = *out ? CPM_OK : CPM_ERR_NOMEM;
    char after[CPM_ID_BYTES_MAX + 1] = "";
    for (size_t seen = (size_t)-1; err == CPM_OK && seen != json_array_size(*out);) {
        seen = json_array_size(*out);
        err = store->ops->doc_list(store, kind, after[0] ? after : NULL, CPM_PAGE_LIMIT_MAX,
                                   collect_doc, *out);
        const json_t *last = json_array_get(*out, json_array_size(*out) - 1);
        if (last != NULL)
            cpm_strlcpy(after, json_string_value(json_object_get(last, "id")), sizeof(after));
    }
    if (err != CPM_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return err;
}

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *policies_cached;      /* under cache_lock */
static int64_t policies_loaded_ms;   /* under cache_lock */
static uint64_t policies_generation; /* under cache_lock */
/* "notice@version" → body, under cache_lock; never evicted: operators publish few versions */
static json_t *versions_cached;

cpm_err cpm_config_policies_cached(struct cpm_store *store, json_t **out)
{
    uint64_t generation = atomic_load(&config_generation);
    int64_t now = cpm_clock_now_ms();
    pthread_mutex_lock(&cache_lock);
    bool fresh = policies_cached != NULL && policies_generation == generation &&
                 now - policies_loaded_ms < CPM_POLICY_CACHE_MS && now >= policies_loaded_ms;
    *out = fresh ? json_incref(policies_cached) : NULL;
    pthread_mutex_unlock(&cache_lock);
    if (fresh)
        return CPM_OK;
    json_t *loaded;
    cpm_err err = cpm_config_all(store, CPM_DOC_POLICY, &loaded);
    if (err != CPM_OK)
        return err;
    pthread_mutex_lock(&cache_lock);
    json_decref(policies_cached);
    policies_cached = json_incref(loaded);
    policies_loaded_ms = now;
    policies_generation = generation;
    pthread_mutex_unlock(&cache_lock);
    *out = loaded;
    return CPM_OK;
}

cpm_err cpm_config_notice_version_cached(struct cpm_store *store, const char *notice,
                                         int64_t version, const json_t **out)
{
    char key[CPM_ID_BYTES_MAX + 24];
    snprintf(key, sizeof(key), "%s@%lld", notice, (long long)version);
    pthread_mutex_lock(&cache_lock);
    if (versions_cached == NULL)
        versions_cached = json_object();
    *out = json_object_get(versions_cached, key);
    pthread_mutex_unlock(&cache_lock);
    if (*out != NULL)
        return CPM_OK;
    struct cpm_notice_version v = {0};
    cpm_err err = cpm_config_id_valid(notice)
                      ? store->ops->notice_version_get(store, notice, version, &v)
                      : CPM_ERR_NOT_FOUND;
    json_t *body = err == CPM_OK ? json_loads(v.body, 0, NULL) : NULL;
    cpm_notice_version_release(&v);
    if (err != CPM_OK || body == NULL)
        return err != CPM_OK ? err : CPM_ERR_STORE;
    pthread_mutex_lock(&cache_lock);
    json_t *raced = json_object_get(versions_cached, key);
    if (raced == NULL && json_object_set(versions_cached, key, body) == 0)
        raced = body;
    pthread_mutex_unlock(&cache_lock);
    if (raced != body) {
        json_decref(body);
        body = raced;
    } else {
        json_decref(body); /* the cache holds it */
    }
    *out = body;
    return body != NULL ? CPM_OK : CPM_ERR_NOMEM;
}
