// rate-limit over real HTTP, memory store: the 429 answer, the RateLimit fields on every response
// of a limited route (proxied or not), and counts that survive a reload.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, testConfig, type TestGateway } from './helpers/gateway.js';
import { bothClients } from './helpers/clients.js';

let up: Upstream;
let gw: TestGateway;

function config(limit: number) {
  return {
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: { api: { targets: [{ url: up.url }] } },
    routes: [
      {
        name: 'limited',
        match: { paths: ['/limited/*'] },
        service: 'api',
        policies: [{ type: 'rate-limit', algorithm: 'fixed-window', limit, window: '1h', by: 'ip', legacyHeaders: true }],
      },
      {
        // The same limit, counted apart: the first test runs over HTTP/2 here (both clients are 127.0.0.1).
        name: 'limited-h2',
        match: { paths: ['/limited-h2/*'] },
        service: 'api',
        policies: [{ type: 'rate-limit', algorithm: 'fixed-window', limit, window: '1h', by: 'ip', legacyHeaders: true }],
      },
      {
        name: 'by-tenant',
        match: { paths: ['/tenant/*'] },
        service: 'api',
        policies: [{ type: 'rate-limit', algorithm: 'token-bucket', rate: 1, per: '1h', burst: 2, by: 'header:x-tenant' }],
      },
      { name: 'free', match: { paths: ['/free/*'] }, service: 'api' },
    ],
  };
}

before(async () => {
  up = await startUpstream();
  gw = await startTestGateway(config(3));
});
const clients = bothClients();
after(async () => {
  for (const c of clients) await c.close();
  await gw.stop();
  await up.close();
});

for (const [client, prefix] of [
  [clients[0]!, '/limited'],
  [clients[1]!, '/limited-h2'],
] as const) {
  describe(client.name, () => {
    test('every response of a limited route carries the RateLimit fields; the one over the limit is 429 GW_RATE_LIMITED', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await client.request(`${gw.url}${prefix}/a`);
        assert.equal(res.statusCode, 200);
        await res.body.text();
        assert.equal(res.headers['ratelimit-policy'], '"3-per-1h";q=3;w=3600');
        assert.match(String(res.headers.ratelimit), new RegExp(`^"3-per-1h";r=${2 - i};t=\\d+$`));
        assert.equal(res.headers['x-ratelimit-remaining'], String(2 - i));
        assert.equal(res.headers['x-ratelimit-limit'], '3');
      }
      const hits = up.hits;
      const res = await client.request(`${gw.url}${prefix}/a`);
      assert.equal(res.statusCode, 429);
      const body = (await res.body.json()) as { error: { code: string; requestId: string } };
      assert.equal(body.error.code, 'GW_RATE_LIMITED');
      assert.equal(body.error.requestId, res.headers['x-request-id']);
      const retry = Number(res.headers['retry-after']);
      assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 3600, String(res.headers['retry-after']));
      assert.match(String(res.headers.ratelimit), /^"3-per-1h";r=0;t=\d+$/);
      assert.equal(res.headers['x-ratelimit-remaining'], '0');
      assert.equal(up.hits, hits, 'a refused request never reaches the service');
      // A route without the policy is untouched.
      const free = await client.request(`${gw.url}/free/x`);
      await free.body.text();
      assert.equal(free.statusCode, 200);
      assert.equal(free.headers.ratelimit, undefined);
    });
  });
}

test('by header: each value has its own bucket; without the header the client IP is the key', async () => {
  for (const tenant of ['t1', 't2']) {
    for (let i = 0; i < 2; i++) {
      const r = await request(`${gw.url}/tenant/x`, { headers: { 'x-tenant': tenant } });
      await r.body.text();
      assert.equal(r.statusCode, 200, `${tenant} #${i}`);
    }
    const r = await request(`${gw.url}/tenant/x`, { headers: { 'x-tenant': tenant } });
    await r.body.text();
    assert.equal(r.statusCode, 429);
    assert.equal(r.headers['retry-after'], '3600'); // one token an hour
  }
  const anon = await request(`${gw.url}/tenant/x`);
  await anon.body.text();
  assert.equal(anon.statusCode, 200);
});

