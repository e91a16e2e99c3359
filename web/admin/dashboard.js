// SPDX-License-Identifier: Apache-2.0
// The admin console's dashboard (README.md beside this file, docs/ADMIN.md,
// docs/REPORTS.md): the opt-in rate per purpose over time, withdrawals per
// day, consent decisions by channel and by region, and per destination the
// sync backlog now and the failures per day — read from /v1/reports/*
// (ledger:read), which answer from counts the writer keeps, never from the
// events. Days are Asia/Shanghai calendar days, as the reports count them.
//
// The charts are inline SVG made element by element (createElementNS; no
// library, no markup from strings). Each has a title, labelled axes, a
// role="img" with an aria-label that says what it shows, and a visually
// hidden table of the same numbers for screen readers. Test hooks:
// figure#dash-<chart>, its svg rect.bar / g.bar and circle.point carrying
// data-label (or data-series and data-day) and data-value, its table.
//
// For a key that holds `admin` (only such a key may read the rights
// requests queue, GET /v1/requests), a card above the charts counts the
// open requests, those overdue and those due in the next 3 days, each a
// link to the requests screen; other keys see no card and nothing asks the
// queue. Test hooks: #dash-requests, its a[data-count="open|overdue|soon"]
// with data-value, #dash-requests-capped when the counts hit allPages' cap.

import { app, h, fmt, call, allPages, can, makeView, PAGE_LIMIT, PAGES_MAX } from './admin-core.js';
import { W } from './dashboard-i18n.js';

const w = () => W[app.ui];
export const dashboardLabel = () => w().dashboard;

const SVG = 'http://www.w3.org/2000/svg';
const RANGES = [7, 30, 90];
const SHANGHAI_MS = 8 * 3600e3;
const DAY_MS = 86400e3;
const DECISIONS = ['given', 'refused', 'withdrawn', 'objected', 'objection_withdrawn', 'expired'];
const DECISION_COLOURS = { given: '#15803d', refused: '#b45309', withdrawn: '#b91c1c', objected: '#6d28d9', objection_withdrawn: '#0e7490', expired: '#4b5563' };
const OUTCOME_COLOURS = { failed: '#b45309', dead: '#b91c1c' };
const SERIES_COLOURS = ['#1d4ed8', '#b91c1c', '#15803d', '#b45309', '#6d28d9', '#0e7490', '#be185d', '#4b5563'];
const LIST_MAX = 10; // items an aria-label names; the table has them all
// The drawing's own units: the SVG scales to the width it is given, so a phone gets a
// narrower drawing (its text stays readable) and a wider screen a wider one.
const NARROW = '(max-width: 600px)';
const M = { left: 56, right: 16, top: 16, bottom: 58 };
let VIEW_W = 640;
let VIEW_H = 280;
let PLOT_W = 0;
let PLOT_H = 0;
function geometry() {
  const narrow = window.matchMedia(NARROW).matches;
  VIEW_W = narrow ? 380 : 640;
  VIEW_H = narrow ? 300 : 280;
  PLOT_W = VIEW_W - M.left - M.right;
  PLOT_H = VIEW_H - M.top - M.bottom;
}

/** An SVG element: attrs as attributes, children nodes or strings (text, never markup). */
function s(tag, attrs, ...kids) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs || {}) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
  e.append(...kids.flat(Infinity).filter((k) => k || k === 0).map((k) => (typeof k === 'object' ? k : String(k))));
  return e;
}

const shanghaiToday = () => new Date(Date.now() + SHANGHAI_MS).toISOString().slice(0, 10);
const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
const number = (n) => new Intl.NumberFormat(app.ui).format(n);
const percent = (r) => (r === null || r === undefined ? '—' : new Intl.NumberFormat(app.ui, { style: 'percent', maximumFractionDigits: 1 }).format(r));
const shortDay = (day) => day.slice(5); // MM-DD under the bars

/** A step of 1, 2 or 5 × 10^k for about four intervals up to max (counts: at least 1). */
function niceStep(max) {
  const raw = Math.max(max / 4, 1);
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= raw);
}

