// gRPC proxying by service and method (`match.grpc`), active checks with grpc.health.v1
// (`healthCheck.active.type: grpc`) and retries of trailers-only UNAVAILABLE answers
// (`retries.grpcMethods`, `retries.grpcStatuses`): real grpc-js servers and clients, h2c on both
// sides of a real gateway.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { request } from 'undici';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { waitFor } from './helpers/child.js';
import { grpc, grpcClient, startGrpcTarget, unaryCall, type GrpcTarget, type TestClient } from './helpers/grpc-targets.js';
import { validateConfig } from '../src/validation/validate.js';
import { testConfig } from './helpers/gateway.js';
import { startChild, tempDir } from './helpers/child.js';
import { makePki } from './helpers/certs.js';

const closers: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

async function target(name: string): Promise<GrpcTarget> {
  const t = await startGrpcTarget(name);
  closers.push(() => t.close());
  return t;
}

async function gateway(services: Record<string, unknown>, routes: unknown[]): Promise<TestGateway> {
  const gw = await startTestGateway({ listen: [{ port: 0, host: '127.0.0.1', http2: true }], services, routes });
  closers.push(() => gw.stop());
  return gw;
}

function client(service: 'test.v1.Greeter' | 'test.v1.Echo', gw: TestGateway) {
  const c = grpcClient(service, `127.0.0.1:${gw.port}`);
  closers.push(() => c.close());
  return c;
}

const h2c = (t: GrpcTarget, extra: Record<string, unknown> = {}) => ({ protocol: 'h2c', targets: [{ url: t.url }], ...extra });

let greeter: GrpcTarget, echo: GrpcTarget, special: GrpcTarget, web: GrpcTarget;
let routing: TestGateway;

before(async () => {
  [greeter, echo, special, web] = await Promise.all([target('greeter'), target('echo'), target('special'), target('web')]);
  routing = await gateway({ greeter: h2c(greeter), echo: h2c(echo), special: h2c(special), web: h2c(web) }, [
    { name: 'greeter', match: { grpc: { service: 'test.v1.Greeter' } }, service: 'greeter' },
    { name: 'echo', match: { grpc: { service: ['test.v1.Echo', 'test.v1.Other'] } }, service: 'echo' },
    { name: 'special', match: { grpc: { service: 'test.v1.Greeter', method: 'Special' } }, service: 'special' },
    { name: 'web', match: { paths: ['/*'] }, service: 'web' },
  ]);
});

test('match.grpc routes two services on one listener by service name, and one method to a third', async () => {
  const g = client('test.v1.Greeter', routing);
  const e = client('test.v1.Echo', routing);
  assert.deepEqual(await unaryCall(g, 'Hello', 'a'), { text: 'greeter /test.v1.Greeter/Hello a' });
  assert.deepEqual(await unaryCall(e, 'Say', 'b'), { text: 'echo /test.v1.Echo/Say b' });
  // The exact method path outranks the service's prefix.
  assert.deepEqual(await unaryCall(g, 'Special', 'c'), { text: 'special /test.v1.Greeter/Special c' });
  // Server streaming through the same route.
  const texts = await new Promise<string[]>((resolve, reject) => {
    const got: string[] = [];
    const s = g.Stream({ text: 'd' });
    s.on('data', (m: { text: string }) => got.push(m.text));
    s.on('error', reject);
    s.on('end', () => resolve(got));
  });
  assert.deepEqual(texts, ['greeter 1 d', 'greeter 2 d']);
  assert.deepEqual(web.calls, []);
});

