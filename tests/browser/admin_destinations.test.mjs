// SPDX-License-Identifier: Apache-2.0
// The admin console's destinations screen in Chromium against a real cpmd
// (docs/ADMIN.md "Destinations"): a webhook created through the form
// whose generated secret is shown once; a test event that reaches a
// receiver of the test's own (node:http on 127.0.0.1, allowlisted with
// CPM_OUTBOUND_ALLOW, retries made quick with CPM_RETRY_BASE_MS) signed as
// documented (Standard Webhooks, CloudEvents), checked with the shown
// secret; a real consent event the receiver refuses becoming a failed
// attempt and a dead letter in the delivery log and the list; replay from
// the dead letter delivering it under the same id; deletion. And the
// faults: a URL refused before sending, cpmd's 422 beside the URL field,
// and the outbound guard's refusal of a loopback address said beside the
// address. Screenshots: tests/browser/artifacts/admin-destinations-*.png.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { verifyCloudEvent, verifyStandardWebhook } from '../api/support/receiver.mjs';
import { demo, demoServer, useBrowser } from './support.mjs';
import { DESKTOP, consolePage, go, sent, signIn, statusIs, errorFor, shots } from './admin_support.mjs';

const POLICY = demo.policies.find((p) => p.property === 'demo-shop' && p.region === 'CN');
// loopback allowed for the receiver; a failed attempt retried after 50-200 ms
const ENV = { CPM_OUTBOUND_ALLOW: '127.0.0.1/32', CPM_RETRY_BASE_MS: '50', CPM_RETRY_MAX_MS: '200' };

useBrowser();

// ---- helpers ---------------------------------------------------------------------------

/**
 * A webhook receiver on 127.0.0.1: keeps every request (headers and raw
 * body) and answers receiver.status (204 until told otherwise).
 */
async function startReceiver(t) {
  const requests = [];
  const r = { requests, status: 204 };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered: r.status });
      res.writeHead(r.status, { 'Content-Type': 'text/plain' });
      res.end(r.status >= 300 ? 'receiver down for the test' : '');
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  r.url = `http://127.0.0.1:${server.address().port}`;
  r.waitFor = async (pred, what, ms = 10000) => {
    const end = Date.now() + ms;
    while (!pred(requests)) {
      if (Date.now() > end) throw new Error(`receiver: timed out waiting for ${what} (${requests.length} requests)`);
      await new Promise((ok) => setTimeout(ok, 25));
    }
  };
  t.after(() => new Promise((ok) => server.close(ok)));
  return r;
}

/** A request the receiver got, checked as the docs say a delivery is made (docs/SYNC.md "What is sent"). */
function checkSigned(req, secret) {
  assert.equal(req.method, 'POST');
  assert.match(req.headers['content-type'], /^application\/cloudevents\+json/);
  const verdict = verifyStandardWebhook({
    secret, id: req.headers['webhook-id'], timestamp: req.headers['webhook-timestamp'], body: req.body, signature: req.headers['webhook-signature'],
  });
  assert.equal(verdict, true, `the signature verifies with the secret shown: ${verdict}`);
  const event = JSON.parse(req.body);
  assert.equal(verifyCloudEvent(event), true, 'a CloudEvents 1.0 structured body');
  assert.equal(event.id, req.headers['webhook-id'], 'webhook-id is the event id');
  return event;
}

/** Signs in with the admin key and opens the destinations screen. */
async function openDestinations(page, env) {
  await signIn(page, env);
  await go(page, 'destinations');
}

/** Clicks the delivery log's refresh until selector shows (the log fills as the worker records). */
async function logShows(page, selector, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await page.locator(selector).count()) return;
    if (Date.now() > end) throw new Error(`the delivery log never showed ${selector}`);
    await page.click('#dest-deliveries button[data-key="log-refresh"]');
    await page.waitForSelector('#dest-deliveries[aria-busy="false"]');
  }
}

