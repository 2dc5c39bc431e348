// The 308 to HTTPS on its own: the Location it builds (host without its port, the HTTPS port,
// path and query as sent), and when it does not redirect (TLS, a trusted proxy's
// X-Forwarded-Proto: https) or refuses (no usable Host).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { compileRedirect, httpsRedirect } from './https-redirect.js';
import type { ClientInfo, ScannedHeaders } from './forwarding.js';

const req = (url: string, encrypted = false) => ({ url, socket: encrypted ? { encrypted } : {} }) as unknown as IncomingMessage;
const scan = (host: string | undefined, xfp?: string) => ({ host, xfp }) as unknown as ScannedHeaders;
const client = (trusted = false): ClientInfo => ({ peer: '10.0.0.1', ip: '10.0.0.1', trusted });

function location(setting: true | { port: number }, url: string, host: string | undefined): string | undefined {
  const a = httpsRedirect(compileRedirect(setting)!, req(url), scan(host), client());
  assert.ok(a?.kind === 'verdict', JSON.stringify(a));
  assert.equal(a.verdict.status, 308);
  return a.verdict.headers?.location;
}

test('Location: same host without its port, the HTTPS port (443 left out), path and query as sent', () => {
  assert.equal(location(true, '/a/b?x=1&y=%20', 'shop.example'), 'https://shop.example/a/b?x=1&y=%20');
  assert.equal(location(true, '/', 'Shop.Example:8080'), 'https://shop.example/');
  assert.equal(location({ port: 8443 }, '/p', 'shop.example:8080'), 'https://shop.example:8443/p');
  assert.equal(location({ port: 443 }, '/p', 'shop.example'), 'https://shop.example/p');
  assert.equal(location(true, '/p', '[::1]:8080'), 'https://[::1]/p');
  assert.equal(location(true, '/p', '10.0.0.5'), 'https://10.0.0.5/p');
  // Absolute form: the target without scheme and authority.
  assert.equal(location(true, 'http://shop.example:8080/p?q', 'shop.example:8080'), 'https://shop.example/p?q');
  assert.equal(location(true, 'http://shop.example?q', 'shop.example'), 'https://shop.example/?q');
  // Bytes a header may not carry are percent-encoded; "//" stays a path on the same host.
  assert.equal(location(true, '/caf\u00e9 x', 'shop.example'), 'https://shop.example/caf%E9%20x');
  assert.equal(location(true, '//evil.example/x', 'shop.example'), 'https://shop.example//evil.example/x');
});

test('no redirect over TLS or when a trusted proxy says the client used HTTPS; an untrusted one is not believed', () => {
  const r = compileRedirect(true)!;
  assert.equal(httpsRedirect(r, req('/p', true), scan('a.example'), client()), undefined);
  assert.equal(httpsRedirect(r, req('/p'), scan('a.example', 'https'), client(true)), undefined);
  assert.equal(httpsRedirect(r, req('/p'), scan('a.example', 'HTTPS, http'), client(true)), undefined);
  assert.equal(httpsRedirect(r, req('/p'), scan('a.example', 'https'), client(false))?.kind, 'verdict');
  assert.equal(httpsRedirect(r, req('/p'), scan('a.example', 'http'), client(true))?.kind, 'verdict');
});

test('no Host, or one without a host name: 400 GW_BAD_REQUEST', () => {
  const r = compileRedirect({ port: 8443 })!;
  for (const host of [undefined, '', ':8080', '[]:80']) {
    const a = httpsRedirect(r, req('/p'), scan(host), client());
    assert.ok(a?.kind === 'error' && a.code === 'GW_BAD_REQUEST', String(host));
  }
});

test('off: false and absent compile to nothing (the route pays no check)', () => {
  assert.equal(compileRedirect(undefined), undefined);
  assert.equal(compileRedirect(false), undefined);
});
