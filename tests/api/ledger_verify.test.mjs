// SPDX-License-Identifier: Apache-2.0
// "Verify now": the full ledger check run by cpmd in the background
// (POST /v1/ledger/verifications, GET /v1/ledger/verifications/latest):
// it re-derives the whole tree while cpmd serves, reports its progress, and
// names the event an attacker edited in the database under a running cpmd.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import * as fx from './fixtures.mjs';
import { freshData, logLine, request, startServer, stopServer } from './harness.mjs';

async function setUp(server, key) {
  for (const [p, body] of [
    ['/v1/properties', fx.property()],
    ['/v1/purposes', fx.purpose('marketing.sms')],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version(['marketing.sms'])],
  ]) assert.equal((await request(server, 'POST', p, { key, body })).status, 201);
  const v = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
  for (let i = 0; i < 6; i++) {
    const body = {
      property: 'shop', channel: 'app', locale: 'zh-Hans', method: 'checkbox',
      notice: { id: 'privacy', version: 1, sha256: v.content['zh-Hans'].sha256 },
      decisions: [{ purpose: 'marketing.sms', decision: i % 2 ? 'refused' : 'given' }],
    };
    assert.equal((await request(server, 'POST', `/v1/subjects/v-${i}/consents`, { key, body })).status, 201);
  }
}

/** Starts a run and waits for its end; the last status seen. */
async function verifyNow(server, key) {
  const start = await request(server, 'POST', '/v1/ledger/verifications', { key });
  assert.equal(start.status, 202, start.text);
  assert.equal(start.headers.location, '/v1/ledger/verifications/latest');
  assert.equal(start.json.state, 'running');
  for (let i = 0; i < 200; i++) {
    const s = (await request(server, 'GET', '/v1/ledger/verifications/latest', { key })).json;
    assert.equal(s.run, start.json.run, 'the run started');
    if (s.state !== 'running') return s;
    assert.ok(s.checked <= s.total, `progress ${s.checked} of ${s.total}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('the verification did not end in 10 s');
}

test('verify now: the whole ledger re-derived in the background, with who asked and how far it got', async () => {
  const data = freshData();
  const server = await startServer(data.data);
  const key = data.adminKey;
  const none = await request(server, 'GET', '/v1/ledger/verifications/latest', { key });
  assert.equal(none.status, 404, 'nothing has run since cpmd started');
  await setUp(server, key);
  const size = (await request(server, 'GET', '/v1/ledger/events?from_seq=1&limit=200', { key })).json.items.length;
  assert.ok(size >= 10, `${size} events`);
  await new Promise((r) => setTimeout(r, 1100)); // a checkpoint over them all

  const done = await verifyNow(server, key);
  assert.equal(done.state, 'passed', JSON.stringify(done));
  assert.equal(done.checked, size);
  assert.equal(done.total, size);
  assert.ok(done.checkpoints >= 1, 'signed checkpoints compared');
  assert.equal(done.latest_checkpoint_size, size);
  assert.match(done.requested_by, /^key_[0-9a-f]{16}$/);
  assert.ok(Date.parse(done.finished_at) >= Date.parse(done.started_at));
  assert.equal(done.problem, undefined);
  assert.ok(await logLine(server, (l) => l.includes('full verification passed')), 'the outcome is logged');

  const again = await verifyNow(server, key);
  assert.equal(again.run, done.run + 1, 'each run numbered');

  // who may ask: ledger:read; not another scope, not anyone
  const cfg = await request(server, 'POST', '/v1/api-keys', { key, body: { name: 'config only', scopes: ['config'] } });
  assert.equal(cfg.status, 201, cfg.text);
  assert.equal((await request(server, 'POST', '/v1/ledger/verifications', { key: cfg.json.key })).status, 403);
  assert.equal((await request(server, 'GET', '/v1/ledger/verifications/latest', { key: cfg.json.key })).status, 403);
  assert.equal((await request(server, 'POST', '/v1/ledger/verifications')).status, 401);
  await stopServer(server);
  data.cleanup();
});

test('verify now names the event edited in the database under a running cpmd', async () => {
  const data = freshData();
  const server = await startServer(data.data);
  const key = data.adminKey;
  await setUp(server, key);
  const db = path.join(data.data, 'cpm.db');
  // the first refusal becomes a consent, by someone with write access to the database
  const sql = (q) => spawnSync('sqlite3', [db, q], { encoding: 'utf8' });
  const seq = Number(sql("SELECT min(seq) FROM events WHERE CAST(leaf AS TEXT) LIKE '%consent.refused%'").stdout.trim());
  assert.ok(seq > 1, `a refusal at seq ${seq}`);
  const edit = sql(`DROP TRIGGER events_no_update; UPDATE events SET leaf = CAST(replace(CAST(leaf AS TEXT), 'consent.refused', 'consent.given') AS BLOB) WHERE seq = ${seq};`);
  assert.equal(edit.status, 0, `sqlite3: ${edit.stderr}`);
  const done = await verifyNow(server, key);
  assert.equal(done.state, 'failed', JSON.stringify(done));
  assert.equal(done.problem.seq, seq, `the edited event (${seq})`);
  assert.match(done.problem.message, /its stored leaf hash differs from the hash of its text/);
  assert.equal(done.checked, seq, 'stopped at the first fault');
  assert.ok(await logLine(server, (l) => l.includes('full verification FAILED') && l.includes(`seq ${seq}`)), 'the alarm is logged');
  await stopServer(server);
  data.cleanup();
});
