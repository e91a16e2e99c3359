// SPDX-License-Identifier: Apache-2.0
// The popup's two special flows in Chromium, on the demo shop:
// * a child under 14 (PIPL Art. 31) sees the notice and "a guardian must
//   choose", cannot give or refuse, and the display is recorded; the parent,
//   with their own token, decides for the child, after which the child's
//   popup stays away and decide follows;
// * a policy asking a one-time code (the financial case): giving goes
//   through the code sent to the person's phone (the strict fake SMS
//   gateway records it), a mistyped code is said so and retried, the
//   consent's leaves record the verified challenge; refusing asks no code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../api/harness.mjs';
import { startFakeSmsGateway } from '../api/support/fake_sms_gateway.mjs';
import { demo, demoServer, newPage, shot, useBrowser } from './support.mjs';

useBrowser();

const POLICY = demo.policies.find((p) => p.property === 'demo-shop' && p.region === 'CN');
const NOTICE = demo.notices.find((n) => n.id === POLICY.notice).versions.at(-1).content;
const MARKETING = 'marketing.sms';

/** A call with an end-user token, as a page of the shop would make it. */
const asUser = (env, token, method, path, body) =>
  request(env.server, method, path, { body, headers: { authorization: `Bearer ${token}` } });

/** The subject's ledger leaves, parsed. */
async function leaves(env, subject) {
  const body = await env.api('GET', `/v1/subjects/${encodeURIComponent(subject)}/events`);
  return body.items.map((i) => JSON.parse(i.leaf));
}

test('a child under 14 is told a guardian decides; the parent decides with their own token; the popup then stays away', async (t) => {
  const env = await demoServer(t);
  await env.api('PUT', '/v1/subjects/kid-7', { age_status: 'child_under_14' });
  await env.api('POST', '/v1/subjects/kid-7/guardians', { guardian_id: 'mum-7', relation: 'parent' }, 201);

  const page = await newPage(t, env, { locale: 'zh-CN' });
  await page.goto(env.pageUrl('kid-7'));
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  assert.equal(await page.locator('#cpm-text').innerText(), `${NOTICE['zh-Hans'].title}\n${NOTICE['zh-Hans'].text}`.trim());
  assert.match(await page.locator('#cpm-kid').innerText(), /监护人/);
  for (const id of ['#cpm-accept-all', '#cpm-refuse-all', '#cpm-accept-selected']) assert.equal(await page.locator(id).count(), 0, `${id} is not offered`);
  assert.equal(await page.locator('.cpm-purpose input:enabled').count(), 0, 'nothing to tick');
  await shot(page, 'popup-guardian-needed-zh-Hans');
  await page.locator('#cpm-ok').click();
  await dialog.waitFor({ state: 'detached' });
  let kid = await leaves(env, 'kid-7');
  assert.ok(kid.some((l) => l.type === 'notice.displayed'), 'the display is recorded');
  assert.ok(!kid.some((l) => l.type.startsWith('consent.')), 'the child decided nothing');

  // the parent, as the preference center does it with the parent's own token
  const mum = env.token('mum-7');
  const wards = await asUser(env, mum, 'GET', '/v1/subjects/me/wards');
  assert.deepEqual(wards.json.wards.map((w) => w.subject), ['kid-7']);
  const x = (await asUser(env, mum, 'GET', '/v1/experience?property=demo-shop&region=CN&subject=kid-7')).json;
  assert.equal(x.guardian_required, true);
  const given = await asUser(env, mum, 'POST', '/v1/subjects/kid-7/consents', {
    property: 'demo-shop', channel: 'web', locale: x.locale, method: 'click',
    notice: { id: x.notice.id, version: x.notice.version, sha256: x.notice.sha256 },
    decisions: x.purposes.filter((p) => p.legal_basis === 'consent' && !p.necessary)
      .map((p) => ({ purpose: p.id, decision: p.id === MARKETING ? 'given' : 'refused' })),
  });
  assert.equal(given.status, 201, given.text);
  kid = await leaves(env, 'kid-7');
  const leaf = kid.find((l) => l.type === 'consent.given');
  assert.equal(leaf.actor, 'guardian');
  assert.equal(leaf.guardian, (await env.api('GET', '/v1/subjects/mum-7')).pseudonym);
  assert.equal((await env.decide('kid-7', MARKETING)).allowed, true);

  const again = await newPage(t, env, { locale: 'zh-CN' });
  await again.goto(env.pageUrl('kid-7'));
  await again.waitForFunction(() => window.__cpm.ready > 0);
  assert.equal(await again.getByRole('dialog').count(), 0, 'decided by the guardian: no popup');
  page.assertClean();
  again.assertClean();
});

