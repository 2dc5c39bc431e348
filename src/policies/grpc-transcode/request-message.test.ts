// Request messages from HTTP requests: path variables (nested, multi-segment, typed), the body
// ("*", one field of message, scalar or repeated type), query parameters (both spellings,
// repetition, enums, WKTs, nested), path over body, and every way a request is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileBindings, type BindingTable, type ConfigHttpRule } from './http-rules.js';
import { loadProtos } from './protos.js';
import { buildRequest, jsonDepthOver, type BuildResult } from './request-message.js';

const TESTDATA = fileURLToPath(new URL('../../../../src/policies/grpc-transcode/testdata/', import.meta.url));
const loaded = loadProtos({ protos: [join(TESTDATA, 'bookstore.proto')] });
if (!loaded.ok) throw new Error(loaded.message);
const root = loaded.root;
const SVC = 'acme.bookstore.v1.Bookstore';

function tableWith(rules: ConfigHttpRule[] = []): BindingTable {
  const r = compileBindings(root, [SVC], rules);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.table;
}
const table = tableWith([
  { selector: `${SVC}.CancelOrder`, post: '/v1/orders/{order_id}:cancel', body: 'reason' },
  {
    selector: `${SVC}.ListBooks`,
    get: '/v1/shelves/{shelf_id}/books',
    additionalBindings: [{ post: '/v1/shelves/{shelf_id}/books:search', body: 'genres' }, { get: '/v1/genre/{genres}' }],
  },
]);

interface Req {
  query?: string;
  body?: string | Uint8Array;
  contentType?: string;
  unknownFields?: 'reject' | 'ignore';
}
function build(method: string, path: string, req: Req = {}): BuildResult {
  const m = table.match(method, path);
  if (m.kind !== 'match') assert.fail(`${method} ${path} does not match`);
  const body = typeof req.body === 'string' ? Buffer.from(req.body) : (req.body ?? new Uint8Array());
  return buildRequest(m.binding, m.vars, req.query ?? '', body, req.contentType ?? 'application/json', {
    unknownFields: req.unknownFields ?? 'reject',
  });
}
function hex(method: string, path: string, req?: Req): string {
  const r = build(method, path, req);
  assert.ok(r.ok, r.ok ? '' : r.message);
  return Buffer.from(r.bytes).toString('hex');
}
/** The built message decoded (by protobufjs, independently of the code under test) as plain JSON. */
function decoded(method: string, path: string, req?: Req): unknown {
  const m = table.match(method, path);
  if (m.kind !== 'match') throw new Error('no match');
  const r = build(method, path, req);
  assert.ok(r.ok, r.ok ? '' : r.message);
  const t = m.binding.requestType;
  return t.toObject(t.decode(r.bytes), { longs: String, enums: String, bytes: String });
}
function refused(method: string, path: string, req?: Req): string {
  const r = build(method, path, req);
  if (r.ok) assert.fail('should be refused');
  assert.equal(r.status, 400);
  return r.message;
}

test('path variables set their fields with their types; exact bytes', () => {
  assert.equal(hex('GET', '/v1/shelves/5'), '0805');
  assert.equal(hex('GET', '/v1/stores/main/shelves/5'), '080512060a046d61696e', 'nested store.name');
  assert.equal(hex('GET', '/v1/shelves/s1/books/b2'), '0a137368656c7665732f73312f626f6f6b732f6232', 'multi-segment value');
  assert.equal(hex('GET', '/v1/shelves/-7'), '08f9ffffffffffffffff01', 'negative int64');
  assert.deepEqual(decoded('GET', '/v1/genre/HISTORY'), { genres: ['HISTORY'] }, 'enum by name, repeated gets one element');
  assert.deepEqual(decoded('GET', '/v1/genre/1'), { genres: ['FICTION'] }, 'enum by number');
});

test('body "*" is the whole message: int64 and uint64 strings, enum names, timestamps; exact bytes', () => {
  const body = JSON.stringify({
    id: '12',
    theme: 'sf',
    genre: 'FICTION',
    createdAt: '1970-01-01T00:00:01.5Z',
    capacity: '18446744073709551615',
  });
  assert.equal(hex('POST', '/v1/shelves', { body }), '080c120273661801220808011080cab5ee0128ffffffffffffffffff01');
  assert.equal(hex('POST', '/v1/shelves', { body: ' ' }), '', 'an empty body is an empty message');
  assert.equal(hex('POST', '/v1/shelves', { body: '{"created_at":null}', contentType: 'application/merge-patch+json; charset=utf-8' }), '');
});

