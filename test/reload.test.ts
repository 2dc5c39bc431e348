// Reloading a running gateway (a child process, as deployed): file changes, invalid files, SIGHUP,
// and the spec's load test — 20 reloads under steady keep-alive load without one failed request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Pool, request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { killAllChildren, sleep, startChild, tempDir, waitFor, type GatewayChild, type TempDir } from './helpers/child.js';

let dir: TempDir;
let up: Upstream;
before(async () => {
  dir = await tempDir();
  up = await startUpstream();
});
after(async () => {
  await killAllChildren();
  await up.close();
  await dir.remove();
});

/** A config for a child gateway on an ephemeral port with one route per path prefix. */
function config(routes: string[], extra = ''): string {
  return `
accessLog: false
log: { level: info }
listen: [{ port: 0, host: 127.0.0.1 }]
admin: { port: 0, host: 127.0.0.1 }
services:
  up: { targets: [{ url: "${up.url}" }] }
routes:
${routes.map((r) => `  - { name: ${r}, match: { paths: ["/${r}/*"] }, service: up }`).join('\n')}
${extra}`;
}

async function status(gw: GatewayChild, path: string): Promise<number> {
  const res = await request(`${gw.url}${path}`, { reset: true });
  await res.body.dump();
  return res.statusCode;
}

async function configVersion(gw: GatewayChild): Promise<number> {
  const res = await request(`${gw.adminUrl}/ready`);
  return ((await res.body.json()) as { configVersion: number }).configVersion;
}

const refusals = (gw: GatewayChild) => gw.stderr.split('\n').filter((l) => l.includes('config refused')).length;

test('a rewritten config file is served; an invalid one is refused and the old config keeps serving', async () => {
  const file = await dir.file('watched.yaml', config(['one']));
  const gw = await startChild(file);
  try {
    assert.equal(await status(gw, '/one/a'), 200);
    assert.equal(await status(gw, '/two/a'), 404);

    await writeFile(file, config(['two']));
    await waitFor('the new route', async () => (await status(gw, '/two/a')) === 200, 3000);
    assert.equal(await status(gw, '/one/a'), 404);
    assert.equal(await configVersion(gw), 2);

    // An invalid file: refused (logged), nothing changes, the process keeps running.
    await writeFile(file, config(['three']).replace('service: up', 'service: missing'));
    await waitFor('the refusal to be logged', () => refusals(gw) >= 1, 3000);
    assert.ok(gw.isRunning());
    assert.equal(await status(gw, '/two/a'), 200);
    assert.equal(await status(gw, '/three/a'), 404);
    assert.equal(await configVersion(gw), 2);
    assert.match(gw.stderr, /routes\[0\]\.service/); // the log says why

    // A file that is not even YAML: the same.
    await writeFile(file, 'routes: [\n  - {');
    await waitFor('the second refusal', () => refusals(gw) >= 2, 3000);
    assert.ok(gw.isRunning());
    assert.equal(await status(gw, '/two/a'), 200);

    // Fixing the file applies it.
    await writeFile(file, config(['four']));
    await waitFor('the fixed config', async () => (await status(gw, '/four/a')) === 200, 3000);
    assert.equal(await status(gw, '/two/a'), 404);
    assert.equal(await configVersion(gw), 3);

    // Restart-only keys in the file are refused too.
    await writeFile(file, config(['five']).replace('port: 0, host: 127.0.0.1 }]', 'port: 1, host: 127.0.0.1 }]'));
    await waitFor('the restart-required refusal', () => gw.stderr.includes('cannot change while running'), 3000);
    assert.equal(await status(gw, '/four/a'), 200);
    assert.equal(await status(gw, '/five/a'), 404);
    assert.ok(gw.isRunning());
  } finally {
    await gw.kill();
  }
});

test('SIGHUP re-reads the config file', async () => {
  // The gateway watches its config path's directory; here that path is a symlink into another
  // directory, so writing the real file goes unnoticed by the watcher and only SIGHUP can pick it up.
  const real = join(dir.path, 'real');
  const link = join(dir.path, 'link');
  await mkdir(real);
  await mkdir(link);
  await writeFile(join(real, 'gatehouse.yaml'), config(['alpha']));
  await symlink(join(real, 'gatehouse.yaml'), join(link, 'gatehouse.yaml'));
  const gw = await startChild(join(link, 'gatehouse.yaml'));
  try {
    assert.equal(await status(gw, '/alpha/a'), 200);
    await writeFile(join(real, 'gatehouse.yaml'), config(['beta']));
    await sleep(600); // longer than the watcher's debounce: had it noticed, beta would be served
    assert.equal(await status(gw, '/beta/a'), 404, 'precondition: the file watcher should not see this write');

    gw.proc.kill('SIGHUP');
    await waitFor('SIGHUP to apply the file', async () => (await status(gw, '/beta/a')) === 200, 3000);
    assert.equal(await status(gw, '/alpha/a'), 404);
    assert.equal(await configVersion(gw), 2);

    // SIGHUP with an invalid file: refused, still serving, still running.
    await writeFile(join(real, 'gatehouse.yaml'), config(['gamma']).replace('service: up', 'service: nope'));
    gw.proc.kill('SIGHUP');
    await waitFor('the refusal', () => refusals(gw) >= 1, 3000);
    assert.ok(gw.isRunning());
    assert.equal(await status(gw, '/beta/a'), 200);
    assert.equal(await configVersion(gw), 2);

    // SIGHUP re-applies even an unchanged file (an operator's explicit "reload now").
    await writeFile(join(real, 'gatehouse.yaml'), config(['beta']));
    gw.proc.kill('SIGHUP');
    await waitFor('a new config version', async () => (await configVersion(gw)) === 3, 3000);
    gw.proc.kill('SIGHUP');
    await waitFor('another config version', async () => (await configVersion(gw)) === 4, 3000);
    assert.equal(await status(gw, '/beta/a'), 200);
    assert.ok(gw.isRunning());
  } finally {
    await gw.kill();
  }
});

