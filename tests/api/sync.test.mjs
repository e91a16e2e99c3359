// SPDX-License-Identifier: Apache-2.0
// Sync to webhooks: destinations as configuration (secret shown once, bad
// documents refused), CloudEvents signed per Standard Webhooks checked by an
// independent receiver, per-subject order, filters, the recipient's separate
// consent (PIPL Art. 23/39), retries with Retry-After, 410 disabling, dead
// letters, replay under the same ids, the SSRF guard, the delivery log and
// "where my data went", metrics — and nothing lost across kill -9.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';
import { duplicatesOf, perSubjectOrder, startReceiver } from './support/receiver.mjs';
import * as deliveryLog from './support/deliveries.mjs';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const serverEnv = { CPM_OUTBOUND_ALLOW: '127.0.0.1/32', CPM_RETRY_BASE_MS: '50', CPM_RETRY_MAX_MS: '200' };
let data, server, key, notice;

const setup = [
  ['/v1/properties', fx.property()],
  ['/v1/purposes', fx.purpose('marketing.sms')],
  ['/v1/purposes', fx.purpose('marketing.email')],
  ['/v1/purposes', fx.purpose('share.partner', { consent_form: 'separate', recipients: ['partner-sg'] })],
  ['/v1/notices', fx.notice()],
  ['/v1/notices/privacy/versions', fx.version(['marketing.sms', 'marketing.email', 'share.partner'])],
];

before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data, { env: serverEnv });
  await fx.createAll(request, server, key, setup);
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

const consent = (subject, decisions) =>
  request(server, 'POST', `/v1/subjects/${subject}/consents`, { key, body: fx.consentBody(notice, decisions) });
const given = (subject, purpose = 'marketing.sms', extra = {}) =>
  consent(subject, [{ purpose, decision: 'given', ...extra }]);
const withdrawn = (subject, purpose = 'marketing.sms') =>
  consent(subject, [{ purpose, decision: 'withdrawn' }]);

async function hook(id, receiver, extra = {}) {
  const res = await request(server, 'POST', '/v1/destinations', {
    key,
    body: { id, name: `Hook ${id}`, kind: 'webhook', endpoint: receiver.url, secret: SECRET, ...extra },
  });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

// The dispatcher's lane of a subject: FNV-1a 32-bit modulo 32 (src/sync/worker.c).
const lane = (subject) => {
  let h = 2166136261;
  for (const b of Buffer.from(subject)) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h % 32;
};

const deliveries = (id, query = '') => deliveryLog.deliveries(server, key, id, query);
const logWhen = (id, pred, query = '') => deliveryLog.logWhen(server, key, id, pred, query);

test('a consent change reaches the webhook as a signed CloudEvent, in order per subject', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  try {
    await hook('crm', receiver);
    for (let i = 0; i < 10; i++) {
      assert.equal((await given(`s-${i % 3}`)).status, 201);
      assert.equal((await withdrawn(`s-${i % 3}`)).status, 201);
    }
    await receiver.waitFor((r) => r.length >= 20);
    assert.deepEqual(receiver.invalid, [], 'every delivery verifies');
    const ev = receiver.received[0].event;
    assert.equal(ev.specversion, '1.0');
    assert.equal(ev.type, 'cpm.consent.given');
    assert.equal(ev.subject, 's-0');
    assert.equal(ev.data.purpose, 'marketing.sms');
    assert.ok(Number.isInteger(ev.data.seq));
    assert.equal(receiver.received[0].id, ev.id, 'webhook-id is the event id');
    assert.deepEqual(perSubjectOrder(receiver.received), []);
    const log = await logWhen('crm', (l) => l.length >= 20);
    assert.ok(log.every((d) => d.outcome === 'delivered' && d.status >= 200));
    assert.ok(log.every((d) => d.latency_ms >= 0 && d.acknowledged_after_ms >= 0));
    const where = (await request(server, 'GET', '/v1/subjects/s-1/deliveries', { key })).json.items;
    assert.ok(where.length > 0 && where.every((d) => d.subject === 's-1' && d.destination === 'crm'));
    const dest = (await request(server, 'GET', '/v1/destinations/crm', { key })).json;
    assert.equal(dest.secret, undefined, 'the secret is never read back');
    assert.match(dest.secret_hint, /^whsec_MfKQ/);
    assert.ok(dest.delivery.delivered >= 20, JSON.stringify(dest.delivery));
    const metrics = (await request(server, 'GET', '/metrics')).text;
    assert.match(metrics, /cpm_sync_outcomes_total\{destination="crm",outcome="delivered"\} [1-9]/);
    assert.match(metrics, /cpm_sync_acknowledged_after_seconds_bucket\{destination="crm",le="\+Inf"\} [1-9]/);
  } finally {
    await request(server, 'DELETE', '/v1/destinations/crm', { key });
    await receiver.stop();
  }
});

