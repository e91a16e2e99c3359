// SPDX-License-Identifier: Apache-2.0
// One-time codes before a sensitive consent (the financial case): a policy
// with otp_required refuses a consent given without a verified code; the
// code goes to the subject's phone through the property's otp_destination
// (the strict fake SMS gateway records what it was asked to send); a wrong
// code counts down, five kill the challenge, an expired one (cpmd restarted
// with CPM_TEST_CLOCK_OFFSET_MS) is refused; the verified code serves one
// consent, whose leaves record it; refusals need no code; at most five
// codes per subject an hour; the code is never in an answer, a log line or
// the ledger.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';
import { startFakeSmsGateway } from './support/fake_sms_gateway.mjs';

const TOKEN = 'sk_test_otp-gateway';
const HS_SECRET = Buffer.from('an HS256 secret of thirty-two+ bytes for tests!');
const env = { CPM_OUTBOUND_ALLOW: '127.0.0.1/32' };
let data, server, key, notice, gateway;
const logs = [];

before(async () => {
  data = freshData();
  key = data.adminKey;
  gateway = await startFakeSmsGateway({ token: TOKEN });
  server = await startServer(data.data, { env });
  await fx.createAll(request, server, key, [
    ['/v1/destinations', { id: 'otp-sms', name: 'OTP SMS', kind: 'sms_gateway', endpoint: gateway.url, secret: TOKEN }],
    ['/v1/properties', {
      ...fx.property(), otp_destination: 'otp-sms',
      token_keys: [{ kty: 'oct', kid: 'hs', alg: 'HS256', k: HS_SECRET.toString('base64url') }],
    }],
    ['/v1/purposes', fx.purpose('marketing.sms')],
    ['/v1/purposes', fx.purpose('finance.share', { consent_form: 'separate', sensitive: true })],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version(['marketing.sms', 'finance.share'])],
    ['/v1/policies', {
      ...fx.policy('finance', '*'),
      purposes: [{ purpose: 'marketing.sms', default: false }, { purpose: 'finance.share', default: false }],
      otp_required: true,
    }],
  ]);
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
});
after(async () => {
  await stopServer(server);
  await gateway.stop();
  data.cleanup();
});

const PHONES = { alice: '+8613800138000', bob: '+8613900139000', carol: '+8613700137000', dave: '+8613600136000', erin: '+8613500135000', gina: '+8613300133000', hank: '+8613200132000' };

async function withPhone(subject) {
  const res = await request(server, 'POST', `/v1/subjects/${subject}/identities`, { key, body: { type: 'phone', value: PHONES[subject] } });
  assert.equal(res.status, 201, res.text);
}
const challenge = (body, opts = { key }) => request(server, 'POST', '/v1/otp/challenges', { ...opts, body });
const verify = (id, code, opts = { key }) => request(server, 'POST', `/v1/otp/challenges/${id}/verify`, { ...opts, body: { code } });
const give = (subject, extra = {}, decision = 'given') =>
  request(server, 'POST', `/v1/subjects/${subject}/consents`, {
    key, body: fx.consentBody(notice, [{ purpose: 'finance.share', decision, separate: true }], extra),
  });
const wrongOf = (code) => String((Number(code) + 1) % 1000000).padStart(6, '0');

/** Sends a code to subject and returns {id, code}. */
async function codeFor(subject) {
  const res = await challenge({ subject, property: 'shop' });
  assert.equal(res.status, 201, res.text);
  const sent = await gateway.waitFor((g) => g.messages.find((m) => m.message_id === res.json.id));
  assert.equal(sent.phone, PHONES[subject]);
  assert.equal(sent.template, 'otp');
  assert.ok(!res.text.includes(sent.code), 'the code is never answered');
  return { id: res.json.id, code: sent.code, answer: res.json };
}

test('a consent the policy guards needs a verified code; the leaf records it; the challenge serves once', async () => {
  await withPhone('alice');
  expectProblem(assert, await give('alice'), 403, 'forbidden');
  const refused = await give('alice');
  assert.match(refused.json.detail, /needs a verified one-time code \(POST \/v1\/otp\/challenges\)/);

  const { id, code, answer } = await codeFor('alice');
  assert.match(id, /^otp_[0-9a-f]{32}$/);
  assert.equal(answer.sent_to, '+86 138****8000');
  const ttl = Date.parse(answer.expires_at) - Date.now();
  assert.ok(ttl > 4 * 60000 && ttl <= 5 * 60000 + 1000, `expires in about 5 minutes: ${ttl}`);
  assert.deepEqual(gateway.invalid, []);
  const headers = gateway.requests.find((r) => r.key === id).headers;
  assert.equal(headers.authorization, `Bearer ${TOKEN}`);

  expectProblem(assert, await give('alice', { otp: { challenge: id } }), 403, 'forbidden'); // not verified yet
  const wrong = await verify(id, wrongOf(code));
  expectProblem(assert, wrong, 422, 'validation_failed');
  assert.equal(wrong.json.attempts_left, 4);
  const right = await verify(id, code);
  assert.equal(right.status, 200, right.text);
  assert.deepEqual(right.json, { id, verified: true });

  const res = await give('alice', { otp: { challenge: id } });
  assert.equal(res.status, 201, res.text);
  const events = (await request(server, 'GET', '/v1/subjects/alice/events', { key })).json.items;
  const leaf = JSON.parse(events.at(-1).leaf);
  assert.equal(leaf.otp.challenge, id);
  assert.ok(Date.parse(leaf.otp.verified_at) <= Date.now());

  const again = await give('alice', { otp: { challenge: id } });
  expectProblem(assert, again, 403, 'forbidden');
  assert.match(again.json.detail, /used already/);
  // another subject cannot borrow it
  await withPhone('bob');
  expectProblem(assert, await give('bob', { otp: { challenge: id } }), 403, 'forbidden');
});

