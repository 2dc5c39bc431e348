// The policy as a config sees it: protos compiled when the config is, with each problem a config
// error at the entry's path (the file and line for a proto that does not parse).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateConfig } from '../../validation/validate.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-transcode-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const USERS = fileURLToPath(new URL('../../../../test/fixtures/grpc/users.proto', import.meta.url));

function errors(policy: Record<string, unknown>): string[] {
  const r = validateConfig({
    services: { s: { protocol: 'h2c', targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies: [{ type: 'grpc-transcode', ...policy }] }],
  });
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

test('valid protos and services compile', () => {
  assert.deepEqual(errors({ protos: [USERS], services: ['acme.users.v1.Users'] }), []);
});

test('a proto that does not parse: a config error with its file and line', () => {
  const bad = join(dir, 'bad.proto');
  writeFileSync(bad, 'syntax = "proto3";\npackage p;\nmessage M {\n  string name = 1\n}\n');
  const [e, ...rest] = errors({ protos: [bad], services: ['p.S'] });
  assert.deepEqual(rest, []);
  assert.match(e!, /^routes\[0\]\.policies\[0\]\.protos: .*bad\.proto:5: /);
});

test('a missing file, an unknown service, a rule naming a field that does not exist: each a config error', () => {
  assert.match(errors({ protos: [join(dir, 'none.proto')], services: ['p.S'] })[0]!, /none\.proto/);
  assert.match(errors({ protos: [USERS], services: ['acme.users.v1.Nobody'] })[0]!, /acme\.users\.v1\.Nobody/);
  const e = errors({
    protos: [USERS],
    services: ['acme.users.v1.Users'],
    rules: [{ selector: 'acme.users.v1.Users.CountUsers', get: '/v1/count/{colour}' }],
  });
  assert.equal(e.length, 1);
  assert.match(e[0]!, /colour/);
});

test('exactly one of protos and descriptorSet', () => {
  assert.match(errors({ services: ['p.S'] }).join('\n'), /exactly one of `protos` and `descriptorSet`/);
  assert.match(errors({ protos: [USERS], descriptorSet: 'x.pb', services: ['p.S'] }).join('\n'), /exactly one/);
});
