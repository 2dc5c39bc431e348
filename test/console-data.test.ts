// The admin endpoints the console reads and the config editing it does, over real HTTP against real
// gateways and a real upstream: the per-second time series counts exactly the traffic sent, top
// client IPs, POST /explain answers what `gatehouse explain --json` prints, a consumer's usage from
// the memory store and from Redis, YAML errors with their lines, a redacted secret sent back keeps
// working in the data plane, and ?consumers=keep.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startGateway } from '../src/gateway.js';
import { silentLogger } from '../src/observability/logger.js';
import { runCli, tempDir, type TempDir } from './helpers/child.js';
import { deleteUnder, inspector, sharedRedisUp, SHARED_REDIS, uniquePrefix } from './helpers/redis.js';

const TOKEN = 'console-data-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const BOB_KEY = 'bob-secret-key-0123456789';

let up: Upstream;
let dir: TempDir;
before(async () => {
  up = await startUpstream();
  dir = await tempDir();
});
after(async () => {
  await up.close();
  await dir.remove();
});

/** Routes: /open (no policy), /keyed (key-auth + 5 a minute per consumer + the plan's limit). */
function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    admin: { token: TOKEN },
    analytics: { enabled: true },
    services: { up: { targets: [{ url: up.url }] } },
    plans: { gold: { limits: [{ limit: 100, window: '1h' }] } },
    routes: [
      { name: 'open', match: { paths: ['/open/*'] }, service: 'up' },
      {
        name: 'keyed',
        match: { paths: ['/keyed/*'] },
        service: 'up',
        policies: [
          { type: 'key-auth' },
          { type: 'rate-limit', by: 'consumer', limit: 5, window: '1m', algorithm: 'fixed-window' },
          { type: 'rate-limit', by: 'consumer', limits: 'plan' },
        ],
      },
    ],
    consumers: [
      { id: 'bob', plan: 'gold', credentials: [{ type: 'api-key', key: BOB_KEY }] },
      { id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] },
    ],
    ...extra,
  };
}

async function admin(gw: TestGateway, method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(gw.adminUrl + path, { method, headers: { ...AUTH, ...headers }, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json: json as Record<string, unknown>, type: res.headers.get('content-type') ?? '' };
}

async function call(gw: TestGateway, path: string, key?: string): Promise<number> {
  const res = await fetch(gw.url + path, { headers: key ? { 'x-api-key': key } : {} });
  await res.arrayBuffer();
  return res.status;
}

interface Point {
  t: number;
  requests: number;
  errors: number;
  clientErrors: number;
  rateLimited: number;
  authFailed: number;
  p50: number | null;
}

test('the time series counts exactly the requests sent, by kind; /analytics has the top client IPs; /overview', async () => {
  const gw = await startTestGateway(config());
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push(await call(gw, `/open/${i}`));
    for (let i = 0; i < 3; i++) statuses.push(await call(gw, '/nowhere'));
    for (let i = 0; i < 4; i++) statuses.push(await call(gw, '/keyed/x', 'wrong-key'));
    for (let i = 0; i < 7; i++) statuses.push(await call(gw, '/keyed/x', BOB_KEY));
    assert.deepEqual(
      [200, 404, 401, 429].map((s) => statuses.filter((x) => x === s).length),
      [25, 3, 4, 2],
    );
    const r = await admin(gw, 'GET', '/analytics/timeseries?seconds=120');
    assert.equal(r.status, 200, r.text);
    const { step, points } = r.json as { step: number; points: Point[] };
    assert.equal(step, 1);
    assert.equal(points.length, 120);
    for (let i = 1; i < points.length; i++) assert.equal(points[i]!.t, points[i - 1]!.t + 1);
    assert.ok(Math.abs(points.at(-1)!.t - Date.now() / 1000) < 5);
    const sum = (k: keyof Point) => points.reduce((n, p) => n + (p[k] as number), 0);
    assert.equal(sum('requests'), 34);
    assert.equal(sum('errors'), 0);
    assert.equal(sum('clientErrors'), 9);
    assert.equal(sum('rateLimited'), 2);
    assert.equal(sum('authFailed'), 4);
    for (const p of points) assert.equal(p.p50 === null, p.requests === 0, JSON.stringify(p));
    // A second look adds nothing new: counts are not consumed by reading.
    const again = (await admin(gw, 'GET', '/analytics/timeseries?seconds=120')).json as { points: Point[] };
    assert.equal(
      again.points.reduce((n, p) => n + p.requests, 0),
      34,
    );
    for (const bad of ['0', '601', 'x', '1.5', '-1'])
      assert.equal((await admin(gw, 'GET', `/analytics/timeseries?seconds=${bad}`)).status, 400, bad);

    const analytics = (await admin(gw, 'GET', '/analytics')).json as { clientIps: { value: string; count: number }[] };
    // The 3 requests that matched no route have no client IP yet (it is resolved after routing).
    assert.deepEqual(analytics.clientIps, [{ value: '127.0.0.1', count: 31 }]);

    const o = (await admin(gw, 'GET', '/overview')).json;
    assert.equal(o.configVersion, 1);
    assert.equal(o.workers, 1);
    assert.deepEqual([o.routes, o.services, o.consumers], [2, 1, 2]);
    assert.deepEqual(o.configStore, { present: false });
    assert.deepEqual(o.stores, [{ name: 'memory', kind: 'memory', state: 'up' }]);
    assert.equal(typeof o.version, 'string');
    assert.ok(Date.parse(o.startedAt as string) <= Date.now());
    assert.equal(typeof o.uptimeSeconds, 'number');
  } finally {
    await gw.stop();
  }
});

