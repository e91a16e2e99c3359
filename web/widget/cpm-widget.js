// SPDX-License-Identifier: Apache-2.0
// The first-login consent popup: see README.md beside this file.
import { createConsentCore } from './cpm-core.js';

const T = {
  'zh-Hans': {
    title: '隐私设置', lang: '语言', opt: '可选用途', ver: '版本 ',
    sep: '单独同意', sepHint: '以下用途需要您逐项单独同意，“全部同意”不包括它们。', sepItem: '我单独同意：',
    fixed: '始终开启', fixedHint: '为提供服务所必需或依据其他法定理由处理，无需您的同意，无法在此关闭。',
    gpc: '已按浏览器的“全局隐私控制”信号设为拒绝。', err: '保存失败，请稍后重试。',
    refuse: '全部拒绝', sel: '同意所选', accept: '全部同意',
    otp: '同意前需验证您的手机号，验证码已发送至 ', code: '6 位验证码', verify: '验证并提交', back: '返回', login: '此项同意需验证手机号：请先登录，再作出选择。', bad: '验证码不正确或已失效。',
    kid: '未满十四周岁的未成年人，须由父母或其他监护人同意后我们才能处理上述信息。请您的监护人登录其账户，在“偏好设置”中为您选择。', ok: '知道了',
  },
  'zh-Hant': {
    title: '私隱設定', lang: '語言', opt: '可選用途', ver: '版本 ',
    sep: '單獨同意', sepHint: '以下用途需要您逐項單獨同意，「全部同意」不包括它們。', sepItem: '我單獨同意：',
    fixed: '始終開啟', fixedHint: '為提供服務所必需或依據其他法定理由處理，無需您的同意，無法在此關閉。',
    gpc: '已按瀏覽器的「全球隱私控制」訊號設為拒絕。', err: '儲存失敗，請稍後再試。',
    refuse: '全部拒絕', sel: '同意所選', accept: '全部同意',
    otp: '同意前需驗證您的手機號碼，驗證碼已發送至 ', code: '6 位驗證碼', verify: '驗證並提交', back: '返回', login: '此項同意需驗證手機號碼：請先登入，再作出選擇。', bad: '驗證碼不正確或已失效。',
    kid: '未滿十四歲的未成年人，須由父母或其他監護人同意後我們才能處理上述資料。請您的監護人登入其帳戶，在「偏好設定」中為您選擇。', ok: '知道了',
  },
  en: {
    title: 'Privacy settings', lang: 'Language', opt: 'Optional purposes', ver: 'Version ',
    sep: 'Separate consent', sepHint: 'Each of these needs your own separate consent; "Accept all" does not include them.',
    sepItem: 'I separately consent to: ',
    fixed: 'Always on', fixedHint: 'Needed for the service or processed on another legal basis: no consent needed, cannot be turned off here.',
    gpc: 'Set to refused by your browser\'s Global Privacy Control signal.', err: 'Could not save. Please try again.',
    refuse: 'Refuse all', sel: 'Accept selected', accept: 'Accept all',
    otp: 'Before you consent we need to verify your phone. A code was sent to ', code: '6-digit code', verify: 'Verify and submit', back: 'Back', login: 'This consent needs your phone verified: please log in first.', bad: 'The code is wrong or no longer valid.',
    kid: 'Under 14, a parent or guardian must agree before we process this information. Please ask them to choose for you in "Preferences" in their own account.', ok: 'Got it',
  },
};
const LANGS = [['zh-Hans', '简体中文'], ['zh-Hant', '繁體中文'], ['en', 'English']];

