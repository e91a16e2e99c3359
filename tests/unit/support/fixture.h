/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture.h — helpers the cmocka unit tests share: JSON written with single
 * quotes, and "this fault was reported" checks. Header-only, included after
 * cmocka.h by the tests that use it.
 */
#ifndef CPM_TEST_FIXTURE_H
#define CPM_TEST_FIXTURE_H

#include <ftw.h>
#include <jansson.h>
#include <stdio.h>

#include "core/common.h"
#include "core/detail.h"

/* Parses test JSON written with single quotes (any JSON value); fails the test on error. */
static inline json_t *J(const char *text)
{
    char buf[4096];
    json_error_t error;
    assert_true(cpm_strlcpy(buf, text, sizeof(buf)) < sizeof(buf));
    for (char *p = buf; *p != '\0'; p++)
        *p = *p == '\'' ? '"' : *p;
    json_t *v = json_loads(buf, JSON_DECODE_ANY, &error);
    if (v == NULL)
        fail_msg("bad test JSON (%s): %s", error.text, buf);
    return v;
}

/* Fails unless d holds a fault at field whose message starts with message_prefix. */
static inline void expect(const struct cpm_detail *d, const char *field, const char *message_prefix)
{
    for (int i = 0; i < d->count; i++)
        if (strcmp(d->faults[i].field, field) == 0 &&
            strncmp(d->faults[i].message, message_prefix, strlen(message_prefix)) == 0)
            return;
    for (int i = 0; i < d->count; i++)
        print_message("  %s: %s\n", d->faults[i].field, d->faults[i].message);
    fail_msg("no fault '%s: %s…'", field, message_prefix);
}

static inline int fixture_remove_entry(const char *path, const struct stat *st, int flag,
                                       struct FTW *ftw)
{
    CPM_UNUSED(st);
    CPM_UNUSED(flag);
    CPM_UNUSED(ftw);
    return remove(path);
}

/* Removes dir and everything below it (test temp directories). */
static inline void fixture_rm_tree(const char *dir)
{
    nftw(dir, fixture_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#endif /* CPM_TEST_FIXTURE_H */
