// SPDX-License-Identifier: Apache-2.0
// The server's life: settings from flags and environment, persistence across
// restarts, graceful shutdown with a request in flight, refusing a store
// from a newer OpenCPM, and the cpm CLI's init/seed/keys behaviour.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as fx from './fixtures.mjs';
import { cpm, cpmdBin, freshData, logLine, rawConnect, readUntilClose, request, startServer, stopServer } from './harness.mjs';

test('configuration and notice versions survive a restart unchanged', async () => {
  const data = freshData();
  let server = await startServer(data.data);
  await fx.seedAll(request, server, data.adminKey);
  const v1 = await request(server, 'GET', '/v1/notices/privacy/versions/1');
  const pol = await request(server, 'GET', '/v1/policies/cn-shop', { key: data.adminKey });
  assert.deepEqual(await stopServer(server), { code: 0, signal: null });
  assert.ok(server.log.some((l) => l.includes('stopped cleanly')));

  server = await startServer(data.data);
  assert.equal((await request(server, 'POST', '/v1/notices/privacy/versions', { key: data.adminKey, body: fx.version() })).status, 201);
  assert.deepEqual((await request(server, 'GET', '/v1/notices/privacy/versions/1')).json, v1.json);
  assert.deepEqual((await request(server, 'GET', '/v1/policies/cn-shop', { key: data.adminKey })).json, pol.json);
  await stopServer(server);
  data.cleanup();
});

