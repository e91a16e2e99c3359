// SPDX-License-Identifier: Apache-2.0
// The preference center (web/center, served by cpmd at /center) in a real
// browser: Debian's Chromium driven by playwright-core, a cpmd of each
// test's own seeded with demo/demo.json (the harness: support.mjs). A person
// arrives with their end-user token in the fragment (or the query) as the
// company's site would link them. Checked: Simplified and Traditional
// Chinese and the language switch; the token leaving the address bar; the
// consents with their notice version; giving and withdrawing one purpose,
// separate consent apart, "withdraw all" as one action; the contact window
// presets against GET /v1/decide and the server's validation errors beside
// their fields; where the data went; receipts and the evidence bundle as
// files; rights requests (deletion confirmed first); the children a
// guardian looks after, each apart; the one-time code step; no token, a bad
// one, an expired one and one expiring while the page is open; a failing
// section alone showing its error; operator texts as text; keyboard-only
// use of the consents; the demo's links carrying the token. Any console
// error (but the answers a test expects to fail), page error or request to
// another origin fails the test. Screenshots of every section, on a phone
// (390×844) and a desktop (1280×900), go to tests/browser/artifacts/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { request } from '../api/harness.mjs';
import { startFakeSmsGateway } from '../api/support/fake_sms_gateway.mjs';
import { startReceiver } from '../api/support/receiver.mjs';
import { demo, demoServer, newPage, shot, useBrowser } from './support.mjs';

// What the demo configures, read from demo/demo.json rather than repeated.
const PROPERTY = demo.properties.find((p) => p.id === 'demo-shop');
const POLICY = demo.policies.find((p) => p.property === 'demo-shop' && p.region === 'CN');
const NOTICE = demo.notices.find((n) => n.id === POLICY.notice).versions.at(-1).content;
const PURPOSE = Object.fromEntries(demo.purposes.map((p) => [p.id, p]));
const ASKED = POLICY.purposes.map((p) => PURPOSE[p.purpose]).filter((p) => p.legal_basis === 'consent' && !p.necessary_for_service);
const isSeparate = (p) => p.consent_form === 'separate' || p.consent_form === 'written';
const ORDINARY = ASKED.filter((p) => !isSeparate(p)).map((p) => p.id);
const SEPARATE = ASKED.filter(isSeparate).map((p) => p.id);
const FIXED = POLICY.purposes.map((p) => PURPOSE[p.purpose]).filter((p) => p.necessary_for_service).map((p) => p.id);
// The window test needs a purpose and channel without quiet hours of their own
// (docs/DECISIONS.md: only sms has default hours): the demo's WeCom purpose.
const WECOM = ASKED.find((p) => p.id === 'marketing.wecom').id;
const SMS = ASKED.find((p) => p.id === 'marketing.sms').id;

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const STORE_KEY = 'cpm-center:token';

useBrowser();

// ---- helpers ---------------------------------------------------------------------------

/** The center's address for a person, the token in the fragment (or the query). */
function centerUrl(env, subject, { via = 'fragment', region = 'CN', token } = {}) {
  const q = new URLSearchParams({ token: token ?? env.token(subject) });
  if (region) q.set('region', region);
  return `${env.server.url}/center${via === 'query' ? '?' : '#'}${q}`;
}

/** The notice version 1 hash in a locale, as the popup would have quoted it. */
async function noticeSha(env, locale = 'zh-Hans') {
  const v = await env.api('GET', `/v1/notices/${POLICY.notice}/versions/1?locale=${locale}`);
  return v.content[locale].sha256;
}

/** Records decisions for subject with the API key, as the popup would have (notice version 1). */
async function decided(env, subject, decisions) {
  const body = {
    property: 'demo-shop', channel: 'web', locale: 'zh-Hans', method: 'click',
    notice: { id: POLICY.notice, version: 1, sha256: await noticeSha(env) },
    decisions: decisions.map(([purpose, decision]) => Object.assign({ purpose, decision },
      decision === 'given' && SEPARATE.includes(purpose) ? { separate: true } : {})),
  };
  return env.api('POST', `/v1/subjects/${encodeURIComponent(subject)}/consents`, body, 201);
}

/** Waits until every section has loaded (or shown its error). */
const loaded = (page) => page.waitForFunction(() => {
  const all = [...document.querySelectorAll('main > section')];
  return all.length > 0 && all.every((s) => s.getAttribute('aria-busy') === 'false');
});

const statusIs = (page, text) => page.waitForFunction((t) => document.getElementById('status').textContent === t, text);
const purpose = (page, id, scope = '#consents') => page.locator(`${scope} .purpose[data-purpose="${id}"]`).first();
const actButton = (page, id, scope = '#consents') => page.locator(`${scope} button[data-key="act:${id}:"]`);

/** The consents as {purpose: status}, read with the API key. */
async function ledger(env, subject) {
  const res = await request(env.server, 'GET', `/v1/subjects/${encodeURIComponent(subject)}/consents`, { key: env.key });
  return res.status === 404 ? {} : Object.fromEntries(res.json.consents.map((c) => [c.purpose, c.status]));
}

/**
 * Sections as element screenshots (ids, else every visible one and the
 * whole page), on a phone and on a desktop: center-<prefix>-<phone|desktop>-<id>.png.
 */
async function sectionShots(page, prefix, ids) {
  for (const [label, size] of [['phone', PHONE], ['desktop', DESKTOP]]) {
    await page.setViewportSize(size);
    for (const id of ids ?? await page.$$eval('main > section:not([hidden])', (s) => s.map((e) => e.id)))
      await shot(page.locator(`#${id}`), `center-${prefix}-${label}-${id}`);
    if (!ids) {
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot(page, `center-${prefix}-${label}-page`, { fullPage: true });
    }
  }
}

/** The POST bodies the page sends to path. */
function posts(page, path) {
  const seen = [];
  page.on('request', (r) => {
    if (r.method() !== 'GET' && new URL(r.url()).pathname === path) seen.push(JSON.parse(r.postData() || 'null'));
  });
  return seen;
}

