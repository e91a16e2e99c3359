/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nats_sink.c — the "nats" destination kind: ledger events published to a
 * NATS JetStream stream (nats.c), one event per message.
 *
 * An event goes to "<subject_prefix>.<type>" with its CloudEvents body and
 * the header Nats-Msg-Id = the event id, so JetStream's duplicate window
 * drops a re-send of an event the server already stored (a lost PubAck is
 * reported as RETRY; the dispatcher re-sends; the stream keeps one copy).
 *
 * Contains: the endpoint parser; the connection, made lazily by send (the
 * host resolved here and every address checked by the outbound guard; the
 * allowed address connected to by number, so DNS cannot change it after
 * the check), with nats.c's own reconnecting off: a lost connection
 * finishes the sends in flight with RETRY and the next send connects
 * again; the stream check (never created here); asynchronous publishing
 * with one in-flight message per lane; and poll, which hands results to
 * the dispatcher on its own thread.
 *
 * Threads: nats.c calls on_ack and on_closed from its threads. They only
 * record a result under the sink's mutex and signal poll's condition
 * variable. They find the sink through a registry keyed by a number, never
 * a pointer: close takes the sink out of the registry first, so a late
 * callback finds nothing instead of freed memory.
 *
 * Blocking: send connects when there is no connection, which may take up
 * to env.timeout_ms for the TCP/NATS handshake and again for the stream
 * check; after a failed connect, sends fail at once for CONNECT_HOLDOFF_MS
 * with the same detail instead of trying again for every lane.
 */
#include "core/common.h"

#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include <nats/nats.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "sync/outbound_guard.h"
#include "sync/sink.h"

#define MODULE "sync.nats"

#define NATS_PORT_TEXT_BYTES   8
#define NATS_HOST_BYTES_MAX    256 /* a DNS name (253) or a bracketed IPv6 address */
#define NATS_NAME_BYTES_MAX    65  /* stream and subject prefix: the destination schema's 64 */
#define NATS_SUBJECT_BYTES_MAX 256
#define NATS_MSG_ID_BYTES_MAX  128
#define NATS_LANES_MAX         65536
#define NATS_ADDRESSES_TRIED   4    /* allowed addresses of one host tried per connect */
#define NATS_STREAM_SUBJECTS   256  /* stream subjects kept for the "is it bound" check */
#define CONNECT_HOLDOFF_MS     1000 /* a failed connect is not tried again sooner */
#define ACK_GRACE_MS           100  /* nats.c's own MaxWait timeout normally fires first */
#define PING_INTERVAL_MS_MIN   1000
#define PING_INTERVAL_MS_MAX   30000
#define PINGS_OUT_MAX          2 /* unanswered PINGs before the connection counts as lost */

struct lane {
    bool busy;     /* a send is outstanding (finished or not) */
    bool finished; /* result holds its outcome, for the next poll */
    /*
     * The message in flight, owned by nats.c; only compared with the one an
     * ack names (a message is alive while its ack handler runs, so no other
     * in-flight message can have its address). NULL when none.
     */
    natsMsg *msg;
    int64_t deadline_ms; /* monotonic */
    struct cpm_sink_result result;
};

struct done_item {
    unsigned lane;
    struct cpm_sink_result result;
};

struct nats_sink {
    uint64_t id;            /* the registry key nats.c's callbacks carry */
    struct nats_sink *next; /* in the registry */

    /* The destination, fixed at open. */
    char host[NATS_HOST_BYTES_MAX]; /* as written, brackets removed */
    char port[NATS_PORT_TEXT_BYTES];
    char where[NATS_HOST_BYTES_MAX + NATS_PORT_TEXT_BYTES + 4]; /* "host:port", for details */
    char stream[NATS_NAME_BYTES_MAX];
    char prefix[NATS_NAME_BYTES_MAX];
    struct cpm_outbound_guard guard;
    unsigned lanes;
    int64_t timeout_ms;

    /* The connection: used by the dispatcher thread only. */
    natsConnection *nc;
    jsCtx *js;
    bool stream_found;
    char **subjects; /* the stream's subject filters (owned), when known */
    int subjects_len;
    bool subjects_known;
    char connect_error[sizeof(((struct cpm_sink_result *)0)->detail)];
    int64_t connect_error_ms; /* monotonic; when connect_error was set */
    struct done_item *done_items;

