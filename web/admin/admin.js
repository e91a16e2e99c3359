// SPDX-License-Identifier: Apache-2.0
// The admin console: the operators' pages, served by cpmd at /admin (see
// README.md beside this file and docs/ADMIN.md). An operator signs in with
// an API key, exchanged at once for a session: an HttpOnly cookie this page
// never sees and a CSRF token it keeps in memory only. The key itself is
// dropped as soon as it has been sent. Every call then goes to the origin
// serving this page, through the same API as every other client, with the
// cookie (and X-CSRF-Token on every change). Everything from the server is
// put in as text: no innerHTML anywhere.

import { LANGS, uiLocale } from './admin-i18n.js';
import { app, t, h, fmt, when, say, can, failure, call, why, startSession, clearErrors, showErrors, showFailure, field } from './admin-core.js';
import { dashboardScreen, dashboardLabel } from './dashboard.js';
import { purposesScreen } from './purposes.js';
import { propertiesScreen, propertiesLabel } from './properties.js';
import { policiesScreen, policiesLabel } from './policies.js';
import { topicsScreen, topicsLabel } from './topics.js';
import { channelsScreen, channelsLabel } from './channels.js';
import { keysScreen } from './keys.js';
import { requestsScreen } from './requests.js';
import { subjectsScreen } from './subjects.js';
import { evidenceScreen, evidenceLabel } from './evidence.js';
import { noticesScreen, noticesLabel } from './notices.js';
import { destinationsScreen, destinationsLabel } from './destinations.js';
import { ledgerLabel, ledgerScreen } from './ledger.js';

const API_KEY = /^cpm_[A-Za-z0-9_-]{43}$/;

const LANG_KEY = 'cpm-admin:lang'; // the only thing this page stores: the language chosen

const lang = {
  get() { try { return localStorage.getItem(LANG_KEY); } catch (e) { return null; } },
  set(v) { try { localStorage.setItem(LANG_KEY, v); } catch (e) { /* storage off: this visit only */ } },
};

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

// ---- the page ------------------------------------------------------------------------------

// The screens in menu order: needs is the scope a key must hold (admin holds all).
const SCREENS = [
  { id: 'dashboard', needs: 'ledger:read', make: dashboardScreen, label: dashboardLabel },
  { id: 'subjects', needs: 'decisions:read', make: subjectsScreen, label: () => t().subjects },
  { id: 'evidence', needs: 'ledger:read', make: evidenceScreen, label: evidenceLabel },
  { id: 'requests', needs: 'admin', make: requestsScreen, label: () => t().requests },
  { id: 'purposes', needs: 'config', make: purposesScreen, label: () => t().purposes },
  { id: 'notices', needs: 'config', make: noticesScreen, label: noticesLabel },
  { id: 'policies', needs: 'config', make: policiesScreen, label: policiesLabel },
  { id: 'properties', needs: 'config', make: propertiesScreen, label: propertiesLabel },
  { id: 'topics', needs: 'config', make: topicsScreen, label: topicsLabel },
  { id: 'channels', needs: 'config', make: channelsScreen, label: channelsLabel },
  { id: 'destinations', needs: 'config', make: destinationsScreen, label: destinationsLabel },
  { id: 'ledger', needs: 'ledger:read', make: ledgerScreen, label: ledgerLabel },
  { id: 'keys', needs: 'admin', make: keysScreen, label: () => t().keys },
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
    h('li', {}, h('a', { href: `#/${s.id}`, 'data-screen': s.id, 'aria-current': here === s.id ? 'page' : null }, s.label()))));
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
  app.onEnded = () => {
    drawBanner(true);
    showSignIn();
  };
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
