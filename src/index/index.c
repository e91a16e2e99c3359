/* SPDX-License-Identifier: Apache-2.0 */
/*
 * index.c — the in-memory consent index (see index.h and docs/INDEX.md).
 *
 * Subjects are spread over SHARDS shards by their hash. A shard holds its
 * entries in fixed chunks (entries never move, so a reader's pointer stays
 * good), a table of 32-bit slots (entry number + 1 and an 8-bit hash tag)
 * to find them, and a map from entry number to the subject's out-of-line
 * part ("extra"), which only some subjects have. The writer changes a
 * shard between two increments of its sequence counter; readers copy what
 * they need and retry if the counter moved. Tables, chunk lists, maps and
 * extras that are replaced are retired through core/epoch.h.
 */
#include "core/common.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/epoch.h"
#include "core/log.h"
#include "crypto/siphash.h"
#include "index/index_internal.h"

/* ---- memory ---------------------------------------------------------------------- */

/*
 * Zeroed memory, mapped lazily (only what is touched counts in RSS), aligned
 * to 2 MiB and given huge pages when that large: a decision's random reads
 * then miss the TLB far less often.
 */
static void *big_alloc(size_t bytes)
{
    size_t span = bytes >= HUGE_PAGE_BYTES ? bytes + HUGE_PAGE_BYTES : bytes;
    uint8_t *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (span == bytes)
        return p;
    uintptr_t mask = (uintptr_t)HUGE_PAGE_BYTES - 1;
    uint8_t *aligned = (uint8_t *)(((uintptr_t)p + mask) & ~mask);
    if (aligned > p)
        munmap(p, (size_t)(aligned - p));
    if (aligned + bytes < p + span)
        munmap(aligned + bytes, (size_t)(p + span - (aligned + bytes)));
    (void)madvise(aligned, bytes, MADV_HUGEPAGE);
    return aligned;
}

static void big_free(void *p, size_t bytes)
{
    if (p != NULL)
        munmap(p, bytes);
}

static size_t chunk_bytes(unsigned k)
{
    return ((size_t)CHUNK0_ENTRIES << k) * sizeof(struct entry);
}

static void table_free(void *p)
{
    struct table *t = p;
    big_free(t, t->bytes);
}

static void *index_alloc(struct cpm_index *ix, size_t bytes)
{
    void *p = cpm_calloc(1, bytes);
    if (p != NULL)
        atomic_fetch_add(&ix->bytes, bytes);
    return p;
}

static void degrade(struct cpm_index *ix, const char *what)
{
    if (!atomic_exchange(&ix->degraded, true))
        cpm_log_error("index", "out of memory while %s: decisions are degraded until a restart",
                      what);
}

void cpm__index_extra_free(void *p)
{
    struct extra *x = p;
    if (x == NULL)
        return;
    cpm_free(x->windows);
    cpm_free(x->caps);
    cpm_free(x->cap_channels);
    cpm_free(x->topics_off);
    cpm_free(x->consents);
    cpm_free(x->send_channels);
    cpm_free(x->send_ms);
    cpm_free(x);
}

/* ---- lifecycle, slots -------------------------------------------------------------- */

cpm_err cpm_index_new(struct cpm_index **out)
{
    struct cpm_index *ix = cpm_calloc(1, sizeof(*ix));
    if (ix == NULL)
        return CPM_ERR_NOMEM;
    randombytes_buf(ix->hash_key, sizeof(ix->hash_key));
    pthread_mutex_init(&ix->slot_lock, NULL);
    atomic_store(&ix->bytes, sizeof(*ix));
    *out = ix;
    return CPM_OK;
}

static void free_xmap(struct xmap *m)
{
    for (uint32_t i = 0; m != NULL && i <= m->mask; i++)
        cpm__index_extra_free(atomic_load(&m->items[i].value));
    cpm_free(m);
}

void cpm_index_free(struct cpm_index *ix)
{
    if (ix == NULL)
        return;
    cpm_epoch_drain();
    for (int i = 0; i < SHARDS; i++) {
        struct shard *sh = &ix->shards[i];
        for (unsigned k = 0; k < CHUNKS_MAX; k++)
            big_free(atomic_load(&sh->chunks[k]), chunk_bytes(k));
        if (atomic_load(&sh->table) != NULL)
            table_free(atomic_load(&sh->table));
        free_xmap(atomic_load(&sh->extras));
    }
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < ix->slots[k].count; i++)
            cpm_free(ix->slots[k].names[i]);
        cpm_free(ix->slots[k].names);
    }
    pthread_mutex_destroy(&ix->slot_lock);
    cpm_free(ix);
}

static int slot_find(const struct slots *s, const char *name)
{
    for (int i = 0; i < s->count; i++)
        if (strcmp(s->names[i], name) == 0)
            return i;
    return -1;
}

static int slot_add(struct slots *s, const char *name)
{
    if (s->count >= CPM_INDEX_SLOTS_MAX)
        return -1;
    if ((s->count & (s->count - 1)) == 0) { /* 0, 1, 2, 4, …: grow to twice */
        char **grown =
            cpm_realloc(s->names, sizeof(char *) * (size_t)(s->count ? s->count * 2 : 8));
        if (grown == NULL)
            return -1;
        s->names = grown;
    }
    char *copy = cpm_strdup(name);
    if (copy == NULL)
        return -1;
    s->names[s->count] = copy;
    return s->count++;
}

int cpm_index_slot(struct cpm_index *ix, enum cpm_index_slot_kind kind, const char *name,
                   bool create)
{
    CPM_ASSERT((unsigned)kind < 3);
    if (name == NULL || name[0] == '\0')
        return -1;
    pthread_mutex_lock(&ix->slot_lock);
    int slot = slot_find(&ix->slots[kind], name);
    if (slot < 0 && create)
        slot = slot_add(&ix->slots[kind], name);
    pthread_mutex_unlock(&ix->slot_lock);
    return slot;
}

