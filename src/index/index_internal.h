/* SPDX-License-Identifier: Apache-2.0 */
/*
 * index_internal.h — the index's structures, shared by index.c (the index),
 * load.c (rebuilding it from the store), snapshot.c (saving it while
 * serving and on shutdown, restoring it on start) and catch_up.c (reading
 * again what changed after a snapshot). Nothing else may include this file.
 */
#ifndef CPM_INDEX_INDEX_INTERNAL_H
#define CPM_INDEX_INDEX_INTERNAL_H

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>

#include "index/index.h"

#define SHARDS          16
#define CHUNK0_ENTRIES  1024 /* chunk k of a shard holds CHUNK0_ENTRIES << k entries */
#define CHUNKS_MAX      14   /* ≈ 16.8 M entries a shard, 268 M subjects in all */
#define TABLE_SLOTS_MIN 1024
#define HUGE_PAGE_BYTES (2u << 20)
#define ENTRY_BITS      24 /* entry numbers per shard (with an 8-bit tag in a slot) */
#define TAG_SHIFT       ENTRY_BITS
#define ENTRY_MASK      ((1u << ENTRY_BITS) - 1)
#define DELTA_BITS      28
#define DELTA_HALF      (1LL << (DELTA_BITS - 1))
#define PROGRESS_EVERY  1000000
#define RECIPIENT_NONE  (-1)

/* entry.flags */
#define F_ERASED    0x01u
#define F_PERS_OFF  0x02u
#define F_HAS_EXTRA 0x04u
#define F_AGE_SHIFT 4
#define F_AGE_MASK  0x30u

/* A purpose's 32 bits: status (3), by guardian (1), seq - base (28). */
#define P_STATUS(p)   ((p)&0x7u)
#define P_GUARDIAN(p) (((p) >> 3) & 0x1u)
#define P_DELTA(p)    ((p) >> 4)

/*
 * What every decision reads comes first (the key, then the head: base,
 * flags, channels and topics), then the purposes, of which a decision
 * reads one: a reader copies only those bytes, so for the first purposes
 * most entries are read from one cache line although 56 bytes straddle two
 * in six cases of eight. The snapshot's version changes with this layout.
 */
struct entry {
    uint64_t key[2];
    uint32_t base_lo; /* the 40-bit base the purposes' seqs are counted from */
    uint8_t base_hi;
    uint8_t flags;
    uint8_t channels_off;
    uint8_t topics_off;
    uint32_t purposes[CPM_INDEX_PURPOSES_INLINE];
};
_Static_assert(sizeof(struct entry) == 56, "an entry is 56 bytes");
#define ENTRY_HEAD_BYTES offsetof(struct entry, purposes) /* the key and the head */

/* A consent kept out of line: a purpose past the inline ones, a recipient, an expiry. */
struct xconsent {
    uint16_t purpose;
    int16_t recipient; /* RECIPIENT_NONE for the purpose itself */
    uint8_t status;
    bool by_guardian;
    int64_t seq, expires_ms;
};

/* A subject's out-of-line part: immutable once published. */
struct extra {
    int64_t erased_seq;
    const struct cpm_tz *tz;
    size_t window_count, cap_count, topic_off_count, consent_count, send_count;
    struct cpm_window *windows;
    struct cpm_cap *caps;  /* sorted by channel */
    uint8_t *cap_channels; /* caps[i]'s channel */
    uint16_t *topics_off;  /* topic slots past the inline ones that are off */
    struct xconsent *consents;
    uint8_t *send_channels; /* sends by channel, then time: */
    int64_t *send_ms;       /* their channels and times */
    size_t bytes;
};

struct table {
    size_t bytes; /* of the mapping */
    uint32_t mask;
    uint32_t slots[];
};

struct xmap_item {
    _Atomic uint32_t key; /* entry number + 1; 0: empty */
    struct extra *_Atomic value;
};

struct xmap {
    uint32_t mask, count;
    struct xmap_item items[];
};

struct shard {
    _Atomic uint32_t seq; /* odd while the writer changes the shard */
    struct table *_Atomic table;
    struct xmap *_Atomic extras;
    uint32_t count;
    struct entry *_Atomic chunks[CHUNKS_MAX]; /* allocated as needed, never moved */
};

struct slots {
    char **names;
    int count;
};

