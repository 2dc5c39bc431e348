// Internal dispatch (a batch item's way through the gateway, with no port): the whole request
// lifecycle of a real data plane runs on an in-memory connection — routing, key-auth and
// rate-limit refusing, ip-restriction seeing the dispatching client's address, a real service
// answering — with bounded bodies, cancellation, and nothing left open afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DataPlane } from '../src/dataplane/dataplane.js';
import { InternalDispatcher, InternalDispatchError, isInternalSocket, type DispatchFrom } from '../src/dataplane/internal-dispatch.js';
import { validateConfig } from '../src/validation/validate.js';
import { silentLogger } from '../src/observability/logger.js';
import type { InternalRequest, InternalResponse } from '../src/routes/types.js';
import { Canceller } from '../src/routes/cancel.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { waitFor } from './helpers/child.js';

let up: Upstream;
let dp: DataPlane;
const BIG = Buffer.alloc(256 * 1024, 'x');
/** The sockets the service's slow requests arrived on, and whether each closed before an answer. */
const slow: { closed: boolean }[] = [];
const FROM: DispatchFrom = { remoteAddress: '10.1.2.3', encrypted: false, internal: false };

before(async () => {
  up = await startUpstream((req, res) => {
    const p = req.url!.split('?')[0]!;
    if (p === '/open/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length });
      return res.end(BIG);
    }
    if (p === '/open/big-chunked') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(BIG.subarray(0, 1000));
      return setImmediate(() => res.end(BIG.subarray(1000)));
    }
    if (p === '/open/slow') {
      const seen = { closed: false };
      slow.push(seen);
      res.on('close', () => (seen.closed = !res.writableFinished));
      return; // never answers: only the dispatch's abort ends it
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] });
      res.end(body);
    });
  });
  const r = validateConfig({
    accessLog: false,
    listen: [{ port: 0, host: '127.0.0.1' }],
    services: { origin: { targets: [{ url: up.url }] } },
    consumers: [{ id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] }],
    routes: [
      { name: 'keyed', match: { paths: ['/keyed/*'] }, service: 'origin', policies: [{ type: 'key-auth' }] },
      {
        name: 'limited',
        match: { paths: ['/limited/*'] },
        service: 'origin',
        policies: [{ type: 'rate-limit', algorithm: 'fixed-window', limit: 2, window: '1h', by: 'ip' }],
      },
      {
        name: 'inside',
        match: { paths: ['/inside/*'] },
        service: 'origin',
        policies: [{ type: 'ip-restriction', allow: ['10.1.2.0/24'] }],
      },
      { name: 'open', match: { paths: ['/open/*'] }, service: 'origin' },
    ],
  });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  dp = new DataPlane(r.config, silentLogger);
});

after(async () => {
  await dp.destroy();
  await up.close();
});

function get(target: string, headers: string[] = []): InternalRequest {
  return { method: 'GET', target, headers: ['host', 'api.example', ...headers], body: null };
}

function header(res: InternalResponse, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < res.headers.length; i += 2) if (res.headers[i]!.toLowerCase() === name) out.push(res.headers[i + 1]!);
  return out;
}

function json(res: InternalResponse): { method: string; url: string; headers: Record<string, string>; body: string } {
  return JSON.parse(res.body.toString()) as never;
}

test('a dispatched request is routed and proxied as a client request: method, target, headers, body, response headers', async () => {
  const res = await dp.dispatchInternal(
    {
      method: 'POST',
      target: '/open/users?x=1&y=2',
      headers: ['host', 'api.example', 'content-type', 'application/json', 'x-custom', 'one', 'x-custom', 'two'],
      body: Buffer.from('{"a":1}'),
    },
    FROM,
  );
  assert.equal(res.status, 200);
  const seen = json(res);
  assert.equal(seen.method, 'POST');
  assert.equal(seen.url, '/open/users?x=1&y=2');
  assert.equal(seen.body, '{"a":1}');
  assert.equal(seen.headers['x-custom'], 'one, two');
  assert.equal(seen.headers['x-forwarded-for'], '10.1.2.3', 'the service sees the dispatching client as the peer');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-forwarded-host'], 'api.example');
  assert.deepEqual(header(res, 'set-cookie'), ['a=1', 'b=2'], 'repeated response fields stay apart');
  assert.ok(header(res, 'x-request-id')[0], 'the gateway answered (its request id)');
});

test('an encrypted origin is forwarded as https', async () => {
  const res = await dp.dispatchInternal(get('/open/tls'), { ...FROM, encrypted: true });
  assert.equal(json(res).headers['x-forwarded-proto'], 'https');
});

