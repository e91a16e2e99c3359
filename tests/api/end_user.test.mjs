// SPDX-License-Identifier: Apache-2.0
// End-user tokens: JWTs minted by the company's back end (here by the `jose`
// package) with HS256, ES256 and EdDSA reach only /v1/subjects/me/…; forged,
// expired, unsigned, mis-addressed or over-long tokens are 401; another
// subject is 403; CORS follows the property's allowed origins; the HS256
// secret is never read back and is stored sealed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import * as fx from './fixtures.mjs';
import { cpm, expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

const ORIGIN = 'https://shop.example';
const HS_SECRET = Buffer.from('an HS256 secret of thirty-two+ bytes for tests!');
let data, server, key, notice, ed, es;

before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data);
  ed = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  es = await generateKeyPair('ES256');
  const tokenKeys = [
    { kty: 'oct', kid: 'hs', alg: 'HS256', k: HS_SECRET.toString('base64url') },
    { ...(await exportJWK(ed.publicKey)), kid: 'ed', alg: 'EdDSA' },
    { ...(await exportJWK(es.publicKey)), kid: 'es', alg: 'ES256' },
  ];
  await fx.createAll(request, server, key, [
    ['/v1/properties', { ...fx.property(), token_keys: tokenKeys, token_lifetime_max: 'PT15M' }],
    ['/v1/properties', { ...fx.property(), id: 'app', allowed_origins: [] }],
    ['/v1/purposes', fx.purpose('marketing.sms')],
    ['/v1/notices', fx.notice()],
    ['/v1/notices/privacy/versions', fx.version(['marketing.sms'])],
  ]);
  notice = (await request(server, 'GET', '/v1/notices/privacy/versions/1')).json;
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

const now = () => Math.floor(Date.now() / 1000);

/** A token for sub, signed with alg (hs, ed, es), with claims overridden by extra. */
async function token(sub, alg = 'hs', extra = {}) {
  const { header = {}, ...claims } = extra;
  const jwt = new SignJWT({ sub, aud: 'shop', iat: now(), exp: now() + 300, ...claims });
  const algs = { hs: 'HS256', ed: 'EdDSA', es: 'ES256' };
  jwt.setProtectedHeader({ alg: algs[alg], kid: alg, typ: 'JWT', ...header });
  const keyOf = { hs: HS_SECRET, ed: ed.privateKey, es: es.privateKey };
  return jwt.sign(keyOf[alg]);
}

const asUser = (t, method, p, body, headers = {}) =>
  request(server, method, p, { body, headers: { authorization: `Bearer ${t}`, ...headers } });
const consentBody = (decision) => fx.consentBody(notice, [{ purpose: 'marketing.sms', decision }]);

test('each algorithm: the token reaches the caller\'s own subject as me, and nothing else', async () => {
  for (const alg of ['hs', 'ed', 'es']) {
    const sub = `eu-${alg}`;
    const t = await token(sub, alg);
    const given = await asUser(t, 'POST', '/v1/subjects/me/consents', consentBody('given'));
    assert.equal(given.status, 201, `${alg}: ${given.text}`);
    const mine = await asUser(t, 'GET', '/v1/subjects/me/consents');
    assert.equal(mine.status, 200, mine.text);
    assert.equal(mine.json.subject, sub);
    assert.equal(mine.json.consents[0].status, 'given');
    // the company sees it under the real id
    const seen = await request(server, 'GET', `/v1/subjects/${sub}/consents`, { key });
    assert.equal(seen.json.consents[0].status, 'given');
    const prefs = await asUser(t, 'PATCH', '/v1/subjects/me/preferences', { language: 'zh-Hant' });
    assert.equal(prefs.status, 200, prefs.text);
    // another subject, even its own id spelled out: 403
    expectProblem(assert, await asUser(t, 'GET', `/v1/subjects/other/consents`), 403, 'forbidden');
    expectProblem(assert, await asUser(t, 'GET', `/v1/subjects/${sub}/consents`), 403, 'forbidden');
    // only for the token's own property
    const elsewhere = await asUser(t, 'POST', '/v1/subjects/me/consents', { ...consentBody('given'), property: 'app' });
    assert.equal(expectProblem(assert, elsewhere, 422, 'validation_failed').field, 'property');
    // routes that are not the person's: an API key is needed
    expectProblem(assert, await asUser(t, 'GET', '/v1/purposes'), 401, 'unauthorized');
    expectProblem(assert, await asUser(t, 'GET', `/v1/decide?subject=${sub}&purpose=marketing.sms`), 401, 'unauthorized');
  }
});

