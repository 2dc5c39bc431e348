// Hostile input found in review: JSON numbers that cannot carry a 64-bit id exactly, duplicate
// JSON keys and query parameters, and proto/descriptor files that are not regular files (a FIFO
// would block the loading thread forever, /dev/zero would be read until memory runs out), too
// large, or imports climbing out of the include paths.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, ftruncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileBindings } from './http-rules.js';
import { loadProtos, MAX_PROTO_FILE_BYTES } from './protos.js';
import { buildRequest, type BuildResult } from './request-message.js';
import { tempDir } from '../../../test/helpers/child.js';

const TESTDATA = fileURLToPath(new URL('../../../../src/policies/grpc-transcode/testdata/', import.meta.url));
const loaded = loadProtos({ protos: [join(TESTDATA, 'bookstore.proto')] });
if (!loaded.ok) throw new Error(loaded.message);
const compiled = compileBindings(loaded.root, ['acme.bookstore.v1.Bookstore']);
if (!compiled.ok) throw new Error(compiled.errors.join('\n'));
const table = compiled.table;
const dir = await tempDir();
after(() => dir.remove());

function build(method: string, path: string, body: string, query = ''): BuildResult {
  const m = table.match(method, path);
  if (m.kind !== 'match') assert.fail(`${method} ${path} does not match`);
  return buildRequest(m.binding, m.vars, query, Buffer.from(body), 'application/json', { unknownFields: 'reject' });
}
function decoded(method: string, path: string, body: string, query = ''): unknown {
  const m = table.match(method, path);
  if (m.kind !== 'match') assert.fail('no match');
  const r = build(method, path, body, query);
  assert.ok(r.ok, r.ok ? '' : r.message);
  const t = m.binding.requestType;
  return t.toObject(t.decode(r.bytes), { longs: String });
}
function refused(method: string, path: string, body: string, query = ''): string {
  const r = build(method, path, body, query);
  if (r.ok) assert.fail(`should be refused: ${body} ${query}`);
  assert.equal(r.status, 400);
  return r.message;
}

test('a JSON number that is not exactly the integer written is refused, not rounded to another id', () => {
  // JSON.parse reads 9007199254740993 as 9007199254740992: the service would get another shelf.
  assert.match(refused('POST', '/v1/shelves', '{"id": 9007199254740993}'), /9007199254740993.*as a string/);
  assert.match(refused('POST', '/v1/shelves', '{"theme":"x","createdAt":null,"id":-18446744073709551617}'), /as a string/);
  assert.deepEqual(decoded('POST', '/v1/shelves', '{"id": "9007199254740993"}'), { id: '9007199254740993' });
  assert.deepEqual(decoded('POST', '/v1/shelves', '{"id": 9007199254740992}'), { id: '9007199254740992' }, 'exact: fine');
  assert.deepEqual(decoded('POST', '/v1/shelves', '{"theme": "9007199254740993 in a string"}'), { theme: '9007199254740993 in a string' });
  assert.deepEqual(decoded('POST', '/v1/shelves', '{"id": 1e3}'), { id: '1000' });
});

test('a key given twice in one JSON object is refused (proto3 JSON), not last-one-wins', () => {
  assert.equal(refused('POST', '/v1/shelves', '{"id":"1","theme":"x","id":"2"}'), 'the request body has the key "id" twice in one object');
  assert.match(refused('PATCH', '/v1/shelves/s1/books/b2', '{"extra":{"a":1,"b":{"c":1,"c":2}}}'), /"c" twice/);
  assert.ok(
    build('PATCH', '/v1/shelves/s1/books/b2', '{"extra":{"a":{"a":1},"b":[{"a":1},{"a":2}]},"title":"a"}').ok,
    'same key in other objects',
  );
  assert.ok(build('POST', '/v1/shelves', '{"theme":"\\"id\\":","id":"1"}').ok, 'a key-like string value');
});

test('one field set by two query parameter spellings is refused, not last-one-wins', () => {
  assert.equal(
    refused('GET', '/v1/shelves/3/books', '', 'page_size=1&pageSize=2'),
    'query parameter pageSize sets page_size, which page_size sets too',
  );
  assert.match(refused('GET', '/v1/shelves/3/books', '', 'filter.author=a&filter.author=b'), /given 2 times/);
});

test('proto and descriptor files must be regular files of a sane size; imports stay under their folder', () => {
  const fifo = join(dir.path, 'pipe.proto');
  execFileSync('mkfifo', [fifo]);
  for (const sources of [{ protos: [fifo] }, { descriptorSet: fifo }, { protos: ['/dev/zero'] }, { descriptorSet: '/dev/zero' }]) {
    const r = loadProtos(sources);
    assert.ok(!r.ok);
    assert.match(r.message, /is not a regular file/, JSON.stringify(sources));
  }
  const huge = join(dir.path, 'huge.proto');
  const fd = openSync(huge, 'w');
  ftruncateSync(fd, MAX_PROTO_FILE_BYTES + 1); // sparse: nothing is written
  closeSync(fd);
  const big = loadProtos({ protos: [huge] });
  assert.ok(!big.ok);
  assert.match(big.message, /is larger than/);
  const escaping = join(dir.path, 'a', 'escape.proto');
  execFileSync('mkdir', ['-p', join(dir.path, 'a')]);
  writeFileSync(join(dir.path, 'secret.proto'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(escaping, 'syntax = "proto3";\nimport "../secret.proto";\n');
  const esc = loadProtos({ protos: [escaping] });
  assert.ok(!esc.ok);
  assert.match(esc.message, /imports "\.\.\/secret\.proto": an import path cannot contain "\.\." segments/);
  assert.doesNotMatch(esc.message, /root/);
  const multiline = join(dir.path, 'multiline.proto');
  writeFileSync(multiline, 'syntax = "proto3";\nimport "one\ntwo\nthree";\n');
  const ml = loadProtos({ protos: [multiline] });
  assert.ok(!ml.ok);
  assert.doesNotMatch(ml.message, /\n/, 'an error is one line');
});
