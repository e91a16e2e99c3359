// SPDX-License-Identifier: Apache-2.0
// What every screen of the admin console shares (README.md beside this
// file): the page's state, the element maker, calls to cpmd with the
// session's cookie and CSRF token, the session's timers, forms with their
// errors beside the fields, views that load and draw themselves, tables.

import { T } from './admin-i18n.js';

export const TEXT_LOCALES = ['zh-Hans', 'zh-Hant', 'en']; // a purpose's names and descriptions, as edited here
export const NAME_BYTES_MAX = 200;
export const PAGE_LIMIT = 200;
export const PAGES_MAX = 20; // pages read at most, so a long list cannot hang the page
export const TIMER_MS_MAX = 2147483647;

// onEnded: what the shell does when the session is over (admin.js)
export const app = { session: null, ui: 'en', ended: false, timer: 0, idleEnds: 0, lifetimeEnds: 0, view: null, signIn: null, onEnded: () => {} };
export const t = () => T[app.ui];

// ---- small helpers -------------------------------------------------------------

/**
 * An element. props go to properties, except aria-*, data-*, role and for
 * (attributes); children are nodes or strings (always text, never HTML),
 * arrays are flattened, and null, undefined and false are left out.
 */
export function h(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const k in props || {}) {
    const v = props[k];
    if (v === undefined || v === null) continue;
    if (/^(aria-|data-|role$|for$)/.test(k)) e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...kids.flat(Infinity).filter((k) => k || k === 0));
  return e;
}

/** A template's {name}s replaced by values: the result is only ever used as text. */
export const fmt = (template, values) => String(template).replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
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


/** Says something in the page's one live status line. */
export function say(text, kind) {
  const s = document.getElementById('status');
  s.textContent = '';
  s.dataset.kind = kind || 'info';
  // a new text node each time, so the same words are announced again
  setTimeout(() => { s.textContent = text; }, 20);
}

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

/** Saves a server answer as a file through a Blob and a download link. */
export async function download(path, name) {
  const res = await call('GET', path, undefined, { raw: true });
  const blob = new Blob([await res.text()], { type: 'application/json' });
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

// ---- views ------------------------------------------------------------------------

/**
 * A part of a screen that loads on its own and shows its own error. load()
 * resolves its data; draw(data) returns its content. Focus survives a
 * redraw: focusable parts carry data-key, and the one that had focus gets
 * it back (else the heading does).
 */
export function makeView({ id, title, intro, level = 2, load, draw, className }) {
  const el = h('section', { id, className: className || (level === 2 ? 'card' : 'sub'), 'aria-labelledby': `${id}-h` });
  const v = { el, title, data: undefined, error: null, busy: false, focusKey: null, loads: 0 };
  v.refresh = async (quiet) => {
    const mine = ++v.loads;
    if (quiet !== true || v.data === undefined) {
      v.error = null;
      v.data = undefined;
      v.render();
    }
    let data;
    let error = null;
    try {
      data = await load(v);
    } catch (e) {
      error = e;
    }
    if (mine !== v.loads) return; // a newer load is drawn instead
    v.data = error ? v.data : data;
    v.error = error;
    v.render();
  };
  v.render = () => {
    const active = document.activeElement;
    const inside = el.contains(active);
    const had = inside || (v.focusKey && (!active || active === document.body));
    const key = v.focusKey || (inside && active.dataset.key);
    v.focusKey = null;
    const heading = h(`h${level}`, { id: `${id}-h`, tabIndex: -1, 'data-key': 'heading' }, title());
    let body;
    if (v.error) {
      body = h('div', { className: 'error-box' },
        h('p', { className: 'error' }, fmt(t().loadFailed, { detail: why(v.error) })),
        h('button', { type: 'button', className: 'btn secondary', 'data-key': 'retry', onclick: () => v.refresh() }, t().retry));
    } else if (v.data === undefined) {
      body = h('p', { className: 'loading' }, t().loading);
    } else {
      body = draw(v.data, v);
    }
    el.setAttribute('aria-busy', v.data === undefined && !v.error ? 'true' : 'false');
    el.replaceChildren(...[heading, intro && h('p', { className: 'intro' }, intro()), body].filter(Boolean));
    if (had) {
      const back = key && el.querySelector(`[data-key="${CSS.escape(key)}"]`);
      (back && !back.disabled ? back : heading).focus();
    }
  };
  /** Runs an action once at a time. */
  v.act = async (fn) => {
    if (v.busy) return;
    v.busy = true;
    el.setAttribute('aria-busy', 'true');
    try {
      await fn();
    } finally {
      v.busy = false;
      el.setAttribute('aria-busy', 'false');
    }
  };
  return v;
}

/** A data table that becomes stacked cards on a phone: each cell says its column. */
export function table(caption, columns, rows) {
  return h('div', { className: 'table-wrap' },
    h('table', { className: 'data' },
      h('caption', { className: 'vh' }, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows)));
}

export const cell = (label, ...kids) => h('td', { 'data-label': label }, ...kids);