/* ---- finding entries --------------------------------------------------------------- */

static void hash_id(const struct cpm_index *ix, const char *id, uint64_t key[2])
{
    cpm__index_hash(ix, id, strlen(id), key);
}

/* Keys are never all zero (an empty place in the snapshot's and the writer's arrays). */
static void key_nonzero(uint64_t key[2])
{
    if (key[0] == 0 && key[1] == 0)
        key[0] = 1;
}

void cpm__index_hash(const struct cpm_index *ix, const char *id, size_t len, uint64_t key[2])
{
    uint8_t h[crypto_shorthash_siphashx24_BYTES];
    crypto_shorthash_siphashx24(h, (const unsigned char *)id, len, ix->hash_key);
    memcpy(key, h, sizeof(h));
    key_nonzero(key);
}

/* cpm__index_hash of n ids at once, side by side in vector registers (the same keys). */
static void hash_many(const struct cpm_index *ix, const char *const *ids, const size_t *lens,
                      size_t n, uint64_t (*keys)[2])
{
    cpm_siphash128_many(ix->hash_key, ids, lens, n, keys);
    for (size_t i = 0; i < n; i++)
        key_nonzero(keys[i]);
}

static struct shard *shard_of(struct cpm_index *ix, const uint64_t key[2])
{
    return &ix->shards[cpm__index_shard_no(key)];
}

static uint32_t tag_of(const uint64_t key[2])
{
    return (uint32_t)(key[1] >> 56) << TAG_SHIFT;
}

struct entry *cpm__index_entry_at(struct shard *sh, uint32_t no)
{
    uint32_t k = 31u - (uint32_t)__builtin_clz(no / CHUNK0_ENTRIES + 1);
    struct entry *chunk = atomic_load_explicit(&sh->chunks[k], memory_order_acquire);
    return &chunk[no - CHUNK0_ENTRIES * ((1u << k) - 1)];
}

/* The entry number of key, or -1. */
static int64_t table_find(struct shard *sh, const struct table *t, const uint64_t key[2])
{
    if (t == NULL)
        return -1;
    uint32_t tag = tag_of(key);
    for (uint32_t i = (uint32_t)key[0] & t->mask;; i = (i + 1) & t->mask) {
        uint32_t slot = t->slots[i];
        if (slot == 0)
            return -1;
        if ((slot & ~ENTRY_MASK) == tag) {
            const struct entry *e = cpm__index_entry_at(sh, (slot & ENTRY_MASK) - 1);
            if (e->key[0] == key[0] && e->key[1] == key[1])
                return (slot & ENTRY_MASK) - 1;
        }
    }
}

static void table_put(struct table *t, const uint64_t key[2], uint32_t no)
{
    uint32_t i = (uint32_t)key[0] & t->mask;
    while (t->slots[i] != 0)
        i = (i + 1) & t->mask;
    t->slots[i] = (no + 1) | tag_of(key);
}

static struct extra *xmap_get(const struct xmap *m, uint32_t no)
{
    if (m == NULL)
        return NULL;
    for (uint32_t i = (no * 2654435761u) & m->mask;; i = (i + 1) & m->mask) {
        uint32_t k = atomic_load_explicit(&m->items[i].key, memory_order_acquire);
        if (k == 0)
            return NULL;
        if (k == no + 1)
            return atomic_load_explicit(&m->items[i].value, memory_order_acquire);
    }
}

/* ---- the writer's side ---------------------------------------------------------------- */

static void write_begin(struct shard *sh)
{
    atomic_fetch_add_explicit(&sh->seq, 1, memory_order_acq_rel);
    atomic_thread_fence(memory_order_release);
}

static void write_end(struct shard *sh)
{
    atomic_fetch_add_explicit(&sh->seq, 1, memory_order_release);
}

/*
 * A table of slots slots (a power of two), built while readers go on with
 * the old one (only this thread writes), then published; the old one is
 * retired.
 */
static bool grow_table(struct cpm_index *ix, struct shard *sh, uint32_t slots)
{
    struct table *old = atomic_load(&sh->table);
    size_t bytes = sizeof(struct table) + sizeof(uint32_t) * slots;
    struct table *t = big_alloc(bytes);
    if (t == NULL)
        return false;
    t->bytes = bytes;
    t->mask = slots - 1;
    for (uint32_t no = 0; no < sh->count; no++)
        table_put(t, cpm__index_entry_at(sh, no)->key, no);
    atomic_store(&sh->table, t);
    atomic_fetch_add(&ix->bytes, bytes);
    if (old != NULL) {
        atomic_fetch_sub(&ix->bytes, old->bytes);
        cpm_epoch_retire(old, table_free);
    }
    return true;
}

void cpm__index_reserve(struct cpm_index *ix, uint64_t subjects)
{
    uint64_t per_shard = subjects / SHARDS + subjects / SHARDS / 16 + TABLE_SLOTS_MIN;
    if (per_shard >= ENTRY_MASK)
        per_shard = ENTRY_MASK - 1;
    uint32_t slots = TABLE_SLOTS_MIN;
    while ((uint64_t)slots * 17 < (per_shard + 1) * 20)
        slots *= 2;
    for (int i = 0; i < SHARDS; i++) { /* at the size wanted at once: no table to retire */
        struct shard *sh = &ix->shards[i];
        const struct table *t = atomic_load(&sh->table);
        if (t == NULL || t->mask + 1 < slots)
            (void)grow_table(ix, sh, slots);
    }
}