test('POST /explain answers what `gatehouse explain --json` prints for the same config', async () => {
  const file = await dir.file(
    'explain.yaml',
    JSON.stringify({
      ...config(),
      admin: { port: 0, host: '127.0.0.1', token: TOKEN },
      listen: [{ port: 0, host: '127.0.0.1' }],
      log: { level: 'silent' },
    }),
  );
  const gw = await startGateway({ configPath: file, watch: false, logger: silentLogger });
  const g = { adminUrl: `http://127.0.0.1:${gw.admin!.port}` } as TestGateway;
  try {
    for (const [method, url, headers] of [
      ['GET', '/keyed/users/42', {}],
      ['POST', 'http://api.example.com/open/a?x=1', { 'X-Api-Version': '1' }],
      ['GET', '/nowhere', {}],
    ] as [string, string, Record<string, string>][]) {
      const r = await admin(g, 'POST', '/explain', JSON.stringify({ method, url, headers }), { 'content-type': 'application/json' });
      assert.equal(r.status, 200, r.text);
      const cli = await runCli([
        'explain',
        '--json',
        '-c',
        file,
        method,
        url,
        ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
      ]);
      assert.deepEqual(r.json, JSON.parse(cli.stdout), `${method} ${url}`);
    }
    for (const body of [
      { method: 'G ET', url: '/' },
      { method: 'GET', url: 'ftp://x/' },
      { method: 'GET' },
      { method: 'GET', url: '/', headers: { 'bad header': 'x' } },
      [],
    ]) {
      const r = await admin(g, 'POST', '/explain', JSON.stringify(body));
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal((r.json.error as { code: string }).code, 'ADMIN_BAD_BODY');
    }
  } finally {
    await gw.stop();
  }
});

interface Usage {
  consumer: string;
  plan?: string;
  limits: { policy: string; route?: string; limit: number; window: string; used: number; remaining: number; resetsAt: string }[];
}

