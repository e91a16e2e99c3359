// SPDX-License-Identifier: Apache-2.0
// GET /v1/experience: the policy for (property, region), texts in the best
// locale (Hong Kong reads Traditional Chinese, an explicit choice wins),
// and whether the popup shows now for a person: never asked, re-consent
// after a material notice change, a refusal's cool-down over; a guardian
// needed for a child; a person's answer only with their own token.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

const SECRET = Buffer.from('experience tests HS256 secret, 32+ bytes');
let data, server, key, notice;

const names = (zh, hant, en) => ({ 'zh-Hans': zh, 'zh-Hant': hant, en });
before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data);
  const tokenKeys = [{ kty: 'oct', k: SECRET.toString('base64url'), alg: 'HS256' }];
  const policy = (id, region, extra = {}) => ({
    id, region, property: 'shop', notice: 'privacy',
    purposes: [{ purpose: 'marketing.sms', default: false }, { purpose: 'ads.personalised' }, { purpose: 'service.account' }],
    refusal_cooldown: 'PT2S',
    ui: { texts: { title: names('隐私设置', '私隱設定', 'Privacy settings'), accept: names('同意', '同意', 'Accept') }, theme: { primary_color: '#0a7cff' } },
    ...extra,
  });
  await fx.createAll(request, server, key, [
    ['/v1/properties', { ...fx.property(), token_keys: tokenKeys }],
    ['/v1/purposes', fx.purpose('marketing.sms', { name: names('短信营销', '短訊推廣', 'SMS marketing') })],
    ['/v1/purposes', fx.purpose('ads.personalised', { consent_form: 'separate', personalised: true, name: { 'zh-Hans': '个性化广告' } })],
    ['/v1/purposes', fx.purpose('service.account', { necessary_for_service: true })],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version(['marketing.sms', 'ads.personalised', 'service.account'])],
    ['/v1/policies', policy('cn-shop', 'CN')],
    ['/v1/policies', policy('hk-shop', 'CN-HK', { otp_required: true })],
    ['/v1/purposes', fx.purpose('marketing.email')],
    ['/v1/topics', { id: 'coupons', name: names('优惠券', '優惠券', 'Coupons'), purposes: ['marketing.sms'] }],
    ['/v1/topics', { id: 'newsletter', name: names('电子报', '電子報', 'Newsletter'), purposes: ['marketing.email'] }],
  ]);
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

const token = (sub, aud = 'shop') =>
  new SignJWT({ sub, aud, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300 })
    .setProtectedHeader({ alg: 'HS256' }).sign(SECRET);
const experience = (q, headers = {}) => request(server, 'GET', `/v1/experience?${new URLSearchParams(q)}`, { headers });
const mine = async (sub, q = {}) =>
  experience({ property: 'shop', region: 'CN', subject: 'me', ...q }, { authorization: `Bearer ${await token(sub)}` });
const decide = (sub, decisions, n = notice) =>
  request(server, 'POST', `/v1/subjects/${sub}/consents`, { key, body: fx.consentBody(n, decisions, { region: 'CN' }) });

test('anyone gets the texts: Hong Kong reads Traditional Chinese, an explicit locale wins', async () => {
  const hk = await experience({ property: 'shop', region: 'CN-HK' });
  assert.equal(hk.status, 200, hk.text);
  assert.equal(hk.json.policy, 'hk-shop');
  assert.equal(hk.json.locale, 'zh-Hant');
  assert.equal(hk.json.notice.text, notice.content['zh-Hant'].text);
  assert.equal(hk.json.notice.sha256, notice.content['zh-Hant'].sha256);
  assert.equal(hk.json.notice.version, 1);
  assert.equal(hk.json.ui.texts.title, '私隱設定');
  assert.equal(hk.json.ui.theme.primary_color, '#0a7cff');
  assert.equal(hk.json.otp_required, true);
  assert.equal(hk.json.show, true);
  const sms = hk.json.purposes.find((p) => p.id === 'marketing.sms');
  assert.equal(sms.name, '短訊推廣');
  assert.equal(sms.default, false);
  const ads = hk.json.purposes.find((p) => p.id === 'ads.personalised');
  assert.equal(ads.separate, true, 'separate consent shown apart');
  assert.equal(ads.name, '个性化广告', 'falls back to the default locale');
  assert.equal(hk.json.purposes.find((p) => p.id === 'service.account').necessary, true);
  const cases = [
    [{ region: 'CN-HK', locale: 'zh-CN' }, {}, 'zh-Hans'],
    [{ region: 'CN', locale: 'zh-HK' }, {}, 'zh-Hant'],
    [{ region: 'CN', locale: 'zh-TW' }, {}, 'zh-Hant'],
    [{ region: 'CN', locale: 'zh-SG' }, {}, 'zh-Hans'],
    [{ region: 'CN', locale: 'en-GB' }, {}, 'en'],
    [{ region: 'CN', locale: 'fr' }, {}, 'zh-Hans'],
    [{ region: 'CN' }, { 'accept-language': 'zh-TW,zh;q=0.8' }, 'zh-Hant'],
    [{ region: 'CN' }, {}, 'zh-Hans'],
  ];
  for (const [q, headers, want] of cases) {
    const res = await experience({ property: 'shop', ...q }, headers);
    assert.equal(res.json.locale, want, `${JSON.stringify(q)} ${JSON.stringify(headers)}`);
  }
  assert.equal((await experience({ property: 'shop', region: 'US' })).status, 404, 'no policy for US, no * policy');
  // the topics a person may turn off: those of the policy's purposes, named in the locale
  assert.deepEqual(hk.json.topics, [{ id: 'coupons', name: '優惠券' }]);
  // the browser's Global Privacy Control header is reported for the popup to honour
  assert.equal(hk.json.gpc_signal, false);
  assert.equal((await experience({ property: 'shop', region: 'CN-HK' }, { 'sec-gpc': '1' })).json.gpc_signal, true);
  assert.equal((await experience({ property: 'shop', region: 'CN-HK' }, { 'sec-gpc': '0' })).json.gpc_signal, false);
});