/** An HS256 end-user token signed with the demo's (public) key, with the times given (seconds). */
function demoToken(subject, { iat, exp }) {
  const jwk = PROPERTY.token_keys[0];
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: jwk.kid, typ: 'JWT' })
    .setAudience('demo-shop').setSubject(subject).setIssuedAt(iat).setExpirationTime(exp)
    .sign(Buffer.from(jwk.k, 'base64url'));
}

// ---- tests -------------------------------------------------------------------------------

test('zh-CN: Simplified Chinese; given consents with their notice version; the token leaves the address bar', async (t) => {
  const env = await demoServer(t);
  await decided(env, 'cn-1', [[SMS, 'given'], [WECOM, 'given'], ['analytics', 'refused'], [SEPARATE[1], 'given']]);
  const page = await newPage(t, env, { locale: 'zh-CN', viewport: PHONE });
  const res = await page.goto(centerUrl(env, 'cn-1'));
  const csp = res.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self';/, 'scripts from cpmd only');
  assert.doesNotMatch(csp, /unsafe-inline/, 'nothing inline');
  assert.match(csp, /connect-src 'self'/);
  assert.equal(res.headers()['referrer-policy'], 'no-referrer');
  await loaded(page);

  assert.equal(new URL(page.url()).hash, '', 'the fragment is gone');
  assert.ok(!page.url().includes('token'), `no token in ${page.url()}`);
  assert.ok((await page.evaluate((k) => sessionStorage.getItem(k), STORE_KEY))?.startsWith('eyJ'), 'kept in sessionStorage');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-Hans');
  assert.equal(await page.textContent('h1'), '隐私偏好中心');
  assert.equal(await page.textContent('#consents-h'), '我的同意');
  assert.match(await page.textContent('#who'), /demo-shop.*cn-1/);

  const sms = purpose(page, SMS);
  assert.equal(await sms.locator('.pname').textContent(), PURPOSE[SMS].name['zh-Hans']);
  assert.equal(await sms.locator('.badge').textContent(), '已同意');
  assert.match(await sms.locator('.facts').textContent(), /隐私政策版本 1/, 'the notice version agreed to');
  assert.equal(await actButton(page, SMS).textContent(), '撤回');
  assert.equal(await purpose(page, 'analytics').locator('.badge').textContent(), '已拒绝');
  assert.equal(await actButton(page, 'analytics').textContent(), '同意');
  // separate consents apart, each with its own act; necessary ones always on, without a button
  for (const id of SEPARATE) assert.equal(await page.locator(`#consents .g-separate .purpose[data-purpose="${id}"]`).count(), 1, `${id} is in the separate group`);
  assert.equal(await page.locator('#consents .g-consent .purpose[data-purpose="ads.personalised"]').count(), 0);
  assert.equal(await actButton(page, SEPARATE[0]).textContent(), '我单独同意');
  assert.equal(await purpose(page, SEPARATE[1]).locator('.badge').textContent(), '已同意');
  for (const id of FIXED) {
    assert.equal(await page.locator(`#consents .g-fixed .purpose[data-purpose="${id}"]`).count(), 1, `${id} is always on`);
    assert.equal(await page.locator(`#consents .g-fixed .purpose[data-purpose="${id}"] button`).count(), 0);
  }
  await page.click('#consents .notice summary');
  assert.equal(await page.textContent('#consents .notice summary'), '隐私政策（版本 1）');
  assert.equal(await page.textContent('#consents .notice-text h4'), NOTICE['zh-Hans'].title);
  assert.equal(await page.textContent('#consents .notice-text p'), NOTICE['zh-Hans'].text);
  assert.equal(await page.textContent('#contact-h'), '联系我的方式');
  assert.equal(await page.textContent('#deliveries-h'), '我的数据去了哪里');
  assert.equal(await page.textContent('#receipts-h'), '凭证与证据');
  assert.equal(await page.textContent('#rights-h'), '我的权利');
  assert.equal(await page.isHidden('#wards'), true, 'no children: no such section');
  await sectionShots(page, 'zh-Hans');

  // the token lives in the tab: a reload needs no link
  await page.reload();
  await loaded(page);
  assert.equal(await purpose(page, SMS).locator('.badge').textContent(), '已同意');
  page.assertClean();

  // someone cpmd has never seen (their consents and preferences are 404): nothing decided, nothing to withdraw
  const first = await newPage(t, env, { locale: 'zh-CN', viewport: PHONE }, {
    expected: [{ path: '/v1/subjects/me/consents', status: 404 }, { path: '/v1/subjects/me/preferences', status: 404 }],
  });
  await first.goto(centerUrl(env, 'new-1'));
  await loaded(first);
  for (const p of ASKED) assert.equal(await purpose(first, p.id).locator('.badge').textContent(), '尚未选择', `${p.id}: nothing recorded yet`);
  assert.equal(await first.isDisabled('#consents button[data-key="withdraw-all"]'), true);
  assert.equal(await first.isChecked('#contact input[data-key="mode-any"]'), true, 'contact preferences: every default');
  assert.equal(await first.locator('main .error').count(), 0, 'no section failed');
  first.assertClean();
});

