/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits.h — every limit OpenCPM enforces, in one place.
 *
 * Untrusted input never grows a buffer without bound: request bodies, JSON
 * depth, string lengths, list sizes and identifiers are capped here. A
 * configurable limit takes its bounds from the _MIN/_MAX pair beside it.
 * Units come last in each name.
 */
#ifndef CPM_LIMITS_H
#define CPM_LIMITS_H

/* HTTP */
#define CPM_BODY_BYTES_MAX               (1024 * 1024)     /* request body; over it: 413 */
#define CPM_BODY_DISCARD_BYTES_MAX       (8 * 1024 * 1024) /* read past an early answer, then cut */
#define CPM_URL_BYTES_MAX                2048              /* path + query */
#define CPM_HEADER_BYTES_MAX             (16 * 1024)       /* per-connection memory for headers */
#define CPM_CONNECTIONS_MAX              4096              /* open connections at once */
#define CPM_CONNECTION_TIMEOUT_S_DEFAULT 30                /* idle or half-sent request */
#define CPM_CONNECTION_TIMEOUT_S_MIN     1
#define CPM_CONNECTION_TIMEOUT_S_MAX     3600
#define CPM_SHUTDOWN_GRACE_MS_MAX        10000 /* in-flight requests get this long */
#define CPM_REQUEST_ID_BYTES_MAX         64    /* accepted from X-Request-Id */
#define CPM_PATH_PARAMS_MAX              4     /* {id} captures in one route */
#define CPM_THREADS_MAX                  64    /* HTTP worker threads */

/* JSON */
#define CPM_JSON_DEPTH_MAX       32           /* nesting of objects/arrays */
#define CPM_STRING_BYTES_MAX     4096         /* a plain string field, default cap */
#define CPM_TEXT_BYTES_MAX       (256 * 1024) /* a notice text in one locale */
#define CPM_NAME_BYTES_MAX       200          /* display names */
#define CPM_ID_BYTES_MAX         64           /* resource ids (slugs) */
#define CPM_ARRAY_ITEMS_MAX      256          /* any array field */
#define CPM_LOCALES_MAX          32           /* locales in one document */
#define CPM_ERRORS_REPORTED_MAX  16           /* validation errors in one answer */
#define CPM_FIELD_PATH_BYTES_MAX 128          /* "purposes[3].legal_basis" */
#define CPM_MESSAGE_BYTES_MAX    256          /* one human error message */

/* Subjects and consents */
#define CPM_SUBJECT_ID_BYTES_MAX       128  /* the company's own subject id */
#define CPM_IDEMPOTENCY_KEY_BYTES_MAX  128  /* an Idempotency-Key header */
#define CPM_DECISIONS_MAX              64   /* purposes decided in one UI action */
#define CPM_CONTEXT_BYTES_MAX          1024 /* IP + user agent, sealed */
#define CPM_IDENTITIES_PER_SUBJECT_MAX 32   /* identifiers linked to one subject */
#define CPM_GUARDIANS_PER_SUBJECT_MAX  8    /* guardians linked to one subject */
#define CPM_RIGHTS_TEXT_BYTES_MAX      2000 /* a rights request's note, reply or reason (UTF-8) */

/* Audiences: POST /v1/audiences/filter (the upload itself has no size limit) */
#define CPM_AUDIENCE_SPOOL_MEMORY_BYTES_MAX (1024 * 1024) /* answer in memory; then a temp file */
#define CPM_AUDIENCE_SPOOL_BYTES_MAX        (16LL << 30)  /* an answer in all; over it: 413 */
#define CPM_AUDIENCE_ERRORS_LISTED_MAX      100           /* rejected lines listed by explain=1 */

/* Import and export (docs/IMPORT-EXPORT.md) */
#define CPM_IMPORT_ROWS_MAX         2000000     /* rows in one file (~0.5 KiB of memory each) */
#define CPM_IMPORT_LINE_BYTES_MAX   4096        /* a CSV record or an NDJSON line */
#define CPM_IMPORT_FILE_BYTES_MAX   (8LL << 30) /* standard input spooled to a file */
#define CPM_IMPORT_CHUNK_ROWS       16384       /* rows in one writer submission */
#define CPM_IMPORT_BAD_LINES_SHOWN  100         /* then only counted */
#define CPM_EXPORT_PAGE_ROWS        256         /* rows read from the store at a time */
#define CPM_EXPORT_BUFFER_BYTES_MAX (64 * 1024 * 1024) /* one page, rendered */

