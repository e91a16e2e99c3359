// SPDX-License-Identifier: Apache-2.0
// The admin console's erasure and evidence packs (web/admin/subjects.js,
// web/admin/evidence.js), in Debian's Chromium against a real cpmd seeded
// with demo/demo.json: a person erased through the console — a wrong id
// typed keeps the button disabled and Enter refuses beside the field, the
// right id erases — then, through the API, the person (and the device
// merged into them) erased, their identifiers gone, and their events still
// proved by a subject pack downloaded through the console and checked with
// `cpm verify`; a key without `admin` sees no erase button (and one without
// `ledger:read` no pack); a time-range pack built on the evidence screen,
// downloaded, verified and holding the summary in Chinese and English; the
// page's own checks beside the fields, the server's 422 beside the field it
// names (an unknown prior tree size; the event limit beside "to"). Any
// console error, page error or request to another origin fails a test.
// Screenshots: tests/browser/artifacts/admin-erase-*.png, admin-evidence-*.png.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cpm, request } from '../api/harness.mjs';
import { demo, demoServer, shot, useBrowser } from './support.mjs';
import { DESKTOP, consolePage, errorFor, go, loaded, sent, shots, signIn, statusIs } from './admin_support.mjs';

const POLICY = demo.policies.find((p) => p.property === 'demo-shop' && p.region === 'CN');
const SHANGHAI = { timezoneId: 'Asia/Shanghai' };
const HOUR_MS = 3600e3;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

useBrowser();

/** Records decisions for subject ([[purpose, decision]…]) under the policy's notice, version 1. */
async function decide(env, subject, decisions) {
  const v = await env.api('GET', `/v1/notices/${POLICY.notice}/versions/1?locale=zh-Hans`);
  return env.api('POST', `/v1/subjects/${encodeURIComponent(subject)}/consents`, {
    property: 'demo-shop', channel: 'web', locale: 'zh-Hans', method: 'click',
    notice: { id: POLICY.notice, version: 1, sha256: v.content['zh-Hans'].sha256 },
    decisions: decisions.map(([purpose, decision]) => ({ purpose, decision })),
  }, 201);
}

