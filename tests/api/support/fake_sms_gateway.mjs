// SPDX-License-Identifier: Apache-2.0
// A fake SMS gateway for the sms_gateway connector tests: it speaks the
// suppression contract documented at the top of src/sync/sms_gateway.c and
// checks every request strictly (method, path, bearer token, Content-Type,
// Idempotency-Key === event_id, exactly the contract's fields in the right
// formats: E.164 phone, a known ledger type as reason, RFC 3339 time). It
// keeps the current suppression list, de-duplicates on Idempotency-Key like
// a real idempotent API (a repeated key answers 200 without a second effect,
// and is counted), and can be told to fail the next N requests (429 with
// Retry-After, 500, 401, 422 with a message).
//
// startBearerJsonFake, the part shared with fake_ma.mjs, is exported too.
import { EventEmitter } from 'node:events';
import http from 'node:http';

/** The ledger types cpmd records (what `reason` / `event_type` may be). */
export const LEDGER_TYPES = new Set([
  'consent.given', 'consent.refused', 'consent.withdrawn', 'consent.objected',
  'consent.objection_withdrawn', 'consent.expired', 'consent.expiring', 'consent.reconsent_required',
  'preferences.changed', 'subject.erased', 'subject.age_status_set', 'identity.linked',
  'guardian.linked', 'config.created', 'config.updated', 'config.deleted', 'destination.test',
  'rights.requested', 'rights.updated',
]);

export const E164 = /^\+[1-9][0-9]{6,14}$/;
export const EVENT_ID = /^evt_[0-9a-f]{32}$/;
export const PURPOSE_ID = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;

/** True when s is an RFC 3339 date-time that names a real instant. */
export const isRfc3339 = (s) => typeof s === 'string' && RFC3339.test(s) && !Number.isNaN(Date.parse(s));

/**
 * The first fault of a JSON body against a field table, or null.
 * fields: name → {required?: boolean, check: (value) => string|null}.
 * Unknown fields are faults.
 */
export function checkFields(body, fields) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body is not a JSON object';
  for (const k of Object.keys(body)) if (!(k in fields)) return `unknown field '${k}'`;
  for (const [name, f] of Object.entries(fields)) {
    if (!(name in body)) {
      if (f.required) return `missing field '${name}'`;
      continue;
    }
    const why = f.check(body[name]);
    if (why) return `${name}: ${why}`;
  }
  return null;
}

const FAULT_BODIES = {
  401: { error: 'unauthorized', message: 'invalid or expired token' },
  403: { error: 'forbidden', message: 'this token may not change suppressions' },
  429: { error: 'rate_limited', message: 'too many requests' },
  500: { error: 'internal', message: 'internal error' },
  503: { error: 'unavailable', message: 'try again later' },
};

/**
 * A JSON-over-HTTP fake behind a bearer token, with idempotency keys and
 * scripted faults. routes: path (under basePath) → {check(body) →
 * string|null, apply(body) → answer object, idField?: the body field the
 * Idempotency-Key must equal, default event_id}. Every request is checked in
 * this order: POST (405), known path (404), bearer token (401),
 * Content-Type application/json (415), one Idempotency-Key header (400),
 * a JSON body that passes route.check (400), Idempotency-Key equal to
 * body[idField] (400); a request failing any of them is also listed in
 * `invalid` (cpmd should never send one). Then a scripted fault answers, if
 * one is due; then a key seen before answers as the first time (200, no
 * second effect; counted in `replays`; the same key with another body is
 * 422 and invalid); else route.apply has its effect and answers 200.
 */