test('zh-HK: Traditional Chinese on a desktop, then English; the ?token= fallback', async (t) => {
  const env = await demoServer(t);
  await decided(env, 'hk-1', [[SMS, 'given']]);
  const page = await newPage(t, env, { locale: 'zh-HK', viewport: DESKTOP });
  await page.goto(centerUrl(env, 'hk-1', { via: 'query' }));
  await loaded(page);
  assert.ok(!page.url().includes('token'), `no token in ${page.url()}`);
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-Hant');
  assert.equal(await page.inputValue('#lang'), 'zh-Hant');
  assert.equal(await page.textContent('h1'), '私隱偏好中心');
  assert.equal(await purpose(page, SMS).locator('.pname').textContent(), PURPOSE[SMS].name['zh-Hant']);
  assert.equal(await purpose(page, SMS).locator('.badge').textContent(), '已同意');
  assert.match(await purpose(page, SMS).locator('.facts').textContent(), /私隱政策版本 1/);
  assert.equal(await page.textContent('#consents .notice summary'), '私隱政策（版本 1）');
  assert.equal(await page.textContent('#consents .notice-text h4'), NOTICE['zh-Hant'].title);
  assert.equal(await page.textContent('#contact-h'), '聯絡我的方式');
  assert.ok(!(await page.textContent('main')).includes(NOTICE['zh-Hans'].title), 'no Simplified notice');
  await sectionShots(page, 'zh-Hant');

  await page.selectOption('#lang', 'en');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await loaded(page);
  await page.waitForFunction((name) => document.querySelector('#consents .purpose .pname')?.textContent === name, PURPOSE[ASKED[0].id].name.en);
  assert.equal(await page.textContent('h1'), 'Privacy preference center');
  assert.equal(await purpose(page, SMS).locator('.pname').textContent(), PURPOSE[SMS].name.en);
  assert.equal(await purpose(page, SMS).locator('.badge').textContent(), 'Given');
  assert.equal(await page.textContent('#consents .notice-text h4'), NOTICE.en.title);
  assert.equal(await page.textContent('#contact-h'), 'How to contact me');
  assert.equal(await actButton(page, SMS).textContent(), 'Withdraw');
  await shot(page, 'center-en-desktop-page', { fullPage: true });
  page.assertClean();
});

test('"evenings only": decide denies at 10:00 Shanghai (outside_window) and allows at 20:00; the server\'s errors sit beside their fields', async (t) => {
  const env = await demoServer(t);
  await decided(env, 'win-1', [['analytics', 'refused']]);
  const page = await newPage(t, env, { locale: 'zh-CN', viewport: PHONE },
    { expected: [{ path: '/v1/subjects/me/preferences', status: 422 }] });
  const sent = posts(page, '/v1/subjects/me/consents');
  await page.goto(centerUrl(env, 'win-1'));
  await loaded(page);

  // give the WeCom purpose from the center: it quotes the notice shown
  await actButton(page, WECOM).click();
  await statusIs(page, `已同意：${PURPOSE[WECOM].name['zh-Hans']}。`);
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0].decisions, [{ purpose: WECOM, decision: 'given' }]);
  assert.deepEqual(sent[0].notice, { id: POLICY.notice, version: 1, sha256: await noticeSha(env) });
  assert.equal(sent[0].channel, 'web');
  assert.equal(sent[0].locale, 'zh-Hans');
  assert.equal(sent[0].region, 'CN', 'the region picks the policy the consent is held to');
  assert.equal((await ledger(env, 'win-1'))[WECOM], 'given');
  // the consent points to the center's display of that notice version (evidence of what was shown)
  const leaves = (await env.api('GET', '/v1/subjects/win-1/events')).items.map((i) => JSON.parse(i.leaf));
  const display = leaves.find((l) => l.type === 'notice.displayed');
  assert.ok(display, 'the display is recorded');
  assert.equal(sent[0].display, display.id);
  assert.equal(leaves.find((l) => l.type === 'consent.given').display, display.id);
  assert.equal(await purpose(page, WECOM).locator('.badge').textContent(), '已同意');

  // Shanghai has no DST: 10:00 local is 02:00Z, 20:00 is 12:00Z (tomorrow, so the consent is in force)
  const day = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
  const decide = (hourZ) => env.api('GET', `/v1/decide?subject=win-1&purpose=${WECOM}&channel=wecom&at=${day}T${hourZ}:00:00.000Z`);
  assert.equal((await decide('02')).allowed, true, 'any time, before the change');

  await page.check('#contact input[data-key="mode-evenings"]');
  await page.click('#contact button[data-key="save"]');
  await statusIs(page, '已保存。');
  const prefs = await env.api('GET', '/v1/subjects/win-1/preferences');
  assert.deepEqual(prefs.preferences.contact_windows.map((w) => [w.from, w.to]), [['19:00', '22:00']]);
  const morning = await decide('02');
  assert.equal(morning.allowed, false, JSON.stringify(morning));
  assert.deepEqual(morning.reasons, ['outside_window']);
  const evening = await decide('12');
  assert.equal(evening.allowed, true, JSON.stringify(evening));
  await shot(page.locator('#contact'), 'center-contact-evenings');

  // a custom window that ends where it starts: the server's message beside "to", nothing saved
  await page.check('#contact input[data-key="mode-custom"]');
  const to = page.locator('#contact input[data-field="contact_windows[0].to"]');
  await page.fill('#contact input[data-field="contact_windows[0].from"]', '10:00');
  await to.fill('10:00');
  await page.click('#contact button[data-key="save"]');
  await statusIs(page, '请检查标出的字段。');
  const error = page.locator('#contact .field-error[data-error-for="contact_windows[0].to"]');
  assert.match(await error.textContent(), /must differ/, 'the server\'s own message');
  assert.equal(await to.getAttribute('aria-invalid'), 'true');
  assert.ok((await to.getAttribute('aria-describedby')).includes(await error.getAttribute('id')), 'the field points to its error');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.field), 'contact_windows[0].to', 'focus on the field at fault');
  assert.equal(await to.evaluate((e) => e.closest('.field').contains(document.querySelector('.field-error'))), true, 'next to the field');
  await shot(page.locator('#contact'), 'center-contact-error');
  assert.deepEqual((await env.api('GET', '/v1/subjects/win-1/preferences')).preferences.contact_windows.map((w) => w.from), ['19:00'], 'nothing saved');
  await to.fill('12:00');
  await page.click('#contact button[data-key="save"]');
  await statusIs(page, '已保存。');
  assert.deepEqual((await env.api('GET', '/v1/subjects/win-1/preferences')).preferences.contact_windows.map((w) => [w.from, w.to]), [['10:00', '12:00']]);
  assert.equal(await page.locator('#contact .field-error').count(), 0);
  page.assertClean();
});

