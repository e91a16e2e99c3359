/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_sms_reply.c — opt-out keywords and their spellings in SMS replies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "domain/sms_reply.h"

static void test_opt_outs(void **state)
{
    CPM_UNUSED(state);
    const char *yes[] = {"TD",     "td",    "Td",     " T ",    "t",      "N",   "n",    "R",
                         "r",      "退订",  " 退订 ", "ＴＤ",   "ｔｄ",   "Ｔ",  "TD。", "td!",
                         "退订。", "T\r\n", "\tN",    "　TD　", "ＴＤ！", "T D", "td..."};
    for (size_t i = 0; i < CPM_ARRAY_LEN(yes); i++)
        if (!cpm_sms_reply_is_opt_out(yes[i]))
            fail_msg("'%s' should be an opt-out", yes[i]);
}

static void test_not_opt_outs(void **state)
{
    CPM_UNUSED(state);
    const char *no[] = {"",       " ",         "TDD",   "Y",       "退", "订",
                        "不退订", "TD please", "1",     "STOPPED", "T?", "。",
                        "退订吗", "\xff\xfe",  "T\xff", "ｎｏ",    "TR", "DT"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(no); i++)
        if (cpm_sms_reply_is_opt_out(no[i]))
            fail_msg("'%s' should not be an opt-out", no[i]);
    assert_false(cpm_sms_reply_is_opt_out(NULL));
    char long_text[2048];
    memset(long_text, ' ', sizeof(long_text) - 3);
    memcpy(long_text + sizeof(long_text) - 3, "T", 2);
    assert_false(cpm_sms_reply_is_opt_out(long_text)); /* over the size limit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opt_outs),
        cmocka_unit_test(test_not_opt_outs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
