// SPDX-License-Identifier: Apache-2.0
// The consent popup in a real browser (Debian's Chromium driven by
// playwright-core): each test starts its own cpmd seeded with demo/demo.json,
// mints a visitor's token with `cpm token` and opens cpmd's /demo page, which
// mounts web/widget/cpm-widget.js. Checked: Simplified and Traditional
// Chinese texts, nothing pre-ticked, refusing as easy as accepting, the
// ledger after each button, the language switch, keyboard-only use (focus
// trap, Esc records nothing), no popup once decided, and operator texts
// shown as text. Any console error, page error, cpm:error or request to
// another origin fails the test (the harness: support.mjs). Screenshots go
// to tests/browser/artifacts/.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../api/harness.mjs';
import { demo, demoServer, newPage, shot, useBrowser } from './support.mjs';

// What the demo configures, read from demo/demo.json rather than repeated.
const POLICY = demo.policies.find((p) => p.property === 'demo-shop' && p.region === 'CN'); // the page says data-region="CN"
const NOTICE = demo.notices.find((n) => n.id === POLICY.notice).versions.at(-1).content;
const PURPOSE = Object.fromEntries(demo.purposes.map((p) => [p.id, p]));
// The purposes the popup asks: consent-based, not necessary for the service.
const ASKED = POLICY.purposes.map((p) => PURPOSE[p.purpose]).filter((p) => p.legal_basis === 'consent' && !p.necessary_for_service);
const ORDINARY = ASKED.filter((p) => !p.consent_form || p.consent_form === 'general').map((p) => p.id);
const MARKETING = ASKED.find((p) => p.id.startsWith('marketing.')).id;

useBrowser();

const dialogText = (page) => page.locator('#cpm-dialog').innerText();
const box = (page, selector) => page.locator(selector).boundingBox();
const checkbox = (page, id) => page.locator(`.cpm-purpose[data-purpose="${id}"] input`);

/** Refusing is as easy as accepting: the buttons have one size. */
async function assertSameSize(page) {
  const refuse = await box(page, '#cpm-refuse-all');
  const accept = await box(page, '#cpm-accept-all');
  assert.ok(refuse && accept, 'both buttons are laid out');
  assert.ok(Math.abs(refuse.width - accept.width) < 1, `same width: refuse ${refuse.width}, accept ${accept.width}`);
  assert.ok(Math.abs(refuse.height - accept.height) < 1, `same height: refuse ${refuse.height}, accept ${accept.height}`);
  const style = (sel) => page.$eval(sel, (e) => { const s = getComputedStyle(e); return [s.backgroundColor, s.color, s.fontSize, s.fontWeight].join(); });
  assert.equal(await style('#cpm-refuse-all'), await style('#cpm-accept-all'), 'same style');
}

/** Every asked purpose has a checkbox, and none is ticked. */
async function assertNothingTicked(page) {
  for (const p of ASKED) assert.equal(await checkbox(page, p.id).isChecked(), false, `${p.id} is not pre-ticked`);
  assert.equal(await page.locator('.cpm-purpose input:enabled').count(), ASKED.length, 'one box per asked purpose');
  assert.equal(await page.locator('.cpm-purpose input:enabled:checked').count(), 0);
}

/** Waits until the page has submitted and the popup closed. */
async function waitSaved(page) {
  await page.waitForSelector('#cpm-dialog', { state: 'detached' });
  await page.waitForSelector('#saved', { state: 'visible' }); // the demo's answer to cpm:updated
}

const focusInDialog = (page) => page.evaluate(() => {
  const d = document.getElementById('cpm-dialog');
  const a = document.activeElement;
  return { inside: !!d && d.contains(a), id: a && (a.id || (a.closest('.cpm-purpose') || {}).dataset?.purpose || a.tagName) };
});

