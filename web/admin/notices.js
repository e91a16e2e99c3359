// SPDX-License-Identifier: Apache-2.0
// The admin console's notices (README.md beside this file; docs/ADMIN.md
// "Notices"): each privacy notice with its current version; one notice's
// versions, each viewable with its changes from the one before; and a new
// version written per locale side by side from the previous texts, the
// diff shown as it is typed, each purpose marked unchanged, notify-only or
// material, the people a material change would ask to consent again
// counted live (GET /v1/notices/{id}/reconsent), and Publish after a
// confirmation that says how many. The server knows two change classes:
// `material` and `notify_only`; "unchanged" is published as notify_only.

import { TEXT_LOCALES, NAME_BYTES_MAX, app, t, h, fmt, enc, bytes, when, localised, say, call, why, allPages, clearErrors, showErrors, showFailure, field, makeView, table, cell, nextId } from './admin-core.js';
import { W } from './notices-i18n.js';
import { diffText, tidy, changed } from './notices-diff.js';

const w = () => W[app.ui];
export const noticesLabel = () => W[app.ui].notices;

// docs/CONFIGURATION.md "Notice": the server's limits on a version
const TEXT_BYTES_MAX = 256 * 1024;
const SUMMARY_BYTES_MAX = 4096;
const CHANGES = ['unchanged', 'notify_only', 'material'];
const COUNT_DELAY_MS = 400; // the re-consent count waits for the choices to settle
const DIFF_DELAY_MS = 200;
const EQUAL_SHOWN_MAX = 160; // a long unchanged stretch in a diff shows its ends only

/** The locales of a version in the console's order, then any others. */
const localesOf = (content, extra) => {
  const have = new Set([...Object.keys(content || {}), ...(extra ? [extra] : [])]);
  return [...TEXT_LOCALES.filter((l) => have.has(l)), ...[...have].filter((l) => !TEXT_LOCALES.includes(l)).sort()];
};

/** Diff runs as elements: kept text, <del> removed, <ins> inserted; long kept stretches cut in the middle. */
function diffView(runs, locale) {
  return runs.map(([op, text], i) => {
    if (op === '+') return h('ins', {}, text);
    if (op === '-') return h('del', {}, text);
    if (text.length <= EQUAL_SHOWN_MAX) return text;
    const edge = EQUAL_SHOWN_MAX / 2;
    // cut at a space near the edge when there is one (Latin text), else anywhere (Chinese)
    const start = (() => { const s = text.slice(0, edge); const at = s.lastIndexOf(' '); return at > edge - 24 ? s.slice(0, at + 1) : s; })();
    const end = (() => { const s = text.slice(-edge); const at = s.indexOf(' '); return at >= 0 && at < 24 ? s.slice(at) : s; })();
    if (i === 0) return ['…', end];
    if (i === runs.length - 1) return [start, '…'];
    return [start, h('span', { className: 'diff-gap', lang: locale }, ' … '), end];
  });
}

/** One locale's changes from prev to next ({title, text}): the title's and the text's, or "no change". */
function localeDiff(prev, next, locale) {
  const ww = w();
  const p = prev || { title: '', text: '' };
  const title = tidy(diffText(p.title || '', next.title || ''));
  const text = tidy(diffText(p.text || '', next.text || ''));
  const titleChanged = changed(title);
  const textChanged = changed(text);
  return h('div', { className: 'diff', 'data-locale': locale, lang: locale },
    !titleChanged && !textChanged ? h('p', { className: 'note' }, ww.noChange) : null,
    titleChanged ? h('p', { className: 'diff-title' }, h('span', { className: 'note' }, ww.titleLabel, ' '), diffView(title, locale)) : null,
    textChanged ? h('p', { className: 'diff-text' }, diffView(text, locale)) : null);
}

