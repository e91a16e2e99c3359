/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session.c — the admin console's sessions (see the header) and how a
 * request bringing their cookie is screened.
 *
 * The table is open addressing over a fixed array: a session's slot is
 * found from the SHA-256 of its id by linear probing; a removed slot
 * becomes a tombstone (so later slots of the same run stay reachable) and
 * tombstones before an empty slot are cleared. Lookups compare hashes with
 * sodium_memcmp, CSRF tokens with sodium_memcmp too.
 */
#include "core/common.h"

#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "http/app.h"
#include "http/router.h"
#include "http/session.h"

enum slot_state { SLOT_EMPTY = 0, SLOT_LIVE, SLOT_GONE };

struct slot {
    uint8_t state; /* enum slot_state */
    uint8_t id_hash[crypto_hash_sha256_BYTES];
    uint8_t csrf[CPM_SESSION_RANDOM_BYTES];
    char key_id[CPM_API_KEY_ID_BYTES];
    uint8_t key_hash[CPM_API_KEY_HASH_BYTES];
    int64_t created_ms;
    int64_t used_ms;
};

struct cpm_session_table {
    pthread_mutex_t lock;
    struct cpm_session_options options;
    struct slot *slots;
};

void cpm_session_options_default(struct cpm_session_options *options)
{
    options->idle_ms = CPM_SESSION_IDLE_MS_DEFAULT;
    options->lifetime_ms = CPM_SESSION_LIFETIME_MS_DEFAULT;
    options->capacity = CPM_SESSIONS_MAX;
    options->per_key_max = CPM_SESSIONS_PER_KEY_MAX;
}

cpm_err cpm_session_table_new(const struct cpm_session_options *options,
                              struct cpm_session_table **out)
{
    CPM_ASSERT(options->idle_ms > 0 && options->lifetime_ms > 0);
    CPM_ASSERT(options->capacity >= 1 && options->capacity <= CPM_SESSIONS_MAX);
    CPM_ASSERT(options->per_key_max >= 1);
    if (sodium_init() < 0)
        return CPM_ERR_CRYPTO;
    struct cpm_session_table *t = cpm_calloc(1, sizeof(*t));
    if (t == NULL)
        return CPM_ERR_NOMEM;
    t->slots = cpm_calloc(options->capacity, sizeof(*t->slots));
    if (t->slots == NULL) {
        cpm_free(t);
        return CPM_ERR_NOMEM;
    }
    t->options = *options;
    CPM_ASSERT(pthread_mutex_init(&t->lock, NULL) == 0);
    *out = t;
    return CPM_OK;
}

void cpm_session_table_free(struct cpm_session_table *table)
{
    if (table == NULL)
        return;
    sodium_memzero(table->slots, table->options.capacity * sizeof(*table->slots));
    cpm_free(table->slots);
    pthread_mutex_destroy(&table->lock);
    cpm_free(table);
}

static bool expired(const struct cpm_session_table *t, const struct slot *s, int64_t now_ms)
{
    return now_ms - s->used_ms >= t->options.idle_ms ||
           now_ms - s->created_ms >= t->options.lifetime_ms;
}

static size_t home_of(const struct cpm_session_table *t, const uint8_t hash[])
{
    uint64_t h;
    memcpy(&h, hash, sizeof(h));
    return (size_t)(h % t->options.capacity);
}

/* Empties slot i; tombstones only when a later slot of the run may need it. */
static void remove_slot(struct cpm_session_table *t, size_t i)
{
    size_t cap = t->options.capacity;
    sodium_memzero(&t->slots[i], sizeof(t->slots[i]));
    if (t->slots[(i + 1) % cap].state != SLOT_EMPTY) {
        t->slots[i].state = SLOT_GONE;
        return;
    }
    /* the run ends here: the tombstones just before are no longer needed */
    for (size_t n = 0; n < cap; n++) {
        i = (i + cap - 1) % cap;
        if (t->slots[i].state != SLOT_GONE)
            break;
        t->slots[i].state = SLOT_EMPTY;
    }
}

