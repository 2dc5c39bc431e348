// `workers: 2`: GET /metrics adds up every worker (plus the primary's reload metrics), analytics
// add up every worker, and SIGUSR1 to the primary makes every worker reopen the access log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { childPids, freePort, killAllChildren, startChild, tempDir, waitFor, type GatewayChild, type TempDir } from './helpers/child.js';

let dir: TempDir;
let up: Upstream;
let gw: GatewayChild;
let logFile: string;

before(async () => {
  dir = await tempDir();
  up = await startUpstream();
  const port = await freePort();
  logFile = join(dir.path, 'access.log');
  gw = await startChild(
    await dir.file(
      'workers.yaml',
      `
workers: 2
accessLog: { path: "${logFile}" }
analytics: { enabled: true }
log: { level: info }
listen: [{ port: ${port}, host: 127.0.0.1 }]
admin: { port: 0, host: 127.0.0.1 }
services:
  up: { targets: [{ url: "${up.url}" }] }
routes:
  - name: all
    service: up
`,
    ),
    { timeoutMs: 15_000 },
  );
  await waitFor('readiness', async () => {
    const r = await request(`${gw.adminUrl}/ready`);
    await r.body.dump();
    return r.statusCode === 200;
  });
});
after(async () => {
  await killAllChildren();
  await up.close();
  await dir.remove();
});

/** One request on a fresh connection (so the cluster spreads them over the workers). */
async function fresh(path: string): Promise<number> {
  const res = await request(`${gw.url}${path}`, { reset: true });
  await res.body.dump();
  return res.statusCode;
}

/** Waits until `victim` is gone, two workers run again and the instance is ready. */
async function replaced(victim: number): Promise<void> {
  await waitFor(
    'a replacement worker',
    async () => {
      const pids = childPids(gw.pid);
      if (pids.length !== 2 || pids.includes(victim)) return false;
      const r = await request(`${gw.adminUrl}/ready`);
      await r.body.dump();
      return r.statusCode === 200;
    },
    15_000,
  );
}

async function lineCount(path: string): Promise<number> {
  return (await readFile(path, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
}

test('metrics and analytics add up both workers', async () => {
  assert.equal(childPids(gw.pid).length, 2);
  for (let i = 0; i < 40; i++) assert.equal(await fresh(`/m/${i}`), 200);
  const res = await request(`${gw.adminUrl}/metrics`);
  const text = await res.body.text();
  assert.match(text, /^gatehouse_requests_total\{route="all",service="up",method="GET",status_class="2xx"\} 40$/m);
  assert.match(text, /^gatehouse_config_version 1$/m);
  assert.match(text, /^gatehouse_target_healthy\{service="up",target="[^"]+"\} 1$/m);
  // 15m: a window is this minute so far plus the ones before it, and the 40 requests may straddle a minute.
  const a = await request(`${gw.adminUrl}/analytics?window=15m`);
  const report = (await a.body.json()) as { planes: number; routes: { name: string; requests: number }[] };
  assert.equal(report.planes, 2);
  assert.equal(report.routes.find((r) => r.name === 'all')!.requests, 40);
});

test('SIGUSR1: every worker reopens the access log after rotation', async () => {
  await waitFor('the lines so far', async () => (await lineCount(logFile)) >= 40);
  await rename(logFile, `${logFile}.1`);
  process.kill(gw.pid, 'SIGUSR1');
  await waitFor('the primary to log the reopen', () => /reopening the access log/.test(gw.stderr));
  // Lines from a worker that had not reopened would go to the renamed file and never arrive here.
  await waitFor('a first line in the new file', async () => {
    await fresh('/first');
    return (await lineCount(logFile)) > 0;
  });
  for (let i = 0; i < 20; i++) assert.equal(await fresh(`/after/${i}`), 200);
  const paths = async (f: string) =>
    (await readFile(f, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { path: string }).path);
  await waitFor('all 20 lines in the new file', async () => (await paths(logFile)).filter((p) => p.startsWith('/after/')).length === 20);
  assert.deepEqual(
    (await paths(`${logFile}.1`)).filter((p) => p.startsWith('/after/')),
    [],
    'no worker kept writing to the rotated file',
  );
  assert.ok(gw.isRunning());
});

test('a killed worker: its counters stay in the totals, which never go down', async () => {
  const total = async () => {
    const res = await request(`${gw.adminUrl}/metrics`);
    const text = await res.body.text();
    const counts = [...text.matchAll(/^gatehouse_requests_total\{route="all"[^}]*\} (\d+)$/gm)].map((m) => Number(m[1]));
    const histogram = /^gatehouse_request_duration_seconds_count\{route="all"[^}]*\} (\d+)$/m.exec(text);
    return { requests: counts.reduce((a, b) => a + b, 0), durations: Number(histogram?.[1] ?? -1) };
  };
  for (let i = 0; i < 40; i++) assert.equal(await fresh(`/k/${i}`), 200);
  const before = await total();
  assert.ok(before.requests >= 40);
  const [victim] = childPids(gw.pid);
  process.kill(victim!, 'SIGKILL');
  await replaced(victim!);
  // Nothing was sent since the scrape above: the totals are exactly what they were.
  assert.deepEqual(await total(), before);
  for (let i = 0; i < 10; i++) assert.equal(await fresh(`/k2/${i}`), 200);
  const after = await total();
  assert.equal(after.requests, before.requests + 10);
  assert.equal(after.durations, before.durations + 10);
});

test('a worker that dies while a scrape waits for its answer is still counted (its last report, once)', async () => {
  const total = async () => {
    const res = await request(`${gw.adminUrl}/metrics`);
    const text = await res.body.text();
    return [...text.matchAll(/^gatehouse_requests_total\{route="all"[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  };
  for (let i = 0; i < 20; i++) assert.equal(await fresh(`/s/${i}`), 200);
  const before = await total();
  const [victim] = childPids(gw.pid);
  // Stopped, it cannot answer the next scrape; killed while that scrape waits, it dies unanswered.
  process.kill(victim!, 'SIGSTOP');
  const scrape = total();
  await new Promise((r) => setTimeout(r, 300));
  process.kill(victim!, 'SIGKILL');
  assert.equal(await scrape, before);
  await replaced(victim!);
  assert.equal(await total(), before);
});
