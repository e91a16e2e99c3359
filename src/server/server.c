/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c — wires cpmd together: settings, keys, store, HTTP; then waits
 * for SIGTERM/SIGINT and shuts down in order — stop accepting, let requests
 * in flight finish (bounded), stop the daemon, close the store cleanly.
 *
 * Signals are blocked in every thread and taken synchronously with
 * sigwait in the main thread, so no handler runs in an arbitrary context.
 */
#include "core/common.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "crypto/keyring.h"
#include "http/server.h"
#include "http/session.h"
#include "server/index_saver.h"
#include "server/server.h"
#include "store/datadir.h"
#include "store/store.h"
#include "store/writer.h"
#include "index/index.h"
#include "cpm/decide.h"
#include "store/checkpointer.h"
#include "store/ledger_check.h"
#include "store/node_cache.h"
#include "store/scheduler.h"
#include "store/verifier.h"
#include "sync/dispatcher.h"
#include "ledger/note.h"

#define DRAIN_POLL_MS 20

struct setting {
    const char *flag; /* "--data" */
    const char *env;  /* "CPM_DATA" */
    const char *help;
    cpm_err (*apply)(struct cpm_server_settings *s, const char *value, struct cpm_detail *d);
};

static cpm_err set_data(struct cpm_server_settings *s, const char *v, struct cpm_detail *d)
{
    if (v[0] == '\0' || strlen(v) >= sizeof(s->data_dir)) {
        cpm_detail_add(d, "data", "must be a directory path under %zu bytes", sizeof(s->data_dir));
        return CPM_ERR_USAGE;
    }
    cpm_strlcpy(s->data_dir, v, sizeof(s->data_dir));
    return CPM_OK;
}

static cpm_err set_listen(struct cpm_server_settings *s, const char *v, struct cpm_detail *d)
{
    return cpm_http_parse_listen(v, &s->http, d);
}

static cpm_err set_threads(struct cpm_server_settings *s, const char *v, struct cpm_detail *d)
{
    int64_t n;
    if (!cpm_parse_int64(v, 1, CPM_THREADS_MAX, &n)) {
        cpm_detail_add(d, "threads", "must be an integer 1–%d, not '%s'", CPM_THREADS_MAX, v);
        return CPM_ERR_USAGE;
    }
    s->http.threads = (unsigned)n;
    return CPM_OK;
}

static cpm_err set_timeout(struct cpm_server_settings *s, const char *v, struct cpm_detail *d)
{
    int64_t n;
    if (!cpm_parse_int64(v, CPM_CONNECTION_TIMEOUT_S_MIN, CPM_CONNECTION_TIMEOUT_S_MAX, &n)) {
        cpm_detail_add(d, "connection-timeout", "must be seconds %d–%d, not '%s'",
                       CPM_CONNECTION_TIMEOUT_S_MIN, CPM_CONNECTION_TIMEOUT_S_MAX, v);
        return CPM_ERR_USAGE;
    }
    s->http.connection_timeout_s = (unsigned)n;
    return CPM_OK;
}

static cpm_err set_log_level(struct cpm_server_settings *s, const char *v, struct cpm_detail *d)
{
    enum cpm_log_level level;
    if (!cpm_log_level_parse(v, &level)) {
        cpm_detail_add(d, "log-level", "must be debug, info, warn or error, not '%s'", v);
        return CPM_ERR_USAGE;
    }
    s->log_level = (int)level;
    return CPM_OK;
}

static cpm_err set_outbound(struct cpm_server_settings *s, const char *v, struct cpm_detail *d)
{
    return cpm_outbound_guard_parse(&s->guard, v, "outbound-allow", d) == CPM_OK ? CPM_OK
                                                                                 : CPM_ERR_USAGE;
}

static cpm_err set_ms(int64_t *out, const char *name, const char *v, struct cpm_detail *d)
{
    if (!cpm_parse_int64(v, 10, 86400 * 1000, out)) {
        cpm_detail_add(d, name, "must be milliseconds 10–86400000, not '%s'", v);
        return CPM_ERR_USAGE;
    }
    return CPM_OK;
}

