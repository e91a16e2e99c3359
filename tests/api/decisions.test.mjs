// SPDX-License-Identifier: Apache-2.0
// Decisions from the in-memory index: consent, preferences (channels,
// topics, windows, caps, personalisation), quiet hours, decide-and-reserve,
// the batch form, bad input, and the index rebuilt equal after a restart.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

let data, server, key, notice;
const setup = [
  ['/v1/properties', fx.property()],
  ['/v1/purposes', fx.purpose('marketing.sms')],
  ['/v1/purposes', fx.purpose('marketing.email')],
  ['/v1/purposes', fx.purpose('ads.personalised', { consent_form: 'separate', personalised: true })],
  ['/v1/purposes', fx.purpose('service.account', { necessary_for_service: true })],
  ['/v1/purposes', { ...fx.purpose('orders'), legal_basis: 'contract', consent_form: undefined }],
  ['/v1/notices', fx.notice()],
  ['/v1/notices/privacy/versions', fx.version(['marketing.sms', 'marketing.email', 'ads.personalised', 'service.account'])],
  ['/v1/topics', { id: 'coupons', name: { en: 'Coupons' }, purposes: ['marketing.sms', 'marketing.email'] }],
  ['/v1/topics', { id: 'new_arrivals', name: { en: 'New arrivals' }, purposes: ['marketing.sms'] }],
  ['/v1/channels', { id: 'email', purposes: ['marketing.email'] }],
];

before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data);
  for (const [p, body] of setup) {
    const res = await request(server, 'POST', p, { key, body: JSON.parse(JSON.stringify(body)) });
    assert.equal(res.status, 201, `${p}: ${res.text}`);
  }
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
});
after(async () => {
  if (server.exited) console.error(server.log.slice(-80).join('\n'));
  await stopServer(server);
  data.cleanup();
});

const consent = (subject, decisions, extra = {}) =>
  request(server, 'POST', `/v1/subjects/${subject}/consents`, {
    key,
    body: {
      property: 'shop', channel: 'web', locale: 'en', method: 'click',
      notice: { id: 'privacy', version: 1, sha256: notice.content.en.sha256 },
      decisions, ...extra,
    },
  });
const decide = (q) => request(server, 'GET', `/v1/decide?${new URLSearchParams(q)}`, { key });
// 2026-06-01 (a Monday) at 12:00 China time, inside the default SMS hours.
const NOON_CN = '2026-06-01T04:00:00Z';

