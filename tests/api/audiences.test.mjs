// SPDX-License-Identifier: Apache-2.0
// POST /v1/audiences/filter: a streamed list of subject ids in, the allowed
// ones out (or every decision with explain=1), in input order; lines that
// are not ids are counted, not fatal; memory stays flat for a long upload.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

let data, server, key, notice;
const setup = [
  ['/v1/properties', fx.property()],
  ['/v1/purposes', fx.purpose('marketing.sms')],
  ['/v1/purposes', fx.purpose('marketing.email')],
  ['/v1/notices', fx.notice()],
  ['/v1/notices/privacy/versions', fx.version(['marketing.sms', 'marketing.email'])],
  ['/v1/topics', { id: 'coupons', name: { en: 'Coupons' }, purposes: ['marketing.sms'] }],
  ['/v1/topics', { id: 'newsletter', name: { en: 'Newsletter' }, purposes: ['marketing.email'] }],
];
// 2026-06-01 12:00 and 23:00 China time: inside and outside the default SMS hours.
const NOON_CN = '2026-06-01T04:00:00Z';
const NIGHT_CN = '2026-06-01T15:00:00Z';
const BIG_IDS = 200000;
const PAD = 'p'.repeat(32); // long ids, so a body held whole would show in RSS
const bigId = (n) => `aud-${String(n).padStart(6, '0')}-${PAD}`;

const consent = (subject, purpose, decision) =>
  request(server, 'POST', `/v1/subjects/${subject}/consents`, {
    key,
    body: {
      property: 'shop', channel: 'web', locale: 'en', method: 'click',
      notice: decision === 'withdrawn' ? undefined : { id: 'privacy', version: 1, sha256: notice.content.en.sha256 },
      decisions: [{ purpose, decision }],
    },
  });

before(async () => {
  data = freshData();
  key = data.adminKey;
  // Under ASan, freed memory waits in a quarantine (256 MB by default), which
  // would read as growth below; without one, memory is reused as in production.
  const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=0'].filter(Boolean).join(':');
  server = await startServer(data.data, { env: { ASAN_OPTIONS: asan } });
  for (const [p, body] of setup) {
    const res = await request(server, 'POST', p, { key, body: JSON.parse(JSON.stringify(body)) });
    assert.equal(res.status, 201, `${p}: ${res.text}`);
  }
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
  const steps = [
    ['a-1', 'marketing.sms', 'given'],
    ['a-2', 'marketing.sms', 'refused'],
    ['a-3', 'marketing.sms', 'given'],
    ['a-3', 'marketing.sms', 'withdrawn'],
    ['a-4', 'marketing.sms', 'given'],
    ['a-5', 'marketing.email', 'given'],
    ['q"uote\\d', 'marketing.sms', 'given'],
  ];
  for (let n = 0; n < BIG_IDS; n += 10000) steps.push([bigId(n), 'marketing.sms', 'given']);
  for (const [subject, purpose, decision] of steps) {
    const res = await consent(encodeURIComponent(subject), purpose, decision);
    assert.equal(res.status, 201, `${subject}: ${res.text}`);
  }
});
after(async () => {
  if (server.exited) console.error(server.log.slice(-80).join('\n'));
  await stopServer(server);
  data.cleanup();
});

const filterPath = (q) => `/v1/audiences/filter?${new URLSearchParams(q)}`;
const filter = (q, body, { k = key, type = 'text/plain', coding } = {}) =>
  request(server, 'POST', filterPath(q), {
    key: k, body, headers: { 'content-type': type, ...(coding ? { 'content-encoding': coding } : {}) },
  });

/** Sends pieces one write() at a time, chunked (no Content-Length). */
function filterStreamed(q, pieces, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: server.port, method: 'POST', path: filterPath(q), agent: false,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain; charset=utf-8', ...headers },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    (async () => {
      for (const p of pieces) if (!req.write(p)) await once(req, 'drain');
      req.end();
    })().catch(reject);
  });
}

/** cpmd's resident memory now and at its peak so far (KiB). */
function memory() {
  const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
  const kib = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)[1]);
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

// Line 3 empty, 4 CRLF, 6 a 200-byte line, 8 an id with a space, 11 without a final LF.
const MIXED = ['a-4', 'a-2', '', 'a-1\r', 'nobody', 'x'.repeat(200), 'a-3', 'a 5', 'a-5', 'a-1', 'a-4'].join('\n');

