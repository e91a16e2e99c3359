/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evidence_summary.c — an evidence pack's summary.html (evidence_summary.h).
 * Chinese first, English beside it; times in China Standard Time (UTC+08:00,
 * no daylight saving), the pack's files keep UTC. Every string that comes
 * from the facts goes through esc(); only the fixed labels are written raw.
 */
#include "core/common.h"

#include "core/clock.h"
#include "store/evidence_summary.h"

#define CST_OFFSET_MS (8 * 3600 * 1000LL)
#define CELL_BYTES    256

struct page {
    cpm_summary_put_fn put;
    void *ctx;
    cpm_err err;
};

struct words {
    const char *key, *zh, *en;
};

static const struct words statuses[] = {
    {"given", "已同意", "given"},
    {"refused", "已拒绝", "refused"},
    {"withdrawn", "已撤回", "withdrawn"},
    {"expired", "已过期", "expired"},
    {"reconsent_required", "需重新同意", "consent needed again"},
    {"objected", "已反对", "objected"},
    {"objection_withdrawn", "已撤回反对", "objection withdrawn"},
    {"erased", "已删除", "erased"},
};

static const struct words event_types[] = {
    {"consent.given", "同意", "consent given"},
    {"consent.refused", "拒绝", "consent refused"},
    {"consent.withdrawn", "撤回同意", "consent withdrawn"},
    {"consent.expired", "同意过期", "consent expired"},
    {"consent.expiring", "到期提醒", "renewal reminder"},
    {"consent.reconsent_required", "需重新同意", "consent needed again"},
    {"consent.objected", "反对处理", "objection"},
    {"consent.objection_withdrawn", "撤回反对", "objection withdrawn"},
    {"preferences.changed", "偏好变更", "preferences changed"},
    {"notice.displayed", "展示告知", "notice shown"},
    {"notice.published", "发布告知版本", "notice version published"},
    {"subject.erased", "删除个人信息", "personal data erased"},
    {"identity.merged", "设备合并", "device merged"},
    {"rights.requested", "权利请求", "rights request filed"},
    {"rights.updated", "权利请求处理", "rights request handled"},
    {"config.created", "配置创建", "configuration created"},
    {"config.updated", "配置变更", "configuration changed"},
};

static const struct words outcomes[] = {
    {"delivered", "已确认", "acknowledged"},
    {"failed", "失败（重试）", "failed (retried)"},
    {"dead", "放弃（死信）", "given up (dead letter)"},
    {"blocked", "未发送（无单独同意）", "not sent (no separate consent)"},
};

static const struct words *find_words(const struct words *list, size_t n, const char *key)
{
    for (size_t i = 0; key != NULL && i < n; i++)
        if (strcmp(list[i].key, key) == 0)
            return &list[i];
    return NULL;
}

/* ---- output ---- */

static void put(struct page *pg, const char *s, size_t len)
{
    if (pg->err == CPM_OK && len > 0)
        pg->err = pg->put(pg->ctx, s, len);
}

/* A fixed piece of markup. */
static void raw(struct page *pg, const char *s)
{
    put(pg, s, strlen(s));
}

/* Text from the facts, escaped for element content and quoted attributes. */
static void esc(struct page *pg, const char *s)
{
    const char *run = s;
    for (const char *p = s; s != NULL && *p != '\0'; p++) {
        const char *entity = *p == '&'    ? "&amp;"
                             : *p == '<'  ? "&lt;"
                             : *p == '>'  ? "&gt;"
                             : *p == '"'  ? "&quot;"
                             : *p == '\'' ? "&#39;"
                                          : NULL;
        if (entity == NULL)
            continue;
        put(pg, run, (size_t)(p - run));
        raw(pg, entity);
        run = p + 1;
    }
    if (s != NULL)
        raw(pg, run);
}

static void number(struct page *pg, json_int_t n)
{
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)n);
    raw(pg, text);
}

