/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wecom_tags.c — the wecom_tags destination kind: a consent change matched
 * by a rule with action tag_add / tag_remove marks (or unmarks) the rule's
 * WeCom corporate customer tag on the subject's external contact, as a
 * contact of the destination's owner_userid.
 *
 * Vendor documents followed (企业微信 developer documentation):
 *   - 获取access_token, developer.work.weixin.qq.com/document/path/91039:
 *     GET {endpoint}/cgi-bin/gettoken?corpid=ID&corpsecret=SECRET →
 *     {"errcode":0,"errmsg":"ok","access_token":"…","expires_in":7200};
 *     the token must be cached (gettoken is rate limited), is at most 512
 *     bytes, and may be invalidated early: fetch it again when it is.
 *   - 编辑客户企业标签, developer.work.weixin.qq.com/document/path/92118
 *     (92697 for third-party apps): POST {endpoint}/cgi-bin/externalcontact/
 *     mark_tag?access_token=TOKEN with {"userid","external_userid",
 *     "add_tag":[…],"remove_tag":[…]}, add_tag and remove_tag not both
 *     empty → {"errcode":0,"errmsg":"ok"}.
 *   - 全局错误码, developer.work.weixin.qq.com/document/path/90313: errors
 *     come as HTTP 200 with a non-zero errcode; -1 busy (retry), 40014 /
 *     42001 invalid / expired access_token (fetch a new one), 45009 / 45033
 *     frequency / concurrency limits, 40001 / 40091 bad secret, 40013 bad
 *     corpid, 84061 no external-contact relation, 40096 invalid external
 *     userid, 40068 invalid tag id, 40098 member not yet verified.
 *
 * Each lane runs a small state machine: a send whose lane finds no valid
 * cached token waits for the one fetch in flight (any lane's), or fetches
 * it on its own lane; then marks. Nothing blocks: every request goes
 * through http_lanes, and results found without a request (no identifier,
 * a bad rule) are reported from the next poll.
 *
 * An event without a rule action (POST /v1/destinations/{id}/test) only
 * fetches an access_token: it proves corp_id and secret, changing no tag.
 */
#include "core/common.h"

#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "crypto/keyring.h"
#include "sync/http_lanes.h"
#include "sync/sink.h"

#define TOKEN_BYTES_MAX     512  /* per the gettoken document */
#define ENDPOINT_BYTES_MAX  1024 /* the API base */
#define URL_BYTES_MAX       4096 /* base, path and escaped query */
#define TAG_BYTES_MAX       128  /* as destination.c allows */
#define ERRMSG_BYTES_LOGGED 48   /* of WeCom's errmsg: the delivery log keeps 150 bytes of detail */
#define TOKEN_MARGIN_MS_MAX (5 * 60 * 1000) /* a token is renewed this long before expiry */
#define TOKEN_LIFE_S_MAX    86400
#define IDENTIFIER_TYPE     "wecom_external_userid"

enum lane_state {
    LANE_IDLE,
    LANE_WAITING,  /* for the access_token another lane is fetching */
    LANE_FETCHING, /* its request is gettoken */
    LANE_MARKING,  /* its request is mark_tag */
    LANE_FINISHED, /* result is ready for the next poll */
};

struct lane {
    enum lane_state state;
    bool check_only; /* a test event: the access_token alone */
    bool add;        /* add_tag, else remove_tag */
    char tag[TAG_BYTES_MAX + 1];
    char *body; /* the mark_tag request, JSON; owned */
    size_t body_len;
    uint64_t token_generation; /* of the token its mark_tag carried */
    struct cpm_sink_result result;
};

struct wecom {
    struct cpm_http_lanes *http;
    struct lane *lanes;
    unsigned lane_count;
    cpm_sink_identifier_fn identifier;
    void *identifier_ctx;
    char *base; /* the endpoint without a trailing slash */
    char *corp_id;
    char *owner_userid;
    char *secret;
    char token[TOKEN_BYTES_MAX + 1]; /* "" when none is cached */
    int64_t token_until_ms;          /* monotonic: not used from then on */
    uint64_t token_generation;       /* counts tokens fetched, so that a stale one is not dropped */
    bool fetching;                   /* a gettoken is in flight on some lane */
};

/* ---- what WeCom's errcodes mean here ------------------------------------- */

enum verdict {
    V_RETRY,    /* transient: the dispatcher's backoff */
    V_TOKEN,    /* the access_token is bad: drop it, retry (the next attempt fetches one) */
    V_THROTTLE, /* a frequency or concurrency limit: retry after the backoff or Retry-After */
    V_CONFIG,   /* the destination's credentials or owner are wrong: retry until fixed or dead */
    V_REJECT,   /* never accepted for this subject or rule: the dead letters */
};

static const struct {
    long code;
    enum verdict verdict;
    const char *meaning;
} errcodes[] = {
    {-1, V_RETRY, "system busy"},
    {6000, V_RETRY, "data version conflict"},
    {40014, V_TOKEN, "invalid access_token"},
    {41001, V_TOKEN, "access_token missing"},
    {42001, V_TOKEN, "access_token expired"},
    {45009, V_THROTTLE, "API frequency limit"},
    {45033, V_THROTTLE, "API concurrency limit"},
    {40001, V_CONFIG, "invalid secret: check the destination's secret"},
    {40091, V_CONFIG, "invalid secret: check the destination's secret"},
    {40013, V_CONFIG, "invalid corpid: check the destination's corp_id"},
    {40003, V_CONFIG, "invalid userid: check owner_userid"},
    {60111, V_CONFIG, "userid not found: check owner_userid"},
    {40098, V_CONFIG, "owner_userid is not verified"},
    {48002, V_CONFIG, "no API permission: the app needs customer contact access"},
    {60011, V_CONFIG, "no privilege: owner_userid is outside the app's visibility"},
    {60020, V_CONFIG, "this server's IP is not on the app's allowlist"},
    {84061, V_REJECT, "not an external contact of owner_userid"},
    {40096, V_REJECT, "invalid external_userid"},
    {41035, V_REJECT, "external_userid missing"},
    {41056, V_REJECT, "wrong external contact id type"},
    {40068, V_REJECT, "invalid tag id"},
};

static enum verdict verdict_of(long code, const char **meaning)
{
    for (size_t i = 0; i < CPM_ARRAY_LEN(errcodes); i++)
        if (errcodes[i].code == code) {
            *meaning = errcodes[i].meaning;
            return errcodes[i].verdict;
        }
    *meaning = "unknown errcode";
    return V_RETRY; /* only WeCom knows; a consent change is not dropped on a guess */
}

/* WeCom's errcode and errmsg (up to its "hint", printable); false when the answer is not that. */
static bool answer_parse(const struct cpm_http_answer *a, json_t **doc, long *errcode,
                         char errmsg[ERRMSG_BYTES_LOGGED + 1])
{
    *doc = json_loadb(a->body, a->body_len, 0, NULL);
    const json_t *code = json_object_get(*doc, "errcode");
    const char *msg = json_string_value(json_object_get(*doc, "errmsg"));
    if (!json_is_integer(code))
        return false;
    *errcode = (long)json_integer_value(code);
    snprintf(errmsg, ERRMSG_BYTES_LOGGED + 1, "%s", msg ? msg : "");
    char *hint = strstr(errmsg, ", hint:");
    if (hint == NULL)
        hint = strstr(errmsg, " hint:");
    if (hint != NULL)
        *hint = '\0';
    for (unsigned char *p = (unsigned char *)errmsg; *p; p++)
        *p = *p < 0x20 || *p == 0x7f ? ' ' : *p;
    return true;
}

/* ---- URLs ---------------------------------------------------------------- */

struct url {
    char text[URL_BYTES_MAX];
    size_t len;
    bool ok;
};

/* Appends s, percent-encoded but for RFC 3986's unreserved characters when escape. */
static void url_add(struct url *u, const char *s, bool escape)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p && u->ok; p++) {
        bool plain = !escape || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL;
        if (u->len + (plain ? 1 : 3) >= sizeof(u->text)) {
            u->ok = false;
            break;
        }
        if (plain) {
            u->text[u->len++] = (char)*p;
        } else {
            u->text[u->len++] = '%';
            u->text[u->len++] = hex[*p >> 4];
            u->text[u->len++] = hex[*p & 15];
        }
    }
    u->text[u->ok ? u->len : 0] = '\0';
}