/* Room for one more entry in sh (table and chunk); outside the shard's write section. */
bool cpm__index_make_room(struct cpm_index *ix, struct shard *sh)
{
    struct table *t = atomic_load(&sh->table);
    if (sh->count + 1 >= ENTRY_MASK)
        return false;
    if ((t == NULL || (uint64_t)(sh->count + 1) * 20 > (uint64_t)(t->mask + 1) * 17) &&
        !grow_table(ix, sh, t != NULL ? (t->mask + 1) * 2 : TABLE_SLOTS_MIN))
        return false;
    uint32_t k = 31u - (uint32_t)__builtin_clz(sh->count / CHUNK0_ENTRIES + 1);
    if (k >= CHUNKS_MAX)
        return false;
    if (atomic_load(&sh->chunks[k]) == NULL) {
        struct entry *chunk = big_alloc(chunk_bytes(k));
        if (chunk == NULL)
            return false;
        atomic_store_explicit(&sh->chunks[k], chunk, memory_order_release);
    }
    return true;
}

/* A new entry for key in sh (room made beforehand). Within write_begin/end. */
struct entry *cpm__index_entry_add(struct cpm_index *ix, struct shard *sh, const uint64_t key[2],
                                   uint32_t *no_out)
{
    uint32_t no = sh->count;
    struct entry *e = cpm__index_entry_at(sh, no);
    memset(e, 0, sizeof(*e));
    memcpy(e->key, key, sizeof(e->key));
    table_put(atomic_load(&sh->table), key, no);
    sh->count++;
    atomic_fetch_add(&ix->subjects, 1);
    atomic_fetch_add(&ix->bytes, sizeof(*e));
    *no_out = no;
    return e;
}

/* A deep copy of x (or an empty extra), to change and publish. */
#define COPY_ARRAY(dst, src, n)                                                                    \
    ((n) == 0 || ((dst) = cpm_malloc(sizeof(*(src)) * (n))) != NULL                                \
         ? ((n) ? memcpy((dst), (src), sizeof(*(src)) * (n)) : NULL, true)                         \
         : false)

static struct extra *extra_clone(const struct extra *x)
{
    struct extra *c = cpm_calloc(1, sizeof(*c));
    if (c == NULL || x == NULL)
        return c;
    *c = *x;
    c->windows = NULL;
    c->caps = NULL;
    c->cap_channels = NULL;
    c->topics_off = NULL;
    c->consents = NULL;
    c->send_channels = NULL;
    c->send_ms = NULL;
    bool ok = COPY_ARRAY(c->windows, x->windows, x->window_count) &&
              COPY_ARRAY(c->caps, x->caps, x->cap_count) &&
              COPY_ARRAY(c->cap_channels, x->cap_channels, x->cap_count) &&
              COPY_ARRAY(c->topics_off, x->topics_off, x->topic_off_count) &&
              COPY_ARRAY(c->consents, x->consents, x->consent_count) &&
              COPY_ARRAY(c->send_channels, x->send_channels, x->send_count) &&
              COPY_ARRAY(c->send_ms, x->send_ms, x->send_count);
    if (!ok) {
        cpm__index_extra_free(c);
        return NULL;
    }
    return c;
}

static size_t extra_bytes(const struct extra *x)
{
    return sizeof(*x) + x->window_count * sizeof(*x->windows) +
           x->cap_count * (sizeof(*x->caps) + 1) + x->topic_off_count * sizeof(uint16_t) +
           x->consent_count * sizeof(*x->consents) + x->send_count * (1 + sizeof(int64_t));
}

static bool xmap_grow(struct cpm_index *ix, struct shard *sh)
{
    struct xmap *old = atomic_load(&sh->extras);
    uint32_t slots = old ? (old->mask + 1) * 2 : 16;
    struct xmap *m = index_alloc(ix, sizeof(*m) + sizeof(struct xmap_item) * slots);
    if (m == NULL)
        return false;
    m->mask = slots - 1;
    for (uint32_t i = 0; old != NULL && i <= old->mask; i++) {
        uint32_t k = atomic_load(&old->items[i].key);
        if (k == 0)
            continue;
        uint32_t j = ((k - 1) * 2654435761u) & m->mask;
        while (atomic_load(&m->items[j].key) != 0)
            j = (j + 1) & m->mask;
        atomic_store(&m->items[j].value, atomic_load(&old->items[i].value));
        atomic_store(&m->items[j].key, k);
        m->count++;
    }
    atomic_store(&sh->extras, m);
    if (old != NULL) {
        atomic_fetch_sub(&ix->bytes, sizeof(*old) + sizeof(struct xmap_item) * (old->mask + 1));
        cpm_epoch_retire(old, cpm_free); /* its extras moved to m */
    }
    return true;
}

/* Publishes x as entry no's extra, retiring the one it replaces. */
bool cpm__index_extra_publish(struct cpm_index *ix, struct shard *sh, struct entry *e, uint32_t no,
                              struct extra *x)
{
    struct xmap *m = atomic_load(&sh->extras);
    if ((m == NULL || (m->count + 1) * 4 > (m->mask + 1) * 3) && !xmap_grow(ix, sh))
        return false;
    m = atomic_load(&sh->extras);
    x->bytes = extra_bytes(x);
    atomic_fetch_add(&ix->bytes, x->bytes);
    uint32_t i = (no * 2654435761u) & m->mask;
    while (atomic_load(&m->items[i].key) != 0 && atomic_load(&m->items[i].key) != no + 1)
        i = (i + 1) & m->mask;
    struct extra *old = atomic_load(&m->items[i].value);
    atomic_store(&m->items[i].value, x);
    if (atomic_load(&m->items[i].key) == 0) {
        atomic_store(&m->items[i].key, no + 1);
        m->count++;
    }
    e->flags |= F_HAS_EXTRA;
    if (old != NULL) {
        atomic_fetch_sub(&ix->bytes, old->bytes);
        cpm_epoch_retire(old, cpm__index_extra_free);
    }
    return true;
}

