import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeText, TextEncoder64 } from './text.js';
import { trailerFrame } from './grpc-web.js';

test('text mode: one or several padded base64 pieces decode; anything else is refused', () => {
  assert.deepEqual(decodeText(Buffer.from('aGVsbG8=')), Buffer.from('hello'));
  assert.deepEqual(decodeText(Buffer.from('aGk=aGVsbG8=')), Buffer.from('hihello'));
  assert.deepEqual(decodeText(Buffer.from('aGk=\r\naGVs bG8=')), Buffer.from('hihello'), 'line breaks and spaces are skipped');
  assert.deepEqual(decodeText(Buffer.from('')), Buffer.alloc(0));
  assert.equal(decodeText(Buffer.from('aGk')), undefined, 'not a whole quad');
  assert.equal(decodeText(Buffer.from('a!k=')), undefined, 'outside the alphabet');
  assert.equal(decodeText(Buffer.from('a=k=')), undefined, 'padding inside a piece');
});

test('text mode: a response encoded in pieces decodes to the same bytes, whatever the chunk sizes', () => {
  const bytes = Buffer.from(Array.from({ length: 100 }, (_, i) => i * 7));
  for (const size of [1, 2, 3, 4, 7, 100]) {
    const enc = new TextEncoder64();
    let out = '';
    for (let i = 0; i < bytes.length; i += size) out += enc.push(bytes.subarray(i, i + size))?.toString('latin1') ?? '';
    out += enc.end()?.toString('latin1') ?? '';
    assert.deepEqual(Buffer.from(out, 'base64'), bytes, `chunks of ${size}`);
    assert.ok(!out.slice(0, -2).includes('='), 'padding only at the end');
  }
});

test('the trailer frame: flag 0x80, the length, lower-case name:value lines', () => {
  const f = trailerFrame(['Grpc-Status', '0', 'grpc-message', 'ok']);
  assert.equal(f[0], 0x80);
  assert.equal(f.readUInt32BE(1), f.length - 5);
  assert.equal(f.subarray(5).toString(), 'grpc-status:0\r\ngrpc-message:ok\r\n');
});