test('consent decides: given allows, refused/withdrawn deny with the deciding event', async () => {
  const given = await consent('d-1', [{ purpose: 'marketing.sms', decision: 'given' }]);
  assert.equal(given.status, 201, given.text);
  let r = await decide({ subject: 'd-1', purpose: 'marketing.sms' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.allowed, true);
  assert.deepEqual(r.json.reasons, []);
  assert.equal(r.json.deciding_event, given.json.events[0].seq);
  const withdrawn = await consent('d-1', [{ purpose: 'marketing.sms', decision: 'withdrawn' }]);
  r = await decide({ subject: 'd-1', purpose: 'marketing.sms' });
  assert.equal(r.json.allowed, false);
  assert.deepEqual(r.json.reasons, ['withdrawn']);
  assert.equal(r.json.deciding_event, withdrawn.json.events[0].seq);
  await consent('d-2', [{ purpose: 'marketing.sms', decision: 'refused' }]);
  assert.deepEqual((await decide({ subject: 'd-2', purpose: 'marketing.sms' })).json.reasons, ['refused']);
  assert.deepEqual((await decide({ subject: 'd-2', purpose: 'marketing.email' })).json.reasons, ['no_consent']);
  assert.deepEqual((await decide({ subject: 'nobody', purpose: 'marketing.sms' })).json.reasons, ['unknown_subject']);
  // separate consent missing, necessary for service, non-consent basis
  assert.deepEqual((await decide({ subject: 'd-2', purpose: 'ads.personalised' })).json.reasons, ['no_consent', 'separate_consent_missing']);
  assert.equal((await decide({ subject: 'd-2', purpose: 'service.account' })).json.allowed, true);
  assert.equal((await decide({ subject: 'd-2', purpose: 'orders' })).json.allowed, true);
});

test('objection to a purpose on another legal basis (PIPL Art. 44) denies until withdrawn', async () => {
  await consent('o-1', [{ purpose: 'marketing.sms', decision: 'given' }]);
  const objected = await consent('o-1', [{ purpose: 'orders', decision: 'objected' }]);
  assert.equal(objected.status, 201, objected.text);
  assert.equal(objected.json.events[0].type, 'consent.objected');
  let r = await decide({ subject: 'o-1', purpose: 'orders' });
  assert.deepEqual(r.json.reasons, ['objected']);
  assert.equal(r.json.deciding_event, objected.json.events[0].seq);
  await consent('o-1', [{ purpose: 'orders', decision: 'objection_withdrawn' }]);
  r = await decide({ subject: 'o-1', purpose: 'orders' });
  assert.equal(r.json.allowed, true, r.text);
  for (const [purpose, why] of [['marketing.sms', /rests on consent/], ['service.account', /necessary for the service/]]) {
    const bad = await consent('o-1', [{ purpose, decision: 'objected' }]);
    expectProblem(assert, bad, 422, 'validation_failed');
    assert.ok(bad.json.errors.some((e) => why.test(e.message)), bad.text);
  }
  await request(server, 'POST', '/v1/purposes', { key, body: { ...fx.purpose('tax.records'), legal_basis: 'legal_obligation', consent_form: undefined } });
  const law = await consent('o-1', [{ purpose: 'tax.records', decision: 'objected' }]);
  expectProblem(assert, law, 422, 'validation_failed');
  assert.match(law.json.errors[0].message, /legal obligation/);
});

test('preferences: channels, topics, personalisation switch, validated with field paths', async () => {
  await consent('p-1', [
    { purpose: 'marketing.sms', decision: 'given' },
    { purpose: 'marketing.email', decision: 'given' },
    { purpose: 'ads.personalised', decision: 'given', separate: true },
  ]);
  const put = await request(server, 'PUT', '/v1/subjects/p-1/preferences', {
    key, body: { channels: { sms: false }, topics: { new_arrivals: false, coupons: true }, personalisation: false },
  });
  assert.equal(put.status, 200, put.text);
  assert.ok(put.json.seq > 0);
  const q = { subject: 'p-1', purpose: 'marketing.sms', at: NOON_CN };
  assert.deepEqual((await decide({ ...q, channel: 'sms' })).json.reasons, ['channel_off']);
  assert.deepEqual((await decide({ ...q, topic: 'new_arrivals' })).json.reasons, ['topic_off']);
  assert.equal((await decide({ ...q, topic: 'coupons' })).json.allowed, true);
  assert.deepEqual((await decide({ subject: 'p-1', purpose: 'ads.personalised' })).json.reasons, ['personalisation_off']);
  const patch = await request(server, 'PATCH', '/v1/subjects/p-1/preferences', { key, body: { channels: { sms: true } } });
  assert.equal(patch.status, 200, patch.text);
  assert.deepEqual(patch.json.preferences.topics, { coupons: true, new_arrivals: false });
  assert.equal((await decide({ ...q, channel: 'sms' })).json.allowed, true);
  const got = await request(server, 'GET', '/v1/subjects/p-1/preferences', { key });
  assert.equal(got.status, 200);
  assert.deepEqual(got.json.preferences.channels, { sms: true });
  const events = await request(server, 'GET', '/v1/subjects/p-1/events', { key });
  assert.equal(events.json.items.filter((e) => e.event?.type === 'preferences.changed' || e.type === 'preferences.changed').length, 2);
  const bad = await request(server, 'PUT', '/v1/subjects/p-1/preferences', {
    key, body: { channels: { fax: true }, topics: { nope: true }, time_zone: 'Mars/Base', contact_windows: [{ from: '25:00', to: '22:00' }] },
  });
  expectProblem(assert, bad, 422, 'validation_failed');
  const fields = bad.json.errors.map((e) => e.field).sort();
  assert.deepEqual(fields, ['channels.fax', 'contact_windows[0].from', 'time_zone', 'topics.nope']);
  assert.deepEqual((await request(server, 'GET', '/v1/subjects/p-1/preferences', { key })).json.preferences.channels, { sms: true }, 'a refused change changes nothing');
});

test('contact windows in the subject\'s zone and the default SMS quiet hours, with next_allowed_at', async () => {
  await consent('w-1', [{ purpose: 'marketing.sms', decision: 'given' }]);
  await request(server, 'PUT', '/v1/subjects/w-1/preferences', {
    key, body: { time_zone: 'Europe/Berlin', contact_windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '19:00', to: '22:00' }] },
  });
  // Monday 12:00 Berlin (CEST, UTC+2) is outside 19:00-22:00; 19:00 Berlin = 17:00 UTC.
  let r = await decide({ subject: 'w-1', purpose: 'marketing.sms', channel: 'email', at: '2026-06-01T10:00:00Z' });
  assert.equal(r.status, 422, 'email is not a channel of marketing.sms');
  r = await decide({ subject: 'w-1', purpose: 'marketing.sms', channel: 'sms', at: '2026-06-01T10:00:00Z' });
  assert.deepEqual(r.json.reasons, ['outside_window']);
  // 19:00 Berlin = 01:00 China: also outside the SMS hours 08:00-20:00 Asia/Shanghai. Both must agree:
  // the next time inside both is never on a weekday at 19-22 Berlin (01-04 China)… so none soon.
  assert.equal(r.json.next_allowed_at, null);
  await request(server, 'PUT', '/v1/subjects/w-1/preferences', {
    key, body: { time_zone: 'Asia/Shanghai', contact_windows: [{ from: '19:00', to: '22:00' }] },
  });
  r = await decide({ subject: 'w-1', purpose: 'marketing.sms', channel: 'sms', at: NOON_CN });
  assert.deepEqual(r.json.reasons, ['outside_window']);
  assert.equal(r.json.next_allowed_at, '2026-06-01T11:00:00.000Z');
  r = await decide({ subject: 'w-1', purpose: 'marketing.sms', channel: 'sms', at: '2026-06-01T13:30:00Z' });
  assert.deepEqual(r.json.reasons, ['quiet_hours'], '21:30 China: in the window, past 20:00');
  assert.equal(r.json.next_allowed_at, '2026-06-02T11:00:00.000Z', '19:00 the next day: window and SMS hours both open');
});

