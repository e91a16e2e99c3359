// SPDX-License-Identifier: Apache-2.0
// Consent actions: one event per purpose, the PIPL rules with their 422s,
// withdrawal in one call, idempotent retries, current state and history.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

let data, server, key, notice;
before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data);
  const steps = [
    ['/v1/properties', fx.property()],
    ['/v1/purposes', fx.purpose('marketing.sms')],
    ['/v1/purposes', fx.purpose('ads.personalised', { consent_form: 'separate' })],
    ['/v1/purposes', fx.purpose('health.data', { consent_form: 'separate', sensitive: true })],
    ['/v1/purposes', { ...fx.purpose('service.account', { necessary_for_service: true }) }],
    ['/v1/purposes', { ...fx.purpose('orders'), legal_basis: 'contract', consent_form: undefined }],
    ['/v1/purposes', fx.purpose('not.in.notice')],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version(['marketing.sms', 'ads.personalised', 'health.data', 'service.account', 'orders'])],
  ];
  for (const [p, body] of steps) {
    const res = await request(server, 'POST', p, { key, body: JSON.parse(JSON.stringify(body)) });
    assert.equal(res.status, 201, `${p}: ${res.text}`);
  }
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

const action = (decisions, extra = {}) => ({
  property: 'shop',
  channel: 'web',
  locale: 'en',
  method: 'click',
  notice: { id: 'privacy', version: 1, sha256: notice.content.en.sha256 },
  context: { ip: '203.0.113.7', user_agent: 'Mozilla/5.0 test' },
  decisions,
  ...extra,
});

const consent = (subject, body, headers = {}) =>
  request(server, 'POST', `/v1/subjects/${subject}/consents`, { key, body, headers });

test('one UI action becomes one durable event per purpose, in order', async () => {
  const res = await consent('u-1', action([
    { purpose: 'marketing.sms', decision: 'given' },
    { purpose: 'ads.personalised', decision: 'given', separate: true },
    { purpose: 'health.data', decision: 'refused' },
  ]));
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.events.length, 3);
  const seqs = res.json.events.map((e) => e.seq);
  assert.deepEqual(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2]);
  assert.deepEqual(res.json.events.map((e) => e.type), ['consent.given', 'consent.given', 'consent.refused']);
  assert.match(res.json.action, /^act_[0-9a-f]{32}$/);

  const state = await request(server, 'GET', '/v1/subjects/u-1/consents', { key });
  assert.equal(state.status, 200, state.text);
  const by = Object.fromEntries(state.json.consents.map((c) => [c.purpose, c]));
  assert.equal(by['marketing.sms'].status, 'given');
  assert.equal(by['health.data'].status, 'refused');
  assert.deepEqual(by['marketing.sms'].notice, { id: 'privacy', version: 1 });
  assert.equal(by['marketing.sms'].deciding_event, seqs[0]);
});

test('leaves carry no plaintext personal data', async () => {
  const res = await request(server, 'GET', '/v1/subjects/u-1/events', { key });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.items.length, 3);
  for (const item of res.json.items) {
    assert.ok(!item.leaf.includes('u-1'), 'no raw subject id');
    assert.ok(!item.leaf.includes('203.0.113.7'), 'no IP');
    assert.ok(!item.leaf.includes('Mozilla'), 'no user agent');
    assert.match(item.event.subject, /^[0-9a-f]{64}$/);
    assert.match(item.event.context_sha256, /^[0-9a-f]{64}$/);
    assert.equal(item.event.notice.sha256, notice.content.en.sha256);
  }
});

test('withdrawal is a single call, as easy as giving', async () => {
  const res = await consent('u-1', { property: 'shop', channel: 'web', locale: 'en', method: 'click', decisions: [{ purpose: 'marketing.sms', decision: 'withdrawn' }] });
  assert.equal(res.status, 201, res.text);
  const state = await request(server, 'GET', '/v1/subjects/u-1/consents', { key });
  assert.equal(state.json.consents.find((c) => c.purpose === 'marketing.sms').status, 'withdrawn');
});

