// SPDX-License-Identifier: Apache-2.0
// The admin console's ledger screen (web/admin/ledger.js; docs/ADMIN.md
// "Ledger") in Chromium against a real cpmd seeded with demo/demo.json:
// the latest signed checkpoint's size and root as GET /v1/ledger/checkpoint
// says, the verifier key, "verify now" running the full check in cpmd with
// its progress shown until it passes; then an event edited in the database
// under the running cpmd (as an attacker with write access would) and the
// next run failing, naming that event, as an alert. A key without
// ledger:read has no ledger screen. Screenshots: admin-ledger-*.png.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { demo, demoServer, useBrowser } from './support.mjs';
import { consolePage, go, shots, signIn, statusIs } from './admin_support.mjs';

const POLICY = demo.policies.find((p) => p.property === 'demo-shop' && p.region === 'CN');

useBrowser();

/** Records decisions [[purpose, decision]] for subject with the admin key under the notice's version 1. */
async function decided(env, subject, decisions) {
  const v = await env.api('GET', `/v1/notices/${POLICY.notice}/versions/1?locale=zh-Hans`);
  await env.api('POST', `/v1/subjects/${subject}/consents`, {
    property: 'demo-shop', channel: 'web', locale: 'zh-Hans', method: 'click',
    notice: { id: POLICY.notice, version: 1, sha256: v.content['zh-Hans'].sha256 },
    decisions: decisions.map(([purpose, decision]) => ({ purpose, decision })),
  }, 201);
}

/** Waits until the ledger's latest checkpoint covers every event; its {size, root}. */
async function signedAll(env) {
  for (let i = 0; i < 60; i++) {
    const text = await (await fetch(`${env.server.url}/v1/ledger/checkpoint`)).text();
    const [, size, root] = text.split('\n');
    const events = await env.api('GET', '/v1/ledger/events?limit=1&from_seq=1');
    const last = await env.api('GET', `/v1/ledger/events?limit=1&from_seq=${Number(size) + 1}`);
    if (events.items.length && last.items.length === 0) return { size: Number(size), root };
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('no checkpoint over every event');
}

test('ledger: the signed checkpoint, and verify now with its progress until it passes — then an edited event named', async (t) => {
  const env = await demoServer(t);
  const [sms, analytics] = ['marketing.sms', 'analytics'];
  await decided(env, 'ledger-1', [[sms, 'given'], [analytics, 'refused']]);
  await decided(env, 'ledger-2', [[sms, 'refused']]);
  const cp = await signedAll(env);

  const page = await consolePage(t, env, { locale: 'en' }, [{ path: '/v1/ledger/verifications/latest', status: 404 }]);
  await signIn(page, env);
  await go(page, 'ledger');
  assert.equal(await page.textContent('#ledger-checkpoint [data-value="size"]'), String(cp.size));
  assert.equal(await page.textContent('#ledger-checkpoint .hash'), cp.root);
  assert.equal(await page.textContent('#verify-run'), 'No full verification has run since cpmd started.');

  await page.click('#ledger button[data-key="verify"]');
  // the run shows while it goes (progress) or at once if already done; either way it ends passed
  await page.waitForSelector('#verify-run[data-state="running"] progress, #verify-run[data-state="passed"]');
  await page.waitForSelector('#verify-run[data-state="passed"]', { timeout: 20000 });
  const latest = await env.api('GET', '/v1/ledger/verifications/latest');
  assert.equal(latest.state, 'passed');
  assert.equal(await page.textContent('#verify-run .result'),
    `Passed All ${latest.checked} events re-derive the stored tree; all ${latest.checkpoints} signed checkpoints match (the latest of size ${latest.latest_checkpoint_size}).`);
  assert.ok(latest.checked >= cp.size);
  await statusIs(page, `Verification passed: ${latest.checked} events.`);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.key), 'verify', 'focus stays on the button');
  await shots(page, 'admin-ledger-passed', '#ledger');

  // someone with write access to the database turns a refusal into a consent
  const db = path.join(env.dataDir, 'cpm.db');
  const sql = (q) => spawnSync('sqlite3', [db, q], { encoding: 'utf8' });
  const seq = Number(sql("SELECT min(seq) FROM events WHERE CAST(leaf AS TEXT) LIKE '%consent.refused%'").stdout.trim());
  assert.ok(seq > 0, 'a refusal to edit');
  const edit = sql(`DROP TRIGGER events_no_update; UPDATE events SET leaf = CAST(replace(CAST(leaf AS TEXT), 'consent.refused', 'consent.given') AS BLOB) WHERE seq = ${seq};`);
  assert.equal(edit.status, 0, edit.stderr);

  await page.click('#ledger button[data-key="verify"]');
  await page.waitForSelector('#verify-run[data-state="failed"]', { timeout: 20000 });
  const alert = page.locator('#verify-run .result.bad[role="alert"]');
  assert.match(await alert.textContent(), new RegExp(`^Failed Event ${seq}: its stored leaf hash differs from the hash of its text`));
  assert.match(await alert.textContent(), /tell your security officer/);
  await statusIs(page, 'Verification did not pass: see the result.');
  await shots(page, 'admin-ledger-failed', '#ledger');

  // the same screen in Chinese
  await page.selectOption('#lang', 'zh-Hans');
  assert.match(await page.textContent('#verify-run .result'), new RegExp(`^未通过 事件 ${seq}：`));
  page.assertClean();
});

test('ledger: a key without ledger:read has no ledger screen', async (t) => {
  const env = await demoServer(t);
  const made = await env.api('POST', '/v1/api-keys', { name: 'privacy team', scopes: ['config'] }, 201);
  const page = await consolePage(t, env, { locale: 'en' });
  await signIn(page, env, made.key);
  assert.equal(await page.locator('#nav a[data-screen="ledger"]').count(), 0);
  await page.goto(`${env.server.url}/admin#/ledger`);
  await page.waitForSelector('#purposes[aria-busy="false"]');
  assert.equal(await page.locator('#ledger').count(), 0);
  page.assertClean();
});
