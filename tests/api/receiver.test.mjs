// SPDX-License-Identifier: Apache-2.0
// Self-test of the fake webhook receiver (support/receiver.mjs) the sync
// tests use: the Standard Webhooks spec vector, every kind of bad delivery
// rejected with 400 and listed, the fault modes, restart on the same port,
// and the order/duplicate helpers. Deliveries are signed here, independently.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, beforeEach, test } from 'node:test';
import { duplicatesOf, perSubjectOrder, startReceiver, verifyStandardWebhook } from './support/receiver.mjs';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
let rx;
before(async () => {
  rx = await startReceiver({ secret: SECRET });
});
after(async () => {
  await rx.stop();
});
beforeEach(() => {
  rx.setMode({ ok: true });
  rx.clear();
});

const nowSec = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sign = (secret, id, ts, body) =>
  `v1,${createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(`${id}.${ts}.`).update(body).digest('base64')}`;

let counter = 0;
const event = (extra = {}) => {
  counter++;
  return {
    specversion: '1.0', id: `evt-${counter}`, source: '/cpm/test', type: 'cpm.consent.given',
    time: new Date().toISOString(), subject: 's-1', datacontenttype: 'application/json',
    data: { seq: counter }, ...extra,
  };
};

/**
 * POSTs a delivery the way cpmd should, each part overridable. Resolves
 * {status, headers, text}; rejects on a socket error.
 */
function deliver(ev, { id = ev?.id, ts = nowSec(), body = JSON.stringify(ev), signature, contentType = 'application/cloudevents+json', secret = SECRET, method = 'POST', path = '/hook' } = {}) {
  const raw = Buffer.from(body);
  const headers = {
    'content-type': contentType,
    'content-length': raw.length,
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    'webhook-signature': signature ?? sign(secret, id, ts, raw),
  };
  for (const k of Object.keys(headers)) if (headers[k] == null) delete headers[k]; // null: leave the header out
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: rx.port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(raw);
  });
}

test('the Standard Webhooks spec vector verifies, and nothing near it does', () => {
  const v = {
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    timestamp: '1614265330',
    body: '{"test": 2432232314}',
    signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    now: 1614265330,
  };
  assert.equal(verifyStandardWebhook(v), true);
  assert.equal(verifyStandardWebhook({ ...v, body: Buffer.from(v.body) }), true);
  assert.equal(verifyStandardWebhook({ ...v, timestamp: 1614265330, now: new Date(1614265330_000 + 299_000) }), true);
  assert.equal(verifyStandardWebhook({ ...v, signature: `v1,${Buffer.alloc(32).toString('base64')} v2,abc ${v.signature}` }), true, 'any v1 entry may match');
  const reasons = {
    body: verifyStandardWebhook({ ...v, body: '{"test":2432232314}' }),
    id: verifyStandardWebhook({ ...v, id: 'msg_other' }),
    secret: verifyStandardWebhook({ ...v, secret: `whsec_${randomBytes(24).toString('base64')}` }),
    stale: verifyStandardWebhook({ ...v, now: 1614265330 + 301 }),
    future: verifyStandardWebhook({ ...v, now: 1614265330 - 301 }),
    'ts not integer': verifyStandardWebhook({ ...v, timestamp: '1614265330.0' }),
    'no v1': verifyStandardWebhook({ ...v, signature: v.signature.replace('v1,', 'v2,') }),
    unprefixed: verifyStandardWebhook({ ...v, signature: v.signature.slice(3) }),
    truncated: verifyStandardWebhook({ ...v, signature: v.signature.slice(0, -4) }),
    empty: verifyStandardWebhook({ ...v, signature: '' }),
  };
  for (const [what, r] of Object.entries(reasons)) assert.equal(typeof r, 'string', `${what} must fail with a reason, got ${r}`);
  assert.match(reasons.stale, /old/);
  assert.match(reasons.future, /future/);
  assert.throws(() => verifyStandardWebhook({ ...v, secret: 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }), TypeError);
});

