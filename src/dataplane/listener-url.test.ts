import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listenerUrl } from './listener-url.js';

test('the scheme follows TLS; wildcard hosts become loopback; IPv6 in brackets', () => {
  assert.equal(listenerUrl(false, '127.0.0.1', 8080), 'http://127.0.0.1:8080');
  assert.equal(listenerUrl(true, '127.0.0.1', 8443), 'https://127.0.0.1:8443');
  assert.equal(listenerUrl(true, '0.0.0.0', 8443), 'https://127.0.0.1:8443');
  assert.equal(listenerUrl(false, '::', 8080), 'http://[::1]:8080');
  assert.equal(listenerUrl(true, '::1', 8443), 'https://[::1]:8443');
  assert.equal(listenerUrl(false, 'localhost', 80), 'http://localhost:80');
});