/* The slot of the session whose id hashes to hash, or SIZE_MAX. */
static size_t find(const struct cpm_session_table *t, const uint8_t hash[])
{
    size_t cap = t->options.capacity, i = home_of(t, hash);
    for (size_t n = 0; n < cap; n++, i = (i + 1) % cap) {
        const struct slot *s = &t->slots[i];
        if (s->state == SLOT_EMPTY)
            break;
        if (s->state == SLOT_LIVE && sodium_memcmp(s->id_hash, hash, sizeof(s->id_hash)) == 0)
            return i;
    }
    return SIZE_MAX;
}

/* Removes every expired session; then, when key_id holds per_key_max, its least recently used. */
static void make_room(struct cpm_session_table *t, const char *key_id, int64_t now_ms)
{
    size_t held = 0, oldest = SIZE_MAX;
    for (size_t i = 0; i < t->options.capacity; i++) {
        struct slot *s = &t->slots[i];
        if (s->state != SLOT_LIVE)
            continue;
        if (expired(t, s, now_ms)) {
            remove_slot(t, i);
            continue;
        }
        if (strcmp(s->key_id, key_id) != 0)
            continue;
        held++;
        if (oldest == SIZE_MAX || s->used_ms < t->slots[oldest].used_ms)
            oldest = i;
    }
    if (held >= t->options.per_key_max)
        remove_slot(t, oldest);
}

/* The first free slot on hash's probe sequence, or SIZE_MAX when the table is full. */
static size_t free_slot(const struct cpm_session_table *t, const uint8_t hash[])
{
    size_t cap = t->options.capacity, i = home_of(t, hash);
    for (size_t n = 0; n < cap; n++, i = (i + 1) % cap)
        if (t->slots[i].state != SLOT_LIVE)
            return i;
    return SIZE_MAX;
}

