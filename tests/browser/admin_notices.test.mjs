// SPDX-License-Identifier: Apache-2.0
// The admin console's Notices screen (web/admin/notices.js; docs/ADMIN.md
// "Notices") in Chromium against a real cpmd seeded with demo/demo.json:
// consents written through the API under version 1; the notice listed with
// its current version, its versions viewable; a new version written from
// the previous texts, the diff showing the inserted text as <ins>; a
// purpose marked material and the live re-consent count equal to the
// people who gave it (computed here); publishing after a confirmation that
// says how many; then, through the API, the new version as typed and those
// people's consent on that purpose needing re-consent (consents, decide,
// the count route). Validation: nothing changed, an empty text and a too
// long title refused before anything is sent; the server's 422 (a default
// locale changed meanwhile) shown beside the field it names, nothing
// published. Also the LCS diff itself against a brute-force LCS, and its
// tidied form (what the page shows) still exact.
// Screenshots: tests/browser/artifacts/admin-notices-*.png.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../api/harness.mjs';
import { diffText, tidy, tokens } from '../../web/admin/notices-diff.js';
import { demo, demoServer, newPage, useBrowser } from './support.mjs';
import { PHONE, DESKTOP, NOT_SIGNED_IN, signIn, sent, shots } from './admin_support.mjs';

const NOTICE = demo.notices[0].id; // privacy
const SMS = 'marketing.sms';
const ANALYTICS = 'analytics';
const VERSIONS_PATH = `/v1/notices/${NOTICE}/versions`;

useBrowser();

// ---- helpers ---------------------------------------------------------------------------

async function openNotices(page) {
  await page.click('#nav a[data-screen="notices"]');
  await page.waitForSelector('#notices[aria-busy="false"] tr[data-notice]');
}

/** Records decisions [[purpose, decision]] for subject with the admin key under version 1 (zh-Hans). */
async function decided(env, subject, decisions) {
  const v = await env.api('GET', `${VERSIONS_PATH}/1?locale=zh-Hans`);
  for (const [purpose, decision] of decisions) { // one action each, as a person might decide over time
    await env.api('POST', `/v1/subjects/${encodeURIComponent(subject)}/consents`, {
      property: 'demo-shop', channel: 'web', locale: 'zh-Hans', method: 'click',
      notice: { id: NOTICE, version: 1, sha256: v.content['zh-Hans'].sha256 },
      decisions: [{ purpose, decision }],
    }, 201);
  }
}

/** Who gave purpose last, from a story [[subject, [[purpose, decision], …]], …]. */
function gave(story, purpose) {
  const last = {};
  for (const [subject, decisions] of story) for (const [p, d] of decisions) if (p === purpose) last[subject] = d;
  return Object.keys(last).filter((s) => last[s] === 'given');
}

// ---- the diff, as a function -------------------------------------------------------------

test('the diff is a longest common subsequence of tokens, characters in Chinese, words in English', () => {
  const lcs = (a, b) => {
    const dp = Array.from({ length: a.length + 1 }, () => new Int32Array(b.length + 1));
    for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    return dp[0][0];
  };
  let seed = 7;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const alphabet = ['我', '们', '的', '。', 'ab', ' ', 'cd', ',', '数据'];
  for (let i = 0; i < 2000; i++) {
    const text = () => Array.from({ length: rand(25) }, () => alphabet[rand(alphabet.length)]).join('');
    const a = text();
    const b = i % 2 ? text() : a.slice(0, 4) + text().slice(0, 6) + a.slice(7);
    const runs = diffText(a, b);
    assert.equal(runs.filter(([op]) => op !== '+').map(([, s]) => s).join(''), a, 'the old text is the kept and removed parts');
    assert.equal(runs.filter(([op]) => op !== '-').map(([, s]) => s).join(''), b, 'the new text is the kept and inserted parts');
    const kept = runs.filter(([op]) => op === '=').reduce((n, [, s]) => n + tokens(s).length, 0);
    assert.equal(kept, lcs(tokens(a), tokens(b)), `minimal: ${JSON.stringify([a, b])}`);
    const shown = tidy(runs); // what the page shows: still exact
    assert.equal(shown.filter(([op]) => op !== '+').map(([, s]) => s).join(''), a);
    assert.equal(shown.filter(([op]) => op !== '-').map(([, s]) => s).join(''), b);
  }
  assert.deepEqual(tidy(diffText('We are the Demo Shop.', 'A new English text.')), [['-', 'We are the Demo Shop'], ['+', 'A new English text'], ['=', '.']],
    'a rewrite reads as old then new, not interleaved words');
  assert.deepEqual(diffText('我们处理您的信息。', '我们合法处理您的信息。'), [['=', '我们'], ['+', '合法'], ['=', '处理您的信息。']]);
  assert.deepEqual(diffText('We send offers by SMS.', 'We send offers by SMS and e-mail.'), [['=', 'We send offers by SMS'], ['+', ' and e-mail'], ['=', '.']]);
});

// ---- the screen ---------------------------------------------------------------------------