test('zh-CN first visit: Simplified Chinese, nothing ticked, refuse all in one click is recorded', async (t) => {
  const env = await demoServer(t);
  const page = await newPage(t, env, { locale: 'zh-CN' });
  await page.goto(env.pageUrl('visitor-cn'));
  const dialog = await page.waitForSelector('#cpm-dialog');
  assert.equal(await dialog.getAttribute('role'), 'dialog');
  assert.equal(await dialog.getAttribute('aria-modal'), 'true');
  assert.equal(await dialog.getAttribute('lang'), 'zh-Hans');
  const text = await dialogText(page);
  assert.ok(text.includes(NOTICE['zh-Hans'].title), 'the notice title in Simplified Chinese');
  assert.ok(text.includes(NOTICE['zh-Hans'].text.slice(0, 20)), 'the notice text in Simplified Chinese');
  for (const p of ASKED)
    assert.ok((await page.locator(`.cpm-purpose[data-purpose="${p.id}"]`).innerText()).includes(p.name['zh-Hans']), `${p.id}: ${p.name['zh-Hans']}`);
  assert.equal(await page.locator('#cpm-refuse-all').innerText(), '全部拒绝');
  await assertNothingTicked(page);
  await assertSameSize(page);
  await shot(page, 'zh-CN-before');

  await page.click('#cpm-refuse-all');
  await waitSaved(page);
  await shot(page, 'zh-CN-after-refuse-all');

  const ledger = await env.ledger('visitor-cn');
  assert.deepEqual(ledger, Object.fromEntries(ASKED.map((p) => [p.id, 'refused'])), 'every purpose asked is refused');
  // the display is in the ledger, with what was shown; each decision points to it
  const events = (await request(env.server, 'GET', '/v1/subjects/visitor-cn/events', { key: env.key })).json.items.map((e) => e.event);
  const display = events.find((e) => e.type === 'notice.displayed');
  assert.equal(display.display.locale, 'zh-Hans');
  assert.equal(display.display.property, 'demo-shop');
  assert.ok(events.filter((e) => e.type === 'consent.refused').every((e) => e.display === display.id), 'decisions point to the display');
  const d = await env.decide('visitor-cn', MARKETING);
  assert.equal(d.allowed, false);
  assert.deepEqual(d.reasons, ['refused']);
  page.assertClean();
});

test('zh-HK: Traditional Chinese; "Accept selected" gives the one ticked purpose and refuses the rest', async (t) => {
  const env = await demoServer(t);
  const page = await newPage(t, env, { locale: 'zh-HK' });
  await page.goto(env.pageUrl('visitor-hk'));
  const dialog = await page.waitForSelector('#cpm-dialog');
  assert.equal(await dialog.getAttribute('lang'), 'zh-Hant');
  const text = await dialogText(page);
  assert.ok(text.includes(NOTICE['zh-Hant'].title), 'the notice title in Traditional Chinese');
  assert.ok(text.includes(NOTICE['zh-Hant'].text.slice(0, 20)), 'the notice text in Traditional Chinese');
  assert.ok(text.includes(PURPOSE[MARKETING].name['zh-Hant']), PURPOSE[MARKETING].name['zh-Hant']);
  assert.ok(!text.includes(NOTICE['zh-Hans'].title), 'no Simplified notice title');
  assert.equal(await page.locator('#cpm-refuse-all').innerText(), '全部拒絕');
  assert.equal(await page.locator('#cpm-lang').inputValue(), 'zh-Hant');
  await assertNothingTicked(page);

  await checkbox(page, MARKETING).check();
  await shot(page, 'zh-HK-ticked');
  await page.click('#cpm-accept-selected');
  await waitSaved(page);

  const ledger = await env.ledger('visitor-hk');
  assert.deepEqual(ledger, Object.fromEntries(ASKED.map((p) => [p.id, p.id === MARKETING ? 'given' : 'refused'])));
  const d = await env.decide('visitor-hk', MARKETING);
  assert.equal(d.allowed, true, JSON.stringify(d));
  const other = await env.decide('visitor-hk', ORDINARY.find((id) => id !== MARKETING));
  assert.equal(other.allowed, false);
  page.assertClean();
});