test('the other contact preferences are saved as shown: channels, time zone, caps, language, personalisation off', async (t) => {
  const env = await demoServer(t);
  await decided(env, 'pref-1', [[SMS, 'given']]);
  const page = await newPage(t, env, { locale: 'en-GB', viewport: PHONE });
  await page.goto(centerUrl(env, 'pref-1'));
  await loaded(page);
  await page.uncheck('#contact input[data-channel="sms"]');
  await page.selectOption('#contact select[data-field="time_zone"]', 'Asia/Hong_Kong');
  await page.check('#contact input[data-key="mode-weekends"]');
  await page.click('#contact button[data-key="c-add"]');
  await page.selectOption('#contact select[data-key="c0-channel"]', 'wecom');
  await page.fill('#contact input[data-key="c0-max"]', '2');
  await page.selectOption('#contact select[data-key="c0-per"]', 'day');
  await page.selectOption('#contact select[data-field="language"]', 'zh-Hant');
  await page.uncheck('#contact input[data-field="personalisation"]');
  // the configured topics of the asked purposes, by their names (demo/demo.json)
  const topics = await page.locator('#contact fieldset[data-field="topics"] label').allInnerTexts();
  const byId = [...demo.topics].sort((a, b) => a.id.localeCompare(b.id));
  assert.deepEqual(topics, byId.map((tp) => tp.name.en));
  await page.uncheck('#contact input[data-field="topics.coupons"]');
  await page.click('#contact button[data-key="save"]');
  await statusIs(page, 'Saved.');
  const p = (await env.api('GET', '/v1/subjects/pref-1/preferences')).preferences;
  assert.deepEqual(p.topics, { coupons: false });
  assert.equal(p.channels.sms, false);
  assert.equal(p.channels.wecom, true);
  assert.equal(p.time_zone, 'Asia/Hong_Kong');
  assert.deepEqual(p.contact_windows.map((w) => [w.days, w.from, w.to]), [[['sat', 'sun'], '00:00', '24:00']]);
  assert.deepEqual(p.frequency_caps, [{ channel: 'wecom', max: 2, per: 'day' }]);
  assert.equal(p.language, 'zh-Hant');
  assert.equal(p.personalisation, false);
  const sms = await env.api('GET', `/v1/decide?subject=pref-1&purpose=${SMS}&channel=sms`);
  assert.ok(sms.reasons.includes('channel_off'), JSON.stringify(sms));
  const coupons = await env.api('GET', `/v1/decide?subject=pref-1&purpose=${SMS}&topic=coupons`);
  assert.ok(coupons.reasons.includes('topic_off'), JSON.stringify(coupons));
  // shown again as saved
  await page.reload();
  await loaded(page);
  assert.equal(await page.isChecked('#contact input[data-key="mode-weekends"]'), true);
  assert.equal(await page.isChecked('#contact input[data-channel="sms"]'), false);
  assert.equal(await page.inputValue('#contact input[data-key="c0-max"]'), '2');
  assert.equal(await page.isChecked('#contact input[data-field="personalisation"]'), false);
  assert.equal(await page.isChecked('#contact input[data-field="topics.coupons"]'), false);
  assert.equal(await page.isChecked('#contact input[data-field="topics.events"]'), true);
  page.assertClean();
});

test('withdraw all in one click: one action, every purpose withdrawn, decide denies; then giving again, separate consent with its own act', async (t) => {
  const env = await demoServer(t);
  await decided(env, 'wa-1', ASKED.map((p) => [p.id, 'given']));
  const page = await newPage(t, env, { locale: 'zh-CN', viewport: PHONE });
  const sent = posts(page, '/v1/subjects/me/consents');
  await page.goto(centerUrl(env, 'wa-1'));
  await loaded(page);
  await shot(page.locator('#consents'), 'center-consents-all-given');
  await page.click('#consents button[data-key="withdraw-all"]');
  await statusIs(page, '已撤回全部同意。');
  assert.equal(sent.length, 1, 'one action');
  assert.deepEqual(sent[0].decisions.map((d) => [d.purpose, d.decision]).sort(), ASKED.map((p) => [p.id, 'withdrawn']).sort());
  assert.equal(sent[0].notice, undefined, 'withdrawing needs no notice');
  assert.deepEqual(await ledger(env, 'wa-1'), Object.fromEntries(ASKED.map((p) => [p.id, 'withdrawn'])));
  for (const p of ASKED) {
    const d = await env.decide('wa-1', p.id);
    assert.equal(d.allowed, false);
    assert.deepEqual(d.reasons, ['withdrawn'], `${p.id}: ${JSON.stringify(d)}`);
    assert.equal(await purpose(page, p.id).locator('.badge').textContent(), '已撤回');
  }
  assert.equal(await page.isDisabled('#consents button[data-key="withdraw-all"]'), true, 'nothing left to withdraw');
  await shot(page.locator('#consents'), 'center-consents-all-withdrawn');

  await actButton(page, SMS).click();
  await statusIs(page, `已同意：${PURPOSE[SMS].name['zh-Hans']}。`);
  await actButton(page, SEPARATE[0]).click();
  await statusIs(page, `已同意：${PURPOSE[SEPARATE[0]].name['zh-Hans']}。`);
  assert.deepEqual(sent.slice(1).map((b) => b.decisions), [[{ purpose: SMS, decision: 'given' }], [{ purpose: SEPARATE[0], decision: 'given', separate: true }]]);
  const now = await ledger(env, 'wa-1');
  assert.equal(now[SMS], 'given');
  assert.equal(now[SEPARATE[0]], 'given');
  assert.equal((await env.decide('wa-1', SMS)).allowed, true);

  // withdrawing one
  await actButton(page, SMS).click();
  await statusIs(page, `已撤回：${PURPOSE[SMS].name['zh-Hans']}。`);
  assert.deepEqual(sent.at(-1).decisions, [{ purpose: SMS, decision: 'withdrawn' }]);
  assert.equal((await ledger(env, 'wa-1'))[SMS], 'withdrawn');
  page.assertClean();
});