test('routing and policies answer as for a client: 404, key-auth 401 and 200, ip-restriction by the dispatching address, rate limit per IP', async () => {
  const none = await dp.dispatchInternal(get('/nowhere'), FROM);
  assert.equal(none.status, 404);
  assert.match(none.body.toString(), /GW_ROUTE_NOT_FOUND/);

  const anon = await dp.dispatchInternal(get('/keyed/a'), FROM);
  assert.equal(anon.status, 401);
  assert.match(anon.body.toString(), /GW_UNAUTHORIZED/);
  const keyed = await dp.dispatchInternal(get('/keyed/a', ['x-api-key', 'alice-key-0123456789']), FROM);
  assert.equal(keyed.status, 200);
  assert.equal(json(keyed).headers['x-consumer-id'], 'alice');

  assert.equal((await dp.dispatchInternal(get('/inside/a'), FROM)).status, 200);
  const outside = await dp.dispatchInternal(get('/inside/a'), { ...FROM, remoteAddress: '192.0.2.9' });
  assert.equal(outside.status, 403);
  assert.match(outside.body.toString(), /GW_IP_FORBIDDEN/);

  const a = { ...FROM, remoteAddress: '10.9.9.1' };
  const b = { ...FROM, remoteAddress: '10.9.9.2' };
  assert.equal((await dp.dispatchInternal(get('/limited/x'), a)).status, 200);
  assert.equal((await dp.dispatchInternal(get('/limited/x'), a)).status, 200);
  const third = await dp.dispatchInternal(get('/limited/x'), a);
  assert.equal(third.status, 429);
  assert.ok(header(third, 'retry-after')[0]);
  assert.equal((await dp.dispatchInternal(get('/limited/x'), b)).status, 200, 'another client address has its own count');
});

test('a response body over the limit rejects with too-large (declared length, and streamed without one)', async () => {
  for (const target of ['/open/big', '/open/big-chunked']) {
    await assert.rejects(
      dp.dispatchInternal({ ...get(target), maxBodyBytes: 64 * 1024 }, FROM),
      (err: unknown) => err instanceof InternalDispatchError && err.reason === 'too-large',
      target,
    );
  }
  const whole = await dp.dispatchInternal({ ...get('/open/big'), maxBodyBytes: BIG.length }, FROM);
  assert.equal(whole.body.length, BIG.length);
  await waitFor('nothing in flight', () => dp.inflight === 0);
});

test('a request that came through a dispatch cannot dispatch (no recursion); connection fields are not sent', async () => {
  await assert.rejects(
    dp.dispatchInternal(get('/open/a'), { ...FROM, internal: true }),
    (err: unknown) => err instanceof InternalDispatchError && err.reason === 'nested',
  );
  const res = await dp.dispatchInternal(get('/open/a', ['connection', 'x-drop', 'x-drop', 'gone', 'transfer-encoding', 'chunked']), FROM);
  assert.equal(res.status, 200);
  const seen = json(res).headers;
  assert.equal(seen['x-drop'], 'gone', 'only the connection fields themselves are left out (undici frames the request)');
  assert.equal(seen['transfer-encoding'], undefined);
});

test('the server end of the connection carries the marker, the client address and TLS flag', async () => {
  let seen: { internal: boolean; address: string | undefined; encrypted: unknown } | undefined;
  const d = new InternalDispatcher((req, res) => {
    seen = {
      internal: isInternalSocket(req.socket),
      address: req.socket.remoteAddress,
      encrypted: (req.socket as { encrypted?: boolean }).encrypted,
    };
    res.end('ok');
  }, dp.limits);
  const res = await d.dispatch(get('/x'), { remoteAddress: '2001:db8::7', encrypted: true, internal: false });
  assert.equal(res.body.toString(), 'ok');
  assert.deepEqual(seen, { internal: true, address: '2001:db8::7', encrypted: true });
  assert.equal(isInternalSocket({}), false);
  assert.equal(d.open, 0);
});

test('an aborted dispatch rejects, and the exchange sees its client leave (the service call is cancelled)', async () => {
  const ac = new Canceller();
  const p = dp.dispatchInternal({ ...get('/open/slow'), signal: ac }, FROM);
  await waitFor('the service has the request', () => slow.length === 1);
  ac.cancel();
  await assert.rejects(p, (err: unknown) => err instanceof InternalDispatchError && err.reason === 'aborted');
  await waitFor('the service call was cancelled', () => slow[0]!.closed);
  await waitFor('nothing in flight', () => dp.inflight === 0);
});

test('many dispatches, one after another and at once, leave no connection, timer or request behind', async () => {
  const sockets = new Set<{ destroyed: boolean }>();
  const d = new InternalDispatcher((req, res) => {
    sockets.add(req.socket);
    dp.handle(req, res);
  }, dp.limits);
  await d.dispatch(get('/open/warm'), FROM);
  const resources = () => process.getActiveResourcesInfo().filter((r) => r !== 'TCPSocketWrap').length;
  const before = resources();
  for (let i = 0; i < 200; i++) assert.equal((await d.dispatch(get(`/open/seq/${i}`), FROM)).status, 200);
  const many = await Promise.all(Array.from({ length: 50 }, (_, i) => d.dispatch(get(`/open/par/${i}`), FROM)));
  assert.ok(many.every((r) => r.status === 200));
  assert.equal(d.open, 0);
  assert.equal(sockets.size, 251, 'one connection per dispatch');
  await waitFor('every connection closed', () => [...sockets].every((s) => s.destroyed));
  await waitFor('nothing in flight', () => dp.inflight === 0);
  assert.ok(resources() <= before, `active resources ${resources()} (before: ${before}): ${process.getActiveResourcesInfo().join(',')}`);
  d.close();
  await assert.rejects(d.dispatch(get('/open/a'), FROM), (err: unknown) => err instanceof InternalDispatchError && err.reason === 'closed');
});
