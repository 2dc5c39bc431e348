// request-validator on its own: schemas compiled once (a bad one is a config error with its path;
// no remote $ref), query/headers/params coerced from text, every problem as { in, pointer,
// message } up to maxErrors, bodies that are missing, not JSON or malformed, and response checks
// in log and enforce mode, counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { testContext, testEnv } from '../../../test/helpers/policy-context.js';
import { validateConfig } from '../../validation/validate.js';
import { requestValidatorPolicy } from './request-validator.js';
import type { Policy, PolicyEnv, RequestContext, RespondVerdict } from '../types.js';
import type { ValidationPart } from '../../observability/metrics.js';
import { silentLogger } from '../../observability/logger.js';
import { atMostValues, LIST_ALL_VALUES } from './schemas.js';
import type { ResponseRewrite } from '../types.js';

function check(policy: Record<string, unknown>) {
  return validateConfig({
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies: [{ type: 'request-validator', ...policy }] }],
  });
}
function make(policy: Record<string, unknown>, over: Partial<PolicyEnv> = {}): Policy {
  const r = check(policy);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return requestValidatorPolicy.create(r.config.routes[0]!.policies[0]! as never, testEnv({ config: r.config, routeName: 'r', ...over }));
}
function errors(policy: Record<string, unknown>): string[] {
  const r = check(policy);
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}
function ctx(over: Partial<RequestContext> & { headers?: Record<string, string> } = {}): RequestContext {
  const headers = over.headers ?? {};
  return { ...testContext(), req: { rawHeaders: Object.entries(headers).flat(), headers } as unknown as IncomingMessage, ...over };
}
async function body(p: Policy, text: string, c = ctx({ method: 'POST' }), contentType = 'application/json') {
  return await p.requestBody!(c, { body: Buffer.from(text), contentType });
}

const ORDER = {
  type: 'object',
  required: ['sku', 'quantity'],
  additionalProperties: false,
  properties: {
    sku: { type: 'string', pattern: '^[A-Z]-\\d+$' },
    quantity: { type: 'integer', minimum: 1 },
    email: { type: 'string', format: 'email' },
    items: { type: 'array', items: { type: 'object', properties: { price: { type: 'number' } } } },
  },
};

test('schemas that do not compile are config errors with their path: unknown keywords, remote $ref, bad types', () => {
  assert.deepEqual(errors({ body: { type: 'object', requried: ['a'] } }), [
    'routes[0].policies[0].body: not a valid JSON Schema (draft 2020-12): strict mode: unknown keyword: "requried" (at "" in the schema)',
  ]);
  // ajv names the keyword, not where it is: the path inside the schema is found for it (a property
  // of that name and data under `const` are not the keyword).
  const nested = {
    type: 'object',
    properties: {
      minimun: { type: 'integer' },
      items: { type: 'array', const: [{ minimun: 1 }], items: { type: 'integer', minimun: 1 } },
    },
  };
  assert.deepEqual(errors({ body: nested }), [
    'routes[0].policies[0].body: not a valid JSON Schema (draft 2020-12): strict mode: unknown keyword: "minimun" (at "/properties/items/items" in the schema)',
  ]);
  assert.match(
    errors({ query: { $ref: 'https://schemas.example/x.json' } })[0]!,
    /query: not a valid JSON Schema .*can't resolve reference https:\/\/schemas.example\/x.json/,
  );
  assert.match(errors({ response: { mode: 'log', body: { type: 'strin' } } })[0]!, /response.body: not a valid JSON Schema/);
  assert.deepEqual(errors({ body: { type: 'object', properties: { e: { format: 'email' } }, example: { e: 'a@b.c' } } }), []);
  assert.deepEqual(errors({ body: { $defs: { sku: { type: 'string' } }, properties: { sku: { $ref: '#/$defs/sku' } } } }), []);
});

test('body: every problem with its JSON pointer (required and additionalProperties point at the property), capped by maxErrors', async () => {
  const p = make({ body: ORDER });
  assert.equal(await body(p, '{"sku":"A-1","quantity":2,"email":"a@b.co"}'), undefined);
  const v = (await body(p, '{"sku":"x","quantity":0,"email":"nope","extra":1,"items":[{"price":"9"}]}'))!;
  assert.equal(v.status, 400);
  assert.equal(v.code, 'GW_VALIDATION_FAILED');
  assert.deepEqual(v.details, [
    { in: 'body', pointer: '/extra', message: 'must NOT have additional properties' },
    { in: 'body', pointer: '/sku', message: 'must match pattern "^[A-Z]-\\d+$"' },
    { in: 'body', pointer: '/quantity', message: 'must be >= 1' },
    { in: 'body', pointer: '/email', message: 'must match format "email"' },
    { in: 'body', pointer: '/items/0/price', message: 'must be number' },
  ]);
  const capped = (await body(make({ body: ORDER, maxErrors: 2 }), '{"extra":1}'))!;
  assert.deepEqual(capped.details, [
    { in: 'body', pointer: '/sku', message: "must have required property 'sku'" },
    { in: 'body', pointer: '/quantity', message: "must have required property 'quantity'" },
  ]);
});