/** Waits until the signed checkpoint covers the ledger's last event (signed within about a second). */
async function signedUpTo(env) {
  let last = 0;
  for (let cursor = ''; ;) {
    const page = await env.api('GET', `/v1/ledger/events?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (page.items.length) last = page.items.at(-1).seq;
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  for (let i = 0; i < 100; i++) {
    const cp = await request(env.server, 'GET', '/v1/ledger/checkpoint');
    if (cp.status === 200 && Number(cp.text.split('\n')[1]) >= last) return last;
    await sleep(50);
  }
  throw new Error(`no checkpoint covers seq ${last}`);
}

/** A work directory with the ledger's verifier key in a file: {dir, vkey, vkeyFile}. */
async function keyFile(env) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cpm-packs-'));
  const vkey = (await request(env.server, 'GET', '/v1/ledger/key')).text.trim();
  const vkeyFile = path.join(dir, 'ledger.vkey');
  writeFileSync(vkeyFile, `${vkey}\n`);
  return { dir, vkey, vkeyFile };
}

/** Saves a download playwright caught; checks it with `cpm verify PACK --key VKEY` (exit 0) and returns {file, stdout}. */
async function verified(download, work) {
  const file = path.join(work.dir, download.suggestedFilename());
  copyFileSync(await download.path(), file);
  const r = cpm(['verify', file, '--key', work.vkeyFile]);
  assert.equal(r.status, 0, `cpm verify ${file}: ${r.stderr}`);
  assert.match(r.stdout, /verified: /);
  return { file, stdout: r.stdout };
}

const tarList = (file) => spawnSync('tar', ['-tf', file], { encoding: 'utf8' }).stdout.trim().split('\n');
const tarRead = (file, member) => spawnSync('tar', ['-xOf', file, member]).stdout.toString();

/** The GETs the page sends to a path matching re (as path + query). */
function gets(page, re) {
  const seen = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (re.test(u.pathname) && r.method() === 'GET') seen.push(u.pathname + u.search);
  });
  return seen;
}

/** A datetime-local value for a time as seen in Shanghai (UTC+08:00, no daylight saving). */
const shanghai = (ms) => new Date(ms + 8 * HOUR_MS).toISOString().slice(0, 16);

async function find(page, subject) {
  await page.fill('#subjects [data-key="sid"]', subject);
  await page.click('#subjects button[data-key="find"]');
  await page.waitForFunction((id) => document.getElementById('subject-profile-h')?.textContent.endsWith(id), subject);
  await loaded(page);
}

// ---- erasure -----------------------------------------------------------------------------

test('erasure: the confirmation says what it does and does not; a wrong id refuses, the right one erases; the person and their merged device are erased and their events still verify', async (t) => {
  const env = await demoServer(t);
  await decide(env, 'erase-1', [['marketing.sms', 'given'], ['analytics', 'given']]);
  await env.api('POST', '/v1/subjects/erase-1/identities', { type: 'phone', value: '+8613800138001' }, 201);
  // an anonymous device with a consent of its own, merged into the person at login
  const device = (await request(env.server, 'POST', '/v1/devices', { body: { property: 'demo-shop' } })).json;
  assert.ok(device && device.device_token, 'a device');
  const v = await env.api('GET', `/v1/notices/${POLICY.notice}/versions/1?locale=zh-Hans`);
  const byDevice = await request(env.server, 'POST', '/v1/subjects/me/consents', {
    headers: { authorization: `Device ${device.device_token}` },
    body: { property: 'demo-shop', channel: 'web', locale: 'zh-Hans', method: 'click',
      notice: { id: POLICY.notice, version: 1, sha256: v.content['zh-Hans'].sha256 }, decisions: [{ purpose: 'analytics', decision: 'given' }] },
  });
  assert.equal(byDevice.status, 201, byDevice.text);
  await env.api('POST', '/v1/subjects/erase-1/identities', { type: 'device', device_token: device.device_token }, 201);
  const before = (await env.api('GET', '/v1/subjects/erase-1/events')).items.length;
  await signedUpTo(env);
  const work = await keyFile(env);

  // an erased person's preferences answer 409 (docs/SUBJECTS.md): the page says so instead
  const page = await consolePage(t, env, { locale: 'en-US', viewport: DESKTOP, acceptDownloads: true },
    [{ path: '/v1/subjects/erase-1/preferences', status: 409 }]);
  const deletes = sent(page, /^\/v1\/subjects\//);
  await signIn(page, env);
  await go(page, 'subjects');
  await find(page, 'erase-1');
  assert.match(await page.textContent('#subject-profile'), /Phone: \+8613800138001/);
  assert.equal(await page.locator('#subject-erased').count(), 0);

  await page.click('#subject button[data-key="erase"]');
  await page.waitForSelector('#subject .erase-confirm');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'erase-q', 'the question takes the focus');
  const text = await page.textContent('#subject .erase-confirm');
  for (const s of ['Erase erase-1?', 'Crypto-shreds their personal data', 'not even with the master key', 'merged into this person are erased',
    'Remove their events and proofs', 'still verifies', 'cannot be undone'])
    assert.ok(text.includes(s), `the confirmation says '${s}'`);
  const yes = page.locator('#subject button[data-key="erase-yes"]');
  assert.equal(await yes.isDisabled(), true, 'disabled until the id is typed');
  await page.fill('#subject [data-key="erase-id"]', 'erase-2');
  assert.equal(await yes.isDisabled(), true, 'a wrong id keeps it disabled');
  await page.press('#subject [data-key="erase-id"]', 'Enter');
  assert.equal(await errorFor(page, '#subject', 'confirm').textContent(), 'That is not this person\'s id: type erase-1 exactly.');
  assert.equal(await page.getAttribute('#subject [data-key="erase-id"]', 'aria-invalid'), 'true');
  await page.fill('#subject [data-key="erase-id"]', 'erase-');
  assert.equal(await yes.isDisabled(), true, 'a prefix is not the id');
  await shots(page, 'admin-erase-confirm', '#subject-profile');
  assert.deepEqual(deletes, [], 'nothing sent for a wrong id');
  assert.equal((await env.api('GET', '/v1/subjects/erase-1')).erased_at, null, 'not erased yet');

  await page.fill('#subject [data-key="erase-id"]', 'erase-1');
  assert.equal(await yes.isDisabled(), false);
  await yes.click();
  await statusIs(page, `erase-1 was erased, with 1 merged device(s): ${device.subject}.`);
  await page.waitForSelector('#subject-erased');
  await loaded(page);
  assert.deepEqual(deletes.map((d) => `${d.method} ${d.path}`), ['DELETE /v1/subjects/erase-1'], 'one erasure sent');
  assert.match(await page.textContent('#subject-erased'), /^Erased on .*: their personal data can no longer be read; their events and proofs remain\.$/);
  assert.match(await page.textContent('#subject-profile'), /Phone: erased/);
  assert.equal(await page.locator('#subject button[data-key="erase"]').count(), 0, 'no erase button once erased');
  assert.deepEqual(await page.$$eval('#subject-consents tr[data-purpose]', (rows) => rows.map((r) => r.dataset.status)), ['erased', 'erased']);
  assert.equal(await page.locator('#subject-timeline li[data-type="subject.erased"]').count(), 1, 'the erasure is in the timeline');
  assert.equal(await page.textContent('#preferences-erased'), 'This person was erased: their preferences are no longer read.');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'subject-profile-h');
  await shots(page, 'admin-erase-done', '#subject');

  // through the API (docs/SUBJECTS.md "Erasure"): erased, identifiers unreadable, not findable, the device too
  const s = await env.api('GET', '/v1/subjects/erase-1');
  assert.match(s.erased_at, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(s.identifiers, [{ type: 'phone', value: 'erased' }]);
  assert.deepEqual(s.guardians, []);
  assert.equal((await request(env.server, 'GET', '/v1/subjects?identifier_type=phone&identifier_value=%2B8613800138001', { key: env.key })).status, 404);
  assert.match((await env.api('GET', `/v1/subjects/${device.subject}`)).erased_at, /^\d{4}-/, 'the merged device is erased');
  assert.deepEqual((await env.api('GET', '/v1/decide?subject=erase-1&purpose=marketing.sms')).reasons, ['erased']);
  const events = (await env.api('GET', '/v1/subjects/erase-1/events')).items;
  assert.equal(events.length, before + 1, 'every event kept, and the erasure added');
  assert.equal(events.at(-1).event.type, 'subject.erased');
  await signedUpTo(env);

  // the person's evidence pack, downloaded through the console: every event still proved
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#subject button[data-key="evidence-pack"]')]);
  assert.match(dl.suggestedFilename(), /^evidence-pack-erase-1-\d{4}-\d\d-\d\d\.tar$/);
  const { file, stdout } = await verified(dl, work);
  await statusIs(page, `Downloaded ${dl.suggestedFilename()}.`);
  assert.match(stdout, new RegExp(`verified: ${events.length} events of subject erase-1 `));
  const manifest = JSON.parse(tarRead(file, 'manifest.json'));
  assert.equal(manifest.scope.erased_at, s.erased_at);
  assert.equal(manifest.events.count, events.length);
  const html = tarRead(file, 'summary.html');
  assert.ok(html.includes('证据包摘要') && html.includes('Evidence pack summary'), 'the summary in Chinese and English');
  assert.ok(html.includes('This subject was erased (PIPL Art. 47)') && html.includes('已删除'));
  assert.ok(!html.includes('+8613800138001'), 'no phone number in the pack');
  for (const name of tarList(file)) assert.ok(!tarRead(file, name).includes('8613800138001'), `${name} holds no phone number`);
  page.assertClean();
});

test('a key without admin sees no erase button (and cpmd refuses it); without ledger:read no evidence pack and no evidence screen', async (t) => {
  const env = await demoServer(t);
  await decide(env, 'keep-1', [['marketing.sms', 'given']]);
  const reader = (await env.api('POST', '/v1/api-keys', { name: 'auditor', scopes: ['decisions:read', 'ledger:read'] }, 201)).key;
  const desk = (await env.api('POST', '/v1/api-keys', { name: 'call centre', scopes: ['decisions:read'] }, 201)).key;

  const page = await consolePage(t, env, { locale: 'en-US' });
  await signIn(page, env, reader);
  const screens = await page.$$eval('#nav a', (as) => as.map((a) => a.dataset.screen));
  assert.ok(screens.includes('subjects') && screens.includes('evidence'), `${screens}`);
  await go(page, 'subjects');
  await find(page, 'keep-1');
  assert.equal(await page.locator('#subject button[data-key="evidence-pack"]').count(), 1);
  assert.equal(await page.locator('#subject button[data-key="erase"]').count(), 0, 'no erase button without admin');
  assert.equal((await request(env.server, 'DELETE', '/v1/subjects/keep-1', { key: reader })).status, 403, 'and cpmd refuses it');
  await shots(page, 'admin-erase-no-admin', '#subject-profile');

  const other = await consolePage(t, env, { locale: 'en-US' });
  await signIn(other, env, desk);
  assert.deepEqual(await other.$$eval('#nav a', (as) => as.map((a) => a.dataset.screen)), ['subjects']);
  await find(other, 'keep-1');
  assert.equal(await other.locator('#subject button[data-key="evidence-pack"]').count(), 0);
  assert.equal(await other.locator('#subject button[data-key="erase"]').count(), 0);
  assert.equal((await env.api('GET', '/v1/subjects/keep-1')).erased_at, null);
  page.assertClean();
  other.assertClean();
});

// ---- evidence packs for a time range ----------------------------------------------------------

test('evidence packs: a time range checked before sending, built, downloaded as a tar that cpm verify passes, with the summary in Chinese and English; the server\'s 422 beside its field', async (t) => {
  const env = await demoServer(t);
  await decide(env, 'range-1', [['marketing.sms', 'given']]);
  await decide(env, 'range-2', [['marketing.sms', 'refused'], ['analytics', 'given']]);
  await decide(env, 'range-1', [['marketing.sms', 'withdrawn']]);
  const last = await signedUpTo(env);
  const work = await keyFile(env);

  const page = await consolePage(t, env, { locale: 'zh-CN', viewport: DESKTOP, acceptDownloads: true, ...SHANGHAI },
    [{ path: '/v1/evidence-packs', status: 422 }]);
  const packs = gets(page, /^\/v1\/evidence-packs$/);
  await signIn(page, env);
  await go(page, 'evidence');
  assert.equal(await page.textContent('#evidence-h'), '监管证据包');
  assert.equal(await page.textContent('#vkey'), work.vkey, 'the verifier key shown is the ledger\'s');
  assert.match(await page.textContent('#evidence-check'), /cpm verify PACK --key VKEY/);
  assert.match(await page.textContent('#evidence-holds'), /summary\.html.*中英文可打印摘要/);
  assert.match(await page.textContent('form.pack-form'), /Asia\/Shanghai, UTC\+08:00/);

  // the page's own checks, beside the fields; nothing sent
  const now = Date.now();
  await page.fill('#evidence [data-key="from"]', '');
  await page.fill('#evidence [data-key="subject"]', 'has space');
  await page.fill('#evidence [data-key="prior"]', '0');
  await page.click('#evidence button[data-key="build"]');
  assert.equal(await errorFor(page, '#evidence', 'from').textContent(), '必填。');
  assert.match(await errorFor(page, '#evidence', 'subject').textContent(), /不能有空格/);
  assert.equal(await errorFor(page, '#evidence', 'prior_size').textContent(), '须为 1 或更大的整数。');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.key), 'from', 'the first faulty field has the focus');
  await page.fill('#evidence [data-key="from"]', shanghai(now + HOUR_MS));
  await page.fill('#evidence [data-key="to"]', shanghai(now - HOUR_MS));
  await page.fill('#evidence [data-key="subject"]', '');
  await page.fill('#evidence [data-key="prior"]', '');
  await page.click('#evidence button[data-key="build"]');
  assert.equal(await errorFor(page, '#evidence', 'to').textContent(), '必须晚于开始时间。');
  assert.equal(await errorFor(page, '#evidence', 'from').count(), 0);
  await shots(page, 'admin-evidence-invalid', '#evidence form.pack-form');
  assert.deepEqual(packs, [], 'nothing sent for a range the page can refuse');

  // the server's 422 beside the field it names: an earlier tree size no checkpoint has
  const from = shanghai(now - 24 * HOUR_MS);
  const to = shanghai(now + HOUR_MS);
  await page.fill('#evidence [data-key="from"]', from);
  await page.fill('#evidence [data-key="to"]', to);
  await page.fill('#evidence [data-key="prior"]', '999999');
  await page.click('#evidence button[data-key="build"]');
  await page.waitForSelector('#evidence .field-error[data-error-for="prior_size"]');
  assert.match(await errorFor(page, '#evidence', 'prior_size').textContent(), /checkpoint/);
  assert.equal(packs.length, 1);
  assert.match(packs[0], /^\/v1\/evidence-packs\?from=.*%2B08%3A00&to=.*%2B08%3A00&prior_size=999999$/, 'RFC 3339 times with the offset');

  // a good range: downloaded as the tar it is, verified offline
  await page.fill('#evidence [data-key="prior"]', '');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#evidence button[data-key="build"]')]);
  assert.equal(await errorFor(page, '#evidence', 'prior_size').count(), 0, 'the old error is gone');
  assert.match(dl.suggestedFilename(), /^evidence-pack-\d{8}T\d{4}-\d{8}T\d{4}\.tar$/);
  const { file, stdout } = await verified(dl, work);
  await statusIs(page, `已下载 ${dl.suggestedFilename()}。`);
  const manifest = JSON.parse(tarRead(file, 'manifest.json'));
  assert.equal(Date.parse(manifest.scope.from), Date.parse(`${from}:00+08:00`));
  assert.equal(Date.parse(manifest.scope.to), Date.parse(`${to}:00+08:00`));
  assert.equal(manifest.scope.subject ?? null, null);
  assert.equal(manifest.events.last_seq, last, 'every event of the range, to the last signed');
  assert.match(stdout, /ok {2}events\.ndjson/);
  const files = tarList(file);
  for (const name of ['checkpoint.txt', 'events.ndjson', 'deliveries.ndjson', 'summary.html', 'manifest.json'])
    assert.ok(files.includes(name), `the pack holds ${name}`);
  const html = tarRead(file, 'summary.html');
  for (const s of ['证据包摘要', 'Evidence pack summary', '如何验证', 'How to verify'])
    assert.ok(html.includes(s), `the summary has '${s}'`);
  assert.ok(!tarRead(file, 'events.ndjson').includes('range-1'), 'a range pack names no company subject id');

  // one person's events in the range
  await page.fill('#evidence [data-key="subject"]', 'range-1');
  const [one] = await Promise.all([page.waitForEvent('download'), page.click('#evidence button[data-key="build"]')]);
  assert.match(one.suggestedFilename(), /^evidence-pack-range-1-\d{8}T\d{4}-\d{8}T\d{4}\.tar$/);
  const single = await verified(one, work);
  assert.match(single.stdout, /verified: 2 events of subject range-1 /);

  // the verifier key saved as a file is the one cpm verify takes
  const [keyDl] = await Promise.all([page.waitForEvent('download'), page.click('#evidence button[data-key="save-vkey"]')]);
  assert.equal(keyDl.suggestedFilename(), 'opencpm.vkey');
  assert.equal(readFileSync(await keyDl.path(), 'utf8').trim(), work.vkey);
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'admin-evidence-phone', { fullPage: true });
  await page.setViewportSize(DESKTOP);
  await shot(page, 'admin-evidence-desktop', { fullPage: true });
  page.assertClean();
});

test('evidence packs: over the server\'s event limit, its refusal shows beside "to" (and on the subject\'s screen in the status line)', async (t) => {
  const env = await demoServer(t, { env: { CPM_EVIDENCE_PACK_EVENTS_MAX: '3' } });
  await decide(env, 'many-1', [['marketing.sms', 'given'], ['analytics', 'given']]);
  await decide(env, 'many-1', [['marketing.sms', 'withdrawn'], ['analytics', 'withdrawn']]);
  await signedUpTo(env);

  const page = await consolePage(t, env, { locale: 'en-US', ...SHANGHAI }, [{ path: '/v1/evidence-packs', status: 422 }]);
  await signIn(page, env);
  await go(page, 'evidence');
  const now = Date.now();
  await page.fill('#evidence [data-key="from"]', shanghai(now - 24 * HOUR_MS));
  await page.fill('#evidence [data-key="to"]', shanghai(now + HOUR_MS));
  await page.click('#evidence button[data-key="build"]');
  await page.waitForSelector('#evidence .field-error[data-error-for="to"]');
  assert.equal(await errorFor(page, '#evidence', 'to').textContent(),
    'the pack would hold more than 3 events (the limit of one pack): narrow the time range');
  assert.equal(await page.getAttribute('#evidence [data-key="to"]', 'aria-invalid'), 'true');
  await shots(page, 'admin-evidence-limit', '#evidence form.pack-form');

  await go(page, 'subjects');
  await find(page, 'many-1');
  await page.click('#subject button[data-key="evidence-pack"]');
  await statusIs(page, /^subject: the pack would hold more than 3 events \(the limit of one pack\): give a time range with from and to — the Evidence packs screen takes this person's id with a time range\.$/);
  page.assertClean();
});
