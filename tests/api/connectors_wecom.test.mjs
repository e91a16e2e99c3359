// SPDX-License-Identifier: Apache-2.0
// The wecom_tags connector against a fake WeCom (support/fake_wecom.mjs):
// a consent given adds the rule's customer tag to the subject's external
// contact, a withdrawal removes it (end state checked on the fake), with
// the documented request shape; one access_token serves every event; an
// expired token is fetched again; 45009 is retried; a subject who is not
// the owner's contact goes to the dead letters with 84061; a subject
// without a wecom_external_userid is delivered with nothing to do; a wrong
// secret is named (and never shown); bad documents are refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';
import { startFakeWecom } from './support/fake_wecom.mjs';
import * as deliveryLog from './support/deliveries.mjs';

const serverEnv = { CPM_OUTBOUND_ALLOW: '127.0.0.1/32', CPM_RETRY_BASE_MS: '50', CPM_RETRY_MAX_MS: '200' };
const CORP_ID = 'ww5f2b7c1d9e3a4b60';
// Characters a query string must escape, so that the connector's encoding is checked too.
const SECRET = 'Qm9v+corp/secret=&x?y_0123456789abcdefABCDEF';
const OWNER = 'zhangsan';
const TAG = 'etAJ2GCAAAd1NPGHKSD4wKmE8Aabj9AAA';
const OTHER_TAG = 'etAJ2GCAAAxxOtherTagxxxxxxxxxxxxA';
const RULES = [
  { when: { types: ['consent.given'], purposes: ['marketing.wecom'] }, action: 'tag_add', tag: TAG },
  { when: { types: ['consent.withdrawn', 'consent.refused'], purposes: ['marketing.wecom'] }, action: 'tag_remove', tag: TAG },
];
let data, server, key, notice;

before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data, { env: serverEnv });
  await fx.createAll(request, server, key, [
    ['/v1/properties', fx.property()],
    ['/v1/purposes', fx.purpose('marketing.wecom')],
    ['/v1/purposes', fx.purpose('marketing.sms')],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version(['marketing.wecom', 'marketing.sms'])],
  ]);
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
});
after(async () => {
  const exit = await stopServer(server);
  data.cleanup();
  assert.deepEqual(exit, { code: 0, signal: null }, 'cpmd stops cleanly (sanitizers included)');
});

/** A fresh external_userid like WeCom's ("wm" + 30 base64url characters). */
const externalId = () => `wm${randomBytes(24).toString('base64url').slice(0, 30)}`;

const decide = (subject, decision, purpose = 'marketing.wecom') =>
  request(server, 'POST', `/v1/subjects/${subject}/consents`, {
    key, body: fx.consentBody(notice, [{ purpose, decision }]),
  });

/** Links the subject's WeCom id (the subject is created on first use); with none, only creates it. */
async function link(subject, externalUserid) {
  if (externalUserid === undefined) {
    const put = await request(server, 'PUT', `/v1/subjects/${subject}`, { key, body: { age_status: 'adult' } });
    assert.equal(put.status, 200, put.text);
    return;
  }
  const res = await request(server, 'POST', `/v1/subjects/${subject}/identities`, {
    key, body: { type: 'wecom_external_userid', value: externalUserid },
  });
  assert.equal(res.status, 201, res.text);
}

