/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.c — API key scopes, minting and checking.
 *
 * Checked keys are remembered for CPM_KEY_CACHE_MS (a decision must not
 * cost a database read for its key): a revocation by this process is seen
 * at once (cpm_auth_forget_keys), one by another process (`cpm keys`) within
 * that time. Only active keys are remembered; a slot per key hash, each with
 * its own lock. Each thread also remembers the last few keys it checked by
 * a keyed hash of their text (SipHash-128 under a random key per process),
 * so a request with a key seen a moment ago costs neither the key's
 * SHA-256 nor a lock shared with the other threads; what is held is a
 * keyed hash, never the key's text.
 */
#include "core/common.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>

#include "core/clock.h"
#include "http/auth.h"

static const struct {
    uint32_t bit;
    const char *name;
} scope_names[] = {
    {CPM_SCOPE_ADMIN, "admin"},
    {CPM_SCOPE_CONFIG, "config"},
    {CPM_SCOPE_CONSENTS_WRITE, "consents:write"},
    {CPM_SCOPE_DECISIONS_READ, "decisions:read"},
    {CPM_SCOPE_LEDGER_READ, "ledger:read"},
    {CPM_SCOPE_EXPORT, "export"},
};

uint32_t cpm_scope_parse(const char *name)
{
    for (size_t i = 0; i < CPM_ARRAY_LEN(scope_names); i++)
        if (strcmp(scope_names[i].name, name) == 0)
            return scope_names[i].bit;
    return 0;
}

const char *cpm_scope_name_at(size_t i)
{
    return i < CPM_ARRAY_LEN(scope_names) ? scope_names[i].name : NULL;
}

void cpm_scopes_format(uint32_t bits, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < CPM_ARRAY_LEN(scope_names); i++) {
        if (!(bits & scope_names[i].bit))
            continue;
        int n = snprintf(out + used, size - used, "%s%s", used ? " " : "", scope_names[i].name);
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
}

bool cpm_scopes_allow(uint32_t held, uint32_t needed)
{
    return (held & CPM_SCOPE_ADMIN) || (held & needed) == needed;
}

void cpm_api_key_hash(const char *secret, size_t len, uint8_t out[CPM_API_KEY_HASH_BYTES])
{
    crypto_hash_sha256(out, (const unsigned char *)secret, len);
}

cpm_err cpm_api_key_mint(struct cpm_store *store, struct cpm_api_key *key,
                         char secret[CPM_API_KEY_TEXT_BYTES])
{
    if (sodium_init() < 0)
        return CPM_ERR_CRYPTO;
    uint8_t id_bytes[8], secret_bytes[CPM_API_KEY_SECRET_BYTES];
    randombytes_buf(id_bytes, sizeof(id_bytes));
    randombytes_buf(secret_bytes, sizeof(secret_bytes));
    char hex[2 * sizeof(id_bytes) + 1];
    sodium_bin2hex(hex, sizeof(hex), id_bytes, sizeof(id_bytes));
    snprintf(key->id, sizeof(key->id), "key_%s", hex);
    key->created_ms = cpm_clock_now_ms();
    key->revoked_ms = 0;

    memcpy(secret, CPM_API_KEY_PREFIX, strlen(CPM_API_KEY_PREFIX));
    char *b64 = secret + strlen(CPM_API_KEY_PREFIX);
    sodium_bin2base64(b64, CPM_API_KEY_TEXT_BYTES - strlen(CPM_API_KEY_PREFIX), secret_bytes,
                      sizeof(secret_bytes), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret_bytes, sizeof(secret_bytes));

    uint8_t hash[CPM_API_KEY_HASH_BYTES];
    cpm_api_key_hash(secret, strlen(secret), hash);
    return store->ops->api_key_insert(store, key, hash);
}

#define KEY_CACHE_SLOTS 64

struct cached_key {
    pthread_mutex_t lock;
    bool used;
    uint8_t hash[CPM_API_KEY_HASH_BYTES];
    struct cpm_api_key key;
    int64_t loaded_ms;
    uint64_t generation;
};

static struct cached_key key_cache[KEY_CACHE_SLOTS];
static pthread_once_t key_cache_once = PTHREAD_ONCE_INIT;
static atomic_uint_least64_t key_generation = 1;

#define THREAD_KEYS 4

struct thread_key {
    bool used;
    uint8_t tag[crypto_shorthash_siphashx24_BYTES];
    struct cpm_api_key key;
    int64_t loaded_ms;
    uint64_t generation;
};

static _Thread_local struct thread_key thread_keys[THREAD_KEYS];
static _Thread_local unsigned thread_keys_next;
static uint8_t tag_key[crypto_shorthash_siphashx24_KEYBYTES];

static void key_cache_init(void)
{
    for (int i = 0; i < KEY_CACHE_SLOTS; i++)
        pthread_mutex_init(&key_cache[i].lock, NULL);
    randombytes_buf(tag_key, sizeof(tag_key));
}

/* Still good: loaded less than CPM_KEY_CACHE_MS ago, no key forgotten since. */
static bool fresh(int64_t loaded_ms, uint64_t generation, int64_t now)
{
    return generation == atomic_load(&key_generation) && now - loaded_ms >= 0 &&
           now - loaded_ms < CPM_KEY_CACHE_MS;
}