export async function startBearerJsonFake({ token, basePath, routes }) {
  if (typeof token !== 'string' || token === '') throw new TypeError('the fake needs a bearer token');
  const requests = [];
  const invalid = [];
  const seen = new Map(); // Idempotency-Key → {raw, answer}
  const faults = [];
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  const sockets = new Set();
  let replays = 0;
  const changed = () => changes.emit('change');

  const send = (res, status, body, headers = {}) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  async function handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString('utf8');
    const rec = {
      at: Date.now(), method: req.method, path: req.url, key: req.headers['idempotency-key'],
      headers: req.headers, raw, body: undefined, status: null,
    };
    requests.push(rec);
    const answer = (status, body, headers) => {
      rec.status = status;
      send(res, status, body, headers);
      changed();
    };
    const refuse = (status, reason) => {
      invalid.push({ at: rec.at, reason, request: rec });
      answer(status, { error: status === 401 ? 'unauthorized' : 'invalid_request', message: reason });
    };
    if (req.method !== 'POST') return refuse(405, `method ${req.method}, not POST`);
    const sub = req.url.startsWith(`${basePath}/`) ? req.url.slice(basePath.length) : undefined;
    const route = sub !== undefined && Object.hasOwn(routes, sub) ? routes[sub] : undefined;
    if (!route) return refuse(404, `no such path ${req.url}`);
    if (req.headers.authorization !== `Bearer ${token}`) return refuse(401, 'wrong or missing bearer token');
    if (!/^application\/json(;\s*charset=utf-8)?$/i.test(req.headers['content-type'] ?? '')) {
      return refuse(415, `Content-Type ${req.headers['content-type']}, not application/json`);
    }
    const keys = req.headersDistinct['idempotency-key'];
    if (!keys || keys.length !== 1 || keys[0] === '') return refuse(400, 'exactly one Idempotency-Key header is required');
    try {
      rec.body = JSON.parse(raw);
    } catch (e) {
      return refuse(400, `the body is not JSON: ${e.message}`);
    }
    const why = route.check(rec.body);
    if (why) return refuse(400, why);
    const idField = route.idField ?? 'event_id';
    if (rec.body[idField] !== rec.key) return refuse(400, `Idempotency-Key ${rec.key} differs from ${idField} ${rec.body[idField]}`);
    if (faults.length > 0) {
      const f = faults[0];
      if (--f.left <= 0) faults.shift();
      const body = f.status === 422 || f.status === 400
        ? { error: 'unprocessable', message: f.message ?? 'the request cannot be processed' }
        : f.body ?? FAULT_BODIES[f.status] ?? { error: 'error', message: `HTTP ${f.status}` };
      return answer(f.status, body, f.retryAfter === undefined ? {} : { 'retry-after': String(f.retryAfter) });
    }
    const before = seen.get(rec.key);
    if (before) {
      if (before.raw !== raw) return refuse(422, `Idempotency-Key ${rec.key} reused with another body`);
      replays++;
      rec.replay = true;
      return answer(200, before.answer);
    }
    const result = route.apply(rec.body, rec);
    seen.set(rec.key, { raw, answer: result });
    return answer(200, result);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      invalid.push({ at: Date.now(), reason: `fake error: ${e.stack}`, request: null });
      res.destroy();
      changed();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;

  const fake = {
    url: `http://127.0.0.1:${port}${basePath}`,
    port,
    /** Every request, in arrival order: {at, method, path, key, headers, raw, body, status, replay?}. */
    requests,
    /** Requests that broke the contract: {at, reason, request}. */
    invalid,
    /** How many requests repeated an Idempotency-Key already answered (no second effect). */
    get replays() {
      return replays;
    },
    /** The requests carrying Idempotency-Key key (attempts of one event). */
    attemptsOf: (key) => requests.filter((r) => r.key === key),
    /**
     * The next n requests that pass the checks answer fault instead:
     * {status: 429, retryAfter: 1} | {status: 500} | {status: 401} |
     * {status: 422, message: '…'} (any status; body optional).
     */
    failNext(n, fault) {
      faults.push({ ...fault, left: n });
    },
    /** Resolves with pred(fake)'s first truthy value; rejects after timeoutMs. */
    waitFor(pred, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          let v;
          try {
            v = pred(fake);
          } catch (e) {
            done();
            reject(e);
            return;
          }
          if (v) {
            done();
            resolve(v);
          }
        };
        const timer = setTimeout(() => {
          done();
          const last = requests.slice(-5).map((r) => `${r.path} ${r.key} -> ${r.status}`).join('; ');
          reject(new Error(`fake waitFor timed out after ${timeoutMs} ms: ${String(pred).slice(0, 160)}\n` +
            `  ${requests.length} requests; last: ${last || 'none'}\n` +
            `  invalid: ${invalid.map((i) => i.reason).join('; ') || 'none'}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          changes.off('change', check);
        };
        changes.on('change', check);
        check();
      });
    },
    async stop() {
      const closed = new Promise((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
  return fake;
}

const str = (re, what) => (v) => (typeof v === 'string' && re.test(v) ? null : `must be ${what}`);

const SMS_FIELDS = {
  phone: { required: true, check: str(E164, 'an E.164 phone number like +8613800138000') },
  reason: { required: true, check: (v) => (LEDGER_TYPES.has(v) ? null : `unknown reason ${JSON.stringify(v)}`) },
  purpose: { required: false, check: str(PURPOSE_ID, 'a purpose id like marketing.sms') },
  event_id: { required: true, check: str(EVENT_ID, 'an event id evt_ + 32 hex digits') },
  occurred_at: { required: true, check: (v) => (isRfc3339(v) ? null : 'must be an RFC 3339 date-time') },
};

export const OTP_ID = /^otp_[0-9a-f]{32}$/;

const MESSAGE_FIELDS = {
  phone: { required: true, check: str(E164, 'an E.164 phone number like +8613800138000') },
  template: { required: true, check: (v) => (v === 'otp' ? null : `unknown template ${JSON.stringify(v)}`) },
  params: {
    required: true,
    check: (v) => checkFields(v, { code: { required: true, check: str(/^[0-9]{6}$/, 'six digits') } }),
  },
  message_id: { required: true, check: str(OTP_ID, 'a challenge id otp_ + 32 hex digits') },
};

/**
 * Starts the fake gateway on 127.0.0.1; its endpoint is `url`
 * (http://127.0.0.1:PORT/sms). Besides the shared fields (requests,
 * invalid, replays, attemptsOf, failNext, waitFor, stop):
 *   suppressions         Map "phone purpose" → {phone, purpose, reason, event_id}
 *   suppressedPurposes(phone)  the purposes the number is suppressed for, sorted
 *   effects              every first-time effect: {op: 'suppress'|'unsuppress', …body}
 *   messages             every text sent (POST /messages, first time):
 *                        {phone, template, code, message_id}
 *   codeFor(phone)       the last code sent to phone, or undefined
 */
export async function startFakeSmsGateway({ token }) {
  const suppressions = new Map();
  const effects = [];
  const messages = [];
  const entry = (b) => `${b.phone} ${b.purpose ?? ''}`;
  const fake = await startBearerJsonFake({
    token,
    basePath: '/sms',
    routes: {
      '/suppressions': {
        check: (b) => checkFields(b, SMS_FIELDS),
        apply: (b) => {
          suppressions.set(entry(b), { phone: b.phone, purpose: b.purpose ?? null, reason: b.reason, event_id: b.event_id });
          effects.push({ op: 'suppress', ...b });
          return { suppressed: true };
        },
      },
      '/messages': {
        idField: 'message_id',
        check: (b) => checkFields(b, MESSAGE_FIELDS),
        apply: (b) => {
          messages.push({ phone: b.phone, template: b.template, code: b.params.code, message_id: b.message_id });
          return { sent: true, message_id: b.message_id };
        },
      },
      '/suppressions/delete': {
        check: (b) => checkFields(b, SMS_FIELDS),
        apply: (b) => {
          const deleted = suppressions.delete(entry(b));
          effects.push({ op: 'unsuppress', ...b });
          return { deleted };
        },
      },
    },
  });
  fake.suppressions = suppressions;
  fake.effects = effects;
  fake.messages = messages;
  fake.codeFor = (phone) => messages.filter((m) => m.phone === phone).at(-1)?.code;
  fake.suppressedPurposes = (phone) =>
    [...suppressions.values()].filter((s) => s.phone === phone).map((s) => s.purpose).sort();
  return fake;
}