const CSS = `.cpm-root{--cpm-p:#1f6feb;position:fixed;inset:0;z-index:2147483000;display:flex;align-items:center;justify-content:center;background:rgba(0,0,0,.5);color:#222;font:15px/1.5 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;text-align:left}
.cpm-dlg{display:flex;flex-direction:column;box-sizing:border-box;width:calc(100% - 2rem);max-width:34rem;max-height:calc(100% - 2rem);padding:1.25rem;background:var(--cpm-bg,#fff);border-radius:12px;box-shadow:0 10px 40px rgba(0,0,0,.3)}
.cpm-head{display:flex;gap:1rem;align-items:center;justify-content:space-between}
.cpm-head h2{margin:0;font-size:1.2em}
.cpm-body{flex:1;overflow:auto;margin:.75rem 0}
.cpm-text{max-height:12em;overflow:auto;white-space:pre-wrap;padding:.5rem .75rem;border:1px solid #ccc;border-radius:6px}
.cpm-text h3{margin:0 0 .25rem;font-size:1em}
.cpm-note{margin:.25rem 0;color:#555;font-size:.85em}
.cpm-root fieldset{margin:.75rem 0 0;padding:.5rem .75rem;border:1px solid #ccc;border-radius:6px}
.cpm-root legend{padding:0 .25rem;font-weight:600}
.cpm-purpose{margin:.4rem 0}
.cpm-purpose label{display:flex;gap:.5rem;align-items:flex-start;cursor:pointer}
.cpm-purpose input{flex:none;width:1.1em;height:1.1em;margin:.2em 0 0;accent-color:var(--cpm-p)}
.cpm-purpose .cpm-note{margin-left:1.6em}
.cpm-err{margin:0 0 .5rem;color:#b00020}
.cpm-kid{margin:.75rem 0 0;padding:.5rem .75rem;border-left:4px solid var(--cpm-p);background:#f3f6fb}
.cpm-code{box-sizing:border-box;width:100%;margin:0 0 .5rem;padding:.6rem .75rem;border:1px solid #999;border-radius:8px;font:inherit;font-size:1.2em;letter-spacing:.3em}
.cpm-err:empty{display:none}
.cpm-btns{display:grid;grid-template-columns:repeat(auto-fit,minmax(9em,1fr));grid-auto-rows:1fr;gap:.5rem}
.cpm-btn{padding:.7rem 1rem;border:0;border-radius:8px;background:var(--cpm-p);color:#fff;font:inherit;font-weight:600;overflow-wrap:anywhere;cursor:pointer}
.cpm-btn:disabled{opacity:.6;cursor:wait}
.cpm-root :focus-visible{outline:3px solid var(--cpm-p);outline-offset:2px}
.cpm-root .cpm-dlg:focus{outline:0}
.cpm-lock{overflow:hidden}`;

// An element; props go to properties, except aria-*, data-* and role
// (attributes); children are nodes or strings (always text, never HTML).
function h(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const k in props) {
    if (/^(aria-|data-|role$)/.test(k)) e.setAttribute(k, props[k]);
    else e[k] = props[k];
  }
  e.append(...kids.filter((k) => k || k === 0));
  return e;
}

// localStorage, when the browser lets the page use it.
const ls = (f) => (...a) => {
  try {
    return localStorage[f](...a);
  } catch (e) {
    return null;
  }
};
const local = { get: ls('getItem'), set: ls('setItem'), remove: ls('removeItem') };

const uiLocale = (tag) => (/^zh-(Hant|HK|MO|TW)/i.test(tag) ? 'zh-Hant' : /^zh/i.test(tag) ? 'zh-Hans' : 'en');

// The CSS where the popup lives (the page, or a shadow root): a constructed
// sheet where the browser has them (a page's CSP cannot refuse one), else <style>.
function style(at) {
  const r = 'adoptedStyleSheets' in at ? at : document;
  if (r.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    const s = style.s || (style.s = new CSSStyleSheet());
    if (!s.cssRules.length) s.replaceSync(CSS);
    if (r.adoptedStyleSheets.indexOf(s) < 0) r.adoptedStyleSheets = [...r.adoptedStyleSheets, s];
  } else if (!r.querySelector('#cpm-style')) (r.head || r).append(h('style', { id: 'cpm-style', textContent: CSS }));
}