/* ---- lanes --------------------------------------------------------------- */

static void lane_reset(struct lane *l)
{
    if (l->body != NULL) {
        sodium_memzero(l->body, l->body_len); /* it names the contact */
        cpm_free(l->body);
    }
    memset(l, 0, sizeof(*l));
}

static void lane_finish(struct lane *l, enum cpm_sink_outcome outcome, int status,
                        int64_t retry_after_ms, const char *fmt, ...) CPM_PRINTF(5, 6);

static void lane_finish(struct lane *l, enum cpm_sink_outcome outcome, int status,
                        int64_t retry_after_ms, const char *fmt, ...)
{
    va_list ap;
    l->state = LANE_FINISHED;
    va_start(ap, fmt);
    cpm_sink_result_vset(&l->result, outcome, fmt, ap);
    va_end(ap);
    l->result.status = status;
    l->result.retry_after_ms = retry_after_ms;
}

static bool token_valid(const struct wecom *w)
{
    return w->token[0] != '\0' && cpm_clock_monotonic_ns() / 1000000 < w->token_until_ms;
}

static cpm_err start_fetch(struct wecom *w, unsigned lane)
{
    struct url u = {.ok = true};
    url_add(&u, w->base, false);
    url_add(&u, "/cgi-bin/gettoken?corpid=", false);
    url_add(&u, w->corp_id, true);
    url_add(&u, "&corpsecret=", false);
    url_add(&u, w->secret, true);
    cpm_err err =
        u.ok ? cpm_http_lanes_start(w->http, lane, "GET", u.text, NULL, NULL, 0) : CPM_ERR_INTERNAL;
    sodium_memzero(&u, sizeof(u)); /* it holds the secret; libcurl keeps its own copy */
    if (err == CPM_OK) {
        w->lanes[lane].state = LANE_FETCHING;
        w->fetching = true;
    }
    return err;
}

