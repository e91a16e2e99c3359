/* SPDX-License-Identifier: Apache-2.0 */
/*
 * experience.c — locale choice and popup prompts (see the header).
 */
#include "core/common.h"

#include <strings.h>

#include "domain/experience.h"

static bool has(const json_t *available, const char *tag)
{
    size_t i;
    const json_t *t;
    json_array_foreach(available, i, t) if (strcasecmp(json_string_value(t), tag) == 0) return true;
    return false;
}

/* Copies available's own spelling of tag into out; false when absent. */
static bool pick(const json_t *available, const char *tag, char *out, size_t cap)
{
    size_t i;
    const json_t *t;
    json_array_foreach(available, i, t) if (strcasecmp(json_string_value(t), tag) == 0)
    {
        cpm_strlcpy(out, json_string_value(t), cap);
        return true;
    }
    return false;
}

static bool traditional_region(const char *r)
{
    return r != NULL && (strcasecmp(r, "HK") == 0 || strcasecmp(r, "MO") == 0 ||
                         strcasecmp(r, "TW") == 0 || strcasecmp(r, "CN-HK") == 0 ||
                         strcasecmp(r, "CN-MO") == 0 || strcasecmp(r, "CN-TW") == 0);
}

/* zh-Hant or zh-Hans for a Chinese tag; NULL for other languages. */
static const char *chinese_script(const char *tag)
{
    if (strncasecmp(tag, "zh", 2) != 0 || (tag[2] != '\0' && tag[2] != '-'))
        return NULL;
    const char *rest = tag[2] ? tag + 3 : "";
    if (strncasecmp(rest, "Hant", 4) == 0)
        return "zh-Hant";
    if (strncasecmp(rest, "Hans", 4) == 0)
        return "zh-Hans";
    return traditional_region(rest) ? "zh-Hant" : "zh-Hans";
}

void cpm_experience_locale(const json_t *available, const char *requested, const char *region,
                           const char *default_locale, char *out, size_t cap)
{
    char language[16];
    if (requested != NULL && requested[0] != '\0') {
        const char *script = chinese_script(requested);
        size_t n = strcspn(requested, "-");
        if (pick(available, requested, out, cap) || (script && pick(available, script, out, cap)))
            return;
        if (n < sizeof(language)) {
            memcpy(language, requested, n);
            language[n] = '\0';
            if (pick(available, language, out, cap))
                return;
        }
    } else if (region != NULL && traditional_region(region) && has(available, "zh-Hant")) {
        pick(available, "zh-Hant", out, cap);
        return;
    }
    cpm_strlcpy(out, default_locale, cap);
}

const char *cpm_experience_prompt_reason(const struct cpm_purpose_prompt *p, int64_t now_ms)
{
    if (p->status == NULL)
        return "never_asked";
    if (strcmp(p->status, "reconsent_required") == 0)
        return "reconsent_required";
    if (strcmp(p->status, "expired") == 0)
        return "expired";
    if (strcmp(p->status, "refused") == 0 && p->ask_again_ms != 0 && p->ask_again_ms <= now_ms)
        return "cooldown_over";
    return NULL;
}
