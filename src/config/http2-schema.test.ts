// The HTTP/2 keys of a config: defaults, and the combinations validation refuses with their path.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../validation/validate.js';
import { makePki } from '../../test/helpers/certs.js';

const pki = makePki();
after(() => pki.cleanup());

const base = (service: Record<string, unknown> = {}, listen?: unknown[]) => ({
  ...(listen ? { listen } : {}),
  services: { api: { targets: [{ url: 'http://127.0.0.1:3001' }], ...service } },
  routes: [{ name: 'r', service: 'api' }],
});

function errorsOf(doc: unknown): string[] {
  const r = validateConfig(doc);
  assert.equal(r.ok, false, 'expected the config to be refused');
  return r.errors.map((e) => `${e.path}: ${e.message}`);
}

test('defaults: services speak HTTP/1.1, plain listeners no h2c, 100 streams per HTTP/2 connection', () => {
  const r = validateConfig(base());
  assert.ok(r.ok);
  assert.equal(r.config.services.api!.protocol, 'http1');
  assert.equal(r.config.listen[0]!.http2, undefined);
  assert.deepEqual(r.config.server.http2, { maxConcurrentStreams: 100, maxEarlyResets: 100 });
});

test('h2 needs https:// targets, h2c http:// ones', () => {
  assert.ok(validateConfig(base({ protocol: 'h2c' })).ok);
  assert.ok(validateConfig(base({ protocol: 'h2', targets: [{ url: 'https://api.internal:8443' }] })).ok);
  const h2 = errorsOf(base({ protocol: 'h2' }));
  assert.ok(
    h2.some((e) => e.startsWith('services.api.targets[0].url: protocol h2 is HTTP/2 over TLS')),
    h2.join('\n'),
  );
  const h2c = errorsOf(base({ protocol: 'h2c', targets: [{ url: 'https://api.internal' }] }));
  assert.ok(
    h2c.some((e) => e.startsWith('services.api.targets[0].url: protocol h2c is HTTP/2 without TLS')),
    h2c.join('\n'),
  );
  const other = errorsOf(base({ protocol: 'h3' }));
  assert.ok(
    other.some((e) => e.startsWith('services.api.protocol:')),
    other.join('\n'),
  );
});

test('http2 is for plain listeners: a TLS listener negotiates HTTP/2 by ALPN', () => {
  assert.ok(validateConfig(base({}, [{ port: 8080, http2: true }])).ok);
  const errs = errorsOf(base({}, [{ port: 8443, http2: true, tls: { cert: pki.server.certPath, key: pki.server.keyPath } }]));
  assert.ok(
    errs.some((e) => e.startsWith('listen[0].http2: a TLS listener offers HTTP/2 through ALPN')),
    errs.join('\n'),
  );
});

test('server.http2 limits are bounded', () => {
  const errs = errorsOf({ ...base(), server: { http2: { maxConcurrentStreams: 0, maxEarlyResets: 0 } } });
  assert.ok(
    errs.some((e) => e.startsWith('server.http2.maxConcurrentStreams:')),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => e.startsWith('server.http2.maxEarlyResets:')),
    errs.join('\n'),
  );
});
