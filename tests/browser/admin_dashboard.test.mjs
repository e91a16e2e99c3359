// SPDX-License-Identifier: Apache-2.0
// The admin console's dashboard (web/admin/dashboard.js), in Debian's
// Chromium against a real cpmd seeded with demo/demo.json: consents,
// refusals and withdrawals written through the API on different purposes,
// channels and regions, and a destination that fails one subject, show up
// in the charts as exactly those numbers — the bars' and points' values,
// the hidden tables' cells, the aria-labels — in all three languages, on a
// phone and a desktop; the range selector asks for 7, 30 or 90 days; a key
// without ledger:read has no dashboard. Any console error, page error or
// request to another origin fails a test. Rights requests filed through the
// API (two 30 days ago, one 19 days ago, one now, one completed) show on an
// admin key's dashboard as 4 open, 2 overdue, 1 due in the next 3 days, each
// a link to the requests screen; a ledger:read key sees no such card and
// its page never asks /v1/requests. Screenshots:
// tests/browser/artifacts/admin-dashboard-*.png.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../api/harness.mjs';
import { demo, demoServer, newPage, shot, useBrowser } from './support.mjs';
import { PHONE, DESKTOP, NOT_SIGNED_IN, loaded, requestsServer, signIn, shots } from './admin_support.mjs';
import { startReceiver } from '../api/support/receiver.mjs';
import * as deliveryLog from '../api/support/deliveries.mjs';

const SHANGHAI_MS = 8 * 3600e3;
const DAY_MS = 86400e3;
const POLICY = demo.policies.find((p) => p.property === 'demo-shop' && p.region === 'CN');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

useBrowser();

const dayOf = (iso) => new Date(Date.parse(iso) + SHANGHAI_MS).toISOString().slice(0, 10);
const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);

/** Writes one action for subject: [[purpose, decision]…] on channel and region; returns its Shanghai day. */
async function act(env, subject, decisions, channel, region) {
  const v = await env.api('GET', `/v1/notices/${POLICY.notice}/versions/1?locale=zh-Hans`);
  const body = {
    property: 'demo-shop', channel, locale: 'zh-Hans', method: 'click',
    notice: { id: POLICY.notice, version: 1, sha256: v.content['zh-Hans'].sha256 },
    decisions: decisions.map(([purpose, decision]) => ({ purpose, decision })),
  };
  if (region) body.region = region;
  const res = await env.api('POST', `/v1/subjects/${encodeURIComponent(subject)}/consents`, body, 201);
  return dayOf(res.events[0].time);
}

