/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot.c — the index written to a file, on a clean shutdown and every
 * few minutes while cpmd runs, and read back on the next start, so a large
 * store starts in seconds instead of being re-read row by row
 * (docs/DECISIONS.md).
 *
 * The file says which store state it reflects at least (the mark: ledger
 * size, the hash of the leaf at that size, the last recorded send). A save
 * while the writer goes on copies each shard's entries piece by piece under
 * the shard's sequence counter and the out-of-line parts inside epoch
 * sections: an entry may show a change made after the mark, never miss one
 * made before it. The file is used when the store continues the mark's
 * history (as large or larger, the same leaf at the mark's size, no fewer
 * sends); cpm_index_catch_up then reads again every subject the ledger or
 * the sends changed after the mark. A BLAKE2b checksum over everything
 * catches a damaged file, which is deleted.
 *
 * Layout (native byte order and struct layout: the file never leaves the
 * machine that wrote it, and its version changes with the layout):
 *   magic "CPMIDX\0\0", u32 version, u32 sizeof(struct entry)
 *   mark: u64 ledger size, 32-byte leaf hash, i64 contacts mark, u64 that send's stamp
 *   16-byte hash key
 *   3 × (u32 count, count × (u16 length, name))         purposes, topics, recipients
 *   SHARDS × (u32 count, count × struct entry,
 *             u32 extras, extras × (u32 entry, i64 erased_seq, u16 zone length, zone,
 *                 u16 windows, windows, u16 caps, caps, cap channels, u16 topics off, slots,
 *                 u16 consents, consents, u32 sends, channels, times))
 *   32-byte BLAKE2b of everything before it
 */
#include "core/common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/epoch.h"
#include "core/log.h"
#include "domain/tz.h"
#include "index/index_internal.h"

#define SNAPSHOT_VERSION                                                                           \
    4 /* 2: the entry's head before its purposes; 3: extras by shard; 4: the mark's stamp */
#define PIECE_ENTRIES   4096 /* copied under one look at the shard's sequence counter */
#define IO_BUFFER_BYTES (1u << 20)
#define COUNT_MAX       100000u /* of any out-of-line array: more means a damaged file */

static const char magic[8] = {'C', 'P', 'M', 'I', 'D', 'X', 0, 0};

struct io {
    FILE *f;
    crypto_generichash_state hash;
    bool failed;
};

static void put(struct io *io, const void *data, size_t len)
{
    if (io->failed || len == 0)
        return;
    crypto_generichash_update(&io->hash, data, len);
    io->failed = fwrite(data, 1, len, io->f) != len;
}

static void get(struct io *io, void *data, size_t len)
{
    if (io->failed || len == 0)
        return;
    io->failed = fread(data, 1, len, io->f) != len;
    if (!io->failed)
        crypto_generichash_update(&io->hash, data, len);
}

#define PUT(io, v) put((io), &(v), sizeof(v))
#define GET(io, v) get((io), &(v), sizeof(v))

static void put_string(struct io *io, const char *s)
{
    uint16_t len = (uint16_t)(s != NULL ? strlen(s) : 0);
    PUT(io, len);
    put(io, s, len);
}

/* Reads a string of at most size - 1 bytes into out. */
static void get_string(struct io *io, char *out, size_t size)
{
    uint16_t len = 0;
    GET(io, len);
    if (len >= size)
        io->failed = true;
    get(io, out, io->failed ? 0 : len);
    out[io->failed ? 0 : len] = '\0';
}

cpm_err cpm_index_mark_read(struct cpm_store *store, struct cpm_index_mark *out)
{
    memset(out, 0, sizeof(*out));
    cpm_err err = store->ops->ledger_size(store, &out->ledger_size);
    if (err == CPM_OK && out->ledger_size > 0)
        err = store->ops->merkle_node_get(store, 0, out->ledger_size - 1, out->last_leaf);
    if (err == CPM_OK)
        err = store->ops->contacts_mark(store, &out->contacts, &out->contacts_stamp);
    return err;
}

/* ---- saving ------------------------------------------------------------------------------ */

