// SPDX-License-Identifier: Apache-2.0
// The admin console's destinations (docs/SYNC.md, docs/ADMIN.md
// "Destinations"): where ledger events are sent — webhooks, NATS and the
// vendor connectors. The list with each one's lag, failures, dead letters
// and last delivery; a form per kind (the fields cpmd's destination schema
// knows, src/domain/destination.c); a test send and its answer; the
// delivery log by outcome; replay; pause, resume and delete.

import { NAME_BYTES_MAX, SLUG, app, t, h, fmt, enc, bytes, when, splitList, say, call, why, allPages, clearErrors, showErrors, showFailure, field, checkbox, submitForm, confirmPanel, secretPanel, textInput, makeView, table, cell } from './admin-core.js';
import { W } from './destinations-i18n.js';

const w = () => W[app.ui];

const KINDS = ['webhook', 'nats', 'wecom_tags', 'sms_gateway', 'ma_journey', 'tencent_ads', 'ocean_engine'];
// What each connector can do and needs besides endpoint and secret (src/domain/destination.c)
const CONNECTORS = {
  wecom_tags: { actions: ['tag_add', 'tag_remove'], needs: ['corp_id', 'owner_userid'], defaults: false },
  sms_gateway: { actions: ['suppress', 'unsuppress'], needs: [], defaults: true },
  ma_journey: { actions: ['exit_journey', 'reschedule'], needs: [], defaults: true },
  tencent_ads: { actions: ['audience_append', 'audience_reduce'], needs: ['account_id', 'audience_id'], defaults: true, batch: true },
  ocean_engine: { actions: ['audience_append', 'audience_reduce'], needs: ['account_id', 'audience_id'], defaults: true, batch: true },
};
const ROLES = ['processor', 'independent', 'cross_border'];
const MECHANISMS = ['security_assessment', 'standard_contract', 'certification'];
const CHANNELS = ['sms', 'email', 'app_push', 'wecom', 'wechat_oa', 'voice', 'mail'];
const OUTCOMES = ['all', 'failed', 'dead', 'blocked', 'delivered'];
const PATTERN = /^(\*|[a-z0-9][a-z0-9._-]{0,63}?(\.\*)?)$/;
const WHSEC = /^whsec_((?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)$/;
const COUNTRY = /^[A-Z]{2}$/;
const NATS_URL = /^nats:\/\/[^\s/:@?#]+:[1-9]\d{0,4}$/;
const NATS_NAME = /^[^\s.*>/\\$][^\s*>/\\]*$/;
const SECRET_BYTES_MAX = 512;
const LOG_PAGE = 100;

// The bounds cpmd's schema puts on the numbers (src/domain/destination.c)
const NUMBERS = {
  max_attempts: [1, 50, 12],
  timeout_ms: [100, 60000, 10000],
  batch_interval_ms: [100, 3600000, 10000],
};

const isConnector = (kind) => kind in CONNECTORS;

/** A duration in words: 850 ms, 12 s, 5 min, 3 h, 2 d. */
function duration(ms) {
  const ww = w();
  if (ms < 1000) return fmt(ww.ms, { n: ms });
  if (ms < 120e3) return fmt(ww.seconds, { n: Math.round(ms / 1000) });
  if (ms < 7200e3) return fmt(ww.minutes, { n: Math.round(ms / 60e3) });
  if (ms < 172800e3) return fmt(ww.hours, { n: Math.round(ms / 3600e3) });
  return fmt(ww.days, { n: Math.round(ms / 86400e3) });
}

/** Why an endpoint cannot be one for kind (null: it may be; cpmd checks the rest). */
function endpointFault(kind, s) {
  const ww = w();
  if (!s) return t().required;
  if (kind === 'nats') return NATS_URL.test(s) ? null : ww.natsUrlRule;
  if (!/^https?:\/\//.test(s)) return ww.urlScheme;
  let u;
  try {
    u = new URL(s);
  } catch (e) {
    return ww.urlInvalid;
  }
  if (/\s/.test(s) || !u.hostname) return ww.urlInvalid;
  if (u.username || u.password || s.includes('#')) return ww.urlParts;
  if (kind !== 'webhook' && s.includes('?')) return ww.urlNoQuery;
  return null;
}

/** Why a webhook secret cannot be one (null: it can). */
function whsecFault(s) {
  const m = WHSEC.exec(s);
  if (!m) return w().secretRule;
  const b64 = m[1];
  const n = (b64.length / 4) * 3 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);
  return n >= 24 && n <= 64 ? null : w().secretRule;
}

/** The guard's refusal of an address, as cpmd words it (src/sync/http_lanes.c). */
const guardRefusal = (detail) => /outbound guard/.test(detail || '');

/** The menu's word for this screen (admin.js). */
export const destinationsLabel = () => w().menu;

export function destinationsScreen() {
  let mode = { at: 'list' }; // {at: 'list'} | {at: 'form', id|null, draft} | {at: 'detail', id}
  let secret = null; // {id, secret}: a generated webhook secret, shown once
  let tests = {}; // id → the last test send's answer (in this page only)
  let confirming = null; // 'delete' | 'replay'
  let replay = { from: 'dead', seq: '' }; // the replay form as typed
  let outcome = 'all'; // the delivery log's filter
  let log = null; // the delivery log view of the destination open
  const v = makeView({
    id: 'destinations', title: () => w().destinations, intro: () => w().intro,
    load: () => allPages('/v1/destinations'),
    draw,
  });

  function draw(list) {
    const ww = w();
    if (mode.at === 'form') return destinationForm(mode.id ? list.find((d) => d.id === mode.id) : null, mode.draft);
    if (mode.at === 'detail') {
      const d = list.find((x) => x.id === mode.id);
      if (d) return detail(d);
      mode = { at: 'list' };
    }
    const rows = list.map((d) => {
      const st = d.delivery;
      return h('tr', { 'data-destination': d.id, 'data-enabled': d.enabled === false ? 'false' : 'true' },
        cell(ww.name, h('button', { type: 'button', className: 'link', 'data-key': `open:${d.id}`, onclick: () => open(d.id) }, d.name), ' ', h('code', {}, d.id)),
        cell(ww.kind, ww.kinds[d.kind] || d.kind),
        cell(ww.state, d.enabled === false ? h('span', { className: 'badge warn' }, ww.paused) : h('span', { className: 'badge good' }, ww.enabled)),
        cell(ww.lag, h('span', { className: 'lag' }, st ? lagText(st) : '—')),
        cell(ww.failures, h('span', { className: 'failed' }, st ? String(st.failed) : '—')),
        cell(ww.deadLetters, st && st.dead > 0 ? h('span', { className: 'badge bad dead' }, String(st.dead)) : h('span', { className: 'dead' }, st ? '0' : '—')),
        cell(ww.lastDelivery, st && st.last_delivered_at ? when(st.last_delivered_at) : ww.never),
        cell(t().actions, h('button', { type: 'button', className: 'btn secondary small', 'data-key': `detail:${d.id}`, 'aria-label': fmt(ww.openOne, { name: d.name }), onclick: () => open(d.id) }, ww.open)));
    });
    return h('div', {},
      h('div', { className: 'actions' },
        h('button', { type: 'button', className: 'btn', 'data-key': 'new', onclick: () => edit(null) }, ww.newDestination),
        h('button', { type: 'button', className: 'btn secondary', 'data-key': 'refresh', onclick: () => reload('refresh') }, ww.refresh)),
      list.length === 0 ? h('p', { className: 'empty' }, ww.noDestinations)
        : table(ww.destinations, [ww.name, ww.kind, ww.state, ww.lag, ww.failures, ww.deadLetters, ww.lastDelivery, t().actions], rows),
      h('p', { className: 'note' }, ww.countsNote));
  }

  function lagText(st) {
    const ww = w();
    if (st.lag_events <= 0) return ww.upToDate;
    return st.lag_ms > 0 ? fmt(ww.behindFor, { n: st.lag_events, time: duration(st.lag_ms) }) : fmt(ww.behind, { n: st.lag_events });
  }

  async function reload(key) {
    v.focusKey = key;
    await v.refresh(true);
    if (log) log.refresh(true);
  }

  function open(id) {
    mode = { at: 'detail', id };
    confirming = null;
    outcome = 'all';
    log = deliveryLog(id);
    v.focusKey = 'detail-h';
    v.render();
    log.refresh();
  }

  function edit(id) {
    mode = { at: 'form', id, draft: null };
    v.focusKey = id ? 'name' : 'id';
    v.render();
  }

  function toList(key) {
    mode = { at: 'list' };
    secret = null;
    confirming = null;
    log = null;
    v.focusKey = key;
  }

  v.relocale = () => {
    const form = v.el.querySelector('form.destination-form');
    if (mode.at === 'form' && form) mode.draft = form.snapshot();
    v.render();
    if (log) log.render();
  };
  v.leave = () => { secret = null; };

  // ---- one destination ----------------------------------------------------------------

  function detail(d) {
    const ww = w();
    const st = d.delivery;
    const test = tests[d.id];
    const guard = test && !test.delivered && guardRefusal(test.detail);
    const facts = [
      [ww.id, h('code', {}, d.id)],
      [ww.kind, ww.kinds[d.kind] || d.kind],
      [ww.endpoint, h('div', { className: 'field', 'data-field': 'endpoint' },
        h('code', { className: 'wrap' }, d.endpoint),
        guard && h('p', { className: 'field-error', 'data-error-for': 'endpoint' }, fmt(ww.guardRefused, { detail: test.detail })))],
      d.secret_hint && [ww.secret, h('code', {}, d.secret_hint)],
      [ww.state, d.enabled === false ? h('span', { className: 'badge warn' }, ww.paused) : h('span', { className: 'badge good' }, ww.enabled)],
      [ww.role, ww.roles[d.role] || d.role],
      d.recipient && [ww.recipient, h('code', {}, d.recipient)],
      d.country && [ww.country, d.country],
      d.transfer_mechanism && [ww.mechanism, ww.mechanisms[d.transfer_mechanism] || d.transfer_mechanism],
      d.stream && [ww.stream, h('code', {}, d.stream)],
      d.subject_prefix && [ww.subjectPrefix, h('code', {}, d.subject_prefix)],
      ...['corp_id', 'owner_userid', 'account_id', 'audience_id'].filter((k) => d[k]).map((k) => [ww.ids[k], h('code', {}, d[k])]),
      [ww.filter, filterText(d.filter)],
      Array.isArray(d.rules) && [ww.rules, h('ol', { className: 'rules' }, d.rules.map((r) => h('li', {}, ruleText(r))))],
      [ww.attempts, fmt(ww.attemptsText, { n: d.max_attempts, timeout: duration(d.timeout_ms) })],
      [ww.fromSeq, String(d.from_seq)],
      [ww.revision, fmt(ww.revisionText, { n: d.revision, date: when(d.updated_at) })],
    ].filter(Boolean);
    const figures = st ? [
      [ww.lag, lagText(st)],
      [ww.cursor, String(st.cursor_seq)],
      [ww.queued, String(st.queued)],
      [ww.delivered, String(st.delivered)],
      [ww.failures, String(st.failed)],
      [ww.deadLetters, String(st.dead)],
      [ww.blocked, String(st.blocked)],
      [ww.lastDelivery, st.last_delivered_at ? when(st.last_delivered_at) : ww.never],
    ] : null;
    return h('div', { className: 'destination', 'data-destination': d.id },
      h('div', { className: 'actions' },
        h('button', { type: 'button', className: 'btn secondary small', 'data-key': 'back', onclick: () => { toList(`open:${d.id}`); v.render(); } }, ww.back)),
      h('h3', { id: 'detail-h', tabIndex: -1, 'data-key': 'detail-h' }, d.name),
      secret && secret.id === d.id && oneTimeSecret(),
      h('dl', { className: 'facts-list', id: 'dest-facts' }, facts.map(([k, val]) => [h('dt', {}, k), h('dd', {}, val)])),
      h('h4', {}, ww.figures),
      figures ? h('dl', { className: 'facts-list', id: 'dest-figures' }, figures.map(([k, val]) => [h('dt', {}, k), h('dd', {}, val)]))
        : h('p', { className: 'note', id: 'dest-figures' }, d.enabled === false ? ww.notRunningPaused : ww.notRunning),
      h('p', { className: 'note' }, ww.countsNote),
      h('div', { className: 'actions' },
        h('button', { type: 'button', className: 'btn', 'data-key': 'test', onclick: () => sendTest(d) }, ww.sendTest),
        h('button', { type: 'button', className: 'btn secondary', 'data-key': 'edit', onclick: () => edit(d.id) }, t().edit),
        h('button', { type: 'button', className: 'btn secondary', 'data-key': 'toggle', onclick: () => toggle(d) }, d.enabled === false ? ww.resume : ww.pause),
        h('button', { type: 'button', className: 'btn secondary', 'data-key': 'replay', onclick: () => { confirming = 'replay'; v.focusKey = 'replay-h'; v.render(); } }, ww.replay),
        h('button', { type: 'button', className: 'btn danger', 'data-key': 'delete', onclick: () => { confirming = 'delete'; v.focusKey = 'confirm-h'; v.render(); } }, ww.delete),
        h('button', { type: 'button', className: 'btn secondary', 'data-key': 'refresh', onclick: () => reload('refresh') }, ww.refresh)),
      test && testPanel(test),
      confirming === 'delete' && confirmDelete(d),
      confirming === 'replay' && replayForm(d),
      log && log.el);
  }

  function filterText(f) {
    const ww = w();
    const parts = [];
    if (f && f.types && f.types.length) parts.push(fmt(ww.filterTypes, { list: f.types.join(', ') }));
    if (f && f.purposes && f.purposes.length) parts.push(fmt(ww.filterPurposes, { list: f.purposes.join(', ') }));
    if (f && f.channels && f.channels.length) parts.push(fmt(ww.filterChannels, { list: f.channels.join(', ') }));
    return parts.length ? parts.join(' · ') : ww.filterAll;
  }

  function ruleText(r) {
    const ww = w();
    const action = (ww.actionNames[r.action] || r.action) + (r.tag ? ` (${r.tag})` : '');
    return fmt(ww.ruleText, { action, when: filterText(r.when) });
  }

  function oneTimeSecret() {
    const ww = w();
    return secretPanel({
      secret: secret.secret, id: 'dest-secret', headingId: 'dest-secret-h', level: 4, doneKey: 'secret-done',
      words: { title: ww.secretTitle, once: ww.secretOnce, label: ww.secret, copy: ww.copy, copied: ww.copied, copyByHand: ww.copyByHand, done: ww.secretDone },
      onDone: () => { secret = null; v.focusKey = 'test'; v.render(); },
    });
  }

  function sendTest(d) {
    return v.act(async () => {
      const ww = w();
      say(ww.testing);
      let res;
      try {
        res = await call('POST', `/v1/destinations/${enc(d.id)}/test`);
      } catch (e) {
        // a 422 names what the stored document lacks; the page shows it like an answer
        res = { delivered: false, status: 0, latency_ms: 0, detail: why(e), failed: true };
      }
      tests[d.id] = res;
      v.focusKey = 'test-h';
      v.render();
      say(res.delivered ? ww.testDelivered : fmt(ww.testNotDelivered, { detail: res.detail }), res.delivered ? 'ok' : 'error');
    });
  }

  function testPanel(r) {
    const ww = w();
    const rows = [
      [ww.testOutcome, r.delivered ? h('span', { className: 'badge good' }, ww.testYes) : h('span', { className: 'badge bad' }, ww.testNo)],
      [ww.httpStatus, r.status ? String(r.status) : ww.noAnswer],
      [ww.latency, duration(r.latency_ms)],
      [ww.detail, r.detail || '—'],
    ];
    return h('div', { className: 'test-result', role: 'group', 'aria-labelledby': 'test-h', 'data-delivered': r.delivered ? 'true' : 'false' },
      h('h4', { id: 'test-h', tabIndex: -1, 'data-key': 'test-h' }, ww.testTitle),
      h('dl', { className: 'facts-list' }, rows.map(([k, val]) => [h('dt', {}, k), h('dd', {}, val)])),
      !r.delivered && guardRefusal(r.detail) && h('p', { className: 'warn-text' }, ww.guardHelp));
  }

  function toggle(d) {
    return v.act(async () => {
      const ww = w();
      const enabled = d.enabled === false;
      say(t().saving);
      try {
        await call('PATCH', `/v1/destinations/${enc(d.id)}`, { enabled }, { headers: { 'If-Match': `"${d.revision}"` } });
      } catch (e) {
        say(e.status === 412 ? ww.changedMeanwhile : fmt(t().failed, { detail: why(e) }), 'error');
        await reload('toggle');
        return;
      }
      await reload('toggle');
      say(fmt(enabled ? ww.resumed : ww.pausedSaid, { name: d.name }), 'ok');
    });
  }

  function confirmDelete(d) {
    const ww = w();
    return confirmPanel({
      question: fmt(ww.deleteQuestion, { name: d.name }), text: ww.deleteText, yes: ww.deleteYes,
      onYes: () => remove(d), onNo: () => { confirming = null; v.focusKey = 'delete'; v.render(); },
    });
  }

  function remove(d) {
    return v.act(async () => {
      say(t().saving);
      try {
        await call('DELETE', `/v1/destinations/${enc(d.id)}`);
      } catch (e) {
        say(fmt(t().failed, { detail: why(e) }), 'error');
        return;
      }
      delete tests[d.id];
      toList('new');
      await v.refresh(true);
      say(fmt(w().deleted, { name: d.name }), 'ok');
    });
  }

  // ---- replay -----------------------------------------------------------------------

  /** The earliest dead letter's seq (null: none), read from the log. */
  async function firstDead(id) {
    const page = await call('GET', `/v1/destinations/${enc(id)}/deliveries?status=dead&limit=1`);
    return page.items && page.items.length ? page.items[0].seq : null;
  }

  function replayForm(d) {
    const ww = w();
    const radio = (value) => h('input', { type: 'radio', name: 'replay-from', value, id: `replay-${value}`, checked: replay.from === value, 'data-key': `replay-${value}`,
      onchange: () => { replay.from = value; replay.asked = null; v.focusKey = `replay-${value}`; v.render(); } });
    const seq = h('input', { type: 'number', min: 1, step: 1, inputMode: 'numeric', value: replay.seq, 'data-field': 'from_seq', 'data-key': 'from_seq',
      oninput: (e) => { replay.seq = e.target.value; replay.asked = null; } });
    const seqField = field(ww.fromSeqLabel, seq, ww.fromSeqHint);
    seqField.hidden = replay.from !== 'seq';
    const el = h('form', {
      className: 'replay-form', noValidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        if (replay.asked) return doReplay(d, el);
        return ask(d, el);
      },
    },
    h('h4', { id: 'replay-h', tabIndex: -1, 'data-key': 'replay-h' }, ww.replayTitle),
    h('div', { className: 'form-errors', tabIndex: -1 }),
    h('fieldset', { 'data-field': 'from' }, h('legend', {}, ww.replayFrom),
      checkbox(ww.replayDead, radio('dead'), ww.replayDeadHint),
      checkbox(ww.replaySeq, radio('seq'))),
    seqField,
    replay.asked && h('div', { className: 'confirm', role: 'group', 'aria-labelledby': 'replay-q' },
      h('p', { id: 'replay-q', className: 'confirm-q', tabIndex: -1, 'data-key': 'replay-q' }, replay.asked.last === null ? fmt(ww.replayQuestionOpen, { name: d.name, seq: replay.asked.from })
        : replay.asked.last < replay.asked.from ? fmt(ww.replayQuestionNone, { name: d.name, seq: replay.asked.from, last: replay.asked.last })
          : fmt(ww.replayQuestion, { name: d.name, seq: replay.asked.from, last: replay.asked.last })),
      h('p', {}, replay.from === 'dead' ? fmt(ww.replayDeadText, { n: replay.asked.dead }) : ww.replayText),
      h('p', {}, ww.replaySameIds)),
    h('div', { className: 'actions' },
      h('button', { type: 'submit', className: replay.asked ? 'btn danger' : 'btn', 'data-key': replay.asked ? 'replay-yes' : 'replay-next' }, replay.asked ? ww.replayYes : ww.replayNext),
      h('button', { type: 'button', className: 'btn secondary', 'data-key': 'replay-no', onclick: () => { confirming = null; replay.asked = null; v.focusKey = 'replay'; v.render(); } }, t().cancel)));
    return el;
  }

  /** Finds what would be sent again and asks. */
  function ask(d, form) {
    const ww = w();
    let from;
    if (replay.from === 'seq') {
      const s = String(replay.seq).trim();
      if (!s) return showErrors(form, [{ field: 'from_seq', message: t().required }]);
      if (!/^[1-9]\d{0,17}$/.test(s)) return showErrors(form, [{ field: 'from_seq', message: ww.seqRule }]);
      from = Number(s);
    }
    clearErrors(form);
    return v.act(async () => {
      let dead = 0;
      try {
        if (replay.from === 'dead') {
          from = await firstDead(d.id);
          if (from === null) return showErrors(form, [{ field: 'from', message: ww.noDead }]);
          dead = (await allPages(`/v1/destinations/${enc(d.id)}/deliveries?status=dead`)).filter((x) => x.seq >= from).length;
        }
      } catch (e) {
        return showFailure(form, e);
      }
      // the ledger's size now, from the live figures (none while paused)
      const last = d.delivery ? d.delivery.cursor_seq + d.delivery.lag_events : null;
      replay.asked = { from, dead, last };
      v.focusKey = 'replay-q';
      v.render();
    });
  }

  function doReplay(d, form) {
    return v.act(async () => {
      const ww = w();
      say(t().saving);
      try {
        await call('POST', `/v1/destinations/${enc(d.id)}/replay?from_seq=${enc(replay.asked.from)}`);
      } catch (e) {
        replay.asked = null;
        return showFailure(form, e);
      }
      const from = replay.asked.from;
      confirming = null;
      replay = { from: 'dead', seq: '' };
      await reload('replay');
      say(fmt(ww.replayed, { name: d.name, seq: from }), 'ok');
    });
  }

  // ---- the delivery log ------------------------------------------------------------------

  function deliveryLog(id) {
    const rows = [];
    let next = null;
    const lv = makeView({
      id: 'dest-deliveries', level: 4, title: () => w().deliveries, intro: () => w().deliveriesIntro, className: 'sub',
      load: async () => {
        rows.length = 0;
        const page = await call('GET', `/v1/destinations/${enc(id)}/deliveries?limit=${LOG_PAGE}${outcome !== 'all' ? `&status=${outcome}` : ''}`);
        rows.push(...page.items);
        next = page.next_cursor;
        return rows;
      },
      draw: (items) => {
        const ww = w();
        const select = h('select', { id: 'dl-outcome', 'data-key': 'outcome', onchange: (e) => { outcome = e.target.value; lv.focusKey = 'outcome'; lv.refresh(); } },
          OUTCOMES.map((o) => h('option', { value: o, selected: o === outcome }, ww.outcomes[o])));
        const trs = items.map((x) => h('tr', { 'data-seq': String(x.seq), 'data-outcome': x.outcome, 'data-attempt': String(x.attempt) },
          cell(ww.time, when(x.time)),
          cell(ww.seq, String(x.seq)),
          cell(ww.eventType, h('code', {}, x.event_type)),
          cell(ww.attempt, x.attempt ? String(x.attempt) : '—'),
          cell(ww.outcome, h('span', { className: `badge ${x.outcome === 'delivered' ? 'good' : x.outcome === 'blocked' ? 'warn' : 'bad'}` }, ww.outcomeNames[x.outcome] || x.outcome)),
          cell(ww.httpStatus, x.status ? String(x.status) : '—'),
          cell(ww.latency, duration(x.latency_ms)),
          cell(ww.ackAfter, duration(Math.max(0, x.acknowledged_after_ms))),
          cell(ww.detail, h('span', { className: 'detail-text' }, x.detail || '—'))));
        return h('div', {},
          h('div', { className: 'filters' },
            field(ww.show, select),
            h('div', { className: 'actions' }, h('button', { type: 'button', className: 'btn secondary', 'data-key': 'log-refresh', onclick: () => { lv.focusKey = 'log-refresh'; lv.refresh(true); } }, ww.refresh))),
          items.length === 0 ? h('p', { className: 'empty', id: 'dl-empty' }, ww.noDeliveries)
            : table(ww.deliveries, [ww.time, ww.seq, ww.eventType, ww.attempt, ww.outcome, ww.httpStatus, ww.latency, ww.ackAfter, ww.detail], trs),
          next && h('div', { className: 'actions' }, h('button', { type: 'button', className: 'btn secondary', 'data-key': 'log-more', onclick: more }, ww.more)));
      },
    });
    function more() {
      return lv.act(async () => {
        try {
          const page = await call('GET', `/v1/destinations/${enc(id)}/deliveries?limit=${LOG_PAGE}&cursor=${enc(next)}${outcome !== 'all' ? `&status=${outcome}` : ''}`);
          rows.push(...page.items);
          next = page.next_cursor;
        } catch (e) {
          say(fmt(t().failed, { detail: why(e) }), 'error');
          return;
        }
        lv.focusKey = next ? 'log-more' : 'log-refresh';
        lv.render();
      });
    }
    return lv;
  }

  // ---- create and edit ----------------------------------------------------------------------

  function destinationForm(doc, draft) {
    const tt = t();
    const ww = w();
    const isNew = !doc;
    const d = doc || {};
    const f = draft || Object.assign({ kind: 'webhook', enabled: true, role: 'processor' }, d,
      { types: ((d.filter || {}).types || []).join(', '), purposes: ((d.filter || {}).purposes || []).join(', '), channels: (d.filter || {}).channels || [],
        rules: (d.rules || []).map((r) => ({ action: r.action, tag: r.tag || '', types: ((r.when || {}).types || []).join(', '), purposes: ((r.when || {}).purposes || []).join(', ') })) });
    let kind = f.kind;
    let rules = f.rules.map((r) => Object.assign({}, r));
    const id = textInput('id', { value: f.id || '', disabled: !isNew, required: true });
    const name = textInput('name', { value: f.name || '', maxLength: 400, spellcheck: true, required: true });
    const kindSel = h('select', { 'data-field': 'kind', 'data-key': 'kind', disabled: !isNew, onchange: (e) => { const s = el.snapshot(); s.kind = e.target.value; s.rules = []; redraw(s, 'kind'); } },
      KINDS.map((k) => h('option', { value: k, selected: k === kind }, ww.kinds[k])));
    const endpoint = textInput('endpoint', { type: 'url', value: f.endpoint || '', inputMode: 'url', required: true,
      placeholder: kind === 'nats' ? 'nats://10.0.0.5:4222' : 'https://crm.example.cn/hooks/consent' });
    const secretIn = textInput('secret', { type: 'password', value: f.secret || '', autocomplete: 'new-password' });
    const enabled = h('input', { type: 'checkbox', checked: f.enabled !== false, 'data-field': 'enabled', 'data-key': 'enabled' });
    const stream = textInput('stream', { value: f.stream || '' });
    const prefix = textInput('subject_prefix', { value: f.subject_prefix || '', placeholder: 'cpm' });
    const ids = Object.fromEntries(['corp_id', 'owner_userid', 'account_id', 'audience_id'].map((k) => [k, textInput(k, { value: f[k] || '' })]));
    const types = textInput('filter.types', { value: f.types || '', placeholder: 'consent.*, subject.erased' });
    const purposes = textInput('filter.purposes', { value: f.purposes || '', placeholder: 'marketing.*' });
    const channelBoxes = CHANNELS.map((c) => h('input', { type: 'checkbox', value: c, id: `dest-ch-${c}`, checked: (f.channels || []).includes(c), 'data-key': `channel:${c}` }));
    const role = h('select', { 'data-field': 'role', 'data-key': 'role', onchange: () => showRole() },
      ROLES.map((r) => h('option', { value: r, selected: r === (f.role || 'processor') }, ww.roles[r])));
    const recipient = textInput('recipient', { value: f.recipient || '' });
    const country = textInput('country', { value: f.country || '', maxLength: 2, placeholder: 'SG', autocapitalize: 'characters' });
    const mechanism = h('select', { 'data-field': 'transfer_mechanism', 'data-key': 'transfer_mechanism' },
      h('option', { value: '' }, tt.choose), MECHANISMS.map((m) => h('option', { value: m, selected: m === f.transfer_mechanism }, ww.mechanisms[m])));
    const num = (k) => textInput(k, { type: 'number', inputMode: 'numeric', min: NUMBERS[k][0], max: NUMBERS[k][1], step: 1, value: f[k] !== undefined && f[k] !== null ? String(f[k]) : String(NUMBERS[k][2]) });
    const attempts = num('max_attempts');
    const timeout = num('timeout_ms');
    const batch = num('batch_interval_ms');
    const fromSeq = textInput('from_seq', { type: 'number', inputMode: 'numeric', min: 1, step: 1, value: isNew && f.from_seq ? String(f.from_seq) : '' });
    const recipientField = field(ww.recipient, recipient, ww.recipientHint);
    const countryField = field(ww.country, country, ww.countryHint);
    const mechanismField = field(ww.mechanism, mechanism, ww.mechanismHint);
    function showRole() {
      recipientField.hidden = role.value === 'processor';
      countryField.hidden = role.value !== 'cross_border';
      mechanismField.hidden = role.value !== 'cross_border';
    }
    showRole();
    const conn = CONNECTORS[kind];
    const secretHint = kind === 'webhook' ? (isNew ? ww.whsecHintNew : ww.whsecHintEdit)
      : isNew ? ww.credentialHintNew : ww.credentialHintEdit;
    const test = !isNew && tests[d.id];

    const el = h('form', {
      className: 'destination-form', noValidate: true, 'data-mode': isNew ? 'create' : 'edit', 'data-kind': kind,
      onsubmit: (e) => {
        e.preventDefault();
        save();
      },
    },
    h('h3', { tabIndex: -1, 'data-key': 'form-h' }, isNew ? ww.newDestination : fmt(ww.editDestination, { name: d.name })),
    h('div', { className: 'form-errors', tabIndex: -1 }),
    field(ww.id, id, isNew ? ww.idHint : ww.idFixed),
    field(ww.name, name, ww.nameHint),
    field(ww.kind, kindSel, isNew ? ww.kindHints[kind] : ww.kindFixed),
    field(kind === 'nats' ? ww.natsUrl : ww.endpoint, endpoint, kind === 'nats' ? ww.natsUrlHint : kind === 'webhook' ? ww.endpointHint : ww.apiBaseHint),
    kind !== 'nats' && field(kind === 'webhook' ? ww.secret : ww.credential, secretIn, secretHint),
    kind === 'nats' && field(ww.stream, stream, ww.streamHint),
    kind === 'nats' && field(ww.subjectPrefix, prefix, ww.subjectPrefixHint),
    conn && conn.needs.map((k) => field(ww.ids[k], ids[k], ww.idsHint[k])),
    conn && conn.batch && field(ww.batchInterval, batch, ww.batchIntervalHint),
    checkbox(ww.enabledLabel, enabled, ww.enabledHint),
    h('fieldset', { 'data-field': 'filter' }, h('legend', {}, ww.filter),
      h('p', { className: 'note' }, ww.filterHint),
      field(ww.types, types, ww.typesHint),
      field(ww.purposesLabel, purposes, ww.purposesHint),
      h('fieldset', { 'data-field': 'filter.channels' }, h('legend', {}, ww.channels),
        CHANNELS.map((c, i) => checkbox(ww.channelNames[c], channelBoxes[i])))),
    conn && rulesEditor(),
    h('fieldset', { 'data-field': 'role-group' }, h('legend', {}, ww.recipientGroup),
      field(ww.role, role, ww.roleHint),
      recipientField, countryField, mechanismField),
    h('fieldset', {}, h('legend', {}, ww.delivery),
      field(ww.maxAttempts, attempts, ww.maxAttemptsHint),
      field(ww.timeout, timeout, ww.timeoutHint),
      isNew && field(ww.fromSeq, fromSeq, ww.fromSeqFormHint)),
    h('div', { className: 'actions' },
      h('button', { type: 'submit', className: 'btn', 'data-key': 'save' }, isNew ? ww.createDestination : tt.save),
      h('button', { type: 'button', className: 'btn secondary', 'data-key': 'cancel', onclick: () => {
        if (isNew) toList('new');
        else { mode = { at: 'detail', id: d.id }; v.focusKey = 'edit'; }
        v.render();
      } }, tt.cancel)));

    function rulesEditor() {
      const list = h('ol', { className: 'rule-list' }, rules.map((r, i) => {
        const action = h('select', { 'data-field': `rules[${i}].action`, 'data-key': `rule-action:${i}`, onchange: (e) => { r.action = e.target.value; redraw(el.snapshot(), `rule-action:${i}`); } },
          h('option', { value: '' }, tt.choose), conn.actions.map((a) => h('option', { value: a, selected: a === r.action }, ww.actionNames[a])));
        const tag = textInput(`rules[${i}].tag`, { value: r.tag || '', 'data-key': `rule-tag:${i}`, oninput: (e) => { r.tag = e.target.value; } });
        const rt = textInput(`rules[${i}].when.types`, { value: r.types || '', 'data-key': `rule-types:${i}`, oninput: (e) => { r.types = e.target.value; }, placeholder: 'consent.withdrawn' });
        const rp = textInput(`rules[${i}].when.purposes`, { value: r.purposes || '', 'data-key': `rule-purposes:${i}`, oninput: (e) => { r.purposes = e.target.value; }, placeholder: 'marketing.*' });
        return h('li', {}, h('fieldset', { 'data-field': `rules[${i}]` }, h('legend', {}, fmt(ww.ruleN, { n: i + 1 })),
          field(ww.action, action),
          String(r.action || '').startsWith('tag_') && field(ww.tag, tag, ww.tagHint),
          field(ww.types, rt),
          field(ww.purposesLabel, rp),
          h('div', { className: 'actions' }, h('button', { type: 'button', className: 'btn secondary small', 'data-key': `rule-remove:${i}`,
            onclick: () => { const s = el.snapshot(); s.rules.splice(i, 1); redraw(s, 'rule-add'); } }, ww.removeRule))));
      }));
      return h('fieldset', { 'data-field': 'rules' }, h('legend', {}, ww.rules),
        h('p', { className: 'note' }, isNew && conn.defaults ? ww.rulesDefaultHint : ww.rulesHint),
        list,
        h('div', { className: 'actions' }, h('button', { type: 'button', className: 'btn secondary small', 'data-key': 'rule-add',
          onclick: () => { const s = el.snapshot(); s.rules.push({ action: '', tag: '', types: '', purposes: '' }); redraw(s, `rule-action:${s.rules.length - 1}`); } }, ww.addRule)));
    }

    function redraw(snapshot, key) {
      mode.draft = snapshot;
      v.focusKey = key;
      v.render();
    }

    /** What is typed, to draw the form again (another kind, another language, a rule added). */
    el.snapshot = () => ({
      id: id.value, name: name.value, kind, endpoint: endpoint.value, secret: secretIn.value, enabled: enabled.checked,
      stream: stream.value, subject_prefix: prefix.value, ...Object.fromEntries(Object.entries(ids).map(([k, x]) => [k, x.value])),
      types: types.value, purposes: purposes.value, channels: channelBoxes.filter((b) => b.checked).map((b) => b.value),
      role: role.value, recipient: recipient.value, country: country.value, transfer_mechanism: mechanism.value,
      max_attempts: attempts.value, timeout_ms: timeout.value, batch_interval_ms: batch.value, from_seq: fromSeq.value,
      rules: rules.map((r) => Object.assign({}, r)),
    });

    /** The destination as the form says, and the faults the page can see itself. */
    function read() {
      const faults = [];
      const out = {};
      const bad = (fieldName, message) => faults.push({ field: fieldName, message });
      const idText = id.value.trim();
      if (isNew) {
        if (!idText) bad('id', tt.required);
        else if (!SLUG.test(idText)) bad('id', tt.slugRule);
        out.id = idText;
      }
      const n = name.value.trim();
      if (!n) bad('name', tt.required);
      else if (bytes(n) > NAME_BYTES_MAX) bad('name', fmt(tt.tooLong, { n: NAME_BYTES_MAX }));
      out.name = n;
      if (isNew) out.kind = kind;
      const ep = endpoint.value.trim();
      const epFault = endpointFault(kind, ep);
      if (epFault) bad('endpoint', epFault);
      out.endpoint = ep;
      const sec = secretIn.value.trim();
      if (kind === 'webhook' && sec && whsecFault(sec)) bad('secret', whsecFault(sec));
      if (conn && isNew && !sec) bad('secret', ww.credentialNeeded);
      if (sec && bytes(sec) > SECRET_BYTES_MAX) bad('secret', fmt(tt.tooLong, { n: SECRET_BYTES_MAX }));
      if (sec) out.secret = sec;
      out.enabled = enabled.checked;
      if (kind === 'nats') {
        const s = stream.value.trim();
        const p = prefix.value.trim();
        if (!s) bad('stream', tt.required);
        else if (!NATS_NAME.test(s) || s.includes('.') || s.length > 64) bad('stream', ww.streamRule);
        if (p && (!NATS_NAME.test(p) || p.endsWith('.') || p.includes('..') || p.length > 64)) bad('subject_prefix', ww.subjectPrefixRule);
        out.stream = s;
        out.subject_prefix = p || null;
      }
      for (const k of conn ? conn.needs : []) {
        const s = ids[k].value.trim();
        if (!s) bad(k, tt.required);
        else if (bytes(s) > 64) bad(k, fmt(tt.tooLong, { n: 64 }));
        out[k] = s;
      }
      const patterns = (fieldName, s) => {
        const list = splitList(s);
        list.forEach((p) => { if (!PATTERN.test(p) || p.includes('..') || /\.$/.test(p)) bad(fieldName, fmt(ww.patternRule, { value: p })); });
        return list;
      };
      const filter = {};
      const ty = patterns('filter.types', types.value);
      const pu = patterns('filter.purposes', purposes.value);
      const ch = channelBoxes.filter((b) => b.checked).map((b) => b.value);
      if (ty.length) filter.types = ty;
      if (pu.length) filter.purposes = pu;
      if (ch.length) filter.channels = ch;
      out.filter = filter;
      if (conn) {
        const list = rules.map((r, i) => {
          const rule = { action: r.action };
          if (!r.action) bad(`rules[${i}].action`, tt.required);
          if (String(r.action).startsWith('tag_')) {
            const tg = String(r.tag || '').trim();
            if (!tg) bad(`rules[${i}].tag`, ww.tagNeeded);
            else if (bytes(tg) > 128) bad(`rules[${i}].tag`, fmt(tt.tooLong, { n: 128 }));
            rule.tag = tg;
          }
          const when = {};
          const rty = patterns(`rules[${i}].when.types`, r.types);
          const rpu = patterns(`rules[${i}].when.purposes`, r.purposes);
          if (rty.length) when.types = rty;
          if (rpu.length) when.purposes = rpu;
          rule.when = when;
          return rule;
        });
        if (list.length) out.rules = list;
        else if (!isNew || !conn.defaults) bad('rules', ww.oneRule);
      }
      const r = role.value;
      out.role = r;
      if (r !== 'processor') {
        const rc = recipient.value.trim();
        if (!rc) bad('recipient', ww.recipientNeeded);
        else if (!SLUG.test(rc)) bad('recipient', tt.slugRule);
        out.recipient = rc;
      } else out.recipient = null;
      if (r === 'cross_border') {
        const c = country.value.trim();
        if (!COUNTRY.test(c)) bad('country', ww.countryRule);
        if (!mechanism.value) bad('transfer_mechanism', ww.mechanismNeeded);
        out.country = c;
        out.transfer_mechanism = mechanism.value;
      } else {
        out.country = null;
        out.transfer_mechanism = null;
      }
      const number = (k, x) => {
        const s = x.value.trim();
        const [lo, hi] = NUMBERS[k];
        if (!/^\d+$/.test(s) || Number(s) < lo || Number(s) > hi) bad(k, fmt(ww.numberRule, { lo, hi }));
        out[k] = Number(s);
      };
      number('max_attempts', attempts);
      number('timeout_ms', timeout);
      if (conn && conn.batch) number('batch_interval_ms', batch);
      if (isNew && fromSeq.value.trim()) {
        const s = fromSeq.value.trim();
        if (!/^[1-9]\d{0,17}$/.test(s)) bad('from_seq', ww.seqRule);
        out.from_seq = Number(s);
      }
      return { faults, out };
    }

    function save() {
      return submitForm(v, el, read, async (out) => {
        let body = out;
        if (isNew) { // nulls only clear fields in a patch
          body = Object.fromEntries(Object.entries(out).filter(([, x]) => x !== null));
        } else {
          // a JSON merge patch (RFC 7396): the filter is replaced whole (a list emptied is removed)
          body = Object.assign({}, out);
          body.filter = { types: out.filter.types || null, purposes: out.filter.purposes || null, channels: out.filter.channels || null };
          for (const k of ['recipient', 'country', 'transfer_mechanism']) if (body[k] === null && !d[k]) delete body[k];
          if (body.subject_prefix === null && !d.subject_prefix) delete body.subject_prefix;
        }
        let saved;
        try {
          saved = isNew
            ? await call('POST', '/v1/destinations', body)
            : await call('PATCH', `/v1/destinations/${enc(d.id)}`, body, { headers: { 'If-Match': `"${d.revision}"` } });
        } catch (e) {
          if (e.status === 412) {
            say(ww.changedMeanwhile, 'error');
            mode = { at: 'detail', id: d.id };
            await v.refresh(true);
            return;
          }
          return showFailure(el, e);
        }
        // a webhook secret cpmd made is in this answer only: shown once, then forgotten
        secret = isNew && saved.kind === 'webhook' && !out.secret && saved.secret ? { id: saved.id, secret: saved.secret } : null;
        if (!isNew && out.endpoint !== d.endpoint) delete tests[d.id]; // the refusal was about the old address
        mode = { at: 'detail', id: saved.id };
        confirming = null;
        log = deliveryLog(saved.id);
        v.focusKey = secret ? 'secret-h' : 'detail-h';
        await v.refresh(true);
        log.refresh();
        say(fmt(isNew ? ww.created : ww.saved, { name: saved.name }), 'ok');
      });
    }

    // the last test send was refused by the outbound guard: say so beside the address being edited
    if (test && !test.delivered && guardRefusal(test.detail)) {
      const note = h('p', { className: 'field-error', 'data-error-for': 'endpoint' }, fmt(ww.guardRefused, { detail: test.detail }));
      endpoint.closest('.field').append(note);
    }
    return el;
  }

  return v;
}
