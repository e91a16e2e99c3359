// SPDX-License-Identifier: Apache-2.0
// The sms_gateway and ma_journey connectors against strict fakes of their
// contracts (src/sync/sms_gateway.c, src/sync/ma_journey.c): a withdrawal of
// SMS marketing puts the number on the suppression list within a second and
// a new consent takes it off; other purposes never reach the gateway; a
// subject without a phone is nothing to do; 429 + Retry-After, 401 and 500
// are retried under the same Idempotency-Key; 422 goes to the dead letters
// with the gateway's message (never the number); a stop or an erasure takes
// the subject out of the journeys, a preferences change reschedules them
// (without sending the preferences); bad destination documents are refused.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';
import { startFakeMa } from './support/fake_ma.mjs';
import { startFakeSmsGateway } from './support/fake_sms_gateway.mjs';
import * as deliveryLog from './support/deliveries.mjs';

const TOKEN = 'sk_test_4f3c2b1a-sms';
const MA_TOKEN = 'ma_test_9e8d7c6b';
const serverEnv = { CPM_OUTBOUND_ALLOW: '127.0.0.1/32', CPM_RETRY_BASE_MS: '50', CPM_RETRY_MAX_MS: '200' };
let data, server, key, notice;

const setup = [
  ['/v1/properties', fx.property()],
  ['/v1/purposes', fx.purpose('marketing.sms')],
  ['/v1/purposes', fx.purpose('marketing.sms.coupons')],
  ['/v1/purposes', fx.purpose('marketing.email')],
  ['/v1/notices', fx.notice()],
  ['/v1/notices/privacy/versions', fx.version(['marketing.sms', 'marketing.sms.coupons', 'marketing.email'])],
  ['/v1/topics', { id: 'coupons', name: { en: 'Coupons' }, purposes: ['marketing.sms', 'marketing.email'] }],
  ['/v1/topics', { id: 'new_arrivals', name: { en: 'New arrivals' }, purposes: ['marketing.sms'] }],
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

/** Records one decision; returns its ledger event {seq, id, type, purpose, time}. */
async function decide(subject, purpose, decision) {
  const res = await request(server, 'POST', `/v1/subjects/${subject}/consents`, {
    key, body: fx.consentBody(notice, [{ purpose, decision }]),
  });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.events.length, 1);
  return res.json.events[0];
}

/** Links a phone to subject (which creates the subject). */
async function withPhone(subject, phone) {
  const res = await request(server, 'POST', `/v1/subjects/${subject}/identities`, { key, body: { type: 'phone', value: phone } });
  assert.equal(res.status, 201, res.text);
}

async function destination(body) {
  const res = await request(server, 'POST', '/v1/destinations', { key, body });
  assert.equal(res.status, 201, res.text);
  return res.json;
}
const remove = (id) => request(server, 'DELETE', `/v1/destinations/${id}`, { key });

const sms = (id, fake, extra = {}) =>
  destination({ id, name: `SMS ${id}`, kind: 'sms_gateway', endpoint: fake.url, secret: TOKEN, ...extra });
const ma = (id, fake, extra = {}) =>
  destination({ id, name: `MA ${id}`, kind: 'ma_journey', endpoint: fake.url, secret: MA_TOKEN, ...extra });

const deliveries = (id, query = '') => deliveryLog.deliveries(server, key, id, query);
const logWhen = (id, pred, query = '') => deliveryLog.logWhen(server, key, id, pred, query);

