import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../validation/validate.js';
import { Instance } from '../runtime/instance.js';
import { silentLogger } from '../observability/logger.js';
import { compileServerLimits, serverOptions } from './server-limits.js';

const base = (extra: Record<string, unknown> = {}) => ({
  admin: { enabled: false },
  services: { s: { targets: [{ url: 'http://127.0.0.1:3001' }] } },
  routes: [{ name: 'r', service: 's' }],
  ...extra,
});

test('server: documented defaults', () => {
  const r = validateConfig(base());
  assert.ok(r.ok);
  assert.deepEqual(compileServerLimits(r.config.server), {
    headersTimeout: 10_000,
    requestTimeout: 300_000,
    bodyIdleTimeout: 30_000,
    keepAliveTimeout: 5_000,
    maxRequestsPerSocket: 1000,
    maxHeaderSize: 16 * 1024,
    maxHeaderCount: 100,
    maxUrlLength: 8192,
    serverHeader: undefined,
    allowSemicolonInPath: false,
    maxBodyForMatch: 64 * 1024,
    // 16 KB plus HPACK's 32 bytes for each of 100 fields and 5 pseudo-headers; as many fields as that allows.
    http2: { maxConcurrentStreams: 100, maxEarlyResets: 100, maxHeaderListSize: 16384 + 32 * 105, maxHeaderListPairs: 618 },
  });
  assert.deepEqual(r.config.loadShedding, { retryAfter: '1s' });
});

test('server: the strict parser always, and node checks timeouts often enough for short ones', () => {
  const r = validateConfig(base({ server: { headersTimeout: '400ms', requestTimeout: '2s' } }));
  assert.ok(r.ok);
  const opts = serverOptions(compileServerLimits(r.config.server));
  assert.equal(opts.insecureHTTPParser, false);
  assert.equal(opts.connectionsCheckingInterval, 100);
});

test('server: invalid values are refused with their path', () => {
  const errors = (doc: unknown) => {
    const r = validateConfig(doc);
    return r.ok ? [] : r.errors.map((e) => e.path);
  };
  assert.deepEqual(errors(base({ server: { headersTimeout: '2m', requestTimeout: '1m' } })), ['server.headersTimeout']);
  assert.deepEqual(errors(base({ server: { serverHeader: 'a\r\nx-injected: 1' } })), ['server.serverHeader']);
  assert.deepEqual(errors(base({ server: { maxHeaderCount: 0 } })), ['server.maxHeaderCount']);
  assert.deepEqual(errors(base({ server: { unknown: 1 } })), ['server.unknown']);
  assert.deepEqual(errors(base({ loadShedding: { maxInflight: 0 } })), ['loadShedding.maxInflight']);
  assert.equal(validateConfig(base({ server: { requestTimeout: 0, headersTimeout: '1m' } })).ok, true, '0 = no request timeout');
});

test('server needs a restart; loadShedding is reloadable', () => {
  const first = validateConfig(base());
  assert.ok(first.ok);
  const inst = new Instance(first.config, silentLogger);
  const server = inst.check(validateConfig(base({ server: { maxUrlLength: 1000 } })));
  assert.equal(server.ok, false);
  assert.equal(server.code, 'CONFIG_RESTART_REQUIRED');
  assert.deepEqual(
    server.errors.map((e) => e.path),
    ['server'],
  );
  assert.deepEqual(inst.check(validateConfig(base({ loadShedding: { maxInflight: 10 } }))), { ok: true, version: 1 });
});