export function noticesScreen() {
  // where the screen is: the list, one notice, or a new version of one
  let at = { mode: 'list' };
  let viewing = null; // a version number shown in full
  let draft = null; // the new version as typed: {notice, base, locales, content, changes, added, summary}
  let confirming = null; // {subjects, purposes, error}
  let countTimer = 0;
  let countSeq = 0;
  const diffTimers = {};

  const v = makeView({
    id: 'notices', title: () => w().notices, intro: () => w().noticesIntro,
    load: () => (at.mode === 'list' ? loadList() : loadNotice(at.id)),
    draw,
  });
  v.leave = () => { clearTimeout(countTimer); Object.values(diffTimers).forEach(clearTimeout); };
  v.relocale = () => v.render();

  async function loadList() {
    const notices = await allPages('/v1/notices');
    const latest = await Promise.all(notices.map((n) => call('GET', `/v1/notices/${enc(n.id)}/versions/latest`).catch((e) => {
      if (e.status === 404) return null; // nothing published yet
      throw e;
    })));
    return { list: notices.map((n, i) => ({ notice: n, latest: latest[i] })) };
  }

  async function loadNotice(id) {
    const [notice, versions, purposes] = await Promise.all([
      call('GET', `/v1/notices/${enc(id)}`),
      allPages(`/v1/notices/${enc(id)}/versions`),
      allPages('/v1/purposes'),
    ]);
    return { notice, versions, purposes };
  }

  function go(next, focusKey) {
    at = next;
    viewing = null;
    confirming = null;
    if (next.mode !== 'compose') draft = null;
    v.focusKey = focusKey || 'heading';
    if (next.mode === 'compose') v.render();
    else v.refresh();
  }

  function draw(data) {
    if (at.mode === 'list' && data.list) return drawList(data.list);
    if (!data.notice) return h('p', { className: 'loading' }, t().loading);
    if (at.mode === 'compose') return compose(data);
    return drawNotice(data);
  }

  // ---- the list ----------------------------------------------------------------------------

  function drawList(list) {
    const tt = t();
    const ww = w();
    const rows = list.map(({ notice, latest }) => h('tr', { 'data-notice': notice.id },
      cell(ww.nid, h('code', {}, notice.id)),
      cell(ww.nname, notice.name),
      cell(ww.defaultLocale, h('code', {}, notice.default_locale)),
      cell(ww.current, latest ? fmt(ww.versionN, { n: latest.version }) : h('span', { className: 'badge warn' }, ww.unpublished)),
      cell(ww.publishedAt, latest ? when(latest.published_at) : '—'),
      cell(tt.actions, h('button', {
        type: 'button', className: 'btn secondary small', 'data-key': `open:${notice.id}`, 'aria-label': fmt(ww.openOne, { id: notice.id }),
        onclick: () => go({ mode: 'notice', id: notice.id }),
      }, ww.open))));
    return list.length === 0 ? h('p', { className: 'empty' }, ww.noNotices)
      : table(ww.notices, [ww.nid, ww.nname, ww.defaultLocale, ww.current, ww.publishedAt, tt.actions], rows);
  }

  // ---- one notice and its versions --------------------------------------------------------------

  const purposeName = (data, id) => {
    const p = data.purposes.find((x) => x.id === id);
    return p ? localised(p.name, id) : id;
  };

  function drawNotice(data) {
    const ww = w();
    const { notice, versions } = data;
    const newest = [...versions].reverse();
    const last = versions[versions.length - 1];
    return h('div', { className: 'notice-view', 'data-notice': notice.id },
      h('div', { className: 'actions' },
        h('button', { type: 'button', className: 'btn secondary', 'data-key': 'back', onclick: () => go({ mode: 'list' }, `open:${notice.id}`) }, ww.backToList),
        h('button', { type: 'button', className: 'btn', 'data-key': 'new-version', onclick: () => startDraft(data) }, ww.newVersion)),
      h('h3', { className: 'notice-name' }, fmt(ww.noticeTitle, { name: notice.name, id: notice.id })),
      h('p', { className: 'note' }, fmt(ww.noticeFacts, { locale: notice.default_locale, n: versions.length }),
        last ? ` ${fmt(ww.currentIs, { n: last.version, date: when(last.published_at) })}` : ''),
      versions.length === 0 ? h('p', { className: 'empty' }, ww.noVersions)
        : h('ul', { className: 'rows versions' }, newest.map((ver) => versionItem(data, ver))));
  }

  function versionItem(data, ver) {
    const ww = w();
    const open = viewing === ver.version;
    const prev = data.versions.find((x) => x.version === ver.version - 1);
    return h('li', { className: 'version', 'data-version': String(ver.version) },
      h('div', { className: 'rq-head' },
        h('span', { className: 'row-what' }, fmt(ww.versionN, { n: ver.version })),
        h('span', { className: 'row-when' }, fmt(ww.publishedOn, { date: when(ver.published_at) })),
        ver === data.versions[data.versions.length - 1] ? h('span', { className: 'badge good' }, ww.currentBadge) : null),
      ver.summary ? h('p', { className: 'quote' }, ver.summary) : null,
      h('ul', { className: 'plain change-list' }, (ver.purposes || []).map((p) => h('li', { 'data-purpose': p.purpose },
        h('span', {}, purposeName(data, p.purpose), ' '), h('code', {}, p.purpose), ' ',
        h('span', { className: `badge ${p.change === 'material' ? 'warn' : ''}` }, ww.change[p.change] || p.change)))),
      h('div', { className: 'actions' },
        h('button', {
          type: 'button', className: 'btn secondary small', 'data-key': `view:${ver.version}`, 'aria-expanded': open ? 'true' : 'false',
          onclick: () => { viewing = open ? null : ver.version; v.focusKey = `view:${ver.version}`; v.render(); },
        }, open ? ww.hideText : ww.viewText)),
      open ? h('div', { className: 'version-texts' }, localesOf(ver.content).map((l) => h('section', { className: 'version-text', 'data-locale': l, 'aria-label': ww.localeNames[l] || l },
        h('h4', {}, ww.localeNames[l] || l),
        h('p', { className: 'version-title', lang: l }, ver.content[l].title),
        h('p', { className: 'text-block', lang: l }, ver.content[l].text),
        h('p', { className: 'note hash' }, 'SHA-256 ', h('code', {}, ver.content[l].sha256)),
        prev ? h('details', {}, h('summary', {}, fmt(ww.changesFrom, { n: prev.version })), localeDiff(prev.content[l], ver.content[l], l)) : null))) : null);
  }

  // ---- a new version -----------------------------------------------------------------------------

  function startDraft(data) {
    const base = data.versions[data.versions.length - 1] || null;
    const locales = localesOf(base ? base.content : Object.fromEntries(TEXT_LOCALES.map((l) => [l, 1])), data.notice.default_locale);
    draft = {
      notice: data.notice, base, locales,
      content: Object.fromEntries(locales.map((l) => [l, {
        title: (base && base.content[l] && base.content[l].title) || '',
        text: (base && base.content[l] && base.content[l].text) || '',
      }])),
      changes: Object.fromEntries((base ? base.purposes : []).map((p) => [p.purpose, 'unchanged'])),
      added: [], // purposes the previous version did not cover
      summary: '',
      counts: null, // the last re-consent answer: {purposes: {id: n}, subjects, error}
    };
    at = { mode: 'compose', id: data.notice.id };
    v.focusKey = 'compose-h';
    v.render();
  }

  /** The purposes the new version covers, with what the server is sent for each. */
  const covered = () => [...Object.keys(draft.changes), ...draft.added.filter((p) => !(p in draft.changes))];
  const material = () => covered().filter((p) => draft.changes[p] === 'material');
  const serverChange = (c) => (c === 'material' ? 'material' : 'notify_only');

  function compose(data) {
    const tt = t();
    const ww = w();
    const base = draft.base;
    const next = base ? base.version + 1 : 1;
    const diffs = {};
    const columns = draft.locales.map((l) => {
      const c = draft.content[l];
      const title = h('input', {
        type: 'text', lang: l, value: c.title, 'data-field': `content.${l}.title`, 'data-key': `content.${l}.title`, autocomplete: 'off', maxLength: 400,
        oninput: (e) => { c.title = e.target.value; redrawDiff(l); },
      });
      const text = h('textarea', {
        lang: l, rows: 12, value: c.text, 'data-field': `content.${l}.text`, 'data-key': `content.${l}.text`,
        oninput: (e) => { c.text = e.target.value; redrawDiff(l); },
      });
      const diffId = nextId('diff');
      diffs[l] = h('div', { className: 'diff-box', id: diffId, 'aria-live': 'off' }, localeDiff(base && base.content[l], c, l));
      return h('fieldset', { className: 'locale-col', 'data-field': `content.${l}`, lang: l },
        h('legend', {}, ww.localeNames[l] || l, l === draft.notice.default_locale ? ` (${ww.defaultMark})` : ''),
        base && !base.content[l] ? h('p', { className: 'note' }, ww.newLocale) : null,
        field(ww.titleLabel, title),
        field(ww.textLabel, text, fmt(ww.textHint, { n: TEXT_BYTES_MAX / 1024 })),
        h('h4', { className: 'diff-h' }, base ? fmt(ww.diffFrom, { n: base.version }) : ww.diffNone),
        diffs[l]);
    });
    function redrawDiff(l) {
      clearTimeout(diffTimers[l]);
      diffTimers[l] = setTimeout(() => diffs[l].replaceChildren(localeDiff(base && base.content[l], draft.content[l], l)), DIFF_DELAY_MS);
    }

    // purposes: unchanged / notify-only / material, and the count for the material ones
    const countCells = {};
    const total = h('p', { id: 'reconsent-total', className: 'reconsent-total', role: 'status' });
    const purposeRows = covered().map((p, i) => {
      const isNew = !(base && base.purposes.some((x) => x.purpose === p));
      const name = `chg-${i}-${nextId('r')}`;
      countCells[p] = h('span', { className: 'reconsent-count', 'data-count-for': p });
      const choices = CHANGES.filter((c) => !(isNew && c === 'unchanged')).map((c) => {
        const id = nextId('chg');
        return h('span', { className: 'choice' },
          h('input', {
            type: 'radio', id, name, value: c, checked: (draft.changes[p] || 'material') === c, 'data-change': p, 'data-key': `change:${p}:${c}`,
            onchange: () => { draft.changes[p] = c; scheduleCount(); },
          }),
          h('label', { for: id }, ww.change[c]));
      });
      return h('fieldset', { className: 'purpose-change', 'data-field': `purposes[${i}]`, 'data-purpose': p },
        h('legend', {}, purposeName(data, p), ' ', h('code', {}, p), isNew ? ` · ${ww.added}` : ''),
        h('div', { className: 'choices' }, choices),
        countCells[p],
        isNew ? h('button', {
          type: 'button', className: 'link', 'data-key': `remove:${p}`,
          onclick: () => { draft.added = draft.added.filter((x) => x !== p); delete draft.changes[p]; v.focusKey = 'add-purpose'; v.render(); },
        }, fmt(ww.removePurpose, { id: p })) : null);
    });
    const others = data.purposes.filter((p) => !covered().includes(p.id));
    const addSel = h('select', { 'data-key': 'add-purpose-select' },
      h('option', { value: '' }, tt.choose), others.map((p) => h('option', { value: p.id }, `${localised(p.name, p.id)} (${p.id})`)));
    const addRow = others.length ? h('div', { className: 'add-purpose' },
      field(ww.addPurpose, addSel, ww.addPurposeHint),
      h('button', {
        type: 'button', className: 'btn secondary small', 'data-key': 'add-purpose',
        onclick: () => {
          if (!addSel.value) return;
          draft.added.push(addSel.value);
          draft.changes[addSel.value] = 'material';
          v.focusKey = 'add-purpose-select';
          v.render();
        },
      }, ww.add)) : null;

    const summary = h('textarea', { rows: 2, value: draft.summary, 'data-field': 'summary', 'data-key': 'summary', oninput: (e) => { draft.summary = e.target.value; } });

    const form = h('form', {
      className: 'notice-form', noValidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        ask();
      },
    },
    h('h3', { tabIndex: -1, 'data-key': 'compose-h' }, fmt(ww.composeTitle, { n: next, id: draft.notice.id })),
    h('p', { className: 'note' }, base ? fmt(ww.composeIntro, { n: base.version }) : ww.composeFirst),
    h('div', { className: 'form-errors', tabIndex: -1 }),
    h('fieldset', { className: 'texts-box', 'data-field': 'content' }, h('legend', {}, ww.textsLegend), h('div', { className: 'locales' }, columns)),
    h('fieldset', { className: 'purposes-box', 'data-field': 'purposes' },
      h('legend', {}, ww.purposesLegend),
      h('p', { className: 'note' }, ww.changeHint),
      purposeRows.length ? purposeRows : h('p', { className: 'empty' }, ww.noPurposesYet),
      addRow,
      total),
    field(ww.summaryLabel, summary, ww.summaryHint),
    confirming ? confirmBox(next) : h('div', { className: 'actions' },
      h('button', { type: 'submit', className: 'btn', 'data-key': 'publish' }, ww.publish),
      h('button', { type: 'button', className: 'btn secondary', 'data-key': 'cancel', onclick: () => go({ mode: 'notice', id: draft.notice.id }, 'new-version') }, tt.cancel)));

    function showCounts() {
      const c = draft.counts;
      const mat = material();
      for (const p of covered()) {
        const n = c && c.purposes && p in c.purposes && mat.includes(p) ? c.purposes[p] : null;
        countCells[p].textContent = n === null ? '' : fmt(ww.countOne, { n });
      }
      if (!mat.length) total.textContent = ww.nobodyAgain;
      else if (!c || c.pending) total.textContent = ww.counting;
      else if (c.error) total.textContent = fmt(ww.countFailed, { detail: c.error });
      else total.textContent = fmt(ww.countTotal, { n: c.subjects });
      total.dataset.subjects = c && !c.pending && !c.error && mat.length ? String(c.subjects) : mat.length ? '' : '0';
    }

    function scheduleCount() {
      clearTimeout(countTimer);
      const mat = material();
      const key = mat.join(',');
      if (draft.counts && draft.counts.key === key && !draft.counts.error) return showCounts();
      draft.counts = mat.length ? { key, pending: true } : null;
      showCounts();
      if (!mat.length) return undefined;
      countTimer = setTimeout(async () => {
        const mine = ++countSeq;
        const answer = await countNow(mat);
        if (mine !== countSeq || !draft) return;
        draft.counts = answer;
        showCounts();
      }, COUNT_DELAY_MS);
      return undefined;
    }

    /** The subjects a publish now would send back for the purposes mat: {key, purposes, subjects} or {error}. */
    async function countNow(mat) {
      const key = mat.join(',');
      try {
        const r = await call('GET', `/v1/notices/${enc(draft.notice.id)}/reconsent?purposes=${mat.map(enc).join(',')}`);
        return { key, purposes: Object.fromEntries(r.purposes.map((p) => [p.purpose, p.subjects])), subjects: r.subjects };
      } catch (e) {
        return { key, error: why(e) };
      }
    }

    /** The version as the form says, and the faults the page can see itself. */
    function read() {
      const faults = [];
      const content = {};
      for (const l of draft.locales) {
        const c = draft.content[l];
        const title = c.title.trim();
        if (!title) faults.push({ field: `content.${l}.title`, message: tt.required });
        else if (bytes(title) > NAME_BYTES_MAX) faults.push({ field: `content.${l}.title`, message: fmt(tt.tooLong, { n: NAME_BYTES_MAX }) });
        if (!c.text.trim()) faults.push({ field: `content.${l}.text`, message: ww.textEmpty });
        else if (bytes(c.text) > TEXT_BYTES_MAX) faults.push({ field: `content.${l}.text`, message: fmt(tt.tooLong, { n: TEXT_BYTES_MAX }) });
        content[l] = { title, text: c.text }; // the text exactly as typed: its SHA-256 is what people are shown
      }
      if (!draft.locales.includes(draft.notice.default_locale)) faults.push({ field: 'content', message: fmt(ww.needsDefault, { locale: draft.notice.default_locale }) });
      const purposes = covered().map((p) => ({ purpose: p, change: serverChange(draft.changes[p]) }));
      if (!purposes.length) faults.push({ field: 'purposes', message: ww.onePurpose });
      const sum = draft.summary.trim();
      if (bytes(sum) > SUMMARY_BYTES_MAX) faults.push({ field: 'summary', message: fmt(tt.tooLong, { n: SUMMARY_BYTES_MAX }) });
      const base0 = draft.base;
      const same = base0 && draft.locales.every((l) => base0.content[l] && base0.content[l].title === content[l].title && base0.content[l].text === content[l].text)
        && Object.keys(base0.content).every((l) => draft.locales.includes(l))
        && !draft.added.length && Object.values(draft.changes).every((c) => c === 'unchanged');
      if (same && !faults.length) faults.push({ field: '', message: fmt(ww.nothingChanged, { n: base0.version }) });
      const body = { content, purposes };
      if (sum) body.summary = sum;
      return { faults, body };
    }

    function ask() {
      const { faults } = read();
      if (faults.length) return showErrors(form, faults);
      clearErrors(form);
      return v.act(async () => {
        const mat = material();
        say(ww.counting);
        const answer = mat.length ? await countNow(mat) : { key: '', purposes: {}, subjects: 0 };
        confirming = { mat, answer };
        if (!answer.error) draft.counts = answer;
        v.focusKey = 'confirm-h';
        v.render();
        say(answer.error ? fmt(ww.countFailed, { detail: answer.error }) : fmt(ww.confirmSay, { n: answer.subjects }), answer.error ? 'error' : 'info');
      });
    }

    function publish() {
      const { faults, body } = read();
      if (faults.length) {
        confirming = null;
        v.render();
        return showErrors(v.el.querySelector('form.notice-form'), faults);
      }
      return v.act(async () => {
        say(tt.saving);
        let made;
        try {
          made = await call('POST', `/v1/notices/${enc(draft.notice.id)}/versions`, body);
        } catch (e) {
          confirming = null;
          v.render();
          return showFailure(v.el.querySelector('form.notice-form'), e);
        }
        const id = draft.notice.id;
        draft = null;
        at = { mode: 'notice', id };
        viewing = made.version;
        confirming = null;
        v.focusKey = `view:${made.version}`;
        await v.refresh(true);
        say(fmt(ww.published, { n: made.version, k: made.reconsent_required || 0 }), 'ok');
        return undefined;
      });
    }

    function confirmBox() {
      const { mat, answer } = confirming;
      const names = mat.map((p) => purposeName(data, p)).join(ww.listSep);
      let text;
      if (!mat.length) text = ww.confirmNobody;
      else if (answer.error) text = fmt(ww.confirmUnknown, { detail: answer.error, purposes: names });
      else text = fmt(ww.confirmSome, { n: answer.subjects, purposes: names });
      return h('div', { className: 'confirm publish-confirm', role: 'group', 'aria-labelledby': 'publish-confirm-h' },
        h('p', { id: 'publish-confirm-h', className: 'confirm-q', tabIndex: -1, 'data-key': 'confirm-h' }, fmt(ww.confirmQuestion, { n: next, id: draft.notice.id })),
        h('p', { className: 'confirm-count', 'data-subjects': answer.error ? '' : String(answer.subjects || 0) }, text),
        h('p', { className: 'note' }, ww.confirmFinal),
        h('div', { className: 'actions' },
          h('button', { type: 'button', className: 'btn', 'data-key': 'confirm-yes', onclick: publish }, ww.publishYes),
          h('button', { type: 'button', className: 'btn secondary', 'data-key': 'confirm-no', onclick: () => { confirming = null; v.focusKey = 'publish'; v.render(); } }, tt.cancel)));
    }

    // after drawing: the counts as last known (a redraw keeps them), fetched again when stale
    setTimeout(() => { if (draft && form.isConnected) scheduleCount(); }, 0);
    showCounts();
    return form;
  }

  return v;
}
