/* SPDX-License-Identifier: Apache-2.0 */
/*
 * datadir.c — creating a data directory with fresh keys, and reading the
 * keys back. Key files are created O_EXCL with mode 0600, written whole,
 * fsync'd, then the directory is fsync'd; a failed init removes the key
 * files it wrote, so it can simply be run again.
 */
#include "core/common.h"

#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/datadir.h"
#include "store/store.h"

#define MASTER_KEY_FILE  "master.key"
#define SIGNING_KEY_FILE "signing.key"

static cpm_err join(char *out, size_t size, const char *dir, const char *name,
                    struct cpm_detail *detail)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    if (n >= 0 && (size_t)n < size)
        return CPM_OK;
    cpm_detail_add(detail, "", "the data directory path is too long: %s", dir);
    return CPM_ERR_IO;
}

static cpm_err io_error(const char *what, const char *path, struct cpm_detail *detail)
{
    cpm_detail_add(detail, "", "cannot %s %s: %s", what, path, strerror(errno));
    return CPM_ERR_IO;
}

/* Reads or writes exactly len bytes, retrying on EINTR; errno set on failure. */
static bool transfer_all(int fd, uint8_t *buf, size_t len, bool writing)
{
    while (len > 0) {
        ssize_t n = writing ? write(fd, buf, len) : read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            errno = n == 0 ? EIO : errno;
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* CPM_ERR_EXISTS when dir already holds a store or a master key. */
static cpm_err refuse_initialised(const char *dir, struct cpm_detail *detail)
{
    static const char *const names[] = {MASTER_KEY_FILE, CPM_STORE_SQLITE_FILE};
    char path[PATH_MAX];
    struct stat st;
    for (size_t i = 0; i < CPM_ARRAY_LEN(names); i++) {
        cpm_err err = join(path, sizeof(path), dir, names[i], detail);
        if (err != CPM_OK)
            return err;
        if (lstat(path, &st) == 0) {
            cpm_detail_add(detail, "", "%s is already initialised (%s exists)", dir, path);
            return CPM_ERR_EXISTS;
        }
        if (errno != ENOENT)
            return io_error("check", path, detail);
    }
    return CPM_OK;
}

/* Creates dir 0700, or accepts an existing, uninitialised one (and makes it 0700). */
static cpm_err make_dir(const char *dir, struct cpm_detail *detail)
{
    struct stat st;
    if (mkdir(dir, 0700) == 0)
        return CPM_OK;
    if (errno != EEXIST)
        return io_error("create the directory", dir, detail);
    if (stat(dir, &st) != 0)
        return io_error("check", dir, detail);
    if (!S_ISDIR(st.st_mode)) {
        cpm_detail_add(detail, "", "%s exists and is not a directory", dir);
        return CPM_ERR_IO;
    }
    cpm_err err = refuse_initialised(dir, detail);
    if (err == CPM_OK && (st.st_mode & 077) != 0 && chmod(dir, 0700) != 0)
        err = io_error("restrict the permissions of", dir, detail);
    return err;
}

static cpm_err write_key(const char *dir, const char *name, const uint8_t *key, size_t len,
                         struct cpm_detail *detail)
{
    char path[PATH_MAX];
    cpm_err err = join(path, sizeof(path), dir, name, detail);
    if (err != CPM_OK)
        return err;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno != EEXIST)
            return io_error("create", path, detail);
        cpm_detail_add(detail, "", "%s is already initialised (%s exists)", dir, path);
        return CPM_ERR_EXISTS;
    }
    if (!transfer_all(fd, (uint8_t *)key, len, true) || fsync(fd) != 0)
        err = io_error("write", path, detail);
    if (close(fd) != 0 && err == CPM_OK)
        err = io_error("close", path, detail);
    if (err != CPM_OK)
        unlink(path);
    return err;
}

static void remove_key(const char *dir, const char *name)
{
    char path[PATH_MAX];
    if (join(path, sizeof(path), dir, name, NULL) == CPM_OK)
        unlink(path);
}

static cpm_err sync_dir(const char *dir, struct cpm_detail *detail)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return io_error("open", dir, detail);
    cpm_err err = fsync(fd) == 0 ? CPM_OK : io_error("sync", dir, detail);
    close(fd);
    return err;
}

