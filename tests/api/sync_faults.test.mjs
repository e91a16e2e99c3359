// SPDX-License-Identifier: Apache-2.0
// Sync under faults: a receiver that is down for a while, hangs past the
// timeout or drops the connection; cpmd killed -9 in the middle of
// deliveries; a NATS JetStream destination whose server restarts. After
// each, every event reached the destination at least once, in per-subject
// order, duplicates only under the same id, and no dead letters.
import assert from 'node:assert/strict';
import { connect } from 'nats';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { freshData, request, startServer, stopServer } from './harness.mjs';
import { startNats } from './support/nats.mjs';
import { duplicatesOf, perSubjectOrder, startReceiver } from './support/receiver.mjs';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const env = { CPM_OUTBOUND_ALLOW: '127.0.0.1/32', CPM_RETRY_BASE_MS: '50', CPM_RETRY_MAX_MS: '300' };
let data, server, key, notice;

before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data, { env });
  await fx.createAll(request, server, key, [
    ['/v1/properties', fx.property()],
    ['/v1/purposes', fx.purpose('marketing.sms')],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version(['marketing.sms'])],
  ]);
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

const decide = (subject, decision) =>
  request(server, 'POST', `/v1/subjects/${subject}/consents`, {
    key, body: fx.consentBody(notice, [{ purpose: 'marketing.sms', decision }]),
  });

/** Writes n alternating given/withdrawn events over `subjects` subjects, 8 at a time; returns their seqs. */
async function writeEvents(prefix, n, subjects) {
  const seqs = [];
  for (let i = 0; i < n; i += 8) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 8); j++)
      batch.push(decide(`${prefix}-${j % subjects}`, Math.floor(j / subjects) % 2 ? 'withdrawn' : 'given'));
    for (const res of await Promise.all(batch)) {
      assert.equal(res.status, 201, res.text);
      seqs.push(...res.json.events.map((e) => e.seq));
    }
  }
  return seqs;
}

async function hook(id, url, extra = {}) {
  const res = await request(server, 'POST', '/v1/destinations', {
    key, body: { id, name: id, kind: 'webhook', endpoint: url, secret: SECRET, ...extra },
  });
  assert.equal(res.status, 201, res.text);
}

/** Every event of subjects starting with prefix reached the receiver, in order, no new ids. */
function assertComplete(receiver, prefix, count) {
  const mine = receiver.received.filter((d) => d.event.subject?.startsWith(prefix));
  const ids = new Set(mine.map((d) => d.id));
  assert.equal(ids.size, count, `${ids.size} distinct of ${count} events arrived`);
  assert.deepEqual(perSubjectOrder(mine), []);
  assert.deepEqual(receiver.invalid, []);
  for (const id of duplicatesOf(mine)) assert.ok(ids.has(id));
}

test('a receiver down for a while, then back: everything arrives, in order', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  try {
    await hook('down', receiver.url);
    await receiver.stop();
    await writeEvents('dn', 40, 5);
    await new Promise((r) => setTimeout(r, 700)); // several failed attempts each
    await receiver.restart();
    await receiver.waitFor((r) => new Set(r.map((d) => d.id)).size >= 40, 15000);
    assertComplete(receiver, 'dn', 40);
    const dead = (await request(server, 'GET', '/v1/destinations/down/deliveries?status=dead', { key })).json;
    assert.deepEqual(dead.items, []);
    const failed = (await request(server, 'GET', '/v1/destinations/down/deliveries?status=failed', { key })).json;
    assert.ok(failed.items.length > 0 && /connect|Connection refused|Couldn't/i.test(failed.items[0].detail), JSON.stringify(failed.items[0]));
  } finally {
    await request(server, 'DELETE', '/v1/destinations/down', { key });
    await receiver.stop();
  }
});

test('a receiver that hangs past the timeout or drops the connection is retried', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  try {
    receiver.setMode((event, attempt) => {
      if (event.subject === 'hg-0' && attempt === 1) return { hang: true };
      if (event.subject === 'hg-1' && attempt <= 2) return { reset: true };
      return undefined;
    });
    await hook('hang', receiver.url, { timeout_ms: 300 });
    await writeEvents('hg', 6, 3);
    await receiver.waitFor((r) => new Set(r.map((d) => d.id)).size >= 6, 15000);
    assertComplete(receiver, 'hg', 6);
    const failed = (await request(server, 'GET', '/v1/destinations/hang/deliveries?status=failed', { key })).json.items;
    assert.ok(failed.some((d) => d.subject === 'hg-0' && /timed out|Timeout/i.test(d.detail)), JSON.stringify(failed));
    assert.ok(failed.some((d) => d.subject === 'hg-1'), JSON.stringify(failed));
  } finally {
    await request(server, 'DELETE', '/v1/destinations/hang', { key });
    await receiver.stop();
  }
});

