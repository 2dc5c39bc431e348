// The life of a WebSocket connection at the gateway: the access-log line and the metrics when it
// ends, the idle timeout and the maximum lifetime (close 1001 to both sides), the caps per route
// and per consumer, a reload (open connections keep their plan), and shutdown (close 1001 to both
// sides, at a frame boundary even with a large message in flight).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { startTestGateway, testConfig, type TestGateway } from './helpers/gateway.js';
import { startWsUpstream, type WsUpstream } from './helpers/ws-upstream.js';
import { closed, connect, nextMessage, refusal } from './helpers/ws-client.js';
import { tempDir, waitFor } from './helpers/child.js';
import { validateConfig } from '../src/validation/validate.js';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

const CONSUMERS = [
  { id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] },
  { id: 'bob', credentials: [{ type: 'api-key', key: 'bob-key-0123456789ab' }] },
];

async function setup(routes: Record<string, unknown>[], extra: Record<string, unknown> = {}): Promise<{ gw: TestGateway; up: WsUpstream }> {
  const up = await startWsUpstream();
  cleanup.push(() => up.close());
  const gw = await startTestGateway({ services: { svc: { targets: [{ url: up.url }] } }, consumers: CONSUMERS, routes, ...extra });
  cleanup.push(() => gw.stop());
  return { gw, up };
}

const ws = (gw: TestGateway, path: string) => `ws://127.0.0.1:${gw.port}${path}`;

async function echoes(c: Awaited<ReturnType<typeof connect>>, text: string): Promise<void> {
  c.send(text);
  assert.equal((await nextMessage(c)).data.toString(), text);
}

async function metricsText(gw: TestGateway): Promise<string> {
  const res = await request(`${gw.adminUrl}/metrics`);
  return res.body.text();
}

function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('one access-log line when the connection ends: status 101, bytes each way, close code, duration', async () => {
  const dir = await tempDir();
  cleanup.push(() => dir.remove());
  const file = join(dir.path, 'access.log');
  const { gw } = await setup([{ name: 'chat', service: 'svc', websocket: true, policies: [{ type: 'key-auth' }] }], {
    accessLog: { path: file },
  });
  const c = await connect(ws(gw, '/room'), { headers: { 'x-api-key': 'alice-key-0123456789' } });
  await echoes(c, 'x'.repeat(1000));
  c.close(4000, 'bye');
  await closed(c);
  const line = await waitFor('the access-log line', async () => {
    const text = await readFile(file, 'utf8').catch(() => '');
    const l = text.split('\n').filter(Boolean);
    return l.length > 0 ? (JSON.parse(l[0]!) as Record<string, unknown>) : undefined;
  });
  assert.equal(line.status, 101);
  assert.equal(line.route, 'chat');
  assert.equal(line.consumer, 'alice');
  assert.equal(line.closeCode, 4000);
  assert.equal(line.aborted, false);
  // 1000 bytes of payload each way plus frame headers (the client's masked, with its close frame).
  assert.ok((line.bytesIn as number) >= 1000 + 8 && (line.bytesIn as number) < 1100, `bytesIn ${String(line.bytesIn)}`);
  assert.ok((line.bytesOut as number) >= 1000 + 4 && (line.bytesOut as number) < 1100, `bytesOut ${String(line.bytesOut)}`);
  assert.equal(typeof line.durationMs, 'number');
  assert.equal(typeof line.upstreamMs, 'number');
});

test('metrics: open connections, opened and closed totals by reason, bytes each way; not in the request duration', async () => {
  const { gw } = await setup([{ name: 'chat', service: 'svc', websocket: true }]);
  const c = await connect(ws(gw, '/m'));
  await echoes(c, 'hello');
  let m = await metricsText(gw);
  assert.equal(sample(m, 'gatehouse_websocket_connections', 'route="chat"'), 1);
  assert.equal(sample(m, 'gatehouse_websocket_connections_opened_total', 'route="chat"'), 1);
  c.close();
  await closed(c);
  m = await waitFor('the close to be counted', async () => {
    const t = await metricsText(gw);
    return sample(t, 'gatehouse_websocket_connections', 'route="chat"') === 0 ? t : undefined;
  });
  assert.equal(sample(m, 'gatehouse_websocket_connections_closed_total', 'reason="client"'), 1);
  assert.ok(sample(m, 'gatehouse_websocket_bytes_total', 'direction="in"')! > 5);
  assert.ok(sample(m, 'gatehouse_websocket_bytes_total', 'direction="out"')! > 5);
  assert.equal(sample(m, 'gatehouse_requests_total', 'status_class="1xx"'), 1, 'the handshake is a request');
  assert.equal(sample(m, 'gatehouse_request_duration_seconds_count', 'route="chat"'), 0, 'its lifetime is not a request duration');
});

