// SPDX-License-Identifier: Apache-2.0
// The webhook receiver of bench/sync.sh: a Node http server on a loopback
// port that answers every POST /hook with 204 and records, for each
// delivery, now − the CloudEvent's `time` (when cpmd recorded the event;
// the same machine clock), taken as soon as the body has arrived, before
// the body is parsed. The signature is not checked here (the API tests'
// receiver does that); the Standard Webhooks headers must be present.
//
// Usage: node bench/sync_receiver.mjs PORT_FILE SAMPLE_FILE
// Listens on 127.0.0.1 on a free port and writes that port to PORT_FILE.
// The first delivery's body goes to SAMPLE_FILE (wrk's baseline body).
// Control: GET /stats answers one JSON line {count, unique, duplicates,
// unsigned, p50_ms, p90_ms, p99_ms, max_ms, mean_ms}; POST /reset forgets
// everything recorded so far.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const [portFile, sampleFile] = process.argv.slice(2);
if (!portFile || !sampleFile) {
  console.error('usage: node bench/sync_receiver.mjs PORT_FILE SAMPLE_FILE');
  process.exit(2);
}

let lags = new Float64Array(1 << 16);
let count = 0;
let ids = new Set();
let duplicates = 0;
let unsigned = 0;
let sampled = false;

function record(lag, id) {
  if (count === lags.length) {
    const grown = new Float64Array(lags.length * 2);
    grown.set(lags);
    lags = grown;
  }
  lags[count++] = lag;
  if (ids.has(id)) duplicates++;
  else ids.add(id);
}

function quantile(sorted, q) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function stats() {
  const sorted = lags.slice(0, count).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const r = (v) => Math.round(v * 100) / 100;
  return {
    count,
    unique: ids.size,
    duplicates,
    unsigned,
    p50_ms: r(quantile(sorted, 0.5)),
    p90_ms: r(quantile(sorted, 0.9)),
    p99_ms: r(quantile(sorted, 0.99)),
    max_ms: r(count ? sorted[count - 1] : 0),
    mean_ms: r(count ? sum / count : 0),
  };
}

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/hook') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const now = performance.timeOrigin + performance.now();
      const body = Buffer.concat(chunks);
      let ce;
      try {
        ce = JSON.parse(body);
      } catch {
        res.writeHead(400).end('not JSON');
        return;
      }
      const time = Date.parse(ce.time);
      if (!Number.isFinite(time) || typeof ce.id !== 'string') {
        res.writeHead(400).end('no time or id');
        return;
      }
      if (!req.headers['webhook-signature'] || req.headers['webhook-id'] !== ce.id) unsigned++;
      record(now - time, ce.id);
      if (!sampled) {
        sampled = true;
        writeFileSync(sampleFile, body);
      }
      res.writeHead(204).end();
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats()) + '\n');
    return;
  }
  if (req.method === 'POST' && req.url === '/reset') {
    count = 0;
    ids = new Set();
    duplicates = 0;
    unsigned = 0;
    res.writeHead(204).end();
    return;
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => writeFileSync(portFile, `${server.address().port}\n`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
