// SPDX-License-Identifier: Apache-2.0
// Anonymous visitors' devices (docs/END-USERS.md "Anonymous visitors and
// login"): POST /v1/devices issues a stateless credential; forged, altered
// and moved credentials are 401; a device records consents as `me`; at
// login its history merges into the person (by an API key or the person's
// own token) as consent events with method `merge` pointing to their
// source events, whose inclusion proofs verify; newer decisions of the
// person win; a second merge writes nothing; a merged device cannot write;
// a person under 14 takes no `given`; issuing devices is rate limited.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

const ORIGIN = 'https://shop.example';
const SECRET = Buffer.from('an HS256 secret of thirty-two+ bytes for tests!');
const DEVICE_TOKEN = /^dev1\.shop\.(anon-[A-Za-z0-9_-]{22})\.[A-Za-z0-9_-]{43}$/;
let data, server, key, notice;

before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data);
  const tokenKeys = [{ kty: 'oct', kid: 'hs', alg: 'HS256', k: SECRET.toString('base64url') }];
  await fx.createAll(request, server, key, [
    ['/v1/properties', { ...fx.property(), token_keys: tokenKeys }],
    ['/v1/properties', { ...fx.property(), id: 'app', allowed_origins: [], token_keys: tokenKeys }],
    ['/v1/purposes', fx.purpose('marketing.sms')],
    ['/v1/purposes', fx.purpose('analytics')],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version(['marketing.sms', 'analytics'])],
    ['/v1/policies', { ...fx.policy(), purposes: [{ purpose: 'marketing.sms' }, { purpose: 'analytics' }] }],
  ]);
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

const now = () => Math.floor(Date.now() / 1000);
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const sha256 = (...parts) => createHash('sha256').update(Buffer.concat(parts)).digest();

/** A person's end-user token for property shop. */
const personToken = (sub, aud = 'shop') =>
  new SignJWT({ sub, aud, iat: now(), exp: now() + 300 }).setProtectedHeader({ alg: 'HS256', kid: 'hs' }).sign(SECRET);

