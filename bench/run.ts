// `npm run bench`: Gatehouse's own benchmark, on 127.0.0.1 only, in one run:
//   1. a node:http upstream (bench/upstream.ts, a forked child process);
//   2. load straight at the upstream (`direct`, the baseline);
//   3. for each scenario (bench/scenarios.ts): Gatehouse started as a child process with the CLI
//      and a generated config, checked, warmed up, then loaded;
//   4. `direct` again (`direct-end`): how far the machine drifted during the run.
// For each it prints req/s, p50/p99 latency, their ratios to `direct`, and the CPU time per
// request of Gatehouse and of the upstream (utime+stime from /proc/<pid>/stat). See bench/README.md.
//
// Settings (environment): DURATION (s, default 5), CONNECTIONS (50), WARMUP (s, 1),
// SCENARIOS (comma-separated, default all), RESULTS (a file for the JSON results, optional).
// Every load phase has a fixed duration; every process started here is stopped by its pid at the
// end, on error and on Ctrl-C.
import autocannon from 'autocannon';
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIOS, configYaml, type Scenario } from './scenarios.js';
import type { FromUpstream, ToUpstream } from './upstream.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const UPSTREAM = fileURLToPath(new URL('./upstream.js', import.meta.url));
const DIRECT_PATH = '/api/items/42';

// ---------------------------------------------------------------- settings

class UsageError extends Error {}

interface Settings {
  duration: number;
  connections: number;
  warmup: number;
  scenarios: Scenario[];
  results: string | undefined;
}

