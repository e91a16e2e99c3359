/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.h — what the reports count (docs/REPORTS.md), pure: the calendar
 * day an instant falls on, and the dimensions a ledger event is counted
 * under. The store keeps the counts (src/store/sqlite_reports.c) in the
 * transaction that writes the events; the API reads them (src/api/reports.c).
 *
 * Days are Asia/Shanghai calendar days (UTC+08:00 all year: China has kept
 * no summer time since 1991), whatever the property: one fixed zone keeps
 * the counts of a day comparable across properties and the backfill a
 * single SQL statement. Thread safety: every function is pure.
 */
#ifndef CPM_DOMAIN_REPORT_H
#define CPM_DOMAIN_REPORT_H

#include "core/common.h"

#define CPM_REPORT_DAY_BYTES     11 /* "2026-01-31" and a NUL */
#define CPM_REPORT_TIME_ZONE     "Asia/Shanghai"
#define CPM_REPORT_UTC_OFFSET_MS (8LL * 60 * 60 * 1000)
#define CPM_REPORT_DAY_MS        (24LL * 60 * 60 * 1000)
#define CPM_REPORT_DAYS_MAX      366   /* days in one report's range */
#define CPM_REPORT_ROWS_MAX      50000 /* grouped rows one report reads from the store */
#define CPM_REPORT_KEY_BYTES     (CPM_ID_BYTES_MAX + 1)

/* The decisions counted, in this order: the event type is "consent." + the name. NULL-ended. */
extern const char *const cpm_report_decisions[];
#define CPM_REPORT_DECISIONS_COUNT 6

/* The day number (days since 1970-01-01, in Asia/Shanghai) of an instant. */
int64_t cpm_report_day_of(int64_t time_ms);
/* Day number day as "YYYY-MM-DD" into out. */
void cpm_report_day_text(int64_t day, char out[CPM_REPORT_DAY_BYTES]);
/* Parses exactly "YYYY-MM-DD", a real date from 1970 to 9999, into a day number. */
bool cpm_report_day_parse(const char *text, int64_t *day);

/* What one consent event is counted under; every string "" when the event has none. */
struct cpm_report_key {
    char day[CPM_REPORT_DAY_BYTES];
    char purpose[CPM_REPORT_KEY_BYTES];
    char property[CPM_REPORT_KEY_BYTES];
    char channel[CPM_REPORT_KEY_BYTES];
    char region[CPM_REPORT_KEY_BYTES];
    char decision[CPM_REPORT_KEY_BYTES];
};

/*
 * Whether an event of type (with its purpose, leaf and time, and the
 * region of the action that made it, "" when unknown) is counted, and
 * under which key. Counted: the decisions above. Not counted: any other
 * type, and a device merge's carried copies (leaf method "merge": the
 * decision was counted when the device made it). The property, channel
 * and method are read from the leaf, the canonical JSON the ledger holds;
 * a value that is missing or not a plain string reads "".
 */
bool cpm_report_consent_key(const char *type, const char *purpose, const char *leaf,
                            size_t leaf_len, const char *region, int64_t time_ms,
                            struct cpm_report_key *out);

/* Whether two keys are the same group. */
bool cpm_report_key_equal(const struct cpm_report_key *a, const struct cpm_report_key *b);

#endif /* CPM_DOMAIN_REPORT_H */