test('idle timeout: a silent connection gets close 1001 on both sides', async () => {
  const { gw, up } = await setup([{ name: 'chat', service: 'svc', websocket: { idleTimeout: '300ms' } }]);
  const c = await connect(ws(gw, '/idle'));
  const { code, reason } = await closed(c);
  assert.equal(code, 1001);
  assert.equal(reason, 'idle timeout');
  await waitFor('the service to see the close', () => up.closes.length === 1);
  assert.deepEqual(up.closes, [1001]);
  const m = await metricsText(gw);
  assert.equal(sample(m, 'gatehouse_websocket_connections_closed_total', 'reason="idle"'), 1);
});

test('maximum lifetime: a connection is closed with 1001 however busy', async () => {
  const { gw, up } = await setup([{ name: 'chat', service: 'svc', websocket: { maxLifetime: '300ms' } }]);
  const c = await connect(ws(gw, '/life'));
  const timer = setInterval(() => c.send('busy'), 20);
  const { code, reason } = await closed(c);
  clearInterval(timer);
  assert.equal(code, 1001);
  assert.equal(reason, 'maximum lifetime reached');
  await waitFor('the service to see the close', () => up.closes.length === 1);
  assert.deepEqual(up.closes, [1001]);
});

test('caps: per consumer (429) and per route (503); a closed connection frees its place', async () => {
  const { gw } = await setup([
    {
      name: 'keyed',
      match: { paths: ['/keyed/*'] },
      service: 'svc',
      websocket: { maxConnectionsPerConsumer: 1 },
      policies: [{ type: 'key-auth' }],
    },
    { name: 'small', match: { paths: ['/small/*'] }, service: 'svc', websocket: { maxConnections: 1 } },
  ]);
  const alice = { headers: { 'x-api-key': 'alice-key-0123456789' } };
  const a1 = await connect(ws(gw, '/keyed/1'), alice);
  const r = await refusal(ws(gw, '/keyed/2'), alice);
  assert.equal(r.status, 429);
  assert.equal(r.code, 'GW_WEBSOCKET_CONSUMER_LIMIT');
  const b1 = await connect(ws(gw, '/keyed/1'), { headers: { 'x-api-key': 'bob-key-0123456789ab' } });
  a1.close();
  await closed(a1);
  const a2 = await waitFor('alice to get her place back', () => connect(ws(gw, '/keyed/3'), alice).catch(() => undefined));
  await echoes(a2, 'again');

  const s1 = await connect(ws(gw, '/small/1'));
  const full = await refusal(ws(gw, '/small/2'));
  assert.equal(full.status, 503);
  assert.equal(full.code, 'GW_WEBSOCKET_ROUTE_LIMIT');
  assert.equal(full.headers['retry-after'], '1');
  for (const c of [a2, b1, s1]) c.close();
});

test('reload: an open connection keeps working on its plan; new handshakes follow the new config', async () => {
  const routes = (websocket: boolean) => [{ name: 'chat', service: 'svc', websocket }];
  const { gw, up } = await setup(routes(true));
  const c = await connect(ws(gw, '/r'));
  await echoes(c, 'before');
  const result = await gw.instance.apply(
    validateConfig(testConfig({ services: { svc: { targets: [{ url: up.url }] } }, consumers: CONSUMERS, routes: routes(false) })),
    'test',
  );
  assert.equal(result.ok, true, JSON.stringify(result));
  await echoes(c, 'after the reload');
  const r = await refusal(ws(gw, '/r2'));
  assert.equal(r.code, 'GW_WEBSOCKET_NOT_ALLOWED');
  c.close();
  assert.equal((await closed(c)).code, 1005);
});

test('shutdown: close 1001 to both sides within the drain time, after the frame in flight', async () => {
  const { gw, up } = await setup([{ name: 'chat', service: 'svc', websocket: true }], { shutdown: { drainTimeout: '10s' } });
  const c = await connect(ws(gw, '/bye'));
  const quiet = await connect(ws(gw, '/quiet'));
  await echoes(c, 'warm');
  // A large message on its way both ways while the gateway stops: the close frame must not cut it.
  c.send(randomBytes(16 * 1024 * 1024));
  const closes = Promise.all([closed(c), closed(quiet)]);
  await gw.stop();
  for (const { code, reason } of await closes) {
    assert.equal(code, 1001);
    assert.equal(reason, 'gateway shutting down');
  }
  await waitFor('the service to see both closes', () => up.closes.length === 2);
  assert.deepEqual(up.closes, [1001, 1001], 'a clean close frame, not a broken frame (1002) or a dropped connection (1006)');
});