struct extra *cpm__index_extra_of(struct shard *sh, const struct entry *e, uint32_t no)
{
    return (e->flags & F_HAS_EXTRA) ? xmap_get(atomic_load(&sh->extras), no) : NULL;
}

/* ---- applying changes ------------------------------------------------------------------- */

struct change {
    struct cpm_index *ix;
    struct shard *sh;
    struct entry *e;
    uint32_t no;
};

void cpm__index_hash_memo(const struct cpm_index *ix, struct memo *m, const char *id,
                          uint64_t key[2])
{
    if (strcmp(m->id, id) != 0) {
        hash_id(ix, id, m->key);
        cpm_strlcpy(m->id, id, sizeof(m->id));
    }
    memcpy(key, m->key, sizeof(m->key));
}

int cpm__index_slot_memo(struct cpm_index *ix, struct memo *m, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < m->count; i++)
        if (m->lens[i] == len && memcmp(m->names[i], name, len) == 0)
            return m->slots[i];
    int slot = cpm_index_slot(ix, CPM_SLOT_PURPOSE, name, true);
    if (slot >= 0 && len < sizeof(m->names[0])) {
        int i = m->count < MEMO_SLOTS ? m->count++ : m->next++ % MEMO_SLOTS;
        memcpy(m->names[i], name, len + 1);
        m->lens[i] = len;
        m->slots[i] = slot;
    }
    return slot;
}

/* Opens a change of the subject of key (write_begin done); false on out of memory (nothing begun).
 */
static bool change_begin(struct cpm_index *ix, const uint64_t key[2], struct change *c)
{
    c->ix = ix;
    c->sh = shard_of(ix, key);
    int64_t found = table_find(c->sh, atomic_load(&c->sh->table), key);
    if (found < 0 && !cpm__index_make_room(ix, c->sh)) {
        degrade(ix, "adding a subject");
        return false;
    }
    write_begin(c->sh);
    if (found >= 0) {
        c->no = (uint32_t)found;
        c->e = cpm__index_entry_at(c->sh, c->no);
    } else {
        c->e = cpm__index_entry_add(ix, c->sh, key, &c->no);
    }
    return true;
}

static void change_end(struct change *c)
{
    write_end(c->sh);
}

static int64_t entry_base(const struct entry *e)
{
    return (int64_t)e->base_lo | ((int64_t)e->base_hi << 32);
}

/* Removes an out-of-line consent of (purpose, recipient) from x; true when there was one. */
static bool xconsent_remove(struct extra *x, int purpose, int recipient)
{
    for (size_t i = 0; i < x->consent_count; i++) {
        if (x->consents[i].purpose == purpose && x->consents[i].recipient == recipient) {
            x->consents[i] = x->consents[--x->consent_count];
            return true;
        }
    }
    return false;
}

static bool put_xconsent(struct change *c, const struct xconsent *xc)
{
    struct extra *x = extra_clone(cpm__index_extra_of(c->sh, c->e, c->no));
    if (x == NULL)
        return false;
    xconsent_remove(x, xc->purpose, xc->recipient);
    struct xconsent *grown = cpm_realloc(x->consents, sizeof(*grown) * (x->consent_count + 1));
    if (grown == NULL) {
        cpm__index_extra_free(x);
        return false;
    }
    x->consents = grown;
    x->consents[x->consent_count++] = *xc;
    if (!cpm__index_extra_publish(c->ix, c->sh, c->e, c->no, x)) {
        cpm__index_extra_free(x);
        return false;
    }
    return true;
}

/* Drops an out-of-line copy of an inline purpose's consent, if one is there. */
static bool drop_xconsent(struct change *c, int purpose)
{
    const struct extra *old = cpm__index_extra_of(c->sh, c->e, c->no);
    bool present = false;
    for (size_t i = 0; old != NULL && i < old->consent_count; i++)
        present |= old->consents[i].purpose == purpose && old->consents[i].recipient < 0;
    if (!present)
        return true;
    struct extra *x = extra_clone(old);
    if (x == NULL)
        return false;
    xconsent_remove(x, purpose, RECIPIENT_NONE);
    if (!cpm__index_extra_publish(c->ix, c->sh, c->e, c->no, x)) {
        cpm__index_extra_free(x);
        return false;
    }
    return true;
}

static bool set_consent(struct change *c, int purpose, int recipient, const struct xconsent *xc)
{
    struct entry *e = c->e;
    int64_t base = entry_base(e);
    bool inline_ok = purpose < CPM_INDEX_PURPOSES_INLINE && recipient < 0 && xc->expires_ms == 0;
    if (inline_ok && base == 0 && xc->seq > 0) {
        /* centre the base on the first seq seen: later and earlier ones both fit */
        base = xc->seq > DELTA_HALF ? xc->seq - DELTA_HALF : 0;
        e->base_lo = (uint32_t)base;
        e->base_hi = (uint8_t)(base >> 32);
    }
    int64_t delta = xc->seq - base;
    if (inline_ok && delta >= 0 && delta < (1LL << DELTA_BITS)) {
        e->purposes[purpose] =
            (uint32_t)xc->status | ((uint32_t)xc->by_guardian << 3) | ((uint32_t)delta << 4);
        return drop_xconsent(c, purpose);
    }
    if (purpose < CPM_INDEX_PURPOSES_INLINE && recipient < 0)
        e->purposes[purpose] = 0;
    return put_xconsent(c, xc);
}

