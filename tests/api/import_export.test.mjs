// SPDX-License-Identifier: Apache-2.0
// `cpm import` and the exports (docs/IMPORT-EXPORT.md), driven through the
// real `cpm` binary: CSV and NDJSON imports land in the ledger with their
// original times and method import, and decisions, consents and events
// reflect them; a dry run and a malformed file write nothing (every bad line
// named); a re-run skips what is in; an imported decision older than a live
// one only joins the history; exports of events and state stream in both
// formats, agree with each other and with the API, and need the export scope.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as fx from './fixtures.mjs';
import { cpm, cpmBin, expectProblem, request, seededData, startServer, stopServer } from './harness.mjs';

const DAY = 24 * 3600 * 1000;
const iso = (ms) => new Date(ms).toISOString();
const NOW = Date.now();
const T1 = NOW - 90 * DAY; // a first decision, three months ago
const T2 = NOW - 30 * DAY; // a change of mind, a month ago

// region picks the policy (fixtures: CN, consent valid P12M), as an action's does
const COLUMNS = ['subject', 'purpose', 'decision', 'time', 'property', 'channel', 'locale', 'notice_id', 'notice_version', 'source_id', 'region'];
const ROWS = [
  ['imp-1', 'marketing.sms', 'given', iso(T1), 'shop', 'web', 'zh-Hans', 'privacy', '1', 'old-1', 'CN'],
  ['imp-1', 'analytics', 'refused', iso(T1), 'shop', 'web', 'zh-Hans', 'privacy', '1', 'old-2', 'CN'],
  ['imp-1', 'marketing.sms', 'withdrawn', iso(T2), 'shop', 'sms', 'zh-Hans', '', '', 'old-3', 'CN'],
  ['imp-2', 'marketing.sms', 'given', iso(T2), 'shop', 'app', 'en', 'privacy', '1', 'old, "4"', 'CN'],
];

const csvField = (v) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
const toCsv = (rows, columns = COLUMNS) =>
  [columns, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
const toNdjson = (rows) =>
  rows.map((r) => JSON.stringify(Object.fromEntries(
    COLUMNS.map((c, i) => [c, c === 'notice_version' && r[i] ? Number(r[i]) : r[i]]).filter(([, v]) => v !== ''),
  ))).join('\n') + '\n';

/** An RFC 4180 reader for the tests: records of fields. */
function parseCsv(text) {
  const records = [];
  let field = '', record = [], quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { record.push(field); field = ''; }
    else if (c === '\r' && text[i + 1] === '\n') { record.push(field); records.push(record); record = []; field = ''; i++; }
    else field += c;
  }
  return records;
}

/** A data directory seeded with the fixtures' configuration (and a separate-consent purpose). */
const seeded = () => seededData({
  properties: [fx.property()],
  purposes: [fx.purpose('marketing.sms'), fx.purpose('analytics'), fx.purpose('ads.personalised', { consent_form: 'separate' })],
  notices: [{ ...fx.notice(), versions: [fx.version(['marketing.sms', 'analytics', 'ads.personalised'])] }],
  policies: [fx.policy()],
});

function importFile(data, name, text, ...args) {
  const file = path.join(data.dir, name);
  writeFileSync(file, text);
  return cpm(['import', '--data', data.data, ...args, file]);
}

const summary = (out, key) => Number(new RegExp(`^${key}: (\\d+)`, 'm').exec(out)?.[1]);
const exportLines = (data, kind, ...args) => {
  const r = cpm(['export', kind, '--data', data.data, ...args]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l);
};

