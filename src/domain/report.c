/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.c — the reports' days (Asia/Shanghai) and the key each consent
 * event is counted under (report.h, docs/REPORTS.md).
 */
#include "core/common.h"

#include "core/clock.h"
#include "domain/report.h"

const char *const cpm_report_decisions[] = {
    "given", "refused", "withdrawn", "objected", "objection_withdrawn", "expired", NULL};

_Static_assert(CPM_ARRAY_LEN(cpm_report_decisions) == CPM_REPORT_DECISIONS_COUNT + 1,
               "the decisions counted");

#define TYPE_PREFIX    "consent."
#define MERGE_METHOD   "merge" /* CPM_MERGE_METHOD: a carried copy, counted once already */
#define DAY_NUMBER_MAX 2932896 /* 9999-12-31 */

int64_t cpm_report_day_of(int64_t time_ms)
{
    int64_t local = time_ms + CPM_REPORT_UTC_OFFSET_MS;
    int64_t day = local / CPM_REPORT_DAY_MS;
    return local % CPM_REPORT_DAY_MS < 0 ? day - 1 : day; /* floor, before 1970 too */
}

void cpm_report_day_text(int64_t day, char out[CPM_REPORT_DAY_BYTES])
{
    char text[CPM_TIME_TEXT_BYTES];
    cpm_time_format(day * CPM_REPORT_DAY_MS, text, sizeof(text)); /* midnight, read as UTC */
    memcpy(out, text, CPM_REPORT_DAY_BYTES - 1);
    out[CPM_REPORT_DAY_BYTES - 1] = '\0';
}

bool cpm_report_day_parse(const char *text, int64_t *day)
{
    if (text == NULL || strlen(text) != CPM_REPORT_DAY_BYTES - 1)
        return false;
    for (size_t i = 0; i < CPM_REPORT_DAY_BYTES - 1; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? text[i] != '-' : !(text[i] >= '0' && text[i] <= '9'))
            return false;
    }
    char stamp[32], back[CPM_REPORT_DAY_BYTES];
    int64_t ms;
    snprintf(stamp, sizeof(stamp), "%sT00:00:00Z", text);
    if (!cpm_time_parse(stamp, &ms) || ms < 0)
        return false;
    int64_t n = ms / CPM_REPORT_DAY_MS;
    cpm_report_day_text(n, back); /* 2026-02-30 does not come back as itself */
    if (memcmp(back, text, CPM_REPORT_DAY_BYTES) != 0 || n > DAY_NUMBER_MAX)
        return false;
    *day = n;
    return true;
}

/*
 * The value of a top-level string member of a canonical leaf: its first
 * `"name":"` is the member itself (inside a JSON string every quote is
 * escaped, so the pattern cannot occur there), and the leaves put property,
 * channel and method before any nested object. A value with an escape or
 * longer than out reads "".
 */
static void leaf_string(const char *leaf, size_t len, const char *name, char *out, size_t size)
{
    char pattern[40];
    int n = snprintf(pattern, sizeof(pattern), "\"%s\":\"", name);
    out[0] = '\0';
    CPM_ASSERT(n > 0 && (size_t)n < sizeof(pattern));
    for (size_t i = 0; len >= (size_t)n && i <= len - (size_t)n; i++) {
        if (leaf[i] != '"' || memcmp(leaf + i, pattern, (size_t)n) != 0)
            continue;
        const char *v = leaf + i + n, *end = leaf + len;
        size_t k = 0;
        while (v + k < end && v[k] != '"' && v[k] != '\\' && k + 1 < size)
            k++;
        if (v + k < end && v[k] == '"') {
            memcpy(out, v, k);
            out[k] = '\0';
        }
        return;
    }
}

bool cpm_report_consent_key(const char *type, const char *purpose, const char *leaf,
                            size_t leaf_len, const char *region, int64_t time_ms,
                            struct cpm_report_key *out)
{
    if (strncmp(type, TYPE_PREFIX, strlen(TYPE_PREFIX)) != 0)
        return false;
    const char *decision = type + strlen(TYPE_PREFIX);
    bool counted = false;
    for (size_t i = 0; cpm_report_decisions[i] != NULL && !counted; i++)
        counted = strcmp(decision, cpm_report_decisions[i]) == 0;
    if (!counted)
        return false;
    char method[CPM_REPORT_KEY_BYTES];
    leaf_string(leaf, leaf_len, "method", method, sizeof(method));
    if (strcmp(method, MERGE_METHOD) == 0)
        return false;
    memset(out, 0, sizeof(*out));
    cpm_report_day_text(cpm_report_day_of(time_ms), out->day);
    cpm_strlcpy(out->purpose, purpose ? purpose : "", sizeof(out->purpose));
    leaf_string(leaf, leaf_len, "property", out->property, sizeof(out->property));
    leaf_string(leaf, leaf_len, "channel", out->channel, sizeof(out->channel));
    cpm_strlcpy(out->region, region ? region : "", sizeof(out->region));
    cpm_strlcpy(out->decision, decision, sizeof(out->decision));
    return true;
}

bool cpm_report_key_equal(const struct cpm_report_key *a, const struct cpm_report_key *b)
{
    return strcmp(a->day, b->day) == 0 && strcmp(a->purpose, b->purpose) == 0 &&
           strcmp(a->property, b->property) == 0 && strcmp(a->channel, b->channel) == 0 &&
           strcmp(a->region, b->region) == 0 && strcmp(a->decision, b->decision) == 0;
}
