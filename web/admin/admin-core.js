// SPDX-License-Identifier: Apache-2.0
// What every screen of the admin console shares (README.md beside this
// file): the page's state, the element maker, calls to cpmd with the
// session's cookie and CSRF token, the session's timers, forms with their
// errors beside the fields, views that load and draw themselves, tables.

import { T } from './admin-i18n.js';
import { fmt, h, makeView as makeUiView, say } from '../lib/ui.js';

export { fmt, h, say };

export const TEXT_LOCALES = ['zh-Hans', 'zh-Hant', 'en']; // a purpose's names and descriptions, as edited here
export const NAME_BYTES_MAX = 200;
export const STRING_BYTES_MAX = 4096; // a plain text field (CPM_STRING_BYTES_MAX): a description, a popup's text
// docs/CONFIGURATION.md: ids are slugs; durations ISO 8601 (cpmd refuses zero ones itself); locales BCP 47 tags
export const SLUG = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const DURATION = /^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/;
export const LOCALE = /^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|\d{3}))?$/;
export const PAGE_LIMIT = 200;
export const PAGES_MAX = 20; // pages read at most, so a long list cannot hang the page
export const TIMER_MS_MAX = 2147483647;

// onEnded: what the shell does when the session is over (admin.js)
export const app = { session: null, ui: 'en', ended: false, timer: 0, idleEnds: 0, lifetimeEnds: 0, view: null, signIn: null, onEnded: () => {} };
export const t = () => T[app.ui];

// ---- small helpers -------------------------------------------------------------

export const enc = encodeURIComponent;
export const bytes = (s) => new TextEncoder().encode(s).length;
let uid = 0;
export const nextId = (prefix) => `${prefix}-${++uid}`;

export function when(iso, dateOnly) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return String(iso || '');
  const o = dateOnly ? { dateStyle: 'medium' } : { dateStyle: 'medium', timeStyle: 'short' };
  return new Intl.DateTimeFormat(app.ui, o).format(d);
}

/** The text of a localised text ({locale: string}) in the page's language, else any. */
export function localised(map, fallback) {
  if (!map || typeof map !== 'object') return fallback || '';
  const order = [app.ui, ...TEXT_LOCALES, ...Object.keys(map)];
  for (const l of order) if (typeof map[l] === 'string' && map[l]) return map[l];
  return fallback || '';
}

/** Words split on commas (also the full-width one), spaces or new lines. */
export const splitList = (s) => String(s || '').split(/[\s,，]+/).filter(Boolean);

export const can = (scope) => !!app.session && (app.session.key.scopes.includes('admin') || app.session.key.scopes.includes(scope));
export const fileSafe = (s) => String(s).replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 64);
export const today = () => new Date().toISOString().slice(0, 10);

// ---- calls -----------------------------------------------------------------------

export function failure(status, problem, message, retryAfter) {
  return Object.assign(new Error(message), { status, problem, retryAfter });
}

/**
 * One call to cpmd with the session's cookie; changes carry X-CSRF-Token.
 * Resolves the JSON answer (null for 204; the Response with raw), rejects
 * with {status, problem}. A 401 means the session ended.
 */
export async function call(method, path, body, { raw, headers: extra } = {}) {
  if (app.ended) throw failure(401, null, t().ended);
  const headers = Object.assign({ Accept: 'application/json' }, extra || {});
  if (method !== 'GET') headers['X-CSRF-Token'] = app.session ? app.session.csrf_token : '';
  const init = { method, headers, cache: 'no-store', credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw failure(0, null, t().offline);
  }
  if (res.ok) {
    touch();
    if (raw) return res;
    return res.status === 204 ? null : res.json();
  }
  const problem = await res.json().catch(() => null);
  if (res.status === 401 && app.session) sessionEnded();
  throw failure(res.status, problem, (problem && problem.detail) || `HTTP ${res.status}`, Number(res.headers.get('Retry-After')) || 0);
}

/** Words for a failed call. */
export function why(e) {
  if (e.status === 0) return t().offline;
  if (e.status === 401) return t().ended;
  if (e.status === 403) return fmt(t().forbidden, { detail: e.message });
  if (e.status === 429) return fmt(t().rateLimited, { s: e.retryAfter || 1 });
  return e.message;
}

/** Every page of a cursor-paginated list (items), up to PAGES_MAX pages. */
export async function allPages(path) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < PAGES_MAX; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await call('GET', `${path}${sep}limit=${PAGE_LIMIT}${cursor ? `&cursor=${enc(cursor)}` : ''}`);
    items.push(...(page.items || []));
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/**
 * Saves a server answer as a file through a Blob and a download link: JSON
 * text by default; with type (e.g. 'application/x-tar') the answer's bytes
 * as they came, saved with that content type.
 */
