// SPDX-License-Identifier: Apache-2.0
// The admin console (web/admin, served by cpmd at /admin; docs/ADMIN.md) in
// a real browser: Debian's Chromium driven by playwright-core, a cpmd of
// each test's own seeded with demo/demo.json (the harness: support.mjs).
// Checked: sign-in (the key checked before it is sent, a wrong one refused
// beside its field, nothing kept in the page's storage, the cookie HttpOnly
// and SameSite=Strict, the session surviving a reload, sign-out); the
// screens each key's scopes allow and no others; purposes listed, created
// and edited, the page's own validation and the server's 422 beside the
// field it names, a change made meanwhile (412), each change a config event
// in the ledger; API keys created (the secret shown once, copied, then
// gone), revoked after a confirmation, one's own key signing one out; the
// rights requests queue with due dates and an overdue request marked
// (filed in the past with CPM_TEST_CLOCK_OFFSET_MS), filters, a refusal
// needing its reason (PIPL Art. 50); subjects found by id and by phone,
// their consents, preferences and timeline with the notice version of each
// event, and the evidence bundle downloaded; a session ending while the
// page is open; operator texts with markup shown as text; the language
// switch keeping what was typed; keyboard use of the menu; and, read from
// the source, every word in the three tables and no string made HTML,
// nothing stored but the language. Any console
// error (but the answers a test expects to fail), page error or request to
// another origin fails the test. Screenshots (phone 390×844, desktop
// 1280×900) go to tests/browser/artifacts/admin-*.png.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { cpm, request } from '../api/harness.mjs';
import { demo, demoServer, useBrowser } from './support.mjs';
import { DESKTOP, consolePage, loaded, signIn, go, sent, statusIs, errorFor, shots, requestsServer } from './admin_support.mjs';

const POLICY = demo.policies.find((p) => p.property === 'demo-shop' && p.region === 'CN');
const PURPOSES = demo.purposes;
const SMS = 'marketing.sms';

// the menu for the admin key, in order, and for a key holding config only
const CONFIG_SCREENS = ['purposes', 'notices', 'policies', 'properties', 'topics', 'channels', 'destinations'];
const ALL_SCREENS = ['dashboard', 'subjects', 'evidence', 'requests', ...CONFIG_SCREENS, 'ledger', 'keys'];

useBrowser();

// ---- helpers ---------------------------------------------------------------------------

/** A new API key (with the admin key); returns {id, key}. */
async function newKey(env, name, scopes) {
  const made = await env.api('POST', '/v1/api-keys', { name, scopes }, 201);
  return { id: made.id, key: made.key };
}

/** The ledger's events of type (all pages), parsed. */
async function ledgerEvents(env, type) {
  const out = [];
  let cursor = '';
  for (;;) {
    const page = await env.api('GET', `/v1/ledger/events?limit=200${cursor}`);
    out.push(...page.items.map((i) => i.event).filter((e) => e.type === type));
    if (!page.next_cursor) return out;
    cursor = `&cursor=${encodeURIComponent(page.next_cursor)}`;
  }
}

/** The notice version's hash in a locale, as the popup would have quoted it. */
async function noticeSha(env, version, locale = 'zh-Hans') {
  const v = await env.api('GET', `/v1/notices/${POLICY.notice}/versions/${version}?locale=${locale}`);
  return v.content[locale].sha256;
}

/** Records decisions for subject with the API key under a notice version. */
async function decided(env, subject, decisions, version = 1) {
  const body = {
    property: 'demo-shop', channel: 'web', locale: 'zh-Hans', method: 'click',
    notice: { id: POLICY.notice, version, sha256: await noticeSha(env, version) },
    decisions: decisions.map(([purpose, decision]) => ({ purpose, decision })),
  };
  return env.api('POST', `/v1/subjects/${encodeURIComponent(subject)}/consents`, body, 201);
}

// ---- the source, read: every word in every language, no HTML from strings ------------------

/**
 * The console's scripts (web/admin/*.js) as {file: source}, and the words
 * each uses: t().x / tt.x from admin-i18n.js (T), w().x / ww.x from the
 * screen's own <screen>-i18n.js (W) when it has one.
 */
function consoleSources() {
  const dir = new URL('../../web/admin/', import.meta.url);
  return Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => [f, readFileSync(new URL(f, dir), 'utf8')]));
}
const wordsUsed = (source, names) => new Set([...source.matchAll(new RegExp(`\\b(?:${names})\\.([a-zA-Z]+)`, 'g'))].map((m) => m[1]));

/** Every word as [path, text]; paths joined with ' > ' (keys such as 'consent.given' hold dots). */
const words = (o, p = []) => Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' ? words(v, [...p, k]) : [[[...p, k].join(' > '), v]]));

