// SPDX-License-Identifier: Apache-2.0
// What cpmd's own pages share (the preference center, web/center, and the
// admin console, web/admin), served at /lib/ui.js: the element maker, the
// text template, the live status line, and views — parts of a page that
// load on their own and show their own error. Nothing here knows a page's
// words: a view is given them. Everything is put in as text.

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

/** Says something in the page's one live status line (#status). */
export function say(text, kind) {
  const s = document.getElementById('status');
  s.textContent = '';
  s.dataset.kind = kind || 'info';
  // a new text node each time, so the same words are announced again
  setTimeout(() => { s.textContent = text; }, 20);
}

/**
 * A part of a page that loads on its own and shows its own error. load()
 * resolves its data; draw(data) returns its content; words() gives the
 * page's {loadFailed, retry, loading} and why(error) the words for a
 * failure. Focus survives a redraw: focusable parts carry data-key, and
 * the one that had focus gets it back (else the heading does).
 */
export function makeView({ id, title, intro, level = 2, load, draw, className, tag = 'section', words, why }) {
  const el = h(tag, { id, className: className || (level === 2 ? 'card' : 'sub'), 'aria-labelledby': `${id}-h` });
  const v = { el, title, data: undefined, error: null, busy: false, focusKey: null, loads: 0 };
  /** Loads again; quiet keeps what is shown until the answer is in. Only the latest load is drawn. */
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
    if (mine !== v.loads) return; // a newer load (another language, a later change) is drawn instead
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
    const w = words();
    const heading = h(`h${level}`, { id: `${id}-h`, tabIndex: -1, 'data-key': 'heading' }, title());
    let body;
    if (v.error) {
      body = h('div', { className: 'error-box' },
        h('p', { className: 'error' }, fmt(w.loadFailed, { detail: why(v.error) })),
        h('button', { type: 'button', className: 'btn secondary', 'data-key': 'retry', onclick: () => v.refresh() }, w.retry));
    } else if (v.data === undefined) {
      body = h('p', { className: 'loading' }, w.loading);
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
  /** Runs an action once at a time; the focused control's key is kept for a redraw meanwhile. */
  v.act = async (fn) => {
    if (v.busy) return;
    v.busy = true;
    v.focusKey = document.activeElement && document.activeElement.dataset.key;
    el.setAttribute('aria-busy', 'true');
    try {
      await fn();
    } finally {
      v.focusKey = null;
      v.busy = false;
      el.setAttribute('aria-busy', 'false');
    }
  };
  return v;
}