export async function download(path, name, { type } = {}) {
  const res = await call('GET', path, undefined, { raw: true });
  const blob = type ? new Blob([await res.arrayBuffer()], { type }) : new Blob([await res.text()], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, className: 'hidden-link' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// ---- the session ---------------------------------------------------------------

/** A successful call: the server refreshed the session's idle time, and so does this page. */
export function touch() {
  if (!app.session) return;
  app.idleEnds = Date.now() + app.session.idle_timeout_s * 1000;
  schedule();
}

/** Ends the session in this page when its idle time or lifetime is over (no call: a call would refresh it). */
export function schedule() {
  clearTimeout(app.timer);
  const at = Math.min(app.idleEnds, app.lifetimeEnds);
  app.timer = setTimeout(() => (Date.now() >= Math.min(app.idleEnds, app.lifetimeEnds) ? sessionEnded() : schedule()),
    Math.min(Math.max(at - Date.now(), 0) + 50, TIMER_MS_MAX));
}

export function startSession(session) {
  const now = Date.now();
  app.session = session;
  app.ended = false;
  // relative to this computer's clock: the server's may differ
  app.lifetimeEnds = now + (Date.parse(session.expires_at) - Date.parse(session.idle_expires_at)) + session.idle_timeout_s * 1000;
  app.idleEnds = now + session.idle_timeout_s * 1000;
  schedule();
}

/** The session is over (ended, revoked, timed out): say so, forget the token, show the sign-in. */
export function sessionEnded() {
  if (!app.session) return;
  clearTimeout(app.timer);
  app.session = null;
  app.ended = true;
  app.onEnded();
}

// ---- forms and their errors -----------------------------------------------------------

/** The control (or container) a field path names: the path, else its nearest named parent. */
export function fieldTarget(form, field) {
  for (let f = field; f;) {
    const el = form.querySelector(`[data-field="${CSS.escape(f)}"]`);
    if (el) return { el, exact: f === field };
    const cut = Math.max(f.lastIndexOf('.'), f.lastIndexOf('['));
    if (cut <= 0) break;
    f = f.slice(0, cut);
  }
  return null;
}

export function clearErrors(form) {
  const status = document.getElementById('status');
  if (status.dataset.kind === 'error' && status.textContent === t().checkFields) status.textContent = '';
  form.querySelectorAll('.field-error').forEach((e) => e.remove());
  form.querySelectorAll('[aria-invalid]').forEach((e) => {
    e.removeAttribute('aria-invalid');
    const keep = (e.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && !id.startsWith('err-'));
    if (keep.length) e.setAttribute('aria-describedby', keep.join(' '));
    else e.removeAttribute('aria-describedby');
  });
}

/**
 * Shows errors ([{field, message}], the client's own or a 422's) beside
 * the controls they name (data-field), else beside the nearest named
 * container, else at the top of the form; focuses the first.
 */
export function showErrors(form, errors) {
  clearErrors(form);
  const summary = form.querySelector('.form-errors');
  let first = null;
  for (const e of errors) {
    const target = e.field ? fieldTarget(form, e.field) : null;
    const text = target && target.exact ? e.message : e.field ? fmt(t().fieldMessage, { field: e.field, message: e.message }) : e.message;
    const msg = h('p', { className: 'field-error', id: nextId('err'), 'data-error-for': e.field || '' }, text);
    if (target) {
      const el = target.el;
      const control = el.matches('input, select, textarea') ? el : el.querySelector('input, select, textarea');
      (el.tagName === 'FIELDSET' ? el : el.closest('.field') || el.parentElement).append(msg);
      el.setAttribute('aria-invalid', 'true');
      const by = [el.getAttribute('aria-describedby'), msg.id].filter(Boolean).join(' ');
      (control || el).setAttribute('aria-describedby', by);
      if (control && control !== el) control.setAttribute('aria-invalid', 'true');
      first = first || control || el;
    } else {
      summary.append(msg);
      first = first || summary;
    }
  }
  if (first) first.focus();
  say(t().checkFields, 'error');
}

/** A call's failure shown on a form: a 422's errors (or a problem naming a field) beside the fields, else in the status line. */
export function showFailure(form, e) {
  const p = e.problem;
  if (p && Array.isArray(p.errors) && p.errors.length && (e.status === 422 || e.status === 409)) {
    showErrors(form, p.errors.map((x) => ({ field: x.field || '', message: x.message })));
  } else if (p && p.field && e.status !== 401) {
    showErrors(form, [{ field: p.field, message: p.detail }]);
  } else {
    clearErrors(form);
    say(fmt(t().failed, { detail: why(e) }), 'error');
  }
}

/** A labelled control in a .field; hint becomes its description. */
export function field(label, control, hint) {
  const id = control.id || (control.id = nextId('f'));
  const hintEl = hint && h('p', { className: 'note', id: `${id}-hint` }, hint);
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { className: 'field' }, h('label', { for: id }, label), control, hintEl);
}

export function checkbox(label, input, hint) {
  const id = input.id || (input.id = nextId('c'));
  const hintEl = hint && h('p', { className: 'note', id: `${id}-hint` }, hint);
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { className: 'field check' }, input, h('label', { for: id }, label), hintEl);
}