/** Each locale's table holds every word used, the same words as English, none empty. */
function assertTables(tables, used, name) {
  assert.deepEqual(Object.keys(tables), ['zh-Hans', 'zh-Hant', 'en'], `${name}: the three locales`);
  const english = words(tables.en).map(([p]) => p).sort();
  for (const [locale, table] of Object.entries(tables)) {
    for (const k of used) assert.ok(k in table, `${name}: ${locale} lacks '${k}'`);
    assert.deepEqual(words(table).map(([p]) => p).sort(), english, `${name}: ${locale} has the same words as en`);
    for (const [p, text] of words(table)) assert.ok(typeof text === 'string' && text.trim(), `${name}: ${locale}: ${p} is empty`);
  }
}

test('every word the console uses is in each language\'s table, and no string ever becomes HTML', async () => {
  const sources = consoleSources();
  const { T, LANGS } = await import('../../web/admin/admin-i18n.js');
  assert.deepEqual(LANGS.map(([l]) => l), ['zh-Hans', 'zh-Hant', 'en']);
  const scripts = Object.entries(sources).filter(([f]) => !f.endsWith('-i18n.js'));
  const used = new Set(scripts.flatMap(([, s]) => [...wordsUsed(s, 'tt|t\\(\\)')]));
  assert.ok(used.size > 100, `${used.size} words found`);
  assertTables(T, used, 'admin-i18n.js');
  for (const [file, source] of scripts) {
    const own = file.replace(/\.js$/, '-i18n.js');
    if (!(own in sources) || own === 'admin-i18n.js') continue;
    const { W } = await import(`../../web/admin/${own}`);
    assertTables(W, wordsUsed(source, 'ww|w\\(\\)'), own);
  }
  const shared = readFileSync(new URL('../../web/lib/ui.js', import.meta.url), 'utf8'); // the center's too
  for (const [file, source] of [...scripts, ['../lib/ui.js', shared]]) {
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, ''); // comments may name them
    for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function'])
      assert.ok(!code.includes(sink), `${file} uses ${sink}`);
  }
  const all = scripts.map(([, s]) => s).join('\n');
  for (const store of ['localStorage.setItem', 'sessionStorage.setItem'])
    assert.equal(all.split(store).length - 1, store === 'localStorage.setItem' ? 1 : 0, `only the language is stored (${store})`);
  assert.match(sources['admin.js'], /localStorage\.setItem\(LANG_KEY, v\)/);
});

// ---- sign-in and sessions ------------------------------------------------------------------

test('sign-in: the key is checked before it is sent, a wrong one is refused beside its field; the session is a cookie the page cannot read', async (t) => {
  const env = await demoServer(t);
  const page = await consolePage(t, env, { locale: 'zh-CN' }, [{ path: '/v1/admin/sessions', status: 401 }]);
  const posts = sent(page, /^\/v1\/admin\/sessions$/);
  const res = await page.goto(`${env.server.url}/admin`);
  const csp = res.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self';/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers()['x-frame-options'], 'DENY');
  await page.waitForSelector('#signin');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-Hans');
  assert.equal(await page.textContent('#signin-h'), '登录');
  assert.equal(await page.isHidden('#nav'), true, 'no menu before signing in');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'api-key', 'focus on the key');

  await page.click('#signin button[type="submit"]');
  assert.equal(await errorFor(page, '#signin', 'api_key').textContent(), '必填。');
  assert.equal(await page.getAttribute('#api-key', 'aria-invalid'), 'true');
  await page.fill('#api-key', 'not-a-key');
  await page.click('#signin button[type="submit"]');
  assert.match(await errorFor(page, '#signin', 'api_key').textContent(), /这不像 API 密钥/);
  assert.deepEqual(posts, [], 'nothing sent for a key that cannot be one');
  await shots(page, 'admin-signin-error', '#signin');

  await page.fill('#api-key', `cpm_${'x'.repeat(43)}`);
  await page.click('#signin button[type="submit"]');
  await page.waitForSelector('#signin .field-error[data-error-for="api_key"]');
  assert.equal(await errorFor(page, '#signin', 'api_key').textContent(), '密钥不正确或已被吊销。');
  assert.equal(posts.length, 1);

  await page.fill('#api-key', env.key);
  await page.click('#signin button[type="submit"]');
  await page.waitForSelector('#nav:not([hidden])');
  await loaded(page);
  await statusIs(page, '已登录：initial admin (cpm init)。');
  assert.deepEqual(posts.at(-1).body, { api_key: env.key });
  assert.deepEqual(await page.$$eval('#nav a', (as) => as.map((a) => a.dataset.screen)), ALL_SCREENS);
  assert.equal(await page.getAttribute('#nav a[data-screen="dashboard"]', 'aria-current'), 'page', 'the dashboard first');
  assert.match(await page.textContent('#who'), /initial admin \(cpm init\).*key_[0-9a-f]{16}.*admin/);

  // the session: an HttpOnly, SameSite=Strict cookie; the key and the token are in no storage and not in the page
  const cookies = await page.context().cookies();
  assert.equal(cookies.length, 1);
  assert.equal(cookies[0].name, 'cpm_session');
  assert.equal(cookies[0].httpOnly, true);
  assert.equal(cookies[0].sameSite, 'Strict');
  assert.equal(cookies[0].path, '/');
  assert.equal(cookies[0].secure, false, 'plain HTTP here; behind TLS it is Secure (tests/api/admin_session.test.mjs)');
  assert.equal(await page.evaluate(() => document.cookie), '', 'the page cannot read it');
  const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
  const current = await request(env.server, 'GET', '/v1/admin/sessions/current', { headers: { cookie: `cpm_session=${cookies[0].value}` } });
  for (const secret of [env.key, cookies[0].value, current.json.csrf_token]) {
    assert.ok(!stored.includes(secret), 'nothing secret in storage');
    assert.ok(!(await page.content()).includes(secret), 'nothing secret in the page');
  }
  assert.equal(await page.inputValue('#api-key').catch(() => 'gone'), 'gone', 'the key field is gone');
  await shots(page, 'admin-purposes-list');

  // a reload finds the session; signing out ends it, at the server too
  await page.reload();
  await page.waitForSelector('#nav:not([hidden])');
  await loaded(page);
  await page.click('#signout');
  await page.waitForSelector('#signin');
  await statusIs(page, '已退出登录。');
  assert.equal(await page.isHidden('#nav'), true);
  assert.equal((await request(env.server, 'GET', '/v1/purposes', { headers: { cookie: `cpm_session=${cookies[0].value}` } })).status, 401);
  await page.reload();
  await page.waitForSelector('#signin');
  await shots(page, 'admin-signin');
  page.assertClean();
});

