// SPDX-License-Identifier: Apache-2.0
// The ad-audience connectors (tencent_ads, ocean_engine) against one fake
// of both vendors (support/fake_ads.mjs), from one cpmd with a short
// batch_interval_ms: consents to ads.* given reach each vendor as ONE
// APPEND batch of hashed mobile numbers (Tencent: MD5 in a text file;
// Ocean Engine: SHA-256 in a zipped protobuf file, uploaded then applied to
// the data source), withdrawals as one REDUCE batch; the audiences' end
// state on the fake; fewer requests than events; a rate limit retried after
// the vendor's wait; a refused batch in the dead letters with the vendor's
// code; an expired token retried with a detail; a subject without a phone
// delivered with nothing to do; the plaintext number never sent or logged;
// bad documents refused naming the field.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';
import { md5, sha256, startFakeAds } from './support/fake_ads.mjs';
import * as deliveryLog from './support/deliveries.mjs';

const serverEnv = { CPM_OUTBOUND_ALLOW: '127.0.0.1/32', CPM_RETRY_BASE_MS: '50', CPM_RETRY_MAX_MS: '200' };
// Characters a query string must escape, so that the connector's encoding is checked too.
const TENCENT_TOKEN = 'tx+token/with=chars&x?y_0123456789abcdef';
const OCEAN_TOKEN = 'oe0123456789abcdef0123456789abcdef012345';
const ACCOUNT_ID = '20458921';
const AUDIENCE_ID = '37219045';
const ADVERTISER_ID = '1760312345678901';
const DATA_SOURCE_ID = 'ds_1760312345_7c1e9a';
const INTERVAL_MS = 300;
const PURPOSE = 'ads.personalised';

// Subjects and their mobile numbers (the 11 digits the vendors hash).
const mobile = (n) => `138001380${String(n).padStart(2, '0')}`;
const PHONES = Array.from({ length: 12 }, (_, i) => mobile(i + 1));

let data, server, key, notice, fake;

before(async () => {
  fake = await startFakeAds({
    tencent: { token: TENCENT_TOKEN, accountId: ACCOUNT_ID, audiences: [AUDIENCE_ID] },
    ocean: { token: OCEAN_TOKEN, advertiserId: ADVERTISER_ID, dataSources: [DATA_SOURCE_ID] },
    plaintext: PHONES,
  });
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data, { env: serverEnv });
  await fx.createAll(request, server, key, [
    ['/v1/properties', fx.property()],
    ['/v1/purposes', fx.purpose(PURPOSE)],
    ['/v1/purposes', fx.purpose('marketing.sms')],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version([PURPOSE, 'marketing.sms'])],
  ]);
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
  for (const [id, body] of [
    ['tx', { kind: 'tencent_ads', endpoint: fake.tencentUrl, secret: TENCENT_TOKEN, account_id: ACCOUNT_ID, audience_id: AUDIENCE_ID }],
    ['oe', { kind: 'ocean_engine', endpoint: fake.oceanUrl, secret: OCEAN_TOKEN, account_id: ADVERTISER_ID, audience_id: DATA_SOURCE_ID }],
  ]) {
    const res = await request(server, 'POST', '/v1/destinations', {
      key, body: { id, name: `Ads ${id}`, batch_interval_ms: INTERVAL_MS, max_attempts: 5, ...body },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.rules.length, 2, 'the default rules: reduce on stops, append on given');
  }
});

after(async () => {
  const exit = await stopServer(server);
  await fake.stop();
  data.cleanup();
  assert.deepEqual(exit, { code: 0, signal: null }, 'cpmd stops cleanly (sanitizers included)');
  for (const secret of [TENCENT_TOKEN, OCEAN_TOKEN, ...PHONES]) {
    assert.ok(!server.log.some((l) => l.includes(secret)), `${secret} logged`);
  }
});

const decide = (subject, decision, purpose = PURPOSE) =>
  request(server, 'POST', `/v1/subjects/${subject}/consents`, {
    key, body: fx.consentBody(notice, [{ purpose, decision }]),
  });

