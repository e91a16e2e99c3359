// SPDX-License-Identifier: Apache-2.0
// The admin console's evidence packs screen (README.md beside this file,
// docs/EVIDENCE-PACKS.md): builds a pack for a time range (optionally one
// person's events in it) with GET /v1/evidence-packs, saves the tar archive
// as it came, says what it holds and how to check it, and shows the ledger's
// verifier key that `cpm verify PACK --key VKEY` needs.

import { app, h, fmt, enc, say, call, why, download, fileSafe, clearErrors, showErrors, showFailure, field, makeView } from './admin-core.js';
import { W } from './evidence-i18n.js';

const w = () => W[app.ui];
const SUBJECT_ID = /^[!-.0-~]{1,128}$/; // printable ASCII, no space, no '/' (docs/SUBJECTS.md)
const LOCAL_TIME = /^(\d{4})-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?$/; // a datetime-local input's value
const YEAR_MIN = 1970;
const YEAR_MAX = 9999; // cpmd reads four-digit years only (RFC 3339)
const TREE_SIZE = /^[1-9][0-9]{0,15}$/;
const DAY_MS = 86400e3;

export const evidenceLabel = () => w().evidence;

const pad = (n, width = 2) => String(Math.abs(n)).padStart(width, '0');

/** A Date as a datetime-local input's value (this computer's time zone, to the minute). */
function localValue(d) {
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A Date as RFC 3339 with this computer's offset (2026-01-01T00:00:00+08:00), as cpmd reads it. */
function rfc3339(d) {
  const off = -d.getTimezoneOffset();
  const ms = d.getMilliseconds() ? `.${pad(d.getMilliseconds(), 3)}` : '';
  return `${localValue(d)}:${pad(d.getSeconds())}${ms}${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

/** The time zone shown beside the range: its IANA name and offset now. */
function zoneText() {
  const off = -new Date().getTimezoneOffset();
  const utc = `UTC${off < 0 ? '−' : '+'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  let name = '';
  try { name = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { name = ''; }
  return name ? `${name}, ${utc}` : utc;
}

/** A datetime-local value read as a Date, or the word saying what is wrong with it. */
function readTime(value) {
  const ww = w();
  const m = LOCAL_TIME.exec(value.trim());
  if (!value.trim()) return { error: ww.required };
  const d = m && new Date(value.trim());
  if (!m || Number.isNaN(d.getTime())) return { error: ww.badTime };
  if (Number(m[1]) < YEAR_MIN || Number(m[1]) > YEAR_MAX) return { error: ww.yearRange };
  return { date: d };
}

export function evidenceScreen() {
  const now = new Date(Math.ceil(Date.now() / 60e3) * 60e3); // the next whole minute: what was just recorded is in
  const form = { from: localValue(new Date(now.getTime() - 7 * DAY_MS)), to: localValue(now), subject: '', prior: '' };
  const v = makeView({ id: 'evidence', title: () => w().evidence, intro: () => w().evidenceIntro, load, draw });

  async function load() {
    const [vkey, checkpoint] = await Promise.all([
      call('GET', '/v1/ledger/key', undefined, { raw: true }).then((r) => r.text()),
      call('GET', '/v1/ledger/checkpoint', undefined, { raw: true }).then((r) => r.text(), (e) => { if (e.status === 404) return null; throw e; }),
    ]);
    return { vkey: vkey.trim(), size: checkpoint ? Number(checkpoint.split('\n')[1]) : null };
  }

  function draw(data) {
    return h('div', {}, drawForm(), drawHolds(), drawCheck(data));
  }

  function drawForm() {
    const ww = w();
    const input = (name, props, hint, label) => field(label, h('input', Object.assign({
      value: form[name], 'data-key': name, spellcheck: false, autocomplete: 'off', oninput: (e) => { form[name] = e.target.value; },
    }, props)), hint);
    const time = (name, label) => input(name, { type: 'datetime-local', step: 1, min: `${YEAR_MIN}-01-01T00:00`, max: `${YEAR_MAX}-12-31T23:59:59`, 'data-field': name, required: true }, null, label);
    const el = h('form', {
      className: 'pack-form', noValidate: true, 'aria-labelledby': 'pack-form-h',
      onsubmit: (e) => {
        e.preventDefault();
        build(el);
      },
    },
    h('h3', { id: 'pack-form-h' }, ww.build),
    h('div', { className: 'form-errors', tabIndex: -1 }),
    h('fieldset', { 'data-field': 'range' },
      h('legend', {}, ww.range),
      h('div', { className: 'pair' }, time('from', ww.from), time('to', ww.to)),
      h('p', { className: 'note' }, fmt(ww.rangeHint, { tz: zoneText() }))),
    h('div', { className: 'pair' },
      input('subject', { type: 'text', 'data-field': 'subject' }, ww.subjectHint, ww.subject),
      input('prior', { type: 'text', inputMode: 'numeric', 'data-field': 'prior_size' }, ww.priorHint, ww.prior)),
    h('p', { className: 'note', id: 'pack-limit' }, ww.limit),
    h('div', { className: 'actions' }, h('button', { type: 'submit', className: 'btn', 'data-key': 'build' }, ww.buildNow)));
    return el;
  }

  /** Checks the form as cpmd would (RFC 3339 times, from before to, a subject id, a tree size); errors or the query. */
  function check() {
    const ww = w();
    const errors = [];
    const from = readTime(form.from);
    const to = readTime(form.to);
    if (from.error) errors.push({ field: 'from', message: from.error });
    if (to.error) errors.push({ field: 'to', message: to.error });
    if (from.date && to.date && to.date.getTime() <= from.date.getTime()) errors.push({ field: 'to', message: ww.afterFrom });
    const subject = form.subject.trim();
    if (subject && (!SUBJECT_ID.test(subject) || subject.includes('/'))) errors.push({ field: 'subject', message: ww.subjectRule });
    const prior = form.prior.trim();
    if (prior && !TREE_SIZE.test(prior)) errors.push({ field: 'prior_size', message: ww.priorRule });
    if (errors.length) return { errors };
    const q = [`from=${enc(rfc3339(from.date))}`, `to=${enc(rfc3339(to.date))}`];
    if (subject) q.push(`subject=${enc(subject)}`);
    if (prior) q.push(`prior_size=${prior}`);
    const stamp = (d) => localValue(d).replace(/[-:]/g, '');
    const name = `evidence-pack-${subject ? `${fileSafe(subject)}-` : ''}${stamp(from.date)}-${stamp(to.date)}.tar`;
    return { query: q.join('&'), name, subject };
  }

  function build(el) {
    const ww = w();
    const c = check();
    if (c.errors) return showErrors(el, c.errors);
    clearErrors(el);
    say(ww.building);
    return v.act(async () => {
      try {
        await download(`/v1/evidence-packs?${c.query}`, c.name, { type: 'application/x-tar' });
        say(fmt(ww.downloaded, { name: c.name }), 'ok');
      } catch (e) {
        if (e.status === 404 && c.subject) showErrors(el, [{ field: 'subject', message: ww.noSubjectEvents }]);
        else if (e.status === 404) say(ww.noCheckpoint, 'error');
        else showFailure(el, e); // a 422 beside the field it names: the event limit beside "to" (or "subject")
      }
    });
  }

  function drawHolds() {
    const ww = w();
    return h('section', { className: 'sub', id: 'evidence-holds', 'aria-labelledby': 'evidence-holds-h' },
      h('h3', { id: 'evidence-holds-h' }, ww.holds),
      h('p', {}, ww.holdsIntro),
      h('ul', {}, [ww.holdsCheckpoint, ww.holdsEvents, ww.holdsNotices, ww.holdsDeliveries, ww.holdsSummary, ww.holdsManifest].map((x) => h('li', {}, x))));
  }

  function drawCheck({ vkey, size }) {
    const ww = w();
    return h('section', { className: 'sub', id: 'evidence-check', 'aria-labelledby': 'evidence-check-h' },
      h('h3', { id: 'evidence-check-h' }, ww.check),
      h('p', {}, ww.checkIntro),
      h('pre', { className: 'quote' }, h('code', {}, 'cpm verify PACK --key VKEY')),
      h('p', {}, ww.checkResult),
      h('p', { className: 'note' }, ww.proves),
      h('h4', { id: 'vkey-h' }, ww.vkey),
      h('pre', { className: 'quote' }, h('code', { id: 'vkey', 'aria-labelledby': 'vkey-h' }, vkey)),
      h('p', { className: 'note', id: 'vkey-size' }, size === null ? ww.noKeyYet : fmt(ww.treeSize, { size })),
      h('div', { className: 'actions' },
        h('button', { type: 'button', className: 'btn secondary', 'data-key': 'copy-vkey', onclick: () => copy(vkey) }, ww.copy),
        h('button', { type: 'button', className: 'btn secondary', 'data-key': 'save-vkey', onclick: saveKey }, ww.saveKey)));
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
      say(w().copied, 'ok');
    } catch (e) {
      say(w().copyFailed, 'error');
    }
  }

  function saveKey() {
    const name = 'opencpm.vkey';
    return v.act(async () => {
      try {
        await download('/v1/ledger/key', name, { type: 'text/plain' });
        say(fmt(w().downloaded, { name }), 'ok');
      } catch (e) {
        say(fmt(w().failed, { detail: why(e) }), 'error');
      }
    });
  }

  return {
    el: v.el,
    refresh: () => v.refresh(),
    relocale: () => v.render(),
    heading: () => v.el.querySelector('h2'),
  };
}
