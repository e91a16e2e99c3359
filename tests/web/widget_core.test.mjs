// SPDX-License-Identifier: Apache-2.0
// web/widget/cpm-core.js against a fake fetch: the experience request, the
// starting choices (never pre-ticked, GPC), the bulk actions and the exact
// consent action sent (docs/CONSENTS.md, docs/END-USERS.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConsentCore, kind } from '../../web/widget/cpm-core.js';

const BASE = 'https://cpm.example';
const HASH = { 'zh-Hans': 'a'.repeat(64), 'zh-Hant': 'b'.repeat(64), en: 'c'.repeat(64) };
const purpose = (id, extra = {}) => ({
  id, name: `name of ${id}`, legal_basis: 'consent', consent_form: 'general', separate: false,
  default: false, necessary: false, sensitive: false, ...extra,
});
const PURPOSES = [
  purpose('service.account', { necessary: true, default: true }),
  purpose('orders', { legal_basis: 'contract' }),
  purpose('marketing.sms', { default: true }), // the policy's default never ticks a consent box
  purpose('ads.personalised', { consent_form: 'separate', separate: true }),
  purpose('data.sale'),
  purpose('analytics'),
  purpose('health.records', { consent_form: 'written', separate: true, sensitive: true }),
];
const ASKED = ['marketing.sms', 'ads.personalised', 'data.sale', 'analytics', 'health.records'];

function experience(locale = 'zh-Hans', extra = {}) {
  return {
    property: 'shop', region: 'CN', policy: 'cn-shop', locale, locales: ['en', 'zh-Hans', 'zh-Hant'],
    notice: { id: 'privacy', version: 3, sha256: HASH[locale], title: `title ${locale}`, text: `<b>text</b> ${locale}` },
    purposes: PURPOSES, ui: { texts: {}, theme: {} }, consent_validity: 'P1Y', otp_required: false,
    gpc: 'refuse_sale_and_ads', show: true, reasons: [], guardian_required: false, ...extra,
  };
}

// A fetch that records each request and answers from `answer(url, init)`.
function fakeFetch(answer = (url) => ({ body: experience(new URL(url, BASE).searchParams.get('locale') || 'zh-Hans') })) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    const { status = 200, body } = answer(url, init);
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  };
  return { fetch, calls };
}

const RECORDED = { subject: 'u1', action: 'act_1', events: [] };
function withConsents(extra = {}) {
  return fakeFetch((url, init) =>
    init.method === 'POST' ? { status: 201, body: RECORDED } : { body: experience(new URL(url, BASE).searchParams.get('locale') || 'zh-Hans', extra) });
}

const core = (fetch, opts = {}) =>
  createConsentCore({ base: BASE, property: 'shop', region: 'CN', locale: 'zh-Hans', token: 'tok', fetch, ...opts });
const sent = (call) => JSON.parse(call.init.body);
const decisions = (given = [], separate = []) =>
  ASKED.map((purpose) => {
    const d = { purpose, decision: given.includes(purpose) ? 'given' : 'refused' };
    if (separate.includes(purpose)) d.separate = true;
    return d;
  });
const action = (method, ds, locale = 'zh-Hans') => ({
  property: 'shop', channel: 'web', locale, region: 'CN', method,
  notice: { id: 'privacy', version: 3, sha256: HASH[locale] }, decisions: ds,
});

test('load without a token: the texts for anyone, no subject, no Authorization', async () => {
  const f = fakeFetch();
  const c = core(f.fetch, { token: undefined });
  const ready = [];
  c.on('ready', (x) => ready.push(x));
  const x = await c.load();
  assert.equal(f.calls.length, 1);
  assert.equal(f.calls[0].url, `${BASE}/v1/experience?property=shop&region=CN&locale=zh-Hans`);
  assert.equal(f.calls[0].init.method, undefined, 'a GET');
  assert.deepEqual(f.calls[0].init.headers, { Accept: 'application/json' });
  assert.deepEqual(x, experience());
  assert.deepEqual(ready, [x]);
  assert.equal(c.state.experience, x);
});

test('load with a token: subject=me and the bearer token; region and locale only when given', async () => {
  const f = fakeFetch();
  await core(f.fetch).load();
  assert.equal(f.calls[0].url, `${BASE}/v1/experience?property=shop&region=CN&locale=zh-Hans&subject=me`);
  assert.deepEqual(f.calls[0].init.headers, { Accept: 'application/json', Authorization: 'Bearer tok' });
  await core(f.fetch, { region: undefined, locale: undefined, base: '' }).load();
  assert.equal(f.calls[1].url, '/v1/experience?property=shop&subject=me');
});

