// Accuracy across instances: 3 Gatehouse processes on one Redis, 64 concurrent clients spread over
// them, 100 per second for 5 s, fixed window, sliding window and token bucket at once.
//
// Redis's clock is this machine's clock, so each admitted request was decided somewhere between
// the moment it was sent and the moment it reached the upstream (which records it). A request
// whose both moments fall in the same second was certainly counted in that second ("certain");
// one straddling a boundary may belong to either. So certain(w) ≤ bound proves no over-admission,
// and "at most"(w) ≥ 99 % of the limit, in every second that was heavily overloaded (at least
// twice the limit sent within it), proves no over-blocking. Both checks are sound however slow
// the machine is; a machine too slow to overload any second fails the test, loudly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { killAllChildren, startChild, tempDir, waitFor, type GatewayChild, type TempDir } from './helpers/child.js';
import { SHARED_REDIS, deleteUnder, inspector, sharedRedisUp, uniquePrefix } from './helpers/redis.js';

const up = await sharedRedisUp();
const LIMIT = 100;
const BURST = 100;
const SECONDS = 5;
const CLIENTS = 64;
const ROUTES = ['fixed', 'sliding', 'token'] as const;
const prefix = uniquePrefix('accuracy');
let dir: TempDir;
let upstream: Upstream;
const gateways: GatewayChild[] = [];
const arrived = new Map<number, number>();

before(async () => {
  if (!up) return;
  dir = await tempDir();
  upstream = await startUpstream((req, res) => {
    arrived.set(Number(req.headers['x-sample']), Date.now());
    res.end('ok');
  });
  const yaml = `
accessLog: false
log: { level: warn }
listen: [{ port: 0, host: 127.0.0.1 }]
admin: { port: 0, host: 127.0.0.1 }
store: { type: redis, url: "${SHARED_REDIS}", prefix: "${prefix}", timeout: 500ms, onStoreError: deny }
services:
  up: { targets: [{ url: "${upstream.url}" }] }
routes:
  - { name: fixed, match: { paths: ["/fixed"] }, service: up, policies: [{ type: rate-limit, algorithm: fixed-window, limit: ${LIMIT}, window: 1s, by: global }] }
  - { name: sliding, match: { paths: ["/sliding"] }, service: up, policies: [{ type: rate-limit, algorithm: sliding-window, limit: ${LIMIT}, window: 1s, by: global }] }
  - { name: token, match: { paths: ["/token"] }, service: up, policies: [{ type: rate-limit, algorithm: token-bucket, rate: ${LIMIT}, per: 1s, burst: ${BURST}, by: global }] }
  - { name: warm, match: { paths: ["/warm"] }, service: up, policies: [{ type: rate-limit, algorithm: fixed-window, limit: 1000000, window: 1h, by: ip }] }
`;
  const file = await dir.file('accuracy.yaml', yaml);
  gateways.push(...(await Promise.all([0, 1, 2].map(() => startChild(file, { timeoutMs: 15_000 })))));
  // Each instance connected to Redis (onStoreError: deny answers 503 until it is).
  for (const gw of gateways) {
    await waitFor(
      'the gateway counting in Redis',
      async () => {
        const pool = new Pool(gw.url, { connections: 1 });
        try {
          const res = await pool.request({ path: '/warm', method: 'GET' });
          await res.body.dump();
          return res.statusCode === 200;
        } finally {
          await pool.close();
        }
      },
      10_000,
      100,
    );
  }
});
after(async () => {
  if (!up) return;
  await killAllChildren();
  await upstream.close();
  const r = inspector();
  await deleteUnder(r, prefix);
  r.disconnect();
  await dir.remove();
});

interface Sample {
  id: number;
  route: number;
  sent: number;
  got: number;
  status: number;
}

test('3 instances, 64 clients, 100/s for 5 s: no window over the limit, none under 99 % of it', { skip: !up }, async () => {
  const pools = gateways.map((g) => new Pool(g.url, { connections: Math.ceil(CLIENTS / gateways.length), pipelining: 1 }));
  // At least a second of warm-up load (JIT, connections, a previous window for the sliding
  // counter), then SECONDS whole seconds measured from a second boundary, then one more second of
  // load so the last measured one is as loaded as the others.
  const start = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  const end = start + SECONDS * 1000;
  const samples: Sample[] = [];
  let nextId = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      const pool = pools[client % pools.length]!;
      for (let n = client; Date.now() < end + 1000; n++) {
        const route = n % ROUTES.length;
        const id = ++nextId;
        const sent = Date.now();
        const res = await pool.request({ path: `/${ROUTES[route]}`, method: 'GET', headers: { 'x-sample': String(id) } });
        await res.body.dump();
        samples.push({ id, route, sent, got: Date.now(), status: res.statusCode });
      }
    }),
  );
  await Promise.all(pools.map((p) => p.close()));

  const statuses = new Set(samples.map((s) => s.status));
  assert.deepEqual([...statuses].sort(), [200, 429], 'only admissions and refusals (no store errors)');
  const report: string[] = [];
  let overloaded = 0;
  const failures: string[] = [];
  for (let route = 0; route < ROUTES.length; route++) {
    const name = ROUTES[route]!;
    const all = samples.filter((s) => s.route === route);
    // An admitted request was decided before it reached the upstream.
    const ok = all.filter((s) => s.status === 200).map((s) => ({ sent: s.sent, decided: arrived.get(s.id)! }));
    report.push(`${name}: ${ok.length} admitted, ${all.length - ok.length} refused`);
    // Token bucket: at most the burst plus the refill over the second.
    const bound = name === 'fixed' ? LIMIT : name === 'sliding' ? LIMIT * 1.01 : LIMIT + BURST;
    for (let w = start; w < end; w += 1000) {
      const certain = ok.filter((s) => s.sent >= w && s.decided < w + 1000).length;
      const atMost = ok.filter((s) => s.decided >= w && s.sent < w + 1000).length;
      const offered = all.filter((s) => s.sent >= w && s.sent < w + 1000).length;
      report.push(`  second ${(w - start) / 1000}: admitted ${certain}..${atMost}, ${offered} sent`);
      if (certain > bound) failures.push(`${name} second ${(w - start) / 1000}: ${certain} admitted > ${bound}`);
      if (offered >= 2 * LIMIT) {
        overloaded++;
        if (atMost < LIMIT * 0.99)
          failures.push(`${name} second ${(w - start) / 1000}: only ${atMost} admitted of ${offered} offered (< 99 %)`);
      }
    }
  }
  console.log(`${samples.length} requests (${SECONDS} s measured, with warm-up and cool-down)\n${report.join('\n')}`);
  assert.deepEqual(failures, []);
  assert.ok(overloaded > 0, 'no second was overloaded (≥ 2× the limit sent): the machine was too slow to judge over-blocking');
});