/** What a chart shows: its bars (or points) as {label: value}, its table's rows, its aria-label. */
const chart = (page, id) => page.$eval(`#${id}`, (fig) => ({
  bars: Object.fromEntries([...fig.querySelectorAll('svg .bar')].map((b) => [b.dataset.label, Number(b.dataset.value)])),
  parts: Object.fromEntries([...fig.querySelectorAll('svg .bar')].map((b) => [b.dataset.label,
    Object.fromEntries([...b.querySelectorAll('rect[data-part]')].map((r) => [r.dataset.part, Number(r.dataset.value)]))])),
  heights: Object.fromEntries([...fig.querySelectorAll('svg rect.bar')].map((b) => [b.dataset.label, Number(b.getAttribute('height'))])),
  points: [...fig.querySelectorAll('svg circle.point')].map((c) => [c.dataset.series, c.dataset.day, Number(c.dataset.value)]),
  rows: [...fig.querySelectorAll('table tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent)),
  head: [...fig.querySelectorAll('table thead th')].map((c) => c.textContent),
  label: (fig.querySelector('[role="img"]') || {}).getAttribute?.('aria-label'),
  title: fig.querySelector('h3').textContent,
  hidden: (() => { const t = fig.querySelector('table'); if (!t) return null; const r = t.parentElement.getBoundingClientRect(); return r.width <= 1 && r.height <= 1; })(),
}));

test('the dashboard draws the consents, withdrawals and sync failures the test wrote, in every language and on a phone', async (t) => {
  const env = await demoServer(t, { env: { CPM_OUTBOUND_ALLOW: '127.0.0.1/32', CPM_RETRY_BASE_MS: '50', CPM_RETRY_MAX_MS: '200' } });
  const receiver = await startReceiver({ secret: SECRET });
  t.after(() => receiver.stop());
  receiver.setMode((event) => (event.subject === 'd-poison' ? { status: 500 } : undefined));
  await env.api('POST', '/v1/destinations', { id: 'crm', name: 'CRM', kind: 'webhook', endpoint: receiver.url, secret: SECRET, max_attempts: 2 }, 201);

  // sms: given 4, refused 1, withdrawn 2 → rate 4/5; wecom: given 1, refused 1 → 1/2; analytics: refused 1 → 0
  const days = new Set([
    await act(env, 'd-1', [['marketing.sms', 'given'], ['marketing.wecom', 'refused']], 'web', 'CN'),
    await act(env, 'd-2', [['marketing.sms', 'given']], 'app', 'CN-HK'),
    await act(env, 'd-3', [['marketing.sms', 'given'], ['marketing.wecom', 'given']], 'mini_program', 'CN'),
    await act(env, 'd-4', [['marketing.sms', 'refused'], ['analytics', 'refused']], 'web', null),
    await act(env, 'd-1', [['marketing.sms', 'withdrawn']], 'sms', 'CN'),
    await act(env, 'd-2', [['marketing.sms', 'withdrawn']], 'app', 'CN-HK'),
    await act(env, 'd-poison', [['marketing.sms', 'given']], 'web', 'CN'),
  ]);
  assert.equal(days.size, 1, 'written on one Shanghai day (the test ran across midnight: run it again)');
  const [today] = days;
  await deliveryLog.logWhen(env.server, env.key, 'crm', (l) => l.some((d) => d.outcome === 'dead'));

  const page = await newPage(t, env, { viewport: PHONE, locale: 'en-US' }, { expected: [NOT_SIGNED_IN] });
  const seen = [];
  page.on('request', (r) => { if (new URL(r.url()).pathname.startsWith('/v1/reports/')) seen.push(new URL(r.url())); });
  await signIn(page, env);
  // the landing screen, first in the menu
  assert.equal((await page.$$eval('#nav a', (as) => as.map((a) => a.dataset.screen)))[0], 'dashboard');
  assert.equal(await page.getAttribute('#nav a[data-screen="dashboard"]', 'aria-current'), 'page');
  await page.waitForSelector('#dashboard[aria-busy="false"] #dash-withdrawals');
  assert.equal(await page.textContent('#dashboard-h'), 'Dashboard');
  assert.equal(await page.isChecked('input[name="dash-range"][value="30"]'), true);
  const from30 = addDays(today, -29);
  assert.equal(await page.textContent('#dash-range-text'), `${from30} to ${today}`);
  for (const u of seen) assert.deepEqual([u.searchParams.get('from'), u.searchParams.get('to')], [from30, today], u.href);

  // withdrawals per day: today's bar is 2, the 29 days before are 0; the bar's height says 2 of the axis' top
  const wd = await chart(page, 'dash-withdrawals');
  assert.equal(Object.keys(wd.bars).length, 30);
  assert.equal(wd.bars[today], 2);
  for (const [day, v] of Object.entries(wd.bars)) if (day !== today) assert.equal(v, 0, day);
  assert.ok(wd.heights[today] > 0 && wd.heights[addDays(today, -1)] === 0);
  assert.deepEqual(wd.rows, [[today, '2']]);
  assert.equal(wd.hidden, true, 'the table is for screen readers only');
  assert.equal(wd.label, `Bar chart: 2 withdrawals from ${from30} to ${today}; the most on ${today} (2).`);
  assert.equal(wd.title, 'Withdrawals per day');
  assert.equal(await page.$$eval('#dash-withdrawals .axis-title', (e) => e.map((x) => x.textContent).join('|')), 'Count|Day');

  // the opt-in rate: a point today per purpose with an answer
  const oi = await chart(page, 'dash-opt-in');
  assert.deepEqual(oi.points.sort(), [['analytics', today, 0], ['marketing.sms', today, 0.8], ['marketing.wecom', today, 0.5]].sort());
  assert.deepEqual(oi.rows.sort(), [
    [`analytics ${today}`, '0', '1', '0%'],
    [`marketing.sms ${today}`, '4', '1', '80%'],
    [`marketing.wecom ${today}`, '1', '1', '50%'],
  ]);
  assert.match(oi.label, /^Line chart: the daily opt-in rate of 3 purposes/);
  assert.match(oi.label, /marketing\.sms 80% over the period \(4 given, 1 refused\)/);

  // by channel: stacked bars of the decisions, exactly as written
  const ch = await chart(page, 'dash-channels');
  assert.deepEqual(ch.bars, { app: 2, mini_program: 2, sms: 1, web: 5 });
  assert.deepEqual(ch.parts.web, { given: 2, refused: 3 });
  assert.deepEqual(ch.parts.app, { given: 1, withdrawn: 1 });
  assert.deepEqual(ch.parts.mini_program, { given: 2 });
  assert.deepEqual(ch.parts.sms, { withdrawn: 1 });
  assert.deepEqual(ch.head, ['Channel', 'Given', 'Refused', 'Withdrawn', 'Total']);
  assert.deepEqual(ch.rows, [['App', '1', '0', '1', '2'], ['Mini program', '2', '0', '0', '2'], ['SMS', '0', '0', '1', '1'], ['Web', '2', '3', '0', '5']]);
  assert.match(ch.label, /Web 5; App 2; Mini program 2; SMS 1/);

  // by region: '' is "unknown" (an action that named none)
  const rg = await chart(page, 'dash-regions');
  assert.deepEqual(rg.bars, { '': 2, CN: 6, 'CN-HK': 2 });
  assert.deepEqual(rg.rows.map((r) => r[0]), ['unknown', 'CN', 'CN-HK']);

  // sync: the destination's failures today (d-poison: one failed attempt, then given up)
  const log = await deliveryLog.deliveries(env.server, env.key, 'crm');
  const failed = log.filter((d) => d.outcome === 'failed').length;
  const dead = log.filter((d) => d.outcome === 'dead').length;
  assert.deepEqual([failed, dead], [1, 1]);
  const sf = await chart(page, 'dash-sync-crm');
  assert.equal(sf.bars[today], failed + dead);
  assert.deepEqual(sf.parts[today], { failed: 1, dead: 1 });
  assert.deepEqual(sf.rows, [[today, String(log.filter((d) => d.outcome === 'delivered').length), '1', '1']]);
  const lag = await chart(page, 'dash-sync-lag');
  assert.ok('crm' in lag.bars);
  assert.match(lag.label, /crm \d+/);
  await shot(page, 'admin-dashboard-phone', { fullPage: true });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no sideways scrolling on a phone');

  // a narrower range asks for 7 days; the keyboard reaches it
  seen.length = 0;
  await page.focus('input[name="dash-range"][value="7"]');
  await page.keyboard.press('Space');
  await page.waitForFunction((d) => document.getElementById('dash-range-text')?.textContent.startsWith(d), addDays(today, -6));
  await loaded(page);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.key), 'range-7', 'focus stays on the choice');
  assert.ok(seen.length >= 5 && seen.every((u) => u.searchParams.get('from') === addDays(today, -6)));
  assert.equal(Object.keys((await chart(page, 'dash-withdrawals')).bars).length, 7);
  assert.equal((await chart(page, 'dash-withdrawals')).bars[today], 2);

  // the other two languages: the same numbers, their words
  for (const [lang, title, unknown, summary] of [['zh-Hans', '每日撤回同意', '未知', /共 2 次撤回/], ['zh-Hant', '每日撤回同意', '未知', /共 2 次撤回/]]) {
    await page.selectOption('#lang', lang);
    await page.waitForFunction((t) => document.querySelector('#dash-withdrawals h3')?.textContent === t, title);
    const again = await chart(page, 'dash-withdrawals');
    assert.equal(again.bars[today], 2);
    assert.match(again.label, summary);
    assert.equal((await chart(page, 'dash-regions')).rows[0][0], unknown);
    assert.equal(await page.textContent('#dashboard-h'), lang === 'zh-Hans' ? '概览' : '概覽');
  }
  assert.equal((await chart(page, 'dash-channels')).rows[1][0], '小程式');
  await page.setViewportSize(DESKTOP);
  await shot(page, 'admin-dashboard-desktop-zh-Hant', { fullPage: true });
  await page.selectOption('#lang', 'zh-Hans');
  await page.waitForFunction(() => document.querySelector('#dash-channels table tbody tr:nth-child(2) th')?.textContent === '小程序');
  await shot(page, 'admin-dashboard-desktop', { fullPage: true });
  page.assertClean();
});

