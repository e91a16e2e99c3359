// SPDX-License-Identifier: Apache-2.0
// The admin console's configuration screens (web/admin/properties.js,
// policies.js, topics.js, channels.js; docs/ADMIN.md) in Debian's Chromium
// against a real cpmd seeded with demo/demo.json (harness: support.mjs).
// Checked: a policy's colour and title edited and seen in the live preview
// — the real widget, read from its rendered DOM in the shadow root — before
// anything is saved; the contrast warning; the preview's language switch
// (and the popup's own) showing the Traditional Chinese text; the preview's
// buttons recording nothing; the save sent as a merge patch with If-Match,
// then live in GET /v1/policies/{id}, GET /v1/experience and the real popup
// on the demo page; a change made meanwhile (412) reloading the form; a
// property's bad origin refused beside its field by the page and a
// server-side 422 shown beside its field; a shared secret never shown back
// and asked again when the key list changes; a property created with an
// Ed25519 key; a topic and a channel created through their forms. Any
// console error (CSP violations included), page error or request to another
// origin fails a test. Screenshots: tests/browser/artifacts/admin-config-*.png.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { demo, demoServer, newPage, shot, useBrowser } from './support.mjs';
import { DESKTOP, PHONE, consolePage, loaded, signIn, go, sent, statusIs, errorFor } from './admin_support.mjs';

const POLICY = demo.policies.find((p) => p.property === 'demo-shop' && p.region === 'CN');
const NOTICE = demo.notices[0].versions[0].content;
const GREEN = '#0b6e4f';
const TITLE = { en: 'Your privacy at the Demo Shop', 'zh-Hant': '您在示範商店的私隱選擇' };

useBrowser();

/** What the preview's popup shows, read from its DOM inside the shadow root. */
/** A console page at desktop size in English (options and expected as consolePage's). */
const desktopPage = (t, env, options = {}, expected = []) => consolePage(t, env, { viewport: DESKTOP, locale: 'en-US', ...options }, expected);

const preview = (page) => page.evaluate(() => {
  const root = document.getElementById('policy-preview-stage').shadowRoot;
  const dialog = root && root.querySelector('.preview-box:last-child #cpm-dialog');
  if (!dialog) return null;
  return {
    lang: dialog.getAttribute('lang'),
    title: dialog.querySelector('#cpm-title').textContent,
    notice: dialog.querySelector('#cpm-text h3').textContent,
    accept: dialog.querySelector('#cpm-accept-all').textContent,
    button: getComputedStyle(dialog.querySelector('#cpm-accept-all')).backgroundColor,
    background: getComputedStyle(dialog).backgroundColor,
    boxes: dialog.querySelectorAll('.cpm-purpose input:enabled').length,
    ticked: dialog.querySelectorAll('.cpm-purpose input:enabled:checked').length,
    localeSelect: dialog.querySelector('#cpm-lang').value,
  };
});
const previewShows = (page, check, what, arg) =>
  page.waitForFunction(() => document.getElementById('preview-state')?.dataset.state === 'live').then(() =>
    page.waitForFunction(check, arg, { timeout: 5000 }).catch(async () => {
      assert.fail(`${what}: the preview shows ${JSON.stringify(await preview(page))}`);
    }));