test('refusals and withdrawals need no code', async () => {
  const refusal = await give('bob', {}, 'refused');
  assert.equal(refusal.status, 201, refusal.text);
  const withdrawal = await request(server, 'POST', '/v1/subjects/bob/consents', {
    key, body: { property: 'shop', channel: 'web', locale: 'en', method: 'click', decisions: [{ purpose: 'finance.share', decision: 'withdrawn' }] },
  });
  assert.equal(withdrawal.status, 201, withdrawal.text);
});

test('the person\'s own token asks and verifies for themselves only', async () => {
  const now = Math.floor(Date.now() / 1000);
  const t = await new SignJWT({ sub: 'bob', aud: 'shop', iat: now, exp: now + 300 })
    .setProtectedHeader({ alg: 'HS256', kid: 'hs' }).sign(HS_SECRET);
  const auth = { headers: { authorization: `Bearer ${t}` } };
  const res = await challenge({}, auth);
  assert.equal(res.status, 201, res.text);
  const code = (await gateway.waitFor((g) => g.messages.find((m) => m.message_id === res.json.id))).code;
  expectProblem(assert, await challenge({ subject: 'alice' }, auth), 422, 'validation_failed');
  expectProblem(assert, await challenge({ property: 'other' }, auth), 422, 'validation_failed');
  const mine = await verify(res.json.id, code, auth);
  assert.equal(mine.status, 200, mine.text);
  // alice's token cannot see bob's challenge
  const ta = await new SignJWT({ sub: 'alice', aud: 'shop', iat: now, exp: now + 300 })
    .setProtectedHeader({ alg: 'HS256', kid: 'hs' }).sign(HS_SECRET);
  expectProblem(assert, await verify(res.json.id, code, { headers: { authorization: `Bearer ${ta}` } }), 404, 'not_found');
  expectProblem(assert, await challenge({ subject: 'bob', property: 'shop' }, {}), 401, 'unauthorized');
});

test('a guardian acting for a child proves it with a code sent to the guardian\'s own phone', async () => {
  await request(server, 'PUT', '/v1/subjects/kid-otp', { key, body: { age_status: 'child_under_14' } });
  const link = await request(server, 'POST', '/v1/subjects/kid-otp/guardians', { key, body: { guardian_id: 'gina', relation: 'parent' } });
  assert.equal(link.status, 201, link.text);
  await withPhone('gina');
  const now = Math.floor(Date.now() / 1000);
  const t = await new SignJWT({ sub: 'gina', aud: 'shop', iat: now, exp: now + 300 })
    .setProtectedHeader({ alg: 'HS256', kid: 'hs' }).sign(HS_SECRET);
  const auth = { authorization: `Bearer ${t}` };
  const res = await challenge({}, { headers: auth });
  assert.equal(res.status, 201, res.text);
  const sent = await gateway.waitFor((g) => g.messages.find((m) => m.message_id === res.json.id));
  assert.equal(sent.phone, PHONES.gina, 'the code goes to the person acting');
  assert.equal((await verify(res.json.id, sent.code, { headers: auth })).status, 200);
  const body = fx.consentBody(notice, [{ purpose: 'finance.share', decision: 'given', separate: true }], { otp: { challenge: res.json.id } });
  const given = await request(server, 'POST', '/v1/subjects/kid-otp/consents', { body, headers: auth });
  assert.equal(given.status, 201, given.text);
  const leaf = JSON.parse((await request(server, 'GET', '/v1/subjects/kid-otp/events', { key })).json.items.at(-1).leaf);
  assert.equal(leaf.actor, 'guardian');
  assert.equal(leaf.otp.challenge, res.json.id);
  // the child's own code does not stand for the guardian's act
  await withPhone('hank');
  assert.equal((await request(server, 'POST', '/v1/subjects/hank/guardians', { key, body: { guardian_id: 'gina', relation: 'legal_guardian' } })).status, 201);
  const own = await codeFor('hank');
  assert.equal((await verify(own.id, own.code)).status, 200);
  const borrowed = await request(server, 'POST', '/v1/subjects/hank/consents', {
    key, body: fx.consentBody(notice, [{ purpose: 'finance.share', decision: 'given', separate: true }],
      { otp: { challenge: own.id }, actor: { type: 'guardian', guardian_id: 'gina' } }),
  });
  expectProblem(assert, borrowed, 403, 'forbidden');
  assert.match(borrowed.json.detail, /not a one-time code challenge of the person acting/);
});