test('each schema stands alone: the same $id twice is fine, a $ref to another schema is not; other drafts are named', () => {
  const order = { $id: 'https://schemas.example/order', type: 'object', properties: { lines: { $ref: '#/$defs/lines' } } };
  const withDefs = {
    ...order,
    $defs: { lines: { type: 'array', items: { $ref: 'https://schemas.example/order#/$defs/line' } }, line: { type: 'object' } },
  };
  assert.deepEqual(errors({ body: withDefs, response: { mode: 'log', body: { ...withDefs } } }), []);
  assert.deepEqual(errors({ body: withDefs }), [], 'compiled again (a reload): no "already exists"');
  assert.match(
    errors({ body: withDefs, response: { mode: 'log', body: { $ref: 'https://schemas.example/order' } } })[0]!,
    /^routes\[0\]\.policies\[0\]\.response\.body: not a valid JSON Schema .*can't resolve reference https:\/\/schemas\.example\/order/,
  );
  assert.deepEqual(errors({ query: { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' } }), [
    'routes[0].policies[0].query: not a valid JSON Schema (draft 2020-12): no schema with key or ref "http://json-schema.org/draft-07/schema#" (only draft 2020-12 is understood: drop `$schema` or make it https://json-schema.org/draft/2020-12/schema)',
  ]);
  assert.deepEqual(errors({ query: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object' } }), []);
});

test('only own properties count: names of Object.prototype are neither present by inheritance nor in the way', async () => {
  const p = make({ body: { type: 'object', required: ['constructor'], properties: { toString: { type: 'string' } } } });
  assert.deepEqual((await body(p, '{}'))!.details, [
    { in: 'body', pointer: '/constructor', message: "must have required property 'constructor'" },
  ]);
  assert.equal(await body(p, '{"constructor":"x"}'), undefined);
  assert.deepEqual((await body(p, '{"constructor":1,"toString":2}'))!.details, [
    { in: 'body', pointer: '/toString', message: 'must be string' },
  ]);
  const q = make({ query: { type: 'object', required: ['hasOwnProperty'] } });
  assert.equal((q.access!(ctx({ query: '' })) as RespondVerdict).code, 'GW_VALIDATION_FAILED');
  assert.equal(q.access!(ctx({ query: 'hasOwnProperty=1' })), undefined);
});

test('a large body that fails lists its first problem only; a small one every problem up to maxErrors', async () => {
  const p = make({ body: { type: 'array', items: { type: 'string' } } });
  const numbers = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => i));
  const small = (await body(p, numbers(LIST_ALL_VALUES - 1)))!;
  assert.equal((small.details as unknown[]).length, 20);
  assert.deepEqual((small.details as unknown[])[19], { in: 'body', pointer: '/19', message: 'must be string' });
  const large = (await body(p, numbers(LIST_ALL_VALUES)))!;
  assert.equal(large.code, 'GW_VALIDATION_FAILED');
  assert.deepEqual(large.details, [{ in: 'body', pointer: '/0', message: 'must be string' }]);
  assert.equal(await body(p, JSON.stringify(Array.from({ length: 2 * LIST_ALL_VALUES }, () => 'x'))), undefined);
  assert.equal(atMostValues({ a: [1, 2], b: { c: null } }, 6), true);
  assert.equal(atMostValues({ a: [1, 2], b: { c: null } }, 5), false);
});

test('a recursive schema and a body nested deeper than the stack: 400, not a crash', async () => {
  const tree = { $defs: { node: { type: 'array', items: { $ref: '#/$defs/node' } } }, $ref: '#/$defs/node' };
  const p = make({ body: tree, maxBody: '2mb' });
  assert.equal(await body(p, '[[[]],[]]'), undefined);
  const depth = 300_000;
  const v = (await body(p, '['.repeat(depth) + ']'.repeat(depth)))!;
  assert.equal(v.code, 'GW_VALIDATION_FAILED');
  assert.deepEqual(v.details, [{ in: 'body', pointer: '', message: 'is nested too deeply to validate' }]);
});

test('body: missing on POST/PUT/PATCH (unless bodyRequired: false), not JSON, encoded, a name repeated, or malformed', async () => {
  const p = make({ body: ORDER });
  assert.deepEqual((await body(p, ''))!.details, [{ in: 'body', pointer: '', message: 'a JSON body is required' }]);
  assert.equal(await body(p, '', ctx({ method: 'GET' })), undefined);
  assert.equal(await body(make({ body: ORDER, bodyRequired: false }), ''), undefined);
  assert.equal((await body(p, 'sku=A-1', ctx({ method: 'POST' }), 'application/x-www-form-urlencoded'))!.code, 'GW_VALIDATION_FAILED');
  assert.equal((await body(p, '{}', ctx({ method: 'POST', headers: { 'content-encoding': 'gzip' } })))!.code, 'GW_VALIDATION_FAILED');
  assert.deepEqual((await body(p, '{"sku":"A-1","quantity":1,"sku":"B-2"}'))!.details, [
    { in: 'body', pointer: '/sku', message: 'must NOT repeat a name in its object' },
  ]);
  const bad = (await body(p, '{"sku": "A-1",\n "quantity": 1,}'))!;
  assert.equal(bad.code, 'GW_BAD_BODY');
  assert.deepEqual(bad.details, { position: 30, line: 2, column: 16 });
});

test('query, headers and params: coerced from text, repeated query parameters as arrays; all parts in one answer', () => {
  const p = make({
    query: {
      type: 'object',
      properties: {
        page: { type: 'integer', minimum: 1 },
        tag: { type: 'array', items: { type: 'string' }, maxItems: 2 },
        debug: { type: 'boolean' },
      },
      additionalProperties: false,
    },
    headers: { type: 'object', required: ['x-tenant'], properties: { 'x-tenant': { type: 'string', enum: ['acme', 'globex'] } } },
    params: { type: 'object', properties: { id: { type: 'integer' } } },
  });
  const good = ctx({ query: 'page=2&tag=a&debug=true', headers: { 'x-tenant': 'acme' }, params: { id: '42' } });
  assert.equal(p.access!(good), undefined);
  assert.equal(p.access!(ctx({ query: 'tag=a&tag=b', headers: { 'x-tenant': 'acme' }, params: { id: '1' } })), undefined);
  const v = p.access!(
    ctx({ query: 'page=0&tag=a&tag=b&tag=c&x=1', headers: { ':method': 'GET' }, params: { id: 'abc' } }),
  ) as RespondVerdict;
  assert.equal(v.code, 'GW_VALIDATION_FAILED');
  assert.deepEqual(v.details, [
    { in: 'query', pointer: '/x', message: 'must NOT have additional properties' },
    { in: 'query', pointer: '/page', message: 'must be >= 1' },
    { in: 'query', pointer: '/tag', message: 'must NOT have more than 2 items' },
    { in: 'headers', pointer: '/x-tenant', message: "must have required property 'x-tenant'" },
    { in: 'params', pointer: '/id', message: 'must be integer' },
  ]);
});

test('response: log mode counts and passes; enforce refuses 502 GW_UPSTREAM_VALIDATION_FAILED without the details; only the chosen statuses', async () => {
  const counted: [string, ValidationPart][] = [];
  const metrics = {
    authFailure() {},
    rateLimit() {},
    validationFailure: (route: string, where: ValidationPart) => counted.push([route, where]),
    cache: () => undefined,
    cacheStored: () => undefined,
    cacheStoreError: () => undefined,
  };
  const lines: unknown[] = [];
  const log = { ...silentLogger, warn: (obj: unknown) => lines.push(obj) } as unknown as typeof silentLogger;
  const schema = { type: 'object', required: ['id'] };
  const info = (status: number) => ({ status, headers: ['content-type', 'application/json'] });
  const logging = make({ response: { mode: 'log', body: schema } }, { metrics, log });
  const rw = logging.responseBody!(ctx(), info(200)) as ResponseRewrite;
  assert.equal(rw.tooLarge, 'pass');
  assert.equal((await rw.rewrite(Buffer.from('{"name":1}'), info(200))).toString(), '{"name":1}');
  assert.deepEqual(counted, [['r', 'response']]);
  assert.deepEqual((lines[0] as { errors: unknown }).errors, [
    { in: 'response', pointer: '/id', message: "must have required property 'id'" },
  ]);
  assert.equal(logging.responseBody!(ctx(), info(500)), undefined, '5xx is not checked by default');

  const enforcing = make({ response: { mode: 'enforce', body: schema, status: [200, '4xx'] } }, { metrics, log });
  const e = enforcing.responseBody!(ctx(), info(404)) as ResponseRewrite;
  assert.equal(e.tooLarge, 'error');
  assert.equal((await e.rewrite(Buffer.from('{"id":1}'), info(404))).toString(), '{"id":1}');
  await assert.rejects(
    Promise.resolve().then(() => e.rewrite(Buffer.from('not json'), info(404))),
    (err: { code: string; details?: unknown }) => {
      assert.equal(err.code, 'GW_UPSTREAM_VALIDATION_FAILED');
      assert.equal(err.details, undefined);
      return true;
    },
  );
  assert.equal(enforcing.responseBody!(ctx(), info(201)), undefined);
});

test('a validator with only a query schema reads no body and checks no response', () => {
  const p = make({ query: { type: 'object' } });
  assert.equal(typeof p.requestBody, 'undefined');
  assert.equal(typeof p.responseBody, 'undefined');
  assert.equal(p.bodyBufferBytes, undefined);
});