cpm_err cpm_datadir_create(const char *dir, struct cpm_detail *detail)
{
    struct cpm_datadir_keys keys;
    int written = 0;
    cpm_err err = CPM_ERR_CRYPTO;
    CPM_ASSERT(dir != NULL);
    if (sodium_init() < 0)
        return err;
    err = make_dir(dir, detail);
    if (err != CPM_OK)
        return err;
    randombytes_buf(keys.master, sizeof(keys.master));
    randombytes_buf(keys.signing_seed, sizeof(keys.signing_seed));
    err = write_key(dir, MASTER_KEY_FILE, keys.master, sizeof(keys.master), detail);
    if (err != CPM_OK)
        goto out;
    written++;
    err = write_key(dir, SIGNING_KEY_FILE, keys.signing_seed, sizeof(keys.signing_seed), detail);
    if (err != CPM_OK)
        goto out;
    written++;
    err = sync_dir(dir, detail);
out:
    if (err != CPM_OK && written > 1)
        remove_key(dir, SIGNING_KEY_FILE);
    if (err != CPM_OK && written > 0)
        remove_key(dir, MASTER_KEY_FILE);
    cpm_datadir_keys_wipe(&keys);
    return err;
}

/* Checks a key file's type, mode and size before reading it. */
static cpm_err check_key_file(int fd, const char *path, size_t len, struct cpm_detail *detail)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return io_error("check", path, detail);
    if (!S_ISREG(st.st_mode)) {
        cpm_detail_add(detail, "", "%s is not a regular file", path);
        return CPM_ERR_IO;
    }
    if ((st.st_mode & 077) != 0) {
        cpm_detail_add(detail, "",
                       "%s is accessible to group or others (mode %03o); run `chmod 600 %s`", path,
                       (unsigned)(st.st_mode & 0777), path);
        return CPM_ERR_IO;
    }
    if (st.st_size != (off_t)len) {
        cpm_detail_add(detail, "", "%s has %lld bytes; a key file has exactly %zu", path,
                       (long long)st.st_size, len);
        return CPM_ERR_IO;
    }
    return CPM_OK;
}

static cpm_err read_key(const char *dir, const char *name, uint8_t *key, size_t len,
                        struct cpm_detail *detail)
{
    char path[PATH_MAX];
    cpm_err err = join(path, sizeof(path), dir, name, detail);
    if (err != CPM_OK)
        return err;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT && strcmp(name, MASTER_KEY_FILE) == 0) {
        cpm_detail_add(detail, "",
                       "%s is not an initialised data directory (no %s); run `cpm init --data %s`",
                       dir, name, dir);
        return CPM_ERR_NOT_FOUND;
    }
    if (fd < 0)
        return io_error("open", path, detail);
    err = check_key_file(fd, path, len, detail);
    if (err == CPM_OK && !transfer_all(fd, key, len, false))
        err = io_error("read", path, detail);
    close(fd);
    return err;
}

cpm_err cpm_datadir_load_keys(const char *dir, struct cpm_datadir_keys *keys,
                              struct cpm_detail *detail)
{
    CPM_ASSERT(dir != NULL && keys != NULL);
    cpm_err err = read_key(dir, MASTER_KEY_FILE, keys->master, sizeof(keys->master), detail);
    if (err == CPM_OK)
        err =
            read_key(dir, SIGNING_KEY_FILE, keys->signing_seed, sizeof(keys->signing_seed), detail);
    if (err != CPM_OK)
        cpm_datadir_keys_wipe(keys);
    return err;
}

void cpm_datadir_keys_wipe(struct cpm_datadir_keys *keys)
{
    if (keys != NULL)
        sodium_memzero(keys, sizeof(*keys));
}

cpm_err cpm_datadir_lock(const char *dir, int *fd, struct cpm_detail *detail)
{
    char path[PATH_MAX];
    *fd = -1;
    int n = snprintf(path, sizeof(path), "%s/%s", dir, CPM_DATADIR_WRITER_LOCK_FILE);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        cpm_detail_add(detail, "", "the data directory path is too long: %s", dir);
        return CPM_ERR_IO;
    }
    int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) {
        cpm_detail_add(detail, "", "cannot open %s: %s", path, strerror(errno));
        return CPM_ERR_IO;
    }
    if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(lock);
        if (e == EWOULDBLOCK) {
            cpm_detail_add(detail, "",
                           "another process is writing the ledger of %s (a running cpmd, or "
                           "another cpm import): stop it first",
                           dir);
            return CPM_ERR_CONFLICT;
        }
        cpm_detail_add(detail, "", "cannot lock %s: %s", path, strerror(e));
        return CPM_ERR_IO;
    }
    *fd = lock;
    return CPM_OK;
}

void cpm_datadir_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
