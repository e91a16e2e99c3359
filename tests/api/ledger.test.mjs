// SPDX-License-Identifier: Apache-2.0
// The verifiable ledger from outside: signed checkpoints checked with
// Node's own Ed25519, proofs checked with an independent RFC 9162 verifier
// written here, evidence bundles checked by `cpm verify`, tampering caught
// by `cpm verify --store`, and nothing acknowledged lost across kill -9.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, verify as edVerify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as fx from './fixtures.mjs';
import { cpm, freshData, request, startServer, stopServer } from './harness.mjs';

const sha = (...parts) => createHash('sha256').update(Buffer.concat(parts)).digest();
const leafHash = (text) => sha(Buffer.from([0]), Buffer.from(text, 'utf8'));
const nodeHash = (l, r) => sha(Buffer.from([1]), l, r);

// RFC 9162 §2.1.3.2
function verifyInclusion(index, size, leaf, pathB64, rootB64) {
  if (index >= size) return false;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of pathB64.map((x) => Buffer.from(x, 'base64'))) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1; sn >>= 1;
  }
  return sn === 0 && r.equals(Buffer.from(rootB64, 'base64'));
}

// C2SP signed note with an Ed25519 key from a vkey line.
function verifyNote(note, vkey) {
  const [name, , ...rest] = vkey.trim().split('+'); // base64 may hold '+' too
  const keyB64 = rest.join('+');
  const raw = Buffer.from(keyB64, 'base64');
  assert.equal(raw[0], 1, 'Ed25519 key type');
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw.subarray(1)]);
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const sep = note.indexOf('\n\n');
  const body = note.slice(0, sep + 1);
  const line = note.slice(sep + 2).split('\n').find((l) => l.startsWith(`— ${name} `));
  assert.ok(line, 'a signature line for the key');
  const sig = Buffer.from(line.split(' ')[2], 'base64').subarray(4);
  assert.ok(edVerify(null, Buffer.from(body, 'utf8'), key, sig), 'Ed25519 signature verifies');
  const [origin, size, root] = body.trimEnd().split('\n');
  return { origin, size: Number(size), root };
}

async function setUp(data, server) {
  const key = data.adminKey;
  for (const [p, body] of [
    ['/v1/properties', fx.property()],
    ['/v1/purposes', fx.purpose('marketing.sms')],
    ['/v1/purposes', fx.purpose('analytics')],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version(['marketing.sms', 'analytics'])],
  ]) assert.equal((await request(server, 'POST', p, { key, body })).status, 201);
  const v = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
  return (decisions) => ({
    property: 'shop', channel: 'app', locale: 'zh-Hans', method: 'checkbox',
    notice: { id: 'privacy', version: 1, sha256: v.content['zh-Hans'].sha256 },
    decisions,
  });
}

const waitFor = async (fn, ms = 3000) => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
};

test('checkpoints are signed within a second and proofs verify independently', async () => {
  const data = freshData();
  const server = await startServer(data.data);
  const key = data.adminKey;
  const action = await setUp(data, server);
  const vkey = (await request(server, 'GET', '/v1/ledger/key')).text;
  assert.match(vkey, /^opencpm\/[0-9a-f]{8}\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/);
  const empty = verifyNote((await request(server, 'GET', '/v1/ledger/checkpoint')).text, vkey);
  assert.equal(empty.size, 0);

  const r = await request(server, 'POST', '/v1/subjects/p-1/consents', { key, body: action([{ purpose: 'marketing.sms', decision: 'given' }, { purpose: 'analytics', decision: 'refused' }]) });
  assert.equal(r.status, 201, r.text);
  const t0 = Date.now();
  const cp = await waitFor(async () => {
    const c = verifyNote((await request(server, 'GET', '/v1/ledger/checkpoint')).text, vkey);
    return c.size >= 2 ? c : null;
  });
  assert.ok(cp, 'a checkpoint covering the new events');
  assert.ok(Date.now() - t0 <= 1000, `checkpoint after ${Date.now() - t0} ms`);

  const all = (await request(server, 'GET', '/v1/ledger/events?from_seq=1', { key })).json.items;
  const events = all.filter((e) => e.event.type.startsWith('consent.'));
  assert.equal(events.length, 2);
  const config = all.filter((e) => e.event.type.startsWith('config.') || e.event.type === 'notice.published');
  assert.equal(config.length, 5, 'each configuration change is a ledger event');
  assert.match(config[0].event.key, /^key_[0-9a-f]{16}$/, 'naming the key that made it');
  for (const e of events) {
    const proof = (await request(server, 'GET', `/v1/ledger/proofs/inclusion?seq=${e.seq}&tree_size=${cp.size}`, { key })).json;
    assert.equal(proof.root_hash, cp.root);
    assert.ok(leafHash(e.leaf).equals(Buffer.from(proof.leaf_hash, 'base64')), 'leaf hash is SHA-256(0x00 ‖ leaf text)');
    assert.ok(verifyInclusion(e.seq - 1, cp.size, leafHash(e.leaf), proof.path, cp.root), `seq ${e.seq} proof`);
    assert.ok(!verifyInclusion(e.seq - 1, cp.size, leafHash(e.leaf + ' '), proof.path, cp.root), 'a changed leaf fails');
  }
  const cons = await request(server, 'GET', `/v1/ledger/proofs/consistency?from=1&to=${cp.size}`, { key });
  assert.equal(cons.status, 200, cons.text);
  assert.equal(cons.json.to_root, cp.root);
  const bad = await request(server, 'GET', '/v1/ledger/proofs/inclusion?seq=99', { key });
  assert.equal(bad.status, 422);
  assert.equal((await request(server, 'GET', '/v1/ledger/proofs/inclusion?seq=1')).status, 401);
  await stopServer(server);
  data.cleanup();
});