/** The vertical axis: grid lines, tick labels, its title. */
function yAxis(ticks, y, format, title) {
  return s('g', { class: 'axis y-axis' },
    ticks.map((v) => s('g', {},
      s('line', { x1: M.left, x2: M.left + PLOT_W, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, format(v)))),
    s('text', { class: 'axis-title', x: 14, y: M.top + PLOT_H / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${M.top + PLOT_H / 2})` }, title));
}

/** The horizontal axis: the base line, the labels of some positions, its title. */
function xAxis(labels, x, title) {
  const last = labels.length - 1;
  const every = Math.max(1, Math.ceil(labels.length / (VIEW_W < 500 ? 5 : 8))); // a few labels, the last always
  const shown = (i) => i === last || (i % every === 0 && last - i >= every);
  return s('g', { class: 'axis x-axis' },
    s('line', { x1: M.left, x2: M.left + PLOT_W, y1: M.top + PLOT_H, y2: M.top + PLOT_H, class: 'base' }),
    labels.map((l, i) => (shown(i) ? s('text', { x: x(i), y: M.top + PLOT_H + 16, 'text-anchor': 'middle' }, l) : null)),
    s('text', { class: 'axis-title', x: M.left + PLOT_W / 2, y: VIEW_H - 8, 'text-anchor': 'middle' }, title));
}

/** The chart's frame: an SVG that is one image to assistive technology, described by summary. */
const svgOf = (summary, ...kids) => s('svg', { viewBox: `0 0 ${VIEW_W} ${VIEW_H}`, role: 'img', 'aria-label': summary, preserveAspectRatio: 'xMidYMid meet', class: 'chart-svg' }, ...kids);

/** The same numbers as a table only screen readers see. */
function hiddenTable(caption, columns, rows) {
  return h('div', { className: 'vh' },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', {}, c))))))));
}

/** A legend of coloured swatches (SVG squares: no inline style under the page's CSP). */
const legend = (entries) => h('ul', { className: 'chart-legend' }, entries.map(([label, colour]) =>
  h('li', {}, s('svg', { width: 12, height: 12, 'aria-hidden': 'true', focusable: 'false' }, s('rect', { width: 12, height: 12, rx: 2, fill: colour })), label)));

const figure = (id, title, ...kids) => h('figure', { className: 'chart', id, 'aria-labelledby': `${id}-h` }, h('h3', { id: `${id}-h` }, title), ...kids);

/**
 * A bar chart: one bar per item, stacked from its parts ([{name, value,
 * colour}]); value is their sum. A bar with one part is a rect.bar, with
 * more a g.bar of rects; both carry data-label and data-value.
 */
function barChart({ id, title, xTitle, yTitle, items, summary, table, legendEntries, note }) {
  const max = Math.max(0, ...items.map((i) => i.value));
  const step = niceStep(max);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const y = (v) => M.top + PLOT_H - (v / top) * PLOT_H;
  const slot = PLOT_W / Math.max(items.length, 1);
  const barW = Math.max(1, Math.min(48, slot * 0.7));
  const x = (i) => M.left + slot * i + slot / 2;
  const ticks = [];
  for (let v = 0; v <= top; v += step) ticks.push(v);
  const bars = items.map((it, i) => {
    const tip = s('title', {}, `${it.tick}: ${number(it.value)}`);
    let base = 0;
    const rects = it.parts.filter((p) => p.value > 0).map((p) => {
      const r = s('rect', { x: x(i) - barW / 2, y: y(base + p.value), width: barW, height: y(base) - y(base + p.value), fill: p.colour, 'data-part': p.name, 'data-value': p.value });
      base += p.value;
      return r;
    });
    if (it.parts.length === 1)
      return s('rect', { class: 'bar', 'data-label': it.label, 'data-value': it.value, x: x(i) - barW / 2, y: y(it.value), width: barW, height: y(0) - y(it.value), fill: it.parts[0].colour }, tip);
    return s('g', { class: 'bar', 'data-label': it.label, 'data-value': it.value }, tip, rects);
  });
  return figure(id, title,
    svgOf(summary, yAxis(ticks, y, number, yTitle), xAxis(items.map((i) => i.tick), x, xTitle), s('g', { class: 'bars' }, bars)),
    legendEntries && legend(legendEntries), note && h('p', { className: 'note' }, note), table);
}

/** A line chart of rates (0–100 %): one line per series, a point per day that has a value. */
function lineChart({ id, title, days, series, summary, table, note }) {
  const y = (r) => M.top + PLOT_H - r * PLOT_H;
  const x = (i) => M.left + (days.length > 1 ? (PLOT_W * i) / (days.length - 1) : PLOT_W / 2);
  const lines = series.map((se, k) => {
    const colour = SERIES_COLOURS[k % SERIES_COLOURS.length];
    let d = '';
    let pen = false;
    se.rates.forEach((r, i) => {
      if (r === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)} ${y(r).toFixed(1)} `;
      pen = true;
    });
    return s('g', { class: 'series', 'data-series': se.name },
      d && s('path', { d: d.trim(), fill: 'none', stroke: colour, 'stroke-width': 2 }),
      se.rates.map((r, i) => (r === null ? null : s('circle', { class: 'point', cx: x(i), cy: y(r), r: 3.5, fill: colour, 'data-series': se.name, 'data-day': days[i], 'data-value': r },
        s('title', {}, `${se.name} ${days[i]}: ${percent(r)}`)))));
  });
  return figure(id, title,
    svgOf(summary, yAxis([0, 0.25, 0.5, 0.75, 1], y, percent, w().rate), xAxis(days.map(shortDay), x, w().day), s('g', { class: 'lines' }, lines)),
    legend(series.map((se, k) => [se.name, SERIES_COLOURS[k % SERIES_COLOURS.length]])),
    note && h('p', { className: 'note' }, note), table);
}

