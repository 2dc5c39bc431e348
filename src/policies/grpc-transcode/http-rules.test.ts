// HTTP bindings: collected from the bookstore's google.api.http options and from config rules
// (which replace a method's annotation), validated with precise messages, and looked up by
// method and canonical path (match, 405 with Allow, no match).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileBindings, type BindingTable, type ConfigHttpRule } from './http-rules.js';
import { loadProtos } from './protos.js';

const TESTDATA = fileURLToPath(new URL('../../../../src/policies/grpc-transcode/testdata/', import.meta.url));
const loaded = loadProtos({ protos: [join(TESTDATA, 'bookstore.proto')] });
if (!loaded.ok) throw new Error(loaded.message);
const root = loaded.root;
const SVC = 'acme.bookstore.v1.Bookstore';
const sel = (m: string) => `${SVC}.${m}`;

function table(rules: ConfigHttpRule[] = []): BindingTable {
  const r = compileBindings(root, [SVC], rules);
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  return r.table;
}
function errors(rules: ConfigHttpRule[], services = [SVC]): string[] {
  const r = compileBindings(root, services, rules);
  if (r.ok) assert.fail('compiling should fail');
  return r.errors;
}
function matched(t: BindingTable, method: string, path: string) {
  const m = t.match(method, path);
  return m.kind === 'match' ? { method: m.binding.method.name, template: m.binding.template.source, vars: Object.fromEntries(m.vars) } : m;
}

test('the annotations give these bindings, in precedence order', () => {
  const rows = table().bindings.map((b) => [
    b.httpMethod,
    b.template.source,
    b.method.name,
    b.body ?? '',
    b.responseBody ?? '',
    b.serverStreaming,
  ]);
  // Literal segments (a verb counts), then no "**", then fewer wildcards, then declaration order.
  assert.deepEqual(rows, [
    ['GET', '/v1/{name=shelves/*/books/*}/title', 'GetBookTitle', '', 'title', false],
    ['GET', '/v1/shelves/{shelf_id}/books', 'ListBooks', '', '', false],
    ['POST', '/v1/orders/{order_id}:cancel', 'CancelOrder', '', '', false],
    ['GET', '/v1/shelves/{shelf_id}:watch', 'WatchShelf', '', '', true],
    ['GET', '/v1/stores/{store.name}/shelves/{shelf_id}', 'GetShelf', '', '', false],
    ['GET', '/v1/{name=shelves/*/books/*}', 'GetBook', '', '', false],
    ['PATCH', '/v1/{book.name=shelves/*/books/*}', 'UpdateBook', 'book', '', false],
    ['POST', '/v1/shelves', 'CreateShelf', '*', '', false],
    ['GET', '/v1/shelfnames', 'ListShelfNames', '', 'books', false],
    ['GET', '/v1/shelves/{shelf_id}', 'GetShelf', '', '', false],
    ['HEAD', '/v1/files/{path=**}', 'GetFile', '', '', false],
  ]);
  const b = table().bindings.find((x) => x.method.name === 'GetShelf')!;
  assert.equal(b.grpcPath, '/acme.bookstore.v1.Bookstore/GetShelf');
  assert.equal(b.selector, sel('GetShelf'));
  assert.equal(b.from, 'annotation');
  assert.equal(b.requestType.fullName, '.acme.bookstore.v1.GetShelfRequest');
  assert.equal(b.responseType.fullName, '.acme.bookstore.v1.Shelf');
});

test('matching: variables, nested fields, verbs, "**", additional bindings', () => {
  const t = table();
  assert.deepEqual(matched(t, 'GET', '/v1/shelves/5'), { method: 'GetShelf', template: '/v1/shelves/{shelf_id}', vars: { shelf_id: '5' } });
  assert.deepEqual(matched(t, 'get', '/v1/stores/main/shelves/5'), {
    method: 'GetShelf',
    template: '/v1/stores/{store.name}/shelves/{shelf_id}',
    vars: { 'store.name': 'main', shelf_id: '5' },
  });
  assert.deepEqual(matched(t, 'GET', '/v1/shelves/5:watch'), {
    method: 'WatchShelf',
    template: '/v1/shelves/{shelf_id}:watch',
    vars: { shelf_id: '5' },
  });
  assert.deepEqual(matched(t, 'POST', '/v1/orders/o-1:cancel'), {
    method: 'CancelOrder',
    template: '/v1/orders/{order_id}:cancel',
    vars: { order_id: 'o-1' },
  });
  assert.deepEqual(matched(t, 'PATCH', '/v1/shelves/s1/books/b2'), {
    method: 'UpdateBook',
    template: '/v1/{book.name=shelves/*/books/*}',
    vars: { 'book.name': 'shelves/s1/books/b2' },
  });
  assert.deepEqual(matched(t, 'GET', '/v1/shelves/s1/books/b2/title'), {
    method: 'GetBookTitle',
    template: '/v1/{name=shelves/*/books/*}/title',
    vars: { name: 'shelves/s1/books/b2' },
  });
  assert.deepEqual(matched(t, 'HEAD', '/v1/files/a/b/c.txt'), {
    method: 'GetFile',
    template: '/v1/files/{path=**}',
    vars: { path: 'a/b/c.txt' },
  });
});