test('forged, unsigned, expired, early, mis-addressed and long-lived tokens are 401 and change nothing', async () => {
  const good = await token('victim');
  const [h, p] = good.split('.');
  const payload = JSON.parse(Buffer.from(p, 'base64url'));
  const forgedPayload = Buffer.from(JSON.stringify({ ...payload, sub: 'admin' })).toString('base64url');
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
  const cases = {
    'tampered payload': `${h}.${forgedPayload}.${good.split('.')[2]}`,
    'alg none': none,
    'wrong secret': await new SignJWT({ sub: 'victim', aud: 'shop', iat: now(), exp: now() + 300 })
      .setProtectedHeader({ alg: 'HS256', kid: 'hs' }).sign(Buffer.from('not the secret, not the secret!!')),
    expired: await token('victim', 'ed', { iat: now() - 900, exp: now() - 120 }),
    'not yet valid': await token('victim', 'es', { nbf: now() + 600 }),
    'issued in the future': await token('victim', 'hs', { iat: now() + 600, exp: now() + 700 }),
    'lifetime over the property maximum': await token('victim', 'hs', { exp: now() + 3600 }),
    'no exp': await token('victim', 'hs', { exp: undefined }),
    'another property': await token('victim', 'hs', { aud: 'app' }),
    'no such property': await token('victim', 'hs', { aud: 'nope' }),
    'unknown kid': await token('victim', 'hs', { header: { kid: 'zz' } }),
    'ES256 key, HS256 algorithm': await new SignJWT({ sub: 'victim', aud: 'shop', iat: now(), exp: now() + 300 })
      .setProtectedHeader({ alg: 'HS256', kid: 'es' }).sign(HS_SECRET),
    garbage: 'not.a.token',
  };
  for (const [name, t] of Object.entries(cases)) {
    const res = await asUser(t, 'POST', '/v1/subjects/me/consents', consentBody('given'));
    const problem = expectProblem(assert, res, 401, 'unauthorized');
    const part = t.split('.')[1]?.length > 8 ? t.split('.')[1] : t;
    assert.ok(!problem.detail.includes(part), `${name}: the token is not echoed`);
  }
  const seen = await request(server, 'GET', '/v1/subjects/victim/consents', { key });
  assert.equal(seen.status, 404, 'nothing was written for the victim');
  const admin = await request(server, 'GET', '/v1/subjects/admin/consents', { key });
  assert.equal(admin.status, 404);
});

test('"me" is not a subject id for API keys', async () => {
  const p = expectProblem(assert, await request(server, 'GET', '/v1/subjects/me/consents', { key }), 422, 'validation_failed');
  assert.match(p.detail, /end-user token/);
  expectProblem(assert, await request(server, 'PUT', '/v1/subjects/me', { key, body: { age_status: 'adult' } }), 422, 'validation_failed');
});

