// SPDX-License-Identifier: Apache-2.0
// Subjects: age status, identifiers stored only hashed and sealed, lookup by
// identifier, guardians and the PIPL Art. 31 rule, and erasure (Art. 47)
// that leaves every proof verifiable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { cpm, expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

const PHONE = '13800138000';
const EMAIL = 'Li.Lei@Example.COM';
const IP = '198.51.100.23';

let data, server, key, notice;
before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data);
  for (const [p, body] of [
    ['/v1/properties', fx.property()],
    ['/v1/purposes', fx.purpose('marketing.sms')],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version(['marketing.sms'])],
  ]) {
    const res = await request(server, 'POST', p, { key, body });
    assert.equal(res.status, 201, `${p}: ${res.text}`);
  }
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

const put = (id, body, k = key) => request(server, 'PUT', `/v1/subjects/${id}`, { key: k, body });
const get = (id, k = key) => request(server, 'GET', `/v1/subjects/${id}`, { key: k });
const link = (id, body, k = key) => request(server, 'POST', `/v1/subjects/${id}/identities`, { key: k, body });
const guard = (id, body, k = key) => request(server, 'POST', `/v1/subjects/${id}/guardians`, { key: k, body });
const find = (type, value, k = key) =>
  request(server, 'GET', `/v1/subjects?identifier_type=${encodeURIComponent(type)}&identifier_value=${encodeURIComponent(value)}`, { key: k });
const erase = (id, k = key) => request(server, 'DELETE', `/v1/subjects/${id}`, { key: k });
const consent = (id, extra = {}) =>
  request(server, 'POST', `/v1/subjects/${id}/consents`, {
    key,
    body: {
      property: 'shop', channel: 'app', locale: 'en', method: 'checkbox',
      notice: { id: 'privacy', version: 1, sha256: notice.content.en.sha256 },
      context: { ip: IP, user_agent: 'EduApp/3.1' },
      decisions: [{ purpose: 'marketing.sms', decision: 'given' }],
      ...extra,
    },
  });
const events = async (id) => (await request(server, 'GET', `/v1/subjects/${id}/events?limit=200`, { key })).json.items;
const fault = (p, field) => {
  const f = p.errors.find((e) => e.field === field);
  assert.ok(f, `a fault at ${field} in ${JSON.stringify(p.errors)}`);
  return f.message;
};
const sql = (query) => {
  const r = spawnSync('sqlite3', [path.join(data.data, 'cpm.db'), query], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
};

test('PUT sets the age status, creating the subject; the ledger gets the status, not the id', async () => {
  const res = await put('stu-1', { age_status: 'minor_14_17' });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.id, 'stu-1');
  assert.match(res.json.pseudonym, /^[0-9a-f]{64}$/);
  assert.equal(res.json.age_status, 'minor_14_17');
  assert.equal(res.json.erased_at, null);
  assert.deepEqual(res.json.identifiers, []);
  assert.deepEqual(res.json.guardians, []);
  assert.deepEqual((await get('stu-1')).json, res.json);

  const again = await put('stu-1', { age_status: 'minor_14_17' });
  assert.equal(again.status, 200);
  assert.equal((await put('stu-1', { age_status: 'adult' })).json.age_status, 'adult');
  const history = await events('stu-1');
  assert.deepEqual(history.map((e) => e.event.type), ['subject.age_status_set', 'subject.age_status_set'], 'an unchanged status records nothing');
  assert.deepEqual(Object.keys(history[1].event), ['v', 'id', 'type', 'time', 'subject', 'age_status']);
  assert.equal(history[1].event.subject, res.json.pseudonym);
  assert.equal(history[1].event.age_status, 'adult');
  assert.ok(!history[1].leaf.includes('stu-1'));
});