test('a CSV import lands with its original times and method import; decisions and consents follow it', async () => {
  const data = seeded();
  const r = importFile(data, 'rows.csv', toCsv(ROWS));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(summary(r.stderr, 'events written'), 4, r.stderr);
  assert.equal(summary(r.stderr, 'new subjects'), 2);
  assert.equal(summary(r.stderr, 'consent states set'), 3); // imp-1 sms: the withdrawal stands
  assert.equal(summary(r.stderr, 'history only'), 1);
  assert.equal(cpm(['verify', '--store', '--data', data.data]).status, 0);

  const server = await startServer(data.data);
  try {
    const key = data.adminKey;
    const consents = await request(server, 'GET', '/v1/subjects/imp-1/consents', { key });
    assert.equal(consents.status, 200, consents.text);
    const by = Object.fromEntries(consents.json.consents.map((c) => [c.purpose, c]));
    assert.equal(by['marketing.sms'].status, 'withdrawn');
    assert.equal(by['marketing.sms'].decided_at, iso(T2));
    assert.equal(by.analytics.status, 'refused');
    assert.equal(by.analytics.decided_at, iso(T1));
    const given = (await request(server, 'GET', '/v1/subjects/imp-2/consents', { key })).json.consents[0];
    assert.equal(given.status, 'given');
    const validity = Date.parse(given.expires_at) - T2; // the policy's P12M from the original time
    assert.ok(validity >= 365 * DAY && validity <= 366 * DAY, given.expires_at);

    const events = (await request(server, 'GET', '/v1/subjects/imp-1/events', { key })).json.items;
    assert.deepEqual(events.map((e) => e.event.type), ['consent.given', 'consent.refused', 'consent.withdrawn']);
    for (const e of events) {
      assert.equal(e.event.method, 'import');
      assert.ok(Date.parse(e.event.import.at) >= NOW - 60000, 'import.at is when it was imported');
      assert.match(e.event.import.source, /^[0-9a-f]{64}$/); // the old id, keyed-hashed
    }
    assert.equal(events[0].event.time, iso(T1)); // the original time, not the import's
    assert.equal(events[2].event.time, iso(T2));
    assert.equal(events[2].event.channel, 'sms');
    assert.equal(events[2].event.notice, undefined);

    const decide = async (subject, purpose) =>
      (await request(server, 'GET', `/v1/decide?subject=${subject}&purpose=${purpose}`, { key })).json;
    assert.deepEqual((await decide('imp-1', 'marketing.sms')).reasons, ['withdrawn']);
    assert.deepEqual((await decide('imp-1', 'analytics')).reasons, ['refused']);
    const allowed = await decide('imp-2', 'marketing.sms');
    assert.equal(allowed.allowed, true);
    assert.equal(allowed.deciding_event, 4);
  } finally {
    await stopServer(server);
    data.cleanup();
  }
});

