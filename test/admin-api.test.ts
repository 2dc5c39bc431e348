// The admin API against a real in-process gateway: read endpoints, config changes that the data
// plane serves at once, refusals that change nothing, the bearer token, and errors.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { stringify as toYaml } from 'yaml';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, testConfig, type TestGateway } from './helpers/gateway.js';

interface ErrorJson {
  error: { code: string; message: string; details?: { path: string; message: string }[] };
}
interface RoutesJson {
  configVersion: number;
  routes: { route: string; path: string; service: string }[];
}
interface ServicesJson {
  services: { name: string; targets: { url: string; weight: number }[]; routes: string[] }[];
}
interface OpenApiJson {
  openapi: string;
  info: { title: unknown; version: unknown };
  paths: Record<string, { post?: { requestBody?: unknown } }>;
  components: { schemas: { GatehouseConfig: { type: unknown; properties: Record<string, unknown> } } };
}

let up: Upstream;
before(async () => {
  up = await startUpstream();
});
after(async () => {
  await up.close();
});

const services = () => ({ users: { targets: [{ url: up.url }] } });
const V1 = () => ({
  services: services(),
  routes: [{ name: 'v1', match: { paths: ['/v1/*'] }, service: 'users' }],
});

async function admin(gw: TestGateway, method: string, path: string, body?: string | object, headers: Record<string, string> = {}) {
  const res = await request(`${gw.adminUrl}${path}`, {
    method: method as 'GET',
    headers: { ...(typeof body === 'object' ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

async function dataStatus(gw: TestGateway, path: string): Promise<number> {
  const res = await request(`${gw.url}${path}`);
  await res.body.dump();
  return res.statusCode;
}

describe('without a token', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway(V1());
  });
  after(async () => {
    await gw.stop();
  });

  test('GET /health and /ready', async () => {
    const h = await admin(gw, 'GET', '/health');
    assert.equal(h.status, 200);
    const health = h.json as { status: string; version: unknown };
    assert.equal(health.status, 'ok');
    assert.equal(typeof health.version, 'string');
    assert.match(String(h.headers['content-type']), /^application\/json/);
    const r = await admin(gw, 'GET', '/ready');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ready', configVersion: gw.instance.version, workers: 1 });
  });

  test('GET /routes and /services describe the running config', async () => {
    const r = await admin(gw, 'GET', '/routes');
    assert.equal(r.status, 200);
    const routes = r.json as RoutesJson;
    assert.equal(routes.configVersion, gw.instance.version);
    assert.deepEqual(
      routes.routes.map((x: { route: string; path: string; service: string }) => [x.route, x.path, x.service]),
      [['v1', '/v1/*', 'users']],
    );
    const s = await admin(gw, 'GET', '/services');
    assert.equal(s.status, 200);
    const svcs = (s.json as ServicesJson).services;
    assert.equal(svcs.length, 1);
    assert.equal(svcs[0]?.name, 'users');
    assert.deepEqual(svcs[0].targets, [{ url: up.url, weight: 1 }]);
    assert.deepEqual(svcs[0].routes, ['v1']);
  });

  test('GET /openapi.json is an OpenAPI 3.1 document with the config schema', async () => {
    const r = await admin(gw, 'GET', '/openapi.json');
    assert.equal(r.status, 200);
    const doc = r.json as OpenApiJson;
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(typeof doc.info.version, 'string');
    for (const p of ['/health', '/ready', '/config', '/validate', '/routes', '/services', '/openapi.json'])
      assert.ok(doc.paths[p], `paths lacks ${p}`);
    assert.ok(doc.paths['/config']?.post?.requestBody);
    const cfg = doc.components.schemas.GatehouseConfig;
    assert.equal(cfg.type, 'object');
    for (const k of ['listen', 'admin', 'services', 'routes', 'workers']) assert.ok(cfg.properties[k], `GatehouseConfig lacks ${k}`);
    // Every $ref in the document resolves inside it.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length > 0);
    for (const ref of refs) {
      assert.match(ref, /^#\//, ref);
      let node: unknown = doc;
      for (const part of ref.slice(2).split('/'))
        node = (node as Record<string, unknown> | null | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
      assert.ok(node !== undefined, `unresolved $ref ${ref}`);
    }
  });

  test('unknown path is 404 ADMIN_NOT_FOUND; wrong method is 405 with Allow', async () => {
    const nf = await admin(gw, 'GET', '/nope');
    assert.equal(nf.status, 404);
    assert.equal((nf.json as ErrorJson).error.code, 'ADMIN_NOT_FOUND');
    const m = await admin(gw, 'DELETE', '/config');
    assert.equal(m.status, 405);
    assert.equal((m.json as ErrorJson).error.code, 'ADMIN_METHOD_NOT_ALLOWED');
    assert.deepEqual(String(m.headers.allow).split(/,\s*/).sort(), ['GET', 'POST']);
    const m2 = await admin(gw, 'POST', '/routes', {});
    assert.equal(m2.status, 405);
  });

  test('POST /config (JSON) applies at once: the data plane serves the new routes', async () => {
    const before = gw.instance.version;
    assert.equal(await dataStatus(gw, '/v2/x'), 404);
    const next = testConfig({
      services: services(),
      routes: [
        { name: 'v1', match: { paths: ['/v1/*'] }, service: 'users' },
        { name: 'v2', match: { paths: ['/v2/*'] }, service: 'users', stripPrefix: '/v2' },
      ],
    });
    const r = await admin(gw, 'POST', '/config', next);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { applied: true, configVersion: before + 1 });
    // No waiting: the response means every data plane serves it.
    const res = await request(`${gw.url}/v2/hello`);
    assert.equal(res.statusCode, 200);
    assert.equal(((await res.body.json()) as { url: string }).url, '/hello');
    const routes = await admin(gw, 'GET', '/routes');
    assert.equal((routes.json as RoutesJson).configVersion, before + 1);
    assert.deepEqual((routes.json as RoutesJson).routes.map((x: { route: string }) => x.route).sort(), ['v1', 'v2']);
  });

  test('POST /config (YAML) applies too', async () => {
    const before = gw.instance.version;
    const next = testConfig({
      services: services(),
      routes: [{ name: 'yaml-route', match: { paths: ['/from-yaml/*'] }, service: 'users' }],
    });
    const r = await admin(gw, 'POST', '/config', toYaml(next), { 'content-type': 'application/yaml' });
    assert.equal(r.status, 200, r.text);
    assert.equal((r.json as { configVersion: number }).configVersion, before + 1);
    assert.equal(await dataStatus(gw, '/from-yaml/a'), 200);
    assert.equal(await dataStatus(gw, '/v1/a'), 404);
  });

  test('POST /config with an invalid config: 400 CONFIG_INVALID with details, old config keeps serving', async () => {
    const before = gw.instance.version;
    const current = await admin(gw, 'GET', '/config');
    const bad = testConfig({
      services: services(),
      routes: [
        { name: 'dangling', match: { paths: ['/dangling/*'] }, service: 'nowhere' },
        { name: 'slow', match: { paths: ['/s'] }, service: 'users' },
      ],
    });
    (bad.services as { users: Record<string, unknown> }).users.timeouts = { response: '5 parsecs' };
    const r = await admin(gw, 'POST', '/config', bad);
    assert.equal(r.status, 400, r.text);
    const e = r.json as ErrorJson;
    assert.equal(e.error.code, 'CONFIG_INVALID');
    assert.ok(Array.isArray(e.error.details));
    for (const d of e.error.details) {
      assert.deepEqual(Object.keys(d).sort(), ['message', 'path']);
      assert.equal(typeof d.message, 'string');
    }
    const paths = e.error.details.map((d) => d.path);
    assert.ok(paths.includes('services.users.timeouts.response'), paths.join(', '));
    assert.ok(paths.includes('routes[0].service'), paths.join(', '));
    // Nothing changed.
    assert.equal(gw.instance.version, before);
    assert.deepEqual((await admin(gw, 'GET', '/config')).json, current.json);
    assert.equal(await dataStatus(gw, '/from-yaml/a'), 200);
    assert.equal(await dataStatus(gw, '/s'), 404);
  });

  test('POST /config with a body that is not JSON or YAML, or empty: 400 ADMIN_BAD_BODY', async () => {
    const before = gw.instance.version;
    const r = await admin(gw, 'POST', '/config', '{ "routes": [', { 'content-type': 'application/json' });
    assert.equal(r.status, 400);
    assert.equal((r.json as ErrorJson).error.code, 'ADMIN_BAD_BODY');
    const empty = await admin(gw, 'POST', '/config', '');
    assert.equal(empty.status, 400);
    assert.equal((empty.json as ErrorJson).error.code, 'ADMIN_BAD_BODY');
    assert.equal(gw.instance.version, before);
  });

  test('changing listen (or admin, workers) is 409 CONFIG_RESTART_REQUIRED and changes nothing', async () => {
    const before = gw.instance.version;
    const next = testConfig({ services: services(), routes: [{ name: 'moved', match: { paths: ['/moved'] }, service: 'users' }] });
    next.listen = [{ port: 0, host: '127.0.0.2' }];
    const r = await admin(gw, 'POST', '/config', next);
    assert.equal(r.status, 409, r.text);
    const e = r.json as ErrorJson;
    assert.equal(e.error.code, 'CONFIG_RESTART_REQUIRED');
    assert.deepEqual(
      e.error.details!.map((d) => d.path),
      ['listen'],
    );
    const w = await admin(gw, 'POST', '/config', { ...next, listen: testConfig({}).listen, workers: 2 });
    assert.equal(w.status, 409, w.text);
    assert.deepEqual(
      (w.json as ErrorJson).error.details!.map((d) => d.path),
      ['workers'],
    );
    assert.equal(gw.instance.version, before);
    assert.equal(await dataStatus(gw, '/moved'), 404);
  });

  test('POST /validate is a dry run', async () => {
    const before = gw.instance.version;
    const config = (await admin(gw, 'GET', '/config')).json;
    const next = testConfig({ services: services(), routes: [{ name: 'dry', match: { paths: ['/dry'] }, service: 'users' }] });
    const ok = await admin(gw, 'POST', '/validate', next);
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json, { valid: true });
    const bad = await admin(gw, 'POST', '/validate', { ...next, routes: [{ name: 'dry', service: 'nowhere' }] });
    assert.equal(bad.status, 400);
    assert.equal((bad.json as ErrorJson).error.code, 'CONFIG_INVALID');
    assert.deepEqual(
      (bad.json as ErrorJson).error.details!.map((d) => d.path),
      ['routes[0].service'],
    );
    const restart = await admin(gw, 'POST', '/validate', { ...next, listen: [{ port: 1, host: '127.0.0.1' }] });
    assert.equal(restart.status, 409);
    // Nothing changed.
    assert.equal(gw.instance.version, before);
    assert.deepEqual((await admin(gw, 'GET', '/config')).json, config);
    assert.equal(await dataStatus(gw, '/dry'), 404);
  });
});

describe('with admin.token', () => {
  const TOKEN = 's3cret-admin-token';
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ ...V1(), admin: { token: TOKEN } });
  });
  after(async () => {
    await gw.stop();
  });
  const auth = { authorization: `Bearer ${TOKEN}` };

  test('requests without a token or with a wrong one are 401 ADMIN_UNAUTHORIZED', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: TOKEN },
      { authorization: `Basic ${TOKEN}` },
    ];
    for (const headers of attempts) {
      for (const path of ['/config', '/routes', '/services']) {
        const r = await admin(gw, 'GET', path, undefined, headers);
        assert.equal(r.status, 401, `${path} ${JSON.stringify(headers)}`);
        assert.equal((r.json as ErrorJson).error.code, 'ADMIN_UNAUTHORIZED');
        assert.match(String(r.headers['www-authenticate']), /^Bearer/);
        assert.doesNotMatch(r.text, new RegExp(TOKEN));
      }
    }
  });

  test('an unauthorized POST /config changes nothing', async () => {
    const before = gw.instance.version;
    const next = testConfig({
      services: services(),
      routes: [{ name: 'sneaky', match: { paths: ['/sneaky'] }, service: 'users' }],
      admin: { token: TOKEN },
    });
    for (const path of ['/config', '/validate']) {
      const r = await admin(gw, 'POST', path, next, { authorization: 'Bearer wrong' });
      assert.equal(r.status, 401);
    }
    assert.equal(gw.instance.version, before);
    assert.equal(await dataStatus(gw, '/sneaky'), 404);
  });

  test('the right token is 200; GET /config redacts the token', async () => {
    const r = await admin(gw, 'GET', '/config', undefined, auth);
    assert.equal(r.status, 200, r.text);
    const config = r.json as { admin: { token: string }; routes: { name: string }[] };
    assert.equal(config.admin.token, '[redacted]');
    assert.doesNotMatch(r.text, new RegExp(TOKEN));
    assert.deepEqual(
      config.routes.map((x: { name: string }) => x.name),
      ['v1'],
    );
    assert.equal((await admin(gw, 'GET', '/routes', undefined, auth)).status, 200);
    assert.equal((await admin(gw, 'GET', '/services', undefined, { authorization: `bearer ${TOKEN}` })).status, 200);
  });

  test('POST /config with the right token applies', async () => {
    const next = testConfig({
      services: services(),
      routes: [{ name: 'authed', match: { paths: ['/authed'] }, service: 'users' }],
      admin: { token: TOKEN },
    });
    const r = await admin(gw, 'POST', '/config', next, auth);
    assert.equal(r.status, 200, r.text);
    assert.equal(await dataStatus(gw, '/authed'), 200);
    // Any other admin change needs a restart.
    const moved = await admin(gw, 'POST', '/config', { ...next, admin: { ...(next.admin as object), port: 1 } }, auth);
    assert.equal(moved.status, 409);
    // The token itself may be rotated: the old one stops working at once.
    const rotated = { ...next, admin: { ...(next.admin as object), token: 'another' } };
    assert.equal((await admin(gw, 'POST', '/config', rotated, auth)).status, 200);
    assert.equal((await admin(gw, 'GET', '/routes', undefined, auth)).status, 401);
    const another = { authorization: 'Bearer another' };
    assert.equal((await admin(gw, 'GET', '/routes', undefined, another)).status, 200);
    assert.equal((await admin(gw, 'POST', '/config', next, another)).status, 200);
    assert.equal((await admin(gw, 'GET', '/routes', undefined, auth)).status, 200);
  });

  test('unknown paths are 404 even with a token; health stays open for probes', async () => {
    const r = await admin(gw, 'GET', '/nope', undefined, auth);
    assert.equal(r.status, 404);
    assert.equal((r.json as ErrorJson).error.code, 'ADMIN_NOT_FOUND');
    assert.equal((await admin(gw, 'GET', '/health')).status, 200);
    assert.equal((await admin(gw, 'GET', '/ready')).status, 200);
  });
});

