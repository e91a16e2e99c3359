// SPDX-License-Identifier: Apache-2.0
// The admin console's channels: how people may be contacted (SMS, e-mail,
// WeCom …), under which purposes, and at what hours in which time zone —
// the rules /v1/decide applies before any message goes out (README.md
// beside this file, docs/CONFIGURATION.md, docs/PREFERENCES.md).

import { app, t, h, fmt, allPages, field, checkbox, purposePicker, textInput, makeView, editOne, table, cell } from './admin-core.js';
import { W } from './channels-i18n.js';

const w = () => W[app.ui];
/** The menu's label (admin.js). */
export const channelsLabel = () => W[app.ui].channels;
const CHANNELS = ['sms', 'email', 'app_push', 'wecom', 'wechat_oa', 'voice', 'mail']; // src/domain/decide.h
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;
const TIME_ZONE = /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/;

export function channelsScreen() {
  const v = makeView({
    id: 'channels', title: () => w().channels, intro: () => w().intro,
    load: async () => {
      const [channels, purposes] = await Promise.all([allPages('/v1/channels'), allPages('/v1/purposes')]);
      return { channels, purposes };
    },
    draw,
  });
  const ed = editOne(v, { form: 'form.channel-form', focus: (doc) => (doc ? 'limit' : 'id') });

  const hours = (c) => {
    const a = c.allowed_hours;
    if (!a) return w().anyTime;
    const days = a.days && a.days.length < 7 ? a.days.map((d) => t().days[d]).join(' ') : t().everyDay;
    return `${a.from}–${a.to} ${a.time_zone} · ${days}`;
  };

  function draw(data) {
    const tt = t();
    const ww = w();
    if (ed.editing) return channelForm(data, ed.editing.doc, ed.editing.draft);
    const rows = data.channels.map((c) => h('tr', { 'data-channel': c.id },
      cell(ww.channel, tt.channels[c.id] || c.id, ' ', h('code', {}, c.id)),
      cell(ww.purposes, (c.purposes || []).length ? c.purposes.join(', ') : ww.anyPurpose),
      cell(ww.hours, hours(c)),
      cell(tt.revision, String(c.revision)),
      cell(tt.actions, ed.editButton(c, fmt(ww.editOne, { id: c.id })))));
    const free = CHANNELS.filter((c) => !data.channels.some((x) => x.id === c));
    return h('div', {},
      h('div', { className: 'actions' }, free.length
        ? ed.newButton(ww.newChannel)
        : h('p', { className: 'note' }, ww.allConfigured)),
      rows.length === 0 ? h('p', { className: 'empty' }, ww.none)
        : table(ww.channels, [ww.channel, ww.purposes, ww.hours, tt.revision, tt.actions], rows));
  }

  function channelForm(data, doc, draft) {
    const tt = t();
    const ww = w();
    const isNew = !doc;
    const d = doc || {};
    const f = draft || d;
    const taken = data.channels.map((c) => c.id);
    const id = h('select', { 'data-field': 'id', 'data-key': 'id', disabled: !isNew },
      h('option', { value: '' }, tt.choose),
      CHANNELS.filter((c) => !isNew || !taken.includes(c) || c === f.id).map((c) => h('option', { value: c, selected: f.id === c }, `${tt.channels[c] || c} (${c})`)));
    const picker = purposePicker(data.purposes, f.purposes || [], 'purposes', ww.purposes, ww.purposesHint, ww.noPurposes);
    const a = f.allowed_hours || null;
    const limit = h('input', { type: 'checkbox', checked: !!a, 'data-key': 'limit' });
    const text = (name, value, props) => textInput(`allowed_hours.${name}`, Object.assign({ value }, props));
    const zone = text('time_zone', (a && a.time_zone) || 'Asia/Shanghai');
    const from = text('from', (a && a.from) || '09:00', { placeholder: '09:00', inputMode: 'numeric' });
    const to = text('to', (a && a.to) || '21:00', { placeholder: '21:00', inputMode: 'numeric' });
    const dayBoxes = DAYS.map((day) => h('input', { type: 'checkbox', value: day, checked: !a || !a.days || a.days.includes(day), 'data-key': `day:${day}` }));
    const hoursBox = h('fieldset', { 'data-field': 'allowed_hours', className: 'hours' }, h('legend', {}, ww.hours),
      field(ww.timeZone, zone, ww.timeZoneHint),
      h('div', { className: 'pair' }, field(ww.from, from, ww.clockHint), field(ww.to, to, ww.toHint)),
      h('fieldset', { 'data-field': 'allowed_hours.days' }, h('legend', {}, ww.days),
        h('div', { className: 'days' }, DAYS.map((day, i) => checkbox(tt.days[day], dayBoxes[i])))));
    const showHours = () => { hoursBox.hidden = !limit.checked; };
    limit.addEventListener('change', showHours);
    showHours();

    const el = h('form', { className: 'channel-form config-form', noValidate: true, 'data-mode': isNew ? 'create' : 'edit', onsubmit: (e) => { e.preventDefault(); save(); } },
      h('h3', { tabIndex: -1, 'data-key': 'form-h' }, isNew ? ww.newChannel : fmt(ww.editChannel, { id: d.id })),
      h('div', { className: 'form-errors', tabIndex: -1 }),
      field(ww.channel, id, isNew ? ww.channelHint : ww.channelFixed),
      picker.el,
      checkbox(ww.limitHours, limit, ww.limitHint),
      hoursBox,
      ed.formButtons());

    function read() {
      const faults = [];
      const need = (path, ok, message) => { if (!ok) faults.push({ field: path, message }); };
      const out = { id: isNew ? id.value : d.id, purposes: picker.value() };
      need('id', out.id, tt.required);
      if (limit.checked) {
        const hrs = { time_zone: zone.value.trim(), from: from.value.trim(), to: to.value.trim(), days: dayBoxes.filter((b) => b.checked).map((b) => b.value) };
        need('allowed_hours.time_zone', TIME_ZONE.test(hrs.time_zone), ww.timeZoneRule);
        need('allowed_hours.from', CLOCK.test(hrs.from), ww.clockRule);
        need('allowed_hours.to', CLOCK.test(hrs.to), ww.clockRule);
        need('allowed_hours.to', hrs.from !== hrs.to, ww.sameTimes);
        need('allowed_hours.days', hrs.days.length, ww.oneDay);
        out.allowed_hours = hrs;
      }
      return { faults, out };
    }
    el.snapshot = () => Object.assign(read().out, { id: isNew ? id.value : d.id });

    function save() {
      return ed.save(el, read, { collection: 'channels', old: isNew ? null : d, words: ww });
    }
    return el;
  }
  return v;
}