bool cpm__index_consent_of(struct cpm_index *ix, struct memo *m, const struct cpm_state_row *st,
                           struct xconsent *out)
{
    int purpose = cpm__index_slot_memo(ix, m, st->purpose);
    int recipient =
        st->recipient[0] ? cpm_index_slot(ix, CPM_SLOT_RECIPIENT, st->recipient, true) : -1;
    enum cpm_consent_status status = cpm_consent_status_parse(st->status);
    if (purpose < 0 || (st->recipient[0] && recipient < 0)) {
        degrade(ix, "naming a purpose or recipient");
        return false;
    }
    *out = (struct xconsent){.purpose = (uint16_t)purpose,
                             .recipient = (int16_t)recipient,
                             .status = (uint8_t)status,
                             .by_guardian = st->by_guardian,
                             .seq = st->seq,
                             .expires_ms = status == CPM_STATUS_GIVEN ? st->expires_ms : 0};
    return true;
}

void cpm__index_put_consent(struct cpm_index *ix, const uint64_t key[2], const struct xconsent *xc)
{
    struct change c;
    if (!change_begin(ix, key, &c))
        return; /* NONE too: an objection withdrawn clears what was there */
    if (!set_consent(&c, xc->purpose, xc->recipient, xc))
        degrade(ix, "recording a consent");
    change_end(&c);
}

static void apply_state(struct cpm_index *ix, const struct cpm_consent_state *st)
{
    struct xconsent xc;
    uint64_t key[2];
    struct cpm_state_row row = {.subject_id = st->subject_id,
                                .purpose = st->purpose,
                                .recipient = st->recipient,
                                .status = st->status,
                                .seq = st->seq,
                                .expires_ms = st->expires_ms,
                                .by_guardian = st->by_guardian};
    if (!cpm__index_consent_of(ix, &ix->memo, &row, &xc))
        return;
    cpm__index_hash_memo(ix, &ix->memo, st->subject_id, key);
    cpm__index_put_consent(ix, key, &xc);
}

static void set_age(struct entry *e, enum cpm_age age)
{
    e->flags = (uint8_t)((e->flags & ~F_AGE_MASK) | (age << F_AGE_SHIFT));
}

static void apply_erasure(struct change *c, int64_t erased_seq)
{
    c->e->flags |= F_ERASED;
    struct extra *x = extra_clone(cpm__index_extra_of(c->sh, c->e, c->no));
    if (x != NULL)
        x->erased_seq = erased_seq;
    if (x == NULL || !cpm__index_extra_publish(c->ix, c->sh, c->e, c->no, x)) {
        cpm__index_extra_free(x);
        degrade(c->ix, "recording an erasure");
    }
}

void cpm__index_clear(struct cpm_index *ix, const uint64_t key[2])
{
    struct change c;
    if (!change_begin(ix, key, &c))
        return;
    bool had_extra = (c.e->flags & F_HAS_EXTRA) != 0;
    memset((char *)c.e + offsetof(struct entry, base_lo), 0,
           sizeof(*c.e) - offsetof(struct entry, base_lo));
    if (had_extra) { /* an empty one in its place: the map keeps its items */
        struct extra *x = cpm_calloc(1, sizeof(*x));
        if (x == NULL || !cpm__index_extra_publish(ix, c.sh, c.e, c.no, x)) {
            cpm__index_extra_free(x);
            degrade(ix, "reading a subject again");
        }
    }
    change_end(&c);
}

void cpm__index_put_subject(struct cpm_index *ix, const uint64_t key[2], int age,
                            int64_t erased_seq)
{
    struct change c;
    if (!change_begin(ix, key, &c))
        return;
    if (age >= 0)
        set_age(c.e, (enum cpm_age)age);
    if (erased_seq != 0)
        apply_erasure(&c, erased_seq);
    change_end(&c);
}

/* A subject seen: its age status ("" leaves it) and, when erased_seq is set, its erasure. */
static void apply_subject(struct cpm_index *ix, const char *id, const char *age_status,
                          int64_t erased_seq)
{
    uint64_t key[2];
    cpm__index_hash_memo(ix, &ix->memo, id, key);
    cpm__index_put_subject(ix, key, age_status[0] ? (int)cpm_age_parse(age_status) : -1,
                           erased_seq);
}

static int cmp_cap(const void *a, const void *b)
{
    const struct cpm_preferences_cap *x = a, *y = b;
    return (int)x->channel - (int)y->channel;
}

/* The preferences' topics that are off: inline bits, and the slots past them. */
struct topics_off {
    uint8_t bits;
    size_t count;
    uint16_t slots[CPM_PREFERENCES_TOPICS_MAX];
};

static bool topics_off_of(struct cpm_index *ix, const struct cpm_preferences *p,
                          struct topics_off *out)
{
    out->bits = 0;
    out->count = 0;
    for (size_t i = 0; i < p->topic_count; i++) {
        int slot = cpm_index_slot(ix, CPM_SLOT_TOPIC, p->topics[i].id, true);
        if (slot < 0)
            return false;
        if (p->topics[i].on)
            continue;
        if (slot < CPM_INDEX_TOPICS_INLINE)
            out->bits |= (uint8_t)(1u << slot);
        else
            out->slots[out->count++] = (uint16_t)slot;
    }
    return true;
}