static void encode(char out[CPM_SESSION_TOKEN_BYTES], const uint8_t bytes[CPM_SESSION_RANDOM_BYTES])
{
    sodium_bin2base64(out, CPM_SESSION_TOKEN_BYTES, bytes, CPM_SESSION_RANDOM_BYTES,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Decodes a token's text into its bytes: false unless exactly CPM_SESSION_RANDOM_BYTES. */
static bool decode(const char *text, uint8_t out[CPM_SESSION_RANDOM_BYTES])
{
    size_t len = 0;
    const char *end = NULL;
    if (text == NULL || strlen(text) >= CPM_SESSION_TOKEN_BYTES)
        return false;
    return sodium_base642bin(out, CPM_SESSION_RANDOM_BYTES, text, strlen(text), NULL, &len, &end,
                             sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
           len == CPM_SESSION_RANDOM_BYTES && *end == '\0';
}

bool cpm_session_token_equal(const uint8_t stored[CPM_SESSION_RANDOM_BYTES], const char *text)
{
    uint8_t sent[CPM_SESSION_RANDOM_BYTES];
    /* a malformed token is compared too, so its rejection takes the same time */
    bool ok = decode(text, sent);
    if (!ok)
        memset(sent, 0, sizeof(sent));
    bool same = sodium_memcmp(stored, sent, CPM_SESSION_RANDOM_BYTES) == 0;
    sodium_memzero(sent, sizeof(sent));
    return ok && same;
}

static void describe(const struct cpm_session_table *t, const struct slot *s,
                     struct cpm_session_info *info)
{
    cpm_strlcpy(info->key_id, s->key_id, sizeof(info->key_id));
    memcpy(info->key_hash, s->key_hash, sizeof(info->key_hash));
    info->created_ms = s->created_ms;
    info->used_ms = s->used_ms;
    info->lifetime_ends_ms = s->created_ms + t->options.lifetime_ms;
    info->idle_ends_ms = s->used_ms + t->options.idle_ms;
    if (info->idle_ends_ms > info->lifetime_ends_ms)
        info->idle_ends_ms = info->lifetime_ends_ms;
    encode(info->csrf, s->csrf);
}

cpm_err cpm_session_open(struct cpm_session_table *table, const char *key_id,
                         const uint8_t key_hash[CPM_API_KEY_HASH_BYTES], int64_t now_ms,
                         char id[CPM_SESSION_TOKEN_BYTES], struct cpm_session_info *info)
{
    CPM_ASSERT(strlen(key_id) < CPM_API_KEY_ID_BYTES);
    uint8_t raw[CPM_SESSION_RANDOM_BYTES], hash[crypto_hash_sha256_BYTES];
    randombytes_buf(raw, sizeof(raw));
    crypto_hash_sha256(hash, raw, sizeof(raw));
    cpm_err err = CPM_OK;
    pthread_mutex_lock(&table->lock);
    make_room(table, key_id, now_ms);
    size_t i = free_slot(table, hash);
    if (i == SIZE_MAX) {
        err = CPM_ERR_UNAVAILABLE;
        goto out;
    }
    struct slot *s = &table->slots[i];
    memset(s, 0, sizeof(*s));
    s->state = SLOT_LIVE;
    memcpy(s->id_hash, hash, sizeof(hash));
    randombytes_buf(s->csrf, sizeof(s->csrf));
    cpm_strlcpy(s->key_id, key_id, sizeof(s->key_id));
    memcpy(s->key_hash, key_hash, sizeof(s->key_hash));
    s->created_ms = s->used_ms = now_ms;
    describe(table, s, info);
    encode(id, raw);
out:
    pthread_mutex_unlock(&table->lock);
    sodium_memzero(raw, sizeof(raw));
    return err;
}

cpm_err cpm_session_check(struct cpm_session_table *table, const char *id, const char *csrf,
                          int64_t now_ms, struct cpm_session_info *info)
{
    uint8_t raw[CPM_SESSION_RANDOM_BYTES], hash[crypto_hash_sha256_BYTES];
    if (!decode(id, raw))
        return CPM_ERR_UNAUTHORIZED;
    crypto_hash_sha256(hash, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    cpm_err err = CPM_OK;
    pthread_mutex_lock(&table->lock);
    size_t i = find(table, hash);
    if (i == SIZE_MAX) {
        err = CPM_ERR_UNAUTHORIZED;
    } else if (expired(table, &table->slots[i], now_ms)) {
        remove_slot(table, i);
        err = CPM_ERR_UNAUTHORIZED;
    } else if (csrf != NULL && !cpm_session_token_equal(table->slots[i].csrf, csrf)) {
        err = CPM_ERR_FORBIDDEN;
    } else {
        table->slots[i].used_ms = now_ms;
        describe(table, &table->slots[i], info);
    }
    pthread_mutex_unlock(&table->lock);
    return err;
}

cpm_err cpm_session_end(struct cpm_session_table *table, const char *id)
{
    uint8_t raw[CPM_SESSION_RANDOM_BYTES], hash[crypto_hash_sha256_BYTES];
    if (!decode(id, raw))
        return CPM_ERR_NOT_FOUND;
    crypto_hash_sha256(hash, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    pthread_mutex_lock(&table->lock);
    size_t i = find(table, hash);
    if (i != SIZE_MAX)
        remove_slot(table, i);
    pthread_mutex_unlock(&table->lock);
    return i != SIZE_MAX ? CPM_OK : CPM_ERR_NOT_FOUND;
}

size_t cpm_session_end_key(struct cpm_session_table *table, const char *key_id)
{
    size_t ended = 0;
    pthread_mutex_lock(&table->lock);
    for (size_t i = 0; i < table->options.capacity; i++)
        if (table->slots[i].state == SLOT_LIVE && strcmp(table->slots[i].key_id, key_id) == 0) {
            remove_slot(table, i);
            ended++;
        }
    pthread_mutex_unlock(&table->lock);
    return ended;
}

size_t cpm_session_count(struct cpm_session_table *table, int64_t now_ms)
{
    size_t live = 0;
    pthread_mutex_lock(&table->lock);
    for (size_t i = 0; i < table->options.capacity; i++)
        live += table->slots[i].state == SLOT_LIVE && !expired(table, &table->slots[i], now_ms);
    pthread_mutex_unlock(&table->lock);
    return live;
}

/* ---- requests ---- */

const char *cpm_session_cookie(const struct cpm_request *req)
{
    return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, CPM_SESSION_COOKIE);
}

/* True when a header's comma-separated list holds token `want` ("proto=https") in any case. */
static bool header_says(const char *value, const char *want)
{
    size_t want_len = strlen(want);
    for (const char *p = value; p != NULL && *p != '\0';) {
        p += strspn(p, " \t,;");
        size_t len = strcspn(p, " \t,;");
        if (len == want_len && strncasecmp(p, want, len) == 0)
            return true;
        p += len;
    }
    return false;
}

bool cpm_session_request_secure(const struct cpm_request *req)
{
    const char *proto = cpm_request_header(req, "X-Forwarded-Proto");
    const char *forwarded = cpm_request_header(req, "Forwarded");
    const char *origin = cpm_request_header(req, "Origin");
    return (proto != NULL && header_says(proto, "https")) ||
           (forwarded != NULL &&
            (header_says(forwarded, "proto=https") || header_says(forwarded, "proto=\"https\""))) ||
           (origin != NULL && strncmp(origin, "https://", 8) == 0);
}

void cpm_session_respond_cookie(struct cpm_request *req, const char *id)
{
    char header[160];
    /* no Max-Age: the cookie goes when the browser closes; the server ends the session anyway */
    snprintf(header, sizeof(header), "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s",
             CPM_SESSION_COOKIE, id != NULL ? id : "", id != NULL ? "" : "; Max-Age=0",
             cpm_session_request_secure(req) ? "; Secure" : "");
    cpm_respond_header(req, MHD_HTTP_HEADER_SET_COOKIE, header);
    sodium_memzero(header, sizeof(header));
}

static cpm_err refuse(struct cpm_request *req, cpm_err err, const char *why)
{
    cpm_strlcpy(req->early_message, why, sizeof(req->early_message));
    return err;
}

cpm_err cpm_session_screen(struct cpm_request *req)
{
    const char *cookie = cpm_session_cookie(req);
    const char *site = cpm_request_header(req, "Sec-Fetch-Site");
    if (cookie == NULL || req->app->sessions == NULL)
        return refuse(req, CPM_ERR_UNAUTHORIZED,
                      "sign in to the admin console first (POST /v1/admin/sessions)");
    /*
     * Only cpmd's own pages use the cookie: a foreign Origin, or a browser
     * saying the request is cross-site, is refused before anything else.
     */
    if (cpm_request_origin(req) != NULL ||
        (site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0))
        return refuse(req, CPM_ERR_FORBIDDEN,
                      "the console's session is only accepted from cpmd's own pages");
    const char *csrf = NULL;
    if (req->method != CPM_GET) {
        csrf = cpm_request_header(req, CPM_SESSION_CSRF_HEADER);
        if (csrf == NULL)
            return refuse(req, CPM_ERR_FORBIDDEN,
                          "a change made with the console's session needs the X-CSRF-Token header");
    }
    struct cpm_session_info info;
    cpm_err err = cpm_session_check(req->app->sessions, cookie, csrf, cpm_clock_now_ms(), &info);
    if (err == CPM_ERR_FORBIDDEN)
        return refuse(req, err, "the X-CSRF-Token header does not match the console's session");
    if (err != CPM_OK)
        return refuse(req, CPM_ERR_UNAUTHORIZED, "the console's session has ended: sign in again");
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    err = cpm_auth_check_hash(req->app->store, info.key_hash, &req->key, &detail);
    if (err == CPM_ERR_UNAUTHORIZED) {
        cpm_session_end_key(req->app->sessions, info.key_id);
        return refuse(req, err, "the API key of the console's session was revoked: sign in again");
    }
    sodium_memzero(&info, sizeof(info));
    return err;
}
