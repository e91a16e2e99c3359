/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_nats_sink.c — the "nats" destination kind (src/sync/nats_sink.c)
 * against a real nats-server with JetStream, started here on a free
 * loopback port with its store in a temporary directory.
 *
 * Checks: the destination document's fields; events arrive in the stream
 * in the order sent, with Nats-Msg-Id and the body as sent; the same event
 * id twice is stored once; the outbound guard refuses 127.0.0.1 unless it
 * is allowlisted; a missing stream, a subject no stream takes and an
 * oversized event; a server killed (RETRY within the timeout) and started
 * again on the same store (delivered again); wake ends a long poll; and
 * the publish rate with many lanes (printed, not asserted).
 *
 * nats-server must be on PATH: without it the test fails and says that
 * `scripts/deps.sh test` installs it.
 */
#include "core/common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include <nats/nats.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "support/fixture.h"
#include "sync/outbound_guard.h"
#include "sync/sink.h"

extern char **environ;

#define SERVER_START_MS  15000
#define SEND_DEADLINE_MS 20000
#define TIMEOUT_MS       2000 /* env.timeout_ms of most sinks here */
#define LANES_MAX        256
#define BENCH_EVENTS     20000

/* The nats-server this test runs, and the test's own connection to it. */
static struct {
    char dir[64];
    int port;
    pid_t pid;
    natsConnection *nc;
    jsCtx *js;
} server;