test('policies: colour and title changed in the form show in the live preview before saving, per locale; saved, they are live everywhere', async (t) => {
  const env = await demoServer(t);
  const page = await desktopPage(t, env);
  const writes = sent(page, /^\/v1\/(policies|subjects)/);
  await signIn(page, env);
  await go(page, 'policies');
  assert.equal(await page.locator('#nav a[data-screen="policies"]').innerText(), 'Policies');
  const row = page.locator(`tr[data-policy="${POLICY.id}"]`);
  assert.match(await row.innerText(), /demo-shop[\s\S]*CN[\s\S]*P12M/);
  await page.click(`button[data-key="edit:${POLICY.id}"]`);
  await page.waitForSelector('form.policy-form[data-mode="edit"]');

  // the preview is the popup as it is now: the widget's default colour and title
  await previewShows(page, () => !!document.getElementById('policy-preview-stage').shadowRoot.querySelector('#cpm-title'), 'the first preview');
  const first = await preview(page);
  assert.equal(first.lang, 'en', 'the browser\'s language (en-US) picks English, as for a visitor');
  assert.equal(first.title, 'Privacy settings');
  assert.equal(first.notice, NOTICE.en.title);
  assert.equal(first.button, 'rgb(31, 111, 235)', 'the popup\'s own primary colour');
  assert.equal(first.ticked, 0, 'nothing pre-ticked');
  // the widget's CSS reached the shadow root under the console's CSP (style-src 'self'): the dialog is styled
  assert.equal(first.background, 'rgb(255, 255, 255)');

  // type: a colour and a title per language
  await page.check('[data-key="own:primary_color"]');
  await page.fill('[data-key="ui.theme.primary_color"]', GREEN);
  await page.fill('[data-key="ui.texts.title.en"]', TITLE.en);
  await page.fill('[data-key="ui.texts.title.zh-Hant"]', TITLE['zh-Hant']);
  await previewShows(page, (title) => {
    const d = document.getElementById('policy-preview-stage').shadowRoot.querySelector('.preview-box:last-child #cpm-dialog');
    return d && d.querySelector('#cpm-title').textContent === title && getComputedStyle(d.querySelector('#cpm-accept-all')).backgroundColor === 'rgb(11, 110, 79)';
  }, 'the edited title and colour', TITLE.en);
  assert.equal((await preview(page)).title, TITLE.en);
  assert.deepEqual(writes.filter((w) => w.method === 'PATCH'), [], 'nothing saved yet');
  const stored = await env.api('GET', `/v1/policies/${POLICY.id}`);
  assert.equal(stored.ui, undefined, 'the stored policy is untouched while typing');
  assert.ok(writes.some((w) => w.path === '/v1/policies/preview' && w.body.ui?.texts?.title?.en === TITLE.en), 'the draft went to the preview route');

  // the contrast check: white button text on yellow is unreadable
  await page.fill('[data-key="ui.theme.primary_color"]', '#ffeb3b');
  const warning = page.locator('.contrast-warning[data-contrast="primary_color"]');
  await warning.waitFor();
  assert.match(await warning.innerText(), /contrast of only 1\.\d+:1/);
  await page.fill('[data-key="ui.theme.primary_color"]', GREEN);
  await warning.waitFor({ state: 'detached' });

  // the preview in Traditional Chinese, chosen beside it
  await page.selectOption('#preview-locale', 'zh-Hant');
  await previewShows(page, (title) => document.getElementById('policy-preview-stage').shadowRoot.querySelector('.preview-box:last-child #cpm-title')?.textContent === title,
    'the zh-Hant title', TITLE['zh-Hant']);
  const hant = await preview(page);
  assert.equal(hant.lang, 'zh-Hant');
  assert.equal(hant.notice, NOTICE['zh-Hant'].title);
  assert.equal(hant.accept, '全部同意');
  assert.equal(hant.button, 'rgb(11, 110, 79)');
  await shot(page, 'admin-config-policy-preview-desktop', { fullPage: true });

  // the popup's own language switch moves the console's; its buttons record nothing
  const stage = page.locator('#policy-preview-stage .preview-box:last-child');
  await stage.locator('#cpm-lang').selectOption('zh-Hans');
  await page.waitForFunction(() => document.getElementById('preview-locale').value === 'zh-Hans');
  await previewShows(page, () => document.getElementById('policy-preview-stage').shadowRoot.querySelector('.preview-box:last-child #cpm-dialog')?.getAttribute('lang') === 'zh-Hans', 'zh-Hans');
  // no zh-Hans title typed: cpmd falls back to another language's (as it will for visitors), and the preview shows it
  const hansTitle = (await preview(page)).title;
  assert.ok(Object.values(TITLE).includes(hansTitle), hansTitle);
  await stage.locator('#cpm-accept-all').click();
  await page.waitForFunction(() => document.getElementById('policy-preview-stage').shadowRoot.querySelectorAll('.preview-box:last-child .cpm-purpose input:enabled:checked').length > 0);
  assert.equal(writes.filter((w) => w.path.startsWith('/v1/subjects')).length, 0, 'no consent, no display recorded from a preview');
  assert.ok(await page.locator('#policy-preview-stage #cpm-dialog').isVisible(), 'the preview stays');

  // save: a merge patch of what changed, on the revision read
  await page.click('button[data-key="save"]');
  await statusIs(page, `Policy ${POLICY.id} saved.`);
  const patch = writes.find((w) => w.method === 'PATCH');
  assert.equal(patch.path, `/v1/policies/${POLICY.id}`);
  assert.equal(patch.ifMatch, `"${stored.revision}"`);
  assert.deepEqual(patch.body, { ui: { theme: { primary_color: GREEN }, texts: { title: TITLE } } });
  const saved = await env.api('GET', `/v1/policies/${POLICY.id}`);
  assert.equal(saved.revision, stored.revision + 1);
  assert.deepEqual(saved.ui, { theme: { primary_color: GREEN }, texts: { title: TITLE } });
  const live = await env.api('GET', `/v1/experience?property=demo-shop&region=CN&locale=zh-Hant`);
  assert.equal(live.ui.texts.title, TITLE['zh-Hant']);
  const liveHans = await env.api('GET', `/v1/experience?property=demo-shop&region=CN&locale=zh-Hans`);
  assert.equal(liveHans.ui.texts.title, hansTitle, 'the zh-Hans fallback previewed is the one visitors get');

  // the real popup on the demo page, for a Hong Kong visitor
  const visitor = await newPage(t, env, { locale: 'zh-HK' });
  await visitor.goto(env.pageUrl('visitor-policy'));
  const dialog = await visitor.waitForSelector('#cpm-dialog');
  assert.equal(await dialog.getAttribute('lang'), 'zh-Hant');
  assert.equal(await visitor.locator('#cpm-title').innerText(), TITLE['zh-Hant']);
  assert.equal(await visitor.locator('#cpm-accept-all').evaluate((b) => getComputedStyle(b).backgroundColor), 'rgb(11, 110, 79)');
  await shot(visitor, 'admin-config-policy-live-popup');
  visitor.assertClean();

  await page.setViewportSize(PHONE);
  await page.click(`button[data-key="edit:${POLICY.id}"]`);
  await previewShows(page, () => !!document.getElementById('policy-preview-stage').shadowRoot.querySelector('#cpm-title'), 'the phone preview');
  await shot(page, 'admin-config-policy-preview-phone', { fullPage: true });
  page.assertClean();
});