/** The ledger event of subject with seq, from GET /v1/subjects/{id}/events. */
async function eventAt(subject, seq) {
  const items = (await request(server, 'GET', `/v1/subjects/${subject}/events`, { key })).json.items;
  const found = items.find((e) => (e.seq ?? e.event?.seq) === seq);
  assert.ok(found, `no event ${seq} for ${subject}: ${JSON.stringify(items)}`);
  return found.event ? { ...found.event, seq } : found;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- sms_gateway -------------------------------------------------------------

test('sms: a withdrawal suppresses the number within a second; a new consent lifts it', async () => {
  const fake = await startFakeSmsGateway({ token: TOKEN });
  try {
    await sms('sms-main', fake);
    await withPhone('sms-1', '+86 138 0013 8000');
    const given = await decide('sms-1', 'marketing.sms', 'given');
    await fake.waitFor((f) => f.effects.length === 1);
    // consent.given → unsuppress (default rule); the number was not on the list: still a success.
    assert.equal(fake.requests[0].path, '/sms/suppressions/delete');
    assert.deepEqual(fake.requests[0].body, {
      phone: '+8613800138000', reason: 'consent.given', purpose: 'marketing.sms',
      event_id: given.id, occurred_at: given.time,
    });

    const t0 = Date.now();
    const withdrawn = await decide('sms-1', 'marketing.sms', 'withdrawn');
    await fake.waitFor((f) => f.suppressedPurposes('+8613800138000').length === 1, 1000);
    assert.ok(Date.now() - t0 < 1000, `suppressed after ${Date.now() - t0} ms`);
    const r = fake.requests.at(-1);
    assert.equal(r.method, 'POST');
    assert.equal(r.path, '/sms/suppressions');
    assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['idempotency-key'], withdrawn.id);
    assert.deepEqual(r.body, {
      phone: '+8613800138000', reason: 'consent.withdrawn', purpose: 'marketing.sms',
      event_id: withdrawn.id, occurred_at: withdrawn.time,
    });
    assert.deepEqual(Object.keys(r.body), ['phone', 'reason', 'purpose', 'event_id', 'occurred_at']);
    assert.deepEqual(fake.suppressedPurposes('+8613800138000'), ['marketing.sms']);

    const again = await decide('sms-1', 'marketing.sms', 'given');
    await fake.waitFor((f) => f.suppressedPurposes('+8613800138000').length === 0);
    assert.equal(fake.requests.at(-1).path, '/sms/suppressions/delete');
    assert.equal(fake.requests.at(-1).body.event_id, again.id);
    assert.equal(fake.requests.at(-1).body.reason, 'consent.given');

    const log = await logWhen('sms-main', (l) => l.length === 3);
    assert.deepEqual(log.map((d) => [d.event_id, d.outcome, d.status, d.detail]).sort(),
      [[given.id, 'delivered', 200, 'unsuppressed'], [withdrawn.id, 'delivered', 200, 'suppressed'],
        [again.id, 'delivered', 200, 'unsuppressed']].sort());
    assert.ok(log.every((d) => d.subject === 'sms-1' && d.attempt === 1));
    assert.deepEqual(fake.invalid, []);
    assert.equal(fake.requests.length, 3);
  } finally {
    await remove('sms-main');
    await fake.stop();
  }
});

test('sms: other purposes never reach the gateway (default rules); a sub-purpose does', async () => {
  const fake = await startFakeSmsGateway({ token: TOKEN });
  try {
    await sms('sms-rules', fake);
    await withPhone('sms-2', '13900139000');
    await decide('sms-2', 'marketing.email', 'given');
    await decide('sms-2', 'marketing.email', 'withdrawn');
    const sub = await decide('sms-2', 'marketing.sms.coupons', 'withdrawn');
    await fake.waitFor((f) => f.requests.length >= 1);
    await sleep(300);
    assert.equal(fake.requests.length, 1, JSON.stringify(fake.requests.map((r) => r.body)));
    assert.deepEqual(fake.requests[0].body, {
      phone: '+8613900139000', reason: 'consent.withdrawn', purpose: 'marketing.sms.coupons',
      event_id: sub.id, occurred_at: sub.time,
    });
    const log = await logWhen('sms-rules', (l) => l.length >= 1);
    assert.deepEqual(log.map((d) => d.event_id), [sub.id], 'the e-mail events are not even logged');
    assert.deepEqual(fake.invalid, []);
  } finally {
    await remove('sms-rules');
    await fake.stop();
  }
});