static void put_extra(struct io *io, uint32_t no, const struct extra *x)
{
    uint16_t windows = (uint16_t)x->window_count, caps = (uint16_t)x->cap_count;
    uint16_t topics = (uint16_t)x->topic_off_count, consents = (uint16_t)x->consent_count;
    uint32_t sends = (uint32_t)x->send_count;
    PUT(io, no);
    PUT(io, x->erased_seq);
    put_string(io, x->tz != NULL ? cpm_tz_name(x->tz) : "");
    PUT(io, windows);
    put(io, x->windows, sizeof(*x->windows) * windows);
    PUT(io, caps);
    put(io, x->caps, sizeof(*x->caps) * caps);
    put(io, x->cap_channels, caps);
    PUT(io, topics);
    put(io, x->topics_off, sizeof(uint16_t) * topics);
    PUT(io, consents);
    put(io, x->consents, sizeof(*x->consents) * consents);
    PUT(io, sends);
    put(io, x->send_channels, sends);
    put(io, x->send_ms, sizeof(int64_t) * sends);
}

/* The slot names, as many as there are now (later ones are only ever added). */
static void put_slots(struct io *io, struct cpm_index *ix)
{
    pthread_mutex_lock(&ix->slot_lock);
    for (int k = 0; k < 3; k++) {
        uint32_t count = (uint32_t)ix->slots[k].count;
        PUT(io, count);
        for (uint32_t i = 0; i < count; i++)
            put_string(io, ix->slots[k].names[i]);
    }
    pthread_mutex_unlock(&ix->slot_lock);
}

/* A consistent copy of sh's entries [from, from + n) into out; the writer may go on. */
static void copy_entries(struct shard *sh, uint32_t from, uint32_t n, struct entry *out)
{
    for (;;) {
        uint32_t before = atomic_load_explicit(&sh->seq, memory_order_acquire);
        if (before & 1u)
            continue;
        for (uint32_t i = 0; i < n; i++)
            out[i] = *cpm__index_entry_at(sh, from + i);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&sh->seq, memory_order_relaxed) == before)
            return;
    }
}

/* The shard's entry count, read under its sequence counter. */
static uint32_t shard_count(struct shard *sh)
{
    for (;;) {
        uint32_t before = atomic_load_explicit(&sh->seq, memory_order_acquire);
        uint32_t count = ((volatile struct shard *)sh)->count;
        atomic_thread_fence(memory_order_acquire);
        if (!(before & 1u) && atomic_load_explicit(&sh->seq, memory_order_relaxed) == before)
            return count;
    }
}

/* The first count entries of a shard, then the out-of-line parts of those that have one. */
static bool put_shard(struct io *io, struct shard *sh, struct entry *piece)
{
    uint32_t count = shard_count(sh);
    PUT(io, count);
    for (uint32_t done = 0; done < count; done += PIECE_ENTRIES) {
        uint32_t n = count - done < PIECE_ENTRIES ? count - done : PIECE_ENTRIES;
        copy_entries(sh, done, n, piece);
        put(io, piece, sizeof(struct entry) * n);
    }
    if (!cpm_epoch_enter())
        return false;
    /* the map as it is now, in one pass (items are only ever added); valid until the exit */
    const struct xmap *m = atomic_load(&sh->extras);
    uint32_t slots = m != NULL ? m->mask + 1 : 0, extras = 0;
    uint32_t *at = slots ? cpm_malloc(sizeof(uint32_t) * slots) : NULL;
    bool ok = slots == 0 || at != NULL;
    for (uint32_t j = 0; ok && j < slots; j++) {
        uint32_t key = atomic_load(&m->items[j].key);
        if (key != 0 && key - 1 < count && atomic_load(&m->items[j].value) != NULL)
            at[extras++] = j;
    }
    PUT(io, extras);
    for (uint32_t i = 0; ok && i < extras; i++)
        put_extra(io, atomic_load(&m->items[at[i]].key) - 1, atomic_load(&m->items[at[i]].value));
    cpm_epoch_exit();
    cpm_free(at);
    return ok;
}

static void put_index(struct io *io, struct cpm_index *ix, const struct cpm_index_mark *mark)
{
    uint32_t version = SNAPSHOT_VERSION, entry_bytes = sizeof(struct entry);
    put(io, magic, sizeof(magic));
    PUT(io, version);
    PUT(io, entry_bytes);
    PUT(io, *mark);
    put(io, ix->hash_key, sizeof(ix->hash_key));
    put_slots(io, ix);
    struct entry *piece = cpm_malloc(sizeof(struct entry) * PIECE_ENTRIES);
    io->failed |= piece == NULL;
    for (int i = 0; i < SHARDS && !io->failed; i++)
        io->failed |= !put_shard(io, &ix->shards[i], piece);
    cpm_free(piece);
}

