// SPDX-License-Identifier: Apache-2.0
// The admin console's rights requests queue (PIPL Art. 44-50): due dates,
// status, refusal reasons (README.md beside this file).

import { t, h, fmt, enc, bytes, when, say, call, allPages, clearErrors, showErrors, showFailure, field, checkbox, makeView } from './admin-core.js';
import { openSubject } from './subjects.js';

const NEXT_STATUSES = { received: ['in_progress', 'completed', 'refused'], in_progress: ['completed', 'refused'] };
const QUEUE_FILTERS = ['open', 'received', 'in_progress', 'completed', 'refused', 'all'];
const RIGHTS_TEXT_BYTES_MAX = 2000;

export function requestsScreen() {
  let filter = 'open';
  let overdueOnly = /[?&]overdue\b/.test(location.hash); // #/requests?overdue (the dashboard's link)
  let handling = null; // {id, status, reply, reason}
  /** The overdue filter is in the address, so a reload or a link keeps it. */
  const keepInAddress = () => history.replaceState(history.state, '', `${location.pathname}#/requests${overdueOnly ? '?overdue' : ''}`);
  const v = makeView({
    id: 'requests', title: () => t().requests, intro: () => t().requestsIntro,
    load: () => {
      const q = new URLSearchParams();
      if (filter !== 'all') q.set('status', filter);
      if (overdueOnly) q.set('overdue', 'true');
      return allPages(`/v1/requests${q.toString() ? `?${q}` : ''}`);
    },
    draw,
  });

  function draw(list) {
    const tt = t();
    const statusSel = h('select', { id: 'rq-filter', 'data-key': 'filter', onchange: (e) => { filter = e.target.value; if (!['open', 'received', 'in_progress'].includes(filter)) overdueOnly = false; keepInAddress(); v.focusKey = 'filter'; v.refresh(); } },
      QUEUE_FILTERS.map((f) => h('option', { value: f, selected: f === filter }, tt.queueFilter[f])));
    const overdue = h('input', { type: 'checkbox', id: 'rq-overdue', checked: overdueOnly, 'data-key': 'overdue', disabled: !['open', 'received', 'in_progress'].includes(filter),
      onchange: (e) => { overdueOnly = e.target.checked; keepInAddress(); v.focusKey = 'overdue'; v.refresh(); } });
    const now = Date.now();
    const rows = list.map((r) => {
      const daysLate = r.overdue ? Math.max(1, Math.ceil((now - Date.parse(r.due_at)) / 86400000)) : 0;
      return h('li', { className: `request${r.overdue ? ' overdue' : ''}`, 'data-request': r.id, 'data-status': r.status, 'data-overdue': r.overdue ? 'true' : 'false' },
        h('div', { className: 'rq-head' },
          h('span', { className: 'row-what' }, (tt.rightTypes[r.type] || r.type)),
          h('span', { className: `badge rq-${r.status}` }, tt.rstatus[r.status] || r.status),
          r.overdue && h('span', { className: 'badge bad overdue-badge' }, fmt(tt.overdueBy, { n: daysLate }))),
        h('p', { className: 'rq-facts' },
          fmt(tt.filedOn, { date: when(r.created_at) }), ' · ',
          h('strong', { className: r.overdue ? 'late' : '' }, fmt(tt.dueOn, { date: when(r.due_at) })), ' · ',
          tt.subject, ' ', h('button', { type: 'button', className: 'link', 'data-key': `subject:${r.id}`, onclick: () => openSubject(r.subject) }, r.subject),
          r.property ? ` · ${fmt(tt.onProperty, { property: r.property })}` : ''),
        typeof r.note === 'string' && r.note && h('p', { className: 'quote' }, fmt(tt.note, { text: r.note })),
        r.note_erased && h('p', { className: 'note' }, tt.noteErased),
        typeof r.reply === 'string' && r.reply && h('p', { className: 'quote' }, fmt(tt.reply, { text: r.reply })),
        typeof r.reason === 'string' && r.reason && h('p', { className: 'quote' }, fmt(tt.reason, { text: r.reason })),
        NEXT_STATUSES[r.status] && (handling && handling.id === r.id ? handleForm(r)
          : h('div', { className: 'actions' }, h('button', { type: 'button', className: 'btn secondary small', 'data-key': `handle:${r.id}`, onclick: () => { handling = { id: r.id, status: NEXT_STATUSES[r.status][0], reply: '', reason: '' }; v.focusKey = 'handle-h'; v.render(); } }, tt.handle))));
    });
    return h('div', {},
      h('div', { className: 'filters' },
        field(tt.show, statusSel),
        checkbox(tt.overdueOnly, overdue)),
      list.length === 0 ? h('p', { className: 'empty' }, tt.noRequests) : h('ul', { className: 'rows requests' }, rows));
  }

  function handleForm(r) {
    const tt = t();
    const reply = h('textarea', { rows: 3, 'data-field': 'reply', 'data-key': 'reply', value: handling.reply, oninput: (e) => { handling.reply = e.target.value; } });
    const reason = h('textarea', { rows: 3, 'data-field': 'reason', 'data-key': 'reason', value: handling.reason, oninput: (e) => { handling.reason = e.target.value; } });
    const reasonField = field(tt.reasonLabel, reason, tt.reasonHint);
    reasonField.hidden = handling.status !== 'refused';
    const el = h('form', {
      className: 'handle-form', noValidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        const faults = [];
        const body = { status: handling.status };
        const rep = handling.reply.trim();
        const rea = handling.reason.trim();
        if (rep) body.reply = rep;
        if (bytes(rep) > RIGHTS_TEXT_BYTES_MAX) faults.push({ field: 'reply', message: fmt(tt.tooLong, { n: RIGHTS_TEXT_BYTES_MAX }) });
        if (handling.status === 'refused') {
          if (!rea) faults.push({ field: 'reason', message: tt.reasonNeeded });
          else if (bytes(rea) > RIGHTS_TEXT_BYTES_MAX) faults.push({ field: 'reason', message: fmt(tt.tooLong, { n: RIGHTS_TEXT_BYTES_MAX }) });
          body.reason = rea;
        }
        if (faults.length) return showErrors(el, faults);
        clearErrors(el);
        return v.act(async () => {
          say(tt.saving);
          try {
            await call('PATCH', `/v1/requests/${enc(r.id)}`, body);
          } catch (err) {
            return showFailure(el, err);
          }
          handling = null;
          v.focusKey = 'heading';
          await v.refresh(true);
          say(fmt(tt.requestMoved, { status: tt.rstatus[body.status] }), 'ok');
        });
      },
    },
    h('h3', { id: 'handle-h', tabIndex: -1, 'data-key': 'handle-h' }, fmt(tt.handleTitle, { type: tt.rightTypes[r.type] || r.type })),
    h('div', { className: 'form-errors', tabIndex: -1 }),
    h('fieldset', { 'data-field': 'status' }, h('legend', {}, tt.newStatus),
      NEXT_STATUSES[r.status].map((s) => checkbox(tt.rstatus[s], h('input', {
        type: 'radio', name: `st-${r.id}`, value: s, id: `st-${s}`, checked: handling.status === s, 'data-key': `st:${s}`,
        onchange: () => { handling.status = s; reasonField.hidden = s !== 'refused'; },
      }), tt.statusHint[s]))),
    field(tt.replyLabel, reply, tt.replyHint),
    reasonField,
    h('div', { className: 'actions' },
      h('button', { type: 'submit', className: 'btn', 'data-key': 'apply' }, tt.apply),
      h('button', { type: 'button', className: 'btn secondary', 'data-key': 'cancel', onclick: () => { handling = null; v.focusKey = `handle:${r.id}`; v.render(); } }, tt.cancel)));
    return el;
  }
  return v;
}
