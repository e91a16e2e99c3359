// SPDX-License-Identifier: Apache-2.0
// The admin console: the operators' pages, served by cpmd at /admin (see
// README.md beside this file and docs/ADMIN.md). An operator signs in with
// an API key, exchanged at once for a session: an HttpOnly cookie this page
// never sees and a CSRF token it keeps in memory only. The key itself is
// dropped as soon as it has been sent. Every call then goes to the origin
// serving this page, through the same API as every other client, with the
// cookie (and X-CSRF-Token on every change). Everything from the server is
// put in as text: no innerHTML anywhere.
import { LANGS, T, uiLocale } from './admin-i18n.js';

const LANG_KEY = 'cpm-admin:lang'; // the only thing this page stores: the language chosen
const SCOPES = ['admin', 'config', 'consents:write', 'decisions:read', 'ledger:read', 'export'];
const LEGAL_BASES = ['consent', 'contract', 'hr_management', 'legal_obligation', 'public_health', 'vital_interests',
  'news_reporting', 'public_disclosed', 'other_law'];
const CONSENT_FORMS = ['general', 'separate', 'written'];
const TEXT_LOCALES = ['zh-Hans', 'zh-Hant', 'en']; // a purpose's names and descriptions, as edited here
const RIGHT_TYPES = ['access', 'portability', 'correction', 'deletion', 'explanation'];
const NEXT_STATUSES = { received: ['in_progress', 'completed', 'refused'], in_progress: ['completed', 'refused'] };
const QUEUE_FILTERS = ['open', 'received', 'in_progress', 'completed', 'refused', 'all'];
const IDENTIFIER_TYPES = ['phone', 'email', 'wechat_openid', 'wechat_unionid', 'wecom_external_userid', 'device_id', 'device'];
// docs/CONFIGURATION.md: ids are slugs; durations ISO 8601 (cpmd refuses zero ones itself)
const SLUG = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const DURATION = /^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/;
const API_KEY = /^cpm_[A-Za-z0-9_-]{43}$/;
const SUBJECT_ID = /^[!-.0-~]{1,128}$/; // printable ASCII, no space, no '/' (docs/SUBJECTS.md)
const NAME_BYTES_MAX = 200;
const TEXT_BYTES_MAX = 4096;
const RIGHTS_TEXT_BYTES_MAX = 2000;
const PAGE_LIMIT = 200;
const PAGES_MAX = 20; // pages read at most, so a long list cannot hang the page
const TIMER_MS_MAX = 2147483647;

const app = { session: null, ui: 'en', ended: false, timer: 0, idleEnds: 0, lifetimeEnds: 0, view: null, signIn: null };
const t = () => T[app.ui];

// ---- small helpers -------------------------------------------------------------

/**
 * An element. props go to properties, except aria-*, data-*, role and for
 * (attributes); children are nodes or strings (always text, never HTML),
 * arrays are flattened, and null, undefined and false are left out.
 */
function h(tag, props, ...kids) {
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
const fmt = (template, values) => String(template).replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
const enc = encodeURIComponent;
const bytes = (s) => new TextEncoder().encode(s).length;
let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

function when(iso, dateOnly) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return String(iso || '');
  const o = dateOnly ? { dateStyle: 'medium' } : { dateStyle: 'medium', timeStyle: 'short' };
  return new Intl.DateTimeFormat(app.ui, o).format(d);
}

/** The text of a localised text ({locale: string}) in the page's language, else any. */
function localised(map, fallback) {
  if (!map || typeof map !== 'object') return fallback || '';
  const order = [app.ui, ...TEXT_LOCALES, ...Object.keys(map)];
  for (const l of order) if (typeof map[l] === 'string' && map[l]) return map[l];
  return fallback || '';
}

const lang = {
  get() { try { return localStorage.getItem(LANG_KEY); } catch (e) { return null; } },
  set(v) { try { localStorage.setItem(LANG_KEY, v); } catch (e) { /* storage off: this visit only */ } },
};

/** Says something in the page's one live status line. */
function say(text, kind) {
  const s = document.getElementById('status');
  s.textContent = '';
  s.dataset.kind = kind || 'info';
  // a new text node each time, so the same words are announced again
  setTimeout(() => { s.textContent = text; }, 20);
}

const can = (scope) => !!app.session && (app.session.key.scopes.includes('admin') || app.session.key.scopes.includes(scope));
const fileSafe = (s) => String(s).replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 64);
const today = () => new Date().toISOString().slice(0, 10);

// ---- calls -----------------------------------------------------------------------

function failure(status, problem, message, retryAfter) {
  return Object.assign(new Error(message), { status, problem, retryAfter });
}

/**
 * One call to cpmd with the session's cookie; changes carry X-CSRF-Token.
 * Resolves the JSON answer (null for 204; the Response with raw), rejects
 * with {status, problem}. A 401 means the session ended.
 */
