// The `gatehouse` command as users run it: a child process, its exit codes, stdout and stderr.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { runCli, tempDir, startChild, killAllChildren, type TempDir, type RunResult } from './helpers/child.js';

let dir: TempDir;
before(async () => {
  dir = await tempDir();
});
after(async () => {
  await killAllChildren();
  await dir.remove();
});

const pkgVersion = (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string })
  .version;

/** No JavaScript stack trace anywhere in the output. */
function assertNoStack(r: RunResult): void {
  const all = r.stdout + r.stderr;
  assert.doesNotMatch(all, /^\s+at .+\(.+:\d+:\d+\)/m, `stack trace in output:\n${all}`);
  assert.doesNotMatch(all, /\b(TypeError|ReferenceError|SyntaxError)\b/, `JS error in output:\n${all}`);
}

const GOOD = `
listen: [{ port: 0, host: 127.0.0.1 }]
admin: { port: 0 }
services:
  users: { targets: [{ url: "http://127.0.0.1:3001" }] }
  orders: { targets: [{ url: "http://127.0.0.1:3002" }] }
routes:
  - name: users
    match: { paths: ["/users/*"] }
    service: users
  - name: orders
    match: { paths: ["/orders/:id"] }
    service: orders
`;

test('validate: a good config exits 0 and says so', async () => {
  const file = await dir.file('good.yaml', GOOD);
  const r = await runCli(['validate', '--config', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ok \(2 routes, 2 services\)/);
  assert.equal(r.stderr, '');
});

test('validate: a broken config exits 1 and prints every error as "path: message", no stack trace', async () => {
  const file = await dir.file(
    'broken.yaml',
    `
listen: [{ port: 0, host: 127.0.0.1 }]
bogus: true
services:
  users:
    targets: [{ url: "http://127.0.0.1:3001" }]
    timeouts: { connect: 5 parsecs }
  orders: { targets: [{ url: "http://127.0.0.1:3002" }] }
routes:
  - name: ghost-route
    service: ghost
  - name: starry
    match: { paths: ["/a/*/b"] }
    service: orders
  - name: ghost-route
    match: { paths: ["/dup"] }
    service: orders
  - name: slashless
    match: { paths: ["no-slash"] }
    service: orders
  - name: uses-broken-service
    match: { paths: ["/u"] }
    service: users
`,
  );
  const r = await runCli(['validate', '-c', file]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assertNoStack(r);
  const lines = r.stderr.trimEnd().split('\n');
  const summary = lines.pop()!;
  // Every error line has the documented shape.
  for (const l of lines) assert.match(l, /^[^\s:][^:]*: \S.*$/, `not "path: message": ${JSON.stringify(l)}`);
  const expected: [string, RegExp][] = [
    ['bogus', /^unknown key "bogus"$/],
    ['services.users.timeouts.connect', /expected a duration/],
    ['routes[0].service', /^service "ghost" is not defined/],
    ['routes[1].match.paths[0]', /"\*" is only allowed as the last segment/],
    ['routes[2].name', /^duplicate route name "ghost-route" \(also routes\[0\]\)$/],
    ['routes[3].match.paths[0]', /starts with "\/"/],
  ];
  for (const [path, message] of expected) {
    const line = lines.find((l) => l.startsWith(path + ': '));
    assert.ok(line, `no error for ${path} in:\n${r.stderr}`);
    assert.match(line.slice(path.length + 2), message, line);
  }
  // Exactly these: nothing reported twice, nothing made up (routes[4] names a service that exists
  // but is itself invalid — that is one error, at the service, not a second one at the route).
  assert.equal(lines.length, expected.length, r.stderr);
  assert.equal(summary, `${file}: ${expected.length} errors`);
  assert.equal(r.stdout, '');
});

test('validate: a YAML syntax error is one "line N, column M: message" line, exit 1', async () => {
  const file = await dir.file('syntax.yaml', 'routes: [\n  name: x\n');
  const r = await runCli(['validate', '-c', file]);
  assert.equal(r.code, 1);
  assertNoStack(r);
  assert.match(r.stderr.split('\n')[0]!, /^line \d+, column \d+: \S/);
});

test('validate: a missing file exits 1 with a clear message', async () => {
  const missing = `${dir.path}/does-not-exist.yaml`;
  const r = await runCli(['validate', '-c', missing]);
  assert.equal(r.code, 1);
  assertNoStack(r);
  assert.match(r.stderr, new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot read config: file not found$`, 'm'));
});

test('validate: ${VAR} and ${VAR:-default} are interpolated from the environment', async () => {
  const file = await dir.file(
    'env.yaml',
    `
listen:
  - port: \${GH_TEST_PORT}
    host: \${GH_TEST_HOST:-127.0.0.1}
admin: { port: 0, token: "\${GH_TEST_TOKEN:-}" }
services:
  users: { targets: [{ url: "http://\${GH_TEST_UPSTREAM:-127.0.0.1}:3001" }] }
routes:
  - name: "\${GH_TEST_ROUTE:-users}"
    service: users
`,
  );
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GH_TEST_')));

  // Required variable set, defaults used.
  let r = await runCli(['explain', '-c', file, '--json', 'GET', '/x'], { env: { ...env, GH_TEST_PORT: '8099' } });
  assert.equal(r.code, 0, r.stderr);
  let x = JSON.parse(r.stdout) as { route: { route: string }; upstream: { target: string } };
  assert.equal(x.route.route, 'users');
  assert.equal(x.upstream.target, 'http://127.0.0.1:3001');

  // Values from the environment win over defaults.
  r = await runCli(['explain', '-c', file, '--json', 'GET', '/x'], {
    env: { ...env, GH_TEST_PORT: '8099', GH_TEST_UPSTREAM: 'backend.internal', GH_TEST_ROUTE: 'from-env' },
  });
  assert.equal(r.code, 0, r.stderr);
  x = JSON.parse(r.stdout) as typeof x;
  assert.equal(x.route.route, 'from-env');
  assert.equal(x.upstream.target, 'http://backend.internal:3001');

  // A whole-value reference takes its type: "8099" became a number, or validation would fail.
  r = await runCli(['validate', '-c', file], { env: { ...env, GH_TEST_PORT: '8099' } });
  assert.equal(r.code, 0, r.stderr);

  // A required variable that is not set is an error at its path.
  r = await runCli(['validate', '-c', file], { env });
  assert.equal(r.code, 1);
  assertNoStack(r);
  assert.match(r.stderr, /^listen\[0\]\.port: environment variable GH_TEST_PORT is not set/m);
});

// Config order is deliberately the reverse of the expected match order wherever a rule decides.
const PRECEDENCE = `
listen: [{ port: 0, host: 127.0.0.1 }]
admin: { port: 0 }
services:
  s: { targets: [{ url: "http://127.0.0.1:3001" }] }
routes:
  - { name: catch-all-1, service: s }
  - { name: catch-all-2, service: s }
  - { name: short-prefix, match: { paths: ["/a/*"] }, service: s }
  - { name: long-prefix, match: { paths: ["/a/b/c/*"] }, service: s }
  - { name: p-prefix, match: { paths: ["/p/*"] }, service: s }
  - { name: p-param, match: { paths: ["/p/:id"] }, service: s }
  - { name: p-exact, match: { paths: ["/p/x"] }, service: s }
  - { name: h-none, match: { paths: ["/h/:id"] }, service: s }
  - { name: h-wild, match: { hosts: ["*.example.com"], paths: ["/h/:id"] }, service: s }
  - { name: h-exact, match: { hosts: ["api.example.com"], paths: ["/h/:id"] }, service: s }
  - { name: prio, priority: 5, match: { paths: ["/zzz/*"] }, service: s }
`;
const EXPECTED_ORDER = [
  'prio', // 1. higher priority first
  'h-exact', // 2. exact host, then wildcard host, then no host
  'h-wild',
  'p-exact', // 3. exact path, then params, then prefix
  'p-param', // "/p/:id" and "/h/:id" tie on everything else: 5. config order
  'h-none',
  'long-prefix', // 4. longer literal prefix first ("/a/b/c/" before "/a/" and "/p/")
  'short-prefix', // "/a/*" and "/p/*" tie: config order
  'p-prefix',
  'catch-all-1', // identical routes: config order
  'catch-all-2',
];

test('routes: the table in match order (priority, host, path kind, prefix length, config order)', async () => {
  const file = await dir.file('precedence.yaml', PRECEDENCE);
  const r = await runCli(['routes', '-c', file]);
  assert.equal(r.code, 0, r.stderr);
  const [head, ...rows] = r.stdout.trimEnd().split('\n');
  assert.match(head!, /^#\s+ROUTE\s+PRIO\s+HOST\s+PATH\s+METHODS/);
  const names = rows.map((l) => l.split(/\s+/)[1]);
  assert.deepEqual(names, EXPECTED_ORDER);
  assert.deepEqual(
    rows.map((l) => Number(l.split(/\s+/)[0])),
    EXPECTED_ORDER.map((_, i) => i + 1),
  );
  const hExact = rows.find((l) => l.split(/\s+/)[1] === 'h-exact')!;
  assert.match(hExact, /api\.example\.com\s+\/h\/:id/);
});

test('routes --json: the same order as structured rows', async () => {
  const file = await dir.file('precedence.yaml', PRECEDENCE);
  const r = await runCli(['routes', '-c', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { order: number; route: string; priority: number; host: string; path: string; service: string }[];
  assert.deepEqual(
    rows.map((x) => x.route),
    EXPECTED_ORDER,
  );
  assert.deepEqual(
    rows.map((x) => x.order),
    EXPECTED_ORDER.map((_, i) => i + 1),
  );
  assert.deepEqual(rows[0], { ...rows[0], route: 'prio', priority: 5, host: '*', path: '/zzz/*', service: 's' });
  assert.deepEqual(rows[2], { ...rows[2], route: 'h-wild', host: '*.example.com', path: '/h/:id' });
});

const EXPLAIN = `
listen: [{ port: 0, host: 127.0.0.1 }]
admin: { port: 0 }
services:
  users: { targets: [{ url: "http://127.0.0.1:3001" }] }
routes:
  - name: users-v1
    match:
      hosts: [api.example.com]
      paths: ["/api/v1/users/:id"]
      headers: { x-api-version: "1" }
    service: users
    stripPrefix: /api/v1
    policies:
      - type: headers
        response: { set: { x-served-by: gatehouse } }
  - name: users-any
    match: { hosts: ["*.example.com"], paths: ["/api/*"] }
    service: users
`;

test('explain: names the route, params, upstream path and policies; exit 0', async () => {
  const file = await dir.file('explain.yaml', EXPLAIN);
  const r = await runCli(['explain', '-c', file, 'GET', 'http://api.example.com/api/v1/users/42', '-H', 'x-api-version: 1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /matched: route "users-v1"/);
  assert.match(r.stdout, /params: id=42/);
  assert.match(r.stdout, /upstream: http:\/\/127\.0\.0\.1:3001 \/users\/42/);
  assert.match(r.stdout, /- headers \(route; phases: [^)]*response/);

  const j = await runCli(['explain', '-c', file, '--json', 'GET', 'http://api.example.com/api/v1/users/42', '-H', 'x-api-version: 1']);
  assert.equal(j.code, 0, j.stderr);
  const x = JSON.parse(j.stdout) as {
    matched: boolean;
    route: { route: string };
    params: Record<string, string>;
    upstream: { path: string };
    policies: { type: string }[];
  };
  assert.equal(x.matched, true);
  assert.equal(x.route.route, 'users-v1');
  assert.deepEqual(x.params, { id: '42' });
  assert.equal(x.upstream.path, '/users/42');
  assert.deepEqual(
    x.policies.map((p) => p.type),
    ['headers'],
  );

  // Without the header the versioned route does not match; the wildcard-host one does.
  const other = await runCli(['explain', '-c', file, 'GET', 'http://api.example.com/api/v1/users/42']);
  assert.equal(other.code, 0, other.stderr);
  assert.match(other.stdout, /matched: route "users-any"/);
});

test('explain: no matching route exits 4', async () => {
  const file = await dir.file('explain.yaml', EXPLAIN);
  const r = await runCli(['explain', '-c', file, 'GET', 'http://elsewhere.test/api/v1/users/42']);
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.match(r.stdout, /not matched/);
  assertNoStack(r);
});

test('--version, --help, and usage errors', async () => {
  const v = await runCli(['--version']);
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), pkgVersion);

  const h = await runCli(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Usage:/);
  for (const cmd of ['start', 'validate', 'routes', 'explain', 'schema']) assert.match(h.stdout, new RegExp(`gatehouse ${cmd}\\b`));

  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  assertNoStack(unknown);

  const none = await runCli([]);
  assert.equal(none.code, 2);

  const badOption = await runCli(['validate', '--no-such-option']);
  assert.equal(badOption.code, 2);
  assertNoStack(badOption);

  const explainArgs = await runCli(['explain', 'GET']);
  assert.equal(explainArgs.code, 2);
});

/** Runs `gatehouse start` with a config made for a port some other socket holds. */
async function startOnTakenPort(name: string, config: (port: number) => string) {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  try {
    const file = await dir.file(name, config((blocker.address() as net.AddressInfo).port));
    return await runCli(['start', '-c', file], { timeoutMs: 10_000 });
  } finally {
    blocker.close();
  }
}

test('start: a data-plane port that is already taken exits 3', async () => {
  const r = await startOnTakenPort('taken.yaml', (port) => GOOD.replace('port: 0, host', `port: ${port}, host`));
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /could not start: address in use/);
  assertNoStack(r);
});

test('start: a taken port with an access-log file still exits 3 cleanly (the log file not yet open)', async () => {
  const log = `${dir.path}/logs/access-taken.log`;
  const r = await startOnTakenPort(
    'taken-log.yaml',
    (port) => `${GOOD.replace('port: 0, host', `port: ${port}, host`)}\naccessLog: { path: ${JSON.stringify(log)} }\n`,
  );
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /could not start: address in use/);
  assertNoStack(r);
});

test('start: an admin port that is already taken exits 3 too', async () => {
  const r = await startOnTakenPort('taken-admin.yaml', (port) => GOOD.replace('admin: { port: 0 }', `admin: { port: ${port} }`));
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /address in use/);
});

test('start: an invalid config exits 1 with its errors', async () => {
  const file = await dir.file('start-bad.yaml', GOOD.replace('service: orders', 'service: nowhere'));
  const r = await runCli(['start', '-c', file], { timeoutMs: 10_000 });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^routes\[1\]\.service: service "nowhere" is not defined/m);
  assertNoStack(r);
});

test('start: serves, and prints where', async () => {
  const file = await dir.file('start-good.yaml', GOOD);
  const gw = await startChild(file);
  const res = await fetch(`${gw.adminUrl}/health`);
  assert.equal(res.status, 200);
  await gw.kill();
});
