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
    else if (req.url === '/cut') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 20);
    } else res.end('ok');
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
  assert.equal(await (await first).body.text(), 'done');
  await waitFor('the slot back after completion', async () => (await status('/fast')) === 200);
});

test('the slot frees when the client aborts', async () => {
  const ac = new AbortController();
  const first = request(`${gw.url}/hold`, { signal: ac.signal }).catch((e: unknown) => e);
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

test('a client that leaves while an earlier asynchronous policy decides never takes a slot', async () => {
  // An introspection endpoint that answers only when told: the policy before concurrency-limit
  // is still deciding when the client goes away.
  const pending: (() => void)[] = [];
  const idp = await startUpstream((_req, res) => {
    pending.push(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ active: true, sub: 'x', exp: Math.floor(Date.now() / 1000) + 60 }));
    });
  });
  const gw2 = await startTestGateway({
    services: { api: { targets: [{ url: up.url }] } },
    routes: [
      {
        name: 'auth-then-limit',
        service: 'api',
        policies: [
          { type: 'oauth2-introspection', endpoint: idp.url, clientId: 'g', clientSecret: 's', unknownConsumer: 'anonymous' },
          { type: 'concurrency-limit', limit: 1, by: 'global' },
        ],
      },
    ],
  });
  try {
    const ac = new AbortController();
    const leaving = request(`${gw2.url}/x`, { headers: { authorization: 'Bearer t1' }, signal: ac.signal }).catch(() => 'aborted');
    await waitFor('the introspection call', () => pending.length === 1, 3000, 10);
    ac.abort();
    assert.equal(await leaving, 'aborted');
    await new Promise((r) => setTimeout(r, 50));
    pending.shift()!(); // the policy now finishes, after the client left
    await new Promise((r) => setTimeout(r, 50));
    const next = request(`${gw2.url}/x`, { headers: { authorization: 'Bearer t1' } });
    await waitFor('the second introspection call', () => pending.length >= 1 || false, 3000, 10).catch(() => undefined);
    while (pending.length) pending.shift()!();
    const res = await next;
    await res.body.dump();
    assert.equal(res.statusCode, 200, 'the slot was not leaked');
  } finally {
    await gw2.stop();
    await idp.close();
  }
});