test('a key sees the screens its scopes allow, and no others', async (t) => {
  const env = await demoServer(t);
  const config = await newKey(env, 'privacy team', ['config']);
  const reader = await newKey(env, 'call centre', ['decisions:read']);
  const writer = await newKey(env, 'crm', ['consents:write']);

  const page = await consolePage(t, env, { locale: 'en' });
  await signIn(page, env, config.key);
  assert.deepEqual(await page.$$eval('#nav a', (as) => as.map((a) => a.dataset.screen)), CONFIG_SCREENS);
  await page.goto(`${env.server.url}/admin#/keys`); // not its screen: back to one it has
  await page.waitForSelector('#purposes[aria-busy="false"]');
  assert.match(page.url(), /#\/purposes$/);
  assert.equal(await page.locator('#keys').count(), 0);
  page.assertClean();

  const second = await consolePage(t, env, { locale: 'en' }, [{ path: /^\/v1\/subjects\/nobody-1\/(consents|preferences)$/, status: 404 }, { path: '/v1/subjects/nobody-1', status: 404 }]);
  await signIn(second, env, reader.key);
  assert.deepEqual(await second.$$eval('#nav a', (as) => as.map((a) => a.dataset.screen)), ['subjects']);
  await second.fill('#subjects [data-key="sid"]', 'nobody-1');
  await second.click('#subjects button[data-key="find"]');
  await second.waitForSelector('#no-subject');
  assert.equal(await second.textContent('#no-subject'), 'Nothing is recorded under this id.');
  assert.equal(await second.textContent('#no-ledger'), 'This key lacks ledger:read: the timeline and the evidence bundle are not shown.');
  assert.equal(await second.locator('#subject-timeline').count(), 0);
  second.assertClean();

  const third = await consolePage(t, env, { locale: 'en' });
  await third.goto(`${env.server.url}/admin`);
  await third.waitForSelector('#signin');
  await third.fill('#api-key', writer.key);
  await third.click('#signin button[type="submit"]');
  await third.waitForSelector('#nothing');
  assert.equal(await third.textContent('#nothing-h'), 'This key can do nothing in the console');
  assert.equal(await third.isVisible('#signout'), true);
  third.assertClean();
});

test('a session that ends while the page is open says so and brings the sign-in back', async (t) => {
  const env = await demoServer(t, { env: { CPM_SESSION_IDLE_S: '3' } });
  const page = await consolePage(t, env, { locale: 'zh-CN' });
  const calls = [];
  await signIn(page, env);
  const cookie = (await page.context().cookies())[0].value;
  page.on('request', (r) => new URL(r.url()).pathname.startsWith('/v1/') && calls.push(r.url()));
  await page.waitForSelector('#session:not([hidden])', { timeout: 8000 });
  assert.match(await page.textContent('#session'), /登录已失效/);
  await page.waitForSelector('#signin');
  assert.deepEqual(calls, [], 'the page ended it without a call (a call would have kept it alive)');
  assert.equal((await request(env.server, 'GET', '/v1/purposes', { headers: { cookie: `cpm_session=${cookie}` } })).status, 401, 'the server ended it too');
  await shots(page, 'admin-session-ended');
  await page.fill('#api-key', env.key);
  await page.click('#signin button[type="submit"]');
  await page.waitForSelector('#dashboard[aria-busy="false"]');
  assert.equal(await page.isHidden('#session'), true);
  page.assertClean();
});

// ---- purposes ------------------------------------------------------------------------------

test('purposes: listed, created and edited; the page\'s checks and the server\'s 422 beside their fields; each change in the ledger', async (t) => {
  const env = await demoServer(t);
  const page = await consolePage(t, env, { locale: 'zh-CN', viewport: DESKTOP }, [
    { path: '/v1/purposes', status: 422 }, { path: '/v1/purposes/partner.share', status: 412 },
  ]);
  const writes = sent(page, /^\/v1\/purposes/);
  await signIn(page, env);
  await go(page, 'purposes');
  const ids = await page.$$eval('#purposes tr[data-purpose]', (rows) => rows.map((r) => r.dataset.purpose));
  assert.deepEqual(ids, PURPOSES.map((p) => p.id).sort());
  const sms = page.locator(`#purposes tr[data-purpose="${SMS}"]`);
  assert.match(await sms.textContent(), /短信营销.*个人同意.*一般同意.*P2Y/);
  assert.match(await page.textContent('#purposes tr[data-purpose="service.account"]'), /订立、履行合同所必需/);

  // the page's own checks: nothing is sent
  await page.click('#purposes button[data-key="new"]');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.field), 'id', 'focus on the first field');
  await page.fill('#purposes [data-field="id"]', 'Bad Id');
  await page.selectOption('#purposes [data-field="legal_basis"]', 'consent');
  await page.selectOption('#purposes [data-field="consent_form"]', 'general');
  await page.check('#purposes [data-field="sensitive"]');
  await page.fill('#purposes [data-field="retention"]', 'two years');
  await page.fill('#purposes [data-field="recipients"]', 'partner-a, Not_OK');
  await page.click('#purposes button[data-key="save"]');
  assert.match(await errorFor(page, '#purposes', 'id').textContent(), /小写字母/);
  assert.equal(await errorFor(page, '#purposes', 'name').textContent(), '至少填写一种语言的名称。');
  assert.equal(await errorFor(page, '#purposes', 'consent_form').textContent(), '敏感个人信息需要单独同意或书面同意。');
  assert.match(await errorFor(page, '#purposes', 'retention').textContent(), /ISO 8601/);
  assert.equal(await errorFor(page, '#purposes', 'recipients').textContent(), '“Not_OK”不是有效的接收方编号。');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.field), 'id', 'focus on the first fault');
  assert.equal(await page.textContent('#status'), '请检查标出的字段。');
  await shots(page, 'admin-purpose-form-errors', '#purposes');
  assert.deepEqual(writes, []);

  // what only the server knows (a zero duration): its 422, beside the field it names
  await page.fill('#purposes [data-field="id"]', 'partner.share');
  await page.fill('#purposes [data-field="name.zh-Hans"]', '向合作伙伴提供');
  await page.fill('#purposes [data-field="name.en"]', 'Sharing with partners');
  await page.selectOption('#purposes [data-field="consent_form"]', 'separate');
  await page.fill('#purposes [data-field="retention"]', 'P0D');
  await page.fill('#purposes [data-field="recipients"]', 'partner-a, partner-b');
  await page.click('#purposes button[data-key="save"]');
  await page.waitForSelector('#purposes .field-error[data-error-for="retention"]');
  assert.equal(writes.length, 1, 'sent once');
  assert.match(await errorFor(page, '#purposes', 'retention').textContent(), /zero/i, 'the server\'s own words');
  assert.equal(await page.locator('#purposes .field-error').count(), 1, 'only the field at fault');
  await shots(page, 'admin-purpose-server-error', '#purposes');
  await env.api('GET', '/v1/purposes/partner.share', undefined, 404);

  await page.fill('#purposes [data-field="retention"]', 'P6M');
  await page.click('#purposes button[data-key="save"]');
  await statusIs(page, '已创建处理目的 partner.share。');
  assert.deepEqual(writes.at(-1).body, {
    id: 'partner.share', name: { 'zh-Hans': '向合作伙伴提供', en: 'Sharing with partners' }, legal_basis: 'consent',
    consent_form: 'separate', sensitive: true, necessary_for_service: false, retention: 'P6M', recipients: ['partner-a', 'partner-b'],
  });
  await page.waitForSelector('#purposes tr[data-purpose="partner.share"]');
  const stored = await env.api('GET', '/v1/purposes/partner.share');
  assert.equal(stored.sensitive, true);
  assert.deepEqual(stored.recipients, ['partner-a', 'partner-b']);
  const me = (await env.api('GET', '/v1/api-keys')).items[0].id;
  const created = (await ledgerEvents(env, 'config.created')).find((e) => e.doc === 'partner.share');
  assert.equal(created?.key, me, 'a config event in the ledger, by the session\'s key');

  // edit: an emptied name's locale and a consent form no longer asked are removed (merge patch nulls), with If-Match
  await page.click('#purposes button[data-key="edit:partner.share"]');
  assert.equal(await page.isDisabled('#purposes [data-field="id"]'), true, 'an id never changes');
  await page.fill('#purposes [data-field="name.zh-Hant"]', '向合作夥伴提供');
  await page.fill('#purposes [data-field="name.en"]', '');
  await page.uncheck('#purposes [data-field="sensitive"]');
  await page.selectOption('#purposes [data-field="legal_basis"]', 'contract');
  assert.equal(await page.isHidden('#purposes [data-field="consent_form"]'), true, 'no consent form without consent');
  await page.click('#purposes button[data-key="save"]');
  await statusIs(page, '已保存处理目的 partner.share。');
  const patch = writes.at(-1);
  assert.equal(patch.method, 'PATCH');
  assert.deepEqual(patch.body.name, { 'zh-Hans': '向合作伙伴提供', 'zh-Hant': '向合作夥伴提供', en: null });
  assert.equal(patch.body.consent_form, null);
  const edited = await env.api('GET', '/v1/purposes/partner.share');
  assert.deepEqual(edited.name, { 'zh-Hans': '向合作伙伴提供', 'zh-Hant': '向合作夥伴提供' });
  assert.equal(edited.legal_basis, 'contract');
  assert.equal(edited.consent_form, undefined);
  assert.equal(edited.revision, 2);
  const updated = (await ledgerEvents(env, 'config.updated')).find((e) => e.doc === 'partner.share');
  assert.equal(updated?.revision, 2);
  assert.match(await page.textContent('#purposes tr[data-purpose="partner.share"]'), /订立、履行合同所必需/);

  // someone else changes it meanwhile: 412, the latest is shown, nothing overwritten
  await page.click('#purposes button[data-key="edit:partner.share"]');
  await env.api('PATCH', '/v1/purposes/partner.share', { retention: 'P1Y' });
  await page.fill('#purposes [data-field="retention"]', 'P3M');
  await page.click('#purposes button[data-key="save"]');
  await statusIs(page, '这个处理目的刚被其他人修改过，已重新加载最新内容，请重新编辑。');
  assert.equal((await env.api('GET', '/v1/purposes/partner.share')).retention, 'P1Y');
  await page.waitForFunction(() => /P1Y/.test(document.querySelector('#purposes tr[data-purpose="partner.share"]')?.textContent || ''));
  page.assertClean();
});

