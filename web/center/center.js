// SPDX-License-Identifier: Apache-2.0
// The preference center: a person's own page, reached from the company's
// site or app with their short-lived end-user token (see README.md beside
// this file and docs/END-USERS.md "The preference center"). Every call goes
// to the origin serving this page, with the token as a Bearer credential.
// Everything from the server is put in as text: no innerHTML anywhere.
import { LANGS, T, uiLocale } from './center-i18n.js';
import { fmt, h, makeView, say } from '../lib/ui.js';

const STORE = 'cpm-center:'; // sessionStorage keys: token, region, lang
const CHANNELS = ['sms', 'email', 'app_push', 'wecom', 'wechat_oa', 'voice', 'mail'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const PERIODS = ['day', 'week', 'month'];
const RIGHTS = ['access', 'portability', 'correction', 'deletion', 'explanation'];
const WINDOWS_MAX = 14; // docs/DECISIONS.md "Preferences"
const CAPS_MAX = 21;
const PAGE_LIMIT = 100; // items per page of a list
const PAGES_MAX = 20; // pages read at most, so a long history cannot hang the page
const TIMER_MS_MAX = 2147483647; // setTimeout's limit
const WINDOW_PRESETS = {
  any: [],
  evenings: [{ from: '19:00', to: '22:00' }],
  weekends: [{ days: ['sat', 'sun'], from: '00:00', to: '24:00' }],
};

const app = { token: null, claims: null, region: null, ui: 'en', ended: false, timer: 0, sections: [], xCache: new Map() };
const t = () => T[app.ui];

// ---- small helpers -------------------------------------------------------------

const enc = encodeURIComponent;
let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

function when(iso, dateOnly) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return String(iso || '');
  const o = dateOnly ? { dateStyle: 'medium' } : { dateStyle: 'medium', timeStyle: 'short' };
  return new Intl.DateTimeFormat(app.ui, o).format(d);
}

const store = {
  get(k) {
    try { return sessionStorage.getItem(STORE + k); } catch (e) { return null; }
  },
  set(k, v) {
    try { if (v === null || v === undefined) sessionStorage.removeItem(STORE + k); else sessionStorage.setItem(STORE + k, v); } catch (e) { /* storage off: this page only */ }
  },
};

// ---- the link and the token --------------------------------------------------

/** Takes token, region and lang from the fragment (else the query), then removes them from the address. */
function takeLink() {
  const hash = new URLSearchParams(location.hash.replace(/^#/, ''));
  const query = new URLSearchParams(location.search);
  const names = ['token', 'region', 'lang'];
  const get = (n) => (hash.has(n) ? hash.get(n) : query.get(n));
  if (get('token') !== null) {
    store.set('token', get('token'));
    store.set('region', get('region') || null);
  }
  if (get('lang')) store.set('lang', uiLocale(get('lang')));
  if (names.some((n) => hash.has(n) || query.has(n))) {
    names.forEach((n) => query.delete(n));
    const q = query.toString();
    history.replaceState(history.state, '', location.pathname + (q ? `?${q}` : ''));
  }
  app.token = store.get('token');
  app.region = store.get('region');
}

/** The token's aud, sub and exp, read to show them and to know the property: the server verifies it. */
function claimsOf(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(part + '==='.slice((part.length + 3) % 4)), (c) => c.charCodeAt(0));
    const c = JSON.parse(new TextDecoder().decode(bytes));
    const aud = Array.isArray(c.aud) ? c.aud[0] : c.aud;
    if (typeof aud !== 'string' || typeof c.sub !== 'string' || typeof c.exp !== 'number') return null;
    return { aud, sub: c.sub, exp: c.exp };
  } catch (e) {
    return null;
  }
}

const expired = () => app.claims && app.claims.exp * 1000 <= Date.now();

/** The session is over (the token expired or was refused): say so once, keep what is shown. */
function endSession() {
  if (app.ended) return;
  app.ended = true;
  clearTimeout(app.timer);
  store.set('token', null);
  document.body.classList.add('ended');
  drawBanner();
}

function scheduleExpiry() {
  const wait = app.claims.exp * 1000 - Date.now();
  if (wait <= 0) endSession();
  else app.timer = setTimeout(() => (expired() ? endSession() : scheduleExpiry()), Math.min(wait + 50, TIMER_MS_MAX));
}

// ---- calls -----------------------------------------------------------------------

function failure(status, problem, message) {
  return Object.assign(new Error(message), { status, problem });
}

/** One call to cpmd with the token; resolves the JSON answer (or the Response with raw), rejects with {status, problem}. */
async function call(method, path, body, raw) {
  if (app.ended || expired()) {
    endSession();
    throw failure(401, null, t().expired);
  }
  const headers = { Accept: 'application/json', Authorization: `Bearer ${app.token}` };
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
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
  if (res.ok) return raw ? res : res.json();
  const problem = await res.json().catch(() => null);
  if (res.status === 401) endSession();
  throw failure(res.status, problem, (problem && problem.detail) || `HTTP ${res.status}`);
}

/** Words for a failed call. */
function why(e) {
  if (e.status === 0) return t().offline;
  if (e.status === 401) return t().expired;
  if (e.status === 429) return t().rateLimited;
  if (e.status === 404 && e.problem && /^no route/.test(e.problem.detail || '')) return t().notAvailable;
  return e.message;
}

const noRoute = (e) => e.status === 404 && (!e.problem || /^no route/.test(e.problem.detail || ''));

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

const subjectPath = (subject) => `/v1/subjects/${enc(subject)}`;

/** The experience for a subject (me or a ward) in the page's language; cached until a consent changes. */
function experience(subject) {
  const key = `${subject}|${app.ui}`;
  if (!app.xCache.has(key)) {
    const q = new URLSearchParams({ property: app.claims.aud });
    if (app.region) q.set('region', app.region);
    q.set('locale', app.ui);
    q.set('subject', subject);
    const p = call('GET', `/v1/experience?${q}`);
    p.catch(() => app.xCache.delete(key));
    app.xCache.set(key, p);
  }
  return app.xCache.get(key);
}