test('sms: a subject without a phone is delivered as nothing to do, and nothing is sent', async () => {
  const fake = await startFakeSmsGateway({ token: TOKEN });
  try {
    await sms('sms-nophone', fake);
    const w = await decide('sms-3', 'marketing.sms', 'withdrawn');
    const log = await logWhen('sms-nophone', (l) => l.length >= 1);
    assert.equal(log.length, 1);
    assert.equal(log[0].event_id, w.id);
    assert.equal(log[0].outcome, 'delivered');
    assert.equal(log[0].status, 0);
    assert.equal(log[0].detail, 'no phone for this subject: nothing to do');
    assert.equal(fake.requests.length, 0);
  } finally {
    await remove('sms-nophone');
    await fake.stop();
  }
});

test('sms: 429 waits for Retry-After, 401 is retried, both under the same Idempotency-Key', async () => {
  const fake = await startFakeSmsGateway({ token: TOKEN });
  try {
    await sms('sms-slow', fake);
    await withPhone('sms-4', '+86 137 0013 7000');
    fake.failNext(1, { status: 429, retryAfter: 1 });
    fake.failNext(1, { status: 401 });
    const w = await decide('sms-4', 'marketing.sms', 'withdrawn');
    await fake.waitFor((f) => f.suppressedPurposes('+8613700137000').length === 1, 5000);
    const tries = fake.attemptsOf(w.id);
    assert.deepEqual(tries.map((t) => t.status), [429, 401, 200]);
    assert.ok(tries[1].at - tries[0].at >= 900, `Retry-After honoured: ${tries[1].at - tries[0].at} ms`);
    assert.ok(tries.every((t) => t.raw === tries[0].raw), 'the same body on every attempt');
    const log = await logWhen('sms-slow', (l) => l.length === 3);
    const byAttempt = log.sort((a, b) => a.attempt - b.attempt);
    assert.deepEqual(byAttempt.map((d) => [d.attempt, d.outcome, d.status]),
      [[1, 'failed', 429], [2, 'failed', 401], [3, 'delivered', 200]]);
    assert.equal(byAttempt[0].detail, 'HTTP 429: too many requests');
    assert.equal(byAttempt[1].detail, 'HTTP 401: the gateway refused the credential');
    assert.ok(log.every((d) => !d.detail.includes(TOKEN) && !d.detail.includes('13700137000')));
    assert.deepEqual(fake.invalid, []);
  } finally {
    await remove('sms-slow');
    await fake.stop();
  }
});

test('sms: 422 goes straight to the dead letters with the gateway message, the number masked', async () => {
  const fake = await startFakeSmsGateway({ token: TOKEN });
  try {
    await sms('sms-dead', fake);
    await withPhone('sms-5', '+86 136 0013 6000');
    fake.failNext(1, { status: 422, message: 'number +8613600136000 is not a mobile number\u0007\r\n(code 4001)' });
    const w = await decide('sms-5', 'marketing.sms', 'withdrawn');
    const dead = await logWhen('sms-dead', (l) => l.length >= 1, '&status=dead');
    assert.equal(dead.length, 1);
    assert.equal(dead[0].event_id, w.id);
    assert.equal(dead[0].attempt, 1, 'not retried');
    assert.equal(dead[0].status, 422);
    assert.equal(dead[0].detail, 'HTTP 422: number +*** is not a mobile number(code 4001)');
    await sleep(200);
    assert.equal(fake.attemptsOf(w.id).length, 1);
    assert.deepEqual(fake.suppressedPurposes('+8613600136000'), []);
  } finally {
    await remove('sms-dead');
    await fake.stop();
  }
});