/**
 * An input for the field path name (its data-field and data-key): text
 * unless props give another type; no autocomplete and no spell check
 * unless props say (ids, codes, addresses).
 */
export const textInput = (name, props) => h('input', Object.assign({ type: 'text', 'data-field': name, 'data-key': name, autocomplete: 'off', spellcheck: false }, props));

/** Checkboxes for purposes (all of them; those in `chosen` ticked), in a fieldset named by `path`. */
export function purposePicker(all, chosen, path, legend, hint, empty) {
  const boxes = all.map((p) => h('input', { type: 'checkbox', value: p.id, checked: chosen.includes(p.id), 'data-key': `${path}:${p.id}` }));
  const el = h('fieldset', { 'data-field': path }, h('legend', {}, legend), hint && h('p', { className: 'note' }, hint),
    all.length ? h('ul', { className: 'plain purpose-picker' }, all.map((p, i) => h('li', {}, checkbox([localised(p.name, p.id), ' ', h('code', {}, p.id)], boxes[i]))))
      : h('p', { className: 'empty' }, empty));
  return { el, value: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

/**
 * A form sent: read() gives {faults, out}; the faults go beside the fields,
 * else send(out) runs as the view's one action, after the status line says
 * it is saving.
 */
export function submitForm(v, form, read, send) {
  const { faults, out } = read();
  if (faults.length) return showErrors(form, faults);
  clearErrors(form);
  return v.act(async () => {
    say(t().saving);
    await send(out);
  });
}

/**
 * Asks before something that cannot be undone (revoking a key, deleting a
 * destination): the question (focusable, data-key confirm-h), what it
 * means, a danger button (confirm-yes) and Cancel (confirm-no).
 */
export function confirmPanel({ question, text, yes, onYes, onNo }) {
  return h('div', { className: 'confirm', role: 'group', 'aria-labelledby': 'confirm-h' },
    h('p', { id: 'confirm-h', className: 'confirm-q', tabIndex: -1, 'data-key': 'confirm-h' }, question),
    h('p', {}, text),
    h('div', { className: 'actions' },
      h('button', { type: 'button', className: 'btn danger', 'data-key': 'confirm-yes', onclick: onYes }, yes),
      h('button', { type: 'button', className: 'btn secondary', 'data-key': 'confirm-no', onclick: onNo }, t().cancel)));
}

/**
 * A secret cpmd shows once (a new API key, a webhook secret it made), in a
 * read-only field (id) under a heading (headingId, h<level>, data-key
 * secret-h): Copy puts it on the clipboard, or, with no clipboard, selects
 * it for the operator to copy; the done button (doneKey) calls onDone.
 * words: {title, once, label, copy, copied, copyByHand, done}.
 */
export function secretPanel({ secret, id, headingId, level, doneKey, words, onDone }) {
  const out = h('input', { type: 'text', readOnly: true, value: secret, id, className: 'secret', spellcheck: false, autocomplete: 'off', 'data-key': 'secret' });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      say(words.copied, 'ok');
    } catch (e) { // no clipboard here: select it for the operator to copy
      out.focus();
      out.select();
      say(words.copyByHand, 'error');
    }
  };
  return h('div', { className: 'secret-panel', role: 'group', 'aria-labelledby': headingId },
    h(`h${level}`, { id: headingId, tabIndex: -1, 'data-key': 'secret-h' }, words.title),
    h('p', { className: 'warn-text' }, words.once),
    h('div', { className: 'field' }, h('label', { for: id }, words.label), out),
    h('div', { className: 'actions' },
      h('button', { type: 'button', className: 'btn', 'data-key': 'copy', onclick: copy }, words.copy),
      h('button', { type: 'button', className: 'btn secondary', 'data-key': doneKey, onclick: onDone }, words.done)));
}

// ---- views ------------------------------------------------------------------------

/** A view (/lib/ui.js) in the console's words. */
export const makeView = (o) => makeUiView({ ...o, words: t, why });

/** A data table that becomes stacked cards on a phone: each cell says its column. */
export function table(caption, columns, rows) {
  return h('div', { className: 'table-wrap' },
    h('table', { className: 'data' },
      h('caption', { className: 'vh' }, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows)));
}