test('a secret is made when none is given, shown once', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  const res = await request(server, 'POST', '/v1/destinations', {
    key, body: { id: 'made', name: 'Made', kind: 'webhook', endpoint: receiver.url },
  });
  assert.equal(res.status, 201, res.text);
  assert.match(res.json.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  const again = (await request(server, 'GET', '/v1/destinations/made', { key })).json;
  assert.equal(again.secret, undefined);
  assert.equal((await request(server, 'DELETE', '/v1/destinations/made', { key })).status, 204);
  assert.equal((await request(server, 'GET', '/v1/destinations/made', { key })).status, 404);
  await receiver.stop();
});

test('secrets are stored sealed; a changed secret is used at once; a sealed value cannot be sent', async () => {
  const sql = (q) => spawnSync('sqlite3', [path.join(data.data, 'cpm.db'), q], { encoding: 'utf8' }).stdout.trim();
  const receiver = await startReceiver({ secret: SECRET });
  const NEW = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
  try {
    await hook('sealed', receiver);
    const stored = sql("SELECT body FROM config_docs WHERE kind = 'destination' AND id = 'sealed'");
    assert.match(JSON.parse(stored).secret, /^sealed:v1:/);
    assert.ok(!stored.includes(SECRET.slice(6)), 'the secret is not in the database');
    await given('sec-1');
    await receiver.waitFor((r) => r.some((d) => d.event.subject === 'sec-1'));
    const patched = await request(server, 'PATCH', '/v1/destinations/sealed', { key, body: { secret: NEW } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json.secret, undefined);
    assert.ok(!sql("SELECT body FROM config_docs WHERE id = 'sealed'").includes(NEW.slice(6)));
    await receiver.stop();
    const second = await startReceiver({ secret: NEW, port: receiver.port });
    try {
      await given('sec-2');
      await second.waitFor((r) => r.some((d) => d.event.subject === 'sec-2'));
      assert.deepEqual(second.invalid, [], 'signed with the new secret');
    } finally {
      await second.stop();
    }
    const forged = await request(server, 'PATCH', '/v1/destinations/sealed', { key, body: { secret: JSON.parse(stored).secret } });
    assert.equal(expectProblem(assert, forged, 422, 'validation_failed').field, 'secret');
  } finally {
    await request(server, 'DELETE', '/v1/destinations/sealed', { key });
    await receiver.stop();
  }
});

test('bad destination documents are refused, naming the field, and nothing is created', async () => {
  const cases = [
    [{ kind: 'webhook', endpoint: 'ftp://x.example/' }, 'endpoint'],
    [{ kind: 'webhook', endpoint: 'https://user@x.example/' }, 'endpoint'],
    [{ kind: 'webhook', endpoint: 'https://x.example/', secret: 'nope' }, 'secret'],
    [{ kind: 'nats', endpoint: 'nats://127.0.0.1:4222' }, 'stream'],
    [{ kind: 'webhook', endpoint: 'https://x.example/', role: 'independent' }, 'recipient'],
    [{ kind: 'webhook', endpoint: 'https://x.example/', role: 'cross_border', recipient: 'p' }, 'country'],
    [{ kind: 'webhook', endpoint: 'https://x.example/', filter: { types: ['consent.**'] } }, 'filter.types[0]'],
    [{ kind: 'webhook', endpoint: 'https://x.example/', filter: { channels: ['fax'] } }, 'filter.channels[0]'],
    [{ kind: 'carrier-pigeon', endpoint: 'https://x.example/' }, 'kind'],
  ];
  for (const [body, field] of cases) {
    const res = await request(server, 'POST', '/v1/destinations', { key, body: { id: 'bad', name: 'Bad', ...body } });
    const p = expectProblem(assert, res, 422, 'validation_failed');
    assert.ok(p.errors.some((e) => e.field === field), `${JSON.stringify(body)} → ${res.text}`);
  }
  assert.equal((await request(server, 'GET', '/v1/destinations/bad', { key })).status, 404);
  const replay = await request(server, 'POST', '/v1/destinations/none/replay?from_seq=1', { key });
  expectProblem(assert, replay, 404, 'not_found');
});

test('filters: only the types and purposes asked for are sent', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  try {
    await hook('email-only', receiver, { filter: { types: ['consent.withdrawn'], purposes: ['marketing.email'] } });
    await given('f-1', 'marketing.email');
    await withdrawn('f-1', 'marketing.sms');
    await withdrawn('f-1', 'marketing.email');
    await receiver.waitFor((r) => r.length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(receiver.received.map((d) => [d.event.type, d.event.data.purpose]),
      [['cpm.consent.withdrawn', 'marketing.email']]);
  } finally {
    await request(server, 'DELETE', '/v1/destinations/email-only', { key });
    await receiver.stop();
  }
});

test('a purposes-only filter sends only those purposes; a destination deleted and made again starts afresh', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  try {
    await hook('mail-only', receiver, { filter: { purposes: ['marketing.email'] } });
    await given('po-1', 'marketing.sms');
    await given('po-1', 'marketing.email');
    await receiver.waitFor((r) => r.length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(receiver.received.map((d) => d.event.data.purpose), ['marketing.email']);
    assert.equal((await request(server, 'DELETE', '/v1/destinations/mail-only', { key })).status, 204);
    receiver.clear();
    await hook('mail-only', receiver, { filter: { purposes: ['marketing.email'] } });
    await given('po-2', 'marketing.email');
    await receiver.waitFor((r) => r.length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(receiver.received.map((d) => d.event.subject), ['po-2'], 'nothing from before it was made again');
  } finally {
    await request(server, 'DELETE', '/v1/destinations/mail-only', { key });
    await receiver.stop();
  }
});

test('an independent recipient gets nothing about a subject without its separate consent', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  try {
    await hook('partner', receiver, { role: 'cross_border', recipient: 'partner-sg', country: 'SG', transfer_mechanism: 'standard_contract' });
    const r0 = await given('p-no');
    assert.equal(r0.status, 201, r0.text);
    const r1 = await given('p-yes', 'share.partner', { recipient: 'partner-sg', separate: true });
    assert.equal(r1.status, 201, r1.text);
    assert.equal((await given('p-yes')).status, 201);
    await receiver.waitFor((r) => r.length >= 2);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(receiver.received.every((d) => d.event.subject === 'p-yes'), 'p-no never sent');
    const blocked = await logWhen('partner', (l) => l.length >= 1, '&status=blocked');
    assert.equal(blocked.length, 1);
    assert.equal(blocked[0].subject, 'p-no');
    assert.match(blocked[0].detail, /separate consent.*partner-sg.*Art\. 39/);
  } finally {
    await request(server, 'DELETE', '/v1/destinations/partner', { key });
    await receiver.stop();
  }
});

test('failures retry with backoff and Retry-After; a failing subject does not hold up the others; dead letters', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  try {
    // r-poison always fails; r-slow fails twice with 429 Retry-After: 1, then succeeds.
    receiver.setMode((event, attempt) => {
      if (event.subject === 'r-poison') return { status: 500 };
      if (event.subject === 'r-slow' && attempt <= 2) return { status: 429, retryAfter: 1 };
      return undefined;
    });
    await hook('flaky', receiver, { max_attempts: 3 });
    const others = [];
    for (let i = 0; others.length < 8; i++)
      if (![lane('r-poison'), lane('r-slow')].includes(lane(`r-ok-${i}`))) others.push(`r-ok-${i}`);
    await given('r-poison');
    await given('r-slow');
    for (const s of others) await given(s);
    await receiver.waitFor((r) => r.some((d) => d.event.subject === 'r-slow'), 10000);
    const at = (s) => receiver.received.find((d) => d.event.subject === s)?.at;
    for (const s of others) assert.ok(at(s) < at('r-slow'), `${s} was not held up by r-slow's lane`);
    const slow = receiver.attempts.filter((a) => a.subject === 'r-slow');
    assert.equal(slow.length, 3);
    assert.ok(slow[1].at - slow[0].at >= 900, `Retry-After honoured: ${slow[1].at - slow[0].at} ms`);
    const dead = await logWhen('flaky', (l) => l.length >= 1, '&status=dead');
    assert.equal(dead.length, 1);
    assert.equal(dead[0].subject, 'r-poison');
    assert.equal(dead[0].attempt, 3);
    assert.equal(receiver.attempts.filter((a) => a.subject === 'r-poison').length, 3);
    assert.deepEqual(duplicatesOf(receiver.received), []);
  } finally {
    await request(server, 'DELETE', '/v1/destinations/flaky', { key });
    await receiver.stop();
  }
});

