// SPDX-License-Identifier: Apache-2.0
// A fake WeCom (企业微信) server API for the wecom_tags connector tests: the
// two calls the connector makes, checked strictly against the documents
// and answered the way WeCom answers (HTTP 200, errcode/errmsg in the body):
//   GET  /cgi-bin/gettoken?corpid=ID&corpsecret=SECRET            (path/91039)
//   POST /cgi-bin/externalcontact/mark_tag?access_token=TOKEN       (path/92118)
//        {"userid", "external_userid", "add_tag": [...], "remove_tag": [...]}
// Error codes from the global list (path/90313). It keeps each contact's
// tag set, records every request, and can be told to fail: an errcode for
// the next N calls of a path, or every token issued so far expired.
import { randomBytes } from 'node:crypto';
import http from 'node:http';

/** An external_userid as WeCom issues them: "wm" (WeChat) or "wo" (WeCom user) and base64url-ish. */
export const EXTERNAL_USERID = /^w[mo][A-Za-z0-9_-]{20,62}$/;

const ERRMSG = {
  0: 'ok',
  40001: 'invalid credential',
  40003: 'invalid userid',
  40013: 'invalid corpid',
  40014: 'invalid access_token',
  40058: 'invalid parameter',
  40068: 'invalid tagid',
  40096: 'invalid external userid',
  41001: 'access_token missing',
  41002: 'corpid missing',
  41004: 'corpsecret missing',
  42001: 'access_token expired',
  43001: 'require GET method',
  43002: 'require POST method',
  45009: 'api freq out of limit',
  45033: 'api concurrent out of limit',
  47001: 'data format error',
  84061: 'not external contact',
  [-1]: 'system busy',
};

/** WeCom's answer: always HTTP 200; a hint like the real one on errors. */
function answer(res, errcode, extra = {}) {
  const hint = errcode === 0 ? '' : `, hint: [${Date.now()}_${randomBytes(4).toString('hex')}], more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}`;
  const body = JSON.stringify({ errcode, errmsg: `${ERRMSG[errcode] ?? 'error'}${hint}`, ...extra });
  res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  return errcode;
}

/**
 * Starts the fake on 127.0.0.1. options: corpId, secret, owner (the member
 * whose contacts these are), tags (tag ids that exist), contacts (the
 * owner's external_userids, each starting with no tags), expiresIn (s).
 */
