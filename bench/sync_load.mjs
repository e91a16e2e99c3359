// SPDX-License-Identifier: Apache-2.0
// The HTTP side of bench/sync.sh: consent writes to cpmd (paced or as fast
// as possible), destinations created and timed until their cursor reaches
// the ledger's end, and cpmd's sync histogram. Keep-alive connections
// (node:http Agent); the API key comes from CPM_BENCH_KEY (not argv, which
// `ps` shows). Every command prints one line for the shell to parse:
// "CPM_RESULT key=value …".
//
//   paced PORT RATE SECONDS INFLIGHT TAG
//       POST /v1/subjects/{new id}/consents, one decision each, request i
//       issued at start + i/RATE by the wall clock (1 ms timer), at most
//       INFLIGHT outstanding; a request that cannot go out on time (all
//       slots busy) goes as soon as a slot frees and counts as late. Write
//       latency = request issued → 201 answer read.
//       → sent ok non201 errors seconds rate late max_late_ms p50_ms p90_ms p99_ms max_ms
//   fill PORT EVENTS DECISIONS INFLIGHT TAG
//       EVENTS consent events in POSTs of DECISIONS (1–4) purposes each (the
//       last one fewer when needed), a new subject each, as fast as INFLIGHT
//       connections allow.
//       → ok non201 errors seconds events_per_s
//   drain PORT DESTINATION_JSON
//       POST /v1/destinations, then GET /v1/destinations/{id} every 20 ms
//       until delivery.lag_events is 0 (cursor at the ledger's end).
//       → seconds cursor_seq delivered failed dead blocked max_stall_ms
//       (the longest the cursor stood still once moving); with CPM_SYNC_TRACE
//       set, every poll's "seconds cursor_seq queued" goes to stderr.
//   wait PORT DESTINATION
//       GET /v1/destinations/{id} every 20 ms until delivery.lag_events is 0.
//       → as drain's
//   histogram PORT DESTINATION [BEFORE_FILE]
//       cpm_sync_acknowledged_after_seconds of DESTINATION from /metrics:
//       buckets=le:count,… (cumulative) sum count; with BEFORE_FILE (an
//       earlier output line) the difference, plus the share ≤ 100 ms and
//       the bucket holding the p99.
//   delete PORT DESTINATION
//       → deleted
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const HOST = '127.0.0.1';
const key = process.env.CPM_BENCH_KEY || '';
const PURPOSES = ['marketing.sms', 'marketing.email', 'marketing.push', 'analytics'];
const DECISIONS = ['given', 'given', 'refused', 'given'];

function die(message) {
  console.error(`sync_load.mjs: ${message}`);
  process.exit(1);
}

let agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** One request; resolves {status, body}. */
function request(port, method, path, body) {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${key}` };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const req = http.request({ host: HOST, port, method, path, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function json(port, method, path, body, want) {
  const r = await request(port, method, path, body);
  if (r.status !== want) die(`${method} ${path} answered ${r.status}: ${r.body.slice(0, 300)}`);
  return r.body ? JSON.parse(r.body) : null;
}

/** The notice version's English text hash, as the server computed it. */
async function noticeSha(port) {
  const v = await json(port, 'GET', '/v1/notices/privacy/versions/1', undefined, 200);
  const sha = v?.content?.en?.sha256;
  if (typeof sha !== 'string') die('no content.en.sha256 in notice privacy version 1');
  return sha;
}

function consentBody(sha, decisions) {
  const list = [];
  for (let i = 0; i < decisions; i++) list.push({ purpose: PURPOSES[i], decision: DECISIONS[i] });
  return JSON.stringify({
    property: 'shop',
    channel: 'web',
    locale: 'en',
    method: 'click',
    notice: { id: 'privacy', version: 1, sha256: sha },
    context: { ip: '203.0.113.7', user_agent: 'Mozilla/5.0 (OpenCPM bench)' },
    decisions: list,
  });
}

function quantile(sorted, q) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

const ms = (v) => (Math.round(v * 100) / 100).toFixed(2);

function result(fields) {
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${v}`);
  console.log(`CPM_RESULT ${parts.join(' ')}`);
}