test('410 Gone disables the destination; re-enabled, it goes on from where it stopped', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  try {
    receiver.setMode({ status: 410 });
    await hook('gone', receiver);
    await given('g-1');
    let dest;
    for (let i = 0; i < 50; i++) {
      dest = (await request(server, 'GET', '/v1/destinations/gone', { key })).json;
      if (dest.enabled === false) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(dest.enabled, false);
    const ledger = (await request(server, 'GET', `/v1/ledger/events?from_seq=${dest.from_seq}&limit=200`, { key })).json.items;
    const change = ledger.find((e) => e.event.type === 'config.updated' && e.event.doc === 'gone');
    assert.ok(change, 'the disabling is a ledger event');
    assert.equal(change.event.key, 'system:dispatcher');
    assert.equal(change.event.revision, dest.revision);
    receiver.setMode({ ok: true });
    const res = await request(server, 'PATCH', '/v1/destinations/gone', { key, body: { enabled: true } });
    assert.equal(res.status, 200, res.text);
    const got = await receiver.waitFor((r) => r.find((d) => d.event.subject === 'g-1'));
    assert.equal(got.event.type, 'cpm.consent.given');
  } finally {
    await request(server, 'DELETE', '/v1/destinations/gone', { key });
    await receiver.stop();
  }
});