static cpm_err start_mark(struct wecom *w, unsigned lane)
{
    struct lane *l = &w->lanes[lane];
    struct url u = {.ok = true};
    struct curl_slist *h = NULL;
    url_add(&u, w->base, false);
    url_add(&u, "/cgi-bin/externalcontact/mark_tag?access_token=", false);
    url_add(&u, w->token, true);
    bool ok = u.ok && cpm_http_header(&h, "Content-Type", "application/json") &&
              cpm_http_header(&h, "Expect", ""); /* no 100-continue round trip */
    cpm_err err = ok ? cpm_http_lanes_start(w->http, lane, "POST", u.text, h, l->body, l->body_len)
                     : (u.ok ? CPM_ERR_NOMEM : CPM_ERR_INTERNAL);
    if (!ok)
        curl_slist_free_all(h);
    sodium_memzero(&u, sizeof(u));
    if (err == CPM_OK) {
        l->state = LANE_MARKING;
        l->token_generation = w->token_generation;
    }
    return err;
}

/* With a valid token: mark (or, for a test event, done); else wait for or start a fetch. */
static cpm_err proceed(struct wecom *w, unsigned lane)
{
    struct lane *l = &w->lanes[lane];
    if (token_valid(w)) {
        if (!l->check_only)
            return start_mark(w, lane);
        lane_finish(l, CPM_SINK_DELIVERED, 200, 0,
                    "access_token obtained: corp_id and secret are accepted");
        return CPM_OK;
    }
    if (w->fetching) {
        l->state = LANE_WAITING;
        return CPM_OK;
    }
    return start_fetch(w, lane);
}

/* ---- sending -------------------------------------------------------------- */

