// concurrency-limit over real HTTP: at most N in flight, and the slot comes back however the
// exchange ends — completed, aborted by the client, failed upstream.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { waitFor } from './helpers/child.js';

let up: Upstream;
let gw: TestGateway;
const held: ServerResponse[] = [];

before(async () => {
  up = await startUpstream((req, res) => {
    if (req.url === '/hold') held.push(res);
    else if (req.url === '/boom') req.socket.destroy();
    else if (req.url === '/cut') { res.writeHead(200, { 'content-length': '100' }); res.write('partial'); setTimeout(() => req.socket.destroy(), 20); }
    else res.end('ok');
  });
  gw = await startTestGateway({
    services: { api: { targets: [{ url: up.url }] } },
    routes: [{ name: 'one-at-a-time', service: 'api', policies: [{ type: 'concurrency-limit', limit: 1, by: 'global' }] }],
  });
});
after(async () => {
  for (const r of held) r.destroy();
  await gw.stop();
  await up.close();
});

async function status(path: string): Promise<number> {
  const r = await request(`${gw.url}${path}`);
  await r.body.text().catch(() => '');
  return r.statusCode;
}

test('a second request while one is in flight is refused; the slot frees on completion', async () => {
  const first = request(`${gw.url}/hold`);
  await waitFor('the held request upstream', () => held.length === 1);
  const r = await request(`${gw.url}/fast`);
  assert.equal(r.statusCode, 429);
  assert.equal(((await r.body.json()) as { error: { code: string } }).error.code, 'GW_CONCURRENCY_LIMITED');
  assert.equal(r.headers['retry-after'], '1');
  held.shift()!.end('done');
  assert.equal((await (await first).body.text()), 'done');
  await waitFor('the slot back after completion', async () => (await status('/fast')) === 200);
});

test('the slot frees when the client aborts', async () => {
  const ac = new AbortController();
  const first = request(`${gw.url}/hold`, { signal: ac.signal }).catch((e: Error) => e);
  await waitFor('the held request upstream', () => held.length === 1);
  assert.equal(await status('/fast'), 429);
  ac.abort();
  assert.ok((await first) instanceof Error);
  await waitFor('the slot back after the abort', async () => (await status('/fast')) === 200);
  held.shift()!.destroy();
});

test('the slot frees when the upstream fails, before or during the response body', async () => {
  assert.equal(await status('/boom'), 502);
  await waitFor('the slot back after an upstream error', async () => (await status('/fast')) === 200);
  const cut = await request(`${gw.url}/cut`);
  await assert.rejects(cut.body.text());
  await waitFor('the slot back after a cut body', async () => (await status('/fast')) === 200);
});