test('PUT and GET refuse bad input with the field named', async () => {
  let p = expectProblem(assert, await put('stu-1', { age_status: 'teen' }), 422, 'validation_failed');
  assert.match(fault(p, 'age_status'), /unknown value 'teen'/);
  p = expectProblem(assert, await put('stu-1', {}), 422, 'validation_failed');
  assert.match(fault(p, 'age_status'), /is required/);
  p = expectProblem(assert, await put('stu-1', { age_status: 'adult', name: 'x' }), 422, 'validation_failed');
  fault(p, 'name');
  p = expectProblem(assert, await put('a%20b', { age_status: 'adult' }), 422, 'validation_failed');
  fault(p, 'id');
  expectProblem(assert, await put('stu-1', '{"age_status":'), 400, 'malformed_json');
  expectProblem(assert, await request(server, 'PUT', '/v1/subjects/stu-1', { key, body: 'x', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
  expectProblem(assert, await get('nobody'), 404, 'not_found');
  expectProblem(assert, await get('x'.repeat(129)), 422, 'validation_failed');
});

test('identifiers: normalised, linked once, shown decrypted, found by any spelling', async () => {
  const res = await link('stu-2', { type: 'phone', value: PHONE });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.subject, 'stu-2');
  assert.equal(res.json.type, 'phone');
  assert.equal(res.json.event.type, 'identity.linked');
  assert.equal((await link('stu-2', { type: 'email', value: EMAIL })).status, 201);

  const same = await link('stu-2', { type: 'phone', value: '+86 138-0013-8000' });
  assert.equal(same.status, 200, same.text);
  assert.equal(same.json.event, null);
  const taken = expectProblem(assert, await link('stu-3', { type: 'phone', value: '0086 13800138000' }), 409, 'conflict');
  assert.equal(taken.field, 'value');
  assert.ok(!taken.detail.includes('stu-2'), 'the owner is not disclosed');
  expectProblem(assert, await get('stu-3'), 404, 'not_found');

  const view = (await get('stu-2')).json;
  assert.deepEqual(view.identifiers, [
    { type: 'email', value: 'li.lei@example.com' },
    { type: 'phone', value: '+8613800138000' },
  ]);
  for (const spelling of [PHONE, '+8613800138000', '(+86) 138 0013 8000']) {
    const f = await find('phone', spelling);
    assert.equal(f.status, 200, f.text);
    assert.deepEqual(f.json, { id: 'stu-2' });
  }
  assert.deepEqual((await find('email', 'LI.LEI@example.com')).json, { id: 'stu-2' });
  expectProblem(assert, await find('phone', '13900139000'), 404, 'not_found');
  expectProblem(assert, await find('email', PHONE), 422, 'validation_failed');

  const linked = (await events('stu-2')).filter((e) => e.event.type === 'identity.linked');
  assert.equal(linked.length, 2);
  for (const e of linked) {
    assert.deepEqual(Object.keys(e.event), ['v', 'id', 'type', 'time', 'subject', 'identifier_type', 'identifier_hash']);
    assert.match(e.event.identifier_hash, /^[0-9a-f]{64}$/);
    for (const plain of [PHONE, 'example.com', 'li.lei', 'stu-2']) assert.ok(!e.leaf.includes(plain), `no ${plain} in the leaf`);
  }
});

test('identifier faults name their field; the value is never quoted back', async () => {
  let p = expectProblem(assert, await link('stu-4', { type: 'fax', value: '123' }), 422, 'validation_failed');
  assert.match(fault(p, 'type'), /unknown identifier type 'fax'/);
  p = expectProblem(assert, await link('stu-4', { type: 'phone', value: '12345' }), 422, 'validation_failed');
  assert.match(fault(p, 'value'), /not a valid phone identifier/);
  assert.ok(!p.detail.includes('12345'));
  p = expectProblem(assert, await link('stu-4', { type: 'email', value: 'no-at-sign' }), 422, 'validation_failed');
  fault(p, 'value');
  p = expectProblem(assert, await link('stu-4', { type: 'phone' }), 422, 'validation_failed');
  assert.match(fault(p, 'value'), /is required/);
  p = expectProblem(assert, await link('stu-4', { value: PHONE, extra: 1 }), 422, 'validation_failed');
  fault(p, 'type');
  fault(p, 'extra');
  p = expectProblem(assert, await request(server, 'GET', '/v1/subjects', { key }), 422, 'validation_failed');
  fault(p, 'identifier_type');
  fault(p, 'identifier_value');
  p = expectProblem(assert, await find('pager', '1'), 422, 'validation_failed');
  assert.match(fault(p, 'identifier_type'), /unknown identifier type/);
  p = expectProblem(assert, await find('phone', 'abc'), 422, 'validation_failed');
  fault(p, 'identifier_value');
  expectProblem(assert, await get('stu-4'), 404, 'not_found');
});

test('identifiers are stored only hashed and sealed: no plaintext anywhere in the database', async () => {
  assert.equal((await link('stu-5', { type: 'phone', value: '+86 139 0013 9000' })).status, 201);
  assert.equal((await consent('stu-5')).status, 201);
  const dump = spawnSync('sqlite3', [path.join(data.data, 'cpm.db'), '.dump'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(dump.status, 0, dump.stderr);
  for (const plain of [PHONE, '13900139000', 'li.lei@example.com', 'Li.Lei', IP, 'EduApp']) {
    assert.equal(dump.stdout.split(plain).length - 1, 0, `${plain} appears in the database`);
  }
  assert.equal(sql("SELECT count(*) FROM identities WHERE subject_id = 'stu-2' AND length(hash) = 32"), '2');
  // Nor in the log, though lookups carry the value in the query string.
  for (const plain of [PHONE, 'li.lei', 'LI.LEI']) assert.ok(!server.log.some((l) => l.includes(plain)), `${plain} logged`);
});

test('guardians: linked once, created when new, never oneself', async () => {
  const res = await guard('kid-1', { guardian_id: 'parent-1', relation: 'parent' });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.event.type, 'guardian.linked');
  const again = await guard('kid-1', { guardian_id: 'parent-1', relation: 'legal_guardian' });
  assert.equal(again.status, 200);
  assert.equal(again.json.relation, 'parent');
  assert.equal(again.json.event, null);
  assert.deepEqual((await get('kid-1')).json.guardians, ['parent-1']);
  const parent = await get('parent-1');
  assert.equal(parent.status, 200, 'the guardian was created');

  const leaf = (await events('kid-1')).find((e) => e.event.type === 'guardian.linked');
  assert.deepEqual(Object.keys(leaf.event), ['v', 'id', 'type', 'time', 'subject', 'guardian', 'relation']);
  assert.equal(leaf.event.guardian, parent.json.pseudonym);
  assert.equal(leaf.event.subject, (await get('kid-1')).json.pseudonym);
  assert.ok(!leaf.leaf.includes('parent-1') && !leaf.leaf.includes('kid-1'));

  let p = expectProblem(assert, await guard('kid-1', { guardian_id: 'kid-1', relation: 'parent' }), 422, 'validation_failed');
  assert.match(fault(p, 'guardian_id'), /cannot be its own guardian/);
  p = expectProblem(assert, await guard('kid-1', { guardian_id: 'a/b', relation: 'aunt' }), 422, 'validation_failed');
  fault(p, 'guardian_id');
  assert.match(fault(p, 'relation'), /unknown value 'aunt'/);
  p = expectProblem(assert, await guard('kid-1', {}), 422, 'validation_failed');
  fault(p, 'guardian_id');
  fault(p, 'relation');
});

test('PIPL Art. 31: a child under 14 consents only through a linked guardian', async () => {
  assert.equal((await put('kid-2', { age_status: 'child_under_14' })).status, 200);
  let p = expectProblem(assert, await consent('kid-2'), 422, 'validation_failed');
  assert.match(fault(p, 'actor.type'), /under 14: a guardian must act for them \(PIPL Art. 31\)/);
  p = expectProblem(assert, await consent('kid-2', { actor: { type: 'guardian', guardian_id: 'stranger' } }), 422, 'validation_failed');
  assert.match(fault(p, 'actor.guardian_id'), /'stranger' is not a linked guardian of this subject \(PIPL Art. 31\)/);
  assert.equal((await guard('kid-2', { guardian_id: 'parent-2', relation: 'parent' })).status, 201);
  p = expectProblem(assert, await consent('kid-2', { actor: { type: 'guardian', guardian_id: 'parent-1' } }), 422, 'validation_failed');
  fault(p, 'actor.guardian_id');

  const ok = await consent('kid-2', { actor: { type: 'guardian', guardian_id: 'parent-2' } });
  assert.equal(ok.status, 201, ok.text);
  const given = (await events('kid-2')).find((e) => e.event.type === 'consent.given');
  assert.equal(given.event.actor, 'guardian');
  assert.equal(given.event.guardian, (await get('parent-2')).json.pseudonym);
  assert.ok(!given.leaf.includes('parent-2'));
  assert.equal((await request(server, 'GET', '/v1/subjects/kid-2/consents', { key })).json.consents[0].status, 'given');
});

test('scopes: consents:write changes, decisions:read reads, admin erases', async () => {
  const mk = async (scopes) => (await request(server, 'POST', '/v1/api-keys', { key, body: { name: scopes.join(), scopes } })).json.key;
  const reader = await mk(['decisions:read']);
  const writer = await mk(['consents:write']);
  expectProblem(assert, await put('stu-9', { age_status: 'adult' }, reader), 403, 'forbidden');
  expectProblem(assert, await link('stu-9', { type: 'phone', value: PHONE }, reader), 403, 'forbidden');
  expectProblem(assert, await guard('stu-9', { guardian_id: 'g', relation: 'parent' }, reader), 403, 'forbidden');
  expectProblem(assert, await get('stu-2', writer), 403, 'forbidden');
  expectProblem(assert, await find('phone', PHONE, writer), 403, 'forbidden');
  expectProblem(assert, await erase('stu-2', writer), 403, 'forbidden');
  expectProblem(assert, await erase('stu-2', reader), 403, 'forbidden');
  assert.equal((await put('stu-9', { age_status: 'adult' }, writer)).status, 200);
  assert.equal((await get('stu-9', reader)).status, 200);
  expectProblem(assert, await get('stu-9', ''), 401, 'unauthorized');
});

test('concurrent writes: one owner per identifier, a new subject created once, nothing after erasure', async () => {
  const racers = await Promise.all(Array.from({ length: 12 }, (_, i) => link(`race-${i}`, { type: 'device_id', value: 'dev-shared-1' })));
  assert.equal(racers.filter((r) => r.status === 201).length, 1, racers.map((r) => r.status).join());
  for (const r of racers.filter((x) => x.status !== 201)) expectProblem(assert, r, 409, 'conflict');

  const same = await Promise.all([
    put('race-new', { age_status: 'adult' }),
    link('race-new', { type: 'device_id', value: 'dev-own-1' }),
    link('race-new', { type: 'device_id', value: 'dev-own-2' }),
    guard('race-new', { guardian_id: 'race-parent', relation: 'parent' }),
    guard('race-kid', { guardian_id: 'race-new', relation: 'parent' }),
  ]);
  for (const r of same) assert.ok(r.status === 200 || r.status === 201, r.text);
  const view = (await get('race-new')).json;
  assert.deepEqual(view.identifiers.map((i) => i.value).sort(), ['dev-own-1', 'dev-own-2'], 'every identifier opens with the one stored key');

  // Racing first consents of a new subject each prepare it with a fresh key; the store keeps one
  // and the others are tried again with it, so none fails and no context is sealed under a lost key.
  for (let s = 0; s < 6; s++) {
    const first = await Promise.all(Array.from({ length: 16 }, () => consent(`race-first-${s}`)));
    for (const r of first) assert.equal(r.status, 201, `a new subject's first consents all succeed: ${r.text}`);
  }

  assert.equal((await consent('race-era')).status, 201);
  const mixed = await Promise.all([erase('race-era'), ...Array.from({ length: 8 }, () => consent('race-era'))]);
  assert.equal(mixed[0].status, 200, mixed[0].text);
  const erasedSeq = mixed[0].json.event.seq;
  for (const r of mixed.slice(1)) {
    if (r.status === 201) assert.ok(r.json.events[0].seq < erasedSeq, 'recorded before the erasure');
    else expectProblem(assert, r, 409, 'conflict');
  }
  const types = (await events('race-era')).map((e) => e.event.type);
  assert.equal(types.at(-1), 'subject.erased', 'nothing after the erasure');
  const states = (await request(server, 'GET', '/v1/subjects/race-era/consents', { key })).json.consents;
  assert.deepEqual(states.map((s) => s.status), ['erased']);
});

test('erasure (PIPL Art. 47): key and identifiers destroyed, decisions deny, every proof still verifies', async () => {
  const id = 'era-1';
  assert.equal((await put(id, { age_status: 'minor_14_17' })).status, 200);
  assert.equal((await link(id, { type: 'phone', value: '+86 137 0013 7000' })).status, 201);
  assert.equal((await link(id, { type: 'wechat_openid', value: 'oXyZ-openid-era-1' })).status, 201);
  assert.equal((await guard(id, { guardian_id: 'era-parent', relation: 'legal_guardian' })).status, 201);
  assert.equal((await consent(id)).status, 201);
  const before = await events(id);
  assert.equal(sql(`SELECT count(*) FROM events WHERE subject_id = '${id}' AND sealed IS NOT NULL`), '1');

  const res = await erase(id);
  assert.equal(res.status, 200, res.text);
  assert.match(res.json.erased_at, /^\d{4}-\d\d-\d\dT/);
  assert.equal(res.json.event.type, 'subject.erased');
  expectProblem(assert, await erase(id), 409, 'conflict');
  expectProblem(assert, await erase('never-seen'), 404, 'not_found');

  const view = (await get(id)).json;
  assert.equal(view.erased_at, res.json.erased_at);
  assert.equal(view.age_status, 'minor_14_17', 'the age status is kept');
  assert.deepEqual(view.identifiers, [{ type: 'phone', value: 'erased' }, { type: 'wechat_openid', value: 'erased' }]);
  assert.deepEqual(view.guardians, []);
  expectProblem(assert, await find('phone', '13700137000'), 404, 'not_found');

  // The key is gone: the sealed identifiers and context can no longer be opened.
  assert.equal(sql(`SELECT wrapped_key IS NULL FROM subjects WHERE id = '${id}'`), '1');
  assert.equal(sql(`SELECT count(*) FROM identities WHERE subject_id = '${id}'`), '0');
  assert.equal(sql(`SELECT count(*) FROM guardians WHERE child_id = '${id}' OR guardian_id = '${id}'`), '0');

  // Decisions deny, and nothing more is recorded for the subject.
  const states = (await request(server, 'GET', `/v1/subjects/${id}/consents`, { key })).json.consents;
  assert.deepEqual(states.map((s) => [s.status, s.deciding_event]), [['erased', res.json.event.seq]]);
  let p = expectProblem(assert, await consent(id), 409, 'conflict');
  assert.match(p.detail, /was erased/);
  expectProblem(assert, await put(id, { age_status: 'adult' }), 409, 'conflict');
  expectProblem(assert, await link(id, { type: 'phone', value: '13600136000' }), 409, 'conflict');
  expectProblem(assert, await guard(id, { guardian_id: 'someone', relation: 'parent' }), 409, 'conflict');
  p = expectProblem(assert, await guard('era-kid', { guardian_id: id, relation: 'parent' }), 409, 'conflict');
  assert.equal(p.field, 'guardian_id');
  // The same phone may now belong to someone else.
  assert.equal((await link('era-2', { type: 'phone', value: '13700137000' })).status, 201);

  // The ledger is untouched: the history is the same plus the erasure event.
  const after = await events(id);
  assert.deepEqual(after.slice(0, before.length), before);
  assert.deepEqual(after.slice(before.length).map((e) => e.event.type), ['subject.erased']);
  assert.deepEqual(Object.keys(after.at(-1).event), ['v', 'id', 'type', 'time', 'subject']);

  // The evidence bundle still verifies offline.
  let ev;
  for (let i = 0; i < 40; i++) {
    ev = await request(server, 'GET', `/v1/subjects/${id}/evidence`, { key });
    if (ev.status === 200 && ev.json.pending_events === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(ev.status, 200, ev.text);
  assert.equal(ev.json.events.length, after.length);
  const bundle = path.join(data.dir, 'erased.json');
  const vkey = path.join(data.dir, 'erased.vkey');
  writeFileSync(bundle, ev.text);
  writeFileSync(vkey, (await request(server, 'GET', '/v1/ledger/key')).text + '\n');
  const verified = cpm(['verify', bundle, '--key', vkey]);
  assert.equal(verified.status, 0, verified.stderr);
  assert.match(verified.stdout, new RegExp(`verified: ${after.length} events of subject ${id}`));
});

test('cpm verify --store passes after erasures (run last: it stops the server)', async () => {
  assert.equal((await consent('era-3')).status, 201);
  assert.equal((await erase('era-3')).status, 200);
  await stopServer(server);
  const v = cpm(['verify', '--store', '--data', data.data]);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /verified: \d+ events re-derive the stored tree/);
  server = await startServer(data.data);
  assert.deepEqual((await get('era-3')).json.identifiers, []);
  assert.equal((await get('era-3')).json.erased_at !== null, true);
});
