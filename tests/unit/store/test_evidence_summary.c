/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_evidence_summary.c — src/store/evidence_summary.c: the pack's
 * summary.html is one self-contained page (no script, no external
 * resource, a CSP forbidding both), in Chinese and English, with every
 * value from the store escaped — a purpose name, a destination id, a
 * notice title holding markup come out as text; an erased subject is said
 * to be erased; long lists point to their files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "support/fixture.h"

#include "core/common.h"
#include "store/evidence_summary.h"

#define PAGE_BYTES_MAX (256 * 1024)

struct page {
    char text[PAGE_BYTES_MAX];
    size_t len;
};

static cpm_err collect(void *ctx, const char *text, size_t len)
{
    struct page *p = ctx;
    if (p->len + len >= sizeof(p->text))
        return CPM_ERR_TOO_LARGE;
    memcpy(p->text + p->len, text, len);
    p->len += len;
    p->text[p->len] = '\0';
    return CPM_OK;
}

static void expect_in(const struct page *p, const char *part)
{
    if (strstr(p->text, part) == NULL)
        fail_msg("the page lacks '%s'", part);
}

static void expect_not_in(const struct page *p, const char *part)
{
    if (strstr(p->text, part) != NULL)
        fail_msg("the page has '%s'", part);
}

static json_t *facts(void)
{
    return json_pack(
        "{s:I, s:s, s:s, s:{s:s, s:s, s:I}, s:{s:s, s:I, s:I, s:s},"
        " s:{s:I, s:I, s:I, s:I, s:[[I, I, s, s]]}, s:{s:I}, s:{s:{s:I}},"
        " s:{s:{s:s, s:s}}, s:[{s:s, s:s, s:I, s:s, s:I, s:I, s:I}],"
        " s:[{s:s, s:I, s:I, s:{s:s, s:s}, s:[{s:s, s:s, s:I}]}],"
        " s:{s:{s:I, s:I, s:I, s:I}}, s:{s:I, s:[[s, I, s, I, s, I, I, I]]}}",
        "generated_ms", (json_int_t)1764400000000, "generator", "cpmd", "verifier_key",
        "opencpm/05d09f17+981eaf27+AXRV", "scope", "subject", "cust-<42>", "pseudonym", "ab12",
        "erased_ms", (json_int_t)0, "ledger", "origin", "opencpm/05d09f17", "tree_size",
        (json_int_t)9, "signed_ms", (json_int_t)1764400000000, "root", "bakS=", "events", "count",
        (json_int_t)1500, "pending", (json_int_t)2, "first_ms", (json_int_t)1764400000000,
        "last_ms", (json_int_t)1764400001000, "listed", (json_int_t)3, (json_int_t)1764400000000,
        "consent.given", "mkt.<x>", "types", "consent.given", (json_int_t)1, "purposes", "mkt.<x>",
        "consent.given", (json_int_t)1, "purpose_names", "mkt.<x>", "zh-Hans",
        "<script>alert(1)</script>营销", "en", "SMS & <b>bold</b> \"q\" 'a'", "states", "purpose",
        "mkt.<x>", "status", "withdrawn", "seq", (json_int_t)3, "notice", "privacy", "version",
        (json_int_t)1, "decided_ms", (json_int_t)1764400000000, "expires_ms", (json_int_t)0,
        "notices", "notice", "privacy", "version", (json_int_t)1, "published_ms",
        (json_int_t)1764300000000, "titles", "zh-Hans", "隐私<i>政策</i>", "en", "Privacy", "texts",
        "locale", "en", "sha256", "a94f", "bytes", (json_int_t)42, "destinations", "crm<1>",
        "delivered", (json_int_t)1, "failed", (json_int_t)0, "dead", (json_int_t)0, "blocked",
        (json_int_t)0, "deliveries", "count", (json_int_t)1, "listed", "crm<1>", (json_int_t)3,
        "consent.withdrawn", 1, "delivered", (json_int_t)1764400000500, 204, (json_int_t)500);
}

static void test_page(void **state)
{
    CPM_UNUSED(state);
    static struct page p;
    json_t *f = facts();
    assert_non_null(f);
    p.len = 0;
    assert_int_equal(cpm_evidence_summary_render(f, collect, &p), CPM_OK);
    expect_in(&p, "<!DOCTYPE html>");
    expect_in(&p, "<meta charset=\"utf-8\">");
    expect_in(&p, "Content-Security-Policy");
    /* both languages */
    expect_in(&p, "证据包摘要");
    expect_in(&p, "Evidence pack summary");
    expect_in(&p, "如何验证");
    expect_in(&p, "How to verify");
    expect_in(&p, "已撤回");
    expect_in(&p, "withdrawn");
    /* markup from the store is text */
    expect_in(&p, "&lt;script&gt;alert(1)&lt;/script&gt;营销");
    expect_in(&p, "SMS &amp; &lt;b&gt;bold&lt;/b&gt; &quot;q&quot; &#39;a&#39;");
    expect_in(&p, "cust-&lt;42&gt;");
    expect_in(&p, "crm&lt;1&gt;");
    expect_in(&p, "隐私&lt;i&gt;政策&lt;/i&gt;");
    expect_not_in(&p, "<script");
    expect_not_in(&p, "<b>");
    expect_not_in(&p, "<i>");
    /* nothing fetched from elsewhere */
    expect_not_in(&p, "src=");
    expect_not_in(&p, "href=");
    expect_not_in(&p, "url(");
    expect_not_in(&p, "@import");
    /* China Standard Time */
    expect_in(&p, "2025-11-29 15:06:40.000 +08:00");
    /* 1500 events, 1 listed */
    expect_in(&p, "1499 more rows are in <code>events.ndjson</code>");
    expect_not_in(&p, "已删除");
    json_decref(f);
}

static void test_erased_and_range(void **state)
{
    CPM_UNUSED(state);
    static struct page p;
    json_t *f = facts();
    json_object_set_new(json_object_get(f, "scope"), "erased_ms", json_integer(1764400000000));
    p.len = 0;
    assert_int_equal(cpm_evidence_summary_render(f, collect, &p), CPM_OK);
    expect_in(&p, "第四十七条");
    expect_in(&p, "This subject was erased (PIPL Art. 47)");
    json_decref(f);

    f = json_pack("{s:{s:I, s:I}, s:{s:I}}", "scope", "from_ms", (json_int_t)1764400000000, "to_ms",
                  (json_int_t)1764500000000, "events", "count", (json_int_t)0);
    p.len = 0;
    assert_int_equal(cpm_evidence_summary_render(f, collect, &p), CPM_OK);
    expect_in(&p, "All subjects, by pseudonym only.");
    expect_in(&p, "No deliveries were recorded.");
    json_decref(f);
}

static cpm_err refuse(void *ctx, const char *text, size_t len)
{
    CPM_UNUSED(ctx);
    CPM_UNUSED(text);
    CPM_UNUSED(len);
    return CPM_ERR_IO;
}

static void test_write_failure(void **state)
{
    CPM_UNUSED(state);
    json_t *f = facts();
    assert_int_equal(cpm_evidence_summary_render(f, refuse, NULL), CPM_ERR_IO);
    json_decref(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_erased_and_range),
        cmocka_unit_test(test_write_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
