// SPDX-License-Identifier: Apache-2.0
// Probes, metrics, the OpenAPI document, request ids, routing errors and logs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expectProblem, freshData, logLine, request, startServer, stopServer } from './harness.mjs';

let data, server;
before(async () => {
  data = freshData();
  server = await startServer(data.data);
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

test('start-up logs no warnings from libmicrohttpd', () => {
  assert.ok(!server.log.some((l) => l.includes('module=mhd')), server.log.join('\n'));
});

test('healthz and readyz answer without a key', async () => {
  const h = await request(server, 'GET', '/healthz');
  assert.equal(h.status, 200);
  assert.deepEqual(h.json, { status: 'ok' });
  const r = await request(server, 'GET', '/readyz');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: 'ready' });
});

test('keep-alive is kept on a normal answer', async () => {
  const h = await request(server, 'GET', '/healthz', { headers: { connection: 'keep-alive' } });
  assert.notEqual(h.headers.connection, 'close');
});

test('X-Request-Id is echoed when sane and generated otherwise', async () => {
  const echoed = await request(server, 'GET', '/healthz', { headers: { 'x-request-id': 'abc-123.X' } });
  assert.equal(echoed.headers['x-request-id'], 'abc-123.X');
  const generated = await request(server, 'GET', '/healthz', { headers: { 'x-request-id': 'bad id <script>' } });
  assert.match(generated.headers['x-request-id'], /^[0-9a-f]{16}$/);
  const other = await request(server, 'GET', '/healthz');
  assert.notEqual(other.headers['x-request-id'], generated.headers['x-request-id']);
});

test('unknown routes are 404 and wrong methods 405 with Allow', async () => {
  const nf = await request(server, 'GET', '/v1/nope', { key: data.adminKey });
  expectProblem(assert, nf, 404, 'not_found');
  const m = await request(server, 'DELETE', '/v1/purposes', { key: data.adminKey });
  expectProblem(assert, m, 405, 'method_not_allowed');
  assert.equal(m.headers.allow, 'GET, POST');
  const odd = await request(server, 'TRACE', '/healthz');
  expectProblem(assert, odd, 405, 'method_not_allowed');
});

test('the OpenAPI document is served as JSON', async () => {
  const doc = await request(server, 'GET', '/v1/openapi.json');
  assert.equal(doc.status, 200);
  assert.equal(doc.json.openapi, '3.1.0');
  assert.ok(doc.json.paths['/v1/purposes/{id}']);
});

test('metrics count requests by route and status and report memory', async () => {
  await request(server, 'GET', '/v1/purposes', { key: data.adminKey });
  await request(server, 'GET', '/v1/purposes');
  const res = await request(server, 'GET', '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  assert.match(res.text, /cpm_http_requests_total\{route="\/v1\/purposes",method="GET",status="200"\} [1-9]/);
  assert.match(res.text, /cpm_http_requests_total\{route="\/v1\/purposes",method="GET",status="401"\} [1-9]/);
  assert.match(res.text, /cpm_http_request_duration_seconds_bucket\{route="\/v1\/purposes",method="GET",le="\+Inf"\} [1-9]/);
  assert.match(res.text, /cpm_memory_heap_bytes [1-9]/);
  assert.match(res.text, /process_resident_memory_bytes [1-9]/);
});

test('each request is one logfmt line naming the route, never the key', async () => {
  await request(server, 'GET', '/v1/purposes/some-subject-ish-id', { key: data.adminKey });
  const line = await logLine(server, (l) => l.includes('route="/v1/purposes/{id}"'));
  assert.ok(line, server.log.join('\n'));
  assert.match(line, /^ts=\S+ level=info module=http rid=\S+ msg="request" method=GET route="\/v1\/purposes\/\{id\}" status=404 ms=[0-9.]+ key=key_[0-9a-f]{16}$/);
  assert.ok(!server.log.some((l) => l.includes(data.adminKey)), 'the key never reaches the log');
  assert.ok(!server.log.some((l) => l.includes('some-subject-ish-id')), 'raw paths stay out of the log');
});
