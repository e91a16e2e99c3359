// SPDX-License-Identifier: Apache-2.0
// Reports (docs/REPORTS.md): consents and withdrawals written through the
// API on a real cpmd are counted exactly — per day, purpose, channel and
// region, the opt-in rate, withdrawals — and agree with the ledger; a
// refused write and an idempotent retry count nothing more; the counts
// survive a restart and are rebuilt by the migration's backfill; delivery
// outcomes are counted per destination and day; `cpm import` counts its
// rows on their original days (and regions); every bad parameter is a
// 422 naming it; the routes need ledger:read.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { cpm, expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';
import { startReceiver } from './support/receiver.mjs';
import * as deliveryLog from './support/deliveries.mjs';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const serverEnv = { CPM_OUTBOUND_ALLOW: '127.0.0.1/32', CPM_RETRY_BASE_MS: '50', CPM_RETRY_MAX_MS: '200' };
const DAY_MS = 86400e3;
const SHANGHAI_MS = 8 * 3600e3;
let data, server, key, notice;

const setup = [
  ['/v1/properties', fx.property()],
  ['/v1/purposes', fx.purpose('marketing.sms')],
  ['/v1/purposes', fx.purpose('marketing.email')],
  ['/v1/notices', fx.notice()],
  ['/v1/notices/privacy/versions', fx.version(['marketing.sms', 'marketing.email'])],
];

before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data, { env: serverEnv });
  await fx.createAll(request, server, key, setup);
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

/** The Asia/Shanghai day of an instant (ms or RFC 3339), as YYYY-MM-DD. */
const dayOf = (t) => new Date((typeof t === 'number' ? t : Date.parse(t)) + SHANGHAI_MS).toISOString().slice(0, 10);
const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);

const get = async (p, status = 200) => {
  const res = await request(server, 'GET', p, { key });
  assert.equal(res.status, status, `${p}: ${res.text}`);
  return res.json;
};

/** Records one action; returns the Shanghai day of its events. */
async function act(subject, decisions, extra = {}, headers = {}) {
  const res = await request(server, 'POST', `/v1/subjects/${subject}/consents`, {
    key, headers, body: fx.consentBody(notice, decisions.map(([purpose, decision]) => ({ purpose, decision })), extra),
  });
  assert.equal(res.status, 201, res.text);
  return dayOf(res.json.events[0].time);
}

const zero = { given: 0, refused: 0, withdrawn: 0, objected: 0, objection_withdrawn: 0, expired: 0, total: 0 };
const counts = (o) => ({ ...zero, ...o, total: Object.values(o).reduce((a, b) => a + b, 0) });

/** The ledger's consent decision events, counted by type. */
async function ledgerDecisions() {
  const out = {};
  let cursor = '';
  for (;;) {
    const page = await get(`/v1/ledger/events?limit=200${cursor}`);
    for (const { event } of page.items)
      if (/^consent\.(given|refused|withdrawn|objected|objection_withdrawn|expired)$/.test(event.type) && event.method !== 'merge')
        out[event.type.slice(8)] = (out[event.type.slice(8)] || 0) + 1;
    if (!page.next_cursor) return out;
    cursor = `&cursor=${encodeURIComponent(page.next_cursor)}`;
  }
}

