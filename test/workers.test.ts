// `workers: 2`: a primary and two cluster workers as child processes. Readiness, serving, a killed
// worker replaced, reloads reaching every worker, and shutdown of the whole tree.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import {
  childPids,
  freePort,
  isAlive,
  killAllChildren,
  startChild,
  tempDir,
  waitFor,
  type GatewayChild,
  type TempDir,
  workersHead,
} from './helpers/child.js';

let dir: TempDir;
let up: Upstream;
let gw: GatewayChild;
let port: number;

const config = (route: string, body: string) => `
${workersHead(port, 'info')}services:
  up: { targets: [{ url: "${up.url}" }] }
routes:
  - name: ${route}
    match: { paths: ["/${route}/*"] }
    service: up
    policies:
      - type: headers
        response: { set: { x-config: "${body}" } }
`;

const asJson = (route: string, body: string) => ({
  workers: 2,
  accessLog: false,
  log: { level: 'info' },
  listen: [{ port, host: '127.0.0.1' }],
  admin: { port: 0, host: '127.0.0.1' },
  services: { up: { targets: [{ url: up.url }] } },
  routes: [
    {
      name: route,
      match: { paths: [`/${route}/*`] },
      service: 'up',
      policies: [{ type: 'headers', response: { set: { 'x-config': body } } }],
    },
  ],
});

/** One request on a fresh connection (so the cluster spreads them over the workers). */
async function fresh(path: string): Promise<{ status: number; config: string | undefined }> {
  const res = await request(`${gw.url}${path}`, { reset: true });
  await res.body.dump();
  return { status: res.statusCode, config: res.headers['x-config'] as string | undefined };
}

async function ready(): Promise<{ status: number; body: { status: string; workers?: number; configVersion?: number } }> {
  const res = await request(`${gw.adminUrl}/ready`);
  return { status: res.statusCode, body: (await res.body.json()) as never };
}

before(async () => {
  dir = await tempDir();
  up = await startUpstream();
  port = await freePort();
  gw = await startChild(await dir.file('workers.yaml', config('one', 'v1')), { timeoutMs: 15_000 });
});
after(async () => {
  await killAllChildren();
  await up.close();
  await dir.remove();
});

test('ready reports 2 workers; requests are served by both', async () => {
  const r = await waitFor('readiness', async () => {
    const x = await ready();
    return x.status === 200 && x;
  });
  assert.equal(r.body.status, 'ready');
  assert.equal(r.body.workers, 2);
  assert.equal(childPids(gw.pid).length, 2);
  for (let i = 0; i < 20; i++) assert.deepEqual(await fresh(`/one/${i}`), { status: 200, config: 'v1' });
});

test('a worker killed with SIGKILL is replaced and requests keep succeeding', async () => {
  const pids = childPids(gw.pid);
  assert.equal(pids.length, 2);
  const victim = pids[0]!;
  process.kill(victim, 'SIGKILL');
  await waitFor('the worker to die', () => !isAlive(victim), 2000, 10);

  // Requests while the replacement starts: the surviving worker serves them.
  const during: string[] = [];
  const replacement = await waitFor(
    'a replacement worker',
    async () => {
      const r = await fresh('/one/during');
      if (r.status !== 200) during.push(String(r.status));
      const now = childPids(gw.pid);
      return now.length === 2 && !now.includes(victim) && now.find((p) => !pids.includes(p));
    },
    5000,
    20,
  );
  assert.deepEqual(during, []);
  assert.ok(isAlive(replacement));
  await waitFor('ready with 2 workers again', async () => {
    const x = await ready();
    return x.status === 200 && x.body.workers === 2;
  });
  for (let i = 0; i < 20; i++) assert.deepEqual(await fresh(`/one/after-${i}`), { status: 200, config: 'v1' });
  assert.ok(gw.isRunning());
});

test('POST /config reaches every worker: all fresh connections see the new config at once', async () => {
  const before = (await ready()).body.configVersion!;
  const res = await request(`${gw.adminUrl}/config`, {
    method: 'POST',
    body: JSON.stringify(asJson('two', 'v2')),
    headers: { 'content-type': 'application/json' },
  });
  const text = await res.body.text();
  assert.equal(res.statusCode, 200, text);
  assert.equal((JSON.parse(text) as { configVersion: number }).configVersion, before + 1);
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => fresh(`/two/${i}`)));
  assert.deepEqual(results, Array(40).fill({ status: 200, config: 'v2' }));
  const old = await Promise.all(Array.from({ length: 20 }, (_, i) => fresh(`/one/${i}`)));
  assert.deepEqual(
    old.map((r) => r.status),
    Array(20).fill(404),
  );
});

test('a reload racing with a replacement worker start-up still reaches it', async () => {
  const pids = childPids(gw.pid);
  process.kill(pids[1]!, 'SIGKILL');
  await waitFor('the worker to be gone', async () => (await ready()).status === 503, 2000, 5);
  // Reload back to back until the replacement is ready: the last reloads land while it starts
  // (after it was sent its first config, before or as it begins listening). Nothing reloads after.
  let n = 0;
  let last = '';
  while ((await ready()).status !== 200) {
    assert.ok(n < 2000, 'the replacement never became ready');
    last = `v3-${n++}`;
    const res = await request(`${gw.adminUrl}/config`, {
      method: 'POST',
      body: JSON.stringify(asJson('three', last)),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.statusCode, 200, await res.body.text());
  }
  assert.equal(childPids(gw.pid).length, 2);
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => fresh(`/three/${i}`)));
  assert.deepEqual(results, Array(40).fill({ status: 200, config: last }));
  assert.ok(n > 20, `only ${n} reloads`);
  assert.ok(gw.isRunning(), gw.stderr);
  // Many reloads leave nothing behind on the long-lived workers (an emitter leak warns here).
  assert.doesNotMatch(gw.stderr, /MaxListenersExceededWarning/);
});

test('SIGTERM stops the primary and every worker; the primary exits 0', async () => {
  const workers = childPids(gw.pid);
  assert.equal(workers.length, 2);
  gw.proc.kill('SIGTERM');
  const { code, signal } = await gw.exited;
  assert.equal(signal, null);
  assert.equal(code, 0, gw.stderr);
  await waitFor('every worker to exit', () => workers.every((p) => !isAlive(p)), 3000);
  await assert.rejects(request(`${gw.url}/two/x`, { reset: true }), /ECONNREFUSED/);
});