static cpm_err set_retry_base(struct cpm_server_settings *s, const char *v, struct cpm_detail *d)
{
    return set_ms(&s->retry_base_ms, "retry-base-ms", v, d);
}

static cpm_err set_retry_max(struct cpm_server_settings *s, const char *v, struct cpm_detail *d)
{
    return set_ms(&s->retry_max_ms, "retry-max-ms", v, d);
}

static cpm_err set_seconds(int64_t *out_ms, const char *name, int64_t max_s, const char *v,
                           struct cpm_detail *d)
{
    int64_t s;
    if (!cpm_parse_int64(v, 1, max_s, &s)) {
        cpm_detail_add(d, name, "must be seconds 1–%lld, not '%s'", (long long)max_s, v);
        return CPM_ERR_USAGE;
    }
    *out_ms = s * 1000;
    return CPM_OK;
}

static cpm_err set_session_idle(struct cpm_server_settings *s, const char *v, struct cpm_detail *d)
{
    return set_seconds(&s->session_idle_ms, "session-idle", CPM_SESSION_IDLE_S_MAX, v, d);
}

static cpm_err set_session_lifetime(struct cpm_server_settings *s, const char *v,
                                    struct cpm_detail *d)
{
    return set_seconds(&s->session_lifetime_ms, "session-lifetime", CPM_SESSION_LIFETIME_S_MAX, v,
                       d);
}

static cpm_err set_pack_events_max(struct cpm_server_settings *s, const char *v,
                                   struct cpm_detail *d)
{
    if (cpm_parse_int64(v, CPM_EVIDENCE_PACK_EVENTS_MAX_MIN, CPM_EVIDENCE_PACK_EVENTS_MAX_MAX,
                        &s->pack_events_max))
        return CPM_OK;
    cpm_detail_add(d, "evidence-pack-events-max", "must be %d–%d events, not '%s'",
                   CPM_EVIDENCE_PACK_EVENTS_MAX_MIN, CPM_EVIDENCE_PACK_EVENTS_MAX_MAX, v);
    return CPM_ERR_USAGE;
}

static cpm_err set_index_snapshot(struct cpm_server_settings *s, const char *v,
                                  struct cpm_detail *d)
{
    int64_t seconds;
    if (cpm_parse_int64(v, 0, CPM_INDEX_SNAPSHOT_S_MAX, &seconds)) {
        s->index_snapshot_s = (unsigned)seconds;
        return CPM_OK;
    }
    cpm_detail_add(d, "index-snapshot-interval",
                   "must be seconds 0–%d (0: only on a clean stop), not '%s'",
                   CPM_INDEX_SNAPSHOT_S_MAX, v);
    return CPM_ERR_USAGE;
}

static const struct setting settings_table[] = {
    {"--data", "CPM_DATA", "data directory made by `cpm init` (default ./data)", set_data},
    {"--listen", "CPM_LISTEN", "HOST:PORT to serve on (default 127.0.0.1:8080)", set_listen},
    {"--threads", "CPM_THREADS", "HTTP worker threads (default: one per core)", set_threads},
    {"--connection-timeout", "CPM_CONNECTION_TIMEOUT_S",
     "seconds an idle or half-sent request may hold a connection (default 30)", set_timeout},
    {"--log-level", "CPM_LOG_LEVEL", "debug, info, warn or error (default info)", set_log_level},
    {"--outbound-allow", "CPM_OUTBOUND_ALLOW",
     "private address ranges destinations may reach, e.g. 10.0.0.0/8,127.0.0.1 (default none)",
     set_outbound},
    {"--retry-base-ms", "CPM_RETRY_BASE_MS",
     "a failed delivery's first retry delay, doubled per attempt (default 1000)", set_retry_base},
    {"--retry-max-ms", "CPM_RETRY_MAX_MS",
     "the longest delay between two attempts (default 600000)", set_retry_max},
    {"--session-idle", "CPM_SESSION_IDLE_S",
     "seconds an admin console session may go unused (default 900)", set_session_idle},
    {"--session-lifetime", "CPM_SESSION_LIFETIME_S",
     "seconds an admin console session lasts at most (default 28800)", set_session_lifetime},
    {"--evidence-pack-events-max", "CPM_EVIDENCE_PACK_EVENTS_MAX",
     "events in one evidence pack at most (default 10000)", set_pack_events_max},
    {"--index-snapshot-interval", "CPM_INDEX_SNAPSHOT_S",
     "seconds between saves of the index while serving, 0: only on a clean stop (default 300)",
     set_index_snapshot},
};