async function paced(port, rate, seconds, inflight, tag) {
  const sha = await noticeSha(port);
  const body = consentBody(sha, 1);
  agent = new http.Agent({ keepAlive: true, maxSockets: inflight });
  const total = Math.round(rate * seconds);
  const lat = new Float64Array(total);
  let issued = 0;
  let answered = 0;
  let ok = 0;
  let non201 = 0;
  let errors = 0;
  let outstanding = 0;
  let late = 0;
  let maxLate = 0;
  let firstError = '';
  const t0 = performance.now();
  await new Promise((resolve) => {
    const issue = () => {
      const i = issued++;
      const due = t0 + (i * 1000) / rate;
      const start = performance.now();
      if (start - due > 5) {
        late++;
        maxLate = Math.max(maxLate, start - due);
      }
      outstanding++;
      request(port, 'POST', `/v1/subjects/p${tag}-${i}/consents`, body).then(
        (r) => {
          if (r.status === 201) lat[ok++] = performance.now() - start;
          else {
            non201++;
            firstError ||= `${r.status} ${r.body.slice(0, 200)}`;
          }
        },
        (e) => {
          errors++;
          firstError ||= e.message;
        },
      ).finally(() => {
        outstanding--;
        answered++;
        if (answered === total) resolve();
      });
    };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
      while (issued < due && outstanding < inflight) issue();
      if (issued < total) setTimeout(tick, 1);
    };
    tick();
  });
  const elapsed = (performance.now() - t0) / 1000;
  const sorted = lat.slice(0, ok).sort();
  if (firstError) console.error(`sync_load.mjs: first failure: ${firstError}`);
  result({
    sent: issued,
    ok,
    non201,
    errors,
    seconds: elapsed.toFixed(3),
    rate: (ok / elapsed).toFixed(1),
    late,
    max_late_ms: ms(maxLate),
    p50_ms: ms(quantile(sorted, 0.5)),
    p90_ms: ms(quantile(sorted, 0.9)),
    p99_ms: ms(quantile(sorted, 0.99)),
    max_ms: ms(ok ? sorted[ok - 1] : 0),
  });
}

async function fill(port, events, decisions, inflight, tag) {
  const sha = await noticeSha(port);
  const body = consentBody(sha, decisions);
  const lastBody = consentBody(sha, events % decisions || decisions); /* exactly EVENTS in all */
  agent = new http.Agent({ keepAlive: true, maxSockets: inflight });
  const total = Math.ceil(events / decisions);
  let next = 0;
  let ok = 0;
  let non201 = 0;
  let errors = 0;
  let firstError = '';
  const t0 = performance.now();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      try {
        const r = await request(port, 'POST', `/v1/subjects/f${tag}-${i}/consents`, i === total - 1 ? lastBody : body);
        if (r.status === 201) ok++;
        else {
          non201++;
          firstError ||= `${r.status} ${r.body.slice(0, 200)}`;
        }
      } catch (e) {
        errors++;
        firstError ||= e.message;
      }
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  if (firstError) console.error(`sync_load.mjs: first failure: ${firstError}`);
  result({
    ok,
    non201,
    errors,
    seconds: elapsed.toFixed(3),
    events_per_s: (Math.min(events, ok * decisions) / elapsed).toFixed(0),
  });
}

const sleep = (t) => new Promise((r) => setTimeout(r, t));

async function drain(port, destJson) {
  const dest = JSON.parse(destJson);
  const t0 = performance.now();
  await json(port, 'POST', '/v1/destinations', destJson, 201);
  await caughtUp(port, dest.id, t0);
}