test('sms: a replay sends again under the same keys; the gateway answers without a second effect', async () => {
  const fake = await startFakeSmsGateway({ token: TOKEN });
  try {
    await sms('sms-replay', fake);
    await withPhone('sms-6', '+86 135 0013 5000');
    const w = await decide('sms-6', 'marketing.sms', 'withdrawn');
    await fake.waitFor((f) => f.effects.length === 1);
    const res = await request(server, 'POST', `/v1/destinations/sms-replay/replay?from_seq=${w.seq}`, { key });
    assert.equal(res.status, 202, res.text);
    await fake.waitFor((f) => f.replays === 1);
    assert.equal(fake.effects.length, 1);
    assert.deepEqual(fake.attemptsOf(w.id).map((r) => [r.status, r.replay === true]), [[200, false], [200, true]]);
    await logWhen('sms-replay', (l) => l.length === 2 && l.every((d) => d.outcome === 'delivered'));
  } finally {
    await remove('sms-replay');
    await fake.stop();
  }
});

test('sms and ma: bad destination documents are refused, naming the field', async () => {
  const cases = [
    [{ kind: 'sms_gateway', endpoint: 'http://127.0.0.1:9/sms' }, 'secret'],
    [{ kind: 'ma_journey', endpoint: 'http://127.0.0.1:9/ma' }, 'secret'],
    [{ kind: 'sms_gateway', endpoint: 'ftp://127.0.0.1/sms', secret: TOKEN }, 'endpoint'],
    [{ kind: 'sms_gateway', endpoint: 'http://127.0.0.1:9/sms', secret: TOKEN, rules: [{ action: 'exit_journey' }] }, 'rules[0]'],
    [{ kind: 'ma_journey', endpoint: 'http://127.0.0.1:9/ma', secret: MA_TOKEN, rules: [{ action: 'suppress' }] }, 'rules[0]'],
    [{ kind: 'ma_journey', endpoint: 'http://127.0.0.1:9/ma', secret: MA_TOKEN, rules: [] }, 'rules'],
  ];
  for (const [body, field] of cases) {
    const res = await request(server, 'POST', '/v1/destinations', { key, body: { id: 'bad', name: 'Bad', ...body } });
    const p = expectProblem(assert, res, 422, 'validation_failed');
    assert.ok(p.errors.some((e) => e.field === field), `${JSON.stringify(body)} → ${res.text}`);
    if (field === 'secret') assert.match(p.errors.find((e) => e.field === 'secret').message, /required/);
  }
  assert.equal((await request(server, 'GET', '/v1/destinations/bad', { key })).status, 404);
});

// ---- ma_journey --------------------------------------------------------------

test('ma: a withdrawal exits the journeys with the subject id; a consent is not sent', async () => {
  const fake = await startFakeMa({ token: MA_TOKEN });
  try {
    await ma('ma-main', fake);
    await decide('ma-1', 'marketing.email', 'given');
    const w = await decide('ma-1', 'marketing.email', 'withdrawn');
    await fake.waitFor((f) => f.exited.has('ma-1'));
    assert.equal(fake.requests.length, 1, 'consent.given matches no default rule');
    const r = fake.requests[0];
    assert.equal(r.method, 'POST');
    assert.equal(r.path, '/ma/journeys/exit');
    assert.equal(r.headers.authorization, `Bearer ${MA_TOKEN}`);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['idempotency-key'], w.id);
    assert.deepEqual(r.body, {
      subject: 'ma-1', event_id: w.id, event_type: 'consent.withdrawn', purpose: 'marketing.email', occurred_at: w.time,
    });
    const log = await logWhen('ma-main', (l) => l.length === 1);
    assert.deepEqual([log[0].outcome, log[0].status, log[0].detail], ['delivered', 200, 'exited the journeys']);
    assert.deepEqual(fake.invalid, []);
  } finally {
    await remove('ma-main');
    await fake.stop();
  }
});