void cpm_server_usage(FILE *out, const char *program)
{
    fprintf(out, "usage: %s [options]\n\nServes the OpenCPM HTTP API.\n\noptions:\n", program);
    for (size_t i = 0; i < CPM_ARRAY_LEN(settings_table); i++)
        fprintf(out, "  %-22s %s\n  %-22s   (environment: %s)\n", settings_table[i].flag,
                settings_table[i].help, "", settings_table[i].env);
    fprintf(out, "  %-22s this text\n", "--help");
}

static void settings_defaults(struct cpm_server_settings *s)
{
    memset(s, 0, sizeof(*s));
    cpm_strlcpy(s->data_dir, "data", sizeof(s->data_dir));
    cpm_strlcpy(s->http.host, "127.0.0.1", sizeof(s->http.host));
    s->http.port = 8080;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->http.threads = cores < 2 ? 2 : cores > CPM_THREADS_MAX ? CPM_THREADS_MAX : (unsigned)cores;
    s->http.connection_timeout_s = CPM_CONNECTION_TIMEOUT_S_DEFAULT;
    s->log_level = CPM_LOG_INFO;
    s->retry_base_ms = 1000;
    s->retry_max_ms = 600000;
    s->session_idle_ms = CPM_SESSION_IDLE_MS_DEFAULT;
    s->session_lifetime_ms = CPM_SESSION_LIFETIME_MS_DEFAULT;
    s->pack_events_max = CPM_EVIDENCE_PACK_EVENTS_MAX_DEFAULT;
    s->index_snapshot_s = CPM_INDEX_SNAPSHOT_S_DEFAULT;
}

static const struct setting *find_flag(const char *arg, const char **value)
{
    for (size_t i = 0; i < CPM_ARRAY_LEN(settings_table); i++) {
        size_t n = strlen(settings_table[i].flag);
        if (strncmp(arg, settings_table[i].flag, n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
            *value = arg[n] == '=' ? arg + n + 1 : NULL;
            return &settings_table[i];
        }
    }
    return NULL;
}

cpm_err cpm_server_settings_load(int argc, char **argv, struct cpm_server_settings *settings,
                                 bool *help, struct cpm_detail *detail)
{
    settings_defaults(settings);
    *help = false;
    for (size_t i = 0; i < CPM_ARRAY_LEN(settings_table); i++) {
        const char *v = getenv(settings_table[i].env);
        if (v != NULL && settings_table[i].apply(settings, v, detail) != CPM_OK)
            return CPM_ERR_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            *help = true;
            return CPM_OK;
        }
        const char *value;
        const struct setting *s = find_flag(argv[i], &value);
        if (s == NULL) {
            cpm_detail_add(detail, NULL, "unknown option '%s' (see --help)", argv[i]);
            return CPM_ERR_USAGE;
        }
        if (value == NULL && i + 1 >= argc) {
            cpm_detail_add(detail, NULL, "%s needs a value", s->flag);
            return CPM_ERR_USAGE;
        }
        if (s->apply(settings, value ? value : argv[++i], detail) != CPM_OK)
            return CPM_ERR_USAGE;
    }
    return CPM_OK;
}

static void print_detail(const char *program, cpm_err err, const struct cpm_detail *d)
{
    if (d->count == 0)
        fprintf(stderr, "%s: %s\n", program, cpm_err_message(err));
    for (int i = 0; i < d->count; i++)
        fprintf(stderr, "%s: %s%s%s\n", program, d->faults[i].field,
                d->faults[i].field[0] ? ": " : "", d->faults[i].message);
}

