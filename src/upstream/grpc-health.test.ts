import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHealthResponse, encodeHealthRequest } from './grpc-health.js';
import { headGrpcStatus, isOneGrpcMessage, retryableGrpcCall } from './grpc-retry.js';

const frame = (msg: number[]) => Buffer.from([0, 0, 0, 0, msg.length, ...msg]);

test('HealthCheckRequest: one uncompressed message holding the service name (field 1), empty for the server', () => {
  assert.deepEqual([...encodeHealthRequest('')], [0, 0, 0, 0, 0]);
  assert.deepEqual([...encodeHealthRequest('a.B')], [0, 0, 0, 0, 5, 0x0a, 3, 0x61, 0x2e, 0x42]);
  const long = encodeHealthRequest('x'.repeat(200)); // a two-byte length varint
  assert.deepEqual([...long.subarray(0, 8)], [0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01]);
});

test('HealthCheckResponse: the status, unknown fields skipped, malformed answers refused with a reason', () => {
  assert.equal(decodeHealthResponse(frame([0x08, 1])), 1);
  assert.equal(decodeHealthResponse(frame([0x08, 2])), 2);
  assert.equal(decodeHealthResponse(frame([])), 0, 'an absent field is UNKNOWN');
  assert.equal(decodeHealthResponse(frame([0x12, 2, 0x41, 0x42, 0x08, 1])), 1, 'a length-delimited field 2 is skipped');
  assert.equal(decodeHealthResponse(frame([0x1d, 1, 2, 3, 4, 0x08, 1])), 1, 'a fixed32 field 3 is skipped');
  assert.equal(decodeHealthResponse(Buffer.from([0, 0, 0])), 'no message in the answer');
  assert.equal(decodeHealthResponse(Buffer.from([1, 0, 0, 0, 2, 0x08, 1])), 'the answer is compressed');
  assert.equal(decodeHealthResponse(Buffer.from([0, 0, 0, 0, 9, 0x08, 1])), 'the answer is not one whole message');
  assert.equal(decodeHealthResponse(frame([0x08, 0x80])), 'a malformed message', 'a varint cut short');
  assert.equal(decodeHealthResponse(frame([0x12, 9, 1])), 'a malformed message', 'a length past the end');
  assert.equal(decodeHealthResponse(frame([0x0b])), 'a malformed message', 'a group (wire type 3)');
  // A varint is up to 10 bytes (a negative int32 or a large int64): an unknown one is skipped like any other field.
  const ten = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  assert.equal(decodeHealthResponse(frame([0x08, 1, 0x10, ...ten])), 1, 'an int64 field 2 of -1 is skipped');
  assert.notEqual(decodeHealthResponse(frame([0x08, ...ten])), 1, 'a status of -1 is not SERVING');
  assert.equal(decodeHealthResponse(frame([0x10, ...ten.slice(0, 9), 0x81, 0x01])), 'a malformed message', 'an 11-byte varint');
});

test('gRPC retries: which calls, which heads, which bodies', () => {
  const settings = { methods: new Set(['/p.S/Get']), statuses: new Set([14]) };
  assert.equal(retryableGrpcCall(settings, 'POST', '/p.S/Get', 'application/grpc'), true);
  assert.equal(retryableGrpcCall(settings, 'POST', '/p.S/Get', 'application/grpc+proto; charset=x'), true);
  assert.equal(retryableGrpcCall(settings, 'POST', '/p.S/Get', 'application/grpc-web'), false);
  assert.equal(retryableGrpcCall(settings, 'POST', '/p.S/Put', 'application/grpc'), false);
  assert.equal(retryableGrpcCall(settings, 'GET', '/p.S/Get', 'application/grpc'), false);
  assert.equal(retryableGrpcCall(undefined, 'POST', '/p.S/Get', 'application/grpc'), false);
  assert.equal(headGrpcStatus(['content-type', 'application/grpc', 'Grpc-Status', '14']), 14);
  assert.equal(headGrpcStatus([Buffer.from('grpc-status'), Buffer.from(' 0 ')]), 0);
  assert.equal(headGrpcStatus(['content-type', 'application/grpc']), undefined);
  assert.equal(headGrpcStatus(['grpc-status', 'x']), undefined);
  assert.equal(isOneGrpcMessage(frame([0x0a, 1, 0x41])), true);
  assert.equal(isOneGrpcMessage(Buffer.concat([frame([0x0a, 1, 0x41]), frame([])])), false, 'two messages: a client stream');
  assert.equal(isOneGrpcMessage(Buffer.alloc(0)), false);
});