/* Polls the destination until its cursor is at the ledger's end; prints the figures since t0. */
async function caughtUp(port, id, t0) {
  const path = `/v1/destinations/${encodeURIComponent(id)}`;
  let last = -1;
  let lastMove = performance.now();
  let maxStall = 0;
  const trace = process.env.CPM_SYNC_TRACE ? [] : null;
  for (;;) {
    const d = await json(port, 'GET', path, undefined, 200);
    const s = d.delivery;
    const now = performance.now();
    if (trace && s) trace.push(`${((now - t0) / 1000).toFixed(3)} ${s.cursor_seq} ${s.queued}`);
    if (s && s.cursor_seq > 0 && s.lag_events === 0) {
      const elapsed = (now - t0) / 1000;
      if (trace) console.error(trace.join('\n'));
      result({
        seconds: elapsed.toFixed(3),
        cursor_seq: s.cursor_seq,
        delivered: s.delivered,
        failed: s.failed,
        dead: s.dead,
        blocked: s.blocked,
        max_stall_ms: maxStall.toFixed(0),
      });
      return;
    }
    const cursor = s ? s.cursor_seq : -1;
    if (cursor !== last) {
      if (last > 0) maxStall = Math.max(maxStall, now - lastMove);
      last = cursor;
      lastMove = now;
    } else if (now - lastMove > 60_000) {
      die(`destination ${id}: no progress for 60 s (${JSON.stringify(s)})`);
    }
    await sleep(20);
  }
}

async function histogram(port, dest, beforeFile) {
  const r = await request(port, 'GET', '/metrics');
  if (r.status !== 200) die(`GET /metrics answered ${r.status}`);
  const name = 'cpm_sync_acknowledged_after_seconds';
  const buckets = [];
  let sum = 0;
  let count = 0;
  for (const line of r.body.split('\n')) {
    if (!line.startsWith(name) || !line.includes(`destination="${dest}"`)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith(`${name}_bucket`)) buckets.push([line.match(/le="([^"]+)"/)[1], value]);
    else if (line.startsWith(`${name}_sum`)) sum = value;
    else if (line.startsWith(`${name}_count`)) count = value;
  }
  if (buckets.length === 0) die(`no ${name} for destination ${dest} in /metrics`);
  if (!beforeFile) {
    result({ buckets: buckets.map(([le, n]) => `${le}:${n}`).join(','), sum, count });
    return;
  }
  const before = Object.fromEntries(
    readFileSync(beforeFile, 'utf8')
      .split(' ')
      .map((kv) => kv.split('='))
      .filter((kv) => kv.length === 2),
  );
  const prev = new Map((before.buckets || '').split(',').map((b) => b.split(':')).map(([le, n]) => [le, Number(n)]));
  const delta = buckets.map(([le, n]) => [le, n - (prev.get(le) || 0)]);
  const n = count - Number(before.count || 0);
  const s = sum - Number(before.sum || 0);
  const le100 = delta.find(([le]) => le === '0.1')?.[1] ?? 0;
  const p99 = delta.find(([, c]) => c >= 0.99 * n)?.[0] ?? '+Inf';
  const p50 = delta.find(([, c]) => c >= 0.5 * n)?.[0] ?? '+Inf';
  result({
    count: n,
    mean_ms: n ? ((s * 1000) / n).toFixed(2) : 0,
    share_le_100ms: n ? ((100 * le100) / n).toFixed(3) : 0,
    p50_le_s: p50,
    p99_le_s: p99,
    buckets: delta.map(([le, c]) => `${le}:${c}`).join(','),
  });
}

const [command, ...args] = process.argv.slice(2);
const port = Number(args[0]);
if (!Number.isInteger(port) || port <= 0) die('usage: see the header of bench/sync_load.mjs');
switch (command) {
  case 'paced':
    await paced(port, Number(args[1]), Number(args[2]), Number(args[3]), args[4] || 'run');
    break;
  case 'fill':
    await fill(port, Number(args[1]), Number(args[2]), Number(args[3]), args[4] || 'run');
    break;
  case 'drain':
    await drain(port, args[1]);
    break;
  case 'wait':
    await caughtUp(port, args[1], performance.now());
    break;
  case 'histogram':
    await histogram(port, args[1], args[2]);
    break;
  case 'delete': {
    const r = await request(port, 'DELETE', `/v1/destinations/${encodeURIComponent(args[1])}`);
    if (r.status !== 204) die(`DELETE destination ${args[1]} answered ${r.status}: ${r.body}`);
    result({ deleted: args[1] });
    break;
  }
  default:
    die(`unknown command '${command}': see the header of bench/sync_load.mjs`);
}
agent.destroy();
