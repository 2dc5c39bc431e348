// PostgreSQL for the config-store tests: a database of its own on the shared server (created per
// test file, dropped after), and a private server (initdb + pg_ctl) that a test can kill and
// start again. Running as root, initdb refuses: the private server then runs as the postgres user.
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freePort } from './child.js';

export const SHARED_PG = 'postgres://postgres@127.0.0.1:5432';

async function admin<T>(url: string, run: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: `${url}/postgres`, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await run(c);
  } finally {
    await c.end();
  }
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A new, empty database; `drop` removes it (and ends any connection still open to it). */
export async function createDatabase(server = SHARED_PG): Promise<TestDatabase> {
  const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  await admin(server, (c) => c.query(`CREATE DATABASE ${name}`));
  return {
    url: `${server}/${name}`,
    drop: () => admin(server, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

export interface PrivatePostgres {
  port: number;
  /** The server, without a database (append /name). */
  server: string;
  start(): Promise<void>;
  /** `pg_ctl stop -m immediate`: no shutdown of connections, as a crash. */
  kill(): void;
  remove(): void;
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL tool, as the postgres user when this process is root. */
function tool(cmd: string, args: string[]): void {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  execFileSync(file, argv, { stdio: 'pipe', timeout: 60_000 });
}

export async function privatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  else chownSync(dir, process.getuid!(), process.getgid!());
  const data = join(dir, 'data');
  tool('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']);
  const port = await freePort();
  const self: PrivatePostgres = {
    port,
    server: `postgres://postgres@127.0.0.1:${port}`,
    start() {
      tool('pg_ctl', [
        '-D',
        data,
        '-l',
        join(dir, 'log'),
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        '-w',
        'start',
      ]);
      return Promise.resolve();
    },
    kill() {
      tool('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
    },
    remove() {
      try {
        self.kill();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await self.start();
  return self;
}