/* What the event asks for: a request body, or a result at once. */
static cpm_err prepare(struct wecom *w, struct lane *l, const struct cpm_outbound_event *e)
{
    if (e->action == NULL) { /* a test event: no rule, no subject */
        l->check_only = true;
        return CPM_OK;
    }
    const char *tag = json_string_value(json_object_get(e->rule, "tag"));
    l->add = strcmp(e->action, "tag_add") == 0;
    if (!l->add && strcmp(e->action, "tag_remove") != 0) {
        lane_finish(l, CPM_SINK_REJECTED, 0, 0, "action '%.40s' is not one wecom_tags takes",
                    e->action);
        return CPM_OK;
    }
    if (tag == NULL || tag[0] == '\0' || strlen(tag) > TAG_BYTES_MAX) {
        lane_finish(l, CPM_SINK_REJECTED, 0, 0, "the rule names no usable WeCom tag id");
        return CPM_OK;
    }
    cpm_strlcpy(l->tag, tag, sizeof(l->tag));
    char external[CPM_IDENTIFIER_BYTES_MAX + 1];
    cpm_err err = e->subject_id[0] == '\0' || w->identifier == NULL
                      ? CPM_ERR_NOT_FOUND
                      : w->identifier(w->identifier_ctx, e->subject_id, IDENTIFIER_TYPE, external,
                                      sizeof(external));
    if (err == CPM_ERR_NOT_FOUND) {
        lane_finish(l, CPM_SINK_DELIVERED, 0, 0,
                    "no " IDENTIFIER_TYPE " for this subject: nothing to do");
        return CPM_OK;
    }
    if (err != CPM_OK) {
        lane_finish(l, CPM_SINK_RETRY, 0, 0, "reading the subject's " IDENTIFIER_TYPE " failed: %s",
                    cpm_err_message(err));
        return CPM_OK;
    }
    json_t *body = json_pack("{s:s, s:s, s:[s]}", "userid", w->owner_userid, "external_userid",
                             external, l->add ? "add_tag" : "remove_tag", l->tag);
    sodium_memzero(external, sizeof(external));
    l->body = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (l->body == NULL)
        return CPM_ERR_NOMEM;
    l->body_len = strlen(l->body);
    return CPM_OK;
}

static cpm_err wecom_send(void *sink, unsigned lane, const struct cpm_outbound_event *e)
{
    struct wecom *w = sink;
    CPM_ASSERT(lane < w->lane_count && w->lanes[lane].state == LANE_IDLE);
    struct lane *l = &w->lanes[lane];
    cpm_err err = prepare(w, l, e);
    if (err == CPM_OK && l->state != LANE_FINISHED)
        err = proceed(w, lane);
    if (err != CPM_OK)
        lane_reset(l); /* not started: the dispatcher tries again */
    return err;
}

/* ---- answers -------------------------------------------------------------- */

/* A gettoken answer: the token cached, or why not (copied to every lane waiting for it). */
static bool judge_token(struct wecom *w, const struct cpm_http_answer *a, struct cpm_sink_result *r)
{
    json_t *doc = NULL;
    long code = 0;
    char errmsg[ERRMSG_BYTES_LOGGED + 1];
    const char *meaning;
    bool ok = false;
    *r = (struct cpm_sink_result){.outcome = CPM_SINK_RETRY,
                                  .status = a->transferred ? (int)a->status : 0,
                                  .retry_after_ms = a->retry_after_ms};
    if (!a->transferred) {
        snprintf(r->detail, sizeof(r->detail), "gettoken: %s", a->error);
    } else if (a->status != 200) {
        snprintf(r->detail, sizeof(r->detail), "gettoken: HTTP %ld", a->status);
    } else if (!answer_parse(a, &doc, &code, errmsg)) {
        snprintf(r->detail, sizeof(r->detail), "gettoken: the answer has no errcode");
    } else if (code != 0) {
        enum verdict v = verdict_of(code, &meaning);
        if (strstr(errmsg, w->secret) != NULL)
            errmsg[0] = '\0'; /* never echo a credential into the log */
        r->retry_after_ms = v == V_THROTTLE ? a->retry_after_ms : 0;
        snprintf(r->detail, sizeof(r->detail), "gettoken errcode %ld (%s)%s%s", code, meaning,
                 errmsg[0] ? ": " : "", errmsg);
    } else {
        const char *token = json_string_value(json_object_get(doc, "access_token"));
        const json_t *expires = json_object_get(doc, "expires_in");
        size_t len = token ? strlen(token) : 0;
        bool printable = len > 0 && len <= TOKEN_BYTES_MAX;
        for (size_t i = 0; printable && i < len; i++)
            printable = token[i] > ' ' && token[i] < 0x7f;
        if (!printable) {
            snprintf(r->detail, sizeof(r->detail), "gettoken: the answer has no usable token");
        } else {
            /* without a usable expires_in, the token serves the marks waiting now only */
            json_int_t life_s = json_is_integer(expires) ? json_integer_value(expires) : 0;
            int64_t life_ms = (int64_t)(life_s < 0                  ? 0
                                        : life_s > TOKEN_LIFE_S_MAX ? TOKEN_LIFE_S_MAX
                                                                    : life_s) *
                              1000;
            int64_t margin_ms =
                life_ms / 10 < TOKEN_MARGIN_MS_MAX ? life_ms / 10 : TOKEN_MARGIN_MS_MAX;
            sodium_memzero(w->token, sizeof(w->token));
            memcpy(w->token, token, len);
            w->token_until_ms = cpm_clock_monotonic_ns() / 1000000 + life_ms - margin_ms;
            w->token_generation++;
            ok = true;
        }
    }
    json_decref(doc);
    return ok;
}

