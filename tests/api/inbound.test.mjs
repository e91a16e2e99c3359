// SPDX-License-Identifier: Apache-2.0
// Inbound SMS replies: "TD", "T", "N", "R", "退订" in any spelling withdraw
// SMS marketing for the number's subject, as a provable consent action,
// and the withdrawal reaches a destination within a second. Anything else
// changes nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';
import { startReceiver } from './support/receiver.mjs';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
let data, server, key, notice;

before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data, { env: { CPM_OUTBOUND_ALLOW: '127.0.0.1/32' } });
  await fx.createAll(request, server, key, [
    ['/v1/properties', fx.property()],
    ['/v1/purposes', fx.purpose('marketing.sms')],
    ['/v1/purposes', fx.purpose('marketing.sms.coupons')],
    ['/v1/purposes', fx.purpose('marketing.email')],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version(['marketing.sms', 'marketing.sms.coupons', 'marketing.email'])],
  ]);
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

/** A subject with a phone and every marketing consent given. */
async function subjectWithPhone(id, phone) {
  const put = await request(server, 'PUT', `/v1/subjects/${id}`, { key, body: { age_status: 'adult' } });
  assert.ok(put.status < 300, put.text);
  const link = await request(server, 'POST', `/v1/subjects/${id}/identities`, { key, body: { type: 'phone', value: phone } });
  assert.equal(link.status, 201, link.text);
  const decisions = ['marketing.sms', 'marketing.sms.coupons', 'marketing.email'].map((purpose) => ({ purpose, decision: 'given' }));
  const res = await request(server, 'POST', `/v1/subjects/${id}/consents`, { key, body: fx.consentBody(notice, decisions) });
  assert.equal(res.status, 201, res.text);
}

const reply = (from, text, extra = {}) =>
  request(server, 'POST', '/v1/inbound/sms', { key, body: { from, text, property: 'shop', ...extra } });
const statusOf = async (id) =>
  Object.fromEntries((await request(server, 'GET', `/v1/subjects/${id}/consents`, { key })).json.consents.map((c) => [c.purpose, c.status]));

test('"ＴＤ。" from a known number withdraws SMS marketing only, provably, and reaches a destination within a second', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  try {
    const hook = await request(server, 'POST', '/v1/destinations', {
      key, body: { id: 'sms-stop', name: 'SMS stop', kind: 'webhook', endpoint: receiver.url, secret: SECRET, filter: { types: ['consent.withdrawn'] } },
    });
    assert.equal(hook.status, 201, hook.text);
    await subjectWithPhone('in-1', '+8613800138001');
    const sent = Date.now();
    const res = await reply('138 0013 8001', 'ＴＤ。');
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json.events.map((e) => e.purpose).sort(), ['marketing.sms', 'marketing.sms.coupons']);
    assert.deepEqual(await statusOf('in-1'), {
      'marketing.email': 'given', 'marketing.sms': 'withdrawn', 'marketing.sms.coupons': 'withdrawn',
    });
    const events = (await request(server, 'GET', '/v1/subjects/in-1/events', { key })).json.items;
    const last = events.at(-1).event;
    assert.equal(last.method, 'sms_reply');
    assert.equal(last.channel, 'sms');
    const got = await receiver.waitFor((r) => r.filter((d) => d.event.subject === 'in-1').length >= 2 && r, 1000);
    assert.ok(got.at(-1).at - sent < 1000, `reached the destination in ${got.at(-1).at - sent} ms`);
  } finally {
    await request(server, 'DELETE', '/v1/destinations/sms-stop', { key });
    await receiver.stop();
  }
});

test('every opt-out spelling works; other texts, unknown numbers and repeats change nothing', async () => {
  const spellings = ['TD', 't', ' N ', 'r', '退订', 'ｔｄ！', '　退订　'];
  for (const [i, text] of spellings.entries()) {
    const phone = `+86139001390${String(i).padStart(2, '0')}`;
    await subjectWithPhone(`sp-${i}`, phone);
    const res = await reply(phone, text);
    assert.equal(res.status, 201, `${text}: ${res.text}`);
    assert.equal((await statusOf(`sp-${i}`))['marketing.sms'], 'withdrawn', text);
  }
  await subjectWithPhone('keep', '+8613900139099');
  for (const text of ['好的', 'TDD', 'T please', 'Y', '不退订']) {
    const res = await reply('+8613900139099', text);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.action, 'none');
  }
  assert.equal((await statusOf('keep'))['marketing.sms'], 'given');
  const unknown = await reply('+8613700000000', 'TD');
  assert.equal(unknown.status, 200);
  assert.match(unknown.json.reason, /no subject/);
  const again = await reply('+8613900139000', 'TD'); // sp-0 withdrew already
  assert.equal(again.status, 200);
  assert.match(again.json.reason, /nothing|no given/);
});

test('bad inbound bodies are refused and change nothing', async () => {
  await subjectWithPhone('bad-1', '+8613600136000');
  expectProblem(assert, await reply('not a phone', 'TD'), 422, 'validation_failed');
  const missing = expectProblem(assert, await request(server, 'POST', '/v1/inbound/sms', { key, body: { from: '+8613600136000', text: 'TD' } }), 422, 'validation_failed');
  assert.equal(missing.field, 'property');
  const unknownProperty = await reply('+8613600136000', 'TD', { property: 'nope' });
  expectProblem(assert, unknownProperty, 422, 'validation_failed');
  expectProblem(assert, await reply('+8613600136000', 'TD', { extra: 1 }), 422, 'validation_failed');
  expectProblem(assert, await request(server, 'POST', '/v1/inbound/sms', { key, body: '{"from":' }), 400, 'malformed_json');
  expectProblem(assert, await request(server, 'POST', '/v1/inbound/sms', { body: { from: '+8613600136000', text: 'TD', property: 'shop' } }), 401, 'unauthorized');
  assert.equal((await statusOf('bad-1'))['marketing.sms'], 'given');
});