/* What the writer (or the load) remembers between changes: runs of one subject, few purposes. */
#define MEMO_SLOTS 16
struct memo {
    char id[CPM_SUBJECT_ID_BYTES_MAX + 1];
    uint64_t key[2];
    int count, next; /* names held, the next to replace */
    char names[MEMO_SLOTS][CPM_ID_BYTES_MAX + 1];
    size_t lens[MEMO_SLOTS]; /* of the names: most purposes differ in length */
    int slots[MEMO_SLOTS];
};

struct cpm_index {
    struct shard shards[SHARDS];
    struct memo memo; /* the writer's own */
    uint8_t hash_key[crypto_shorthash_siphashx24_KEYBYTES];
    pthread_mutex_t slot_lock;
    struct slots slots[3];
    _Atomic uint64_t subjects, bytes;
    atomic_bool degraded;
};

/* The shard a key lives in. */
static inline unsigned cpm__index_shard_no(const uint64_t key[2])
{
    return (unsigned)(key[1] % SHARDS);
}

/* An entry's place in its shard (chunks never move). */
struct entry *cpm__index_entry_at(struct shard *sh, uint32_t no);
/* Room for one more entry in sh; outside the shard's write section. False on out of memory. */
bool cpm__index_make_room(struct cpm_index *ix, struct shard *sh);
/* A new zeroed entry for key in sh, after cpm__index_make_room. */
struct entry *cpm__index_entry_add(struct cpm_index *ix, struct shard *sh, const uint64_t key[2],
                                   uint32_t *no);
/* Publishes x as entry no's out-of-line part (retiring the old one). */
bool cpm__index_extra_publish(struct cpm_index *ix, struct shard *sh, struct entry *e, uint32_t no,
                              struct extra *x);
/* The out-of-line part of entry no, or NULL. */
struct extra *cpm__index_extra_of(struct shard *sh, const struct entry *e, uint32_t no);
void cpm__index_extra_free(void *x);

/* ---- what the writer and the load (load.c) put in: the subject found by its key ---- */

/* key: the index's hash of a subject id of len bytes. */
void cpm__index_hash(const struct cpm_index *ix, const char *id, size_t len, uint64_t key[2]);
/* The same, remembering m's last subject: a batch or a load brings runs of one subject. */
void cpm__index_hash_memo(const struct cpm_index *ix, struct memo *m, const char *id,
                          uint64_t key[2]);
/* cpm_index_slot of a purpose (creating), remembering a few in m: no lock for the usual ones. */
int cpm__index_slot_memo(struct cpm_index *ix, struct memo *m, const char *name);
/* What a stored consent state becomes (its names resolved with m); false: slots ran out (degraded).
 */
bool cpm__index_consent_of(struct cpm_index *ix, struct memo *m, const struct cpm_state_row *st,
                           struct xconsent *out);

/*
 * Changes of one subject, made by one thread at a time (the writer, or the
 * load's applying thread); each marks the index degraded when memory runs
 * out. age: an enum cpm_age, or -1 to leave it; erased_seq 0: not erased.
 */
void cpm__index_put_subject(struct cpm_index *ix, const uint64_t key[2], int age,
                            int64_t erased_seq);
/* A stored preferences document compiled into out; false (logged) when it is not JSON. */
bool cpm__index_preferences_of(const char *text, struct cpm_preferences *out);
/* The subject of key as if never seen (an entry with nothing in it): before reading it again. */
void cpm__index_clear(struct cpm_index *ix, const uint64_t key[2]);
void cpm__index_put_consent(struct cpm_index *ix, const uint64_t key[2], const struct xconsent *xc);
void cpm__index_put_preferences(struct cpm_index *ix, const uint64_t key[2],
                                const struct cpm_preferences *p);
void cpm__index_put_contact(struct cpm_index *ix, const uint64_t key[2], uint8_t channel,
                            int64_t time_ms, int64_t now_ms);

/* Tables large enough for subjects more subjects without growing (a hint: on failure, none). */
void cpm__index_reserve(struct cpm_index *ix, uint64_t subjects);
/* Ask the memory for key's table slot; for its entry (the head and purpose's word). Hints only. */
void cpm__index_prefetch_slot(struct cpm_index *ix, const uint64_t key[2]);
void cpm__index_prefetch_entry(struct cpm_index *ix, const uint64_t key[2], int purpose);

#endif /* CPM_INDEX_INDEX_INTERNAL_H */