test('a key without ledger:read has no dashboard; one with only ledger:read lands on it', async (t) => {
  const env = await demoServer(t);
  const config = await env.api('POST', '/v1/api-keys', { name: 'privacy team', scopes: ['config'] }, 201);
  const auditor = await env.api('POST', '/v1/api-keys', { name: 'auditor', scopes: ['ledger:read'] }, 201);
  const page = await newPage(t, env, { viewport: PHONE, locale: 'en-US' }, { expected: [NOT_SIGNED_IN] });
  await signIn(page, env, config.key);
  assert.ok(!(await page.$$eval('#nav a', (as) => as.map((a) => a.dataset.screen))).includes('dashboard'));
  assert.equal(await page.$('#dashboard'), null);
  await page.goto(`${env.server.url}/admin#/dashboard`);
  await page.waitForSelector('#nav:not([hidden])');
  await loaded(page);
  assert.equal(await page.$('#dashboard'), null, 'the address does not open it either');

  const other = await newPage(t, env, { viewport: PHONE, locale: 'en-US' }, { expected: [NOT_SIGNED_IN] });
  await signIn(other, env, auditor.key);
  await other.waitForSelector('#dashboard[aria-busy="false"]');
  // nothing written yet: every chart says so, and still has its title and a label
  assert.equal((await chart(other, 'dash-withdrawals')).bars[dayOf(new Date().toISOString())], 0);
  assert.equal(await other.textContent('#dash-opt-in .empty'), 'No data in this period.');
  assert.equal(await other.getAttribute('#dash-opt-in .empty', 'aria-label'), 'Chart: Opt-in rate per purpose, no data in this period.');
  assert.equal(await other.textContent('#dash-sync-lag .empty'), 'No destination is set up yet.');
  await shot(other, 'admin-dashboard-empty-phone', { fullPage: true });
  page.assertClean();
  other.assertClean();
});