test('CORS: the property\'s origins may call with its tokens; others are refused', async () => {
  const t = await token('cors-1');
  const pre = await request(server, 'OPTIONS', '/v1/subjects/me/consents', {
    headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });
  assert.equal(pre.status, 204, pre.text);
  assert.equal(pre.headers['access-control-allow-origin'], ORIGIN);
  assert.match(pre.headers['access-control-allow-headers'], /Authorization/);
  assert.match(pre.headers['access-control-allow-methods'], /POST/);
  const badPre = await request(server, 'OPTIONS', '/v1/subjects/me/consents', { headers: { origin: 'https://evil.example' } });
  expectProblem(assert, badPre, 403, 'forbidden');
  assert.equal(badPre.headers['access-control-allow-origin'], undefined);
  const ok = await asUser(t, 'POST', '/v1/subjects/me/consents', consentBody('given'), { origin: ORIGIN });
  assert.equal(ok.status, 201, ok.text);
  assert.equal(ok.headers['access-control-allow-origin'], ORIGIN);
  assert.match(ok.headers.vary, /Origin/);
  const evil = await asUser(t, 'GET', '/v1/subjects/me/consents', undefined, { origin: 'https://evil.example' });
  expectProblem(assert, evil, 403, 'forbidden');
  assert.equal(evil.headers['access-control-allow-origin'], undefined);
  // cpmd's own pages (the preference center) are same-origin: allowed without being listed, no CORS headers
  const own = new URL(server.url);
  assert.ok(!fx.property().allowed_origins.includes(own.origin));
  const same = await asUser(t, 'GET', '/v1/subjects/me/consents', undefined, { origin: own.origin });
  assert.equal(same.status, 200, same.text);
  assert.equal(same.headers['access-control-allow-origin'], undefined);
  // …but only for the Host the request went to
  const elsewhere = await asUser(t, 'GET', '/v1/subjects/me/consents', undefined,
    { origin: `http://127.0.0.2:${own.port}`, host: `127.0.0.2:${own.port}x` });
  expectProblem(assert, elsewhere, 403, 'forbidden');
});

test('token keys: the HS256 secret is never read back, is stored sealed, and bad keys are refused', async () => {
  const prop = (await request(server, 'GET', '/v1/properties/shop', { key })).json;
  const hs = prop.token_keys.find((k) => k.kid === 'hs');
  assert.equal(hs.k, undefined);
  assert.equal(hs.k_set, true);
  const stored = spawnSync('sqlite3', [path.join(data.data, 'cpm.db'), "SELECT body FROM config_docs WHERE kind = 'property' AND id = 'shop'"], { encoding: 'utf8' }).stdout;
  assert.ok(!stored.includes(HS_SECRET.toString('base64url')), 'the secret is not in the database');
  assert.match(stored, /sealed:v1:/);
  const bad = [
    [{ kty: 'EC', crv: 'P-384', x: 'AA', y: 'AA' }, 'token_keys[0]'],
    [{ kty: 'OKP', crv: 'Ed25519', x: (await exportJWK(ed.publicKey)).x, d: 'AAAA' }, 'token_keys[0]'],
    [{ kty: 'oct', k: 'c2hvcnQ' }, 'token_keys[0]'],
  ];
  for (const [jwk] of bad) {
    const res = await request(server, 'POST', '/v1/properties', { key, body: { ...fx.property(), id: 'badkeys', token_keys: [jwk] } });
    const p = expectProblem(assert, res, 422, 'validation_failed');
    assert.ok(p.errors.some((e) => e.field.startsWith('token_keys[0]')), res.text);
  }
  assert.equal((await request(server, 'GET', '/v1/properties/badkeys', { key })).status, 404);
});

test('cpm token mints a working HS256 token for trying the end-user API; bad arguments are refused', async () => {
  const r = cpm(['token', '--data', data.data, '--property', 'shop', '--subject', 'cli-1', '--ttl', '120']);
  assert.equal(r.status, 0, r.stderr);
  const t = r.stdout.trim();
  const claims = JSON.parse(Buffer.from(t.split('.')[1], 'base64url'));
  assert.equal(claims.sub, 'cli-1');
  assert.equal(claims.aud, 'shop');
  assert.equal(claims.exp - claims.iat, 120);
  const res = await asUser(t, 'POST', '/v1/subjects/me/consents', consentBody('given'));
  assert.equal(res.status, 201, res.text);
  const noKey = cpm(['token', '--data', data.data, '--property', 'app', '--subject', 'x']);
  assert.equal(noKey.status, 1);
  assert.match(noKey.stderr, /no HS256 token key/);
  for (const args of [['--property', 'shop'], ['--property', 'shop', '--subject', 'me'], ['--property', 'shop', '--subject', 'x', '--ttl', '0'], ['--bogus']]) {
    const bad = cpm(['token', '--data', data.data, ...args]);
    assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
  }
});