static int64_t now_ms(void)
{
    return cpm_clock_monotonic_ns() / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A TCP port nobody listens on right now (bound to port 0, then released). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Whether name is an executable in a PATH directory. */
static bool on_path(const char *name)
{
    const char *path = getenv("PATH");
    for (const char *p = path != NULL ? path : ""; *p != '\0';) {
        const char *end = strchr(p, ':');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        char file[4096];
        if (len > 0 && len < sizeof(file) - 64) {
            snprintf(file, sizeof(file), "%.*s/%s", (int)len, p, name);
            if (access(file, X_OK) == 0)
                return true;
        }
        p += len + (end != NULL ? 1 : 0);
    }
    return false;
}

/* The test's own connection, to create and read streams. */
static void admin_connect(void)
{
    char url[64];
    snprintf(url, sizeof(url), "nats://127.0.0.1:%d", server.port);
    assert_int_equal(natsConnection_ConnectTo(&server.nc, url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&server.js, server.nc, NULL), NATS_OK);
}

static void admin_disconnect(void)
{
    jsCtx_Destroy(server.js);
    natsConnection_Destroy(server.nc);
    server.js = NULL;
    server.nc = NULL;
}

/* Starts nats-server with JetStream on server.port and server.dir; waits until it accepts. */
static void server_start(void)
{
    char port[16], log[128];
    snprintf(port, sizeof(port), "%d", server.port);
    snprintf(log, sizeof(log), "%s/server.log", server.dir);
    char *argv[] = {"nats-server", "-js", "-a", "127.0.0.1", "-p", port, "-sd", server.dir, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawnp(&server.pid, "nats-server", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("cannot start nats-server: %s", strerror(rc));
    for (int64_t until = now_ms() + SERVER_START_MS; !port_accepts(server.port);) {
        int status;
        if (waitpid(server.pid, &status, WNOHANG) == server.pid)
            fail_msg("nats-server exited at start; see %s", log);
        if (now_ms() > until)
            fail_msg("nats-server does not accept connections on port %d; see %s", server.port,
                     log);
        sleep_ms(20);
    }
}

static void server_kill(void)
{
    if (server.pid <= 0)
        return;
    kill(server.pid, SIGKILL);
    waitpid(server.pid, NULL, 0);
    server.pid = 0;
}

static void stream_add(const char *name, const char *subject, int32_t max_msg_size)
{
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char *subjects[] = {subject};
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    if (max_msg_size > 0)
        cfg.MaxMsgSize = max_msg_size;
    jsStreamInfo *si = NULL;
    jsErrCode code = 0;
    natsStatus st = NATS_ERR;
    /* JetStream may answer a moment after the port opens. */
    for (int i = 0; i < 50; i++) {
        st = js_AddStream(&si, server.js, &cfg, NULL, &code);
        if (st != NATS_NO_RESPONDERS && st != NATS_TIMEOUT)
            break;
        sleep_ms(100);
    }
    if (st != NATS_OK)
        fail_msg("cannot create stream %s: %s (%d)", name, natsStatus_GetText(st), (int)code);
    jsStreamInfo_Destroy(si);
}

static uint64_t stream_count(const char *name)
{
    jsStreamInfo *si = NULL;
    assert_int_equal(js_GetStreamInfo(&si, server.js, name, NULL, NULL), NATS_OK);
    uint64_t n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
}

/* ---------------------------------------------------------------------------
 * Sinks and events
 * ------------------------------------------------------------------------- */

struct results {
    unsigned count;
    bool seen[LANES_MAX];
    struct cpm_sink_result r[LANES_MAX];
};

static void collect(void *ctx, unsigned lane, const struct cpm_sink_result *r)
{
    struct results *out = ctx;
    assert_true(lane < LANES_MAX);
    assert_false(out->seen[lane]); /* one done per send */
    out->seen[lane] = true;
    out->r[lane] = *r;
    out->count++;
}

static struct cpm_outbound_event event(const char *id, const char *type, const char *body)
{
    return (struct cpm_outbound_event){.seq = 1,
                                       .id = id,
                                       .type = type,
                                       .subject_id = "sub_1",
                                       .purpose = "",
                                       .time_ms = 0,
                                       .leaf = "{}",
                                       .leaf_len = 2,
                                       .body = body,
                                       .body_len = strlen(body)};
}

/* A sink on the test server's port, with the guard's allowlist allow. */
static void *sink_open(const char *stream, const char *prefix, const char *allow, unsigned lanes,
                       int64_t timeout_ms)
{
    struct cpm_outbound_guard guard;
    struct cpm_detail d;
    cpm_detail_init(&d);
    assert_int_equal(cpm_outbound_guard_parse(&guard, allow, "allow", &d), CPM_OK);
    json_t *dest = json_object();
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "nats://127.0.0.1:%d", server.port);
    json_object_set_new(dest, "kind", json_string("nats"));
    json_object_set_new(dest, "endpoint", json_string(endpoint));
    json_object_set_new(dest, "stream", json_string(stream));
    if (prefix != NULL)
        json_object_set_new(dest, "subject_prefix", json_string(prefix));
    struct cpm_sink_env env = {.guard = &guard, .lanes = lanes, .timeout_ms = timeout_ms};
    void *sink = NULL;
    assert_int_equal(cpm_sink_nats_ops.open(dest, &env, &sink, &d), CPM_OK);
    assert_non_null(sink);
    json_decref(dest);
    return sink;
}

/* Sends e on lane 0 and polls until it is done; returns its result. */
static struct cpm_sink_result send_one(void *sink, const struct cpm_outbound_event *e)
{
    struct results out = {0};
    assert_int_equal(cpm_sink_nats_ops.send(sink, 0, e), CPM_OK);
    for (int64_t until = now_ms() + SEND_DEADLINE_MS; out.count == 0;) {
        if (now_ms() > until)
            fail_msg("no result for %s in %d ms", e->id, SEND_DEADLINE_MS);
        cpm_sink_nats_ops.poll(sink, 1000, collect, &out);
    }
    assert_true(out.seen[0]);
    return out.r[0];
}

static void expect_outcome(const struct cpm_sink_result *r, enum cpm_sink_outcome outcome,
                           const char *detail_prefix)
{
    if (r->outcome != outcome || strncmp(r->detail, detail_prefix, strlen(detail_prefix)) != 0)
        fail_msg("expected outcome %d '%s…', got %d '%s'", (int)outcome, detail_prefix,
                 (int)r->outcome, r->detail);
}

/*
 * Sends count events ("<id_prefix>-<i>") over all lanes, keeping every lane
 * busy, until each is done; fails unless every one is DELIVERED.
 */
static void send_many(void *sink, unsigned lanes, unsigned count, const char *id_prefix,
                      char ids[][32], const char *const *bodies)
{
    static struct results out;
    memset(&out, 0, sizeof(out));
    bool busy[LANES_MAX] = {false};
    unsigned sent = 0, finished = 0;
    int64_t until = now_ms() + 120000;
    while (finished < count) {
        for (unsigned lane = 0; lane < lanes && sent < count; lane++) {
            if (busy[lane])
                continue;
            snprintf(ids[sent], 32, "%s-%u", id_prefix, sent);
            struct cpm_outbound_event e = event(
                ids[sent], sent % 2 == 0 ? "consent.given" : "consent.withdrawn", bodies[sent % 2]);
            assert_int_equal(cpm_sink_nats_ops.send(sink, lane, &e), CPM_OK);
            busy[lane] = true;
            sent++;
        }
        cpm_sink_nats_ops.poll(sink, 1000, collect, &out);
        for (unsigned lane = 0; lane < lanes; lane++) {
            if (!out.seen[lane])
                continue;
            if (out.r[lane].outcome != CPM_SINK_DELIVERED)
                fail_msg("lane %u: %d %s", lane, (int)out.r[lane].outcome, out.r[lane].detail);
            out.seen[lane] = false;
            busy[lane] = false;
            finished++;
        }
        if (now_ms() > until)
            fail_msg("only %u of %u events done", finished, count);
    }
}

/* ---------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------- */

static void test_open(void **state)
{
    CPM_UNUSED(state);
    int64_t bytes = cpm_alloc_bytes_in_use();
    struct cpm_outbound_guard guard;
    struct cpm_detail d;
    cpm_detail_init(&d);
    assert_int_equal(cpm_outbound_guard_parse(&guard, "127.0.0.1/32", "allow", &d), CPM_OK);
    struct cpm_sink_env env = {.guard = &guard, .lanes = 2, .timeout_ms = TIMEOUT_MS};
    static const struct {
        const char *doc;
        const char *field;
    } bad[] = {
        {"{'endpoint': 'http://127.0.0.1:4222', 'stream': 'S'}", "endpoint"},
        {"{'endpoint': 'nats://', 'stream': 'S'}", "endpoint"},
        {"{'endpoint': 'nats://127.0.0.1', 'stream': 'S'}", "endpoint"},
        {"{'endpoint': 'nats://127.0.0.1:0', 'stream': 'S'}", "endpoint"},
        {"{'endpoint': 'nats://127.0.0.1:65536', 'stream': 'S'}", "endpoint"},
        {"{'endpoint': 'nats://127.0.0.1:4222/x', 'stream': 'S'}", "endpoint"},
        {"{'endpoint': 'nats://alice:hunter2@127.0.0.1:4222', 'stream': 'S'}", "endpoint"},
        {"{'endpoint': 'nats://[::1:4222', 'stream': 'S'}", "endpoint"},
        {"{'stream': 'S'}", "endpoint"},
        {"{'endpoint': 'nats://127.0.0.1:4222'}", "stream"},
        {"{'endpoint': 'nats://127.0.0.1:4222', 'stream': 'a.b'}", "stream"},
        {"{'endpoint': 'nats://127.0.0.1:4222', 'stream': 'a b'}", "stream"},
        {"{'endpoint': 'nats://127.0.0.1:4222', 'stream': 'S', 'subject_prefix': 'a..b'}",
         "subject_prefix"},
        {"{'endpoint': 'nats://127.0.0.1:4222', 'stream': 'S', 'subject_prefix': 'a.*'}",
         "subject_prefix"},
        {"{'endpoint': 'nats://127.0.0.1:4222', 'stream': 'S', 'subject_prefix': '$JS.API'}",
         "subject_prefix"},
        {"{'endpoint': 'nats://127.0.0.1:4222', 'stream': 'S', 'subject_prefix': ''}",
         "subject_prefix"},
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad); i++) {
        json_t *doc = J(bad[i].doc);
        void *sink = (void *)1;
        cpm_detail_init(&d);
        assert_int_equal(cpm_sink_nats_ops.open(doc, &env, &sink, &d), CPM_ERR_VALIDATION);
        assert_null(sink);
        expect(&d, bad[i].field, "must be");
        for (int f = 0; f < d.count; f++)
            assert_null(strstr(d.faults[f].message, "hunter2"));
        json_decref(doc);
    }

    /* A server that is not there yet is no reason to refuse the destination. */
    char text[160];
    int port = free_port();
    snprintf(text, sizeof(text), "{'endpoint': 'nats://127.0.0.1:%d', 'stream': 'S'}", port);
    json_t *doc = J(text);
    void *sink = NULL;
    cpm_detail_init(&d);
    assert_int_equal(cpm_sink_nats_ops.open(doc, &env, &sink, &d), CPM_OK);
    json_decref(doc);
    struct cpm_outbound_event e = event("evt_down", "consent.given", "{}");
    int64_t t0 = now_ms();
    struct cpm_sink_result r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_RETRY, "cannot connect to the NATS server at 127.0.0.1:");
    assert_true(now_ms() - t0 < TIMEOUT_MS + 1000);
    /* Within the hold-off the same answer comes at once. */
    r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_RETRY, "cannot connect to the NATS server at 127.0.0.1:");
    cpm_sink_nats_ops.close(sink);
    cpm_sink_nats_ops.close(NULL);
    assert_int_equal(cpm_alloc_bytes_in_use(), bytes);
}

