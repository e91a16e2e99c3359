// SPDX-License-Identifier: Apache-2.0
// The configuration API: create, read, list, patch; validation with field
// paths; references; immutable notice versions with their hashes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

let data, server, key;
before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data);
  await fx.seedAll(request, server, key);
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

const sha256 = (s) => createHash('sha256').update(s, 'utf8').digest('hex');

test('created documents come back with defaults, revision, timestamps, ETag and Location', async () => {
  const created = await request(server, 'POST', '/v1/purposes', { key, body: fx.purpose('analytics') });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.headers.location, '/v1/purposes/analytics');
  assert.equal(created.headers.etag, '"1"');
  assert.equal(created.json.revision, 1);
  assert.equal(created.json.sensitive, false);
  assert.equal(created.json.necessary_for_service, false);
  assert.match(created.json.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const got = await request(server, 'GET', '/v1/purposes/analytics', { key });
  assert.deepEqual(got.json, created.json);
});

test('duplicate ids are 409 and change nothing', async () => {
  const dup = await request(server, 'POST', '/v1/purposes', { key, body: fx.purpose('marketing.sms', { retention: 'P9Y' }) });
  const p = expectProblem(assert, dup, 409, 'conflict');
  assert.equal(p.field, 'id');
  const got = await request(server, 'GET', '/v1/purposes/marketing.sms', { key });
  assert.equal(got.json.retention, 'P2Y');
});

test('validation names every faulty field and writes nothing', async () => {
  const body = fx.purpose('bad.one', {
    legal_basis: 'concent',
    retention: 'two years',
    sensitive: 'yes',
    colour: 'red',
  });
  delete body.name;
  const res = await request(server, 'POST', '/v1/purposes', { key, body });
  const p = expectProblem(assert, res, 422, 'validation_failed');
  const fields = p.errors.map((e) => e.field);
  for (const f of ['legal_basis', 'retention', 'sensitive', 'colour', 'name']) assert.ok(fields.includes(f), `${f} in ${fields}`);
  assert.match(p.errors.find((e) => e.field === 'legal_basis').message, /concent/);
  expectProblem(assert, await request(server, 'GET', '/v1/purposes/bad.one', { key }), 404, 'not_found');
});

test('PIPL rules: sensitive consent purposes need separate consent; consent purposes never pre-ticked', async () => {
  const sensitive = await request(server, 'POST', '/v1/purposes', {
    key,
    body: fx.purpose('health.data', { sensitive: true, consent_form: 'general' }),
  });
  expectProblem(assert, sensitive, 422, 'validation_failed');
  const pol = fx.policy('pre-ticked', 'CN-MO');
  pol.purposes[0].default = true;
  const res = await request(server, 'POST', '/v1/policies', { key, body: pol });
  const p = expectProblem(assert, res, 422, 'validation_failed');
  assert.equal(p.errors[0].field, 'purposes[0].default');
});

test('references must exist, named by path', async () => {
  const pol = fx.policy('dangling', 'CN-TW');
  pol.property = 'ghost-shop';
  pol.purposes.push({ purpose: 'no.such', default: false });
  const res = await request(server, 'POST', '/v1/policies', { key, body: pol });
  const p = expectProblem(assert, res, 422, 'validation_failed');
  const fields = p.errors.map((e) => e.field);
  assert.ok(fields.includes('property'), fields.join());
  assert.ok(fields.includes('purposes[1].purpose'), fields.join());
});

test('one policy per (region, property)', async () => {
  const res = await request(server, 'POST', '/v1/policies', { key, body: fx.policy('cn-shop-2', 'CN') });
  const p = expectProblem(assert, res, 409, 'conflict');
  assert.equal(p.field, 'region');
});