test('policies: a change made meanwhile (412) reloads; the page\'s own checks and the server\'s 422 stand beside their fields', async (t) => {
  const env = await demoServer(t);
  const page = await desktopPage(t, env, {}, [{ path: `/v1/policies/${POLICY.id}`, status: 412 }, { path: '/v1/policies/preview', status: 422 }]);
  await signIn(page, env);
  await go(page, 'policies');
  await page.click(`button[data-key="edit:${POLICY.id}"]`);
  await page.fill('[data-key="region"]', 'china');
  await page.fill('[data-key="reminder_before"]', 'P30D');
  await page.fill('[data-key="consent_validity"]', '');
  await page.waitForFunction(() => document.getElementById('preview-state').dataset.state === 'paused');
  assert.match(await page.locator('#preview-state').innerText(), /Preview paused: region/);
  await page.click('button[data-key="save"]');
  assert.match(await errorFor(page, 'form.policy-form', 'region').innerText(), /two capital letters/);
  assert.match(await errorFor(page, 'form.policy-form', 'reminder_before').innerText(), /Set how long consents last/);
  await page.fill('[data-key="region"]', 'CN');
  await page.fill('[data-key="consent_validity"]', 'P12M');
  // a consent purpose is never pre-ticked: the page does not offer it; the server would refuse it
  assert.equal(await page.locator('[data-key="default:marketing.sms"]').isDisabled(), true);

  await env.api('PATCH', `/v1/policies/${POLICY.id}`, { refusal_cooldown: 'P60D' }); // another operator
  await page.click('button[data-key="save"]');
  await statusIs(page, 'Someone else changed this policy meanwhile: the latest is loaded, please edit again.');
  assert.match(await page.locator(`tr[data-policy="${POLICY.id}"]`).innerText(), /P60D/);
  assert.equal((await env.api('GET', `/v1/policies/${POLICY.id}`)).region, 'CN');
  page.assertClean();
});

