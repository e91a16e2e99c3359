// SPDX-License-Identifier: Apache-2.0
// The admin console's purposes: why personal information is processed, on what
// basis, for how long (README.md beside this file).

import { TEXT_LOCALES, NAME_BYTES_MAX, t, h, fmt, enc, bytes, localised, say, can, call, allPages, clearErrors, showErrors, showFailure, field, checkbox, makeView, table, cell } from './admin-core.js';

const LEGAL_BASES = ['consent', 'contract', 'hr_management', 'legal_obligation', 'public_health', 'vital_interests',
  'news_reporting', 'public_disclosed', 'other_law'];
const CONSENT_FORMS = ['general', 'separate', 'written'];
// docs/CONFIGURATION.md: ids are slugs; durations ISO 8601 (cpmd refuses zero ones itself)
const SLUG = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const DURATION = /^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/;
const TEXT_BYTES_MAX = 4096;

export function purposesScreen() {
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
