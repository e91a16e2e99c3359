/* SPDX-License-Identifier: Apache-2.0 */
/*
 * window.h — a weekly time window in local time (contact windows, a
 * channel's allowed hours). The functions on it are in src/domain/window.h.
 */
#ifndef CPM_WINDOW_H
#define CPM_WINDOW_H

#include <stdint.h>

/*
 * On the listed local days, local minutes [from, to). to < from spans
 * midnight: it starts on a listed day and ends on the next day.
 */
struct cpm_window {
    uint8_t days; /* bit 0 = Monday … bit 6 = Sunday */
    uint16_t from_min, to_min;
};

#endif /* CPM_WINDOW_H */
