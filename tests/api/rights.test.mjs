// SPDX-License-Identifier: Apache-2.0
// Rights requests (PIPL Art. 44–50, docs/RIGHTS.md): a person files them
// with their end-user token (minted by `jose`), an operator with an API
// key; each is due 15 working days on (Asia/Shanghai) and is a ledger
// event without the note; one open request per subject and type; the
// operators' queue by due date, overdue once the clock passes it; forward
// moves only, a refusal with its reason; bad input writes nothing; a token
// reaches only its own; erasure makes the note unreadable and keeps the
// request, which can still be answered.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import * as fx from './fixtures.mjs';
import { cpm, expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

const ORIGIN = 'https://shop.example';
const SECRET = Buffer.from('a rights-request HS256 secret, 32+ bytes long');
const TYPES = ['access', 'portability', 'correction', 'deletion', 'explanation'];
const DAY_MS = 86400e3;
let data, server, key, writer, reader, operator;

before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data);
  await fx.createAll(request, server, key, [
    ['/v1/properties', { ...fx.property(), token_keys: [{ kty: 'oct', kid: 'hs', alg: 'HS256', k: SECRET.toString('base64url') }] }],
    ['/v1/properties', { ...fx.property(), id: 'app', allowed_origins: [] }],
  ]);
  const mint = async (name, scopes) => (await request(server, 'POST', '/v1/api-keys', { key, body: { name, scopes } })).json;
  writer = await mint('call centre', ['consents:write']);
  reader = await mint('reader', ['decisions:read']);
  operator = await mint('privacy desk', ['admin']);
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

const now = () => Math.floor(Date.now() / 1000);
const token = (sub, aud = 'shop') =>
  new SignJWT({ sub, aud, iat: now(), exp: now() + 300 }).setProtectedHeader({ alg: 'HS256', kid: 'hs' }).sign(SECRET);
const asUser = (t, method, p, body) =>
  request(server, method, p, { body, headers: { authorization: `Bearer ${t}`, origin: ORIGIN } });