test('operator texts with markup are shown as text; the language switch keeps what was typed', async (t) => {
  const env = await demoServer(t);
  const payload = '<img src=x onerror="window.__pwned=1">';
  await env.api('PATCH', `/v1/purposes/${SMS}`, { name: { 'zh-Hans': payload, 'zh-Hant': payload, en: payload } });
  await env.api('POST', '/v1/subjects/xss-1/requests', { type: 'access', property: 'demo-shop', note: `<script>window.__pwned=2</script>${payload}` }, 201);
  const page = await consolePage(t, env, { locale: 'zh-HK', viewport: DESKTOP });
  await signIn(page, env);
  await go(page, 'purposes');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-Hant');
  assert.equal(await page.textContent('#purposes-h'), '處理目的');
  assert.equal(await page.locator(`#purposes tr[data-purpose="${SMS}"] td`).nth(1).textContent(), payload);
  await go(page, 'requests');
  assert.match(await page.textContent('#requests li[data-request] .quote'), /<script>window.__pwned=2<\/script><img/);
  assert.equal(await page.locator('main img, main script').count(), 0, 'no element was made of them');
  assert.equal(await page.evaluate(() => typeof window.__pwned), 'undefined');
  await shots(page, 'admin-markup-as-text', '#requests');

  // typed into a form, then the language changes: the words change, what was typed stays
  await go(page, 'purposes');
  await page.click('#purposes button[data-key="new"]');
  await page.fill('#purposes [data-field="id"]', 'half.done');
  await page.fill('#purposes [data-field="name.en"]', 'Half done');
  await page.selectOption('#purposes [data-field="legal_basis"]', 'consent');
  await page.selectOption('#lang', 'en');
  await page.waitForFunction(() => document.getElementById('purposes-h').textContent === 'Purposes');
  assert.equal(await page.inputValue('#purposes [data-field="id"]'), 'half.done');
  assert.equal(await page.inputValue('#purposes [data-field="name.en"]'), 'Half done');
  assert.equal(await page.inputValue('#purposes [data-field="legal_basis"]'), 'consent');
  assert.equal(await page.textContent('#purposes form h3'), 'New purpose');
  assert.deepEqual(await page.$$eval('#nav a', (as) => as.map((a) => a.textContent)), ['Dashboard', 'Subjects', 'Evidence packs', 'Rights requests', 'Purposes', 'Notices', 'Policies', 'Properties', 'Topics', 'Channels', 'Destinations', 'Ledger', 'API keys']);
  await page.selectOption('#lang', 'zh-Hans');
  assert.equal(await page.textContent('#purposes-h'), '处理目的');
  await page.reload(); // the language chosen is kept
  await page.waitForSelector('#nav:not([hidden])');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-Hans');

  // the menu by keyboard: links, in order, the current one marked
  await page.focus('#nav a[data-screen="ledger"]');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.screen), 'keys');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#keys[aria-busy="false"]');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'keys-h', 'focus on the new screen\'s heading');
  assert.equal(await page.getAttribute('#nav a[data-screen="keys"]', 'aria-current'), 'page');
  page.assertClean();
});

