// SPDX-License-Identifier: Apache-2.0
// API keys and scopes: 401 without a valid key, 403 without the scope, keys
// shown once, revocation effective at once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cpm, expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

let data, server;
before(async () => {
  data = freshData();
  server = await startServer(data.data);
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

test('missing, malformed and unknown keys are 401 with WWW-Authenticate', async () => {
  for (const key of [undefined, 'nonsense']) {
    const res = await request(server, 'GET', '/v1/purposes', { key });
    expectProblem(assert, res, 401, 'unauthorized');
    assert.match(res.headers['www-authenticate'], /^Bearer/);
  }
  const basic = await request(server, 'GET', '/v1/purposes', { headers: { authorization: 'Basic eDp5' } });
  expectProblem(assert, basic, 401, 'unauthorized');
  const unknown = await request(server, 'GET', '/v1/purposes', { key: 'cpm_' + 'A'.repeat(43) });
  expectProblem(assert, unknown, 401, 'unauthorized');
});

test('admin creates keys; the secret is shown once and never listed', async () => {
  const created = await request(server, 'POST', '/v1/api-keys', {
    key: data.adminKey,
    body: { name: 'decisions only', scopes: ['decisions:read'] },
  });
  assert.equal(created.status, 201, created.text);
  assert.match(created.json.key, /^cpm_[A-Za-z0-9_-]{43}$/);
  assert.match(created.json.id, /^key_[0-9a-f]{16}$/);
  assert.deepEqual(created.json.scopes, ['decisions:read']);
  assert.equal(created.json.revoked_at, null);
  const list = await request(server, 'GET', '/v1/api-keys', { key: data.adminKey });
  assert.equal(list.status, 200);
  assert.ok(list.json.items.some((k) => k.id === created.json.id));
  assert.ok(!list.text.includes(created.json.key), 'secret never listed');
  assert.ok(list.json.items.every((k) => !('key' in k)));
});

test('a key without the scope gets 403; config scope reaches config only', async () => {
  const narrow = await request(server, 'POST', '/v1/api-keys', {
    key: data.adminKey,
    body: { name: 'narrow', scopes: ['ledger:read'] },
  });
  const res = await request(server, 'GET', '/v1/purposes', { key: narrow.json.key });
  const p = expectProblem(assert, res, 403, 'forbidden');
  assert.match(p.detail, /config/);
  const config = await request(server, 'POST', '/v1/api-keys', {
    key: data.adminKey,
    body: { name: 'config', scopes: ['config'] },
  });
  assert.equal((await request(server, 'GET', '/v1/purposes', { key: config.json.key })).status, 200);
  expectProblem(assert, await request(server, 'GET', '/v1/api-keys', { key: config.json.key }), 403, 'forbidden');
});

test('revoked keys stop working: at once through the API, within a second through the CLI', async () => {
  const a = await request(server, 'POST', '/v1/api-keys', { key: data.adminKey, body: { name: 'a', scopes: ['config'] } });
  assert.equal((await request(server, 'GET', '/v1/purposes', { key: a.json.key })).status, 200);
  const del = await request(server, 'DELETE', `/v1/api-keys/${a.json.id}`, { key: data.adminKey });
  assert.equal(del.status, 204);
  expectProblem(assert, await request(server, 'GET', '/v1/purposes', { key: a.json.key }), 401, 'unauthorized');
  expectProblem(assert, await request(server, 'DELETE', `/v1/api-keys/${a.json.id}`, { key: data.adminKey }), 404, 'not_found');

  const made = cpm(['keys', 'create', '--data', data.data, '--name', 'cli', '--scope', 'config']);
  assert.equal(made.status, 0, made.stderr);
  const cliKey = made.stdout.trim();
  assert.equal((await request(server, 'GET', '/v1/purposes', { key: cliKey })).status, 200);
  const id = /API key (key_[0-9a-f]{16})/.exec(made.stderr)[1];
  assert.equal(cpm(['keys', 'revoke', id, '--data', data.data]).status, 0);
  // cpmd trusts a checked key for CPM_KEY_CACHE_MS (1 s) unless it revoked it itself.
  await new Promise((r) => setTimeout(r, 1100));
  expectProblem(assert, await request(server, 'GET', '/v1/purposes', { key: cliKey }), 401, 'unauthorized');
});

test('key creation validates its body', async () => {
  const bad = await request(server, 'POST', '/v1/api-keys', {
    key: data.adminKey,
    body: { name: '', scopes: ['config', 'root'], colour: 'red' },
  });
  const p = expectProblem(assert, bad, 422, 'validation_failed');
  const fields = p.errors.map((e) => e.field).sort();
  assert.deepEqual(fields, ['colour', 'name', 'scopes[1]']);
});