/** Names the biggest items for an aria-label: "a 3; b 2; …". */
const listOf = (items) => items.slice().sort((a, b) => b.value - a.value).slice(0, LIST_MAX)
  .map((i) => fmt(w().barItem, { label: i.name, value: number(i.value) })).join('; ');

const empty = (id, title) => figure(id, title, h('p', { className: 'empty', role: 'img', 'aria-label': fmt(w().noneSummary, { title }) }, w().noData));

// ---- the charts ------------------------------------------------------------------------

function optInChart(report) {
  const ww = w();
  const id = 'dash-opt-in';
  if (!report.purposes.length) return empty(id, ww.optIn);
  const days = report.purposes[0].days.map((d) => d.day);
  const series = report.purposes.map((p) => ({ name: p.purpose, rates: p.days.map((d) => d.rate) }));
  const list = report.purposes.map((p) => fmt(ww.optInItem, { purpose: p.purpose, rate: percent(p.rate), given: number(p.given), refused: number(p.refused) })).join('; ');
  const rows = [];
  for (const p of report.purposes)
    for (const d of p.days)
      if (d.given + d.refused > 0) rows.push([`${p.purpose} ${d.day}`, number(d.given), number(d.refused), percent(d.rate)]);
  return lineChart({
    id, title: ww.optIn, days, series, note: ww.optInNote,
    summary: fmt(ww.optInSummary, { n: series.length, from: report.from, to: report.to, list }),
    table: hiddenTable(ww.optIn, [`${ww.purpose} · ${ww.day}`, ww.decisions.given, ww.decisions.refused, ww.rate], rows),
  });
}

function withdrawalsChart(report) {
  const ww = w();
  const items = report.days.map((d) => ({ label: d.day, tick: shortDay(d.day), value: d.withdrawn, parts: [{ name: 'withdrawn', value: d.withdrawn, colour: DECISION_COLOURS.withdrawn }] }));
  const most = report.days.reduce((a, d) => (d.withdrawn > a.withdrawn ? d : a), report.days[0]);
  return barChart({
    id: 'dash-withdrawals', title: ww.withdrawals, xTitle: ww.day, yTitle: ww.count, items,
    summary: fmt(ww.withdrawalsSummary, { total: number(report.total), from: report.from, to: report.to, day: most.day, n: number(most.withdrawn) }),
    table: hiddenTable(ww.withdrawals, [ww.day, ww.decisions.withdrawn], report.days.filter((d) => d.withdrawn > 0).map((d) => [d.day, number(d.withdrawn)])),
  });
}

