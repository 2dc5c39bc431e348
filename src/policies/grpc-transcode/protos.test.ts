// Loading protos: the bookstore fixture with its imports, include path order, the bundled
// google/api and google/rpc protos, error messages (file:line for syntax errors, the importing
// file and the places searched for a missing import, the field naming an unknown type), and
// descriptor sets, including the google.api.http option surviving one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor.js';
import { descriptorRootWithHttp, HTTP_OPTION, loadProtos } from './protos.js';
import { tempDir } from '../../../test/helpers/child.js';

const TESTDATA = fileURLToPath(new URL('../../../../src/policies/grpc-transcode/testdata/', import.meta.url));
const BOOKSTORE = join(TESTDATA, 'bookstore.proto');
const dir = await tempDir();
after(() => dir.remove());

function write(rel: string, text: string): string {
  const p = join(dir.path, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

function root(sources: Parameters<typeof loadProtos>[0]): protobuf.Root {
  const r = loadProtos(sources);
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.root;
}

function failure(sources: Parameters<typeof loadProtos>[0]): string {
  const r = loadProtos(sources);
  if (r.ok) assert.fail('loading should fail');
  return r.message;
}

test('the bookstore loads with its sibling import, the well-known types and the bundled protos', () => {
  const r = root({ protos: [BOOKSTORE] });
  const svc = r.lookupService('acme.bookstore.v1.Bookstore');
  assert.equal(svc.methodsArray.length, 12);
  assert.deepEqual(svc.methods.GetShelf!.parsedOptions, [
    { [HTTP_OPTION]: { get: '/v1/shelves/{shelf_id}', additional_bindings: { get: '/v1/stores/{store.name}/shelves/{shelf_id}' } } },
  ]);
  // Proto field names are kept: templates and query parameters name fields as the .proto does.
  assert.deepEqual(Object.keys(r.lookupType('acme.bookstore.v1.GetShelfRequest').fields), ['shelf_id', 'store']);
  assert.equal(r.lookupType('acme.bookstore.v1.Book').fields.price!.resolvedType!.fullName, '.acme.shared.Money');
  for (const t of [
    'google.rpc.Status',
    'google.rpc.BadRequest',
    'google.rpc.ErrorInfo',
    'google.api.HttpRule',
    'google.protobuf.MethodOptions',
  ])
    assert.ok(r.lookup(t) instanceof protobuf.Type, t);
});

test('without google/api imports the google.rpc protos are still there (error details need them)', () => {
  const p = write(
    'plain/plain.proto',
    'syntax = "proto3";\npackage p;\nmessage M { string a = 1; }\nservice S { rpc Get(M) returns (M); }\n',
  );
  const r = root({ protos: [p] });
  assert.ok(r.lookup('google.rpc.Status') instanceof protobuf.Type);
  assert.ok(r.lookup('google.rpc.RetryInfo') instanceof protobuf.Type);
  assert.ok(r.lookup('google.protobuf.Any') instanceof protobuf.Type);
});

test('relative paths are relative to the working directory', () => {
  const cwd = process.cwd();
  try {
    process.chdir(TESTDATA);
    assert.ok(root({ protos: ['bookstore.proto'] }).lookup('acme.bookstore.v1.Bookstore'));
    assert.equal(failure({ protos: ['nope.proto'] }), 'cannot read nope.proto: ENOENT');
  } finally {
    process.chdir(cwd);
  }
});

test('a syntax error names the file and line', () => {
  const p = write('bad/users.proto', 'syntax = "proto3";\npackage u;\nmessage User {\n  int32 id = 1\n}\n');
  assert.equal(failure({ protos: [p] }), `${p}:5: illegal token '}', ';' expected`);
  const q = write('bad/users2.proto', 'syntax = "proto3";\n\nmessage User {\n  strin g id = 1;\n}\n');
  assert.match(failure({ protos: [q] }), new RegExp(`^${q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4: illegal `));
});

test('a syntax error in an imported file names that file', () => {
  write('imp/lib/broken.proto', 'syntax = "proto3";\nmessage B {\n  int32 x = 1;\n  oops\n}\n');
  const p = write('imp/main.proto', 'syntax = "proto3";\nimport "lib/broken.proto";\nmessage M { B b = 1; }\n');
  assert.match(
    failure({ protos: [p] }),
    new RegExp(`^${join(dir.path, 'imp/lib/broken.proto').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5: illegal name '}'$`),
  );
});

test('a missing import names the importing file and where it was looked for', () => {
  const inc = join(dir.path, 'inc-empty');
  mkdirSync(inc, { recursive: true });
  const p = write('missing/users.proto', 'syntax = "proto3";\nimport "google/type/date.proto";\nmessage U { string a = 1; }\n');
  assert.equal(
    failure({ protos: [p], includePaths: [inc] }),
    `${p} imports google/type/date.proto, not found in ${inc}, ${join(dir.path, 'missing')}, the bundled google/api and google/rpc protos`,
  );
  const q = write('missing/wkt.proto', 'syntax = "proto3";\nimport "google/protobuf/nope.proto";\n');
  assert.equal(failure({ protos: [q] }), `${q} imports google/protobuf/nope.proto, which protobufjs does not provide`);
});

test('an unknown type names the file and the field', () => {
  const p = write('unres/users.proto', 'syntax = "proto3";\npackage acme;\nmessage User {\n  string id = 1;\n  Date birthday = 2;\n}\n');
  assert.equal(failure({ protos: [p] }), `${p}: acme.User.birthday: no such Type or Enum 'Date' in Type acme.User`);
  const q = write('unres/svc.proto', 'syntax = "proto3";\npackage acme;\nmessage M {}\nservice S { rpc Get(M) returns (Nope); }\n');
  assert.equal(failure({ protos: [q] }), `${q}: acme.S.Get: no such type: Nope`);
});

test("include paths are searched before the importing file's directory", () => {
  write('order/inc/dep/thing.proto', 'syntax = "proto3";\npackage dep;\nmessage FromInclude {}\n');
  write('order/src/dep/thing.proto', 'syntax = "proto3";\npackage dep;\nmessage FromSibling {}\n');
  const p = write('order/src/main.proto', 'syntax = "proto3";\nimport "dep/thing.proto";\nmessage M {}\n');
  const withInc = root({ protos: [p], includePaths: [join(dir.path, 'order/inc')] });
  assert.ok(withInc.lookup('dep.FromInclude'));
  assert.equal(withInc.lookup('dep.FromSibling'), null);
  const without = root({ protos: [p] });
  assert.ok(without.lookup('dep.FromSibling'));
});

test('a vendored google/api and google/rpc in an include path is used instead of the bundled one', () => {
  write(
    'vendor/google/api/http.proto',
    'syntax = "proto3";\npackage google.api;\nmessage HttpRule { string get = 2; string vendored = 99; }\n',
  );
  write(
    'vendor/google/api/annotations.proto',
    'syntax = "proto3";\npackage google.api;\nimport "google/api/http.proto";\nimport "google/protobuf/descriptor.proto";\nextend google.protobuf.MethodOptions { HttpRule http = 72295728; }\n',
  );
  write(
    'vendor/google/rpc/status.proto',
    'syntax = "proto3";\npackage google.rpc;\nmessage Status { int32 code = 1; string message = 2; string vendored = 99; }\n',
  );
  const p = write(
    'vendor-user/main.proto',
    'syntax = "proto3";\nimport "google/api/annotations.proto";\nimport "google/rpc/status.proto";\nmessage M {}\n',
  );
  const r = root({ protos: [p], includePaths: [join(dir.path, 'vendor')] });
  assert.ok(r.lookupType('google.api.HttpRule').fields.vendored);
  assert.ok(r.lookupType('google.rpc.Status').fields.vendored);
  assert.ok(r.lookup('google.rpc.ErrorInfo'), 'the bundled error details are still added');
});

test('the same file given twice, or imported and given, is loaded once', () => {
  const r = root({ protos: [BOOKSTORE, BOOKSTORE, join(TESTDATA, 'shared/money.proto')] });
  assert.ok(r.lookup('acme.shared.Money'));
});

test('a duplicate definition is refused with the file that redefines it', () => {
  const a = write('dup/a.proto', 'syntax = "proto3";\npackage d;\nmessage M {}\n');
  const b = write('dup/b.proto', 'syntax = "proto3";\npackage d;\nmessage M {}\n');
  assert.equal(failure({ protos: [a, b] }), `${b}: duplicate name 'M' in Namespace d`);
});

test('protos and a descriptor set are exclusive, and one of them is needed', () => {
  assert.equal(failure({}), 'no proto files given');
  assert.equal(failure({ protos: [BOOKSTORE], descriptorSet: 'x.pb' }), 'give either protos or descriptorSet, not both');
  assert.equal(failure({ descriptorSet: join(dir.path, 'none.pb') }), `cannot read ${join(dir.path, 'none.pb')}: ENOENT`);
  const junk = write('junk.pb', '\xff\xff\xff\xff not a descriptor');
  assert.match(failure({ descriptorSet: junk }), new RegExp(`^${junk.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a FileDescriptorSet: `));
});

/**
 * A FileDescriptorSet as `protoc --include_imports` writes it: protobufjs's toDescriptor() drops
 * method options, so the google.api.http option is put back into each MethodOptions (field
 * 72295728), the way protoc encodes it.
 */
function descriptorSetOf(r: protobuf.Root): Uint8Array {
  const ext = descriptorRootWithHttp();
  const setType = ext.lookupType('google.protobuf.FileDescriptorSet');
  const set = descriptor.FileDescriptorSet.toObject(r.toDescriptor('proto3')) as {
    file: { package: string; service?: { name: string; method: { name: string; options?: object }[] }[] }[];
  };
  for (const f of set.file)
    for (const s of f.service ?? [])
      for (const m of s.method) {
        const opt = r.lookupService(`${f.package}.${s.name}`).methods[m.name]!.parsedOptions?.[0]?.[HTTP_OPTION] as
          { additional_bindings?: object } | undefined;
        // The parser gives a lone additional_bindings as an object; the message wants a list.
        if (opt) m.options = { '.google.api.http': { ...opt, additional_bindings: [opt.additional_bindings ?? []].flat() } };
      }
  return setType.encode(setType.fromObject(set)).finish();
}

test('a descriptor set loads, and the google.api.http options survive it', () => {
  const src = root({ protos: [BOOKSTORE] });
  const bytes = descriptorSetOf(src);
  // The option is really on the wire: protobufjs alone (without our extraction) loses it.
  const plain = protobuf.Root.fromDescriptor(bytes, { keepCase: true });
  assert.equal(plain.lookupService('acme.bookstore.v1.Bookstore').methods.GetShelf!.parsedOptions, undefined);
  const file = write('set/bookstore.pb', '');
  writeFileSync(file, bytes);
  const r = root({ descriptorSet: file });
  const svc = r.lookupService('acme.bookstore.v1.Bookstore');
  assert.deepEqual(svc.methods.GetShelf!.parsedOptions, [
    { [HTTP_OPTION]: { get: '/v1/shelves/{shelf_id}', additional_bindings: [{ get: '/v1/stores/{store.name}/shelves/{shelf_id}' }] } },
  ]);
  assert.deepEqual(svc.methods.GetFile!.parsedOptions, [{ [HTTP_OPTION]: { custom: { kind: 'HEAD', path: '/v1/files/{path=**}' } } }]);
  assert.deepEqual(svc.methods.UpdateBook!.parsedOptions, [
    { [HTTP_OPTION]: { patch: '/v1/{book.name=shelves/*/books/*}', body: 'book' } },
  ]);
  assert.deepEqual(svc.methods.GetBookTitle!.parsedOptions, [
    { [HTTP_OPTION]: { get: '/v1/{name=shelves/*/books/*}/title', response_body: 'title' } },
  ]);
  assert.equal(svc.methods.UploadBooks!.parsedOptions, undefined);
  assert.equal(svc.methods.UploadBooks!.requestStream, true);
  assert.deepEqual(Object.keys(r.lookupType('acme.bookstore.v1.GetShelfRequest').fields), ['shelf_id', 'store']);
  assert.ok(r.lookup('google.rpc.BadRequest'));
});

test('a descriptor set without the google.rpc protos gets the bundled ones', () => {
  const p = write(
    'set2/plain.proto',
    'syntax = "proto3";\npackage p;\nimport "google/protobuf/timestamp.proto";\nmessage M { google.protobuf.Timestamp t = 1; }\n',
  );
  // Build the set from a root that has only this file (and Timestamp).
  const only = new protobuf.Root();
  protobuf.parse('syntax = "proto3";\npackage p;\nmessage M { int32 a = 1; }\n', only, { keepCase: true });
  const file = write('set2/plain.pb', '');
  writeFileSync(file, descriptorSetOf(only));
  const r = root({ descriptorSet: file });
  assert.ok(r.lookup('p.M'));
  assert.ok(r.lookup('google.rpc.Status'));
  assert.ok(r.lookup('google.protobuf.Duration'), 'RetryInfo needs Duration: added from protobufjs');
  assert.ok(root({ protos: [p] }).lookup('p.M'));
});
