// SPDX-License-Identifier: Apache-2.0
// GET /v1/notices/{id}/reconsent: before publishing, how many people a
// material change to each purpose would send back to re-consent. Counted
// against real consents written through the API under versions 1 and 2 of
// a notice (and under another notice, refused, withdrawn, per recipient),
// then checked against what publishing actually does: the publish answer's
// reconsent_required, the counts dropping to 0, decide and the experience
// asking again. Also: its 404s, 422s naming the field, scopes, and that
// asking writes nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

const SMS = 'marketing.sms';
const ANALYTICS = 'analytics';
const SHARE = 'share.partners'; // a purpose with recipients: a consent per recipient
const ALL = [SMS, ANALYTICS, SHARE];

let data, server, key;
const versions = {}; // 'privacy:1' → the published version

before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data);
  await fx.createAll(request, server, key, [
    ['/v1/properties', fx.property()],
    ['/v1/purposes', fx.purpose(SMS)],
    ['/v1/purposes', fx.purpose(ANALYTICS)],
    ['/v1/purposes', fx.purpose(SHARE, { consent_form: 'separate', recipients: ['hq-eu', 'cdp-vendor'] })],
    ['/v1/notices', fx.notice()],
    ['/v1/notices', { ...fx.notice(), id: 'other' }],
    ['/v1/notices', { ...fx.notice(), id: 'draft' }], // never published
    ['/v1/notices/other/versions', fx.version([SMS])],
    ['/v1/policies', { ...fx.policy(), purposes: ALL.map((purpose) => ({ purpose, default: false })) }],
  ]);
  await publish('privacy', ALL.map((purpose) => ({ purpose, change: 'material' })));
  versions['other:1'] = (await request(server, 'GET', '/v1/notices/other/versions/1')).json;
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

/** Publishes the next version of notice with purposes [{purpose, change}]; returns the answer. */
async function publish(notice, purposes, text = 'How we process your personal information.') {
  const body = fx.version(purposes.map((p) => p.purpose));
  body.purposes = purposes;
  body.content.en.text = text;
  const res = await request(server, 'POST', `/v1/notices/${notice}/versions`, { key, body });
  assert.equal(res.status, 201, res.text);
  versions[`${notice}:${res.json.version}`] = res.json;
  return res.json;
}

/** One consent action by subject: decisions [[purpose, decision, recipient?]] under notice:version. */
async function decide(subject, decisions, version = 1, notice = 'privacy') {
  const v = versions[`${notice}:${version}`];
  const body = {
    property: 'shop', channel: 'web', locale: 'en', method: 'click',
    notice: { id: notice, version, sha256: v.content.en.sha256 },
    decisions: decisions.map(([purpose, decision, recipient]) => ({
      purpose, decision, ...(recipient ? { recipient } : {}), ...(purpose.startsWith('share.') && decision === 'given' ? { separate: true } : {}),
    })),
  };
  const res = await request(server, 'POST', `/v1/subjects/${encodeURIComponent(subject)}/consents`, { key, body });
  assert.equal(res.status, 201, `${subject}: ${res.text}`);
}

const reconsent = (notice, purposes, k = key) =>
  request(server, 'GET', `/v1/notices/${notice}/reconsent${purposes === undefined ? '' : `?purposes=${encodeURIComponent(purposes)}`}`, { key: k });

/** The counts as {purpose: n, '*': distinct total}, after checking the answer's shape. */
async function counts(purposes, notice = 'privacy') {
  const res = await reconsent(notice, purposes.join(','));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.notice, notice);
  assert.deepEqual(res.json.purposes.map((p) => p.purpose), purposes, 'in the order asked');
  return { ...Object.fromEntries(res.json.purposes.map((p) => [p.purpose, p.subjects])), '*': res.json.subjects, version: res.json.version };
}

async function ledgerSize() {
  let n = 0;
  let cursor = '';
  for (;;) {
    const page = (await request(server, 'GET', `/v1/ledger/events?limit=200${cursor}`, { key })).json;
    n += page.items.length;
    if (!page.next_cursor) return n;
    cursor = `&cursor=${encodeURIComponent(page.next_cursor)}`;
  }
}

