// The batch route kind's handler over real sockets: a small HTTP server stands in for the exchange
// (it reads the body, builds the RouteCall, answers with what the handler returns) and dispatches
// each item into a real data plane (routes, key-auth, ip-restriction, a real service). It checks
// the request format, header inheritance, per-item outcomes, the bounds, and nesting.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { DataPlane } from '../src/dataplane/dataplane.js';
import { InternalDispatcher, isInternalSocket } from '../src/dataplane/internal-dispatch.js';
import { batchKind } from '../src/routes/batch/batch.js';
import { Canceller } from '../src/routes/cancel.js';
import { BatchSchema } from '../src/config/batch-schema.js';
import type { RouteCall, RouteHandler } from '../src/routes/types.js';
import type { RequestContext } from '../src/policies/types.js';
import { ERRORS, errorBody } from '../src/errors.js';
import { validateConfig } from '../src/validation/validate.js';
import { silentLogger } from '../src/observability/logger.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { waitFor } from './helpers/child.js';

let up: Upstream;
let dp: DataPlane;
let front: http.Server;
let base = '';
let slowStarted = 0;
const handlers = new Map<string, RouteHandler>();

function handler(config: unknown): RouteHandler {
  const r = validateConfig({});
  if (!r.ok) throw new Error('empty config invalid');
  return batchKind.create(BatchSchema.parse(config), { config: r.config, routeName: 'batch', log: silentLogger });
}

/** What the exchange does for a batch route, in brief: body read whole (413 past the limit), the call, the answer. */
async function serveBatch(h: RouteHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > h.maxBodyBytes) {
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
      return void res.end(errorBody('GW_PAYLOAD_TOO_LARGE'));
    }
    chunks.push(c);
  }
  const ac = new Canceller();
  res.on('close', () => {
    if (!res.writableFinished) ac.cancel();
  });
  const ctx = {
    req,
    requestId: 'b-1',
    method: req.method!,
    host: 'api.example',
    path: req.url!,
    query: '',
    clientIp: req.socket.remoteAddress!,
    routeName: 'batch',
    serviceName: '',
    params: {},
    identity: undefined,
    locals: new Map(),
  } satisfies RequestContext;
  const call: RouteCall = {
    ctx,
    body: size === 0 ? null : Buffer.concat(chunks),
    fetch: () => Promise.reject(new Error('no services in a batch')),
    dispatch: (r) =>
      dp.dispatchInternal(r, {
        remoteAddress: req.socket.remoteAddress!,
        encrypted: false,
        internal: isInternalSocket(req.socket),
      }),
    signal: ac,
    internal: isInternalSocket(req.socket),
    calls: [],
  };
  const answer = await h.handle(call);
  if ('serve' in answer) {
    const { status, headers, body } = answer.serve;
    res.writeHead(status, headers);
    return void res.end(body);
  }
  if ('error' in answer) {
    res.writeHead(ERRORS[answer.error].status, { 'content-type': 'application/json', ...answer.headers });
    return void res.end(errorBody(answer.error, 'b-1', answer.message, answer.details));
  }
  res.writeHead(answer.status);
  res.end(answer.body ?? '');
}

before(async () => {
  up = await startUpstream((req, res) => {
    const p = req.url!.split('?')[0]!;
    if (p === '/open/slow') {
      slowStarted++;
      return void setTimeout(() => res.end('late'), 2000).unref();
    }
    if (p === '/open/big') return void res.end(Buffer.alloc(4096, 'z'));
    if (p === '/open/png') {
      res.writeHead(200, { 'content-type': 'image/png' });
      return void res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0x00]));
    }
    if (p === '/open/text') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('plain words');
    }
    if (p === '/open/fail') {
      res.writeHead(500, { 'content-type': 'application/json' });
      return void res.end('{"oops":true}');
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'k=v' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('base64') }));
    });
  });
  const r = validateConfig({
    accessLog: false,
    listen: [{ port: 0, host: '127.0.0.1' }],
    services: { origin: { targets: [{ url: up.url }] } },
    consumers: [{ id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] }],
    routes: [
      { name: 'keyed', match: { paths: ['/keyed/*'] }, service: 'origin', policies: [{ type: 'key-auth' }] },
      { name: 'far', match: { paths: ['/far/*'] }, service: 'origin', policies: [{ type: 'ip-restriction', deny: ['127.0.0.0/8'] }] },
      { name: 'open', match: { paths: ['/open/*'] }, service: 'origin' },
    ],
  });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  dp = new DataPlane(r.config, silentLogger);
  handlers.set('/batch', handler({ maxRequests: 5 }));
  handlers.set('/wide', handler({ maxRequests: 20 }));
  handlers.set('/small', handler({ maxRequests: 5, maxBody: 200, maxResponseBody: 1000 }));
  handlers.set('/quick', handler({ maxRequests: 5, concurrency: 1, timeout: '300ms' }));
  front = http.createServer((req, res) => {
    void serveBatch(handlers.get(req.url!)!, req, res).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
});