test('nothing is pre-ticked, even with the policy default; necessary and other bases are fixed, never decided', async () => {
  const c = core(fakeFetch().fetch);
  await c.load();
  assert.deepEqual(c.state.decisions, Object.fromEntries(ASKED.map((id) => [id, false])));
  assert.deepEqual(c.state.gpc, {}, 'no GPC signal given');
  assert.deepEqual(PURPOSES.map(kind), ['fixed', 'fixed', 'consent', 'separate', 'consent', 'consent', 'separate']);
  const g = c.groups();
  assert.deepEqual(g.fixed.map((p) => p.id), ['service.account', 'orders']);
  assert.deepEqual(g.consent.map((p) => p.id), ['marketing.sms', 'data.sale', 'analytics']);
  assert.deepEqual(g.separate.map((p) => p.id), ['ads.personalised', 'health.records']);
  assert.throws(() => c.choose('service.account', false), /not asked/);
  assert.throws(() => c.choose('orders', true), /not asked/);
  assert.throws(() => c.choose('nope', true), /not asked/);
});

test('acceptAll ticks the ordinary consent purposes, never a separate one', async () => {
  const c = core(fakeFetch().fetch);
  await c.load();
  c.acceptAll();
  assert.deepEqual(c.state.decisions, {
    'marketing.sms': true, 'ads.personalised': false, 'data.sale': true, analytics: true, 'health.records': false,
  });
  c.choose('health.records', true);
  c.acceptAll();
  assert.equal(c.state.decisions['health.records'], true, 'a separate tick stays');
  assert.equal(c.state.decisions['ads.personalised'], false);
});

test('refuseAll unticks everything, separate purposes included', async () => {
  const c = core(fakeFetch().fetch);
  await c.load();
  c.acceptAll();
  c.choose('ads.personalised', true);
  c.refuseAll();
  assert.deepEqual(c.state.decisions, Object.fromEntries(ASKED.map((id) => [id, false])));
});

test('submit sends the action exactly: the notice hash shown, separate only for ticked separate purposes, no necessary ones', async () => {
  const f = withConsents();
  const c = core(f.fetch);
  const updated = [];
  c.on('updated', (a) => updated.push(a));
  await c.load();
  c.acceptAll();
  c.choose('ads.personalised', true);
  c.choose('analytics', false);
  const answer = await c.submit({ method: 'checkbox' });
  assert.deepEqual(answer, RECORDED);
  assert.deepEqual(updated, [RECORDED]);
  const post = f.calls[1];
  assert.equal(post.url, `${BASE}/v1/subjects/me/consents`);
  assert.equal(post.init.method, 'POST');
  assert.deepEqual(post.init.headers, { Accept: 'application/json', 'Content-Type': 'application/json', Authorization: 'Bearer tok' });
  assert.deepEqual(sent(post), action('checkbox', [
    { purpose: 'marketing.sms', decision: 'given' },
    { purpose: 'ads.personalised', decision: 'given', separate: true },
    { purpose: 'data.sale', decision: 'given' },
    { purpose: 'analytics', decision: 'refused' },
    { purpose: 'health.records', decision: 'refused' },
  ]));
});

test('submit after refuseAll: everything refused, method click by default, nothing separate', async () => {
  const f = withConsents();
  const c = core(f.fetch);
  await c.load();
  c.choose('health.records', true);
  c.refuseAll();
  await c.submit();
  assert.deepEqual(sent(f.calls[1]), action('click', decisions()));
});

test('submit with acceptAll and a written-form tick; the channel option; no region when none was given', async () => {
  const f = withConsents();
  const c = core(f.fetch, { channel: 'mini_program', region: undefined });
  await c.load();
  c.acceptAll();
  c.choose('health.records', true);
  await c.submit();
  const want = action('click', decisions(['marketing.sms', 'data.sale', 'analytics', 'health.records'], ['health.records']));
  delete want.region;
  assert.deepEqual(sent(f.calls[1]), { ...want, channel: 'mini_program' });
});