/** A consent recorded through the API, as the shop's back end would. */
async function decided(env, subject, purpose, decision) {
  const v = await env.api('GET', `/v1/notices/${POLICY.notice}/versions/1?locale=zh-Hans`);
  const body = {
    property: 'demo-shop', channel: 'web', locale: 'zh-Hans', method: 'click',
    notice: { id: POLICY.notice, version: 1, sha256: v.content['zh-Hans'].sha256 },
    decisions: [{ purpose, decision }],
  };
  return env.api('POST', `/v1/subjects/${encodeURIComponent(subject)}/consents`, body, 201);
}

// ---- the tests ---------------------------------------------------------------------------

test('destinations: a webhook made in the form, tested, failing into a dead letter, replayed, deleted', async (t) => {
  const env = await demoServer(t, { env: ENV });
  const receiver = await startReceiver(t);
  const page = await consolePage(t, env, { locale: 'en-GB' });
  const writes = sent(page, /^\/v1\/destinations/);
  await openDestinations(page, env);
  assert.equal(await page.textContent('#nav a[data-screen="destinations"]'), 'Destinations');
  assert.equal(await page.textContent('#destinations .empty'), 'No destinations yet.');

  // the form: a webhook, the secret left to cpmd, two attempts so a failure is soon a dead letter
  await page.click('#destinations button[data-key="new"]');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.key), 'id', 'focus on the first field');
  await page.fill('#destinations [data-field="id"]', 'crm');
  await page.fill('#destinations [data-field="name"]', 'CRM consent sync');
  assert.equal(await page.inputValue('#destinations [data-field="kind"]'), 'webhook');
  await page.fill('#destinations [data-field="endpoint"]', `${receiver.url}/hooks/consent`);
  await page.fill('#destinations [data-field="filter.types"]', 'consent.*');
  await page.fill('#destinations [data-field="max_attempts"]', '2');
  await page.fill('#destinations [data-field="timeout_ms"]', '3000');
  await shots(page, 'admin-destinations-form', 'form.destination-form');
  await page.click('#destinations button[data-key="save"]');
  await page.waitForSelector('#dest-secret');
  await statusIs(page, /^Destination “CRM consent sync” created\.$/);
  const created = writes.find((w) => w.method === 'POST');
  assert.deepEqual(created.body, {
    id: 'crm', name: 'CRM consent sync', kind: 'webhook', endpoint: `${receiver.url}/hooks/consent`, enabled: true,
    filter: { types: ['consent.*'] }, role: 'processor', max_attempts: 2, timeout_ms: 3000,
  }, 'no secret sent: cpmd makes it');
  const secret = await page.inputValue('#dest-secret');
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/, 'a generated secret, shown');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'dest-secret-h');
  await shots(page, 'admin-destinations-secret-once', '#destinations');
  await page.click('#destinations button[data-key="secret-done"]');
  assert.equal(await page.locator('#dest-secret').count(), 0, 'the secret is gone from the page once closed');
  assert.equal(await page.evaluate((s) => document.body.textContent.includes(s), secret), false);
  const stored = await env.api('GET', '/v1/destinations/crm');
  assert.equal(stored.secret, undefined);
  assert.equal(stored.secret_hint, `${secret.slice(0, 10)}…`);
  assert.ok((await page.textContent('#dest-facts')).includes(`Signing secret${stored.secret_hint}`), 'the hint, not the secret');

  // a test event: the screen says delivered, the receiver got a signed CloudEvent
  await page.click('#destinations button[data-key="test"]');
  await page.waitForSelector('.test-result');
  await statusIs(page, /^The test event was delivered\.$/);
  assert.equal(await page.getAttribute('.test-result', 'data-delivered'), 'true');
  assert.match(await page.textContent('.test-result'), /^Test eventOutcomeDeliveredHTTP status204Latency\d+ msDetail—$/);
  assert.equal(receiver.requests.length, 1);
  assert.equal(receiver.requests[0].url, '/hooks/consent');
  const test0 = checkSigned(receiver.requests[0], secret);
  assert.equal(test0.type, 'cpm.destination.test');
  assert.deepEqual(test0.data, { test: true, destination: 'crm', seq: 0 }, 'a test event, not a ledger one');
  await shots(page, 'admin-destinations-test-delivered', '#destinations');

  // the receiver fails: a real consent event is tried twice, then dead-lettered
  receiver.status = 500;
  const rec = await decided(env, 'dest-u1', 'marketing.sms', 'given');
  const seq = rec.events[0].seq;
  await receiver.waitFor((rs) => rs.length >= 3, 'two attempts of the consent event');
  const [first, second] = receiver.requests.slice(1).map((r) => checkSigned(r, secret));
  assert.equal(first.type, 'cpm.consent.given');
  assert.equal(first.id, rec.events[0].id, 'the ledger event id');
  assert.equal(second.id, first.id, 'a retry keeps the id');
  await page.selectOption('#dl-outcome', 'dead');
  await page.waitForSelector('#dest-deliveries[aria-busy="false"]');
  await logShows(page, `#dest-deliveries tr[data-outcome="dead"][data-seq="${seq}"]`);
  const dead = page.locator(`#dest-deliveries tr[data-seq="${seq}"]`);
  assert.equal(await dead.count(), 1, 'only dead letters listed');
  assert.match(await dead.textContent(), new RegExp(`${seq}consent\\.given2Dead letter500.*HTTP 500`));
  await page.selectOption('#dl-outcome', 'failed');
  await page.waitForSelector('#dest-deliveries[aria-busy="false"]');
  await page.waitForSelector(`#dest-deliveries tr[data-outcome="failed"][data-seq="${seq}"][data-attempt="1"]`);
  assert.equal(await page.locator('#dest-deliveries tr[data-outcome="dead"]').count(), 0);
  await page.selectOption('#dl-outcome', 'dead');
  await page.waitForSelector('#dest-deliveries[aria-busy="false"]');
  await page.click('#destinations button[data-key="refresh"]');
  await page.waitForFunction(() => /Dead letters1/.test(document.getElementById('dest-figures').textContent));
  assert.match(await page.textContent('#dest-figures'), /LagUp to date.*Failed attempts1.*Dead letters1.*Last deliveryNever/);
  await shots(page, 'admin-destinations-dead-letter', '#destinations');

  // the list: failures, dead letters, last delivery
  await page.click('#destinations button[data-key="back"]');
  const row = page.locator('#destinations tr[data-destination="crm"]');
  await row.waitFor();
  assert.match(await row.textContent(), /CRM consent sync crm.*Webhook \(HTTPS\).*Delivering.*Up to date/);
  assert.equal(await row.locator('.failed').textContent(), '1');
  assert.equal(await row.locator('.dead').textContent(), '1');
  await shots(page, 'admin-destinations-list');

  // the receiver is back: replay from the dead letter, after a confirmation saying what goes again
  receiver.status = 204;
  await page.click('#destinations button[data-key="open:crm"]');
  await page.waitForSelector('#dest-deliveries[aria-busy="false"]');
  await page.click('#destinations button[data-key="replay"]');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'replay-h');
  assert.equal(await page.isChecked('#replay-dead'), true);
  await page.click('#destinations button[data-key="replay-next"]');
  await page.waitForSelector('#replay-q');
  assert.equal(await page.textContent('#replay-q'), `Send again to “CRM consent sync” every event its filter selects from seq ${seq} to seq ${(await env.api('GET', '/v1/destinations/crm')).delivery.cursor_seq}?`);
  assert.match(await page.textContent('.replay-form'), /the dead letters from there \(1\).*own event id \(webhook-id\)/);
  assert.equal(writes.filter((w) => w.url.includes('/replay')).length, 0, 'nothing replayed before the confirmation');
  await shots(page, 'admin-destinations-replay-confirm', '.replay-form');
  await page.click('#destinations button[data-key="replay-yes"]');
  await statusIs(page, new RegExp(`^Replay of “CRM consent sync” from seq ${seq} started\\.$`));
  assert.deepEqual(writes.filter((w) => w.url.includes('/replay')).map((w) => w.url), [`/v1/destinations/crm/replay?from_seq=${seq}`]);
  await receiver.waitFor((rs) => rs.length >= 4, 'the replayed event');
  const again = checkSigned(receiver.requests[3], secret);
  assert.equal(again.id, first.id, 'replayed under the same id');
  assert.equal(receiver.requests[3].answered, 204);
  await page.selectOption('#dl-outcome', 'delivered');
  await page.waitForSelector('#dest-deliveries[aria-busy="false"]');
  await logShows(page, `#dest-deliveries tr[data-outcome="delivered"][data-seq="${seq}"]`);
  assert.match(await page.textContent(`#dest-deliveries tr[data-seq="${seq}"]`), /consent\.given\d+Delivered204/);
  await page.click('#destinations button[data-key="refresh"]');
  await page.waitForFunction(() => !/Last deliveryNever/.test(document.getElementById('dest-figures').textContent));
  await shots(page, 'admin-destinations-replayed', '#destinations');

  // deleting asks first
  await page.click('#destinations button[data-key="delete"]');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-h');
  assert.equal(await page.textContent('#confirm-h'), 'Delete the destination “CRM consent sync”?');
  await page.click('#destinations button[data-key="confirm-no"]');
  assert.equal(await page.locator('#confirm-h').count(), 0);
  assert.equal(writes.filter((w) => w.method === 'DELETE').length, 0);
  await page.click('#destinations button[data-key="delete"]');
  await page.click('#destinations button[data-key="confirm-yes"]');
  await statusIs(page, /^Destination “CRM consent sync” deleted\.$/);
  await page.waitForSelector('#destinations .empty');
  const gone = await env.api('GET', '/v1/destinations/crm', undefined, 404);
  assert.equal(gone.status, 404);
  page.assertClean();
});