test('load test: 20 reloads under ~200 req/s on keep-alive connections, zero failed requests', async () => {
  const upA = await startUpstream((_req, res) => res.end('A'));
  const upB = await startUpstream((_req, res) => res.end('B'));
  const both = (target: string) => `
accessLog: false
log: { level: warn }
listen: [{ port: 0, host: 127.0.0.1 }]
admin: { port: 0, host: 127.0.0.1 }
services:
  backend: { targets: [{ url: "${target}" }] }
routes:
  - { name: load, match: { paths: ["/load/*"] }, service: backend }
`;
  const file = await dir.file('load.yaml', both(upA.url));
  const gw = await startChild(file);
  const pool = new Pool(gw.url, { connections: 8, pipelining: 1, keepAliveTimeout: 30_000 });
  let connects = 0;
  pool.on('connect', () => connects++);
  const failures: string[] = [];
  const seen = { A: 0, B: 0 };
  let sent = 0;
  try {
    const DURATION_MS = 10_000;
    const RATE = 200; // requests per second
    const TICK_MS = 50;
    const PER_TICK = (RATE * TICK_MS) / 1000;
    const TOTAL = (DURATION_MS / 1000) * RATE; // a hard bound: the loop stops by itself
    const inflight = new Set<Promise<void>>();
    const one = async (i: number) => {
      try {
        const res = await pool.request({ method: 'GET', path: `/load/${i}` });
        const body = await res.body.text();
        if (res.statusCode !== 200 || (body !== 'A' && body !== 'B')) failures.push(`#${i}: ${res.statusCode} ${body.slice(0, 200)}`);
        else seen[body]++;
      } catch (err) {
        failures.push(`#${i}: ${(err as Error).message}`);
      }
    };

    // 20 reloads, one every 450 ms, alternating the two configs through the admin API.
    const reloads = (async () => {
      const results: number[] = [];
      for (let n = 1; n <= 20; n++) {
        await sleep(450);
        const body = JSON.stringify({
          accessLog: false,
          log: { level: 'warn' },
          listen: [{ port: 0, host: '127.0.0.1' }],
          admin: { port: 0, host: '127.0.0.1' },
          services: { backend: { targets: [{ url: n % 2 ? upB.url : upA.url }] } },
          routes: [{ name: 'load', match: { paths: ['/load/*'] }, service: 'backend' }],
        });
        const res = await request(`${gw.adminUrl}/config`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        const text = await res.body.text();
        if (res.statusCode !== 200) failures.push(`reload ${n}: ${res.statusCode} ${text}`);
        results.push(res.statusCode);
      }
      return results;
    })();

    const started = Date.now();
    for (let tick = 0; sent < TOTAL && Date.now() - started < DURATION_MS + 2000; tick++) {
      for (let k = 0; k < PER_TICK && sent < TOTAL; k++) {
        const p = one(sent++);
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
      // Keep to the schedule rather than to the tick count, so slow ticks do not stretch the run.
      const due = started + (tick + 1) * TICK_MS;
      await sleep(Math.max(0, due - Date.now()));
    }
    await Promise.all(inflight);
    const reloadStatuses = await reloads;

    assert.deepEqual(failures, []);
    assert.equal(sent, TOTAL);
    assert.equal(seen.A + seen.B, TOTAL);
    assert.deepEqual(reloadStatuses, Array(20).fill(200));
    // Keep-alive held throughout: reloads never cost a client its connection.
    assert.ok(connects >= 1 && connects <= 8, `${connects} connections opened`);
    assert.equal(await configVersion(gw), 21);
    // Both configs really served traffic, and the last one (A, after an even number of reloads) is current.
    assert.ok(seen.A > 100 && seen.B > 100, JSON.stringify(seen));
    const last = await pool.request({ method: 'GET', path: '/load/last' });
    assert.equal(await last.body.text(), 'A');
    assert.ok(gw.isRunning());
  } finally {
    await pool.close();
    await gw.kill();
    await upA.close();
    await upB.close();
  }
});
