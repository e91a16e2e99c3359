/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preferences.h — a subject's contact preferences: which channels and topics
 * they accept, when they may be contacted (their zone and weekly windows), how
 * often (caps per channel and period), their language, and the one-step
 * personalisation off switch (PIPL Art. 24).
 *
 * The document is the body of PUT /v1/subjects/{id}/preferences (a PATCH is
 * merged by the caller, and the merged whole is validated here). Every field
 * is optional:
 *
 *   {"channels": {"sms": true, "email": false},
 *    "topics": {"coupons": true, "new_arrivals": false},
 *    "time_zone": "Asia/Shanghai",
 *    "contact_windows": [{"days": ["mon", "tue"], "from": "19:00", "to": "22:00"}],
 *    "frequency_caps": [{"channel": "sms", "max": 2, "per": "week"}],
 *    "language": "zh-Hans",
 *    "personalisation": true}
 *
 * A valid document is compiled into a fixed-size struct for the in-memory
 * index, and each change becomes a preferences.changed leaf in the ledger.
 * Pure: topics are checked through the caller's configuration lookup.
 *
 * Thread safety: all functions are reentrant.
 */
#ifndef CPM_DOMAIN_PREFERENCES_H
#define CPM_DOMAIN_PREFERENCES_H

#include <jansson.h>

#include "core/common.h"
#include "core/detail.h"
#include "domain/config.h"
#include "domain/decide.h"
#include "domain/tz.h"
#include "domain/window.h"

#define CPM_PREFERENCES_WINDOWS_MAX 14
#define CPM_PREFERENCES_CAPS_MAX    21 /* one per (channel, period): 7 × 3 */
#define CPM_PREFERENCES_TOPICS_MAX  64
/* The longest tag cpm_locale_valid accepts ("yue-Hant-419"); limits.h has no locale size. */
#define CPM_PREFERENCES_LANGUAGE_BYTES_MAX 12

#define CPM_EVENT_PREFERENCES_CHANGED "preferences.changed"

struct cpm_preferences_cap {
    uint8_t channel; /* enum cpm_channel */
    struct cpm_cap cap;
};

struct cpm_preferences_topic {
    char id[CPM_ID_BYTES_MAX + 1];
    bool on;
};

/* A valid document compiled for the index. */
struct cpm_preferences {
    uint8_t channels_off; /* bit (1u << channel) set when that channel is false */
    bool personalisation_off;
    char time_zone[CPM_TZ_NAME_BYTES_MAX + 1];             /* "" when not set */
    char language[CPM_PREFERENCES_LANGUAGE_BYTES_MAX + 1]; /* "" when not set */
    size_t window_count;
    struct cpm_window windows[CPM_PREFERENCES_WINDOWS_MAX]; /* in document order */
    size_t cap_count;
    struct cpm_preferences_cap caps[CPM_PREFERENCES_CAPS_MAX]; /* in document order */
    size_t topic_count;
    struct cpm_preferences_topic topics[CPM_PREFERENCES_TOPICS_MAX]; /* sorted by id (strcmp) */
};

/*
 * Validates doc (a whole document) in place: checks every field, refuses
 * unknown ones, fills each contact window's `days` (all seven) when absent,
 * and looks each topic up (CPM_DOC_TOPIC) through lookup. Every fault is
 * added to detail (not NULL) with its field path ("channels.fax",
 * "contact_windows[1].to", "topics.coupons").
 * Returns CPM_OK, CPM_ERR_VALIDATION (every fault in detail), CPM_ERR_NOMEM,
 * or CPM_ERR_STORE when the lookup failed.
 */
cpm_err cpm_preferences_validate(json_t *doc, const struct cpm_config_lookup *lookup,
                                 struct cpm_detail *detail) CPM_MUST_CHECK;

/*
 * Compiles a document that passed cpm_preferences_validate into out (caller's
 * storage, overwritten whole). Asserts on a document that did not pass.
 */
void cpm_preferences_compile(const json_t *doc, struct cpm_preferences *out);

/*
 * The leaf text of a preferences.changed event: compact JSON with the keys
 * v (1), id, type, time (RFC 3339 UTC, ms), subject (the pseudonym, never the
 * subject id), guardian (the pseudonym of a guardian who made the change for
 * the subject; absent when guardian is NULL), preferences (doc, keys sorted)
 * in this order. len (not NULL) gets its length. Returns owned text
 * (cpm_free), or NULL when out of memory.
 */
char *cpm_preferences_leaf(const char *event_id, const char *pseudonym, const char *guardian,
                           int64_t time_ms, const json_t *doc, size_t *len);

#endif /* CPM_DOMAIN_PREFERENCES_H */