/* Waits until the in-flight requests finish or the grace period ends. */
static void drain(struct cpm_app *app)
{
    int64_t deadline = cpm_clock_monotonic_ns() + (int64_t)CPM_SHUTDOWN_GRACE_MS_MAX * 1000000;
    while (atomic_load(&app->requests_open) > 0 && cpm_clock_monotonic_ns() < deadline)
        usleep(DRAIN_POLL_MS * 1000);
    int left = atomic_load(&app->requests_open);
    if (left > 0)
        cpm_log_warn("server", "grace period over with %d requests still open", left);
}

static int wait_for_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
}

/* Everything cpmd runs, in start order; stopped in reverse. */
struct running {
    struct cpm_datadir_keys keys;
    struct cpm_keyring keyring;
    struct cpm_app app;
    struct cpm_node_cache *nodes;
    struct cpm_writer *writer;
    struct cpm_index *index;
    char index_snapshot[PATH_MAX]; /* written every few minutes and on a clean stop */
    bool snapshot_current;         /* the file read at start reflects the store as it was */
    struct cpm_index_saver *index_saver;
    bool serving; /* started completely: a stop may save the index */
    struct cpm_decider *decider;
    struct cpm_checkpointer *checkpointer;
    struct cpm_scheduler *scheduler;
    struct cpm_dispatcher *dispatcher;
    struct cpm_http *http;
    struct cpm_session_table *sessions; /* the admin console's, in memory only */
    struct cpm_verifier *verifier;      /* "verify now": the full check in the background */
    char origin[CPM_ORIGIN_BYTES_MAX];
    char vkey[CPM_VKEY_BYTES_MAX];
    int writer_lock; /* the data directory's (cpm import waits for cpmd to stop); -1: not held */
};

/*
 * The tamper alarm: an altered ledger refuses writes (and is never signed
 * over) while reads go on, so the evidence can still be examined.
 */
static cpm_err check_ledger(struct running *r)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    cpm_err err = cpm_ledger_check(r->app.store, r->vkey, &detail);
    if (err != CPM_ERR_TAMPERED)
        return err;
    const char *why = detail.count ? detail.faults[0].message : "integrity check failed";
    cpm_log_error("ledger", "TAMPER ALARM: %s; writes are refused until it is investigated", why);
    cpm_writer_refuse(r->writer, why);
    return CPM_OK;
}

/*
 * The index: from the last snapshot, caught up with what the store
 * recorded after it; otherwise (first start, a restored backup, a damaged
 * file, an erasure since) from the store.
 */
static cpm_err load_index(struct running *r, const char *data_dir)
{
    struct cpm_index_mark mark;
    snprintf(r->index_snapshot, sizeof(r->index_snapshot), "%s/index.snapshot", data_dir);
    cpm_err err = cpm_index_new(&r->index);
    if (err == CPM_OK)
        err = cpm_index_restore(r->index, r->index_snapshot, r->app.store, &mark);
    struct cpm_index_mark now;
    if (err == CPM_OK)
        err = cpm_index_catch_up(r->index, r->app.store, &mark);
    if (err == CPM_OK)
        r->snapshot_current = cpm_index_mark_read(r->app.store, &now) == CPM_OK &&
                              memcmp(&now, &mark, sizeof(now)) == 0;
    if (err != CPM_OK && err != CPM_ERR_NOT_FOUND) { /* half restored: start from nothing */
        cpm_index_free(r->index);
        r->index = NULL;
        err = cpm_index_new(&r->index);
        if (err == CPM_OK)
            err = CPM_ERR_NOT_FOUND;
    }
    if (err == CPM_ERR_NOT_FOUND)
        err = cpm_index_load(r->index, r->app.store);
    return err;
}