test('destinations: a bad URL is refused beside the field, by the page and by cpmd; the guard\'s refusal of a loopback address is said beside the address', async (t) => {
  const env = await demoServer(t, { env: ENV });
  const page = await consolePage(t, env, { locale: 'zh-CN' }, [{ path: '/v1/destinations', status: 422 }]);
  const writes = sent(page, /^\/v1\/destinations/);
  await openDestinations(page, env);
  assert.equal(await page.textContent('#destinations-h'), '数据同步目的地');
  await page.click('#destinations button[data-key="new"]');

  // nothing filled: each required field says so; nothing sent
  await page.click('#destinations button[data-key="save"]');
  assert.equal(await errorFor(page, '#destinations', 'id').textContent(), '必填。');
  assert.equal(await errorFor(page, '#destinations', 'name').textContent(), '必填。');
  assert.equal(await errorFor(page, '#destinations', 'endpoint').textContent(), '必填。');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.field), 'id', 'focus on the first fault');

  // a URL that is not http(s): the page refuses it beside the field
  await page.fill('#destinations [data-field="id"]', 'partner');
  await page.fill('#destinations [data-field="name"]', '合作伙伴');
  await page.fill('#destinations [data-field="endpoint"]', 'ftp://partner.example.cn/in');
  await page.click('#destinations button[data-key="save"]');
  assert.equal(await errorFor(page, '#destinations', 'endpoint').textContent(), '地址必须以 http:// 或 https:// 开头。');
  assert.equal(await page.getAttribute('#destinations [data-field="endpoint"]', 'aria-invalid'), 'true');
  assert.equal(await errorFor(page, '#destinations', 'id').count(), 0);
  // an independent recipient without its id, and a secret that is not one
  await page.fill('#destinations [data-field="endpoint"]', 'https://partner.example.cn/in');
  await page.selectOption('#destinations [data-field="role"]', 'independent');
  await page.fill('#destinations [data-field="secret"]', 'whsec_short');
  await page.click('#destinations button[data-key="save"]');
  assert.equal(await errorFor(page, '#destinations', 'recipient').textContent(), '独立或境外接收方需要接收方标识。');
  assert.equal(await errorFor(page, '#destinations', 'secret').textContent(), '密钥格式为 whsec_ 加 24–64 字节的 base64。');
  assert.equal(writes.length, 0, 'nothing sent while the page sees faults');
  await page.selectOption('#destinations [data-field="role"]', 'processor');
  await page.fill('#destinations [data-field="secret"]', '');

  // a host cpmd refuses (capitals): its 422 beside the URL field
  await page.fill('#destinations [data-field="endpoint"]', 'https://Partner.example.cn/in');
  await page.click('#destinations button[data-key="save"]');
  await page.waitForSelector('#destinations .field-error[data-error-for="endpoint"]');
  assert.match(await errorFor(page, '#destinations', 'endpoint').textContent(), /must be an http:\/\/ or https:\/\/ URL with a lowercase host/);
  assert.equal(writes.length, 1);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.field), 'endpoint');
  await shots(page, 'admin-destinations-server-422', 'form.destination-form');
  assert.equal((await env.api('GET', '/v1/destinations')).items.length, 0, 'nothing created');

  // a loopback address the guard does not allow (only 127.0.0.1 is): saved, but the test says why nothing can go there
  await page.fill('#destinations [data-field="endpoint"]', 'http://127.0.0.2:9/in');
  await page.click('#destinations button[data-key="save"]');
  await page.waitForSelector('#dest-secret');
  await page.click('#destinations button[data-key="secret-done"]');
  await page.click('#destinations button[data-key="test"]');
  await page.waitForSelector('.test-result[data-delivered="false"]');
  assert.match(await page.textContent('.test-result'), /未送达.*无应答.*refused by the outbound guard/);
  const beside = errorFor(page, '#dest-facts', 'endpoint');
  assert.match(await beside.textContent(), /^cpmd 拒绝连接此地址：refused by the outbound guard: .*loopback/);
  assert.match(await page.textContent('.test-result .warn-text'), /CPM_OUTBOUND_ALLOW/);
  await shots(page, 'admin-destinations-guard-refused', '#destinations');
  // the same beside the address while it is being corrected
  await page.click('#destinations button[data-key="edit"]');
  assert.match(await errorFor(page, 'form.destination-form', 'endpoint').textContent(), /outbound guard/);
  await page.click('#destinations button[data-key="cancel"]');

  // a connector's form asks what its kind needs: credential, ids, rules (a WeCom tag rule its tag)
  await page.click('#destinations button[data-key="back"]');
  await page.click('#destinations button[data-key="new"]');
  await page.fill('#destinations [data-field="id"]', 'wecom');
  await page.selectOption('#destinations [data-field="kind"]', 'wecom_tags');
  assert.equal(await page.inputValue('#destinations [data-field="id"]'), 'wecom', 'what was typed survives the change of kind');
  assert.equal(await page.getAttribute('form.destination-form', 'data-kind'), 'wecom_tags');
  await page.fill('#destinations [data-field="name"]', '企业微信标签');
  await page.fill('#destinations [data-field="endpoint"]', 'https://qyapi.weixin.qq.com/cgi-bin');
  await page.click('#destinations button[data-key="save"]');
  assert.equal(await errorFor(page, '#destinations', 'secret').textContent(), '此类型需要凭据。');
  assert.equal(await errorFor(page, '#destinations', 'corp_id').textContent(), '必填。');
  assert.equal(await errorFor(page, '#destinations', 'owner_userid').textContent(), '必填。');
  assert.equal(await errorFor(page, '#destinations', 'rules').textContent(), '至少给出一条规则：哪些变更触发哪个动作。');
  await page.click('#destinations button[data-key="rule-add"]');
  await page.selectOption('#destinations [data-field="rules[0].action"]', 'tag_add');
  await page.fill('#destinations [data-field="rules[0].when.types"]', 'consent.given');
  await page.click('#destinations button[data-key="save"]');
  assert.equal(await errorFor(page, '#destinations', 'rules[0].tag').textContent(), '此动作需要企业微信标签 ID。');
  await shots(page, 'admin-destinations-connector-form', 'form.destination-form');
  assert.deepEqual(writes.map((w) => w.url), ['/v1/destinations', '/v1/destinations', '/v1/destinations/partner/test'], 'nothing more sent while the page sees faults');
  page.assertClean();
});

