import { test } from 'node:test';
import assert from 'node:assert/strict';
import { corsPolicy } from './cors.js';
import { compileOrigins } from './origin-matcher.js';
import { testContext, testEnv } from '../../../test/helpers/policy-context.js';
import type { RespondVerdict } from '../types.js';

function make(cfg: Record<string, unknown>) {
  return corsPolicy.create(corsPolicy.schema.parse({ type: 'cors', ...cfg }), testEnv());
}
function preflight(p: ReturnType<typeof make>, origin: string, method = 'PUT', headers?: string) {
  const h: Record<string, string> = { Origin: origin, 'Access-Control-Request-Method': method };
  if (headers !== undefined) h['Access-Control-Request-Headers'] = headers;
  return p.access!(testContext({ method: 'OPTIONS', headers: h })) as RespondVerdict | undefined;
}
function respond(p: ReturnType<typeof make>, origin: string | undefined, upstream: string[] = []) {
  const res = { status: 200, headers: [...upstream] };
  p.response!(testContext({ headers: origin === undefined ? {} : { Origin: origin } }), res);
  const out: Record<string, string> = {};
  for (let i = 0; i < res.headers.length; i += 2) out[res.headers[i]!.toLowerCase()] = res.headers[i + 1]!;
  return out;
}

test('origin matching: exact, wildcard subdomains, regex; null only when listed', () => {
  const m = compileOrigins(['https://app.example.com', 'https://*.example.org', { regex: 'http://localhost:\\d+' }]);
  assert.ok(m.matches('https://app.example.com'));
  assert.ok(!m.matches('https://app.example.com.evil.net'));
  assert.ok(!m.matches('http://app.example.com'));
  assert.ok(m.matches('https://a.b.example.org'));
  assert.ok(!m.matches('https://example.org'), 'the wildcard needs a subdomain');
  assert.ok(!m.matches('https://evil.net/.example.org'));
  assert.ok(!m.matches('https://evilexample.org'));
  assert.ok(m.matches('http://localhost:3000'));
  assert.ok(!m.matches('http://localhost:3000.evil.net'), 'regexes are anchored');
  assert.ok(!m.matches('null'));
  assert.ok(!compileOrigins(['*']).matches('null'), '"*" does not cover null');
  assert.ok(!compileOrigins([{ regex: '.*' }]).matches('null'), 'a regex does not cover null');
  assert.ok(compileOrigins(['null']).matches('null'));
});

test('preflight from an allowed origin → 204 with the allow headers, never forwarded', () => {
  const p = make({
    origins: ['https://app.example.com'],
    methods: ['GET', 'PUT'],
    headers: ['Content-Type', 'X-Token'],
    credentials: true,
    maxAge: '1h',
  });
  const v = preflight(p, 'https://app.example.com', 'PUT', 'content-type, x-token')!;
  assert.equal(v.status, 204);
  assert.deepEqual(v.headers, {
    'access-control-allow-origin': 'https://app.example.com',
    'access-control-allow-methods': 'GET, PUT',
    'access-control-allow-headers': 'Content-Type, X-Token',
    'access-control-allow-credentials': 'true',
    'access-control-max-age': '3600',
    vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
  });
});

test('preflight refused: unknown origin, null origin, method or header not allowed', () => {
  const p = make({ origins: ['https://app.example.com'], methods: ['GET'], headers: ['content-type'] });
  for (const v of [
    preflight(p, 'https://evil.example', 'GET'),
    preflight(p, 'null', 'GET'),
    preflight(p, 'https://app.example.com', 'DELETE'),
    preflight(p, 'https://app.example.com', 'GET', 'content-type, x-secret'),
  ]) {
    assert.equal(v?.status, 403);
    assert.equal(v.code, 'GW_CORS_FORBIDDEN');
  }
});

test('without a headers list, the requested headers are allowed (for an allowed origin)', () => {
  const p = make({ origins: ['https://app.example.com'] });
  assert.equal(preflight(p, 'https://app.example.com', 'POST', 'x-a, x-b')?.headers?.['access-control-allow-headers'], 'x-a, x-b');
});

test('OPTIONS that is not a preflight continues (no Origin or no requested method)', () => {
  const p = make({ origins: ['*'] });
  assert.equal(p.access!(testContext({ method: 'OPTIONS', headers: { Origin: 'https://x.example' } })), undefined);
  assert.equal(p.access!(testContext({ method: 'OPTIONS', headers: { 'Access-Control-Request-Method': 'GET' } })), undefined);
  assert.equal(p.access!(testContext({ method: 'GET', headers: { Origin: 'https://x.example' } })), undefined);
});

test('responses: allowed origin echoed with credentials, Vary: Origin always, upstream CORS headers replaced', () => {
  const p = make({ origins: ['https://app.example.com'], credentials: true, exposedHeaders: ['X-Total'] });
  const ok = respond(p, 'https://app.example.com', ['Vary', 'Accept-Encoding', 'Access-Control-Allow-Origin', '*']);
  assert.equal(ok['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(ok['access-control-allow-credentials'], 'true');
  assert.equal(ok['access-control-expose-headers'], 'X-Total');
  assert.equal(ok.vary, 'Accept-Encoding, Origin');
  // An upstream that reflects every origin does not widen the policy.
  const evil = respond(p, 'https://evil.example', [
    'Access-Control-Allow-Origin',
    'https://evil.example',
    'Access-Control-Allow-Credentials',
    'true',
  ]);
  assert.equal(evil['access-control-allow-origin'], undefined);
  assert.equal(evil['access-control-allow-credentials'], undefined);
  assert.equal(evil.vary, 'Origin');
  assert.equal(respond(p, 'null')['access-control-allow-origin'], undefined);
  assert.equal(respond(p, undefined).vary, 'Origin');
});

test('"*" without credentials answers "*"; with credentials the schema refuses it', () => {
  const p = make({ origins: ['*'] });
  assert.equal(respond(p, 'https://any.example')['access-control-allow-origin'], '*');
  assert.equal(preflight(p, 'https://any.example', 'GET')?.headers?.['access-control-allow-origin'], '*');
  assert.equal(corsPolicy.schema.safeParse({ type: 'cors', origins: ['*'], credentials: true }).success, false);
});

test('schema: malformed origins are refused', () => {
  for (const o of [
    'app.example.com',
    'https://app.example.com/',
    'https://app.example.com/path',
    'https://*.*.example.com',
    'https://a*.example.com',
    '*.example.com',
  ]) {
    assert.equal(corsPolicy.schema.safeParse({ type: 'cors', origins: [o] }).success, false, o);
  }
  assert.equal(corsPolicy.schema.safeParse({ type: 'cors', origins: [{ regex: '(' }] }).success, false);
  assert.equal(
    corsPolicy.schema.safeParse({ type: 'cors', origins: ['https://*.example.com:8443', 'http://localhost:3000', 'null'] }).success,
    true,
  );
});