test('properties: a bad origin and a server 422 beside their fields; a secret is never shown back; a property created with an Ed25519 key', async (t) => {
  const env = await demoServer(t);
  const page = await desktopPage(t, env, {}, [{ path: '/v1/properties/demo-shop', status: 422 }]);
  const writes = sent(page, /^\/v1\/properties/);
  await signIn(page, env);
  await go(page, 'properties');
  assert.match(await page.locator('tr[data-property="demo-shop"]').innerText(), /http:\/\/localhost:8080/);
  await page.click('button[data-key="edit:demo-shop"]');
  const form = 'form.property-form';
  // the HS256 secret: set, never shown
  assert.equal(await page.locator('[data-key="token_keys[0].k"]').inputValue(), '');
  assert.equal(await page.locator('[data-key="token_keys[0].kty"]').inputValue(), 'oct');
  assert.doesNotMatch(await page.content(), new RegExp(demo.properties[0].token_keys[0].k.slice(0, 16)));

  await page.fill('[data-key="allowed_origins"]', 'http://localhost:8080\nhttps://shop.example.com/path');
  await page.click('button[data-key="save"]');
  const originError = errorFor(page, form, 'allowed_origins');
  assert.match(await originError.innerText(), /“https:\/\/shop\.example\.com\/path” is not an origin/);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.field), 'allowed_origins', 'the faulty field has the focus');
  assert.equal(writes.length, 0, 'nothing sent');
  await shot(page.locator(form), 'admin-config-property-origin-error');

  // the server's own rule, shown beside the field it names
  await page.fill('[data-key="allowed_origins"]', 'http://localhost:8080\nhttps://shop.example.com');
  await page.fill('[data-key="otp_destination"]', 'no-such-gateway');
  await page.click('button[data-key="save"]');
  await errorFor(page, form, 'otp_destination').waitFor();
  assert.match(await errorFor(page, form, 'otp_destination').innerText(), /unknown destination 'no-such-gateway'/);
  assert.equal(writes.length, 1);
  await page.fill('[data-key="otp_destination"]', '');

  // changing the key list needs the kept secret typed again (cpmd never sends it back)
  await page.click('button[data-key="add-key"]');
  await page.click('button[data-key="save"]');
  assert.match(await errorFor(page, form, 'token_keys[0].k').innerText(), /type the shared secret again/);
  await page.click('button[data-key="remove-key:1"]');
  await page.click('button[data-key="save"]');
  await statusIs(page, 'Property demo-shop saved.');
  const saved = await env.api('GET', '/v1/properties/demo-shop');
  assert.ok(saved.allowed_origins.includes('https://shop.example.com'));
  assert.deepEqual(saved.token_keys, [{ kty: 'oct', kid: 'demo', alg: 'HS256', k_set: true }], 'the secret kept as it was');
  assert.equal(writes.at(-1).body.token_keys, undefined, 'the untouched key list is not sent');

  // a new property with an Ed25519 public key
  const x = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x;
  await page.click('button[data-key="new"]');
  await page.fill('[data-key="id"]', 'mini-app');
  await page.fill('[data-key="name"]', 'Mini-program');
  await page.selectOption('[data-key="kind"]', 'mini_program');
  await page.fill('[data-key="locales"]', 'zh-Hans, en');
  await page.fill('[data-key="default_locale"]', 'zh-Hans');
  await page.click('button[data-key="add-key"]');
  await page.selectOption('[data-key="token_keys[0].kty"]', 'OKP');
  await page.fill('[data-key="token_keys[0].x"]', x);
  await page.click('button[data-key="save"]');
  await statusIs(page, 'Property mini-app created.');
  const made = await env.api('GET', '/v1/properties/mini-app');
  assert.deepEqual(made.token_keys, [{ kty: 'OKP', alg: 'EdDSA', crv: 'Ed25519', x }]);
  assert.deepEqual(made.locales, ['zh-Hans', 'en']);
  await shot(page, 'admin-config-properties-desktop', { fullPage: true });
  page.assertClean();
});