test('keyboard only: Tab and Shift+Tab reach every control of the consents, Enter and Space operate them, focus stays visible and in place', async (t) => {
  const env = await demoServer(t);
  await decided(env, 'kb-1', [[SMS, 'given'], ['analytics', 'refused']]);
  const page = await newPage(t, env, { locale: 'zh-CN', viewport: DESKTOP });
  await page.goto(centerUrl(env, 'kb-1'));
  await loaded(page);
  const controls = await page.$$eval('#consents summary, #consents button:not([disabled]), #consents input, #consents select, #consents a[href]',
    (els) => els.map((e) => e.dataset.key || e.tagName));
  assert.ok(controls.length >= ASKED.length + 2, `controls: ${controls}`);
  const focused = () => page.evaluate(() => {
    const a = document.activeElement;
    const s = getComputedStyle(a);
    return { inside: !!a.closest('#consents'), key: a.dataset.key || a.tagName, outline: `${s.outlineStyle} ${s.outlineWidth}` };
  });

  const forward = new Set();
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const f = await focused();
    if (f.inside) {
      forward.add(f.key);
      assert.notEqual(f.outline.split(' ')[0], 'none', `${f.key} shows where focus is (${f.outline})`);
    } else if (forward.size) break;
  }
  for (const c of controls) assert.ok(forward.has(c), `Tab reaches ${c} (went through ${[...forward]})`);
  const backward = new Set();
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Shift+Tab');
    const f = await focused();
    if (f.inside) backward.add(f.key);
    else if (backward.size) break;
  }
  for (const c of controls) assert.ok(backward.has(c), `Shift+Tab reaches ${c}`);

  const tabTo = async (key) => {
    for (let i = 0; i < 80 && (await focused()).key !== key; i++) await page.keyboard.press('Tab');
    assert.equal((await focused()).key, key, `Tab reaches ${key}`);
  };
  // Enter opens the notice
  await tabTo('notice');
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute('#consents details.notice', 'open'), '', 'Enter opens the notice');
  // Enter withdraws; focus stays on the purpose's button, which now gives
  await tabTo(`act:${SMS}:`);
  await page.keyboard.press('Enter');
  await statusIs(page, `已撤回：${PURPOSE[SMS].name['zh-Hans']}。`);
  assert.equal((await ledger(env, 'kb-1'))[SMS], 'withdrawn');
  assert.equal((await focused()).key, `act:${SMS}:`, 'focus stays in place after the redraw');
  assert.equal(await actButton(page, SMS).textContent(), '重新同意');
  // Space gives it again
  await page.keyboard.press('Space');
  await statusIs(page, `已同意：${PURPOSE[SMS].name['zh-Hans']}。`);
  assert.equal((await ledger(env, 'kb-1'))[SMS], 'given');
  // a separate consent, with Space
  await tabTo(`act:${SEPARATE[0]}:`);
  await page.keyboard.press('Space');
  await statusIs(page, `已同意：${PURPOSE[SEPARATE[0]].name['zh-Hans']}。`);
  assert.equal((await ledger(env, 'kb-1'))[SEPARATE[0]], 'given');
  // and "withdraw all" with Enter
  await tabTo('withdraw-all');
  await shot(page.locator('#consents'), 'center-keyboard-withdraw-all-focused');
  await page.keyboard.press('Enter');
  await statusIs(page, '已撤回全部同意。');
  const after = await ledger(env, 'kb-1');
  assert.equal(after[SMS], 'withdrawn');
  assert.equal(after[SEPARATE[0]], 'withdrawn');
  assert.equal(after.analytics, 'refused', 'a refusal is left as it was');
  assert.equal((await focused()).inside, true, 'focus is still in the section');
  page.assertClean();
});