test('a known person is asked only about the purposes the experience asks again', async () => {
  const reasons = [{ purpose: 'ads.personalised', reason: 'cooldown_over' }, { purpose: 'analytics', reason: 'never_asked' }];
  const f = withConsents({ subject: 'u1', reasons });
  const c = core(f.fetch);
  await c.load();
  assert.deepEqual(c.state.decisions, { 'ads.personalised': false, analytics: false });
  assert.throws(() => c.choose('marketing.sms', true), /not asked/, 'already decided: left to the preference center');
  c.acceptAll();
  await c.submit();
  assert.deepEqual(sent(f.calls[1]).decisions, [
    { purpose: 'ads.personalised', decision: 'refused' },
    { purpose: 'analytics', decision: 'given' },
  ]);
  const none = core(withConsents({ subject: 'u1', reasons: [], show: false }).fetch);
  await none.load();
  assert.deepEqual(none.state.decisions, {});
  assert.equal(await none.submit(), null, 'nothing to decide: nothing sent');
});

test('GPC: sale and ads purposes start refused and marked, acceptAll leaves them, the person may still tick them', async () => {
  const f = withConsents();
  const c = core(f.fetch, { gpc: true });
  await c.load();
  assert.deepEqual(c.state.gpc, { 'ads.personalised': true, 'data.sale': true });
  assert.deepEqual(c.state.decisions, Object.fromEntries(ASKED.map((id) => [id, false])));
  c.acceptAll();
  assert.equal(c.state.decisions['data.sale'], false);
  c.choose('data.sale', true);
  c.choose('ads.personalised', true);
  await c.submit();
  assert.deepEqual(sent(f.calls[1]), action('click',
    decisions(['marketing.sms', 'ads.personalised', 'data.sale', 'analytics'], ['ads.personalised'])));
  for (const [gpc, mode] of [[true, 'ignore'], [false, 'refuse_sale_and_ads']]) {
    const other = core(withConsents({ gpc: mode }).fetch, { gpc });
    await other.load();
    assert.deepEqual(other.state.gpc, {}, `gpc ${gpc}, policy ${mode}`);
  }
  // the Sec-GPC header the server saw counts like navigator.globalPrivacyControl
  const header = core(withConsents({ gpc_signal: true }).fetch, { gpc: false });
  await header.load();
  assert.deepEqual(header.state.gpc, { 'ads.personalised': true, 'data.sale': true });
});

test('setLocale re-loads in the new locale; the choices stay, the notice hash follows the text shown', async () => {
  const f = withConsents();
  const c = core(f.fetch);
  await c.load();
  c.choose('marketing.sms', true);
  const x = await c.setLocale('zh-Hant');
  assert.equal(f.calls.length, 2);
  assert.equal(f.calls[1].url, `${BASE}/v1/experience?property=shop&region=CN&locale=zh-Hant&subject=me`);
  assert.equal(x.locale, 'zh-Hant');
  assert.equal(c.state.experience, x);
  assert.equal(c.state.decisions['marketing.sms'], true);
  await c.submit();
  assert.deepEqual(sent(f.calls[2]), action('click', decisions(['marketing.sms']), 'zh-Hant'));
});

test('a non-2xx answer emits error and rejects with the status and the problem', async () => {
  const problem = { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'the token has expired', code: 'unauthorized' };
  const f = fakeFetch(() => ({ status: 401, body: problem }));
  const c = core(f.fetch);
  const errors = [];
  c.on('error', (e) => errors.push(e));
  const off = c.on('ready', () => assert.fail('not ready'));
  await assert.rejects(c.load(), (e) => e.status === 401 && e.message === 'the token has expired' && e.problem.code === 'unauthorized');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].status, 401);
  assert.equal(c.state.experience, null);
  assert.throws(() => c.acceptAll(), /load\(\) first/);
  await assert.rejects(c.submit(), /load\(\) first/);
  off();

  const g = fakeFetch((url, init) => (init.method === 'POST' ? { status: 422, body: { title: 'Validation failed' } } : { body: experience() }));
  const d = core(g.fetch);
  const seen = [];
  d.on('error', (e) => seen.push(e.status));
  d.on('updated', () => assert.fail('not updated'));
  await d.load();
  await assert.rejects(d.submit(), /Validation failed/);
  assert.deepEqual(seen, [422]);

  const broken = core(async () => new Response('oops', { status: 502 }));
  await assert.rejects(broken.load(), (e) => e.status === 502 && e.message === 'HTTP 502' && e.problem === null);
});

