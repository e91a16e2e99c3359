// SPDX-License-Identifier: Apache-2.0
// The admin console's sessions (docs/ADMIN.md, src/http/session.c,
// src/api/admin.c) against a real cpmd: signing in with an API key for a
// cookie (its flags, Secure behind a TLS proxy) and a CSRF token; the cookie
// standing for the key on the ordinary API with that key's scopes; writes
// without the CSRF token, with a wrong one, from another site: 403 and
// nothing changed; signing out; a wrong, malformed or revoked key (revoked
// over the API, and by `cpm keys revoke` from another process); sign-in
// attempts limited per address; idle expiry (refreshed by use) and the
// absolute lifetime, with short timeouts set by flag (the test clock offset,
// CPM_TEST_CLOCK_OFFSET_MS, is fixed at start and sessions do not outlive a
// restart, so it cannot move a live session's time: a restart signs
// everyone out, checked too); and the log never holding the key, the
// session id or the CSRF token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fx from './fixtures.mjs';
import { cpm, expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A cpmd of the test's own (fresh rate-limit buckets), with its admin key; stopped after. */
async function server(t, { args = [] } = {}) {
  const data = freshData();
  const srv = await startServer(data.data, { args });
  t.after(async () => {
    await stopServer(srv);
    data.cleanup();
  });
  return { data, srv, key: data.adminKey };
}

/** The one Set-Cookie header of an answer, as text. */
function setCookie(res) {
  const all = res.headers['set-cookie'] ?? [];
  assert.equal(all.length, 1, `one Set-Cookie: ${JSON.stringify(all)}`);
  return all[0];
}

/** Signs in with apiKey; returns {cookie: 'cpm_session=…', id, csrf, body, res}. */
async function signIn(srv, apiKey, headers = {}) {
  const res = await request(srv, 'POST', '/v1/admin/sessions', { body: { api_key: apiKey }, headers });
  assert.equal(res.status, 201, res.text);
  const m = /^cpm_session=([A-Za-z0-9_-]{43});/.exec(setCookie(res));
  assert.ok(m, `a session cookie: ${setCookie(res)}`);
  return { cookie: `cpm_session=${m[1]}`, id: m[1], csrf: res.json.csrf_token, body: res.json, res };
}

/** A request made with the session's cookie (and its CSRF token when csrf is true or a string). */
function withSession(srv, s, method, path, { body, csrf, headers = {} } = {}) {
  const h = { cookie: s.cookie, ...headers };
  if (csrf === true) h['x-csrf-token'] = s.csrf;
  else if (typeof csrf === 'string') h['x-csrf-token'] = csrf;
  return request(srv, method, path, { body, headers: h });
}

async function ledgerSize(srv, key) {
  let n = 0;
  let cursor = '';
  for (;;) {
    const page = await request(srv, 'GET', `/v1/ledger/events?limit=200${cursor}`, { key });
    n += page.json.items.length;
    if (!page.json.next_cursor) return n;
    cursor = `&cursor=${encodeURIComponent(page.json.next_cursor)}`;
  }
}

test('signing in sets an HttpOnly, SameSite=Strict cookie and answers a CSRF token; the key is not in either', async (t) => {
  const { srv, key } = await server(t);
  const s = await signIn(srv, key);
  const cookie = setCookie(s.res);
  const attrs = cookie.split(';').map((a) => a.trim());
  assert.deepEqual(attrs.slice(1).sort(), ['HttpOnly', 'Path=/', 'SameSite=Strict'], cookie);
  assert.doesNotMatch(cookie, /Secure|Max-Age|Expires|Domain/i, 'plain HTTP: not Secure; a browser-session cookie');
  assert.match(s.csrf, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(s.csrf, s.id);
  assert.ok(!s.res.text.includes(key) && !cookie.includes(key.slice(4)), 'the key is never sent back');
  assert.ok(!s.res.text.includes(s.id), 'the session id is only in the cookie');
  assert.deepEqual(Object.keys(s.body).sort(), ['created_at', 'csrf_token', 'expires_at', 'idle_expires_at', 'idle_timeout_s', 'key']);
  assert.deepEqual(s.body.key.scopes, ['admin']);
  assert.match(s.body.key.id, /^key_[0-9a-f]{16}$/);
  assert.equal(s.body.idle_timeout_s, 900);
  const lifetime = Date.parse(s.body.expires_at) - Date.parse(s.body.created_at);
  assert.equal(lifetime, 8 * 3600 * 1000);
  assert.equal(Date.parse(s.body.idle_expires_at) - Date.parse(s.body.created_at), 900 * 1000);
  assert.equal(s.res.headers['cache-control'], 'no-store');

  // read back, as the console does after a reload: the same token
  const current = await withSession(srv, s, 'GET', '/v1/admin/sessions/current');
  assert.equal(current.status, 200, current.text);
  assert.equal(current.json.csrf_token, s.csrf);
  assert.equal(current.json.key.id, s.body.key.id);

  // behind a TLS proxy (or from an https page) the cookie is Secure
  for (const headers of [{ 'x-forwarded-proto': 'https' }, { forwarded: 'for=10.0.0.1;proto=https' },
    { origin: `https://127.0.0.1:${srv.port}` }]) {
    const secure = await signIn(srv, key, headers);
    assert.match(setCookie(secure.res), /; Secure$/, JSON.stringify(headers));
  }
  const plain = await signIn(srv, key, { 'x-forwarded-proto': 'http' });
  assert.doesNotMatch(setCookie(plain.res), /Secure/);
});

test('the cookie stands for its key on the ordinary API, with that key\'s scopes; writes need the CSRF token', async (t) => {
  const { srv, key } = await server(t);
  const created = await request(srv, 'POST', '/v1/api-keys', { key, body: { name: 'privacy team', scopes: ['config'] } });
  assert.equal(created.status, 201, created.text);
  const s = await signIn(srv, created.json.key);
  assert.deepEqual(s.body.key, { id: created.json.id, name: 'privacy team', scopes: ['config'] });

  assert.equal((await withSession(srv, s, 'GET', '/v1/purposes')).status, 200);
  expectProblem(assert, await withSession(srv, s, 'GET', '/v1/api-keys'), 403, 'forbidden'); // not admin
  expectProblem(assert, await withSession(srv, s, 'GET', '/v1/requests'), 403, 'forbidden');

  const made = await withSession(srv, s, 'POST', '/v1/purposes', { body: fx.purpose('marketing.sms'), csrf: true });
  assert.equal(made.status, 201, made.text);
  const events = (await request(srv, 'GET', '/v1/ledger/events?limit=200', { key })).json.items;
  const change = events.find((e) => e.event.type === 'config.created' && e.event.doc === 'marketing.sms');
  assert.equal(change?.event.key, created.json.id, 'the ledger names the key the session acts as');

  // an Authorization header wins over the cookie (a bad cookie does not spoil a good key)
  const both = await request(srv, 'GET', '/v1/api-keys', { key, headers: { cookie: 'cpm_session=AAAA' } });
  assert.equal(both.status, 200, both.text);
  // the session routes take the cookie only
  expectProblem(assert, await request(srv, 'GET', '/v1/admin/sessions/current', { key }), 401, 'unauthorized');
  expectProblem(assert, await request(srv, 'GET', '/v1/purposes', { headers: { cookie: 'cpm_session=AAAA' } }), 401, 'unauthorized');
});

test('a write with the cookie but a missing or wrong CSRF token, or from another site, is 403 and changes nothing', async (t) => {
  const { srv, key } = await server(t);
  await request(srv, 'POST', '/v1/purposes', { key, body: fx.purpose('marketing.sms') });
  const victim = await request(srv, 'POST', '/v1/api-keys', { key, body: { name: 'crm', scopes: ['consents:write'] } });
  const s = await signIn(srv, key);
  const other = await signIn(srv, key);
  const before = await ledgerSize(srv, key);
  const flipped = s.csrf.slice(0, -1) + (s.csrf.endsWith('A') ? 'B' : 'A');
  const attempts = [
    ['POST', '/v1/purposes', fx.purpose('made.anyway')],
    ['PATCH', '/v1/purposes/marketing.sms', { retention: 'P9Y' }],
    ['DELETE', `/v1/api-keys/${victim.json.id}`],
    ['DELETE', '/v1/admin/sessions/current'],
  ];
  for (const [method, path, body] of attempts) {
    for (const [why, opts] of [
      ['no token', {}],
      ['a wrong token', { csrf: flipped }],
      ['another session\'s token', { csrf: other.csrf }],
      ['the session id as token', { csrf: s.id }],
      ['another site\'s page', { csrf: true, headers: { origin: 'https://evil.example' } }],
      ['a cross-site fetch', { csrf: true, headers: { 'sec-fetch-site': 'cross-site' } }],
      ['a same-site sibling', { csrf: true, headers: { 'sec-fetch-site': 'same-site' } }],
    ]) {
      const res = await withSession(srv, s, method, path, { body, ...opts });
      const p = expectProblem(assert, res, 403, 'forbidden');
      assert.match(p.detail, /X-CSRF-Token|own pages/, `${method} ${path} with ${why}: ${p.detail}`);
      assert.ok(!res.text.includes(s.csrf) && !res.text.includes(s.id), 'never echoed');
    }
  }
  expectProblem(assert, await request(srv, 'GET', '/v1/purposes/made.anyway', { key }), 404, 'not_found');
  assert.equal((await request(srv, 'GET', '/v1/purposes/marketing.sms', { key })).json.retention, 'P2Y');
  const keys = (await request(srv, 'GET', '/v1/api-keys', { key })).json.items;
  assert.equal(keys.find((k) => k.id === victim.json.id).revoked_at, null);
  assert.equal(await ledgerSize(srv, key), before, 'no ledger event');
  // reads from another site are refused too; the session itself still works from its own pages
  expectProblem(assert, await withSession(srv, s, 'GET', '/v1/purposes', { headers: { origin: 'https://evil.example' } }), 403, 'forbidden');
  assert.equal((await withSession(srv, s, 'GET', '/v1/purposes', { headers: { 'sec-fetch-site': 'same-origin' } })).status, 200);
  const ok = await withSession(srv, s, 'PATCH', '/v1/purposes/marketing.sms', { body: { retention: 'P3Y' }, csrf: true,
    headers: { origin: `http://127.0.0.1:${srv.port}` } });
  assert.equal(ok.status, 200, ok.text);
});

test('signing out ends the session and clears the cookie; the other sessions go on', async (t) => {
  const { srv, key } = await server(t);
  const s = await signIn(srv, key);
  const other = await signIn(srv, key);
  const out = await withSession(srv, s, 'DELETE', '/v1/admin/sessions/current', { csrf: true });
  assert.equal(out.status, 204, out.text);
  assert.match(setCookie(out), /^cpm_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0$/);
  const after = expectProblem(assert, await withSession(srv, s, 'GET', '/v1/purposes'), 401, 'unauthorized');
  assert.match(after.detail, /session has ended/);
  expectProblem(assert, await withSession(srv, s, 'DELETE', '/v1/admin/sessions/current', { csrf: true }), 401, 'unauthorized');
  assert.equal((await withSession(srv, other, 'GET', '/v1/purposes')).status, 200);
});

test('a wrong or malformed key, or another site\'s page, opens no session', async (t) => {
  const { srv, key } = await server(t);
  const wrong = await request(srv, 'POST', '/v1/admin/sessions', { body: { api_key: `cpm_${'x'.repeat(43)}` } });
  const p = expectProblem(assert, wrong, 401, 'unauthorized');
  assert.equal(wrong.headers['set-cookie'], undefined);
  assert.ok(!wrong.text.includes('x'.repeat(43)), 'the key is not echoed');
  assert.match(p.detail, /unknown or revoked/);
  for (const body of [{}, { api_key: '' }, { api_key: 'not-a-key' }, { api_key: 42 }, { api_key: key, remember: true }]) {
    const res = await request(srv, 'POST', '/v1/admin/sessions', { body });
    expectProblem(assert, res, 422, 'validation_failed');
    assert.equal(res.headers['set-cookie'], undefined);
  }
  expectProblem(assert, await request(srv, 'POST', '/v1/admin/sessions', { body: '{' }), 400, 'malformed_json');
  expectProblem(assert, await request(srv, 'POST', '/v1/admin/sessions', { body: { api_key: key }, headers: { origin: 'https://evil.example' } }),
    403, 'forbidden');
});

test('revoking a key ends its sessions: over the API at once, by another process within a second', async (t) => {
  const { srv, data, key } = await server(t);
  // revoked over the API: at once, its sessions too
  const made = await request(srv, 'POST', '/v1/api-keys', { key, body: { name: 'temp', scopes: ['config'] } });
  const s1 = await signIn(srv, made.json.key);
  const s2 = await signIn(srv, made.json.key);
  assert.equal((await withSession(srv, s1, 'GET', '/v1/purposes')).status, 200);
  assert.equal((await request(srv, 'DELETE', `/v1/api-keys/${made.json.id}`, { key })).status, 204);
  for (const s of [s1, s2]) expectProblem(assert, await withSession(srv, s, 'GET', '/v1/purposes'), 401, 'unauthorized');
  expectProblem(assert, await request(srv, 'POST', '/v1/admin/sessions', { body: { api_key: made.json.key } }), 401, 'unauthorized');

  // revoked by another process (`cpm keys revoke`): within a second (cpmd remembers checked keys that long)
  const cli = await request(srv, 'POST', '/v1/api-keys', { key, body: { name: 'cli', scopes: ['config'] } });
  const s3 = await signIn(srv, cli.json.key);
  assert.equal((await withSession(srv, s3, 'GET', '/v1/purposes')).status, 200);
  const r = cpm(['keys', 'revoke', cli.json.id, '--data', data.data]);
  assert.equal(r.status, 0, r.stderr);
  await sleep(1100);
  const revoked = expectProblem(assert, await withSession(srv, s3, 'GET', '/v1/purposes'), 401, 'unauthorized');
  assert.match(revoked.detail, /revoked/);
});

test('sign-in attempts are limited per address: 10, then one every 6 s, whatever the key', async (t) => {
  const { srv, key } = await server(t);
  for (let i = 0; i < 10; i++) {
    const res = await request(srv, 'POST', '/v1/admin/sessions', { body: { api_key: `cpm_${String(i).padStart(43, 'y')}` } });
    expectProblem(assert, res, 401, 'unauthorized');
  }
  const limited = await request(srv, 'POST', '/v1/admin/sessions', { body: { api_key: key } });
  expectProblem(assert, limited, 429, 'rate_limited');
  assert.equal(limited.headers['set-cookie'], undefined, 'not even the right key gets in');
  const wait = Number(limited.headers['retry-after']);
  assert.ok(wait >= 1 && wait <= 6, `Retry-After ${wait}`);
  // the API key itself is not limited, only the sign-in
  assert.equal((await request(srv, 'GET', '/v1/purposes', { key })).status, 200);
});

test('an unused session ends after the idle time; use refreshes it', async (t) => {
  const { srv, key } = await server(t, { args: ['--session-idle', '2'] });
  const s = await signIn(srv, key);
  const idle = await signIn(srv, key);
  assert.equal(s.body.idle_timeout_s, 2);
  await sleep(1200);
  assert.equal((await withSession(srv, s, 'GET', '/v1/purposes')).status, 200);
  await sleep(1200); // 2.4 s after sign-in, 1.2 s after its last use
  assert.equal((await withSession(srv, s, 'GET', '/v1/purposes')).status, 200, 'refreshed by the use');
  expectProblem(assert, await withSession(srv, idle, 'GET', '/v1/purposes'), 401, 'unauthorized');
  await sleep(2500);
  const ended = expectProblem(assert, await withSession(srv, s, 'GET', '/v1/purposes'), 401, 'unauthorized');
  assert.match(ended.detail, /session has ended/);
  // a wrong CSRF token does not keep a session alive either
  const s2 = await signIn(srv, key);
  await sleep(1200);
  expectProblem(assert, await withSession(srv, s2, 'POST', '/v1/purposes', { body: fx.purpose('x.y'), csrf: 'A'.repeat(43) }), 403, 'forbidden');
  await sleep(1200);
  expectProblem(assert, await withSession(srv, s2, 'GET', '/v1/purposes'), 401, 'unauthorized');
});

test('a session ends at its lifetime however much it is used', async (t) => {
  const { srv, key } = await server(t, { args: ['--session-idle', '3', '--session-lifetime', '4'] });
  const s = await signIn(srv, key);
  assert.equal(Date.parse(s.body.expires_at) - Date.parse(s.body.created_at), 4000);
  for (let i = 0; i < 2; i++) {
    await sleep(1500);
    assert.equal((await withSession(srv, s, 'GET', '/v1/purposes')).status, 200);
  }
  await sleep(1500); // 4.5 s after sign-in, 1.5 s after its last use
  expectProblem(assert, await withSession(srv, s, 'GET', '/v1/purposes'), 401, 'unauthorized');
});

test('a restart signs everyone out; the log never holds the key, the session id or the CSRF token', async (t) => {
  const data = freshData();
  let srv = await startServer(data.data, { args: ['--log-level', 'debug'] });
  t.after(async () => { // the server running at the end, then its data
    await stopServer(srv);
    data.cleanup();
  });
  const s = await signIn(srv, data.adminKey);
  assert.equal((await withSession(srv, s, 'PATCH', '/v1/purposes/none', { body: {}, csrf: true })).status, 404);
  await withSession(srv, s, 'DELETE', '/v1/admin/sessions/current', { csrf: 'wrong' });
  const s2 = await signIn(srv, data.adminKey);
  await stopServer(srv);
  const log = srv.log.join('\n');
  for (const secret of [data.adminKey, data.adminKey.slice(4), s.id, s.csrf, s2.id, s2.csrf])
    assert.ok(!log.includes(secret), 'a secret in the log');
  assert.match(log, /console session opened.*key=key_/);
  srv = await startServer(data.data);
  expectProblem(assert, await withSession(srv, s2, 'GET', '/v1/purposes'), 401, 'unauthorized');
});
