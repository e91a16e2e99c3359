// SPDX-License-Identifier: Apache-2.0
// The admin console's subjects: look up by id or identifier; profile,
// consents, preferences, timeline, the evidence bundle and pack, erasure
// (README.md beside this file). Newer words are in subjects-i18n.js.

import { app, t, h, fmt, enc, when, localised, say, can, fileSafe, today, call, why, allPages, download, clearErrors, showErrors, showFailure, field, checkbox, makeView, table, cell } from './admin-core.js';
import { W } from './subjects-i18n.js';

const w = () => W[app.ui];

const SUBJECT_ID = /^[!-.0-~]{1,128}$/; // printable ASCII, no space, no '/' (docs/SUBJECTS.md)
const IDENTIFIER_TYPES = ['phone', 'email', 'wechat_openid', 'wechat_unionid', 'wecom_external_userid', 'device_id', 'device'];

let pendingSubject = null; // a subject to open when the subjects screen shows (from the queue)

export function openSubject(id) {
  pendingSubject = id;
  if (location.hash === '#/subjects') route();
  else location.hash = '#/subjects';
}

export function subjectsScreen() {
  let by = 'id';
  let idText = '';
  let idType = 'phone';
  let idValue = '';
  let current = null; // the subject id shown (kept in memory: never in the address)
  let parts = [];
  let erasing = false; // the erasure's confirmation is open
  let eraseTyped = ''; // the id typed to confirm it
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
    erasing = false;
    eraseTyped = '';
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
      load: () => call('GET', `${path}/preferences`).catch((e) => {
        if (e.status === 404) return { preferences: {} };
        if (e.status === 409) return { erased: true }; // an erased person's preferences are not read (docs/SUBJECTS.md)
        throw e;
      }),
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
    const ww = w();
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
      s.erased_at && h('p', { className: 'note erased-note', id: 'subject-erased' }, fmt(ww.erasedNote, { date: when(s.erased_at) })),
      h('dl', { className: 'facts-list' }, rows.map(([k, val]) => [h('dt', {}, k), h('dd', {}, val)])),
      can('ledger:read') && h('div', { className: 'actions' },
        h('button', { type: 'button', className: 'btn', 'data-key': 'evidence', 'aria-describedby': 'evidence-hint', onclick: evidence }, tt.evidence),
        h('p', { className: 'note', id: 'evidence-hint' }, tt.evidenceHint)),
      can('ledger:read') && h('div', { className: 'actions' },
        h('button', { type: 'button', className: 'btn', 'data-key': 'evidence-pack', 'aria-describedby': 'evidence-pack-hint', onclick: evidencePack }, ww.pack),
        h('p', { className: 'note', id: 'evidence-pack-hint' }, ww.packHint)),
      can('admin') && !s.erased_at && (erasing ? eraseConfirm()
        : h('div', { className: 'actions' },
          h('button', { type: 'button', className: 'btn danger', 'data-key': 'erase', 'aria-describedby': 'erase-hint',
            onclick: () => { erasing = true; eraseTyped = ''; parts[0].focusKey = 'erase-q'; parts[0].render(); } }, ww.erase),
          h('p', { className: 'note', id: 'erase-hint' }, ww.eraseHint))));
  }

  /** The erasure's confirmation: what it does and does not do; the id typed again enables it. */
  function eraseConfirm() {
    const ww = w();
    const id = current;
    const matches = () => eraseTyped.trim() === id;
    const yes = h('button', { type: 'submit', className: 'btn danger', 'data-key': 'erase-yes', disabled: !matches() }, ww.eraseYes);
    const refuse = () => showErrors(form, [{ field: 'confirm', message: fmt(ww.eraseMismatch, { id }) }]);
    const input = h('input', {
      type: 'text', value: eraseTyped, 'data-field': 'confirm', 'data-key': 'erase-id', spellcheck: false, autocomplete: 'off', autocapitalize: 'off',
      oninput: (e) => { eraseTyped = e.target.value; yes.disabled = !matches(); },
      // Enter with the submit button disabled submits nothing: say why instead
      onkeydown: (e) => { if (e.key === 'Enter' && !matches()) { e.preventDefault(); refuse(); } },
    });
    const list = (items) => h('ul', {}, items.map((x) => h('li', {}, x)));
    const form = h('form', {
      className: 'confirm erase-confirm', noValidate: true, 'aria-labelledby': 'erase-q',
      onsubmit: (e) => {
        e.preventDefault();
        if (!matches()) return refuse();
        clearErrors(form);
        return erase(form, id);
      },
    },
    h('p', { id: 'erase-q', className: 'confirm-q', tabIndex: -1, 'data-key': 'erase-q' }, fmt(ww.eraseQuestion, { id })),
    h('div', { className: 'form-errors', tabIndex: -1 }),
    h('p', {}, ww.eraseDoes), list([ww.eraseDoes1, ww.eraseDoes2, ww.eraseDoes3]),
    h('p', {}, ww.eraseKeeps), list([ww.eraseKeeps1, ww.eraseKeeps2]),
    h('p', { className: 'confirm-q' }, ww.eraseFinal),
    field(fmt(ww.eraseType, { id }), input),
    h('div', { className: 'actions' }, yes,
      h('button', { type: 'button', className: 'btn secondary', 'data-key': 'erase-no',
        onclick: () => { erasing = false; eraseTyped = ''; parts[0].focusKey = 'erase'; parts[0].render(); } }, ww.eraseNo)));
    return form;
  }

  async function erase(form, id) {
    const ww = w();
    let done = false;
    await parts[0].act(async () => {
      let res;
      try {
        res = await call('DELETE', `/v1/subjects/${enc(id)}`);
      } catch (e) {
        if (e.status !== 409) return showFailure(form, e);
        say(fmt(ww.erasedAlready, { id }), 'info'); // erased meanwhile (another operator): show it as it is
        done = true;
        return undefined;
      }
      const devices = res.devices_erased || [];
      say(devices.length ? fmt(ww.erasedDevices, { id, n: devices.length, devices: devices.join(', ') }) : fmt(ww.erasedSay, { id }), 'ok');
      done = true;
      return undefined;
    });
    if (!done || current !== id) return;
    erasing = false;
    eraseTyped = '';
    for (const p of parts.slice(1)) p.refresh();
    await parts[0].refresh();
    const heading = document.getElementById('subject-profile-h');
    if (heading && current === id) heading.focus();
  }

  function evidencePack() {
    const ww = w();
    const id = current;
    const name = `evidence-pack-${fileSafe(id)}-${today()}.tar`;
    return parts[0].act(async () => {
      try {
        await download(`/v1/evidence-packs?subject=${enc(id)}`, name, { type: 'application/x-tar' });
        say(fmt(ww.downloaded, { name }), 'ok');
      } catch (e) {
        const detail = why(e);
        say(e.status === 404 ? ww.packNotYet : e.status === 422 ? fmt(ww.packNarrow, { detail }) : fmt(ww.failed, { detail }), 'error');
      }
    });
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
    if (body.erased) return h('p', { className: 'empty', id: 'preferences-erased' }, w().prefsErased);
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