test('frequency caps count recorded sends; decide-and-reserve never oversells the last slot', async () => {
  // Sends older than 31 days are forgotten, so this test lives near now: tomorrow 12:00 China time.
  const day = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
  const noon = `${day}T04:00:00.000Z`, nine = `${day}T01:00:00.000Z`;
  const nineNextDay = new Date(Date.parse(nine) + 86400000).toISOString();
  await consent('c-1', [{ purpose: 'marketing.sms', decision: 'given' }]);
  await request(server, 'PUT', '/v1/subjects/c-1/preferences', { key, body: { frequency_caps: [{ channel: 'sms', max: 3, per: 'day' }] } });
  const send = (body) => request(server, 'POST', '/v1/subjects/c-1/contacts', { key, body });
  const first = await send({ channel: 'sms', purpose: 'marketing.sms', at: nine });
  assert.equal(first.status, 201, first.text);
  // Ten workers race for the two slots left at 12:00 China time.
  const race = await Promise.all(Array.from({ length: 10 }, () =>
    send({ channel: 'sms', purpose: 'marketing.sms', at: noon, reserve: true })));
  assert.equal(race.filter((r) => r.status === 201).length, 2, race.map((r) => r.status).join());
  const denied = race.find((r) => r.status === 200);
  assert.equal(denied.json.recorded, false);
  assert.deepEqual(denied.json.reasons, ['frequency_cap']);
  assert.equal(denied.json.next_allowed_at, nineNextDay, 'when the 09:00 send leaves the rolling day');
  const r = await decide({ subject: 'c-1', purpose: 'marketing.sms', channel: 'sms', at: noon });
  assert.deepEqual(r.json.reasons, ['frequency_cap']);
  const bad = await send({ channel: 'fax', purpose: 'marketing.sms' });
  expectProblem(assert, bad, 422, 'validation_failed');
  expectProblem(assert, await request(server, 'POST', '/v1/subjects/nobody/contacts', { key, body: { channel: 'sms', purpose: 'marketing.sms' } }), 404, 'not_found');
});