test('each display of the popup is recorded, and the consent that follows points to it', async () => {
  const t = await token('disp-1', 'ed');
  const shown = await asUser(t, 'POST', '/v1/subjects/me/displays', {
    property: 'shop', locale: 'en', notice: { id: 'privacy', version: 1 },
  });
  assert.equal(shown.status, 201, shown.text);
  assert.match(shown.json.display, /^evt_[0-9a-f]{32}$/);
  const consent = await asUser(t, 'POST', '/v1/subjects/me/consents', { ...consentBody('given'), display: shown.json.display });
  assert.equal(consent.status, 201, consent.text);
  const events = (await request(server, 'GET', '/v1/subjects/disp-1/events', { key })).json.items.map((e) => e.event);
  const display = events.find((e) => e.type === 'notice.displayed');
  assert.equal(display.id, shown.json.display);
  assert.deepEqual(display.display, {
    property: 'shop', locale: 'en', notice: { id: 'privacy', version: 1, sha256: notice.content.en.sha256 }, channel: 'web',
  });
  assert.equal(events.find((e) => e.type === 'consent.given').display, shown.json.display);
  const bad = [
    [{ property: 'app', locale: 'en', notice: { id: 'privacy', version: 1 } }, 'property'],
    [{ property: 'shop', locale: 'fr', notice: { id: 'privacy', version: 1 } }, 'locale'],
    [{ property: 'shop', locale: 'en', notice: { id: 'privacy', version: 9 } }, 'notice'],
    [{ property: 'shop', locale: 'en', notice: { id: 'privacy', version: 1 }, extra: 1 }, 'extra'],
  ];
  for (const [body, field] of bad) {
    const res = await asUser(t, 'POST', '/v1/subjects/me/displays', body);
    assert.equal(expectProblem(assert, res, 422, 'validation_failed').field, field, res.text);
  }
  const forged = await asUser(t, 'POST', '/v1/subjects/me/consents', { ...consentBody('given'), display: '<script>' });
  assert.equal(expectProblem(assert, forged, 422, 'validation_failed').field, 'display');
  assert.equal((await request(server, 'GET', '/v1/subjects/disp-1/events', { key })).json.items.length, 2, 'nothing more written');
});

test('a person\'s changes are rate limited (429 with Retry-After); reads and other people are not', async () => {
  const t = await token('busy-1', 'hs');
  const display = { property: 'shop', locale: 'en', notice: { id: 'privacy', version: 1 } };
  let limited = null;
  for (let i = 0; i < 40 && !limited; i++) {
    const res = await asUser(t, 'POST', '/v1/subjects/me/displays', display);
    if (res.status === 429) limited = { res, after: i };
    else assert.equal(res.status, 201, res.text);
  }
  assert.ok(limited, 'the burst ran out');
  assert.ok(limited.after >= 29 && limited.after <= 31, `about 30 writes went through (${limited.after})`);
  expectProblem(assert, limited.res, 429, 'rate_limited');
  assert.ok(Number(limited.res.headers['retry-after']) >= 1, 'Retry-After says when');
  assert.equal((await asUser(t, 'GET', '/v1/subjects/me/events')).status, 200, 'reads go on');
  const other = await asUser(await token('busy-2', 'hs'), 'POST', '/v1/subjects/me/displays', display);
  assert.equal(other.status, 201, 'another person is not affected');
  const metrics = (await request(server, 'GET', '/metrics')).text;
  assert.match(metrics, /status="429"\} [1-9]/);
});

test('a person\'s own delivery log shows where and when, not receivers\' texts; token lifetimes over a day are refused', async () => {
  const t = await token('eu-hs', 'hs');
  const mine = await asUser(t, 'GET', '/v1/subjects/me/deliveries');
  assert.equal(mine.status, 200, mine.text);
  for (const d of mine.json.items) assert.deepEqual(Object.keys(d).sort(), ['destination', 'event_type', 'id', 'outcome', 'seq', 'time']);
  const long = await request(server, 'PATCH', '/v1/properties/shop', { key, body: { token_lifetime_max: 'P2Y' } });
  assert.equal(expectProblem(assert, long, 422, 'validation_failed').field, 'token_lifetime_max');
});

