// The policy on its own: every request gets the same fixed answer — status (default 503), headers,
// and a literal body or, with `code`, the standard JSON error with the configured message — as the
// access verdict and as the client receives it (rendered by the data plane's sendVerdict on a
// local server); and its config errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { testContext, testEnv } from '../../../test/helpers/policy-context.js';
import { validateConfig } from '../../validation/validate.js';
import { sendVerdict } from '../../dataplane/respond.js';
import { requestTerminationPolicy } from './request-termination.js';
import type { Policy, RespondVerdict } from '../types.js';

function check(policy: Record<string, unknown>) {
  return validateConfig({
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies: [{ type: 'request-termination', ...policy }] }],
  });
}
function make(policy: Record<string, unknown>): Policy {
  const r = check(policy);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return requestTerminationPolicy.create(r.config.routes[0]!.policies[0]! as never, testEnv({ config: r.config, routeName: 'r' }));
}
function errors(policy: Record<string, unknown>): string[] {
  const r = check(policy);
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}
function verdictOf(p: Policy, opts: Parameters<typeof testContext>[0] = {}): RespondVerdict {
  const v = p.access!(testContext(opts));
  assert.ok(v !== undefined && !(v instanceof Promise) && !('serve' in v), 'a fixed, synchronous answer');
  return v;
}
/** What a client receives for the verdict, as the data plane sends it. */
async function render(v: RespondVerdict, requestId = 'rt-1'): Promise<{ status: number; headers: Headers; body: string }> {
  const server = createServer((_req, res) => sendVerdict(res, v, requestId));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    return { status: res.status, headers: res.headers, body: await res.text() };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('default: 503 with an empty body and no extra headers', async () => {
  const v = verdictOf(make({}));
  assert.deepEqual(v, { status: 503, headers: {} });
  const res = await render(v);
  assert.equal(res.status, 503);
  assert.equal(res.body, '');
  assert.equal(res.headers.get('x-request-id'), 'rt-1');
  assert.equal(res.headers.get('content-length'), '0');
});

test('a literal body with its status and headers, the same for every request whatever it is', async () => {
  const p = make({ status: 200, body: '<h1>Down for maintenance</h1>', headers: { 'Retry-After': '3600', 'content-type': 'text/html' } });
  const expected = { status: 200, headers: { 'Retry-After': '3600', 'content-type': 'text/html' }, body: '<h1>Down for maintenance</h1>' };
  assert.deepEqual(verdictOf(p), expected);
  assert.deepEqual(verdictOf(p, { method: 'POST', clientIp: '10.1.2.3', headers: { Authorization: 'Bearer x' } }), expected);
  const res = await render(verdictOf(p));
  assert.equal(res.status, 200);
  assert.equal(res.body, '<h1>Down for maintenance</h1>');
  assert.equal(res.headers.get('retry-after'), '3600');
  assert.equal(res.headers.get('content-type'), 'text/html');
  assert.equal(res.headers.get('content-length'), String(Buffer.byteLength('<h1>Down for maintenance</h1>')));
});

test('with code: the standard JSON error with the configured status and message; the headers are kept', async () => {
  const p = make({ status: 410, code: 'GW_ROUTE_NOT_FOUND', message: 'API v0 was retired.', headers: { 'retry-after': '3600' } });
  const v = verdictOf(p);
  assert.deepEqual(v, { status: 410, code: 'GW_ROUTE_NOT_FOUND', message: 'API v0 was retired.', headers: { 'retry-after': '3600' } });
  const res = await render(v, 'rt-2');
  assert.equal(res.status, 410);
  assert.match(String(res.headers.get('content-type')), /^application\/json/);
  assert.equal(res.headers.get('retry-after'), '3600');
  assert.deepEqual(JSON.parse(res.body), { error: { code: 'GW_ROUTE_NOT_FOUND', message: 'API v0 was retired.', requestId: 'rt-2' } });
  // Without a message, the code's standard message; without a status, still 503 (not the code's own).
  const plain = verdictOf(make({ code: 'GW_FORBIDDEN' }));
  assert.deepEqual(plain, { status: 503, code: 'GW_FORBIDDEN', headers: {} });
  const body: unknown = JSON.parse((await render(plain, 'rt-3')).body);
  assert.deepEqual(body, { error: { code: 'GW_FORBIDDEN', message: 'You are not allowed to access this resource.', requestId: 'rt-3' } });
});

test('access only: the upstream is never involved', () => {
  const p = make({ status: 410 });
  assert.equal(typeof p.upstreamRequest, 'undefined');
  assert.equal(typeof p.response, 'undefined');
  assert.deepEqual(requestTerminationPolicy.phases, ['access']);
});

test('config errors name the path: status range, unknown or non-gateway code, header names and values, unknown keys', () => {
  assert.deepEqual(errors({ status: 410, code: 'GW_ROUTE_NOT_FOUND', message: 'gone', headers: { 'retry-after': '60' } }), []);
  assert.deepEqual(
    errors({ status: 99 }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].status'],
  );
  assert.deepEqual(
    errors({ status: 600 }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].status'],
  );
  assert.deepEqual(
    errors({ status: 503.5 }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].status'],
  );
  assert.deepEqual(
    errors({ status: '503' }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].status'],
  );
  assert.deepEqual(
    errors({ code: 'GW_NOPE' }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].code'],
  );
  assert.deepEqual(
    errors({ code: 'ADMIN_NOT_FOUND' }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].code'],
    'admin codes are not a gateway answer',
  );
  assert.deepEqual(
    errors({ body: 42 }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].body'],
  );
  assert.deepEqual(
    errors({ headers: { 'bad name': 'x' } }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].headers.bad name'],
  );
  assert.deepEqual(errors({ headers: { 'x-a': 'one\r\nx-injected: yes' } }), [
    'routes[0].policies[0].headers.x-a: a header value cannot contain CR, LF or NUL',
  ]);
  assert.deepEqual(
    errors({ headers: { 'x-n': 5 } }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].headers.x-n'],
  );
  assert.deepEqual(errors({ stauts: 410 }), ['routes[0].policies[0].stauts: unknown key "stauts" (did you mean "status"?)']);
});

test("header names from the config are matched without regard to case: the gateway's own length wins, one of each reaches the client", async () => {
  const literal = await render(
    verdictOf(make({ status: 200, body: 'hello, world', headers: { 'Content-Length': '4', 'Content-Type': 'text/plain' } })),
  );
  assert.equal(literal.status, 200, 'a client accepts the answer (two Content-Length fields would be refused)');
  assert.equal(literal.body, 'hello, world');
  assert.equal(literal.headers.get('content-length'), '12');
  assert.equal(literal.headers.get('content-type'), 'text/plain');
  const json = await render(
    verdictOf(make({ status: 410, code: 'GW_ROUTE_NOT_FOUND', message: 'gone', headers: { 'Content-Type': 'text/html' } })),
  );
  assert.equal(json.status, 410);
  assert.equal(json.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.equal((JSON.parse(json.body) as { error: { message: string } }).error.message, 'gone');
});

test('message needs code, body excludes code: a field the answer would ignore is a config error', () => {
  assert.deepEqual(errors({ status: 503, message: 'maintenance' }), [
    'routes[0].policies[0].message: message is the text of a JSON error: it needs code (or use body for a literal answer)',
  ]);
  assert.deepEqual(errors({ status: 410, code: 'GW_ROUTE_NOT_FOUND', body: 'gone' }), [
    'routes[0].policies[0].body: with code the body is the standard JSON error: give message, not body',
  ]);
});
