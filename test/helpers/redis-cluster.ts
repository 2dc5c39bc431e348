// A Redis Cluster (3 masters) and a Sentinel setup (a master, a replica, one sentinel) of a test's
// own, on loopback ports, killed by stop() (and when the test process exits). Both need
// redis-server and redis-cli: without them the caller skips loudly, and with CI=true fails.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, tempDir, waitFor, type TempDir } from './child.js';

const run = promisify(execFile);
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Whether redis-server and redis-cli are here; with CI=true they must be. */
export function redisToolsHere(): boolean {
  const ok = ['/usr/bin/redis-server', '/usr/bin/redis-cli'].every((p) => existsSync(p));
  if (!ok && process.env.CI === 'true') throw new Error('CI=true but redis-server or redis-cli is missing (apt-get install redis-server)');
  if (!ok)
    console.warn(
      '\n!!! SKIPPING Redis Cluster / Sentinel tests: no redis-server or redis-cli in /usr/bin (CI=true makes this a failure) !!!\n',
    );
  return ok;
}

function serve(args: string[]): ChildProcess {
  const p = spawn('/usr/bin/redis-server', args, { stdio: 'ignore' });
  live.add(p);
  p.once('exit', () => live.delete(p));
  return p;
}

async function kill(procs: ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.map((p) => {
      if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      return exited;
    }),
  );
}

/** A reply of one command to 127.0.0.1:`port` (a fresh connection, closed after). */
export async function ask(port: number, ...args: string[]): Promise<unknown> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return await r.call(args[0]!, ...args.slice(1));
  } finally {
    r.disconnect();
  }
}

const base = (port: number, dir: TempDir) => [
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
  '--dir',
  dir.path,
];

export interface TestCluster {
  ports: number[];
  /** redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3 */
  url: string;
  stop(): Promise<void>;
}

/** Three masters, every slot assigned, cluster_state:ok on each. */
export async function startCluster(): Promise<TestCluster> {
  const dir = await tempDir();
  const ports: number[] = [];
  while (ports.length < 3) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const procs: ChildProcess[] = [];
  const stop = async () => {
    await kill(procs);
    await dir.remove();
  };
  try {
    for (const port of ports) {
      // The bus port is a free port of its own (port + 10000 could be in the kernel's ephemeral range).
      const bus = await freePort();
      procs.push(
        serve([
          ...base(port, dir),
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(bus),
          '--cluster-config-file',
          `nodes-${port}.conf`,
        ]),
      );
    }
    for (const port of ports) await waitFor(`cluster node ${port}`, () => ask(port, 'PING').catch(() => false), 5000);
    await run('/usr/bin/redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const port of ports)
      await waitFor(
        `cluster_state:ok on ${port}`,
        async () => String(await ask(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'),
        10_000,
      );
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports, url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, stop };
}

export interface TestSentinel {
  /** redis+sentinel://127.0.0.1:<sentinel>/gh */
  url: string;
  masterPort: number;
  replicaPort: number;
  /** The master's port as the sentinel tells it now. */
  master(): Promise<number>;
  /** SENTINEL FAILOVER: resolves once the sentinel names the replica as master. */
  failover(): Promise<void>;
  stop(): Promise<void>;
}

/** A master, its replica (in sync), and one sentinel watching them as "gh". */
export async function startSentinel(): Promise<TestSentinel> {
  const dir = await tempDir();
  const [masterPort, replicaPort, sentinelPort] = [await freePort(), await freePort(), await freePort()];
  const procs: ChildProcess[] = [];
  const stop = async () => {
    await kill(procs);
    await dir.remove();
  };
  const master = async () => Number(((await ask(sentinelPort, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'gh')) as string[])[1]);
  try {
    // No 5 s wait for more replicas before the first sync (the default of a diskless sync).
    procs.push(serve([...base(masterPort, dir), '--repl-diskless-sync-delay', '0']));
    await waitFor('the master', () => ask(masterPort, 'PING').catch(() => false), 5000);
    procs.push(serve([...base(replicaPort, dir), '--replicaof', '127.0.0.1', String(masterPort), '--dbfilename', `r${replicaPort}.rdb`]));
    await waitFor(
      'the replica in sync',
      async () => String(await ask(replicaPort, 'INFO', 'replication').catch(() => '')).includes('master_link_status:up'),
      10_000,
    );
    // The sentinel rewrites its config file: one of its own in the temp dir.
    const conf = await dir.file(
      'sentinel.conf',
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir.path}`,
        `sentinel monitor gh 127.0.0.1 ${masterPort} 1`,
        'sentinel down-after-milliseconds gh 2000',
        'sentinel failover-timeout gh 10000',
        '',
      ].join('\n'),
    );
    procs.push(serve([conf, '--sentinel']));
    await waitFor('the sentinel', () => master().catch(() => false), 5000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `redis+sentinel://127.0.0.1:${sentinelPort}/gh`,
    masterPort,
    replicaPort,
    master,
    async failover() {
      // The sentinel learns of the replica from the master's INFO (every 10 s at most): until it
      // has, FAILOVER answers NOGOODSLAVE. A FAILOVER is sent again only while none is under way
      // (a second one would fail back to the old master).
      await waitFor(
        'SENTINEL FAILOVER accepted',
        async () => {
          if ((await master()) === replicaPort) return true;
          return ask(sentinelPort, 'SENTINEL', 'FAILOVER', 'gh').then(
            () => true,
            (err: unknown) => /INPROG/.test(String(err)),
          );
        },
        30_000,
        200,
      );
      await waitFor('the replica promoted', async () => (await master()) === replicaPort, 30_000, 100);
      // Until the sentinel has demoted the old master it still takes writes, which its resync to
      // the new one then drops (Redis replication is asynchronous). The sentinel does it on its
      // next look at the old master (up to 10 s): do what it would do now, and wait for it.
      await ask(masterPort, 'REPLICAOF', '127.0.0.1', String(replicaPort));
      await waitFor(
        'the old master demoted',
        async () => String(await ask(masterPort, 'INFO', 'replication')).includes('role:slave'),
        30_000,
        100,
      );
    },
    stop,
  };
}