test('five wrong codes kill the challenge', async () => {
  await withPhone('carol');
  const { id, code } = await codeFor('carol');
  for (let left = 4; left >= 0; left--) {
    const res = await verify(id, wrongOf(code));
    expectProblem(assert, res, 422, 'validation_failed');
    assert.equal(res.json.attempts_left, left);
  }
  const dead = await verify(id, code);
  expectProblem(assert, dead, 422, 'validation_failed');
  assert.match(dead.json.detail, /dead/);
  assert.equal(dead.json.attempts_left, 0);
});

test('at most five codes per subject an hour: the sixth is 429 with Retry-After', async () => {
  await withPhone('dave');
  for (let i = 0; i < 5; i++) await codeFor('dave');
  const sent = gateway.messages.length;
  const res = await challenge({ subject: 'dave', property: 'shop' });
  expectProblem(assert, res, 429, 'rate_limited');
  assert.ok(Number(res.headers['retry-after']) > 0);
  assert.equal(gateway.messages.length, sent, 'nothing was sent');
});

test('bad inputs are 422 naming the field; no phone, no otp_destination, a failing gateway', async () => {
  let res = await challenge({ subject: 'dave' });
  expectProblem(assert, res, 422, 'validation_failed');
  assert.equal(res.json.field, 'property');
  res = await challenge({ subject: 'has space', property: 'shop', extra: 1 });
  assert.deepEqual(res.json.errors.map((e) => e.field).sort(), ['extra', 'subject']);
  res = await challenge({ subject: 'nobody', property: 'shop' });
  expectProblem(assert, res, 422, 'validation_failed');
  assert.equal(res.json.field, 'subject');
  assert.match(res.json.detail, /no phone/);
  await fx.createAll(request, server, key, [['/v1/properties', { ...fx.property(), id: 'plain' }]]);
  res = await challenge({ subject: 'alice', property: 'plain' });
  expectProblem(assert, res, 422, 'validation_failed');
  assert.match(res.json.detail, /otp_destination/);
  res = await request(server, 'POST', '/v1/properties', { key, body: { ...fx.property(), id: 'bad', otp_destination: 'nope' } });
  expectProblem(assert, res, 422, 'validation_failed');
  assert.equal(res.json.field, 'otp_destination');
  res = await verify('otp_00000000000000000000000000000000', '12345');
  expectProblem(assert, res, 422, 'validation_failed');
  assert.equal(res.json.field, 'code');
  expectProblem(assert, await verify('otp_00000000000000000000000000000000', '123456'), 404, 'not_found');
  res = await give('alice', { otp: { challenge: 'nope' } });
  expectProblem(assert, res, 422, 'validation_failed');
  assert.equal(res.json.field, 'otp.challenge');

  gateway.failNext(1, { status: 500 });
  await withPhone('erin');
  res = await challenge({ subject: 'erin', property: 'shop' });
  expectProblem(assert, res, 503, 'unavailable');
  assert.match(res.json.detail, /SMS gateway answered 500/);
});

test('an expired code is refused (cpmd restarted 6 minutes later)', async () => {
  const { id, code } = await codeFor('erin');
  await stopServer(server);
  logs.push(...server.log);
  server = await startServer(data.data, { env: { ...env, CPM_TEST_CLOCK_OFFSET_MS: String(6 * 60000) } });
  const res = await verify(id, code);
  expectProblem(assert, res, 422, 'validation_failed');
  assert.match(res.json.detail, /expired/);
});

test('no code sent is in any log line or in the ledger', async () => {
  const codes = gateway.messages.map((m) => m.code);
  assert.ok(codes.length >= 8);
  const text = [...logs, ...server.log].join('\n');
  const ledger = (await request(server, 'GET', '/v1/ledger/events?limit=200', { key })).text;
  for (const c of codes) {
    // a 6-digit code standing alone (not inside a hash, a time or another number)
    const alone = new RegExp(`(^|[^0-9a-f])${c}([^0-9a-f]|$)`);
    assert.ok(!alone.test(text), `code ${c} in the log`);
    assert.ok(!alone.test(ledger), `code ${c} in the ledger`);
  }
  for (const p of Object.values(PHONES)) assert.ok(!text.includes(p), 'no phone number in the log');
});
