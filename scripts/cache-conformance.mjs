#!/usr/bin/env node
// Runs the HTTP cache conformance suite (github.com/http-tests/cache-tests) against Gatehouse's
// `cache` policy and prints the counts docs/caching.md quotes, beside the suite's published results
// for other caches counted the same way. The suite is not part of this repository:
//
//   git clone https://github.com/http-tests/cache-tests /tmp/cache-tests
//   (cd /tmp/cache-tests && npm i --omit=dev)
//   npx tsc -p . && CACHE_TESTS_DIR=/tmp/cache-tests node scripts/cache-conformance.mjs [--json out.json]
//
// It starts the suite's origin server (held to 127.0.0.1 by a preloaded module), a gateway with one
// catch-all route and `policies: [{ type: cache }]` in front of it (CACHE_POLICY='{"ttl":…}' adds
// options), and the suite's command-line client against the gateway; then counts each test's
// result as the suite's own pages do (results.mjs, dependencies honoured). Exits 0 when the run
// completed, whatever the results; 1 when the harness itself could not run. Bounded: 10 minutes.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { pathToFileURL } from 'node:url';

const suite = process.env.CACHE_TESTS_DIR;
if (!suite) {
  console.error(
    'Set CACHE_TESTS_DIR to a checkout of https://github.com/http-tests/cache-tests with its dependencies installed (npm i --omit=dev).',
  );
  process.exit(1);
}
const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : undefined;
const repo = new URL('..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'cache-conformance-'));
const children = [];
const deadline = setTimeout(() => fail('the run took more than 10 minutes'), 600_000);

function fail(why) {
  console.error(`cache-conformance: ${why}`);
  cleanup();
  process.exit(1);
}
function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
process.on('SIGINT', () => fail('interrupted'));

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function waitUp(url, what) {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  fail(`${what} did not come up at ${url}`);
}

const originPort = await freePort();
const gatewayPort = await freePort();
const adminPort = await freePort();
// The suite's server listens on every interface; this keeps it on loopback without changing it.
const loopback = join(work, 'loopback.mjs');
writeFileSync(
  loopback,
  `import http from 'node:http';\nconst listen = http.Server.prototype.listen;\nhttp.Server.prototype.listen = function (port, ...rest) { return typeof port === 'number' || typeof port === 'string' ? listen.call(this, Number(port), '127.0.0.1', ...rest.filter((a) => typeof a === 'function')) : listen.call(this, port, ...rest); };\n`,
);
const origin = spawn(process.execPath, ['--import', pathToFileURL(loopback).href, 'test-engine/server/server.mjs'], {
  cwd: suite,
  env: { ...process.env, npm_config_port: String(originPort), npm_config_protocol: 'http', npm_config_pidfile: join(work, 'pid') },
  stdio: ['ignore', 'ignore', 'inherit'],
});
children.push(origin);
await waitUp(`http://127.0.0.1:${originPort}/`, "the suite's server");

const policy = { type: 'cache', ...JSON.parse(process.env.CACHE_POLICY ?? '{}') };
const config = join(work, 'gatehouse.yaml');
writeFileSync(
  config,
  JSON.stringify({
    accessLog: false,
    log: { level: 'warn' },
    listen: [{ port: gatewayPort, host: '127.0.0.1' }],
    admin: { port: adminPort, host: '127.0.0.1' },
    services: { origin: { targets: [{ url: `http://127.0.0.1:${originPort}` }] } },
    routes: [
      {
        name: 'all',
        match: { paths: ['/*'] },
        service: 'origin',
        preserveHost: true,
        policies: process.env.CACHE_POLICY === 'none' ? [] : [policy],
      },
    ],
  }),
);
const gateway = spawn(process.execPath, [join(repo, 'dist/src/cli/main.js'), 'start', '--config', config], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
children.push(gateway);
await waitUp(`http://127.0.0.1:${gatewayPort}/`, 'the gateway');

const started = Date.now();
const client = spawn(process.execPath, ['--no-warnings', 'test-engine/cli.mjs'], {
  cwd: suite,
  // CACHE_TEST_ID=<id>: that test alone, with the requests and responses the suite saw (debugging).
  env: {
    ...process.env,
    npm_config_base: `http://127.0.0.1:${gatewayPort}`,
    npm_config_id: process.env.CACHE_TEST_ID ?? '',
    npm_package_config_id: '',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
children.push(client);
let out = '';
client.stdout.on('data', (c) => (out += c));
const code = await new Promise((r) => client.on('exit', r));
if (code !== 0) fail(`the suite's client exited with ${code}`);
if (process.env.CACHE_TEST_ID) {
  console.log(out);
  clearTimeout(deadline);
  cleanup();
  process.exit(0);
}
const ours = JSON.parse(out);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(ours, null, 2));

const { default: tests } = await import(pathToFileURL(join(suite, 'tests/index.mjs')).href);
const { determineTestResult, resultTypes } = await import(pathToFileURL(join(suite, 'test-engine/lib/results.mjs')).href);
const names = new Map(Object.entries(resultTypes).map(([name, t]) => [t, name]));

/** Counts of one result set by the test's kind and the result's name (pass, fail, optional_fail…). */
function count(results) {
  const byKind = {};
  const failedRequired = [];
  for (const s of tests)
    for (const t of s.tests) {
      if (t.browser_only) continue;
      const kind = t.kind ?? 'required';
      const result = names.get(determineTestResult(tests, t.id, results)) ?? 'unknown';
      byKind[kind] ??= {};
      byKind[kind][result] = (byKind[kind][result] ?? 0) + 1;
      if (kind === 'required' && result !== 'pass' && result !== 'untested') failedRequired.push(`${t.id} (${result}): ${t.name}`);
    }
  return { byKind, failedRequired };
}

const mine = count(ours);
console.log(`Gatehouse (${((Date.now() - started) / 1000).toFixed(0)} s): ${JSON.stringify(mine.byKind)}`);
console.log(`required tests not passed (${mine.failedRequired.length}):`);
for (const f of mine.failedRequired) console.log(`  ${f}`);
console.log("\nThe suite's published results, counted the same way (required: pass / fail / other):");
const line = (name, c) => {
  const r = c.byKind.required ?? {};
  const other = Object.entries(r)
    .filter(([k]) => k !== 'pass' && k !== 'fail')
    .reduce((n, [, v]) => n + v, 0);
  console.log(
    `  ${name.padEnd(16)} ${String(r.pass ?? 0).padStart(4)} / ${String(r.fail ?? 0).padStart(3)} / ${other}   optimal passed: ${c.byKind.optimal?.pass ?? 0}`,
  );
};
line('gatehouse', mine);
for (const f of readdirSync(join(suite, 'results'))
  .filter((f) => f.endsWith('.json'))
  .sort())
  line(f.replace('.json', ''), count(JSON.parse(readFileSync(join(suite, 'results', f), 'utf8'))));

clearTimeout(deadline);
cleanup();