test('consents and withdrawals written through the API are counted exactly, and agree with the ledger', async () => {
  const days = new Set();
  days.add(await act('r-1', [['marketing.sms', 'given'], ['marketing.email', 'refused']], { region: 'CN' }));
  days.add(await act('r-2', [['marketing.sms', 'given']], { channel: 'app', region: 'CN-HK' }));
  days.add(await act('r-3', [['marketing.sms', 'refused']], { channel: 'app', region: 'CN-HK' }));
  days.add(await act('r-1', [['marketing.sms', 'withdrawn']], { channel: 'sms', region: 'CN' }));
  days.add(await act('r-4', [['marketing.email', 'given']]));
  // an idempotent retry answers the first answer again: counted once
  const idem = { 'idempotency-key': 'retry-1' };
  days.add(await act('r-5', [['marketing.email', 'withdrawn']], { channel: 'h5' }, idem));
  const retry = await request(server, 'POST', '/v1/subjects/r-5/consents', {
    key, headers: idem, body: fx.consentBody(notice, [{ purpose: 'marketing.email', decision: 'withdrawn' }], { channel: 'h5' }),
  });
  assert.ok([200, 201].includes(retry.status), retry.text);
  // a refused action (unknown purpose) writes nothing, and counts nothing
  const bad = await request(server, 'POST', '/v1/subjects/r-6/consents', {
    key, body: fx.consentBody(notice, [{ purpose: 'no.such', decision: 'given' }]),
  });
  assert.equal(bad.status, 422);
  assert.equal(days.size, 1, 'all written on one Shanghai day (the test ran across midnight: run it again)');
  const [today] = days;

  // per day: the default range is the last 30 days, every day listed, today's the only counts
  const byDay = await get('/v1/reports/consents');
  assert.equal(byDay.time_zone, 'Asia/Shanghai');
  assert.equal(byDay.group_by, 'day');
  assert.equal(byDay.to, today);
  assert.equal(byDay.from, addDays(today, -29));
  assert.equal(byDay.series.length, 30);
  assert.deepEqual(byDay.series.map((s) => s.key), Array.from({ length: 30 }, (_, i) => addDays(today, i - 29)));
  const expected = counts({ given: 3, refused: 2, withdrawn: 2 });
  assert.deepEqual(byDay.series.at(-1), { key: today, ...expected });
  for (const s of byDay.series.slice(0, -1)) assert.deepEqual(s, { key: s.key, ...zero });
  assert.deepEqual(byDay.totals, expected);
  // the counts agree with the ledger's events
  const ledger = await ledgerDecisions();
  assert.deepEqual(ledger, { given: 3, refused: 2, withdrawn: 2 });

  // by channel, region, purpose, property; filtered by purpose
  const q = `from=${today}&to=${today}`;
  assert.deepEqual((await get(`/v1/reports/consents?${q}&group_by=channel`)).series, [
    { key: 'app', ...counts({ given: 1, refused: 1 }) },
    { key: 'h5', ...counts({ withdrawn: 1 }) },
    { key: 'sms', ...counts({ withdrawn: 1 }) },
    { key: 'web', ...counts({ given: 2, refused: 1 }) },
  ]);
  assert.deepEqual((await get(`/v1/reports/consents?${q}&group_by=region`)).series, [
    { key: '', ...counts({ given: 1, withdrawn: 1 }) },
    { key: 'CN', ...counts({ given: 1, refused: 1, withdrawn: 1 }) },
    { key: 'CN-HK', ...counts({ given: 1, refused: 1 }) },
  ]);
  assert.deepEqual((await get(`/v1/reports/consents?${q}&group_by=purpose`)).series, [
    { key: 'marketing.email', ...counts({ given: 1, refused: 1, withdrawn: 1 }) },
    { key: 'marketing.sms', ...counts({ given: 2, refused: 1, withdrawn: 1 }) },
  ]);
  assert.deepEqual((await get(`/v1/reports/consents?${q}&group_by=property`)).series, [{ key: 'shop', ...expected }]);
  const sms = await get(`/v1/reports/consents?${q}&group_by=channel&purpose=marketing.sms`);
  assert.deepEqual(sms.filters, { purpose: 'marketing.sms', property: null });
  assert.deepEqual(sms.totals, counts({ given: 2, refused: 1, withdrawn: 1 }));
  assert.deepEqual((await get(`/v1/reports/consents?${q}&property=other`)).totals, zero);

  // opt-in rate: given ÷ (given + refused), per purpose per day
  const optIn = await get(`/v1/reports/opt-in?from=${addDays(today, -1)}&to=${today}`);
  assert.deepEqual(optIn.purposes, [
    { purpose: 'marketing.email', days: [{ day: addDays(today, -1), given: 0, refused: 0, rate: null }, { day: today, given: 1, refused: 1, rate: 0.5 }], given: 1, refused: 1, rate: 0.5 },
    { purpose: 'marketing.sms', days: [{ day: addDays(today, -1), given: 0, refused: 0, rate: null }, { day: today, given: 2, refused: 1, rate: 2 / 3 }], given: 2, refused: 1, rate: 2 / 3 },
  ]);

  // withdrawals per day and per purpose
  const w = await get(`/v1/reports/withdrawals?from=${addDays(today, -2)}&to=${today}`);
  assert.deepEqual(w.days, [{ day: addDays(today, -2), withdrawn: 0 }, { day: addDays(today, -1), withdrawn: 0 }, { day: today, withdrawn: 2 }]);
  assert.deepEqual(w.by_purpose, [{ purpose: 'marketing.email', withdrawn: 1 }, { purpose: 'marketing.sms', withdrawn: 1 }]);
  assert.equal(w.total, 2);
  assert.equal((await get(`/v1/reports/withdrawals?from=${today}&to=${today}&purpose=marketing.sms`)).total, 1);

  // the same after a restart; and rebuilt the same (region aside) by the migration's backfill
  const before = { byDay, optIn, w, channel: await get(`/v1/reports/consents?${q}&group_by=channel`) };
  await stopServer(server);
  server = await startServer(data.data, { env: serverEnv });
  assert.deepEqual(await get('/v1/reports/consents'), byDay);
  assert.deepEqual(await get(`/v1/reports/opt-in?from=${addDays(today, -1)}&to=${today}`), optIn);
  await stopServer(server);
  const db = path.join(data.data, 'cpm.db');
  const dropped = spawnSync('sqlite3', [db, 'DROP TABLE report_consents; DROP TABLE report_deliveries; PRAGMA user_version = 9;'], { encoding: 'utf8' });
  assert.equal(dropped.status, 0, dropped.stderr);
  server = await startServer(data.data, { env: serverEnv });
  assert.ok(server.log.some((l) => /applied migration 10 \(report counts\)/.test(l)), 'the backfill ran');
  assert.deepEqual(await get('/v1/reports/consents'), before.byDay);
  assert.deepEqual(await get(`/v1/reports/opt-in?from=${addDays(today, -1)}&to=${today}`), before.optIn);
  assert.deepEqual(await get(`/v1/reports/withdrawals?from=${addDays(today, -2)}&to=${today}`), before.w);
  assert.deepEqual((await get(`/v1/reports/consents?${q}&group_by=channel`)).series, before.channel.series);
  assert.deepEqual((await get(`/v1/reports/consents?${q}&group_by=region`)).series, [{ key: '', ...expected }],
    'leaves carry no region: what the backfill counted has none');
});