test('notices: a new version beside the old texts, its diff, a material purpose with the people it asks again, published', async (t) => {
  const env = await demoServer(t);
  const story = [
    ['sub-a', [[SMS, 'given'], [ANALYTICS, 'given']]],
    ['sub-b', [[SMS, 'given'], [ANALYTICS, 'refused']]],
    ['sub-c', [[SMS, 'refused'], [ANALYTICS, 'given']]],
    ['sub-d', [[SMS, 'given'], [SMS, 'withdrawn']]],
  ];
  for (const [subject, decisions] of story) await decided(env, subject, decisions);
  const smsPeople = gave(story, SMS);
  const eitherPeople = new Set([...smsPeople, ...gave(story, ANALYTICS)]);
  assert.deepEqual(smsPeople, ['sub-a', 'sub-b']);
  assert.equal(eitherPeople.size, 3);

  const page = await newPage(t, env, { viewport: DESKTOP, locale: 'zh-CN' }, { expected: [NOT_SIGNED_IN] });
  const posts = sent(page, /^\/v1\/notices\//);
  await signIn(page, env);
  await openNotices(page);
  const row = page.locator(`#notices tr[data-notice="${NOTICE}"]`);
  assert.match(await row.textContent(), /Demo Shop privacy notice.*zh-Hans.*第 1 版/);
  await shots(page, 'admin-notices-list', '#notices');

  await page.click(`#notices button[data-key="open:${NOTICE}"]`);
  await page.waitForSelector('#notices[aria-busy="false"] li[data-version="1"]');
  await page.click('#notices button[data-key="view:1"]');
  const v1 = demo.notices[0].versions[0];
  assert.equal(await page.textContent('li[data-version="1"] .version-text[data-locale="zh-Hant"] .text-block'), v1.content['zh-Hant'].text);
  assert.match(await page.textContent('li[data-version="1"] .version-text[data-locale="en"]'), /SHA-256 [0-9a-f]{64}/);

  await page.click('#notices button[data-key="new-version"]');
  await page.waitForSelector('form.notice-form');
  // the previous texts, per locale, side by side
  for (const l of ['zh-Hans', 'zh-Hant', 'en']) assert.equal(await page.inputValue(`textarea[data-field="content.${l}.text"]`), v1.content[l].text, l);
  const inserted = '我们也会委托短信服务商向您发送营销短信。';
  const zhText = v1.content['zh-Hans'].text.replace('我们为提供账户', `${inserted}我们为提供账户`);
  assert.notEqual(zhText, v1.content['zh-Hans'].text);
  await page.fill('textarea[data-field="content.zh-Hans.text"]', zhText);
  const enText = v1.content.en.text.replace('send offers by SMS', 'send offers by SMS (through our SMS provider)');
  await page.fill('textarea[data-field="content.en.text"]', enText);
  await page.waitForFunction((s) => [...document.querySelectorAll('.diff[data-locale="zh-Hans"] ins')].some((e) => e.textContent === s), inserted);
  await page.waitForFunction(() => [...document.querySelectorAll('.diff[data-locale="en"] ins')].some((e) => e.textContent.includes('through our SMS provider')));
  assert.equal(await page.locator('.diff[data-locale="zh-Hans"] del').count(), 0, 'only an insertion');
  assert.match(await page.textContent('.diff[data-locale="zh-Hant"]'), /没有改动/);

  // the count: nobody until a purpose is material; then exactly who gave it
  assert.equal(await page.getAttribute('#reconsent-total', 'data-subjects'), '0');
  await page.check(`input[data-change="${SMS}"][value="material"]`);
  await page.waitForSelector(`#reconsent-total[data-subjects="${smsPeople.length}"]`);
  assert.equal(await page.textContent(`[data-count-for="${SMS}"]`), `将有 ${smsPeople.length} 人需要重新同意`);
  await page.check(`input[data-change="${ANALYTICS}"][value="material"]`);
  await page.waitForSelector(`#reconsent-total[data-subjects="${eitherPeople.size}"]`);
  assert.equal(await page.textContent('#reconsent-total'), `共 ${eitherPeople.size} 人将被要求重新同意。`);
  await page.check(`input[data-change="${ANALYTICS}"][value="notify_only"]`);
  await page.waitForSelector(`#reconsent-total[data-subjects="${smsPeople.length}"]`);
  assert.equal(await page.textContent(`[data-count-for="${ANALYTICS}"]`), '', 'no count for a purpose not material');
  const counted = (await request(env.server, 'GET', `/v1/notices/${NOTICE}/reconsent?purposes=${SMS}`, { key: env.key })).json;
  assert.equal(counted.subjects, smsPeople.length, 'the route agrees');
  await page.fill('textarea[data-field="summary"]', '短信改由服务商发送。');
  await shots(page, 'admin-notices-compose');

  await page.click('#notices button[data-key="publish"]');
  await page.waitForSelector('.publish-confirm');
  assert.equal(await page.getAttribute('.confirm-count', 'data-subjects'), String(smsPeople.length));
  assert.match(await page.textContent('.publish-confirm'), new RegExp(`确定发布 ${NOTICE} 第 2 版吗？.*${smsPeople.length} 人将被要求重新同意：短信营销`));
  assert.equal(await page.evaluate(() => document.activeElement.dataset.key), 'confirm-h');
  assert.deepEqual(posts, [], 'nothing published before the confirmation');
  await shots(page, 'admin-notices-confirm', '.publish-confirm');
  await page.click('#notices button[data-key="confirm-yes"]');
  await page.waitForSelector('#notices[aria-busy="false"] li[data-version="2"] .version-text');
  await page.waitForFunction(() => /已发布第 2 版/.test(document.getElementById('status').textContent));
  assert.equal(posts.length, 1);
  assert.deepEqual(posts[0].body.purposes.map((p) => [p.purpose, p.change]),
    demo.notices[0].versions[0].purposes.map((p) => [p.purpose, p.purpose === SMS ? 'material' : 'notify_only']), 'unchanged is sent as notify_only');
  await shots(page, 'admin-notices-published');

  // through the API: the version as typed, and the people who gave SMS asked again
  const v2 = await env.api('GET', `${VERSIONS_PATH}/latest`);
  assert.equal(v2.version, 2);
  assert.equal(v2.content['zh-Hans'].text, zhText);
  assert.equal(v2.content.en.text, enText);
  assert.equal(v2.content['zh-Hant'].text, v1.content['zh-Hant'].text);
  assert.equal(v2.summary, '短信改由服务商发送。');
  for (const [subject] of story) {
    const state = (await env.ledger(subject))[SMS];
    assert.equal(state, smsPeople.includes(subject) ? 'reconsent_required' : story.find(([s]) => s === subject)[1].filter(([p]) => p === SMS).at(-1)[1], subject);
  }
  assert.equal((await env.ledger('sub-a'))[ANALYTICS], 'given', 'notify-only leaves consents as they were');
  let d;
  for (let i = 0; i < 50; i++) { // decide reads the in-memory index, updated just after the commit
    d = await env.decide('sub-a', SMS);
    if (!d.allowed) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(d.allowed, false);
  assert.ok(d.reasons.includes('reconsent_required'), JSON.stringify(d));
  assert.equal((await env.api('GET', `/v1/notices/${NOTICE}/reconsent?purposes=${SMS}`)).subjects, 0, 'nobody left to ask again');
  page.assertClean();
});

test('notices: nothing changed, an empty text and a long title are refused before sending; the server\'s 422 shows beside its field', async (t) => {
  const env = await demoServer(t);
  const page = await newPage(t, env, { viewport: PHONE, locale: 'en-US' },
    { expected: [NOT_SIGNED_IN, { path: VERSIONS_PATH, status: 422 }] });
  const posts = sent(page, /^\/v1\/notices\//);
  await signIn(page, env);
  await openNotices(page);
  await page.click(`#notices button[data-key="open:${NOTICE}"]`);
  await page.waitForSelector('#notices[aria-busy="false"] li[data-version="1"]');
  await page.click('#notices button[data-key="new-version"]');
  await page.waitForSelector('form.notice-form');

  await page.click('#notices button[data-key="publish"]');
  await page.waitForSelector('form.notice-form .form-errors .field-error');
  assert.equal(await page.textContent('form.notice-form .form-errors'), 'Nothing has changed from version 1.');

  await page.fill('textarea[data-field="content.en.text"]', '   ');
  await page.fill('input[data-field="content.en.title"]', 'T'.repeat(201));
  await page.click('#notices button[data-key="publish"]');
  await page.waitForSelector('.field-error[data-error-for="content.en.text"]');
  assert.equal(await page.textContent('.field-error[data-error-for="content.en.text"]'), 'The text cannot be empty.');
  assert.equal(await page.textContent('.field-error[data-error-for="content.en.title"]'), 'Over 200 bytes.');
  assert.equal(await page.getAttribute('textarea[data-field="content.en.text"]', 'aria-invalid'), 'true');
  assert.deepEqual(posts, [], 'nothing sent');
  await shots(page, 'admin-notices-errors');

  // someone changes the notice's default language meanwhile: only the server knows, and says so beside the texts
  await env.api('PATCH', `/v1/notices/${NOTICE}`, { default_locale: 'ja' });
  await page.fill('textarea[data-field="content.en.text"]', 'A new English text.');
  await page.fill('input[data-field="content.en.title"]', 'Privacy notice');
  await page.click('#notices button[data-key="publish"]');
  await page.waitForSelector('.publish-confirm');
  assert.equal(await page.textContent('.confirm-count'), 'No material change: nobody will be asked again.');
  await page.click('#notices button[data-key="confirm-yes"]');
  await page.waitForSelector('.field-error[data-error-for="content"]');
  assert.match(await page.textContent('.field-error[data-error-for="content"]'), /default locale 'ja'/);
  assert.equal(posts.length, 1);
  assert.equal(await page.inputValue('textarea[data-field="content.en.text"]'), 'A new English text.', 'what was typed is kept');
  const versions = await env.api('GET', VERSIONS_PATH);
  assert.equal(versions.items.length, 1, 'nothing published');
  await shots(page, 'admin-notices-server-error');
  page.assertClean();
});