static void on_token(struct wecom *w, unsigned lane, const struct cpm_http_answer *a)
{
    struct cpm_sink_result r;
    w->fetching = false;
    w->lanes[lane].state = LANE_WAITING;
    bool ok = judge_token(w, a, &r);
    for (unsigned i = 0; i < w->lane_count; i++) {
        struct lane *l = &w->lanes[i];
        if (l->state != LANE_WAITING)
            continue;
        if (!ok) {
            l->state = LANE_FINISHED;
            l->result = r;
        } else if (l->check_only) {
            lane_finish(l, CPM_SINK_DELIVERED, 200, 0,
                        "access_token obtained: corp_id and secret are accepted");
        } else {
            cpm_err err = start_mark(w, i);
            if (err != CPM_OK)
                lane_finish(l, CPM_SINK_RETRY, 0, 0, "mark_tag not started: %s",
                            cpm_err_message(err));
        }
    }
}

static void on_mark(struct wecom *w, unsigned lane, const struct cpm_http_answer *a)
{
    struct lane *l = &w->lanes[lane];
    json_t *doc = NULL;
    long code = 0;
    char errmsg[ERRMSG_BYTES_LOGGED + 1];
    const char *meaning, *field = l->add ? "add_tag" : "remove_tag";
    int status = a->transferred ? (int)a->status : 0;
    if (!a->transferred) {
        lane_finish(l, CPM_SINK_RETRY, 0, 0, "mark_tag: %s", a->error);
    } else if (a->status != 200) {
        lane_finish(l, CPM_SINK_RETRY, status, a->retry_after_ms, "mark_tag: HTTP %ld", a->status);
    } else if (!answer_parse(a, &doc, &code, errmsg)) {
        lane_finish(l, CPM_SINK_RETRY, status, 0, "mark_tag: the answer has no errcode");
    } else if (code == 0) {
        lane_finish(l, CPM_SINK_DELIVERED, status, 0, "%s [%.64s]: ok", field, l->tag);
    } else {
        enum verdict v = verdict_of(code, &meaning);
        if (v == V_TOKEN && l->token_generation == w->token_generation) {
            sodium_memzero(w->token, sizeof(w->token)); /* the next attempt fetches another */
            w->token_until_ms = 0;
        }
        lane_finish(l, v == V_REJECT ? CPM_SINK_REJECTED : CPM_SINK_RETRY, status,
                    v == V_THROTTLE ? a->retry_after_ms : 0,
                    "mark_tag %s [%.32s]: errcode %ld (%s)%s%s", field, l->tag, code, meaning,
                    errmsg[0] ? ": " : "", errmsg);
    }
    json_decref(doc);
}

static void on_answer(void *ctx, unsigned lane, const struct cpm_http_answer *a)
{
    struct wecom *w = ctx;
    CPM_ASSERT(lane < w->lane_count);
    if (w->lanes[lane].state == LANE_FETCHING)
        on_token(w, lane, a);
    else if (w->lanes[lane].state == LANE_MARKING)
        on_mark(w, lane, a);
}