test('a token written with surrounding whitespace is the token without it (no lock-out)', async () => {
  const gw = await startTestGateway({ ...V1(), admin: { token: '  spaced-token\n' } });
  try {
    assert.equal((await admin(gw, 'GET', '/routes')).status, 401);
    assert.equal((await admin(gw, 'GET', '/routes', undefined, { authorization: 'Bearer spaced-token' })).status, 200);
  } finally {
    await gw.stop();
  }
});

test('without a token: a cross-origin page or a rebound host name cannot use the admin API', async () => {
  const gw = await startTestGateway(V1());
  try {
    const evil = toYaml({ ...testConfig(V1()), routes: [{ name: 'stolen', match: { paths: ['/*'] }, service: 'users' }] });
    // What a page's fetch(…, { method: 'POST', mode: 'no-cors', body }) sends: a foreign Origin, text/plain.
    const csrf = await admin(gw, 'POST', '/config', evil, { origin: 'https://evil.example', 'content-type': 'text/plain' });
    assert.equal(csrf.status, 403);
    assert.equal((csrf.json as ErrorJson).error.code, 'ADMIN_FORBIDDEN');
    const sandboxed = await admin(gw, 'POST', '/validate', evil, { origin: 'null' });
    assert.equal(sandboxed.status, 403);
    // DNS rebinding: the page's own name now points at 127.0.0.1, so the Host header carries it.
    const rebound = await admin(gw, 'GET', '/config', undefined, { host: 'rebind.evil.example:9876' });
    assert.equal(rebound.status, 403);
    assert.equal(((await admin(gw, 'GET', '/routes')).json as RoutesJson).routes[0]?.route, 'v1', 'nothing was applied');
    // Tools and the admin API's own pages still work.
    assert.equal((await admin(gw, 'GET', '/routes', undefined, { host: 'localhost:9876' })).status, 200);
    const own = `http://127.0.0.1:${new URL(gw.adminUrl).port}`;
    assert.equal((await admin(gw, 'POST', '/validate', evil, { origin: own })).status, 200);
    // An HTTP/1.0 health check (HAProxy's httpchk) sends no Host: not a browser, answered.
    const { connect } = await import('node:net');
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(new URL(gw.adminUrl).port), '127.0.0.1', () => sock.end('GET /health HTTP/1.0\r\n\r\n'));
      let text = '';
      sock
        .on('data', (c) => (text += c.toString('latin1')))
        .on('end', () => resolve(text))
        .on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 200 /);
    // Two Host headers: which one a check would read is a guess, so refused.
    const twice = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(new URL(gw.adminUrl).port), '127.0.0.1', () =>
        sock.end('GET /routes HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: rebind.evil.example\r\nConnection: close\r\n\r\n'),
      );
      let text = '';
      sock
        .on('data', (c) => (text += c.toString('latin1')))
        .on('end', () => resolve(text))
        .on('error', reject);
    });
    assert.match(twice, /^HTTP\/1\.1 (403|400) /);
  } finally {
    await gw.stop();
  }
});

test('with a token, Origin and Host are not checked (the token is what protects)', async () => {
  const gw = await startTestGateway({ ...V1(), admin: { token: 'a-token' } });
  try {
    const r = await admin(gw, 'GET', '/routes', undefined, {
      authorization: 'Bearer a-token',
      origin: 'https://console.example',
      host: 'gateway.example:9876',
    });
    assert.equal(r.status, 200);
  } finally {
    await gw.stop();
  }
});