test('topics and channels: created through their forms, listed, in the API', async (t) => {
  const env = await demoServer(t);
  const page = await desktopPage(t, env, { locale: 'zh-CN' });
  await signIn(page, env);
  await go(page, 'topics');
  assert.equal(await page.locator('#nav a[data-screen="topics"]').innerText(), '订阅主题');
  assert.ok(await page.locator('tr[data-topic="coupons"]').isVisible());
  await page.click('button[data-key="new"]');
  await page.click('button[data-key="save"]');
  assert.match(await errorFor(page, 'form.topic-form', 'purposes').innerText(), /至少选择一个处理目的/);
  await page.fill('[data-key="id"]', 'flash-sales');
  await page.fill('[data-key="name.zh-Hans"]', '限时抢购');
  await page.fill('[data-key="name.zh-Hant"]', '限時搶購');
  await page.fill('[data-key="name.en"]', 'Flash sales');
  await page.check('[data-key="purposes:marketing.sms"]');
  await page.click('button[data-key="save"]');
  await statusIs(page, '已创建主题 flash-sales。');
  assert.match(await page.locator('tr[data-topic="flash-sales"]').innerText(), /限时抢购[\s\S]*marketing\.sms/);
  const topic = await env.api('GET', '/v1/topics/flash-sales');
  assert.deepEqual([topic.name, topic.purposes], [{ 'zh-Hans': '限时抢购', 'zh-Hant': '限時搶購', en: 'Flash sales' }, ['marketing.sms']]);
  const experience = await env.api('GET', '/v1/experience?property=demo-shop&region=CN&locale=en');
  assert.ok(experience.topics.some((x) => x.id === 'flash-sales' && x.name === 'Flash sales'), 'the popup lists it');

  await go(page, 'channels');
  await page.click('button[data-key="new"]');
  await page.selectOption('[data-key="id"]', 'sms');
  await page.check('[data-key="purposes:marketing.sms"]');
  await page.check('[data-key="limit"]');
  await page.fill('[data-key="allowed_hours.from"]', '25:00');
  await page.click('button[data-key="save"]');
  assert.match(await errorFor(page, 'form.channel-form', 'allowed_hours.from').innerText(), /HH:MM/);
  await page.fill('[data-key="allowed_hours.from"]', '09:00');
  await page.fill('[data-key="allowed_hours.to"]', '20:00');
  await page.uncheck('[data-key="day:sun"]');
  await page.click('button[data-key="save"]');
  await statusIs(page, '已创建渠道 sms。');
  assert.match(await page.locator('tr[data-channel="sms"]').innerText(), /09:00–20:00 Asia\/Shanghai/);
  const channel = await env.api('GET', '/v1/channels/sms');
  assert.deepEqual(channel.allowed_hours, { time_zone: 'Asia/Shanghai', from: '09:00', to: '20:00', days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'] });
  assert.deepEqual(channel.purposes, ['marketing.sms']);

  // edit: the hours lifted again is a merge patch removing them
  await page.click('button[data-key="edit:sms"]');
  await page.uncheck('[data-key="limit"]');
  await page.click('button[data-key="save"]');
  await statusIs(page, '已保存渠道 sms。');
  assert.equal((await env.api('GET', '/v1/channels/sms')).allowed_hours, undefined);
  await page.setViewportSize(PHONE);
  await shot(page, 'admin-config-channels-phone', { fullPage: true });
  page.assertClean();
});