test('a reload keeps the counts; a changed limit applies at once', async () => {
  const before = await request(`${gw.url}/limited/b`);
  await before.body.text();
  assert.equal(before.statusCode, 429); // exhausted by the first test
  const res = await request(`${gw.adminUrl}/config`, {
    method: 'POST',
    body: JSON.stringify(testConfig(config(3))),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(res.statusCode, 200, await res.body.text());
  const same = await request(`${gw.url}/limited/b`);
  await same.body.text();
  assert.equal(same.statusCode, 429);
  const raised = await request(`${gw.adminUrl}/config`, {
    method: 'POST',
    body: JSON.stringify(testConfig(config(10))),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(raised.statusCode, 200, await raised.body.text());
  const after = await request(`${gw.url}/limited/b`);
  await after.body.text();
  assert.equal(after.statusCode, 200);
  assert.match(String(after.headers.ratelimit), /^"10-per-1h";r=9;/);
});

test('shadow mode: never refuses, sends the fields, and the access log names the limit that would have', async () => {
  const { tempDir, waitFor } = await import('./helpers/child.js');
  const { readFile } = await import('node:fs/promises');
  const dir = await tempDir();
  const log = `${dir.path}/access.log`;
  const shadow = await startTestGateway({
    accessLog: { path: log },
    services: { api: { targets: [{ url: up.url }] } },
    routes: [
      {
        name: 'shadowed',
        service: 'api',
        policies: [{ type: 'rate-limit', algorithm: 'fixed-window', limit: 1, window: '1h', by: 'ip', mode: 'shadow' }],
      },
    ],
  });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(`${shadow.url}/s`);
      await res.body.text();
      statuses.push(res.statusCode);
      assert.match(String(res.headers.ratelimit), /^"1-per-1h";r=0;t=\d+$/);
    }
    assert.deepEqual(statuses, [200, 200, 200]);
    const lines = await waitFor('three access-log lines', async () => {
      const l = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
      return l.length === 3 ? l.map((x) => JSON.parse(x) as { shadowLimited?: string }) : undefined;
    });
    assert.deepEqual(
      lines.map((l) => l.shadowLimited),
      [undefined, '1-per-1h', '1-per-1h'],
    );
  } finally {
    await shadow.stop();
    await dir.remove();
  }
});

test("the gateway's own answers on a limited route (upstream down, a later policy's verdict) carry the fields too", async () => {
  const { closedPort } = await import('./helpers/wire.js');
  const port = await closedPort();
  const down = await startTestGateway({
    services: { gone: { targets: [{ url: `http://127.0.0.1:${port}` }] } },
    routes: [
      {
        name: 'down',
        match: { paths: ['/down/*'] },
        service: 'gone',
        policies: [{ type: 'rate-limit', algorithm: 'fixed-window', limit: 5, window: '1h', by: 'ip' }],
      },
      {
        name: 'closed',
        match: { paths: ['/closed/*'] },
        service: 'gone',
        policies: [
          { type: 'rate-limit', algorithm: 'fixed-window', limit: 5, window: '1h', by: 'ip' },
          { type: 'request-termination', status: 503, body: 'maintenance' },
        ],
      },
    ],
  });
  try {
    const res = await request(`${down.url}/down/x`);
    await res.body.text();
    assert.equal(res.statusCode, 502);
    assert.equal(res.headers['ratelimit-policy'], '"5-per-1h";q=5;w=3600');
    assert.match(String(res.headers.ratelimit), /^"5-per-1h";r=4;t=\d+$/);
    const closed = await request(`${down.url}/closed/x`);
    await closed.body.text();
    assert.equal(closed.statusCode, 503);
    assert.match(String(closed.headers.ratelimit), /^"5-per-1h";r=4;t=\d+$/);
  } finally {
    await down.stop();
  }
});