test('a path bound to other methods only: method-not-allowed with the allowed ones; else none', () => {
  const t = table();
  assert.deepEqual(t.match('POST', '/v1/shelves/5'), { kind: 'method-not-allowed', allow: ['GET'] });
  assert.deepEqual(t.match('GET', '/v1/shelves'), { kind: 'method-not-allowed', allow: ['POST'] });
  assert.deepEqual(t.match('DELETE', '/v1/shelves/s1/books/b2'), { kind: 'method-not-allowed', allow: ['GET', 'PATCH'] });
  assert.deepEqual(matched(t, 'GET', '/v2/shelves/5'), { kind: 'none' });
  assert.deepEqual(matched(t, 'GET', '/v1/shelves/5/books/extra/more'), { kind: 'none' });
  assert.deepEqual(matched(t, 'GET', '/v1/shelves/5/books/b6'), {
    method: 'GetBook',
    template: '/v1/{name=shelves/*/books/*}',
    vars: { name: 'shelves/5/books/b6' },
  });
});

test('config rules replace the annotation of their method and can bind unannotated methods', () => {
  const t = table([
    {
      selector: sel('GetShelf'),
      get: '/v2/shelf/{shelf_id}',
      additionalBindings: [{ post: '/v2/shelf:get', body: '*', responseBody: 'theme' }],
    },
    { selector: sel('Internal'), custom: { kind: 'options', path: '/v1/internal' } },
  ]);
  assert.deepEqual(t.match('GET', '/v1/shelves/5'), { kind: 'none' }, 'the annotation is gone');
  assert.deepEqual(matched(t, 'GET', '/v2/shelf/7'), { method: 'GetShelf', template: '/v2/shelf/{shelf_id}', vars: { shelf_id: '7' } });
  const post = t.match('POST', '/v2/shelf:get');
  assert.ok(post.kind === 'match');
  assert.equal(post.binding.body, '*');
  assert.equal(post.binding.responseBody, 'theme');
  assert.equal(post.binding.from, 'config');
  assert.deepEqual(matched(t, 'OPTIONS', '/v1/internal'), { method: 'Internal', template: '/v1/internal', vars: {} });
  assert.equal(t.bindings.length, 12);
});

test('a service the protos do not define is an error listing those they do', () => {
  assert.deepEqual(errors([], [SVC, 'acme.users.v1.Users']), [
    'service acme.users.v1.Users is not defined by the protos (they define: acme.bookstore.v1.Bookstore)',
  ]);
  assert.deepEqual(errors([], ['acme.bookstore.v1.Book']), [
    'service acme.bookstore.v1.Book is not defined by the protos (they define: acme.bookstore.v1.Bookstore)',
  ]);
});