test('where my data went: each system and when it acknowledged', async (t) => {
  const env = await demoServer(t, { env: { CPM_OUTBOUND_ALLOW: '127.0.0.1/32' } });
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const receiver = await startReceiver({ secret });
  t.after(() => receiver.stop());
  await env.api('POST', '/v1/destinations', { id: 'crm-hook', name: 'CRM', kind: 'webhook', endpoint: receiver.url, secret }, 201);
  await decided(env, 'dlv-1', [[SMS, 'given'], ['analytics', 'refused']]);
  for (let i = 0; i < 100; i++) {
    const log = await env.api('GET', '/v1/subjects/dlv-1/deliveries');
    if (log.items.filter((d) => d.outcome === 'delivered').length >= 2) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const page = await newPage(t, env, { locale: 'zh-CN', viewport: PHONE });
  await page.goto(centerUrl(env, 'dlv-1'));
  await loaded(page);
  const dest = page.locator('#deliveries .destination[data-destination="crm-hook"]');
  assert.equal(await dest.locator('h3').textContent(), '系统：crm-hook');
  assert.match(await dest.locator('.note').textContent(), /^最近一次确认收到：/);
  assert.equal(await dest.locator('li[data-outcome="delivered"]').count(), 2);
  assert.match(await dest.locator('li').first().textContent(), /已收到/);
  assert.match(await dest.textContent(), /同意（记录 #\d+）/);
  await sectionShots(page, 'zh-Hans', ['deliveries']);
  page.assertClean();
});

test('a receipt and the evidence bundle download as files', async (t) => {
  const env = await demoServer(t);
  const recorded = await decided(env, 'dl-1', [[SMS, 'given']]);
  const event = recorded.events[0].id;
  for (let i = 0; i < 100; i++) { // the checkpoint covering it is signed within a second
    const res = await request(env.server, 'GET', '/v1/subjects/dl-1/evidence', { key: env.key });
    if (res.status === 200 && res.json.events.length) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const page = await newPage(t, env, { locale: 'zh-CN', viewport: PHONE, acceptDownloads: true });
  await page.goto(centerUrl(env, 'dl-1'));
  await loaded(page);
  const row = page.locator(`#receipts li[data-event="${event}"]`);
  assert.match(await row.textContent(), new RegExp(`同意 · ${PURPOSE[SMS].name['zh-Hans']}`));

  const [receipt] = await Promise.all([page.waitForEvent('download'), row.locator('button').click()]);
  assert.equal(receipt.suggestedFilename(), `receipt-demo-shop-${SMS}-${event}.json`);
  const r = JSON.parse(readFileSync(await receipt.path(), 'utf8'));
  assert.equal(r.record_id, event);
  assert.equal(r.purpose.purpose_id, SMS);
  assert.equal(r.consent_status, 'given');
  assert.equal(r.privacy_notice.version, 1);
  await statusIs(page, `已下载 ${receipt.suggestedFilename()}。`);

  const [bundle] = await Promise.all([page.waitForEvent('download'), page.click('#receipts button[data-key="evidence"]')]);
  assert.match(bundle.suggestedFilename(), /^evidence-demo-shop-\d{4}-\d\d-\d\d\.json$/);
  const b = JSON.parse(readFileSync(await bundle.path(), 'utf8'));
  assert.equal(b.format, 'opencpm-evidence/1');
  assert.equal(b.subject, 'dl-1');
  assert.ok(b.events.some((e) => JSON.parse(e.leaf).id === event), 'the event is in the bundle');
  await sectionShots(page, 'zh-Hans', ['receipts']);
  page.assertClean();
});

test('my rights: a request is filed and listed; deletion is confirmed first', async (t) => {
  const env = await demoServer(t);
  await decided(env, 'rt-1', [[SMS, 'given']]);
  const page = await newPage(t, env, { locale: 'zh-CN', viewport: PHONE });
  const sent = posts(page, '/v1/subjects/me/requests');
  await page.goto(centerUrl(env, 'rt-1'));
  await loaded(page);
  assert.equal(await page.textContent('#rights .empty'), '您还没有提交过申请。');

  await page.check('#rtype-portability');
  await page.fill('#rights textarea', '请导出为 JSON');
  await page.click('#rights button[data-key="send"]');
  await statusIs(page, '您的申请已提交。');
  assert.deepEqual(sent, [{ type: 'portability', note: '请导出为 JSON' }]);
  const item = page.locator('#rights li[data-type="portability"]');
  assert.equal(await item.getAttribute('data-status'), 'received');
  assert.match(await item.textContent(), /导出我的数据.*已收到.*提交于.*答复期限：/);
  const stored = (await env.api('GET', '/v1/subjects/rt-1/requests')).requests;
  assert.deepEqual(stored.map((r) => [r.type, r.status, r.note]), [['portability', 'received', '请导出为 JSON']]);
  assert.ok(Date.parse(stored[0].due_at) > Date.now(), 'due later');

  // deletion: nothing is sent before the person confirms; cancelling sends nothing
  await page.check('#rtype-deletion');
  await page.click('#rights button[data-key="send"]');
  await page.waitForSelector('#rights .confirm');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-h', 'focus on the question');
  assert.equal(await page.textContent('#confirm-h'), '确定要删除您的个人信息吗？');
  await shot(page.locator('#rights'), 'center-rights-confirm-deletion');
  await page.click('#rights button[data-key="confirm-no"]');
  assert.equal(await page.locator('#rights .confirm').count(), 0);
  assert.equal(sent.length, 1, 'cancelled: nothing sent');
  await page.click('#rights button[data-key="send"]');
  await page.click('#rights button[data-key="confirm-yes"]');
  await statusIs(page, '您的申请已提交。');
  assert.deepEqual(sent[1], { type: 'deletion' });
  assert.equal(await page.locator('#rights li[data-request]').count(), 2);
  assert.deepEqual((await env.api('GET', '/v1/subjects/rt-1/requests')).requests.map((r) => r.type).sort(), ['deletion', 'portability']);
  await sectionShots(page, 'zh-Hans', ['rights']);
  page.assertClean();
});

test('a guardian sees each child in its own tab and decides for it, apart from their own settings', async (t) => {
  const env = await demoServer(t);
  for (const kid of ['kid-1', 'kid-2']) {
    await env.api('PUT', `/v1/subjects/${kid}`, { age_status: 'child_under_14' });
    await env.api('POST', `/v1/subjects/${kid}/guardians`, { guardian_id: 'mum-1', relation: 'parent' }, 201);
  }
  await decided(env, 'mum-1', [[SMS, 'given']]);
  const page = await newPage(t, env, { locale: 'zh-CN', viewport: PHONE },
    { expected: [{ path: /^\/v1\/subjects\/kid-[12]\/consents$/, status: 404 }] });
  await page.goto(centerUrl(env, 'mum-1'));
  await loaded(page);
  await page.waitForSelector('#wards:not([hidden]) [role="tab"]');
  const tabs = page.locator('#wards [role="tab"]');
  assert.equal(await tabs.count(), 2);
  assert.equal(await tabs.nth(0).textContent(), 'kid-1（父母）');
  assert.equal(await tabs.nth(0).getAttribute('aria-selected'), 'true');
  const panel = '#wards [role="tabpanel"][data-ward="kid-1"]';
  await page.waitForSelector(`${panel} .purpose[data-purpose="${SMS}"]`);
  assert.equal(await page.textContent(`${panel} h3`), 'kid-1 的同意');
  assert.equal(await purpose(page, SMS, panel).locator('.badge').textContent(), '尚未选择');

  await actButton(page, SMS, panel).click();
  await statusIs(page, `已同意：${PURPOSE[SMS].name['zh-Hans']}。`);
  assert.equal((await ledger(env, 'kid-1'))[SMS], 'given');
  const leaf = (await env.api('GET', '/v1/subjects/kid-1/events')).items.map((i) => JSON.parse(i.leaf)).find((l) => l.type === 'consent.given');
  assert.equal(leaf.actor, 'guardian', 'recorded as the guardian\'s act');
  assert.equal(leaf.guardian, (await env.api('GET', '/v1/subjects/mum-1')).pseudonym);
  assert.equal((await env.api('GET', `/v1/decide?subject=kid-1&purpose=${SMS}`)).allowed, true);
  assert.deepEqual(await ledger(env, 'mum-1'), { [SMS]: 'given' }, 'the guardian\'s own consents untouched');
  assert.deepEqual(await ledger(env, 'kid-2'), {}, 'nor the other child\'s');

  // the child's contact preferences, apart from the guardian's
  await page.check(`${panel} input[data-key="mode-evenings"]`);
  await page.click(`${panel} button[data-key="save"]`);
  await statusIs(page, '已保存。');
  assert.equal((await env.api('GET', '/v1/subjects/kid-1/preferences')).preferences.contact_windows[0].from, '19:00');
  assert.equal((await env.api('GET', '/v1/subjects/mum-1/preferences')).preferences.contact_windows, undefined);
  await sectionShots(page, 'zh-Hans', ['wards']);

  // arrow keys move between the children
  await tabs.nth(0).focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.ward), 'kid-2');
  assert.equal(await tabs.nth(1).getAttribute('aria-selected'), 'true');
  await page.waitForSelector(`#wards [role="tabpanel"][data-ward="kid-2"] .purpose[data-purpose="${SMS}"]`);
  page.assertClean();
});

test('a section that fails shows its own error and a retry, the others load; children\'s part hidden when not served', async (t) => {
  const env = await demoServer(t);
  await decided(env, 'err-1', [[SMS, 'given']]);
  const page = await newPage(t, env, { locale: 'zh-CN', viewport: PHONE }, {
    expected: [{ path: '/v1/subjects/me/deliveries', status: 500 }, { path: '/v1/subjects/me/wards', status: 404 }],
  });
  let failing = true;
  await page.route(/\/v1\/subjects\/me\/deliveries/, (route) => (failing
    ? route.fulfill({ status: 500, contentType: 'application/problem+json', body: JSON.stringify({ status: 500, code: 'internal_error', detail: 'the store failed' }) })
    : route.continue()));
  await page.route(/\/v1\/subjects\/me\/wards$/, (route) => route.fulfill({
    status: 404, contentType: 'application/problem+json', body: JSON.stringify({ status: 404, code: 'not_found', detail: 'no route for /v1/subjects/me/wards' }),
  }));
  await page.goto(centerUrl(env, 'err-1'));
  await loaded(page);
  assert.equal(await page.textContent('#deliveries .error'), '无法加载这一部分：the store failed');
  assert.equal(await purpose(page, SMS).locator('.badge').textContent(), '已同意', 'the consents loaded all the same');
  assert.equal(await page.isVisible('#contact form'), true);
  assert.equal(await page.isHidden('#wards'), true);
  assert.equal(await page.isHidden('#toc a[href="#wards"]'), true);
  await shot(page.locator('#deliveries'), 'center-deliveries-error');
  failing = false;
  await page.click('#deliveries button[data-key="retry"]');
  await page.waitForSelector('#deliveries .empty');
  assert.equal(await page.textContent('#deliveries .empty'), '您的选择尚未发送到其他系统。');
  page.assertClean();
});

test('operator and notice texts containing markup are shown as text', async (t) => {
  const env = await demoServer(t);
  const payload = '<img src=x onerror="window.__pwned=1">';
  const script = '<script>window.__pwned=2</script>';
  const everywhere = { 'zh-Hans': payload, 'zh-Hant': payload, en: payload };
  await env.api('PATCH', `/v1/purposes/${SMS}`, { name: everywhere, description: everywhere });
  const version = demo.notices.find((n) => n.id === POLICY.notice).versions.at(-1);
  const content = Object.fromEntries(Object.keys(version.content).map((l) => [l, { title: payload, text: `${script}${payload}` }]));
  await env.api('POST', `/v1/notices/${POLICY.notice}/versions`, { content, purposes: version.purposes, summary: 'markup' }, 201);
  await decided(env, 'xss-1', [['analytics', 'refused']]);
  const page = await newPage(t, env, { locale: 'zh-CN', viewport: PHONE });
  await page.goto(centerUrl(env, 'xss-1'));
  await loaded(page);
  await page.click('#consents .notice summary');
  assert.equal(await purpose(page, SMS).locator('.pname').textContent(), payload);
  assert.equal(await purpose(page, SMS).locator('.note').textContent(), payload);
  assert.equal(await page.textContent('#consents .notice-text h4'), payload);
  assert.equal(await page.textContent('#consents .notice-text p'), `${script}${payload}`);
  assert.equal(await page.locator('main img, main script').count(), 0, 'no element was made of it');
  await shot(page.locator('#consents'), 'center-markup-as-text');
  assert.equal(await page.evaluate(() => typeof window.__pwned), 'undefined');
  page.assertClean();
});

test('without a token, with a damaged one or an expired one: a clear message and no call; one expiring while open ends the session', async (t) => {
  const env = await demoServer(t);
  const page = await newPage(t, env, { locale: 'zh-CN', viewport: PHONE });
  const calls = [];
  page.on('request', (r) => new URL(r.url()).pathname.startsWith('/v1/') && calls.push(r.url()));
  await page.goto(`${env.server.url}/center`);
  await page.waitForSelector('#gate');
  assert.equal(await page.textContent('#gate h2'), '请从公司的网站或 App 打开本页');
  assert.match(await page.textContent('#gate p'), /已登录的网站或 App/);
  await shot(page, 'center-no-token');

  await page.goto(`${env.server.url}/center#token=not-a-token`);
  await page.reload(); // a fragment change alone does not load the page again
  await page.waitForSelector('#gate');
  assert.equal(await page.textContent('#gate h2'), '链接无效');

  const now = Math.floor(Date.now() / 1000);
  await page.goto(`${env.server.url}/center#token=${await demoToken('old-1', { iat: now - 600, exp: now - 60 })}&region=CN`);
  await page.reload();
  await page.waitForSelector('#gate');
  assert.equal(await page.textContent('#gate h2'), '本次访问已过期');
  assert.equal(await page.isVisible('#session'), true);
  assert.deepEqual(calls, [], 'nothing was asked of the server');
  await shot(page, 'center-expired');

  // valid for three seconds: it works, then it says the session ended and sends nothing more
  await decided(env, 'brief-1', [[SMS, 'given']]);
  const brief = await newPage(t, env, { locale: 'zh-CN', viewport: PHONE });
  const sent = posts(brief, '/v1/subjects/me/consents');
  await brief.goto(centerUrl(env, 'brief-1', { token: await demoToken('brief-1', { iat: now, exp: now + 3 }) }));
  await loaded(brief);
  assert.equal(await purpose(brief, SMS).locator('.badge').textContent(), '已同意');
  await brief.waitForSelector('#session:not([hidden])', { timeout: 10000 });
  assert.match(await brief.textContent('#session'), /本次访问已过期/);
  await actButton(brief, SMS).click();
  await statusIs(brief, '保存失败：本次访问已过期');
  assert.deepEqual(sent, [], 'nothing sent once expired');
  assert.equal(await brief.evaluate((k) => sessionStorage.getItem(k), STORE_KEY), null, 'the token is forgotten');
  page.assertClean();
  brief.assertClean();
});

test('a one-time code is asked before giving when the policy requires it; withdrawing needs none', async (t) => {
  const env = await demoServer(t, { env: { CPM_OUTBOUND_ALLOW: '127.0.0.1/32' } });
  const token = 'sk_test_center-otp';
  const gateway = await startFakeSmsGateway({ token });
  t.after(() => gateway.stop());
  await env.api('POST', '/v1/destinations', { id: 'otp-sms', name: 'OTP SMS', kind: 'sms_gateway', endpoint: gateway.url, secret: token }, 201);
  await env.api('PATCH', '/v1/properties/demo-shop', { otp_destination: 'otp-sms' });
  await env.api('PATCH', `/v1/policies/${POLICY.id}`, { otp_required: true });
  const phone = '+8613800138000';
  await env.api('POST', '/v1/subjects/otp-1/identities', { type: 'phone', value: phone }, 201);
  const page = await newPage(t, env, { locale: 'zh-CN', viewport: PHONE }, {
    expected: [{ path: /^\/v1\/otp\/challenges\/[^/]+\/verify$/, status: 422 }],
  });
  const sent = posts(page, '/v1/subjects/me/consents');
  await page.goto(centerUrl(env, 'otp-1'));
  await loaded(page);
  for (const p of ASKED) assert.equal(await purpose(page, p.id).locator('.badge').textContent(), '尚未选择', `${p.id}: nothing recorded yet`);
  assert.equal(await page.isDisabled('#consents button[data-key="withdraw-all"]'), true);
  await actButton(page, SMS).click();
  await page.waitForSelector('#consents .otp input[data-key="otp-code"]');
  assert.match(await page.textContent('#consents .otp'), /验证码已发送至 \+86 138\*{4}8000/);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.key), 'otp-code', 'focus on the code');
  assert.deepEqual(sent, [], 'nothing recorded before the code');
  const code = await gateway.waitFor(() => gateway.codeFor(phone));
  await page.fill('#consents .otp input', code === '000000' ? '000001' : '000000');
  await page.click('#consents .otp button[type="submit"]');
  await page.waitForSelector('#consents .otp .field-error');
  assert.match(await page.textContent('#consents .otp .field-error'), /验证码不正确，还可尝试 4 次/);
  await shot(page.locator('#consents'), 'center-otp-wrong-code');
  await page.fill('#consents .otp input', code);
  await page.click('#consents .otp button[type="submit"]');
  await statusIs(page, `已同意：${PURPOSE[SMS].name['zh-Hans']}。`);
  assert.equal(sent.length, 1);
  assert.match(sent[0].otp.challenge, /^otp_[0-9a-f]{32}$/);
  assert.equal((await ledger(env, 'otp-1'))[SMS], 'given');
  const leaf = (await env.api('GET', '/v1/subjects/otp-1/events')).items.map((i) => JSON.parse(i.leaf)).find((l) => l.type === 'consent.given');
  assert.equal(leaf.otp?.challenge, sent[0].otp.challenge, `the leaf records the verification: ${JSON.stringify(leaf)}`);

  const codes = gateway.messages.length;
  await actButton(page, SMS).click();
  await statusIs(page, `已撤回：${PURPOSE[SMS].name['zh-Hans']}。`);
  assert.equal(sent.at(-1).otp, undefined);
  assert.equal(gateway.messages.length, codes, 'no code for a withdrawal');
  assert.equal((await ledger(env, 'otp-1'))[SMS], 'withdrawn');
  page.assertClean();
});

