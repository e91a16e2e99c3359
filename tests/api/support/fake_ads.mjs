// SPDX-License-Identifier: Apache-2.0
// A fake of both ad platforms' audience APIs for the tencent_ads and
// ocean_engine connector tests, on one loopback port. Every request is
// checked strictly against the documented shape and answered the way the
// vendor answers (HTTP 200, a JSON code):
//
// 腾讯广告 Marketing API v1.3 (developers.e.qq.com, TencentAd SDKs):
//   POST /v1.3/custom_audience_files/add?access_token=…&timestamp=<s>&nonce=<≤32>
//        multipart/form-data: account_id, audience_id, user_id_type
//        (HASH_MOBILE_PHONE), operation_type (APPEND | REDUCE), file (one
//        lowercase MD5 hex a line)
//   → {"code":0,"message":"","message_cn":"","data":{"custom_audience_file_id":N}}
//   timestamp within 300 s, nonce never reused (12100), codes from
//   developers.e.qq.com/v3.0/docs/errors.
//
// 巨量引擎 Marketing API (bububa/oceanengine, MrNullPoint/OceanEngineApi):
//   POST /open_api/2/dmp/data_source/file/upload/   header Access-Token
//        multipart/form-data: advertiser_id, file (a zip whose lines are each
//        base64(DmpData{idList:[IdItem{dataType: 6 MOBILE_HASH_SHA256, id:
//        lowercase SHA-256 hex}]})), file_signature (MD5 hex of the zip)
//   → {"code":0,"message":"OK","request_id":"…","data":{"file_path":"…"}}
//   POST /open_api/2/dmp/data_source/update/        header Access-Token
//        JSON {advertiser_id: number, data_source_id: string, operation_type:
//        1 | 2, data_format: 0, file_storage_type: 0, file_paths: [uploaded]}
//   → {"code":0,"message":"OK","request_id":"…","data":{}}
//
// It keeps each audience's current member set (hashes), records every
// request and every accepted batch (per vendor and operation), lists the
// requests that failed a check in `invalid` (a test asserts it is empty),
// refuses any request carrying one of the plaintext numbers it is given, and
// can be told to answer the vendor's rate-limit code (or any code) for the
// next N requests, or that the access token has expired.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { inflateRawSync } from 'node:zlib';

export const TENCENT_PATH = '/v1.3/custom_audience_files/add';
export const OCEAN_UPLOAD_PATH = '/open_api/2/dmp/data_source/file/upload/';
export const OCEAN_UPDATE_PATH = '/open_api/2/dmp/data_source/update/';

/** The vendors' rate-limit answers. */
export const RATE_LIMIT = {
  tencent: { code: 11016, message: 'Application has reached the request limit per second.' },
  ocean: { code: 40100, message: 'Too many requests. Please retry in some time.' },
};

const TIMESTAMP_TOLERANCE_S = 300;

export const md5 = (s) => createHash('md5').update(s).digest('hex');
export const sha256 = (s) => createHash('sha256').update(s).digest('hex');

/** A request that breaks the documented shape: answered with the vendor's code, listed in invalid. */
class Invalid extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Parses multipart/form-data (RFC 7578) strictly: CRLF line ends, each part
 * with one Content-Disposition: form-data; name="…" (filename="…" for files),
 * no name twice, nothing after the closing delimiter but CRLF.
 * Returns Map name → {value: Buffer, filename, contentType}.
 */
