// The policy on its own: request edits on the header list about to go upstream, response edits on
// the headers about to reach the client, names matched case-insensitively; and its config errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateHeaderValue } from 'node:http';
import { testContext, testEnv } from '../../../test/helpers/policy-context.js';
import { validateConfig } from '../../validation/validate.js';
import { headersPolicy } from './headers.js';
import type { Policy } from '../types.js';

function check(policy: Record<string, unknown>) {
  return validateConfig({
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies: [{ type: 'headers', ...policy }] }],
  });
}
function make(policy: Record<string, unknown>): Policy {
  const r = check(policy);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return headersPolicy.create(r.config.routes[0]!.policies[0]! as never, testEnv({ config: r.config, routeName: 'r' }));
}
function errors(policy: Record<string, unknown>): string[] {
  const r = check(policy);
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

test('request: remove and set on the upstream header list, case-insensitively; other headers untouched', () => {
  const p = make({ request: { set: { 'X-Tenant': 'acme' }, remove: ['X-Debug'] } });
  const headers = ['Host', 'api.example', 'x-debug', '1', 'X-TENANT', 'evil', 'Accept', '*/*', 'X-Debug', '2'];
  p.upstreamRequest!(testContext(), headers);
  assert.deepEqual(headers, ['Host', 'api.example', 'Accept', '*/*', 'x-tenant', 'acme']);
});

test('request: set replaces every copy a client sent (one value reaches the upstream); set wins over remove of the same name', () => {
  const p = make({ request: { set: { 'x-user': 'gateway' }, remove: ['x-user'] } });
  const headers = ['x-user', 'a', 'X-User', 'b'];
  p.upstreamRequest!(testContext(), headers);
  assert.deepEqual(headers, ['x-user', 'gateway']);
  // A header the request lacks is added.
  const empty: string[] = [];
  p.upstreamRequest!(testContext(), empty);
  assert.deepEqual(empty, ['x-user', 'gateway']);
});

test('response: set and remove on the response headers; the status is left alone', () => {
  const p = make({ response: { set: { 'x-served-by': 'gatehouse' }, remove: ['server', 'x-powered-by'] } });
  const res = { status: 201, headers: ['Server', 'nginx', 'Content-Type', 'text/plain', 'X-Powered-By', 'php', 'X-Served-By', 'upstream'] };
  p.response!(testContext(), res);
  assert.equal(res.status, 201);
  assert.deepEqual(res.headers, ['Content-Type', 'text/plain', 'x-served-by', 'gatehouse']);
});

test('a side without edits has no phase; request edits never touch the response and vice versa', () => {
  const onlyResponse = make({ response: { set: { 'x-a': '1' } } });
  assert.equal(typeof onlyResponse.upstreamRequest, 'undefined');
  assert.equal(typeof onlyResponse.response, 'function');
  const onlyRequest = make({ request: { remove: ['cookie'] } });
  assert.equal(typeof onlyRequest.response, 'undefined');
  assert.equal(typeof onlyRequest.upstreamRequest, 'function');
  const neither = make({ request: {}, response: { set: {}, remove: [] } });
  assert.equal(typeof neither.upstreamRequest, 'undefined');
  assert.equal(typeof neither.response, 'undefined');
});

test('an empty value is set as an empty value (not treated as a removal)', () => {
  const p = make({ request: { set: { 'x-empty': '' } } });
  const headers = ['x-empty', 'was here'];
  p.upstreamRequest!(testContext(), headers);
  assert.deepEqual(headers, ['x-empty', '']);
});

test('config errors name the path: bad header name, unknown key, wrong types', () => {
  assert.deepEqual(errors({ request: { set: { 'x-ok': 'a' }, remove: ['x-b'] }, response: { set: { 'x-c': 'c' } } }), []);
  const badName = errors({ request: { set: { 'bad name': 'x' } } });
  assert.equal(badName.length, 1);
  assert.match(badName[0]!, /^routes\[0\]\.policies\[0\]\.request\.set\.bad name: /);
  // Only set and remove exist: there is no "add".
  assert.deepEqual(errors({ response: { add: { 'x-a': '1' } } }), ['routes[0].policies[0].response.add: unknown key "add"']);
  assert.deepEqual(errors({ upstream: {} }), ['routes[0].policies[0].upstream: unknown key "upstream"']);
  assert.deepEqual(
    errors({ response: { remove: 'server' } }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].response.remove'],
  );
  assert.deepEqual(
    errors({ request: { set: { 'x-n': 1 } } }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].request.set.x-n'],
  );
});

test('a value with CR, LF or NUL is a config error (it would split the header on the wire)', () => {
  assert.deepEqual(errors({ request: { set: { 'x-a': 'one\r\nx-injected: yes' } } }), [
    'routes[0].policies[0].request.set.x-a: a header value cannot contain CR, LF or NUL',
  ]);
  assert.deepEqual(errors({ response: { set: { 'x-b': 'two\nthree' } } }), [
    'routes[0].policies[0].response.set.x-b: a header value cannot contain CR, LF or NUL',
  ]);
  assert.deepEqual(errors({ response: { set: { 'x-c': 'nul\u0000' } } }), [
    'routes[0].policies[0].response.set.x-c: a header value cannot contain CR, LF or NUL',
  ]);
  assert.deepEqual(errors({ response: { set: { 'x-d': 'tabs\tand spaces are fine' } } }), []);
});

test('a value node would refuse to send (other control characters, DEL, past Latin-1) is a config error too', () => {
  const latin1 = 'only Latin-1: caf\u00e9';
  assert.deepEqual(errors({ response: { set: { 'x-e': latin1 } } }), []);
  for (const value of ['bell\u0007', 'escape\u001b[31m', 'del\u007f', 'snow \u2603', 'vertical\u000btab']) {
    const found = errors({ response: { set: { 'x-f': value } } });
    assert.equal(found.length, 1, JSON.stringify(value));
    assert.match(
      found[0]!,
      /^routes\[0\]\.policies\[0\]\.response\.set\.x-f: a header value may hold only tab, space, visible ASCII and Latin-1/,
    );
    // What the schema refuses is exactly what node would throw on at run time.
    assert.throws(() => validateHeaderValue('x-f', value));
  }
  assert.doesNotThrow(() => validateHeaderValue('x-e', latin1));
});
