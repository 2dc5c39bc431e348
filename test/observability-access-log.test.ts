// The access log through a real gateway: fields, sampling with errors and slow requests always
// written, the rejecting policy, trace id, consumer and byte counts (over HTTP/1.1 and HTTP/2),
// and reopen after rotation.
import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { startUpstream, echo, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { tempDir, waitFor, type TempDir } from './helpers/child.js';
import { bothClients, type TestClient } from './helpers/clients.js';

const clients = bothClients();
const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of clients) await c.close();
  for (const c of cleanup.reverse()) await c();
});

async function lines(path: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function setup(
  accessLog: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<{ gw: TestGateway; up: Upstream; dir: TempDir; file: string }> {
  const up = await startUpstream((req, res) => {
    if (req.url?.startsWith('/slow')) return void setTimeout(() => echo(req, res), 150);
    if (req.url?.startsWith('/boom')) {
      res.writeHead(500);
      return void res.end('no');
    }
    echo(req, res);
  });
  cleanup.push(() => up.close());
  const dir = await tempDir();
  cleanup.push(() => dir.remove());
  const file = join(dir.path, 'access.log');
  const gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    accessLog: { path: file, ...accessLog },
    services: { up: { targets: [{ url: up.url }] } },
    consumers: [{ id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] }],
    routes: [
      { name: 'open', match: { paths: ['/open/*', '/slow/*', '/boom/*'] }, service: 'up' },
      { name: 'keyed', match: { paths: ['/keyed/*'] }, service: 'up', policies: [{ type: 'key-auth' }] },
    ],
    ...extra,
  });
  cleanup.push(() => gw.stop());
  return { gw, up, dir, file };
}

async function get(url: string, headers: Record<string, string> = {}, body?: string): Promise<number> {
  const res = await request(url, { method: body ? 'POST' : 'GET', headers, body });
  await res.body.dump();
  return res.statusCode;
}

/** `get` over either protocol. */
async function send(client: TestClient, url: string, headers: Record<string, string> = {}, body?: string): Promise<number> {
  const res = await client.request(url, { method: body ? 'POST' : 'GET', headers, ...(body !== undefined ? { body } : {}) });
  await res.body.text();
  return res.statusCode;
}

for (const client of clients) {
  describe(client.name, () => {
    test('every field of a proxied request, the consumer and the bytes, the protocol', async () => {
      const { gw, file } = await setup({});
      assert.equal(
        await send(client, `${gw.url}/keyed/a?x=1`, { 'x-api-key': 'alice-key-0123456789', 'content-type': 'text/plain' }, 'hello body'),
        200,
      );
      const [line] = await waitFor('access-log lines', async () => {
        const l = await lines(file);
        return l.length >= 1 ? l : undefined;
      });
      assert.equal(line!.route, 'keyed');
      assert.equal(line!.service, 'up');
      assert.equal(line!.consumer, 'alice');
      assert.equal(line!.method, 'POST');
      assert.equal(line!.protocol, client.protocol);
      assert.equal(line!.path, '/keyed/a');
      assert.equal(line!.status, 200);
      assert.equal(line!.bytesIn, 10);
      // HTTP/1.1 counts the response head too; HTTP/2 the body (a connection's bytes are all its streams').
      assert.ok((line!.bytesOut as number) > 100, 'response counted');
      assert.equal(typeof line!.durationMs, 'number');
      assert.equal(typeof line!.upstreamMs, 'number');
      assert.equal(line!.retries, 0);
      assert.equal(line!.clientIp, '127.0.0.1');
      assert.match(line!.time as string, /^\d{4}-\d\d-\d\dT/);
      assert.match(line!.target as string, /^http:\/\/127\.0\.0\.1:\d+/);
      assert.equal(line!.rejectedBy, undefined);
      assert.equal('traceId' in line!, false, 'no tracing configured: no trace id');
    });

    test('the policy that refused a request is named; sampling 0 still logs errors and slow requests', async () => {
      const { gw, file } = await setup({ sample: 0, slowThreshold: '100ms' });
      assert.equal(await send(client, `${gw.url}/open/fast`), 200); // sampled out
      assert.equal(await send(client, `${gw.url}/keyed/x`), 401); // gateway error: always
      assert.equal(await send(client, `${gw.url}/boom/x`), 500); // upstream 5xx: always
      assert.equal(await send(client, `${gw.url}/slow/x`), 200); // slower than 100ms: always
      assert.equal(await send(client, `${gw.url}/nowhere`), 404); // no route: a gateway error
      assert.equal(await send(client, `${gw.url}/open/fast-again`), 200); // sampled out
      assert.equal(await send(client, `${gw.url}/nowhere-last`), 404); // written after everything above
      const got = await waitFor('access-log lines', async () => {
        const l = await lines(file);
        return l.some((x) => x.path === '/nowhere-last') ? l : undefined;
      });
      assert.deepEqual(
        got.map((l) => l.path),
        ['/keyed/x', '/boom/x', '/slow/x', '/nowhere', '/nowhere-last'],
      );
      const refused = got.find((l) => l.path === '/keyed/x')!;
      assert.equal(refused.rejectedBy, 'key-auth');
      assert.equal(refused.error, 'GW_UNAUTHORIZED');
      assert.equal(got.find((l) => l.path === '/nowhere')!.error, 'GW_ROUTE_NOT_FOUND');
    });
  });
}

test('fields picks what a line carries', async () => {
  const { gw, file } = await setup({ fields: ['status', 'route', 'userAgent'] });
  assert.equal(await get(`${gw.url}/open/a`, { 'user-agent': 'probe/1.0' }), 200);
  const [line] = await waitFor('access-log lines', async () => {
    const l = await lines(file);
    return l.length ? l : undefined;
  });
  assert.deepEqual(Object.keys(line!).sort(), ['route', 'status', 'time', 'userAgent']);
  assert.equal(line!.userAgent, 'probe/1.0');
});

test('fields: [time] alone still makes valid lines', async () => {
  const { gw, file } = await setup({ fields: ['time'] });
  assert.equal(await get(`${gw.url}/open/a`), 200);
  const [line] = await waitFor('access-log lines', async () => {
    const l = await lines(file);
    return l.length ? l : undefined;
  });
  assert.deepEqual(Object.keys(line!), ['time']);
});

test('reopen after rotation: new lines go to a new file at the configured path', async () => {
  const { gw, file } = await setup({});
  assert.equal(await get(`${gw.url}/open/before`), 200);
  await waitFor('access-log lines', async () => ((await lines(file)).length === 1 ? true : undefined));
  await rename(file, `${file}.1`);
  gw.instance.reopenLogs();
  assert.equal(await get(`${gw.url}/open/after`), 200);
  const fresh = await waitFor('access-log lines', async () => {
    const l = await lines(file);
    return l.length ? l : undefined;
  });
  assert.equal(fresh[0]!.path, '/open/after');
  assert.deepEqual(
    (await lines(`${file}.1`)).map((l) => l.path),
    ['/open/before'],
  );
});

test('accessLog: false does no per-request observation when nothing else is on', async () => {
  const up = await startUpstream();
  const gw = await startTestGateway({
    accessLog: false,
    metrics: { enabled: false },
    analytics: { enabled: false },
    services: { up: { targets: [{ url: up.url }] } },
    routes: [{ name: 'r', service: 'up' }],
  });
  cleanup.push(
    () => up.close(),
    () => gw.stop(),
  );
  const dp = (gw.instance.engine as unknown as { dp: { timed: boolean } }).dp;
  assert.equal(dp.timed, false);
  assert.equal(await get(`${gw.url}/x`), 200);
});