/** A new device of property: {subject, device_token}. */
async function newDevice(property = 'shop') {
  const res = await request(server, 'POST', '/v1/devices', { body: { property } });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

const asDevice = (device, method, path, body, headers = {}) =>
  request(server, method, path, { body, headers: { authorization: `Device ${device.device_token ?? device}`, ...headers } });
const asPerson = (token, method, path, body) => request(server, method, path, { body, headers: { authorization: `Bearer ${token}` } });
const action = (decisions, extra = {}) =>
  fx.consentBody(notice, Object.entries(decisions).map(([purpose, decision]) => ({ purpose, decision })), extra);
/** The subject's consents as {purpose: state}. */
async function consents(subject) {
  const res = await request(server, 'GET', `/v1/subjects/${subject}/consents`, { key });
  if (res.status === 404) return {};
  assert.equal(res.status, 200, res.text);
  return Object.fromEntries(res.json.consents.map((c) => [c.purpose, c]));
}
/** The subject's ledger events as {seq: {event, leaf}}. */
async function events(subject) {
  const res = await request(server, 'GET', `/v1/subjects/${subject}/events?limit=200`, { key });
  assert.equal(res.status, 200, res.text);
  return Object.fromEntries(res.json.items.map((i) => [i.seq, i]));
}
const merge = (person, device, auth = { key }) =>
  request(server, 'POST', `/v1/subjects/${person}/identities`, { ...auth, body: { type: 'device', device_token: device.device_token } });
/** The ledger's last seq, read page by page. */
async function lastSeq() {
  let cursor = '', last = 0;
  for (;;) {
    const page = (await request(server, 'GET', `/v1/ledger/events?limit=200${cursor}`, { key })).json;
    last = page.items.at(-1)?.seq ?? last;
    if (!page.next_cursor) return last;
    cursor = `&cursor=${page.next_cursor}`;
  }
}

test('a device is issued for an existing property, from its own origins, and stores nothing', async () => {
  const a = await request(server, 'POST', '/v1/devices', { body: { property: 'shop' }, headers: { origin: ORIGIN } });
  assert.equal(a.status, 201, a.text);
  assert.match(a.json.device_token, DEVICE_TOKEN);
  assert.equal(a.json.device_token.match(DEVICE_TOKEN)[1], a.json.subject);
  assert.equal(a.json.property, 'shop');
  assert.equal(a.headers['access-control-allow-origin'], ORIGIN);
  assert.equal(a.headers['cache-control'], 'no-store');
  const b = await newDevice();
  assert.notEqual(b.subject, a.json.subject, 'every device is a new subject');
  assert.equal((await request(server, 'GET', `/v1/subjects/${a.json.subject}`, { key })).status, 404, 'nothing stored');

  const evil = await request(server, 'POST', '/v1/devices', { body: { property: 'shop' }, headers: { origin: 'https://evil.example' } });
  assert.equal(expectProblem(assert, evil, 403, 'forbidden').errors?.[0]?.field ?? 'Origin', 'Origin');
  assert.equal(evil.headers['access-control-allow-origin'], undefined);
  const unknown = await request(server, 'POST', '/v1/devices', { body: { property: 'nope' } });
  assert.equal(expectProblem(assert, unknown, 422, 'validation_failed').field, 'property');
  const missing = await request(server, 'POST', '/v1/devices', { body: {} });
  assert.equal(expectProblem(assert, missing, 422, 'validation_failed').field, 'property');
  const extra = await request(server, 'POST', '/v1/devices', { body: { property: 'shop', subject: 'cust-1' } });
  assert.equal(expectProblem(assert, extra, 422, 'validation_failed').field, 'subject');
});

test('forged, altered and cross-property device credentials are 401 and write nothing', async () => {
  const d = await newDevice();
  const [, , subject, mac] = d.device_token.split('.');
  const flip = (s, i) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const cases = {
    'altered MAC': `dev1.shop.${subject}.${flip(mac, 42)}`,
    'altered subject': `dev1.shop.${flip(subject, 10)}.${mac}`,
    'moved to another property': `dev1.app.${subject}.${mac}`,
    'made up': `dev1.shop.anon-${'A'.repeat(22)}.${'A'.repeat(43)}`,
    truncated: d.device_token.slice(0, -1),
    'too long': `dev1.${'p'.repeat(200)}.${subject}.${mac}`,
    garbage: 'not-a-credential',
  };
  for (const [name, credential] of Object.entries(cases)) {
    const res = await asDevice(credential, 'POST', '/v1/subjects/me/consents', action({ 'marketing.sms': 'given' }));
    const problem = expectProblem(assert, res, 401, 'unauthorized');
    assert.ok(!problem.detail.includes(mac), `${name}: the credential is not echoed`);
  }
  const read = await asDevice(cases['moved to another property'], 'GET', '/v1/experience?property=app&subject=me');
  expectProblem(assert, read, 401, 'unauthorized');
  assert.deepEqual(await consents(subject), {}, 'nothing was written for the device');
  // a genuine device of another property records only for its own property
  const other = await newDevice('app');
  const wrong = await asDevice(other, 'POST', '/v1/subjects/me/consents', action({ 'marketing.sms': 'given' }));
  assert.equal(expectProblem(assert, wrong, 422, 'validation_failed').field, 'property');
  // a device reaches only me, and no route that needs an API key
  expectProblem(assert, await asDevice(d, 'GET', `/v1/subjects/${subject}/consents`), 403, 'forbidden');
  expectProblem(assert, await asDevice(d, 'GET', '/v1/purposes'), 401, 'unauthorized');
  expectProblem(assert, await asDevice(d, 'GET', `/v1/decide?subject=${subject}&purpose=analytics`), 401, 'unauthorized');
  // from a page of another origin
  const evil = await asDevice(d, 'POST', '/v1/subjects/me/consents', action({ analytics: 'given' }), { origin: 'https://evil.example' });
  expectProblem(assert, evil, 403, 'forbidden');
  assert.deepEqual(await consents(subject), {});
});

test('a device records, reads and is asked as `me`; anon- ids are the devices\' own', async () => {
  const d = await newDevice();
  const given = await asDevice(d, 'POST', '/v1/subjects/me/consents', action({ 'marketing.sms': 'given' }), { origin: ORIGIN });
  assert.equal(given.status, 201, given.text);
  assert.equal(given.json.subject, d.subject);
  assert.equal(given.headers['access-control-allow-origin'], ORIGIN);
  const mine = await asDevice(d, 'GET', '/v1/subjects/me/consents');
  assert.equal(mine.status, 200, mine.text);
  assert.equal(mine.json.consents.find((c) => c.purpose === 'marketing.sms').status, 'given');
  const x = await asDevice(d, 'GET', '/v1/experience?property=shop&region=CN&subject=me', undefined, { origin: ORIGIN });
  assert.equal(x.status, 200, x.text);
  assert.equal(x.json.subject, d.subject);
  assert.deepEqual(x.json.reasons.map((r) => r.purpose), ['analytics'], 'only the purpose not decided yet is asked');
  expectProblem(assert, await asDevice(d, 'GET', '/v1/experience?property=app&subject=me'), 403, 'forbidden');
  // the company's back end sees the device's consents, but cannot write as a device
  assert.equal((await consents(d.subject))['marketing.sms'].status, 'given');
  for (const [method, path, body] of [
    ['POST', `/v1/subjects/${d.subject}/consents`, action({ analytics: 'given' })],
    ['POST', '/v1/subjects/anon-made-up-by-a-key/consents', action({ analytics: 'given' })],
    ['PUT', `/v1/subjects/anon-x`, { age_status: 'adult' }],
    ['POST', '/v1/subjects/cust-g/guardians', { guardian_id: 'anon-x', relation: 'parent' }],
  ]) {
    const res = await request(server, method, path, { key, body });
    assert.match(expectProblem(assert, res, 422, 'validation_failed').detail, /anon-.*reserved/, `${method} ${path}`);
  }
  assert.equal((await request(server, 'GET', '/v1/subjects/anon-x', { key })).status, 404);
  assert.equal((await request(server, 'GET', '/v1/subjects/cust-g', { key })).status, 404);
  // nor can a person's token claim a device's id
  const claim = await asPerson(await personToken(d.subject), 'GET', '/v1/subjects/me/consents');
  assert.match(expectProblem(assert, claim, 401, 'unauthorized').detail, /reserved/);
});

/** The source event of a merged consent event, its leaf hash, and its inclusion proof, checked. */
async function checkSource(item, device) {
  const from = item.event.from;
  const source = (await events(device.subject))[from.seq];
  assert.ok(source, `the source event ${from.seq} is the device's`);
  assert.equal(source.event.id, from.event);
  assert.equal(from.subject, source.event.subject, 'from names the device by its pseudonym');
  const leafHash = sha256(Buffer.from([0]), Buffer.from(source.leaf, 'utf8'));
  assert.equal(from.leaf_hash, leafHash.toString('hex'), 'the merged leaf commits to the source leaf');
  const proof = await request(server, 'GET', `/v1/ledger/proofs/inclusion?seq=${from.seq}`, { key });
  assert.equal(proof.status, 200, proof.text);
  assert.ok(leafHash.equals(Buffer.from(proof.json.leaf_hash, 'base64')));
  // RFC 9162 §2.1.3.2, independently of cpmd
  let fn = from.seq - 1, sn = proof.json.tree_size - 1, r = leafHash;
  for (const p of proof.json.path.map((x) => Buffer.from(x, 'base64'))) {
    if (fn % 2 === 1 || fn === sn) {
      r = sha256(Buffer.from([1]), p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
    } else r = sha256(Buffer.from([1]), r, p);
    fn >>= 1; sn >>= 1;
  }
  assert.ok(sn === 0 && r.equals(Buffer.from(proof.json.root_hash, 'base64')), 'the inclusion proof verifies');
  return source;
}

test('an API key merges a device into the person: provable, once, and the device stops writing', async () => {
  const d = await newDevice();
  assert.equal((await asDevice(d, 'POST', '/v1/subjects/me/consents', action({ 'marketing.sms': 'given', analytics: 'refused' }))).status, 201);
  const deviceStates = await consents(d.subject);
  const res = await merge('cust-1', d);
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.subject, 'cust-1');
  assert.equal(res.json.device, d.subject);
  assert.deepEqual(res.json.skipped, []);
  assert.deepEqual(res.json.events.map((e) => [e.type, e.purpose]),
    [['identity.merged', undefined], ['consent.refused', 'analytics'], ['consent.given', 'marketing.sms']], 'by purpose');
  const seqs = res.json.events.map((e) => e.seq);
  assert.deepEqual(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2], 'one write: consecutive seqs');

  // the person's consents are now the device's, decided by the merge events
  const person = await consents('cust-1');
  for (const purpose of ['marketing.sms', 'analytics']) {
    const merged = res.json.events.find((e) => e.purpose === purpose);
    assert.equal(person[purpose].status, deviceStates[purpose].status, purpose);
    assert.equal(person[purpose].decided_at, deviceStates[purpose].decided_at, `${purpose}: decided when the visitor decided`);
    assert.equal(person[purpose].deciding_event, merged.seq);
    assert.deepEqual(merged.from, { subject: d.subject, seq: deviceStates[purpose].deciding_event, event: merged.from.event });
  }
  const ledger = await events('cust-1');
  const mergedEvent = ledger[seqs[0]].event;
  assert.equal(mergedEvent.type, 'identity.merged');
  assert.equal(mergedEvent.identifier_type, 'device');
  assert.equal(mergedEvent.consents, 2);
  for (const seq of seqs.slice(1)) {
    const { event } = ledger[seq];
    assert.equal(event.method, 'merge');
    assert.equal(event.action, mergedEvent.action, 'the merge\'s events share an action');
    assert.equal(event.from.seq, res.json.events.find((e) => e.seq === seq).from.seq);
    assert.equal(mergedEvent.device, event.from.subject);
    const source = await checkSource(ledger[seq], d);
    assert.equal(event.notice.sha256, source.event.notice.sha256, 'the notice the visitor saw');
    assert.equal(event.property, 'shop');
  }
  assert.ok(!JSON.stringify(ledger).includes(d.subject), 'leaves name the device by its pseudonym only');
  // decisions follow at once
  assert.equal((await request(server, 'GET', '/v1/decide?subject=cust-1&purpose=marketing.sms', { key })).json.allowed, true);
  assert.equal((await request(server, 'GET', '/v1/decide?subject=cust-1&purpose=analytics', { key })).json.allowed, false);
  // the device is an identifier of the person, found by its id
  const subject = (await request(server, 'GET', '/v1/subjects/cust-1', { key })).json;
  assert.deepEqual(subject.identifiers, [{ type: 'device', value: d.subject }]);
  const found = await request(server, 'GET', `/v1/subjects?identifier_type=device&identifier_value=${d.subject}`, { key });
  assert.equal(found.json.id, 'cust-1');

  // again: 200, nothing written
  const size = await lastSeq();
  const again = await merge('cust-1', d);
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.json.events, []);
  assert.equal(await lastSeq(), size, 'nothing was written');
  // into someone else: 409
  const elsewhere = await merge('cust-2', d);
  assert.equal(expectProblem(assert, elsewhere, 409, 'conflict').field, 'device_token');
  assert.equal((await request(server, 'GET', '/v1/subjects/cust-2', { key })).status, 404);
  // the device reads, but writes no more
  const late = await asDevice(d, 'POST', '/v1/subjects/me/consents', action({ analytics: 'given' }));
  assert.match(expectProblem(assert, late, 409, 'conflict').detail, /person's end-user token/);
  expectProblem(assert, await asDevice(d, 'POST', '/v1/subjects/me/displays', { property: 'shop', locale: 'en', notice: { id: 'privacy', version: 1 } }), 409, 'conflict');
  assert.equal((await asDevice(d, 'GET', '/v1/subjects/me/consents')).status, 200);
  assert.equal((await consents(d.subject)).analytics.status, 'refused');
});

