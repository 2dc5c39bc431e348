// `workers: 2` with the memory store: the workers of one instance share one count (kept by the
// primary), so the instance as a whole is exact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import {
  childPids,
  freePort,
  killAllChildren,
  startChild,
  tempDir,
  waitFor,
  type GatewayChild,
  type TempDir,
  workersHead,
} from './helpers/child.js';

let dir: TempDir;
let up: Upstream;
let gw: GatewayChild;

before(async () => {
  dir = await tempDir();
  up = await startUpstream((req, res) => res.end(String(process.pid)));
  const port = await freePort();
  gw = await startChild(
    await dir.file(
      'rl-workers.yaml',
      `
${workersHead(port)}services:
  up: { targets: [{ url: "${up.url}" }] }
routes:
  - name: limited
    service: up
    policies:
      - { type: rate-limit, algorithm: fixed-window, limit: 50, window: 1h, by: global }
      - { type: headers, response: { set: { x-worker: "yes" } } }
`,
    ),
    { timeoutMs: 15_000 },
  );
  await waitFor('two workers', () => childPids(gw.pid).length === 2, 10_000);
});
after(async () => {
  await killAllChildren();
  await up.close();
  await dir.remove();
});

test('two workers, one count: exactly the limit passes across fresh connections', async () => {
  // Fresh connections so the cluster spreads them over both workers.
  const results = await Promise.all(
    Array.from({ length: 120 }, async () => {
      const res = await request(gw.url + '/x', { reset: true });
      await res.body.dump();
      return { status: res.statusCode, remaining: /;r=(\d+);/.exec(String(res.headers.ratelimit))?.[1] };
    }),
  );
  assert.equal(results.filter((r) => r.status === 200).length, 50);
  assert.equal(results.filter((r) => r.status === 429).length, 70);
  // Every remaining value 0..49 was handed out exactly once: one counter, not two.
  const remaining = results
    .filter((r) => r.status === 200)
    .map((r) => Number(r.remaining))
    .sort((a, b) => a - b);
  assert.deepEqual(
    remaining,
    Array.from({ length: 50 }, (_, i) => i),
  );
});