test('delivery outcomes are counted per destination and day, as the delivery log has them', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  try {
    receiver.setMode((event) => (event.subject === 's-poison' ? { status: 500 } : undefined));
    const made = await request(server, 'POST', '/v1/destinations', {
      key, body: { id: 'crm', name: 'CRM', kind: 'webhook', endpoint: receiver.url, secret: SECRET, max_attempts: 2 },
    });
    assert.equal(made.status, 201, made.text);
    const today = await act('s-1', [['marketing.sms', 'given']]);
    await act('s-2', [['marketing.sms', 'given'], ['marketing.email', 'given']]);
    await act('s-poison', [['marketing.sms', 'given']]);
    const log = await deliveryLog.logWhen(server, key, 'crm', (l) => l.filter((d) => d.outcome === 'delivered').length >= 3 && l.some((d) => d.outcome === 'dead'));
    const byOutcome = (o) => log.filter((d) => d.outcome === o).length;
    const report = await get(`/v1/reports/sync?from=${addDays(today, -1)}&to=${today}`);
    assert.equal(report.time_zone, 'Asia/Shanghai');
    assert.deepEqual(report.filters, { destination: null });
    const crm = report.destinations.find((d) => d.id === 'crm');
    assert.ok(crm, JSON.stringify(report));
    assert.equal(crm.configured, true);
    assert.equal(crm.days.length, 2);
    assert.deepEqual(crm.days[0], { day: addDays(today, -1), delivered: 0, failed: 0, dead: 0, blocked: 0, lag_ms_avg: null, lag_ms_max: null });
    const t = crm.days[1];
    assert.deepEqual([t.delivered, t.failed, t.dead, t.blocked], [byOutcome('delivered'), byOutcome('failed'), byOutcome('dead'), 0]);
    assert.deepEqual([t.delivered, t.failed, t.dead], [3, 1, 1], JSON.stringify(log));
    const lags = log.filter((d) => d.outcome === 'delivered').map((d) => d.lag_ms);
    if (lags.every((l) => typeof l === 'number')) {
      assert.equal(t.lag_ms_max, Math.max(...lags));
      assert.equal(t.lag_ms_avg, Math.floor(lags.reduce((a, b) => a + b, 0) / lags.length));
    }
    assert.deepEqual(crm.totals, { delivered: 3, failed: 1, dead: 1, blocked: 0 });
    assert.ok(crm.live && typeof crm.live.lag_events === 'number', 'the worker runs: its live lag');
    const one = await get(`/v1/reports/sync?destination=crm&from=${today}&to=${today}`);
    assert.deepEqual(one.destinations.map((d) => d.id), ['crm']);
    assert.deepEqual(one.destinations[0].totals, crm.totals);
    assert.deepEqual((await get('/v1/reports/sync?destination=nobody')).destinations, []);
  } finally {
    await request(server, 'DELETE', '/v1/destinations/crm', { key });
    await receiver.stop();
  }
});