// ---- API keys ------------------------------------------------------------------------------

test('API keys: created with scopes, the secret shown once and copied; revoked after a confirmation; revoking one\'s own key signs out', async (t) => {
  const env = await demoServer(t);
  const page = await consolePage(t, env, { locale: 'zh-CN', viewport: DESKTOP });
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.origin });
  const writes = sent(page, /^\/v1\/api-keys/);
  await signIn(page, env);
  await go(page, 'keys');
  const own = (await env.api('GET', '/v1/api-keys')).items[0].id;
  assert.match(await page.textContent(`#keys tr[data-key-id="${own}"]`), /当前登录.*admin.*有效/);

  await page.click('#keys button[data-key="new"]');
  await page.click('#keys button[data-key="create"]');
  assert.equal(await errorFor(page, '#keys', 'name').textContent(), '必填。');
  assert.equal(await errorFor(page, '#keys', 'scopes').textContent(), '至少选择一项权限。');
  assert.deepEqual(writes, []);
  await page.fill('#keys [data-field="name"]', 'CRM 后台');
  await page.check('#scope-consents-write');
  await page.check('#scope-decisions-read');
  await shots(page, 'admin-keys-create', '#keys');
  await page.click('#keys button[data-key="create"]');
  await page.waitForSelector('#keys .secret-panel');
  assert.deepEqual(writes[0].body, { name: 'CRM 后台', scopes: ['consents:write', 'decisions:read'] });
  const secret = await page.inputValue('#new-secret');
  assert.match(secret, /^cpm_[A-Za-z0-9_-]{43}$/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'secret-h');
  assert.match(await page.textContent('#keys .secret-panel'), /唯一一次显示/);
  await page.click('#keys button[data-key="copy"]');
  await statusIs(page, '已复制到剪贴板。');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  await shots(page, 'admin-keys-secret', '#keys');
  const made = (await env.api('GET', '/v1/api-keys')).items.find((k) => k.name === 'CRM 后台');
  assert.deepEqual(made.scopes, ['consents:write', 'decisions:read']);
  assert.equal((await request(env.server, 'GET', '/v1/decide?subject=a&purpose=marketing.sms', { key: secret })).status, 200, 'the secret works');
  await page.click('#keys button[data-key="done"]');
  assert.equal(await page.locator('#new-secret').count(), 0);
  assert.ok(!(await page.content()).includes(secret), 'gone from the page');
  assert.match(await page.textContent(`#keys tr[data-key-id="${made.id}"]`), /consents:write.*decisions:read.*有效/);

  // revoke: asked first; cancelling sends nothing
  await page.click(`#keys button[data-key="revoke:${made.id}"]`);
  await page.waitForSelector('#keys .confirm');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-h');
  assert.equal(await page.textContent('#confirm-h'), '确定吊销密钥“CRM 后台”吗？');
  await shots(page, 'admin-keys-confirm-revoke', '#keys');
  await page.click('#keys button[data-key="confirm-no"]');
  assert.equal(await page.locator('#keys .confirm').count(), 0);
  assert.equal(writes.length, 1);
  await page.click(`#keys button[data-key="revoke:${made.id}"]`);
  await page.click('#keys button[data-key="confirm-yes"]');
  await statusIs(page, '已吊销密钥“CRM 后台”。');
  const { method, path, body } = writes.at(-1);
  assert.deepEqual({ method, path, body }, { method: 'DELETE', path: `/v1/api-keys/${made.id}`, body: null });
  assert.equal(await page.getAttribute(`#keys tr[data-key-id="${made.id}"]`, 'data-revoked'), 'true');
  assert.equal((await request(env.server, 'GET', '/v1/decide?subject=a&purpose=marketing.sms', { key: secret })).status, 401);

  // one's own key: warned, then signed out
  const second = await newKey(env, 'second admin', ['admin']);
  const other = await consolePage(t, env, { locale: 'zh-CN' });
  await signIn(other, env, second.key);
  await go(other, 'keys');
  await other.click(`#keys button[data-key="revoke:${second.id}"]`);
  assert.match(await other.textContent('#keys .confirm'), /这是您当前登录所用的密钥/);
  await other.click('#keys button[data-key="confirm-yes"]');
  await other.waitForSelector('#signin');
  assert.equal(await other.isVisible('#session'), true);
  await statusIs(other, '已吊销密钥“second admin”。');
  page.assertClean();
  other.assertClean();
});