async function destination(id, fake, extra = {}) {
  const res = await request(server, 'POST', '/v1/destinations', {
    key,
    body: { id, name: `WeCom ${id}`, kind: 'wecom_tags', endpoint: fake.url, corp_id: CORP_ID, owner_userid: OWNER, secret: SECRET, rules: RULES, ...extra },
  });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

const deliveries = (id, query = '') => deliveryLog.deliveries(server, key, id, query);
const logWhen = (id, pred, query = '') => deliveryLog.logWhen(server, key, id, pred, query);

const byAttempt = (log, subject) => log.filter((d) => d.subject === subject).sort((a, b) => a.attempt - b.attempt);

/** Every gettoken carried exactly the documented query. */
function assertTokenRequests(fake) {
  for (const r of fake.calls('gettoken')) {
    assert.equal(r.method, 'GET');
    assert.deepEqual(r.query, { corpid: CORP_ID, corpsecret: SECRET });
  }
}

/** The one mark_tag request body the connector must send. */
const markBody = (externalUserid, field) => ({ userid: OWNER, external_userid: externalUserid, [field]: [TAG] });

test('consent given adds the tag, withdrawal removes it; one access_token serves every event', async () => {
  const subjects = Array.from({ length: 6 }, (_, i) => [`wc-${i}`, externalId()]);
  const fake = await startFakeWecom({ corpId: CORP_ID, secret: SECRET, owner: OWNER, tags: [TAG, OTHER_TAG], contacts: subjects.map(([, e]) => e) });
  try {
    for (const [s, e] of subjects) await link(s, e);
    await destination('wecom', fake);
    // At once: the lanes that find no token wait for the one fetch in flight.
    for (const res of await Promise.all(subjects.map(([s]) => decide(s, 'given')))) assert.equal(res.status, 201);
    await fake.waitFor(() => subjects.every(([, e]) => fake.tagsOf(e).includes(TAG)));
    const [s0, e0] = subjects[0];
    assert.equal((await decide(s0, 'withdrawn')).status, 201);
    await fake.waitFor(() => fake.tagsOf(e0).length === 0);
    // Another purpose matches no rule: nothing is sent for it.
    assert.equal((await decide(subjects[1][0], 'withdrawn', 'marketing.sms')).status, 201);
    await new Promise((r) => setTimeout(r, 400));

    assert.deepEqual(fake.tagsOf(e0), []);
    for (const [, e] of subjects.slice(1)) assert.deepEqual(fake.tagsOf(e), [TAG]);
    assert.equal(fake.calls('gettoken').length, 1, 'the token is fetched once and reused');
    assertTokenRequests(fake);
    const marks = fake.calls('mark_tag');
    assert.equal(marks.length, 7);
    assert.ok(marks.every((r) => r.errcode === 0), JSON.stringify(marks.map((r) => r.errcode)));
    const token = marks[0].query.access_token;
    for (const r of marks) {
      assert.equal(r.method, 'POST');
      assert.match(r.headers['content-type'], /^application\/json/);
      assert.deepEqual(r.query, { access_token: token }, 'the same token on every call');
    }
    for (const [, e] of subjects) {
      const adds = marks.filter((r) => r.body.external_userid === e && r.body.add_tag);
      assert.equal(adds.length, 1);
      assert.deepEqual(adds[0].body, markBody(e, 'add_tag'));
      assert.deepEqual(Object.keys(adds[0].body), ['userid', 'external_userid', 'add_tag']);
    }
    const removes = marks.filter((r) => r.body.remove_tag);
    assert.deepEqual(removes.map((r) => r.body), [markBody(e0, 'remove_tag')]);

    const log = await logWhen('wecom', (l) => l.length >= 7);
    assert.equal(log.length, 7, JSON.stringify(log));
    assert.ok(log.every((d) => d.outcome === 'delivered' && d.status === 200 && d.attempt === 1), JSON.stringify(log));
    assert.deepEqual(byAttempt(log, s0).map((d) => [d.event_type, d.detail]).sort(), [
      ['consent.given', `add_tag [${TAG}]: ok`],
      ['consent.withdrawn', `remove_tag [${TAG}]: ok`],
    ]);
    const text = JSON.stringify(log) + server.log.join('\n');
    assert.ok(!text.includes(SECRET) && !text.includes(token), 'neither the secret nor the token is logged');
    for (const [, e] of subjects) assert.ok(!text.includes(e), 'no external_userid in the log');
  } finally {
    await request(server, 'DELETE', '/v1/destinations/wecom', { key });
    await fake.stop();
  }
});

test('an expired access_token is dropped and fetched again; the call then succeeds', async () => {
  const [a, b] = [externalId(), externalId()];
  const fake = await startFakeWecom({ corpId: CORP_ID, secret: SECRET, owner: OWNER, tags: [TAG], contacts: [a, b] });
  try {
    await link('exp-a', a);
    await link('exp-b', b);
    await destination('wecom-expiry', fake);
    await decide('exp-a', 'given');
    await fake.waitFor(() => fake.tagsOf(a).includes(TAG));
    fake.expireTokens();
    await decide('exp-b', 'given');
    await fake.waitFor(() => fake.tagsOf(b).includes(TAG));
    assert.equal(fake.calls('gettoken').length, 2);
    assertTokenRequests(fake);
    const marks = fake.calls('mark_tag');
    assert.deepEqual(marks.map((r) => r.errcode), [0, 42001, 0]);
    assert.equal(marks[1].query.access_token, marks[0].query.access_token, 'the old token, then');
    assert.notEqual(marks[2].query.access_token, marks[0].query.access_token, 'a new one');
    assert.deepEqual(marks[2].body, markBody(b, 'add_tag'));
    const log = byAttempt(await logWhen('wecom-expiry', (l) => l.some((d) => d.subject === 'exp-b' && d.outcome === 'delivered')), 'exp-b');
    assert.deepEqual(log.map((d) => [d.attempt, d.outcome]), [[1, 'failed'], [2, 'delivered']]);
    assert.match(log[0].detail, /errcode 42001 \(access_token expired\)/);
  } finally {
    await request(server, 'DELETE', '/v1/destinations/wecom-expiry', { key });
    await fake.stop();
  }
});

test('45009 (frequency limit) is retried until WeCom accepts', async () => {
  const e = externalId();
  const fake = await startFakeWecom({ corpId: CORP_ID, secret: SECRET, owner: OWNER, tags: [TAG], contacts: [e] });
  try {
    await link('freq-1', e);
    await destination('wecom-freq', fake);
    fake.failNext('mark_tag', 45009, 2);
    await decide('freq-1', 'given');
    await fake.waitFor(() => fake.tagsOf(e).includes(TAG));
    const marks = fake.calls('mark_tag');
    assert.deepEqual(marks.map((r) => r.errcode), [45009, 45009, 0]);
    assert.ok(marks.every((r) => JSON.stringify(r.body) === JSON.stringify(markBody(e, 'add_tag'))));
    assert.equal(fake.calls('gettoken').length, 1, 'a frequency limit keeps the token');
    const log = byAttempt(await logWhen('wecom-freq', (l) => l.some((d) => d.outcome === 'delivered')), 'freq-1');
    assert.deepEqual(log.map((d) => [d.attempt, d.outcome]), [[1, 'failed'], [2, 'failed'], [3, 'delivered']]);
    assert.match(log[0].detail, /errcode 45009 \(API frequency limit\): api freq out of limit$/);
  } finally {
    await request(server, 'DELETE', '/v1/destinations/wecom-freq', { key });
    await fake.stop();
  }
});

test('a subject who is not the owner\'s contact goes to the dead letters with 84061; one without an id is delivered with nothing to do', async () => {
  const [contact, stranger] = [externalId(), externalId()];
  const fake = await startFakeWecom({ corpId: CORP_ID, secret: SECRET, owner: OWNER, tags: [TAG], contacts: [contact] });
  try {
    await link('nc-stranger', stranger);
    await link('nc-none');
    await link('nc-contact', contact);
    await destination('wecom-nc', fake);
    await decide('nc-stranger', 'given');
    await decide('nc-none', 'given');
    await decide('nc-contact', 'given');
    await fake.waitFor(() => fake.tagsOf(contact).includes(TAG));
    const log = await logWhen('wecom-nc', (l) => l.length >= 3);
    await new Promise((r) => setTimeout(r, 300)); // no retry may follow
    const dead = await deliveries('wecom-nc', '&status=dead');
    assert.deepEqual(dead.map((d) => [d.subject, d.attempt]), [['nc-stranger', 1]]);
    assert.match(dead[0].detail, /^mark_tag add_tag \[[^\]]+\]: errcode 84061 \(not an external contact of owner_userid\): not external contact$/);
    assert.equal(fake.calls('mark_tag').filter((r) => r.body.external_userid === stranger).length, 1, 'rejected, not retried');
    const none = log.filter((d) => d.subject === 'nc-none');
    assert.deepEqual(none.map((d) => [d.outcome, d.detail]), [['delivered', 'no wecom_external_userid for this subject: nothing to do']]);
    assert.deepEqual(fake.calls('mark_tag').map((r) => r.body.external_userid).sort(), [contact, stranger].sort(), 'no call for nc-none');
    assert.equal(fake.tagsOf(stranger), undefined);
  } finally {
    await request(server, 'DELETE', '/v1/destinations/wecom-nc', { key });
    await fake.stop();
  }
});