test('the person\'s own token merges a device of its property, and nothing else', async () => {
  const d = await newDevice();
  assert.equal((await asDevice(d, 'POST', '/v1/subjects/me/consents', action({ analytics: 'given' }))).status, 201);
  const token = await personToken('cust-3');
  // a token links no phone numbers; a device cannot merge itself; another property's device
  const phone = await asPerson(token, 'POST', '/v1/subjects/me/identities', { type: 'phone', value: '+8613800138000' });
  assert.equal(expectProblem(assert, phone, 403, 'forbidden').field, 'type');
  const self = await asDevice(d, 'POST', '/v1/subjects/me/identities', { type: 'device', device_token: d.device_token });
  expectProblem(assert, self, 403, 'forbidden');
  const other = await newDevice('app');
  const cross = await asPerson(token, 'POST', '/v1/subjects/me/identities', { type: 'device', device_token: other.device_token });
  assert.equal(expectProblem(assert, cross, 422, 'validation_failed').field, 'device_token');
  const forged = await asPerson(token, 'POST', '/v1/subjects/me/identities', { type: 'device', device_token: d.device_token.slice(0, -1) + 'x' });
  assert.equal(expectProblem(assert, forged, 422, 'validation_failed').field, 'device_token');
  const unknownField = await asPerson(token, 'POST', '/v1/subjects/me/identities', { type: 'device', device_token: d.device_token, value: 'x' });
  assert.equal(expectProblem(assert, unknownField, 422, 'validation_failed').field, 'value');
  assert.equal((await request(server, 'GET', '/v1/subjects/cust-3', { key })).status, 404, 'nothing written');
  // a guardian's token reaches a ward, but the browser's choices are the guardian's: not merged into the child
  assert.equal((await request(server, 'POST', '/v1/subjects/ward-3/guardians', { key, body: { guardian_id: 'cust-3', relation: 'parent' } })).status, 201);
  const intoWard = await asPerson(token, 'POST', '/v1/subjects/ward-3/identities', { type: 'device', device_token: d.device_token });
  assert.match(expectProblem(assert, intoWard, 403, 'forbidden').detail, /ward/);
  assert.deepEqual(await consents('ward-3'), {});

  const res = await asPerson(token, 'POST', '/v1/subjects/me/identities', { type: 'device', device_token: d.device_token });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.subject, 'cust-3');
  assert.equal((await consents('cust-3')).analytics.status, 'given');
  const mine = await asPerson(token, 'GET', '/v1/subjects/me/consents');
  assert.equal(mine.json.consents[0].purpose, 'analytics');
  const x = await asPerson(token, 'GET', '/v1/experience?property=shop&region=CN&subject=me');
  assert.deepEqual(x.json.reasons.map((r) => r.purpose), ['marketing.sms']);
});

