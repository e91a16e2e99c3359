/* SPDX-License-Identifier: Apache-2.0 */
/*
 * experience.h — what a person is shown: the locale their texts come in,
 * and whether the consent popup should appear now (GET /v1/experience).
 *
 * Pure; reentrant.
 */
#ifndef CPM_DOMAIN_EXPERIENCE_H
#define CPM_DOMAIN_EXPERIENCE_H

#include <jansson.h>

#include "core/common.h"

/*
 * The best of `available` (a JSON array of locale tags the notice has) for
 * a person asking for `requested` (a BCP 47 tag, or NULL) in `region`
 * ("CN-HK", or NULL), into out; default_locale when nothing fits.
 * Chinese is matched by script: zh-HK, zh-MO, zh-TW and zh-Hant-* read
 * zh-Hant; zh, zh-CN, zh-SG and zh-Hans-* read zh-Hans. Without a request,
 * Hong Kong, Macao and Taiwan get zh-Hant when the notice has it. Then the
 * exact tag, its script form, its language, and the default.
 */
void cpm_experience_locale(const json_t *available, const char *requested, const char *region,
                           const char *default_locale, char *out, size_t cap);

/* Why the popup shows for a purpose; NULL when it does not. */
struct cpm_purpose_prompt {
    const char *status;   /* the person's consent status for the purpose, or NULL: never asked */
    int64_t ask_again_ms; /* after a refusal: not before this (0: any time) */
};
/*
 * "never_asked", "reconsent_required", "expired", "cooldown_over" (a
 * refusal whose cool-down has passed), or NULL (given, withdrawn — the
 * person's act is not undone by asking again — or refused within its
 * cool-down).
 */
const char *cpm_experience_prompt_reason(const struct cpm_purpose_prompt *p, int64_t now_ms);

#endif /* CPM_DOMAIN_EXPERIENCE_H */