export function parseMultipart(contentType, raw, code) {
  const m = /^multipart\/form-data;\s*boundary=("?)([A-Za-z0-9'()+_,.\/:=?-]{1,70})\1$/i.exec(contentType ?? '');
  if (!m) throw new Invalid(code, `content-type ${JSON.stringify(contentType)} is not multipart/form-data with a boundary`);
  const delimiter = Buffer.from(`--${m[2]}`);
  const parts = new Map();
  let at = raw.indexOf(delimiter);
  if (at !== 0) throw new Invalid(code, 'multipart body does not start with the boundary');
  for (;;) {
    at += delimiter.length;
    if (raw.subarray(at, at + 2).toString() === '--') {
      const rest = raw.subarray(at + 2).toString('latin1');
      if (rest !== '\r\n' && rest !== '') throw new Invalid(code, 'bytes after the closing boundary');
      break;
    }
    if (raw.subarray(at, at + 2).toString() !== '\r\n') throw new Invalid(code, 'boundary not followed by CRLF');
    at += 2;
    const headerEnd = raw.indexOf('\r\n\r\n', at);
    if (headerEnd < 0) throw new Invalid(code, 'part without a header end');
    const headers = raw.subarray(at, headerEnd).toString('utf8').split('\r\n');
    const next = raw.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    if (next < 0) throw new Invalid(code, 'part without a closing boundary');
    const value = raw.subarray(headerEnd + 4, next);
    let name, filename, partType;
    for (const h of headers) {
      const colon = h.indexOf(':');
      const key = h.slice(0, colon).trim().toLowerCase();
      const v = h.slice(colon + 1).trim();
      if (key === 'content-disposition') {
        const d = /^form-data; name="([^"]+)"(?:; filename="([^"]+)")?$/.exec(v);
        if (!d) throw new Invalid(code, `bad Content-Disposition ${JSON.stringify(v)}`);
        [, name, filename] = d;
      } else if (key === 'content-type') {
        partType = v;
      } else {
        throw new Invalid(code, `unexpected part header ${JSON.stringify(h)}`);
      }
    }
    if (!name) throw new Invalid(code, 'part without a name');
    if (parts.has(name)) throw new Invalid(code, `part ${name} sent twice`);
    parts.set(name, { value, filename, contentType: partType });
    at = next + 2;
  }
  return parts;
}

function crc32(buf) {
  let crc = 0xffffffff;
  for (const b of buf) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The files of a zip (PKWARE APPNOTE): stored or deflated, CRC checked, ending in an end record. */
export function unzip(buf, code) {
  const files = [];
  let at = 0;
  while (buf.length >= at + 4 && buf.readUInt32LE(at) === 0x04034b50) {
    if (buf.length < at + 30) throw new Invalid(code, 'zip: truncated local header');
    const flags = buf.readUInt16LE(at + 6);
    const method = buf.readUInt16LE(at + 8);
    const crc = buf.readUInt32LE(at + 14);
    const size = buf.readUInt32LE(at + 18);
    const plainSize = buf.readUInt32LE(at + 22);
    const nameLen = buf.readUInt16LE(at + 26);
    const extraLen = buf.readUInt16LE(at + 28);
    if (flags & 0x9) throw new Invalid(code, 'zip: encrypted or data-descriptor entries are not expected');
    const name = buf.subarray(at + 30, at + 30 + nameLen).toString('utf8');
    const start = at + 30 + nameLen + extraLen;
    const packed = buf.subarray(start, start + size);
    if (packed.length !== size) throw new Invalid(code, 'zip: truncated entry');
    let data;
    if (method === 0) data = packed;
    else if (method === 8) data = inflateRawSync(packed);
    else throw new Invalid(code, `zip: method ${method}`);
    if (data.length !== plainSize || crc32(data) !== crc) throw new Invalid(code, `zip: ${name} fails its size or CRC`);
    files.push({ name, data });
    at = start + size;
  }
  if (files.length === 0 || buf.length < at + 4 || buf.readUInt32LE(at) !== 0x02014b50) throw new Invalid(code, 'zip: no entries or no central directory');
  const end = buf.length - 22;
  if (end < at || buf.readUInt32LE(end) !== 0x06054b50 || buf.readUInt16LE(end + 10) !== files.length) {
    throw new Invalid(code, 'zip: no end of central directory record for the entries');
  }
  return files;
}

/** protobuf fields of one message: [{field, wire, value (number | Buffer)}]. */
function protoFields(buf, code) {
  const out = [];
  let at = 0;
  const varint = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (at >= buf.length || shift > 49) throw new Invalid(code, 'protobuf: bad varint');
      const b = buf[at++];
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return v;
      shift += 7;
    }
  };
  while (at < buf.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 2) {
      const len = varint();
      if (at + len > buf.length) throw new Invalid(code, 'protobuf: truncated field');
      out.push({ field, wire, value: buf.subarray(at, at + len) });
      at += len;
    } else throw new Invalid(code, `protobuf: wire type ${wire}`);
  }
  return out;
}