// ---- rights requests due (admin keys only) ---------------------------------------------------


/** The card's numbers as {open, overdue, soon} (null when there is no card). */
const dueCounts = (page) => page.evaluate(() => {
  const card = document.getElementById('dash-requests');
  return card && Object.fromEntries([...card.querySelectorAll('a[data-count]')].map((a) => [a.dataset.count, Number(a.dataset.value)]));
});

test('an admin key sees the rights requests due (open, overdue, due in 3 days) as links to the queue; a ledger:read key neither sees nor asks', async (t) => {
  const env = await requestsServer(t, { 30: [['rq-late-1', { type: 'access' }], ['rq-late-2', { type: 'deletion' }]], 19: [['rq-soon', { type: 'access' }]] });
  const fresh = await env.api('POST', '/v1/subjects/rq-new/requests', { type: 'correction', property: 'demo-shop' }, 201);
  const done = await env.api('POST', '/v1/subjects/rq-done/requests', { type: 'access', property: 'demo-shop' }, 201);
  await env.api('PATCH', `/v1/requests/${done.id}`, { status: 'completed', reply: 'sent' });

  // what the server says, so the numbers below are the filings' and not an accident of the calendar:
  // filed 19 days ago is due by the end of the Shanghai day 3 days on (15 working days = 19–21 days)
  const today = dayOf(new Date().toISOString());
  const soonEnd = Date.parse(`${addDays(today, 3)}T23:59:59.999+08:00`);
  const queue = await env.api('GET', '/v1/requests?status=open&limit=50');
  const byId = Object.fromEntries(queue.items.map((r) => [r.id, r]));
  assert.equal(queue.items.length, 4);
  for (const s of ['rq-late-1', 'rq-late-2']) assert.equal(byId[env.filed[s].id].overdue, true, s);
  assert.equal(byId[env.filed['rq-soon'].id].overdue, false);
  assert.ok(Date.parse(byId[env.filed['rq-soon'].id].due_at) <= soonEnd, 'filed 19 days ago, due within 3 days');
  assert.ok(Date.parse(byId[fresh.id].due_at) > soonEnd, 'filed now, due in three weeks');
  assert.equal(byId[done.id], undefined, 'a completed request is not open');

  const page = await newPage(t, env, { viewport: PHONE, locale: 'en-US' }, { expected: [NOT_SIGNED_IN] });
  const asked = [];
  page.on('request', (r) => { const u = new URL(r.url()); if (u.pathname.startsWith('/v1/requests')) asked.push(u); });
  await signIn(page, env);
  await page.waitForSelector('#dashboard[aria-busy="false"] #dash-requests');
  assert.deepEqual(await dueCounts(page), { open: 4, overdue: 2, soon: 1 });
  assert.equal(await page.textContent('#dash-requests-h'), 'Rights requests due');
  assert.deepEqual(await page.$$eval('#dash-requests a[data-count]', (as) => as.map((a) => [a.textContent, a.getAttribute('href')])),
    [['4 open', '#/requests'], ['2 overdue', '#/requests?overdue'], ['1 due in the next 3 days', '#/requests']]);
  assert.match(await page.textContent('#dash-requests .note'), new RegExp(`due by the end of ${addDays(today, 3)} \\(Shanghai time\\)`));
  assert.equal(await page.$('#dash-requests-capped'), null, 'four requests are nowhere near the cap');
  // the counts come from the queue's pages (limit and status=open), not from anything unbounded
  assert.ok(asked.length >= 1 && asked.every((u) => u.pathname === '/v1/requests' && u.searchParams.get('status') === 'open' && u.searchParams.get('limit') === '200'), asked.join(' '));
  await shots(page, 'admin-dashboard-requests-due', '#dash-requests');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no sideways scrolling on a phone');

  // the other languages: the same numbers, their words
  await page.selectOption('#lang', 'zh-Hans');
  await page.waitForFunction(() => document.getElementById('dash-requests-h')?.textContent === '待答复的权利请求');
  assert.deepEqual(await page.$$eval('#dash-requests a[data-count]', (as) => as.map((a) => a.textContent)), ['4 件未结', '2 件已逾期', '1 件 3 天内到期']);
  await page.selectOption('#lang', 'zh-Hant');
  await page.waitForFunction(() => document.getElementById('dash-requests-h')?.textContent === '待答覆的權利請求');
  assert.deepEqual(await dueCounts(page), { open: 4, overdue: 2, soon: 1 });
  await page.selectOption('#lang', 'en');

  // the overdue number opens the requests screen with its overdue filter on: the two late ones only
  await page.click('#dash-requests a[data-count="overdue"]');
  await page.waitForSelector('#requests[aria-busy="false"] li[data-request]');
  assert.equal(new URL(page.url()).hash, '#/requests?overdue');
  assert.equal(await page.getAttribute('#nav a[data-screen="requests"]', 'aria-current'), 'page');
  assert.equal(await page.isChecked('#rq-overdue'), true);
  assert.deepEqual((await page.$$eval('#requests li[data-request]', (li) => li.map((l) => [l.dataset.request, l.dataset.overdue]))).sort(),
    [[env.filed['rq-late-1'].id, 'true'], [env.filed['rq-late-2'].id, 'true']].sort());
  // unticked, the address follows, and the open ones come back
  await page.uncheck('#rq-overdue');
  await page.waitForFunction(() => document.querySelectorAll('#requests li[data-request]').length === 4);
  assert.equal(new URL(page.url()).hash, '#/requests');
  await page.check('#rq-overdue');
  await page.waitForFunction(() => document.querySelectorAll('#requests li[data-request]').length === 2);
  // the keyboard reaches the numbers too: back on the dashboard, Enter on "open"
  await page.goBack();
  await page.waitForSelector('#dashboard[aria-busy="false"] #dash-requests');
  await page.focus('#dash-requests a[data-count="open"]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#requests[aria-busy="false"] li[data-request]');
  assert.equal(await page.locator('#requests li[data-request]').count(), 4);
  page.assertClean();

  // a key that may read the ledger but not the queue: no card, and not one request to /v1/requests
  const auditor = await env.api('POST', '/v1/api-keys', { name: 'auditor', scopes: ['ledger:read'] }, 201);
  const other = await newPage(t, env, { viewport: PHONE, locale: 'en-US' }, { expected: [NOT_SIGNED_IN] });
  const otherAsked = [];
  other.on('request', (r) => { const u = new URL(r.url()); if (u.pathname.startsWith('/v1/requests')) otherAsked.push(u.href); });
  await signIn(other, env, auditor.key);
  await other.waitForSelector('#dashboard[aria-busy="false"] #dash-withdrawals');
  assert.equal(await other.$('#dash-requests'), null);
  await other.click('#dash-range input[value="7"]');
  await other.waitForFunction((d) => document.getElementById('dash-range-text')?.textContent.startsWith(d), addDays(today, -6));
  await loaded(other);
  assert.equal(await other.$('#dash-requests'), null);
  assert.deepEqual(otherAsked, [], 'a ledger:read key never asks the queue');
  other.assertClean();
});