    /* Shared with nats.c's threads, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    bool woken;
    bool lost;           /* the connection closed: tear it down in poll/send */
    bool stream_recheck; /* a PubAck said the stream is gone: look again */
    unsigned finished_count;
    struct lane lane[];
};

/* ---------------------------------------------------------------------------
 * The registry, and nats.c's library state
 * ------------------------------------------------------------------------- */

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct nats_sink *registry_head;
static uint64_t registry_next_id = 1;

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static natsStatus library_status;

/* nats.c keeps process-wide state: opened once, never closed by a sink. */
static void library_open(void)
{
    library_status = nats_Open(-1);
}

/* Adds s and gives it its id. */
static void registry_add(struct nats_sink *s)
{
    pthread_mutex_lock(&registry_mu);
    s->id = registry_next_id++;
    s->next = registry_head;
    registry_head = s;
    pthread_mutex_unlock(&registry_mu);
}

/* After this no callback reaches s. */
static void registry_remove(struct nats_sink *s)
{
    pthread_mutex_lock(&registry_mu);
    for (struct nats_sink **p = &registry_head; *p != NULL; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    pthread_mutex_unlock(&registry_mu);
}

/* The sink a callback's closure names, or NULL; call with registry_mu held. */
static struct nats_sink *registry_find(void *closure)
{
    uint64_t id = (uint64_t)(uintptr_t)closure;
    for (struct nats_sink *s = registry_head; s != NULL; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

static void *closure_of(const struct nats_sink *s)
{
    return (void *)(uintptr_t)s->id;
}

/* ---------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    return cpm_clock_monotonic_ns() / 1000000;
}

/* snprintf that may cut: every text here has a fixed room, and cutting it is intended. */
static void text_set(char *out, size_t size, const char *fmt, ...) CPM_PRINTF(3, 4);

static void text_set(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

/* Copies server text into out, keeping printable ASCII only (it goes into logs). */
static void text_clean(char *out, size_t size, const char *in)
{
    size_t n = 0;
    for (const char *p = in != NULL ? in : ""; *p != '\0' && n + 1 < size; p++)
        out[n++] = (*p >= 0x20 && *p < 0x7F) ? *p : '?';
    out[n] = '\0';
}

/* Records lane's outcome for the next poll; call with mu held. */
static void lane_finish_locked(struct nats_sink *s, unsigned lane, const struct cpm_sink_result *r)
{
    struct lane *l = &s->lane[lane];
    CPM_ASSERT(l->busy && !l->finished);
    l->result = *r;
    l->finished = true;
    l->msg = NULL;
    s->finished_count++;
    pthread_cond_signal(&s->cond);
}

/* A send that finishes without reaching the server: its result waits for poll. */
static void lane_finish_now(struct nats_sink *s, unsigned lane, const struct cpm_sink_result *r)
{
    pthread_mutex_lock(&s->mu);
    s->lane[lane].busy = true;
    s->lane[lane].finished = false;
    lane_finish_locked(s, lane, r);
    pthread_mutex_unlock(&s->mu);
}

/* NATS subject tokens: not empty, no spaces, controls or wildcards. */
static bool subject_tokens_valid(const char *s)
{
    if (s == NULL || s[0] == '\0' || s[0] == '.' || s[strlen(s) - 1] == '.' ||
        strstr(s, "..") != NULL)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p <= 0x20 || *p >= 0x7F || *p == '*' || *p == '>')
            return false;
    return true;
}

/* Whether subject (no wildcards) matches the filter (with * and >). */
static bool subject_matches(const char *filter, const char *subject)
{
    const char *f = filter, *t = subject;
    for (;;) {
        const char *fe = strchr(f, '.'), *te = strchr(t, '.');
        size_t fl = fe != NULL ? (size_t)(fe - f) : strlen(f);
        size_t tl = te != NULL ? (size_t)(te - t) : strlen(t);
        if (fl == 1 && f[0] == '>' && fe == NULL)
            return true; /* one or more tokens left: t is at one */
        if (!(fl == 1 && f[0] == '*') && (fl != tl || memcmp(f, t, fl) != 0))
            return false;
        if (fe == NULL || te == NULL)
            return fe == NULL && te == NULL;
        f = fe + 1;
        t = te + 1;
    }
}

/* ---------------------------------------------------------------------------
 * nats.c's callbacks (its threads)
 * ------------------------------------------------------------------------- */

/* The outcome of a failed publish, from nats.c's status and JetStream's error. */
static void classify_error(const struct nats_sink *s, natsStatus status, jsErrCode code,
                           const char *text, const char *subject, struct cpm_sink_result *r,
                           bool *stream_gone)
{
    char clean[120];
    text_clean(clean, sizeof(clean), text);
    *stream_gone = false;
    switch (status) {
    case NATS_TIMEOUT:
        cpm_sink_result_set(r, CPM_SINK_RETRY,
                            "no PubAck from the NATS server at %s within %lld ms", s->where,
                            (long long)s->timeout_ms);
        return;
    case NATS_NO_RESPONDERS:
        *stream_gone = true;
        cpm_sink_result_set(
            r, CPM_SINK_RETRY,
            "no responders for subject '%s' on %s (stream '%s' gone or JetStream down)", subject,
            s->where, s->stream);
        return;
    case NATS_MAX_PAYLOAD:
        cpm_sink_result_set(r, CPM_SINK_REJECTED,
                            "maximum payload exceeded on the NATS server at %s", s->where);
        return;
    case NATS_ERR:
        if (code == 0)
            break;
        /* A JetStream API error from the server. */
        if (code == JSStreamMessageExceedsMaximumErr) {
            cpm_sink_result_set(r, CPM_SINK_REJECTED,
                                "maximum payload exceeded: stream '%s' says: %s", s->stream, clean);
        } else if (code == JSStreamNotMatchErr) {
            cpm_sink_result_set(
                r, CPM_SINK_REJECTED,
                "no stream matches subject '%s' as stream '%s' (JetStream error %d: %s)", subject,
                s->stream, (int)code, clean);
        } else {
            if (code == JSStreamNotFoundErr)
                *stream_gone = true;
            cpm_sink_result_set(r, CPM_SINK_RETRY, "JetStream error %d from stream '%s': %s",
                                (int)code, s->stream, clean);
        }
        return;
    default:
        break;
    }
    cpm_sink_result_set(r, CPM_SINK_RETRY, "publish to the NATS server at %s failed: %s", s->where,
                        natsStatus_GetText(status));
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    CPM_UNUSED(js);
    pthread_mutex_lock(&registry_mu);
    struct nats_sink *s = registry_find(closure);
    if (s != NULL) {
        pthread_mutex_lock(&s->mu);
        for (unsigned i = 0; i < s->lanes; i++) {
            struct lane *l = &s->lane[i];
            if (!l->busy || l->finished || l->msg != msg)
                continue;
            struct cpm_sink_result r;
            if (pa != NULL) {
                cpm_sink_result_set(&r, CPM_SINK_DELIVERED, "stored in stream '%s' as seq %llu%s",
                                    s->stream, (unsigned long long)pa->Sequence,
                                    pa->Duplicate ? " (duplicate: already stored)" : "");
            } else {
                bool stream_gone = false;
                classify_error(s, pae != NULL ? pae->Err : NATS_ERR, pae != NULL ? pae->ErrCode : 0,
                               pae != NULL ? pae->ErrText : NULL, natsMsg_GetSubject(msg), &r,
                               &stream_gone);
                s->stream_recheck |= stream_gone;
            }
            lane_finish_locked(s, i, &r);
            break;
        }
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&registry_mu);
    natsMsg_Destroy(msg); /* with an AckHandler the message is ours to destroy */
}

/* Disconnected or closed: with reconnecting off, the connection is over. */
static void on_closed(natsConnection *nc, void *closure)
{
    pthread_mutex_lock(&registry_mu);
    struct nats_sink *s = registry_find(closure);
    if (s != NULL) {
        pthread_mutex_lock(&s->mu);
        /* s->nc is written under mu; an old connection's late callback is ignored. */
        if (s->nc == nc) {
            s->lost = true;
            pthread_cond_signal(&s->cond);
        }
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&registry_mu);
}

/* ---------------------------------------------------------------------------
 * The connection (dispatcher thread)
 * ------------------------------------------------------------------------- */

static void subjects_free(struct nats_sink *s)
{
    for (int i = 0; i < s->subjects_len; i++)
        cpm_free(s->subjects[i]);
    cpm_free(s->subjects);
    s->subjects = NULL;
    s->subjects_len = 0;
    s->subjects_known = false;
}

/*
 * Ends the connection. With detail, sends in flight finish with RETRY and
 * it; without (close), they are dropped.
 */
static void disconnect(struct nats_sink *s, const char *detail)
{
    pthread_mutex_lock(&s->mu);
    for (unsigned i = 0; i < s->lanes; i++) {
        struct lane *l = &s->lane[i];
        if (!l->busy || l->finished)
            continue;
        if (detail != NULL) {
            struct cpm_sink_result r;
            cpm_sink_result_set(&r, CPM_SINK_RETRY, "%s", detail);
            lane_finish_locked(s, i, &r);
        } else {
            l->busy = false;
            l->msg = NULL;
        }
    }
    natsConnection *nc = s->nc;
    jsCtx *js = s->js;
    s->nc = NULL;
    s->js = NULL;
    s->lost = false;
    s->stream_recheck = false;
    pthread_mutex_unlock(&s->mu);

    /* Destroys the messages still pending; a running on_ack holds its own. */
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    s->stream_found = false;
    subjects_free(s);
}

/* Looks the stream up; false with why (RETRY) when it cannot be used yet. */
static bool stream_check(struct nats_sink *s, char *why, size_t why_size)
{
    jsStreamInfo *si = NULL;
    jsErrCode code = 0;
    s->stream_found = false;
    natsStatus st = js_GetStreamInfo(&si, s->js, s->stream, NULL, &code);
    if (st == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
        text_set(why, why_size, "stream '%s' not found on the NATS server", s->stream);
        jsStreamInfo_Destroy(si);
        return false;
    }
    if (st == NATS_NO_RESPONDERS) {
        text_set(why, why_size, "JetStream is not enabled on the NATS server at %s", s->where);
        return false;
    }
    if (st == NATS_TIMEOUT) {
        text_set(why, why_size,
                 "no answer about stream '%s' from the NATS server at %s within %lld ms", s->stream,
                 s->where, (long long)s->timeout_ms);
        return false;
    }
    if (st != NATS_OK || si == NULL || si->Config == NULL) {
        text_set(why, why_size, "cannot read stream '%s' from the NATS server at %s: %s", s->stream,
                 s->where, natsStatus_GetText(st));
        jsStreamInfo_Destroy(si);
        return false;
    }

    subjects_free(s);
    int n = si->Config->SubjectsLen;
    if (n >= 0 && n <= NATS_STREAM_SUBJECTS) {
        s->subjects = n > 0 ? cpm_calloc((size_t)n, sizeof(char *)) : NULL;
        s->subjects_known = n == 0 || s->subjects != NULL;
        for (int i = 0; i < n && s->subjects != NULL; i++) {
            s->subjects[i] = cpm_strdup(si->Config->Subjects[i]);
            if (s->subjects[i] == NULL) {
                subjects_free(s); /* unknown: the server decides */
                break;
            }
            s->subjects_len = i + 1;
        }
    }
    jsStreamInfo_Destroy(si);
    s->stream_found = true;
    return true;
}

static natsStatus options_fill(const struct nats_sink *s, natsOptions *o, const char *url)
{
    int64_t ping_ms = s->timeout_ms;
    ping_ms = ping_ms < PING_INTERVAL_MS_MIN ? PING_INTERVAL_MS_MIN : ping_ms;
    ping_ms = ping_ms > PING_INTERVAL_MS_MAX ? PING_INTERVAL_MS_MAX : ping_ms;
    natsStatus st = natsOptions_SetURL(o, url);
    if (st == NATS_OK)
        st = natsOptions_SetName(o, "opencpm");
    if (st == NATS_OK)
        st = natsOptions_SetTimeout(o, s->timeout_ms); /* TCP connect and the first PONG */
    if (st == NATS_OK)
        st = natsOptions_SetAllowReconnect(o, false); /* send connects again, by the guard */
    if (st == NATS_OK)
        st = natsOptions_SetRetryOnFailedConnect(o, false, NULL, NULL);
    if (st == NATS_OK)
        st = natsOptions_SetIgnoreDiscoveredServers(o, true); /* only the checked address */
    if (st == NATS_OK)
        st = natsOptions_SetNoRandomize(o, true);
    if (st == NATS_OK)
        st = natsOptions_SetPingInterval(o, ping_ms); /* a silent server is noticed */
    if (st == NATS_OK)
        st = natsOptions_SetMaxPingsOut(o, PINGS_OUT_MAX);
    if (st == NATS_OK)
        st = natsOptions_SetWriteDeadline(o, s->timeout_ms);
    if (st == NATS_OK)
        st = natsOptions_SetFailRequestsOnDisconnect(o, true);
    if (st == NATS_OK)
        st = natsOptions_SetDisconnectedCB(o, on_closed, closure_of(s));
    if (st == NATS_OK)
        st = natsOptions_SetClosedCB(o, on_closed, closure_of(s));
    return st;
}

/* Connects to one address ("nats://1.2.3.4:4222"). */
static natsStatus connect_url(struct nats_sink *s, const char *url, natsConnection **nc)
{
    natsOptions *o = NULL;
    natsStatus st = natsOptions_Create(&o);
    if (st == NATS_OK)
        st = options_fill(s, o, url);
    if (st == NATS_OK)
        st = natsConnection_Connect(nc, o);
    natsOptions_Destroy(o);
    return st;
}

/*
 * Resolves the host, keeps the addresses the guard allows and connects to
 * the first that answers. False with why (RETRY) otherwise.
 */
static bool connect_guarded(struct nats_sink *s, char *why, size_t why_size)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    int rc = getaddrinfo(s->host, s->port, &hints, &list);
    if (rc != 0) {
        text_set(why, why_size, "cannot resolve the NATS server host '%s': %s", s->host,
                 gai_strerror(rc));
        return false;
    }

    const char *refused = NULL;
    int tried = 0;
    natsStatus st = NATS_NO_SERVER;
    natsConnection *nc = NULL;
    for (struct addrinfo *a = list; a != NULL && nc == NULL && tried < NATS_ADDRESSES_TRIED;
         a = a->ai_next) {
        const char *reason = NULL;
        if (!cpm_outbound_guard_allows(&s->guard, a->ai_addr, &reason)) {
            refused = refused != NULL ? refused : reason;
            continue;
        }
        char ip[NI_MAXHOST], url[NI_MAXHOST + 32];
        if (getnameinfo(a->ai_addr, a->ai_addrlen, ip, sizeof(ip), NULL, 0, NI_NUMERICHOST) != 0)
            continue;
        text_set(url, sizeof(url), a->ai_family == AF_INET6 ? "nats://[%s]:%s" : "nats://%s:%s", ip,
                 s->port);
        tried++;
        st = connect_url(s, url, &nc);
        if (st != NATS_OK)
            nc = NULL;
    }
    freeaddrinfo(list);

    if (nc == NULL) {
        if (tried == 0)
            text_set(why, why_size, "the outbound guard refuses the NATS server %s: %s", s->where,
                     refused != NULL ? refused : "no usable address");
        else
            text_set(why, why_size, "cannot connect to the NATS server at %s: %s", s->where,
                     natsStatus_GetText(st));
        return false;
    }

    jsOptions jo;
    jsCtx *js = NULL;
    jsOptions_Init(&jo);
    jo.Wait = s->timeout_ms;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = closure_of(s);
    st = natsConnection_JetStream(&js, nc, &jo);
    if (st != NATS_OK) {
        natsConnection_Destroy(nc);
        text_set(why, why_size, "cannot use JetStream on the NATS server at %s: %s", s->where,
                 natsStatus_GetText(st));
        return false;
    }
    pthread_mutex_lock(&s->mu);
    s->nc = nc;
    s->js = js;
    s->lost = natsConnection_IsClosed(nc); /* closed before on_closed could know it */
    pthread_mutex_unlock(&s->mu);
    cpm_log_info(MODULE, "connected to the NATS server at %s (stream '%s')", s->where, s->stream);
    return true;
}

/*
 * Makes sure there is a connection and the stream is there. False with why
 * (a RETRY detail) when not.
 */
static bool ready(struct nats_sink *s, char *why, size_t why_size)
{
    pthread_mutex_lock(&s->mu);
    bool lost = s->lost, recheck = s->stream_recheck;
    s->stream_recheck = false;
    pthread_mutex_unlock(&s->mu);
    if (s->nc != NULL && (lost || natsConnection_IsClosed(s->nc))) {
        char detail[sizeof(s->connect_error)];
        text_set(detail, sizeof(detail), "lost the connection to the NATS server at %s", s->where);
        cpm_log_warn(MODULE, "%s", detail);
        disconnect(s, detail);
    }
    if (s->nc == NULL) {
        if (s->connect_error[0] != '\0' && now_ms() - s->connect_error_ms < CONNECT_HOLDOFF_MS) {
            cpm_strlcpy(why, s->connect_error, why_size);
            return false;
        }
        if (!connect_guarded(s, s->connect_error, sizeof(s->connect_error))) {
            s->connect_error_ms = now_ms();
            cpm_strlcpy(why, s->connect_error, why_size);
            return false;
        }
        s->connect_error[0] = '\0';
    }
    if (!s->stream_found || recheck)
        return stream_check(s, why, why_size);
    return true;
}

/* ---------------------------------------------------------------------------
 * The ops
 * ------------------------------------------------------------------------- */

/* nats://host:port, host a DNS name, IPv4 or bracketed IPv6 address; false when not. */
static bool endpoint_parse(struct nats_sink *s, const char *endpoint)
{
    static const char scheme[] = "nats://";
    if (endpoint == NULL || strncmp(endpoint, scheme, sizeof(scheme) - 1) != 0)
        return false;
    const char *host = endpoint + sizeof(scheme) - 1, *host_end, *colon;
    bool bracketed = host[0] == '[';
    if (bracketed) {
        host_end = strchr(host, ']');
        if (host_end == NULL || host_end[1] != ':')
            return false;
        colon = host_end + 1;
        host++;
        for (const char *p = host; p < host_end; p++)
            if (!strchr("0123456789abcdefABCDEF:.", *p))
                return false;
    } else {
        colon = strrchr(host, ':');
        if (colon == NULL)
            return false;
        host_end = colon;
        for (const char *p = host; p < host_end; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
                return false; /* also "user:password@": never echoed */
    }
    size_t host_len = (size_t)(host_end - host);
    int64_t port;
    if (host_len == 0 || host_len >= sizeof(s->host) || colon[1] == '0' ||
        !cpm_parse_int64(colon + 1, 1, 65535, &port))
        return false;
    memcpy(s->host, host, host_len);
    s->host[host_len] = '\0';
    snprintf(s->port, sizeof(s->port), "%d", (int)port);
    text_set(s->where, sizeof(s->where), bracketed ? "[%s]:%s" : "%s:%s", s->host, s->port);
    return true;
}

/* A stream name: no spaces, dots, wildcards or path separators. */
static bool stream_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0' || strlen(name) >= NATS_NAME_BYTES_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
        if (*p <= 0x20 || *p >= 0x7F || strchr("*>./\\", *p))
            return false;
    return true;
}

static cpm_err nats_open(const json_t *dest, const struct cpm_sink_env *env, void **out,
                         struct cpm_detail *detail)
{
    CPM_ASSERT(env != NULL && env->lanes > 0 && env->lanes <= NATS_LANES_MAX);
    CPM_ASSERT(env->timeout_ms > 0 && env->timeout_ms <= INT_MAX);
    *out = NULL;

    const char *endpoint = json_string_value(json_object_get(dest, "endpoint"));
    const char *stream = json_string_value(json_object_get(dest, "stream"));
    const json_t *prefix_value = json_object_get(dest, "subject_prefix");
    const char *prefix = prefix_value != NULL ? json_string_value(prefix_value) : "cpm";

    struct nats_sink *s = cpm_calloc(1, sizeof(*s) + env->lanes * sizeof(struct lane));
    if (s == NULL)
        return CPM_ERR_NOMEM;
    bool bad = false;
    if (!endpoint_parse(s, endpoint)) {
        cpm_detail_add(detail, "endpoint", "must be a NATS server URL like nats://127.0.0.1:4222");
        bad = true;
    }
    if (!stream_name_valid(stream)) {
        cpm_detail_add(detail, "stream", "must be a stream name without spaces, dots or wildcards");
        bad = true;
    }
    if (!subject_tokens_valid(prefix) || strlen(prefix) >= NATS_NAME_BYTES_MAX ||
        prefix[0] == '$') {
        cpm_detail_add(detail, "subject_prefix",
                       "must be NATS subject tokens like cpm or acme.consent (not $…)");
        bad = true;
    }
    if (bad) {
        cpm_free(s);
        return CPM_ERR_VALIDATION;
    }

    pthread_once(&library_once, library_open);
    if (library_status != NATS_OK) {
        cpm_log_error(MODULE, "the NATS library did not start: %s",
                      natsStatus_GetText(library_status));
        cpm_free(s);
        return CPM_ERR_INTERNAL;
    }

    cpm_strlcpy(s->stream, stream, sizeof(s->stream));
    cpm_strlcpy(s->prefix, prefix, sizeof(s->prefix));
    if (env->guard != NULL)
        s->guard = *env->guard;
    s->lanes = env->lanes;
    s->timeout_ms = env->timeout_ms;
    s->done_items = cpm_calloc(env->lanes, sizeof(*s->done_items));
    if (s->done_items == NULL) {
        cpm_free(s);
        return CPM_ERR_NOMEM;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    registry_add(s);
    *out = s;
    return CPM_OK;
}

/* Whether a header value is safe as Nats-Msg-Id: printable ASCII, no spaces. */
static bool msg_id_valid(const char *id)
{
    if (id == NULL || id[0] == '\0' || strlen(id) >= NATS_MSG_ID_BYTES_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++)
        if (*p <= 0x20 || *p >= 0x7F)
            return false;
    return true;
}

/* Whether the stream takes subject, by its cached filters; true when unknown. */
static bool stream_takes(const struct nats_sink *s, const char *subject)
{
    if (!s->subjects_known)
        return true;
    for (int i = 0; i < s->subjects_len; i++)
        if (subject_matches(s->subjects[i], subject))
            return true;
    return false;
}

static cpm_err nats_send(void *sink, unsigned lane, const struct cpm_outbound_event *e)
{
    struct nats_sink *s = sink;
    CPM_ASSERT(lane < s->lanes && !s->lane[lane].busy);
    struct cpm_sink_result r;
    char subject[NATS_SUBJECT_BYTES_MAX], why[sizeof(r.detail)];

    int n = snprintf(subject, sizeof(subject), "%s.%s", s->prefix, e->type != NULL ? e->type : "");
    if (n < 0 || (size_t)n >= sizeof(subject) || !subject_tokens_valid(e->type)) {
        cpm_sink_result_set(&r, CPM_SINK_REJECTED, "event type is not a valid NATS subject part");
        goto finish;
    }
    if (!msg_id_valid(e->id)) {
        cpm_sink_result_set(&r, CPM_SINK_REJECTED, "event id is not a valid Nats-Msg-Id");
        goto finish;
    }
    if (!ready(s, why, sizeof(why))) {
        cpm_sink_result_set(&r, CPM_SINK_RETRY, "%s", why);
        goto finish;
    }
    if (!stream_takes(s, subject) && stream_check(s, why, sizeof(why)) &&
        !stream_takes(s, subject)) {
        cpm_sink_result_set(&r, CPM_SINK_REJECTED,
                            "no stream matches subject '%s' (stream '%s' does not take it)",
                            subject, s->stream);
        goto finish;
    }
    if (!s->stream_found) {
        cpm_sink_result_set(&r, CPM_SINK_RETRY, "%s", why);
        goto finish;
    }
    int64_t payload_max = natsConnection_GetMaxPayload(s->nc);
    if (e->body_len > INT_MAX || (payload_max > 0 && e->body_len > (uint64_t)payload_max)) {
        cpm_sink_result_set(
            &r, CPM_SINK_REJECTED,
            "maximum payload exceeded: %zu bytes, the NATS server at %s allows %lld", e->body_len,
            s->where, (long long)payload_max);
        goto finish;
    }

    natsMsg *msg = NULL;
    natsStatus st = natsMsg_Create(&msg, subject, NULL, e->body, (int)e->body_len);
    if (st == NATS_OK)
        st = natsMsgHeader_Set(msg, "Content-Type", "application/cloudevents+json");
    if (st != NATS_OK) {
        natsMsg_Destroy(msg);
        return CPM_ERR_NOMEM;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = e->id; /* the Nats-Msg-Id header: JetStream's duplicate window */
    po.ExpectStream = s->stream;
    po.MaxWait = s->timeout_ms; /* nats.c answers on_ack with a timeout */

    /* In flight before publishing: the ack may come before js_PublishMsgAsync returns. */
    pthread_mutex_lock(&s->mu);
    struct lane *l = &s->lane[lane];
    l->busy = true;
    l->finished = false;
    l->msg = msg;
    l->deadline_ms = now_ms() + s->timeout_ms + ACK_GRACE_MS;
    pthread_mutex_unlock(&s->mu);

    st = js_PublishMsgAsync(s->js, &msg, &po);
    if (st != NATS_OK && msg != NULL) {
        /* Not taken: no ack will come for it. */
        bool stream_gone;
        classify_error(s, st, 0, NULL, subject, &r, &stream_gone);
        pthread_mutex_lock(&s->mu);
        if (st == NATS_CONNECTION_CLOSED || st == NATS_STALE_CONNECTION)
            s->lost = true;
        lane_finish_locked(s, lane, &r);
        pthread_mutex_unlock(&s->mu);
        natsMsg_Destroy(msg);
    }
    return CPM_OK;

finish:
    lane_finish_now(s, lane, &r);
    return CPM_OK;
}

static void nats_poll(void *sink, int timeout_ms, cpm_sink_done_fn done, void *ctx)
{
    struct nats_sink *s = sink;
    int64_t until = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->lost) {
            pthread_mutex_unlock(&s->mu);
            char detail[sizeof(s->connect_error)];
            text_set(detail, sizeof(detail), "lost the connection to the NATS server at %s",
                     s->where);
            cpm_log_warn(MODULE, "%s", detail);
            disconnect(s, detail);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        int64_t now = now_ms(), wake_at = until;
        for (unsigned i = 0; i < s->lanes; i++) {
            struct lane *l = &s->lane[i];
            if (!l->busy || l->finished)
                continue;
            if (l->deadline_ms <= now) {
                struct cpm_sink_result r;
                cpm_sink_result_set(&r, CPM_SINK_RETRY,
                                    "no PubAck from the NATS server at %s within %lld ms", s->where,
                                    (long long)s->timeout_ms);
                lane_finish_locked(s, i, &r);
            } else if (l->deadline_ms < wake_at) {
                wake_at = l->deadline_ms;
            }
        }
        if (s->finished_count > 0 || s->woken || now >= until)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait_ms = wake_at - now;
        ts.tv_sec += (time_t)(wait_ms / 1000);
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cond, &s->mu, &ts);
    }
    unsigned n = 0;
    for (unsigned i = 0; i < s->lanes && s->finished_count > 0; i++) {
        struct lane *l = &s->lane[i];
        if (!l->finished)
            continue;
        s->done_items[n].lane = i;
        s->done_items[n].result = l->result;
        n++;
        l->busy = false;
        l->finished = false;
        l->msg = NULL;
        s->finished_count--;
    }
    s->woken = false;
    pthread_mutex_unlock(&s->mu);

    /* On the caller's thread, without the lock: done may send again. */
    for (unsigned i = 0; i < n; i++)
        done(ctx, s->done_items[i].lane, &s->done_items[i].result);
}

static void nats_wake(void *sink)
{
    struct nats_sink *s = sink;
    pthread_mutex_lock(&s->mu);
    s->woken = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

static void nats_close(void *sink)
{
    struct nats_sink *s = sink;
    if (s == NULL)
        return;
    registry_remove(s); /* from here no nats.c callback reaches s */
    disconnect(s, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    cpm_free(s->done_items);
    cpm_free(s);
}

const struct cpm_sink_ops cpm_sink_nats_ops = {
    .kind = "nats",
    .open = nats_open,
    .send = nats_send,
    .poll = nats_poll,
    .wake = nats_wake,
    .close = nats_close,
};
