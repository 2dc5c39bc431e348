// The CLI's output through a real pipe whose reader is slow to start: every byte arrives (a pipe
// takes 64 KiB; an exit right after the write once cut `gatehouse schema | wc -c` there), a reader
// that leaves early ends the command quietly, and counts are worded as counts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI, runCli, tempDir } from './helpers/child.js';
import { configJsonSchemaText } from '../src/config/json-schema.js';
import { ConfigSchema } from '../src/policies/index.js';

const dir = await tempDir();
after(() => dir.remove());

/** Runs `gatehouse ARGS | (sleep 0.3; wc -c)` in a shell: the pipe is full before anyone reads it. */
function bytesThroughSlowPipe(args: string): number {
  const r = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" ${args} | (sleep 0.3; wc -c)`], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.stderr, '');
  return Number(r.stdout.trim());
}

test('gatehouse schema delivers the whole JSON Schema to a pipe', () => {
  const expected = Buffer.byteLength(configJsonSchemaText(ConfigSchema));
  assert.ok(expected > 65_536, 'the schema is larger than a pipe buffer');
  assert.equal(bytesThroughSlowPipe('schema'), expected);
});

test('gatehouse routes --json with thousands of routes (over 1 MB) delivers every byte to a pipe', async () => {
  const routes = Array.from(
    { length: 4000 },
    (_, i) => `  - name: route-number-${i}\n    match: { paths: ["/api/v1/resource-${i}/*"], methods: [GET, POST] }\n    service: s`,
  ).join('\n');
  const cfg = await dir.file(
    'many.yaml',
    `listen: [{ port: 8080 }]\nservices:\n  s: { targets: [{ url: "http://127.0.0.1:9" }] }\nroutes:\n${routes}\n`,
  );
  const direct = await runCli(['routes', '--json', '-c', cfg], { timeoutMs: 30_000 });
  assert.equal(direct.code, 0, direct.stderr);
  const expected = Buffer.byteLength(direct.stdout);
  assert.ok(expected > 1_000_000, `output is ${expected} bytes`);
  assert.equal(bytesThroughSlowPipe(`routes --json -c "${cfg}"`), expected);
  JSON.parse(direct.stdout); // and it is one whole document
});

test('a reader that stops early (| head -c 100) ends the command without an error', () => {
  const r = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" schema | head -c 100 >/dev/null`], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.stderr, '', 'no stack trace, no EPIPE message');
});

test('validate words its counts: "1 route, 1 service"', async () => {
  const cfg = await dir.file(
    'one.yaml',
    'listen: [{ port: 8080 }]\nservices:\n  s: { targets: [{ url: "http://127.0.0.1:9" }] }\nroutes:\n  - { name: r, match: { paths: ["/"] }, service: s }\n',
  );
  const r = await runCli(['validate', '-c', cfg]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /: ok \(1 route, 1 service\)\n$/);
});

test('--help lists every exit code, 70 included', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  for (const code of ['0 ok', '1 invalid config', '2 usage error', '3 could not start', '4 explain found no route', '70 internal error'])
    assert.ok(r.stdout.includes(code), code);
});

test('explain prints, for every other route whose path matched, why it lost', async () => {
  const cfg = await dir.file(
    'precedence.yaml',
    `listen: [{ port: 8080 }]
services:
  users: { targets: [{ url: "http://127.0.0.1:3001" }] }
routes:
  - name: users-v2
    match: { paths: ["/api/users/:id"], headers: { x-api-version: "2" } }
    service: users
  - name: users-admin
    match: { hosts: [admin.example.com], paths: ["/api/users/:id"] }
    service: users
  - name: users
    match: { paths: ["/api/users/:id"], methods: [GET] }
    service: users
  - name: api-catch-all
    match: { paths: ["/api/*"] }
    service: users
`,
  );
  const r = await runCli(['explain', '-c', cfg, 'GET', 'http://api.example.com/api/users/42']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /matched: route "users" \(match order #3\)/);
  assert.match(
    r.stdout,
    /other routes whose path matched:\n {4}#1 users-admin \(admin\.example\.com \/api\/users\/:id\): host: "api\.example\.com" is not admin\.example\.com\n {4}#2 users-v2 \(\* \/api\/users\/:id\): header: x-api-version = "2" does not hold\n {4}#4 api-catch-all \(\* \/api\/\*\): its conditions hold, but route "users" \(#3\) comes first on path kind/,
  );
  const j = await runCli(['explain', '-c', cfg, '--json', 'DELETE', 'http://api.example.com/api/users/42']);
  const x = JSON.parse(j.stdout) as { candidates: { route: string; outcome: string; reason: string }[] };
  assert.deepEqual(
    x.candidates.map((c) => [c.route, c.outcome]),
    [
      ['users-admin', 'lost'],
      ['users-v2', 'lost'],
      ['users', 'lost'],
      ['api-catch-all', 'matched'],
    ],
  );
  assert.equal(x.candidates[2]!.reason, 'method: DELETE is not in GET');
});