/* On a clean stop, after the last write: the next start reads this instead of the store. */
static void save_index(struct running *r, bool writes_refused)
{
    struct cpm_index_mark mark;
    if (!r->serving || r->index == NULL || cpm_index_degraded(r->index) || writes_refused)
        return;
    if (cpm_index_mark_read(r->app.store, &mark) != CPM_OK ||
        cpm_index_save(r->index, r->index_snapshot, &mark) != CPM_OK)
        cpm_log_warn("index", "no snapshot written: the next start reads the store");
}

static void notify_dispatcher(void *ctx)
{
    cpm_dispatcher_notify(ctx);
}

/* Sync: every destination's worker, woken by each commit. */
static cpm_err start_dispatcher(const struct cpm_server_settings *settings, struct running *r)
{
    char source[CPM_ORIGIN_BYTES_MAX + 16];
    snprintf(source, sizeof(source), "urn:opencpm:%s", r->origin);
    struct cpm_dispatcher_options options = {.guard = &settings->guard,
                                             .keyring = &r->keyring,
                                             .writer = r->writer,
                                             .source = source,
                                             .retry_base_ms = settings->retry_base_ms,
                                             .retry_max_ms = settings->retry_max_ms};
    cpm_err err = cpm_dispatcher_start(r->app.store, &options, &r->dispatcher);
    if (err == CPM_OK)
        cpm_writer_watch(r->writer, notify_dispatcher, r->dispatcher);
    r->app.dispatcher = r->dispatcher;
    return err;
}

static cpm_err start(const struct cpm_server_settings *settings, struct running *r,
                     struct cpm_detail *detail)
{
    cpm_err err = cpm_datadir_load_keys(settings->data_dir, &r->keys, detail);
    if (err == CPM_OK)
        err = cpm_keyring_init(&r->keyring, &r->keys);
    cpm_datadir_keys_wipe(&r->keys);
    if (err == CPM_OK)
        err = cpm_datadir_lock(settings->data_dir, &r->writer_lock, detail);
    if (err == CPM_OK)
        err = cpm_store_open(settings->data_dir, &r->app.store, detail);
    if (err == CPM_OK)
        err = cpm_node_cache_new(r->app.store, &r->nodes);
    if (err == CPM_OK)
        err = load_index(r, settings->data_dir);
    if (err == CPM_OK)
        err = cpm_decider_new(r->app.store, r->index, &r->decider);
    if (err == CPM_OK)
        err = cpm_writer_start(r->app.store, r->nodes, r->index, &r->writer);
    const uint8_t *pk = cpm_keyring_signing_public_key(&r->keyring);
    cpm_checkpoint_origin(pk, r->origin);
    cpm_note_vkey(r->origin, pk, r->vkey, sizeof(r->vkey));
    if (err == CPM_OK)
        err = check_ledger(r);
    if (err == CPM_OK && cpm_writer_refusal(r->writer) == NULL)
        err = cpm_checkpointer_start(r->app.store, r->writer, r->origin,
                                     cpm_keyring_signing_seed(&r->keyring), &r->checkpointer);
    if (err == CPM_OK && settings->index_snapshot_s > 0)
        err =
            cpm_index_saver_start(r->app.store, r->writer, r->index, r->index_snapshot,
                                  settings->index_snapshot_s, r->snapshot_current, &r->index_saver);
    if (err == CPM_OK)
        err = cpm_scheduler_start(r->app.store, r->writer, &r->keyring, &r->scheduler);
    if (err == CPM_OK)
        err = start_dispatcher(settings, r);
    r->app.writer = r->writer;
    r->app.nodes = r->nodes;
    r->app.index = r->index;
    r->app.decider = r->decider;
    r->app.keyring = &r->keyring;
    r->app.vkey = r->vkey;
    r->app.origin = r->origin;
    r->app.guard = &settings->guard;
    r->app.evidence_pack_events_max = settings->pack_events_max;
    struct cpm_session_options sessions;
    cpm_session_options_default(&sessions);
    sessions.idle_ms = settings->session_idle_ms;
    sessions.lifetime_ms = settings->session_lifetime_ms;
    if (err == CPM_OK)
        err = cpm_session_table_new(&sessions, &r->sessions);
    r->app.sessions = r->sessions;
    if (err == CPM_OK)
        err = cpm_verifier_new(settings->data_dir, r->vkey, &r->verifier);
    r->app.verifier = r->verifier;
    if (err == CPM_OK)
        err = cpm_http_start(&r->app, &settings->http, &r->http, detail);
    r->serving = err == CPM_OK;
    return err;
}

