// gRPC status → HTTP status and the JSON error body: every code, grpc-message decoding, rich
// details from grpc-status-details-bin (known types as JSON, unknown ones as base64), a trailer
// that disagrees with grpc-status, and trailers that do not decode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeGrpcMessage, errorBody, httpStatusOf } from './grpc-status.js';
import { loadProtos } from './protos.js';

const TESTDATA = fileURLToPath(new URL('../../../../src/policies/grpc-transcode/testdata/', import.meta.url));
const loaded = loadProtos({ protos: [join(TESTDATA, 'bookstore.proto')] });
if (!loaded.ok) throw new Error(loaded.message);
const root = loaded.root;
const Status = root.lookupType('google.rpc.Status');

function any(typeName: string, value: Record<string, unknown>) {
  return {
    type_url: `type.googleapis.com/${typeName}`,
    value: root.lookupType(typeName).encode(root.lookupType(typeName).fromObject(value)).finish(),
  };
}
function trailer(status: Record<string, unknown>, unpadded = false): string {
  const b64 = Buffer.from(Status.encode(Status.fromObject(status)).finish()).toString('base64');
  return unpadded ? b64.replace(/=+$/, '') : b64;
}

test('every gRPC code maps to its HTTP status; unknown codes are 500', () => {
  assert.deepEqual(
    Array.from({ length: 17 }, (_, c) => httpStatusOf(c)),
    [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401],
  );
  assert.equal(httpStatusOf(17), 500);
  assert.equal(httpStatusOf(-1), 500);
});

test('grpc-message is percent-decoded; invalid escapes are kept as written', () => {
  assert.equal(decodeGrpcMessage('caf%C3%A9 100%25 done'), 'café 100% done');
  assert.equal(decodeGrpcMessage('plain'), 'plain');
  assert.equal(decodeGrpcMessage('bad %zz and %E2%82 then %C3%A9'), 'bad %zz and %E2%82 then é');
  assert.deepEqual(errorBody(root, 5, 'no%20such%20book'), { code: 5, message: 'no such book', details: [] });
  assert.deepEqual(errorBody(root, 2, undefined), { code: 2, message: '', details: [] });
});

test('details of known types render as JSON with @type; unknown types as base64 value', () => {
  const bin = trailer(
    {
      code: 3,
      message: 'invalid title',
      details: [
        any('google.rpc.BadRequest', { field_violations: [{ field: 'book.title', description: 'empty' }] }),
        any('google.rpc.ErrorInfo', { reason: 'EMPTY_TITLE', domain: 'acme.com', metadata: { max: '200' } }),
        any('google.rpc.RetryInfo', { retry_delay: { seconds: 2, nanos: 500000000 } }),
        any('acme.shared.Money', { currency_code: 'EUR', units: 3 }),
        { type_url: 'type.googleapis.com/acme.internal.Secret', value: Buffer.from([8, 150, 1]) },
      ],
    },
    true,
  );
  assert.deepEqual(errorBody(root, 3, 'invalid%20title', bin), {
    code: 3,
    message: 'invalid title',
    details: [
      { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'book.title', description: 'empty' }] },
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'EMPTY_TITLE', domain: 'acme.com', metadata: { max: '200' } },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2.500s' },
      { '@type': 'type.googleapis.com/acme.shared.Money', currencyCode: 'EUR', units: '3' },
      { '@type': 'type.googleapis.com/acme.internal.Secret', value: 'CJYB' },
    ],
  });
});

test('grpc-status and grpc-message win over a trailer that disagrees', () => {
  const bin = trailer({ code: 7, message: 'trailer says denied', details: [any('google.rpc.ErrorInfo', { reason: 'R' })] });
  assert.deepEqual(errorBody(root, 5, 'not found', bin), {
    code: 5,
    message: 'not found',
    details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'R' }],
  });
});

test('a trailer that does not decode is ignored, never thrown', () => {
  const expect = { code: 13, message: 'boom', details: [] };
  assert.deepEqual(errorBody(root, 13, 'boom', '!!not base64!!'), expect);
  assert.deepEqual(errorBody(root, 13, 'boom', Buffer.from([0x1a, 0x09, 0x0a]).toString('base64')), expect, 'truncated protobuf');
  assert.deepEqual(errorBody(root, 13, 'boom', ''), expect);
  // A known type whose value is not a valid message of it: kept opaque.
  const bin = trailer({
    code: 13,
    details: [{ type_url: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from([0x0a, 0x05, 0x41]) }],
  });
  assert.deepEqual(errorBody(root, 13, 'boom', bin), {
    ...expect,
    details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', value: 'CgVB' }],
  });
});
