// Response messages to JSON: the whole message, or only its response_body field (with the JSON of
// its default when unset), and bytes that are not a valid message (a typed error, for a 502).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileBindings, type Binding } from './http-rules.js';
import { loadProtos } from './protos.js';
import { messageToJson, ResponseDecodeError } from './response-message.js';

const TESTDATA = fileURLToPath(new URL('../../../../src/policies/grpc-transcode/testdata/', import.meta.url));
const loaded = loadProtos({ protos: [join(TESTDATA, 'bookstore.proto')] });
if (!loaded.ok) throw new Error(loaded.message);
const root = loaded.root;
const compiled = compileBindings(root, ['acme.bookstore.v1.Bookstore']);
if (!compiled.ok) throw new Error(compiled.errors.join('\n'));
const byMethod = (name: string) => compiled.table.bindings.find((b) => b.method.name === name)!;
const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const Book = root.lookupType('acme.bookstore.v1.Book');

test('the whole message in proto3 JSON (int64 as strings, enum names, timestamps, lowerCamel names)', () => {
  // Shelf{id=12, theme="sf", genre=FICTION, created_at={1s, 500000000ns}, capacity=2^64-1}
  assert.deepEqual(messageToJson(byMethod('GetShelf'), bytes('080c120273661801220808011080cab5ee0128ffffffffffffffffff01')), {
    id: '12',
    theme: 'sf',
    genre: 'FICTION',
    createdAt: '1970-01-01T00:00:01.500Z',
    capacity: '18446744073709551615',
  });
  assert.deepEqual(messageToJson(byMethod('GetShelf'), new Uint8Array()), {}, 'defaults are left out');
  assert.deepEqual(messageToJson(byMethod('CancelOrder'), new Uint8Array()), {}, 'google.protobuf.Empty');
});

test('fields the protos do not know are skipped (the service may be newer)', () => {
  // theme="sf" then field 99 (varint 1).
  assert.deepEqual(messageToJson(byMethod('GetShelf'), bytes('12027366' + '98' + '06' + '01')), { theme: 'sf' });
});

test('response_body sends only that field', () => {
  const book = Book.encode(Book.fromObject({ name: 'shelves/1/books/2', title: 'Solaris', page_count: 204 })).finish();
  assert.equal(messageToJson(byMethod('GetBookTitle'), book), 'Solaris');
  // ListBooksResponse{books=[{title:"A"},{title:"B"}], next_page_token="n"}
  assert.deepEqual(messageToJson(byMethod('ListShelfNames'), bytes('0a030a0141' + '0a030a0142' + '12016e')), [
    { name: 'A' },
    { name: 'B' },
  ]);
});

test('an unset response_body field gives the JSON of its default', () => {
  const b = (responseBody: string): Pick<Binding, 'responseType' | 'responseBody'> => ({ responseType: Book, responseBody });
  const empty = new Uint8Array();
  assert.equal(messageToJson(b('title'), empty), '');
  assert.deepEqual(messageToJson(b('authors'), empty), []);
  assert.deepEqual(messageToJson(b('stock'), empty), {});
  assert.equal(messageToJson(b('genre'), empty), 'GENRE_UNSPECIFIED');
  assert.equal(messageToJson(b('page_count'), empty), '0');
  assert.equal(messageToJson(b('weight'), empty), 0);
  assert.equal(messageToJson(b('in_print'), empty), false);
  assert.equal(messageToJson(b('cover'), empty), '');
  assert.equal(messageToJson(b('price'), empty), null);
  assert.equal(messageToJson(b('published'), empty), null);
  assert.equal(messageToJson(b('page_count'), bytes('3007')), '7');
});

test('bytes that are not a valid message throw ResponseDecodeError', () => {
  const shelf = byMethod('GetShelf');
  assert.throws(
    () => messageToJson(shelf, bytes('120a7366')),
    (err: unknown) =>
      err instanceof ResponseDecodeError && /^bad acme\.bookstore\.v1\.Shelf from the service: index out of range/.test(err.message),
  );
  assert.throws(() => messageToJson(shelf, bytes('0f')), ResponseDecodeError, 'wire type 7 does not exist');
  // An Any naming a type the protos do not define cannot be rendered either.
  const any = Book.encode(Book.fromObject({ note: { type_url: 'type.googleapis.com/acme.Nope', value: Buffer.from([8, 1]) } })).finish();
  assert.throws(
    () => messageToJson({ responseType: Book, responseBody: undefined }, any),
    /^ResponseDecodeError: bad acme\.bookstore\.v1\.Book from the service: no such type: acme\.Nope/,
  );
  assert.ok(new ResponseDecodeError('x') instanceof Error);
});
