// With `workers: 2` the console's numbers are the instance's: the time series adds up every
// worker's seconds, and a consumer's usage is read from the store the workers share (the primary's
// memory store) — requests on fresh connections, spread over both workers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { freePort, killAllChildren, startChild, tempDir, workersHead, type GatewayChild, type TempDir } from './helpers/child.js';

let up: Upstream;
let dir: TempDir;
let gw: GatewayChild;
before(async () => {
  up = await startUpstream();
  dir = await tempDir();
  const port = await freePort();
  const file = await dir.file(
    'workers.yaml',
    `${workersHead(port)}services: { up: { targets: [{ url: "${up.url}" }] } }
routes:
  - name: keyed
    match: { paths: ["/keyed/*"] }
    service: up
    policies:
      - { type: key-auth }
      - { type: rate-limit, by: consumer, limit: 1000, window: 1h, algorithm: fixed-window }
consumers:
  - { id: bob, credentials: [{ type: api-key, key: bob-workers-key-0123 }] }
`,
  );
  gw = await startChild(file, { timeoutMs: 30_000 });
});
after(async () => {
  await killAllChildren();
  await up.close();
  await dir.remove();
});

/** One request on its own connection: node's cluster hands connections to the workers in turn (round robin). */
function fresh(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(`${gw.url}${path}`, { agent: false, headers: { 'x-api-key': 'bob-workers-key-0123' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      })
      .on('error', reject);
  });
}

test('workers: the time series and the usage count every worker’s requests', async () => {
  const N = 40;
  for (let i = 0; i < N; i++) assert.equal(await fresh(`/keyed/${i}`), 200);
  const ts = (await (await fetch(`${gw.adminUrl}/analytics/timeseries?seconds=120`)).json()) as { points: { requests: number }[] };
  assert.equal(
    ts.points.reduce((n, p) => n + p.requests, 0),
    N,
  );
  const usage = (await (await fetch(`${gw.adminUrl}/consumers/bob/usage`)).json()) as { limits: { used: number; remaining: number }[] };
  assert.deepEqual(
    usage.limits.map((l) => [l.used, l.remaining]),
    [[N, 1000 - N]],
  );
  const overview = (await (await fetch(`${gw.adminUrl}/overview`)).json()) as { workers: number };
  assert.equal(overview.workers, 2);
});
