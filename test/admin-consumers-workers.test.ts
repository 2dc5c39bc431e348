// With `workers: 2`, a consumer added through the admin API authenticates on every worker, and a
// reload of the config file replaces admin edits (documented: the file is the source of truth).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import {
  childPids,
  freePort,
  isAlive,
  killAllChildren,
  startChild,
  tempDir,
  waitFor,
  type GatewayChild,
  type TempDir,
  workersHead,
} from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';

let dir: TempDir;
let up: Upstream;
let gw: GatewayChild;
let file: string;

const config = (port: number, key: string) => `
${workersHead(port)}services:
  up: { targets: [{ url: "${up.url}" }] }
consumers: [{id: bench, credentials: [{type: api-key, key: ${key}}]}]
routes:
  - name: all
    service: up
    policies:
      - type: key-auth
`;

let port: number;
before(async () => {
  dir = await tempDir();
  up = await startUpstream();
  port = await freePort();
  file = await dir.file('gatehouse.yaml', config(port, 'bench-key-0123456789'));
  gw = await startChild(file, { timeoutMs: 15_000 });
});
after(async () => {
  await killAllChildren();
  await maybeUnset(up)?.close();
  await maybeUnset(dir)?.remove();
});

/** Status of one request on a fresh connection (so the cluster spreads them over the workers). */
async function status(key: string): Promise<number> {
  const res = await request(`${gw.url}/x`, { reset: true, headers: { 'x-api-key': key } });
  await res.body.dump();
  return res.statusCode;
}

test('the perf-compare config authenticates on every worker', async () => {
  for (let i = 0; i < 6; i++) assert.equal(await status('bench-key-0123456789'), 200);
  assert.equal(await status('wrong'), 401);
});

test('an admin-added consumer works on every worker; a file reload replaces admin edits', async () => {
  const res = await request(`${gw.adminUrl}/consumers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'new', credentials: [{ type: 'api-key', key: 'new-key-0123456789' }] }),
  });
  assert.equal(res.statusCode, 201, await res.body.text());
  for (let i = 0; i < 6; i++) assert.equal(await status('new-key-0123456789'), 200);
  await writeFile(file, config(port, 'bench-key-rotated-0123456789'));
  await waitFor('the file reload', async () => (await status('bench-key-rotated-0123456789')) === 200, 10_000);
  for (let i = 0; i < 4; i++) assert.equal(await status('new-key-0123456789'), 401);
});

test('a deleted consumer stops at once on every worker, and a worker started later gets the edited consumers', async () => {
  const admin = (method: string, path: string, body?: unknown) =>
    request(`${gw.adminUrl}${path}`, {
      method: method as 'GET',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const added = await admin('POST', '/consumers', { id: 'later', credentials: [{ type: 'api-key', key: 'later-key-0123456789' }] });
  assert.equal(added.statusCode, 201, await added.body.text());
  // Both keys are now in every worker's verified-key cache.
  for (let i = 0; i < 8; i++) {
    assert.equal(await status('bench-key-rotated-0123456789'), 200);
    assert.equal(await status('later-key-0123456789'), 200);
  }
  const deleted = await admin('DELETE', '/consumers/bench');
  assert.equal(deleted.statusCode, 200, await deleted.body.text());
  for (let i = 0; i < 8; i++) assert.equal(await status('bench-key-rotated-0123456789'), 401);

  const pids = childPids(gw.pid);
  assert.equal(pids.length, 2);
  process.kill(pids[0]!, 'SIGKILL');
  await waitFor('the worker to die', () => !isAlive(pids[0]!), 2000, 10);
  await waitFor(
    'a replacement worker, ready',
    async () => {
      const now = childPids(gw.pid);
      const r = await request(`${gw.adminUrl}/ready`);
      await r.body.dump();
      return now.length === 2 && !now.includes(pids[0]!) && r.statusCode === 200;
    },
    10_000,
  );
  // Fresh connections spread over the surviving worker and the replacement: both serve the edits.
  for (let i = 0; i < 20; i++) {
    assert.equal(await status('later-key-0123456789'), 200);
    assert.equal(await status('bench-key-rotated-0123456789'), 401);
  }
});
