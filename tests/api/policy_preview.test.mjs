// SPDX-License-Identifier: Apache-2.0
// POST /v1/policies/preview (src/api/policy_preview.c): the experience a
// draft policy would give, built by GET /v1/experience's own code, without
// saving anything. Checked: the answer equals what GET /v1/experience gives
// once the same draft is saved (texts, theme, purposes, notice hash, per
// locale); a draft without an id, or with the read-only fields of a document
// read back; the draft validated by the policy rules (422 per field, the
// same as POST /v1/policies); a notice with no published version; the
// config scope; nothing written (no revision, no ledger event).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

let data, server, key;
const names = (zh, hant, en) => ({ 'zh-Hans': zh, 'zh-Hant': hant, en });
const draft = (extra = {}) => ({
  ...fx.policy('cn-shop', 'CN'),
  purposes: [{ purpose: 'marketing.sms', default: false }, { purpose: 'service.account', default: true }],
  ui: { theme: { primary_color: '#0b6e4f', background_color: '#fffdf5' }, texts: { title: names('草稿标题', '草稿標題', 'Draft title'), accept: names('好', '好', 'Yes') } },
  ...extra,
});
const preview = (body, q = {}, k = key) =>
  request(server, 'POST', `/v1/policies/preview?${new URLSearchParams(q)}`, { key: k, body });
const events = async () => (await request(server, 'GET', '/v1/ledger/events?limit=200', { key })).json.items.length;

before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data);
  await fx.createAll(request, server, key, [
    ['/v1/properties', fx.property()],
    ['/v1/purposes', fx.purpose('marketing.sms', { name: names('短信营销', '短訊推廣', 'SMS marketing') })],
    ['/v1/purposes', fx.purpose('service.account', { legal_basis: 'contract', consent_form: undefined, necessary_for_service: true })],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version(['marketing.sms', 'service.account'])],
    ['/v1/notices', { id: 'unpublished', name: 'Not yet', default_locale: 'en' }],
  ]);
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

test('the preview of a draft is exactly what GET /v1/experience gives once it is saved, per locale; nothing is written', async () => {
  const before = await events();
  const answers = {};
  for (const locale of ['zh-Hans', 'zh-Hant', 'en']) {
    const res = await preview(draft(), { locale });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['cache-control'], 'no-store');
    answers[locale] = res.json;
  }
  assert.equal(answers['zh-Hant'].ui.texts.title, '草稿標題');
  assert.equal(answers.en.ui.texts.accept, 'Yes');
  assert.deepEqual(answers.en.ui.theme, { primary_color: '#0b6e4f', background_color: '#fffdf5' });
  assert.equal(answers['zh-Hant'].purposes[0].name, '短訊推廣');
  assert.equal(answers['zh-Hant'].notice.title, '私隱政策');
  assert.equal(answers.en.show, true);
  assert.equal((await request(server, 'GET', '/v1/policies/cn-shop', { key })).status, 404, 'not saved');
  assert.equal(await events(), before, 'no ledger event');

  const saved = await request(server, 'POST', '/v1/policies', { key, body: draft() });
  assert.equal(saved.status, 201, saved.text);
  for (const locale of ['zh-Hans', 'zh-Hant', 'en']) {
    const real = await request(server, 'GET', `/v1/experience?property=shop&region=CN&locale=${locale}`);
    assert.equal(real.status, 200, real.text);
    assert.deepEqual(answers[locale], real.json, `${locale}: the preview is the experience`);
  }
});

test('a draft without an id, or read back with its read-only fields, is previewed; a region picks its default locale', async () => {
  const { id, ...noId } = draft({ region: 'CN-HK' });
  assert.equal(id, 'cn-shop');
  const res = await preview(noId);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.policy, 'preview');
  assert.equal(res.json.locale, 'zh-Hant', 'Hong Kong reads Traditional Chinese by default, as in GET /v1/experience');
  const stored = (await request(server, 'GET', '/v1/policies/cn-shop', { key })).json;
  assert.ok(stored.revision >= 1);
  const again = await preview({ ...stored, ui: { texts: { title: { en: 'Edited' } } } }, { locale: 'en' });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.ui.texts.title, 'Edited');
  assert.deepEqual(again.json.ui.theme, {});
  const after = (await request(server, 'GET', '/v1/policies/cn-shop', { key })).json;
  assert.equal(after.revision, stored.revision, 'the stored policy is untouched');
});

test('a faulty draft is refused per field by the policy rules, and nothing is previewed', async () => {
  const bad = await preview(draft({
    region: 'china', property: 'nope', consent_validity: 'P0D',
    purposes: [{ purpose: 'marketing.sms', default: true }],
    ui: { theme: { primary_color: 'green' } },
  }));
  const problem = expectProblem(assert, bad, 422, 'validation_failed');
  const fields = problem.errors.map((e) => e.field).sort();
  for (const f of ['region', 'property', 'consent_validity', 'purposes[0].default', 'ui.theme.primary_color'])
    assert.ok(fields.includes(f), `${f} in ${fields.join(', ')}`);
  const created = await request(server, 'POST', '/v1/policies', { key, body: draft({ id: 'x', region: 'china' }) });
  assert.equal(created.status, 422, 'the same rules as creating');
  expectProblem(assert, await preview(draft({ notice: 'unpublished' })), 422, 'validation_failed');
  assert.equal((await preview(draft({ notice: 'unpublished' }))).json.errors[0].field, 'notice');
  expectProblem(assert, await preview(draft(), { locale: 'not a locale' }), 422, 'validation_failed');
  expectProblem(assert, await preview('[1]'), 422, 'validation_failed');
});

test('only a key with config may preview', async () => {
  expectProblem(assert, await preview(draft(), {}, null), 401, 'unauthorized');
  const reader = await request(server, 'POST', '/v1/api-keys', { key, body: { name: 'reader', scopes: ['decisions:read'] } });
  assert.equal(reader.status, 201, reader.text);
  expectProblem(assert, await preview(draft(), {}, reader.json.key), 403, 'forbidden');
});
