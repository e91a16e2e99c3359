/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_experience.c — the popup's locale choice (Chinese by script, Hong
 * Kong reading Traditional) and when it asks a person again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/fixture.h"

#include "domain/experience.h"

static void expect_locale(const json_t *available, const char *requested, const char *region,
                          const char *want)
{
    char out[36];
    cpm_experience_locale(available, requested, region, "zh-Hans", out, sizeof(out));
    if (strcmp(out, want) != 0)
        fail_msg("locale %s in %s: got %s, want %s", requested ? requested : "(none)",
                 region ? region : "(none)", out, want);
}

static void test_locale(void **state)
{
    CPM_UNUSED(state);
    json_t *all = J("['zh-Hans', 'zh-Hant', 'en']"), *simplified = J("['zh-Hans', 'en']");
    const char *cases[][3] = {
        {"zh-Hans", NULL, "zh-Hans"},
        {"zh-hant", NULL, "zh-Hant"},
        {"zh-HK", NULL, "zh-Hant"},
        {"zh-MO", "CN", "zh-Hant"},
        {"zh-TW", NULL, "zh-Hant"},
        {"zh-Hant-HK", NULL, "zh-Hant"},
        {"zh-CN", "CN-HK", "zh-Hans"},
        {"zh-SG", NULL, "zh-Hans"},
        {"zh", NULL, "zh-Hans"},
        {"zh-Hans-CN", NULL, "zh-Hans"},
        {"en", NULL, "en"},
        {"en-GB", NULL, "en"},
        {"EN-us", NULL, "en"},
        {"fr-FR", NULL, "zh-Hans"},
        {NULL, "CN-HK", "zh-Hant"},
        {NULL, "HK", "zh-Hant"},
        {NULL, "CN-TW", "zh-Hant"},
        {NULL, "CN", "zh-Hans"},
        {NULL, NULL, "zh-Hans"},
        {"", "CN-MO", "zh-Hant"},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(cases); i++)
        expect_locale(all, cases[i][0], cases[i][1], cases[i][2]);
    /* a notice without Traditional Chinese: Hong Kong gets the default */
    expect_locale(simplified, NULL, "CN-HK", "zh-Hans");
    expect_locale(simplified, "zh-HK", NULL, "zh-Hans");
    /* the notice's own spelling comes back */
    json_t *odd = J("['ZH-hant', 'en']");
    expect_locale(odd, "zh-HK", NULL, "ZH-hant");
    json_decref(all);
    json_decref(simplified);
    json_decref(odd);
}

static void test_prompt(void **state)
{
    CPM_UNUSED(state);
    const int64_t now = 1767225600000;
    struct {
        const char *status;
        int64_t ask_again_ms;
        const char *want;
    } cases[] = {
        {NULL, 0, "never_asked"},
        {"given", 0, NULL},
        {"withdrawn", 0, NULL},
        {"refused", 0, NULL},              /* no cool-down set: the refusal stands */
        {"refused", now + 1, NULL},        /* still cooling down */
        {"refused", now, "cooldown_over"}, /* the boundary: asked again */
        {"refused", now - 1, "cooldown_over"},
        {"reconsent_required", 0, "reconsent_required"},
        {"expired", 0, "expired"},
        {"erased", 0, NULL},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(cases); i++) {
        struct cpm_purpose_prompt p = {cases[i].status, cases[i].ask_again_ms};
        const char *got = cpm_experience_prompt_reason(&p, now);
        if ((got == NULL) != (cases[i].want == NULL) ||
            (got != NULL && strcmp(got, cases[i].want) != 0))
            fail_msg("%s/%lld: got %s, want %s", cases[i].status ? cases[i].status : "(none)",
                     (long long)cases[i].ask_again_ms, got ? got : "NULL",
                     cases[i].want ? cases[i].want : "NULL");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locale),
        cmocka_unit_test(test_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
