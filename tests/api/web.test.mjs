// SPDX-License-Identifier: Apache-2.0
// The static files cpmd serves: the widget (to any origin, cacheable, with
// an ETag) and the demo page (under a content security policy); nothing
// else is reachable through those routes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { expectProblem, freshData, request, startServer, stopServer } from './harness.mjs';

let data, server;
before(async () => {
  data = freshData();
  server = await startServer(data.data);
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

test('the widget files are served as built, to any origin, with an ETag', async () => {
  for (const file of ['cpm-widget.js', 'cpm-core.js']) {
    const res = await request(server, 'GET', `/widget/${file}`, { headers: { origin: 'https://shop.example' } });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers['content-type'], /^text\/javascript/);
    assert.equal(res.text, readFileSync(`web/widget/${file}`, 'utf8'), 'the embedded bytes are the file');
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    const again = await request(server, 'GET', `/widget/${file}`, { headers: { 'if-none-match': res.headers.etag } });
    assert.equal(again.status, 304);
  }
});

test('the demo page is served under a content security policy', async () => {
  const res = await request(server, 'GET', '/demo');
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers['content-type'], /^text\/html/);
  assert.match(res.text, /cpm-widget\.js/);
  assert.match(res.headers['content-security-policy'], /default-src 'self'/);
  assert.match(res.headers['content-security-policy'], /frame-ancestors 'none'/);
  assert.equal(res.headers['x-frame-options'], 'DENY');
});

test('nothing else is reachable through the static routes', async () => {
  for (const p of ['/widget/nope.js', '/widget/README.md', '/widget/..%2fdemo%2findex.html', '/demo/nope.html', '/widget/%2e%2e']) {
    expectProblem(assert, await request(server, 'GET', p), 404, 'not_found');
  }
});