test('newer decisions win, whichever side made them', async () => {
  const d = await newDevice();
  const key4 = { key };
  assert.equal((await request(server, 'POST', '/v1/subjects/cust-4/consents', { key, body: action({ analytics: 'given' }) })).status, 201);
  await pause(5);
  assert.equal((await asDevice(d, 'POST', '/v1/subjects/me/consents', action({ analytics: 'refused', 'marketing.sms': 'given' }))).status, 201);
  await pause(5);
  assert.equal((await request(server, 'POST', '/v1/subjects/cust-4/consents', { key, body: action({ 'marketing.sms': 'refused' }) })).status, 201);
  const before = await consents('cust-4');
  const res = await merge('cust-4', d, key4);
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json.events.map((e) => [e.type, e.purpose]), [['identity.merged', undefined], ['consent.refused', 'analytics']]);
  assert.equal(res.json.skipped.length, 1);
  assert.equal(res.json.skipped[0].purpose, 'marketing.sms');
  assert.match(res.json.skipped[0].reason, /decided later/);
  const after = await consents('cust-4');
  assert.equal(after.analytics.status, 'refused', 'the device\'s newer refusal carried over');
  assert.equal(after['marketing.sms'].status, 'refused', 'the person\'s newer refusal stands');
  assert.equal(after['marketing.sms'].deciding_event, before['marketing.sms'].deciding_event);
  assert.equal((await request(server, 'GET', '/v1/decide?subject=cust-4&purpose=analytics', { key })).json.allowed, false);
});