test('evidence bundles verify offline; a tampered bundle names the event', async () => {
  const data = freshData();
  const server = await startServer(data.data);
  const key = data.adminKey;
  const action = await setUp(data, server);
  for (const d of ['given', 'withdrawn', 'given']) {
    const body = d === 'withdrawn' ? { ...action([{ purpose: 'marketing.sms', decision: d }]), notice: undefined } : action([{ purpose: 'marketing.sms', decision: d }]);
    assert.equal((await request(server, 'POST', '/v1/subjects/e-1/consents', { key, body })).status, 201);
  }
  await request(server, 'POST', '/v1/subjects/other/consents', { key, body: action([{ purpose: 'analytics', decision: 'given' }]) });
  await new Promise((r) => setTimeout(r, 600));
  const ev = await request(server, 'GET', '/v1/subjects/e-1/evidence', { key });
  assert.equal(ev.status, 200, ev.text);
  assert.equal(ev.json.events.length, 3);
  assert.equal(ev.json.notices.length, 1);
  const bundle = path.join(data.dir, 'bundle.json');
  const vkeyFile = path.join(data.dir, 'key.vkey');
  writeFileSync(bundle, ev.text);
  writeFileSync(vkeyFile, ev.json.verifier_key + '\n');
  const ok = cpm(['verify', bundle, '--key', vkeyFile]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /verified: 3 events of subject e-1/);

  const tampered = JSON.parse(ev.text);
  tampered.events[1].leaf = tampered.events[1].leaf.replace('withdrawn', 'given');
  writeFileSync(bundle, JSON.stringify(tampered));
  const bad = cpm(['verify', bundle, '--key', vkeyFile]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, new RegExp(`event seq ${tampered.events[1].seq} is not in the signed tree`));

  const otherKey = cpm(['verify', path.join(data.dir, 'bundle.json'), '--key', 'opencpm/x+00000000+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c']);
  assert.equal(otherKey.status, 1);
  await stopServer(server);
  data.cleanup();
});

test('cpm verify --store re-derives the tree and catches an edited event', async () => {
  const data = freshData();
  const server = await startServer(data.data);
  const action = await setUp(data, server);
  for (let i = 0; i < 5; i++) {
    await request(server, 'POST', `/v1/subjects/s-${i}/consents`, { key: data.adminKey, body: action([{ purpose: 'marketing.sms', decision: 'given' }]) });
  }
  await stopServer(server);
  const ok = cpm(['verify', '--store', '--data', data.data]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /verified: 10 events/);
  const db = path.join(data.data, 'cpm.db');
  const edit = spawnSync('sqlite3', [db, "DROP TRIGGER events_no_update; UPDATE events SET leaf = CAST(replace(CAST(leaf AS TEXT), 'checkbox', 'click') AS BLOB) WHERE seq = 8;"], { encoding: 'utf8' });
  assert.equal(edit.status, 0, edit.stderr);
  const bad = cpm(['verify', '--store', '--data', data.data]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /event seq 8: its stored leaf hash differs/);
  data.cleanup();
});