/* ms as China Standard Time: "2026-11-29 15:13:21.135 +08:00"; "—" for 0. */
static void cst_time(struct page *pg, json_int_t ms)
{
    char text[CPM_TIME_TEXT_BYTES];
    if (ms <= 0) {
        raw(pg, "—");
        return;
    }
    cpm_time_format((int64_t)ms + CST_OFFSET_MS, text, sizeof(text));
    text[10] = ' ';
    text[strcspn(text, "Z")] = '\0';
    raw(pg, text);
    raw(pg, " +08:00");
}

static json_int_t member_int(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static const char *member_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A label in both languages: Chinese, then English in its own span. */
static void both(struct page *pg, const char *zh, const char *en)
{
    raw(pg, zh);
    raw(pg, " <span class=\"en\" lang=\"en\">");
    raw(pg, en);
    raw(pg, "</span>");
}

static void cell_open(struct page *pg)
{
    raw(pg, "<td>");
}

static void cell_close(struct page *pg)
{
    raw(pg, "</td>");
}

static void cell_text(struct page *pg, const char *s)
{
    cell_open(pg);
    esc(pg, s ? s : "—");
    cell_close(pg);
}

static void cell_number(struct page *pg, json_int_t n)
{
    raw(pg, "<td class=\"n\">");
    number(pg, n);
    cell_close(pg);
}

static void cell_time(struct page *pg, json_int_t ms)
{
    cell_open(pg);
    cst_time(pg, ms);
    cell_close(pg);
}

/* A known word in both languages (escaped: the key may be anything), else the key itself. */
static void cell_words(struct page *pg, const struct words *list, size_t n, const char *key)
{
    const struct words *w = find_words(list, n, key);
    cell_open(pg);
    if (w != NULL) {
        both(pg, w->zh, w->en);
        raw(pg, " ");
    }
    raw(pg, "<code>");
    esc(pg, key ? key : "—");
    raw(pg, "</code>");
    cell_close(pg);
}

static void header_row(struct page *pg, const struct words *cols, size_t n)
{
    raw(pg, "<thead><tr>");
    for (size_t i = 0; i < n; i++) {
        raw(pg, "<th>");
        both(pg, cols[i].zh, cols[i].en);
        raw(pg, "</th>");
    }
    raw(pg, "</tr></thead><tbody>");
}

static void section(struct page *pg, const char *zh, const char *en)
{
    raw(pg, "<h2>");
    both(pg, zh, en);
    raw(pg, "</h2>");
}

/* "… and N more: see FILE" under a list cut short. */
static void more_note(struct page *pg, json_int_t total, size_t listed, const char *file)
{
    if (total <= (json_int_t)listed)
        return;
    raw(pg, "<p class=\"note\">另有 ");
    number(pg, total - (json_int_t)listed);
    raw(pg, " 行见 <code>");
    raw(pg, file);
    raw(pg, "</code> <span class=\"en\" lang=\"en\">");
    number(pg, total - (json_int_t)listed);
    raw(pg, " more rows are in <code>");
    raw(pg, file);
    raw(pg, "</code></span></p>");
}

/* ---- the page ---- */

static const char style[] =
    "body{font-family:\"Noto Sans CJK SC\",\"PingFang SC\",\"Microsoft YaHei\",sans-serif;"
    "margin:2em;color:#111;font-size:11pt}"
    "h1{font-size:18pt;border-bottom:2px solid #333}h2{font-size:13pt;margin-top:1.6em;"
    "border-bottom:1px solid #999;break-after:avoid}"
    ".en{color:#444;font-weight:normal}th .en{display:block;font-size:9pt}td .en{font-size:9pt}"
    "table{border-collapse:collapse;width:100%;margin:.5em 0}"
    "th,td{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}"
    "th{background:#eee}td.n{text-align:right}tr{break-inside:avoid}"
    "code{font-family:monospace;font-size:9pt;word-break:break-all}"
    ".note{font-size:9pt;color:#444}.warn{border:1px solid #c60;padding:.5em;background:#fff4e5}"
    "@page{size:A4;margin:15mm}@media print{body{margin:0}}";

static void head(struct page *pg)
{
    raw(pg, "<!DOCTYPE html>\n<html lang=\"zh-Hans\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\">"
            "<meta name=\"viewport\" content=\"width=device-width\">"
            "<title>证据包摘要 Evidence pack summary</title><style>");
    raw(pg, style);
    raw(pg, "</style></head>\n<body>\n<h1>");
    both(pg, "同意与偏好证据包摘要", "Consent and preference evidence pack — summary");
    raw(pg, "</h1>\n<p class=\"note\">时间均为北京时间（UTC+08:00）；包内文件使用 UTC。"
            "本页为说明，证明在包内其他文件中。<span class=\"en\" lang=\"en\">Times are China "
            "Standard Time (UTC+08:00); the pack's files use UTC. This page explains; the proofs "
            "are the pack's other files.</span></p>\n");
}

static void kv_row(struct page *pg, const char *zh, const char *en)
{
    raw(pg, "<tr><th>");
    both(pg, zh, en);
    raw(pg, "</th><td>");
}

static void scope_subject(struct page *pg, const json_t *scope)
{
    kv_row(pg, "数据主体", "Data subject");
    raw(pg, "<code>");
    esc(pg, member_str(scope, "subject"));
    raw(pg, "</code><br>");
    both(pg, "日志中的假名：", "pseudonym in the ledger:");
    raw(pg, " <code>");
    esc(pg, member_str(scope, "pseudonym"));
    raw(pg, "</code></td></tr>");
    json_int_t erased = member_int(scope, "erased_ms");
    if (erased <= 0)
        return;
    kv_row(pg, "已删除", "Erased");
    cst_time(pg, erased);
    raw(pg,
        "<p "
        "class=\"warn\">"
        "该主体已按《个人信息保护法》第四十七条删除：标识符与加密的个人上下文已不可恢复。"
        "本包仍证明其同意记录（日志叶子只含假名与哈希，不含个人信息明文），各用途状态显示为“已删除”"
        "。"
        "<span class=\"en\" lang=\"en\">This subject was erased (PIPL Art. 47): identifiers and "
        "sealed personal context can no longer be opened. The pack still proves the consent "
        "history (leaves hold pseudonyms and hashes, no plaintext personal data); purposes "
        "show the state “erased”.</span></p></td></tr>");
}

static void scope_range(struct page *pg, const json_t *scope)
{
    if (json_object_get(scope, "from_ms") == NULL)
        return;
    kv_row(pg, "时间范围", "Time range");
    cst_time(pg, member_int(scope, "from_ms"));
    raw(pg, " — ");
    cst_time(pg, member_int(scope, "to_ms"));
    raw(pg, "<br>");
    both(pg, "（含起点，不含终点；按事件记录时间）",
         "(from inclusive, to exclusive; by the time each event was recorded)");
    if (member_str(scope, "subject") == NULL) {
        raw(pg, "<br>");
        both(pg, "所有主体，仅以假名出现。", "All subjects, by pseudonym only.");
    }
    raw(pg, "</td></tr>");
}

static void overview(struct page *pg, const json_t *f)
{
    const json_t *scope = json_object_get(f, "scope");
    const json_t *ledger = json_object_get(f, "ledger");
    const json_t *events = json_object_get(f, "events");
    raw(pg, "<table class=\"kv\">");
    if (member_str(scope, "subject") != NULL)
        scope_subject(pg, scope);
    scope_range(pg, scope);
    kv_row(pg, "生成", "Generated");
    cst_time(pg, member_int(f, "generated_ms"));
    raw(pg, " · ");
    esc(pg, member_str(f, "generator"));
    raw(pg, "</td></tr>");
    kv_row(pg, "日志与签名检查点", "Log and signed checkpoint");
    raw(pg, "<code>");
    esc(pg, member_str(ledger, "origin"));
    raw(pg, "</code>, ");
    both(pg, "树大小", "tree size");
    raw(pg, " ");
    number(pg, member_int(ledger, "tree_size"));
    raw(pg, ", ");
    both(pg, "签名于", "signed");
    raw(pg, " ");
    cst_time(pg, member_int(ledger, "signed_ms"));
    raw(pg, "<br>");
    both(pg, "根哈希", "root");
    raw(pg, " <code>");
    esc(pg, member_str(ledger, "root"));
    raw(pg, "</code></td></tr>");
    kv_row(pg, "事件", "Events");
    number(pg, member_int(events, "count"));
    raw(pg, " (");
    cst_time(pg, member_int(events, "first_ms"));
    raw(pg, " — ");
    cst_time(pg, member_int(events, "last_ms"));
    raw(pg, ")");
    if (member_int(events, "pending") > 0) {
        raw(pg, "<br>");
        both(pg, "另有尚未被签名检查点覆盖的事件：",
             "Events not yet covered by a signed checkpoint:");
        raw(pg, " ");
        number(pg, member_int(events, "pending"));
        raw(pg, " ");
        both(pg, "（不在本包内，稍后生成即可包含）", "(not in this pack; a later pack holds them)");
    }
    raw(pg, "</td></tr></table>\n");
}

static void types_table(struct page *pg, const json_t *f)
{
    static const struct words cols[] = {{"", "事件类型", "event type"}, {"", "数量", "count"}};
    const char *type;
    const json_t *n;
    section(pg, "一、按事件类型统计", "1. Events by type");
    raw(pg, "<table>");
    header_row(pg, cols, CPM_ARRAY_LEN(cols));
    json_object_foreach((json_t *)json_object_get(f, "types"), type, n)
    {
        raw(pg, "<tr>");
        cell_words(pg, event_types, CPM_ARRAY_LEN(event_types), type);
        cell_number(pg, json_integer_value(n));
        raw(pg, "</tr>");
    }
    raw(pg, "</tbody></table>\n");
}

/* The first name whose locale starts with prefix ("zh", "en"), or NULL. */
static const char *name_in(const json_t *names, const char *prefix)
{
    const char *locale;
    const json_t *name;
    json_object_foreach((json_t *)names, locale, name)
    {
        if (strncmp(locale, prefix, strlen(prefix)) == 0)
            return json_string_value(name);
    }
    return NULL;
}

static void cell_purpose(struct page *pg, const json_t *f, const char *purpose)
{
    const json_t *names = json_object_get(json_object_get(f, "purpose_names"), purpose);
    const char *zh = name_in(names, "zh"), *en = name_in(names, "en");
    cell_open(pg);
    esc(pg, zh);
    if (en != NULL) {
        raw(pg, " <span class=\"en\" lang=\"en\">");
        esc(pg, en);
        raw(pg, "</span>");
    }
    raw(pg, " <code>");
    esc(pg, purpose);
    raw(pg, "</code>");
    cell_close(pg);
}

static void state_row(struct page *pg, const json_t *f, const json_t *s)
{
    char notice[CELL_BYTES];
    raw(pg, "<tr>");
    cell_purpose(pg, f, member_str(s, "purpose"));
    cell_text(pg, member_str(s, "recipient"));
    cell_words(pg, statuses, CPM_ARRAY_LEN(statuses), member_str(s, "status"));
    cell_open(pg);
    raw(pg, "seq ");
    number(pg, member_int(s, "seq"));
    if (member_int(s, "seq") > member_int(json_object_get(f, "ledger"), "tree_size")) {
        raw(pg, " ");
        both(pg, "（待签）", "(pending)");
    }
    cell_close(pg);
    cell_time(pg, member_int(s, "decided_ms"));
    snprintf(notice, sizeof(notice), "%s v%lld",
             member_str(s, "notice") ? member_str(s, "notice") : "",
             (long long)member_int(s, "version"));
    cell_text(pg, member_str(s, "notice") ? notice : NULL);
    cell_time(pg, member_int(s, "expires_ms"));
    raw(pg, "</tr>");
}

static void states_table(struct page *pg, const json_t *f)
{
    static const struct words cols[] = {
        {"", "用途", "purpose"},           {"", "接收方", "recipient"},
        {"", "当前状态", "current state"}, {"", "决定事件", "deciding event"},
        {"", "决定时间", "decided"},       {"", "告知版本", "notice version"},
        {"", "到期", "expires"},
    };
    size_t i;
    const json_t *s;
    raw(pg, "<table>");
    header_row(pg, cols, CPM_ARRAY_LEN(cols));
    json_array_foreach(json_object_get(f, "states"), i, s) state_row(pg, f, s);
    raw(pg, "</tbody></table>\n");
}

static void purpose_counts(struct page *pg, const json_t *f)
{
    static const struct words cols[] = {
        {"", "用途", "purpose"}, {"", "事件类型", "event type"}, {"", "数量", "count"}};
    const char *purpose, *type;
    const json_t *counts, *n;
    raw(pg, "<table>");
    header_row(pg, cols, CPM_ARRAY_LEN(cols));
    json_object_foreach((json_t *)json_object_get(f, "purposes"), purpose, counts)
    {
        json_object_foreach((json_t *)counts, type, n)
        {
            raw(pg, "<tr>");
            cell_purpose(pg, f, purpose);
            cell_words(pg, event_types, CPM_ARRAY_LEN(event_types), type);
            cell_number(pg, json_integer_value(n));
            raw(pg, "</tr>");
        }
    }
    raw(pg, "</tbody></table>\n");
}

static void purposes_section(struct page *pg, const json_t *f)
{
    section(pg, "二、各用途", "2. Purposes");
    if (json_array_size(json_object_get(f, "states")) > 0) {
        raw(pg, "<p class=\"note\">当前状态与决定该状态的事件（seq 即日志序号，见 "
                "<code>events.ndjson</code>）。<span class=\"en\" lang=\"en\">The state now and "
                "the event that decided it (seq is the ledger sequence number, see "
                "<code>events.ndjson</code>).</span></p>");
        states_table(pg, f);
    }
    purpose_counts(pg, f);
}

static void events_section(struct page *pg, const json_t *f)
{
    static const struct words cols[] = {{"", "序号", "seq"},
                                        {"", "时间", "time"},
                                        {"", "事件类型", "event type"},
                                        {"", "用途", "purpose"}};
    const json_t *events = json_object_get(f, "events");
    const json_t *listed = json_object_get(events, "listed");
    size_t i;
    const json_t *e;
    if (json_array_size(listed) == 0)
        return;
    section(pg, "三、事件列表", "3. Events");
    raw(pg, "<table>");
    header_row(pg, cols, CPM_ARRAY_LEN(cols));
    json_array_foreach(listed, i, e)
    {
        raw(pg, "<tr>");
        cell_number(pg, json_integer_value(json_array_get(e, 0)));
        cell_time(pg, json_integer_value(json_array_get(e, 1)));
        cell_words(pg, event_types, CPM_ARRAY_LEN(event_types),
                   json_string_value(json_array_get(e, 2)));
        if (json_string_length(json_array_get(e, 3)) > 0)
            cell_purpose(pg, f, json_string_value(json_array_get(e, 3)));
        else
            cell_text(pg, NULL);
        raw(pg, "</tr>");
    }
    raw(pg, "</tbody></table>\n");
    more_note(pg, member_int(events, "count"), json_array_size(listed), "events.ndjson");
}

static void notice_row(struct page *pg, const json_t *n)
{
    size_t i;
    const json_t *t;
    raw(pg, "<tr>");
    cell_open(pg);
    raw(pg, "<code>");
    esc(pg, member_str(n, "notice"));
    raw(pg, "</code> v");
    number(pg, member_int(n, "version"));
    cell_close(pg);
    cell_time(pg, member_int(n, "published_ms"));
    cell_open(pg);
    esc(pg, name_in(json_object_get(n, "titles"), "zh"));
    raw(pg, "<span class=\"en\" lang=\"en\">");
    esc(pg, name_in(json_object_get(n, "titles"), "en"));
    raw(pg, "</span>");
    cell_close(pg);
    cell_open(pg);
    json_array_foreach(json_object_get(n, "texts"), i, t)
    {
        raw(pg, "<code>");
        esc(pg, member_str(t, "locale"));
        raw(pg, "</code> ");
        number(pg, member_int(t, "bytes"));
        raw(pg, " B, sha256 <code>");
        esc(pg, member_str(t, "sha256"));
        raw(pg, "</code><br>");
    }
    cell_close(pg);
    raw(pg, "</tr>");
}

static void notices_section(struct page *pg, const json_t *f)
{
    static const struct words cols[] = {
        {"", "告知", "notice"},
        {"", "发布时间", "published"},
        {"", "标题", "title"},
        {"", "各语言文本（SHA-256 与日志叶子所引一致）",
         "texts per locale (SHA-256 as the leaves quote)"},
    };
    size_t i;
    const json_t *n;
    section(pg, "四、所涉告知版本", "4. Notice versions the events refer to");
    raw(pg, "<p class=\"note\">全文见 <code>notices/</code>。<span class=\"en\" lang=\"en\">Full "
            "texts are under <code>notices/</code>.</span></p><table>");
    header_row(pg, cols, CPM_ARRAY_LEN(cols));
    json_array_foreach(json_object_get(f, "notices"), i, n) notice_row(pg, n);
    raw(pg, "</tbody></table>\n");
}

static void destination_counts(struct page *pg, const char *id, const json_t *d)
{
    raw(pg, "<h3><code>");
    esc(pg, id);
    raw(pg, "</code></h3><p>");
    both(pg, "已确认", "acknowledged");
    raw(pg, " ");
    number(pg, member_int(d, "delivered"));
    raw(pg, " · ");
    both(pg, "失败", "failed");
    raw(pg, " ");
    number(pg, member_int(d, "failed"));
    raw(pg, " · ");
    both(pg, "死信", "dead");
    raw(pg, " ");
    number(pg, member_int(d, "dead"));
    raw(pg, " · ");
    both(pg, "未发送", "blocked");
    raw(pg, " ");
    number(pg, member_int(d, "blocked"));
    raw(pg, "</p>");
}

static void delivery_rows(struct page *pg, const char *id, const json_t *listed)
{
    static const struct words cols[] = {
        {"", "事件序号", "event seq"},
        {"", "事件类型", "event type"},
        {"", "尝试", "attempt"},
        {"", "结果", "outcome"},
        {"", "时间", "time"},
        {"", "HTTP", "status"},
        {"", "记录后多久确认", "acknowledged after"},
    };
    size_t i;
    const json_t *r;
    raw(pg, "<table>");
    header_row(pg, cols, CPM_ARRAY_LEN(cols));
    json_array_foreach(listed, i, r)
    {
        const char *destination = json_string_value(json_array_get(r, 0));
        if (destination == NULL || strcmp(destination, id) != 0)
            continue;
        raw(pg, "<tr>");
        cell_number(pg, json_integer_value(json_array_get(r, 1)));
        cell_words(pg, event_types, CPM_ARRAY_LEN(event_types),
                   json_string_value(json_array_get(r, 2)));
        cell_number(pg, json_integer_value(json_array_get(r, 3)));
        cell_words(pg, outcomes, CPM_ARRAY_LEN(outcomes), json_string_value(json_array_get(r, 4)));
        cell_time(pg, json_integer_value(json_array_get(r, 5)));
        cell_number(pg, json_integer_value(json_array_get(r, 6)));
        raw(pg, "<td class=\"n\">");
        number(pg, json_integer_value(json_array_get(r, 7)));
        raw(pg, " ms</td></tr>");
    }
    raw(pg, "</tbody></table>");
}

static void deliveries_section(struct page *pg, const json_t *f)
{
    const json_t *deliveries = json_object_get(f, "deliveries");
    const json_t *listed = json_object_get(deliveries, "listed");
    const char *id;
    const json_t *d;
    section(pg, "五、各下游系统的送达时间线", "5. Delivery timeline per destination");
    raw(pg, "<p class=\"note\">每个下游系统何时确认收到每个事件（送达日志，见 "
            "<code>deliveries.ndjson</code>）。送达日志是本公司的记录，不在 Merkle "
            "日志内。<span class=\"en\" lang=\"en\">When each downstream system acknowledged each "
            "event (the delivery log, <code>deliveries.ndjson</code>). The delivery log is the "
            "company's own record, not part of the Merkle ledger.</span></p>");
    if (json_object_size(json_object_get(f, "destinations")) == 0) {
        raw(pg, "<p>");
        both(pg, "无送达记录。", "No deliveries were recorded.");
        raw(pg, "</p>");
    }
    json_object_foreach((json_t *)json_object_get(f, "destinations"), id, d)
    {
        destination_counts(pg, id, d);
        delivery_rows(pg, id, listed);
    }
    more_note(pg, member_int(deliveries, "count"), json_array_size(listed), "deliveries.ndjson");
}

static void verify_section(struct page *pg, const json_t *f)
{
    section(pg, "六、如何验证", "6. How to verify");
    raw(pg, "<ol><li>取得该公司日志公钥（通过包外渠道核对，勿仅信任包内的 "
            "<code>ledger-key.txt</code>）：<span class=\"en\" lang=\"en\">Get the company's "
            "ledger key through another channel (do not trust only the pack's own "
            "<code>ledger-key.txt</code>):</span><br><code>");
    esc(pg, member_str(f, "verifier_key"));
    raw(pg, "</code></li><li>");
    both(pg, "运行", "Run");
    raw(pg, " <code>cpm verify pack.tar --key KEY</code> ");
    both(pg, "（无 --key 时使用包内公钥，仅检查完整性）",
         "(without --key it uses the key in the pack: integrity only)");
    raw(pg, "</li><li>");
    both(pg,
         "它检查：manifest.json 中每个文件的 "
         "SHA-256；检查点签名；每个事件对该检查点根哈希的包含证明；"
         "每个叶子引用的告知文本哈希；送达记录所指事件；可选的一致性证明。",
         "It checks: every file's SHA-256 in manifest.json; the checkpoint's signature; each "
         "event's inclusion proof against the checkpoint's root; the notice text hash each leaf "
         "quotes; the events the delivery rows name; the optional consistency proof.");
    raw(pg, "</li><li>");
    both(pg,
         "无需 OpenCPM 亦可验证：叶子哈希 = SHA-256(0x00 ‖ 叶子)，RFC 9162 包含证明，C2SP "
         "签名检查点（Ed25519）。",
         "Without OpenCPM: leaf hash = SHA-256(0x00 ‖ leaf), RFC 9162 inclusion proofs, C2SP "
         "signed checkpoint (Ed25519).");
    raw(pg, "</li></ol>\n");
}

cpm_err cpm_evidence_summary_render(const json_t *facts, cpm_summary_put_fn put_fn, void *ctx)
{
    struct page pg = {.put = put_fn, .ctx = ctx, .err = CPM_OK};
    head(&pg);
    overview(&pg, facts);
    types_table(&pg, facts);
    purposes_section(&pg, facts);
    events_section(&pg, facts);
    notices_section(&pg, facts);
    deliveries_section(&pg, facts);
    verify_section(&pg, facts);
    raw(&pg, "</body></html>\n");
    return pg.err;
}
