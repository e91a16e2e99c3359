/* SPDX-License-Identifier: Apache-2.0 */
/*
 * datadir.h — the data directory: what `cpm init` creates and cpmd opens.
 *
 *   DIR/            mode 0700
 *   DIR/cpm.db      the SQLite store (plus -wal and -shm while open)
 *   DIR/master.key  32 random bytes, mode 0600: wraps per-subject data keys
 *                   and derives the identifier-hashing key
 *   DIR/signing.key 32-byte Ed25519 seed, mode 0600: signs ledger checkpoints
 *
 * Key files are written with O_EXCL and fsync'd together with their
 * directory, so a crash during init never leaves a half-written key.
 */
#ifndef CPM_STORE_DATADIR_H
#define CPM_STORE_DATADIR_H

#include "core/common.h"
#include "core/detail.h"

#define CPM_MASTER_KEY_BYTES   32
#define CPM_SIGNING_SEED_BYTES 32

struct cpm_datadir_keys {
    uint8_t master[CPM_MASTER_KEY_BYTES];
    uint8_t signing_seed[CPM_SIGNING_SEED_BYTES];
};

/*
 * Creates dir (and parents are NOT created) with fresh random keys.
 * CPM_ERR_EXISTS when dir already holds a master.key or cpm.db; CPM_ERR_IO
 * with detail naming the path and errno text otherwise. Does not open the
 * store: the caller does that next (cpm_store_open creates cpm.db).
 */
cpm_err cpm_datadir_create(const char *dir, struct cpm_detail *detail) CPM_MUST_CHECK;

/*
 * Reads the keys of an initialised dir into keys (caller's storage; wipe it
 * with cpm_datadir_keys_wipe). CPM_ERR_NOT_FOUND with a message telling the
 * user to run `cpm init --data DIR` when dir is not initialised; CPM_ERR_IO
 * when a key file has the wrong size or is readable by group/other.
 */
cpm_err cpm_datadir_load_keys(const char *dir, struct cpm_datadir_keys *keys,
                              struct cpm_detail *detail) CPM_MUST_CHECK;

/* Zeroes keys (sodium_memzero). */
void cpm_datadir_keys_wipe(struct cpm_datadir_keys *keys);

#define CPM_DATADIR_WRITER_LOCK_FILE "writer.lock"

/*
 * Takes the data directory's writer lock: an exclusive flock on
 * DIR/writer.lock (created 0600 when absent), held until
 * cpm_datadir_unlock or the process ends. One process appends to the
 * ledger at a time: cpmd while it runs, `cpm import` while it is stopped.
 * *fd gets the lock's descriptor. CPM_ERR_CONFLICT (with a fault saying
 * who may hold it) when another process holds it; CPM_ERR_IO.
 */
cpm_err cpm_datadir_lock(const char *dir, int *fd, struct cpm_detail *detail) CPM_MUST_CHECK;
/* Releases the lock (closes fd); a negative fd is a no-op. */
void cpm_datadir_unlock(int fd);

#endif /* CPM_STORE_DATADIR_H */