test('counts the people whose consent is given under an earlier version: not refused, withdrawn, or another notice\'s', async () => {
  // version 1
  await decide('s-a', [[SMS, 'given'], [ANALYTICS, 'given']]);
  await decide('s-b', [[SMS, 'given'], [ANALYTICS, 'refused']]);
  await decide('s-c', [[SMS, 'given'], [ANALYTICS, 'given']]);
  await decide('s-c', [[SMS, 'withdrawn']]);
  await decide('s-g', [[SMS, 'refused']]);
  await decide('s-e', [[SMS, 'given']], 1, 'other'); // another notice: its changes are its own
  let c = await counts(ALL);
  assert.deepEqual(c, { [SMS]: 2, [ANALYTICS]: 2, [SHARE]: 0, '*': 3, version: 1 });

  // version 2 changes nothing materially: nobody is sent back, and the counts for version 3 take in both
  const v2 = await publish('privacy', ALL.map((purpose) => ({ purpose, change: 'notify_only' })), 'Same, reworded.');
  assert.equal(v2.reconsent_required, 0);
  await decide('s-d', [[SMS, 'given']], 2);
  await decide('s-f', [[SHARE, 'given', 'hq-eu']], 2); // two consents, one person
  await decide('s-f', [[SHARE, 'given', 'cdp-vendor']], 2);
  await decide('s-h', [[SHARE, 'given', 'hq-eu']], 2);
  await decide('s-h', [[SHARE, 'refused', 'cdp-vendor']], 2);
  c = await counts(ALL);
  assert.deepEqual(c, { [SMS]: 3, [ANALYTICS]: 2, [SHARE]: 2, '*': 6, version: 2 },
    'sms: s-a, s-b (v1), s-d (v2); analytics: s-a, s-c; share: s-f, s-h; in all s-a, s-b, s-c, s-d, s-f, s-h');
  assert.deepEqual(await counts([ANALYTICS]), { [ANALYTICS]: 2, '*': 2, version: 2 });
  assert.deepEqual(await counts([SHARE, SMS]), { [SHARE]: 2, [SMS]: 3, '*': 5, version: 2 });
  assert.deepEqual(await counts([SMS], 'other'), { [SMS]: 1, '*': 1, version: 1 }, 'the other notice: s-e only');
  const draft = await counts([SMS], 'draft');
  assert.deepEqual(draft, { [SMS]: 0, '*': 0, version: null }, 'a notice never published sends nobody back');
});