test('PATCH merges, bumps the revision and honours If-Match', async () => {
  const res = await request(server, 'PATCH', '/v1/properties/shop', {
    key,
    body: { name: 'Shop renamed', allowed_origins: null },
    headers: { 'if-match': '"1"' },
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.name, 'Shop renamed');
  assert.deepEqual(res.json.allowed_origins, []);
  assert.equal(res.json.revision, 2);
  assert.equal(res.headers.etag, '"2"');
  const stale = await request(server, 'PATCH', '/v1/properties/shop', {
    key,
    body: { name: 'lost update' },
    headers: { 'if-match': '"1"' },
  });
  expectProblem(assert, stale, 412, 'precondition_failed');
  const idChange = await request(server, 'PATCH', '/v1/properties/shop', { key, body: { id: 'other' } });
  expectProblem(assert, idChange, 422, 'validation_failed');
  const invalid = await request(server, 'PATCH', '/v1/properties/shop', { key, body: { default_locale: 'fr' } });
  const p = expectProblem(assert, invalid, 422, 'validation_failed');
  assert.equal(p.field, 'default_locale');
  const ro = await request(server, 'PATCH', '/v1/properties/shop', { key, body: { revision: 9 } });
  expectProblem(assert, ro, 422, 'validation_failed');
  const after = await request(server, 'GET', '/v1/properties/shop', { key });
  assert.equal(after.json.revision, 2);
  assert.equal(after.json.name, 'Shop renamed');
  expectProblem(assert, await request(server, 'PATCH', '/v1/properties/ghost', { key, body: { name: 'x' } }), 404, 'not_found');
});

test('lists paginate with an opaque cursor', async () => {
  for (const id of ['p.a', 'p.b', 'p.c']) {
    assert.equal((await request(server, 'POST', '/v1/purposes', { key, body: fx.purpose(id) })).status, 201);
  }
  const seen = [];
  let cursor = null;
  do {
    const q = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
    const page = await request(server, 'GET', `/v1/purposes${q}`, { key });
    assert.equal(page.status, 200, page.text);
    assert.ok(page.json.items.length <= 2);
    seen.push(...page.json.items.map((p) => p.id));
    cursor = page.json.next_cursor;
  } while (cursor);
  assert.deepEqual(seen, [...seen].sort());
  for (const id of ['p.a', 'p.b', 'p.c', 'marketing.sms']) assert.ok(seen.includes(id));
  expectProblem(assert, await request(server, 'GET', '/v1/purposes?limit=0', { key }), 422, 'validation_failed');
  expectProblem(assert, await request(server, 'GET', '/v1/purposes?limit=201', { key }), 422, 'validation_failed');
  expectProblem(assert, await request(server, 'GET', '/v1/purposes?cursor=%%%', { key }), 422, 'validation_failed');
});

test('notice versions: numbered, hashed per locale, public to read, per-locale view', async () => {
  const v2 = await request(server, 'POST', '/v1/notices/privacy/versions', {
    key,
    body: { ...fx.version(), summary: 'clarified SMS' },
  });
  assert.equal(v2.status, 201, v2.text);
  assert.equal(v2.json.version, 2);
  assert.equal(v2.headers.location, '/v1/notices/privacy/versions/2');
  for (const [locale, c] of Object.entries(v2.json.content)) assert.equal(c.sha256, sha256(c.text), locale);
  const pub = await request(server, 'GET', '/v1/notices/privacy/versions/2?locale=zh-Hant');
  assert.equal(pub.status, 200);
  assert.deepEqual(Object.keys(pub.json.content), ['zh-Hant']);
  assert.equal(pub.json.content['zh-Hant'].sha256, sha256('我們如何處理您的個人資料。'));
  const latest = await request(server, 'GET', '/v1/notices/privacy/versions/latest');
  assert.equal(latest.json.version, 2);
  expectProblem(assert, await request(server, 'GET', '/v1/notices/privacy/versions/2?locale=fr'), 404, 'not_found');
  expectProblem(assert, await request(server, 'GET', '/v1/notices/privacy/versions/99'), 404, 'not_found');
  expectProblem(assert, await request(server, 'GET', '/v1/notices/privacy/versions/x1'), 404, 'not_found');
  const list = await request(server, 'GET', '/v1/notices/privacy/versions');
  assert.deepEqual(list.json.items.map((v) => v.version), [1, 2]);
});

test('notice versions cannot be edited or deleted, and bad ones are refused', async () => {
  const before = await request(server, 'GET', '/v1/notices/privacy/versions/1');
  expectProblem(assert, await request(server, 'PATCH', '/v1/notices/privacy/versions/1', { key, body: {} }), 405, 'method_not_allowed');
  expectProblem(assert, await request(server, 'DELETE', '/v1/notices/privacy/versions/1', { key }), 405, 'method_not_allowed');
  const forged = fx.version();
  forged.content.en.sha256 = '00';
  expectProblem(assert, await request(server, 'POST', '/v1/notices/privacy/versions', { key, body: forged }), 422, 'validation_failed');
  const noDefault = fx.version();
  delete noDefault.content['zh-Hans'];
  expectProblem(assert, await request(server, 'POST', '/v1/notices/privacy/versions', { key, body: noDefault }), 422, 'validation_failed');
  const unknownPurpose = fx.version(['marketing.sms', 'nope']);
  const p = expectProblem(assert, await request(server, 'POST', '/v1/notices/privacy/versions', { key, body: unknownPurpose }), 422, 'validation_failed');
  assert.equal(p.field, 'purposes[1].purpose');
  expectProblem(assert, await request(server, 'POST', '/v1/notices/ghost/versions', { key, body: fx.version() }), 404, 'not_found');
  const after = await request(server, 'GET', '/v1/notices/privacy/versions/1');
  assert.deepEqual(after.json, before.json);
});