static void test_order_and_headers(void **state)
{
    CPM_UNUSED(state);
    enum { LANES = 4, COUNT = 40 };
    int64_t bytes = cpm_alloc_bytes_in_use();
    static const char *const bodies[] = {"{\"specversion\":\"1.0\",\"n\":\"given\"}",
                                         "{\"specversion\":\"1.0\",\"n\":\"withdrawn\"}"};
    static char ids[COUNT][32];
    uint64_t base = stream_count("CPM");
    void *sink = sink_open("CPM", NULL, "127.0.0.1/32", LANES, TIMEOUT_MS);
    send_many(sink, LANES, COUNT, "evt_order", ids, bodies);
    cpm_sink_nats_ops.close(sink);
    assert_int_equal(cpm_alloc_bytes_in_use(), bytes);

    assert_int_equal(stream_count("CPM"), base + COUNT);
    for (unsigned i = 0; i < COUNT; i++) {
        natsMsg *m = NULL;
        assert_int_equal(js_GetMsg(&m, server.js, "CPM", base + 1 + i, NULL, NULL), NATS_OK);
        const char *id = NULL, *type = NULL;
        assert_int_equal(natsMsgHeader_Get(m, "Nats-Msg-Id", &id), NATS_OK);
        assert_string_equal(id, ids[i]);
        assert_int_equal(natsMsgHeader_Get(m, "Content-Type", &type), NATS_OK);
        assert_string_equal(type, "application/cloudevents+json");
        assert_string_equal(natsMsg_GetSubject(m),
                            i % 2 == 0 ? "cpm.consent.given" : "cpm.consent.withdrawn");
        assert_int_equal(natsMsg_GetDataLength(m), strlen(bodies[i % 2]));
        assert_memory_equal(natsMsg_GetData(m), bodies[i % 2], strlen(bodies[i % 2]));
        natsMsg_Destroy(m);
    }
}

