// SPDX-License-Identifier: Apache-2.0
// What the admin console's browser tests share (tests/browser/admin*.test.mjs):
// signing in, waiting for views to load, going to a screen, watching what
// the page sends, status and field errors, screenshots at two sizes. The
// console's stable hooks are listed in web/admin/README.md.
import assert from 'node:assert/strict';
import { cpm, freshData, request, startServer, stopServer } from '../api/harness.mjs';
import { DEMO_JSON, newPage, shot } from './support.mjs';

const DAY_MS = 86400000;

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 900 };
/** The console asks for its session first: a 401 there is expected before signing in. */
export const NOT_SIGNED_IN = { path: '/v1/admin/sessions/current', status: 401 };

/** A page of the console, signed out; expected lists answers the test expects to fail. */
export const consolePage = (t, env, options, expected = []) =>
  newPage(t, env, { viewport: PHONE, ...options }, { expected: [NOT_SIGNED_IN, ...expected] });

/** Waits until every view on the page has loaded (or shown its error). */
export const loaded = (page) => page.waitForFunction(() => {
  const all = [...document.querySelectorAll('main section[aria-busy]')];
  return all.length > 0 && all.every((s) => s.getAttribute('aria-busy') === 'false');
});

/** Opens /admin and signs in with key (the admin key by default); resolves once a screen has loaded. */
export async function signIn(page, env, key = env.key) {
  await page.goto(`${env.server.url}/admin`);
  await page.waitForSelector('#signin');
  await page.fill('#api-key', key);
  await page.click('#signin button[type="submit"]');
  await page.waitForSelector('#nav:not([hidden])');
  await loaded(page);
}

/** Goes to a screen through the menu. */
export async function go(page, screen) {
  await page.click(`#nav a[data-screen="${screen}"]`);
  await page.waitForSelector(`#${screen}[aria-busy="false"]`);
  await loaded(page);
}

/**
 * The changes (not GETs) the page sends to a path matching re:
 * [{method, path, query, url (path and query), body, ifMatch}].
 */
export function sent(page, re) {
  const seen = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (re.test(u.pathname) && r.method() !== 'GET') {
      seen.push({ method: r.method(), path: u.pathname, query: u.search, url: u.pathname + u.search,
        body: r.postData() ? JSON.parse(r.postData()) : null, ifMatch: r.headers()['if-match'] });
    }
  });
  return seen;
}

/** Waits for the status line to say text (a string: exactly; a RegExp: matching); fails saying what it says. */
export const statusIs = (page, text, timeout = 10000) => page.waitForFunction(([s, isRe]) => {
  const now = document.getElementById('status').textContent;
  return isRe ? new RegExp(s).test(now) : now === s;
}, [text instanceof RegExp ? text.source : text, text instanceof RegExp], { timeout })
  .catch(async () => assert.fail(`status: ${JSON.stringify(await page.textContent('#status'))}, expected ${text}`));

/** The field error shown for a field path. */
export const errorFor = (page, scope, field) => page.locator(`${scope} .field-error[data-error-for="${field}"]`);

/** A screen (or element) as a phone and a desktop see it: <name>-<phone|desktop>.png; back to the phone size. */
export async function shots(page, name, selector) {
  for (const [label, size] of [['phone', PHONE], ['desktop', DESKTOP]]) {
    await page.setViewportSize(size);
    // a screen redrawn by a media query (the dashboard past its breakpoint) replaces the element:
    // two frames, and the change event and its synchronous redraw are behind us
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    if (selector) await shot(page.locator(selector), `${name}-${label}`);
    else await shot(page, `${name}-${label}`, { fullPage: true });
  }
  await page.setViewportSize(PHONE);
}

/**
 * A cpmd on the demo data where requests were filed `days` ago: cpmd
 * started with its clock moved back (CPM_TEST_CLOCK_OFFSET_MS), then
 * restarted on the real time. filings: {days: [[subject, request body]…]}
 * (the property is demo-shop); the answers are in `filed` by subject.
 */
export async function requestsServer(t, filings) {
  const data = freshData();
  const seeded = cpm(['seed', '--data', data.data, DEMO_JSON]);
  assert.equal(seeded.status, 0, seeded.stderr);
  const api = (server) => async (method, path, body, status = 200) => {
    const res = await request(server, method, path, { key: data.adminKey, body });
    assert.equal(res.status, status, `${method} ${path}: ${res.text}`);
    return res.json;
  };
  const filed = {};
  for (const [days, list] of Object.entries(filings)) {
    const past = await startServer(data.data, { env: { CPM_TEST_CLOCK_OFFSET_MS: String(-Number(days) * DAY_MS) } });
    for (const [subject, body] of list) filed[subject] = await api(past)('POST', `/v1/subjects/${subject}/requests`, { property: 'demo-shop', ...body }, 201);
    assert.deepEqual(await stopServer(past), { code: 0, signal: null });
  }
  const server = await startServer(data.data);
  t.after(async () => {
    const exit = await stopServer(server);
    data.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null });
  });
  return { server, origin: new URL(server.url).origin, key: data.adminKey, api: api(server), filed };
}