/* This thread's memory of the key whose text has tag; NULL when none is fresh. */
static const struct thread_key *thread_remembered(const uint8_t *tag)
{
    int64_t now = cpm_clock_coarse_ms();
    for (unsigned i = 0; i < THREAD_KEYS; i++) {
        const struct thread_key *k = &thread_keys[i];
        if (k->used && sodium_memcmp(k->tag, tag, sizeof(k->tag)) == 0 &&
            fresh(k->loaded_ms, k->generation, now))
            return k;
    }
    return NULL;
}

/* Remembers key under tag: in the slot that held tag before, so no stale copy is compared again. */
static void thread_remember(const uint8_t *tag, const struct cpm_api_key *key, uint64_t generation)
{
    struct thread_key *k = NULL;
    for (unsigned i = 0; k == NULL && i < THREAD_KEYS; i++)
        if (thread_keys[i].used && sodium_memcmp(thread_keys[i].tag, tag, sizeof(k->tag)) == 0)
            k = &thread_keys[i];
    if (k == NULL)
        k = &thread_keys[thread_keys_next++ % THREAD_KEYS];
    k->used = true;
    memcpy(k->tag, tag, sizeof(k->tag));
    k->key = *key;
    k->loaded_ms = cpm_clock_coarse_ms();
    k->generation = generation;
}

void cpm_auth_forget_keys(void)
{
    atomic_fetch_add(&key_generation, 1);
}

/* True (and *out filled) when the key of hash was checked recently. */
static bool remembered(const uint8_t hash[CPM_API_KEY_HASH_BYTES], struct cpm_api_key *out)
{
    struct cached_key *c = &key_cache[hash[0] % KEY_CACHE_SLOTS];
    int64_t now = cpm_clock_coarse_ms();
    pthread_mutex_lock(&c->lock);
    bool hit = c->used && sodium_memcmp(c->hash, hash, CPM_API_KEY_HASH_BYTES) == 0 &&
               fresh(c->loaded_ms, c->generation, now);
    if (hit)
        *out = c->key;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static void remember(const uint8_t hash[CPM_API_KEY_HASH_BYTES], const struct cpm_api_key *key,
                     uint64_t generation)
{
    struct cached_key *c = &key_cache[hash[0] % KEY_CACHE_SLOTS];
    pthread_mutex_lock(&c->lock);
    c->used = true;
    memcpy(c->hash, hash, CPM_API_KEY_HASH_BYTES);
    c->key = *key;
    c->loaded_ms = cpm_clock_coarse_ms();
    c->generation = generation;
    pthread_mutex_unlock(&c->lock);
}

cpm_err cpm_auth_check(struct cpm_store *store, const char *authorization, struct cpm_api_key *out,
                       struct cpm_detail *detail)
{
    static const char bearer[] = "Bearer ";
    if (authorization == NULL) {
        cpm_detail_add(detail, NULL, "send an API key: Authorization: Bearer cpm_…");
        return CPM_ERR_UNAUTHORIZED;
    }
    size_t blen = sizeof(bearer) - 1;
    if (strncasecmp(authorization, bearer, blen) != 0 ||
        strncmp(authorization + blen, CPM_API_KEY_PREFIX, strlen(CPM_API_KEY_PREFIX)) != 0 ||
        strlen(authorization + blen) >= CPM_API_KEY_TEXT_BYTES) {
        cpm_detail_add(detail, NULL, "the Authorization header is not 'Bearer cpm_…'");
        return CPM_ERR_UNAUTHORIZED;
    }
    const char *secret = authorization + blen;
    size_t len = strlen(secret);
    uint8_t tag[crypto_shorthash_siphashx24_BYTES];
    pthread_once(&key_cache_once, key_cache_init);
    crypto_shorthash_siphashx24(tag, (const unsigned char *)secret, len, tag_key);
    const struct thread_key *known = thread_remembered(tag);
    if (known != NULL) {
        *out = known->key;
        return CPM_OK;
    }
    uint64_t generation = atomic_load(&key_generation); /* before the check: no stale fill */
    uint8_t hash[CPM_API_KEY_HASH_BYTES];
    cpm_api_key_hash(secret, len, hash);
    cpm_err err = cpm_auth_check_hash(store, hash, out, detail);
    if (err == CPM_OK)
        thread_remember(tag, out, generation);
    return err;
}

cpm_err cpm_auth_check_hash(struct cpm_store *store, const uint8_t hash[CPM_API_KEY_HASH_BYTES],
                            struct cpm_api_key *out, struct cpm_detail *detail)
{
    pthread_once(&key_cache_once, key_cache_init);
    if (remembered(hash, out))
        return CPM_OK;
    uint64_t generation = atomic_load(&key_generation); /* read before the store: no stale fill */
    cpm_err err = store->ops->api_key_find(store, hash, out);
    if (err == CPM_ERR_NOT_FOUND || (err == CPM_OK && out->revoked_ms != 0)) {
        cpm_detail_add(detail, NULL, "the API key is unknown or revoked");
        return CPM_ERR_UNAUTHORIZED;
    }
    if (err == CPM_OK)
        remember(hash, out, generation);
    return err;
}
