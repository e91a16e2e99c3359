// SPDX-License-Identifier: Apache-2.0
// The API suite's harness: a fresh data directory, a real cpmd on a free
// loopback port, and a small HTTP client that keeps exact bytes and headers.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const build = process.env.CPM_BUILD_DIR ?? path.resolve('build-test');
export const cpmBin = path.join(build, 'cpm');
export const cpmdBin = path.join(build, 'cpmd');

/** Runs `cpm ARGS…` to completion; returns {status, stdout, stderr}. */
export function cpm(args, env = {}) {
  const r = spawnSync(cpmBin, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh data directory with its admin key. */
export function freshData() {
  const dir = mkdtempSync(path.join(tmpdir(), 'cpm-api-'));
  const data = path.join(dir, 'data');
  const r = cpm(['init', '--data', data]);
  if (r.status !== 0) throw new Error(`cpm init failed: ${r.stderr}`);
  const adminKey = r.stdout.trim();
  return { dir, data, adminKey, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Starts cpmd on data; resolves once it logs its URL. Extra args and env
 * pass through; `wrapper` is a command cpmd runs under (e.g. prlimit). The
 * returned server collects stderr lines in `log`.
 */
export function startServer(data, { args = [], env = {}, wrapper = [] } = {}) {
  const argv = [...wrapper, cpmdBin, '--data', data, '--listen', '127.0.0.1:0', ...args];
  const child = spawn(argv[0], argv.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = { child, log: [], url: null, exited: null };
  server.exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      server.exited = { code, signal };
      resolve(server.exited);
    });
  });
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`cpmd did not start:\n${server.log.join('\n')}`)), 10000);
    child.stderr.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        server.log.push(line);
        const m = / url=(http:\/\/\S+)/.exec(line);
        if (m && !server.url) {
          server.url = m[1];
          const u = new URL(server.url);
          server.port = Number(u.port);
          clearTimeout(timer);
          resolve(server);
        }
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      if (!server.url) reject(new Error(`cpmd exited before listening:\n${server.log.join('\n')}`));
    });
  });
}

/**
 * Sends SIGTERM and waits for the exit; returns {code, signal}. A clean
 * stop must exit 0: under the sanitizers a leak or an error makes it fail,
 * and that fails the test that stopped it.
 */
/**
 * The first line of the server's log that matches (a function of the line),
 * waiting up to ms for it: request lines are written in batches, up to
 * 100 ms after the request (core/log.h). Undefined when none came.
 */
export async function logLine(server, matches, ms = 2000) {
  const end = Date.now() + ms;
  for (;;) {
    const line = server.log.find(matches);
    if (line || Date.now() > end) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function stopServer(server, signal = 'SIGTERM') {
  const wasRunning = !server.exited;
  if (wasRunning) server.child.kill(signal);
  const exited = await server.exitPromise;
  if (wasRunning && signal === 'SIGTERM' && exited.code !== 0)
    throw new Error(`cpmd exited with ${exited.code ?? exited.signal} on SIGTERM:\n${server.log.slice(-40).join('\n')}`);
  return exited;
}

/**
 * One HTTP request. body: object (sent as JSON), string or Buffer.
 * Resolves {status, headers, text, json}.
 */
export function request(server, method, urlPath, { key, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  let payload;
  if (body !== undefined) {
    payload = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    h['content-length'] = payload.length;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.port, method, path: urlPath, headers: h, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', (err) => {
      // a cpmd that is gone says why in its last lines (an ASan report, an assertion, a signal)
      if (server.exited && server.log)
        err.message += `\ncpmd exited (${server.exited.code ?? server.exited.signal}); its last lines:\n${server.log.slice(-40).join('\n')}`;
      reject(err);
    });
    if (payload) req.write(payload);
    req.end();
  });
}

/** Opens a raw TCP connection to the server. */
export function rawConnect(server) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(server.port, '127.0.0.1', () => resolve(sock));
    sock.on('error', reject);
  });
}

/** Collects what a raw socket receives until it closes or ms pass. */
export function readUntilClose(sock, ms) {
  return new Promise((resolve) => {
    const chunks = [];
    const done = (closed) => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('utf8'), closed });
    };
    const timer = setTimeout(() => done(false), ms);
    sock.on('data', (c) => chunks.push(c));
    sock.on('close', () => done(true));
  });
}

/** Asserts a problem+json answer with status and code; returns its body. */
export function expectProblem(assert, res, status, code) {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.match(res.headers['content-type'], /^application\/problem\+json/);
  assert.equal(res.json.code, code, res.text);
  assert.equal(res.json.status, status);
  assert.ok(res.json.detail, 'problem has a detail');
  assert.ok(res.headers['x-request-id'], 'problem has X-Request-Id');
  return res.json;
}

/**
 * A fresh data directory (freshData) seeded by `cpm seed` with the documents
 * in seed ({properties, purposes, notices, policies, …}).
 */
export function seededData(seed) {
  const data = freshData();
  const file = path.join(data.dir, 'seed.json');
  writeFileSync(file, JSON.stringify(seed));
  const r = cpm(['seed', '--data', data.data, file]);
  if (r.status !== 0) throw new Error(`cpm seed failed: ${r.stderr}`);
  return data;
}