test('the demo shop links to the center with the visitor\'s token', async (t) => {
  const env = await demoServer(t);
  // decided already, so the popup stays closed and the links can be clicked
  await decided(env, 'shop-1', ASKED.map((p) => [p.id, p.id === SMS ? 'given' : 'refused']));
  const page = await newPage(t, env, { locale: 'zh-CN', viewport: DESKTOP });
  await page.goto(env.pageUrl('shop-1'));
  const links = await page.$$eval('a[href^="/center"]', (as) => as.map((a) => a.getAttribute('href')));
  assert.equal(links.length, 2);
  for (const href of links) assert.match(href, /^\/center#token=eyJ[\w-]+\.[\w-]+\.[\w-]+&region=CN$/);
  await page.click('header a[href^="/center"]');
  await page.waitForURL(/\/center$/);
  await loaded(page);
  assert.match(await page.textContent('#who'), /shop-1/);
  assert.equal(await purpose(page, SMS).locator('.badge').textContent(), '已同意');

  const anonymous = await newPage(t, env, { locale: 'zh-CN', viewport: DESKTOP });
  await anonymous.goto(`${env.server.url}/demo`);
  assert.deepEqual(await anonymous.$$eval('a[href^="/center"]', (as) => as.map((a) => a.getAttribute('href'))), ['/center', '/center']);
  page.assertClean();
  anonymous.assertClean();
});
