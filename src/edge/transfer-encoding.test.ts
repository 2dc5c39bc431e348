import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transferEncodingFault } from './transfer-encoding.js';

test('chunked alone, in any letter case, is fine', () => {
  for (const v of ['chunked', 'Chunked', 'CHUNKED']) assert.equal(transferEncodingFault(v, '1.1'), undefined, v);
});

test('other codings before chunked: 501 GW_UNSUPPORTED_TRANSFER_ENCODING', () => {
  for (const v of ['gzip, chunked', 'identity, chunked', 'GZIP,chunked', 'x-custom;p=1, chunked', ', chunked', 'gzip, deflate, Chunked']) {
    assert.equal(transferEncodingFault(v, '1.1')?.code, 'GW_UNSUPPORTED_TRANSFER_ENCODING', v);
  }
});

test('chunked not last, or more than once: 400 GW_BAD_REQUEST', () => {
  for (const v of ['gzip', 'identity', 'chunked, identity', 'chunked, chunked', 'chunked;q=1', 'xchunked', '"chunked"', '']) {
    assert.equal(transferEncodingFault(v, '1.1')?.code, 'GW_BAD_REQUEST', v);
  }
});

test('any Transfer-Encoding in HTTP/1.0: 400 GW_BAD_REQUEST', () => {
  for (const v of ['chunked', 'gzip, chunked']) assert.equal(transferEncodingFault(v, '1.0')?.code, 'GW_BAD_REQUEST', v);
});