// ---- the rights requests queue --------------------------------------------------------------

/** A cpmd where one request was filed 30 days ago and one now (requestsServer). */
async function queueServer(t) {
  const env = await requestsServer(t, { 30: [['rq-old', { type: 'access', note: '请把我的订单记录发给我' }]] });
  const fresh = await env.api('POST', '/v1/subjects/rq-new/requests', { type: 'deletion', property: 'demo-shop' }, 201);
  return { env, old: env.filed['rq-old'], fresh };
}

test('rights requests: the queue with due dates, the overdue one marked; moving one on; a refusal needs its reason', async (t) => {
  const { env, old, fresh } = await queueServer(t);
  const page = await consolePage(t, env, { locale: 'zh-CN', viewport: DESKTOP }, [
    { path: '/v1/subjects/rq-old/preferences', status: 404 }, { path: '/v1/subjects/rq-old/consents', status: 404 },
  ]);
  const writes = sent(page, /^\/v1\/requests\//);
  await signIn(page, env);
  await go(page, 'requests');
  const items = page.locator('#requests li[data-request]');
  assert.deepEqual(await items.evaluateAll((li) => li.map((e) => [e.dataset.request, e.dataset.status, e.dataset.overdue])),
    [[old.id, 'received', 'true'], [fresh.id, 'received', 'false']], 'soonest due first; the old one overdue');
  const late = page.locator(`#requests li[data-request="${old.id}"]`);
  assert.match(await late.locator('.overdue-badge').textContent(), /^已逾期 \d+ 天$/);
  assert.match(await late.textContent(), /查阅、复制.*已收到.*提交于.*答复期限.*rq-old/);
  assert.match(await late.locator('.quote').textContent(), /请把我的订单记录发给我/);
  assert.equal(await page.locator(`#requests li[data-request="${fresh.id}"] .overdue-badge`).count(), 0);
  await shots(page, 'admin-requests-queue');

  await page.check('#rq-overdue');
  await page.waitForFunction(() => document.querySelectorAll('#requests li[data-request]').length === 1);
  assert.equal(await items.first().getAttribute('data-request'), old.id);
  await page.uncheck('#rq-overdue');
  await page.waitForFunction(() => document.querySelectorAll('#requests li[data-request]').length === 2);

  // refusing without a reason: the page says so beside the field, nothing sent
  await page.click(`#requests button[data-key="handle:${old.id}"]`);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'handle-h');
  await page.check('#st-refused');
  assert.equal(await page.isVisible('#requests [data-field="reason"]'), true);
  await page.click('#requests button[data-key="apply"]');
  assert.equal(await errorFor(page, '#requests', 'reason').textContent(), '拒绝请求必须说明理由（《个人信息保护法》第五十条）。');
  assert.deepEqual(writes, []);
  await shots(page, 'admin-requests-refuse-needs-reason', `#requests li[data-request="${old.id}"]`);
  await page.fill('#requests [data-field="reason"]', '无法核实申请人的身份');
  await page.fill('#requests [data-field="reply"]', '请携带身份证件到门店办理');
  await page.click('#requests button[data-key="apply"]');
  await statusIs(page, '请求已改为“已拒绝”。');
  assert.deepEqual(writes[0].body, { status: 'refused', reply: '请携带身份证件到门店办理', reason: '无法核实申请人的身份' });
  await page.waitForFunction(() => document.querySelectorAll('#requests li[data-request]').length === 1, null, { timeout: 5000 });
  const stored = await env.api('GET', `/v1/requests/${old.id}`);
  assert.equal(stored.status, 'refused');
  assert.equal(stored.reason, '无法核实申请人的身份');
  const event = (await ledgerEvents(env, 'rights.updated')).find((e) => e.request === old.id);
  assert.equal(event?.status, 'refused', 'the refusal is in the ledger');

  // the other: started
  await page.click(`#requests button[data-key="handle:${fresh.id}"]`);
  assert.equal(await page.isChecked('#st-in_progress'), true);
  assert.equal(await page.isHidden('#requests [data-field="reason"]'), true);
  await page.click('#requests button[data-key="apply"]');
  await statusIs(page, '请求已改为“处理中”。');
  assert.equal((await env.api('GET', `/v1/requests/${fresh.id}`)).status, 'in_progress');
  await page.waitForSelector(`#requests li[data-request="${fresh.id}"][data-status="in_progress"]`);

  // the finished ones, by filter, with the reason shown
  await page.selectOption('#rq-filter', 'refused');
  await page.waitForSelector(`#requests li[data-request="${old.id}"][data-status="refused"]`);
  assert.match(await page.textContent(`#requests li[data-request="${old.id}"]`), /拒绝理由：无法核实申请人的身份/);
  assert.equal(await page.isDisabled('#rq-overdue'), true, 'finished requests are never overdue');
  await shots(page, 'admin-requests-refused');

  // the subject, one click away
  await page.click(`#requests button[data-key="subject:${old.id}"]`);
  await page.waitForSelector('#subject-profile[aria-busy="false"]');
  assert.equal(await page.textContent('#subject-profile-h'), '个人 rq-old');
  assert.equal(await page.getAttribute('#nav a[data-screen="subjects"]', 'aria-current'), 'page');
  assert.ok(!page.url().includes('rq-old'), 'the subject is not put in the address');
  page.assertClean();
});