test('a guardian\'s token reaches the wards it is linked to, and acts there as that guardian (PIPL Art. 31)', async () => {
  const admin = (method, p, body) => request(server, method, p, { key, body });
  assert.equal((await admin('PUT', '/v1/subjects/ward-1', { age_status: 'child_under_14' })).status, 200);
  assert.equal((await admin('POST', '/v1/subjects/ward-1/guardians', { guardian_id: 'mum-1', relation: 'parent' })).status, 201);
  const mum = await token('mum-1');
  const stranger = await token('stranger-1');
  const child = await token('ward-1');

  const wards = await asUser(mum, 'GET', '/v1/subjects/me/wards');
  assert.equal(wards.status, 200, wards.text);
  assert.deepEqual(wards.json.wards.map((w) => [w.subject, w.relation, w.age_status]), [['ward-1', 'parent', 'child_under_14']]);
  assert.deepEqual((await asUser(stranger, 'GET', '/v1/subjects/me/wards')).json.wards, []);

  // the guardian consents for the child: the actor is the guardian, named by pseudonym
  const given = await asUser(mum, 'POST', '/v1/subjects/ward-1/consents', consentBody('given'));
  assert.equal(given.status, 201, given.text);
  const leaves = (await admin('GET', '/v1/subjects/ward-1/events')).json.items.map((i) => JSON.parse(i.leaf));
  const leaf = leaves.find((l) => l.type === 'consent.given');
  const mumPseudonym = (await admin('GET', '/v1/subjects/mum-1')).json.pseudonym;
  assert.equal(leaf.actor, 'guardian');
  assert.equal(leaf.guardian, mumPseudonym);
  const decided = await admin('GET', '/v1/decide?subject=ward-1&purpose=marketing.sms');
  assert.equal(decided.json.allowed, true, decided.text);
  // …and changes the child's preferences, the leaf naming the guardian
  const prefs = await asUser(mum, 'PATCH', '/v1/subjects/ward-1/preferences', { language: 'en' });
  assert.equal(prefs.status, 200, prefs.text);
  const prefLeaf = (await admin('GET', '/v1/subjects/ward-1/events')).json.items.map((i) => JSON.parse(i.leaf))
    .find((l) => l.type === 'preferences.changed');
  assert.equal(prefLeaf.guardian, mumPseudonym);
  // the child's experience, asked by the guardian
  assert.equal((await admin('POST', '/v1/policies', fx.policy())).status, 201);
  const x = await asUser(mum, 'GET', '/v1/experience?property=shop&region=CN&subject=ward-1');
  assert.equal(x.status, 200, x.text);
  assert.equal(x.json.guardian_required, true);

  // claiming to be someone else, or a guardian on one's own subject: 422, nothing written
  const before = (await admin('GET', '/v1/subjects/ward-1/events')).json.items.length;
  const self = await asUser(mum, 'POST', '/v1/subjects/ward-1/consents', { ...consentBody('refused'), actor: { type: 'self' } });
  assert.equal(expectProblem(assert, self, 422, 'validation_failed').field, 'actor');
  const other = await asUser(mum, 'POST', '/v1/subjects/ward-1/consents',
    { ...consentBody('refused'), actor: { type: 'guardian', guardian_id: 'dad-1' } });
  assert.equal(expectProblem(assert, other, 422, 'validation_failed').field, 'actor');
  const mine = await asUser(mum, 'POST', '/v1/subjects/me/consents',
    { ...consentBody('given'), actor: { type: 'guardian', guardian_id: 'mum-1' } });
  assert.equal(expectProblem(assert, mine, 422, 'validation_failed').field, 'actor.type');
  assert.equal((await admin('GET', '/v1/subjects/ward-1/events')).json.items.length, before);

  // not linked: 403 everywhere, the other way round too
  for (const [t, p] of [[stranger, '/v1/subjects/ward-1/consents'], [child, '/v1/subjects/mum-1/consents'],
    [stranger, '/v1/subjects/ward-1/preferences']]) {
    expectProblem(assert, await asUser(t, 'GET', p), 403, 'forbidden');
  }
  expectProblem(assert, await asUser(stranger, 'POST', '/v1/subjects/ward-1/consents', consentBody('given')), 403, 'forbidden');
  expectProblem(assert, await asUser(stranger, 'GET', '/v1/experience?property=shop&region=CN&subject=ward-1'), 403, 'forbidden');
  expectProblem(assert, await asUser(stranger, 'GET', `/v1/subjects/${'x'.repeat(200)}/consents`), 403, 'forbidden');
});
