/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device_merge.c — which of a device's consents carry over to a person at
 * login, and the merge's leaves (see the header).
 */
#include "core/common.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "domain/consent.h"
#include "domain/device_merge.h"

/* The person's own acts; other states (expired, reconsent_required, erased) the system set. */
static const char *const acts[] = {"given", "refused", "withdrawn", "objected",
                                   "objection_withdrawn"};

static bool is_act(const char *status)
{
    for (size_t i = 0; i < CPM_ARRAY_LEN(acts); i++)
        if (strcmp(status, acts[i]) == 0)
            return true;
    return false;
}

const char *cpm_merge_skip_reason(const struct cpm_merge_consent *device,
                                  const struct cpm_merge_consent *person, bool person_under_14,
                                  int64_t now_ms)
{
    bool given = strcmp(device->status, "given") == 0;
    if (!is_act(device->status))
        return "the device's consent is not a decision of the person (it was set by the system)";
    if (given && device->expires_ms != 0 && device->expires_ms <= now_ms)
        return "the device's consent has expired";
    if (person != NULL && person->decided_ms >= device->decided_ms)
        return "the person decided later (or at the same time): the newer decision stands";
    if (given && person_under_14)
        return "the person is under 14: a consent given on a device does not carry over, a"
               " guardian must give it (PIPL Art. 31)";
    return NULL;
}

/* Sets key to a copy of source's member key, when source has one. */
static int copy_member(json_t *leaf, const json_t *source, const char *key)
{
    json_t *v = json_object_get(source, key);
    return v == NULL ? 0 : json_object_set_new(leaf, key, json_deep_copy(v));
}

static char *dump(json_t *leaf, int rc, size_t *len)
{
    char *text =
        leaf != NULL && rc == 0 ? json_dumps(leaf, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(leaf);
    if (text != NULL)
        *len = strlen(text);
    return text;
}

char *cpm_merge_consent_leaf(const struct cpm_merge_leaf_info *info,
                             const struct cpm_merge_source *source, size_t *len)
{
    CPM_ASSERT(info->event_id && info->action_id && info->subject_pseudonym && info->purpose);
    CPM_ASSERT(info->status && source->subject_pseudonym && source->event_id && source->leaf_hash);
    const json_t *from = source->leaf;
    char time_text[CPM_TIME_TEXT_BYTES];
    cpm_time_format(info->time_ms, time_text, sizeof(time_text));
    json_t *leaf =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "v", 1, "id", info->event_id, "type",
                  cpm_consent_event_type(info->status), "time", time_text, "subject",
                  info->subject_pseudonym, "purpose", info->purpose, "action", info->action_id);
    int rc = leaf ? 0 : -1;
    rc = rc ? rc : copy_member(leaf, from, "property");
    rc = rc ? rc : copy_member(leaf, from, "channel");
    rc = rc ? rc : copy_member(leaf, from, "locale");
    rc = rc ? rc : json_object_set_new(leaf, "method", json_string(CPM_MERGE_METHOD));
    rc = rc ? rc : copy_member(leaf, from, "separate");
    rc = rc ? rc : json_object_set_new(leaf, "actor", json_string("self"));
    if (rc == 0 && info->recipient != NULL)
        rc = json_object_set_new(leaf, "recipient", json_string(info->recipient));
    rc = rc ? rc : copy_member(leaf, from, "notice");
    if (rc == 0)
        rc = json_object_set_new(leaf, "from",
                                 json_pack("{s:s, s:I, s:s, s:s}", "subject",
                                           source->subject_pseudonym, "seq",
                                           (json_int_t)source->seq, "event", source->event_id,
                                           "leaf_hash", source->leaf_hash));
    return dump(leaf, rc, len);
}

char *cpm_merge_identity_leaf(const char *event_id, const char *action_id,
                              const char *subject_pseudonym, int64_t time_ms,
                              const char *identifier_hash, const char *device_pseudonym,
                              size_t consents, size_t *len)
{
    char time_text[CPM_TIME_TEXT_BYTES];
    cpm_time_format(time_ms, time_text, sizeof(time_text));
    json_t *leaf = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "v", 1, "id",
                             event_id, "type", CPM_EVENT_IDENTITY_MERGED, "time", time_text,
                             "subject", subject_pseudonym, "action", action_id, "identifier_type",
                             "device", "identifier_hash", identifier_hash, "device",
                             device_pseudonym, "consents", (json_int_t)consents);
    return dump(leaf, 0, len);
}