export const cell = (label, ...kids) => h('td', { 'data-label': label }, ...kids);

// ---- configuration documents: a list, one edited at a time ------------------------------------

const READ_ONLY = ['id', 'revision', 'created_at', 'updated_at'];
const isObject = (x) => x && typeof x === 'object' && !Array.isArray(x);

/** A JSON merge patch (RFC 7396) turning old into now: removed members null, arrays and values whole. */
export function mergePatch(old, now) {
  const patch = {};
  for (const k of Object.keys(old || {})) if (!READ_ONLY.includes(k) && !(k in now)) patch[k] = null;
  for (const [k, x] of Object.entries(now)) {
    if (READ_ONLY.includes(k)) continue;
    if (isObject(x) && isObject(old[k])) {
      const sub = mergePatch(old[k], x);
      if (Object.keys(sub).length) patch[k] = sub;
    } else if (JSON.stringify(old[k]) !== JSON.stringify(x)) patch[k] = x;
  }
  return patch;
}

/**
 * Saves a configuration document: POST when new, else a merge patch with
 * If-Match on the revision read (now itself when patched: the screen built
 * its own patch). A 412 (changed meanwhile) reloads the list and says so;
 * other failures go beside the fields. Resolves the saved document, or null.
 */
export async function saveDoc(v, form, { collection, old, now, patched, changed, close }) {
  let saved;
  try {
    saved = old
      ? await call('PATCH', `/v1/${collection}/${enc(old.id)}`, patched ? now : mergePatch(old, now), { headers: { 'If-Match': `"${old.revision}"` } })
      : await call('POST', `/v1/${collection}`, now);
  } catch (e) {
    if (e.status === 412) {
      say(changed, 'error');
      close(`edit:${old.id}`);
      await v.refresh(true);
      return null;
    }
    showFailure(form, e);
    return null;
  }
  close(`edit:${saved.id}`);
  await v.refresh(true);
  return saved;
}

/**
 * A list screen's state while one document of it is edited (purposes,
 * properties, policies, topics, channels). ed.editing is null (the list) or
 * {doc, draft} (the form: doc null for a new one; draft what was typed
 * before a language switch, taken from the form's snapshot() — the form
 * found by `form`, a selector). ed.open(what) shows the form, the focus on
 * focus(doc); ed.close(key) goes back to the list, the focus on key, and
 * onClose() stops what ran with the form (the caller redraws); ed.cancel()
 * closes and redraws. ed.newButton and ed.editButton open the form from the
 * list, ed.formButtons() ends the form; ed.save sends it (submitForm,
 * saveDoc) and says it is saved.
 */
export function editOne(v, { form, focus, onClose }) {
  const ed = { editing: null };
  ed.open = (what) => {
    ed.editing = what;
    v.focusKey = focus(what.doc);
    v.render();
  };
  ed.close = (key) => {
    if (onClose) onClose();
    ed.editing = null;
    v.focusKey = key;
  };
  ed.cancel = () => {
    const d = ed.editing && ed.editing.doc;
    ed.close(d ? `edit:${d.id}` : 'new');
    v.render();
  };
  v.relocale = () => {
    const el = v.el.querySelector(form);
    if (ed.editing && el) ed.editing.draft = el.snapshot();
    v.render();
  };
  /** The list's button for a new document (data-key new). */
  ed.newButton = (label) => h('button', { type: 'button', className: 'btn', 'data-key': 'new', onclick: () => ed.open({ doc: null }) }, label);
  /** A row's Edit button (data-key edit:<id>), named for a screen reader by ariaLabel. */
  ed.editButton = (doc, ariaLabel) => h('button', {
    type: 'button', className: 'btn secondary small', 'data-key': `edit:${doc.id}`, 'aria-label': ariaLabel, onclick: () => ed.open({ doc }),
  }, t().edit);
  /** The form's Save (submit, data-key save) and Cancel (data-key cancel). */
  ed.formButtons = () => h('div', { className: 'actions' },
    h('button', { type: 'submit', className: 'btn', 'data-key': 'save' }, t().save),
    h('button', { type: 'button', className: 'btn secondary', 'data-key': 'cancel', onclick: ed.cancel }, t().cancel));
  /**
   * The form's Save: read() checked, the document saved into collection
   * (old: the one edited, null for a new one; patched: see saveDoc), then
   * words.created or words.saved ({id}); words.changedMeanwhile on a 412.
   */
  ed.save = (el, read, { collection, old, words, patched }) => submitForm(v, el, read, async (out) => {
    const saved = await saveDoc(v, el, { collection, old, now: out, patched, changed: words.changedMeanwhile, close: ed.close });
    if (saved) say(fmt(old ? words.saved : words.created, { id: saved.id }), 'ok');
  });
  return ed;
}
