// WebSocket echo round trips through Gatehouse against straight to the service, on 127.0.0.1:
//   - a `ws` echo service in a child process (this file with "backend");
//   - Gatehouse as a child process (`gatehouse start`) with one `websocket: true` route to it;
//   - CLIENTS `ws` clients in this process, each sending MESSAGES messages of SIZE bytes one at a
//     time (the next once the echo is back), after WARMUP uncounted ones.
// Direct and through-Gatehouse runs alternate ROUNDS times, so that a drifting machine hits both.
// It prints p50/p99/mean round-trip latency of each, their ratios, the latency Gatehouse adds, and
// Gatehouse's CPU time per message (utime+stime from /proc/<pid>/stat, Linux only).
// Usage: npx tsc -p . && node dist/bench/websocket-echo.js   (CLIENTS, MESSAGES, SIZE, WARMUP, ROUNDS)
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const env = (name: string, def: number) => (process.env[name] ? Number(process.env[name]) : def);
const CLIENTS = env('CLIENTS', 4);
const MESSAGES = env('MESSAGES', 5000);
const SIZE = env('SIZE', 64);
const WARMUP = env('WARMUP', 500);
const ROUNDS = env('ROUNDS', 3);

function startBackend(): Promise<{ url: string; close(): void }> {
  const child = fork(fileURLToPath(import.meta.url), ['backend'], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (m: { url: string }) => resolve({ url: m.url, close: () => child.kill('SIGTERM') }));
  });
}

function runBackend(): Promise<string> {
  const server = http.createServer((_req, res) => res.end('echo service'));
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
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

/** utime + stime of a process, in ms (Linux). */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** One client: `count` round trips, one message at a time; returns each one's latency in ms. */
async function client(url: string, count: number, warmup: number): Promise<number[]> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const payload = Buffer.alloc(SIZE, 0x61);
  const lat: number[] = [];
  for (let i = 0; i < warmup + count; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      ws.once('message', () => resolve());
      ws.send(payload);
    });
    if (i >= warmup) lat.push(performance.now() - t0);
  }
  ws.close();
  return lat;
}

async function run(url: string): Promise<number[]> {
  const all = await Promise.all(Array.from({ length: CLIENTS }, () => client(url, MESSAGES, WARMUP)));
  return all.flat().sort((a, b) => a - b);
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
const mean = (s: number[]) => s.reduce((a, b) => a + b, 0) / s.length;

async function main(): Promise<void> {
  const backend = await startBackend();
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-ws-bench-'));
  const cfg = `workers: 1
accessLog: false
log: { level: warn }
listen: [{ port: 0, host: 127.0.0.1 }]
admin: { port: 0, host: 127.0.0.1 }
shutdown: { drainTimeout: 1s }
services:
  echo: { targets: [{ url: ${backend.url} }] }
routes:
  - { name: echo, service: echo, websocket: true }
`;
  const path = join(dir, 'ws.yaml');
  await writeFile(path, cfg);
  const gw = await startGateway(path);
  const direct: number[] = [];
  const through: number[] = [];
  let gwCpu = 0;
  try {
    for (let r = 0; r < ROUNDS; r++) {
      direct.push(...(await run(backend.url.replace('http', 'ws') + '/echo')));
      const before = cpuMs(gw.proc.pid!);
      through.push(...(await run(gw.url.replace('http', 'ws') + '/echo')));
      gwCpu += cpuMs(gw.proc.pid!) - before;
    }
  } finally {
    gw.proc.kill('SIGTERM');
    await new Promise((r) => gw.proc.once('exit', r));
    backend.close();
    await rm(dir, { recursive: true, force: true });
  }
  direct.sort((a, b) => a - b);
  through.sort((a, b) => a - b);
  const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;
  console.log(
    `${CLIENTS} clients × ${MESSAGES} round trips × ${ROUNDS} rounds, ${SIZE}-byte binary messages (after ${WARMUP} warm-up each), node ${process.version}\n`,
  );
  console.log('| path | p50 | p99 | mean |');
  console.log('|---|---|---|---|');
  console.log(`| direct | ${us(pct(direct, 50))} | ${us(pct(direct, 99))} | ${us(mean(direct))} |`);
  console.log(`| through Gatehouse | ${us(pct(through, 50))} | ${us(pct(through, 99))} | ${us(mean(through))} |`);
  console.log(
    `| ratio | ${(pct(through, 50) / pct(direct, 50)).toFixed(2)}× | ${(pct(through, 99) / pct(direct, 99)).toFixed(2)}× | ${(mean(through) / mean(direct)).toFixed(2)}× |`,
  );
  console.log(`\nadded by Gatehouse: p50 ${us(pct(through, 50) - pct(direct, 50))}, mean ${us(mean(through) - mean(direct))}`);
  console.log(`Gatehouse CPU per round trip (two messages through it): ${us(gwCpu / through.length)}`);
}

if (process.argv[2] === 'backend') {
  void runBackend().then((url) => process.send!({ url }));
  process.on('disconnect', () => process.exit(0));
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