static void stop(struct running *r)
{
    cpm_http_free(r->http);
    cpm_session_table_free(r->sessions);
    cpm_verifier_free(r->verifier);
    if (r->writer != NULL)
        cpm_writer_watch(r->writer, NULL, NULL);
    cpm_dispatcher_stop(r->dispatcher);
    cpm_scheduler_stop(r->scheduler);
    cpm_index_saver_stop(r->index_saver);   /* before the last save, which it must not race */
    cpm_checkpointer_stop(r->checkpointer); /* signs the final head; nothing writes now */
    bool writes_refused = r->writer != NULL && cpm_writer_refusal(r->writer) != NULL;
    cpm_writer_stop(r->writer);
    save_index(r, writes_refused);
    cpm_decider_free(r->decider);
    cpm_index_free(r->index);
    cpm_node_cache_free(r->nodes);
    cpm_store_close(r->app.store);
    cpm_datadir_unlock(r->writer_lock);
    cpm_keyring_wipe(&r->keyring);
}

static void log_listening(const struct cpm_server_settings *settings, struct cpm_http *http)
{
    bool v6 = strchr(settings->http.host, ':') != NULL;
    char fields[160];
    snprintf(fields, sizeof(fields), "url=http://%s%s%s:%u threads=%u", v6 ? "[" : "",
             settings->http.host, v6 ? "]" : "", cpm_http_port(http), settings->http.threads);
    cpm_log(CPM_LOG_INFO, "server", NULL, fields, "listening");
}

static int serve(const struct cpm_server_settings *settings, const char *program)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct running r;
    memset(&r, 0, sizeof(r));
    r.writer_lock = -1;
    r.app.started_ms = cpm_clock_now_ms();
    cpm_err err = start(settings, &r, &detail);
    if (err != CPM_OK) {
        print_detail(program, err, &detail);
        stop(&r);
        return 1;
    }
    log_listening(settings, r.http);
    int sig = wait_for_signal();
    cpm_log_info("server", "%s received: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    atomic_store(&r.app.draining, true);
    cpm_http_quiesce(r.http);
    drain(&r.app);
    stop(&r);
    cpm_log_info("server", "stopped cleanly");
    return 0;
}

/*
 * CPM_TEST_CLOCK_OFFSET_MS moves cpmd's clock (for tests of expiry across a
 * restart); never set in production, and loud when it is.
 */
static void apply_test_clock(void)
{
    const char *offset = getenv("CPM_TEST_CLOCK_OFFSET_MS");
    int64_t ms;
    if (offset != NULL && cpm_parse_int64(offset, INT64_MIN / 2, INT64_MAX / 2, &ms)) {
        cpm_clock_set_offset_ms(ms);
        cpm_log_warn("server", "TEST CLOCK: running %lld ms off the real time", (long long)ms);
    }
}

int cpm_server_main(int argc, char **argv, const char *program)
{
    struct cpm_server_settings settings;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    bool help;
    if (cpm_server_settings_load(argc, argv, &settings, &help, &detail) != CPM_OK) {
        print_detail(program, CPM_ERR_USAGE, &detail);
        return 2;
    }
    if (help) {
        cpm_server_usage(stdout, program);
        return 0;
    }
    cpm_log_set_level((enum cpm_log_level)settings.log_level);
    apply_test_clock();
    if (sodium_init() < 0) {
        fprintf(stderr, "%s: libsodium failed to initialise\n", program);
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts */
    signal(SIGPIPE, SIG_IGN);
    return serve(&settings, program);
}