/** The ids of a DMP data source file (zip of base64 DmpData lines), checked. */
export function dmpIds(zip, code) {
  const ids = [];
  for (const file of unzip(zip, code)) {
    const text = file.data.toString('utf8');
    if (!text.endsWith('\n')) throw new Invalid(code, `${file.name}: last line not ended by a newline`);
    for (const line of text.slice(0, -1).split('\n')) {
      if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(line) || line === '') {
        throw new Invalid(code, `${file.name}: line ${JSON.stringify(line.slice(0, 40))} is not base64`);
      }
      const items = protoFields(Buffer.from(line, 'base64'), code);
      if (items.length === 0 || items.some((f) => f.field !== 1 || f.wire !== 2)) throw new Invalid(code, 'DmpData: only idList expected');
      for (const item of items) {
        const f = protoFields(item.value, code);
        const type = f.filter((x) => x.field === 2 && x.wire === 0);
        const id = f.filter((x) => x.field === 3 && x.wire === 2);
        if (type.length !== 1 || id.length !== 1) throw new Invalid(code, 'IdItem: dataType and id are required, once');
        if (type[0].value !== 6) throw new Invalid(code, `IdItem.dataType ${type[0].value}, not 6 (MOBILE_HASH_SHA256)`);
        const text2 = id[0].value.toString('utf8');
        if (!/^[0-9a-f]{64}$/.test(text2)) throw new Invalid(code, `IdItem.id ${JSON.stringify(text2)} is not a lowercase SHA-256 hex`);
        ids.push(text2);
      }
    }
  }
  return ids;
}

/**
 * Starts the fake. options:
 *   tencent: {token, accountId, audiences: [audience ids]}
 *   ocean:   {token, advertiserId, dataSources: [data source ids]}
 *   plaintext: phone numbers (11 digits) that must never appear in a request
 */
