// SPDX-License-Identifier: Apache-2.0
// A fake webhook receiver for the sync tests: it verifies every delivery
// strictly (CloudEvents 1.0 structured mode, Standard Webhooks signature
// over the raw body, timestamp within 5 minutes, webhook-id === event id),
// records what it accepted and every attempt, and can be told to fail
// (5xx, 429 + Retry-After, 410, 400, hang, reset, slow) per request.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';

/** Timestamps further than this from now (either way) are rejected. */
export const TOLERANCE_SECONDS = 5 * 60;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes canonical standard base64 (padded); null when it is not that. */
function decodeBase64(s) {
  if (typeof s !== 'string' || !BASE64.test(s)) return null;
  return Buffer.from(s, 'base64');
}

/**
 * The HMAC key of a Standard Webhooks secret `whsec_<base64>`.
 * Throws a TypeError on anything else (that is a test's mistake).
 * @param {string} secret
 * @returns {Buffer}
 */
export function secretKey(secret) {
  if (typeof secret !== 'string' || !secret.startsWith('whsec_')) {
    throw new TypeError('webhook secret must be a string "whsec_<base64>"');
  }
  const key = decodeBase64(secret.slice('whsec_'.length));
  if (!key || key.length === 0) throw new TypeError('webhook secret: the part after whsec_ is not base64');
  return key;
}

/**
 * Verifies a Standard Webhooks signature (https://www.standardwebhooks.com/):
 * `signature` is a space-separated list of `v<n>,<base64>`; it passes when
 * one `v1` entry equals base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)),
 * compared in constant time, and the timestamp is an integer number of
 * seconds within {@link TOLERANCE_SECONDS} of `now`. Entries of other
 * versions are ignored.
 *
 * Returns `true` or a string saying why not — a reason is truthy, so
 * compare the result with `=== true`.
 *
 * @param {object} o
 * @param {string} o.secret     `whsec_…`
 * @param {string} o.id         the webhook-id header
 * @param {string|number} o.timestamp  the webhook-timestamp header (seconds)
 * @param {Buffer|string} o.body  the exact raw body (a string is taken as UTF-8)
 * @param {string} o.signature  the webhook-signature header
 * @param {number|Date} [o.now] Unix seconds (or a Date); defaults to the clock
 * @returns {true|string}
 */
