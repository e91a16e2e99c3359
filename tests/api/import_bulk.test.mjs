// SPDX-License-Identifier: Apache-2.0
// `cpm import` of a file longer than one chunk (16 384 rows), through the
// real `cpm` binary: the import is one transaction (the store's bulk load),
// written while the rows are checked, so a bad line after whole chunks were
// handed to the writer still leaves nothing of the file in the store; and a
// consent's state is its newest decision whichever comes first in the file
// and whichever chunk each lands in (a newer row replaces the state an
// earlier row set; an older one joins the history only).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as fx from './fixtures.mjs';
import { cpm, cpmBin, seededData } from './harness.mjs';

const DAY = 24 * 3600 * 1000;
const NOW = Date.now();
const T1 = new Date(NOW - 90 * DAY).toISOString();
const T2 = new Date(NOW - 30 * DAY).toISOString();
const SUBJECTS = 10000; // 20 000 rows: two chunks
const CHUNK_ROWS = 16384;

const seeded = () => seededData({
  properties: [fx.property()],
  purposes: [fx.purpose('marketing.sms')],
  notices: [{ ...fx.notice(), versions: [fx.version(['marketing.sms'])] }],
  policies: [fx.policy()],
});

// Rows 2..10001: each subject's first row; rows 10002..20001: its second. Even
// subjects: given at T1, then withdrawn at T2 (the newer row comes later; from
// subject 6383 on it lands in the second chunk). Odd subjects: withdrawn at T2,
// then given at T1 (the older row comes later: history only).
function rows() {
  const line = (i, decision, time) =>
    `bulk-${i},marketing.sms,${decision},${time},shop,web,zh-Hans,${decision === 'withdrawn' ? ',' : 'privacy,1'},src-${i}-${decision}`;
  const out = ['subject,purpose,decision,time,property,channel,locale,notice_id,notice_version,source_id'];
  for (let i = 0; i < SUBJECTS; i++) out.push(i % 2 === 0 ? line(i, 'given', T1) : line(i, 'withdrawn', T2));
  for (let i = 0; i < SUBJECTS; i++) out.push(i % 2 === 0 ? line(i, 'withdrawn', T2) : line(i, 'given', T1));
  return out;
}

const summary = (out, key) => Number(new RegExp(`^${key}: (\\d+)`, 'm').exec(out)?.[1]);
const exported = (data, kind) => { // tens of MB: more than cpm()'s default buffer
  const r = spawnSync(cpmBin, ['export', kind, '--data', data.data], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l).map((l) => JSON.parse(l));
};

test('a bad line after whole chunks were written: nothing of the file is in the store', () => {
  const data = seeded();
  const good = rows();
  assert.ok(good.length - 1 > CHUNK_ROWS);
  const file = path.join(data.dir, 'late.csv');
  writeFileSync(file, [...good, 'bulk-x,marketing.sms,maybe,' + T1 + ',shop,web,zh-Hans,privacy,1,src-x'].join('\n') + '\n');
  const r = cpm(['import', '--data', data.data, file]);
  assert.equal(r.status, 1, r.stderr);
  assert.ok(r.stderr.includes(`${file}:${good.length + 1}: decision: `), r.stderr);
  assert.match(r.stderr, /1 bad lines of 20001 rows: nothing was written/);
  assert.equal(exported(data, 'events').length, 0);
  assert.equal(exported(data, 'state').length, 0);
  assert.equal(cpm(['verify', '--store', '--data', data.data]).status, 0);
});

test('each consent ends at its newest decision, across chunks and whatever the file order', () => {
  const data = seeded();
  const file = path.join(data.dir, 'rows.csv');
  writeFileSync(file, rows().join('\n') + '\n');
  const r = cpm(['import', '--data', data.data, file]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(summary(r.stderr, 'events written'), 2 * SUBJECTS, r.stderr);
  assert.equal(summary(r.stderr, 'new subjects'), SUBJECTS);
  assert.equal(summary(r.stderr, 'consent states set'), SUBJECTS);
  assert.equal(summary(r.stderr, 'history only'), SUBJECTS);

  const events = exported(data, 'events');
  assert.equal(events.length, 2 * SUBJECTS);
  const seqOf = new Map(events.map((e) => [`${e.subject} ${e.type}`, e.seq]));
  const states = exported(data, 'state');
  assert.equal(states.length, SUBJECTS);
  for (const s of states) {
    assert.equal(s.status, 'withdrawn', JSON.stringify(s));
    assert.equal(s.decided_at, T2, JSON.stringify(s));
    assert.equal(s.deciding_event, seqOf.get(`${s.subject} consent.withdrawn`), JSON.stringify(s));
  }
  assert.equal(cpm(['verify', '--store', '--data', data.data]).status, 0);

  const again = cpm(['import', '--data', data.data, file]);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(summary(again.stderr, 'already imported'), 2 * SUBJECTS, again.stderr);
  assert.equal(summary(again.stderr, 'events written'), 0);
});