test('the allowed ids, in input order, with the counts in headers', async () => {
  const res = await filter({ purpose: 'marketing.sms' }, MIXED);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(res.text, 'a-4\na-1\na-1\na-4\n');
  assert.equal(res.headers['x-cpm-audience-in'], '8');
  assert.equal(res.headers['x-cpm-audience-allowed'], '4');
  assert.equal(res.headers['x-cpm-rejected-lines'], '2');
  assert.equal(res.headers['x-cpm-first-rejected-line'], '6');
  assert.ok(res.headers['x-request-id']);

  const email = await filter({ purpose: 'marketing.email' }, MIXED);
  assert.equal(email.text, 'a-5\n');
  const none = await filter({ purpose: 'marketing.sms' }, '\n\r\n');
  assert.equal(none.status, 200);
  assert.equal(none.text, '');
  assert.equal(none.headers['x-cpm-audience-in'], '0');
  assert.equal(none.headers['x-cpm-rejected-lines'], '0');
  assert.equal(none.headers['x-cpm-first-rejected-line'], undefined);
  const empty = await filter({ purpose: 'marketing.sms' }, '');
  assert.equal(empty.status, 200, empty.text);
  assert.equal(empty.text, '');
});

test('explain=1: one NDJSON line per input line, with every reason', async () => {
  const res = await filter({ purpose: 'marketing.sms', explain: '1' }, `${MIXED}\nq"uote\\d\n`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers['content-type'], 'application/x-ndjson');
  assert.ok(res.text.endsWith('\n'));
  const lines = res.text.trimEnd().split('\n').map((l) => JSON.parse(l));
  const notId = "not a subject id: printable ASCII without spaces or '/'";
  assert.deepEqual(lines, [
    { subject: 'a-4', allowed: true, reasons: [] },
    { subject: 'a-2', allowed: false, reasons: ['refused'] },
    { subject: 'a-1', allowed: true, reasons: [] },
    { subject: 'nobody', allowed: false, reasons: ['unknown_subject'] },
    { line: 6, error: 'longer than 128 bytes' },
    { subject: 'a-3', allowed: false, reasons: ['withdrawn'] },
    { line: 8, error: notId },
    { subject: 'a-5', allowed: false, reasons: ['no_consent'] },
    { subject: 'a-1', allowed: true, reasons: [] },
    { subject: 'a-4', allowed: true, reasons: [] },
    { subject: 'q"uote\\d', allowed: true, reasons: [] },
  ]);
  assert.equal(res.headers['x-cpm-audience-in'], '9');
  assert.equal(res.headers['x-cpm-audience-allowed'], '5');
});

test('channel, topic and time are part of the question', async () => {
  const q = { purpose: 'marketing.sms', channel: 'sms', topic: 'coupons', explain: 'true' };
  const noon = await filter({ ...q, at: NOON_CN }, 'a-4\na-2\n');
  assert.equal(noon.status, 200, noon.text);
  assert.deepEqual(noon.text.trimEnd().split('\n').map((l) => JSON.parse(l).reasons), [[], ['refused']]);
  const night = await filter({ ...q, at: NIGHT_CN }, 'a-4\n');
  assert.deepEqual(JSON.parse(night.text).reasons, ['quiet_hours']);
  const plain = await filter({ purpose: 'marketing.sms', channel: 'sms', at: NIGHT_CN }, 'a-4\n');
  assert.equal(plain.text, '');
  assert.equal(plain.headers['x-cpm-audience-allowed'], '0');
});