static void test_duplicate(void **state)
{
    CPM_UNUSED(state);
    uint64_t base = stream_count("CPM");
    void *sink = sink_open("CPM", "cpm", "127.0.0.1/32", 1, TIMEOUT_MS);
    struct cpm_outbound_event e = event("evt_dup_1", "consent.given", "{\"a\":1}");
    struct cpm_sink_result r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_DELIVERED, "stored in stream 'CPM'");
    assert_null(strstr(r.detail, "duplicate"));
    r = send_one(sink, &e); /* a re-send after a lost PubAck */
    expect_outcome(&r, CPM_SINK_DELIVERED, "stored in stream 'CPM'");
    assert_non_null(strstr(r.detail, "duplicate"));
    assert_int_equal(stream_count("CPM"), base + 1);
    e = event("evt_dup_2", "consent.given", "{\"a\":1}");
    r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_DELIVERED, "stored in stream 'CPM'");
    assert_int_equal(stream_count("CPM"), base + 2);
    cpm_sink_nats_ops.close(sink);
}

static void test_guard(void **state)
{
    CPM_UNUSED(state);
    uint64_t base = stream_count("CPM");
    struct cpm_outbound_event e = event("evt_guard", "consent.given", "{}");
    void *sink = sink_open("CPM", NULL, "", 1, TIMEOUT_MS);
    struct cpm_sink_result r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_RETRY, "the outbound guard refuses the NATS server 127.0.0.1:");
    assert_non_null(strstr(r.detail, "loopback"));
    cpm_sink_nats_ops.close(sink);
    assert_int_equal(stream_count("CPM"), base);

    /* Another loopback range allowlisted is not this one. */
    sink = sink_open("CPM", NULL, "127.0.0.2/32", 1, TIMEOUT_MS);
    r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_RETRY, "the outbound guard refuses");
    cpm_sink_nats_ops.close(sink);

    sink = sink_open("CPM", NULL, "127.0.0.1/32", 1, TIMEOUT_MS);
    r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_DELIVERED, "stored in stream 'CPM'");
    cpm_sink_nats_ops.close(sink);
    assert_int_equal(stream_count("CPM"), base + 1);
}