/** Decisions by channel or region: one stacked bar per key. */
function decisionsChart(report, { id, title, xTitle, name }) {
  const ww = w();
  if (!report.series.length) return empty(id, title);
  const used = DECISIONS.filter((d) => report.totals[d] > 0);
  const items = report.series.map((g) => ({
    label: g.key, tick: name(g.key), value: g.total,
    parts: used.map((d) => ({ name: d, value: g[d], colour: DECISION_COLOURS[d] })),
  }));
  return barChart({
    id, title, xTitle, yTitle: ww.count, items,
    legendEntries: used.map((d) => [ww.decisions[d], DECISION_COLOURS[d]]),
    summary: fmt(ww.barsSummary, { title, from: report.from, to: report.to, list: listOf(items.map((i) => ({ name: i.tick, value: i.value }))) }),
    table: hiddenTable(title, [xTitle, ...used.map((d) => ww.decisions[d]), ww.total], report.series.map((g) => [name(g.key), ...used.map((d) => number(g[d])), number(g.total)])),
  });
}

function syncCharts(report) {
  const ww = w();
  if (!report.destinations.length) return [figure('dash-sync-lag', ww.syncLag, h('p', { className: 'empty' }, ww.noDestinations))];
  const lagItems = report.destinations.map((d) => ({
    label: d.id, tick: d.id, value: d.live ? d.live.lag_events : 0,
    parts: [{ name: 'lag', value: d.live ? d.live.lag_events : 0, colour: SERIES_COLOURS[0] }],
  }));
  const charts = [barChart({
    id: 'dash-sync-lag', title: ww.syncLag, xTitle: ww.destination, yTitle: ww.events, items: lagItems,
    summary: fmt(ww.lagSummary, { list: report.destinations.map((d) => fmt(ww.barItem, { label: d.id, value: d.live ? number(d.live.lag_events) : ww.notRunning })).join('; ') }),
    table: hiddenTable(ww.syncLag, [ww.destination, ww.events, ww.outcomes.delivered, ww.outcomes.failed, ww.outcomes.dead],
      report.destinations.map((d) => [d.id, d.live ? number(d.live.lag_events) : ww.notRunning, number(d.totals.delivered), number(d.totals.failed), number(d.totals.dead)])),
  })];
  for (const d of report.destinations) {
    const title = fmt(ww.syncFailures, { id: d.id });
    const items = d.days.map((day) => ({
      label: day.day, tick: shortDay(day.day), value: day.failed + day.dead,
      parts: ['failed', 'dead'].map((o) => ({ name: o, value: day[o], colour: OUTCOME_COLOURS[o] })),
    }));
    charts.push(barChart({
      id: `dash-sync-${d.id}`, title, xTitle: ww.day, yTitle: ww.count, items,
      legendEntries: [[ww.outcomes.failed, OUTCOME_COLOURS.failed], [ww.outcomes.dead, OUTCOME_COLOURS.dead]],
      summary: fmt(ww.failuresSummary, { id: d.id, from: report.from, to: report.to, failed: number(d.totals.failed), dead: number(d.totals.dead) }),
      table: hiddenTable(title, [ww.day, ww.outcomes.delivered, ww.outcomes.failed, ww.outcomes.dead],
        d.days.filter((x) => x.delivered + x.failed + x.dead > 0).map((x) => [x.day, number(x.delivered), number(x.failed), number(x.dead)])),
    }));
  }
  return charts;
}

// ---- rights requests due (admin keys only) ----------------------------------------------

const DUE_SOON_DAYS = 3;

/**
 * The open requests (received or in progress), read page by page from the
 * queue — soonest due first — up to allPages' cap (PAGES_MAX × PAGE_LIMIT).
 * Overdue ones come first, then those due soon, so when the cap is hit only
 * the counts the last item read still belongs to are lower bounds.
 */
async function requestsDue() {
  const until = addDays(shanghaiToday(), DUE_SOON_DAYS);
  const end = Date.parse(`${until}T23:59:59.999+08:00`); // the end of that Shanghai day, as due dates are
  const items = await allPages('/v1/requests?status=open');
  const soon = (r) => !r.overdue && Date.parse(r.due_at) <= end;
  const capped = items.length >= PAGE_LIMIT * PAGES_MAX;
  const last = items[items.length - 1];
  return {
    until, read: items.length,
    open: items.length, overdue: items.filter((r) => r.overdue).length, soon: items.filter(soon).length,
    capped: { open: capped, overdue: capped && last.overdue, soon: capped && (last.overdue || soon(last)) },
  };
}

