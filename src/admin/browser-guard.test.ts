import { test } from 'node:test';
import assert from 'node:assert/strict';
import { foreignBrowserRequest } from './browser-guard.js';

test('loopback names and addresses pass; a rebound domain does not', () => {
  for (const host of ['127.0.0.1:9876', '127.0.0.1', 'localhost:9876', 'LOCALHOST', 'localhost.', '[::1]:9876', '10.0.0.5:9876', 'app.localhost:9876']) {
    assert.equal(foreignBrowserRequest(host, undefined, '127.0.0.1'), false, host);
  }
  for (const host of ['rebind.evil.example:9876', 'evil.example', '127.0.0.1.nip.io:9876', '[::1', '', undefined]) {
    assert.equal(foreignBrowserRequest(host, undefined, '127.0.0.1'), true, String(host));
  }
  assert.equal(foreignBrowserRequest('gateway.internal:9876', undefined, 'gateway.internal'), false, 'the configured admin host');
});

test('an Origin passes only when it is the admin API itself', () => {
  assert.equal(foreignBrowserRequest('127.0.0.1:9876', 'http://127.0.0.1:9876', '127.0.0.1'), false);
  assert.equal(foreignBrowserRequest('127.0.0.1:9876', 'https://evil.example', '127.0.0.1'), true);
  assert.equal(foreignBrowserRequest('127.0.0.1:9876', 'http://127.0.0.1:8000', '127.0.0.1'), true, 'another local port is another origin');
  assert.equal(foreignBrowserRequest('127.0.0.1:9876', 'null', '127.0.0.1'), true);
  assert.equal(foreignBrowserRequest('127.0.0.1:9876', 'not a url', '127.0.0.1'), true);
});