test('a policy asking a one-time code: giving goes through the code sent to the phone; a wrong code is said and retried', async (t) => {
  const TOKEN = 'sk_test_popup-otp';
  const gateway = await startFakeSmsGateway({ token: TOKEN });
  t.after(() => gateway.stop());
  const env = await demoServer(t, { env: { CPM_OUTBOUND_ALLOW: '127.0.0.1/32' } });
  await env.api('POST', '/v1/destinations', { id: 'otp-sms', name: 'OTP SMS', kind: 'sms_gateway', endpoint: gateway.url, secret: TOKEN }, 201);
  await env.api('PATCH', '/v1/properties/demo-shop', { otp_destination: 'otp-sms' });
  await env.api('PATCH', `/v1/policies/${POLICY.id}`, { otp_required: true });
  await env.api('POST', '/v1/subjects/fin-1/identities', { type: 'phone', value: '+8613800138000' }, 201);

  const page = await newPage(t, env, { locale: 'en-GB' }, { expected: [{ path: /\/verify$/, status: 422 }] });
  await page.goto(env.pageUrl('fin-1'));
  await page.getByRole('dialog').waitFor();
  await page.locator(`.cpm-purpose[data-purpose="${MARKETING}"] input`).check();
  await page.locator('#cpm-accept-selected').click();
  const code = page.locator('#cpm-code');
  await code.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'cpm-code', 'the code field has the focus');
  assert.match(await page.locator('#cpm-otp-note').innerText(), /\+86 138\*{4}8000/);
  assert.equal(await page.locator('.cpm-purpose input:enabled').count(), 0, 'the choices are fixed while the code is checked');
  const sent = await gateway.waitFor((g) => g.messages.find((m) => m.phone === '+8613800138000'));
  assert.equal(await page.locator('body').innerText().then((s) => s.includes(sent.code)), false, 'the code is only on the phone');
  await shot(page, 'popup-otp-en');

  await code.fill(String((Number(sent.code) + 1) % 1000000).padStart(6, '0'));
  await page.keyboard.press('Enter');
  await page.locator('.cpm-err', { hasText: 'wrong' }).waitFor();
  assert.equal(await page.evaluate(() => window.__cpm.updated), 0);
  await code.fill(sent.code);
  await page.locator('#cpm-verify').click();
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => window.__cpm.updated), 1);
  const ledger = await env.ledger('fin-1');
  assert.equal(ledger[MARKETING], 'given');
  const leaf = (await leaves(env, 'fin-1')).find((l) => l.type === 'consent.given');
  assert.equal(leaf.otp.challenge, sent.message_id, 'the leaf records the verified challenge');

  // refusing everything asks no code
  const before = gateway.messages.length;
  await env.api('POST', '/v1/subjects/fin-2/identities', { type: 'phone', value: '+8613900139000' }, 201);
  const other = await newPage(t, env, { locale: 'en-GB' });
  await other.goto(env.pageUrl('fin-2'));
  await other.getByRole('dialog').waitFor();
  await other.locator('#cpm-refuse-all').click();
  await other.getByRole('dialog').waitFor({ state: 'detached' });
  assert.equal(gateway.messages.length, before, 'no code was sent');
  assert.equal((await env.ledger('fin-2'))[MARKETING], 'refused');

  // an anonymous visitor has no phone to verify: giving asks them to log in first, refusing still works
  const anonymous = await newPage(t, env, { locale: 'en-GB' });
  const challenges = [];
  anonymous.on('request', (r) => r.url().includes('/v1/otp/') && challenges.push(r.url()));
  await anonymous.goto(`${env.server.url}/demo`);
  await anonymous.getByRole('dialog').waitFor();
  await anonymous.locator(`.cpm-purpose[data-purpose="${MARKETING}"] input`).check();
  await anonymous.locator('#cpm-accept-selected').click();
  await anonymous.locator('.cpm-err', { hasText: 'log in' }).waitFor();
  assert.deepEqual(challenges, [], 'no code is asked for a device');
  await anonymous.locator('#cpm-refuse-all').click();
  await anonymous.getByRole('dialog').waitFor({ state: 'detached' });
  page.assertClean();
  other.assertClean();
  anonymous.assertClean();
});