test('SIGTERM lets an in-flight request finish, then exits 0', async () => {
  const data = freshData();
  const server = await startServer(data.data);
  const body = JSON.stringify(fx.property());
  const sock = await rawConnect(server);
  sock.write(`POST /v1/properties HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${data.adminKey}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
  sock.write(body.slice(0, 10));
  await new Promise((r) => setTimeout(r, 200));
  server.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(server.exited, null, 'still draining while a request is open');
  const answer = readUntilClose(sock, 5000);
  sock.end(body.slice(10));
  const got = await answer;
  assert.match(got.text, /^HTTP\/1\.1 201/);
  assert.deepEqual(await server.exitPromise, { code: 0, signal: null });
  assert.ok(server.log.some((l) => l.includes('SIGTERM received')));
  // The write that was answered is durable.
  const again = await startServer(data.data);
  assert.equal((await request(again, 'GET', '/v1/properties/shop', { key: data.adminKey })).status, 200);
  await stopServer(again);
  data.cleanup();
});

test('settings come from CPM_* environment variables; flags win', async () => {
  const data = freshData();
  const server = await startServer(path.join(data.dir, 'nowhere'), {
    args: ['--data', data.data],
    env: { CPM_DATA: '/nonexistent', CPM_THREADS: '3', CPM_LOG_LEVEL: 'debug' },
  });
  assert.ok(server.log.some((l) => / threads=3$/.test(l)), server.log.join('\n'));
  await request(server, 'GET', '/healthz');
  assert.ok(await logLine(server, (l) => l.includes('level=debug module=http') && l.includes('route="/healthz"')));
  await stopServer(server);
  const bad = spawnSync(cpmdBin, [], { env: { ...process.env, CPM_LISTEN: 'nonsense' }, encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /listen: 'nonsense' is not HOST:PORT/);
  for (const value of ['-1', '86401', 'often']) {
    const r = spawnSync(cpmdBin, ['--index-snapshot-interval', value], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`index-snapshot-interval: must be seconds 0–86400 \\(0: only on a clean stop\\), not '${value}'`));
  }
  const envData = spawnSync(cpmdBin, ['--listen', '127.0.0.1:0'], { env: { ...process.env, CPM_DATA: path.join(data.dir, 'missing') }, encoding: 'utf8' });
  assert.equal(envData.status, 1);
  assert.match(envData.stderr, /cpm init --data/);
  data.cleanup();
});

test('connections arriving at once are all served; a port in use is refused by name; IPv6 loopback', async () => {
  const data = freshData();
  const server = await startServer(data.data);
  const burst = await Promise.all(Array.from({ length: 96 }, () => request(server, 'GET', '/healthz')));
  assert.deepEqual([...new Set(burst.map((r) => r.status))], [200]);
  const other = freshData();
  const taken = spawnSync(cpmdBin, ['--data', other.data, '--listen', `127.0.0.1:${server.port}`], { encoding: 'utf8', timeout: 10000 });
  assert.equal(taken.status, 1, taken.stderr);
  assert.match(taken.stderr, new RegExp(`listen: cannot listen on 127\\.0\\.0\\.1:${server.port}: Address already in use`));
  assert.equal((await request(server, 'GET', '/healthz')).status, 200, 'the first server is untouched');
  await stopServer(server);
  const hasV6 = Object.values(os.networkInterfaces()).flat().some((a) => a && a.family === 'IPv6' && a.address === '::1');
  if (hasV6) {
    const v6 = await startServer(other.data, { args: ['--listen', '[::1]:0'] });
    assert.match(v6.url, /^http:\/\/\[::1\]:\d+$/);
    const status = await new Promise((resolve, reject) => {
      http.get({ host: '::1', port: v6.port, path: '/healthz', agent: false }, (res) => resolve(res.statusCode)).on('error', reject);
    });
    assert.equal(status, 200);
    await stopServer(v6);
  } else {
    const r = spawnSync(cpmdBin, ['--data', other.data, '--listen', '[::1]:0'], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /listen: cannot listen on ::1:0: /);
  }
  other.cleanup();
  data.cleanup();
});

/* Resolves once check() has held for 500 ms running, or rejects after ms. */
async function settles(check, ms, what) {
  const end = Date.now() + ms;
  let since = null;
  for (;;) {
    if (check()) since ??= Date.now();
    else since = null;
    if (since !== null && Date.now() - since >= 500) return;
    if (Date.now() > end) throw new Error(`never settled: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('out of file descriptors, connections wait in the backlog and are served as others close', async () => {
  const data = freshData();
  const server = await startServer(data.data, { wrapper: ['prlimit', '--nofile=64', '--'] });
  const total = 90;
  const answered = new Set();
  const errors = [];
  const socks = Array.from({ length: total }, (_, i) => {
    const s = net.connect(server.port, '127.0.0.1', () => s.write('GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n'));
    s.on('data', (d) => {
      if (d.toString().startsWith('HTTP/1.1 200')) answered.add(i);
    });
    s.on('error', (e) => errors.push(e.code));
    return s;
  });
  let last = -1;
  await settles(() => {
    const same = answered.size === last;
    last = answered.size;
    return same && last > 0;
  }, 10000, 'the first answers');
  assert.ok(answered.size < total, `all ${total} served with 64 descriptors?`);
  const waiting = answered.size;
  for (const i of answered) socks[i].destroy(); /* their descriptors come back to cpmd */
  await settles(() => answered.size === total, 10000, `the ${total - waiting} waiting connections`);
  assert.deepEqual(errors, []);
  for (const s of socks) s.destroy();
  assert.ok(await logLine(server, (l) => l.includes('level=warn module=http msg="cannot accept connections for now: Too many open files"')));
  assert.ok(server.log.filter((l) => l.includes('cannot accept connections')).length <= 3, 'one warning a spell');
  assert.equal((await request(server, 'GET', '/healthz')).status, 200);
  assert.deepEqual(await stopServer(server), { code: 0, signal: null });
  data.cleanup();
});

test('cpmd refuses a store written by a newer OpenCPM and changes nothing', () => {
  const data = freshData();
  const db = path.join(data.data, 'cpm.db');
  spawnSync('sqlite3', [db, 'PRAGMA user_version = 99;']);
  const r = spawnSync(cpmdBin, ['--data', data.data, '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /schema version 99/);
  const v = spawnSync('sqlite3', [db, 'PRAGMA user_version;'], { encoding: 'utf8' });
  assert.equal(v.stdout.trim(), '99');
  data.cleanup();
});

test('cpm init prints one admin key once and refuses an initialised directory', () => {
  const data = freshData();
  assert.match(data.adminKey, /^cpm_[A-Za-z0-9_-]{43}$/);
  const again = cpm(['init', '--data', data.data]);
  assert.equal(again.status, 1);
  assert.equal(again.stdout, '');
  assert.match(again.stderr, /already/);
  data.cleanup();
});

test('every cpm command has --help and rejects unknown arguments', () => {
  for (const cmd of [[], ['init'], ['serve'], ['keys'], ['seed']]) {
    const r = cpm([...cmd, '--help']);
    assert.equal(r.status, 0, `${cmd} --help`);
    assert.match(r.stdout, /usage:/);
  }
  assert.equal(spawnSync(cpmdBin, ['--help']).status, 0);
  assert.equal(cpm(['frobnicate']).status, 2);
  assert.equal(cpm(['init', '--bogus']).status, 2);
  assert.equal(cpm(['keys', 'create', '--name', 'x', '--scope', 'root']).status, 2);
});

test('cpm keys list shows keys without secrets', () => {
  const data = freshData();
  const made = cpm(['keys', 'create', '--data', data.data, '--name', 'ops', '--scope', 'config', '--scope', 'export']);
  assert.equal(made.status, 0, made.stderr);
  const list = cpm(['keys', 'list', '--data', data.data]);
  assert.equal(list.status, 0);
  assert.match(list.stdout, /config export\s+ops/);
  assert.ok(!list.stdout.includes(made.stdout.trim()));
  assert.ok(!list.stdout.includes(data.adminKey));
  data.cleanup();
});

test('cpm seed loads the demo, is idempotent, and writes nothing from a bad file', async () => {
  const data = freshData();
  const first = cpm(['seed', '--data', data.data, 'demo/demo.json']);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /13 created, 0 already present, 1 notice versions published/);
  const second = cpm(['seed', '--data', data.data, 'demo/demo.json']);
  assert.match(second.stderr, /0 created, 13 already present, 0 notice versions published/);

  const bad = path.join(data.dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({
    purposes: [fx.purpose('fine.one'), { ...fx.purpose('broken.one'), legal_basis: 'whim' }],
  }));
  const r = cpm(['seed', '--data', data.data, bad]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /purposes\[1\]\.legal_basis/);
  const server = await startServer(data.data);
  assert.equal((await request(server, 'GET', '/v1/purposes/fine.one', { key: data.adminKey })).status, 404);
  const sms = await request(server, 'GET', '/v1/purposes/marketing.sms', { key: data.adminKey });
  assert.equal(sms.json.consent_form, 'general');
  const v = await request(server, 'GET', '/v1/notices/privacy/versions/1?locale=zh-Hant');
  assert.match(v.json.content['zh-Hant'].title, /私隱政策/);
  await stopServer(server);
  data.cleanup();
});

test('consents expire by themselves, also when the time passed while cpmd was down', async () => {
  const data = freshData();
  let server = await startServer(data.data);
  const key = data.adminKey;
  await fx.seedAll(request, server, key); // policy cn-shop: region CN, validity P12M
  const patched = await request(server, 'PATCH', '/v1/policies/cn-shop', { key, body: { reminder_before: 'P30D' } });
  assert.equal(patched.status, 200, patched.text);
  const v = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
  const body = {
    property: 'shop', channel: 'web', locale: 'en', method: 'click', region: 'CN',
    notice: { id: 'privacy', version: 1, sha256: v.content.en.sha256 },
    decisions: [{ purpose: 'marketing.sms', decision: 'given' }],
  };
  assert.equal((await request(server, 'POST', '/v1/subjects/x-1/consents', { key, body })).status, 201);
  const before = (await request(server, 'GET', '/v1/subjects/x-1/consents', { key })).json.consents[0];
  assert.equal(before.status, 'given');
  assert.ok(before.expires_at);
  await stopServer(server);
  const waitForEvent = async (type) => {
    for (let i = 0; i < 40; i++) {
      const items = (await request(server, 'GET', '/v1/subjects/x-1/events', { key })).json.items;
      if (items.at(-1).event.type === type) return items.at(-1);
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  };
  // Eleven and a half months later: the renewal reminder (提醒), the consent still holds.
  server = await startServer(data.data, { env: { CPM_TEST_CLOCK_OFFSET_MS: String(350 * 86400e3) } });
  const reminder = await waitForEvent('consent.expiring');
  assert.ok(reminder, 'a consent.expiring reminder');
  assert.equal(reminder.event.ends, before.deciding_event);
  const still = (await request(server, 'GET', '/v1/subjects/x-1/consents', { key })).json.consents[0];
  assert.equal(still.status, 'given');
  assert.equal(still.deciding_event, before.deciding_event, 'a reminder decides nothing');
  await stopServer(server);
  server = await startServer(data.data, { env: { CPM_TEST_CLOCK_OFFSET_MS: String(355 * 86400e3) } });
  await new Promise((r) => setTimeout(r, 300));
  const reminders = (await request(server, 'GET', '/v1/subjects/x-1/events', { key })).json.items.filter((e) => e.event.type === 'consent.expiring');
  assert.equal(reminders.length, 1, 'reminded once');
  await stopServer(server);
  // Thirteen months later (the clock is moved for this test only).
  server = await startServer(data.data, { env: { CPM_TEST_CLOCK_OFFSET_MS: String(396 * 86400e3) } });
  const after = await (async () => {
    for (let i = 0; i < 40; i++) {
      const c = (await request(server, 'GET', '/v1/subjects/x-1/consents', { key })).json.consents[0];
      if (c.status === 'expired') return c;
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  })();
  assert.ok(after, 'expired within a few seconds of start');
  const events = (await request(server, 'GET', '/v1/subjects/x-1/events', { key })).json.items;
  assert.equal(events.at(-1).event.type, 'consent.expired');
  assert.equal(events.at(-1).event.ends, before.deciding_event);
  assert.ok(server.log.some((l) => l.includes('TEST CLOCK')));
  await stopServer(server);
  assert.equal(cpm(['verify', '--store', '--data', data.data]).status, 0);
  data.cleanup();
});