test('ma: a preferences change reschedules, without the preferences', async () => {
  const fake = await startFakeMa({ token: MA_TOKEN });
  try {
    await ma('ma-prefs', fake);
    await decide('ma-2', 'marketing.sms', 'given');
    const put = await request(server, 'PUT', '/v1/subjects/ma-2/preferences', {
      key, body: { channels: { sms: false }, topics: { new_arrivals: false, coupons: true }, personalisation: false },
    });
    assert.equal(put.status, 200, put.text);
    const patch = await request(server, 'PATCH', '/v1/subjects/ma-2/preferences', { key, body: { channels: { sms: true } } });
    assert.equal(patch.status, 200, patch.text);
    await fake.waitFor((f) => f.reschedules.length === 2);
    const [first, second] = [await eventAt('ma-2', put.json.seq), await eventAt('ma-2', patch.json.seq)];
    assert.deepEqual(fake.reschedules, [
      { subject: 'ma-2', event_id: first.id, event_type: 'preferences.changed', occurred_at: first.time },
      { subject: 'ma-2', event_id: second.id, event_type: 'preferences.changed', occurred_at: second.time },
    ]);
    assert.ok(fake.requests.every((r) => r.path === '/ma/journeys/reschedule' && !/sms|coupons|personalisation/.test(r.raw)));
    assert.equal(fake.exited.size, 0);
    const log = await logWhen('ma-prefs', (l) => l.length === 2);
    assert.ok(log.every((d) => d.outcome === 'delivered' && d.detail === 'rescheduled'));
    assert.deepEqual(fake.invalid, []);
  } finally {
    await remove('ma-prefs');
    await fake.stop();
  }
});

test('ma: an erasure exits the journeys (no purpose)', async () => {
  const fake = await startFakeMa({ token: MA_TOKEN });
  try {
    await ma('ma-erase', fake);
    await decide('ma-3', 'marketing.sms', 'given');
    const res = await request(server, 'DELETE', '/v1/subjects/ma-3', { key });
    assert.equal(res.status, 200, res.text);
    const ev = res.json.event;
    assert.equal(ev.type, 'subject.erased');
    await fake.waitFor((f) => f.exited.has('ma-3'));
    assert.deepEqual(fake.requests.map((r) => [r.path, r.key]), [['/ma/journeys/exit', ev.id]]);
    assert.deepEqual(fake.exited.get('ma-3'), {
      subject: 'ma-3', event_id: ev.id, event_type: 'subject.erased', occurred_at: ev.time,
    });
    assert.deepEqual(fake.invalid, []);
  } finally {
    await remove('ma-erase');
    await fake.stop();
  }
});

test('ma: 500 is retried under the same key, then succeeds; 422 is a dead letter', async () => {
  const fake = await startFakeMa({ token: MA_TOKEN });
  try {
    await ma('ma-flaky', fake);
    fake.failNext(1, { status: 500 });
    const w = await decide('ma-4', 'marketing.email', 'refused');
    await fake.waitFor((f) => f.exited.has('ma-4'));
    assert.deepEqual(fake.attemptsOf(w.id).map((r) => r.status), [500, 200]);
    const log = await logWhen('ma-flaky', (l) => l.length === 2);
    assert.deepEqual(log.sort((a, b) => a.attempt - b.attempt).map((d) => [d.attempt, d.outcome, d.status, d.detail]),
      [[1, 'failed', 500, 'HTTP 500: internal error'], [2, 'delivered', 200, 'exited the journeys']]);
    assert.equal(fake.exited.get('ma-4').event_type, 'consent.refused');

    fake.failNext(1, { status: 422, message: 'unknown contact ma-5' });
    const o = await decide('ma-5', 'marketing.email', 'withdrawn');
    const dead = await logWhen('ma-flaky', (l) => l.length === 1, '&status=dead');
    assert.deepEqual([dead[0].event_id, dead[0].attempt, dead[0].status, dead[0].detail],
      [o.id, 1, 422, 'HTTP 422: unknown contact ma-5']);
    assert.equal(fake.exited.has('ma-5'), false);
    assert.deepEqual(fake.invalid, []);
  } finally {
    await remove('ma-flaky');
    await fake.stop();
  }
});
