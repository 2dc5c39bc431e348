// How long edits take with many consumers in a config store: gateways in this process sharing one
// PostgreSQL database (created here, dropped after), loaded with `count` consumers (one API key
// each); then route edits and consumer edits through the first one's admin API, each timed from the
// call to every instance serving it. Also the validation of a route edit alone.
// Run: npx tsc -p . && node dist/bench/config-store-edits.js [count]
//   PG=postgres://postgres@127.0.0.1:5432 (the server; a database of its own is made), INSTANCES=3
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { request } from 'undici';
import { startGateway, type Gateway } from '../src/gateway.js';
import { validateConfig } from '../src/validation/validate.js';
import { silentLogger } from '../src/observability/logger.js';
import { migrate } from '../src/controlplane/migrations.js';

const count = Number(process.argv[2] ?? 100_000);
const instances = Number(process.env.INSTANCES ?? 3);
const server = process.env.PG ?? 'postgres://postgres@127.0.0.1:5432';
const name = `gatehouse_bench_${randomBytes(4).toString('hex')}`;

async function onServer(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: `${server}/postgres` });
  await c.connect();
  await c.query(sql);
  await c.end();
}

const ms = (t0: number) => performance.now() - t0;
const route = (n: string) => ({ name: n, match: { paths: [`/${n}`] }, service: 'up', policies: [{ type: 'key-auth' }] });

async function call(url: string, method: string, body?: unknown): Promise<Record<string, unknown>> {
  // A connection each (reset): an idle keep-alive connection the server closes during a long wait
  // would fail the next call with ECONNRESET.
  const res = await request(url, {
    method: method as 'GET',
    reset: true,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
  });
  const answer = (await res.body.json()) as Record<string, unknown>;
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${JSON.stringify(answer).slice(0, 300)}`);
  return answer;
}

async function main(): Promise<void> {
  await onServer(`CREATE DATABASE ${name}`);
  const url = `${server}/${name}`;
  const gws: Gateway[] = [];
  try {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await migrate(c, 'bench');
    await c.end();
    for (let i = 0; i < instances; i++) {
      const boot = validateConfig({
        listen: [{ port: 0, host: '127.0.0.1' }],
        admin: { port: 0, host: '127.0.0.1' },
        log: { level: 'silent' },
        configStore: { type: 'postgres', url, schema: 'bench', pollIntervalMs: 3_600_000, heartbeatIntervalMs: 3_600_000 },
      });
      if (!boot.ok) throw new Error(JSON.stringify(boot.errors));
      gws.push(await startGateway({ config: boot.config, logger: silentLogger }));
    }
    const admin = `http://127.0.0.1:${gws[0]!.admin!.port}`;
    const allAt = async (version: number) => {
      const deadline = Date.now() + 300_000;
      while (!gws.every((g) => g.instance.version >= version)) {
        if (Date.now() > deadline)
          throw new Error(`not every instance reached version ${version}: ${gws.map((g) => g.instance.version).join(', ')}`);
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    const timed = async (what: string, run: () => Promise<Record<string, unknown>>) => {
      const t = performance.now();
      const answer = await run();
      const answered = ms(t);
      await allAt(answer.configVersion as number);
      console.log(`${what}: answered ${answered.toFixed(0)} ms, all ${instances} serving ${ms(t).toFixed(0)} ms`);
    };

    const consumers = Array.from({ length: count }, (_, i) => ({
      id: `c${i}`,
      credentials: [{ type: 'api-key', key: `key-${i}-0123456789abcdef` }],
    }));
    const doc = { accessLog: false, services: { up: { targets: [{ url: 'http://127.0.0.1:9' }] } }, consumers, routes: [route('r0')] };
    await timed(`whole config, ${count} consumers`, () => call(`${admin}/config`, 'POST', doc));

    for (let i = 1; i <= 3; i++) await timed(`route edit ${i}`, () => call(`${admin}/config/routes/r${i}`, 'PUT', route(`r${i}`)));
    for (let i = 1; i <= 3; i++)
      await timed(`consumer added ${i}`, () =>
        call(`${admin}/consumers`, 'POST', { id: `new${i}`, credentials: [{ type: 'api-key', key: `new-key-${i}-0123456789abcdef` }] }),
      );
    await timed('consumer deleted', () => call(`${admin}/consumers/c7`, 'DELETE'));
    await timed('route edit after consumer edits', () => call(`${admin}/config/routes/r9`, 'PUT', route('r9')));

    // Validation alone of a route edit of the config served (its consumer list as it is).
    const served = gws[0]!.instance.config;
    for (let i = 1; i <= 3; i++) {
      const t = performance.now();
      const r = validateConfig({ ...served, routes: [...served.routes, route(`v${i}`)] });
      if (!r.ok) throw new Error(JSON.stringify(r.errors.slice(0, 3)));
      console.log(`validate a route edit ${i}: ${ms(t).toFixed(0)} ms`);
    }
    console.log(`heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB (${instances} instances in this process)`);
  } finally {
    await Promise.all(gws.map((g) => g.stop()));
    await onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

await main();
