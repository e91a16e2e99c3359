/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.h — cpmd: settings from flags and environment, start-up, and
 * graceful shutdown. `cpmd` and `cpm serve` both run cpm_server_main.
 */
#ifndef CPM_SERVER_H
#define CPM_SERVER_H

#include "core/common.h"
#include "core/detail.h"
#include "http/server.h"
#include "sync/outbound_guard.h"

struct cpm_server_settings {
    char data_dir[512];
    struct cpm_http_options http;
    int log_level;                   /* enum cpm_log_level */
    struct cpm_outbound_guard guard; /* private addresses destinations may reach */
    int64_t retry_base_ms;           /* a failed delivery's first retry delay */
    int64_t retry_max_ms;            /* the longest delay between two attempts */
    int64_t session_idle_ms;         /* an admin console session unused this long ends */
    int64_t session_lifetime_ms;     /* and any this long after it opened */
    int64_t pack_events_max;         /* events in one evidence pack at most */
    unsigned index_snapshot_s;       /* between saves of the index; 0: only on a clean stop */
};

/*
 * Fills settings from defaults, then the environment (CPM_DATA, CPM_LISTEN,
 * CPM_THREADS, CPM_CONNECTION_TIMEOUT_S, CPM_LOG_LEVEL, CPM_OUTBOUND_ALLOW,
 * CPM_RETRY_BASE_MS, CPM_RETRY_MAX_MS, CPM_SESSION_IDLE_S,
 * CPM_SESSION_LIFETIME_S, CPM_EVIDENCE_PACK_EVENTS_MAX, CPM_INDEX_SNAPSHOT_S), then flags (which
 * win). Returns CPM_ERR_USAGE with detail on a bad value; *help is set when
 * --help was given.
 */
cpm_err cpm_server_settings_load(int argc, char **argv, struct cpm_server_settings *settings,
                                 bool *help, struct cpm_detail *detail) CPM_MUST_CHECK;

/* Prints the usage text of cpmd (or `cpm serve`) to out. */
void cpm_server_usage(FILE *out, const char *program);

/* Runs until SIGTERM or SIGINT; returns the process exit status. */
int cpm_server_main(int argc, char **argv, const char *program);

#endif /* CPM_SERVER_H */