test('destinations: while a receiver keeps failing, the list says how far behind and for how long', async (t) => {
  const env = await demoServer(t, { env: ENV });
  const receiver = await startReceiver(t);
  receiver.status = 503;
  await env.api('POST', '/v1/destinations', {
    id: 'slow', name: 'Slow partner', kind: 'webhook', endpoint: `${receiver.url}/in`,
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', max_attempts: 50,
  }, 201);
  await decided(env, 'dest-u2', 'marketing.sms', 'given');
  await receiver.waitFor((rs) => rs.length >= 2, 'a retry');
  const live = (await env.api('GET', '/v1/destinations/slow')).delivery;
  assert.equal(live.lag_events, 1, 'the consent event is not done with');
  assert.ok(live.lag_ms > 0, `lag_ms ${live.lag_ms}`);
  assert.equal(live.last_delivered_at, null);
  const page = await consolePage(t, env, { locale: 'en-GB', viewport: DESKTOP });
  await openDestinations(page, env);
  const lag = page.locator('#destinations tr[data-destination="slow"] .lag');
  assert.match(await lag.textContent(), /^Events behind: 1; the oldest has waited \d+ (ms|s)$/);
  assert.ok(Number(await page.locator('#destinations tr[data-destination="slow"] .failed').textContent()) >= 1);
  assert.equal(await page.textContent('#destinations tr[data-destination="slow"] td[data-label="Last delivery"]'), 'Never');
  await shots(page, 'admin-destinations-lagging');
  await env.api('DELETE', '/v1/destinations/slow', undefined, 204); // the retries stop
  page.assertClean();
});

