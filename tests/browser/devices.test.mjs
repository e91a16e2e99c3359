// SPDX-License-Identifier: Apache-2.0
// An anonymous visitor in a real browser (docs/END-USERS.md "Anonymous
// visitors and login"): the demo shop without a token records the
// visitor's choices under a device id the widget keeps in localStorage;
// the same browser then visits with the person's token, the widget merges
// the device into the person before anything else, the person's ledger
// holds the choices (method merge) and the popup does not show again. A
// page that says data-anonymous="off" keeps the old preview.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../api/harness.mjs';
import { demo, demoServer, newPage, shot, useBrowser } from './support.mjs';

useBrowser();

const POLICY = demo.policies.find((p) => p.property === 'demo-shop' && p.region === 'CN'); // the page says data-region="CN"
const PURPOSE = Object.fromEntries(demo.purposes.map((p) => [p.id, p]));
const ASKED = POLICY.purposes.map((p) => PURPOSE[p.purpose]).filter((p) => p.legal_basis === 'consent' && !p.necessary_for_service);
const MARKETING = ASKED.find((p) => p.id.startsWith('marketing.')).id;
const KEY = 'cpm.device.demo-shop';

const kept = (page) => page.evaluate((k) => localStorage.getItem(k), KEY);

test('an anonymous visit records under a device; at login the person takes the choices and is not asked again', async (t) => {
  const env = await demoServer(t);
  const page = await newPage(t, env, { locale: 'zh-CN' });
  const paths = [];
  page.on('request', (r) => paths.push(`${r.method()} ${new URL(r.url()).pathname}`));
  await page.goto(`${env.server.url}/demo`);
  await page.waitForSelector('#cpm-dialog');
  assert.equal(await page.isVisible('#login'), true, 'the demo says how anonymous choices are kept');
  const credential = await kept(page);
  assert.match(credential ?? '', /^dev1\.demo-shop\.anon-[\w-]{22}\.[\w-]{43}$/, 'a device credential in localStorage');
  const device = credential.split('.')[2];

  await page.locator(`.cpm-purpose[data-purpose="${MARKETING}"] input`).check();
  await page.click('#cpm-accept-selected');
  await page.waitForSelector('#cpm-dialog', { state: 'detached' });
  await page.waitForSelector('#saved', { state: 'visible' });
  await shot(page, 'anonymous-saved');
  const chosen = Object.fromEntries(ASKED.map((p) => [p.id, p.id === MARKETING ? 'given' : 'refused']));
  assert.deepEqual(await env.ledger(device), chosen, 'the device\'s ledger holds the choices');
  const deviceEvents = (await request(env.server, 'GET', `/v1/subjects/${device}/events`, { key: env.key })).json.items.map((i) => i.event);
  assert.equal(deviceEvents[0].type, 'notice.displayed', 'the display is evidence for a device too');
  assert.equal(paths.filter((p) => p === 'POST /v1/devices').length, 1, 'one device asked for');

  // Reloaded anonymously: the same device, which has decided: no popup
  await page.reload();
  await page.waitForFunction(() => window.__cpm.ready > 0);
  assert.equal(await page.locator('#cpm-dialog').count(), 0, 'the device is not asked again');
  assert.equal(await kept(page), credential);
  assert.equal(paths.filter((p) => p === 'POST /v1/devices').length, 1, 'still one device');

  // The same browser logs in: the page now has the person's token
  await page.goto(env.pageUrl('shopper-1'));
  await page.waitForFunction(() => window.__cpm.ready > 0);
  assert.equal(await page.locator('#cpm-dialog').count(), 0, 'the person is not asked again');
  assert.equal(await kept(page), null, 'the device is forgotten once merged');
  assert.equal(paths.filter((p) => p === 'POST /v1/subjects/me/identities').length, 1, 'merged once');
  assert.ok(paths.indexOf('POST /v1/subjects/me/identities') < paths.lastIndexOf('GET /v1/experience'), 'merged before the experience');
  await shot(page, 'logged-in-after-anonymous');
  assert.deepEqual(await env.ledger('shopper-1'), chosen, 'the person\'s ledger holds the visitor\'s choices');
  const events = (await request(env.server, 'GET', '/v1/subjects/shopper-1/events', { key: env.key })).json.items.map((i) => i.event);
  assert.equal(events[0].type, 'identity.merged');
  assert.ok(events.slice(1).every((e) => e.method === 'merge' && e.from.seq > 0), 'merged consents point to their source');
  assert.equal((await env.decide('shopper-1', MARKETING)).allowed, true);
  page.assertClean();
});

test('data-anonymous="off": no device, the popup is a preview that records nothing', async (t) => {
  const env = await demoServer(t);
  const page = await newPage(t, env, { locale: 'zh-CN' }, { expected: [{ path: '/v1/subjects/me/consents', status: 401 }] });
  await page.route('**/demo', async (route) => {
    const res = await route.fetch();
    const html = (await res.text()).replace('data-region="CN"', 'data-region="CN" data-anonymous="off"');
    await route.fulfill({ response: res, body: html });
  });
  const posts = [];
  page.on('request', (r) => r.method() === 'POST' && posts.push(new URL(r.url()).pathname));
  await page.goto(`${env.server.url}/demo`);
  await page.waitForSelector('#cpm-dialog');
  assert.equal(await kept(page), null);
  assert.ok(!posts.includes('/v1/devices'), 'no device asked for');
  await page.click('#cpm-refuse-all');
  await page.waitForSelector('.cpm-err:not(:empty)');
  assert.deepEqual(posts, ['/v1/subjects/me/consents'], 'tried without a credential');
  // the one expected refusal: 401, reported as cpm:error
  assert.ok(page.problems.length > 0 && page.problems.every((p) => /cpm:error: 401/.test(p)), page.problems.join('\n'));
});