/** The card: three numbers, each a link to the requests screen (overdue: with its overdue filter on). */
function dueCard(due) {
  const ww = w();
  const count = (key, label) => h('li', {},
    h('a', { href: key === 'overdue' ? '#/requests?overdue' : '#/requests', className: `due-count${key !== 'open' && due[key] > 0 ? ` ${key}` : ''}`, 'data-count': key, 'data-value': due[key] },
      h('span', { className: 'due-n' }, due.capped[key] ? fmt(ww.atLeast, { n: number(due[key]) }) : number(due[key])),
      ' ', h('span', { className: 'due-label' }, label)));
  return h('section', { className: 'chart due', id: 'dash-requests', 'aria-labelledby': 'dash-requests-h' },
    h('h3', { id: 'dash-requests-h' }, ww.requestsDue),
    h('ul', { className: 'due-counts' },
      count('open', ww.dueOpen), count('overdue', ww.dueOverdue), count('soon', fmt(ww.dueSoon, { n: DUE_SOON_DAYS }))),
    h('p', { className: 'note' }, fmt(ww.dueNote, { day: due.until, n: DUE_SOON_DAYS })),
    due.capped.open && h('p', { className: 'note', id: 'dash-requests-capped' }, fmt(ww.dueCapped, { n: number(due.read) })));
}

// ---- the screen ------------------------------------------------------------------------

export function dashboardScreen() {
  let days = 30;
  let sameDue = false; // a new range: the requests card does not depend on it, so it is not read again
  const v = makeView({ id: 'dashboard', title: () => w().dashboard, intro: () => w().dashboardIntro, load, draw });
  const narrow = window.matchMedia(NARROW);
  const redraw = () => v.render(); // a phone turned, a window resized past the breakpoint
  narrow.addEventListener('change', redraw);
  v.leave = () => narrow.removeEventListener('change', redraw);

  async function load() {
    const to = shanghaiToday();
    const from = addDays(to, -(days - 1));
    const q = `from=${from}&to=${to}`;
    const [optIn, withdrawals, channels, regions, sync, due] = await Promise.all([
      call('GET', `/v1/reports/opt-in?${q}`),
      call('GET', `/v1/reports/withdrawals?${q}`),
      call('GET', `/v1/reports/consents?${q}&group_by=channel`),
      call('GET', `/v1/reports/consents?${q}&group_by=region`),
      call('GET', `/v1/reports/sync?${q}`),
      // the queue needs admin: other keys never ask it
      sameDue && v.data ? v.data.due : can('admin') ? requestsDue() : null,
    ]);
    sameDue = false;
    return { from, to, optIn, withdrawals, channels, regions, sync, due };
  }

  function draw(data) {
    const ww = w();
    geometry();
    const channelName = (k) => (k ? ww.channels[k] || k : ww.unknown);
    const regionName = (k) => k || ww.unknown;
    const range = h('fieldset', { className: 'range', id: 'dash-range' },
      h('legend', {}, ww.range),
      RANGES.map((n) => h('label', { className: 'range-choice' },
        h('input', { type: 'radio', name: 'dash-range', value: String(n), checked: n === days, 'data-key': `range-${n}`,
          onchange: () => { days = n; sameDue = true; v.focusKey = `range-${n}`; v.refresh(true); } }),
        ' ', fmt(ww.lastDays, { n }))),
      h('p', { className: 'note', id: 'dash-range-text' }, fmt(ww.rangeText, { from: data.from, to: data.to })));
    return h('div', { className: 'dashboard' }, data.due && dueCard(data.due), range,
      h('div', { className: 'charts' },
        optInChart(data.optIn),
        withdrawalsChart(data.withdrawals),
        decisionsChart(data.channels, { id: 'dash-channels', title: ww.byChannel, xTitle: ww.channel, name: channelName }),
        decisionsChart(data.regions, { id: 'dash-regions', title: ww.byRegion, xTitle: ww.region, name: regionName }),
        syncCharts(data.sync)));
  }

  return v;
}