/* Lists */
#define CPM_PAGE_LIMIT_DEFAULT 50
#define CPM_PAGE_LIMIT_MAX     200

/* Store */
#define CPM_STORE_BUSY_TIMEOUT_MS 5000 /* SQLite busy timeout, set explicitly */
/* SQLite page cache of the writer connection, KiB: the hot index pages stay in memory */
#define CPM_STORE_CACHE_KIB 65536

/* API keys */
#define CPM_API_KEY_SECRET_BYTES 32    /* random bytes in a key */
#define CPM_API_KEYS_MAX         10000 /* keys in one installation */

/* One-time codes (POST /v1/otp/challenges) */
#define CPM_OTP_TTL_MS                 (5 * 60 * 1000)  /* a code may be verified this long */
#define CPM_OTP_ATTEMPTS_MAX           5                /* wrong codes kill the challenge */
#define CPM_OTP_USE_WITHIN_MS          (10 * 60 * 1000) /* a verified code serves a consent */
#define CPM_OTP_LIMIT_WINDOW_MS        (60 * 60 * 1000) /* the limits below count per hour */
#define CPM_OTP_CHALLENGES_SUBJECT_MAX 5                /* codes sent to one subject */
#define CPM_OTP_CHALLENGES_IP_MAX      20               /* codes asked for from one IP address */
#define CPM_EXPERIENCE_BURST           120 /* GET /v1/experience from one address: a burst, */
#define CPM_EXPERIENCE_EVERY_MS        100 /* then one every this many ms (10 a second) */

/* Anonymous visitors' devices (POST /v1/devices) and their merge at login */
#define CPM_DEVICES_BURST             60   /* devices issued to one address: a burst, */
#define CPM_DEVICES_EVERY_MS          1000 /* then one a second */
#define CPM_DEVICE_MERGE_CONSENTS_MAX 256  /* a device's consents a merge reads and carries */

/* The admin console's sessions (src/http/session.c, docs/ADMIN.md) */
#define CPM_SESSIONS_MAX                1024                 /* open at once, in one table */
#define CPM_SESSIONS_PER_KEY_MAX        16                   /* a key's; more ends its oldest */
#define CPM_SESSION_IDLE_MS_DEFAULT     (15 * 60 * 1000)     /* unused this long: it ends */
#define CPM_SESSION_LIFETIME_MS_DEFAULT (8 * 60 * 60 * 1000) /* open this long: it ends */
#define CPM_SESSION_IDLE_S_MAX          (24 * 60 * 60)       /* --session-idle at most */
#define CPM_SESSION_LIFETIME_S_MAX      (7 * 24 * 60 * 60)   /* --session-lifetime at most */
#define CPM_SIGN_IN_BURST               10   /* sign-ins from one address: a burst, */
#define CPM_SIGN_IN_EVERY_MS            6000 /* then one every 6 s */

/* Evidence packs: GET /v1/evidence-packs, cpm evidence-pack, cpm verify (docs/EVIDENCE-PACKS.md) */
#define CPM_EVIDENCE_PACK_EVENTS_MAX_DEFAULT 10000   /* events in one pack; more: 422 */
#define CPM_EVIDENCE_PACK_EVENTS_MAX_MIN     1       /* --evidence-pack-events-max at least */
#define CPM_EVIDENCE_PACK_EVENTS_MAX_MAX     100000  /* … at most; cpm verify reads no more */
#define CPM_EVIDENCE_PACK_DELIVERIES_MAX     1000000 /* delivery log rows in one pack; more: 422 */
#define CPM_EVIDENCE_PACK_NOTICES_MAX        100     /* notice versions one pack's events name */
#define CPM_EVIDENCE_PACK_FILES_MAX          4096    /* files in an archive cpm verify reads */
#define CPM_EVIDENCE_PACK_LINE_BYTES_MAX     (64 * 1024)       /* a line of events/deliveries */
#define CPM_EVIDENCE_PACK_JSON_BYTES_MAX     (4 * 1024 * 1024) /* manifest, consistency.json */
#define CPM_EVIDENCE_PACK_SUMMARY_ROWS_MAX   1000 /* events, delivery rows listed in summary.html */

/* The index's snapshot while serving: --index-snapshot-interval (docs/DECISIONS.md) */
#define CPM_INDEX_SNAPSHOT_S_DEFAULT 300   /* seconds between saves; 0: only on a clean stop */
#define CPM_INDEX_SNAPSHOT_S_MAX     86400 /* … at most a day */

#endif /* CPM_LIMITS_H */