test('cpm import counts its rows on their original days, with their regions, in its own commits', async () => {
  const imported = freshData();
  try {
    const seed = {
      properties: [fx.property()],
      purposes: [fx.purpose('marketing.sms'), fx.purpose('analytics')],
      notices: [{ ...fx.notice(), versions: [fx.version(['marketing.sms', 'analytics'])] }],
    };
    const seedFile = path.join(imported.dir, 'seed.json');
    writeFileSync(seedFile, JSON.stringify(seed));
    assert.equal(cpm(['seed', '--data', imported.data, seedFile]).status, 0);
    const iso = (ms) => new Date(ms).toISOString();
    const t1 = Date.now() - 40 * DAY_MS;
    const t2 = Date.now() - 10 * DAY_MS;
    const rows = [
      ['subject', 'purpose', 'decision', 'time', 'property', 'channel', 'locale', 'notice_id', 'notice_version', 'region'],
      ['i-1', 'marketing.sms', 'given', iso(t1), 'shop', 'web', 'zh-Hans', 'privacy', '1', 'CN'],
      ['i-2', 'marketing.sms', 'given', iso(t1), 'shop', 'web', 'zh-Hans', 'privacy', '1', 'CN'],
      ['i-2', 'analytics', 'refused', iso(t1), 'shop', 'app', 'zh-Hans', 'privacy', '1', 'CN-HK'],
      ['i-1', 'marketing.sms', 'withdrawn', iso(t2), 'shop', 'sms', 'zh-Hans', '', '', ''],
    ];
    const file = path.join(imported.dir, 'rows.csv');
    writeFileSync(file, rows.map((r) => r.join(',')).join('\r\n') + '\r\n');
    const r = cpm(['import', '--data', imported.data, file]);
    assert.equal(r.status, 0, r.stderr);
    const srv = await startServer(imported.data);
    try {
      const g = async (p) => (await request(srv, 'GET', p, { key: imported.adminKey })).json;
      const [d1, d2] = [dayOf(t1), dayOf(t2)];
      const q = `from=${addDays(d1, -1)}&to=${d2}`;
      const byDay = await g(`/v1/reports/consents?${q}`);
      const nonZero = byDay.series.filter((x) => x.total > 0);
      assert.deepEqual(nonZero, [{ key: d1, ...counts({ given: 2, refused: 1 }) }, { key: d2, ...counts({ withdrawn: 1 }) }]);
      assert.deepEqual((await g(`/v1/reports/consents?${q}&group_by=region`)).series, [
        { key: '', ...counts({ withdrawn: 1 }) },
        { key: 'CN', ...counts({ given: 2 }) },
        { key: 'CN-HK', ...counts({ refused: 1 }) },
      ]);
      assert.deepEqual((await g(`/v1/reports/consents?${q}&group_by=channel`)).series.map((x) => [x.key, x.total]), [['app', 1], ['sms', 1], ['web', 2]]);
      const w = await g(`/v1/reports/withdrawals?from=${d2}&to=${d2}`);
      assert.equal(w.total, 1);
    } finally {
      await stopServer(srv);
    }
  } finally {
    imported.cleanup();
  }
});