export function verifyStandardWebhook({ secret, id, timestamp, body, signature, now }) {
  const key = secretKey(secret);
  if (typeof id !== 'string' || id === '') return 'webhook-id missing or empty';
  const ts = typeof timestamp === 'number' ? String(timestamp) : timestamp;
  if (typeof ts !== 'string' || !/^\d{1,15}$/.test(ts)) return `webhook-timestamp ${JSON.stringify(timestamp)} is not integer seconds`;
  const nowSec = now === undefined ? Date.now() / 1000 : now instanceof Date ? now.getTime() / 1000 : now;
  if (typeof nowSec !== 'number' || !Number.isFinite(nowSec)) throw new TypeError('now must be Unix seconds or a Date');
  const skew = Number(ts) - nowSec;
  if (Math.abs(skew) > TOLERANCE_SECONDS) {
    return `webhook-timestamp ${ts} is ${Math.round(Math.abs(skew))} s ${skew < 0 ? 'old' : 'in the future'} (tolerance ${TOLERANCE_SECONDS} s)`;
  }
  if (typeof signature !== 'string' || signature === '') return 'webhook-signature missing or empty';
  const raw = Buffer.isBuffer(body) ? body : typeof body === 'string' ? Buffer.from(body, 'utf8') : null;
  if (!raw) throw new TypeError('body must be a Buffer or a string');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.`).update(raw).digest();
  let v1 = 0;
  for (const entry of signature.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || !/^v\d+[a-z]?$/.test(entry.slice(0, comma))) return `webhook-signature entry ${JSON.stringify(entry)} is not "v<n>,<sig>"`;
    if (entry.slice(0, comma) !== 'v1') continue;
    v1++;
    const given = decodeBase64(entry.slice(comma + 1));
    if (given && given.length === expected.length && timingSafeEqual(given, expected)) return true;
  }
  return v1 ? 'webhook-signature: no v1 signature matches' : 'webhook-signature has no v1 entry';
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/** True when s is an RFC 3339 date-time with in-range fields. */
export function isRfc3339(s) {
  const m = typeof s === 'string' && RFC3339.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se, oh = 0, om = 0] = m.slice(1).map((x) => (x === undefined ? undefined : Number(x)));
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return mo >= 1 && mo <= 12 && d >= 1 && d <= days && h <= 23 && mi <= 59 && se <= 60 && oh <= 23 && om <= 59;
}

/** True when s is an RFC 3986 URI-reference (absolute URI or relative reference). */
export function isUriReference(s) {
  if (typeof s !== 'string') return false;
  if (!/^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/.test(s)) return false;
  if (s.split('#').length > 2) return false;
  // A ':' before any '/', '?' or '#' makes a scheme, which must be well formed
  // (a relative reference cannot have a colon in its first segment).
  const scheme = /^([^/?#]*?):/.exec(s);
  if (scheme && !/^[A-Za-z][A-Za-z0-9+.-]*$/.test(scheme[1])) return false;
  return true;
}

const CE_KNOWN = new Set(['specversion', 'id', 'source', 'type', 'time', 'subject', 'datacontenttype', 'dataschema', 'data']);

/**
 * Checks a parsed body against the contract for cpmd's CloudEvents 1.0
 * structured-mode events: specversion "1.0"; id, source (URI-reference),
 * type ("cpm.…") and time (RFC 3339) present; subject a non-empty string
 * when present; datacontenttype "application/json" when present; data an
 * object; no data_base64; extension attributes named [a-z0-9]+ with
 * string, integer or boolean values.
 * @param {unknown} ev
 * @returns {true|string} `true`, or the first problem found
 */
export function verifyCloudEvent(ev) {
  if (ev === null || typeof ev !== 'object' || Array.isArray(ev)) return 'body is not a JSON object';
  if (ev.specversion !== '1.0') return `specversion is ${JSON.stringify(ev.specversion)}, not "1.0"`;
  if (typeof ev.id !== 'string' || ev.id === '') return 'id missing or not a non-empty string';
  if (typeof ev.source !== 'string' || ev.source === '') return 'source missing or not a non-empty string';
  if (!isUriReference(ev.source)) return `source ${JSON.stringify(ev.source)} is not a URI-reference`;
  if (typeof ev.type !== 'string' || !/^cpm\.\S+$/.test(ev.type)) return `type ${JSON.stringify(ev.type)} does not start with "cpm."`;
  if (!isRfc3339(ev.time)) return `time ${JSON.stringify(ev.time)} is not RFC 3339`;
  if ('subject' in ev && (typeof ev.subject !== 'string' || ev.subject === '')) return 'subject present but not a non-empty string';
  if ('datacontenttype' in ev && ev.datacontenttype !== 'application/json') {
    return `datacontenttype is ${JSON.stringify(ev.datacontenttype)}, not "application/json"`;
  }
  if ('dataschema' in ev && (typeof ev.dataschema !== 'string' || !isUriReference(ev.dataschema) || !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(ev.dataschema))) {
    return 'dataschema present but not an absolute URI';
  }
  if ('data_base64' in ev) return 'data_base64 present (cpmd sends JSON data)';
  if (ev.data === null || typeof ev.data !== 'object' || Array.isArray(ev.data)) return 'data missing or not a JSON object';
  for (const [name, value] of Object.entries(ev)) {
    if (CE_KNOWN.has(name)) continue;
    if (!/^[a-z0-9]+$/.test(name)) return `attribute name ${JSON.stringify(name)} is not [a-z0-9]+`;
    const ok = typeof value === 'string' || typeof value === 'boolean' || Number.isInteger(value);
    if (!ok) return `extension attribute ${name} is not a string, integer or boolean`;
  }
  return true;
}

/** `true` when ct is application/cloudevents+json, optionally with charset=utf-8; else a reason. */
function checkContentType(ct) {
  if (typeof ct !== 'string') return 'content-type missing';
  const [type, ...params] = ct.split(';');
  if (type.trim().toLowerCase() !== 'application/cloudevents+json') return `content-type ${JSON.stringify(ct)} is not application/cloudevents+json`;
  if (params.length > 1) return `content-type ${JSON.stringify(ct)} has more than one parameter`;
  if (params.length === 1 && !/^\s*charset\s*=\s*("?)utf-8\1\s*$/i.test(params[0])) {
    return `content-type parameter ${JSON.stringify(params[0].trim())} is not charset=utf-8`;
  }
  return true;
}

/**
 * Validates a receiver mode (see {@link startReceiver}); returns its
 * normalised form {kind: 'answer'|'hang'|'reset'|'delay', status?, retryAfter?, delayMs?}.
 */
function normalizeMode(m) {
  const bad = () => new TypeError(`unknown receiver mode ${JSON.stringify(m)}`);
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw bad();
  const status = (s) => {
    if (!Number.isInteger(s) || s < 200 || s > 599) throw bad();
    return s;
  };
  switch (Object.keys(m).sort().join(',')) {
    case 'ok':
      if (m.ok !== true) throw bad();
      return { kind: 'answer', status: 204 };
    case 'status':
      return { kind: 'answer', status: status(m.status) };
    case 'retryAfter,status': {
      const ra = m.retryAfter;
      if (!((Number.isInteger(ra) && ra >= 0) || (typeof ra === 'string' && ra !== ''))) throw bad();
      return { kind: 'answer', status: status(m.status), retryAfter: String(ra) };
    }
    case 'hang':
      if (m.hang !== true) throw bad();
      return { kind: 'hang' };
    case 'reset':
      if (m.reset !== true) throw bad();
      return { kind: 'reset' };
    case 'delayMs':
      if (typeof m.delayMs !== 'number' || !Number.isFinite(m.delayMs) || m.delayMs < 0) throw bad();
      return { kind: 'delay', delayMs: m.delayMs };
    default:
      throw bad();
  }
}

const OK = normalizeMode({ ok: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @typedef {object} Delivery  an accepted (2xx-answered) delivery
 * @property {string} id        the webhook-id (=== event.id)
 * @property {number} timestamp the webhook-timestamp, seconds
 * @property {object} event     the parsed CloudEvent
 * @property {Buffer} raw       the exact body bytes
 * @property {object} headers   the request headers (lower-case names)
 * @property {number} at        Date.now() when the request arrived
 *
 * @typedef {object} Attempt   every request, in arrival order
 * @property {string|undefined} id  the webhook-id header
 * @property {number} at
 * @property {number|'hang'|'reset'|'aborted'|null} answered  the status sent;
 *   'hang' / 'reset' for those faults; 'aborted' when the client went away
 *   (or the receiver stopped) first; null while a delayed answer is pending
 * @property {string} [subject]  event.subject of a verified request
 *
 * @typedef {object} Invalid   a request that failed verification (answered 400)
 * @property {string|undefined} id
 * @property {number} at
 * @property {string} reason
 * @property {object} headers
 * @property {Buffer} raw
 *
 * @typedef {{ok: true} | {status: number} | {status: number, retryAfter: number|string}
 *   | {hang: true} | {reset: true} | {delayMs: number}} Mode
 */

/**
 * Starts a receiver on 127.0.0.1. Every request is read completely and
 * verified first; one that fails is answered 400 and listed in `invalid`.
 * A verified one is then answered as the current mode says:
 *   {ok: true}                       204 (the default)
 *   {status: N}                      N (a 2xx N counts as accepted)
 *   {status: 429, retryAfter: s}     N with Retry-After: s
 *   {hang: true}                     never answered; the socket stays open until stop()
 *   {reset: true}                    the socket is reset without an answer
 *   {delayMs: N}                     204 after N ms
 *   (event, attemptNo) => Mode|undefined   chosen per request; attemptNo
 *                                    counts verified requests with this id,
 *                                    from 1; undefined means {ok: true}
 *
 * @param {object} o
 * @param {string} o.secret  the endpoint's `whsec_…` secret
 * @param {number} [o.port]  0 (default) for a free port
 * @returns {Promise<Receiver>}
 *
 * @typedef {object} Receiver
 * @property {string} url      http://127.0.0.1:PORT/hook
 * @property {number} port
 * @property {Delivery[]} received  accepted deliveries, in arrival order
 * @property {Attempt[]} attempts   every request, in arrival order
 * @property {Invalid[]} invalid    requests that failed verification
 * @property {(mode: Mode | ((event: object, attemptNo: number) => Mode|undefined)) => void} setMode
 * @property {(predicate: (received: Delivery[]) => unknown, timeoutMs?: number) => Promise<unknown>} waitFor
 *   resolves with the predicate's first truthy result; rejects with a
 *   summary of what arrived on timeout, or with the predicate's error
 * @property {() => void} clear      empties received, attempts and invalid (in place)
 * @property {() => Promise<void>} stop     closes the server, destroying open sockets (hanging ones too)
 * @property {() => Promise<void>} restart  listens again on the same port (stops first if running)
 */
export async function startReceiver({ secret, port = 0 } = {}) {
  secretKey(secret); // a bad secret fails here, not at the first delivery
  const received = [];
  const attempts = [];
  const invalid = [];
  const arrival = new WeakMap(); // Delivery -> arrival number, to keep `received` in arrival order
  const triesById = new Map();
  const sockets = new Set();
  const pending = new Set(); // delayed answers: {timer, attempt}
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  let mode = OK;
  let arrivals = 0;
  let server = null;

  const changed = () => changes.emit('change');

  function readBody(req) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
      req.on('aborted', () => reject(new Error('aborted')));
    });
  }

  /** {event, id, timestamp} for a valid request, or {reason}. */
  function verify(req, raw) {
    if (req.method !== 'POST') return { reason: `method ${req.method}, not POST` };
    if (req.url !== '/hook') return { reason: `path ${req.url}, not /hook` };
    for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'content-type']) {
      const values = req.headersDistinct[h];
      if (values && values.length > 1) return { reason: `${h} header sent ${values.length} times` };
    }
    const ct = checkContentType(req.headers['content-type']);
    if (ct !== true) return { reason: ct };
    const id = req.headers['webhook-id'];
    const timestamp = req.headers['webhook-timestamp'];
    const sig = verifyStandardWebhook({ secret, id, timestamp, body: raw, signature: req.headers['webhook-signature'] });
    if (sig !== true) return { reason: sig };
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
    } catch {
      return { reason: 'body is not valid UTF-8' };
    }
    let event;
    try {
      event = JSON.parse(text);
    } catch (e) {
      return { reason: `body is not JSON: ${e.message}` };
    }
    const ce = verifyCloudEvent(event);
    if (ce !== true) return { reason: `not a CloudEvent: ${ce}` };
    if (event.id !== id) return { reason: `webhook-id ${JSON.stringify(id)} differs from the event id ${JSON.stringify(event.id)}` };
    return { event, id, timestamp: Number(timestamp) };
  }

  function answer(res, status, text = '', headers = {}) {
    if (status === 204) {
      res.writeHead(204, headers);
      res.end();
    } else {
      res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    }
  }

  async function handle(req, res) {
    const at = Date.now();
    const n = ++arrivals;
    const id = req.headers['webhook-id'];
    let raw;
    try {
      raw = await readBody(req);
    } catch {
      attempts.push({ id, at, answered: 'aborted' });
      changed();
      return;
    }
    const v = verify(req, raw);
    if (v.reason) {
      attempts.push({ id, at, answered: 400 });
      invalid.push({ id, at, reason: v.reason, headers: req.headers, raw });
      answer(res, 400, `${v.reason}\n`);
      changed();
      return;
    }
    const attemptNo = (triesById.get(v.id) ?? 0) + 1;
    triesById.set(v.id, attemptNo);
    const attempt = { id: v.id, at, answered: null, subject: v.event.subject };
    attempts.push(attempt);

    let m = mode;
    if (typeof m === 'function') {
      try {
        const chosen = m(v.event, attemptNo);
        m = chosen === undefined || chosen === null ? OK : normalizeMode(chosen);
      } catch (e) {
        const reason = `mode function failed: ${e.message}`;
        attempt.answered = 500;
        invalid.push({ id: v.id, at, reason, headers: req.headers, raw });
        answer(res, 500, `${reason}\n`);
        changed();
        return;
      }
    }

    const accept = (status, headers) => {
      if (req.socket.destroyed || res.writableEnded) {
        attempt.answered = 'aborted';
      } else {
        answer(res, status, '', headers);
        attempt.answered = status;
        if (status >= 200 && status < 300) {
          const delivery = { id: v.id, timestamp: v.timestamp, event: v.event, raw, headers: req.headers, at };
          arrival.set(delivery, n);
          let i = received.length;
          while (i > 0 && arrival.get(received[i - 1]) > n) i--;
          received.splice(i, 0, delivery);
        }
      }
      changed();
    };

    switch (m.kind) {
      case 'answer':
        accept(m.status, m.retryAfter === undefined ? {} : { 'retry-after': m.retryAfter });
        break;
      case 'hang':
        attempt.answered = 'hang';
        changed();
        break;
      case 'reset':
        attempt.answered = 'reset';
        if (typeof req.socket.resetAndDestroy === 'function') req.socket.resetAndDestroy();
        else req.socket.destroy();
        changed();
        break;
      case 'delay': {
        const p = { attempt };
        p.timer = setTimeout(() => {
          pending.delete(p);
          accept(204);
        }, m.delayMs);
        pending.add(p);
        changed();
        break;
      }
    }
  }

  function listenOnce(p) {
    return new Promise((resolve, reject) => {
      const s = http.createServer({ requestTimeout: 0 }, (req, res) => {
        handle(req, res).catch((e) => {
          invalid.push({ id: req.headers['webhook-id'], at: Date.now(), reason: `receiver error: ${e.stack}`, headers: req.headers, raw: Buffer.alloc(0) });
          res.destroy();
          changed();
        });
      });
      s.on('connection', (sock) => {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
      });
      s.on('clientError', (err, sock) => {
        // Malformed HTTP is cpmd's fault; a peer resetting its socket is not.
        if (typeof err.code === 'string' && err.code.startsWith('HPE_')) {
          const at = Date.now();
          attempts.push({ id: undefined, at, answered: 400 });
          invalid.push({ id: undefined, at, reason: `malformed HTTP: ${err.code}`, headers: {}, raw: err.rawPacket ?? Buffer.alloc(0) });
          changed();
          if (sock.writable) {
            sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
            return;
          }
        }
        sock.destroy();
      });
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => {
        s.off('error', reject);
        resolve(s);
      });
    });
  }

  async function listen(p) {
    // After a stop the port may still be briefly busy; retry for up to 3 s.
    for (let tries = 0; ; tries++) {
      try {
        return await listenOnce(p);
      } catch (e) {
        if (e.code !== 'EADDRINUSE' || p === 0 || tries >= 30) throw e;
        await sleep(100);
      }
    }
  }

  server = await listen(port);
  const actualPort = server.address().port;

  const describe = (list, fmt) => list.slice(-5).map(fmt).join('; ');

  /** @type {Receiver} */
  const rx = {
    url: `http://127.0.0.1:${actualPort}/hook`,
    port: actualPort,
    received,
    attempts,
    invalid,

    setMode(next) {
      mode = typeof next === 'function' ? next : normalizeMode(next);
    },

    waitFor(predicate, timeoutMs = 10000) {
      if (typeof predicate !== 'function') throw new TypeError('waitFor needs a predicate function');
      return new Promise((resolve, reject) => {
        let timer;
        const done = (fn, v) => {
          clearTimeout(timer);
          changes.off('change', check);
          fn(v);
        };
        function check() {
          let v;
          try {
            v = predicate(received);
          } catch (e) {
            done(reject, e);
            return;
          }
          if (v) done(resolve, v);
        }
        timer = setTimeout(() => {
          const src = String(predicate).replace(/\s+/g, ' ').slice(0, 160);
          const msg =
            `receiver.waitFor timed out after ${timeoutMs} ms waiting for ${src}\n` +
            `  ${received.length} received; last: ${describe(received, (d) => `${d.event.type} ${d.id} subject=${d.event.subject} seq=${d.event.data?.seq}`) || 'none'}\n` +
            `  ${attempts.length} attempts; last: ${describe(attempts, (a) => `${a.id} -> ${a.answered}`) || 'none'}\n` +
            `  ${invalid.length} invalid${invalid.length ? `: ${describe(invalid, (x) => `${x.id}: ${x.reason}`)}` : ''}`;
          done(reject, new Error(msg));
        }, timeoutMs);
        changes.on('change', check);
        check();
      });
    },

    clear() {
      received.length = 0;
      attempts.length = 0;
      invalid.length = 0;
      triesById.clear();
    },

    async stop() {
      if (!server) return;
      const s = server;
      server = null;
      for (const p of pending) {
        clearTimeout(p.timer);
        p.attempt.answered = 'aborted';
      }
      pending.clear();
      const closed = new Promise((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
      for (const sock of sockets) sock.destroy();
      await closed;
      changed();
    },

    async restart() {
      if (server) await rx.stop();
      server = await listen(actualPort);
    },
  };
  return rx;
}

/**
 * Per-subject order violations among deliveries (in arrival order): for the
 * same `event.subject`, a later-arriving distinct event whose `event.data.seq`
 * is smaller than that of an earlier distinct one. Repeats of an id already
 * received are ignored. Events without a subject are not ordered; an event
 * with a subject but no integer data.seq is reported too.
 * @param {Delivery[]} received
 * @returns {{subject: string, id: string, seq: number|undefined, after: {id: string, seq: number}|null, message: string}[]}
 */
export function perSubjectOrder(received) {
  const seen = new Set();
  const highest = new Map(); // subject -> {id, seq}
  const violations = [];
  for (const d of received) {
    const ev = d.event;
    if (seen.has(ev.id)) continue;
    seen.add(ev.id);
    if (typeof ev.subject !== 'string') continue;
    const seq = ev.data?.seq;
    if (!Number.isInteger(seq)) {
      violations.push({ subject: ev.subject, id: ev.id, seq, after: null, message: `${ev.id} (subject ${ev.subject}) has no integer data.seq` });
      continue;
    }
    const top = highest.get(ev.subject);
    if (top && seq < top.seq) {
      violations.push({
        subject: ev.subject, id: ev.id, seq, after: { ...top },
        message: `subject ${ev.subject}: ${ev.id} (seq ${seq}) arrived after ${top.id} (seq ${top.seq})`,
      });
    } else {
      highest.set(ev.subject, { id: ev.id, seq });
    }
  }
  return violations;
}

/**
 * Ids delivered more than once, each listed once, in order of first arrival.
 * @param {Delivery[]} received
 * @returns {string[]}
 */
export function duplicatesOf(received) {
  const counts = new Map();
  for (const d of received) counts.set(d.id, (counts.get(d.id) ?? 0) + 1);
  return [...counts].filter(([, c]) => c > 1).map(([id]) => id);
}