cpm_err cpm_index_save(struct cpm_index *ix, const char *path, const struct cpm_index_mark *mark)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return CPM_ERR_INTERNAL;
    int64_t started_ms = cpm_clock_now_ms();
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    struct io io = {.f = fd >= 0 ? fdopen(fd, "wb") : NULL};
    if (io.f == NULL) {
        if (fd >= 0)
            close(fd);
        cpm_log_error("index", "cannot write %s: %s", tmp, strerror(errno));
        return CPM_ERR_IO;
    }
    setvbuf(io.f, NULL, _IOFBF, IO_BUFFER_BYTES);
    crypto_generichash_init(&io.hash, NULL, 0, crypto_generichash_BYTES);
    put_index(&io, ix, mark);
    uint8_t sum[crypto_generichash_BYTES];
    crypto_generichash_final(&io.hash, sum, sizeof(sum));
    if (!io.failed)
        io.failed = fwrite(sum, 1, sizeof(sum), io.f) != sizeof(sum);
    io.failed |= fflush(io.f) != 0 || fsync(fileno(io.f)) != 0;
    io.failed |= fclose(io.f) != 0;
    if (io.failed || rename(tmp, path) != 0) {
        cpm_log_error("index", "cannot write the index snapshot %s: %s", path, strerror(errno));
        unlink(tmp);
        return CPM_ERR_IO;
    }
    uint64_t subjects, bytes;
    cpm_index_stats(ix, &subjects, &bytes);
    cpm_log_info("index", "saved: %llu subjects to %s in %.1f s", (unsigned long long)subjects,
                 path, (double)(cpm_clock_now_ms() - started_ms) / 1000.0);
    return CPM_OK;
}

/* ---- restoring ------------------------------------------------------------------------------- */

static bool get_slots(struct io *io, struct cpm_index *ix)
{
    char name[CPM_ID_BYTES_MAX + 1];
    for (int k = 0; k < 3 && !io->failed; k++) {
        uint32_t count = 0;
        GET(io, count);
        for (uint32_t i = 0; i < count && !io->failed; i++) {
            get_string(io, name, sizeof(name));
            /* slots are handed out in order: the same names get the same numbers */
            if (!io->failed &&
                cpm_index_slot(ix, (enum cpm_index_slot_kind)k, name, true) != (int)i)
                io->failed = true;
        }
    }
    return !io->failed;
}

static bool get_entries(struct io *io, struct cpm_index *ix, int i)
{
    struct shard *sh = &ix->shards[i];
    uint32_t count = 0;
    struct entry e;
    GET(io, count);
    for (uint32_t n = 0; n < count && !io->failed; n++) {
        uint32_t no;
        get(io, &e, sizeof(e));
        if (io->failed || cpm__index_shard_no(e.key) != (unsigned)i ||
            !cpm__index_make_room(ix, sh)) {
            io->failed = true;
            break;
        }
        /* F_HAS_EXTRA is set again by the extra itself: a live save may hold an entry's
         * flag without its extra (a subject the catch-up reads again) */
        e.flags &= (uint8_t)~F_HAS_EXTRA;
        *cpm__index_entry_add(ix, sh, e.key, &no) = e;
    }
    return !io->failed;
}

/* Reads count items of size bytes each into a new array (NULL and fine when count is 0). */
static void *get_array(struct io *io, size_t count, size_t size)
{
    if (io->failed || count == 0)
        return NULL;
    void *a = count <= COUNT_MAX ? cpm_malloc(count * size) : NULL;
    if (a == NULL)
        io->failed = true;
    get(io, a, a != NULL ? count * size : 0);
    return a;
}

static struct extra *get_extra(struct io *io, uint32_t *no)
{
    char zone[CPM_TZ_NAME_BYTES_MAX + 1];
    uint16_t windows = 0, caps = 0, topics = 0, consents = 0;
    uint32_t sends = 0;
    struct extra *x = cpm_calloc(1, sizeof(*x));
    io->failed |= x == NULL;
    GET(io, *no);
    if (x == NULL)
        return NULL;
    GET(io, x->erased_seq);
    get_string(io, zone, sizeof(zone));
    x->tz = zone[0] ? cpm_tz_get(zone) : NULL;
    GET(io, windows);
    x->windows = get_array(io, x->window_count = windows, sizeof(*x->windows));
    GET(io, caps);
    x->caps = get_array(io, x->cap_count = caps, sizeof(*x->caps));
    x->cap_channels = get_array(io, caps, 1);
    GET(io, topics);
    x->topics_off = get_array(io, x->topic_off_count = topics, sizeof(uint16_t));
    GET(io, consents);
    x->consents = get_array(io, x->consent_count = consents, sizeof(*x->consents));
    GET(io, sends);
    x->send_channels = get_array(io, x->send_count = sends, 1);
    x->send_ms = get_array(io, sends, sizeof(int64_t));
    return x;
}

