// SPDX-License-Identifier: Apache-2.0
// The browser tests' harness, shared by popup.test.mjs and center.test.mjs:
// Debian's Chromium driven by playwright-core (STACK-NOTES.md "Browser
// tests"), a cpmd of each test's own seeded with demo/demo.json, and pages
// that collect every problem (console errors, page errors, cpm:error
// events, requests to other origins) for page.assertClean().
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { cpm, freshData, request, startServer, stopServer } from '../api/harness.mjs';

export const DEMO_JSON = fileURLToPath(new URL('../../demo/demo.json', import.meta.url));
export const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const CHROMIUM = process.env.CPM_CHROMIUM ?? '/usr/bin/chromium';

/** What the demo configures, read from demo/demo.json rather than repeated. */
export const demo = JSON.parse(readFileSync(DEMO_JSON, 'utf8'));
const PROPERTY = demo.properties.find((p) => p.id === 'demo-shop');

let browser;

/** Launches the browser before the file's tests and closes it after them. */
export function useBrowser() {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // STACK-NOTES.md "Browser tests": no sandbox as root, and nothing that
      // tries to reach outside hosts.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await browser?.close();
  });
}

/**
 * A cpmd of the test's own on a fresh data directory with the demo seeded
 * and the server's own origin allowed for demo-shop; stopped after the test
 * (it must exit cleanly). options.env goes to cpmd's environment.
 */
export async function demoServer(t, { env = {} } = {}) {
  const data = freshData();
  const seeded = cpm(['seed', '--data', data.data, DEMO_JSON]);
  assert.equal(seeded.status, 0, `cpm seed: ${seeded.stderr}`);
  const server = await startServer(data.data, { env });
  t.after(async () => {
    const exit = await stopServer(server);
    data.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `cpmd exited cleanly:\n${server.log.slice(-20).join('\n')}`);
  });
  const key = data.adminKey;
  const origin = new URL(server.url).origin;
  const api = async (method, path, body, status = 200) => {
    const res = await request(server, method, path, { key, body });
    assert.equal(res.status, status, `${method} ${path}: ${res.text}`);
    return res.json;
  };
  await api('PATCH', '/v1/properties/demo-shop', { allowed_origins: [...PROPERTY.allowed_origins, origin] });
  const token = (subject, ttl = 600) => {
    const r = cpm(['token', '--data', data.data, '--property', 'demo-shop', '--subject', subject, '--ttl', String(ttl)]);
    assert.equal(r.status, 0, `cpm token: ${r.stderr}`);
    return r.stdout.trim();
  };
  return {
    server,
    origin,
    key,
    /** The data directory (its cpm.db), for tests that play an attacker with write access. */
    dataDir: data.data,
    api,
    /** A fresh end-user token for subject on demo-shop, as the shop's back end would mint it. */
    token,
    /** A visitor's demo page address, with a fresh end-user token. */
    pageUrl: (subject) => `${server.url}/demo?token=${token(subject)}`,
    /** The visitor's consents as {purpose: status}. */
    async ledger(subject) {
      const body = await api('GET', `/v1/subjects/${encodeURIComponent(subject)}/consents`);
      return Object.fromEntries(body.consents.map((c) => [c.purpose, c.status]));
    },
    decide: (subject, purpose) => api('GET', `/v1/decide?subject=${encodeURIComponent(subject)}&purpose=${encodeURIComponent(purpose)}`),
  };
}

const FAILED_LOAD = /^Failed to load resource: the server responded with a status of (\d{3})/;

/**
 * A page in a new browser context (options: playwright's context options).
 * Console errors, page errors, cpm:error events and requests to any origin
 * but the server's are collected; page.assertClean() fails on any.
 * window.__cpm counts cpm:ready, cpm:updated and cpm:closed events.
 *
 * expected lists answers the test expects to fail, as {path, status}
 * (path: a pathname or a RegExp over it): Chromium logs every 4xx as a
 * console error, and these are the only ones not counted as problems.
 */
export async function newPage(t, env, options = {}, { expected = [] } = {}) {
  const context = await browser.newContext(options);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = [];
  const isExpected = (m) => {
    const status = FAILED_LOAD.exec(m.text());
    if (!status || !m.location().url) return false;
    const path = new URL(m.location().url).pathname;
    return expected.some((e) => Number(status[1]) === e.status && (e.path instanceof RegExp ? e.path.test(path) : e.path === path));
  };
  page.on('console', (m) => {
    if (m.type() === 'error' && !isExpected(m)) problems.push(`console error: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.stack || e.message}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.origin !== env.origin) problems.push(`request to another origin: ${r.method()} ${r.url()}`);
  });
  await page.exposeFunction('__cpmProblem', (text) => problems.push(text));
  await page.addInitScript(() => {
    window.__cpm = { ready: 0, updated: 0, closed: 0 };
    for (const name of ['ready', 'updated', 'closed']) document.addEventListener(`cpm:${name}`, () => window.__cpm[name]++);
    document.addEventListener('cpm:error', (e) => window.__cpmProblem(`cpm:error: ${e.detail && e.detail.status} ${e.detail && e.detail.message}`));
  });
  page.problems = problems;
  page.assertClean = () => assert.deepEqual(problems, [], 'no errors and no requests to other origins');
  return page;
}

/** A screenshot of what the visitor sees (or of one element), in tests/browser/artifacts/. */
export const shot = (target, name, options = {}) => target.screenshot({ path: `${ARTIFACTS}${name}.png`, ...options });
