import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptFor, asksForWebSocket, upstreamHandshakeProblem } from './handshake-checks.js';

// RFC 6455 §1.3's own example.
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

test('acceptFor: the RFC 6455 example', () => {
  assert.equal(acceptFor(KEY), ACCEPT);
});

test('asksForWebSocket: the websocket token, any case, alone or in a list; nothing else', () => {
  assert.equal(asksForWebSocket('websocket'), true);
  assert.equal(asksForWebSocket('WebSocket'), true);
  assert.equal(asksForWebSocket('foo/1, websocket'), true);
  assert.equal(asksForWebSocket('h2c'), false);
  assert.equal(asksForWebSocket('websockets'), false);
  assert.equal(asksForWebSocket(undefined), false);
});

test('upstreamHandshakeProblem: a valid 101 passes; each broken part is named', () => {
  const ok = ['Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Accept', ACCEPT];
  assert.equal(upstreamHandshakeProblem(ok, KEY, undefined), undefined);
  assert.equal(upstreamHandshakeProblem([...ok, 'Sec-WebSocket-Protocol', 'chat'], KEY, 'superchat, chat'), undefined);
  assert.match(upstreamHandshakeProblem([...ok, 'Sec-WebSocket-Protocol', 'other'], KEY, 'chat')!, /subprotocol/);
  assert.match(upstreamHandshakeProblem([...ok, 'Sec-WebSocket-Protocol', 'chat'], KEY, undefined)!, /subprotocol/);
  assert.match(
    upstreamHandshakeProblem(['Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Accept', 'bm9wZQ=='], KEY, undefined)!,
    /Accept/,
  );
  assert.match(upstreamHandshakeProblem([...ok, 'Sec-WebSocket-Accept', ACCEPT], KEY, undefined)!, /Accept/, 'two Accept fields');
  assert.match(
    upstreamHandshakeProblem(['Upgrade', 'h2c', 'Connection', 'Upgrade', 'Sec-WebSocket-Accept', ACCEPT], KEY, undefined)!,
    /Upgrade/,
  );
  assert.match(
    upstreamHandshakeProblem(['Upgrade', 'websocket', 'Connection', 'keep-alive', 'Sec-WebSocket-Accept', ACCEPT], KEY, undefined)!,
    /Connection/,
  );
});
