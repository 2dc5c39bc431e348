// `workers: 2` with active health checks: the primary probes each target once for the whole
// instance (one connection, not one per worker), and every worker follows its verdicts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startFlaky, type FlakyUpstream } from './helpers/flaky-upstream.js';
import { freePort, killAllChildren, startChild, tempDir, waitFor, type GatewayChild, type TempDir, workersHead } from './helpers/child.js';

let dir: TempDir;
let a: FlakyUpstream;
let b: FlakyUpstream;
let gw: GatewayChild;

before(async () => {
  dir = await tempDir();
  a = await startFlaky('a');
  b = await startFlaky('b');
  const port = await freePort();
  gw = await startChild(
    await dir.file(
      'health.yaml',
      `
${workersHead(port)}services:
  svc:
    targets: [{ url: "${a.url}" }, { url: "${b.url}" }]
    healthCheck:
      active: { path: /health, interval: 100ms, timeout: 500ms, healthyThreshold: 1, unhealthyThreshold: 1 }
routes:
  - name: all
    service: svc
`,
    ),
    { timeoutMs: 15_000 },
  );
});
after(async () => {
  await killAllChildren();
  await a.close();
  await b.close();
  await dir.remove();
});

interface WorkerHealth {
  targets: { target: string; active: string; available: boolean }[];
}

async function workers(): Promise<WorkerHealth[]> {
  const res = await request(`${gw.adminUrl}/services/svc/health`);
  return ((await res.body.json()) as { workers: WorkerHealth[] }).workers;
}

test('one prober per target for the instance; every worker takes the unhealthy target out and back', async () => {
  await waitFor('both workers up', async () => (await workers()).length === 2, 10_000);
  await waitFor('a few probes', () => a.healthHits >= 5, 5000);
  // One prober over keep-alive: the probes of target a all come from one process.
  assert.equal(a.healthSources.size, 1, `probes came from ${a.healthSources.size} connections`);

  a.healthStatus = 500;
  await waitFor(
    'both workers to see a unhealthy',
    async () => {
      const w = await workers();
      return w.length === 2 && w.every((x) => x.targets.find((t) => t.target === a.url)?.active === 'unhealthy');
    },
    5000,
  );
  const before = a.hits;
  for (let i = 0; i < 20; i++) {
    const res = await request(gw.url + '/x', { reset: true });
    assert.equal(await res.body.text(), 'b');
  }
  assert.equal(a.hits, before);

  a.healthStatus = 200;
  await waitFor(
    'both workers to see a healthy',
    async () => (await workers()).every((x) => x.targets.find((t) => t.target === a.url)?.available),
    5000,
  );
  for (let i = 0; i < 20; i++) await (await request(gw.url + '/x', { reset: true })).body.dump();
  assert.ok(a.hits > before);
  assert.doesNotMatch(gw.stderr, /"level":(50|60)/, 'no errors logged');
});