async function usageAfterTraffic(extra: Record<string, unknown>): Promise<void> {
  const gw = await startTestGateway(config(extra));
  try {
    for (let i = 0; i < 3; i++) assert.equal(await call(gw, '/keyed/x', BOB_KEY), 200);
    const r = await admin(gw, 'GET', '/consumers/bob/usage');
    assert.equal(r.status, 200, r.text);
    const u = r.json as unknown as Usage;
    assert.equal(u.consumer, 'bob');
    assert.equal(u.plan, 'gold');
    const perMinute = u.limits.find((l) => l.policy === '5-per-1m')!;
    assert.deepEqual([perMinute.route, perMinute.limit, perMinute.window, perMinute.used, perMinute.remaining], ['keyed', 5, '1m', 3, 2]);
    const reset = Date.parse(perMinute.resetsAt);
    assert.ok(reset > Date.now() && reset <= Date.now() + 60_000, perMinute.resetsAt);
    const gold = u.limits.find((l) => l.policy === 'gold')!;
    assert.deepEqual([gold.limit, gold.window, gold.used, gold.remaining], [100, '1h', 3, 97]);
    assert.equal(u.limits.length, 2);
    // Reading costs nothing: the same numbers again, and bob still has his 2 requests.
    const again = (await admin(gw, 'GET', '/consumers/bob/usage')).json as unknown as Usage;
    assert.equal(again.limits.find((l) => l.policy === '5-per-1m')!.used, 3);
    assert.equal(await call(gw, '/keyed/x', BOB_KEY), 200);
    assert.equal(await call(gw, '/keyed/x', BOB_KEY), 200);
    assert.equal(await call(gw, '/keyed/x', BOB_KEY), 429);
    const spent = (await admin(gw, 'GET', '/consumers/bob/usage')).json as unknown as Usage;
    assert.deepEqual(
      spent.limits.map((l) => [l.policy, l.used, l.remaining]),
      [
        ['5-per-1m', 5, 0],
        ['gold', 5, 95],
      ],
    );
    // alice has no plan (and no default): only the fixed limit, unused.
    const alice = (await admin(gw, 'GET', '/consumers/alice/usage')).json as unknown as Usage;
    assert.deepEqual(
      alice.limits.map((l) => [l.policy, l.used, l.remaining]),
      [['5-per-1m', 0, 5]],
    );
    assert.equal((await admin(gw, 'GET', '/consumers/nobody/usage')).status, 404);
  } finally {
    await gw.stop();
  }
}

test('GET /consumers/:id/usage reflects requests made on a rate-limited route (memory store)', async () => {
  await usageAfterTraffic({});
});

test('GET /consumers/:id/usage reflects requests made on a rate-limited route (Redis store)', async (t) => {
  if (!(await sharedRedisUp())) return t.skip('SKIPPED: no Redis at 127.0.0.1:6379');
  const prefix = uniquePrefix('console-usage');
  try {
    await usageAfterTraffic({ store: { type: 'redis', url: SHARED_REDIS, prefix } });
    const r = inspector();
    const keys = await r.keys(`${prefix}*`);
    await r.quit();
    assert.ok(keys.length > 0, 'the counters were in Redis');
  } finally {
    const r = inspector();
    await deleteUnder(r, prefix);
    await r.quit();
  }
});

