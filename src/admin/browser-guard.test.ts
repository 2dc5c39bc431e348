import { test } from 'node:test';
import assert from 'node:assert/strict';
import { foreignBrowserRequest, type GuardHeaders } from './browser-guard.js';

const guard = (host: string | undefined, origin?: string, more: GuardHeaders = {}, adminHost = '127.0.0.1') =>
  foreignBrowserRequest(
    { host: host === undefined ? undefined : [host], origin: origin === undefined ? undefined : [origin], ...more },
    adminHost,
  );

test('loopback names and addresses pass; a rebound domain does not', () => {
  for (const host of [
    '127.0.0.1:9876',
    '127.0.0.1',
    'localhost:9876',
    'LOCALHOST',
    'localhost.',
    '[::1]:9876',
    '[::1]',
    '10.0.0.5:9876',
    'app.localhost:9876',
  ]) {
    assert.equal(guard(host), false, host);
  }
  for (const host of [
    'rebind.evil.example:9876',
    'evil.example',
    '127.0.0.1.nip.io:9876',
    '[::1',
    '',
    '[::1]x.evil.example',
    '[::1]:80.evil.example',
    '127.0.0.1:x.evil.example',
  ]) {
    assert.equal(guard(host), true, host);
  }
  assert.equal(guard('gateway.internal:9876', undefined, {}, 'gateway.internal'), false, 'the configured admin host');
});

test('a request with no Host (an HTTP/1.0 health check) is not a browser page; with an Origin it is refused', () => {
  assert.equal(guard(undefined), false);
  assert.equal(guard(undefined, 'https://evil.example'), true);
});

test('an Origin passes only when it is the admin API itself, scheme included', () => {
  assert.equal(guard('127.0.0.1:9876', 'http://127.0.0.1:9876'), false);
  assert.equal(guard('127.0.0.1:9876', 'https://evil.example'), true);
  assert.equal(guard('127.0.0.1:9876', 'http://127.0.0.1:8000'), true, 'another local port is another origin');
  assert.equal(guard('127.0.0.1:9876', 'https://127.0.0.1:9876'), true, 'another scheme is another origin');
  assert.equal(guard('127.0.0.1:9876', 'null'), true);
  assert.equal(guard('127.0.0.1:9876', 'not a url'), true);
});

test('a repeated Host or Origin, or a browser saying cross-site, is refused', () => {
  assert.equal(foreignBrowserRequest({ host: ['127.0.0.1:9876', 'evil.example'] }, '127.0.0.1'), true);
  assert.equal(
    foreignBrowserRequest({ host: ['127.0.0.1:9876'], origin: ['http://127.0.0.1:9876', 'https://evil.example'] }, '127.0.0.1'),
    true,
  );
  assert.equal(guard('127.0.0.1:9876', undefined, { 'sec-fetch-site': ['cross-site'] }), true);
  assert.equal(guard('127.0.0.1:9876', undefined, { 'sec-fetch-site': ['same-origin'] }), false);
  assert.equal(guard('127.0.0.1:9876', undefined, { 'sec-fetch-site': ['none'] }), false, 'typed into the address bar');
});