after(async () => {
  front.closeAllConnections();
  await new Promise<void>((r) => front.close(() => r()));
  await dp.destroy();
  await up.close();
});

interface Entry {
  status: number;
  headers: Record<string, string | string[]>;
  body: unknown;
  encoding?: string;
}

async function batch(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, headers: res.headers, json: (await res.body.json()) as never };
}

const echoed = (e: Entry) => e.body as { method: string; url: string; headers: Record<string, string>; body: string };
const code = (x: unknown) => (x as { error: { code: string } }).error.code;

test('each request runs through its own route; the answer lists their responses in order', async () => {
  const { status, headers, json } = await batch(
    '/batch',
    [
      { path: '/open/a?x=1' },
      { method: 'post', path: '/open/b', body: { name: 'n' } },
      { method: 'PUT', path: '/open/c', body: 'text body', headers: { 'X-Item': 'mine' } },
      { path: '/keyed/d' },
      { path: '/nowhere' },
    ],
    { authorization: 'Bearer t', 'x-api-key': 'alice-key-0123456789', 'x-request-id': 'outer', 'if-none-match': '"e"' },
  );
  assert.equal(status, 200);
  assert.equal(headers['content-type'], 'application/json');
  const list = json as Entry[];
  assert.deepEqual(
    list.map((e) => e.status),
    [200, 200, 200, 200, 404],
  );
  const [a, b, c, d, e] = list as [Entry, Entry, Entry, Entry, Entry];
  assert.equal(echoed(a).url, '/open/a?x=1');
  assert.equal(echoed(a).method, 'GET');
  assert.equal(echoed(a).headers.authorization, 'Bearer t', 'the batch’s credentials are inherited');
  assert.equal(echoed(a).headers['if-none-match'], undefined, 'the batch’s own preconditions are not');
  assert.equal(echoed(a).headers['x-request-id'], 'b-1.0', 'each item has a request id derived from the batch’s');
  assert.equal(echoed(a).headers['x-forwarded-for'], '127.0.0.1', 'the batch’s client is each item’s');
  assert.deepEqual(a.headers['set-cookie'], ['k=v']);
  assert.equal(a.headers['content-length'], undefined);
  assert.equal(echoed(b).method, 'POST');
  assert.equal(echoed(b).headers['content-type'], 'application/json');
  assert.equal(Buffer.from(echoed(b).body, 'base64').toString(), '{"name":"n"}');
  assert.equal(echoed(c).headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(echoed(c).headers['x-item'], 'mine');
  assert.equal(Buffer.from(echoed(c).body, 'base64').toString(), 'text body');
  assert.equal(echoed(d).headers['x-consumer-id'], 'alice', 'authenticated once, for every item');
  assert.equal(code(e.body), 'GW_ROUTE_NOT_FOUND');
});

test('item headers override inherited ones; bodies: JSON parsed, text as text, binary in base64; failures are entries', async () => {
  const { json } = await batch(
    '/batch',
    {
      requests: [
        { path: '/keyed/x', headers: { 'x-api-key': 'wrong-key-0123456789' } },
        { path: '/open/png' },
        { path: '/open/text' },
        { path: '/open/fail' },
        { method: 'POST', path: '/open/raw', body: Buffer.from([1, 2, 255]).toString('base64'), encoding: 'base64' },
      ],
    },
    { 'x-api-key': 'alice-key-0123456789' },
  );
  const [auth, png, text, fail, raw] = json as [Entry, Entry, Entry, Entry, Entry];
  assert.equal(auth.status, 401);
  assert.equal(code(auth.body), 'GW_UNAUTHORIZED');
  assert.equal(png.encoding, 'base64');
  assert.deepEqual(Buffer.from(png.body as string, 'base64'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0x00]));
  assert.equal(text.body, 'plain words');
  assert.equal(text.encoding, undefined);
  assert.deepEqual([fail.status, fail.body], [500, { oops: true }]);
  assert.deepEqual(Buffer.from(echoed(raw).body, 'base64'), Buffer.from([1, 2, 255]));
  assert.equal(echoed(raw).headers['content-type'], 'application/octet-stream');
});