test('zh-HK on a phone, switched to English: English texts, the tick kept, only it given', async (t) => {
  const env = await demoServer(t);
  const page = await newPage(t, env, { locale: 'zh-HK', viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  await page.goto(env.pageUrl('visitor-en'));
  await page.waitForSelector('#cpm-dialog[lang="zh-Hant"]');
  const chosen = ORDINARY.find((id) => id !== MARKETING);
  await checkbox(page, chosen).check();

  await page.selectOption('#cpm-lang', 'en');
  await page.waitForSelector('#cpm-dialog[lang="en"]');
  const text = await dialogText(page);
  assert.ok(text.includes(NOTICE.en.title), 'the notice title in English');
  assert.ok(text.includes(NOTICE.en.text.slice(0, 30)), 'the notice text in English');
  for (const p of ASKED) assert.ok(text.includes(p.name.en), `${p.id}: ${p.name.en}`);
  assert.ok(!text.includes(NOTICE['zh-Hant'].title), 'no Traditional Chinese notice left');
  assert.equal(await page.locator('#cpm-accept-selected').innerText(), 'Accept selected');
  assert.equal(await page.locator('#cpm-lang').inputValue(), 'en');
  assert.equal(await checkbox(page, chosen).isChecked(), true, 'the tick survives the language switch');
  assert.equal(await page.locator('.cpm-purpose input:enabled:checked').count(), 1);
  await shot(page, 'zh-HK-phone-english');
  await assertSameSize(page);

  await page.click('#cpm-accept-selected');
  await waitSaved(page);
  const ledger = await env.ledger('visitor-en');
  assert.deepEqual(ledger, Object.fromEntries(ASKED.map((p) => [p.id, p.id === chosen ? 'given' : 'refused'])));
  assert.equal((await env.decide('visitor-en', chosen)).allowed, true);
  page.assertClean();
});

test('keyboard only: focus trapped in the dialog, Esc records nothing, refuse all reached and pressed', async (t) => {
  const env = await demoServer(t);
  const page = await newPage(t, env, { locale: 'zh-CN' });
  const posts = [];
  // consent submissions (each display is recorded too, with its own POST)
  page.on('request', (r) => r.method() !== 'GET' && r.url().endsWith('/consents') && posts.push(`${r.method()} ${r.url()}`));
  await page.goto(env.pageUrl('visitor-kb'));
  await page.waitForSelector('#cpm-dialog');
  assert.equal((await focusInDialog(page)).inside, true, 'focus starts inside the dialog');

  const seen = new Set();
  for (let i = 0; i < 25; i++) {
    await page.keyboard.press('Tab');
    const f = await focusInDialog(page);
    assert.ok(f.inside, `Tab ${i + 1}: focus stays in the dialog (on ${f.id})`);
    seen.add(f.id);
  }
  for (const id of ['cpm-lang', 'cpm-text', ...ASKED.map((p) => p.id), 'cpm-refuse-all', 'cpm-accept-selected', 'cpm-accept-all'])
    assert.ok(seen.has(id), `Tab reaches ${id} (went through ${[...seen].join(', ')})`);
  for (let i = 0; i < 25; i++) {
    await page.keyboard.press('Shift+Tab');
    const f = await focusInDialog(page);
    assert.ok(f.inside, `Shift+Tab ${i + 1}: focus stays in the dialog (on ${f.id})`);
  }

  // Space ticks the focused box; Esc then closes without deciding anything.
  for (let i = 0; i < 30 && (await focusInDialog(page)).id !== MARKETING; i++) await page.keyboard.press('Tab');
  assert.equal((await focusInDialog(page)).id, MARKETING, `Tab reaches ${MARKETING}`);
  await page.keyboard.press('Space');
  assert.equal(await checkbox(page, MARKETING).isChecked(), true, 'Space ticks the box');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#cpm-dialog', { state: 'detached' });
  assert.equal(await page.evaluate(() => window.__cpm.closed), 1, 'cpm:closed fired');
  assert.deepEqual(posts, [], 'Esc sends nothing');
  const none = await request(env.server, 'GET', '/v1/subjects/visitor-kb/consents', { key: env.key });
  assert.equal(none.status, 200, none.text);
  assert.deepEqual(none.json.consents, [], 'no decision recorded');
  const shownOnly = await request(env.server, 'GET', '/v1/subjects/visitor-kb/events', { key: env.key });
  assert.deepEqual(shownOnly.json.items.map((e) => e.event.type), ['notice.displayed'], 'only the display is in the ledger');

  // So the popup shows again next time, nothing ticked.
  await page.reload();
  await page.waitForSelector('#cpm-dialog');
  assert.equal((await focusInDialog(page)).inside, true, 'focus starts inside the dialog again');
  await assertNothingTicked(page);
  for (let i = 0; i < 30 && (await focusInDialog(page)).id !== 'cpm-refuse-all'; i++) await page.keyboard.press('Tab');
  assert.equal((await focusInDialog(page)).id, 'cpm-refuse-all', 'Tab reaches "refuse all"');
  await shot(page, 'keyboard-refuse-all-focused');
  await page.keyboard.press('Enter');
  await waitSaved(page);

  assert.deepEqual(await env.ledger('visitor-kb'), Object.fromEntries(ASKED.map((p) => [p.id, 'refused'])));
  assert.deepEqual(posts.map((p) => p.replace(env.origin, '')), ['POST /v1/subjects/me/consents'], 'one submission');
  page.assertClean();
});

test('a visitor who has decided does not see the popup on the next visit; a material notice change brings it back for that purpose', async (t) => {
  const env = await demoServer(t);
  const page = await newPage(t, env, { locale: 'zh-CN' });
  await page.goto(env.pageUrl('visitor-back'));
  await page.waitForSelector('#cpm-dialog');
  await page.click('#cpm-accept-all');
  await waitSaved(page);
  const ledger = await env.ledger('visitor-back');
  for (const p of ASKED) assert.equal(ledger[p.id], ORDINARY.includes(p.id) ? 'given' : 'refused', `${p.id}: "accept all" leaves separate consents out`);

  // The next visit, with a new token, in a new browser context.
  const next = await newPage(t, env, { locale: 'zh-CN' });
  const experience = next.waitForResponse((r) => new URL(r.url()).pathname === '/v1/experience');
  await next.goto(env.pageUrl('visitor-back'));
  const x = await (await experience).json();
  assert.equal(x.show, false, `the experience says show: false (${JSON.stringify(x.reasons)})`);
  await next.waitForFunction(() => window.__cpm.ready > 0);
  // open() would have run in the same task as cpm:ready; this is a later one.
  assert.equal(await next.locator('#cpm-dialog').count(), 0, 'no popup');
  assert.equal(await next.evaluate(() => document.documentElement.classList.contains('cpm-lock')), false, 'the page still scrolls');
  await shot(next, 'decided-next-visit');

  // A material change of the notice for one purpose brings the popup back, on the new version, for that purpose.
  const last = demo.notices.find((n) => n.id === POLICY.notice).versions.at(-1);
  const content = Object.fromEntries(Object.entries(last.content).map(([l, c]) => [l, { ...c, text: `${c.text} (v2)` }]));
  const purposes = last.purposes.map((p) => ({ purpose: p.purpose, change: p.purpose === MARKETING ? 'material' : 'notify_only' }));
  await env.api('POST', `/v1/notices/${POLICY.notice}/versions`, { summary: 'SMS marketing changed', content, purposes }, 201);
  const third = await newPage(t, env, { locale: 'zh-CN' });
  await third.goto(env.pageUrl('visitor-back'));
  await third.waitForSelector('#cpm-dialog');
  assert.match(await third.locator('#cpm-text').innerText(), /\(v2\)/);
  assert.match(await third.locator('.cpm-ver').innerText(), /2/);
  assert.deepEqual(await third.locator('.cpm-opt .cpm-purpose').evaluateAll((els) => els.map((e) => e.dataset.purpose)), [MARKETING],
    'only the purpose whose terms changed is asked again');
  await third.click('#cpm-accept-all');
  await waitSaved(third);
  assert.equal((await env.decide('visitor-back', MARKETING)).allowed, true);
  page.assertClean();
  next.assertClean();
  third.assertClean();
});

test('operator texts are shown as text, never as HTML', async (t) => {
  const env = await demoServer(t);
  const payload = '<img src=x onerror="window.__pwned=1">';
  const everywhere = { 'zh-Hans': payload, 'zh-Hant': payload, en: payload };
  await env.api('PATCH', `/v1/policies/${POLICY.id}`, { ui: { texts: { title: everywhere, accept: everywhere } } });
  const page = await newPage(t, env, { locale: 'zh-CN' });
  await page.goto(env.pageUrl('visitor-xss'));
  await page.waitForSelector('#cpm-dialog');
  for (const lang of ['zh-Hans', 'en']) {
    if (lang !== 'zh-Hans') {
      await page.selectOption('#cpm-lang', lang);
      await page.waitForSelector(`#cpm-dialog[lang="${lang}"]`);
    }
    assert.equal(await page.locator('#cpm-title').textContent(), payload, `${lang}: the title is the text itself`);
    assert.equal(await page.locator('#cpm-accept-all').textContent(), payload, `${lang}: so is "accept all"`);
    assert.equal(await page.locator('#cpm-dialog img').count(), 0, `${lang}: no element was made of it`);
  }
  await shot(page, 'xss-title-as-text');
  assert.equal(await page.evaluate(() => typeof window.__pwned), 'undefined');
  page.assertClean();
});