test('a correct delivery is accepted with 204 and recorded exactly', async () => {
  const ev = event({ subject: 'alice' });
  // Odd spacing and key order: the signature must be over the raw bytes.
  const body = `{ "data" : {"seq": 1}, ${JSON.stringify(ev).slice(1)}`;
  const res = await deliver(ev, { body, contentType: 'application/cloudevents+json; charset=UTF-8' });
  assert.equal(res.status, 204, res.text);
  assert.deepEqual(rx.invalid, []);
  assert.equal(rx.received.length, 1);
  const d = rx.received[0];
  assert.equal(d.id, ev.id);
  assert.equal(typeof d.timestamp, 'number');
  assert.equal(d.event.subject, 'alice');
  assert.equal(d.raw.toString('utf8'), body);
  assert.equal(d.headers['webhook-id'], ev.id);
  assert.ok(Math.abs(d.at - Date.now()) < 5000);
  assert.deepEqual(rx.attempts.map((a) => [a.id, a.answered]), [[ev.id, 204]]);
  assert.equal(rx.url, `http://127.0.0.1:${rx.port}/hook`);
});

test('bad deliveries are answered 400, listed in invalid, and never received', async () => {
  const ok = event();
  const bad = [
    ['wrong signature', ok, { signature: sign(SECRET, ok.id, nowSec(), '{}') }, /signature/],
    ['another secret', ok, { secret: `whsec_${randomBytes(24).toString('base64')}` }, /signature/],
    ['stale timestamp', ok, { ts: nowSec() - 600 }, /timestamp.*old/],
    ['future timestamp', ok, { ts: nowSec() + 600 }, /timestamp.*future/],
    ['millisecond timestamp', ok, { ts: Date.now() }, /timestamp/],
    ['mismatched webhook-id', ok, { id: 'msg_not_the_event_id' }, /differs from the event id/],
    ['no webhook-id', ok, { id: null, signature: 'v1,AAAA' }, /webhook-id missing/],
    ['not a CloudEvent', { test: 1, id: 'x-1' }, {}, /not a CloudEvent/],
    ['specversion 0.3', event({ specversion: '0.3' }), {}, /specversion/],
    ['type outside cpm.', event({ type: 'com.example.thing' }), {}, /type/],
    ['time not RFC 3339', event({ time: '2026-06-01 12:00:00' }), {}, /time/],
    ['month 13', event({ time: '2026-13-01T00:00:00Z' }), {}, /time/],
    ['source not a URI-reference', event({ source: 'has space' }), {}, /source/],
    ['empty subject', event({ subject: '' }), {}, /subject/],
    ['text data', event({ data: 'hello' }), {}, /data/],
    ['no data', event({ data: undefined }), {}, /data/],
    ['other datacontenttype', event({ datacontenttype: 'text/plain' }), {}, /datacontenttype/],
    ['a JSON array', ['x'], { id: 'arr-1' }, /not a JSON object/],
    ['not JSON', null, { id: 'nj-1', body: '{"specversion": "1.0",' }, /not JSON/],
    ['application/json', event(), { contentType: 'application/json' }, /content-type/],
    ['other charset', event(), { contentType: 'application/cloudevents+json; charset=latin1' }, /charset/],
    ['PUT', event(), { method: 'PUT' }, /method/],
    ['other path', event(), { path: '/other' }, /path/],
  ];
  for (const [what, ev, opts, reason] of bad) {
    const before = rx.invalid.length;
    const res = await deliver(ev, opts);
    assert.equal(res.status, 400, `${what}: ${res.status} ${res.text}`);
    assert.equal(rx.invalid.length, before + 1, what);
    assert.match(rx.invalid.at(-1).reason, reason, what);
    assert.equal(rx.attempts.at(-1).answered, 400, what);
  }
  assert.deepEqual(rx.received, []);
  assert.equal(rx.attempts.length, bad.length);
  // And the same receiver still takes a good one.
  assert.equal((await deliver(event())).status, 204);
  assert.equal(rx.received.length, 1);
});

test('status modes: 429 with Retry-After, 500, 410, 400 are answered and not received', async () => {
  rx.setMode({ status: 429, retryAfter: 7 });
  let res = await deliver(event());
  assert.equal(res.status, 429);
  assert.equal(res.headers['retry-after'], '7');
  for (const status of [500, 410, 400]) {
    rx.setMode({ status });
    res = await deliver(event());
    assert.equal(res.status, status);
    assert.equal(res.headers['retry-after'], undefined);
  }
  assert.deepEqual(rx.attempts.map((a) => a.answered), [429, 500, 410, 400]);
  assert.deepEqual(rx.received, []);
  assert.deepEqual(rx.invalid, [], 'a verified delivery refused by mode is not invalid');
  rx.setMode({ status: 200 });
  assert.equal((await deliver(event())).status, 200);
  assert.equal(rx.received.length, 1, 'any 2xx counts as accepted');
  for (const m of [{}, { ok: false }, { status: 99 }, { status: 429, retryAfter: -1 }, { hang: true, status: 500 }, { delayMs: 'x' }, null]) {
    assert.throws(() => rx.setMode(m), TypeError, JSON.stringify(m));
  }
});