static void wecom_poll(void *sink, int timeout_ms, cpm_sink_done_fn done, void *ctx)
{
    struct wecom *w = sink;
    bool ready = false;
    for (unsigned i = 0; i < w->lane_count && !ready; i++)
        ready = w->lanes[i].state == LANE_FINISHED;
    cpm_http_lanes_poll(w->http, ready ? 0 : timeout_ms, on_answer, w);
    for (unsigned i = 0; i < w->lane_count; i++) {
        struct lane *l = &w->lanes[i];
        if (l->state != LANE_FINISHED)
            continue;
        struct cpm_sink_result r = l->result;
        lane_reset(l);
        done(ctx, i, &r);
    }
}

static void wecom_wake(void *sink)
{
    struct wecom *w = sink;
    cpm_http_lanes_wake(w->http);
}

/* ---- lifecycle ------------------------------------------------------------ */

static void wecom_close(void *sink)
{
    struct wecom *w = sink;
    if (w == NULL)
        return;
    cpm_http_lanes_free(w->http);
    for (unsigned i = 0; w->lanes != NULL && i < w->lane_count; i++)
        lane_reset(&w->lanes[i]);
    if (w->secret != NULL)
        sodium_memzero(w->secret, strlen(w->secret));
    sodium_memzero(w->token, sizeof(w->token));
    cpm_free(w->lanes);
    cpm_free(w->base);
    cpm_free(w->corp_id);
    cpm_free(w->owner_userid);
    cpm_free(w->secret);
    cpm_free(w);
}

static const char *str(const json_t *dest, const char *key)
{
    return json_string_value(json_object_get(dest, key));
}

static cpm_err wecom_open(const json_t *dest, const struct cpm_sink_env *env, void **out,
                          struct cpm_detail *detail)
{
    const char *endpoint = str(dest, "endpoint");
    static const char *const required[] = {"endpoint", "corp_id", "owner_userid", "secret"};
    struct wecom *w = cpm_calloc(1, sizeof(*w));
    cpm_err err = w ? CPM_OK : CPM_ERR_NOMEM;
    for (size_t i = 0; err == CPM_OK && i < CPM_ARRAY_LEN(required); i++)
        if (str(dest, required[i]) == NULL) {
            cpm_detail_add(detail, required[i], "is required for a wecom_tags destination");
            err = CPM_ERR_VALIDATION;
        }
    if (err == CPM_OK && (strlen(endpoint) > ENDPOINT_BYTES_MAX || strpbrk(endpoint, "?#"))) {
        cpm_detail_add(detail, "endpoint",
                       "must be the API base like https://qyapi.weixin.qq.com, without a query");
        err = CPM_ERR_VALIDATION;
    }
    if (err == CPM_OK) {
        w->identifier = env->identifier;
        w->identifier_ctx = env->identifier_ctx;
        w->lane_count = env->lanes;
        w->base = cpm_strdup(endpoint);
        w->corp_id = cpm_strdup(str(dest, "corp_id"));
        w->owner_userid = cpm_strdup(str(dest, "owner_userid"));
        w->secret = cpm_strdup(str(dest, "secret"));
        w->lanes = cpm_calloc(env->lanes, sizeof(struct lane));
        err = w->base && w->corp_id && w->owner_userid && w->secret && w->lanes ? CPM_OK
                                                                                : CPM_ERR_NOMEM;
    }
    if (err == CPM_OK) {
        size_t len = strlen(w->base);
        while (len > 0 && w->base[len - 1] == '/')
            w->base[--len] = '\0';
        err = cpm_http_lanes_new(env->guard, env->lanes, env->timeout_ms, &w->http);
    }
    if (err != CPM_OK) {
        wecom_close(w);
        return err;
    }
    *out = w;
    return CPM_OK;
}

const struct cpm_sink_ops cpm_sink_wecom_tags_ops = {
    .kind = "wecom_tags",
    .open = wecom_open,
    .send = wecom_send,
    .poll = wecom_poll,
    .wake = wecom_wake,
    .close = wecom_close,
};
