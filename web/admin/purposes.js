// SPDX-License-Identifier: Apache-2.0
// The admin console's purposes: why personal information is processed, on what
// basis, for how long (README.md beside this file).

import { TEXT_LOCALES, NAME_BYTES_MAX, STRING_BYTES_MAX, SLUG, DURATION, t, h, fmt, bytes, localised, splitList, allPages, field, checkbox, makeView, editOne, table, cell } from './admin-core.js';

const LEGAL_BASES = ['consent', 'contract', 'hr_management', 'legal_obligation', 'public_health', 'vital_interests',
  'news_reporting', 'public_disclosed', 'other_law'];
const CONSENT_FORMS = ['general', 'separate', 'written'];

export function purposesScreen() {
  const v = makeView({
    id: 'purposes', title: () => t().purposes, intro: () => t().purposesIntro,
    load: () => allPages('/v1/purposes'),
    draw,
  });
  const ed = editOne(v, { form: 'form.purpose-form', focus: (doc) => (doc ? 'legal_basis' : 'id') });

  function draw(list) {
    const tt = t();
    if (ed.editing) return purposeForm(ed.editing.doc, ed.editing.draft);
    const rows = list.map((p) => h('tr', { 'data-purpose': p.id },
      cell(tt.pid, h('code', {}, p.id)),
      cell(tt.pname, localised(p.name, p.id)),
      cell(tt.legalBasis, tt.basis[p.legal_basis] || p.legal_basis),
      cell(tt.consentForm, p.consent_form ? tt.form[p.consent_form] || p.consent_form : '—'),
      cell(tt.sensitive, p.sensitive ? h('span', { className: 'badge warn' }, tt.yes) : tt.no),
      cell(tt.retention, h('code', {}, p.retention)),
      cell(tt.recipients, (p.recipients || []).length ? p.recipients.join(', ') : '—'),
      cell(tt.revision, String(p.revision)),
      cell(tt.actions, ed.editButton(p, fmt(tt.editOne, { id: p.id })))));
    return h('div', {},
      h('div', { className: 'actions' }, ed.newButton(tt.newPurpose)),
      list.length === 0 ? h('p', { className: 'empty' }, tt.noPurposes)
        : table(tt.purposes, [tt.pid, tt.pname, tt.legalBasis, tt.consentForm, tt.sensitive, tt.retention, tt.recipients, tt.revision, tt.actions], rows));
  }

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
    ed.formButtons());

    /**
     * What to send as the form says (a new purpose whole, else its own merge
     * patch), and the faults the page can see itself.
     */
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
        if (bytes(s) > STRING_BYTES_MAX) faults.push({ field: `description.${l}`, message: fmt(tt.tooLong, { n: STRING_BYTES_MAX }) });
        description[l] = s;
      });
      if (!basis.value) faults.push({ field: 'legal_basis', message: tt.required });
      const consent = basis.value === 'consent';
      if (consent && !form.value) faults.push({ field: 'consent_form', message: tt.consentFormNeeded });
      if (consent && sensitive.checked && form.value === 'general') faults.push({ field: 'consent_form', message: tt.sensitiveForm });
      const ret = retention.value.trim();
      if (!ret) faults.push({ field: 'retention', message: tt.required });
      else if (!DURATION.test(ret)) faults.push({ field: 'retention', message: tt.durationRule });
      const recs = splitList(recipients.value);
      recs.forEach((r) => { if (!SLUG.test(r)) faults.push({ field: 'recipients', message: fmt(tt.recipientRule, { value: r }) }); });
      out.legal_basis = basis.value;
      out.sensitive = sensitive.checked;
      out.necessary_for_service = necessary.checked;
      out.retention = ret;
      out.recipients = recs;
      const consentForm = consent ? form.value : null;
      if (faults.length) return { faults, out };
      const keep = (m) => Object.fromEntries(Object.entries(m).filter(([, s]) => s));
      if (isNew) {
        return { faults, out: Object.assign({ id: out.id, name: keep(name) }, Object.keys(keep(description)).length ? { description: keep(description) } : {},
          { legal_basis: out.legal_basis }, consentForm ? { consent_form: consentForm } : {},
          { sensitive: out.sensitive, necessary_for_service: out.necessary_for_service, retention: out.retention, recipients: out.recipients }) };
      }
      // a JSON merge patch (RFC 7396): an emptied locale or a consent form no longer asked is removed with null
      const patchMap = (m, old) => Object.fromEntries(TEXT_LOCALES.filter((l) => m[l] || (old && old[l])).map((l) => [l, m[l] || null]));
      const body = { name: patchMap(name, d.name), legal_basis: out.legal_basis, consent_form: consentForm,
        sensitive: out.sensitive, necessary_for_service: out.necessary_for_service, retention: out.retention, recipients: out.recipients };
      const desc = patchMap(description, d.description);
      // every description removed: the field goes (an empty text map is no description)
      const left = Object.keys(d.description || {}).filter((l) => !TEXT_LOCALES.includes(l)).length + TEXT_LOCALES.filter((l) => description[l]).length;
      if (Object.keys(desc).length) body.description = left ? desc : null;
      return { faults, out: body };
    }

    /** What is typed, to draw the form again in another language. */
    el.snapshot = () => ({
      id: id.value, legal_basis: basis.value, consent_form: form.value, sensitive: sensitive.checked,
      necessary_for_service: necessary.checked, retention: retention.value, recipients: recipients.value,
      name: Object.fromEntries(TEXT_LOCALES.map((l, i) => [l, names[i].value])),
      description: Object.fromEntries(TEXT_LOCALES.map((l, i) => [l, descriptions[i].value])),
    });

    function save() {
      return ed.save(el, read, { collection: 'purposes', old: isNew ? null : d, words: tt, patched: true });
    }
    return el;
  }
  return v;
}