test('replay sends again from a sequence number under the same ids', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  try {
    await hook('replayed', receiver);
    await given('rp-1');
    await withdrawn('rp-1');
    await receiver.waitFor((r) => r.length >= 2);
    const first = receiver.received.map((d) => d.id);
    const from = receiver.received[0].event.data.seq;
    const res = await request(server, 'POST', `/v1/destinations/replayed/replay?from_seq=${from}`, { key });
    assert.equal(res.status, 202, res.text);
    await receiver.waitFor((r) => r.length >= 4);
    assert.deepEqual(receiver.received.slice(2).map((d) => d.id), first);
    expectProblem(assert, await request(server, 'POST', '/v1/destinations/replayed/replay', { key }), 422, 'validation_failed');
  } finally {
    await request(server, 'DELETE', '/v1/destinations/replayed', { key });
    await receiver.stop();
  }
});

test('the SSRF guard refuses loopback unless allowlisted; the test send reports it', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  const guarded = freshData();
  const other = await startServer(guarded.data);
  try {
    const k = guarded.adminKey;
    const res = await request(other, 'POST', '/v1/destinations', {
      key: k, body: { id: 'inside', name: 'Inside', kind: 'webhook', endpoint: receiver.url, secret: SECRET },
    });
    assert.equal(res.status, 201, res.text);
    const t = await request(other, 'POST', '/v1/destinations/inside/test', { key: k });
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json.delivered, false);
    assert.match(t.json.detail, /outbound guard.*loopback/);
    assert.equal(receiver.attempts.length, 0, 'no request reached the receiver');
    const ok = await request(server, 'POST', '/v1/destinations', {
      key, body: { id: 'tested', name: 'T', kind: 'webhook', endpoint: receiver.url, secret: SECRET },
    });
    assert.equal(ok.status, 201);
    const t2 = await request(server, 'POST', '/v1/destinations/tested/test', { key });
    assert.equal(t2.json.delivered, true, t2.text);
    assert.equal(receiver.received.at(-1).event.type, 'cpm.destination.test');
  } finally {
    await request(server, 'DELETE', '/v1/destinations/tested', { key });
    await stopServer(other);
    guarded.cleanup();
    await receiver.stop();
  }
});
