// request-validator through a real gateway, over HTTP/1.1 and HTTP/2: an invalid request is
// answered 400 GW_VALIDATION_FAILED with every problem and never reaches the service; a valid one
// reaches it byte for byte; a body repeating a name is refused; headers are checked too; bodies
// past maxBody (413), not JSON, or nested past the stack under a recursive schema are refused; a
// validator before a transformer sees what the client sent; the service's answers are checked in
// log mode (passed, counted in /metrics) and enforce mode (502); log mode writes a warning with
// the problems, not the data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { http1Client, http2Client, type TestClient } from './helpers/clients.js';
import { maybeUnset } from './helpers/hooks.js';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { validateConfig } from '../src/validation/validate.js';
import { startGateway } from '../src/gateway.js';
import { testConfig } from './helpers/gateway.js';

let up: Upstream;
let lastRequestId: string | undefined;
let gw: TestGateway;
const h2 = http2Client();
const clients: TestClient[] = [http1Client, h2];

const ORDER = {
  type: 'object',
  required: ['sku', 'quantity'],
  properties: { sku: { type: 'string', pattern: '^[A-Z]-\\d+$' }, quantity: { type: 'integer', minimum: 1 } },
};
const ANSWER = { type: 'object', required: ['id'], properties: { id: { type: 'integer' } } };

before(async () => {
  up = await startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      lastRequestId = req.headers['x-request-id'] as string | undefined;
      const good = !req.url!.includes('broken');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(good ? { id: 1, got: Buffer.concat(chunks).toString() } : { id: 'one' }));
    });
  });
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: { up: { targets: [{ url: up.url }] } },
    routes: [
      {
        name: 'orders',
        match: { paths: ['/orders/:shop'], methods: ['POST'] },
        service: 'up',
        policies: [
          // Listed after the transformer, still runs first (its class is `limit`): it sees the client's body.
          { type: 'request-transformer', body: { wrap: 'order' } },
          {
            type: 'request-validator',
            body: ORDER,
            query: { type: 'object', properties: { dryRun: { type: 'boolean' } } },
            params: { type: 'object', properties: { shop: { type: 'string', minLength: 3 } } },
          },
        ],
      },
      {
        name: 'tenants',
        match: { paths: ['/tenants/*'] },
        service: 'up',
        policies: [
          {
            type: 'request-validator',
            // `host` holds over HTTP/2 too (the gateway gives it the :authority).
            headers: {
              type: 'object',
              required: ['x-tenant', 'host'],
              properties: { 'x-tenant': { enum: ['acme', 'globex'] }, host: { pattern: '^127\\.0\\.0\\.1:\\d+$' } },
            },
            // A recursive schema: a tree of arrays of any depth.
            body: { $defs: { node: { type: 'array', items: { $ref: '#/$defs/node' } } }, $ref: '#/$defs/node' },
            bodyRequired: false,
            maxBody: '700kb',
          },
        ],
      },
      {
        name: 'logged',
        match: { paths: ['/logged/*'] },
        service: 'up',
        policies: [{ type: 'request-validator', response: { mode: 'log', body: ANSWER } }],
      },
      {
        name: 'enforced',
        match: { paths: ['/enforced/*'] },
        service: 'up',
        policies: [{ type: 'request-validator', response: { mode: 'enforce', body: ANSWER } }],
      },
    ],
  });
});