test('body "field": the JSON is that field, a message, a scalar or a repeated field', () => {
  assert.equal(hex('POST', '/v1/orders/o-1:cancel', { body: '"late"' }), '0a036f2d3112046c617465');
  assert.equal(hex('POST', '/v1/shelves/3/books:search', { body: '["FICTION", 2]' }), '080322020102');
  assert.deepEqual(
    decoded('PATCH', '/v1/shelves/s1/books/b2', {
      body: '{"title":"T","page_count":"7","cover":"AQID"}',
      query: 'updateMask=title,pageCount',
    }),
    { book: { name: 'shelves/s1/books/b2', title: 'T', page_count: '7', cover: 'AQID' }, update_mask: { paths: ['title', 'page_count'] } },
  );
});

test('the path wins over the body, whatever spelling the body used', () => {
  assert.deepEqual(decoded('PATCH', '/v1/shelves/s1/books/b2', { body: '{"name":"shelves/evil/books/x","title":"T"}' }), {
    book: { name: 'shelves/s1/books/b2', title: 'T' },
  });
  assert.deepEqual(decoded('PATCH', '/v1/shelves/s1/books/b2', { body: 'null' }), { book: { name: 'shelves/s1/books/b2' } });
  assert.equal(hex('POST', '/v1/orders/o-1:cancel', { body: '"late"' }), '0a036f2d3112046c617465');
  const t = tableWith([{ selector: `${SVC}.CancelOrder`, post: '/v1/orders/{order_id}', body: '*' }]);
  const m = t.match('POST', '/v1/orders/o-1');
  if (m.kind !== 'match') throw new Error('no match');
  const r = buildRequest(m.binding, m.vars, '', Buffer.from('{"orderId":"o-2","reason":"late"}'), 'application/json', {
    unknownFields: 'reject',
  });
  assert.ok(r.ok);
  assert.equal(Buffer.from(r.bytes).toString('hex'), '0a036f2d3112046c617465');
});

test('query parameters: both spellings, repetition, enums by name and number, nested fields, WKTs, bools, floats, bytes', () => {
  const query =
    'page_size=10&pageToken=abc&genres=FICTION&genres=2&filter.author=le%20guin&filter.maxPages=300' +
    '&since=2024-01-02T03:04:05Z&min_pages=100&include_out_of_print=true&minRating=4.5&cursor=AQID';
  assert.deepEqual(decoded('GET', '/v1/shelves/3/books', { query }), {
    shelf_id: '3',
    page_size: 10,
    page_token: 'abc',
    genres: ['FICTION', 'HISTORY'],
    filter: { author: 'le guin', max_pages: 300 },
    since: { seconds: '1704164645' },
    min_pages: { value: '100' },
    include_out_of_print: true,
    min_rating: 4.5,
    cursor: 'AQID',
  });
  assert.deepEqual(
    decoded('GET', '/v1/shelves/3/books', { query: '?page_size=1' }),
    { shelf_id: '3', page_size: 1 },
    'a leading "?" is fine',
  );
});

test('unknown query parameters, and ones naming path or body fields, are refused or ignored', () => {
  assert.equal(refused('GET', '/v1/shelves/3/books', { query: 'bogus=1' }), 'unknown query parameter "bogus"');
  assert.equal(refused('GET', '/v1/shelves/3/books', { query: 'filter.nope=1' }), 'unknown query parameter "filter.nope"');
  for (const key of ['constructor', 'toString', '__proto__', 'filter.hasOwnProperty'])
    assert.equal(refused('GET', '/v1/shelves/3/books', { query: `${key}=1` }), `unknown query parameter "${key}"`);
  assert.deepEqual(decoded('GET', '/v1/shelves/3/books', { query: 'constructor=1&__proto__=2&page_size=3', unknownFields: 'ignore' }), {
    shelf_id: '3',
    page_size: 3,
  });
  assert.equal(
    refused('GET', '/v1/shelves/3/books', { query: 'shelf_id=4' }),
    'unknown query parameter "shelf_id" (that field is bound by the path or the body)',
  );
  assert.equal(
    refused('POST', '/v1/shelves', { query: 'theme=x', body: '{}' }),
    'unknown query parameter "theme"',
    'body "*" leaves nothing to the query',
  );
  assert.equal(
    refused('PATCH', '/v1/shelves/s1/books/b2', { query: 'book.title=x', body: '{}' }),
    'unknown query parameter "book.title" (that field is bound by the path or the body)',
  );
  assert.deepEqual(decoded('GET', '/v1/shelves/3/books', { query: 'bogus=1&shelf_id=4&page_size=2', unknownFields: 'ignore' }), {
    shelf_id: '3',
    page_size: 2,
  });
});

