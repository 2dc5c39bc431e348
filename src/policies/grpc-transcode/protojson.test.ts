// What protobufjs's protojson extension does, checked here because the transcoder relies on it
// for the whole proto3 JSON mapping: every well-known type round trip, int64 as strings, enums by
// name and number, base64 bytes (standard and URL-safe), original and lowerCamel names, unknown
// fields refused or ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protojson from 'protobufjs/ext/protojson.js';
import { loadProtos } from './protos.js';

const TESTDATA = fileURLToPath(new URL('../../../../src/policies/grpc-transcode/testdata/', import.meta.url));
const loaded = loadProtos({ protos: [join(TESTDATA, 'bookstore.proto')] });
if (!loaded.ok) throw new Error(loaded.message);
const Book = loaded.root.lookupType('acme.bookstore.v1.Book');
const Shelf = loaded.root.lookupType('acme.bookstore.v1.Shelf');

/** JSON → message → bytes → message → JSON. */
function roundTrip(json: unknown): unknown {
  const bytes = Book.encode(protojson.fromJson(Book, json)).finish();
  return protojson.toJson(Book, Book.decode(bytes));
}

test('every well-known type used by Book survives a round trip through the wire format', () => {
  const json = {
    name: 'shelves/1/books/2',
    title: 'The Dispossessed',
    authors: ['Ursula K. Le Guin'],
    genre: 'FICTION',
    cover: 'AAEC/w==',
    pageCount: '9007199254740993',
    published: '1974-05-01T12:30:00.123456789Z',
    readTime: '-3.000000500s',
    mask: 'title,pageCount,price.currencyCode',
    rating: 0,
    extra: { a: [1, 'two', true, null, { b: {} }], c: 1.5 },
    note: { '@type': 'type.googleapis.com/acme.shared.Money', currencyCode: 'EUR', units: '-5' },
    price: { currencyCode: 'USD', units: '12', nanos: 990000000 },
    stock: { paris: 3, lyon: 0 },
    weight: 0.25,
    inPrint: true,
    misc: [1, { x: 'y' }],
    subtitle: '',
    signed: false,
    tags: ['a', 1, null],
  };
  assert.deepEqual(roundTrip(json), json);
});

test('an Any holding a well-known type uses the "value" member', () => {
  const json = { note: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1.5s' } };
  // Fractions are written with 3, 6 or 9 digits, as proto3 JSON says.
  assert.deepEqual(roundTrip(json), { note: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1.500s' } });
});

test('timestamps with offsets are normalized to UTC; durations and timestamps out of range are refused', () => {
  assert.deepEqual(roundTrip({ published: '2024-01-01T01:00:00+01:00' }), { published: '2024-01-01T00:00:00Z' });
  assert.throws(() => protojson.fromJson(Book, { published: '2024-02-30T00:00:00Z' }), /invalid timestamp date/);
  assert.throws(() => protojson.fromJson(Book, { readTime: '1.5' }), /invalid duration/);
});

test('int64 is written as a string, read from a string or a number, and range-checked', () => {
  assert.deepEqual(roundTrip({ pageCount: 42 }), { pageCount: '42' });
  assert.deepEqual(roundTrip({ pageCount: '-9223372036854775808' }), { pageCount: '-9223372036854775808' });
  assert.throws(() => protojson.fromJson(Book, { pageCount: '9223372036854775808' }), /out of range for int64/);
  assert.deepEqual(
    protojson.toJson(Shelf, Shelf.decode(Shelf.encode(protojson.fromJson(Shelf, { capacity: '18446744073709551615' })).finish())),
    {
      capacity: '18446744073709551615',
    },
  );
  assert.throws(() => protojson.fromJson(Shelf, { capacity: -1 }), /out of range for uint64/);
  assert.throws(() => protojson.fromJson(Book, { pageCount: 1.5 }), /not an integer/);
});

test('enums are written by name and read by name or number', () => {
  assert.deepEqual(roundTrip({ genre: 2 }), { genre: 'HISTORY' });
  assert.deepEqual(roundTrip({ genre: 'HISTORY' }), { genre: 'HISTORY' });
  assert.deepEqual(roundTrip({ genre: 7 }), { genre: 7 }, 'an open enum keeps an unknown number');
  assert.throws(() => protojson.fromJson(Book, { genre: 'POETRY' }), /unknown enum value: "POETRY"/);
  assert.deepEqual(roundTrip({}), {}, 'the zero value is not written');
});

test('bytes are base64, standard or URL-safe, padding optional', () => {
  assert.deepEqual(roundTrip({ cover: '-_8' }), { cover: '+/8=' });
  const b = protojson.fromJson(Book, { cover: 'AAEC' }) as unknown as { cover: Uint8Array };
  assert.deepEqual([...b.cover], [0, 1, 2]);
});

test('original field names are accepted; lowerCamel is written', () => {
  assert.deepEqual(roundTrip({ page_count: '3', in_print: true, read_time: '2s' }), { pageCount: '3', inPrint: true, readTime: '2s' });
  assert.throws(() => protojson.fromJson(Book, { page_count: '3', pageCount: '4' }), /duplicate field/);
});

test('unknown fields are refused, or ignored with ignoreUnknownFields (unknown enum names too)', () => {
  assert.throws(() => protojson.fromJson(Book, { title: 'x', bogus: 1 }), /acme\.bookstore\.v1\.Book: unknown field: "bogus"/);
  assert.deepEqual(
    protojson.toJson(Book, protojson.fromJson(Book, { title: 'x', bogus: 1, genre: 'POETRY' }, { ignoreUnknownFields: true })),
    { title: 'x' },
  );
});

test('null means the default; wrong JSON types are refused with the field name', () => {
  assert.deepEqual(roundTrip({ title: null, price: null }), {});
  assert.throws(() => protojson.fromJson(Book, { title: 5 }), /\.acme\.bookstore\.v1\.Book\.title: expected string: 5/);
  assert.throws(() => protojson.fromJson(Book, { inPrint: 'true' }), /expected boolean/);
  assert.throws(() => protojson.fromJson(Book, { authors: 'x' }), /expected array/);
});