test('cpm verify --store checks every signed checkpoint, not just the latest', async () => {
  const data = freshData();
  const server = await startServer(data.data);
  const action = await setUp(data, server);
  for (let i = 0; i < 3; i++) {
    await request(server, 'POST', `/v1/subjects/c-${i}/consents`, { key: data.adminKey, body: action([{ purpose: 'marketing.sms', decision: 'given' }]) });
    await new Promise((r) => setTimeout(r, 1200)); // a checkpoint for each size
  }
  await stopServer(server);
  const db = path.join(data.data, 'cpm.db');
  const sizes = spawnSync('sqlite3', [db, 'SELECT size FROM checkpoints ORDER BY size'], { encoding: 'utf8' }).stdout.trim().split('\n');
  assert.ok(sizes.length >= 3, `checkpoints: ${sizes}`);
  const ok = cpm(['verify', '--store', '--data', data.data]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`all ${sizes.length} signed checkpoints match \\(the latest of size ${sizes.at(-1)}`));
  const noUpdate = spawnSync('sqlite3', [db, 'DELETE FROM checkpoints'], { encoding: 'utf8' });
  assert.match(noUpdate.stderr, /checkpoints are append-only/);
  // Someone with write access rewrites an older checkpoint: its signature no longer holds.
  const edit = spawnSync('sqlite3', [db, `DROP TRIGGER checkpoints_no_update; UPDATE checkpoints SET note = replace(note, '\n${sizes[1]}\n', '\n${sizes[1]}\n ') WHERE size = ${sizes[1]};`], { encoding: 'utf8' });
  assert.equal(edit.status, 0, edit.stderr);
  const bad = cpm(['verify', '--store', '--data', data.data]);
  assert.equal(bad.status, 1, bad.stdout);
  assert.match(bad.stderr, new RegExp(`the stored checkpoint of size ${sizes[1]} is not validly signed`));
  data.cleanup();
});

test('kill -9 during concurrent writes loses nothing acknowledged', async () => {
  const data = freshData();
  let server = await startServer(data.data);
  const action = await setUp(data, server);
  const acknowledged = new Map(); // event id → seq
  for (let round = 0; round < 3; round++) {
    const inflight = Array.from({ length: 24 }, (_, i) =>
      request(server, 'POST', `/v1/subjects/k-${round}-${i}/consents`, { key: data.adminKey, body: action([{ purpose: 'marketing.sms', decision: 'given' }, { purpose: 'analytics', decision: 'given' }]) })
        .then((r) => { if (r.status === 201) for (const e of r.json.events) acknowledged.set(e.id, e.seq); })
        .catch(() => {}));
    await new Promise((r) => setTimeout(r, 15 + round * 10));
    server.child.kill('SIGKILL');
    await Promise.all(inflight);
    await server.exitPromise;
    server = await startServer(data.data);
  }
  assert.ok(acknowledged.size > 0, 'some writes were acknowledged before the kills');
  const seen = new Map();
  let cursor = null;
  do {
    const page = await request(server, 'GET', `/v1/ledger/events?limit=200${cursor ? `&cursor=${cursor}` : ''}`, { key: data.adminKey });
    for (const e of page.json.items) {
      assert.ok(!seen.has(e.event.id), `event ${e.event.id} once`);
      seen.set(e.event.id, e.seq);
    }
    cursor = page.json.next_cursor;
  } while (cursor);
  for (const [id, seq] of acknowledged) assert.equal(seen.get(id), seq, `acknowledged ${id} at ${seq}`);
  const seqs = [...seen.values()].sort((a, b) => a - b);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'no gaps');
  assert.ok(seqs.length >= acknowledged.size + 5, 'config events and every acknowledged consent');
  await stopServer(server);
  const v = cpm(['verify', '--store', '--data', data.data]);
  assert.equal(v.status, 0, v.stderr);
  data.cleanup();
});

test('start-up tamper alarm: an edited ledger refuses writes, reads go on', async () => {
  const data = freshData();
  let server = await startServer(data.data);
  const action = await setUp(data, server);
  for (let i = 0; i < 3; i++) {
    assert.equal((await request(server, 'POST', `/v1/subjects/t-${i}/consents`, { key: data.adminKey, body: action([{ purpose: 'marketing.sms', decision: 'given' }]) })).status, 201);
  }
  await stopServer(server);
  const db = path.join(data.data, 'cpm.db');
  const edit = spawnSync('sqlite3', [db, "DROP TRIGGER events_no_update; UPDATE events SET leaf = CAST(replace(CAST(leaf AS TEXT), 'given', 'refused') AS BLOB) WHERE seq = 7;"], { encoding: 'utf8' });
  assert.equal(edit.status, 0, edit.stderr);
  server = await startServer(data.data);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(server.log.some((l) => l.includes('TAMPER ALARM') && l.includes('event seq 7')), server.log.join('\n'));
  const write = await request(server, 'POST', '/v1/subjects/t-9/consents', { key: data.adminKey, body: action([{ purpose: 'marketing.sms', decision: 'given' }]) });
  assert.equal(write.status, 503, write.text);
  assert.equal(write.json.code, 'ledger_tampered');
  assert.match(write.json.detail, /event seq 7/);
  assert.equal((await request(server, 'GET', '/v1/subjects/t-1/consents', { key: data.adminKey })).status, 200);
  assert.equal((await request(server, 'GET', '/v1/ledger/checkpoint')).status, 200);
  await stopServer(server);
  data.cleanup();
});