test('an invalid tag id is rejected into the dead letters with 40068', async () => {
  const e = externalId();
  const fake = await startFakeWecom({ corpId: CORP_ID, secret: SECRET, owner: OWNER, tags: [OTHER_TAG], contacts: [e] });
  try {
    await link('tag-1', e);
    await destination('wecom-tag', fake);
    await decide('tag-1', 'given');
    const dead = await logWhen('wecom-tag', (l) => l.length >= 1, '&status=dead');
    assert.match(dead[0].detail, /errcode 40068 \(invalid tag id\)/);
    assert.equal(fake.calls('mark_tag').length, 1);
  } finally {
    await request(server, 'DELETE', '/v1/destinations/wecom-tag', { key });
    await fake.stop();
  }
});

test('a wrong secret: gettoken 40001 is retried, named, and runs out into the dead letters; the test send says so', async () => {
  const e = externalId();
  const fake = await startFakeWecom({ corpId: CORP_ID, secret: SECRET, owner: OWNER, tags: [TAG], contacts: [e] });
  const wrong = 'wrong-secret-0123456789abcdefghijklmnopqrst';
  try {
    await link('sec-1', e);
    await destination('wecom-secret', fake, { secret: wrong, max_attempts: 3 });
    await decide('sec-1', 'given');
    const dead = await logWhen('wecom-secret', (l) => l.length >= 1, '&status=dead');
    assert.equal(dead[0].attempt, 3);
    const log = byAttempt(await deliveries('wecom-secret'), 'sec-1');
    assert.deepEqual(log.map((d) => d.outcome), ['failed', 'failed', 'dead']);
    for (const d of log) assert.match(d.detail, /^gettoken errcode 40001 \(invalid secret: check the destination's secret\): invalid credential$/);
    assert.equal(fake.calls('gettoken').length, 3);
    assert.equal(fake.calls('mark_tag').length, 0);
    assert.deepEqual(fake.calls('gettoken')[0].query, { corpid: CORP_ID, corpsecret: wrong });

    const bad = await request(server, 'POST', '/v1/destinations/wecom-secret/test', { key });
    assert.equal(bad.status, 200, bad.text);
    assert.equal(bad.json.delivered, false);
    assert.match(bad.json.detail, /40001/);
    const patched = await request(server, 'PATCH', '/v1/destinations/wecom-secret', { key, body: { secret: SECRET } });
    assert.equal(patched.status, 200, patched.text);
    const good = await request(server, 'POST', '/v1/destinations/wecom-secret/test', { key });
    assert.equal(good.json.delivered, true, good.text);
    assert.equal(good.json.detail, 'access_token obtained: corp_id and secret are accepted');
    assert.equal(fake.calls('mark_tag').length, 0, 'a test send changes no tag');

    const text = JSON.stringify(await deliveries('wecom-secret')) + server.log.join('\n') + bad.text + good.text;
    assert.ok(!text.includes(wrong) && !text.includes(SECRET), 'the secret is never shown');
  } finally {
    await request(server, 'DELETE', '/v1/destinations/wecom-secret', { key });
    await fake.stop();
  }
});

test('a WeCom that does not answer in time is retried; a destination deleted mid-request stops cleanly', async () => {
  const e = externalId();
  const fake = await startFakeWecom({ corpId: CORP_ID, secret: SECRET, owner: OWNER, tags: [TAG], contacts: [e] });
  try {
    await link('slow-1', e);
    await destination('wecom-slow', fake, { timeout_ms: 300 });
    fake.delayNext('gettoken', 1000);
    await decide('slow-1', 'given');
    await fake.waitFor(() => fake.tagsOf(e).includes(TAG));
    const log = byAttempt(await logWhen('wecom-slow', (l) => l.some((d) => d.outcome === 'delivered')), 'slow-1');
    assert.deepEqual(log.map((d) => [d.attempt, d.outcome, d.status]), [[1, 'failed', 0], [2, 'delivered', 200]]);
    assert.match(log[0].detail, /^gettoken: Timeout/);
    // A mark_tag left unanswered when the destination goes: its sink closes with it in flight.
    fake.delayNext('mark_tag', 1500);
    await decide('slow-1', 'withdrawn');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await request(server, 'DELETE', '/v1/destinations/wecom-slow', { key })).status, 204);
  } finally {
    await request(server, 'DELETE', '/v1/destinations/wecom-slow', { key });
    await fake.stop();
  }
});