test('invalid rules are reported, all of them, with the method and the problem', () => {
  const cfg = (s: string) => `${sel(s)} (config rule)`;
  assert.deepEqual(
    errors([
      { selector: sel('GetShelf'), get: '/v1/shelves/{shelf_id' },
      { selector: sel('GetBook'), get: '/v1/{nope}' },
      { selector: sel('ListBooks'), get: '/v1/{filter}/{shelf_id.x}/{genres}/{filter.author}' },
      { selector: sel('UpdateBook'), patch: '/v1/{book.stock}', body: 'bok' },
      { selector: sel('CreateShelf'), get: '/v1/s', body: '*' },
      { selector: sel('CancelOrder'), delete: '/v1/o/{order_id}', body: 'reason' },
      { selector: sel('GetBookTitle'), get: '/v1/t/{name}', responseBody: 'titel' },
      { selector: sel('UploadBooks'), post: '/v1/upload', body: '*' },
      { selector: sel('Nope'), get: '/v1/nope' },
      { selector: sel('Internal'), get: '/v1/a', post: '/v1/b' },
      { selector: sel('ListShelfNames'), custom: { kind: 'BAD KIND', path: '/v1/x' } },
      {
        selector: sel('GetFile'),
        get: '/v1/f',
        additionalBindings: [{ get: '/v1/g', additionalBindings: [] } as unknown as ConfigHttpRule],
      },
    ]),
    [
      `rule selector ${sel('Nope')}: no such method in ${SVC}`,
      `${cfg('GetShelf')}: path template "/v1/shelves/{shelf_id": unclosed "{"`,
      `${cfg('CreateShelf')}: GET cannot have a body`,
      `${cfg('ListBooks')}: path variable {filter}: filter is a message, not a scalar`,
      `${cfg('ListBooks')}: path variable {shelf_id.x}: shelf_id is not a singular message field`,
      `${cfg('GetBook')}: path variable {nope}: acme.bookstore.v1.GetBookRequest has no field nope`,
      `${cfg('UpdateBook')}: path variable {book.stock}: stock is a map`,
      `${cfg('UpdateBook')}: body "bok": acme.bookstore.v1.UpdateBookRequest has no top-level field named so (fields: book, update_mask)`,
      `${cfg('CancelOrder')}: DELETE cannot have a body`,
      `${cfg('GetBookTitle')}: response_body "titel": acme.bookstore.v1.Book has no top-level field named so (fields: ${Object.keys(root.lookupType('acme.bookstore.v1.Book').fields).join(', ')})`,
      `${cfg('ListShelfNames')}: custom kind "BAD KIND" is not an HTTP method`,
      `${cfg('GetFile')} additional binding 1: additional bindings cannot have their own additional bindings`,
      `${cfg('UploadBooks')}: client-streaming methods cannot be transcoded`,
      `${cfg('Internal')}: needs exactly one of get, put, post, delete, patch, custom (has 2)`,
    ],
  );
});

test('names of Object.prototype members are not fields', () => {
  const cfg = `${sel('CreateShelf')} (config rule)`;
  const fields = 'id, theme, genre, created_at, capacity';
  assert.deepEqual(errors([{ selector: sel('CreateShelf'), post: '/v1/{constructor}', body: 'toString', responseBody: '__proto__' }]), [
    `${cfg}: path variable {constructor}: acme.bookstore.v1.Shelf has no field constructor`,
    `${cfg}: body "toString": acme.bookstore.v1.Shelf has no top-level field named so (fields: ${fields})`,
    `${cfg}: response_body "__proto__": acme.bookstore.v1.Shelf has no top-level field named so (fields: ${fields})`,
  ]);
});

test('a repeated scalar and a nested scalar are valid path variables', () => {
  const t = table([{ selector: sel('ListBooks'), get: '/v1/genre/{genres}/by/{filter.author}' }]);
  assert.deepEqual(matched(t, 'GET', '/v1/genre/FICTION/by/le%20guin'), {
    method: 'ListBooks',
    template: '/v1/genre/{genres}/by/{filter.author}',
    vars: { genres: 'FICTION', 'filter.author': 'le%20guin' },
  });
});

test('two bindings with the same method and template conflict, even with other variable names', () => {
  assert.deepEqual(errors([{ selector: sel('GetBook'), get: '/v1/shelves/{name}' }]), [
    `GET /v1/shelves/{name} of ${sel('GetBook')} conflicts with the same binding of ${sel('GetShelf')}`,
  ]);
  assert.deepEqual(errors([{ selector: sel('CreateShelf'), post: '/v1/x', additionalBindings: [{ post: '/v1/x' }] }]), [
    `POST /v1/x of ${sel('CreateShelf')} conflicts with the same binding of ${sel('CreateShelf')}`,
  ]);
  // Same template, other method: no conflict.
  assert.ok(compileBindings(root, [SVC], [{ selector: sel('CancelOrder'), delete: '/v1/shelves/{order_id}' }]).ok);
});

test('a selector given twice is an error', () => {
  assert.deepEqual(
    errors([
      { selector: sel('Internal'), get: '/v1/i1' },
      { selector: sel('Internal'), get: '/v1/i2' },
    ]),
    [`rule selector ${sel('Internal')}: given twice`],
  );
});
