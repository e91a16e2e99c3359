/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h — the storage interface: a versioned table of operations.
 *
 * A backend (SQLite now, PostgreSQL later) fills a struct cpm_store_ops and
 * returns stores whose first member is a struct cpm_store pointing at it,
 * the way SQLite's VFS works. Callers use the cpm_store_* wrappers below and
 * never see the backend. New operations are appended and bump
 * CPM_STORE_OPS_VERSION; callers check `version` before using them.
 *
 * Configuration resources (properties, purposes, notices, policies) are
 * stored as validated JSON documents with a revision; notice versions are a
 * separate, append-only table the backend refuses to update or delete.
 *
 * Ownership: every `char *` a store returns is owned by the caller and freed
 * with cpm_free; struct out-parameters are released with their _release.
 * Thread safety: a store may be used from any number of threads at once.
 */
#ifndef CPM_STORE_H
#define CPM_STORE_H

#include "core/common.h"
#include "core/detail.h"
#include "domain/config.h"

#define CPM_STORE_OPS_VERSION 1

/* The schema version this binary knows; a store newer than this is refused. */
#define CPM_SCHEMA_VERSION 1

/* A configuration document as stored. */
struct cpm_doc {
    char id[CPM_ID_BYTES_MAX + 1];
    char *body;         /* owned JSON object text, without id/revision/timestamps */
    int64_t revision;   /* 1 on create, +1 on every update */
    int64_t created_ms; /* ms since the epoch */
    int64_t updated_ms;
};
void cpm_doc_release(struct cpm_doc *doc);

/* A published, immutable notice version. */
struct cpm_notice_version {
    char notice_id[CPM_ID_BYTES_MAX + 1];
    int64_t version; /* 1, 2, 3… per notice */
    char *body;      /* owned JSON object text */
    int64_t published_ms;
};
void cpm_notice_version_release(struct cpm_notice_version *v);

#define CPM_API_KEY_ID_BYTES   24 /* "key_" + 16 hex + NUL, with room */
#define CPM_API_KEY_HASH_BYTES 32 /* SHA-256 of the whole secret key text */

/* An API key's stored record; the secret itself is never stored. */
struct cpm_api_key {
    char id[CPM_API_KEY_ID_BYTES];
    char name[CPM_NAME_BYTES_MAX + 1];
    uint32_t scopes; /* CPM_SCOPE_* bits (http/auth.h) */
    int64_t created_ms;
    int64_t revoked_ms; /* 0 while active */
};

struct cpm_store;

/* Visitors return CPM_OK to go on; any other code stops the walk and is returned. */
typedef cpm_err (*cpm_doc_visit_fn)(void *ctx, const struct cpm_doc *doc);
typedef cpm_err (*cpm_notice_version_visit_fn)(void *ctx, const struct cpm_notice_version *v);
typedef cpm_err (*cpm_api_key_visit_fn)(void *ctx, const struct cpm_api_key *key);

struct cpm_store_ops {
    int version;      /* CPM_STORE_OPS_VERSION the backend was built for */
    const char *name; /* "sqlite" */

    /*
     * Opens (creating if absent) the store at location and applies pending
     * migrations. CPM_ERR_SCHEMA_TOO_NEW (with detail) when the store's schema
     * is newer than CPM_SCHEMA_VERSION; nothing is changed then.
     */
    cpm_err (*open)(const char *location, struct cpm_store **out, struct cpm_detail *detail);
    /* Closes cleanly (checkpoints the WAL); NULL is a no-op. */
    void (*close)(struct cpm_store *store);
    /* CPM_OK when the store answers a trivial query. */
    cpm_err (*ping)(struct cpm_store *store);
    cpm_err (*schema_version)(struct cpm_store *store, int *out);

    /* CPM_ERR_CONFLICT when id, or unique_key (if not NULL), is taken for this kind. */
    cpm_err (*doc_create)(struct cpm_store *store, enum cpm_doc_kind kind, const char *id,
                          const char *unique_key, const char *body, int64_t now_ms);
    /*
     * Replaces the body. expected_revision 0 means any; otherwise
     * CPM_ERR_PRECONDITION when it differs. CPM_ERR_NOT_FOUND, CPM_ERR_CONFLICT
     * (unique_key taken by another document). *out_revision gets the new one.
     */
    cpm_err (*doc_update)(struct cpm_store *store, enum cpm_doc_kind kind, const char *id,
                          const char *unique_key, const char *body, int64_t expected_revision,
                          int64_t now_ms, int64_t *out_revision);
    /* CPM_ERR_NOT_FOUND when absent. */
    cpm_err (*doc_get)(struct cpm_store *store, enum cpm_doc_kind kind, const char *id,
                       struct cpm_doc *out);
    /* Visits up to limit documents with id > after_id (NULL: from the start), by id. */
    cpm_err (*doc_list)(struct cpm_store *store, enum cpm_doc_kind kind, const char *after_id,
                        int limit, cpm_doc_visit_fn visit, void *ctx);

    /* Appends version max+1 of the notice (which must exist: else NOT_FOUND). */
    cpm_err (*notice_version_publish)(struct cpm_store *store, const char *notice_id,
                                      const char *body, int64_t now_ms, int64_t *out_version);
    /* version 0 means the latest. CPM_ERR_NOT_FOUND when absent. */
    cpm_err (*notice_version_get)(struct cpm_store *store, const char *notice_id, int64_t version,
                                  struct cpm_notice_version *out);
    /* Visits up to limit versions > after_version, oldest first. */
    cpm_err (*notice_version_list)(struct cpm_store *store, const char *notice_id,
                                   int64_t after_version, int limit,
                                   cpm_notice_version_visit_fn visit, void *ctx);

    /* CPM_ERR_CONFLICT when the id or hash exists. */
    cpm_err (*api_key_insert)(struct cpm_store *store, const struct cpm_api_key *key,
                              const uint8_t hash[CPM_API_KEY_HASH_BYTES]);
    /* Finds a key (active or revoked) by the hash of its secret; NOT_FOUND if none. */
    cpm_err (*api_key_find)(struct cpm_store *store, const uint8_t hash[CPM_API_KEY_HASH_BYTES],
                            struct cpm_api_key *out);
    /* Visits up to limit keys with id > after_id, by id, revoked ones included. */
    cpm_err (*api_key_list)(struct cpm_store *store, const char *after_id, int limit,
                            cpm_api_key_visit_fn visit, void *ctx);
    /* Marks a key revoked; NOT_FOUND if absent or already revoked. */
    cpm_err (*api_key_revoke)(struct cpm_store *store, const char *id, int64_t now_ms);
};

/* Every backend's store begins with this. */
struct cpm_store {
    const struct cpm_store_ops *ops;
};

extern const struct cpm_store_ops cpm_store_sqlite_ops;

/* The file name of the SQLite database inside a data directory. */
#define CPM_STORE_SQLITE_FILE "cpm.db"

/*
 * Opens the store of a data directory (SQLite: DIR/cpm.db). The one place
 * that chooses a backend.
 */
cpm_err cpm_store_open(const char *data_dir, struct cpm_store **out,
                       struct cpm_detail *detail) CPM_MUST_CHECK;
void cpm_store_close(struct cpm_store *store);

#endif /* CPM_STORE_H */
