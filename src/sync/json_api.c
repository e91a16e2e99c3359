/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_api.c — what the JSON-over-HTTP connectors share (see the header).
 */
#include "core/common.h"

#include <jansson.h>

#include "core/alloc.h"
#include "sync/json_api.h"

#define MESSAGE_BYTES_LOGGED CPM_SYNC_MESSAGE_BYTES_LOGGED
#define DIGIT_RUN_MASKED     7 /* digits in a row that could be a phone number */

/* Bytes of the UTF-8 sequence at p (valid and complete), or 0. */
static size_t utf8_sequence(const unsigned char *p)
{
    size_t n = *p < 0x80             ? 1
               : (*p & 0xE0) == 0xC0 ? 2
               : (*p & 0xF0) == 0xE0 ? 3
               : (*p & 0xF8) == 0xF0 ? 4
                                     : 0;
    if (n == 0 || (n == 2 && *p < 0xC2) || (n == 4 && *p > 0xF4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

void cpm_sync_text_clean(const char *text, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t o = 0, max = cap - 1;
    CPM_ASSERT(cap > 0);
    while (*p != '\0') {
        size_t digits = 0, n;
        while (p[digits] >= '0' && p[digits] <= '9')
            digits++;
        if (digits >= DIGIT_RUN_MASKED) {
            if (o + 3 > max)
                break;
            memcpy(out + o, "***", 3);
            o += 3;
            p += digits;
            continue;
        }
        if (*p < 0x20 || *p == 0x7F) {
            p++;
            continue;
        }
        n = utf8_sequence(p);
        if (o + (n ? n : 1) > max)
            break;
        if (n == 0)
            out[o++] = '?';
        else
            memcpy(out + o, p, n);
        o += n;
        p += n ? n : 1;
    }
    out[o] = '\0';
}

void cpm_sync_answer_message(const char *body, size_t len, char *out, size_t cap)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    const char *text = json_string_value(json_object_get(doc, "message"));
    cpm_sync_text_clean(text ? text : body, out,
                        cap < MESSAGE_BYTES_LOGGED + 1 ? cap : MESSAGE_BYTES_LOGGED + 1);
    json_decref(doc);
}

void cpm_sync_judge_json_answer(const struct cpm_http_answer *a, const char *who,
                                const char *done_detail, struct cpm_sink_result *r)
{
    char message[MESSAGE_BYTES_LOGGED + 1];
    r->status = a->transferred ? (int)a->status : 0;
    r->retry_after_ms = a->retry_after_ms;
    if (!a->transferred) {
        r->outcome = CPM_SINK_RETRY;
        snprintf(r->detail, sizeof(r->detail), "%s", a->error ? a->error : "no answer");
        return;
    }
    if (a->status >= 200 && a->status < 300) {
        r->outcome = CPM_SINK_DELIVERED;
        snprintf(r->detail, sizeof(r->detail), "%s", done_detail);
        return;
    }
    if (a->status == 401 || a->status == 403) { /* its body might quote the token: not logged */
        r->outcome = CPM_SINK_RETRY;
        snprintf(r->detail, sizeof(r->detail), "HTTP %ld: the %s refused the credential", a->status,
                 who);
        return;
    }
    cpm_sync_answer_message(a->body ? a->body : "", a->body ? a->body_len : 0, message,
                            sizeof(message));
    r->outcome = a->status == 400 || a->status == 422 ? CPM_SINK_REJECTED
                 : a->status == 410                   ? CPM_SINK_GONE
                                                      : CPM_SINK_RETRY;
    if (a->status == 429 && message[0] == '\0')
        snprintf(message, sizeof(message), "rate limited");
    snprintf(r->detail, sizeof(r->detail), "HTTP %ld%s%s", a->status, message[0] ? ": " : "",
             message);
}

char *cpm_sync_url_join(const char *endpoint, const char *path)
{
    size_t len = strlen(endpoint), path_len = strlen(path);
    while (len > 0 && endpoint[len - 1] == '/')
        len--;
    char *url = cpm_malloc(len + path_len + 1);
    if (url != NULL) {
        memcpy(url, endpoint, len);
        memcpy(url + len, path, path_len + 1);
    }
    return url;
}

bool cpm_sync_bearer_valid(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7F)
            return false;
    return n > 0 && n <= CPM_SYNC_BEARER_BYTES_MAX;
}