test('NDJSON (from stdin) imports the same; a re-run of either file skips every row', () => {
  const data = seeded();
  try {
    const r = spawnSync(cpmBin, ['import', '--data', data.data, '--format', 'ndjson', '-'],
      { input: toNdjson(ROWS), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(summary(r.stderr, 'events written'), 4, r.stderr);
    const state = exportLines(data, 'state').map((l) => JSON.parse(l));
    assert.deepEqual(state.map((s) => [s.subject, s.purpose, s.status, s.decided_at]), [
      ['imp-1', 'analytics', 'refused', iso(T1)],
      ['imp-1', 'marketing.sms', 'withdrawn', iso(T2)],
      ['imp-2', 'marketing.sms', 'given', iso(T2)],
    ]);
    // the same decisions as CSV: already in (same subject, purpose, time, decision, source_id)
    const again = importFile(data, 'again.csv', toCsv(ROWS));
    assert.equal(again.status, 0, again.stderr);
    assert.equal(summary(again.stderr, 'events written'), 0);
    assert.equal(summary(again.stderr, 'already imported'), 4);
    // one new row among old ones: only it is written
    const more = importFile(data, 'more.csv', toCsv([...ROWS, ['imp-3', 'analytics', 'given', iso(T2), 'shop', 'h5', 'en', 'privacy', '1', 'old-5', '']]));
    assert.equal(summary(more.stderr, 'events written'), 1, more.stderr);
    assert.equal(summary(more.stderr, 'already imported'), 4);
    assert.equal(exportLines(data, 'events').length, 5);
    assert.equal(cpm(['verify', '--store', '--data', data.data]).status, 0);
  } finally {
    data.cleanup();
  }
});

test('a dry run checks everything, says what would be written, and writes nothing', () => {
  const data = seeded();
  try {
    const r = importFile(data, 'rows.csv', toCsv(ROWS), '--dry-run');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /dry run: nothing written/);
    assert.equal(summary(r.stdout, 'events to write'), 4);
    assert.equal(summary(r.stdout, 'new subjects'), 2);
    assert.equal(exportLines(data, 'events').length, 0);
    assert.equal(exportLines(data, 'state').length, 0);
  } finally {
    data.cleanup();
  }
});

test('a malformed file: every bad line named with its field, nothing written', () => {
  const data = seeded();
  try {
    const bad = [
      ROWS[0],
      ['bad id', 'marketing.sms', 'given', iso(T1), 'shop', 'web', 'en', 'privacy', '1', 'b-2', ''], // line 3
      ['b-3', 'no.such', 'given', iso(T1), 'shop', 'web', 'en', 'privacy', '1', 'b-3', ''],
      ['b-4', 'marketing.sms', 'maybe', iso(T1), 'shop', 'web', 'en', 'privacy', '1', 'b-4', ''],
      ['b-5', 'marketing.sms', 'given', iso(NOW + DAY), 'shop', 'web', 'en', 'privacy', '1', 'b-5', ''],
      ['b-6', 'marketing.sms', 'given', 'last tuesday', 'shop', 'web', 'en', 'privacy', '1', 'b-6', ''],
      ['b-7', 'marketing.sms', 'given', iso(T1), 'shop', 'web', 'en', 'privacy', '9', 'b-7', ''],
      ROWS[0], // line 9: a duplicate of line 2
      ['b-9', 'ads.personalised', 'given', iso(T1), 'shop', 'web', 'en', 'privacy', '1', 'b-9', ''],
      ['b-10', 'marketing.sms', 'refused', iso(T1), 'shop', 'web', 'en', '', '', 'b-10', ''],
    ];
    const text = toCsv(bad) + `b-11,${'x'.repeat(5000)}\r\n` + 'only,three,fields\r\n';
    const r = importFile(data, 'bad.csv', text);
    assert.equal(r.status, 1, r.stderr);
    const file = path.join(data.dir, 'bad.csv');
    for (const [line, field] of [[3, 'subject'], [4, 'purpose'], [5, 'decision'], [6, 'time'], [7, 'time'],
      [8, 'notice_version'], [10, 'separate'], [11, 'notice_id']])
      assert.ok(r.stderr.includes(`${file}:${line}: ${field}: `), `line ${line} ${field}:\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`bad\\.csv:9: repeats line 2`));
    assert.match(r.stderr, /bad\.csv:12: is longer than 4096 bytes/);
    assert.match(r.stderr, /bad\.csv:13: has 3 fields, the header 11/);
    assert.match(r.stderr, /11 bad lines of 12 rows: nothing was written/);
    assert.equal(exportLines(data, 'events').length, 0);

    const header = importFile(data, 'header.csv', 'subject,purpose,decision,when\r\nx,y,z,w\r\n');
    assert.equal(header.status, 1);
    assert.match(header.stderr, /header\.csv:1: header: unknown column 'when'/);
    assert.match(header.stderr, /header: column 'time' is missing/);

    const json = importFile(data, 'rows.ndjson', `${toNdjson([ROWS[0]])}{"subject":"x",\n[1]\n{"subject":"y","colour":"red"}\n`);
    assert.equal(json.status, 1);
    assert.match(json.stderr, /rows\.ndjson:2: /);
    assert.match(json.stderr, /rows\.ndjson:3: /);
    assert.match(json.stderr, /rows\.ndjson:4: colour: unknown field/);
  } finally {
    data.cleanup();
  }
});

test('the first 100 bad lines are printed, then counted', () => {
  const data = seeded();
  try {
    const rows = Array.from({ length: 150 }, (_, i) => [`m-${i}`, 'marketing.sms', 'nope', iso(T1), 'shop', 'web', 'en', 'privacy', '1', `m-${i}`, '']);
    const r = importFile(data, 'many.csv', toCsv(rows));
    assert.equal(r.status, 1);
    assert.equal(r.stderr.split('\n').filter((l) => /many\.csv:\d+: decision/.test(l)).length, 100);
    assert.match(r.stderr, /… and 50 more bad lines/);
    assert.match(r.stderr, /150 bad lines of 150 rows: nothing was written/);
  } finally {
    data.cleanup();
  }
});

test('an imported decision older than a live one joins the history; the live one stands', async () => {
  const data = seeded();
  try {
    let server = await startServer(data.data);
    const key = data.adminKey;
    const v = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
    const live = await request(server, 'POST', '/v1/subjects/imp-1/consents', {
      key,
      body: {
        property: 'shop', channel: 'web', locale: 'en', method: 'click',
        notice: { id: 'privacy', version: 1, sha256: v.content.en.sha256 },
        decisions: [{ purpose: 'marketing.sms', decision: 'given' }],
      },
    });
    assert.equal(live.status, 201, live.text);
    // while cpmd runs, an import is refused (one writer per ledger) and writes nothing
    const busy = importFile(data, 'rows.csv', toCsv(ROWS));
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /another process is writing the ledger/);
    await stopServer(server);

    const r = importFile(data, 'rows.csv', toCsv(ROWS));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(summary(r.stderr, 'events written'), 4);
    server = await startServer(data.data);
    const consents = (await request(server, 'GET', '/v1/subjects/imp-1/consents', { key })).json.consents;
    const sms = consents.find((c) => c.purpose === 'marketing.sms');
    assert.equal(sms.status, 'given'); // the live decision is newer than both imported ones
    assert.equal(sms.deciding_event, live.json.events[0].seq);
    assert.equal(consents.find((c) => c.purpose === 'analytics').status, 'refused'); // nothing newer
    // the index (restored from a snapshot before the import? no: the ledger moved) agrees
    const decide = async (purpose) =>
      (await request(server, 'GET', `/v1/decide?subject=imp-1&purpose=${purpose}`, { key })).json;
    assert.equal((await decide('marketing.sms')).allowed, true);
    assert.deepEqual((await decide('analytics')).reasons, ['refused']);
    const history = (await request(server, 'GET', '/v1/subjects/imp-1/events', { key })).json.items;
    assert.deepEqual(history.map((e) => [e.event.type, e.event.method]), [
      ['consent.given', 'click'], ['consent.given', 'import'], ['consent.refused', 'import'], ['consent.withdrawn', 'import'],
    ]);
    await stopServer(server);
  } finally {
    data.cleanup();
  }
});

test('exports stream events and state as NDJSON and CSV, agree with each other, and need the export scope', async () => {
  const data = seeded();
  const r = importFile(data, 'rows.csv', toCsv(ROWS));
  assert.equal(r.status, 0, r.stderr);
  const server = await startServer(data.data);
  try {
    const key = data.adminKey;
    const ndjson = await request(server, 'GET', '/v1/export/events', { key });
    assert.equal(ndjson.status, 200, ndjson.text);
    assert.equal(ndjson.headers['content-type'], 'application/x-ndjson');
    assert.equal(ndjson.headers['transfer-encoding'], 'chunked');
    assert.match(ndjson.headers['content-disposition'], /filename="events\.ndjson"/);
    const events = ndjson.text.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => e.seq), [1, 2, 3, 4]);
    assert.equal(events[0].subject, 'imp-1');
    assert.equal(events[0].subject_erased, false);
    assert.equal(events[0].time, iso(T1));
    assert.equal(JSON.parse(events[3].leaf).method, 'import');
    // the leaves are the ledger's: they hash to the proofs' leaves
    const ledger = (await request(server, 'GET', '/v1/ledger/events', { key })).json.items;
    assert.deepEqual(events.map((e) => e.leaf), ledger.map((e) => e.leaf));
    // the CLI writes the same bytes
    assert.equal(cpm(['export', 'events', '--data', data.data]).stdout, ndjson.text);

    const csv = await request(server, 'GET', '/v1/export/events?format=csv&from_seq=2&to_seq=3', { key });
    assert.equal(csv.status, 200);
    assert.equal(csv.headers['content-type'], 'text/csv; charset=utf-8');
    const records = parseCsv(csv.text);
    assert.deepEqual(records[0], ['seq', 'id', 'type', 'subject', 'subject_erased', 'purpose', 'time', 'leaf']);
    assert.deepEqual(records.slice(1).map((x) => x[0]), ['2', '3']);
    assert.equal(records[1][7], events[1].leaf); // the leaf survives CSV quoting exactly
    assert.equal(createHash('sha256').update(records[2][7]).digest('hex'),
      createHash('sha256').update(events[2].leaf).digest('hex'));

    const state = (await request(server, 'GET', '/v1/export/state', { key })).text.trimEnd().split('\n').map((l) => JSON.parse(l));
    const stateCsv = parseCsv((await request(server, 'GET', '/v1/export/state?format=csv', { key })).text);
    assert.equal(stateCsv.length, state.length + 1);
    assert.deepEqual(stateCsv[0].slice(0, 6), ['subject', 'purpose', 'recipient', 'status', 'deciding_event', 'decided_at']);
    for (const [i, s] of state.entries()) {
      assert.deepEqual(stateCsv[i + 1].slice(0, 6), [s.subject, s.purpose, '', s.status, String(s.deciding_event), s.decided_at]);
      const api = (await request(server, 'GET', `/v1/subjects/${s.subject}/consents`, { key })).json.consents
        .find((c) => c.purpose === s.purpose);
      assert.equal(api.status, s.status);
      assert.equal(api.deciding_event, s.deciding_event);
      assert.equal(api.decided_at, s.decided_at);
    }

    // an erased subject: its events keep no subject id, its states leave the export
    const erased = await request(server, 'DELETE', '/v1/subjects/imp-2', { key });
    assert.equal(erased.status, 200, erased.text);
    const after = (await request(server, 'GET', '/v1/export/events', { key })).text.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(after.filter((e) => e.subject_erased).map((e) => [e.subject, e.type]),
      [[null, 'consent.given'], [null, 'subject.erased']]);
    assert.ok(!(await request(server, 'GET', '/v1/export/state', { key })).text.includes('imp-2'));

    // the export scope, and the parameters
    const narrow = await request(server, 'POST', '/v1/api-keys', { key, body: { name: 'reader', scopes: ['decisions:read', 'ledger:read'] } });
    expectProblem(assert, await request(server, 'GET', '/v1/export/events', { key: narrow.json.key }), 403, 'forbidden');
    expectProblem(assert, await request(server, 'GET', '/v1/export/state'), 401, 'unauthorized');
    const exporter = await request(server, 'POST', '/v1/api-keys', { key, body: { name: 'exporter', scopes: ['export'] } });
    assert.equal((await request(server, 'GET', '/v1/export/state', { key: exporter.json.key })).status, 200);
    expectProblem(assert, await request(server, 'GET', '/v1/export/events?format=xml', { key }), 422, 'validation_failed');
    expectProblem(assert, await request(server, 'GET', '/v1/export/events?from_seq=0', { key }), 422, 'validation_failed');
    expectProblem(assert, await request(server, 'GET', '/v1/export/events?from_seq=3&to_seq=2', { key }), 422, 'validation_failed');
    const empty = await request(server, 'GET', '/v1/export/events?from_seq=99', { key });
    assert.equal(empty.status, 200);
    assert.equal(empty.text, '');
  } finally {
    await stopServer(server);
    data.cleanup();
  }
});