static void test_missing_stream(void **state)
{
    CPM_UNUSED(state);
    void *sink = sink_open("LATER", "later", "127.0.0.1/32", 1, TIMEOUT_MS);
    struct cpm_outbound_event e = event("evt_later", "consent.given", "{}");
    struct cpm_sink_result r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_RETRY, "stream 'LATER' not found on the NATS server");
    assert_string_equal(r.detail, "stream 'LATER' not found on the NATS server");
    r = send_one(sink, &e);
    assert_string_equal(r.detail, "stream 'LATER' not found on the NATS server");

    /* Created by the operator: the next send finds it. */
    stream_add("LATER", "later.>", 0);
    r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_DELIVERED, "stored in stream 'LATER'");
    assert_int_equal(stream_count("LATER"), 1);

    /* Deleted under a live connection: RETRY, then the clear detail again. */
    assert_int_equal(js_DeleteStream(server.js, "LATER", NULL, NULL), NATS_OK);
    e = event("evt_later_2", "consent.given", "{}");
    r = send_one(sink, &e);
    assert_int_equal(r.outcome, CPM_SINK_RETRY);
    r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_RETRY, "stream 'LATER' not found on the NATS server");
    cpm_sink_nats_ops.close(sink);
}

static void test_rejected(void **state)
{
    CPM_UNUSED(state);
    /* A prefix the stream does not take. */
    void *sink = sink_open("CPM", "elsewhere", "127.0.0.1/32", 1, TIMEOUT_MS);
    struct cpm_outbound_event e = event("evt_unbound", "consent.given", "{}");
    struct cpm_sink_result r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_REJECTED, "no stream matches subject 'elsewhere.consent.given'");
    cpm_sink_nats_ops.close(sink);

    /* Over the stream's maximum message size: JetStream's own refusal. */
    stream_add("SMALL", "small.>", 512);
    sink = sink_open("SMALL", "small", "127.0.0.1/32", 1, TIMEOUT_MS);
    char big[1001];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    e = event("evt_big", "consent.given", big);
    r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_REJECTED, "maximum payload exceeded");
    e = event("evt_small", "consent.given", "{}");
    r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_DELIVERED, "stored in stream 'SMALL'");
    cpm_sink_nats_ops.close(sink);

    /* Over the server's max_payload (1 MiB): refused before sending. */
    sink = sink_open("CPM", NULL, "127.0.0.1/32", 1, TIMEOUT_MS);
    size_t huge_len = 2u << 20;
    char *huge = cpm_malloc(huge_len + 1);
    assert_non_null(huge);
    memset(huge, 'x', huge_len);
    huge[huge_len] = '\0';
    e = event("evt_huge", "consent.given", huge);
    r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_REJECTED, "maximum payload exceeded");
    cpm_free(huge);

    /* An event type that cannot be a subject. */
    e = event("evt_badtype", "consent given", "{}");
    r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_REJECTED, "event type");
    cpm_sink_nats_ops.close(sink);
}