test('bad questions are 422 naming the field; the batch form answers in order', async () => {
  for (const [q, field] of [
    [{ subject: 'd-1' }, 'purpose'],
    [{ subject: 'd-1', purpose: 'nope' }, 'purpose'],
    [{ subject: 'd-1', purpose: 'marketing.sms', channel: 'fax' }, 'channel'],
    [{ subject: 'd-1', purpose: 'marketing.sms', topic: 'nope' }, 'topic'],
    [{ subject: 'd-1', purpose: 'marketing.email', topic: 'new_arrivals' }, 'topic'],
    [{ subject: 'd-1', purpose: 'marketing.sms', at: 'yesterday' }, 'at'],
    [{ purpose: 'marketing.sms' }, 'subject'],
  ]) {
    const r = await decide(q);
    expectProblem(assert, r, 422, 'validation_failed');
    assert.ok(r.json.errors.some((e) => e.field === field), `${JSON.stringify(q)} → ${r.text}`);
  }
  const odd = 'q"u\\o<te>&';
  const escaped = await decide({ subject: odd, purpose: 'marketing.sms' });
  assert.equal(escaped.status, 200, escaped.text);
  assert.equal(escaped.json.subject, odd, 'the answer is valid JSON for any subject id');
  const batch = await request(server, 'POST', '/v1/decide', {
    key, body: { questions: [{ subject: 'd-1', purpose: 'marketing.sms' }, { subject: 'd-2', purpose: 'marketing.sms' }] },
  });
  assert.equal(batch.status, 200, batch.text);
  assert.deepEqual(batch.json.answers.map((a) => [a.subject, a.allowed]), [['d-1', false], ['d-2', false]]);
  const badBatch = await request(server, 'POST', '/v1/decide', {
    key, body: { questions: [{ subject: 'd-1', purpose: 'marketing.sms' }, { subject: 'd-2', purpose: 'nope' }] },
  });
  expectProblem(assert, badBatch, 422, 'validation_failed');
  assert.equal(badBatch.json.errors[0].field, 'questions[1].purpose');
  expectProblem(assert, await request(server, 'GET', '/v1/decide?subject=d-1&purpose=marketing.sms'), 401, 'unauthorized');
});