test('a chunked upload of 200 000 ids, split mid-id, in flat memory', async (t) => {
  const lines = [];
  let firstBad = 0;
  for (let n = 0; n < BIG_IDS; n++) {
    lines.push(n % 3 === 0 ? `${bigId(n)}\r` : bigId(n));
    if (n % 1000 === 500) {
      lines.push(`bad id ${n}`);
      if (!firstBad) firstBad = lines.length;
    }
  }
  const body = Buffer.from(lines.join('\n') + '\n');
  const pieces = [];
  for (let at = 0, i = 0; at < body.length; i++) {
    const size = 1 + ((i * 7919) % 9973); // 1 B to ~10 KB: splits lines anywhere
    pieces.push(body.subarray(at, at + size));
    at += size;
  }
  const q = { purpose: 'marketing.sms', explain: '1' };
  // ~1.5 MB in, ~3 MB out: the spool's buffer reaches its cap and a file takes the rest
  const warm = await filterStreamed(q, pieces.slice(0, 300));
  assert.equal(warm.status, 200, warm.text.slice(0, 500));

  const before = memory();
  const res = await filterStreamed(q, pieces);
  const now = memory();
  const grown = now.rss - before.rss, peakGrown = now.peak - before.peak;
  assert.equal(res.status, 200, res.text.slice(0, 500));
  assert.equal(res.headers['x-cpm-audience-in'], String(BIG_IDS));
  assert.equal(res.headers['x-cpm-audience-allowed'], String(BIG_IDS / 10000));
  assert.equal(res.headers['x-cpm-rejected-lines'], String(BIG_IDS / 1000));
  assert.equal(res.headers['x-cpm-first-rejected-line'], String(firstBad));
  const out = res.text.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, BIG_IDS + 100, 'every id, and the first 100 rejected lines');
  const decided = out.filter((o) => o.subject);
  assert.deepEqual(decided.slice(0, 3).map((o) => o.subject), [bigId(0), bigId(1), bigId(2)]);
  assert.deepEqual(decided.filter((o) => o.allowed).map((o) => o.subject),
    Array.from({ length: BIG_IDS / 10000 }, (_, i) => bigId(i * 10000)));
  assert.equal(out.filter((o) => o.error).length, 100);
  assert.ok(body.length > 8e6 && res.text.length > 16e6, `${body.length} in, ${res.text.length} out`);
  // held whole, the body alone would add ~8.8 MB, the answer ~20 MB
  const what = `for ${body.length} bytes in, ${res.text.length} out`;
  t.diagnostic(`cpmd RSS +${grown} KiB, peak +${peakGrown} KiB ${what}`);
  assert.ok(grown < 4096, `cpmd's RSS grew by ${grown} KiB ${what}`);
  assert.ok(peakGrown < 4096, `cpmd's peak RSS grew by ${peakGrown} KiB ${what}`);

  const plain = await filterStreamed({ purpose: 'marketing.sms' }, pieces);
  assert.equal(plain.text, Array.from({ length: BIG_IDS / 10000 }, (_, i) => `${bigId(i * 10000)}\n`).join(''));
});

test('a bad question is 422 naming the field, before the body is read', async () => {
  const cases = [
    [{ purpose: 'nope' }, 'purpose'],
    [{}, 'purpose'],
    [{ purpose: 'marketing.sms', at: 'yesterday' }, 'at'],
    [{ purpose: 'marketing.sms', channel: 'pigeon' }, 'channel'],
    [{ purpose: 'marketing.sms', topic: 'newsletter' }, 'topic'],
    [{ purpose: 'marketing.sms', topic: 'nope' }, 'topic'],
    [{ purpose: 'marketing.sms', explain: 'maybe' }, 'explain'],
  ];
  for (const [q, field] of cases) {
    const p = expectProblem(assert, await filter(q, 'a-1\n'), 422, 'validation_failed');
    assert.equal(p.field, field, JSON.stringify(p));
  }
  // a long upload is read to its end (past the 8 MiB other early answers allow): the client sees why
  const long = Buffer.from(`${bigId(1)}\n`.repeat(250000));
  const pieces = Array.from({ length: Math.ceil(long.length / 65536) }, (_, i) => long.subarray(i * 65536, (i + 1) * 65536));
  const res = await filterStreamed({ purpose: 'nope' }, pieces);
  assert.equal(res.status, 422, res.text);
  assert.equal(JSON.parse(res.text).field, 'purpose');
});

test('keys, scopes and the media type are checked', async () => {
  expectProblem(assert, await filter({ purpose: 'marketing.sms' }, 'a-1\n', { k: null }), 401, 'unauthorized');
  const writer = (await request(server, 'POST', '/v1/api-keys', { key, body: { name: 'w', scopes: ['consents:write'] } })).json.key;
  expectProblem(assert, await filter({ purpose: 'marketing.sms' }, 'a-1\n', { k: writer }), 403, 'forbidden');
  const reader = (await request(server, 'POST', '/v1/api-keys', { key, body: { name: 'r', scopes: ['decisions:read'] } })).json.key;
  assert.equal((await filter({ purpose: 'marketing.sms' }, 'a-1\n', { k: reader })).text, 'a-1\n');
  const p = expectProblem(assert, await filter({ purpose: 'marketing.sms' }, '["a-1"]', { type: 'application/json' }), 415, 'unsupported_media_type');
  assert.equal(p.field, 'Content-Type');
});