static bool get_extras(struct io *io, struct cpm_index *ix, int i)
{
    struct shard *sh = &ix->shards[i];
    uint32_t count = 0;
    GET(io, count);
    for (uint32_t n = 0; n < count && !io->failed; n++) {
        uint32_t no = 0;
        struct extra *x = get_extra(io, &no);
        if (io->failed || no >= sh->count ||
            !cpm__index_extra_publish(ix, sh, cpm__index_entry_at(sh, no), no, x)) {
            cpm__index_extra_free(x);
            io->failed = true;
        }
    }
    return !io->failed;
}

/* Whether the store continues the history the snapshot's mark saw (sends recorded since too). */
static bool store_continues(struct cpm_store *store, const struct cpm_index_mark *stored,
                            const struct cpm_index_mark *now)
{
    uint8_t leaf[CPM_HASH_BYTES] = {0};
    if (stored->ledger_size > now->ledger_size || stored->contacts > now->contacts)
        return false;
    if (stored->ledger_size > 0 &&
        store->ops->merkle_node_get(store, 0, stored->ledger_size - 1, leaf) != CPM_OK)
        return false;
    return sodium_memcmp(leaf, stored->last_leaf, sizeof(leaf)) == 0;
}

static bool get_index(struct io *io, struct cpm_index *ix, struct cpm_store *store,
                      struct cpm_index_mark *stored, const char **why)
{
    char head[sizeof(magic)];
    uint32_t version = 0, entry_bytes = 0;
    struct cpm_index_mark now;
    get(io, head, sizeof(head));
    GET(io, version);
    GET(io, entry_bytes);
    GET(io, *stored);
    *why = "it is damaged, or of another version";
    if (io->failed || memcmp(head, magic, sizeof(magic)) != 0 || version != SNAPSHOT_VERSION ||
        entry_bytes != sizeof(struct entry))
        return false;
    *why = "the store is not a continuation of what it reflects (restored from a backup?)";
    if (cpm_index_mark_read(store, &now) != CPM_OK || !store_continues(store, stored, &now))
        return false;
    *why = "it is damaged";
    get(io, ix->hash_key, sizeof(ix->hash_key));
    if (!get_slots(io, ix))
        return false;
    for (int i = 0; i < SHARDS; i++)
        if (!get_entries(io, ix, i) || !get_extras(io, ix, i))
            return false;
    return true;
}

cpm_err cpm_index_restore(struct cpm_index *ix, const char *path, struct cpm_store *store,
                          struct cpm_index_mark *mark)
{
    int64_t started_ms = cpm_clock_now_ms();
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return CPM_ERR_NOT_FOUND;
    struct io io = {.f = fdopen(fd, "rb")};
    if (io.f == NULL) {
        close(fd);
        return CPM_ERR_IO;
    }
    setvbuf(io.f, NULL, _IOFBF, IO_BUFFER_BYTES);
    crypto_generichash_init(&io.hash, NULL, 0, crypto_generichash_BYTES);
    const char *why = NULL;
    bool ok = get_index(&io, ix, store, mark, &why);
    uint8_t sum[crypto_generichash_BYTES], stored[crypto_generichash_BYTES];
    crypto_generichash_final(&io.hash, sum, sizeof(sum));
    ok = ok && fread(stored, 1, sizeof(stored), io.f) == sizeof(stored) &&
         sodium_memcmp(sum, stored, sizeof(sum)) == 0 && fgetc(io.f) == EOF;
    fclose(io.f);
    if (!ok) {
        unlink(path); /* never good again */
        cpm_log_warn("index", "the index snapshot %s is not used: %s; loading from the store", path,
                     why != NULL ? why : "it is damaged");
        return CPM_ERR_CONFLICT;
    }
    uint64_t subjects, bytes;
    cpm_index_stats(ix, &subjects, &bytes);
    cpm_log_info("index", "restored: %llu subjects from %s in %.1f s, %.1f MiB",
                 (unsigned long long)subjects, path,
                 (double)(cpm_clock_now_ms() - started_ms) / 1000.0,
                 (double)bytes / (1024.0 * 1024.0));
    return CPM_OK;
}