test('YAML sent to /validate: errors carry the line and column of their node; syntax errors too', async () => {
  const gw = await startTestGateway(config());
  try {
    const yaml = (await admin(gw, 'GET', '/config?format=yaml&consumers=omit')).text;
    const lines = yaml.split('\n');
    const at = lines.findIndex((l) => /^\s+limit: 5$/.test(l));
    assert.ok(at > 0, yaml);
    lines[at] = lines[at]!.replace('limit: 5', 'limit: -5');
    const svc = lines.findIndex((l) => /^\s+service: up$/.test(l));
    lines[svc] = lines[svc]!.replace('service: up', 'service: nowhere');
    const r = await admin(gw, 'POST', '/validate?consumers=keep', lines.join('\n'), { 'content-type': 'application/yaml' });
    assert.equal(r.status, 400, r.text);
    const details = (r.json.error as { details: { path: string; message: string; line?: number; column?: number }[] }).details;
    const limit = details.find((d) => d.path.endsWith('.limit'))!;
    assert.equal(limit.line, at + 1);
    assert.equal(limit.column, lines[at].indexOf('limit') + 1);
    const service = details.find((d) => d.path === 'routes[0].service')!;
    assert.equal(service.line, svc + 1, JSON.stringify(details));
    // The same message `gatehouse validate` prints for that file.
    const file = await dir.file('bad.yaml', lines.join('\n'));
    const cli = await runCli(['validate', '-c', file]);
    assert.match(cli.stderr, new RegExp(`^routes\\[0\\]\\.service: ${service.message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));

    const broken = await admin(gw, 'POST', '/validate', 'routes:\n  - name: a\n   service: b\n', { 'content-type': 'application/yaml' });
    assert.equal(broken.status, 400);
    const syntax = broken.json.error as { code: string; details: { line: number; column: number }[] };
    assert.equal(syntax.code, 'ADMIN_BAD_BODY');
    assert.equal(syntax.details[0]!.line, 3);

    const diff = await admin(gw, 'POST', '/validate?diff=1&consumers=keep', yaml.replace(/limit: 5\n/, 'limit: 6\n'), {
      'content-type': 'application/yaml',
    });
    assert.equal(diff.status, 200, diff.text);
    assert.deepEqual(diff.json.diff, [{ path: 'routes[1].policies[1].limit', op: 'change', before: 5, after: 6 }]);
  } finally {
    await gw.stop();
  }
});

test('a config sent back with "[redacted]" keeps the running secrets: the data plane still authenticates with them', async () => {
  const gw = await startTestGateway(config());
  try {
    const got = await admin(gw, 'GET', '/config?format=yaml');
    assert.match(got.type, /^application\/yaml/);
    assert.ok(!got.text.includes(BOB_KEY) && !got.text.includes(TOKEN), 'no secret in the YAML');
    assert.match(got.text, /key: "?\[redacted\]"?/);
    // A route added in the editor, the redacted keys (and token) sent back as they came.
    const edited = got.text.replace('routes:\n', 'routes:\n  - name: added\n    match: { paths: ["/added/*"] }\n    service: up\n');
    const r = await admin(gw, 'POST', '/config', edited, { 'content-type': 'application/yaml' });
    assert.equal(r.status, 200, r.text);
    assert.equal(await call(gw, '/added/x'), 200);
    assert.equal(await call(gw, '/keyed/x', BOB_KEY), 200, 'bob’s key is still the key');
    assert.equal(await call(gw, '/keyed/x', 'alice-key-0123456789'), 200);
    assert.equal(await call(gw, '/keyed/x', '[redacted]'), 401, 'the literal is not a key');
    assert.equal((await admin(gw, 'GET', '/routes')).status, 200, 'the admin token is still the token');
    // "[redacted]" where the running config has no secret is refused at that place, with its line.
    assert.ok(got.text.includes('id: alice\n'));
    const stray = got.text.replace('id: alice\n', 'id: carol\n');
    const refused = await admin(gw, 'POST', '/validate', stray, { 'content-type': 'application/yaml' });
    assert.equal(refused.status, 400, refused.text);
    const d = (refused.json.error as { details: { path: string; message: string; line?: number }[] }).details;
    assert.equal(d.length, 1, JSON.stringify(d));
    assert.equal(d[0]!.path, 'consumers[1].credentials[0].key');
    assert.match(d[0]!.message, /running config has none here/);
    assert.equal(stray.split('\n')[d[0]!.line! - 1]!.trim().startsWith('key:'), true);
  } finally {
    await gw.stop();
  }
});

test('?consumers=keep keeps the running consumers when the document has none; without it they go', async () => {
  const gw = await startTestGateway(config());
  try {
    const yaml = (await admin(gw, 'GET', '/config?format=yaml&consumers=omit')).text;
    assert.doesNotMatch(yaml, /^consumers:/m);
    const kept = await admin(gw, 'POST', '/config?consumers=keep', yaml, { 'content-type': 'application/yaml' });
    assert.equal(kept.status, 200, kept.text);
    assert.equal(await call(gw, '/keyed/x', BOB_KEY), 200);
    assert.equal(((await admin(gw, 'GET', '/overview')).json as { consumers: number }).consumers, 2);
    const dropped = await admin(gw, 'POST', '/config', yaml, { 'content-type': 'application/yaml' });
    assert.equal(dropped.status, 200, dropped.text);
    assert.equal(await call(gw, '/keyed/x', BOB_KEY), 401, 'without keep, a document without consumers has none');
  } finally {
    await gw.stop();
  }
});