test('a person under 14 takes refusals from a device, never a consent given (PIPL Art. 31)', async () => {
  assert.equal((await request(server, 'PUT', '/v1/subjects/kid-1', { key, body: { age_status: 'child_under_14' } })).status, 200);
  const d = await newDevice();
  assert.equal((await asDevice(d, 'POST', '/v1/subjects/me/consents', action({ 'marketing.sms': 'given', analytics: 'refused' }))).status, 201);
  const res = await merge('kid-1', d);
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json.events.map((e) => e.type), ['identity.merged', 'consent.refused']);
  assert.deepEqual(res.json.skipped.map((s) => [s.purpose, s.status]), [['marketing.sms', 'given']]);
  assert.match(res.json.skipped[0].reason, /under 14.*PIPL Art\. 31/);
  const kid = await consents('kid-1');
  assert.equal(kid.analytics.status, 'refused');
  assert.equal(kid['marketing.sms'], undefined, 'no consent given for the child');
  assert.equal((await request(server, 'GET', '/v1/decide?subject=kid-1&purpose=marketing.sms', { key })).json.allowed, false);
});

test('an erased person or device is not merged', async () => {
  const d = await newDevice();
  assert.equal((await asDevice(d, 'POST', '/v1/subjects/me/consents', action({ analytics: 'given' }))).status, 201);
  assert.equal((await request(server, 'PUT', '/v1/subjects/gone-1', { key, body: { age_status: 'adult' } })).status, 200);
  assert.equal((await request(server, 'DELETE', '/v1/subjects/gone-1', { key })).status, 200);
  const size = await lastSeq();
  expectProblem(assert, await merge('gone-1', d), 409, 'conflict');
  assert.equal((await request(server, 'DELETE', `/v1/subjects/${d.subject}`, { key })).status, 200, 'an admin erases a device');
  const erased = await merge('cust-5', d);
  assert.equal(expectProblem(assert, erased, 409, 'conflict').field, 'device_token');
  assert.equal((await request(server, 'GET', '/v1/subjects/cust-5', { key })).status, 404);
  expectProblem(assert, await asDevice(d, 'POST', '/v1/subjects/me/consents', action({ analytics: 'refused' })), 409, 'conflict');
  assert.equal(await lastSeq(), size + 1, 'only the device\'s erasure was written');
});

