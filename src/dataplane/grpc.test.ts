import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';
import { encodeGrpcMessage, grpcStatusFor, isGrpcContentType, parseGrpcTimeout, sendGrpcRefusal } from './grpc.js';

test('gRPC content types', () => {
  for (const ct of ['application/grpc', 'application/grpc+proto', 'Application/GRPC+json', 'application/grpc; charset=utf-8'])
    assert.equal(isGrpcContentType(ct), true, ct);
  for (const ct of [undefined, '', 'application/grpc-web', 'application/grpc-web-text', 'application/grpcx', 'application/json'])
    assert.equal(isGrpcContentType(ct), false, String(ct));
});

test('grpc-message is percent-encoded as the gRPC spec says', () => {
  assert.equal(encodeGrpcMessage('plain text: ok'), 'plain text: ok');
  assert.equal(encodeGrpcMessage('100%'), '100%25');
  assert.equal(encodeGrpcMessage('the route’s\n'), 'the route%E2%80%99s%0A');
});

test('grpc-timeout: units H M S m u n, 1 to 8 digits, nothing else', () => {
  assert.equal(parseGrpcTimeout('1H'), 3_600_000);
  assert.equal(parseGrpcTimeout('2M'), 120_000);
  assert.equal(parseGrpcTimeout('2S'), 2000);
  assert.equal(parseGrpcTimeout('100m'), 100);
  assert.equal(parseGrpcTimeout('1500u'), 1.5);
  assert.equal(parseGrpcTimeout('99999999n'), 99.999999);
  for (const bad of ['', '1', 'S', '123456789S', '1.5S', '-1S', '1s', '1 S', ' 1S', '1SS'])
    assert.equal(parseGrpcTimeout(bad), undefined, bad);
});

test('error codes and statuses map to gRPC statuses', () => {
  const cases: [Parameters<typeof grpcStatusFor>[0], number, number][] = [
    ['GW_UNAUTHORIZED', 401, 16],
    ['GW_FORBIDDEN', 403, 7],
    ['GW_IP_FORBIDDEN', 403, 7],
    ['GW_RATE_LIMITED', 429, 8],
    ['GW_CONCURRENCY_LIMITED', 429, 8],
    ['GW_RATE_LIMIT_STORE_UNAVAILABLE', 503, 14],
    ['GW_ROUTE_NOT_FOUND', 404, 12],
    ['GW_METHOD_NOT_ALLOWED', 405, 12],
    ['GW_NO_HEALTHY_TARGET', 503, 14],
    ['GW_CIRCUIT_OPEN', 503, 14],
    ['GW_SERVICE_OVERLOADED', 503, 14],
    ['GW_OVERLOADED', 503, 14],
    ['GW_UPSTREAM_UNAVAILABLE', 502, 14],
    ['GW_UPSTREAM_TIMEOUT', 504, 4],
    ['GW_GRPC_DEADLINE_EXCEEDED', 504, 4],
    ['GW_PAYLOAD_TOO_LARGE', 413, 8],
    ['GW_VALIDATION_FAILED', 400, 3],
    ['GW_BAD_REQUEST', 400, 13],
    ['GW_BAD_REQUEST', 408, 4],
    ['GW_BAD_REQUEST', 431, 8],
    ['GW_GRPC_BAD_TIMEOUT', 400, 13],
    ['GW_INTERNAL', 500, 13],
    [undefined, 418, 3],
    [undefined, 302, 2],
  ];
  for (const [code, status, grpc] of cases) assert.equal(grpcStatusFor(code, status), grpc, `${String(code)} ${status}`);
});

test('a refusal on a stream already closed (not yet destroyed) does not throw, as node’s own writeHead does not', async () => {
  // A stream closed (RST_STREAM sent or received) stays undestroyed until its unread request body is
  // let go; its respond() throws ERR_HTTP2_INVALID_STREAM there, and the refusal must not.
  const outcomes: string[] = [];
  const server = http2.createServer((req, res) => {
    req.stream.close(http2.constants.NGHTTP2_CANCEL);
    try {
      sendGrpcRefusal(
        res as unknown as ServerResponse,
        { code: 'GW_ROUTE_NOT_FOUND', status: 404, message: undefined, headers: undefined },
        'id',
      );
      outcomes.push('sent');
    } catch (err) {
      outcomes.push((err as NodeJS.ErrnoException).code ?? 'threw');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const stream = session.request({ ':method': 'POST', ':path': '/a.B/C', 'content-type': 'application/grpc' });
    stream.on('error', () => {});
    stream.write(Buffer.from([0, 0, 0, 0, 0]));
    await once(stream, 'close');
    assert.deepEqual(outcomes, ['sent']);
  } finally {
    session.destroy();
    server.close();
  }
});