/** Creates the subject; with a number, links it as the subject's phone (E.164, +86). */
async function subject(id, phone) {
  if (phone === undefined) {
    const put = await request(server, 'PUT', `/v1/subjects/${id}`, { key, body: { age_status: 'adult' } });
    assert.ok(put.status === 200 || put.status === 201, put.text);
    return;
  }
  const res = await request(server, 'POST', `/v1/subjects/${id}/identities`, {
    key, body: { type: 'phone', value: `+86${phone}` },
  });
  assert.equal(res.status, 201, res.text);
}

const deliveries = (id, query = '') => deliveryLog.deliveries(server, key, id, query);
const logWhen = (id, pred, query = '') => deliveryLog.logWhen(server, key, id, pred, query, 200);

const of = (vendor) => (b) => b.vendor === vendor;
const sorted = (a) => [...a].sort();
const hashes = { tencent: (phones) => sorted(phones.map(md5)), ocean: (phones) => sorted(phones.map(sha256)) };
const DEST = { tencent: 'tx', ocean: 'oe' };

test('consents given: one APPEND batch per vendor; withdrawals: one REDUCE batch; the audiences end right', async () => {
  const people = [1, 2, 3, 4].map((n) => ({ id: `ad-${n}`, phone: mobile(n) }));
  for (const p of people) await subject(p.id, p.phone);
  await subject('ad-nophone');
  const requestsBefore = { tencent: fake.requests.length };
  const batchesBefore = fake.batches.length;

  const given = await Promise.all([...people.map((p) => p.id), 'ad-nophone'].map((id) => decide(id, 'given')));
  for (const res of given) assert.equal(res.status, 201, res.text);
  await fake.waitFor(() => ['tencent', 'ocean'].every((v) => fake.batches.slice(batchesBefore).filter(of(v)).length >= 1));
  await new Promise((r) => setTimeout(r, INTERVAL_MS * 2)); // nothing more should come

  for (const vendor of ['tencent', 'ocean']) {
    const batches = fake.batches.slice(batchesBefore).filter(of(vendor));
    assert.equal(batches.length, 1, `${vendor}: one batch for five events: ${JSON.stringify(batches)}`);
    assert.equal(batches[0].op, 'APPEND');
    assert.deepEqual(sorted(batches[0].ids), hashes[vendor](people.map((p) => p.phone)));
    assert.deepEqual(sorted(fake.members(vendor, vendor === 'tencent' ? AUDIENCE_ID : DATA_SOURCE_ID)),
      hashes[vendor](people.map((p) => p.phone)));
  }
  // Batching: Tencent one request, Ocean Engine one upload and one update, for five events.
  const sent = fake.requests.slice(requestsBefore.tencent);
  assert.equal(sent.filter((r) => r.vendor === 'tencent').length, 1);
  assert.deepEqual(sent.filter((r) => r.vendor === 'ocean').map((r) => r.path),
    ['/open_api/2/dmp/data_source/file/upload/', '/open_api/2/dmp/data_source/update/']);
  assert.deepEqual(fake.invalid, []);

  for (const vendor of ['tencent', 'ocean']) {
    const log = await logWhen(DEST[vendor], (l) => l.filter((d) => d.outcome === 'delivered').length >= 5);
    assert.equal(log.length, 5, JSON.stringify(log));
    const none = log.find((d) => d.subject === 'ad-nophone');
    assert.equal(none.detail, 'no phone for this subject: nothing to do');
    for (const d of log.filter((x) => x.subject !== 'ad-nophone')) {
      assert.equal(d.outcome, 'delivered');
      assert.equal(d.status, 200);
      assert.match(d.detail, /APPEND of 4 hashed phone\(s\)/);
    }
    for (const d of log) for (const p of PHONES) assert.ok(!d.detail.includes(p), `plaintext in ${d.detail}`);
  }

  // Two withdrawals: one REDUCE batch each; the others stay.
  const stops = await Promise.all(['ad-1', 'ad-2'].map((id) => decide(id, 'withdrawn')));
  for (const res of stops) assert.equal(res.status, 201, res.text);
  await fake.waitFor(() => ['tencent', 'ocean'].every((v) => fake.batches.slice(batchesBefore).filter(of(v)).length >= 2));
  await new Promise((r) => setTimeout(r, INTERVAL_MS * 2));
  for (const vendor of ['tencent', 'ocean']) {
    const batches = fake.batches.slice(batchesBefore).filter(of(vendor));
    assert.equal(batches.length, 2, JSON.stringify(batches));
    assert.equal(batches[1].op, 'REDUCE');
    assert.deepEqual(sorted(batches[1].ids), hashes[vendor]([mobile(1), mobile(2)]));
    assert.deepEqual(sorted(fake.members(vendor, vendor === 'tencent' ? AUDIENCE_ID : DATA_SOURCE_ID)),
      hashes[vendor]([mobile(3), mobile(4)]));
    const log = await logWhen(DEST[vendor], (l) => l.filter((d) => d.outcome === 'delivered').length >= 7);
    const reduced = log.filter((d) => d.event_type === 'consent.withdrawn');
    assert.equal(reduced.length, 2, JSON.stringify(log));
    for (const d of reduced) assert.match(d.detail, /REDUCE of 2 hashed phone\(s\)/);
  }
  assert.deepEqual(fake.invalid, []);
});