test('hang never answers until stop; reset drops the socket; delay answers late', async () => {
  rx.setMode({ hang: true });
  let settled = false;
  const hung = deliver(event()).then(
    (r) => ((settled = true), { answered: r.status }),
    (e) => ((settled = true), { error: e.code ?? e.message }),
  );
  await rx.waitFor(() => rx.attempts.length === 1, 2000);
  await sleep(300);
  assert.equal(settled, false, 'a hanging request gets no answer');
  assert.equal(rx.attempts[0].answered, 'hang');
  await rx.stop();
  assert.ok((await hung).error, 'stop() destroys the hanging socket');
  await rx.restart();

  rx.setMode({ reset: true });
  await assert.rejects(deliver(event()), (e) => ['ECONNRESET', 'EPIPE'].includes(e.code) || /socket hang up/.test(e.message));
  assert.equal(rx.attempts.at(-1).answered, 'reset');

  rx.setMode({ delayMs: 250 });
  const t0 = Date.now();
  const res = await deliver(event());
  assert.equal(res.status, 204);
  assert.ok(Date.now() - t0 >= 240, `answered after ${Date.now() - t0} ms`);
  assert.equal(rx.received.length, 1);
  assert.equal(rx.attempts.at(-1).answered, 204);
  assert.deepEqual(rx.invalid, []);
});

test('a mode function picks faults per subject and attempt', async () => {
  rx.setMode((ev, n) => (ev.subject === 'flaky' && n < 3 ? { status: 503, retryAfter: 1 } : undefined));
  const flaky = event({ subject: 'flaky' });
  const steady = event({ subject: 'steady' });
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await deliver(flaky)).status);
  statuses.push((await deliver(steady)).status);
  assert.deepEqual(statuses, [503, 503, 204, 204]);
  assert.deepEqual(rx.received.map((d) => d.id), [flaky.id, steady.id]);
  // A mode function returning garbage is reported, not silently accepted.
  rx.setMode(() => ({ bogus: true }));
  assert.equal((await deliver(event())).status, 500);
  assert.match(rx.invalid.at(-1).reason, /mode function/);
});

test('restart listens again on the same port and keeps what was received', async () => {
  assert.equal((await deliver(event())).status, 204);
  const port = rx.port;
  await rx.stop();
  await assert.rejects(deliver(event()), (e) => e.code === 'ECONNREFUSED');
  await rx.restart();
  assert.equal(rx.port, port);
  assert.equal((await deliver(event())).status, 204);
  assert.equal(rx.received.length, 2);
});

test('waitFor resolves with the predicate result and explains a timeout', async () => {
  const ev = event({ type: 'cpm.consent.withdrawn' });
  const waiting = rx.waitFor((r) => r.find((d) => d.id === ev.id), 2000);
  await deliver(ev);
  assert.equal((await waiting).event.type, 'cpm.consent.withdrawn');
  await assert.rejects(rx.waitFor((r) => r.length > 5, 100), (e) => /1 received.*cpm\.consent\.withdrawn/s.test(e.message) && e.message.includes(ev.id));
});

test('perSubjectOrder finds a planted violation and ignores redeliveries; duplicatesOf lists them', () => {
  const d = (id, subject, seq) => ({ id, event: { id, subject, data: { seq } } });
  const received = [
    d('a1', 'a', 1), d('b1', 'b', 1), d('a3', 'a', 3),
    d('a1', 'a', 1), // redelivery of an earlier event: allowed
    d('b2', 'b', 2),
    d('a2', 'a', 2), // planted: seq 2 after seq 3 for subject a
    d('a4', 'a', 4), d('a4', 'a', 4),
  ];
  const v = perSubjectOrder(received);
  assert.equal(v.length, 1, JSON.stringify(v));
  assert.equal(v[0].subject, 'a');
  assert.equal(v[0].id, 'a2');
  assert.deepEqual(v[0].after, { id: 'a3', seq: 3 });
  assert.deepEqual(perSubjectOrder(received.filter((x) => x.id !== 'a2')), []);
  assert.deepEqual(duplicatesOf(received), ['a1', 'a4']);
  assert.deepEqual(duplicatesOf(received.slice(0, 3)), []);
});