function num(name: string, def: number, min: number, max: number, integer = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new UsageError(`${name}=${raw}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
  }
  return v;
}

function settings(): Settings {
  const names = (process.env.SCENARIOS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) throw new UsageError(`SCENARIOS: unknown ${unknown.join(', ')} (known: ${SCENARIOS.map((s) => s.name).join(', ')})`);
  return {
    duration: num('DURATION', 5, 0.5, 600),
    connections: num('CONNECTIONS', 50, 1, 10_000, true),
    warmup: num('WARMUP', 1, 0, 600),
    scenarios: names.length ? SCENARIOS.filter((s) => names.includes(s.name)) : [...SCENARIOS],
    results: process.env.RESULTS || undefined,
  };
}

// ---------------------------------------------------------------- processes and clean-up

const children = new Set<ChildProcess>();
let tmp: string | undefined;
let current: autocannon.Instance | undefined;
let interrupted = false;

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  // Failed spawns and sends on a closed IPC channel surface here; unhandled, they would kill the
  // harness before it stops the other processes. Each caller sees the failure on its own.
  child.on('error', () => {});
  return child;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (exited(child)) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (!exited(child)) child.kill('SIGKILL');
  }, graceMs);
  await gone;
  clearTimeout(timer);
}

async function cleanup(): Promise<void> {
  current?.stop();
  await Promise.all([...children].map((c) => stopChild(c)));
  if (tmp) await rm(tmp, { recursive: true, force: true }).catch(() => {});
  tmp = undefined;
}

// Last resort: a child still running when this process exits is killed by its pid.
process.on('exit', () => {
  for (const c of children)
    if (!exited(c) && c.pid)
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) process.exit(130); // second Ctrl-C: the 'exit' handler SIGKILLs the children
    interrupted = true;
    process.stderr.write(`\nbench: ${sig}: stopping everything it started\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------- CPU time from /proc

const CLK_TCK = (() => {
  try {
    const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return v > 0 ? v : 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of `pid` in clock ticks, or undefined without /proc. */
function cpuTicks(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, so utime (14) and stime (15) are at 11 and 12.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}

/** Busy clock ticks of the whole machine, all CPUs (user+nice+system+irq+softirq+steal), or undefined without /proc. */
function machineBusyTicks(): number | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    return f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0); // idle (3) and iowait (4) left out
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- the upstream

interface Upstream {
  proc: ChildProcess;
  url: string;
  stats(): Promise<{ conns: number; reqs: number }>;
}

function startUpstream(): Promise<Upstream> {
  const proc = track(fork(UPSTREAM, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the upstream did not start in 10 s')), 10_000);
    proc.once('exit', (code, signal) => reject(new Error(`the upstream exited during start-up (${code ?? signal})`)));
    proc.on('message', (m: FromUpstream) => {
      if (m.t !== 'listening') return;
      clearTimeout(timer);
      const stats = () =>
        new Promise<{ conns: number; reqs: number }>((res, rej) => {
          const t = setTimeout(() => rej(new Error('the upstream did not answer a stats request')), 5000);
          const on = (r: FromUpstream) => {
            if (r.t !== 'stats') return;
            clearTimeout(t);
            proc.off('message', on);
            res({ conns: r.conns, reqs: r.reqs });
          };
          proc.on('message', on);
          if (!proc.connected) {
            clearTimeout(t);
            proc.off('message', on);
            return rej(new Error('the upstream is gone'));
          }
          proc.send({ t: 'stats' } satisfies ToUpstream, (err) => {
            if (err) {
              clearTimeout(t);
              proc.off('message', on);
              rej(new Error(`the upstream is gone (${err.message})`));
            }
          });
        });
      resolve({ proc, url: `http://127.0.0.1:${m.port}`, stats });
    });
  });
}

// ---------------------------------------------------------------- Gatehouse

interface Gateway {
  proc: ChildProcess;
  url: string;
  adminUrl: string;
  output(): string;
}

/** `gatehouse start --config file`; resolves once it prints where it serves. */
function startGateway(configPath: string): Promise<Gateway> {
  const proc = track(spawn(process.execPath, [CLI, 'start', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  const keep = (c: string) => {
    out = (out + c).slice(-8000);
  }; // always drained: a full pipe would block it
  proc.stdout!.setEncoding('utf8').on('data', keep);
  let started = false;
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      void stopChild(proc).then(() => reject(new Error(`${why}\n${out.trim()}`)));
    };
    const timer = setTimeout(() => fail('Gatehouse did not start in 10 s'), 10_000);
    proc.once('exit', (code, signal) => {
      if (!started) fail(`Gatehouse exited during start-up (${code ?? signal})`);
    });
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => {
      keep(c);
      const m = /serving on (http:\/\/[^\s,;]+).*?; admin on (http:\/\/\S+)/.exec(out);
      if (m && !started) {
        started = true;
        clearTimeout(timer);
        resolve({ proc, url: m[1]!, adminUrl: m[2]!, output: () => out });
      }
    });
  });
}

/** `gatehouse explain` must pick the scenario's route for its path. */
function explainRoute(configPath: string, path: string): string | undefined {
  try {
    const text = execFileSync(process.execPath, [CLI, 'explain', '--config', configPath, '--json', 'GET', path], {
      encoding: 'utf8',
      timeout: 15_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return (JSON.parse(text) as { route?: { route?: string } }).route?.route;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- load

interface Load {
  requests: number; // 2xx responses
  seconds: number;
  latenciesMs: Float64Array; // of the 2xx responses, sorted
  non2xx: number;
  errors: number;
  timeouts: number;
}

function load(url: string, connections: number, duration: number, headers?: Record<string, string>): Promise<Load> {
  let lat = new Float64Array(1 << 16);
  let n = 0;
  let non2xx = 0;
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const instance = autocannon({ url, connections, duration, timeout: 10, sampleInt: 250, headers }, (err, result) => {
      current = undefined;
      clearTimeout(watchdog);
      if (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      resolve({ requests: n, seconds, latenciesMs: lat.slice(0, n).sort(), non2xx, errors: result.errors, timeouts: result.timeouts });
    });
    current = instance;
    // autocannon stops itself after `duration`; this only guards against a stuck run.
    const watchdog = setTimeout(() => instance.stop(), (duration + 15) * 1000);
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status < 200 || status > 299) {
        non2xx++;
        return;
      }
      if (n === lat.length) {
        const bigger = new Float64Array(lat.length * 2);
        bigger.set(lat);
        lat = bigger;
      }
      lat[n++] = ms;
    });
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

// ---------------------------------------------------------------- one measured phase

interface Row {
  target: string;
  description: string;
  url: string;
  ok: boolean;
  problem?: string;
  reqPerSec?: number;
  p50Ms?: number;
  p99Ms?: number;
  requests?: number;
  seconds?: number;
  non2xx?: number;
  errors?: number;
  timeouts?: number;
  /** Gatehouse's utime+stime per 2xx response, µs (gateway rows only). */
  gatewayCpuUsPerReq?: number;
  upstreamCpuUsPerReq?: number;
  /** The load generator's (this process's) CPU per response, µs. */
  loadgenCpuUsPerReq?: number;
  /** CPU used by everything else on the machine during the measured phase, % of one core. */
  otherCpuPct?: number;
  /** New TCP connections the upstream accepted during the measured phase. */
  upstreamConns?: number;
  ratio?: { reqPerSec: number; p50: number; p99: number };
}

async function measure(
  s: Settings,
  target: string,
  description: string,
  url: string,
  upstream: Upstream,
  gatewayPid?: number,
  headers?: Record<string, string>,
): Promise<Row> {
  if (s.warmup > 0) await load(url, s.connections, s.warmup, headers);
  if (interrupted) throw new Error('interrupted');
  const stats0 = await upstream.stats();
  const snap = () => ({ gw: cpuTicks(gatewayPid), up: cpuTicks(upstream.proc.pid), me: cpuTicks(process.pid), all: machineBusyTicks() });
  const before = snap();
  const r = await load(url, s.connections, s.duration, headers);
  const after = snap();
  const stats1 = await upstream.stats();
  const d = (k: keyof typeof before) => (before[k] === undefined || after[k] === undefined ? undefined : after[k] - before[k]);
  const perReq = (ticks: number | undefined) =>
    ticks === undefined || r.requests === 0 ? undefined : ((ticks / CLK_TCK) * 1e6) / r.requests;
  const ours = (d('gw') ?? 0) + (d('up') ?? 0) + (d('me') ?? 0);
  const other = d('all') === undefined ? undefined : Math.max(0, d('all')! - ours);
  const bad = r.non2xx + r.errors;
  const row: Row = {
    target,
    description,
    url,
    ok: r.requests > 0 && bad <= r.requests * 0.001,
    reqPerSec: r.requests / r.seconds,
    p50Ms: percentile(r.latenciesMs, 50),
    p99Ms: percentile(r.latenciesMs, 99),
    requests: r.requests,
    seconds: r.seconds,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    upstreamCpuUsPerReq: perReq(d('up')),
    loadgenCpuUsPerReq: perReq(d('me')),
    otherCpuPct: other === undefined ? undefined : (other / CLK_TCK / r.seconds) * 100,
    upstreamConns: stats1.conns - stats0.conns,
  };
  if (gatewayPid !== undefined) row.gatewayCpuUsPerReq = perReq(d('gw'));
  if (!row.ok) row.problem = r.requests === 0 ? 'no 2xx responses' : `${bad} non-2xx responses or errors`;
  return row;
}

async function runScenario(s: Settings, sc: Scenario, upstream: Upstream, expectedBody: string): Promise<Row> {
  const file = join(tmp!, `${sc.name}.yaml`);
  await writeFile(file, configYaml(sc, upstream.url));
  const failed = (problem: string): Row => ({ target: sc.name, description: sc.description, url: '', ok: false, problem });

  const picked = explainRoute(file, sc.path);
  if (picked !== sc.route) return failed(`gatehouse explain picked route ${picked ?? '(none)'} for ${sc.path}, expected ${sc.route}`);

  const gw = await startGateway(file);
  try {
    const url = gw.url + sc.path;
    const res = await fetch(url, { headers: sc.headers });
    const body = await res.text();
    if (res.status !== 200 || body !== expectedBody) return failed(`GET ${sc.path} through Gatehouse: ${res.status} ${body.slice(0, 200)}`);
    const problem = await sc.check?.(gw.url);
    if (problem) return failed(problem);

    const row = await measure(s, sc.name, sc.description, url, upstream, gw.proc.pid, sc.headers);
    if (exited(gw.proc)) return { ...row, ok: false, problem: `Gatehouse exited during the load\n${gw.output().trim()}` };
    return row;
  } finally {
    await stopChild(gw.proc);
  }
}

// ---------------------------------------------------------------- output

function fmt(v: number | undefined, digits: number): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(rows: Row[]): string {
  const head = [
    'target',
    'req/s',
    'p50 ms',
    'p99 ms',
    'req/s ×',
    'p50 ×',
    'p99 ×',
    'gw CPU µs/req',
    'up CPU µs/req',
    'other CPU %',
    'up conns',
    'errors',
  ];
  const body = rows.map((r) =>
    r.reqPerSec === undefined
      ? [r.target, 'FAILED', '', '', '', '', '', '', '', '', '', '']
      : [
          r.target + (r.ok ? '' : ' (!)'),
          fmt(r.reqPerSec, 0),
          fmt(r.p50Ms, 2),
          fmt(r.p99Ms, 2),
          fmt(r.ratio?.reqPerSec, 2),
          fmt(r.ratio?.p50, 2),
          fmt(r.ratio?.p99, 2),
          fmt(r.gatewayCpuUsPerReq, 1),
          fmt(r.upstreamCpuUsPerReq, 1),
          fmt(r.otherCpuPct, 0),
          String(r.upstreamConns ?? '-'),
          String((r.non2xx ?? 0) + (r.errors ?? 0)),
        ],
  );
  const all = [head, ...body];
  const width = head.map((_, i) => Math.max(...all.map((l) => l[i]!.length)));
  const line = (l: string[]) =>
    l
      .map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(width.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  let s: Settings;
  try {
    s = settings();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const require = createRequire(import.meta.url);
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    autocannon: (require('autocannon/package.json') as { version: string }).version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '?',
    loadavgAtStart: loadavg().map((x) => Number(x.toFixed(2))),
    clockTicksPerSecond: CLK_TCK,
    durationS: s.duration,
    warmupS: s.warmup,
    connections: s.connections,
    scenarios: s.scenarios.map((x) => x.name),
  };
  process.stderr.write(
    `bench: node ${meta.node}, autocannon ${meta.autocannon}, ${meta.cpus} CPUs, load average ${meta.loadavgAtStart.join(' ')}\n` +
      `bench: ${s.connections} connections, ${s.warmup} s warm-up + ${s.duration} s measured per target; ` +
      `targets: direct, ${meta.scenarios.join(', ')}, direct-end\n`,
  );

  tmp = await mkdtemp(join(tmpdir(), 'gatehouse-bench-'));
  const upstream = await startUpstream();
  const directUrl = upstream.url + DIRECT_PATH;
  const expectedBody = await (await fetch(directUrl)).text();

  const rows: Row[] = [];
  const step = async (what: string, run: () => Promise<Row>) => {
    if (interrupted) return;
    process.stderr.write(`bench: ${what} ...`);
    let row: Row;
    try {
      row = await run();
    } catch (err) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the SIGINT handler sets it while run() is awaited; the compiler keeps the narrowing from the check above
      if (interrupted) return;
      row = { target: what, description: '', url: '', ok: false, problem: (err as Error).message };
    }
    rows.push(row);
    process.stderr.write(
      row.reqPerSec === undefined ? ` FAILED: ${row.problem}\n` : ` ${fmt(row.reqPerSec, 0)} req/s${row.ok ? '' : ` (${row.problem})`}\n`,
    );
  };

  await step('direct', () => measure(s, 'direct', 'load straight at the upstream (the baseline)', directUrl, upstream));
  for (const sc of s.scenarios) await step(sc.name, () => runScenario(s, sc, upstream, expectedBody));
  await step('direct-end', () => measure(s, 'direct-end', 'direct again at the end: drift during the run', directUrl, upstream));
  if (interrupted) return 130;

  const base = rows[0]?.target === 'direct' && rows[0].reqPerSec ? rows[0] : undefined;
  for (const r of rows) {
    if (base && r.reqPerSec !== undefined) {
      r.ratio = { reqPerSec: r.reqPerSec / base.reqPerSec!, p50: r.p50Ms! / base.p50Ms!, p99: r.p99Ms! / base.p99Ms! };
    }
  }

  process.stdout.write('\n' + table(rows) + '\n\n');
  process.stdout.write(
    '× = ratio to `direct` (req/s: higher is better; latency: lower is better). CPU = utime+stime from /proc per 2xx response.\n' +
      'other CPU % = what the rest of the machine used meanwhile (100 = one core): high values make a row unreliable.\n' +
      "up conns = TCP connections the upstream accepted during the measured phase: for direct, the load generator's own;\n" +
      '  for Gatehouse, up to CONNECTIONS replace those cut when the warm-up ended; far more means no reuse. See bench/README.md.\n',
  );
  for (const r of rows) if (!r.ok) process.stdout.write(`(!) ${r.target}: ${r.problem}\n`);

  if (s.results) {
    await writeFile(s.results, JSON.stringify({ meta, results: rows }, null, 2) + '\n');
    process.stderr.write(`bench: results written to ${s.results}\n`);
  }
  return rows.every((r) => r.ok) ? 0 : 1;
}

main().then(
  async (code) => {
    await cleanup();
    if (!interrupted) process.exit(code);
  },
  async (err: unknown) => {
    process.stderr.write(`\nbench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await cleanup();
    process.exit(1);
  },
);