test('erasure denies; the index after a restart answers exactly as before', async () => {
  await consent('e-1', [{ purpose: 'marketing.sms', decision: 'given' }]);
  const erased = await request(server, 'DELETE', '/v1/subjects/e-1', { key });
  assert.equal(erased.status, 200, erased.text);
  const e = await decide({ subject: 'e-1', purpose: 'marketing.sms' });
  assert.deepEqual(e.json.reasons, ['erased']);
  const questions = [];
  for (const subject of ['d-1', 'd-2', 'p-1', 'w-1', 'c-1', 'e-1', 'r-1', 'r-2', 'nobody'])
    for (const purpose of ['marketing.sms', 'marketing.email', 'ads.personalised', 'orders'])
      for (const extra of [{}, { channel: 'sms' }, { topic: 'coupons' }])
        if (!(extra.topic && !['marketing.sms', 'marketing.email'].includes(purpose)) && !(extra.channel && purpose !== 'marketing.sms'))
          questions.push({ subject, purpose, at: NOON_CN, ...extra });
  const ask = async () => (await request(server, 'POST', '/v1/decide', { key, body: { questions } })).json.answers
    .map(({ at, ...rest }) => rest);
  let before = await ask();
  const restart = async (how, expect, args = []) => {
    if (how === 'kill') {
      server.child.kill('SIGKILL');
      await server.exitPromise;
    } else {
      await stopServer(server);
    }
    if (typeof how === 'function') how();
    server = await startServer(data.data, { args });
    for (const re of [expect].flat())
      assert.ok(server.log.some((l) => l.includes('module=index') && re.test(l)), `${re}\n${server.log.join('\n')}`);
    assert.deepEqual(await ask(), before, `answers after ${expect}`);
  };
  const snapshot = path.join(data.data, 'index.snapshot');
  const db = path.join(data.data, 'cpm.db');
  await restart('term', [/restored: \d+ subjects/, /caught up: 0 subjects/]); // a clean stop saved the index
  assert.ok(existsSync(snapshot), 'kept: the base of a start after a crash');
  await restart('kill', [/restored: \d+ subjects/, /caught up: 0 subjects/]); // nothing written since
  await restart(() => { // a damaged snapshot is refused
    const bytes = readFileSync(snapshot);
    bytes[bytes.length - 40] ^= 0xff;
    writeFileSync(snapshot, bytes);
  }, [/not used: it is damaged/, /loaded: \d+ subjects/]);
  await restart(() => { // a store written to while stopped: the subject it names is read again
    const edit = spawnSync('sqlite3', [db, "INSERT INTO contacts VALUES ('c-1', 'email', 'marketing.email', 0)"], { encoding: 'utf8' });
    assert.equal(edit.status, 0, edit.stderr);
  }, [/restored: \d+ subjects/, /caught up: 1 subjects/]);

  // Saved every second while serving; then changes after the last save, and a crash.
  await restart('term', /restored/, ['--index-snapshot-interval', '1']);
  const saved = () => server.log.filter((l) => /module=index msg="saved:/.test(l)).length;
  const waitSave = async (n) => {
    const end = Date.now() + 5000;
    while (saved() < n && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.ok(saved() >= n, `no index save:\n${server.log.join('\n')}`);
  };
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(saved(), 0, 'the file read at start is current: nothing to save');
  assert.equal((await consent('r-0', [{ purpose: 'marketing.sms', decision: 'given' }])).status, 201);
  await waitSave(1);
  const stopSaving = async () => { // the next start without the interval, so no save lands after the writes
    server.child.kill('SIGKILL');
    await server.exitPromise;
    server = await startServer(data.data);
  };
  await stopSaving();
  assert.equal((await consent('d-1', [{ purpose: 'marketing.sms', decision: 'given' }])).status, 201); // changed
  assert.equal((await consent('r-1', [{ purpose: 'marketing.email', decision: 'given' }])).status, 201); // new
  await request(server, 'PUT', '/v1/subjects/r-1/preferences', { key, body: { channels: { sms: false } } });
  assert.equal((await request(server, 'POST', '/v1/subjects/c-1/contacts', { key, body: { channel: 'sms', purpose: 'marketing.sms' } })).status, 201);
  before = await ask();
  await restart('kill', [/restored: \d+ subjects/, /caught up: [1-9]\d* subjects/]);

  // A backup of the store older than the snapshot: not a continuation, so the store is read.
  await stopServer(server);
  const backup = readFileSync(db); // a clean stop checkpointed the WAL into the file
  const beforeBackup = before;
  server = await startServer(data.data);
  assert.equal((await consent('r-2', [{ purpose: 'marketing.sms', decision: 'refused' }])).status, 201);
  before = beforeBackup;
  await restart(() => {
    writeFileSync(db, backup);
    for (const f of [`${db}-wal`, `${db}-shm`]) if (existsSync(f)) writeFileSync(f, '');
  }, [/not used: the store is not a continuation/, /loaded: \d+ subjects/]);

  // An erasure after the snapshot deletes the subject's sends. Of a subject without the snapshot's
  // last send: caught up like any change.
  await request(server, 'PUT', '/v1/subjects/d-1/preferences', { key, body: { frequency_caps: [{ channel: 'sms', max: 1, per: 'day' }] } });
  assert.equal((await request(server, 'POST', '/v1/subjects/c-1/contacts', { key, body: { channel: 'sms', purpose: 'marketing.sms' } })).status, 201);
  await stopServer(server); // saves: the mark is c-1's send just recorded
  server = await startServer(data.data);
  assert.equal((await request(server, 'DELETE', '/v1/subjects/d-2', { key })).status, 200);
  before = await ask();
  await restart('kill', [/restored: \d+ subjects/, /caught up: 1 subjects/]);
  // Of the subject whose send was the snapshot's last: the next send takes that row number again
  // (SQLite reuses the largest), which a catch-up by row number would miss — d-1 would look
  // uncapped. The mark's stamp no longer matches: the store is read.
  assert.equal((await consent('x-1', [{ purpose: 'marketing.sms', decision: 'given' }])).status, 201);
  assert.equal((await request(server, 'POST', '/v1/subjects/x-1/contacts', { key, body: { channel: 'sms', purpose: 'marketing.sms' } })).status, 201);
  await stopServer(server); // saves: the mark is x-1's one send
  server = await startServer(data.data);
  assert.equal((await request(server, 'DELETE', '/v1/subjects/x-1', { key })).status, 200);
  assert.equal((await request(server, 'POST', '/v1/subjects/d-1/contacts', { key, body: { channel: 'sms', purpose: 'marketing.sms' } })).status, 201);
  before = await ask();
  const capped = async () => (await decide({ subject: 'd-1', purpose: 'marketing.sms', channel: 'sms' })).json.reasons.includes('frequency_cap');
  assert.ok(await capped(), 'd-1 capped by its send');
  await restart('kill', [/restored: \d+ subjects/, /not caught up \(the last send it saw was erased/, /loaded: \d+ subjects/]);
  assert.ok(await capped(), 'd-1 still capped after the restart');
});
