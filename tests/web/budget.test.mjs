// SPDX-License-Identifier: Apache-2.0
// The consent popup's size budget (docs: shared ARCHITECTURE.md, "Performance
// budgets"): cpm-core.js + cpm-widget.js, CSS and three locales included,
// at most 10 240 bytes gzipped at level 9.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

const BUDGET = 10240;
const file = (name) => readFileSync(new URL(`../../web/widget/${name}`, import.meta.url));

test('cpm-core.js + cpm-widget.js fit in 10 240 bytes gzipped', (t) => {
  const both = Buffer.concat([file('cpm-core.js'), file('cpm-widget.js')]);
  const size = gzipSync(both, { level: 9 }).length;
  t.diagnostic(`widget: ${both.length} bytes, ${size} gzipped (budget ${BUDGET})`);
  assert.ok(size <= BUDGET, `${size} bytes gzipped exceeds the ${BUDGET}-byte budget`);
});

test('the CSS and the three locales are inside the budgeted files, nothing is fetched from elsewhere', () => {
  const widget = file('cpm-widget.js').toString();
  for (const s of ['.cpm-root{', "'zh-Hans': {", "'zh-Hant': {", 'en: {', "from './cpm-core.js'"])
    assert.ok(widget.includes(s), `cpm-widget.js holds ${s}`);
  for (const name of ['cpm-core.js', 'cpm-widget.js'])
    assert.doesNotMatch(file(name).toString(), /https?:\/\/|@import|url\(/, `${name} loads nothing from elsewhere`);
});
