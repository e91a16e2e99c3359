// SPDX-License-Identifier: Apache-2.0
// web/widget/cpm-core.js's preview mode (the `experience` option the admin
// console's policy preview uses; web/widget/README.md "A preview"): the
// experience comes from the caller for each locale, nothing is fetched,
// nothing is recorded — not the display, not a consent, not a device — even
// with a storage given.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConsentCore } from '../../web/widget/cpm-core.js';

const purpose = (id, extra = {}) => ({
  id, name: `name of ${id}`, legal_basis: 'consent', consent_form: 'general', separate: false,
  default: false, necessary: false, sensitive: false, ...extra,
});
const experience = (locale) => ({
  property: 'shop', region: 'CN', policy: 'cn-shop', locale, locales: ['zh-Hans', 'zh-Hant', 'en'],
  notice: { id: 'privacy', version: 1, sha256: 'a'.repeat(64), title: `title ${locale}`, text: `text ${locale}` },
  purposes: [purpose('marketing.sms'), purpose('service.account', { necessary: true })],
  topics: [], ui: { texts: { title: `ui ${locale}` }, theme: { primary_color: '#0b6e4f' } },
  otp_required: false, gpc: 'refuse_sale_and_ads', show: true, reasons: [], guardian_required: false,
});

test('a preview core draws from the experience given per locale and never calls cpmd', async () => {
  const fetched = [];
  const asked = [];
  const stored = [];
  const core = createConsentCore({
    base: 'https://cpm.example', property: 'shop', region: 'CN', locale: 'zh-Hans',
    fetch: async (url) => { fetched.push(url); throw new Error('no fetch in a preview'); },
    storage: { get: (k) => { stored.push(['get', k]); return null; }, set: (k) => stored.push(['set', k]), remove: (k) => stored.push(['remove', k]) },
    experience: async (locale) => { asked.push(locale); return experience(locale); },
  });
  const ready = [];
  core.on('ready', (x) => ready.push(x.locale));
  const x = await core.load();
  assert.equal(x.notice.title, 'title zh-Hans');
  assert.deepEqual(core.state.decisions, { 'marketing.sms': false }, 'asked as anyone: never pre-ticked');
  await core.setLocale('zh-Hant');
  assert.equal(core.state.experience.ui.texts.title, 'ui zh-Hant');
  assert.deepEqual(asked, ['zh-Hans', 'zh-Hant']);
  assert.deepEqual(ready, ['zh-Hans', 'zh-Hant']);

  assert.equal(await core.shown(), null, 'no display recorded');
  core.acceptAll();
  assert.equal(await core.submit({ method: 'click' }), null, 'no consent recorded');
  assert.deepEqual(fetched, [], 'nothing fetched');
  assert.deepEqual(stored, [], 'no device asked for or kept, though a storage was given');
});

test('without the option the same core fetches the experience (the option is what turns cpmd off)', async () => {
  const fetched = [];
  const core = createConsentCore({
    base: 'https://cpm.example', property: 'shop', region: 'CN', locale: 'en', token: 'tok',
    fetch: async (url) => {
      fetched.push(url);
      return new Response(JSON.stringify(experience('en')), { status: 200, headers: { 'content-type': 'application/json' } });
    },
  });
  await core.load();
  assert.equal(fetched.length, 1);
  assert.match(fetched[0], /\/v1\/experience\?property=shop&region=CN&locale=en&subject=me$/);
});