test('the PIPL rules refuse with a clear 422 and write nothing', async () => {
  const cases = [
    [[{ purpose: 'ads.personalised', decision: 'given' }], 'decisions[0].separate', /own explicit consent/],
    [[{ purpose: 'health.data', decision: 'given' }], 'decisions[0].separate', /PIPL Art. 23, 29, 39/],
    [[{ purpose: 'orders', decision: 'refused' }], 'decisions[0].purpose', /legal basis 'contract'/],
    [[{ purpose: 'service.account', decision: 'refused' }], 'decisions[0].purpose', /necessary for the service/],
    [[{ purpose: 'not.in.notice', decision: 'given' }], 'decisions[0].purpose', /not covered by notice/],
    [[{ purpose: 'nope', decision: 'given' }], 'decisions[0].purpose', /unknown purpose/],
  ];
  for (const [decisions, field, message] of cases) {
    const res = await consent('u-2', action(decisions));
    const p = expectProblem(assert, res, 422, 'validation_failed');
    const fault = p.errors.find((e) => e.field === field);
    assert.ok(fault, `${field} in ${JSON.stringify(p.errors)}`);
    assert.match(fault.message, message);
  }
  const wrongHash = action([{ purpose: 'marketing.sms', decision: 'given' }]);
  wrongHash.notice.sha256 = 'a'.repeat(64);
  expectProblem(assert, await consent('u-2', wrongHash), 422, 'validation_failed');
  const noVersion = action([{ purpose: 'marketing.sms', decision: 'given' }]);
  noVersion.notice.version = 9;
  expectProblem(assert, await consent('u-2', noVersion), 422, 'validation_failed');
  const noNotice = action([{ purpose: 'marketing.sms', decision: 'given' }]);
  delete noNotice.notice;
  expectProblem(assert, await consent('u-2', noNotice), 422, 'validation_failed');
  const dup = action([{ purpose: 'marketing.sms', decision: 'given' }, { purpose: 'marketing.sms', decision: 'refused' }]);
  expectProblem(assert, await consent('u-2', dup), 422, 'validation_failed');
  expectProblem(assert, await request(server, 'GET', '/v1/subjects/u-2/consents', { key }), 404, 'not_found');
  const events = await request(server, 'GET', '/v1/subjects/u-2/events', { key });
  assert.deepEqual(events.json.items, []);
});

test('Idempotency-Key: a retry returns the first answer, a different body is refused', async () => {
  const body = action([{ purpose: 'marketing.sms', decision: 'given' }]);
  const first = await consent('u-3', body, { 'idempotency-key': 'retry-1' });
  assert.equal(first.status, 201, first.text);
  const again = await consent('u-3', body, { 'idempotency-key': 'retry-1' });
  assert.equal(again.status, 201);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  assert.deepEqual(again.json, first.json);
  const other = await consent('u-3', action([{ purpose: 'marketing.sms', decision: 'refused' }]), { 'idempotency-key': 'retry-1' });
  expectProblem(assert, other, 422, 'validation_failed');
  const events = await request(server, 'GET', '/v1/subjects/u-3/events', { key });
  assert.equal(events.json.items.length, 1);
});

test('concurrent actions are all recorded, each once, with distinct consecutive seqs', async () => {
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) =>
    consent(`c-${i}`, action([{ purpose: 'marketing.sms', decision: 'given' }, { purpose: 'health.data', decision: 'refused' }]))));
  const seqs = results.flatMap((r) => { assert.equal(r.status, 201, r.text); return r.json.events.map((e) => e.seq); });
  assert.equal(new Set(seqs).size, 80);
  for (const r of results) assert.equal(r.json.events[1].seq, r.json.events[0].seq + 1);
});

test('scopes: recording needs consents:write, reading needs decisions:read / ledger:read', async () => {
  const mk = async (scopes) => (await request(server, 'POST', '/v1/api-keys', { key, body: { name: scopes.join(), scopes } })).json.key;
  const reader = await mk(['decisions:read']);
  expectProblem(assert, await request(server, 'POST', '/v1/subjects/u-9/consents', { key: reader, body: action([{ purpose: 'marketing.sms', decision: 'given' }]) }), 403, 'forbidden');
  assert.equal((await request(server, 'GET', '/v1/subjects/u-1/consents', { key: reader })).status, 200);
  expectProblem(assert, await request(server, 'GET', '/v1/subjects/u-1/events', { key: reader }), 403, 'forbidden');
});