// ---- subjects ------------------------------------------------------------------------------

test('subjects: found by id and by phone; consents, preferences and the timeline with each event\'s notice version; the evidence bundle', async (t) => {
  const env = await demoServer(t);
  await decided(env, 'sub-1', [[SMS, 'given'], ['analytics', 'refused']]);
  const version = demo.notices.find((n) => n.id === POLICY.notice).versions.at(-1);
  await env.api('POST', `/v1/notices/${POLICY.notice}/versions`, { content: version.content, purposes: version.purposes, summary: 'v2' }, 201);
  await decided(env, 'sub-1', [['analytics', 'given']], 2);
  await env.api('POST', '/v1/subjects/sub-1/identities', { type: 'phone', value: '+8613800138000' }, 201);
  await env.api('PATCH', '/v1/subjects/sub-1/preferences', { channels: { sms: false }, contact_windows: [{ from: '19:00', to: '22:00' }] });
  for (let i = 0; i < 100; i++) { // the checkpoint covering the last event is signed within a second
    const res = await request(env.server, 'GET', '/v1/subjects/sub-1/evidence', { key: env.key });
    if (res.status === 200 && res.json.pending_events === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const page = await consolePage(t, env, { locale: 'zh-CN', viewport: DESKTOP, acceptDownloads: true }, [{ path: '/v1/subjects', status: 404 }]);
  await signIn(page, env);
  await go(page, 'subjects');
  await page.click('#subjects button[data-key="find"]');
  assert.equal(await errorFor(page, '#subjects', 'id').textContent(), '必填。');
  await page.fill('#subjects [data-key="sid"]', 'has space');
  await page.click('#subjects button[data-key="find"]');
  assert.match(await errorFor(page, '#subjects', 'id').textContent(), /不能有空格/);

  await page.fill('#subjects [data-key="sid"]', 'sub-1');
  await page.click('#subjects button[data-key="find"]');
  await page.waitForSelector('#subject-timeline[aria-busy="false"]');
  await loaded(page);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'subject-profile-h');
  assert.match(await page.textContent('#subject-profile'), /假名[0-9a-f]{64}.*手机号: \+8613800138000/);
  const row = (p) => page.locator(`#subject-consents tr[data-purpose="${p}"]`);
  // version 2 changed the SMS purpose materially: given under version 1, now to be asked again
  assert.match(await row(SMS).textContent(), /短信营销.*需重新同意.*privacy 第 1 版/);
  assert.match(await row('analytics').textContent(), /产品分析.*已同意.*privacy 第 2 版/, 'given later under version 2');
  assert.match(await page.textContent('#subject-preferences'), /短信: 关.*19:00–22:00/);
  const timeline = await page.$$eval('#subject-timeline li[data-type]', (lis) => lis.map((li) => [li.dataset.type, li.querySelector('.notice-ref')?.textContent || '']));
  const consentsSeen = timeline.filter(([type]) => type.startsWith('consent.'));
  assert.deepEqual(consentsSeen.map(([type, notice]) => [type, notice.replace(/ sha256 .*/, '')]), [
    ['consent.given', '隐私政策 privacy 第 2 版'],
    ['consent.reconsent_required', '隐私政策 privacy 第 2 版'],
    ['consent.refused', '隐私政策 privacy 第 1 版'],
    ['consent.given', '隐私政策 privacy 第 1 版'],
  ], 'newest first, each with the notice version it referred to');
  assert.match(await page.textContent('#subject-timeline li[data-type="consent.given"]'), /同意.*目的：产品分析 · 渠道：web \/ click.*sha256 [0-9a-f]{12}…/);
  assert.ok(timeline.some(([type]) => type === 'identity.linked') && timeline.some(([type]) => type === 'preferences.changed'));
  await shots(page, 'admin-subject');

  const [bundle] = await Promise.all([page.waitForEvent('download'), page.click('#subject button[data-key="evidence"]')]);
  assert.match(bundle.suggestedFilename(), /^evidence-sub-1-\d{4}-\d\d-\d\d\.json$/);
  const b = JSON.parse(readFileSync(await bundle.path(), 'utf8'));
  assert.equal(b.format, 'opencpm-evidence/1');
  assert.equal(b.subject, 'sub-1');
  assert.ok(b.events.length >= 5, 'every event is in the bundle');
  await statusIs(page, `已下载 ${bundle.suggestedFilename()}。`);

  // by phone, as a call centre would: the bare 11 digits find the same person; an unknown one says so beside the field
  await page.check('#by-identifier');
  await page.selectOption('#subjects [data-key="itype"]', 'phone');
  await page.fill('#subjects [data-key="ivalue"]', '13900139000');
  await page.click('#subjects button[data-key="find"]');
  await page.waitForSelector('#subjects .field-error[data-error-for="identifier_value"]');
  assert.equal(await errorFor(page, '#subjects', 'identifier_value').textContent(), '没有人使用这个标识。');
  await page.fill('#subjects [data-key="ivalue"]', '13800138000');
  await page.click('#subjects button[data-key="find"]');
  await page.waitForFunction(() => document.getElementById('subject-profile-h')?.textContent === '个人 sub-1');
  assert.ok(!page.url().includes('13800138000') && !page.url().includes('sub-1'), 'nothing personal in the address');
  await page.waitForSelector('#subject-timeline[aria-busy="false"]');
  await shots(page, 'admin-subject-by-phone', '#subjects');
  page.assertClean();
});