test('a request that is not gRPC does not match a match.grpc route', async () => {
  // Same path, plain HTTP/1.1 JSON POST: the catch-all route takes it (its grpc-js server refuses it, which is beside the point).
  const res = await request(`${routing.url}/test.v1.Greeter/Hello`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  await res.body.dump();
  assert.deepEqual(greeter.calls, ['/test.v1.Greeter/Hello', '/test.v1.Greeter/Stream'], 'the gRPC service saw only the gRPC calls');
  // gRPC-Web is another protocol: not a match either.
  const before = greeter.calls.length;
  const web2 = await request(`${routing.url}/test.v1.Greeter/Hello`, {
    method: 'POST',
    headers: { 'content-type': 'application/grpc-web+proto' },
    body: Buffer.alloc(5),
  });
  await web2.body.dump();
  assert.equal(greeter.calls.length, before);
});

/** One raw HTTP/2 POST of a gRPC message {text} to the gateway: the grpc-status it ends with. */
function rawGrpcCall(gw: TestGateway, path: string, contentType: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${gw.port}`);
    session.on('error', reject);
    const text = Buffer.from('raw');
    const msg = Buffer.concat([Buffer.from([0, 0, 0, 0, text.length + 2, 0x0a, text.length]), text]);
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': contentType, te: 'trailers' });
    let status: string | undefined;
    stream.on('response', (h) => (status = (h['grpc-status'] as string | undefined) ?? status));
    stream.on('trailers', (h: http2.IncomingHttpHeaders) => (status = (h['grpc-status'] as string | undefined) ?? status));
    stream.resume();
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      resolve(status);
    });
    stream.end(msg);
  });
}

test('every content-type a gRPC server takes for gRPC matches a match.grpc route (application/grpc+, ;…)', async () => {
  // grpc-go and grpc-java serve "application/grpc+" (no codec named: proto) and anything after "+" or ";":
  // such a call must not slip past the gRPC route to another one (here the catch-all) that reaches a gRPC server too.
  for (const ct of ['application/grpc+', 'application/grpc;', 'application/grpc+proto;charset=x', 'application/grpc+Proto!']) {
    const before = { greeter: greeter.calls.length, web: web.calls.length };
    await rawGrpcCall(routing, '/test.v1.Greeter/Hello', ct);
    assert.equal(web.calls.length, before.web, `${ct}: the catch-all route took it`);
    assert.equal(greeter.calls.length, before.greeter + 1, `${ct}: the gRPC route did not take it`);
  }
});

test('a status the service answers trailers-only (no message) reaches the client as that status', async () => {
  // Every error a gRPC server answers before any message comes trailers-only: HEADERS with END_STREAM
  // carrying grpc-status. Relayed as a head then an empty end without trailers, clients read it as
  // INTERNAL "ended without gRPC status"; the client must see the service's own status.
  greeter.refuse = 1;
  const r = await unaryCall(client('test.v1.Greeter', routing), 'Hello', 'z');
  assert.deepEqual(r, { code: grpc.status.UNAVAILABLE, details: 'greeter is unavailable' });
});

test('gatehouse explain and the route table show the gRPC condition', async () => {
  const { compilePlan, noConnect } = await import('../src/dataplane/plan.js');
  const { explain, routeTable } = await import('../src/dataplane/describe.js');
  const v = validateConfig(
    testConfig({
      services: { s: { targets: [{ url: 'http://127.0.0.1:1' }], protocol: 'h2c' } },
      routes: [{ name: 'g', match: { grpc: { service: 'pkg.Svc', method: ['Get', 'List'] } }, service: 's' }],
    }),
  );
  assert.ok(v.ok);
  const plan = compilePlan(v.config, noConnect);
  const rows = routeTable(plan);
  assert.deepEqual(rows.map((r) => [r.path, r.methods, r.headers]).sort(), [
    ['/pkg.Svc/Get', ['POST'], ['content-type is gRPC (application/grpc[+…])']],
    ['/pkg.Svc/List', ['POST'], ['content-type is gRPC (application/grpc[+…])']],
  ]);
  const hit = explain(plan, 'POST', '/pkg.Svc/Get', { 'content-type': 'application/grpc+proto' });
  assert.equal(hit.matched, true);
  const miss = explain(plan, 'POST', '/pkg.Svc/Get', { 'content-type': 'application/json' });
  assert.equal(miss.matched, false);
  assert.match(miss.candidates![0]!.reason, /content-type is gRPC/);
});

test('match.grpc: names are checked, and match.paths beside it is refused', () => {
  const check = (match: unknown) => {
    const v = validateConfig(
      testConfig({ services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } }, routes: [{ name: 'r', match, service: 's' }] }),
    );
    return v.ok ? [] : v.errors.map((e) => `${e.path}: ${e.message}`);
  };
  assert.deepEqual(check({ grpc: { service: 'pkg.v1.Svc', method: 'Get_2' } }), []);
  assert.match(check({ grpc: { service: 'pkg..Svc' } }).join(), /routes\[0\]\.match\.grpc\.service.*gRPC service name/);
  assert.match(check({ grpc: { service: 'pkg.Svc', method: 'Get/x' } }).join(), /gRPC method name/);
  assert.match(check({ grpc: { service: '1pkg.Svc' } }).join(), /gRPC service name/);
  assert.match(check({ grpc: { service: 'pkg.Svc' }, paths: ['/x'] }).join(), /routes\[0\]\.match\.paths: match\.grpc sets the paths/);
});

test('a grpc active check marks a NOT_SERVING target down and back up', async () => {
  const [up, sick] = await Promise.all([target('up'), target('sick')]);
  sick.health.set('test.v1.Greeter', 'NOT_SERVING');
  up.health.set('test.v1.Greeter', 'SERVING');
  const active = {
    type: 'grpc',
    grpcService: 'test.v1.Greeter',
    interval: '50ms',
    timeout: '1s',
    healthyThreshold: 1,
    unhealthyThreshold: 1,
  };
  const gw = await gateway({ g: { protocol: 'h2c', targets: [{ url: up.url }, { url: sick.url }], healthCheck: { active } } }, [
    { name: 'g', match: { grpc: { service: 'test.v1.Greeter' } }, service: 'g' },
  ]);
  await waitFor('a check to each target', () => up.checks.includes('test.v1.Greeter') && sick.checks.includes('test.v1.Greeter'));
  const g = client('test.v1.Greeter', gw);
  const answeredBy = async (n: number) => {
    const names = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await unaryCall(g, 'Hello', String(i));
      assert.ok('text' in r, JSON.stringify(r));
      names.add(r.text.split(' ')[0]!);
    }
    return [...names].sort();
  };
  await waitFor('the NOT_SERVING target out of rotation', async () => (await answeredBy(6)).join() === 'up');
  sick.health.set('test.v1.Greeter', 'SERVING');
  await waitFor('the target back once it is SERVING', async () => (await answeredBy(6)).join() === 'sick,up');
});

test('a grpc check needs an HTTP/2 service, and takes no expectStatus', () => {
  const v = validateConfig(
    testConfig({
      services: {
        a: { targets: [{ url: 'http://127.0.0.1:1' }], healthCheck: { active: { type: 'grpc' } } },
        b: { protocol: 'h2c', targets: [{ url: 'http://127.0.0.1:1' }], healthCheck: { active: { type: 'grpc', expectStatus: [200] } } },
        c: { targets: [{ url: 'http://127.0.0.1:1' }], healthCheck: { active: { grpcService: 'x.Y' } } },
      },
    }),
  );
  assert.ok(!v.ok);
  const lines = v.errors.map((e) => `${e.path}: ${e.message}`);
  assert.ok(
    lines.some((l) => l.startsWith('services.a.healthCheck.active.type: a grpc check is an HTTP/2 call')),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => l.startsWith('services.b.healthCheck.active.expectStatus')),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => l.startsWith('services.c.healthCheck.active.grpcService')),
    lines.join('\n'),
  );
});

test('retries: grpcStatuses without grpcMethods is a config error (it would retry nothing)', () => {
  const check = (retries: unknown) => {
    const v = validateConfig(testConfig({ services: { s: { protocol: 'h2c', targets: [{ url: 'http://127.0.0.1:1' }], retries } } }));
    return v.ok ? [] : v.errors.map((e) => `${e.path}: ${e.message}`);
  };
  assert.deepEqual(check({ attempts: 2, grpcStatuses: [14], grpcMethods: ['/p.S/Get'] }), []);
  assert.deepEqual(check({ attempts: 2, grpcMethods: ['/p.S/Get'] }), []);
  assert.match(check({ attempts: 2, grpcStatuses: ['UNAVAILABLE'] }).join(), /services\.s\.retries\.grpcStatuses: .*grpcMethods/);
});

/** The refused call failed for the client (with the service's status: see the trailers-only test above). */
function failed(r: { text: string } | { code: number; details: string }): void {
  assert.ok('code' in r, `expected the call to fail, got ${JSON.stringify(r)}`);
}

/** Two targets, the first refusing its next call with UNAVAILABLE; round-robin starts with it. */
async function retryPair(retries: Record<string, unknown> | undefined) {
  const [first, second] = await Promise.all([target('first'), target('second')]);
  const gw = await gateway(
    { g: { protocol: 'h2c', targets: [{ url: first.url }, { url: second.url }], ...(retries ? { retries } : {}) } },
    [{ name: 'g', match: { grpc: { service: 'test.v1.Greeter' } }, service: 'g' }],
  );
  return { first, second, g: client('test.v1.Greeter', gw) };
}

const RETRY = { attempts: 2, grpcStatuses: ['UNAVAILABLE'], grpcMethods: ['/test.v1.Greeter/Hello'], backoff: { base: '1ms', max: '1ms' } };

test('retries: a unary call refused UNAVAILABLE goes on to the second target when configured', async () => {
  const { first, second, g } = await retryPair(RETRY);
  first.refuse = 1;
  const r = await unaryCall(g, 'Hello', 'x');
  assert.deepEqual(r, { text: 'second /test.v1.Greeter/Hello x' });
  assert.deepEqual(first.calls, ['/test.v1.Greeter/Hello']);
  assert.deepEqual(second.calls, ['/test.v1.Greeter/Hello']);
});

test('retries: no retry without grpcMethods/grpcStatuses, nor for a method not listed', async () => {
  {
    const { first, second, g } = await retryPair(undefined);
    first.refuse = 1;
    failed(await unaryCall(g, 'Hello', 'x'));
    assert.deepEqual(first.calls, ['/test.v1.Greeter/Hello']);
    assert.deepEqual(second.calls, []);
  }
  {
    // Retries configured for HTTP, not for gRPC statuses: the UNAVAILABLE answer is an HTTP 200.
    const { first, second, g } = await retryPair({ attempts: 2, methods: ['POST'] });
    first.refuse = 1;
    failed(await unaryCall(g, 'Hello', 'x'));
    assert.deepEqual(first.calls, ['/test.v1.Greeter/Hello']);
    assert.deepEqual(second.calls, []);
  }
  {
    const { first, second, g } = await retryPair(RETRY);
    first.refuse = 1;
    failed(await unaryCall(g, 'Special', 'x'));
    assert.deepEqual(first.calls, ['/test.v1.Greeter/Special']);
    assert.deepEqual(second.calls, []);
  }
});

test('retries: a streaming call is not retried, even when its method is listed', async () => {
  const { first, second, g } = await retryPair({ ...RETRY, grpcMethods: ['/test.v1.Greeter/Collect', '/test.v1.Greeter/Hello'] });
  first.refuse = 1;
  // A client stream of two messages: not one message, so never kept for another attempt.
  const r = await new Promise<{ code: number; details: string } | { text: string }>((resolve) => {
    const call = g.Collect((err: grpc.ServiceError | null, res: { text: string }) =>
      resolve(err ? { code: err.code, details: err.details } : { text: res.text }),
    );
    call.write({ text: 'a' });
    call.write({ text: 'b' });
    call.end();
  });
  failed(r);
  assert.deepEqual(first.calls, ['/test.v1.Greeter/Collect']);
  assert.deepEqual(second.calls, []);
});

/** A server-streaming call's messages, and how it ended. */
function streamCall(g: TestClient, text: string): Promise<{ texts: string[]; code: number }> {
  return new Promise((resolve) => {
    const texts: string[] = [];
    const s = g.Stream({ text });
    s.on('data', (m: { text: string }) => texts.push(m.text));
    s.on('error', (err: grpc.ServiceError) => resolve({ texts, code: err.code }));
    s.on('end', () => resolve({ texts, code: grpc.status.OK }));
  });
}

test('retries: a listed server-streaming call refused before any message is retried; one failing after a message is not', async () => {
  const { first, second, g } = await retryPair({ ...RETRY, grpcMethods: ['/test.v1.Greeter/Stream'] });
  first.refuse = 1;
  assert.deepEqual(await streamCall(g, 'x'), { texts: ['second 1 x', 'second 2 x'], code: grpc.status.OK });
  assert.deepEqual(first.calls, ['/test.v1.Greeter/Stream']);
  // Round-robin: the next call starts on the first target again; its UNAVAILABLE comes after a message was relayed.
  first.calls.length = 0;
  second.calls.length = 0;
  first.failAfterFirst = 1;
  const r = await streamCall(g, 'y');
  assert.deepEqual(r.texts, ['first 1 y']);
  assert.notEqual(r.code, grpc.status.OK);
  assert.deepEqual(first.calls, ['/test.v1.Greeter/Stream']);
  assert.deepEqual(second.calls, []);
});

test('a grpc check over h2 (TLS): a gateway process trusting the CA checks each target', async () => {
  const pki = makePki();
  const dir = await tempDir();
  closers.push(
    () => pki.cleanup(),
    () => dir.remove(),
  );
  const [ok, sick] = await Promise.all([startGrpcTarget('ok', pki.server), startGrpcTarget('sick', pki.server)]);
  closers.push(
    () => ok.close(),
    () => sick.close(),
  );
  sick.health.set('', 'NOT_SERVING');
  const config = await dir.file(
    'gw.yaml',
    [
      'listen: [{ port: 0, host: 127.0.0.1 }]',
      'admin: { port: 0, host: 127.0.0.1 }',
      'accessLog: false',
      'log: { level: warn }',
      'services:',
      `  g: { protocol: h2, targets: [{ url: "${ok.url}" }, { url: "${sick.url}" }],`,
      '       healthCheck: { active: { type: grpc, interval: 50ms, unhealthyThreshold: 1, healthyThreshold: 1 } } }',
      'routes: [{ name: g, match: { grpc: { service: test.v1.Greeter } }, service: g }]',
      '',
    ].join('\n'),
  );
  const child = await startChild(config, { env: { ...process.env, NODE_EXTRA_CA_CERTS: pki.ca.certPath } });
  closers.push(() => child.kill());
  interface TargetHealth {
    target: string;
    active: string;
    events: { change: string; reason: string }[];
  }
  const health = async () => {
    const res = await request(`${child.adminUrl}/services/g/health`);
    return ((await res.body.json()) as { targets: TargetHealth[] }).targets;
  };
  // The answer was read over TLS: the reason is the service's NOT_SERVING, not a connection failure.
  const targets = await waitFor('the NOT_SERVING target marked unhealthy', async () => {
    const t = await health();
    return t.find((x) => x.target === sick.url)?.active === 'unhealthy' ? t : undefined;
  });
  assert.deepEqual(
    targets.find((x) => x.target === sick.url)!.events.map((e) => [e.change, e.reason]),
    [['unhealthy', 'active check: NOT_SERVING']],
  );
  await waitFor('checks of the SERVING target', () => ok.checks.length >= 2);
  const okHealth = (await health()).find((x) => x.target === ok.url)!;
  assert.equal(okHealth.active, 'healthy');
  assert.deepEqual(okHealth.events, []);
  assert.equal(ok.checks[0], '', 'the server as a whole was asked about');
});

test('passive health: a target answering UNAVAILABLE trailers-only is ejected like one answering 503', async () => {
  const [first, second] = await Promise.all([target('first'), target('second')]);
  const gw = await gateway(
    {
      g: {
        protocol: 'h2c',
        targets: [{ url: first.url }, { url: second.url }],
        healthCheck: { passive: { consecutiveFailures: 2, baseEjection: '30s' } },
      },
    },
    [{ name: 'g', match: { grpc: { service: 'test.v1.Greeter' } }, service: 'g' }],
  );
  const g = client('test.v1.Greeter', gw);
  first.refuse = 2;
  for (let i = 0; i < 4; i++) await unaryCall(g, 'Hello', `warm ${i}`); // round-robin: two refusals from the first
  first.calls.length = 0;
  second.calls.length = 0;
  for (let i = 0; i < 4; i++) assert.ok('text' in (await unaryCall(g, 'Hello', `after ${i}`)));
  assert.deepEqual(first.calls, [], 'the first target is ejected: it got no call');
  assert.equal(second.calls.length, 4);
});
