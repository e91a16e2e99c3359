// SPDX-License-Identifier: Apache-2.0
// The admin console's ledger screen (README.md beside this file): the latest
// signed checkpoint, the tree's size and root, the verifier key, and "verify
// now" — the full check cpmd runs in the background (POST
// /v1/ledger/verifications), its progress polled until it ends.

import { app, h, fmt, when, say, call, why, makeView } from './admin-core.js';
import { W } from './ledger-i18n.js';

const POLL_MS = 500;
const w = () => W[app.ui];
export const ledgerLabel = () => w().ledger;

/** A signed note's body: origin, tree size, root hash (C2SP tlog-checkpoint). */
function parseCheckpoint(note) {
  const [origin, size, root] = String(note).split('\n');
  return { origin, size: Number(size), root };
}

export function ledgerScreen() {
  let timer = 0;
  const v = makeView({ id: 'ledger', title: () => w().ledger, intro: () => w().ledgerIntro, load, draw });
  v.leave = () => clearTimeout(timer);

  async function load() {
    const [note, vkey, run] = await Promise.all([
      call('GET', '/v1/ledger/checkpoint', undefined, { raw: true }).then((r) => r.text()),
      call('GET', '/v1/ledger/key', undefined, { raw: true }).then((r) => r.text()),
      latest(),
    ]);
    if (run && run.state === 'running') poll();
    return { checkpoint: parseCheckpoint(note), vkey: vkey.trim(), run };
  }

  /** The latest run, or null when none has run since cpmd started. */
  async function latest() {
    try {
      return await call('GET', '/v1/ledger/verifications/latest');
    } catch (e) {
      if (e.status === 404) return null;
      throw e;
    }
  }

  function poll() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      let run;
      try {
        run = await latest();
      } catch (e) {
        say(fmt(w().pollFailed, { detail: why(e) }), 'error');
        return;
      }
      if (!v.data) return;
      v.data.run = run;
      v.render();
      if (run && run.state === 'running') poll();
      else if (run) announce(run);
    }, POLL_MS);
  }

  function announce(run) {
    const ww = w();
    if (run.state === 'passed') say(fmt(ww.passedSay, { n: run.checked }), 'ok');
    else say(ww.notPassedSay, 'error');
  }

  function start() {
    return v.act(async () => {
      let run;
      try {
        run = await call('POST', '/v1/ledger/verifications');
      } catch (e) {
        if (e.status !== 409) {
          say(fmt(w().startFailed, { detail: why(e) }), 'error');
          return;
        }
        run = e.problem && e.problem.verification; // one is running already: follow it
      }
      v.data.run = run;
      v.focusKey = 'verify';
      v.render();
      say(w().started);
      poll();
    });
  }

  function draw(data) {
    const ww = w();
    const cp = data.checkpoint;
    const running = data.run && data.run.state === 'running';
    return h('div', {},
      h('dl', { className: 'facts', id: 'ledger-checkpoint' },
        h('dt', {}, ww.treeSize), h('dd', { 'data-value': 'size' }, String(cp.size)),
        h('dt', {}, ww.root), h('dd', {}, h('code', { className: 'hash' }, cp.root)),
        h('dt', {}, ww.origin), h('dd', {}, h('code', {}, cp.origin)),
        h('dt', {}, ww.vkey), h('dd', {}, h('code', { className: 'hash' }, data.vkey))),
      h('p', { className: 'note' }, ww.offline),
      h('h3', {}, ww.verifyTitle),
      h('p', {}, ww.verifyIntro),
      h('div', { className: 'actions' },
        // not disabled while running (focus would be lost): another click follows the run going on
        h('button', { type: 'button', className: 'btn', 'data-key': 'verify', onclick: start }, running ? ww.verifying : ww.verifyNow)),
      runPart(data.run));
  }

  function runPart(run) {
    const ww = w();
    if (!run) return h('p', { className: 'empty', id: 'verify-run' }, ww.neverRun);
    const meta = h('p', { className: 'note' }, fmt(ww.runMeta, { run: run.run, key: run.requested_by, time: when(run.started_at) }));
    if (run.state === 'running') {
      const total = Math.max(run.total, 1);
      return h('div', { id: 'verify-run', 'data-state': run.state },
        h('label', { for: 'verify-progress' }, fmt(ww.progress, { checked: run.checked, total: run.total })),
        h('progress', { id: 'verify-progress', max: total, value: Math.min(run.checked, total) }),
        meta);
    }
    let outcome;
    if (run.state === 'passed') {
      outcome = h('p', { className: 'result good' }, h('span', { className: 'badge good' }, ww.passed), ' ',
        fmt(ww.passedText, { n: run.checked, k: run.checkpoints, size: run.latest_checkpoint_size }));
    } else {
      const p = run.problem || {};
      outcome = h('div', { className: 'result bad', role: 'alert' },
        h('p', {}, h('span', { className: 'badge bad' }, run.state === 'failed' ? ww.failed : ww.error), ' ',
          p.seq ? fmt(ww.problemAt, { seq: p.seq, message: p.message }) : p.message),
        h('p', {}, run.state === 'failed' ? ww.failedAdvice : ww.errorAdvice));
    }
    return h('div', { id: 'verify-run', 'data-state': run.state }, outcome,
      meta, run.finished_at ? h('p', { className: 'note' }, fmt(ww.finished, { time: when(run.finished_at) })) : null);
  }

  return v;
}
