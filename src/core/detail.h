/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detail.h — what went wrong, for the person who can fix it.
 *
 * A failure a user can fix returns a cpm_err and fills a cpm_detail with one
 * or more faults: the offending field's path ("purposes[3].legal_basis") and
 * a message ("unknown value 'concent'; expected one of: consent, contract,
 * …"). The HTTP layer turns it into a problem document; the CLI prints it.
 * At most CPM_ERRORS_REPORTED_MAX faults are kept; the rest are counted.
 */
#ifndef CPM_CORE_DETAIL_H
#define CPM_CORE_DETAIL_H

#include "core/common.h"

struct cpm_fault {
    char field[CPM_FIELD_PATH_BYTES_MAX]; /* "" when no single field is at fault */
    char message[CPM_MESSAGE_BYTES_MAX];
};

struct cpm_detail {
    int count;   /* faults kept */
    int dropped; /* faults over the cap, not kept */
    struct cpm_fault faults[CPM_ERRORS_REPORTED_MAX];
};

/* Empties d (caller's storage). */
void cpm_detail_init(struct cpm_detail *d);
/* Adds a fault; field may be NULL or "". Truncates over-long text. d may be NULL. */
void cpm_detail_add(struct cpm_detail *d, const char *field, const char *fmt, ...) CPM_PRINTF(3, 4);

#endif /* CPM_CORE_DETAIL_H */