test('every bad parameter is a 422 naming it; nothing is read', async () => {
  const bad = async (p, fields) => {
    const res = await request(server, 'GET', p, { key });
    const problem = expectProblem(assert, res, 422, 'validation_failed');
    assert.deepEqual(problem.errors.map((e) => e.field).sort(), [...fields].sort(), `${p}: ${res.text}`);
    return problem;
  };
  await bad('/v1/reports/consents?from=2026-02-30', ['from']);
  await bad('/v1/reports/consents?to=2026-1-01', ['to']);
  await bad('/v1/reports/consents?from=', ['from']);
  await bad('/v1/reports/consents?from=2026-01-01T00:00:00Z&to=2026-01-02', ['from']);
  const after = await bad('/v1/reports/opt-in?from=2026-03-02&to=2026-03-01', ['from']);
  assert.match(after.errors[0].message, /after to/);
  const long = await bad('/v1/reports/withdrawals?from=2025-01-01&to=2026-01-02', ['to']);
  assert.match(long.errors[0].message, /367 days; at most 366/);
  assert.equal((await request(server, 'GET', '/v1/reports/withdrawals?from=2025-01-02&to=2026-01-02', { key })).status, 200, '366 days is allowed');
  await bad('/v1/reports/consents?group_by=week', ['group_by']);
  await bad('/v1/reports/consents?purpose=Bad%20Purpose', ['purpose']);
  await bad('/v1/reports/consents?property=%2F..', ['property']);
  await bad('/v1/reports/sync?destination=A%20B', ['destination']);
  await bad('/v1/reports/sync?purpose=marketing.sms', ['purpose']);
  // every fault at once
  await bad('/v1/reports/consents?from=x&to=y&group_by=z&purpose=!', ['from', 'to', 'group_by', 'purpose']);
});

test('the reports need ledger:read', async () => {
  assert.equal((await request(server, 'GET', '/v1/reports/consents')).status, 401);
  const made = await request(server, 'POST', '/v1/api-keys', { key, body: { name: 'config only', scopes: ['config'] } });
  assert.equal(made.status, 201, made.text);
  const reader = await request(server, 'POST', '/v1/api-keys', { key, body: { name: 'auditor', scopes: ['ledger:read'] } });
  for (const p of ['consents', 'opt-in', 'withdrawals', 'sync']) {
    expectProblem(assert, await request(server, 'GET', `/v1/reports/${p}`, { key: made.json.key }), 403, 'forbidden');
    assert.equal((await request(server, 'GET', `/v1/reports/${p}`, { key: reader.json.key })).status, 200);
  }
});
