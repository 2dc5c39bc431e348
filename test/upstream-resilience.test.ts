// Upstream resilience over real sockets: retries, the retry budget, passive ejection and return,
// active health checks, panic mode, the circuit breaker with and without fallback, and the
// service's concurrency limit and queue. Upstreams are real servers told to fail, hang or reset;
// every claim about "no upstream call" is checked by counting what the upstreams received.
import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startFlaky, type FlakyUpstream } from './helpers/flaky-upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { closedPort } from './helpers/wire.js';
import { waitFor } from './helpers/child.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function upstreams(...names: string[]): Promise<FlakyUpstream[]> {
  const ups = await Promise.all(names.map((n) => startFlaky(n)));
  cleanups.push(async () => {
    for (const u of ups) {
      u.releaseHung();
      await u.close();
    }
  });
  return ups;
}

async function gateway(service: Record<string, unknown>, route: Record<string, unknown> = {}): Promise<TestGateway> {
  const gw = await startTestGateway({
    services: { svc: service },
    routes: [{ name: 'r', match: { paths: ['/*'] }, service: 'svc', ...route }],
  });
  cleanups.push(() => gw.stop());
  return gw;
}

async function get(gw: TestGateway, path = '/x', opts: { method?: string; body?: string } = {}) {
  const res = await request(gw.url + path, { method: (opts.method ?? 'GET') as 'GET', body: opts.body });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    code: text.startsWith('{') ? (JSON.parse(text) as { error?: { code: string } }).error?.code : undefined,
  };
}

async function health(gw: TestGateway, service = 'svc') {
  const res = await request(`${gw.adminUrl}/services/${service}/health`);
  return (await res.body.json()) as {
    targets: {
      target: string;
      available: boolean;
      active: string;
      ejected: boolean;
      ejections: number;
      inFlight: number;
      latencyMs?: number;
      events: { change: string; reason: string }[];
    }[];
    circuitBreaker?: { state: string; trips: number };
    admission?: { inFlight: number; queued: number };
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The retry tests below give the budget room (ratio 1): the default (20 %) is the last test's subject.
describe('retries', () => {
  test('a 503 from one target is retried on the other; the client sees only 200s', async () => {
    const [a, b] = await upstreams('a', 'b');
    a!.mode = 'fail';
    const gw = await gateway({
      targets: [{ url: a!.url }, { url: b!.url }],
      retries: { attempts: 2, backoff: { base: '1ms', max: '2ms' }, budget: { ratio: 1 } },
    });
    for (let i = 0; i < 10; i++) {
      const r = await get(gw);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, 'b');
    }
    assert.equal(b!.hits, 10);
    assert.ok(a!.hits >= 1, 'the failing target was tried');
  });

  test('a refused connection is retried on another target', async () => {
    const [b] = await upstreams('b');
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const gw = await gateway({
      targets: [{ url: dead }, { url: b!.url }],
      retries: { attempts: 2, backoff: { base: '1ms', max: '2ms' }, budget: { ratio: 1 } },
    });
    for (let i = 0; i < 6; i++) assert.equal((await get(gw)).status, 200);
    assert.equal(b!.hits, 6);
  });

  test('a reset before the response is retried; a hang past perTryTimeout too', async () => {
    const [a, b] = await upstreams('a', 'b');
    a!.mode = 'reset';
    const gw = await gateway({
      targets: [{ url: a!.url }, { url: b!.url }],
      retries: { attempts: 2, backoff: { base: '1ms', max: '2ms' }, perTryTimeout: '200ms', budget: { ratio: 1 } },
    });
    for (let i = 0; i < 4; i++) assert.equal((await get(gw)).text, 'b');
    a!.mode = 'hang';
    for (let i = 0; i < 4; i++) assert.equal((await get(gw)).text, 'b');
    assert.equal(b!.hits, 8);
  });

  test('POST is not retried by default; retryMethods opts it in, and the body is replayed intact', async () => {
    const [a, b] = await upstreams('a', 'b');
    a!.mode = 'fail';
    const svc = {
      targets: [{ url: a!.url }, { url: b!.url }],
      retries: { attempts: 2, backoff: { base: '1ms', max: '2ms' }, budget: { ratio: 1 } },
    };
    const plain = await gateway(svc);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(plain, '/x', { method: 'POST', body: 'hello' })).status);
    assert.equal(statuses.filter((s) => s === 503).length, a!.hits, 'every POST that reached the failing target failed');
    assert.ok(a!.hits >= 1);

    a!.hits = 0;
    b!.bodies.length = 0;
    const optedIn = await gateway(svc, { retryMethods: ['POST'] });
    for (let i = 0; i < 4; i++) assert.equal((await get(optedIn, '/x', { method: 'POST', body: 'hello' })).status, 200);
    assert.ok(a!.hits >= 1);
    assert.deepEqual(b!.bodies.slice(-4), ['hello', 'hello', 'hello', 'hello']);
    assert.deepEqual(a!.bodies.slice(-a!.hits), Array(a!.hits).fill('hello'));
  });

  test('a body larger than retryBodyLimit is streamed and never retried', async () => {
    const [a, b] = await upstreams('a', 'b');
    a!.mode = 'fail';
    const gw = await gateway({
      targets: [{ url: a!.url }, { url: b!.url }],
      retries: { attempts: 2, retryBodyLimit: 4, backoff: { base: '1ms', max: '2ms' } },
    });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(gw, '/x', { method: 'PUT', body: 'more than four bytes' })).status);
    assert.equal(statuses.filter((s) => s === 503).length, a!.hits);
    assert.ok(a!.hits >= 1);
  });

  test('with every target dead, the retry budget keeps upstream attempts ≤ 1.2 × client requests', async () => {
    const [a, b] = await upstreams('a', 'b');
    a!.mode = 'fail';
    b!.mode = 'fail';
    const gw = await gateway({
      targets: [{ url: a!.url }, { url: b!.url }],
      retries: { attempts: 3, backoff: { base: '1ms', max: '1ms' } },
    });
    const n = 200;
    for (let i = 0; i < n; i++) assert.equal((await get(gw)).status, 503);
    const attempts = a!.hits + b!.hits;
    assert.ok(attempts <= 1.2 * n, `${attempts} upstream attempts for ${n} requests`);
    assert.ok(attempts > n, 'some retries were made');
  });
});