/** Saves a server answer as a file through a Blob and a download link. */
async function download(path, name) {
  const res = await call('GET', path, undefined, true);
  const blob = new Blob([await res.text()], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, className: 'hidden-link' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

const fileSafe = (s) => String(s).replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 64);
const today = () => new Date().toISOString().slice(0, 10);

// ---- sections ------------------------------------------------------------------

/** A part of the page that loads on its own (a view, /lib/ui.js) in the page's words. */
const makeSection = (o) => makeView({ ...o, words: t, why });

// ---- 1. consents ---------------------------------------------------------------------

// 'fixed': necessary or on another legal basis (always on, never sent);
// 'separate': needs its own act; 'consent': an ordinary consent purpose.
const kind = (p) => (p.necessary || p.legal_basis !== 'consent' ? 'fixed' : p.separate ? 'separate' : 'consent');

/** The consents of a subject (me or a ward): read, withdraw one or all, give again (with a one-time code when asked). */
function consentsSection(subject, { id, title, level, onChange }) {
  let otp = null; // {purpose, step: 'sending'|'code', id, sentTo, error}
  const sec = makeSection({
    id, title, level,
    intro: () => t().consentsIntro,
    async load() {
      const [x, list] = await Promise.allSettled([
        experience(subject),
        call('GET', `${subjectPath(subject)}/consents`).catch((e) => {
          if (e.status === 404 && !noRoute(e)) return { consents: [] }; // nothing recorded yet
          throw e;
        }),
      ]);
      if (list.status === 'rejected') throw list.reason;
      return { x: x.status === 'fulfilled' ? x.value : null, consents: list.value.consents || [] };
    },
    draw,
  });

  const nameOf = (data, purpose) => {
    const p = data.x && data.x.purposes.find((q) => q.id === purpose);
    return (p && p.name) || purpose;
  };

  async function record(decisions, { notice, challenge, done }) {
    const data = sec.data;
    const body = { property: app.claims.aud, channel: 'web', locale: data.x ? data.x.locale : app.ui, method: 'click' };
    // the region picks the policy the action is held to (its validity, its one-time code), as in the popup
    const region = (data.x && data.x.region) || app.region;
    if (region) body.region = region;
    if (notice) body.notice = { id: data.x.notice.id, version: data.x.notice.version, sha256: data.x.notice.sha256 };
    if (challenge) body.otp = { challenge };
    body.decisions = decisions;
    say(t().saving);
    try {
      if (notice) body.display = await shown(data.x, body); // what the person was looking at, as evidence
      await call('POST', `${subjectPath(subject)}/consents`, body);
    } catch (e) {
      say(fmt(t().failed, { detail: why(e) }), 'error');
      return false;
    }
    for (const k of [...app.xCache.keys()]) if (k.startsWith(`${subject}|`)) app.xCache.delete(k);
    otp = null;
    await sec.refresh(true);
    say(done, 'ok'); // once what it says is on the page
    if (onChange) onChange();
    return true;
  }

  // Records that the center showed this notice version (a notice.displayed event) and returns its id.
  async function shown(x, body) {
    const rec = { property: body.property, locale: body.locale, channel: 'web', notice: { id: x.notice.id, version: x.notice.version } };
    if (x.policy) rec.policy = x.policy;
    return (await call('POST', `${subjectPath(subject)}/displays`, rec)).display;
  }

  const withdraw = (c) => sec.act(() => record(
    [Object.assign({ purpose: c.purpose, decision: 'withdrawn' }, c.recipient ? { recipient: c.recipient } : {})],
    { done: fmt(t().withdrawnOne, { name: nameOf(sec.data, c.purpose) }) }));

  const withdrawAll = () => sec.act(() => record(
    sec.data.consents.filter((c) => c.status === 'given')
      .map((c) => Object.assign({ purpose: c.purpose, decision: 'withdrawn' }, c.recipient ? { recipient: c.recipient } : {})),
    { done: t().withdrawnAll }));

  const decisionFor = (p) => Object.assign({ purpose: p.id, decision: 'given' }, p.separate ? { separate: true } : {});

  const give = (p) => sec.act(async () => {
    if (sec.data.x.otp_required) {
      otp = { purpose: p, step: 'sending' };
      sec.focusKey = 'otp-title';
      sec.render();
      await sendCode();
      return;
    }
    await record([decisionFor(p)], { notice: true, done: fmt(t().givenOne, { name: p.name || p.id }) });
  });

  async function sendCode() {
    otp.step = 'sending';
    otp.error = null;
    try {
      const r = await call('POST', '/v1/otp/challenges', {}); // to the phone of the person acting: a guardian's own
      Object.assign(otp, { step: 'code', id: r.id, sentTo: r.sent_to });
      sec.focusKey = 'otp-code';
    } catch (e) {
      Object.assign(otp, { step: 'code', error: why(e) });
    }
    if (otp) sec.render();
  }

  const verify = (code) => sec.act(async () => {
    if (!/^[0-9]{6}$/.test(code)) {
      otp.error = t().otpFormat;
      sec.focusKey = 'otp-code';
      sec.render();
      return;
    }
    try {
      await call('POST', `/v1/otp/challenges/${enc(otp.id)}/verify`, { code });
    } catch (e) {
      const left = e.problem && e.problem.attempts_left;
      otp.error = typeof left === 'number' ? fmt(t().otpWrong, { n: left }) : why(e);
      sec.focusKey = 'otp-code';
      sec.render();
      return;
    }
    const p = otp.purpose;
    sec.focusKey = `act:${p.id}:`;
    await record([decisionFor(p)], { notice: true, challenge: otp.id, done: fmt(t().givenOne, { name: p.name || p.id }) });
  });

  function otpBox(p) {
    const tt = t();
    const errId = nextId('otp-err');
    const input = h('input', {
      id: `${id}-otp-code`, type: 'text', inputMode: 'numeric', autocomplete: 'one-time-code', maxLength: 6,
      pattern: '[0-9]{6}', required: true, 'data-key': 'otp-code', 'aria-describedby': otp.error ? errId : null,
      'aria-invalid': otp.error ? 'true' : null,
    });
    return h('div', { className: 'otp', role: 'group', 'aria-labelledby': `${id}-otp-h` },
      h('h4', { id: `${id}-otp-h`, tabIndex: -1, 'data-key': 'otp-title' }, tt.otpTitle),
      h('p', {}, tt.otpNeeded),
      h('p', { className: 'note' }, otp.step === 'sending' ? tt.otpSending : otp.sentTo ? fmt(tt.otpSent, { phone: otp.sentTo }) : ''),
      otp.step === 'code' && h('form', {
        className: 'otp-form', noValidate: true,
        onsubmit: (e) => { e.preventDefault(); verify(input.value.trim()); },
      },
      h('div', { className: 'field' }, h('label', { for: input.id }, tt.otpCode), input,
        otp.error && h('p', { id: errId, className: 'field-error' }, otp.error)),
      h('div', { className: 'actions' },
        h('button', { type: 'submit', className: 'btn', 'data-key': 'otp-confirm', disabled: !otp.id }, tt.otpConfirm),
        h('button', { type: 'button', className: 'btn secondary', 'data-key': 'otp-resend', onclick: () => sec.act(sendCode) }, tt.otpResend),
        h('button', {
          type: 'button', className: 'btn secondary', 'data-key': 'otp-cancel',
          onclick: () => { otp = null; sec.focusKey = `act:${p.id}:`; sec.render(); },
        }, tt.otpCancel))));
  }

  function item(p, c, canGive) {
    const tt = t();
    const status = c ? c.status : 'none';
    const key = `act:${p.id}:${(c && c.recipient) || ''}`;
    const nameId = nextId(`${id}-name`);
    const stateId = nextId(`${id}-state`);
    let button = null;
    if (status === 'given') {
      button = h('button', { type: 'button', className: 'btn secondary', 'data-key': key, 'aria-describedby': `${nameId} ${stateId}`, onclick: () => withdraw(c) }, tt.withdraw);
    } else if (canGive && status !== 'erased' && !(c && c.recipient)) {
      const label = p.separate ? tt.giveSeparate : status === 'none' || status === 'refused' ? tt.give : tt.giveAgain;
      button = h('button', { type: 'button', className: 'btn', 'data-key': key, 'aria-describedby': `${nameId} ${stateId}`, onclick: () => give(p) }, label);
    }
    const facts = [];
    if (c && c.notice) facts.push(fmt(tt.agreedTo, { version: c.notice.version }));
    if (c && c.decided_at) facts.push(fmt(tt.at, { date: when(c.decided_at) }));
    if (c && c.status === 'given' && c.expires_at) facts.push(fmt(tt.validUntil, { date: when(c.expires_at) }));
    if (c && c.recipient) facts.push(fmt(tt.recipient, { recipient: c.recipient }));
    return h('li', { className: 'purpose', 'data-purpose': p.id, 'data-status': status },
      h('div', { className: 'purpose-main' },
        h('p', { className: 'pname', id: nameId }, p.name || p.id),
        p.description && h('p', { className: 'note' }, p.description),
        h('p', { className: 'state', id: stateId },
          h('span', { className: `badge st-${status}` }, tt.status[status] || status),
          facts.length > 0 && h('span', { className: 'facts' }, facts.join(' · ')))),
      button && h('div', { className: 'purpose-act' }, button),
      otp && otp.purpose.id === p.id && !(c && c.recipient) && otpBox(p));
  }

  function group(cls, legend, hint, entries) {
    if (!entries.length) return null;
    return h('fieldset', { className: `group ${cls}` }, h('legend', {}, legend),
      hint && h('p', { className: 'note' }, hint),
      h('ul', { className: 'purposes' }, entries));
  }

  function draw(data) {
    const tt = t();
    const { x, consents } = data;
    const byPurpose = new Map();
    for (const c of consents) byPurpose.set(c.purpose, (byPurpose.get(c.purpose) || []).concat(c));
    // a purpose the policy asks can be given (the notice covers it); any other only withdrawn
    const entries = (canGive) => (p) => {
      const cs = byPurpose.get(p.id) || [];
      const plain = cs.filter((c) => !c.recipient);
      return (plain.length ? plain : [undefined]).concat(cs.filter((c) => c.recipient)).map((c) => item(p, c, canGive));
    };
    const listed = x ? x.purposes : [];
    const known = new Set(listed.map((p) => p.id));
    const others = [...byPurpose.keys()].filter((pid) => !known.has(pid)).map((pid) => ({ id: pid }));
    const given = consents.filter((c) => c.status === 'given');
    const hintId = nextId(`${id}-wa`);
    return h('div', { className: 'consents' },
      !x && h('p', { className: 'note' }, tt.noExperience),
      x && h('details', { className: 'notice' },
        h('summary', { 'data-key': 'notice', id: `${id}-notice` }, fmt(tt.notice, { version: x.notice.version })),
        h('div', { // focusable, so the keys scroll it
          className: 'notice-text', lang: x.locale, tabIndex: 0, role: 'region', 'aria-labelledby': `${id}-notice`, 'data-key': 'notice-text',
        },
          x.notice.title && h('h4', {}, x.notice.title), h('p', {}, x.notice.text || ''))),
      group('g-consent', tt.ordinary, '', listed.filter((p) => kind(p) === 'consent').flatMap(entries(true))),
      group('g-separate', tt.separate, tt.separateHint, listed.filter((p) => kind(p) === 'separate').flatMap(entries(true))),
      group('g-other', tt.other, '', others.flatMap(entries(false))),
      group('g-fixed', tt.fixed, tt.fixedHint, listed.filter((p) => kind(p) === 'fixed').map((p) =>
        h('li', { className: 'purpose fixed', 'data-purpose': p.id },
          h('div', { className: 'purpose-main' }, h('p', { className: 'pname' }, p.name || p.id),
            p.description && h('p', { className: 'note' }, p.description))))),
      h('div', { className: 'withdraw-all' },
        h('button', {
          type: 'button', className: 'btn danger', 'data-key': 'withdraw-all', disabled: given.length === 0,
          'aria-describedby': hintId, onclick: withdrawAll,
        }, tt.withdrawAll),
        h('p', { className: 'note', id: hintId }, given.length ? tt.withdrawAllHint : tt.nothingGiven)));
  }

  return sec;
}

// ---- 2. how to contact me -------------------------------------------------------------

const sameDays = (w, days) => {
  const d = w.days || DAYS;
  return d.length === days.length && days.every((x) => d.includes(x));
};

function windowMode(ws) {
  if (!ws || ws.length === 0) return 'any';
  if (ws.length === 1 && ws[0].from === '19:00' && ws[0].to === '22:00' && sameDays(ws[0], DAYS)) return 'evenings';
  if (ws.length === 1 && ws[0].from === '00:00' && ws[0].to === '24:00' && sameDays(ws[0], ['sat', 'sun'])) return 'weekends';
  return 'custom';
}

const editableWindows = (ws) => ws.map((w) => ({ days: (w.days || DAYS).slice(), from: w.from, to: w.to === '24:00' ? '00:00' : w.to }));

/** The person's contact preferences as a form: channels, topics, windows, time zone, caps, language, personalisation. */
function contactSection(subject, { id, title, level }) {
  let draft = null; // what the form shows; the stored document is sec.data
  let errors = []; // the last 422's {field, message}
  let topicNames = {}; // the configured topics the person may turn off: id → name (the experience's)
  const sec = makeSection({
    id, title, level,
    intro: () => t().contactIntro,
    async load() {
      const view = await call('GET', `${subjectPath(subject)}/preferences`).catch((e) => {
        if (e.status === 404 && !noRoute(e)) return { preferences: {} }; // nobody by that id yet: every default
        throw e;
      });
      const x = await experience(subject).catch(() => null); // without it: the person's own topics only
      topicNames = Object.fromEntries(((x && x.topics) || []).map((tp) => [tp.id, tp.name || tp.id]));
      draft = null;
      errors = [];
      return view.preferences || {};
    },
    draw,
  });

  function fresh(doc) {
    const ws = doc.contact_windows || [];
    const mode = windowMode(ws);
    return {
      channels: Object.fromEntries(CHANNELS.map((c) => [c, !(doc.channels && doc.channels[c] === false)])),
      topics: Object.assign({}, doc.topics || {}),
      mode,
      windows: mode === 'custom' ? editableWindows(ws) : [],
      time_zone: doc.time_zone || 'Asia/Shanghai',
      caps: (doc.frequency_caps || []).map((c) => ({ channel: c.channel, max: String(c.max), per: c.per })),
      language: doc.language || '',
      personalisation: doc.personalisation !== false,
    };
  }

  function patch() {
    const capMax = (v) => (/^[0-9]+$/.test(v) ? Number(v) : v === '' ? 0 : v);
    const body = {
      channels: Object.assign({}, draft.channels),
      time_zone: draft.time_zone,
      contact_windows: draft.mode === 'custom'
        ? draft.windows.map((w) => ({ days: DAYS.filter((d) => w.days.includes(d)), from: w.from, to: w.to === '00:00' ? '24:00' : w.to }))
        : WINDOW_PRESETS[draft.mode],
      frequency_caps: draft.caps.map((c) => ({ channel: c.channel, max: capMax(c.max), per: c.per })),
      language: draft.language || null,
      personalisation: draft.personalisation,
    };
    if (Object.keys(draft.topics).length) body.topics = Object.assign({}, draft.topics);
    return body;
  }

  const save = () => sec.act(async () => {
    say(t().saving);
    try {
      const view = await call('PATCH', `${subjectPath(subject)}/preferences`, patch());
      sec.data = view.preferences || {};
      draft = fresh(sec.data);
      errors = [];
      say(t().saved, 'ok');
      sec.render();
    } catch (e) {
      errors = e.status === 422 && e.problem && Array.isArray(e.problem.errors) ? e.problem.errors : [];
      say(errors.length ? t().fieldErrors : fmt(t().failed, { detail: why(e) }), 'error');
      sec.render();
      if (errors.length) focusFirstError();
    }
  });

  /** Redraws after a change of shape (a row added or removed, another preset), focus kept. */
  const reshape = (focusKey) => {
    errors = [];
    sec.focusKey = focusKey || null;
    sec.render();
  };

  function check(label, checked, onchange, props) {
    const input = h('input', Object.assign({ type: 'checkbox', id: nextId(id), checked, onchange: (e) => onchange(e.target.checked) }, props));
    return h('div', { className: 'field check' }, input, h('label', { for: input.id }, label));
  }

  function select(label, value, options, onchange, props) {
    const s = h('select', Object.assign({ id: nextId(id), onchange: (e) => onchange(e.target.value) }, props),
      options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
    s.value = value;
    return h('div', { className: 'field' }, h('label', { for: s.id }, label), s);
  }

  function timeField(label, value, field, onchange) {
    const input = h('input', { type: 'time', id: nextId(id), value, required: true, 'data-field': field, 'data-key': field, oninput: (e) => onchange(e.target.value) });
    return h('div', { className: 'field time' }, h('label', { for: input.id }, label), input);
  }

  function windowsEditor(tt) {
    const rows = draft.windows.map((w, i) => h('fieldset', { className: 'row', 'data-field': `contact_windows[${i}]` },
      h('legend', {}, fmt(tt.window, { n: i + 1 })),
      h('fieldset', { className: 'days', 'data-field': `contact_windows[${i}].days` }, h('legend', {}, tt.days),
        DAYS.map((d) => {
          const input = h('input', {
            type: 'checkbox', id: nextId(id), checked: w.days.includes(d), 'data-key': `w${i}-${d}`,
            onchange: (e) => { w.days = e.target.checked ? w.days.concat(d) : w.days.filter((x) => x !== d); },
          });
          return h('span', { className: 'day' }, input, h('label', { for: input.id }, tt.day[d]));
        })),
      h('div', { className: 'times' },
        timeField(tt.from, w.from, `contact_windows[${i}].from`, (v) => { w.from = v; }),
        timeField(tt.to, w.to, `contact_windows[${i}].to`, (v) => { w.to = v; })),
      h('button', {
        type: 'button', className: 'btn secondary small', 'data-key': `w${i}-remove`,
        onclick: () => { draft.windows.splice(i, 1); reshape(draft.windows.length ? `w${Math.max(0, i - 1)}-remove` : 'w-add'); },
      }, fmt(tt.removeWindow, { n: i + 1 }))));
    return h('div', { className: 'custom' }, rows,
      h('p', { className: 'note' }, tt.toHint),
      draft.windows.length < WINDOWS_MAX && h('button', {
        type: 'button', className: 'btn secondary small', 'data-key': 'w-add',
        onclick: () => { draft.windows.push({ days: DAYS.slice(), from: '09:00', to: '18:00' }); reshape(`contact_windows[${draft.windows.length - 1}].from`); },
      }, tt.addWindow));
  }

  function capsEditor(tt) {
    const rows = draft.caps.map((c, i) => h('fieldset', { className: 'row cap', 'data-field': `frequency_caps[${i}]` },
      h('legend', {}, fmt(tt.cap, { n: i + 1 })),
      h('div', { className: 'times' },
        select(tt.capChannel, c.channel, CHANNELS.map((ch) => [ch, tt.channel[ch]]), (v) => { c.channel = v; },
          { 'data-field': `frequency_caps[${i}].channel`, 'data-key': `c${i}-channel` }),
        (() => {
          const input = h('input', {
            type: 'number', id: nextId(id), min: 1, max: 1000, step: 1, inputMode: 'numeric', value: c.max, required: true,
            'data-field': `frequency_caps[${i}].max`, 'data-key': `c${i}-max`, oninput: (e) => { c.max = e.target.value; },
          });
          return h('div', { className: 'field' }, h('label', { for: input.id }, tt.capMax), input);
        })(),
        select(tt.capPer, c.per, PERIODS.map((p) => [p, tt.per[p]]), (v) => { c.per = v; },
          { 'data-field': `frequency_caps[${i}].per`, 'data-key': `c${i}-per` })),
      h('button', {
        type: 'button', className: 'btn secondary small', 'data-key': `c${i}-remove`,
        onclick: () => { draft.caps.splice(i, 1); reshape(draft.caps.length ? `c${Math.max(0, i - 1)}-remove` : 'c-add'); },
      }, fmt(tt.removeCap, { n: i + 1 }))));
    return [
      rows.length ? rows : h('p', { className: 'note' }, tt.noCaps),
      draft.caps.length < CAPS_MAX && h('button', {
        type: 'button', className: 'btn secondary small', 'data-key': 'c-add',
        onclick: () => { draft.caps.push({ channel: 'sms', max: '1', per: 'week' }); reshape(`c${draft.caps.length - 1}-max`); },
      }, tt.addCap),
    ];
  }

  function timeZones(current) {
    let zones = [];
    try { zones = Intl.supportedValuesOf('timeZone'); } catch (e) { zones = []; }
    const all = new Set(['Asia/Shanghai', 'Asia/Hong_Kong', 'Asia/Macau', 'Asia/Taipei', ...zones, current]);
    return [...all].map((z) => [z, z.replace(/_/g, ' ')]);
  }

  function draw(doc) {
    const tt = t();
    if (!draft) draft = fresh(doc);
    const modeName = `${id}-mode`;
    const radio = (mode, label) => {
      const input = h('input', {
        type: 'radio', name: modeName, id: nextId(id), value: mode, checked: draft.mode === mode, 'data-key': `mode-${mode}`,
        onchange: () => {
          if (mode === 'custom' && draft.windows.length === 0)
            draft.windows = editableWindows(draft.mode === 'any' ? [{ from: '09:00', to: '18:00' }] : WINDOW_PRESETS[draft.mode]);
          draft.mode = mode;
          reshape(`mode-${mode}`);
        },
      });
      return h('div', { className: 'field check' }, input, h('label', { for: input.id }, label));
    };
    const topics = [...new Set([...Object.keys(topicNames), ...Object.keys(draft.topics)])].sort();
    const form = h('form', { className: 'prefs', noValidate: true, onsubmit: (e) => { e.preventDefault(); save(); } },
      h('fieldset', { 'data-field': 'channels' }, h('legend', {}, tt.channels), h('p', { className: 'note' }, tt.channelsHint),
        h('div', { className: 'checks' }, CHANNELS.map((c) => check(tt.channel[c], draft.channels[c], (v) => { draft.channels[c] = v; },
          { 'data-field': `channels.${c}`, 'data-key': `ch-${c}`, 'data-channel': c })))),
      topics.length > 0 && h('fieldset', { 'data-field': 'topics' }, h('legend', {}, tt.topics), h('p', { className: 'note' }, tt.topicsHint),
        h('div', { className: 'checks' }, topics.map((k) => check(topicNames[k] || k, draft.topics[k] !== false, (v) => { draft.topics[k] = v; },
          { 'data-field': `topics.${k}`, 'data-key': `tp-${k}` })))),
      h('fieldset', { className: 'windows', 'data-field': 'contact_windows' }, h('legend', {}, tt.windows),
        h('div', { className: 'presets' },
          radio('any', tt.wAny), radio('evenings', tt.wEvenings), radio('weekends', tt.wWeekends), radio('custom', tt.wCustom)),
        draft.mode === 'custom' && windowsEditor(tt),
        select(tt.tz, draft.time_zone, timeZones(draft.time_zone), (v) => { draft.time_zone = v; }, { 'data-field': 'time_zone', 'data-key': 'tz' })),
      h('fieldset', { className: 'caps', 'data-field': 'frequency_caps' }, h('legend', {}, tt.caps), h('p', { className: 'note' }, tt.capsHint),
        capsEditor(tt)),
      h('fieldset', {}, h('legend', {}, tt.language),
        select(tt.language, draft.language, [['', tt.languageUnset], ...LANGS], (v) => { draft.language = v; },
          { 'data-field': 'language', 'data-key': 'language' })),
      h('fieldset', { 'data-field': 'personalisation' }, h('legend', {}, tt.personalisation),
        check(tt.personalisationLabel, draft.personalisation, (v) => { draft.personalisation = v; },
          { 'data-field': 'personalisation', 'data-key': 'personalisation', 'aria-describedby': `${id}-pers-hint` }),
        h('p', { className: 'note', id: `${id}-pers-hint` }, tt.personalisationHint)),
      h('div', { className: 'form-errors', 'data-field': '' }),
      h('div', { className: 'actions' }, h('button', { type: 'submit', className: 'btn', 'data-key': 'save' }, tt.save)));
    showErrors(form);
    return form;
  }

  /** Puts each of the server's errors next to the field it names (or its nearest named container). */
  function showErrors(form) {
    for (const err of errors) {
      let path = String(err.field || '');
      let target = null;
      for (;;) {
        target = form.querySelector(`[data-field="${CSS.escape(path)}"]`);
        if (target || path === '') break;
        const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
        path = cut > 0 ? path.slice(0, cut) : '';
      }
      const msgId = nextId(`${id}-err`);
      const text = path === String(err.field || '') ? err.message : fmt(t().unknownField, { field: err.field, message: err.message });
      const p = h('p', { className: 'field-error', id: msgId, 'data-error-for': err.field || '' }, text);
      if (/^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) {
        target.setAttribute('aria-invalid', 'true');
        target.setAttribute('aria-describedby', [target.getAttribute('aria-describedby'), msgId].filter(Boolean).join(' '));
        target.closest('.field').append(p);
      } else if (target.tagName === 'FIELDSET') {
        target.querySelector('legend').after(p);
        target.setAttribute('aria-invalid', 'true');
      } else {
        target.append(p);
      }
    }
  }

  function focusFirstError() {
    const first = sec.el.querySelector('[aria-invalid="true"]');
    if (!first) return;
    const control = first.tagName === 'FIELDSET' ? first.querySelector('input, select, button') : first;
    (control || first).focus();
  }

  return sec;
}

// ---- 3. where my data went --------------------------------------------------------------

function deliveriesSection() {
  return makeSection({
    id: 'deliveries', title: () => t().deliveries, intro: () => t().deliveriesIntro,
    load: () => allPages(`${subjectPath('me')}/deliveries`),
    draw(items) {
      const tt = t();
      if (!items.length) return h('p', { className: 'empty' }, tt.noDeliveries);
      const by = new Map();
      for (const d of items) by.set(d.destination, (by.get(d.destination) || []).concat(d));
      return h('div', { className: 'destinations' }, [...by].map(([dest, rows]) => {
        const acked = rows.filter((r) => r.outcome === 'delivered').map((r) => r.time).sort();
        return h('section', { className: 'destination', 'data-destination': dest, 'aria-labelledby': `dest-${fileSafe(dest)}` },
          h('h3', { id: `dest-${fileSafe(dest)}` }, fmt(tt.destination, { id: dest })),
          h('p', { className: 'note' }, acked.length ? fmt(tt.lastAck, { date: when(acked[acked.length - 1]) }) : tt.notAcked),
          h('ul', { className: 'rows' }, rows.slice().reverse().map((r) => h('li', { 'data-outcome': r.outcome, 'data-seq': r.seq },
            h('span', { className: 'row-what' }, fmt(tt.delivery, { event: tt.event[r.event_type] || r.event_type, seq: r.seq })),
            h('span', { className: `badge out-${r.outcome}` }, tt.outcome[r.outcome] || r.outcome),
            h('span', { className: 'row-when' }, when(r.time),
              r.outcome === 'delivered' && r.acknowledged_after_ms >= 0 ? ` · ${fmt(tt.ackAfter, { s: (r.acknowledged_after_ms / 1000).toFixed(1) })}` : '')))));
      }));
    },
  });
}

// ---- 4. receipts and evidence ----------------------------------------------------------

function receiptsSection() {
  const sec = makeSection({
    id: 'receipts', title: () => t().receipts, intro: () => t().receiptsIntro,
    async load() {
      const [items, x] = await Promise.all([allPages(`${subjectPath('me')}/events`), experience('me').catch(() => null)]);
      const names = new Map(((x && x.purposes) || []).map((p) => [p.id, p.name || p.id]));
      const events = items.map((i) => Object.assign({ seq: i.seq }, i.event)).filter((e) => /^consent\./.test(e.type || ''));
      return { events: events.reverse(), names };
    },
    draw({ events, names }) {
      const tt = t();
      const get = (path, name) => sec.act(async () => {
        try {
          await download(path, name);
          say(fmt(tt.downloaded, { name }), 'ok');
        } catch (e) {
          say(e.status === 404 && path.endsWith('/evidence') ? tt.evidenceNotYet : fmt(tt.loadFailed, { detail: why(e) }), 'error');
        }
      });
      const evidenceName = () => `evidence-${fileSafe(app.claims.aud)}-${today()}.json`;
      return h('div', { className: 'receipts' },
        h('div', { className: 'evidence' },
          h('button', { type: 'button', className: 'btn', 'data-key': 'evidence', 'aria-describedby': 'evidence-hint', onclick: () => get(`${subjectPath('me')}/evidence`, evidenceName()) }, tt.evidence),
          h('p', { className: 'note', id: 'evidence-hint' }, tt.evidenceHint)),
        h('h3', {}, tt.history),
        events.length === 0 ? h('p', { className: 'empty' }, tt.noEvents)
          : h('ul', { className: 'rows' }, events.map((e) => {
            const seq = e.seq;
            const label = nextId('rcpt');
            const file = `receipt-${fileSafe(app.claims.aud)}-${fileSafe(e.purpose)}-${e.id}.json`;
            return h('li', { 'data-event': e.id, 'data-purpose': e.purpose },
              h('span', { className: 'row-what', id: label }, `${tt.event[e.type] || e.type} · ${names.get(e.purpose) || e.purpose}`),
              h('span', { className: 'row-when' }, when(e.time)),
              h('button', {
                type: 'button', className: 'btn secondary small', 'data-key': `rcpt-${e.id}`, 'aria-describedby': label,
                onclick: () => get(`${subjectPath('me')}/receipts/${enc(e.id || seq)}`, file),
              }, tt.receipt));
          })));
    },
  });
  return sec;
}

// ---- 5. my rights ------------------------------------------------------------------------

const requestsPath = () => `${subjectPath('me')}/requests?limit=${PAGE_LIMIT}`; // newest first: the last ones are enough

function rightsSection() {
  let type = 'access';
  let note = '';
  let confirming = false;
  const sec = makeSection({
    id: 'rights', title: () => t().rights, intro: () => t().rightsIntro,
    load: async () => (await call('GET', requestsPath())).requests || [],
    draw,
  });

  const file = () => sec.act(async () => {
    say(t().saving);
    try {
      await call('POST', `${subjectPath('me')}/requests`, note.trim() ? { type, note: note.trim() } : { type });
    } catch (e) {
      say(fmt(t().failed, { detail: why(e) }), 'error');
      return;
    }
    confirming = false;
    note = '';
    sec.focusKey = 'requests';
    sec.data = (await call('GET', requestsPath()).catch(() => ({ requests: sec.data }))).requests || [];
    sec.render();
    say(t().filedOk, 'ok');
  });

  function draw(list) {
    const tt = t();
    const noteId = nextId('rnote');
    const form = h('form', {
      className: 'rights-form', noValidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        if (type === 'deletion') {
          confirming = true;
          sec.focusKey = 'confirm-h';
          sec.render();
        } else file();
      },
    },
    h('fieldset', {}, h('legend', {}, tt.rtype),
      RIGHTS.map((r) => {
        const input = h('input', {
          type: 'radio', name: 'rtype', id: `rtype-${r}`, value: r, checked: type === r, 'data-key': `rt-${r}`,
          'aria-describedby': `rtype-${r}-hint`, onchange: () => { type = r; confirming = false; },
        });
        return h('div', { className: 'field check' }, input,
          h('label', { for: input.id }, tt.types[r][0]), h('p', { className: 'note', id: `rtype-${r}-hint` }, tt.types[r][1]));
      })),
    h('div', { className: 'field' }, h('label', { for: noteId }, tt.note),
      h('textarea', { id: noteId, rows: 3, maxLength: 2000, value: note, 'data-key': 'note', oninput: (e) => { note = e.target.value; } })),
    confirming
      ? h('div', { className: 'confirm', role: 'group', 'aria-labelledby': 'confirm-h' },
        h('h3', { id: 'confirm-h', tabIndex: -1, 'data-key': 'confirm-h' }, tt.confirmDelete),
        h('p', {}, tt.confirmDeleteText),
        h('div', { className: 'actions' },
          h('button', { type: 'button', className: 'btn danger', 'data-key': 'confirm-yes', onclick: file }, tt.confirmYes),
          h('button', { type: 'button', className: 'btn secondary', 'data-key': 'confirm-no', onclick: () => { confirming = false; sec.focusKey = 'send'; sec.render(); } }, tt.confirmNo)))
      : h('div', { className: 'actions' }, h('button', { type: 'submit', className: 'btn', 'data-key': 'send' }, tt.send)));
    const sorted = list.slice().sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    return h('div', {}, form,
      h('h3', { tabIndex: -1, 'data-key': 'requests' }, tt.requests),
      sorted.length === 0 ? h('p', { className: 'empty' }, tt.noRequests)
        : h('ul', { className: 'rows requests' }, sorted.map((r) => h('li', { 'data-request': r.id, 'data-type': r.type, 'data-status': r.status },
          h('span', { className: 'row-what' }, (tt.types[r.type] || [r.type])[0]),
          h('span', { className: `badge rq-${r.status}` }, tt.rstatus[r.status] || r.status),
          h('span', { className: 'row-when' }, [fmt(tt.filed, { date: when(r.created_at) }), r.due_at && fmt(tt.due, { date: when(r.due_at, true) })].filter(Boolean).join(' · ')),
          typeof r.note === 'string' && r.note && h('p', { className: 'reply' }, r.note),
          typeof r.reply === 'string' && r.reply && h('p', { className: 'reply' }, fmt(tt.reply, { text: r.reply })),
          typeof r.reason === 'string' && r.reason && h('p', { className: 'reply' }, fmt(tt.reason, { text: r.reason }))))));
  }
  return sec;
}

// ---- 6. children I look after ---------------------------------------------------------------

function wardsSection() {
  let current = 0;
  let panels = new Map(); // ward subject → {consents, contact}
  const sec = makeSection({
    id: 'wards', title: () => t().wards, intro: () => t().wardsIntro,
    async load() {
      let r;
      try {
        r = await call('GET', `${subjectPath('me')}/wards`);
      } catch (e) {
        if (e.status === 404) { // not served by this cpmd (yet): no such part
          setHidden(true);
          return [];
        }
        setHidden(false); // any other failure is shown, like every section's
        throw e;
      }
      const wards = r.wards || [];
      setHidden(wards.length === 0);
      panels = new Map(wards.map((w, i) => [w.subject, {
        consents: consentsSection(w.subject, { id: `ward${i}-consents`, level: 3, title: () => fmt(t().wardConsents, { subject: w.subject }) }),
        contact: contactSection(w.subject, { id: `ward${i}-contact`, level: 3, title: () => fmt(t().wardContact, { subject: w.subject }) }),
      }]));
      current = Math.min(current, Math.max(0, wards.length - 1));
      for (const p of panels.values()) { p.consents.refresh(); p.contact.refresh(); }
      return wards;
    },
    draw,
  });
  sec.el.hidden = true; // until there are wards to show

  function setHidden(hidden) {
    sec.el.hidden = hidden;
    const link = document.querySelector('#toc-list a[href="#wards"]');
    if (link) link.parentElement.hidden = hidden;
  }

  function select(i, focus) {
    current = i;
    sec.render();
    if (focus) sec.el.querySelector(`#ward-tab-${i}`).focus();
  }

  function draw(wards) {
    if (!wards.length) return h('div');
    const tt = t();
    const tabs = h('div', {
      className: 'tabs', role: 'tablist', 'aria-label': tt.wards,
      onkeydown: (e) => {
        const n = wards.length;
        const to = { ArrowRight: current + 1, ArrowDown: current + 1, ArrowLeft: current - 1, ArrowUp: current - 1, Home: 0, End: n - 1 }[e.key];
        if (to === undefined) return;
        e.preventDefault();
        select((to + n) % n, true);
      },
    }, wards.map((w, i) => h('button', {
      type: 'button', role: 'tab', id: `ward-tab-${i}`, 'aria-selected': i === current ? 'true' : 'false',
      'aria-controls': `ward-panel-${i}`, tabIndex: i === current ? 0 : -1, 'data-key': `ward-tab-${i}`, 'data-ward': w.subject,
      onclick: () => select(i, false),
    }, fmt(tt.wardTab, { subject: w.subject, relation: (tt.relation[w.relation] || w.relation || '') }))));
    const w = wards[current];
    const p = panels.get(w.subject);
    const panel = h('div', { role: 'tabpanel', id: `ward-panel-${current}`, 'aria-labelledby': `ward-tab-${current}`, className: 'ward', 'data-ward': w.subject },
      p.consents.el, p.contact.el);
    return h('div', {}, tabs, panel);
  }

  sec.relocale = () => {
    sec.render();
    for (const p of panels.values()) { p.consents.refresh(); p.contact.render(); }
  };
  return sec;
}

// ---- the page ------------------------------------------------------------------------------

function drawChrome() {
  const tt = t();
  document.documentElement.lang = app.ui;
  document.title = tt.title;
  document.getElementById('title').textContent = tt.title;
  document.getElementById('skip').textContent = tt.skip;
  document.getElementById('lang-label').textContent = tt.lang;
  document.getElementById('toc-title').textContent = tt.toc;
  const lang = document.getElementById('lang');
  lang.replaceChildren(...LANGS.map(([v, name]) => h('option', { value: v, lang: v, selected: v === app.ui }, name)));
  const who = document.getElementById('who');
  who.textContent = app.claims && !app.ended
    ? fmt(tt.who, { property: app.claims.aud, subject: app.claims.sub, time: when(new Date(app.claims.exp * 1000).toISOString()) })
    : '';
  document.getElementById('toc-list').replaceChildren(...app.sections.map((s) =>
    h('li', { hidden: s.el.hidden }, h('a', { href: `#${s.el.id}` }, s.title()))));
  drawBanner();
}

function drawBanner() {
  const banner = document.getElementById('session');
  banner.hidden = !app.ended;
  banner.replaceChildren(...(app.ended ? [h('strong', {}, t().expired), ' ', h('span', {}, t().expiredText)] : []));
  if (app.ended) document.getElementById('who').textContent = '';
}

/** Instead of the sections: why there is nothing to show. */
function gate(titleKey, textKey) {
  document.getElementById('toc').hidden = true;
  const draw = () => {
    document.getElementById('main').replaceChildren(h('section', { className: 'card gate', id: 'gate', 'aria-labelledby': 'gate-h' },
      h('h2', { id: 'gate-h' }, t()[titleKey]), h('p', {}, t()[textKey])));
  };
  draw();
  app.redraw = draw;
}

function build() {
  const me = { consents: null, contact: null };
  const deliveries = deliveriesSection();
  const receipts = receiptsSection();
  me.consents = consentsSection('me', { id: 'consents', title: () => t().consents, onChange: () => { receipts.refresh(true); deliveries.refresh(true); } });
  me.contact = contactSection('me', { id: 'contact', title: () => t().contact });
  const rights = rightsSection();
  const wards = wardsSection();
  app.sections = [me.consents, me.contact, deliveries, receipts, rights, wards];
  document.getElementById('main').replaceChildren(...app.sections.map((s) => s.el));
  document.getElementById('toc').hidden = false;
  drawChrome();
  for (const s of app.sections) s.refresh();
  app.redraw = () => {
    // texts from cpmd come in the language asked for: read again what has texts, redraw the rest
    me.consents.refresh();
    me.contact.render();
    deliveries.render();
    receipts.refresh();
    rights.render();
    wards.relocale();
  };
}

function start() {
  takeLink();
  app.ui = store.get('lang') || uiLocale((navigator.languages && navigator.languages[0]) || navigator.language);
  document.getElementById('lang').addEventListener('change', (e) => {
    app.ui = uiLocale(e.target.value);
    store.set('lang', app.ui);
    drawChrome();
    if (app.redraw) app.redraw();
  });
  drawChrome();
  if (!app.token) return gate('noToken', 'noTokenText');
  app.claims = claimsOf(app.token);
  if (!app.claims) {
    store.set('token', null);
    return gate('badToken', 'badTokenText');
  }
  if (expired()) {
    endSession();
    return gate('expired', 'expiredText');
  }
  scheduleExpiry();
  build();
}

start();