struct waker {
    void *sink;
    int delay_ms;
};

static void *wake_later(void *arg)
{
    struct waker *w = arg;
    sleep_ms(w->delay_ms);
    cpm_sink_nats_ops.wake(w->sink);
    return NULL;
}

static void test_wake(void **state)
{
    CPM_UNUSED(state);
    void *sink = sink_open("CPM", NULL, "127.0.0.1/32", 1, TIMEOUT_MS);
    struct results out = {0};

    /* Woken before: the next poll returns at once. */
    cpm_sink_nats_ops.wake(sink);
    int64_t t0 = now_ms();
    cpm_sink_nats_ops.poll(sink, 60000, collect, &out);
    assert_true(now_ms() - t0 < 1000);

    /* Woken from another thread while it waits. */
    struct waker w = {sink, 150};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, wake_later, &w), 0);
    t0 = now_ms();
    cpm_sink_nats_ops.poll(sink, 60000, collect, &out);
    int64_t waited = now_ms() - t0;
    pthread_join(thread, NULL);
    assert_true(waited >= 100 && waited < 2000);
    assert_int_equal(out.count, 0);

    /* Nothing to wait for: poll waits its timeout. */
    t0 = now_ms();
    cpm_sink_nats_ops.poll(sink, 200, collect, &out);
    assert_true(now_ms() - t0 >= 190);
    cpm_sink_nats_ops.close(sink);
}

static void test_server_restart(void **state)
{
    CPM_UNUSED(state);
    uint64_t base = stream_count("CPM");
    void *sink = sink_open("CPM", NULL, "127.0.0.1/32", 2, TIMEOUT_MS);
    struct cpm_outbound_event e = event("evt_restart_1", "consent.given", "{}");
    struct cpm_sink_result r = send_one(sink, &e);
    expect_outcome(&r, CPM_SINK_DELIVERED, "stored");

    admin_disconnect();

    /* A server that stops answering: no PubAck within the timeout. */
    kill(server.pid, SIGSTOP);
    int status = 0; /* kill() returns before the stop: wait for it, or it may still answer */
    assert_int_equal(waitpid(server.pid, &status, WUNTRACED), server.pid);
    assert_true(WIFSTOPPED(status));
    e = event("evt_restart_stopped", "consent.given", "{}");
    int64_t t0 = now_ms();
    r = send_one(sink, &e);
    int64_t waited = now_ms() - t0;
    print_message("  server stopped: %s (%lld ms)\n", r.detail, (long long)waited);
    expect_outcome(&r, CPM_SINK_RETRY, "no PubAck from the NATS server at 127.0.0.1:");
    assert_true(waited >= TIMEOUT_MS - 100 && waited < TIMEOUT_MS + 1000);
    server_kill();

    /* Both lanes at once, on the connection that just died: RETRY within the timeout. */
    struct results out = {0};
    struct cpm_outbound_event e2 = event("evt_restart_2", "consent.given", "{}");
    struct cpm_outbound_event e3 = event("evt_restart_3", "consent.given", "{}");
    t0 = now_ms();
    assert_int_equal(cpm_sink_nats_ops.send(sink, 0, &e2), CPM_OK);
    assert_int_equal(cpm_sink_nats_ops.send(sink, 1, &e3), CPM_OK);
    while (out.count < 2 && now_ms() - t0 < TIMEOUT_MS + 1000)
        cpm_sink_nats_ops.poll(sink, 500, collect, &out);
    assert_int_equal(out.count, 2);
    for (unsigned lane = 0; lane < 2; lane++) {
        print_message("  server gone, lane %u: %s\n", lane, out.r[lane].detail);
        assert_int_equal(out.r[lane].outcome, CPM_SINK_RETRY);
        assert_true(out.r[lane].detail[0] != '\0');
    }
    /* And while it stays down. */
    t0 = now_ms();
    r = send_one(sink, &e2);
    expect_outcome(&r, CPM_SINK_RETRY, "cannot connect to the NATS server at 127.0.0.1:");
    assert_true(now_ms() - t0 < TIMEOUT_MS + 1000);

    /* Back on the same store: the retries are delivered. */
    server_start();
    t0 = now_ms();
    for (;;) {
        r = send_one(sink, &e2);
        if (r.outcome == CPM_SINK_DELIVERED)
            break;
        if (now_ms() - t0 > SEND_DEADLINE_MS)
            fail_msg("not delivered after the restart: %s", r.detail);
        sleep_ms(100);
    }
    r = send_one(sink, &e3);
    expect_outcome(&r, CPM_SINK_DELIVERED, "stored");
    cpm_sink_nats_ops.close(sink);

    admin_connect();
    /*
     * What was stored before the kill is still there, and each event once:
     * the stopped server may have stored evt_restart_stopped (not re-sent).
     */
    uint64_t count = stream_count("CPM");
    assert_true(count == base + 3 || count == base + 4);
}

