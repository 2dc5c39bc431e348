// Load shedding under overload: does Gatehouse keep admitted requests fast when far more arrive
// than the service behind it can take? One run, on 127.0.0.1 only:
//   - an upstream (a child process) that serves at most CAPACITY requests at a time, each taking
//     SERVICE_MS; more wait in its queue: a backend with a fixed throughput;
//   - Gatehouse as a child process (`gatehouse start`), once without load shedding and once with
//     `loadShedding: { maxInflight: CAPACITY }` (plus `maxEventLoopLag: LAG` when set);
//   - autocannon offering RATE requests/s (default: twice the backend's throughput) over
//     CONNECTIONS connections (far above CAPACITY) for DURATION seconds.
// It prints, per run, the admitted (2xx) requests per second with their p50/p99/max latency, and
// the shed (503) ones. Usage: npm run bench:overload   (CAPACITY, SERVICE_MS, RATE, CONNECTIONS, DURATION)
import http from 'node:http';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const env = (name: string, def: number) => (process.env[name] ? Number(process.env[name]) : def);
const CAPACITY = env('CAPACITY', 20);
const SERVICE_MS = env('SERVICE_MS', 20);
const CONNECTIONS = env('CONNECTIONS', 300);
const DURATION = env('DURATION', 5);
/** Offered load, requests per second over all connections: by default twice what the backend can serve. */
/** loadShedding.maxEventLoopLag for the shedding run ("" = in-flight threshold only). */
const LAG = process.env.LAG ?? '';
const RATE = env('RATE', Math.round((2 * CAPACITY * 1000) / SERVICE_MS));

/** The backend in a child process (this file with "backend"), so the load generator's CPU use does not delay it. */
function startBackend(): Promise<{ url: string; close(): void }> {
  const child = fork(fileURLToPath(import.meta.url), ['backend'], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (m: { url: string }) => resolve({ url: m.url, close: () => child.kill('SIGTERM') }));
  });
}

/** A backend that serves CAPACITY requests at a time, SERVICE_MS each, and queues the rest. */
function runBackend(): Promise<{ url: string; close(): void }> {
  let busy = 0;
  const queue: http.ServerResponse[] = [];
  const body = Buffer.from('{"ok":true}');
  const serve = (res: http.ServerResponse) => {
    busy++;
    setTimeout(() => {
      if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
      busy--;
      const next = queue.shift();
      if (next) serve(next);
    }, SERVICE_MS);
  };
  const server = http.createServer((_req, res) => (busy < CAPACITY ? serve(res) : queue.push(res)));
  server.keepAliveTimeout = 120_000;
  return new Promise((r) =>
    server.listen(0, '127.0.0.1', () =>
      r({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => {
          server.closeAllConnections();
          server.close();
        },
      }),
    ),
  );
}

function startGateway(configPath: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [CLI, 'start', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`Gatehouse did not start\n${out}`));
    }, 10_000);
    proc.stderr.setEncoding('utf8').on('data', (c: string) => {
      out = (out + c).slice(-8000);
      const m = /serving on (http:\/\/[^\s,;]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1]! });
      }
    });
  });
}

interface Result {
  admitted: number;
  shed: number;
  other: number;
  errors: number;
  seconds: number;
  lat: number[];
}

function load(url: string): Promise<Result> {
  const lat: number[] = [];
  let shed = 0;
  let other = 0;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const inst = autocannon(
      { url: url + '/api/items/42', connections: CONNECTIONS, overallRate: RATE, duration: DURATION, timeout: 30 },
      (err, r) => {
        if (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        resolve({
          admitted: lat.length,
          shed,
          other,
          errors: r.errors,
          seconds: (performance.now() - t0) / 1000,
          lat: lat.sort((a, b) => a - b),
        });
      },
    );
    inst.on('response', (_c, status, _b, ms) => {
      if (status === 200) lat.push(ms);
      else if (status === 503) shed++;
      else other++;
    });
  });
}

const pct = (s: number[], p: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN);

async function main(): Promise<void> {
  const backend = await startBackend();
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-overload-'));
  const rows: string[] = [];
  try {
    for (const shedding of [false, true]) {
      const cfg = `workers: 1
accessLog: false
log: { level: warn }
listen: [{ port: 0, host: 127.0.0.1 }]
admin: { port: 0, host: 127.0.0.1 }
shutdown: { drainTimeout: 1s }
${shedding ? `loadShedding: { maxInflight: ${CAPACITY}${LAG ? `, maxEventLoopLag: ${LAG}` : ''} }\n` : ''}services:
  up: { targets: [{ url: ${backend.url} }], timeouts: { response: 60s } }
routes:
  - { name: all, service: up }
`;
      const path = join(dir, `overload-${shedding}.yaml`);
      await writeFile(path, cfg);
      const gw = await startGateway(path);
      try {
        await load(gw.url).catch(() => undefined); // warm-up, not counted (short: DURATION applies)
        const r = await load(gw.url);
        rows.push(
          `| ${shedding ? `on (maxInflight ${CAPACITY}${LAG ? `, lag ${LAG}` : ''})` : 'off'} | ${Math.round(r.admitted / r.seconds)} | ${pct(r.lat, 50).toFixed(0)} | ${pct(r.lat, 99).toFixed(0)} | ${(r.lat.at(-1) ?? NaN).toFixed(0)} | ${Math.round(r.shed / r.seconds)} | ${r.other + r.errors} |`,
        );
      } finally {
        gw.proc.kill('SIGTERM');
        await new Promise((r) => gw.proc.once('exit', r));
      }
    }
  } finally {
    backend.close();
    await rm(dir, { recursive: true, force: true });
  }
  console.log(
    `backend: ${CAPACITY} at a time × ${SERVICE_MS} ms (≈ ${Math.round((CAPACITY * 1000) / SERVICE_MS)} req/s); load: ${RATE} req/s offered over ${CONNECTIONS} connections × ${DURATION} s\n`,
  );
  console.log('| shedding | admitted req/s | p50 ms | p99 ms | max ms | shed (503) req/s | other/errors |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

if (process.argv[2] === 'backend') {
  void runBackend().then((b) => process.send!({ url: b.url }));
  process.on('disconnect', () => process.exit(0));
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