/* The preferences' out-of-line part into x (replacing what x had of them). */
static bool prefs_extra(struct extra *x, const struct cpm_preferences *p,
                        const struct topics_off *off)
{
    struct cpm_preferences_cap caps[CPM_PREFERENCES_CAPS_MAX];
    memcpy(caps, p->caps, sizeof(caps[0]) * p->cap_count);
    qsort(caps, p->cap_count, sizeof(caps[0]), cmp_cap);
    cpm_free(x->windows);
    cpm_free(x->caps);
    cpm_free(x->cap_channels);
    cpm_free(x->topics_off);
    x->windows = NULL;
    x->caps = NULL;
    x->cap_channels = NULL;
    x->topics_off = NULL;
    x->window_count = x->cap_count = x->topic_off_count = 0;
    x->tz = p->time_zone[0] ? cpm_tz_get(p->time_zone) : NULL;
    if (!COPY_ARRAY(x->windows, p->windows, p->window_count) ||
        !COPY_ARRAY(x->topics_off, off->slots, off->count))
        return false;
    x->window_count = p->window_count;
    x->topic_off_count = off->count;
    if (p->cap_count > 0) {
        x->caps = cpm_malloc(sizeof(*x->caps) * p->cap_count);
        x->cap_channels = cpm_malloc(p->cap_count);
        if (x->caps == NULL || x->cap_channels == NULL)
            return false;
        for (size_t i = 0; i < p->cap_count; i++) {
            x->caps[i] = caps[i].cap;
            x->cap_channels[i] = caps[i].channel;
        }
        x->cap_count = p->cap_count;
    }
    return true;
}

void cpm__index_put_preferences(struct cpm_index *ix, const uint64_t key[2],
                                const struct cpm_preferences *p)
{
    struct change c;
    struct topics_off off;
    if (!topics_off_of(ix, p, &off) || !change_begin(ix, key, &c)) {
        degrade(ix, "recording preferences");
        return;
    }
    c.e->channels_off = p->channels_off;
    c.e->topics_off = off.bits;
    c.e->flags = (uint8_t)((c.e->flags & ~F_PERS_OFF) | (p->personalisation_off ? F_PERS_OFF : 0));
    const struct extra *old = cpm__index_extra_of(c.sh, c.e, c.no);
    /* most people set no zone, window, cap or far topic: they need no out-of-line part */
    if (old != NULL || p->time_zone[0] || p->window_count || p->cap_count || off.count) {
        struct extra *x = extra_clone(old);
        if (x == NULL || !prefs_extra(x, p, &off) ||
            !cpm__index_extra_publish(ix, c.sh, c.e, c.no, x)) {
            cpm__index_extra_free(x);
            degrade(ix, "recording preferences");
        }
    }
    change_end(&c);
}

/* Inserts a send into x's (channel, time)-ordered runs, dropping those too old to count. */
static bool add_send(struct extra *x, uint8_t channel, int64_t ms, int64_t now_ms)
{
    size_t n = 0, at;
    uint8_t *channels = cpm_malloc(x->send_count + 1);
    int64_t *times = cpm_malloc(sizeof(int64_t) * (x->send_count + 1));
    if (channels == NULL || times == NULL) {
        cpm_free(channels);
        cpm_free(times);
        return false;
    }
    for (size_t i = 0; i < x->send_count; i++) {
        if (x->send_ms[i] <= now_ms - CPM_INDEX_SENDS_KEPT_MS)
            continue;
        channels[n] = x->send_channels[i];
        times[n++] = x->send_ms[i];
    }
    for (at = 0;
         at < n && (channels[at] < channel || (channels[at] == channel && times[at] <= ms));)
        at++;
    memmove(channels + at + 1, channels + at, n - at);
    memmove(times + at + 1, times + at, sizeof(int64_t) * (n - at));
    channels[at] = channel;
    times[at] = ms;
    cpm_free(x->send_channels);
    cpm_free(x->send_ms);
    x->send_channels = channels;
    x->send_ms = times;
    x->send_count = n + 1;
    return true;
}

void cpm__index_put_contact(struct cpm_index *ix, const uint64_t key[2], uint8_t channel,
                            int64_t time_ms, int64_t now_ms)
{
    struct change c;
    if (!change_begin(ix, key, &c))
        return;
    struct extra *x = extra_clone(cpm__index_extra_of(c.sh, c.e, c.no));
    if (x == NULL || !add_send(x, channel, time_ms, now_ms) ||
        !cpm__index_extra_publish(ix, c.sh, c.e, c.no, x)) {
        cpm__index_extra_free(x);
        degrade(ix, "recording a send");
    }
    change_end(&c);
}

static void apply_preferences(struct cpm_index *ix, const char *subject_id,
                              const struct cpm_preferences *p)
{
    uint64_t key[2];
    cpm__index_hash_memo(ix, &ix->memo, subject_id, key);
    cpm__index_put_preferences(ix, key, p);
}

static void apply_contact(struct cpm_index *ix, const struct cpm_contact *ct, int64_t now_ms)
{
    uint64_t key[2];
    cpm__index_hash_memo(ix, &ix->memo, ct->subject_id, key);
    cpm__index_put_contact(ix, key, ct->channel, ct->time_ms, now_ms);
}

/* The seq of batch's subject.erased event for id; 0 when none. */
static int64_t erased_seq_in(const struct cpm_write_batch *b, const char *id)
{
    for (size_t i = 0; i < b->event_count; i++)
        if (strcmp(b->events[i].type, "subject.erased") == 0 &&
            strcmp(b->events[i].subject_id, id) == 0)
            return b->events[i].seq;
    return 0;
}

void cpm_index_apply(struct cpm_index *ix, const struct cpm_write_batch *b)
{
    for (size_t i = 0; i < b->subject_count; i++)
        apply_subject(ix, b->subjects[i].id, b->subjects[i].age_status, 0);
    for (size_t i = 0; i < b->state_count; i++)
        apply_state(ix, &b->states[i]);
    for (size_t i = 0; i < b->subject_update_count; i++) {
        const struct cpm_subject_update *u = &b->subject_updates[i];
        apply_subject(ix, u->id, u->age_status,
                      u->erased_ms ? (erased_seq_in(b, u->id) ? erased_seq_in(b, u->id) : 1) : 0);
    }
    for (size_t i = 0; i < b->preference_count; i++)
        if (b->preferences[i].compiled != NULL)
            apply_preferences(ix, b->preferences[i].subject_id, b->preferences[i].compiled);
    int64_t now_ms = cpm_clock_now_ms();
    for (size_t i = 0; i < b->contact_count; i++)
        apply_contact(ix, &b->contacts[i], now_ms);
    cpm_epoch_reclaim();
}