test('a gzipped body is unpacked as it arrives; other codings are refused before the body', async () => {
  const q = { purpose: 'marketing.sms' };
  const gz = (text) => gzipSync(Buffer.from(text));
  const counts = ['x-cpm-audience-in', 'x-cpm-audience-allowed', 'x-cpm-rejected-lines', 'x-cpm-first-rejected-line'];
  const plain = await filter(q, MIXED);
  const zipped = await filter(q, gz(MIXED), { coding: 'gzip' });
  assert.equal(zipped.status, 200, zipped.text);
  assert.equal(zipped.text, plain.text);
  for (const h of counts) assert.equal(zipped.headers[h], plain.headers[h], h);
  // two members one after the other (cat a.gz b.gz), the cut inside a line; x-gzip, any case
  const cut = MIXED.indexOf('a-3') + 1;
  const two = Buffer.concat([gz(MIXED.slice(0, cut)), gz(MIXED.slice(cut))]);
  assert.equal((await filter(q, two, { coding: 'X-Gzip' })).text, plain.text);
  assert.equal((await filter(q, MIXED, { coding: 'identity' })).text, plain.text);
  // 20 000 ids gzipped (decoding to many times a piece), sent chunked 1 000 bytes at a time
  const ids = Array.from({ length: 20000 }, (_, n) => bigId(n * 10)).join('\n');
  const packed = gz(ids);
  const pieces = Array.from({ length: Math.ceil(packed.length / 1000) }, (_, i) => packed.subarray(i * 1000, (i + 1) * 1000));
  const streamed = await filterStreamed(q, pieces, { 'content-encoding': 'gzip' });
  const unpacked = await filter(q, ids);
  assert.equal(streamed.status, 200, streamed.text);
  assert.equal(streamed.text, unpacked.text);
  assert.equal(streamed.headers['x-cpm-audience-in'], '20000');
  assert.ok(Number(streamed.headers['x-cpm-audience-allowed']) > 0);

  // not gzip, or cut short: 400 naming the coding, once the body is read, and no ids
  const notGzip = expectProblem(assert, await filter(q, MIXED, { coding: 'gzip' }), 400, 'bad_request');
  assert.equal(notGzip.field, 'Content-Encoding');
  assert.match(notGzip.detail, /not gzip/);
  const whole = gz(MIXED);
  const short = expectProblem(assert, await filter(q, whole.subarray(0, whole.length - 8), { coding: 'gzip' }), 400, 'bad_request');
  assert.match(short.detail, /cut short/);
  const tail = expectProblem(assert, await filter(q, Buffer.concat([whole, Buffer.from('a-1\n')]), { coding: 'gzip' }), 400, 'bad_request');
  assert.match(tail.detail, /not gzip/);
  // 96 MiB of empty lines in ≈ 100 kB: refused as a bomb past 64 MiB unpacked (the rest is read, not unpacked)
  const bomb = expectProblem(assert, await filter(q, gzipSync(Buffer.alloc(96 << 20, '\n')), { coding: 'gzip' }), 400, 'bad_request');
  assert.match(bomb.detail, /decompression bomb/);

  // any other coding: 415, with the codings this route takes
  const br = await filter(q, MIXED, { coding: 'br' });
  assert.match(expectProblem(assert, br, 415, 'unsupported_media_type').detail, /'br'/);
  assert.equal(br.headers['accept-encoding'], 'gzip');
  // a JSON body takes no coding at all (and an unauthorised caller learns nothing more)
  const json = { key, body: gz('{}'), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } };
  const batch = await request(server, 'POST', '/v1/decide', json);
  expectProblem(assert, batch, 415, 'unsupported_media_type');
  assert.equal(batch.headers['accept-encoding'], 'identity');
  expectProblem(assert, await request(server, 'POST', '/v1/decide', { ...json, key: null }), 401, 'unauthorized');
});