test('bad query and path values are refused with the parameter and the field', () => {
  const q = (query: string) => refused('GET', '/v1/shelves/3/books', { query });
  assert.equal(q('page_size=1&page_size=2'), 'query parameter page_size is given 2 times for a non-repeated field');
  assert.equal(
    q('page_size=3000000000'),
    'query parameter page_size: acme.bookstore.v1.ListBooksRequest.page_size: out of range for int32: "3000000000"',
  );
  assert.equal(q('page_size=ten'), 'query parameter page_size: acme.bookstore.v1.ListBooksRequest.page_size: invalid integer: "ten"');
  assert.equal(q('genres=POETRY'), 'query parameter genres: acme.bookstore.v1.ListBooksRequest.genres: unknown enum value: "POETRY"');
  assert.equal(
    q('include_out_of_print=yes'),
    'query parameter include_out_of_print: acme.bookstore.v1.ListBooksRequest.include_out_of_print: expected boolean: "yes"',
  );
  assert.equal(q('since=yesterday'), 'query parameter since: google.protobuf.Timestamp: invalid timestamp: "yesterday"');
  assert.equal(q('filter=x'), 'query parameter filter: names a message field, which a query parameter cannot set');
  assert.equal(
    refused('GET', '/v1/shelves/abc'),
    'path variable {shelf_id}: acme.bookstore.v1.GetShelfRequest.shelf_id: invalid integer: "abc"',
  );
  assert.equal(
    refused('GET', '/v1/genre/POETRY'),
    'path variable {genres}: acme.bookstore.v1.ListBooksRequest.genres: unknown enum value: "POETRY"',
  );
  // An unknown enum name in the query is dropped in ignore mode (protojson's ignoreUnknownFields).
  assert.deepEqual(decoded('GET', '/v1/shelves/3/books', { query: 'genres=POETRY&genres=HISTORY', unknownFields: 'ignore' }), {
    shelf_id: '3',
    genres: ['HISTORY'],
  });
});

test('bad bodies are refused with a precise message', () => {
  const post = (body: string | Uint8Array, extra: Req = {}) => refused('POST', '/v1/shelves', { body, ...extra });
  assert.match(post('{"id": 1,'), /^the request body is not JSON: /);
  assert.equal(post(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d])), 'the request body is not UTF-8');
  assert.equal(post('[1]'), 'the request body must be a JSON object (acme.bookstore.v1.Shelf)');
  assert.equal(post('{"id": true}'), 'acme.bookstore.v1.Shelf.id: expected integer (number or string): true');
  assert.equal(post('{"id": "99999999999999999999"}'), 'acme.bookstore.v1.Shelf.id: out of range for int64: "99999999999999999999"');
  assert.equal(post('{"genre": "POETRY"}'), 'acme.bookstore.v1.Shelf.genre: unknown enum value: "POETRY"');
  assert.equal(post('{"theme": "x", "bogus": 1}'), 'acme.bookstore.v1.Shelf: unknown field: "bogus"');
  assert.equal(hex('POST', '/v1/shelves', { body: '{"theme": "sf", "bogus": 1}', unknownFields: 'ignore' }), '12027366');
  assert.equal(refused('GET', '/v1/shelves/5', { body: '{}' }), 'GET /v1/shelves/{shelf_id} takes no request body');
  const r = build('POST', '/v1/shelves', { body: 'id=1', contentType: 'application/x-www-form-urlencoded' });
  assert.deepEqual(r, { ok: false, status: 415, message: 'the request body must be JSON, not application/x-www-form-urlencoded' });
});

test('JSON nesting is limited to 64 levels', () => {
  const deep = (levels: number) => JSON.parse('['.repeat(levels) + ']'.repeat(levels)) as unknown;
  assert.equal(jsonDepthOver(deep(64), 64), false);
  assert.equal(jsonDepthOver(deep(65), 64), true);
  assert.equal(jsonDepthOver({ a: { b: [1, { c: 2 }] } }, 4), false);
  assert.equal(jsonDepthOver({ a: { b: [1, { c: {} }] } }, 4), true);
  // PATCH body "book": the book object is level 1, extra (a Struct) level 2, then the arrays.
  const nested = (arrays: number) => `{"extra":{"a":${'['.repeat(arrays)}${']'.repeat(arrays)}}}`;
  assert.ok(build('PATCH', '/v1/shelves/s1/books/b2', { body: nested(40) }).ok);
  // Within 64 levels, protojson's limit on Struct nesting (100 messages, two per level) applies.
  assert.equal(refused('PATCH', '/v1/shelves/s1/books/b2', { body: nested(62) }), 'max depth exceeded');
  assert.equal(refused('PATCH', '/v1/shelves/s1/books/b2', { body: nested(63) }), 'the request body nests deeper than 64 levels');
  assert.equal(refused('PATCH', '/v1/shelves/s1/books/b2', { body: nested(100000) }), 'the request body nests deeper than 64 levels');
});