/* ---- readers ------------------------------------------------------------------------------ */

/*
 * A consistent copy of what a decision on purpose reads of key's entry (its
 * head and that purpose's word: the others are left unset) and a pointer to
 * its extra; false when absent.
 */
static bool read_entry(struct cpm_index *ix, const uint64_t key[2], int purpose, struct entry *out,
                       const struct extra **x)
{
    struct shard *sh = shard_of(ix, key);
    bool inline_purpose = purpose >= 0 && purpose < CPM_INDEX_PURPOSES_INLINE;
    for (;;) {
        uint32_t before = atomic_load_explicit(&sh->seq, memory_order_acquire);
        if (before & 1u)
            continue;
        int64_t no = table_find(sh, atomic_load(&sh->table), key);
        if (no >= 0) {
            const struct entry *e = cpm__index_entry_at(sh, (uint32_t)no);
            memcpy(out, e, ENTRY_HEAD_BYTES);
            if (inline_purpose)
                out->purposes[purpose] = e->purposes[purpose];
            *x = (out->flags & F_HAS_EXTRA) ? xmap_get(atomic_load(&sh->extras), (uint32_t)no)
                                            : NULL;
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&sh->seq, memory_order_relaxed) == before)
            return no >= 0;
    }
}

static const struct xconsent *find_xconsent(const struct extra *x, int purpose, int recipient)
{
    for (size_t i = 0; x != NULL && i < x->consent_count; i++)
        if (x->consents[i].purpose == purpose && x->consents[i].recipient == recipient)
            return &x->consents[i];
    return NULL;
}

static void view_consent(const struct entry *e, const struct extra *x,
                         const struct cpm_index_question *q, struct cpm_decide_subject *out)
{
    const struct xconsent *xc = find_xconsent(x, q->purpose, q->recipient >= 0 ? q->recipient : -1);
    if (xc != NULL) {
        out->status = (enum cpm_consent_status)xc->status;
        out->by_guardian = xc->by_guardian;
        out->seq = xc->seq;
        out->expires_ms = xc->expires_ms;
    } else if (q->recipient < 0 && q->purpose >= 0 && q->purpose < CPM_INDEX_PURPOSES_INLINE &&
               P_STATUS(e->purposes[q->purpose]) != CPM_STATUS_NONE) {
        uint32_t p = e->purposes[q->purpose];
        out->status = (enum cpm_consent_status)P_STATUS(p);
        out->by_guardian = P_GUARDIAN(p) != 0;
        out->seq = entry_base(e) + (int64_t)P_DELTA(p);
    }
}

static bool topic_off(const struct entry *e, const struct extra *x, int topic)
{
    if (topic < 0)
        return false;
    if (topic < CPM_INDEX_TOPICS_INLINE)
        return (e->topics_off >> topic) & 1u;
    for (size_t i = 0; x != NULL && i < x->topic_off_count; i++)
        if (x->topics_off[i] == topic)
            return true;
    return false;
}

static void view_channel(const struct extra *x, enum cpm_channel ch, struct cpm_decide_subject *out)
{
    size_t i = 0, n = 0;
    while (i < x->cap_count && x->cap_channels[i] < ch)
        i++;
    while (i + n < x->cap_count && x->cap_channels[i + n] == ch)
        n++;
    out->caps = n ? &x->caps[i] : NULL;
    out->cap_count = n;
    /* this channel's run of sends */
    for (i = 0, n = 0; i < x->send_count && x->send_channels[i] < ch;)
        i++;
    while (i + n < x->send_count && x->send_channels[i + n] == ch)
        n++;
    out->sends = n ? &x->send_ms[i] : NULL;
    out->send_count = n;
}

static void view_key(struct cpm_index *ix, const uint64_t key[2],
                     const struct cpm_index_question *q, struct cpm_decide_subject *out)
{
    struct entry e;
    const struct extra *x = NULL;
    memset(out, 0, sizeof(*out));
    if (!read_entry(ix, key, q->purpose, &e, &x))
        return;
    out->known = true;
    out->age = (enum cpm_age)((e.flags & F_AGE_MASK) >> F_AGE_SHIFT);
    if (e.flags & F_ERASED) {
        out->erased = true;
        out->seq = x != NULL ? x->erased_seq : 0;
        return;
    }
    view_consent(&e, x, q, out);
    out->personalisation_off = (e.flags & F_PERS_OFF) != 0;
    out->topic_off = topic_off(&e, x, q->topic);
    if (q->channel != CPM_CHANNEL_NONE) {
        out->channel_off = (e.channels_off >> q->channel) & 1u;
        if (x != NULL) {
            out->tz = x->tz;
            out->windows = x->windows;
            out->window_count = x->window_count;
            view_channel(x, q->channel, out);
        }
    }
}

void cpm_index_view(struct cpm_index *ix, const struct cpm_index_question *q,
                    struct cpm_decide_subject *out)
{
    uint64_t key[2];
    hash_id(ix, q->subject_id, key);
    view_key(ix, key, q, out);
}

/* Asks the memory for key's table slot, without waiting for it. */
void cpm__index_prefetch_slot(struct cpm_index *ix, const uint64_t key[2])
{
    const struct table *t = atomic_load_explicit(&shard_of(ix, key)->table, memory_order_acquire);
    if (t != NULL)
        __builtin_prefetch(&t->slots[(uint32_t)key[0] & t->mask]);
}