test('the client address is each item’s: ip-restriction refuses it per item', async () => {
  const { json } = await batch('/batch', [{ path: '/far/x' }, { path: '/open/x' }]);
  const [far, open] = json as [Entry, Entry];
  assert.equal(far.status, 403);
  assert.equal(code(far.body), 'GW_IP_FORBIDDEN');
  assert.equal(open.status, 200);
});

test('a malformed batch is refused whole with the problems listed, before any request runs', async () => {
  const hits = up.hits;
  const cases: [unknown, string, RegExp?][] = [
    ['not json', 'GW_BATCH_INVALID', /not valid JSON/],
    [{ path: '/open/a' }, 'GW_BATCH_INVALID', /list of requests/],
    [[], 'GW_BATCH_INVALID', /no requests/],
    [{ requests: [{ path: '/open/a' }], extra: 1 }, 'GW_BATCH_INVALID'],
    [Array.from({ length: 6 }, () => ({ path: '/open/a' })), 'GW_BATCH_TOO_MANY'],
  ];
  for (const [body, want, message] of cases) {
    const { status, json } = await batch('/batch', body);
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(code(json), want);
    if (message) assert.match((json as { error: { message: string } }).error.message, message);
  }
  const { json } = await batch('/wide', [
    { path: '/open/ok' },
    { path: 'http://evil.example/x' },
    { path: '//evil.example/x' },
    { method: 'CONNECT', path: '/open/a' },
    { path: '/open/a', headers: { host: 'other.example' } },
    { path: '/open/a', headers: { 'x-forwarded-for': '10.0.0.1' } },
    { path: '/open/a', body: { no: 'body on GET' } },
    { path: '/open/a', surprise: true },
    { path: '/open/a', headers: { 'x-bad': 'line\r\nbreak' } },
  ]);
  const details = (json as { error: { details: { index: number; field?: string }[] } }).error.details;
  assert.equal(code(json), 'GW_BATCH_INVALID');
  assert.deepEqual(
    details.map((d) => [d.index, d.field]),
    [
      [1, 'path'],
      [2, 'path'],
      [3, 'method'],
      [4, 'headers.host'],
      [5, 'headers.x-forwarded-for'],
      [6, 'body'],
      [7, 'surprise'],
      [8, 'headers.x-bad'],
    ],
  );
  const plain = await request(base + '/batch', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '[]' });
  assert.equal(plain.statusCode, 400);
  assert.equal(code(await plain.body.json()), 'GW_BATCH_INVALID');
  const get = await request(base + '/batch');
  assert.equal(get.statusCode, 405);
  assert.equal(get.headers.allow, 'POST');
  await get.body.dump();
  assert.equal(up.hits, hits, 'nothing reached the service');
});

test('bounds: a body over maxBody is 413; a response over maxResponseBody is that item’s 502', async () => {
  const over = await batch('/small', [{ path: '/open/' + 'a'.repeat(200) }]);
  assert.equal(over.status, 413);
  const { json } = await batch('/small', [{ path: '/open/big' }, { path: '/open/text' }]);
  const [big, text] = json as [Entry, Entry];
  assert.equal(big.status, 502);
  assert.equal(code(big.body), 'GW_BATCH_ITEM_TOO_LARGE');
  assert.equal(text.body, 'plain words');
});

test('the batch timeout cancels the running request and answers the rest as not run', async () => {
  const before = slowStarted;
  const { status, json } = await batch('/quick', [{ path: '/open/text' }, { path: '/open/slow' }, { path: '/open/slow' }]);
  assert.equal(status, 200);
  const [text, cancelled, notRun] = json as [Entry, Entry, Entry];
  assert.equal(text.body, 'plain words');
  assert.equal(code(cancelled.body), 'GW_BATCH_TIMEOUT');
  assert.match((cancelled.body as { error: { message: string } }).error.message, /Cancelled/);
  assert.equal(code(notRun.body), 'GW_BATCH_TIMEOUT');
  assert.match((notRun.body as { error: { message: string } }).error.message, /Not run/);
  assert.equal(slowStarted - before, 1, 'the request after the timeout never started');
  await waitFor('nothing in flight', () => dp.inflight === 0);
});

test('a batch that came through a dispatch (a batch in a batch) is refused', async () => {
  const inner = new InternalDispatcher((req, res) => void serveBatch(handlers.get('/batch')!, req, res), dp.limits);
  const res = await inner.dispatch(
    {
      method: 'POST',
      target: '/batch',
      headers: ['host', 'api.example', 'content-type', 'application/json'],
      body: Buffer.from('[{"path":"/open/a"}]'),
    },
    { remoteAddress: '127.0.0.1', encrypted: false, internal: false },
  );
  assert.equal(res.status, 400);
  assert.equal(code(JSON.parse(res.body.toString())), 'GW_BATCH_NESTED');
});
