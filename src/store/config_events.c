/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_events.c — a configuration change becomes one ledger event,
 * written through the single writer like every other event.
 */
#include "core/common.h"

#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "crypto/random_id.h"
#include "store/config_events.h"

static char *leaf_text(const struct cpm_event *e, enum cpm_doc_kind kind, const char *id,
                       int64_t number, const char *body, const char *key_id)
{
    uint8_t hash[CPM_HASH_BYTES];
    char hex[2 * CPM_HASH_BYTES + 1], time_text[CPM_TIME_TEXT_BYTES];
    crypto_hash_sha256(hash, (const unsigned char *)body, strlen(body));
    sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
    cpm_time_format(e->time_ms, time_text, sizeof(time_text));
    json_t *leaf = json_pack(
        "{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "v", 1, "id", e->id, "type", e->type,
        "time", time_text, "kind", cpm_doc_kind_name(kind), "doc", id,
        kind == CPM_DOC_NOTICE && strcmp(e->type, "notice.published") == 0 ? "version" : "revision",
        (json_int_t)number, "sha256", hex, "key", key_id[0] ? key_id : "-");
    char *text = leaf ? json_dumps(leaf, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(leaf);
    return text;
}

void cpm_config_event(struct cpm_writer *writer, const char *type, enum cpm_doc_kind kind,
                      const char *id, int64_t number, const char *body, const char *key_id,
                      const char *request_id)
{
    struct cpm_event e = {.time_ms = cpm_clock_now_ms()};
    cpm_random_id(e.id, sizeof(e.id), "evt_");
    cpm_strlcpy(e.type, type, sizeof(e.type));
    e.leaf = leaf_text(&e, kind, id, number, body, key_id);
    cpm_err err = CPM_ERR_NOMEM;
    if (e.leaf != NULL) {
        e.leaf_len = strlen(e.leaf);
        struct cpm_write_request wr = {.events = &e, .event_count = 1};
        err = cpm_writer_submit(writer, &wr);
    }
    if (err != CPM_OK)
        cpm_log(CPM_LOG_ERROR, "ledger", request_id, NULL,
                "%s of %s '%s' is stored but its ledger event failed: %s", type,
                cpm_doc_kind_name(kind), id, cpm_err_message(err));
    cpm_free(e.leaf);
}