test('a rate limit is retried after the vendor\'s wait, then accepted', async () => {
  await subject('ad-5', mobile(5));
  const from = fake.requests.length;
  fake.rateLimit('tencent', 1);
  fake.rateLimit('ocean', 1);
  assert.equal((await decide('ad-5', 'given')).status, 201);
  await fake.waitFor(() => fake.members('tencent', AUDIENCE_ID).has(md5(mobile(5))) &&
    fake.members('ocean', DATA_SOURCE_ID).has(sha256(mobile(5))));
  for (const [vendor, code] of [['tencent', 11016], ['ocean', 40100]]) {
    const sent = fake.requests.slice(from).filter((r) => r.vendor === vendor);
    assert.equal(sent[0].code, code);
    assert.equal(sent[1].code, 0);
    assert.ok(sent[1].at - sent[0].at >= 900, `${vendor}: retried ${sent[1].at - sent[0].at} ms later, not after the 1 s the code asks`);
    const log = await logWhen(DEST[vendor], (l) => l.some((d) => d.subject === 'ad-5' && d.outcome === 'delivered'));
    const rows = log.filter((d) => d.subject === 'ad-5').sort((a, b) => a.attempt - b.attempt);
    assert.deepEqual(rows.map((d) => d.outcome), ['failed', 'delivered']);
    assert.match(rows[0].detail, new RegExp(`rate limited, code ${code}`));
  }
  assert.deepEqual(fake.invalid, []);
});

test('a batch the vendor refuses goes to the dead letters with its code and message', async () => {
  await subject('ad-6', mobile(6));
  fake.fail('tencent', 50005, 'audience id invalid');
  fake.fail('ocean', 40002, 'data_source_id does not exist');
  assert.equal((await decide('ad-6', 'given')).status, 201);
  for (const [vendor, pattern] of [['tencent', /APPEND refused: code 50005: audience id invalid/],
    ['ocean', /APPEND file upload refused: code 40002: data_source_id does not exist/]]) {
    const dead = await logWhen(DEST[vendor], (l) => l.some((d) => d.subject === 'ad-6'), '&status=dead');
    const row = dead.find((d) => d.subject === 'ad-6');
    assert.equal(row.attempt, 1, 'refused for good: not retried');
    assert.match(row.detail, pattern);
  }
  assert.ok(!fake.members('tencent', AUDIENCE_ID).has(md5(mobile(6))));
  assert.deepEqual(fake.invalid, []);
});

