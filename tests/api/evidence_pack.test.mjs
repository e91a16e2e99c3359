// SPDX-License-Identifier: Apache-2.0
// Evidence packs for regulators (docs/EVIDENCE-PACKS.md): a subject with
// consents, a withdrawal, a preference change, a notice re-published and a
// webhook destination → GET /v1/evidence-packs answers one tar archive that
// `cpm verify` passes and the system tar reads; tampered packs (a leaf, a
// notice text, the checkpoint's signature, a dropped file, a cut archive)
// fail naming the file and what failed; the time-range form; the event
// limit; summary.html in both languages with markup escaped; erasure;
// a consistency proof from an earlier checkpoint; scopes; the CLI.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { cpm, expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';
import { startReceiver } from './support/receiver.mjs';
import * as deliveryLog from './support/deliveries.mjs';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const EVENTS_MAX = 30;
const MARKUP_ZH = '<script>alert(1)</script>邮件营销';
const MARKUP_EN = 'E-mail <b>offers</b> & "news"';
let data, server, key, receiver, notice, vkeyFile, work;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** GET as raw bytes (a tar is no UTF-8 text). */
function getBytes(urlPath, authKey) {
  return new Promise((resolve, reject) => {
    const headers = authKey ? { authorization: `Bearer ${authKey}` } : {};
    http
      .get({ host: '127.0.0.1', port: server.port, path: urlPath, headers, agent: false }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

/** Waits until the signed checkpoint covers seq. */
async function covered(seq) {
  for (let i = 0; i < 100; i++) {
    const cp = await request(server, 'GET', '/v1/ledger/checkpoint');
    if (cp.status === 200 && Number(cp.text.split('\n')[1]) >= seq) return Number(cp.text.split('\n')[1]);
    await sleep(50);
  }
  throw new Error(`no checkpoint covers seq ${seq}`);
}

/** Downloads a pack to a file; returns its path. */
async function pack(query, name) {
  const res = await getBytes(`/v1/evidence-packs?${query}`, key);
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(res.headers['content-type'], 'application/x-tar');
  assert.match(res.headers['content-disposition'], /^attachment; filename="opencpm-evidence-pack-\d+\.tar"$/);
  const file = path.join(work, name);
  writeFileSync(file, res.body);
  return file;
}

const tarList = (file) => spawnSync('tar', ['-tf', file], { encoding: 'utf8' }).stdout.trim().split('\n');
const tarRead = (file, member) => spawnSync('tar', ['-xOf', file, member]).stdout;
const verify = (file, withKey = true) => cpm(['verify', file, ...(withKey ? ['--key', vkeyFile] : [])]);

/**
 * Unpacks file, lets change(dir, names) edit, drop or add files, optionally
 * brings manifest.json's hashes up to date (a forger would), and packs the
 * result again with the system tar (POSIX ustar). Returns the new path.
 */
function tamper(file, name, change, { fixManifest = false } = {}) {
  const dir = mkdtempSync(path.join(work, 'tamper-'));
  assert.equal(spawnSync('tar', ['-xf', file, '-C', dir]).status, 0);
  let names = tarList(file);
  names = change(dir, names) ?? names;
  if (fixManifest) {
    const mpath = path.join(dir, 'manifest.json');
    const m = JSON.parse(readFileSync(mpath, 'utf8'));
    m.files = names.filter((n) => n !== 'manifest.json').map((n) => {
      const bytes = readFileSync(path.join(dir, n));
      return { name: n, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    });
    writeFileSync(mpath, JSON.stringify(m));
  }
  const out = path.join(work, name);
  const r = spawnSync('tar', ['--format=ustar', '-cf', out, '-C', dir, ...names]);
  assert.equal(r.status, 0, String(r.stderr));
  return out;
}

/** Replaces the first `from` in a file of dir with `to` (same length unless told). */
function edit(dir, member, from, to) {
  const p = path.join(dir, member);
  const text = readFileSync(p, 'utf8');
  assert.ok(text.includes(from), `${member} has no '${from}'`);
  writeFileSync(p, text.replace(from, to));
}

const consent = (subject, decisions, extra = {}) =>
  request(server, 'POST', `/v1/subjects/${subject}/consents`, { key, body: fx.consentBody(notice, decisions, extra) });

async function lastSeq(res) {
  assert.equal(res.status, 201, res.text);
  return res.json.events.at(-1).seq;
}

let subjectSeqs = [];

before(async () => {
  data = freshData();
  key = data.adminKey;
  work = mkdtempSync(path.join(data.dir, 'packs-'));
  server = await startServer(data.data, {
    env: { CPM_OUTBOUND_ALLOW: '127.0.0.1/32', CPM_RETRY_BASE_MS: '50', CPM_RETRY_MAX_MS: '200', CPM_EVIDENCE_PACK_EVENTS_MAX: String(EVENTS_MAX) },
  });
  await fx.createAll(request, server, key, [
    ['/v1/properties', fx.property()],
    ['/v1/purposes', fx.purpose('marketing.sms')],
    ['/v1/purposes', fx.purpose('marketing.email', { name: { 'zh-Hans': MARKUP_ZH, en: MARKUP_EN } })],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version(['marketing.sms', 'marketing.email'])],
  ]);
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
  vkeyFile = path.join(work, 'ledger.vkey');
  writeFileSync(vkeyFile, (await request(server, 'GET', '/v1/ledger/key')).text + '\n');
  receiver = await startReceiver({ secret: SECRET });
  const dest = await request(server, 'POST', '/v1/destinations', {
    key, body: { id: 'crm', name: 'CRM', kind: 'webhook', endpoint: receiver.url, secret: SECRET },
  });
  assert.equal(dest.status, 201, dest.text);

  // The story of cust-1: consents, a withdrawal, a preference change, a material notice change.
  subjectSeqs.push(await lastSeq(await consent('cust-1', [
    { purpose: 'marketing.sms', decision: 'given' }, { purpose: 'marketing.email', decision: 'given' }])));
  subjectSeqs.push(await lastSeq(await consent('cust-1', [{ purpose: 'marketing.email', decision: 'withdrawn' }])));
  const prefs = await request(server, 'PUT', '/v1/subjects/cust-1/preferences', {
    key, body: { channels: { sms: false }, personalisation: false },
  });
  assert.equal(prefs.status, 200, prefs.text);
  const v2 = await request(server, 'POST', '/v1/notices/privacy/versions', {
    key, body: { ...fx.version(['marketing.sms', 'marketing.email']), purposes: [{ purpose: 'marketing.sms', change: 'material' }] },
  });
  assert.equal(v2.status, 201, v2.text);
  assert.equal(v2.json.reconsent_required, 1, 'cust-1 is asked again');
  const events = (await request(server, 'GET', '/v1/subjects/cust-1/events', { key })).json.items;
  assert.deepEqual(events.map((e) => e.event.type), [
    'consent.given', 'consent.given', 'consent.withdrawn', 'preferences.changed', 'consent.reconsent_required']);
  await covered(events.at(-1).seq);
  await deliveryLog.logWhen(server, key, 'crm', (log) => log.filter((d) => d.subject === 'cust-1' && d.outcome === 'delivered').length >= 5);
});

after(async () => {
  await receiver?.stop();
  await stopServer(server);
  data.cleanup();
});

test("a subject's pack downloads, opens with tar and verifies with cpm verify", async () => {
  const file = await pack('subject=cust-1', 'cust-1.tar');
  const names = tarList(file);
  for (const n of ['manifest.json', 'checkpoint.txt', 'ledger-key.txt', 'events.ndjson', 'deliveries.ndjson',
    'summary.html', 'notices/privacy/v1/version.json', 'notices/privacy/v1/zh-Hans.txt', 'notices/privacy/v1/en.txt',
    'notices/privacy/v2/version.json', 'notices/privacy/v2/zh-Hant.txt'])
    assert.ok(names.includes(n), `${n} is in the archive: ${names}`);

  const m = JSON.parse(tarRead(file, 'manifest.json'));
  assert.equal(m.format, 'opencpm-evidence-pack/1');
  assert.equal(m.scope.subject, 'cust-1');
  assert.match(m.scope.subject_pseudonym, /^[0-9a-f]{64}$/);
  assert.equal(m.events.count, 5);
  assert.equal(m.ledger.verifier_key, readFileSync(vkeyFile, 'utf8').trim());
  assert.equal(m.ledger.verifier_key, tarRead(file, 'ledger-key.txt').toString().trim());
  // every file but the manifest is listed with the SHA-256 of its bytes
  assert.equal(m.files.length, names.length - 1);
  for (const f of m.files)
    assert.equal(createHash('sha256').update(tarRead(file, f.name)).digest('hex'), f.sha256, f.name);
  // the notice texts are the bytes the leaves hash
  const en = tarRead(file, 'notices/privacy/v1/en.txt');
  assert.equal(createHash('sha256').update(en).digest('hex'), notice.content.en.sha256);
  const leaves = tarRead(file, 'events.ndjson').toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(JSON.parse(leaves[0].leaf).notice.sha256, notice.content.en.sha256);
  assert.ok(leaves.every((l) => Array.isArray(l.inclusion_path)));

  // the delivery log: when crm acknowledged each event
  const rows = tarRead(file, 'deliveries.ndjson').toString().trim().split('\n').map((l) => JSON.parse(l));
  const delivered = rows.filter((r) => r.destination === 'crm' && r.outcome === 'delivered');
  assert.deepEqual(delivered.map((r) => r.seq).sort((a, b) => a - b), leaves.map((l) => l.seq));
  assert.ok(delivered.every((r) => r.subject === 'cust-1' && r.acknowledged_after_ms >= 0 && r.status >= 200));
  assert.equal(m.deliveries.count, rows.length);

  const ok = verify(file);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /verified: 5 events of subject cust-1 are in log opencpm\/[0-9a-f]{8} at tree size \d+/);
  assert.match(ok.stdout, /signed by the key given \(--key\)/);
  const unpinned = verify(file, false);
  assert.equal(unpinned.status, 0, unpinned.stderr);
  assert.match(unpinned.stdout, /note: checked with the pack's own key/);

  // the evidence bundle of the same subject still verifies (a reconsent leaf names no text hash)
  const bundle = path.join(work, 'bundle.json');
  writeFileSync(bundle, (await request(server, 'GET', '/v1/subjects/cust-1/evidence', { key })).text);
  const b = cpm(['verify', bundle, '--key', vkeyFile]);
  assert.equal(b.status, 0, b.stderr);
});

test('a tampered pack fails, naming the file and what failed', async () => {
  const file = await pack('subject=cust-1', 'good.tar');
  const expectFail = (tampered, ...messages) => {
    const r = verify(tampered);
    assert.equal(r.status, 1, `${tampered} should fail:\n${r.stdout}`);
    for (const m of messages) assert.match(r.stderr, m);
    assert.match(r.stderr, /does not verify/);
  };

  // a byte flipped in a leaf: the manifest's hash, and the inclusion proof
  const leafFlip = (dir) => edit(dir, 'events.ndjson', 'consent.withdrawn', 'consent.withdrawm');
  expectFail(tamper(file, 'leaf.tar', leafFlip),
    /FAILED: events\.ndjson: its SHA-256 differs from the manifest's/,
    /FAILED: events\.ndjson: event seq \d+ is not in the signed tree \(its inclusion proof fails\)/);
  // … even when the forger updates the manifest
  expectFail(tamper(file, 'leaf-forged.tar', leafFlip, { fixManifest: true }),
    /FAILED: events\.ndjson: event seq \d+ is not in the signed tree/);

  // a notice text changed (and the manifest with it): the leaves' hash is nowhere
  expectFail(tamper(file, 'notice.tar', (dir) => edit(dir, 'notices/privacy/v1/en.txt', 'How', 'Why'), { fixManifest: true }),
    /FAILED: events\.ndjson: event seq \d+ refers to notice 'privacy' version 1 with SHA-256 [0-9a-f]{64}, which no notice text in the pack has/);
  expectFail(tamper(file, 'notice-only.tar', (dir) => edit(dir, 'notices/privacy/v1/en.txt', 'How', 'Why')),
    /FAILED: notices\/privacy\/v1\/en\.txt: its SHA-256 differs from the manifest's/);

  // the checkpoint's signature altered
  expectFail(tamper(file, 'signature.tar', (dir) => {
    const p = path.join(dir, 'checkpoint.txt');
    const note = readFileSync(p, 'utf8');
    const sig = note.trimEnd().split(' ').at(-1);
    const bytes = Buffer.from(sig, 'base64');
    bytes[10] ^= 1;
    writeFileSync(p, note.replace(sig, bytes.toString('base64')));
  }, { fixManifest: true }), /FAILED: checkpoint\.txt: its signature does not verify with key opencpm\//);

  // a file dropped from the archive
  expectFail(tamper(file, 'dropped.tar', (dir, names) => names.filter((n) => n !== 'notices/privacy/v1/en.txt')),
    /FAILED: notices\/privacy\/v1\/en\.txt: is listed in the manifest but missing from the archive/);
  // a file added
  expectFail(tamper(file, 'added.tar', (dir, names) => {
    writeFileSync(path.join(dir, 'note.txt'), 'trust me');
    return [...names, 'note.txt'];
  }), /FAILED: note\.txt: is in the archive but not listed in the manifest/);

  // a cut archive, and something that is no archive at all
  const whole = readFileSync(file);
  const cut = path.join(work, 'cut.tar');
  writeFileSync(cut, whole.subarray(0, 512 * 5 + 100));
  expectFail(cut, /truncated/);
  const junk = path.join(work, 'junk.tar');
  writeFileSync(junk, Buffer.concat([whole.subarray(0, 512), Buffer.alloc(1024, 0x41)]));
  expectFail(junk, /FAILED: .*(truncated|not a ustar header|checksum)/);
});

test('summary.html is in Chinese and English, self-contained, and escapes markup', async () => {
  const file = await pack('subject=cust-1', 'summary.tar');
  const html = tarRead(file, 'summary.html').toString();
  for (const s of ['证据包摘要', 'Evidence pack summary', '如何验证', 'How to verify', '送达时间线',
    'Delivery timeline per destination', '已撤回', 'withdrawn', 'cpm verify pack.tar', 'cust-1'])
    assert.ok(html.includes(s), `summary has '${s}'`);
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;邮件营销'), 'the Chinese name is escaped');
  assert.ok(html.includes('E-mail &lt;b&gt;offers&lt;/b&gt; &amp; &quot;news&quot;'), 'the English name is escaped');
  assert.ok(!/<script|<b>|<img|<link|<iframe|src=|href=|url\(/i.test(html), 'no script, no markup from data, nothing fetched');
  assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/);
  assert.match(html, /<code>crm<\/code>/, 'the destination has its timeline');
});

test('the time-range form: every event recorded in [from, to), no company subject ids', async () => {
  const from = new Date().toISOString();
  await sleep(20);
  const seqs = [];
  seqs.push(await lastSeq(await consent('cust-2', [{ purpose: 'marketing.sms', decision: 'given' }])));
  seqs.push(await lastSeq(await consent('cust-3', [{ purpose: 'marketing.sms', decision: 'refused' }])));
  await sleep(20);
  const to = new Date().toISOString();
  await sleep(20);
  await consent('cust-2', [{ purpose: 'marketing.sms', decision: 'withdrawn' }]); // after the range
  await covered(seqs.at(-1) + 1);
  await deliveryLog.logWhen(server, key, 'crm', (log) => log.filter((d) => d.subject === 'cust-3').length >= 1);

  const file = await pack(`from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, 'range.tar');
  const m = JSON.parse(tarRead(file, 'manifest.json'));
  assert.equal(m.scope.subject, undefined);
  assert.equal(m.scope.from, from);
  assert.equal(m.events.count, 2);
  assert.deepEqual([m.events.first_seq, m.events.last_seq], seqs);
  const rows = tarRead(file, 'deliveries.ndjson').toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(rows.length >= 2 && rows.every((r) => seqs.includes(r.seq)), JSON.stringify(rows));
  assert.ok(rows.every((r) => r.subject === undefined), 'a range names pseudonyms only');
  assert.ok(!tarRead(file, 'summary.html').toString().includes('cust-2'));
  const ok = verify(file);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /verified: 2 events recorded from .* to .* are in log/);

  // a leaf outside the range is caught even with a forged manifest
  const widened = tamper(file, 'narrowed.tar', (dir) => {
    const mp = path.join(dir, 'manifest.json');
    const doc = JSON.parse(readFileSync(mp, 'utf8'));
    doc.scope.to = doc.scope.from;
    doc.scope.from = '2000-01-01T00:00:00.000Z';
    writeFileSync(mp, JSON.stringify(doc));
  }, { fixManifest: true });
  const bad = verify(widened);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /event seq \d+ was recorded at .*, outside the pack's range/);

  // a subject's events within a range
  const sub = await pack(`subject=cust-2&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, 'sub-range.tar');
  assert.equal(JSON.parse(tarRead(sub, 'manifest.json')).events.count, 1);
  assert.equal(verify(sub).status, 0);

  // the CLI writes the same kind of pack straight from the data directory
  const cliOut = path.join(work, 'cli.tar');
  const made = cpm(['evidence-pack', '--data', data.data, '--from', from, '--to', to, '-o', cliOut]);
  assert.equal(made.status, 0, made.stderr);
  assert.match(made.stdout, /wrote .*cli\.tar: 2 events recorded from/);
  assert.equal(verify(cliOut).status, 0);
});

test('bad queries are 422 naming the field; nothing is written', async () => {
  const cases = [
    ['', 'subject'],
    ['subject=has%20space', 'subject'],
    ['from=2026-01-01T00:00:00Z', 'to'],
    ['to=2026-01-01T00:00:00Z', 'from'],
    ['from=yesterday&to=2026-01-01T00:00:00Z', 'from'],
    ['from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'to'],
    ['subject=cust-1&prior_size=0', 'prior_size'],
    ['subject=cust-1&prior_size=999999', 'prior_size'],
  ];
  for (const [q, field] of cases) {
    const res = await request(server, 'GET', `/v1/evidence-packs?${q}`, { key });
    const p = expectProblem(assert, res, 422, 'validation_failed');
    assert.equal(p.field, field, `${q}: ${res.text}`);
  }
  expectProblem(assert, await request(server, 'GET', '/v1/evidence-packs?subject=never-seen', { key }), 404, 'not_found');
  const usage = cpm(['evidence-pack', '--data', data.data, '--from', '2026-01-01T00:00:00Z', '-o', path.join(work, 'x.tar')]);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--from and --to go together/);
});

test('at most N events per pack: 422 naming the limit', async () => {
  const from = new Date().toISOString();
  let last = 0;
  for (let i = 0; i < EVENTS_MAX / 2 + 1; i++)
    last = await lastSeq(await consent('bulk-1', [
      { purpose: 'marketing.sms', decision: i % 2 ? 'withdrawn' : 'given' },
      { purpose: 'marketing.email', decision: i % 2 ? 'withdrawn' : 'given' }]));
  const to = new Date(Date.now() + 1000).toISOString();
  await covered(last);
  const range = await request(server, 'GET', `/v1/evidence-packs?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, { key });
  const p = expectProblem(assert, range, 422, 'validation_failed');
  assert.equal(p.field, 'to');
  assert.match(p.detail, new RegExp(`more than ${EVENTS_MAX} events \\(the limit of one pack\\): narrow the time range`));
  const subject = expectProblem(assert, await request(server, 'GET', '/v1/evidence-packs?subject=bulk-1', { key }), 422, 'validation_failed');
  assert.equal(subject.field, 'subject');
  assert.match(subject.detail, /give a time range with from and to/);
  const cli = cpm(['evidence-pack', '--data', data.data, '--subject', 'bulk-1', '--events-max', '5', '-o', path.join(work, 'big.tar')]);
  assert.equal(cli.status, 1);
  assert.match(cli.stderr, /more than 5 events/);
  assert.ok(!existsSync(path.join(work, 'big.tar')), 'nothing was left behind');
});

test('an erased subject: the pack still proves the events; the summary says it was erased', async () => {
  await consent('cust-9', [{ purpose: 'marketing.sms', decision: 'given' }]);
  const erased = await request(server, 'DELETE', '/v1/subjects/cust-9', { key });
  assert.equal(erased.status, 200, erased.text);
  const events = (await request(server, 'GET', '/v1/subjects/cust-9/events', { key })).json.items;
  await covered(events.at(-1).seq);
  const file = await pack('subject=cust-9', 'erased.tar');
  const m = JSON.parse(tarRead(file, 'manifest.json'));
  assert.match(m.scope.erased_at, /^\d{4}-/);
  assert.equal(m.events.count, 2);
  const html = tarRead(file, 'summary.html').toString();
  assert.ok(html.includes('This subject was erased (PIPL Art. 47)') && html.includes('已删除'));
  const ok = verify(file);
  assert.equal(ok.status, 0, ok.stderr);
});

test('prior_size adds a consistency proof from an earlier checkpoint', async () => {
  const earlier = await covered(1);
  await consent('cust-4', [{ purpose: 'marketing.sms', decision: 'given' }]);
  const events = (await request(server, 'GET', '/v1/subjects/cust-4/events', { key })).json.items;
  await covered(events.at(-1).seq);
  const file = await pack(`subject=cust-4&prior_size=${earlier}`, 'prior.tar');
  assert.ok(tarList(file).includes('consistency.json') && tarList(file).includes('prior-checkpoint.txt'));
  const ok = verify(file);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /consistency\.json: the log only grew since the prior checkpoint/);
  const forged = tamper(file, 'prior-forged.tar', (dir) => {
    const p = path.join(dir, 'consistency.json');
    const doc = JSON.parse(readFileSync(p, 'utf8'));
    doc.path = doc.path.length ? [Buffer.alloc(32, 7).toString('base64'), ...doc.path.slice(1)] : [Buffer.alloc(32).toString('base64')];
    writeFileSync(p, JSON.stringify(doc));
  }, { fixManifest: true });
  const bad = verify(forged);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /FAILED: consistency\.json: /);
});

test('scopes: ledger:read (or admin) reads packs; others are 403, no key 401', async () => {
  const make = async (scopes) =>
    (await request(server, 'POST', '/v1/api-keys', { key, body: { name: scopes.join(' '), scopes } })).json.key;
  const reader = await make(['ledger:read']);
  const decisions = await make(['decisions:read']);
  const exporter = await make(['export']);
  expectProblem(assert, await request(server, 'GET', '/v1/evidence-packs?subject=cust-1'), 401, 'unauthorized');
  expectProblem(assert, await request(server, 'GET', '/v1/evidence-packs?subject=cust-1', { key: 'cpm_nope' }), 401, 'unauthorized');
  expectProblem(assert, await request(server, 'GET', '/v1/evidence-packs?subject=cust-1', { key: decisions }), 403, 'forbidden');
  expectProblem(assert, await request(server, 'GET', '/v1/evidence-packs?subject=cust-1', { key: exporter }), 403, 'forbidden');
  const ok = await getBytes('/v1/evidence-packs?subject=cust-1', reader);
  assert.equal(ok.status, 200);
  assert.equal(ok.body.subarray(257, 262).toString(), 'ustar');
});