test('publishing a material change sends exactly the people counted back; then the count is 0 and decide and the experience ask again', async () => {
  const before = await counts(ALL);
  const size = await ledgerSize();
  await counts(ALL);
  assert.equal(await ledgerSize(), size, 'asking writes nothing');

  const v3 = await publish('privacy', [{ purpose: SMS, change: 'material' }, { purpose: ANALYTICS, change: 'notify_only' }, { purpose: SHARE, change: 'notify_only' }], 'SMS now also from our partners.');
  assert.equal(v3.version, 3);
  assert.equal(v3.reconsent_required, before[SMS], 'the publish sent back as many as were counted (one consent each)');
  const after = await counts(ALL);
  assert.deepEqual(after, { [SMS]: 0, [ANALYTICS]: before[ANALYTICS], [SHARE]: before[SHARE], '*': 4, version: 3 },
    'sms: nobody left to send back; the others unchanged (s-a, s-c, s-f, s-h)');

  for (const subject of ['s-a', 's-b', 's-d']) {
    const state = (await request(server, 'GET', `/v1/subjects/${subject}/consents`, { key })).json.consents.find((x) => x.purpose === SMS);
    assert.equal(state.status, 'reconsent_required', subject);
  }
  const untouched = (await request(server, 'GET', '/v1/subjects/s-c/consents', { key })).json.consents.find((x) => x.purpose === SMS);
  assert.equal(untouched.status, 'withdrawn', 'a withdrawal stays a withdrawal');
  assert.equal((await request(server, 'GET', '/v1/subjects/s-e/consents', { key })).json.consents[0].status, 'given', 'the other notice\'s consent stands');

  let d;
  for (let i = 0; i < 50; i++) { // decide reads the in-memory index, which the writer updates just after the commit
    d = (await request(server, 'GET', `/v1/decide?subject=s-a&purpose=${SMS}`, { key })).json;
    if (!d.allowed) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(d.allowed, false, JSON.stringify(d));
  assert.ok(d.reasons.includes('reconsent_required'), JSON.stringify(d));
  assert.equal((await request(server, 'GET', `/v1/decide?subject=s-a&purpose=${ANALYTICS}`, { key })).json.allowed, true, 'notify-only: still allowed');
  const x = (await request(server, 'GET', '/v1/experience?property=shop&region=CN&locale=en&subject=s-a', { headers: { authorization: `Bearer ${key}` } })).json;
  assert.deepEqual(x.reasons.filter((r) => r.purpose !== SHARE), [{ purpose: SMS, reason: 'reconsent_required' }], 'SMS asked again (s-a was never asked about sharing)');
  assert.equal(x.notice.version, 3);

  // consenting again under version 3: a consent on the latest version, which the next version would change in its turn
  await decide('s-a', [[SMS, 'given']], 3);
  assert.deepEqual(await counts([SMS]), { [SMS]: 1, '*': 1, version: 3 }, 'publish sends back every given consent older than the version it publishes');
});

test('many people: the counts and the distinct total hold across pages, and match the publish', async () => {
  await fx.createAll(request, server, key, [
    ['/v1/purposes', fx.purpose('mass.a')],
    ['/v1/purposes', fx.purpose('mass.b')],
    ['/v1/notices', { ...fx.notice(), id: 'mass' }],
  ]);
  await publish('mass', [{ purpose: 'mass.a', change: 'material' }, { purpose: 'mass.b', change: 'material' }]);
  const want = { 'mass.a': 0, 'mass.b': 0, '*': 0 };
  for (let i = 0; i < 150; i++) {
    const a = i % 2 === 0;
    const b = i % 3 === 0 || i > 140;
    const decisions = [];
    if (a || i % 7 === 1) decisions.push(['mass.a', a ? 'given' : 'refused']);
    if (b) decisions.push(['mass.b', 'given']);
    if (!decisions.length) continue;
    await decide(`m-${String(i).padStart(3, '0')}`, decisions, 1, 'mass');
    want['mass.a'] += a ? 1 : 0;
    want['mass.b'] += b ? 1 : 0;
    want['*'] += a || b ? 1 : 0;
  }
  assert.ok(want['mass.a'] > 64 && want['*'] > 100, 'more than a page of the store\'s');
  assert.deepEqual(await counts(['mass.b', 'mass.a'], 'mass'), { ...want, version: 1 });
  const v2 = await publish('mass', [{ purpose: 'mass.a', change: 'material' }, { purpose: 'mass.b', change: 'material' }]);
  assert.equal(v2.reconsent_required, want['mass.a'] + want['mass.b'], 'the publish sent back the consents counted');
  assert.deepEqual(await counts(['mass.a', 'mass.b'], 'mass'), { 'mass.a': 0, 'mass.b': 0, '*': 0, version: 2 });
});

test('an unknown notice is 404; a missing, unknown, malformed or repeated purpose is a 422 naming it; config scope needed', async () => {
  expectProblem(assert, await reconsent('nope', SMS), 404, 'not_found');
  expectProblem(assert, await reconsent('Bad%20Id', SMS), 404, 'not_found');
  const field = async (purposes, name, message) => {
    const p = expectProblem(assert, await reconsent('privacy', purposes), 422, 'validation_failed');
    assert.equal(p.errors[0].field, name, JSON.stringify(p));
    if (message) assert.match(p.errors[0].message, message);
  };
  await field(undefined, 'purposes', /required/);
  await field('', 'purposes', /required/);
  await field(`${SMS},no.such`, 'purposes[1]', /unknown purpose 'no.such'/);
  await field('Marketing SMS', 'purposes[0]', /not a purpose id/);
  await field(`${SMS},,${ANALYTICS}`, 'purposes[1]', /not a purpose id/);
  await field(`${SMS},${ANALYTICS},${SMS}`, 'purposes[2]', /listed twice/);
  await field(Array.from({ length: 257 }, (_, i) => `p${i}`).join(','), 'purposes', /at most 256/);

  const reader = await request(server, 'POST', '/v1/api-keys', { key, body: { name: 'reader', scopes: ['decisions:read'] } });
  assert.equal(reader.status, 201, reader.text);
  expectProblem(assert, await reconsent('privacy', SMS, reader.json.key), 403, 'forbidden');
  expectProblem(assert, await reconsent('privacy', SMS, null), 401, 'unauthorized');
  const configurer = await request(server, 'POST', '/v1/api-keys', { key, body: { name: 'configurer', scopes: ['config'] } });
  assert.equal((await reconsent('privacy', SMS, configurer.json.key)).status, 200);
});

test('a person whose consents to one purpose (one per recipient) straddle two of the sweep\'s batches is sent back whole', async () => {
  const BATCH = 256; // CPM_SCHEDULER_BATCH: the publish's sweep pages by subject, this many rows at a time
  await fx.createAll(request, server, key, [
    ['/v1/purposes', fx.purpose('share.split', { consent_form: 'separate', recipients: ['r1', 'r2'] })],
    ['/v1/notices', { ...fx.notice(), id: 'split' }],
  ]);
  await publish('split', [{ purpose: 'share.split', change: 'material' }]);
  const given = (recipient) => ['share.split', 'given', recipient];
  for (let i = 0; i < BATCH - 1; i++) await decide(`x-${String(i).padStart(3, '0')}`, [given('r1')], 1, 'split');
  await decide('x-999', [given('r1')], 1, 'split'); // rows BATCH and BATCH + 1
  await decide('x-999', [given('r2')], 1, 'split');
  assert.deepEqual(await counts(['share.split'], 'split'), { 'share.split': BATCH, '*': BATCH, version: 1 });
  const v2 = await publish('split', [{ purpose: 'share.split', change: 'material' }]);
  assert.equal(v2.reconsent_required, BATCH + 1, 'every consent sent back, both of the last person\'s');
  assert.deepEqual(await counts(['share.split'], 'split'), { 'share.split': 0, '*': 0, version: 2 });
});