test('subject ids are checked', async () => {
  const res = await request(server, 'GET', `/v1/subjects/${'x'.repeat(129)}/consents`, { key });
  expectProblem(assert, res, 422, 'validation_failed');
});

test('the policy sets validity and the refusal cool-down, by region', async () => {
  const pol = (id, region, validity, cooldown) => ({
    id, region, property: 'shop', notice: 'privacy',
    purposes: [{ purpose: 'marketing.sms' }], consent_validity: validity, refusal_cooldown: cooldown,
  });
  assert.equal((await request(server, 'POST', '/v1/policies', { key, body: pol('cn', 'CN', 'P12M', 'P30D') })).status, 201);
  assert.equal((await request(server, 'POST', '/v1/policies', { key, body: pol('hk', 'CN-HK', 'P6M', 'P7D') })).status, 201);
  const at = (s) => Date.parse(s);
  const month = 30 * 86400e3;
  for (const [region, validityMonths, cooldownDays] of [['CN-GD', 12, 30], ['CN-HK', 6, 7]]) {
    const subject = `pol-${region}`;
    const res = await consent(subject, action([
      { purpose: 'marketing.sms', decision: 'given' },
      { purpose: 'health.data', decision: 'refused' },
    ], { region }));
    assert.equal(res.status, 201, res.text);
    const by = Object.fromEntries((await request(server, 'GET', `/v1/subjects/${subject}/consents`, { key })).json.consents.map((c) => [c.purpose, c]));
    const given = by['marketing.sms'];
    const span = at(given.expires_at) - at(given.decided_at);
    assert.ok(Math.abs(span - validityMonths * month) < 6 * 86400e3, `${region}: ${given.expires_at} vs ${given.decided_at}`);
    const refused = by['health.data'];
    assert.equal(at(refused.ask_again_at) - at(refused.decided_at), cooldownDays * 86400e3);
    assert.equal(refused.expires_at, null);
  }
  expectProblem(assert, await consent('pol-bad', action([{ purpose: 'marketing.sms', decision: 'given' }], { region: 'china' })), 422, 'validation_failed');
});

test('a material notice change sends given consents back to re-consent; notify-only does not', async () => {
  assert.equal((await consent('rc-1', action([{ purpose: 'marketing.sms', decision: 'given' }, { purpose: 'ads.personalised', decision: 'given', separate: true }]))).status, 201);
  const v2 = fx.version(['marketing.sms', 'ads.personalised', 'health.data', 'service.account', 'orders']);
  v2.purposes.find((p) => p.purpose === 'ads.personalised').change = 'notify_only';
  const pub = await request(server, 'POST', '/v1/notices/privacy/versions', { key, body: v2 });
  assert.equal(pub.status, 201, pub.text);
  assert.ok(pub.json.reconsent_required >= 1, pub.text);
  const by = Object.fromEntries((await request(server, 'GET', '/v1/subjects/rc-1/consents', { key })).json.consents.map((c) => [c.purpose, c]));
  assert.equal(by['marketing.sms'].status, 'reconsent_required');
  assert.equal(by['ads.personalised'].status, 'given');
  const events = (await request(server, 'GET', '/v1/subjects/rc-1/events', { key })).json.items;
  const last = events.at(-1).event;
  assert.equal(last.type, 'consent.reconsent_required');
  assert.deepEqual(last.notice, { id: 'privacy', version: pub.json.version });
  const given = events.find((e) => e.event.type === 'consent.given' && e.event.purpose === 'marketing.sms');
  assert.equal(last.ends, given.seq, 'names the consent it ends');
  assert.equal(by['marketing.sms'].deciding_event, events.at(-1).seq);
  // consents given under the new version are not swept again
  const fresh = await request(server, 'GET', `/v1/notices/privacy/versions/${pub.json.version}`);
  const again = await consent('rc-1', { ...action([{ purpose: 'marketing.sms', decision: 'given' }]), notice: { id: 'privacy', version: pub.json.version, sha256: fresh.json.content.en.sha256 } });
  assert.equal(again.status, 201, again.text);
});