test('an expired access token is retried with a detail (the token never shown), then goes through', async () => {
  await subject('ad-7', mobile(7));
  fake.expireToken('tencent');
  fake.expireToken('ocean');
  assert.equal((await decide('ad-7', 'given')).status, 201);
  for (const [vendor, code] of [['tencent', 11000], ['ocean', 40102]]) {
    const failed = await logWhen(DEST[vendor], (l) => l.some((d) => d.subject === 'ad-7'), '&status=failed');
    const row = failed.find((d) => d.subject === 'ad-7');
    assert.match(row.detail, new RegExp(`access token is expired or invalid \\(code ${code}\\): set a new secret`));
    assert.ok(!row.detail.includes(TENCENT_TOKEN) && !row.detail.includes(OCEAN_TOKEN));
  }
  fake.expireToken('tencent', false);
  fake.expireToken('ocean', false);
  await fake.waitFor(() => fake.members('tencent', AUDIENCE_ID).has(md5(mobile(7))) &&
    fake.members('ocean', DATA_SOURCE_ID).has(sha256(mobile(7))));
  for (const vendor of ['tencent', 'ocean']) {
    await logWhen(DEST[vendor], (l) => l.some((d) => d.subject === 'ad-7' && d.outcome === 'delivered'));
  }
  const dest = (await request(server, 'GET', '/v1/destinations/tx', { key })).json;
  assert.equal(dest.secret, undefined, 'the token is never read back');
  assert.deepEqual(fake.invalid, []);
});

test('a phone that is not a mainland China mobile is delivered with nothing to do', async () => {
  const res = await request(server, 'POST', '/v1/subjects/ad-abroad/identities', {
    key, body: { type: 'phone', value: '+6591234567' },
  });
  assert.equal(res.status, 201, res.text);
  const before = fake.requests.length;
  assert.equal((await decide('ad-abroad', 'given')).status, 201);
  for (const vendor of ['tencent', 'ocean']) {
    const log = await logWhen(DEST[vendor], (l) => l.some((d) => d.subject === 'ad-abroad'));
    const row = log.find((d) => d.subject === 'ad-abroad');
    assert.equal(row.outcome, 'delivered');
    assert.equal(row.detail, 'the subject\'s phone is not a mainland China mobile number: nothing to do');
    assert.ok(!row.detail.includes('91234567'));
  }
  await new Promise((r) => setTimeout(r, INTERVAL_MS * 2));
  assert.equal(fake.requests.length, before, 'nothing sent');
});

test('bad ad destination documents are refused, naming the field', async () => {
  const base = {
    tencent_ads: { endpoint: fake.tencentUrl, secret: TENCENT_TOKEN, account_id: ACCOUNT_ID, audience_id: AUDIENCE_ID },
    ocean_engine: { endpoint: fake.oceanUrl, secret: OCEAN_TOKEN, account_id: ADVERTISER_ID, audience_id: DATA_SOURCE_ID },
  };
  for (const kind of ['tencent_ads', 'ocean_engine']) {
    for (const field of ['audience_id', 'account_id', 'secret']) {
      const body = { id: 'bad-ads', name: 'Bad', kind, ...base[kind] };
      delete body[field];
      const p = expectProblem(assert, await request(server, 'POST', '/v1/destinations', { key, body }), 422, 'validation_failed');
      assert.ok(p.errors.some((e) => e.field === field), `${kind} without ${field}: ${JSON.stringify(p)}`);
    }
    const body = { id: 'bad-ads', name: 'Bad', kind, ...base[kind], rules: [{ action: 'tag_add', tag: 't' }] };
    const p = expectProblem(assert, await request(server, 'POST', '/v1/destinations', { key, body }), 422, 'validation_failed');
    assert.ok(p.errors.some((e) => e.field === 'rules[0]'), JSON.stringify(p));
    const slow = { id: 'bad-ads', name: 'Bad', kind, ...base[kind], batch_interval_ms: 10 };
    const q = expectProblem(assert, await request(server, 'POST', '/v1/destinations', { key, body: slow }), 422, 'validation_failed');
    assert.ok(q.errors.some((e) => e.field === 'batch_interval_ms'), JSON.stringify(q));
  }
  assert.equal((await request(server, 'GET', '/v1/destinations/bad-ads', { key })).status, 404);
});