test('shown() records the display (with a token) and the consent that follows points to it', async () => {
  const DISPLAY = `evt_${'d'.repeat(32)}`;
  const f = fakeFetch((url, init) => {
    if (url.endsWith('/v1/subjects/me/displays')) return { status: 201, body: { display: DISPLAY, event: {} } };
    if (init.method === 'POST') return { status: 201, body: RECORDED };
    return { body: experience('zh-Hant') };
  });
  const c = core(f.fetch, { locale: 'zh-Hant' });
  await c.load();
  c.shown();
  c.choose('marketing.sms', true);
  await c.submit();
  const [display, consent] = f.calls.slice(1);
  assert.equal(display.url, `${BASE}/v1/subjects/me/displays`);
  assert.equal(display.init.headers.Authorization, 'Bearer tok');
  assert.deepEqual(sent(display), {
    property: 'shop', locale: 'zh-Hant', notice: { id: 'privacy', version: 3 }, channel: 'web', policy: 'cn-shop',
  });
  assert.equal(sent(consent).display, DISPLAY, 'submit waited for the display and sent its id');
  // without a token nothing is recorded
  const g = fakeFetch();
  const anonymous = core(g.fetch, { token: undefined });
  await anonymous.load();
  assert.equal(await anonymous.shown(), null);
  assert.equal(g.calls.length, 1);
});

test('on() returns a function that stops the handler; shown() reports the experience', async () => {
  const c = core(fakeFetch().fetch);
  const seen = [];
  const off = c.on('ready', () => seen.push('ready'));
  c.on('shown', (x) => seen.push(`shown ${x.locale}`));
  await c.load();
  off();
  await c.load();
  c.shown();
  assert.deepEqual(seen, ['ready', 'shown zh-Hans']);
});

test('a policy asking a one-time code: only giving needs one; the verified challenge goes with the consent', async () => {
  let tries = 0;
  const f = fakeFetch((url, init) => {
    const u = new URL(url, BASE).pathname;
    if (u === '/v1/otp/challenges') return { status: 201, body: { id: 'otp_1', sent_to: '+86 138****8000', expires_at: 'x' } };
    if (u === '/v1/otp/challenges/otp_1/verify') {
      tries++;
      return sent({ init }).code === '123456' ? { body: { verified: true } } : { status: 422, body: { detail: 'wrong code', attempts_left: 4 } };
    }
    if (init && init.method === 'POST') return { status: 201, body: RECORDED };
    return { body: experience('zh-Hans', { otp_required: true }) };
  });
  const c = core(f.fetch);
  const errors = [];
  c.on('error', (e) => errors.push(e.status));
  await c.load();
  assert.equal(c.needsOtp(), false, 'refusing everything needs no code');
  c.choose('marketing.sms', true);
  assert.equal(c.needsOtp(), true);
  assert.deepEqual(await c.otpStart(), { id: 'otp_1', sent_to: '+86 138****8000', expires_at: 'x' });
  assert.deepEqual(sent(f.calls.at(-1)), {});
  await assert.rejects(c.otpVerify('000000'), (e) => e.status === 422);
  assert.deepEqual(errors, [], 'a mistyped code is not an error event');
  assert.equal(c.needsOtp(), true);
  await c.otpVerify('123456');
  assert.equal(tries, 2);
  assert.equal(c.needsOtp(), false);
  await c.submit();
  assert.deepEqual(sent(f.calls.at(-1)).otp, { challenge: 'otp_1' });
  // a code is good for one action
  c.choose('marketing.sms', true);
  assert.equal(c.needsOtp(), true);
  assert.equal(sent({ init: { body: JSON.stringify(c.body('click')) } }).otp, undefined);
});

// A storage adapter over a Map, as a mini-program would pass its own.
function memoryStorage(entries = {}) {
  const m = new Map(Object.entries(entries));
  return { map: m, get: (k) => m.get(k) ?? null, set: (k, v) => void m.set(k, v), remove: (k) => void m.delete(k) };
}
const DEVICE = 'dev1.shop.anon-AAAAAAAAAAAAAAAAAAAAAA.mac';
// cpmd as the device mode meets it: devices, identities (the merge), displays, consents, the experience.
function deviceFetch(status = {}) {
  return fakeFetch((url, init) => {
    const path = new URL(url, BASE).pathname;
    if (path === '/v1/devices') return { status: 201, body: { subject: 'anon-AAAAAAAAAAAAAAAAAAAAAA', device_token: DEVICE, property: 'shop' } };
    if (path === '/v1/subjects/me/identities') return { status: status.merge ?? 201, body: { subject: 'u1', events: [] } };
    if (path === '/v1/subjects/me/displays') return { status: 201, body: { display: 'evt_d' } };
    if (path === '/v1/subjects/me/consents') return { status: status.consent ?? 201, body: RECORDED };
    return { body: experience('zh-Hans', { subject: 'anon-AAAAAAAAAAAAAAAAAAAAAA', reasons: [{ purpose: 'analytics', reason: 'never_asked' }] }) };
  });
}
const authOf = (call) => call.init.headers && call.init.headers.Authorization;
const pathOf = (call) => new URL(call.url, BASE).pathname;