test('destinations: the last delivery is found however far back in the delivery log it lies', async (t) => {
  const env = await demoServer(t, { env: ENV });
  const receiver = await startReceiver(t);
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const hook = (id, extra) => env.api('POST', '/v1/destinations', { id, name: id, kind: 'webhook', endpoint: `${receiver.url}/${id}`, secret, ...extra }, 201);
  await hook('wecom-only', { filter: { purposes: ['marketing.wecom'] } });
  await decided(env, 'dest-u3', 'marketing.wecom', 'given');
  await receiver.waitFor((rs) => rs.some((r) => r.url === '/wecom-only'), 'the WeCom event');
  await hook('everything', {});
  // more than the 512 rows cpmd looks at first (src/api/destinations.c): its row is found by the search
  const purposes = ['marketing.sms', 'analytics'];
  const v = await env.api('GET', `/v1/notices/${POLICY.notice}/versions/1?locale=zh-Hans`);
  for (let i = 0; i < 280; i++) {
    await env.api('POST', `/v1/subjects/dest-bulk-${i % 7}/consents`, {
      property: 'demo-shop', channel: 'web', locale: 'zh-Hans', method: 'click',
      notice: { id: POLICY.notice, version: 1, sha256: v.content['zh-Hans'].sha256 },
      decisions: purposes.map((purpose) => ({ purpose, decision: i % 2 ? 'withdrawn' : 'given' })),
    }, 201);
  }
  await receiver.waitFor((rs) => rs.filter((r) => r.url === '/everything').length >= 560, 'the 560 bulk events', 30000);
  const rows = (await env.api('GET', '/v1/destinations/wecom-only/deliveries?status=delivered')).items;
  assert.equal(rows.length, 1);
  let every = [];
  for (let i = 0; i < 40; i++) { // the log is written at most 20 ms after the answers
    every = [];
    for (let cursor = ''; ;) {
      const page = await env.api('GET', `/v1/destinations/everything/deliveries?limit=200${cursor}`);
      every.push(...page.items);
      if (!page.next_cursor) break;
      cursor = `&cursor=${encodeURIComponent(page.next_cursor)}`;
    }
    if (every.length >= 560) break; // all of them: the newest row no longer moves
    await new Promise((ok) => setTimeout(ok, 50));
  }
  assert.equal(every.length, 560);
  assert.ok(every.at(-1).id - rows[0].id > 512, `the WeCom row lies ${every.at(-1).id - rows[0].id} rows back`);
  const list = (await env.api('GET', '/v1/destinations')).items;
  const of = (id) => list.find((d) => d.id === id).delivery;
  assert.equal(of('wecom-only').last_delivered_at, rows[0].time, 'the WeCom row, found by the search');
  assert.equal(of('everything').last_delivered_at, every.at(-1).time, 'the newest row, found in the last 512');
  const page = await consolePage(t, env, { locale: 'en-GB', viewport: DESKTOP });
  await openDestinations(page, env);
  assert.notEqual(await page.textContent('#destinations tr[data-destination="wecom-only"] td[data-label="Last delivery"]'), 'Never');
  page.assertClean();
});
