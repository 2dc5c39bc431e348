// Redis for tests: the shared server at 127.0.0.1:6379 (each test uses its own key prefix), a
// private redis-server started on a free port (to stop it mid-run), and a TCP proxy that delays
// every chunk (a slow Redis).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './child.js';

export const SHARED_REDIS = 'redis://127.0.0.1:6379';

/**
 * Whether the shared Redis answers. With CI=true it must (a missing one fails the run);
 * otherwise the caller skips with a loud message.
 */
export async function sharedRedisUp(): Promise<boolean> {
  const ok = await ping(6379);
  if (!ok && process.env.CI === 'true') throw new Error('CI=true but no Redis at 127.0.0.1:6379');
  if (!ok)
    console.warn('\n!!! SKIPPING Redis tests: no Redis at 127.0.0.1:6379 (they run when one is up; CI=true makes this a failure) !!!\n');
  return ok;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.setTimeout(500);
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    sock.once('error', () => resolve(false));
    sock.once('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

/** A key prefix no other test (or helper) uses. */
export function uniquePrefix(name: string): string {
  return `gh-test:${name}:${randomBytes(4).toString('hex')}:`;
}

/** A client on the shared Redis, for inspecting keys. */
export function inspector(url = SHARED_REDIS): Redis {
  return new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** Every key under `prefix` (SCAN, never KEYS). */
export async function keysUnder(r: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

export async function deleteUnder(r: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(r, prefix);
  for (let i = 0; i < keys.length; i += 500) await r.del(...keys.slice(i, i + 500));
}

export interface PrivateRedis {
  port: number;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A redis-server of this test alone, on a free port; stop() and start() again on the same port. */
export async function privateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const self: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      await waitFor(`redis-server on port ${port}`, () => ping(port), 5000);
    },
    async stop() {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    },
  };
  await self.start();
  return self;
}

/** `sent`: chunks the client sent towards Redis (replies to earlier calls are not counted). */
export interface DelayProxy {
  port: number;
  url: string;
  delayMs: number;
  sent: number;
  close(): Promise<void>;
}

/** A TCP proxy to 127.0.0.1:`target` that holds every chunk, either way, for `delayMs` (changeable). */
export async function delayProxy(target: number, delayMs: number): Promise<DelayProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    const relay = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk) => {
        if (from === client) proxy.sent++;
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
        }, proxy.delayMs);
      });
    relay(client, upstream);
    relay(upstream, client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const proxy: DelayProxy = {
    port,
    url: `redis://127.0.0.1:${port}`,
    delayMs,
    sent: 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  return proxy;
}
