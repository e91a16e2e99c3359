// SPDX-License-Identifier: Apache-2.0
// The admin console's topics: what people may hear about (coupons, new
// arrivals, events …), each under the purposes it serves; the popup and the
// preference center list a policy's topics for people to turn off (README.md
// beside this file, docs/PREFERENCES.md).

import { TEXT_LOCALES, NAME_BYTES_MAX, SLUG, app, t, h, fmt, bytes, localised, allPages, field, purposePicker, textInput, makeView, editOne, table, cell } from './admin-core.js';
import { W } from './topics-i18n.js';

const w = () => W[app.ui];
/** The menu's label (admin.js). */
export const topicsLabel = () => W[app.ui].topics;

export function topicsScreen() {
  const v = makeView({
    id: 'topics', title: () => w().topics, intro: () => w().intro,
    load: async () => {
      const [topics, purposes] = await Promise.all([allPages('/v1/topics'), allPages('/v1/purposes')]);
      return { topics, purposes };
    },
    draw,
  });
  const ed = editOne(v, { form: 'form.topic-form', focus: (doc) => (doc ? `name.${TEXT_LOCALES[0]}` : 'id') });

  function draw(data) {
    const tt = t();
    const ww = w();
    if (ed.editing) return topicForm(data, ed.editing.doc, ed.editing.draft);
    const rows = data.topics.map((x) => h('tr', { 'data-topic': x.id },
      cell(ww.tid, h('code', {}, x.id)),
      cell(ww.name, localised(x.name, x.id)),
      cell(ww.purposes, x.purposes.join(', ')),
      cell(tt.revision, String(x.revision)),
      cell(tt.actions, ed.editButton(x, fmt(ww.editOne, { id: x.id })))));
    return h('div', {},
      h('div', { className: 'actions' }, ed.newButton(ww.newTopic)),
      rows.length === 0 ? h('p', { className: 'empty' }, ww.none)
        : table(ww.topics, [ww.tid, ww.name, ww.purposes, tt.revision, tt.actions], rows));
  }

  function topicForm(data, doc, draft) {
    const tt = t();
    const ww = w();
    const isNew = !doc;
    const d = doc || {};
    const f = draft || d;
    const id = textInput('id', { value: f.id || '', disabled: !isNew });
    const locales = [...new Set([...TEXT_LOCALES, ...Object.keys(f.name || {})])];
    const names = locales.map((l) => h('input', { type: 'text', 'data-field': `name.${l}`, 'data-key': `name.${l}`, lang: l, maxLength: 400, value: (f.name && f.name[l]) || '' }));
    const picker = purposePicker(data.purposes, f.purposes || [], 'purposes', ww.purposes, ww.purposesHint, ww.noPurposes);
    const el = h('form', { className: 'topic-form config-form', noValidate: true, 'data-mode': isNew ? 'create' : 'edit', onsubmit: (e) => { e.preventDefault(); save(); } },
      h('h3', { tabIndex: -1, 'data-key': 'form-h' }, isNew ? ww.newTopic : fmt(ww.editTopic, { id: d.id })),
      h('div', { className: 'form-errors', tabIndex: -1 }),
      field(ww.tid, id, isNew ? ww.tidHint : ww.tidFixed),
      h('fieldset', { 'data-field': 'name' }, h('legend', {}, ww.names), locales.map((l, i) => field(tt.localeNames[l] || l, names[i]))),
      picker.el,
      ed.formButtons());

    function read() {
      const faults = [];
      const out = { id: isNew ? id.value.trim() : d.id, name: {} };
      if (isNew && !SLUG.test(out.id)) faults.push({ field: 'id', message: out.id ? tt.slugRule : tt.required });
      locales.forEach((l, i) => {
        const s = names[i].value.trim();
        if (bytes(s) > NAME_BYTES_MAX) faults.push({ field: `name.${l}`, message: fmt(tt.tooLong, { n: NAME_BYTES_MAX }) });
        if (s) out.name[l] = s;
      });
      if (!Object.keys(out.name).length) faults.push({ field: 'name', message: tt.oneName });
      out.purposes = picker.value();
      if (!out.purposes.length) faults.push({ field: 'purposes', message: ww.onePurpose });
      return { faults, out };
    }
    el.snapshot = () => read().out;

    function save() {
      return ed.save(el, read, { collection: 'topics', old: isNew ? null : d, words: ww });
    }
    return el;
  }
  return v;
}
