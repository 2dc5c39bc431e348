import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BodyRefusal, type ResponseInfo } from '../types.js';
import { frame } from './frames.js';
import { transcodedResponse, type ResponseCodec } from './response.js';

const codec = (serverStreaming: boolean): ResponseCodec => ({
  toJson: (m) => ({ text: Buffer.from(m).toString() }),
  errorJson: (code, message) => ({ code, message, details: [] }),
  httpStatus: (code) => (code === 5 ? 404 : code === 14 ? 503 : 500),
  serverStreaming,
});
const head = (extra: string[] = [], status = 200): ResponseInfo => ({ status, headers: ['content-type', 'application/grpc', ...extra] });

test('unary: the message once the trailers say OK, split across chunks; the head chosen at the end', () => {
  const t = transcodedResponse(codec(false), 'ndjson', 1024);
  const res = head(['x-meta', 'kept']);
  const whole = frame(Buffer.from('hello'));
  assert.equal(t.data(whole.subarray(0, 3), res), undefined);
  assert.equal(t.data(whole.subarray(3), res), undefined);
  const out = t.end(['grpc-status', '0'], res);
  assert.equal(out!.toString(), '{"text":"hello"}');
  assert.deepEqual(res, { status: 200, headers: ['x-meta', 'kept', 'content-type', 'application/json'] });
});

test('a trailers-only error, even with another HTTP status from a proxy, is that status with a Status body', () => {
  const t = transcodedResponse(codec(false), 'ndjson', 1024);
  const res: ResponseInfo = { status: 503, headers: ['grpc-status', '14', 'grpc-message', 'draining'] };
  const out = t.end(undefined, res);
  assert.equal(res.status, 503);
  assert.deepEqual(JSON.parse(out!.toString()), { code: 14, message: 'draining', details: [] });
  assert.ok(!res.headers.includes('grpc-status'), 'gRPC fields are dropped');
});

test('not gRPC at all: a refusal; a message over the limit: a refusal from its length alone', () => {
  const t = transcodedResponse(codec(false), 'ndjson', 4);
  assert.throws(() => t.data(Buffer.from('<html>'), { status: 502, headers: ['content-type', 'text/html'] }), BodyRefusal);
  const u = transcodedResponse(codec(false), 'ndjson', 4);
  assert.throws(
    () => u.data(Buffer.from([0, 0xff, 0xff, 0xff, 0xff]), head()),
    (e: unknown) => e instanceof BodyRefusal && e.code === 'GW_UPSTREAM_BODY_TOO_LARGE',
  );
});

test('server streaming: a line per message as it comes, an error after them as the last line or event', () => {
  const t = transcodedResponse(codec(true), 'ndjson', 1024);
  const res = head();
  assert.equal(t.data(Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from('b'))]), res)!.toString(), '{"text":"a"}\n{"text":"b"}\n');
  assert.equal(res.headers.at(-1), 'application/x-ndjson');
  assert.equal(
    t.end(['grpc-status', '5', 'grpc-message', 'gone'], res)!.toString(),
    '{"error":{"code":5,"message":"gone","details":[]}}\n',
  );
  const s = transcodedResponse(codec(true), 'sse', 1024);
  assert.equal(s.data(frame(Buffer.from('a')), head())!.toString(), 'data: {"text":"a"}\n\n');
  assert.equal(s.end(['grpc-status', '13'], head())!.toString(), 'event: error\ndata: {"code":13,"message":"","details":[]}\n\n');
});