test('erasing a person erases the devices merged into them (PIPL Art. 47): their history goes too', async () => {
  const d = await newDevice();
  assert.equal((await asDevice(d, 'POST', '/v1/subjects/me/consents', action({ analytics: 'given' }))).status, 201);
  assert.equal((await merge('erase-me', d)).status, 201);
  const other = await newDevice();
  assert.equal((await asDevice(other, 'POST', '/v1/subjects/me/consents', action({ analytics: 'refused' }))).status, 201);
  const res = await request(server, 'DELETE', '/v1/subjects/erase-me', { key });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.devices_erased, [d.subject]);
  const device = await request(server, 'GET', `/v1/subjects/${d.subject}`, { key });
  assert.ok(device.json.erased_at, 'the merged device is erased');
  assert.equal((await consents(d.subject)).analytics.status, 'erased');
  expectProblem(assert, await asDevice(d, 'POST', '/v1/subjects/me/consents', action({ analytics: 'given' })), 409, 'conflict');
  assert.equal((await consents(other.subject)).analytics.status, 'refused', 'another device is untouched');
  // once erased, again is 409 and erases nothing more
  expectProblem(assert, await request(server, 'DELETE', '/v1/subjects/erase-me', { key }), 409, 'conflict');
});

test('a device\'s writes are limited like a person\'s', async () => {
  const d = await newDevice();
  let limited = null;
  for (let i = 0; i < 40 && !limited; i++) {
    const res = await asDevice(d, 'POST', '/v1/subjects/me/consents', action({ analytics: i % 2 ? 'given' : 'refused' }));
    if (res.status === 429) limited = { i, res };
    else assert.equal(res.status, 201, res.text);
  }
  assert.ok(limited, 'a device is limited');
  assert.ok(limited.i >= 30, `a burst of 30 first (limited after ${limited.i})`);
  assert.ok(Number(limited.res.headers['retry-after']) >= 1);
  assert.equal((await asDevice(d, 'GET', '/v1/subjects/me/consents')).status, 200, 'reads are not limited');
});

test('devices are issued at most in a burst of 60 per address, then one a second', async () => {
  let limited = null;
  let issued = 0;
  for (let i = 0; i < 120 && !limited; i++) {
    const res = await request(server, 'POST', '/v1/devices', { body: { property: 'shop' } });
    if (res.status === 429) limited = res;
    else {
      assert.equal(res.status, 201, res.text);
      issued++;
    }
  }
  assert.ok(limited, 'issuing devices is limited');
  assert.ok(issued <= 60, `at most 60 devices in a burst (${issued} after the earlier tests)`);
  assert.equal(limited.json.code, 'rate_limited');
  assert.ok(Number(limited.headers['retry-after']) >= 1);
  await pause(1100);
  assert.equal((await request(server, 'POST', '/v1/devices', { body: { property: 'shop' } })).status, 201, 'one more a second later');
});
