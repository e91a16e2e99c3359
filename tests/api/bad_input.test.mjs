// SPDX-License-Identifier: Apache-2.0
// Bad input gets a clear problem answer, changes nothing, and the server
// keeps serving: malformed JSON, wrong types, limits, encodings, sizes,
// media types, half-sent requests.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as fx from './fixtures.mjs';
import { expectProblem, freshData, rawConnect, readUntilClose, request, startServer, stopServer } from './harness.mjs';

let data, server, key;
before(async () => {
  data = freshData();
  key = data.adminKey;
  server = await startServer(data.data, { args: ['--connection-timeout', '2'] });
});
after(async () => {
  await stopServer(server);
  data.cleanup();
});

async function purposeCount() {
  const res = await request(server, 'GET', '/v1/purposes?limit=200', { key });
  return res.json.items.length;
}

test('malformed JSON is 400 with where it broke', async () => {
  const res = await request(server, 'POST', '/v1/purposes', { key, body: '{"id": "x",' });
  const p = expectProblem(assert, res, 400, 'malformed_json');
  assert.match(p.detail, /line 1, column \d+/);
  expectProblem(assert, await request(server, 'POST', '/v1/purposes', { key, body: '' }), 400, 'malformed_json');
  expectProblem(assert, await request(server, 'POST', '/v1/purposes', { key, body: '{"id":"a","id":"b"}' }), 400, 'malformed_json');
  expectProblem(assert, await request(server, 'POST', '/v1/purposes', { key, body: '[1,2]' }), 422, 'validation_failed');
  assert.equal(await purposeCount(), 0);
});

test('wrong types, unknown enums, missing fields and over-long strings name the field', async () => {
  const cases = [
    [{ ...fx.purpose('a.b'), retention: 5 }, 'retention'],
    [{ ...fx.purpose('a.b'), legal_basis: 'because' }, 'legal_basis'],
    [(({ legal_basis, ...rest }) => rest)(fx.purpose('a.b')), 'legal_basis'],
    [{ ...fx.purpose('a.b'), name: { en: 'x'.repeat(201) } }, 'name.en'],
    [{ ...fx.purpose('A B') }, 'id'],
    [{ ...fx.purpose('x'.repeat(65)) }, 'id'],
  ];
  for (const [body, field] of cases) {
    const res = await request(server, 'POST', '/v1/purposes', { key, body });
    const p = expectProblem(assert, res, 422, 'validation_failed');
    assert.ok(p.errors.some((e) => e.field === field), `${field} in ${JSON.stringify(p.errors)}`);
  }
  assert.equal(await purposeCount(), 0);
});

test('invalid UTF-8 is refused', async () => {
  const body = Buffer.concat([Buffer.from('{"id":"u.t","name":{"en":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]);
  expectProblem(assert, await request(server, 'POST', '/v1/purposes', { key, body }), 400, 'malformed_json');
});

test('JSON nested past the depth limit is refused before parsing', async () => {
  const deep = '{"a":' + '['.repeat(100) + ']'.repeat(100) + '}';
  const p = expectProblem(assert, await request(server, 'POST', '/v1/purposes', { key, body: deep }), 400, 'malformed_json');
  assert.match(p.detail, /nested/);
});

test('bodies over the limit are 413, declared or streamed', async () => {
  const big = Buffer.alloc(1024 * 1024 + 10, 0x20);
  expectProblem(assert, await request(server, 'POST', '/v1/purposes', { key, body: big }), 413, 'body_too_large');
  // Chunked, no Content-Length: the limit is enforced while reading.
  const sock = await rawConnect(server);
  sock.write(`POST /v1/purposes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
  const chunk = 'x'.repeat(64 * 1024);
  for (let i = 0; i < 20 && !sock.destroyed; i++) sock.write(`${(chunk.length).toString(16)}\r\n${chunk}\r\n`);
  sock.write('0\r\n\r\n');
  const got = await readUntilClose(sock, 5000);
  assert.match(got.text, /^HTTP\/1\.1 413/);
  assert.match(got.text, /"code":"body_too_large"/);
  sock.destroy();
  // A client that keeps sending far past the limit is cut off.
  const flood = await rawConnect(server);
  flood.on('error', () => {});
  flood.write(`POST /v1/purposes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
  const cut = readUntilClose(flood, 10000);
  for (let i = 0; i < 200 && !flood.destroyed && flood.writable; i++) {
    flood.write(`${(chunk.length).toString(16)}\r\n${chunk}\r\n`);
    await new Promise((r) => setImmediate(r));
  }
  assert.ok((await cut).closed, 'flooding connection closed');
  assert.equal((await request(server, 'GET', '/healthz')).status, 200);
});

test('a body that is not application/json is 415', async () => {
  const res = await request(server, 'POST', '/v1/purposes', { key, body: 'id=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const p = expectProblem(assert, res, 415, 'unsupported_media_type');
  assert.equal(p.field, 'Content-Type');
  const ok = await request(server, 'POST', '/v1/purposes', { key, body: fx.purpose('ct.ok'), headers: { 'content-type': 'application/json; charset=utf-8' } });
  assert.equal(ok.status, 201, ok.text);
});

test('a half-sent request is timed out and closed; others are served meanwhile', async () => {
  const sock = await rawConnect(server);
  sock.write(`POST /v1/purposes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id":`);
  const closed = readUntilClose(sock, 6000);
  for (let i = 0; i < 5; i++) assert.equal((await request(server, 'GET', '/healthz')).status, 200);
  const got = await closed;
  assert.ok(got.closed, 'the server closed the stalled connection');
  const slowHeaders = await rawConnect(server);
  slowHeaders.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  assert.ok((await readUntilClose(slowHeaders, 6000)).closed, 'half-sent headers time out too');
  assert.equal((await request(server, 'GET', '/readyz')).status, 200);
});

test('garbage on the wire does not hurt the server', async () => {
  const sock = await rawConnect(server);
  sock.write('\x00\x01\x02 NOT HTTP\r\n\r\n');
  await readUntilClose(sock, 3000);
  sock.destroy();
  assert.equal((await request(server, 'GET', '/healthz')).status, 200);
});