test('bad wecom_tags documents are refused with 422, naming the field', async () => {
  const base = { id: 'bad-wecom', name: 'Bad', kind: 'wecom_tags', endpoint: 'https://qyapi.weixin.qq.com', corp_id: CORP_ID, owner_userid: OWNER, secret: SECRET, rules: RULES };
  const without = (field) => Object.fromEntries(Object.entries(base).filter(([k]) => k !== field));
  const cases = [
    [without('owner_userid'), 'owner_userid', /is required for a wecom_tags destination/],
    [without('corp_id'), 'corp_id', /is required/],
    [without('secret'), 'secret', /is required/],
    [without('rules'), 'rules', /at least one rule/],
    [{ ...base, rules: [{ when: { types: ['consent.given'] }, action: 'tag_add' }] }, 'rules[0]', /WeCom tag id/],
    [{ ...base, rules: [{ action: 'suppress', tag: TAG }] }, 'rules[0]', /not one a wecom_tags destination takes/],
    [{ ...base, endpoint: 'ftp://qyapi.weixin.qq.com' }, 'endpoint', /http/],
  ];
  for (const [body, field, message] of cases) {
    const res = await request(server, 'POST', '/v1/destinations', { key, body });
    const p = expectProblem(assert, res, 422, 'validation_failed');
    const fault = p.errors.find((x) => x.field === field);
    assert.ok(fault, `${field}: ${res.text}`);
    assert.match(fault.message, message);
  }
  assert.equal((await request(server, 'GET', '/v1/destinations/bad-wecom', { key })).status, 404);
});