describe('health', () => {
  test('passive: a failing target is ejected (no more traffic), shown in the admin API, and returns after baseEjection', async () => {
    const [a, b] = await upstreams('a', 'b');
    a!.mode = 'fail';
    a!.failStatus = 500;
    const gw = await gateway({
      targets: [{ url: a!.url }, { url: b!.url }],
      healthCheck: { passive: { consecutiveFailures: 3, baseEjection: '600ms', maxEjectionPercent: 50 } },
    });
    for (let i = 0; i < 6; i++) await get(gw);
    assert.equal(a!.hits, 3);
    const h = await health(gw);
    const ta = h.targets.find((t) => t.target === a!.url)!;
    assert.equal(ta.ejected, true);
    assert.equal(ta.available, false);
    assert.match(ta.events.at(-1)!.reason, /3 consecutive failures, last: status 500/);
    for (let i = 0; i < 10; i++) assert.equal((await get(gw)).text, 'b');
    assert.equal(a!.hits, 3, 'an ejected target gets nothing');
    a!.mode = 'ok';
    await waitFor('the ejection to end', async () => (await health(gw)).targets.find((t) => t.target === a!.url)!.available, 3000, 50);
    for (let i = 0; i < 10; i++) await get(gw);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- hits grows as traffic arrives; the compiler keeps assert.equal's narrowing (3) from above
    assert.ok(a!.hits > 3, 'the target gets traffic again');
  });

  test('active: a target failing its checks is taken out and put back when they pass', async () => {
    const [a, b] = await upstreams('a', 'b');
    const gw = await gateway({
      targets: [{ url: a!.url }, { url: b!.url }],
      healthCheck: { active: { path: '/health', interval: '50ms', timeout: '500ms', healthyThreshold: 1, unhealthyThreshold: 2 } },
    });
    a!.healthStatus = 500;
    await waitFor(
      'a to be unhealthy',
      async () => (await health(gw)).targets.find((t) => t.target === a!.url)?.active === 'unhealthy',
      3000,
    );
    const before = a!.hits;
    for (let i = 0; i < 10; i++) assert.equal((await get(gw)).text, 'b');
    assert.equal(a!.hits, before);
    const h = await health(gw);
    assert.match(h.targets.find((t) => t.target === a!.url)!.events.at(-1)!.reason, /active check answered 500/);
    a!.healthStatus = 200;
    await waitFor('a to be healthy', async () => (await health(gw)).targets.find((t) => t.target === a!.url)?.active === 'healthy', 3000);
    for (let i = 0; i < 10; i++) await get(gw);
    assert.ok(a!.hits > before);
    assert.ok(b!.healthHits > 0 && a!.healthHits > 0);
  });

  test('no healthy target: 503 GW_NO_HEALTHY_TARGET with Retry-After, and no upstream call', async () => {
    const [a] = await upstreams('a');
    a!.healthStatus = 503;
    const gw = await gateway({
      targets: [{ url: a!.url }],
      healthCheck: { active: { interval: '2s', timeout: '500ms', unhealthyThreshold: 1 } },
    });
    await waitFor('a to be unhealthy', async () => (await health(gw)).targets[0]?.active === 'unhealthy', 3000);
    const r = await get(gw);
    assert.equal(r.status, 503);
    assert.equal(r.code, 'GW_NO_HEALTHY_TARGET');
    assert.equal(r.headers['retry-after'], '2');
    assert.equal(a!.hits, 0);
  });

  test('panicThreshold: with too few healthy targets, traffic spreads over all of them', async () => {
    const [a, b] = await upstreams('a', 'b');
    a!.healthStatus = 503;
    b!.healthStatus = 503;
    const gw = await gateway({
      targets: [{ url: a!.url }, { url: b!.url }],
      healthCheck: { active: { interval: '2s', unhealthyThreshold: 1 }, panicThreshold: 50 },
    });
    await waitFor('both unhealthy', async () => (await health(gw)).targets.every((t) => t.active === 'unhealthy'), 3000);
    for (let i = 0; i < 4; i++) assert.equal((await get(gw)).status, 200);
    assert.equal(a!.hits + b!.hits, 4);
  });

  test('target health survives a config reload', async () => {
    const [a, b] = await upstreams('a', 'b');
    a!.mode = 'fail';
    const service = {
      targets: [{ url: a!.url }, { url: b!.url }],
      healthCheck: { passive: { consecutiveFailures: 1, baseEjection: '30s' } },
    };
    const gw = await gateway(service);
    for (let i = 0; i < 4; i++) await get(gw);
    assert.equal(a!.hits, 1);
    const cfg = (await (await request(`${gw.adminUrl}/config`)).body.json()) as Record<string, unknown>;
    (cfg.routes as { name: string }[])[0]!.name = 'renamed';
    const applied = await request(`${gw.adminUrl}/config`, {
      method: 'POST',
      body: JSON.stringify(cfg),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(applied.statusCode, 200, await applied.body.text());
    for (let i = 0; i < 6; i++) assert.equal((await get(gw)).text, 'b');
    assert.equal(a!.hits, 1);
  });

  test('the admin API answers 404 for an unknown service', async () => {
    const [a] = await upstreams('a');
    const gw = await gateway({ targets: [{ url: a!.url }] });
    const res = await request(`${gw.adminUrl}/services/nope/health`);
    assert.equal(res.statusCode, 404);
    assert.equal(((await res.body.json()) as { error: { code: string } }).error.code, 'ADMIN_NOT_FOUND');
  });
});

describe('circuit breaker', () => {
  test('opens after consecutive failures: no upstream call while open, 503 GW_CIRCUIT_OPEN with Retry-After; a good probe closes it', async () => {
    const [a] = await upstreams('a');
    a!.mode = 'fail';
    a!.failStatus = 500;
    const gw = await gateway({ targets: [{ url: a!.url }], circuitBreaker: { consecutiveFailures: 3, openDuration: '400ms' } });
    for (let i = 0; i < 3; i++) assert.equal((await get(gw)).status, 500);
    assert.equal((await health(gw)).circuitBreaker!.state, 'open');
    for (let i = 0; i < 10; i++) {
      const r = await get(gw);
      assert.equal(r.status, 503);
      assert.equal(r.code, 'GW_CIRCUIT_OPEN');
      assert.equal(r.headers['retry-after'], '1');
    }
    assert.equal(a!.hits, 3, 'no call while open');
    a!.mode = 'ok';
    await sleep(450);
    assert.equal((await get(gw)).status, 200); // the half-open probe
    assert.equal((await health(gw)).circuitBreaker!.state, 'closed');
    assert.equal((await get(gw)).status, 200);
    assert.equal(a!.hits, 5);
  });

  test('a failed probe re-opens it; the failure ratio trips it; the fallback answers while open', async () => {
    const [a] = await upstreams('a');
    const gw = await gateway({
      targets: [{ url: a!.url }],
      circuitBreaker: {
        failureRatio: 0.5,
        minRequests: 4,
        openDuration: '300ms',
        fallback: { status: 200, headers: { 'x-fallback': 'yes' }, body: '{"items":[]}' },
      },
    });
    assert.equal((await get(gw)).status, 200);
    assert.equal((await get(gw)).status, 200);
    a!.mode = 'fail';
    assert.equal((await get(gw)).status, 503);
    assert.equal((await health(gw)).circuitBreaker!.state, 'closed');
    assert.equal((await get(gw)).status, 503); // 2 of 4 failed
    const fb = await get(gw);
    assert.equal(fb.status, 200);
    assert.equal(fb.headers['x-fallback'], 'yes');
    assert.equal(fb.text, '{"items":[]}');
    assert.equal(a!.hits, 4);
    await sleep(350);
    assert.equal((await get(gw)).status, 503); // probe fails
    const h = await health(gw);
    assert.equal(h.circuitBreaker!.state, 'open');
    assert.equal(h.circuitBreaker!.trips, 2);
    assert.equal((await get(gw)).headers['x-fallback'], 'yes');
    assert.equal(a!.hits, 5);
  });
});

describe('concurrency limit and queue', () => {
  test('beyond maxConcurrent + maxQueue: 503 GW_SERVICE_OVERLOADED at once; queued requests run when a slot frees', async () => {
    const [a] = await upstreams('a');
    a!.mode = 'hang';
    const gw = await gateway({
      targets: [{ url: a!.url }],
      circuitBreaker: { maxConcurrent: 2, maxQueue: 1, queueTimeout: '5s', minRequests: 1000 },
    });
    const running = [get(gw), get(gw), get(gw)];
    await waitFor('two requests upstream', () => a!.hits === 2, 3000, 10);
    assert.equal((await health(gw)).admission!.queued, 1);
    const refused = await get(gw);
    assert.equal(refused.status, 503);
    assert.equal(refused.code, 'GW_SERVICE_OVERLOADED');
    assert.equal(refused.headers['retry-after'], '1');
    a!.mode = 'ok';
    a!.releaseHung();
    const done = await Promise.all(running);
    assert.deepEqual(
      done.map((r) => r.status),
      [200, 200, 200],
    );
    assert.equal(a!.hits, 3);
    assert.deepEqual((await health(gw)).admission, { inFlight: 0, queued: 0 });
  });

  test('a queued request gives up after queueTimeout; a client that leaves the queue frees its place', async () => {
    const [a] = await upstreams('a');
    a!.mode = 'hang';
    const gw = await gateway({
      targets: [{ url: a!.url }],
      circuitBreaker: { maxConcurrent: 1, maxQueue: 1, queueTimeout: '300ms', minRequests: 1000 },
    });
    const first = get(gw);
    await waitFor('one request upstream', () => a!.hits === 1, 3000, 10);
    const queued = await get(gw);
    assert.equal(queued.code, 'GW_SERVICE_OVERLOADED');
    // A client that gives up while queued.
    const ac = new AbortController();
    const leaving = request(gw.url + '/x', { signal: ac.signal }).catch(() => 'aborted');
    await waitFor('it to be queued', async () => (await health(gw)).admission!.queued === 1, 3000, 10);
    ac.abort();
    assert.equal(await leaving, 'aborted');
    await waitFor('the queue to empty', async () => (await health(gw)).admission!.queued === 0, 3000, 10);
    a!.mode = 'ok';
    a!.releaseHung();
    assert.equal((await first).status, 200);
    assert.equal(a!.hits, 1, 'the abandoned request never reached the upstream');
    assert.equal((await get(gw)).status, 200);
  });
});

describe('admission and reloads', () => {
  test('a slow uploader does not hold a concurrency slot while its small body is read', async () => {
    const [a] = await upstreams('a');
    const gw = await gateway({
      targets: [{ url: a!.url }],
      retries: { attempts: 2 },
      circuitBreaker: { maxConcurrent: 1, maxQueue: 0, minRequests: 1000 },
    });
    const net = await import('node:net');
    const slow = net.connect(gw.port, '127.0.0.1');
    await new Promise((r) => slow.once('connect', r));
    slow.write('PUT /x HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n0123456789'); // 10 of 100 bytes
    await sleep(100);
    const r = await get(gw);
    assert.equal(r.status, 200, 'the slot was free');
    slow.write('x'.repeat(90));
    const answer = await new Promise<string>((resolve) => {
      let t = '';
      slow.on('data', (c: Buffer) => {
        t += c.toString();
        if (t.includes('\r\n\r\n')) resolve(t);
      });
    });
    assert.match(answer, /^HTTP\/1\.1 200/);
    slow.destroy();
  });

  test('a reload that drops the circuit breaker while a half-open probe is in flight does not break the request or the process', async () => {
    const [a] = await upstreams('a');
    a!.mode = 'fail';
    const gw = await gateway({ targets: [{ url: a!.url }], circuitBreaker: { consecutiveFailures: 1, openDuration: '100ms' } });
    assert.equal((await get(gw)).status, 503);
    await sleep(150);
    a!.mode = 'hang';
    const probe = get(gw);
    await waitFor('the probe upstream', () => a!.hits === 2, 3000, 10);
    const cfg = (await (await request(`${gw.adminUrl}/config`)).body.json()) as { services: { svc: Record<string, unknown> } };
    delete cfg.services.svc.circuitBreaker;
    const applied = await request(`${gw.adminUrl}/config`, {
      method: 'POST',
      body: JSON.stringify(cfg),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(applied.statusCode, 200, await applied.body.text());
    a!.mode = 'ok';
    a!.releaseHung();
    assert.equal((await probe).status, 200);
    assert.equal((await get(gw)).status, 200);
  });
});

describe('balancing through the gateway', () => {
  test('weights 70/30 split 1,000 requests within ±5 %; weight 0 receives nothing', async () => {
    const [a, b, c] = await upstreams('a', 'b', 'c');
    const gw = await gateway({
      targets: [
        { url: a!.url, weight: 70 },
        { url: b!.url, weight: 30 },
        { url: c!.url, weight: 0 },
      ],
    });
    for (let i = 0; i < 1000; i++) await get(gw);
    assert.ok(Math.abs(a!.hits - 700) <= 50, `a got ${a!.hits}`);
    assert.ok(Math.abs(b!.hits - 300) <= 50, `b got ${b!.hits}`);
    assert.equal(c!.hits, 0);
  });
});

describe('balancers through the gateway', () => {
  test('consistent-hash on a header: the same key always reaches the same target; keys spread', async () => {
    const ups = await upstreams('a', 'b', 'c');
    const gw = await gateway({ balancer: 'consistent-hash', hashOn: 'header:x-user', targets: ups.map((u) => ({ url: u.url })) });
    const owners = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (let u = 0; u < 30; u++) {
        const res = await request(gw.url + '/x', { headers: { 'x-user': `user-${u}` } });
        const served = await res.body.text();
        if (round === 0) owners.set(`user-${u}`, served);
        else assert.equal(served, owners.get(`user-${u}`), `user-${u} moved`);
      }
    }
    assert.equal(new Set(owners.values()).size, 3, 'keys spread over every target');
  });

  test('least-connections sends new requests away from a target that holds many', async () => {
    const [a, b] = await upstreams('a', 'b');
    a!.mode = 'hang';
    const gw = await gateway({ balancer: 'least-connections', targets: [{ url: a!.url }, { url: b!.url }] });
    const held = [get(gw), get(gw)]; // one each, then a keeps its one in flight
    await waitFor('both dispatched', () => a!.hits + b!.hits === 2, 3000, 10);
    for (let i = 0; i < 10; i++) assert.equal((await get(gw)).text, 'b');
    a!.mode = 'ok';
    a!.releaseHung();
    await Promise.all(held);
    assert.equal(a!.hits, 1);
  });

  test('the health snapshot shows the requests in flight to each target and its recent latency', async () => {
    const [a, b] = await upstreams('a', 'b');
    a!.mode = 'hang';
    b!.mode = 'slow';
    b!.delayMs = 150;
    const gw = await gateway({ balancer: 'round-robin', targets: [{ url: a!.url }, { url: b!.url }] });
    const before = await health(gw);
    assert.deepEqual(
      before.targets.map((t) => [t.inFlight, t.latencyMs]),
      [
        [0, undefined],
        [0, undefined],
      ],
    );
    const held = [get(gw), get(gw), get(gw), get(gw)]; // two each
    await waitFor('a holds two', () => a!.hits === 2, 3000, 10);
    const during = await health(gw);
    assert.equal(during.targets.find((t) => t.target === a!.url)!.inFlight, 2);
    a!.mode = 'ok';
    a!.releaseHung();
    await Promise.all(held);
    const after = await health(gw);
    assert.deepEqual(
      after.targets.map((t) => t.inFlight),
      [0, 0],
    );
    // b answered only after its delay: its average time to the response head cannot be shorter.
    assert.ok(after.targets.find((t) => t.target === b!.url)!.latencyMs! >= 150, JSON.stringify(after.targets));
    assert.equal(typeof after.targets.find((t) => t.target === a!.url)!.latencyMs, 'number');
  });

  test('p2c-ewma moves traffic away from a slow target', async () => {
    const [a, b] = await upstreams('a', 'b');
    a!.mode = 'slow';
    a!.delayMs = 60;
    const gw = await gateway({ balancer: 'p2c-ewma', targets: [{ url: a!.url }, { url: b!.url }] });
    for (let i = 0; i < 60; i++) await get(gw);
    assert.ok(a!.hits < 15, `the slow target got ${a!.hits} of 60`);
  });
});