const file = (id, body, k = writer.key) => request(server, 'POST', `/v1/subjects/${id}/requests`, { key: k, body });
const listOf = async (id, k = reader.key) => (await request(server, 'GET', `/v1/subjects/${id}/requests`, { key: k })).json;
const patch = (id, body, k = operator.key) => request(server, 'PATCH', `/v1/requests/${id}`, { key: k, body });
const queue = (query = '') => request(server, 'GET', `/v1/requests${query}`, { key: operator.key });
const events = async (id) => (await request(server, 'GET', `/v1/subjects/${id}/events?limit=200`, { key })).json.items;
const sql = (query) => {
  const r = spawnSync('sqlite3', [path.join(data.data, 'cpm.db'), query], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
};

/** The due date worked out independently: the end of the 15th Mon–Fri after the Shanghai day of receipt. */
function expectedDue(receivedIso) {
  const SH = 8 * 3600e3;
  let day = Math.floor((Date.parse(receivedIso) + SH) / DAY_MS);
  for (let n = 0; n < 15;) {
    day += 1;
    const weekday = (day + 3) % 7; // 0 = Monday; 1970-01-01 was a Thursday
    if (weekday < 5) n += 1;
  }
  return new Date((day + 1) * DAY_MS - SH - 1).toISOString();
}

const REQUEST_KEYS = ['created_at', 'due_at', 'id', 'note', 'note_erased', 'overdue', 'property', 'reason', 'reply', 'status', 'subject', 'type', 'updated_at'];

test('a person files each type with their token: received, due in 15 working days, in the ledger without the note', async () => {
  const t = await token('rr-person');
  const filed = [];
  for (const type of TYPES) {
    const note = type === 'access' ? undefined : `请处理我的${type}请求：地址是上海市徐汇区某路1号`;
    const res = await asUser(t, 'POST', '/v1/subjects/me/requests', note ? { type, note } : { type });
    assert.equal(res.status, 201, res.text);
    const r = res.json;
    assert.deepEqual(Object.keys(r).sort(), [...REQUEST_KEYS, 'event'].sort());
    assert.match(r.id, /^rr_[0-9a-f]{32}$/);
    assert.equal(r.subject, 'rr-person');
    assert.equal(r.property, 'shop', 'the token\'s property');
    assert.equal(r.type, type);
    assert.equal(r.status, 'received');
    assert.equal(r.note, note ?? null);
    assert.equal(r.note_erased, false);
    assert.equal(r.reply, null);
    assert.equal(r.reason, null);
    assert.equal(r.overdue, false);
    assert.equal(r.due_at, expectedDue(r.created_at), `${type}: 15 working days`);
    assert.ok(Date.parse(r.due_at) - Date.parse(r.created_at) >= 19 * DAY_MS, 'three weeks at least');
    assert.equal(r.event.type, 'rights.requested');
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
    filed.push({ ...r, note });
  }

  // The person reads them back: newest first, the shape the preference center is coded against.
  const mine = await asUser(t, 'GET', '/v1/subjects/me/requests');
  assert.equal(mine.status, 200, mine.text);
  assert.equal(mine.json.subject, 'rr-person');
  assert.equal(mine.json.next_cursor, null);
  assert.deepEqual(mine.json.requests.map((r) => r.id).sort(), filed.map((r) => r.id).sort());
  const times = mine.json.requests.map((r) => Date.parse(r.created_at));
  assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
  for (const r of mine.json.requests) assert.equal(r.note, filed.find((f) => f.id === r.id).note ?? null, 'notes opened');
  // Paged: one at a time gives the same list.
  const paged = [];
  for (let cursor = null, i = 0; i < 10; i++) {
    const page = await asUser(t, 'GET', `/v1/subjects/me/requests?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    paged.push(...page.json.requests.map((r) => r.id));
    cursor = page.json.next_cursor;
    if (!cursor) break;
  }
  assert.deepEqual(paged, mine.json.requests.map((r) => r.id));

  // Each is a rights.requested event: id, type, status, due date, property, key — no note, no id.
  const leaves = (await events('rr-person')).filter((e) => e.event.type === 'rights.requested');
  assert.equal(leaves.length, 5);
  for (const r of filed) {
    const item = leaves.find((e) => e.event.request === r.id);
    assert.ok(item, `the event of ${r.id}`);
    assert.equal(item.event.id, r.event.id);
    assert.equal(item.event.request_type, r.type);
    assert.equal(item.event.status, 'received');
    assert.equal(item.event.due, r.due_at);
    assert.equal(item.event.property, 'shop');
    assert.equal(item.event.key, 'end_user');
    assert.equal('note_sha256' in item.event, r.note !== undefined, 'the sealed note\'s hash, when there is one');
    assert.match(item.event.subject, /^[0-9a-f]{64}$/);
    assert.ok(!item.leaf.includes('rr-person'), 'no subject id in the leaf');
    assert.ok(!item.leaf.includes('上海'), 'no note in the leaf');
  }
});

test('an operator files with an API key: the property is required and must exist; the leaf names the key', async () => {
  const res = await file('rr-op', { type: 'deletion', property: 'shop' });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.note, null);
  assert.equal(res.json.due_at, expectedDue(res.json.created_at));
  const leaf = (await events('rr-op')).find((e) => e.event.type === 'rights.requested');
  assert.equal(leaf.event.key, writer.id);
  assert.equal((await request(server, 'GET', '/v1/subjects/rr-op', { key })).status, 200, 'the subject was created');

  const missing = expectProblem(assert, await file('rr-op2', { type: 'access' }), 422, 'validation_failed');
  assert.equal(missing.field, 'property');
  const unknown = expectProblem(assert, await file('rr-op2', { type: 'access', property: 'nope' }), 422, 'validation_failed');
  assert.equal(unknown.field, 'property');
  assert.match(unknown.detail, /unknown property 'nope'/);
  // A token files only on its own property.
  const t = await token('rr-op3');
  const elsewhere = expectProblem(assert, await asUser(t, 'POST', '/v1/subjects/me/requests', { type: 'access', property: 'app' }), 422, 'validation_failed');
  assert.equal(elsewhere.field, 'property');
  assert.equal((await asUser(t, 'POST', '/v1/subjects/me/requests', { type: 'access', property: 'shop' })).status, 201);
  assert.deepEqual((await listOf('rr-op2')).requests, [], 'nothing was filed for rr-op2');
});

test('bad input is 422 naming the field, and nothing is written', async () => {
  const t = await token('rr-bad');
  const cases = [
    [{ type: 'erasure' }, 'type', /unknown value 'erasure'/],
    [{}, 'type', /is required/],
    [{ type: 'access', note: 'n'.repeat(2001) }, 'note', /2001 bytes; the limit is 2000/],
    [{ type: 'access', note: '字'.repeat(667) }, 'note', /2001 bytes; the limit is 2000/], // UTF-8 bytes
    [{ type: 'access', note: 7 }, 'note', /must be a string/],
    [{ type: 'access', why: 'because' }, 'why', /unknown field/],
    [{ type: 'access', status: 'completed' }, 'status', /unknown field/],
  ];
  const before = sql('SELECT count(*) FROM events');
  for (const [body, field, message] of cases) {
    const problem = expectProblem(assert, await asUser(t, 'POST', '/v1/subjects/me/requests', body), 422, 'validation_failed');
    assert.ok(problem.errors.some((e) => e.field === field && message.test(e.message)), `${JSON.stringify(body).slice(0, 60)}: ${problem.detail}`);
    assert.ok(!problem.detail.includes('nnnnnnnn') && !problem.detail.includes('字字'), 'the note is never quoted');
  }
  expectProblem(assert, await asUser(t, 'POST', '/v1/subjects/me/requests', '{"type":'), 400, 'malformed_json');
  expectProblem(assert, await file('a%20b', { type: 'access', property: 'shop' }), 422, 'validation_failed');
  const after = sql('SELECT count(*) FROM events');
  assert.equal(after, before, 'no event');
  assert.equal((await request(server, 'GET', '/v1/subjects/rr-bad', { key })).status, 404, 'no subject');
  assert.equal(sql("SELECT count(*) FROM rights_requests WHERE subject_id = 'rr-bad'"), '0');
  // 2 000 bytes exactly are fine, and an empty note is none.
  const full = await asUser(t, 'POST', '/v1/subjects/me/requests', { type: 'access', note: '字'.repeat(666) + 'ab' });
  assert.equal(full.status, 201, full.text);
  const empty = await asUser(t, 'POST', '/v1/subjects/me/requests', { type: 'deletion', note: '' });
  assert.equal(empty.status, 201, empty.text);
  assert.equal(empty.json.note, null);
});

test('one open request per subject and type: a second is 409 naming the first; once finished, a new one may be filed', async () => {
  const first = await file('rr-dup', { type: 'access', property: 'shop', note: 'first' });
  assert.equal(first.status, 201, first.text);
  const before = (await events('rr-dup')).length;
  const second = expectProblem(assert, await file('rr-dup', { type: 'access', property: 'shop', note: 'again' }), 409, 'conflict');
  assert.equal(second.field, 'type');
  assert.equal(second.request, first.json.id);
  assert.ok(second.detail.includes(first.json.id), second.detail);
  assert.equal((await events('rr-dup')).length, before, 'nothing recorded');
  assert.equal((await file('rr-dup', { type: 'portability', property: 'shop' })).status, 201, 'another type is fine');
  // Still open while in progress.
  assert.equal((await patch(first.json.id, { status: 'in_progress' })).status, 200);
  expectProblem(assert, await file('rr-dup', { type: 'access', property: 'shop' }), 409, 'conflict');
  assert.equal((await patch(first.json.id, { status: 'completed', reply: '已发送至您的邮箱' })).status, 200);
  const third = await file('rr-dup', { type: 'access', property: 'shop' });
  assert.equal(third.status, 201, third.text);
  // Concurrent twins: exactly one is filed, the others name it.
  const twins = await Promise.all(Array.from({ length: 6 }, () => file('rr-twins', { type: 'deletion', property: 'shop' })));
  const created = twins.filter((r) => r.status === 201);
  assert.equal(created.length, 1, twins.map((r) => r.status).join());
  for (const r of twins.filter((x) => x.status !== 201)) {
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.request, created[0].json.id);
  }
});

test('operators move requests forward only: refusing needs a reason (Art. 50), finished requests never change', async () => {
  const t = await token('rr-flow');
  const filed = (await asUser(t, 'POST', '/v1/subjects/me/requests', { type: 'correction', note: '姓名拼写错误' })).json;
  const id = filed.id;
  const count = async () => (await events('rr-flow')).length;
  const n0 = await count();

  const noReason = expectProblem(assert, await patch(id, { status: 'refused' }), 422, 'validation_failed');
  assert.equal(noReason.field, 'reason');
  assert.match(noReason.detail, /PIPL Art\. 50/);
  assert.equal(expectProblem(assert, await patch(id, { status: 'completed', reason: 'x' }), 422, 'validation_failed').field, 'reason');
  assert.equal(expectProblem(assert, await patch(id, { status: 'received' }), 422, 'validation_failed').field, 'status');
  assert.equal(expectProblem(assert, await patch(id, { status: 'completed', note: 'x' }), 422, 'validation_failed').field, 'note');
  assert.equal(expectProblem(assert, await patch(id, { status: 'in_progress', reply: 'r'.repeat(2001) }), 422, 'validation_failed').field, 'reply');
  assert.equal(await count(), n0, 'nothing recorded');
  assert.equal((await request(server, 'GET', `/v1/requests/${id}`, { key: operator.key })).json.status, 'received');

  const started = await patch(id, { status: 'in_progress', reply: '正在核实' });
  assert.equal(started.status, 200, started.text);
  assert.equal(started.json.status, 'in_progress');
  assert.equal(started.json.reply, '正在核实');
  assert.equal(started.json.note, '姓名拼写错误');
  assert.equal(started.json.event.type, 'rights.updated');
  assert.ok(Date.parse(started.json.updated_at) >= Date.parse(started.json.created_at));
  const back = expectProblem(assert, await patch(id, { status: 'in_progress' }), 409, 'conflict');
  assert.equal(back.field, 'status');
  assert.match(back.detail, /only moves forward/);

  const refused = await patch(id, { status: 'refused', reason: '无法核实您的身份' });
  assert.equal(refused.status, 200, refused.text);
  assert.equal(refused.json.reason, '无法核实您的身份');
  assert.equal(refused.json.reply, '正在核实', 'the reply stays when not sent again');
  for (const body of [{ status: 'completed' }, { status: 'refused', reason: 'again' }, { status: 'in_progress' }]) {
    const finished = expectProblem(assert, await patch(id, body), 409, 'conflict');
    assert.match(finished.detail, /a finished request never changes/);
  }
  expectProblem(assert, await patch('rr_00000000000000000000000000000000', { status: 'completed' }), 404, 'not_found');
  expectProblem(assert, await request(server, 'GET', '/v1/requests/nope', { key: operator.key }), 404, 'not_found');

  // The ledger: requested, then each move with the status left and the key that made it.
  const history = (await events('rr-flow')).filter((e) => e.event.request === id).map((e) => e.event);
  assert.deepEqual(history.map((e) => [e.type, e.previous, e.status]), [
    ['rights.requested', undefined, 'received'],
    ['rights.updated', 'received', 'in_progress'],
    ['rights.updated', 'in_progress', 'refused'],
  ]);
  assert.ok(history.slice(1).every((e) => e.key === operator.id && e.due === filed.due_at && e.request_type === 'correction'));
  assert.ok(!JSON.stringify(history).includes('无法核实'), 'the reason is not in the ledger');
  // The person sees the reply and the reason.
  const mine = (await asUser(t, 'GET', '/v1/subjects/me/requests')).json.requests.find((r) => r.id === id);
  assert.equal(mine.status, 'refused');
  assert.equal(mine.reason, '无法核实您的身份');
  assert.equal(mine.reply, '正在核实');
});

test('scopes: consents:write files, decisions:read reads a subject\'s, admin works the queue; a token reaches only its own', async () => {
  expectProblem(assert, await file('rr-scope', { type: 'access', property: 'shop' }, reader.key), 403, 'forbidden');
  assert.equal((await request(server, 'GET', '/v1/subjects/rr-flow/requests', { key: writer.key })).status, 403);
  expectProblem(assert, await request(server, 'GET', '/v1/requests', { key: reader.key }), 403, 'forbidden');
  expectProblem(assert, await request(server, 'GET', '/v1/requests', { key: writer.key }), 403, 'forbidden');
  const some = (await listOf('rr-flow')).requests[0].id;
  expectProblem(assert, await patch(some, { status: 'completed' }, writer.key), 403, 'forbidden');
  expectProblem(assert, await file('me', { type: 'access', property: 'shop' }), 422, 'validation_failed');

  const t = await token('rr-mine');
  expectProblem(assert, await asUser(t, 'POST', '/v1/subjects/rr-other/requests', { type: 'access' }), 403, 'forbidden');
  expectProblem(assert, await asUser(t, 'GET', '/v1/subjects/rr-flow/requests'), 403, 'forbidden');
  expectProblem(assert, await asUser(t, 'GET', '/v1/subjects/rr-mine/requests'), 403, 'forbidden');
  expectProblem(assert, await asUser(t, 'GET', '/v1/requests'), 401, 'unauthorized');
  expectProblem(assert, await asUser(t, 'GET', `/v1/requests/${some}`), 401, 'unauthorized');
  expectProblem(assert, await asUser(t, 'PATCH', `/v1/requests/${some}`, { status: 'completed' }), 401, 'unauthorized');
  assert.deepEqual((await listOf('rr-other')).requests, [], 'nothing filed for another subject');
  assert.deepEqual((await asUser(t, 'GET', '/v1/subjects/me/requests')).json.requests, [], 'an unknown subject has none');
});

test('a guardian\'s token files for a linked ward; the leaf carries the guardian\'s pseudonym', async () => {
  const link = await request(server, 'POST', '/v1/subjects/rr-kid/guardians', { key, body: { guardian_id: 'rr-mum', relation: 'parent' } });
  assert.equal(link.status, 201, link.text);
  const t = await token('rr-mum');
  const res = await asUser(t, 'POST', '/v1/subjects/rr-kid/requests', { type: 'deletion', note: '请删除孩子的账号' });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.subject, 'rr-kid');
  const leaf = (await events('rr-kid')).find((e) => e.event.type === 'rights.requested').event;
  assert.match(leaf.guardian, /^[0-9a-f]{64}$/);
  assert.notEqual(leaf.guardian, leaf.subject);
  assert.equal((await asUser(t, 'GET', '/v1/subjects/rr-kid/requests')).json.requests[0].note, '请删除孩子的账号');
});

test('the queue: soonest due first, filtered by status, paged; overdue once the due date passes', async () => {
  const all = await queue('?limit=200');
  assert.equal(all.status, 200, all.text);
  const items = all.json.items;
  assert.ok(items.length >= 15, `${items.length} requests`);
  const keys = items.map((r) => [Date.parse(r.due_at), r.id]);
  const sorted = [...keys].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  assert.deepEqual(keys, sorted, 'by due date, then id');
  assert.ok(items.every((r) => r.overdue === false), 'nothing is overdue yet');
  assert.ok(items.some((r) => r.note !== null), 'notes are opened for the operator');
  // Pages of 4 give the same queue.
  const paged = [];
  for (let cursor = null, i = 0; i < 50; i++) {
    const page = await queue(`?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(page.status, 200, page.text);
    paged.push(...page.json.items.map((r) => r.id));
    cursor = page.json.next_cursor;
    if (!cursor) break;
  }
  assert.deepEqual(paged, items.map((r) => r.id));
  // Filters.
  for (const status of ['received', 'in_progress', 'completed', 'refused']) {
    const only = (await queue(`?status=${status}&limit=200`)).json.items;
    assert.deepEqual(only.map((r) => r.id), items.filter((r) => r.status === status).map((r) => r.id), status);
  }
  const open = (await queue('?status=open&limit=200')).json.items;
  assert.deepEqual(open.map((r) => r.id), items.filter((r) => ['received', 'in_progress'].includes(r.status)).map((r) => r.id));
  assert.deepEqual((await queue('?overdue=true')).json.items, []);
  assert.equal(expectProblem(assert, await queue('?status=done'), 422, 'validation_failed').field, 'status');
  assert.equal(expectProblem(assert, await queue('?overdue=yes'), 422, 'validation_failed').field, 'overdue');
  assert.equal(expectProblem(assert, await queue('?overdue=true&status=completed'), 422, 'validation_failed').field, 'overdue');
  assert.equal(expectProblem(assert, await queue('?cursor=bm90LW91cnM'), 422, 'validation_failed').field, 'cursor');
  assert.equal(expectProblem(assert, await queue('?limit=201'), 422, 'validation_failed').field, 'limit');

  // Thirty days later every open request is overdue; the finished ones are not.
  await stopServer(server);
  server = await startServer(data.data, { env: { CPM_TEST_CLOCK_OFFSET_MS: String(30 * DAY_MS) } });
  try {
    const overdue = await queue('?overdue=true&limit=200');
    assert.equal(overdue.status, 200, overdue.text);
    assert.deepEqual(overdue.json.items.map((r) => r.id), open.map((r) => r.id), 'the open ones, soonest due first');
    assert.ok(overdue.json.items.every((r) => r.overdue === true));
    const inProgress = (await queue('?overdue=true&status=in_progress&limit=200')).json.items;
    assert.deepEqual(inProgress.map((r) => r.id), open.filter((r) => r.status === 'in_progress').map((r) => r.id));
    const everything = (await queue('?limit=200')).json.items;
    for (const r of everything) assert.equal(r.overdue, ['received', 'in_progress'].includes(r.status), `${r.id} ${r.status}`);
    const person = (await listOf('rr-person')).requests;
    assert.ok(person.every((r) => r.overdue), 'the person sees it too');
  } finally {
    await stopServer(server);
    server = await startServer(data.data);
  }
});

test('erasure (Art. 47): the note becomes unreadable, the request stays and can still be answered', async () => {
  const NOTE = 'rr-erase: 我的住址是北京市海淀区某街 7 号，请删除';
  const t = await token('rr-erase');
  const filed = await asUser(t, 'POST', '/v1/subjects/me/requests', { type: 'deletion', note: NOTE });
  assert.equal(filed.status, 201, filed.text);
  const id = filed.json.id;
  assert.equal((await listOf('rr-erase')).requests[0].note, NOTE);
  // Sealed at rest, never logged.
  const dump = spawnSync('sqlite3', [path.join(data.data, 'cpm.db'), '.dump'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(dump.status, 0, dump.stderr);
  assert.ok(!dump.stdout.includes('北京市海淀区'), 'the note is not stored in clear');
  assert.ok(!server.log.some((l) => l.includes('北京市海淀区')), 'the note is not logged');

  const erased = await request(server, 'DELETE', '/v1/subjects/rr-erase', { key });
  assert.equal(erased.status, 200, erased.text);
  const after = await listOf('rr-erase');
  assert.equal(after.requests.length, 1, 'the request is still listed');
  assert.equal(after.requests[0].id, id);
  assert.equal(after.requests[0].note, null);
  assert.equal(after.requests[0].note_erased, true);
  assert.equal(after.requests[0].status, 'received');
  const one = (await request(server, 'GET', `/v1/requests/${id}`, { key: operator.key })).json;
  assert.equal(one.note, null);
  assert.equal(one.note_erased, true);
  assert.ok((await queue('?limit=200')).json.items.some((r) => r.id === id && r.note_erased));
  assert.equal(sql(`SELECT length(note_sealed) > 0 FROM rights_requests WHERE id = '${id}'`), '1', 'only the ciphertext remains');

  // The operator still answers it; nothing new is filed for the erased subject.
  const done = await patch(id, { status: 'completed', reply: '您的信息已删除' });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.note_erased, true);
  const types = (await events('rr-erase')).map((e) => e.event.type);
  assert.deepEqual(types, ['rights.requested', 'subject.erased', 'rights.updated']);
  const again = expectProblem(assert, await file('rr-erase', { type: 'access', property: 'shop' }), 409, 'conflict');
  assert.match(again.detail, /was erased/);
  // The evidence still verifies with cpm verify --store (the ledger is untouched).
  await stopServer(server);
  const verify = cpm(['verify', '--store', '--data', data.data]);
  server = await startServer(data.data);
  assert.equal(verify.status, 0, verify.stderr + verify.stdout);
});