test('device mode: without a token, a device is asked for once, kept, and used for the experience, display and consent', async () => {
  const f = deviceFetch();
  const storage = memoryStorage();
  const c = core(f.fetch, { token: undefined, storage });
  await c.load();
  assert.equal(pathOf(f.calls[0]), '/v1/devices');
  assert.deepEqual(JSON.parse(f.calls[0].init.body), { property: 'shop' });
  assert.equal(authOf(f.calls[0]), undefined, 'asking for a device needs nothing');
  assert.equal(storage.map.get('cpm.device.shop'), DEVICE, 'kept in storage, per property');
  assert.equal(f.calls[1].url, `${BASE}/v1/experience?property=shop&region=CN&locale=zh-Hans&subject=me`);
  assert.equal(authOf(f.calls[1]), `Device ${DEVICE}`);
  await c.shown();
  c.choose('analytics', true);
  await c.submit({ method: 'checkbox' });
  assert.deepEqual(f.calls.slice(2).map((x) => [x.init.method, pathOf(x), authOf(x)]), [
    ['POST', '/v1/subjects/me/displays', `Device ${DEVICE}`],
    ['POST', '/v1/subjects/me/consents', `Device ${DEVICE}`],
  ]);
  assert.deepEqual(JSON.parse(f.calls[3].init.body).decisions, [{ purpose: 'analytics', decision: 'given' }], 'only what the device is asked');

  // the next page load (a new core) finds the device in storage
  const next = deviceFetch();
  await core(next.fetch, { token: undefined, storage }).load();
  assert.deepEqual(next.calls.map(pathOf), ['/v1/experience']);
  assert.equal(authOf(next.calls[0]), `Device ${DEVICE}`);
});

test('device mode: with a token, a kept device is merged into the person first, then forgotten', async () => {
  const f = deviceFetch();
  const storage = memoryStorage({ 'cpm.device.shop': DEVICE });
  const c = core(f.fetch, { storage });
  await c.load();
  assert.deepEqual(f.calls.map((x) => [x.init.method, pathOf(x), authOf(x)]), [
    ['POST', '/v1/subjects/me/identities', 'Bearer tok'],
    [undefined, '/v1/experience', 'Bearer tok'],
  ]);
  assert.deepEqual(JSON.parse(f.calls[0].init.body), { type: 'device', device_token: DEVICE });
  assert.equal(storage.map.has('cpm.device.shop'), false, 'forgotten once merged');
  await c.load();
  assert.equal(f.calls.filter((x) => pathOf(x) === '/v1/subjects/me/identities').length, 1, 'merged once');
  // with a token and nothing kept: no device is made
  const none = deviceFetch();
  await core(none.fetch, { storage: memoryStorage() }).load();
  assert.deepEqual(none.calls.map(pathOf), ['/v1/experience']);
});

test('device mode: a merge refused for good forgets the device; one that could not be made keeps it', async () => {
  for (const [status, kept] of [[409, false], [422, false], [503, true], [429, true]]) {
    const storage = memoryStorage({ 'cpm.device.shop': DEVICE });
    const f = deviceFetch({ merge: status });
    const errors = [];
    const c = core(f.fetch, { storage });
    c.on('error', (e) => errors.push(e.status));
    await c.load();
    assert.equal(storage.map.has('cpm.device.shop'), kept, `${status}: ${kept ? 'kept' : 'forgotten'}`);
    assert.deepEqual(errors, [status]);
    assert.equal(pathOf(f.calls.at(-1)), '/v1/experience', 'the popup still loads');
  }
});

test('device mode: a device merged elsewhere (409 on a write) is forgotten; without storage there is none', async () => {
  const storage = memoryStorage({ 'cpm.device.shop': DEVICE });
  const f = deviceFetch({ consent: 409 });
  const c = core(f.fetch, { token: undefined, storage });
  await c.load();
  c.refuseAll();
  await assert.rejects(c.submit(), (e) => e.status === 409);
  assert.equal(storage.map.has('cpm.device.shop'), false);
  assert.equal(c.state.device, null);
  const plain = deviceFetch();
  await core(plain.fetch, { token: undefined }).load();
  assert.deepEqual(plain.calls.map(pathOf), ['/v1/experience'], 'no storage: a preview, as before');
  assert.equal(authOf(plain.calls[0]), undefined);
});