export async function startFakeWecom({ corpId, secret, owner, tags = [], contacts = [], expiresIn = 7200 }) {
  const knownTags = new Set(tags);
  const contactTags = new Map(contacts.map((c) => [c, new Set()]));
  const tokens = new Map(); // token → {expiresAt, expired}
  const faults = []; // {path, errcode, count}
  const requests = [];
  const waiters = [];

  function injected(path) {
    const f = faults.find((x) => x.path === path && x.count > 0);
    if (!f) return undefined;
    f.count--;
    return f.errcode;
  }

  function gettoken(req, url, res) {
    if (req.method !== 'GET') return answer(res, 43001);
    const keys = [...url.searchParams.keys()].sort();
    const corpid = url.searchParams.get('corpid');
    const corpsecret = url.searchParams.get('corpsecret');
    if (!corpid) return answer(res, 41002);
    if (!corpsecret) return answer(res, 41004);
    if (keys.join(',') !== 'corpid,corpsecret') return answer(res, 40058);
    if (corpid !== corpId) return answer(res, 40013);
    if (corpsecret !== secret) return answer(res, 40001);
    const fault = injected('gettoken');
    if (fault !== undefined) return answer(res, fault);
    // Within its validity, gettoken answers the same token (path/91039).
    const now = Date.now();
    let token = [...tokens].find(([, t]) => !t.expired && t.expiresAt > now)?.[0];
    if (!token) {
      token = randomBytes(48).toString('base64url');
      tokens.set(token, { expiresAt: now + expiresIn * 1000, expired: false });
    }
    return answer(res, 0, { access_token: token, expires_in: Math.round((tokens.get(token).expiresAt - now) / 1000) });
  }

  function markTag(req, url, res, raw) {
    if (req.method !== 'POST') return answer(res, 43002);
    const token = url.searchParams.get('access_token');
    if (!token) return answer(res, 41001);
    const t = tokens.get(token);
    if (!t) return answer(res, 40014);
    if (t.expired || t.expiresAt <= Date.now()) return answer(res, 42001);
    if ([...url.searchParams.keys()].join(',') !== 'access_token') return answer(res, 40058);
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return answer(res, 47001);
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      return answer(res, 47001);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return answer(res, 47001);
    const allowed = new Set(['userid', 'external_userid', 'add_tag', 'remove_tag']);
    if (Object.keys(body).some((k) => !allowed.has(k))) return answer(res, 40058);
    if (typeof body.userid !== 'string' || body.userid !== owner) return answer(res, 40003);
    if (typeof body.external_userid !== 'string' || !EXTERNAL_USERID.test(body.external_userid)) return answer(res, 40096);
    const lists = ['add_tag', 'remove_tag'].filter((k) => k in body);
    for (const k of lists)
      if (!Array.isArray(body[k]) || body[k].some((x) => typeof x !== 'string' || x === '')) return answer(res, 40058);
    if (lists.reduce((n, k) => n + body[k].length, 0) === 0) return answer(res, 40058); // not both empty
    const fault = injected('mark_tag');
    if (fault !== undefined) return answer(res, fault);
    const have = contactTags.get(body.external_userid);
    if (!have) return answer(res, 84061);
    if (lists.some((k) => body[k].some((x) => !knownTags.has(x)))) return answer(res, 40068);
    for (const x of body.add_tag ?? []) have.add(x);
    for (const x of body.remove_tag ?? []) have.delete(x);
    return answer(res, 0);
  }

  const delays = []; // {path, ms, count}

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url, 'http://fake');
      const path = url.pathname === '/cgi-bin/gettoken' ? 'gettoken'
        : url.pathname === '/cgi-bin/externalcontact/mark_tag' ? 'mark_tag' : null;
      const delay = delays.find((d) => d.path === path && d.count > 0);
      if (delay) delay.count--;
      if (delay) setTimeout(() => handle(req, res, raw, url, path), delay.ms);
      else handle(req, res, raw, url, path);
    });
  });

  /** Answers one request (possibly late) and records it. */
  function handle(req, res, raw, url, path) {
    let errcode;
    if (path === 'gettoken') errcode = gettoken(req, url, res);
    else if (path === 'mark_tag') errcode = markTag(req, url, res, raw);
    else {
      res.writeHead(404).end();
      errcode = null;
    }
    let json;
    try {
      json = raw ? JSON.parse(raw) : undefined;
    } catch {
      json = undefined;
    }
    requests.push({
      at: Date.now(), method: req.method, path: url.pathname, api: path,
      query: Object.fromEntries(url.searchParams), headers: req.headers, raw, body: json, errcode,
    });
    for (const w of [...waiters]) w();
  }
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;

  return {
    url,
    /** Every request, in order: {at, method, path, api, query, headers, raw, body, errcode}. */
    requests,
    /** The requests of one API: 'gettoken' or 'mark_tag'. */
    calls: (api) => requests.filter((r) => r.api === api),
    /** A contact's current tags (sorted), or undefined when the owner has no such contact. */
    tagsOf: (externalUserid) => (contactTags.has(externalUserid) ? [...contactTags.get(externalUserid)].sort() : undefined),
    /** Answers errcode to the next count calls of api ('gettoken' | 'mark_tag') that pass the checks. */
    failNext: (api, errcode, count = 1) => faults.push({ path: api, errcode, count }),
    /** Holds the answers to the next count calls of api for ms (a slow or hung WeCom). */
    delayNext: (api, ms, count = 1) => delays.push({ path: api, ms, count }),
    /** Every token issued so far is expired from now on (42001); gettoken issues a new one. */
    expireTokens: () => {
      for (const t of tokens.values()) t.expired = true;
    },
    /** Resolves with pred's truthy result over requests, or rejects after ms. */
    waitFor(pred, ms = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const v = pred(requests);
          if (v) {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(check), 1);
            resolve(v);
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`fake WeCom: condition not met in ${ms} ms; requests: ${JSON.stringify(requests.map((r) => [r.api, r.errcode, r.body]))}`));
        }, ms);
        waiters.push(check);
        check();
      });
    },
    stop: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections(); // cpmd keeps its connections alive
      }),
  };
}