async function call(method, path, body, { raw, headers: extra } = {}) {
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
function why(e) {
  if (e.status === 0) return t().offline;
  if (e.status === 401) return t().ended;
  if (e.status === 403) return fmt(t().forbidden, { detail: e.message });
  if (e.status === 429) return fmt(t().rateLimited, { s: e.retryAfter || 1 });
  return e.message;
}

/** Every page of a cursor-paginated list (items), up to PAGES_MAX pages. */
async function allPages(path) {
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
async function download(path, name) {
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
function touch() {
  if (!app.session) return;
  app.idleEnds = Date.now() + app.session.idle_timeout_s * 1000;
  schedule();
}

/** Ends the session in this page when its idle time or lifetime is over (no call: a call would refresh it). */
function schedule() {
  clearTimeout(app.timer);
  const at = Math.min(app.idleEnds, app.lifetimeEnds);
  app.timer = setTimeout(() => (Date.now() >= Math.min(app.idleEnds, app.lifetimeEnds) ? sessionEnded() : schedule()),
    Math.min(Math.max(at - Date.now(), 0) + 50, TIMER_MS_MAX));
}

function startSession(session) {
  const now = Date.now();
  app.session = session;
  app.ended = false;
  // relative to this computer's clock: the server's may differ
  app.lifetimeEnds = now + (Date.parse(session.expires_at) - Date.parse(session.idle_expires_at)) + session.idle_timeout_s * 1000;
  app.idleEnds = now + session.idle_timeout_s * 1000;
  schedule();
}

/** The session is over (ended, revoked, timed out): say so, forget the token, show the sign-in. */
function sessionEnded() {
  if (!app.session) return;
  clearTimeout(app.timer);
  app.session = null;
  app.ended = true;
  drawBanner(true);
  showSignIn();
}

async function signOut() {
  try {
    await call('DELETE', '/v1/admin/sessions/current');
  } catch (e) {
    if (e.status !== 401) {
      say(fmt(t().failed, { detail: why(e) }), 'error');
      return;
    }
  }
  clearTimeout(app.timer);
  app.session = null;
  app.ended = false;
  drawBanner(false);
  showSignIn();
  say(t().signedOut, 'ok');
}

// ---- forms and their errors -----------------------------------------------------------

/** The control (or container) a field path names: the path, else its nearest named parent. */
function fieldTarget(form, field) {
  for (let f = field; f;) {
    const el = form.querySelector(`[data-field="${CSS.escape(f)}"]`);
    if (el) return { el, exact: f === field };
    const cut = Math.max(f.lastIndexOf('.'), f.lastIndexOf('['));
    if (cut <= 0) break;
    f = f.slice(0, cut);
  }
  return null;
}

function clearErrors(form) {
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
function showErrors(form, errors) {
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
function showFailure(form, e) {
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
function field(label, control, hint) {
  const id = control.id || (control.id = nextId('f'));
  const hintEl = hint && h('p', { className: 'note', id: `${id}-hint` }, hint);
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { className: 'field' }, h('label', { for: id }, label), control, hintEl);
}

function checkbox(label, input, hint) {
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
function makeView({ id, title, intro, level = 2, load, draw, className }) {
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
function table(caption, columns, rows) {
  return h('div', { className: 'table-wrap' },
    h('table', { className: 'data' },
      h('caption', { className: 'vh' }, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows)));
}

const cell = (label, ...kids) => h('td', { 'data-label': label }, ...kids);

// ---- 1. purposes -------------------------------------------------------------------

function purposesScreen() {
  let editing = null; // null: the list; {doc|null}: the form (doc null: a new purpose)
  const v = makeView({
    id: 'purposes', title: () => t().purposes, intro: () => t().purposesIntro,
    load: () => allPages('/v1/purposes'),
    draw,
  });

  function draw(list) {
    const tt = t();
    if (editing) return purposeForm(editing.doc, editing.draft);
    const rows = list.map((p) => h('tr', { 'data-purpose': p.id },
      cell(tt.pid, h('code', {}, p.id)),
      cell(tt.pname, localised(p.name, p.id)),
      cell(tt.legalBasis, tt.basis[p.legal_basis] || p.legal_basis),
      cell(tt.consentForm, p.consent_form ? tt.form[p.consent_form] || p.consent_form : '—'),
      cell(tt.sensitive, p.sensitive ? h('span', { className: 'badge warn' }, tt.yes) : tt.no),
      cell(tt.retention, h('code', {}, p.retention)),
      cell(tt.recipients, (p.recipients || []).length ? p.recipients.join(', ') : '—'),
      cell(tt.revision, String(p.revision)),
      cell(tt.actions, h('button', {
        type: 'button', className: 'btn secondary small', 'data-key': `edit:${p.id}`, 'aria-label': fmt(tt.editOne, { id: p.id }),
        onclick: () => open({ doc: p }),
      }, tt.edit))));
    return h('div', {},
      h('div', { className: 'actions' },
        h('button', { type: 'button', className: 'btn', 'data-key': 'new', onclick: () => open({ doc: null }) }, tt.newPurpose)),
      list.length === 0 ? h('p', { className: 'empty' }, tt.noPurposes)
        : table(tt.purposes, [tt.pid, tt.pname, tt.legalBasis, tt.consentForm, tt.sensitive, tt.retention, tt.recipients, tt.revision, tt.actions], rows));
  }

  function open(what) {
    editing = what;
    v.focusKey = what.doc ? 'legal_basis' : 'id';
    v.render();
  }

  function close(key) {
    editing = null;
    v.focusKey = key;
  }

  v.relocale = () => {
    const open = v.el.querySelector('form.purpose-form');
    if (editing && open) editing.draft = open.snapshot();
    v.render();
  };

  function purposeForm(doc, draft) {
    const tt = t();
    const isNew = !doc;
    const d = doc || {};
    const f = draft || d; // what the fields show: the document, or what was typed before a language switch
    const input = (name, props) => h('input', Object.assign({ type: 'text', 'data-field': name, 'data-key': name, autocomplete: 'off' }, props));
    const id = input('id', { value: f.id || '', disabled: !isNew, spellcheck: false, required: true });
    const names = TEXT_LOCALES.map((l) => input(`name.${l}`, { value: (f.name && f.name[l]) || '', lang: l, maxLength: 400 }));
    const descriptions = TEXT_LOCALES.map((l) => h('textarea', {
      'data-field': `description.${l}`, 'data-key': `description.${l}`, rows: 2, lang: l, value: (f.description && f.description[l]) || '',
    }));
    const basis = h('select', { 'data-field': 'legal_basis', 'data-key': 'legal_basis', required: true },
      h('option', { value: '' }, tt.choose),
      LEGAL_BASES.map((b) => h('option', { value: b, selected: f.legal_basis === b }, tt.basis[b])));
    const form = h('select', { 'data-field': 'consent_form', 'data-key': 'consent_form' },
      h('option', { value: '' }, tt.choose),
      CONSENT_FORMS.map((c) => h('option', { value: c, selected: f.consent_form === c }, tt.form[c])));
    const sensitive = h('input', { type: 'checkbox', checked: !!f.sensitive, 'data-field': 'sensitive', 'data-key': 'sensitive' });
    const necessary = h('input', { type: 'checkbox', checked: !!f.necessary_for_service, 'data-field': 'necessary_for_service', 'data-key': 'necessary' });
    const retention = input('retention', { value: f.retention || '', spellcheck: false, placeholder: 'P2Y' });
    const recipients = input('recipients', { value: Array.isArray(f.recipients) ? f.recipients.join(', ') : (f.recipients || ''), spellcheck: false });
    const formField = field(tt.consentForm, form, tt.consentFormHint);
    const showForm = () => { formField.hidden = basis.value !== 'consent'; };
    basis.addEventListener('change', showForm);
    showForm();

    const el = h('form', {
      className: 'purpose-form', noValidate: true, 'data-mode': isNew ? 'create' : 'edit',
      onsubmit: (e) => {
        e.preventDefault();
        save();
      },
    },
    h('h3', { tabIndex: -1, 'data-key': 'form-h' }, isNew ? tt.newPurpose : fmt(tt.editPurpose, { id: d.id })),
    h('div', { className: 'form-errors', tabIndex: -1 }),
    field(tt.pid, id, isNew ? tt.pidHint : tt.pidFixed),
    h('fieldset', { 'data-field': 'name' }, h('legend', {}, tt.names),
      h('p', { className: 'note' }, tt.namesHint),
      TEXT_LOCALES.map((l, i) => field(tt.localeNames[l], names[i]))),
    h('fieldset', { 'data-field': 'description' }, h('legend', {}, tt.descriptions),
      TEXT_LOCALES.map((l, i) => field(tt.localeNames[l], descriptions[i]))),
    field(tt.legalBasis, basis, tt.legalBasisHint),
    formField,
    checkbox(tt.sensitive, sensitive, tt.sensitiveHint),
    checkbox(tt.necessary, necessary, tt.necessaryHint),
    field(tt.retention, retention, tt.retentionHint),
    field(tt.recipients, recipients, tt.recipientsHint),
    h('div', { className: 'actions' },
      h('button', { type: 'submit', className: 'btn', 'data-key': 'save' }, tt.save),
      h('button', { type: 'button', className: 'btn secondary', 'data-key': 'cancel', onclick: () => { close(isNew ? 'new' : `edit:${d.id}`); v.render(); } }, tt.cancel)));

    /** The purpose as the form says, and the faults the page can see itself. */
    function read() {
      const faults = [];
      const out = {};
      const idText = id.value.trim();
      if (isNew) {
        if (!idText) faults.push({ field: 'id', message: tt.required });
        else if (!SLUG.test(idText)) faults.push({ field: 'id', message: tt.slugRule });
        out.id = idText;
      }
      const name = {};
      TEXT_LOCALES.forEach((l, i) => {
        const s = names[i].value.trim();
        if (bytes(s) > NAME_BYTES_MAX) faults.push({ field: `name.${l}`, message: fmt(tt.tooLong, { n: NAME_BYTES_MAX }) });
        name[l] = s;
      });
      if (!TEXT_LOCALES.some((l) => name[l])) faults.push({ field: 'name', message: tt.oneName });
      const description = {};
      TEXT_LOCALES.forEach((l, i) => {
        const s = descriptions[i].value.trim();
        if (bytes(s) > TEXT_BYTES_MAX) faults.push({ field: `description.${l}`, message: fmt(tt.tooLong, { n: TEXT_BYTES_MAX }) });
        description[l] = s;
      });
      if (!basis.value) faults.push({ field: 'legal_basis', message: tt.required });
      const consent = basis.value === 'consent';
      if (consent && !form.value) faults.push({ field: 'consent_form', message: tt.consentFormNeeded });
      if (consent && sensitive.checked && form.value === 'general') faults.push({ field: 'consent_form', message: tt.sensitiveForm });
      const ret = retention.value.trim();
      if (!ret) faults.push({ field: 'retention', message: tt.required });
      else if (!DURATION.test(ret)) faults.push({ field: 'retention', message: tt.durationRule });
      const recs = recipients.value.split(/[\s,，]+/).filter(Boolean);
      recs.forEach((r) => { if (!SLUG.test(r)) faults.push({ field: 'recipients', message: fmt(tt.recipientRule, { value: r }) }); });
      out.legal_basis = basis.value;
      out.sensitive = sensitive.checked;
      out.necessary_for_service = necessary.checked;
      out.retention = ret;
      out.recipients = recs;
      return { faults, out, name, description, consentForm: consent ? form.value : null };
    }

    /** What is typed, to draw the form again in another language. */
    el.snapshot = () => ({
      id: id.value, legal_basis: basis.value, consent_form: form.value, sensitive: sensitive.checked,
      necessary_for_service: necessary.checked, retention: retention.value, recipients: recipients.value,
      name: Object.fromEntries(TEXT_LOCALES.map((l, i) => [l, names[i].value])),
      description: Object.fromEntries(TEXT_LOCALES.map((l, i) => [l, descriptions[i].value])),
    });

    function save() {
      const { faults, out, name, description, consentForm } = read();
      if (faults.length) return showErrors(el, faults);
      clearErrors(el);
      return v.act(async () => {
        say(tt.saving);
        let body;
        const keep = (m) => Object.fromEntries(Object.entries(m).filter(([, s]) => s));
        if (isNew) {
          body = Object.assign({ id: out.id, name: keep(name) }, Object.keys(keep(description)).length ? { description: keep(description) } : {},
            { legal_basis: out.legal_basis }, consentForm ? { consent_form: consentForm } : {},
            { sensitive: out.sensitive, necessary_for_service: out.necessary_for_service, retention: out.retention, recipients: out.recipients });
        } else {
          // a JSON merge patch (RFC 7396): an emptied locale or a consent form no longer asked is removed with null
          const patchMap = (m, old) => Object.fromEntries(TEXT_LOCALES.filter((l) => m[l] || (old && old[l])).map((l) => [l, m[l] || null]));
          body = { name: patchMap(name, d.name), legal_basis: out.legal_basis, consent_form: consentForm,
            sensitive: out.sensitive, necessary_for_service: out.necessary_for_service, retention: out.retention, recipients: out.recipients };
          const desc = patchMap(description, d.description);
          // every description removed: the field goes (an empty text map is no description)
          const left = Object.keys(d.description || {}).filter((l) => !TEXT_LOCALES.includes(l)).length + TEXT_LOCALES.filter((l) => description[l]).length;
          if (Object.keys(desc).length) body.description = left ? desc : null;
        }
        let saved;
        try {
          saved = isNew
            ? await call('POST', '/v1/purposes', body)
            : await call('PATCH', `/v1/purposes/${enc(d.id)}`, body, { headers: { 'If-Match': `"${d.revision}"` } });
        } catch (e) {
          if (e.status === 412) {
            say(tt.changedMeanwhile, 'error');
            close(`edit:${d.id}`);
            await v.refresh(true);
            return;
          }
          return showFailure(el, e);
        }
        close(`edit:${saved.id}`);
        await v.refresh(true);
        say(fmt(isNew ? tt.created : tt.saved, { id: saved.id }), 'ok');
      });
    }
    return el;
  }
  return v;
}

// ---- 2. API keys -------------------------------------------------------------------

function keysScreen() {
  let creating = false;
  let secret = null; // {id, key}: shown once, then forgotten
  let confirming = null; // a key id being revoked
  let draft = { name: '', scopes: [] }; // the new key's form as typed
  const v = makeView({
    id: 'keys', title: () => t().keys, intro: () => t().keysIntro,
    load: () => allPages('/v1/api-keys'),
    draw,
  });

  function draw(list) {
    const tt = t();
    const parts = [];
    if (secret) parts.push(secretPanel());
    else if (creating) parts.push(createForm());
    else parts.push(h('div', { className: 'actions' }, h('button', { type: 'button', className: 'btn', 'data-key': 'new', onclick: () => { creating = true; v.focusKey = 'name'; v.render(); } }, tt.newKey)));
    const mine = app.session && app.session.key.id;
    const rows = list.map((k) => h('tr', { 'data-key-id': k.id, 'data-revoked': k.revoked_at ? 'true' : 'false' },
      cell(tt.keyName, k.name, k.id === mine ? [' ', h('span', { className: 'badge' }, tt.yours)] : null),
      cell(tt.keyId, h('code', {}, k.id)),
      cell(tt.scopes, h('ul', { className: 'scopes' }, k.scopes.map((s) => h('li', {}, h('code', {}, s))))),
      cell(tt.createdAt, when(k.created_at)),
      cell(tt.keyStatus, k.revoked_at ? h('span', { className: 'badge bad' }, fmt(tt.revokedAt, { date: when(k.revoked_at) })) : h('span', { className: 'badge good' }, tt.active)),
      cell(tt.actions, k.revoked_at ? '—' : confirming === k.id ? confirmRevoke(k, k.id === mine)
        : h('button', { type: 'button', className: 'btn danger small', 'data-key': `revoke:${k.id}`, 'aria-label': fmt(tt.revokeOne, { name: k.name }), onclick: () => { confirming = k.id; v.focusKey = 'confirm-h'; v.render(); } }, tt.revoke))));
    parts.push(list.length === 0 ? h('p', { className: 'empty' }, tt.noKeys)
      : table(tt.keys, [tt.keyName, tt.keyId, tt.scopes, tt.createdAt, tt.keyStatus, tt.actions], rows));
    return h('div', {}, parts);
  }

  function confirmRevoke(k, own) {
    const tt = t();
    return h('div', { className: 'confirm', role: 'group', 'aria-labelledby': 'confirm-h' },
      h('p', { id: 'confirm-h', className: 'confirm-q', tabIndex: -1, 'data-key': 'confirm-h' }, fmt(tt.revokeQuestion, { name: k.name })),
      h('p', {}, own ? tt.revokeOwn : tt.revokeText),
      h('div', { className: 'actions' },
        h('button', { type: 'button', className: 'btn danger', 'data-key': 'confirm-yes', onclick: () => revoke(k, own) }, tt.revokeYes),
        h('button', { type: 'button', className: 'btn secondary', 'data-key': 'confirm-no', onclick: () => { confirming = null; v.focusKey = `revoke:${k.id}`; v.render(); } }, tt.cancel)));
  }

  function revoke(k, own) {
    return v.act(async () => {
      say(t().saving);
      try {
        await call('DELETE', `/v1/api-keys/${enc(k.id)}`);
      } catch (e) {
        say(fmt(t().failed, { detail: why(e) }), 'error');
        return;
      }
      confirming = null;
      if (own) { // its sessions, this one included, ended with it
        sessionEnded();
        say(fmt(t().revoked, { name: k.name }), 'ok');
        return;
      }
      v.focusKey = 'heading';
      await v.refresh(true);
      say(fmt(t().revoked, { name: k.name }), 'ok');
    });
  }

  function createForm() {
    const tt = t();
    const name = h('input', { type: 'text', 'data-field': 'name', 'data-key': 'name', autocomplete: 'off', maxLength: 400, value: draft.name,
      oninput: (e) => { draft.name = e.target.value; } });
    const boxes = SCOPES.map((s) => h('input', { type: 'checkbox', value: s, id: `scope-${s.replace(':', '-')}`, 'data-key': `scope:${s}`,
      checked: draft.scopes.includes(s), onchange: () => { draft.scopes = boxes.filter((b) => b.checked).map((b) => b.value); } }));
    const el = h('form', {
      className: 'key-form', noValidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        const faults = [];
        const n = name.value.trim();
        if (!n) faults.push({ field: 'name', message: tt.required });
        else if (bytes(n) > NAME_BYTES_MAX) faults.push({ field: 'name', message: fmt(tt.tooLong, { n: NAME_BYTES_MAX }) });
        const scopes = boxes.filter((b) => b.checked).map((b) => b.value);
        if (!scopes.length) faults.push({ field: 'scopes', message: tt.oneScope });
        if (faults.length) return showErrors(el, faults);
        clearErrors(el);
        return v.act(async () => {
          say(tt.saving);
          let made;
          try {
            made = await call('POST', '/v1/api-keys', { name: n, scopes });
          } catch (err) {
            return showFailure(el, err);
          }
          creating = false;
          draft = { name: '', scopes: [] };
          secret = { id: made.id, name: made.name, key: made.key };
          v.focusKey = 'secret-h';
          await v.refresh(true);
          say(fmt(tt.keyCreated, { name: made.name }), 'ok');
        });
      },
    },
    h('h3', {}, tt.newKey),
    h('div', { className: 'form-errors', tabIndex: -1 }),
    field(tt.keyName, name, tt.keyNameHint),
    h('fieldset', { 'data-field': 'scopes' }, h('legend', {}, tt.scopes),
      SCOPES.map((s, i) => checkbox(s, boxes[i], tt.scopeHint[s]))),
    h('div', { className: 'actions' },
      h('button', { type: 'submit', className: 'btn', 'data-key': 'create' }, tt.create),
      h('button', { type: 'button', className: 'btn secondary', 'data-key': 'cancel', onclick: () => { creating = false; draft = { name: '', scopes: [] }; v.focusKey = 'new'; v.render(); } }, tt.cancel)));
    return el;
  }

  function secretPanel() {
    const tt = t();
    const out = h('input', { type: 'text', readOnly: true, value: secret.key, id: 'new-secret', className: 'secret', spellcheck: false, autocomplete: 'off', 'data-key': 'secret' });
    const copy = async () => {
      try {
        await navigator.clipboard.writeText(secret.key);
        say(tt.copied, 'ok');
      } catch (e) { // no clipboard here: select it for the operator to copy
        out.focus();
        out.select();
        say(tt.copyByHand, 'error');
      }
    };
    return h('div', { className: 'secret-panel', role: 'group', 'aria-labelledby': 'secret-h' },
      h('h3', { id: 'secret-h', tabIndex: -1, 'data-key': 'secret-h' }, fmt(tt.secretTitle, { name: secret.name })),
      h('p', { className: 'warn-text' }, tt.secretOnce),
      h('div', { className: 'field' }, h('label', { for: 'new-secret' }, tt.secretLabel), out),
      h('div', { className: 'actions' },
        h('button', { type: 'button', className: 'btn', 'data-key': 'copy', onclick: copy }, tt.copy),
        h('button', { type: 'button', className: 'btn secondary', 'data-key': 'done', onclick: () => { secret = null; v.focusKey = 'new'; v.render(); } }, tt.secretDone)));
  }
  v.leave = () => { secret = null; };
  return v;
}

// ---- 3. the rights requests queue ------------------------------------------------------

function requestsScreen() {
  let filter = 'open';
  let overdueOnly = false;
  let handling = null; // {id, status, reply, reason}
  const v = makeView({
    id: 'requests', title: () => t().requests, intro: () => t().requestsIntro,
    load: () => {
      const q = new URLSearchParams();
      if (filter !== 'all') q.set('status', filter);
      if (overdueOnly) q.set('overdue', 'true');
      return allPages(`/v1/requests${q.toString() ? `?${q}` : ''}`);
    },
    draw,
  });

  function draw(list) {
    const tt = t();
    const statusSel = h('select', { id: 'rq-filter', 'data-key': 'filter', onchange: (e) => { filter = e.target.value; if (!['open', 'received', 'in_progress'].includes(filter)) overdueOnly = false; v.focusKey = 'filter'; v.refresh(); } },
      QUEUE_FILTERS.map((f) => h('option', { value: f, selected: f === filter }, tt.queueFilter[f])));
    const overdue = h('input', { type: 'checkbox', id: 'rq-overdue', checked: overdueOnly, 'data-key': 'overdue', disabled: !['open', 'received', 'in_progress'].includes(filter),
      onchange: (e) => { overdueOnly = e.target.checked; v.focusKey = 'overdue'; v.refresh(); } });
    const now = Date.now();
    const rows = list.map((r) => {
      const daysLate = r.overdue ? Math.max(1, Math.ceil((now - Date.parse(r.due_at)) / 86400000)) : 0;
      return h('li', { className: `request${r.overdue ? ' overdue' : ''}`, 'data-request': r.id, 'data-status': r.status, 'data-overdue': r.overdue ? 'true' : 'false' },
        h('div', { className: 'rq-head' },
          h('span', { className: 'row-what' }, (tt.rightTypes[r.type] || r.type)),
          h('span', { className: `badge rq-${r.status}` }, tt.rstatus[r.status] || r.status),
          r.overdue && h('span', { className: 'badge bad overdue-badge' }, fmt(tt.overdueBy, { n: daysLate }))),
        h('p', { className: 'rq-facts' },
          fmt(tt.filedOn, { date: when(r.created_at) }), ' · ',
          h('strong', { className: r.overdue ? 'late' : '' }, fmt(tt.dueOn, { date: when(r.due_at) })), ' · ',
          tt.subject, ' ', h('button', { type: 'button', className: 'link', 'data-key': `subject:${r.id}`, onclick: () => openSubject(r.subject) }, r.subject),
          r.property ? ` · ${fmt(tt.onProperty, { property: r.property })}` : ''),
        typeof r.note === 'string' && r.note && h('p', { className: 'quote' }, fmt(tt.note, { text: r.note })),
        r.note_erased && h('p', { className: 'note' }, tt.noteErased),
        typeof r.reply === 'string' && r.reply && h('p', { className: 'quote' }, fmt(tt.reply, { text: r.reply })),
        typeof r.reason === 'string' && r.reason && h('p', { className: 'quote' }, fmt(tt.reason, { text: r.reason })),
        NEXT_STATUSES[r.status] && (handling && handling.id === r.id ? handleForm(r)
          : h('div', { className: 'actions' }, h('button', { type: 'button', className: 'btn secondary small', 'data-key': `handle:${r.id}`, onclick: () => { handling = { id: r.id, status: NEXT_STATUSES[r.status][0], reply: '', reason: '' }; v.focusKey = 'handle-h'; v.render(); } }, tt.handle))));
    });
    return h('div', {},
      h('div', { className: 'filters' },
        field(tt.show, statusSel),
        checkbox(tt.overdueOnly, overdue)),
      list.length === 0 ? h('p', { className: 'empty' }, tt.noRequests) : h('ul', { className: 'rows requests' }, rows));
  }

  function handleForm(r) {
    const tt = t();
    const reply = h('textarea', { rows: 3, 'data-field': 'reply', 'data-key': 'reply', value: handling.reply, oninput: (e) => { handling.reply = e.target.value; } });
    const reason = h('textarea', { rows: 3, 'data-field': 'reason', 'data-key': 'reason', value: handling.reason, oninput: (e) => { handling.reason = e.target.value; } });
    const reasonField = field(tt.reasonLabel, reason, tt.reasonHint);
    reasonField.hidden = handling.status !== 'refused';
    const el = h('form', {
      className: 'handle-form', noValidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        const faults = [];
        const body = { status: handling.status };
        const rep = handling.reply.trim();
        const rea = handling.reason.trim();
        if (rep) body.reply = rep;
        if (bytes(rep) > RIGHTS_TEXT_BYTES_MAX) faults.push({ field: 'reply', message: fmt(tt.tooLong, { n: RIGHTS_TEXT_BYTES_MAX }) });
        if (handling.status === 'refused') {
          if (!rea) faults.push({ field: 'reason', message: tt.reasonNeeded });
          else if (bytes(rea) > RIGHTS_TEXT_BYTES_MAX) faults.push({ field: 'reason', message: fmt(tt.tooLong, { n: RIGHTS_TEXT_BYTES_MAX }) });
          body.reason = rea;
        }
        if (faults.length) return showErrors(el, faults);
        clearErrors(el);
        return v.act(async () => {
          say(tt.saving);
          try {
            await call('PATCH', `/v1/requests/${enc(r.id)}`, body);
          } catch (err) {
            return showFailure(el, err);
          }
          handling = null;
          v.focusKey = 'heading';
          await v.refresh(true);
          say(fmt(tt.requestMoved, { status: tt.rstatus[body.status] }), 'ok');
        });
      },
    },
    h('h3', { id: 'handle-h', tabIndex: -1, 'data-key': 'handle-h' }, fmt(tt.handleTitle, { type: tt.rightTypes[r.type] || r.type })),
    h('div', { className: 'form-errors', tabIndex: -1 }),
    h('fieldset', { 'data-field': 'status' }, h('legend', {}, tt.newStatus),
      NEXT_STATUSES[r.status].map((s) => checkbox(tt.rstatus[s], h('input', {
        type: 'radio', name: `st-${r.id}`, value: s, id: `st-${s}`, checked: handling.status === s, 'data-key': `st:${s}`,
        onchange: () => { handling.status = s; reasonField.hidden = s !== 'refused'; },
      }), tt.statusHint[s]))),
    field(tt.replyLabel, reply, tt.replyHint),
    reasonField,
    h('div', { className: 'actions' },
      h('button', { type: 'submit', className: 'btn', 'data-key': 'apply' }, tt.apply),
      h('button', { type: 'button', className: 'btn secondary', 'data-key': 'cancel', onclick: () => { handling = null; v.focusKey = `handle:${r.id}`; v.render(); } }, tt.cancel)));
    return el;
  }
  return v;
}

// ---- 4. subjects -------------------------------------------------------------------

let pendingSubject = null; // a subject to open when the subjects screen shows (from the queue)

function openSubject(id) {
  pendingSubject = id;
  if (location.hash === '#/subjects') route();
  else location.hash = '#/subjects';
}

function subjectsScreen() {
  let by = 'id';
  let idText = '';
  let idType = 'phone';
  let idValue = '';
  let current = null; // the subject id shown (kept in memory: never in the address)
  let parts = [];
  const root = h('div', { className: 'subjects' });
  const search = makeView({
    id: 'subjects', title: () => t().subjects, intro: () => t().subjectsIntro,
    load: async () => true,
    draw: drawSearch,
  });
  root.append(search.el);
  const detail = h('div', { id: 'subject-detail' });
  root.append(detail);

  function drawSearch() {
    const tt = t();
    const radio = (value) => h('input', { type: 'radio', name: 'by', value, id: `by-${value}`, checked: by === value, 'data-key': `by-${value}`,
      onchange: () => { by = value; search.focusKey = `by-${value}`; search.render(); } });
    const el = h('form', {
      className: 'lookup', noValidate: true, role: 'search',
      onsubmit: (e) => {
        e.preventDefault();
        lookup(el);
      },
    },
    h('div', { className: 'form-errors', tabIndex: -1 }),
    h('fieldset', {}, h('legend', {}, tt.findBy), checkbox(tt.byId, radio('id')), checkbox(tt.byIdentifier, radio('identifier'))),
    by === 'id'
      ? field(tt.subjectId, h('input', { type: 'text', value: idText, 'data-field': 'id', 'data-key': 'sid', spellcheck: false, autocomplete: 'off', oninput: (e) => { idText = e.target.value; } }), tt.subjectIdHint)
      : h('div', { className: 'pair' },
        field(tt.identifierType, h('select', { 'data-field': 'identifier_type', 'data-key': 'itype', onchange: (e) => { idType = e.target.value; } },
          IDENTIFIER_TYPES.map((x) => h('option', { value: x, selected: x === idType }, tt.identifierTypes[x] || x)))),
        field(tt.identifierValue, h('input', { type: 'text', value: idValue, 'data-field': 'identifier_value', 'data-key': 'ivalue', spellcheck: false, autocomplete: 'off', oninput: (e) => { idValue = e.target.value; } }), tt.identifierHint)),
    h('div', { className: 'actions' }, h('button', { type: 'submit', className: 'btn', 'data-key': 'find' }, tt.find)));
    return el;
  }

  function lookup(form) {
    const tt = t();
    if (by === 'id') {
      const s = idText.trim();
      if (!s) return showErrors(form, [{ field: 'id', message: tt.required }]);
      if (!SUBJECT_ID.test(s) || s.includes('/')) return showErrors(form, [{ field: 'id', message: tt.subjectIdRule }]);
      clearErrors(form);
      return show(s);
    }
    const value = idValue.trim();
    if (!value) return showErrors(form, [{ field: 'identifier_value', message: tt.required }]);
    clearErrors(form);
    return search.act(async () => {
      let found;
      try {
        found = await call('GET', `/v1/subjects?identifier_type=${enc(idType)}&identifier_value=${enc(value)}`);
      } catch (e) {
        if (e.status === 404) return showErrors(form, [{ field: 'identifier_value', message: tt.noSuchIdentifier }]);
        return showFailure(form, e);
      }
      show(found.id);
    });
  }

  function show(id) {
    current = id;
    const tt = t();
    const path = `/v1/subjects/${enc(id)}`;
    // the purposes' names, for a key that may read them (else their ids are shown)
    const names = can('config') ? allPages('/v1/purposes').then((list) => new Map(list.map((p) => [p.id, p.name])), () => new Map())
      : Promise.resolve(new Map());
    const profile = makeView({
      id: 'subject-profile', title: () => fmt(t().subjectTitle, { id: current }), className: 'profile',
      load: async () => {
        try {
          return await call('GET', path);
        } catch (e) {
          if (e.status === 404 && e.problem && !/^no route/.test(e.problem.detail || '')) return null;
          throw e;
        }
      },
      draw: drawProfile,
    });
    const consents = makeView({
      id: 'subject-consents', level: 3, title: () => t().currentConsents,
      load: async () => {
        const [list, named] = await Promise.all([
          call('GET', `${path}/consents`).catch((e) => { if (e.status === 404) return { consents: [] }; throw e; }),
          names,
        ]);
        return { consents: list.consents || [], names: named };
      },
      draw: drawConsents,
    });
    const prefs = makeView({
      id: 'subject-preferences', level: 3, title: () => t().preferences,
      load: () => call('GET', `${path}/preferences`).catch((e) => { if (e.status === 404) return { preferences: {} }; throw e; }),
      draw: drawPreferences,
    });
    parts = [profile, consents, prefs];
    if (can('ledger:read')) {
      const timeline = makeView({
        id: 'subject-timeline', level: 3, title: () => t().timeline, intro: () => t().timelineIntro,
        load: async () => ({ items: await allPages(`${path}/events`), names: await names }),
        draw: drawTimeline,
      });
      parts.push(timeline);
    }
    const card = h('section', { className: 'card subject', id: 'subject', 'aria-labelledby': 'subject-profile-h' }, parts.map((p) => p.el));
    if (!can('ledger:read')) card.append(h('p', { className: 'note', id: 'no-ledger' }, tt.needsLedger));
    detail.replaceChildren(card);
    for (const p of parts.slice(1)) p.refresh();
    profile.refresh().then(() => { // the answer's heading takes the focus from the search
      const heading = document.getElementById('subject-profile-h');
      if (heading && current === id) heading.focus();
    });
  }

  function drawProfile(s) {
    const tt = t();
    if (s === null) return h('p', { className: 'empty', id: 'no-subject' }, tt.noSubject);
    const rows = [
      [tt.pseudonym, h('code', { className: 'wrap' }, s.pseudonym)],
      [tt.ageStatus, tt.ages[s.age_status] || s.age_status],
      [tt.createdAt, when(s.created_at)],
      [tt.erasedAt, s.erased_at ? h('span', { className: 'badge bad' }, when(s.erased_at)) : '—'],
      [tt.identifiers, (s.identifiers || []).length ? h('ul', { className: 'plain' }, s.identifiers.map((i) => h('li', {}, `${tt.identifierTypes[i.type] || i.type}: `, h('code', {}, i.value)))) : '—'],
      [tt.guardians, (s.guardians || []).length ? s.guardians.join(', ') : '—'],
    ];
    return h('div', {},
      h('dl', { className: 'facts-list' }, rows.map(([k, val]) => [h('dt', {}, k), h('dd', {}, val)])),
      can('ledger:read') && h('div', { className: 'actions' },
        h('button', { type: 'button', className: 'btn', 'data-key': 'evidence', 'aria-describedby': 'evidence-hint', onclick: evidence }, tt.evidence),
        h('p', { className: 'note', id: 'evidence-hint' }, tt.evidenceHint)));
  }

  function evidence() {
    const tt = t();
    const id = current;
    const name = `evidence-${fileSafe(id)}-${today()}.json`;
    return parts[0].act(async () => {
      try {
        await download(`/v1/subjects/${enc(id)}/evidence`, name);
        say(fmt(tt.downloaded, { name }), 'ok');
      } catch (e) {
        say(e.status === 404 ? tt.evidenceNotYet : fmt(tt.failed, { detail: why(e) }), 'error');
      }
    });
  }

  function drawConsents({ consents, names }) {
    const tt = t();
    if (!consents.length) return h('p', { className: 'empty' }, tt.noConsents);
    const rows = consents.map((c) => h('tr', { 'data-purpose': c.purpose, 'data-status': c.status },
      cell(tt.purpose, localised(names.get(c.purpose), c.purpose), c.recipient ? h('span', { className: 'note' }, ` → ${c.recipient}`) : null),
      cell(tt.consentStatus, h('span', { className: `badge st-${c.status}` }, tt.cstatus[c.status] || c.status)),
      cell(tt.decidedAt, when(c.decided_at)),
      cell(tt.noticeVersion, c.notice ? fmt(tt.noticeRef, { id: c.notice.id, version: c.notice.version }) : '—'),
      cell(tt.expiresAt, c.expires_at ? when(c.expires_at) : '—')));
    return table(tt.currentConsents, [tt.purpose, tt.consentStatus, tt.decidedAt, tt.noticeVersion, tt.expiresAt], rows);
  }

  function drawPreferences(body) {
    const tt = t();
    const p = body.preferences || {};
    const onOff = (m) => Object.keys(m || {}).length ? h('ul', { className: 'plain' }, Object.entries(m).map(([k, on]) => h('li', {}, `${tt.channels[k] || k}: `, h('span', { className: on ? 'on' : 'off' }, on ? tt.on : tt.off)))) : '—';
    const dayList = (days) => (!days || days.length === 0 || days.length === 7 ? tt.everyDay : days.map((d) => tt.days[d] || d).join(' '));
    const windows = (p.contact_windows || []).map((w) => `${dayList(w.days)} ${w.from}–${w.to}`);
    const caps = (p.frequency_caps || []).map((c) => fmt(tt.capText, { channel: tt.channels[c.channel] || c.channel, max: c.max, per: tt.per[c.per] || c.per }));
    const rows = [
      [tt.prefChannels, onOff(p.channels)],
      [tt.prefTopics, onOff(p.topics)],
      [tt.prefWindows, windows.length ? h('ul', { className: 'plain' }, windows.map((w) => h('li', {}, w))) : tt.anyTime],
      [tt.prefTz, p.time_zone || '—'],
      [tt.prefCaps, caps.length ? h('ul', { className: 'plain' }, caps.map((c) => h('li', {}, c))) : '—'],
      [tt.prefLanguage, p.language || '—'],
      [tt.prefPersonalisation, p.personalisation === false ? tt.off : tt.on],
    ];
    return h('div', {},
      h('dl', { className: 'facts-list' }, rows.map(([k, val]) => [h('dt', {}, k), h('dd', {}, val)])),
      body.updated_at && h('p', { className: 'note' }, fmt(tt.prefUpdated, { date: when(body.updated_at) })));
  }

  function drawTimeline({ items, names }) {
    const tt = t();
    if (!items.length) return h('p', { className: 'empty' }, tt.noEvents);
    const events = items.slice().reverse(); // newest first
    return h('ol', { className: 'rows timeline', reversed: true }, events.map((i) => {
      const e = i.event || {};
      const facts = [];
      if (e.purpose) facts.push(fmt(tt.evPurpose, { purpose: localised(names.get(e.purpose), e.purpose) }));
      if (e.recipient) facts.push(fmt(tt.evRecipient, { recipient: e.recipient }));
      if (e.channel) facts.push(fmt(tt.evChannel, { channel: e.channel, method: e.method || '—' }));
      if (e.actor && e.actor !== 'self') facts.push(fmt(tt.evActor, { actor: e.actor }));
      if (e.request_type) facts.push(fmt(tt.evRequest, { type: tt.rightTypes[e.request_type] || e.request_type, status: tt.rstatus[e.status] || e.status || '' }));
      if (e.from && e.from.seq) facts.push(fmt(tt.evMerged, { seq: e.from.seq }));
      return h('li', { 'data-seq': i.seq, 'data-type': e.type || '' },
        h('div', { className: 'rq-head' },
          h('span', { className: 'row-what' }, tt.events[e.type] || e.type || '?'),
          h('span', { className: 'row-when' }, when(e.time))),
        facts.length > 0 && h('p', { className: 'rq-facts' }, facts.join(' · ')),
        e.notice && h('p', { className: 'notice-ref' }, fmt(tt.evNotice, { id: e.notice.id, version: e.notice.version }),
          e.notice.sha256 ? h('code', { title: e.notice.sha256 }, ` sha256 ${String(e.notice.sha256).slice(0, 12)}…`) : null),
        h('p', { className: 'note' }, fmt(tt.evSeq, { seq: i.seq, id: e.id || '' })));
    }));
  }

  const v = {
    el: root,
    refresh() {
      search.refresh();
      if (pendingSubject) {
        const id = pendingSubject;
        pendingSubject = null;
        by = 'id';
        idText = id;
        show(id);
      }
    },
    relocale() {
      search.render();
      for (const p of parts) p.render();
    },
    heading: () => search.el.querySelector('h2'),
  };
  return v;
}

// ---- the page ------------------------------------------------------------------------------

const SCREENS = [
  { id: 'purposes', needs: 'config', make: purposesScreen },
  { id: 'keys', needs: 'admin', make: keysScreen },
  { id: 'requests', needs: 'admin', make: requestsScreen },
  { id: 'subjects', needs: 'decisions:read', make: subjectsScreen },
];

function drawChrome() {
  const tt = t();
  document.documentElement.lang = app.ui;
  document.title = tt.title;
  document.getElementById('title').textContent = tt.title;
  document.getElementById('skip').textContent = tt.skip;
  document.getElementById('lang-label').textContent = tt.lang;
  document.getElementById('nav-title').textContent = tt.navTitle;
  const langSel = document.getElementById('lang');
  langSel.replaceChildren(...LANGS.map(([v, name]) => h('option', { value: v, lang: v, selected: v === app.ui }, name)));
  const out = document.getElementById('signout');
  out.textContent = tt.signOut;
  out.hidden = !app.session;
  const who = document.getElementById('who');
  who.textContent = app.session
    ? fmt(tt.who, { name: app.session.key.name, id: app.session.key.id, scopes: app.session.key.scopes.join(', '), time: when(new Date(app.lifetimeEnds).toISOString()) })
    : '';
  const nav = document.getElementById('nav');
  nav.hidden = !app.session;
  const here = app.view && app.view.screen;
  document.getElementById('nav-list').replaceChildren(...(app.session ? SCREENS.filter((s) => can(s.needs)) : []).map((s) =>
    h('li', {}, h('a', { href: `#/${s.id}`, 'data-screen': s.id, 'aria-current': here === s.id ? 'page' : null }, tt[s.id]))));
  drawBanner(app.ended);
}

function drawBanner(ended) {
  const banner = document.getElementById('session');
  banner.hidden = !ended;
  banner.replaceChildren(...(ended ? [h('strong', {}, t().ended), ' ', h('span', {}, t().endedText)] : []));
}

/** Shows the screen the address names (or the first the key may see). */
function route() {
  if (!app.session) return;
  const want = (/^#\/([a-z]+)/.exec(location.hash) || [])[1];
  const allowed = SCREENS.filter((s) => can(s.needs));
  if (!allowed.length) {
    app.view = null;
    drawChrome();
    document.getElementById('main').replaceChildren(h('section', { className: 'card gate', id: 'nothing', 'aria-labelledby': 'nothing-h' },
      h('h2', { id: 'nothing-h', tabIndex: -1 }, t().nothingTitle), h('p', {}, t().nothingText)));
    return;
  }
  const screen = allowed.find((s) => s.id === want) || allowed[0];
  if (want !== screen.id) history.replaceState(history.state, '', `${location.pathname}#/${screen.id}`);
  if (app.view && app.view.leave) app.view.leave();
  const view = screen.make();
  view.screen = screen.id;
  app.view = view;
  document.getElementById('main').replaceChildren(view.el);
  drawChrome();
  view.refresh();
  const heading = view.heading ? view.heading() : view.el.querySelector('h2');
  if (heading) heading.focus();
}

function showSignIn() {
  if (app.view && app.view.leave) app.view.leave();
  app.view = null;
  drawChrome();
  const tt = t();
  const key = h('input', { type: 'password', id: 'api-key', autocomplete: 'off', spellcheck: false, autocapitalize: 'off', 'data-field': 'api_key', 'data-key': 'api_key' });
  const form = h('form', {
    noValidate: true, className: 'signin-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const text = key.value.trim();
      if (!text) return showErrors(form, [{ field: 'api_key', message: tt.required }]);
      if (!API_KEY.test(text)) return showErrors(form, [{ field: 'api_key', message: tt.keyFormat }]);
      clearErrors(form);
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      say(tt.signingIn);
      let res;
      try {
        res = await fetch('/v1/admin/sessions', {
          method: 'POST', credentials: 'same-origin', cache: 'no-store',
          headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
          body: JSON.stringify({ api_key: text }),
        });
      } catch (err) {
        button.disabled = false;
        say(tt.offline, 'error');
        return;
      }
      button.disabled = false;
      if (res.status === 201) {
        key.value = ''; // the key is not kept: the session stands for it from now on
        startSession(await res.json());
        drawBanner(false);
        say(fmt(tt.signedIn, { name: app.session.key.name }), 'ok');
        route();
        return;
      }
      const problem = await res.json().catch(() => null);
      const failed = failure(res.status, problem, (problem && problem.detail) || `HTTP ${res.status}`, Number(res.headers.get('Retry-After')) || 0);
      if (res.status === 401) showErrors(form, [{ field: 'api_key', message: tt.wrongKey }]);
      else if (res.status === 429) showErrors(form, [{ field: 'api_key', message: fmt(tt.rateLimited, { s: failed.retryAfter || 1 }) }]);
      else showFailure(form, failed);
    },
  },
  h('div', { className: 'form-errors', tabIndex: -1 }),
  field(tt.apiKey, key, tt.apiKeyHint),
  h('div', { className: 'actions' }, h('button', { type: 'submit', className: 'btn', 'data-key': 'signin' }, tt.signIn)));
  document.getElementById('main').replaceChildren(h('section', { className: 'card gate', id: 'signin', 'aria-labelledby': 'signin-h' },
    h('h2', { id: 'signin-h', tabIndex: -1 }, tt.signInTitle),
    h('p', { className: 'intro' }, tt.signInIntro),
    form,
    h('p', { className: 'note' }, tt.signInNote)));
  app.signIn = () => showSignIn();
  key.focus();
}

async function start() {
  app.ui = lang.get() || uiLocale((navigator.languages && navigator.languages[0]) || navigator.language);
  document.getElementById('lang').addEventListener('change', (e) => {
    app.ui = uiLocale(e.target.value);
    lang.set(app.ui);
    drawChrome();
    if (app.view) (app.view.relocale || app.view.render)();
    else if (app.session) route();
    else showSignIn();
  });
  document.getElementById('signout').addEventListener('click', signOut);
  window.addEventListener('hashchange', route);
  drawChrome();
  // signed in already (a reload, another tab)? The session's cookie is sent by the browser; this page never sees it.
  let res;
  try {
    res = await fetch('/v1/admin/sessions/current', { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
  } catch (e) {
    res = null;
  }
  if (res && res.ok) {
    startSession(await res.json());
    route();
  } else {
    showSignIn();
  }
}

start();