// o.experience: a preview (README.md): drawn from what it gives, inside the container, not modal, nothing recorded.
export async function mount(o = {}) {
  const host = o.container || document.body.appendChild(h('div', { className: 'cpm-host' }));
  const pv = !!o.experience;
  const fire = (name, detail) => host.dispatchEvent(new CustomEvent(`cpm:${name}`, { detail, bubbles: true }));
  const core = createConsentCore({
    base: o.base || new URL(import.meta.url).origin,
    property: o.property,
    region: o.region,
    locale: o.locale,
    token: o.token,
    // an anonymous visitor's choices are kept under a device id in this browser, merged at login
    storage: o.anonymous === 'off' || pv ? null : o.storage || local,
    fetch: o.fetch,
    experience: o.experience,
    gpc: navigator.globalPrivacyControl === true,
  });
  ['ready', 'shown', 'updated', 'error'].forEach((n) => core.on(n, (d) => fire(n, d)));
  let root = null;
  let back = null;

  style(host.getRootNode());

  const $ = (sel) => root.querySelector(sel);
  const focusables = () => [...$('#cpm-dialog').querySelectorAll('select,button,input,[tabindex="0"]')].filter((e) => !e.disabled);
  const keep = (e) => root && !root.contains(e.target) && $('#cpm-dialog').focus();
  const sync = () => {
    const d = core.state.decisions;
    root.querySelectorAll('.cpm-purpose input:enabled').forEach((i) => {
      i.checked = d[i.closest('.cpm-purpose').dataset.purpose];
    });
  };

  function close() {
    if (!root) return;
    root.remove();
    root = null;
    document.removeEventListener('focusin', keep);
    document.documentElement.classList.remove('cpm-lock');
    if (back && back.focus) back.focus();
  }

  function dismiss() {
    close();
    fire('closed');
  }

  function onKey(e) {
    if (e.key === 'Escape') {
      e.preventDefault();
      dismiss();
    } else if (e.key === 'Tab') {
      const f = focusables();
      const a = document.activeElement;
      const edge = e.shiftKey ? a === f[0] || a === $('#cpm-dialog') : a === f[f.length - 1];
      if (edge) {
        e.preventDefault();
        f[e.shiftKey ? f.length - 1 : 0].focus();
      }
    }
  }

  const texts = () => {
    const x = core.state.experience;
    return Object.assign({}, T[uiLocale(x.locale)], (x.ui && x.ui.texts) || {});
  };

  async function save(method) {
    await core.submit({ method });
    close();
  }

  function act(prepare, method) {
    return async () => {
      if (prepare) prepare();
      sync();
      if (pv) return;
      const buttons = root.querySelectorAll('.cpm-btn');
      buttons.forEach((b) => (b.disabled = true));
      try {
        if (core.needsOtp() && !o.token) throw new Error('a one-time code needs a logged-in person');
        if (core.needsOtp()) otpStep(await core.otpStart(), method);
        else await save(method);
      } catch (e) {
        $('.cpm-err').textContent = core.needsOtp() && !o.token ? texts().login : texts().err;
        buttons.forEach((b) => (b.disabled = false));
      }
    };
  }

  // The policy's second factor: the code sent to the person's phone, then the same submit.
  function otpStep(c, method) {
    const t = texts();
    const input = h('input', { id: 'cpm-code', className: 'cpm-code', inputMode: 'numeric', autocomplete: 'one-time-code', maxLength: 6, placeholder: t.code, 'aria-label': t.code, 'aria-describedby': 'cpm-otp-note' });
    const fail = (text) => {
      $('.cpm-err').textContent = text;
      $('#cpm-verify').disabled = false;
      input.focus();
    };
    async function verify(e) {
      e.preventDefault();
      $('#cpm-verify').disabled = true;
      try {
        await core.otpVerify(input.value.trim());
      } catch (err) {
        return fail(err.status === 422 ? t.bad : t.err);
      }
      await save(method).catch(() => fail(t.err));
    }
    const back = () => {
      draw();
      $('#cpm-dialog').focus();
    };
    $('.cpm-btns').replaceWith(
      h('form', { className: 'cpm-otp', onsubmit: verify },
        h('p', { id: 'cpm-otp-note', className: 'cpm-note' }, t.otp + (c.sent_to || '')), input,
        h('div', { className: 'cpm-btns' },
          h('button', { type: 'button', id: 'cpm-otp-back', className: 'cpm-btn', onclick: back }, t.back),
          h('button', { type: 'submit', id: 'cpm-verify', className: 'cpm-btn' }, t.verify))));
    root.querySelectorAll('.cpm-purpose input, #cpm-lang').forEach((i) => (i.disabled = true)); // what is verified is what was chosen
    $('.cpm-err').textContent = '';
    input.focus();
  }

  async function relocale(tag) {
    try {
      await core.setLocale(tag);
      draw();
      $('#cpm-lang').focus();
    } catch (e) {
      $('#cpm-lang').value = core.state.experience.locale;
      $('.cpm-err').textContent = T[uiLocale(tag)].err;
    }
  }

  function draw() {
    const x = core.state.experience;
    const n = x.notice;
    const t = texts();
    const g = core.groups();
    const kid = x.guardian_required; // under 14: only a guardian decides (PIPL Art. 31)
    const item = (p, label, fixed) =>
      h('div', { className: 'cpm-purpose', 'data-purpose': p.id },
        h('label', {},
          h('input', fixed ? { type: 'checkbox', checked: true, disabled: true }
            : { type: 'checkbox', checked: core.state.decisions[p.id], onchange: (e) => core.choose(p.id, e.target.checked) }),
          h('span', {}, label + (p.name || p.id))),
        p.description && h('p', { className: 'cpm-note' }, p.description),
        core.state.gpc[p.id] && h('p', { className: 'cpm-note' }, t.gpc));
    const set = (cls, legend, hint, list, label, fixed) =>
      list.length > 0 && h('fieldset', { className: cls }, h('legend', {}, legend),
        hint && h('p', { className: 'cpm-note' }, hint), ...list.map((p) => item(p, label, fixed)));
    const btn = (id, text, fn) => h('button', { type: 'button', id, className: 'cpm-btn', onclick: fn }, text);
    const langs = LANGS.filter(([v]) => !x.locales || x.locales.indexOf(v) >= 0);
    const next = h('div', { className: 'cpm-root', onkeydown: pv ? null : onKey },
      h('div', { id: 'cpm-dialog', className: 'cpm-dlg', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'cpm-title', lang: x.locale, tabIndex: -1 },
        h('div', { className: 'cpm-head' },
          h('h2', { id: 'cpm-title' }, t.title),
          h('select', { id: 'cpm-lang', 'aria-label': t.lang, onchange: (e) => relocale(e.target.value) },
            ...langs.map(([v, name]) => h('option', { value: v, selected: v === x.locale, lang: v }, name)))),
        h('div', { className: 'cpm-body' },
          h('div', { id: 'cpm-text', className: 'cpm-text', tabIndex: 0 }, n.title && h('h3', {}, n.title), n.text),
          h('p', { className: 'cpm-note cpm-ver' }, t.ver + n.version),
          kid && h('p', { id: 'cpm-kid', className: 'cpm-kid' }, t.kid),
          !kid && set('cpm-opt', t.opt, '', g.consent, ''),
          !kid && set('cpm-sep', t.sep, t.sepHint, g.separate, t.sepItem),
          set('cpm-fixed', t.fixed, t.fixedHint, g.fixed, '', true)),
        h('p', { className: 'cpm-err', role: 'alert' }),
        kid ? h('div', { className: 'cpm-btns' }, btn('cpm-ok', t.ok, dismiss))
          : h('div', { className: 'cpm-btns' },
            btn('cpm-refuse-all', t.refuse, act(core.refuseAll, 'click')),
            btn('cpm-accept-selected', t.sel, act(null, 'checkbox')),
            btn('cpm-accept-all', t.accept, act(core.acceptAll, 'click')))));
    const theme = (x.ui && x.ui.theme) || {};
    if (theme.primary_color) next.style.setProperty('--cpm-p', theme.primary_color);
    if (theme.background_color) next.style.setProperty('--cpm-bg', theme.background_color);
    if (root) root.replaceWith(next);
    else host.append(next);
    root = next;
  }

  function open() {
    if (root) return;
    back = document.activeElement;
    draw();
    if (!pv) {
      document.documentElement.classList.add('cpm-lock');
      document.addEventListener('focusin', keep);
      $('#cpm-dialog').focus();
    }
    core.shown();
  }

  const x = await core.load();
  if (x.show) open();
  return { core, open, close };
}

const tag = document.querySelector('script[src*="cpm-widget.js"]');
if (tag && tag.dataset.property) {
  const d = tag.dataset;
  mount({ property: d.property, region: d.region, locale: d.locale, token: d.token, base: d.base, anonymous: d.anonymous }).catch(() => {});
}