test('cpmd killed -9 in the middle of deliveries: after a restart nothing is lost', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  try {
    receiver.setMode({ delayMs: 15 });
    await hook('crash', receiver.url);
    await writeEvents('kl', 240, 24);
    await receiver.waitFor((r) => r.length >= 30, 15000);
    server.child.kill('SIGKILL');
    await server.exitPromise;
    const before = receiver.received.length;
    assert.ok(before < 240, `the kill came before the end (${before} delivered)`);
    server = await startServer(data.data, { env });
    await receiver.waitFor((r) => new Set(r.filter((d) => d.event.subject?.startsWith('kl')).map((d) => d.id)).size >= 240, 30000);
    assertComplete(receiver, 'kl', 240);
  } finally {
    await request(server, 'DELETE', '/v1/destinations/crash', { key });
    await receiver.stop();
  }
});

/** The stream's info once it holds n messages. */
async function waitStoredOn(jsm, n) {
  for (let i = 0; i < 200; i++) {
    const info = await jsm.streams.info('CPM');
    if (info.state.messages >= n) return info;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`stream holds ${(await jsm.streams.info('CPM')).state.messages} of ${n}`);
}

// The dispatcher's lane of a subject: FNV-1a 32-bit modulo 32 (src/sync/worker.c).
const laneOf = (subject) => {
  let h = 2166136261;
  for (const b of Buffer.from(subject)) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h % 32;
};

test('a lane that keeps failing overflows without holding up the others, and is read back in order', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  const LANE = laneOf('ov-0');
  let blocked = true;
  receiver.setMode((event) => (blocked && laneOf(event.subject ?? '') === LANE ? { status: 503 } : undefined));
  try {
    await hook('overflow', receiver.url, { max_attempts: 50 });
    const same = [];
    for (let i = 0; same.length < 20; i++) if (laneOf(`ov-${i}`) === LANE) same.push(`ov-${i}`);
    let others = [];
    for (let i = 0; others.length < 5; i++) if (laneOf(`ot-${i}`) !== LANE) others.push(`ot-${i}`);
    // 300 events in one lane: over its 128-event queue, so it overflows
    for (let round = 0; round < 15; round++) {
      const res = await Promise.all(same.map((s) => decide(s, round % 2 ? 'withdrawn' : 'given')));
      for (const r of res) assert.equal(r.status, 201, r.text);
    }
    for (const s of others) assert.equal((await decide(s, 'given')).status, 201);
    await receiver.waitFor((r) => others.every((s) => r.some((d) => d.event.subject === s)), 15000);
    assert.equal(receiver.received.filter((d) => laneOf(d.event.subject) === LANE).length, 0, 'the failing lane is still failing');
    blocked = false;
    await receiver.waitFor((r) => new Set(r.filter((d) => d.event.subject?.startsWith('ov-')).map((d) => d.id)).size >= 300, 30000);
    assertComplete(receiver, 'ov-', 300);
    const dead = (await request(server, 'GET', '/v1/destinations/overflow/deliveries?status=dead', { key })).json;
    assert.deepEqual(dead.items, []);
  } finally {
    await request(server, 'DELETE', '/v1/destinations/overflow', { key });
    await receiver.stop();
  }
});

test('NATS JetStream: published with Nats-Msg-Id, acknowledged, in order, across a NATS restart', async () => {
  const nats = await startNats();
  let nc;
  try {
    nc = await connect({ servers: nats.url });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'CPM', subjects: ['cpm.>'] });
    const res = await request(server, 'POST', '/v1/destinations', {
      key, body: { id: 'stream', name: 'Stream', kind: 'nats', endpoint: nats.url, stream: 'CPM' },
    });
    assert.equal(res.status, 201, res.text);
    const first = await writeEvents('ns', 30, 5);
    await waitStoredOn(jsm, 30);
    await nc.close();
    await nats.stop();
    const second = await writeEvents('nt', 20, 4);
    await new Promise((r) => setTimeout(r, 500));
    await nats.start();
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1 });
    const js = nc.jetstream();
    // Both batches; re-sends under the same id after the restart are dropped by the server.
    const info = await waitStoredOn(await nc.jetstreamManager(), 50);
    const consumer = await js.consumers.get('CPM');
    const got = [];
    const iter = await consumer.fetch({ max_messages: 100, expires: 2000 });
    for await (const m of iter) {
      got.push({ id: m.headers?.get('Nats-Msg-Id'), event: JSON.parse(m.string()), subject: m.subject });
      if (got.length >= 50) break;
    }
    assert.equal(info.state.messages, 50, 'no duplicate stored');
    assert.equal(got.length, 50, `stream holds ${got.length} events`);
    assert.ok(got.every((g) => g.id === g.event.id && g.subject === `cpm.${g.event.type.slice(4)}`));
    const seqs = got.map((g) => g.event.data.seq);
    assert.deepEqual([...seqs].sort((a, b) => a - b), [...first, ...second].sort((a, b) => a - b));
    assert.deepEqual(perSubjectOrder(got.map((g) => ({ id: g.id, event: g.event }))), []);
    const log = (await request(server, 'GET', '/v1/destinations/stream/deliveries?status=failed', { key })).json.items;
    assert.ok(log.length > 0, 'the failures while NATS was down are in the log');
  } finally {
    await request(server, 'DELETE', '/v1/destinations/stream', { key });
    await nc?.close();
    await nats.cleanup();
  }
});
