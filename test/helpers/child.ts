// The `gatehouse` CLI as a child process: one-shot commands (validate, routes, explain) and a
// running gateway (start) whose ports are read from its start-up line. Plus temp config files,
// free ports and polling.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/src/cli/main.js (this file compiles to dist/test/helpers/child.js). */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (killed after `timeoutMs`). */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * A port that was free a moment ago (for a child process that needs a fixed one). Drawn at random
 * below the kernel's ephemeral range (32768–60999 here): a port the kernel handed out for port 0
 * is free again once its server closes, and a parallel test's listener or client socket could take
 * it before the child binds it. Below that range only another freePort() call can collide.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canBind(port)) return port;
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export interface TempDir {
  path: string;
  file(name: string, text: string): Promise<string>;
  remove(): Promise<void>;
}

export async function tempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), 'gatehouse-test-'));
  return {
    path,
    async file(name, text) {
      const p = join(path, name);
      await writeFile(p, text);
      return p;
    },
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

/** The head of a config for a gateway with two workers: no access log, the listener on `port`, the admin API on a free port. */
export function workersHead(port: number, level = 'warn'): string {
  return `workers: 2\naccessLog: false\nlog: { level: ${level} }\nlisten: [{ port: ${port}, host: 127.0.0.1 }]\nadmin: { port: 0, host: 127.0.0.1 }\n`;
}

export interface GatewayChild {
  proc: ChildProcess;
  pid: number;
  port: number;
  adminPort: number;
  url: string;
  adminUrl: string;
  /** Everything written so far (the gateway logs JSON lines on stderr). */
  readonly stdout: string;
  readonly stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** SIGKILLs the process (and, for workers, its process group is not touched: workers exit on disconnect). */
  kill(): Promise<void>;
}

const running = new Set<GatewayChild>();

/** Starts `gatehouse start -c configPath`; resolves once it prints where it serves. */
export function startChild(configPath: string, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<GatewayChild> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, 'start', '-c', configPath], {
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      proc.on('exit', (code, signal) => r({ code, signal })),
    );
    const child: GatewayChild = {
      proc,
      pid: proc.pid!,
      port: 0,
      adminPort: 0,
      url: '',
      adminUrl: '',
      get stdout() {
        return stdout;
      },
      get stderr() {
        return stderr;
      },
      exited,
      isRunning: () => proc.exitCode === null && proc.signalCode === null,
      async kill() {
        if (child.isRunning()) proc.kill('SIGKILL');
        await exited;
        running.delete(child);
      },
    };
    running.add(child);
    const timer = setTimeout(() => fail(new Error(`gateway did not start in time\n${stderr}`)), opts.timeoutMs ?? 10_000);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void child.kill().then(() => reject(err));
    };
    proc.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    proc.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      const m = /serving on http:\/\/([^:]+):(\d+).*?; admin on http:\/\/([^:]+):(\d+)/.exec(stderr);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        child.port = Number(m[2]);
        child.adminPort = Number(m[4]);
        child.url = `http://127.0.0.1:${child.port}`;
        child.adminUrl = `http://127.0.0.1:${child.adminPort}`;
        resolve(child);
      }
    });
    void exited.then(({ code, signal }) => fail(new Error(`gateway exited during start-up (code ${code}, signal ${signal})\n${stderr}`)));
  });
}

/** Kills every child started by startChild that is still running (for after()). */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...running].map((c) => c.kill()));
}

/** Child pids of `pid` (cluster workers of a primary). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Falsy = false | 0 | '' | null | undefined;

/** Polls `check` until it returns a truthy value (and resolves with it); throws with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Falsy | Promise<T | Falsy>, timeoutMs = 5000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

/** How long any one `within` wait may take: far more than loopback needs, far less than the runner's timeout. */
const DEADLINE_MS = 10_000;

/** `p`, or a failure naming `what` once DEADLINE_MS pass (no test hangs until the runner's timeout). */
export async function within<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${DEADLINE_MS} ms waiting for ${what}`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