static void test_throughput(void **state)
{
    CPM_UNUSED(state);
    enum { LANES = 256 };
    static char ids[BENCH_EVENTS][32];
    char body[301];
    memset(body, 'x', sizeof(body) - 1);
    body[0] = '{';
    body[sizeof(body) - 2] = '}';
    body[sizeof(body) - 1] = '\0';
    const char *const bodies[] = {body, body};
    stream_add("BENCH", "bench.>", 0);
    void *sink = sink_open("BENCH", "bench", "127.0.0.1/32", LANES, 10000);
    int64_t t0 = cpm_clock_monotonic_ns();
    send_many(sink, LANES, BENCH_EVENTS, "evt_bench", ids, bodies);
    int64_t ns = cpm_clock_monotonic_ns() - t0;
    cpm_sink_nats_ops.close(sink);
    assert_int_equal(stream_count("BENCH"), BENCH_EVENTS);
    print_message("  %d events of %zu bytes over %d lanes in %.3f s: %.0f events/s\n", BENCH_EVENTS,
                  strlen(body), LANES, (double)ns / 1e9, BENCH_EVENTS / ((double)ns / 1e9));
}

static int group_setup(void **state)
{
    CPM_UNUSED(state);
    snprintf(server.dir, sizeof(server.dir), "/tmp/cpm-nats-XXXXXX");
    if (mkdtemp(server.dir) == NULL)
        return -1;
    server.port = free_port();
    server_start();
    admin_connect();
    stream_add("CPM", "cpm.>", 0);
    return 0;
}

static int group_teardown(void **state)
{
    CPM_UNUSED(state);
    admin_disconnect();
    server_kill();
    fixture_rm_tree(server.dir);
    return 0;
}

int main(void)
{
    if (!on_path("nats-server")) {
        fprintf(stderr, "FAIL: nats-server is not on PATH; `scripts/deps.sh test` installs it "
                        "(Debian's nats-server package)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open),           cmocka_unit_test(test_order_and_headers),
        cmocka_unit_test(test_duplicate),      cmocka_unit_test(test_guard),
        cmocka_unit_test(test_missing_stream), cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_wake),           cmocka_unit_test(test_server_restart),
        cmocka_unit_test(test_throughput),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
    if (server.pid > 0) /* a failed assertion left it running */
        server_kill();
    return failed;
}