after(async () => {
  await h2.close();
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

interface ErrorBody {
  error: { code: string; details: unknown };
}
const JSON_TYPE = { 'content-type': 'application/json' };

for (const client of clients) {
  test(`${client.name}: an invalid request is 400 GW_VALIDATION_FAILED with every problem; the service sees nothing`, async () => {
    const hits = up.hits;
    const r = await client.request(`${gw.url}/orders/ab?dryRun=maybe`, {
      method: 'POST',
      headers: JSON_TYPE,
      body: '{"sku":"a1","quantity":0}',
    });
    assert.equal(r.statusCode, 400);
    assert.match(String(r.headers['content-type']), /application\/json/);
    const err = (await r.body.json()) as ErrorBody;
    assert.equal(err.error.code, 'GW_VALIDATION_FAILED');
    assert.deepEqual(err.error.details, [
      { in: 'query', pointer: '/dryRun', message: 'must be boolean' },
      { in: 'params', pointer: '/shop', message: 'must NOT have fewer than 3 characters' },
    ]);
    const body = await client.request(`${gw.url}/orders/main`, { method: 'POST', headers: JSON_TYPE, body: '{"sku":"a1","quantity":0}' });
    assert.deepEqual(((await body.body.json()) as ErrorBody).error.details, [
      { in: 'body', pointer: '/sku', message: 'must match pattern "^[A-Z]-\\d+$"' },
      { in: 'body', pointer: '/quantity', message: 'must be >= 1' },
    ]);
    // Valid as JSON.parse reads it (the last "sku" wins); a service that keeps the first would not be.
    const twice = await client.request(`${gw.url}/orders/main`, {
      method: 'POST',
      headers: JSON_TYPE,
      body: '{"sku":"bad","quantity":1,"sku":"A-1"}',
    });
    assert.equal(twice.statusCode, 400);
    assert.deepEqual(((await twice.body.json()) as ErrorBody).error.details, [
      { in: 'body', pointer: '/sku', message: 'must NOT repeat a name in its object' },
    ]);
    const malformed = await client.request(`${gw.url}/orders/main`, { method: 'POST', headers: JSON_TYPE, body: '{"sku":' });
    assert.equal(malformed.statusCode, 400);
    assert.equal(((await malformed.body.json()) as ErrorBody).error.code, 'GW_BAD_BODY');
    assert.equal(up.hits, hits);
  });

  test(`${client.name}: a valid request reaches the service (validated as sent, then transformed)`, async () => {
    const r = await client.request(`${gw.url}/orders/main?dryRun=true`, {
      method: 'POST',
      headers: JSON_TYPE,
      body: '{"sku":"A-1","quantity":2}',
    });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(JSON.parse(((await r.body.json()) as { got: string }).got), { order: { sku: 'A-1', quantity: 2 } });
  });

  test(`${client.name}: the service's answers: log mode passes a bad one, enforce mode answers 502 GW_UPSTREAM_VALIDATION_FAILED`, async () => {
    const logged = await client.request(`${gw.url}/logged/broken`);
    assert.equal(logged.statusCode, 200);
    assert.deepEqual(await logged.body.json(), { id: 'one' });
    const good = await client.request(`${gw.url}/enforced/fine`);
    assert.equal(good.statusCode, 200);
    const bad = await client.request(`${gw.url}/enforced/broken`);
    assert.equal(bad.statusCode, 502);
    const err = (await bad.body.json()) as ErrorBody;
    assert.equal(err.error.code, 'GW_UPSTREAM_VALIDATION_FAILED');
    assert.equal(err.error.details, undefined, 'the service’s data stays in the log');
  });
}

for (const client of clients) {
  test(`${client.name}: headers are checked before the body is read; a body past maxBody is 413, not JSON or nested too deep is 400`, async () => {
    const hits = up.hits;
    const url = `${gw.url}/tenants/x`;
    const send = (headers: Record<string, string>, body?: string) => client.request(url, { method: 'POST', headers, body });
    const noTenant = await send(JSON_TYPE, '[[]]');
    assert.equal(noTenant.statusCode, 400);
    assert.deepEqual(((await noTenant.body.json()) as ErrorBody).error.details, [
      { in: 'headers', pointer: '/x-tenant', message: "must have required property 'x-tenant'" },
    ]);
    const tenant = { ...JSON_TYPE, 'x-tenant': 'acme' };
    const tooLarge = await send(tenant, '['.repeat(400_000) + ']'.repeat(400_000));
    assert.equal(tooLarge.statusCode, 413);
    assert.equal(((await tooLarge.body.json()) as ErrorBody).error.code, 'GW_PAYLOAD_TOO_LARGE');
    const deep = await send(tenant, '['.repeat(300_000) + ']'.repeat(300_000));
    assert.equal(deep.statusCode, 400);
    assert.deepEqual(((await deep.body.json()) as ErrorBody).error.details, [
      { in: 'body', pointer: '', message: 'is nested too deeply to validate' },
    ]);
    const form = await send({ 'content-type': 'application/x-www-form-urlencoded', 'x-tenant': 'acme' }, 'a=1');
    assert.equal(form.statusCode, 400);
    assert.deepEqual(((await form.body.json()) as ErrorBody).error.details, [
      { in: 'body', pointer: '', message: 'must be JSON (Content-Type application/json or +json, not encoded)' },
    ]);
    assert.equal(up.hits, hits, 'the service saw none of them');
    const ok = await send(tenant, '[[],[[]]]');
    assert.equal(ok.statusCode, 200);
    assert.equal(((await ok.body.json()) as { got: string }).got, '[[],[[]]]');
  });
}

test('failures are counted by route and part in /metrics', async () => {
  const text = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  const value = (labels: string) =>
    Number(new RegExp(`^gatehouse_validation_failures_total\\{${labels}\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  assert.equal(value('route="orders",in="query"'), 2);
  assert.equal(value('route="orders",in="params"'), 2);
  assert.equal(value('route="orders",in="body"'), 6);
  assert.equal(value('route="tenants",in="headers"'), 2);
  assert.equal(value('route="tenants",in="body"'), 4, 'the nested and the form bodies; the 413s are not validation failures');
  assert.equal(value('route="logged",in="response"'), 2);
  assert.equal(value('route="enforced",in="response"'), 2);
});

test('log mode writes a warning with the route, the request id and the problems (not the data)', async () => {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      cb();
    },
  });
  const result = validateConfig(
    testConfig({
      services: { up: { targets: [{ url: up.url }] } },
      routes: [
        {
          name: 'watched',
          match: { paths: ['/watched/*'] },
          service: 'up',
          policies: [{ type: 'request-validator', response: { mode: 'log', body: ANSWER } }],
        },
      ],
    }),
  );
  assert.ok(result.ok);
  const logged = await startGateway({ config: result.config, logger: pino({ level: 'info' }, dest) });
  try {
    const r = await request(`http://127.0.0.1:${logged.listeners[0]!.port}/watched/broken`);
    assert.equal(r.statusCode, 200);
    assert.deepEqual(await r.body.json(), { id: 'one' }, 'passed unchanged');
    const warning = lines.find((l) => l.msg === 'response failed its schema (request-validator)');
    assert.ok(warning, 'one warning');
    assert.equal(warning.route, 'watched');
    assert.ok(lastRequestId);
    assert.equal(warning.requestId, lastRequestId);
    assert.equal(warning.count, 1);
    assert.deepEqual(warning.errors, [{ in: 'response', pointer: '/id', message: 'must be integer' }]);
    assert.doesNotMatch(JSON.stringify(warning), /"one"/, 'the service’s data is not in the log');
  } finally {
    await logged.stop();
  }
});