export async function startFakeAds({ tencent, ocean, plaintext = [] }) {
  const members = { tencent: new Map(), ocean: new Map() };
  for (const a of tencent.audiences) members.tencent.set(String(a), new Set());
  for (const d of ocean.dataSources) members.ocean.set(String(d), new Set());
  const nonces = new Set();
  const uploads = new Map(); // file_path → {advertiser, ids}
  const faults = { tencent: [], ocean: [] }; // {code, message, count}
  const expired = { tencent: false, ocean: false };
  const requests = []; // {vendor, path, at, code, op?}
  const batches = []; // {vendor, op, audience, ids, at}
  const invalid = []; // {vendor, path, code, reason}
  const waiters = [];
  let fileIds = 1000;

  const changed = () => {
    for (const w of [...waiters]) w();
  };

  function send(res, vendor, body) {
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  const tencentAnswer = (code, message, data = {}) => ({ code, message, message_cn: message, data });
  const oceanAnswer = (code, message, data = {}) => ({ code, message, request_id: randomBytes(8).toString('hex'), data });

  function noPlaintext(vendor, raw, url) {
    const hay = `${url}\n${raw.toString('latin1')}`;
    for (const p of plaintext) {
      if (hay.includes(p)) throw new Invalid(vendor === 'tencent' ? 34109 : 40002, 'a plaintext phone number was sent');
    }
  }

  function fault(vendor) {
    const f = faults[vendor][0];
    if (!f) return null;
    if (--f.count <= 0) faults[vendor].shift();
    return f;
  }

  function applyBatch(vendor, op, audience, ids) {
    const set = members[vendor].get(audience);
    for (const id of ids) {
      if (op === 'APPEND') set.add(id);
      else set.delete(id);
    }
    batches.push({ vendor, op, audience, ids: [...ids], at: Date.now() });
  }

  /** Tencent: checks, then the answer's code/message/data. */
  function tencentHandle(req, url, raw) {
    if (req.method !== 'POST') throw new Invalid(12007, `method ${req.method}`);
    const q = url.searchParams;
    for (const k of ['access_token', 'timestamp', 'nonce']) {
      if (q.getAll(k).length !== 1 || q.get(k) === '') throw new Invalid(12000, `Your request is missing a required parameter which is one of access_token, timestamp and nonce (${k})`);
    }
    if (q.get('access_token') !== tencent.token) throw new Invalid(11002, 'Access token is invalid.');
    if (!/^\d{10}$/.test(q.get('timestamp')) || Math.abs(Number(q.get('timestamp')) - Date.now() / 1000) > TIMESTAMP_TOLERANCE_S) {
      throw new Invalid(12101, 'The timestamp is expired.');
    }
    const nonce = q.get('nonce');
    if (nonce.length > 32) throw new Invalid(12100, 'nonce longer than 32 characters');
    if (nonces.has(nonce)) throw new Invalid(12100, 'The nonce has been used before.');
    nonces.add(nonce);
    noPlaintext('tencent', raw, url.search);
    const parts = parseMultipart(req.headers['content-type'], raw, 34109);
    const names = [...parts.keys()].sort().join(',');
    if (names !== 'account_id,audience_id,file,operation_type,user_id_type') throw new Invalid(18001, `fields sent: ${names}`);
    const field = (n) => parts.get(n).value.toString('utf8');
    for (const n of ['account_id', 'audience_id', 'user_id_type', 'operation_type']) {
      if (parts.get(n).filename !== undefined) throw new Invalid(34109, `${n} sent as a file`);
    }
    if (field('account_id') !== String(tencent.accountId)) throw new Invalid(12201, "Parameter 'account_id' is invalid.");
    const audience = field('audience_id');
    if (!members.tencent.has(audience)) throw new Invalid(50005, 'audience id invalid');
    if (field('user_id_type') !== 'HASH_MOBILE_PHONE') throw new Invalid(18009, `user_id_type ${field('user_id_type')}`);
    const op = field('operation_type');
    if (op !== 'APPEND' && op !== 'REDUCE') throw new Invalid(18009, "Parameter 'operation_type' must be one of the following values: [APPEND, REDUCE].");
    const file = parts.get('file');
    if (!file.filename) throw new Invalid(50038, 'file required.');
    if (file.contentType !== 'text/plain') throw new Invalid(50003, `file extension invalid (${file.contentType})`);
    const text = file.value.toString('utf8');
    if (!text.endsWith('\n')) throw new Invalid(50003, 'the file does not end with a newline');
    const ids = text.slice(0, -1).split('\n');
    for (const id of ids) if (!/^[0-9a-f]{32}$/.test(id)) throw new Invalid(50003, `line ${JSON.stringify(id.slice(0, 40))} is not a lowercase MD5 hex`);
    if (new Set(ids).size !== ids.length) throw new Invalid(50003, 'an id is listed twice');
    return { op, audience, ids };
  }

  function oceanAuth(req) {
    const token = req.headersDistinct['access-token'];
    if (!token || token.length !== 1 || token[0] === '') throw new Invalid(40104, 'Access-Token is empty');
    if (token[0] !== ocean.token) throw new Invalid(40105, 'The access token is invalid');
  }

  function oceanUpload(req, url, raw) {
    if (req.method !== 'POST') throw new Invalid(40002, `method ${req.method}`);
    oceanAuth(req);
    noPlaintext('ocean', raw, url.search);
    const parts = parseMultipart(req.headers['content-type'], raw, 40002);
    const names = [...parts.keys()].sort().join(',');
    if (names !== 'advertiser_id,file,file_signature') throw new Invalid(40002, `fields sent: ${names}`);
    if (parts.get('advertiser_id').value.toString() !== String(ocean.advertiserId)) throw new Invalid(40002, 'advertiser_id is invalid');
    const file = parts.get('file');
    if (!file.filename || !file.filename.endsWith('.zip')) throw new Invalid(40002, 'file must be a .zip');
    if (parts.get('file_signature').value.toString() !== createHash('md5').update(file.value).digest('hex')) {
      throw new Invalid(40002, 'file_signature is not the MD5 of the file');
    }
    const ids = dmpIds(file.value, 40002);
    if (new Set(ids).size !== ids.length) throw new Invalid(40002, 'an id is listed twice');
    const path = `${ocean.advertiserId}/dmp/${randomBytes(12).toString('hex')}.zip`;
    return { path, ids };
  }

  function oceanUpdate(req, url, raw) {
    if (req.method !== 'POST') throw new Invalid(40002, `method ${req.method}`);
    oceanAuth(req);
    noPlaintext('ocean', raw, url.search);
    if (!/^application\/json(;|$)/.test(req.headers['content-type'] ?? '')) throw new Invalid(40002, `content-type ${req.headers['content-type']}`);
    let body;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new Invalid(40002, 'the body is not JSON');
    }
    const keys = Object.keys(body ?? {}).sort().join(',');
    if (keys !== 'advertiser_id,data_format,data_source_id,file_paths,file_storage_type,operation_type') throw new Invalid(40002, `fields sent: ${keys}`);
    if (typeof body.advertiser_id !== 'number' || String(body.advertiser_id) !== String(ocean.advertiserId)) throw new Invalid(40002, 'advertiser_id is invalid');
    if (typeof body.data_source_id !== 'string' || !members.ocean.has(body.data_source_id)) throw new Invalid(40002, 'data_source_id does not exist');
    if (body.operation_type !== 1 && body.operation_type !== 2) throw new Invalid(40002, `operation_type ${body.operation_type}`);
    if (body.data_format !== 0 || body.file_storage_type !== 0) throw new Invalid(40002, 'data_format and file_storage_type must be 0');
    if (!Array.isArray(body.file_paths) || body.file_paths.length === 0 || body.file_paths.length > 1000) throw new Invalid(40002, 'file_paths must list 1-1000 paths');
    const ids = [];
    for (const p of body.file_paths) {
      const u = uploads.get(p);
      if (!u) throw new Invalid(40002, `file_path ${p} was not uploaded`);
      ids.push(...u.ids);
    }
    return { op: body.operation_type === 1 ? 'APPEND' : 'REDUCE', audience: body.data_source_id, ids };
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://fake');
    const raw = await readBody(req);
    const vendor = url.pathname === TENCENT_PATH ? 'tencent' : url.pathname.startsWith('/open_api/') ? 'ocean' : null;
    const record = { vendor, path: url.pathname, at: Date.now(), code: null };
    requests.push(record);
    const answer = vendor === 'tencent' ? tencentAnswer : oceanAnswer;
    try {
      if (vendor === 'tencent') {
        const r = tencentHandle(req, url, raw);
        record.op = r.op;
        if (expired.tencent) return send(res, vendor, answer((record.code = 11000), 'Access token is expired.'));
        const f = fault('tencent');
        if (f) return send(res, vendor, answer((record.code = f.code), f.message));
        applyBatch('tencent', r.op, r.audience, r.ids);
        record.code = 0;
        return send(res, vendor, answer(0, '', { custom_audience_file_id: ++fileIds }));
      }
      if (url.pathname === OCEAN_UPLOAD_PATH || url.pathname === OCEAN_UPDATE_PATH) {
        const upload = url.pathname === OCEAN_UPLOAD_PATH;
        const r = upload ? oceanUpload(req, url, raw) : oceanUpdate(req, url, raw);
        record.op = r.op;
        if (expired.ocean) return send(res, vendor, answer((record.code = 40102), 'The access token has expired'));
        const f = fault('ocean');
        if (f) return send(res, vendor, answer((record.code = f.code), f.message));
        record.code = 0;
        if (upload) {
          uploads.set(r.path, { ids: r.ids });
          return send(res, vendor, answer(0, 'OK', { file_path: r.path }));
        }
        applyBatch('ocean', r.op, r.audience, r.ids);
        return send(res, vendor, answer(0, 'OK', {}));
      }
      throw new Invalid(vendor === 'tencent' ? 12007 : 40002, `unknown path ${url.pathname}`);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      record.code = e.code;
      invalid.push({ vendor, path: url.pathname, code: e.code, reason: e.message });
      return send(res, vendor, (vendor === 'tencent' ? tencentAnswer : oceanAnswer)(e.code, e.message));
    } finally {
      changed();
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      invalid.push({ vendor: null, path: req.url, code: 500, reason: `fake error: ${e.stack}` });
      res.destroy();
      changed();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;

  return {
    port,
    tencentUrl: `http://127.0.0.1:${port}`,
    oceanUrl: `http://127.0.0.1:${port}/open_api`,
    requests,
    batches,
    invalid,
    /** The current member hashes of a vendor's audience ('tencent' | 'ocean'). */
    members: (vendor, audience) => new Set(members[vendor].get(String(audience))),
    /** The next n requests of vendor (that pass the checks) get its rate-limit code. */
    rateLimit(vendor, n = 1) {
      faults[vendor].push({ ...RATE_LIMIT[vendor], count: n });
    },
    /** The next n requests of vendor (that pass the checks) get code and message. */
    fail(vendor, code, message, n = 1) {
      faults[vendor].push({ code, message, count: n });
    },
    /** From now on (until false), vendor answers that the access token has expired. */
    expireToken(vendor, on = true) {
      expired[vendor] = on;
    },
    /** Resolves with pred()'s first truthy value; rejects after ms with what arrived. */
    waitFor(pred, ms = 10000) {
      return new Promise((resolve, reject) => {
        let timer;
        const check = () => {
          let v;
          try {
            v = pred();
          } catch (e) {
            cleanup();
            reject(e);
            return;
          }
          if (v) {
            cleanup();
            resolve(v);
          }
        };
        const cleanup = () => {
          clearTimeout(timer);
          const i = waiters.indexOf(check);
          if (i >= 0) waiters.splice(i, 1);
        };
        timer = setTimeout(() => {
          cleanup();
          reject(new Error(`fake ads: timed out after ${ms} ms waiting for ${String(pred).slice(0, 160)}\n` +
            `requests: ${JSON.stringify(requests.slice(-10))}\ninvalid: ${JSON.stringify(invalid)}`));
        }, ms);
        waiters.push(check);
        check();
      });
    },
    async stop() {
      const closed = new Promise((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