/*
 * Slots looked at for a matching tag before giving up on a prefetch: a
 * line's worth. A table at its fullest (85 %) has many probes longer than
 * four, and each lookup whose entry was not asked for waits for it: at 80 %,
 * 4 slots gave 130–161 ns a lookup in a run, 16 slots 100–111 ns.
 */
#define PREFETCH_PROBES 16

/*
 * Asks the memory for what a decision on purpose reads of the entry key's
 * first matching slot points at (a hint: no locking).
 */
void cpm__index_prefetch_entry(struct cpm_index *ix, const uint64_t key[2], int purpose)
{
    struct shard *sh = shard_of(ix, key);
    const struct table *t = atomic_load_explicit(&sh->table, memory_order_acquire);
    if (t == NULL)
        return;
    uint32_t tag = tag_of(key);
    for (uint32_t i = (uint32_t)key[0] & t->mask, n = 0; n < PREFETCH_PROBES;
         i = (i + 1) & t->mask, n++) {
        uint32_t slot = t->slots[i];
        if (slot == 0)
            return;
        if ((slot & ~ENTRY_MASK) == tag) {
            const struct entry *e = cpm__index_entry_at(sh, (slot & ENTRY_MASK) - 1);
            __builtin_prefetch(e);
            /* the line that ends the head, and the purpose's (mostly the same line) */
            __builtin_prefetch((const char *)e + ENTRY_HEAD_BYTES - 1);
            if (purpose >= 0 && purpose < CPM_INDEX_PURPOSES_INLINE)
                __builtin_prefetch(&e->purposes[purpose]);
            return;
        }
    }
}

/*
 * The lookups run as a pipeline: while subject i is read, the entry of
 * subject i + ENTRY_AHEAD is on its way from memory and the table slots of
 * the subjects SLOT_AHEAD ahead too, their hashes just computed (HASH_GROUP
 * ids at a time, side by side). The two dependent misses of each lookup
 * then overlap with the work on the others, whatever n is, instead of
 * being waited for one after the other. The distances cover a miss
 * (≈ 200–350 ns on the 2-core VM of docs/BENCHMARKS.md) with a few
 * lookups' work each; 6/12 to 16/32 measured the same there.
 */
#define ENTRY_AHEAD 8
#define SLOT_AHEAD  16
#define HASH_GROUP  8
#define KEYS_RING   32 /* >= SLOT_AHEAD + HASH_GROUP, a power of two */
_Static_assert(ENTRY_AHEAD < SLOT_AHEAD && SLOT_AHEAD + HASH_GROUP <= KEYS_RING,
               "pipeline distances");
_Static_assert((KEYS_RING & (KEYS_RING - 1)) == 0 && KEYS_RING % HASH_GROUP == 0,
               "a ring of a power of two, whole groups");

/* The first pipeline stage of ids [from, from + HASH_GROUP) ∩ [0, n): hashes, slots asked for. */
static void ask_slots(struct cpm_index *ix, const char *const *ids, const size_t *lens, size_t from,
                      size_t n, uint64_t (*ring)[2])
{
    size_t count = n - from < HASH_GROUP ? n - from : HASH_GROUP;
    uint64_t(*keys)[2] = &ring[from % KEYS_RING]; /* from is a multiple of HASH_GROUP */
    hash_many(ix, ids + from, lens + from, count, keys);
    for (size_t j = 0; j < count; j++)
        cpm__index_prefetch_slot(ix, keys[j]);
}

void cpm_index_view_each(struct cpm_index *ix, const struct cpm_index_question *q,
                         const char *const *ids, const size_t *lens, size_t n,
                         cpm_index_visit_fn visit, void *ctx)
{
    uint64_t keys[KEYS_RING][2];
    struct cpm_decide_subject s;
    size_t hashed = 0; /* ids [0, hashed) have their keys in the ring (the last KEYS_RING) */
    for (size_t base = 0; base < n; base += CPM_INDEX_VIEW_BATCH) {
        size_t end = n - base < CPM_INDEX_VIEW_BATCH ? n : base + CPM_INDEX_VIEW_BATCH;
        if (!cpm_epoch_enter()) { /* no reader slot: nothing may be read, every answer unknown */
            memset(&s, 0, sizeof(s));
            for (size_t i = base; i < n; i++)
                visit(ctx, i, &s);
            return;
        }
        /* Only keys cross from one section to the next: every pointer is read again. */
        if (base == 0) {
            for (; hashed < n && hashed <= SLOT_AHEAD; hashed += HASH_GROUP)
                ask_slots(ix, ids, lens, hashed, n, keys);
            for (size_t j = 0; j < ENTRY_AHEAD && j < n; j++)
                cpm__index_prefetch_entry(ix, keys[j % KEYS_RING], q->purpose);
        }
        for (size_t i = base; i < end; i++) {
            if (hashed < n && hashed <= i + SLOT_AHEAD) {
                ask_slots(ix, ids, lens, hashed, n, keys);
                hashed += HASH_GROUP;
            }
            if (i + ENTRY_AHEAD < n)
                cpm__index_prefetch_entry(ix, keys[(i + ENTRY_AHEAD) % KEYS_RING], q->purpose);
            view_key(ix, keys[i % KEYS_RING], q, &s);
            visit(ctx, i, &s);
        }
        cpm_epoch_exit();
    }
}

bool cpm_index_degraded(struct cpm_index *ix)
{
    return atomic_load(&ix->degraded);
}

void cpm_index_stats(struct cpm_index *ix, uint64_t *subjects, uint64_t *bytes)
{
    *subjects = atomic_load(&ix->subjects);
    *bytes = atomic_load(&ix->bytes);
}