test('each event has a receipt with ISO/IEC TS 27560 field names', async () => {
  const events = (await request(server, 'GET', '/v1/subjects/u-1/events', { key })).json.items;
  const given = events.find((e) => e.event.type === 'consent.given' && e.event.purpose === 'ads.personalised');
  for (const ref of [given.event.id, String(given.seq)]) {
    const r = await request(server, 'GET', `/v1/subjects/u-1/receipts/${ref}`, { key });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.record_id, given.event.id);
    assert.equal(r.json.pii_principal_id, given.event.subject);
    assert.equal(r.json.consent_status, 'given');
    assert.equal(r.json.purpose.purpose_id, 'ads.personalised');
    assert.equal(r.json.purpose.lawful_basis, 'consent');
    assert.equal(r.json.purpose.consent_type, 'separate');
    assert.equal(r.json.separate_consent, true);
    assert.equal(r.json.event.collection_method, 'click');
    assert.deepEqual(r.json.privacy_notice, given.event.notice);
    const leafHash = createHash('sha256').update(Buffer.concat([Buffer.from([0]), Buffer.from(given.leaf, 'utf8')])).digest('hex');
    assert.equal(r.json.evidence.leaf_sha256, leafHash);
    assert.equal(r.json.evidence.ledger_seq, given.seq);
  }
  expectProblem(assert, await request(server, 'GET', '/v1/subjects/u-1/receipts/evt_nope', { key }), 404, 'not_found');
  const other = (await request(server, 'GET', '/v1/subjects/u-3/events', { key })).json.items[0];
  expectProblem(assert, await request(server, 'GET', `/v1/subjects/u-1/receipts/${other.event.id}`, { key }), 404, 'not_found');
});

test('per-recipient purposes: each recipient is its own consent (PIPL Art. 23, 39)', async () => {
  const p = await request(server, 'POST', '/v1/purposes', { key, body: fx.purpose('share.partners', { consent_form: 'separate', recipients: ['hq-eu', 'cdp-vendor'] }) });
  assert.equal(p.status, 201, p.text);
  const v = await request(server, 'POST', '/v1/notices/privacy/versions', { key, body: fx.version(['marketing.sms', 'share.partners']) });
  assert.equal(v.status, 201, v.text);
  const body = (decisions) => ({ ...action(decisions), notice: { id: 'privacy', version: v.json.version, sha256: v.json.content.en.sha256 } });
  const missing = await consent('rp-1', body([{ purpose: 'share.partners', decision: 'given', separate: true }]));
  assert.equal(expectProblem(assert, missing, 422, 'validation_failed').errors[0].field, 'decisions[0].recipient');
  const unknown = await consent('rp-1', body([{ purpose: 'share.partners', decision: 'given', separate: true, recipient: 'someone' }]));
  assert.match(expectProblem(assert, unknown, 422, 'validation_failed').errors[0].message, /not a recipient/);
  const stray = await consent('rp-1', body([{ purpose: 'marketing.sms', decision: 'given', recipient: 'hq-eu' }]));
  expectProblem(assert, stray, 422, 'validation_failed');
  assert.equal((await consent('rp-1', body([{ purpose: 'share.partners', decision: 'given', separate: true, recipient: 'hq-eu' }]))).status, 201);
  assert.equal((await consent('rp-1', body([{ purpose: 'share.partners', decision: 'refused', recipient: 'cdp-vendor' }]))).status, 201);
  const states = (await request(server, 'GET', '/v1/subjects/rp-1/consents', { key })).json.consents.filter((c) => c.purpose === 'share.partners');
  assert.deepEqual(states.map((c) => [c.recipient, c.status]).sort(), [['cdp-vendor', 'refused'], ['hq-eu', 'given']]);
  const events = (await request(server, 'GET', '/v1/subjects/rp-1/events', { key })).json.items;
  assert.deepEqual(events.map((e) => e.event.recipient), ['hq-eu', 'cdp-vendor']);
});
