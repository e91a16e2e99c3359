/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tz.h — IANA time zones, read from the system's TZif files (RFC 8536,
 * versions 1–4), without TZ/localtime and their process-wide state.
 *
 * A zone is loaded once from $CPM_ZONEINFO_DIR (default /usr/share/zoneinfo)
 * and kept, immutable, in a small cache for the life of the process, so
 * callers keep the pointer and every lookup after that is pure: a binary
 * search over the transitions, and the footer's POSIX TZ rule after the
 * last one. "UTC" is built in and needs no file.
 *
 * The only module of domain/ that reads a file: the zone data is the
 * system's, and reading it once behind cpm_tz_get keeps the rest pure.
 *
 * Thread safety: every function may be called from any thread, except
 * cpm_tz_cache_clear (no zone may be in use while it runs).
 */
#ifndef CPM_DOMAIN_TZ_H
#define CPM_DOMAIN_TZ_H

#include "core/common.h"

#define CPM_TZ_NAME_BYTES_MAX   64                 /* "America/Argentina/ComodRivadavia" */
#define CPM_TZ_FILE_BYTES_MAX   (64 * 1024)        /* a TZif file; the largest real one is ~4 KiB */
#define CPM_TZ_TRANSITIONS_MAX  2000               /* in one file (as glibc's TZ_MAX_TIMES) */
#define CPM_TZ_TYPES_MAX        256                /* local time types in one file */
#define CPM_TZ_FOOTER_BYTES_MAX 128                /* the POSIX TZ string of the footer */
#define CPM_TZ_ZONES_MAX        2048               /* zones in the cache (the tzdata has ~600) */
#define CPM_TZ_MS_MAX           ((int64_t)1 << 59) /* instants beyond ±this are clamped */

/* Opaque, immutable once loaded. */
struct cpm_tz;

/*
 * True when name has the shape of an IANA zone name: 1–64 characters of
 * [A-Za-z0-9_+-/], no leading '/', no "..", no empty component. Says
 * nothing about whether the zone exists. NULL is not valid.
 */
bool cpm_tz_name_valid(const char *name);

/*
 * The zone called name (borrowed: valid until cpm_tz_cache_clear), loaded
 * on first use and cached. NULL when the name is invalid, no such zone file
 * exists, the file is malformed or uses leap seconds ("right/…"), or memory
 * or the cache is full. Failures are not cached: the next call tries again.
 */
const struct cpm_tz *cpm_tz_get(const char *name);

/* Frees every cached zone (at exit; tests). Pointers from cpm_tz_get dangle after. */
void cpm_tz_cache_clear(void);

/* The zone's name as given to cpm_tz_get. */
const char *cpm_tz_name(const struct cpm_tz *tz);

/*
 * The zone's UTC offset in seconds (local = UTC + offset) at the instant
 * utc_ms (ms since the Unix epoch). Instants beyond ±CPM_TZ_MS_MAX (some
 * 18 million years) are clamped to it.
 */
int32_t cpm_tz_offset_s(const struct cpm_tz *tz, int64_t utc_ms);

/*
 * The first instant > utc_ms at which the zone's offset or DST flag may
 * change (a transition of the file or of its footer rule), or INT64_MAX
 * when there is none. Between utc_ms and that instant the offset is
 * constant.
 */
int64_t cpm_tz_next_change_ms(const struct cpm_tz *tz, int64_t utc_ms);

struct cpm_local_time {
    int32_t year;
    int32_t month;   /* 1–12 */
    int32_t day;     /* 1–31 */
    int32_t weekday; /* 0 = Monday … 6 = Sunday */
    int32_t minute;  /* 0–1439, the minute of the local day */
    int32_t second;  /* 0–59 */
};

/* The local wall-clock time in tz at the instant utc_ms. */
void cpm_tz_local(const struct cpm_tz *tz, int64_t utc_ms, struct cpm_local_time *out);

#endif /* CPM_DOMAIN_TZ_H */