test('a person: shown when never asked, not after deciding; a refusal\'s cool-down; re-consent after a material change', async () => {
  let x = await mine('ex-1');
  assert.equal(x.status, 200, x.text);
  assert.equal(x.json.subject, 'ex-1');
  assert.equal(x.json.show, true);
  assert.deepEqual(x.json.reasons.map((r) => [r.purpose, r.reason]).sort(),
    [['ads.personalised', 'never_asked'], ['marketing.sms', 'never_asked']], 'necessary purposes are never asked');
  assert.equal((await decide('ex-1', [{ purpose: 'marketing.sms', decision: 'given' }, { purpose: 'ads.personalised', decision: 'refused' }])).status, 201);
  x = await mine('ex-1');
  assert.equal(x.json.show, false, JSON.stringify(x.json.reasons));
  assert.equal(x.json.purposes.find((p) => p.id === 'marketing.sms').status, 'given');
  await new Promise((r) => setTimeout(r, 2200)); // the policy's 2 s cool-down
  x = await mine('ex-1');
  assert.deepEqual(x.json.reasons, [{ purpose: 'ads.personalised', reason: 'cooldown_over' }]);
  assert.equal((await decide('ex-1', [{ purpose: 'ads.personalised', decision: 'given', separate: true }])).status, 201);
  assert.equal((await mine('ex-1')).json.show, false);
  // a withdrawal is the person's act: not asked again by itself
  assert.equal((await decide('ex-1', [{ purpose: 'ads.personalised', decision: 'withdrawn' }])).status, 201);
  assert.equal((await mine('ex-1')).json.show, false);
  // a material change of the notice for marketing.sms brings the popup back
  const v2 = await request(server, 'POST', '/v1/notices/privacy/versions', {
    key, body: { ...fx.version(['marketing.sms']), summary: 'new SMS partner' },
  });
  assert.equal(v2.status, 201, v2.text);
  for (let i = 0; i < 50 && (await mine('ex-1')).json.show === false; i++) await new Promise((r) => setTimeout(r, 100));
  x = await mine('ex-1');
  assert.deepEqual(x.json.reasons, [{ purpose: 'marketing.sms', reason: 'reconsent_required' }]);
  assert.equal(x.json.notice.version, 2);
});

test('a child needs a guardian; the company may ask about anyone with decisions:read', async () => {
  const put = await request(server, 'PUT', '/v1/subjects/kid-1', { key, body: { age_status: 'child_under_14' } });
  assert.ok(put.status < 300, put.text);
  const x = await experience({ property: 'shop', region: 'CN', subject: 'kid-1' }, { authorization: `Bearer ${key}` });
  assert.equal(x.status, 200, x.text);
  assert.equal(x.json.guardian_required, true);
  expectProblem(assert, await experience({ property: 'shop', region: 'CN', subject: 'kid-1' }), 401, 'unauthorized');
});

test('a policy without UI options gets an empty theme and no texts', async () => {
  await fx.createAll(request, server, key, [
    ['/v1/properties', { ...fx.property(), id: 'plain' }],
    ['/v1/policies', { id: 'plain-any', region: '*', property: 'plain', notice: 'privacy', purposes: [{ purpose: 'marketing.sms' }] }],
  ]);
  const x = await experience({ property: 'plain', region: 'US' });
  assert.equal(x.status, 200, x.text);
  assert.equal(x.json.policy, 'plain-any');
  assert.deepEqual(x.json.ui, { texts: {}, theme: {} });
});

test('bad questions are refused; a token only answers for its own property', async () => {
  expectProblem(assert, await experience({ region: 'CN' }), 422, 'validation_failed');
  expectProblem(assert, await experience({ property: 'shop', region: 'Mars' }), 422, 'validation_failed');
  expectProblem(assert, await experience({ property: 'shop', locale: 'not a locale!' }), 422, 'validation_failed');
  expectProblem(assert, await experience({ property: 'nope' }), 404, 'not_found');
  expectProblem(assert, await experience({ property: 'shop', subject: 'me' }), 401, 'unauthorized');
  const other = await experience({ property: 'shop', subject: 'me' }, { authorization: `Bearer ${await token('ex-9', 'elsewhere')}` });
  expectProblem(assert, other, 401, 'unauthorized');
});

// Last in this file: it uses up this address's allowance.
test('anyone may ask, but one address only so often: 429 with Retry-After', async () => {
  let limited = null;
  for (let i = 0; i < 300 && !limited; i++) {
    const res = await experience({ property: 'shop', region: 'CN' });
    if (res.status === 429) limited = res;
    else assert.equal(res.status, 200, res.text);
  }
  assert.ok(limited, 'the burst ran out');
  expectProblem(assert, limited, 429, 'rate_limited');
  assert.ok(Number(limited.headers['retry-after']) >= 1);
});
