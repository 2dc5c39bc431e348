// The cache as a gateway feature: request coalescing (100 concurrent misses, one request to the
// service), bodies streamed to the first client while they are stored, maxObjectSize, consumers
// kept apart, authentication and rate limits still running on a hit, and the metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';
import { waitFor } from './helpers/child.js';

let up: Upstream;
let gw: TestGateway;
const counts = new Map<string, number>();
const BIG = Buffer.alloc(2 * 1024 * 1024, 'b');
/** Resolves the stream test's origin: it holds the rest of its body until the client has the start. */
let releaseStream: (() => void) | undefined;

before(async () => {
  up = await startUpstream((req, res) => {
    const p = req.url!.split('?')[0]!;
    counts.set(p, (counts.get(p) ?? 0) + 1);
    if (p.startsWith('/slow/')) {
      // A cold key whose answer takes a while: every concurrent miss arrives before it is stored.
      setTimeout(() => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
        res.end(`slow answer ${counts.get(p)!}`);
      }, 300);
      return;
    }
    if (p === '/stream') {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.write('first part;');
      releaseStream = () => res.end('second part');
      return;
    }
    if (p.startsWith('/big')) {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': BIG.length });
      return res.end(BIG);
    }
    if (p.startsWith('/tagged/')) {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'surrogate-key': `all ${p.split('/')[2]!}` });
      return res.end(`tagged ${counts.get(p)!}`);
    }
    const consumer = String(req.headers['x-consumer-id'] ?? 'nobody');
    const cc = p.startsWith('/public') ? 'public, max-age=60' : 'max-age=60';
    res.writeHead(200, { 'cache-control': cc, 'content-type': 'text/plain' });
    res.end(`for ${consumer} #${counts.get(p)!}`);
  });
  gw = await startTestGateway({
    metrics: { enabled: true },
    admin: { port: 0, host: '127.0.0.1' },
    services: { origin: { targets: [{ url: up.url }] } },
    consumers: [
      { id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] },
      { id: 'bob', credentials: [{ type: 'api-key', key: 'bob-key-0123456789' }] },
    ],
    routes: [
      {
        name: 'per-consumer',
        match: { paths: ['/mine/*'] },
        service: 'origin',
        policies: [{ type: 'key-auth' }, { type: 'cache', key: ['consumer'] }],
      },
      {
        name: 'keyed',
        match: { paths: ['/shared/*', '/public/*'] },
        service: 'origin',
        policies: [{ type: 'key-auth' }, { type: 'cache' }],
      },
      {
        name: 'limited',
        match: { paths: ['/limited/*'] },
        service: 'origin',
        policies: [{ type: 'cache' }, { type: 'rate-limit', algorithm: 'fixed-window', limit: 2, window: '1h', by: 'ip' }],
      },
      { name: 'cached', match: { paths: ['/*'] }, service: 'origin', policies: [{ type: 'cache', maxObjectSize: '1mb' }] },
    ],
  });
});

after(async () => {
  releaseStream?.();
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

async function get(path: string, headers: Record<string, string> = {}) {
  const r = await request(gw.url + path, { headers });
  return { status: r.statusCode, body: await r.body.text(), cacheStatus: String(r.headers['cache-status']) };
}

test('100 concurrent requests for a cold key: the service sees exactly 1, every client gets its answer', async () => {
  const answers = await Promise.all(Array.from({ length: 100 }, () => get('/slow/cold')));
  assert.equal(counts.get('/slow/cold'), 1);
  for (const a of answers) {
    assert.equal(a.status, 200);
    assert.equal(a.body, 'slow answer 1');
  }
  const collapsed = answers.filter((a) => a.cacheStatus.includes('collapsed')).length;
  assert.equal(collapsed, 99, 'all but the first waited for it');
});

test('the body streams to the first client while it is stored: the client has its start before the service ends it', async () => {
  const r = await request(`${gw.url}/stream`);
  const it = r.body[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(Buffer.from(first.value as Buffer).toString(), 'first part;', 'the start arrived while the service still held the rest');
  releaseStream!();
  let rest = '';
  for (let c = await it.next(); c.done !== true; c = await it.next()) rest += Buffer.from(c.value as Buffer).toString();
  assert.equal(rest, 'second part');
  await waitFor('the entry to be stored', async () => (await get('/stream')).cacheStatus.includes('hit'));
  assert.equal((await get('/stream')).body, 'first part;second part');
  assert.equal(counts.get('/stream'), 1);
});

test('a response over maxObjectSize streams whole to the client and is not stored', async () => {
  for (let i = 0; i < 2; i++) {
    const r = await request(`${gw.url}/big`);
    const body = Buffer.from(await r.body.arrayBuffer());
    assert.equal(body.length, BIG.length);
    assert.ok(body.equals(BIG));
  }
  assert.equal(counts.get('/big'), 2);
});

test('a per-consumer key keeps consumers apart; a response to a verified consumer is shared only when it says public', async () => {
  const alice = { 'x-api-key': 'alice-key-0123456789' };
  const bob = { 'x-api-key': 'bob-key-0123456789' };
  assert.equal((await get('/mine/a', alice)).body, 'for alice #1');
  assert.equal((await get('/mine/a', bob)).body, 'for bob #2');
  const again = await get('/mine/a', alice);
  assert.equal(again.body, 'for alice #1');
  assert.match(again.cacheStatus, /hit/);
  assert.equal((await get('/mine/a', bob)).body, 'for bob #2');
  // Without the consumer in the key: never stored for one consumer and served to another…
  assert.equal((await get('/shared/a', alice)).body, 'for alice #1');
  assert.equal((await get('/shared/a', bob)).body, 'for bob #2');
  // …unless the service says the response is for everyone.
  assert.equal((await get('/public/a', alice)).body, 'for alice #1');
  assert.equal((await get('/public/a', bob)).body, 'for alice #1');
});

test('policies before the cache still run on a hit: authentication and the rate limit', async () => {
  const alice = { 'x-api-key': 'alice-key-0123456789' };
  await get('/mine/auth', alice);
  assert.match((await get('/mine/auth', alice)).cacheStatus, /hit/);
  assert.equal((await get('/mine/auth')).status, 401, 'a stored response is not served without the key');
  assert.equal((await get('/limited/x')).status, 200);
  assert.match((await get('/limited/x')).cacheStatus, /hit/);
  assert.equal((await get('/limited/x')).status, 429, 'a hit counts against the limit too');
});

test('metrics: hits, misses, coalesced waits and bytes stored', async () => {
  const text = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  assert.match(text, /gatehouse_cache_requests_total\{route="cached",result="coalesced"\} 99/);
  assert.match(text, /gatehouse_cache_requests_total\{route="cached",result="miss"\} \d+/);
  assert.match(text, /gatehouse_cache_requests_total\{route="per-consumer",result="hit"\} \d+/);
  assert.match(text, /gatehouse_cache_stored_bytes_total\{route="cached"\} \d+/);
  assert.match(text, /gatehouse_cache_entries\{store="memory"\} [1-9]\d*/);
  assert.match(text, /gatehouse_cache_bytes\{store="memory"\} [1-9]\d*/);
  assert.match(text, /gatehouse_cache_evictions_total\{store="memory"\} 0/);
});

test('admin: DELETE /cache by tag, by prefix and by key; GET /cache/stats; a bad purge is 400', async () => {
  const purge = async (q: string) => {
    const r = await request(`${gw.adminUrl}/cache?${q}`, { method: 'DELETE' });
    return { status: r.statusCode, body: (await r.body.json()) as { deleted: number; error?: { code: string } } };
  };
  const paths = ['/tagged/red/1', '/tagged/red/2', '/tagged/blue/1'];
  const warm = async () => {
    for (const p of paths) await get(p);
    for (const p of paths) assert.match((await get(p)).cacheStatus, /hit/, p);
  };
  await warm();
  assert.equal((await purge('tag=red')).body.deleted, 2);
  assert.match((await get('/tagged/red/1')).cacheStatus, /miss/);
  assert.match((await get('/tagged/blue/1')).cacheStatus, /hit/);
  await warm();
  const host = new URL(gw.url).hostname; // the canonical host: lower case, no port (as routes match it)
  assert.equal((await purge(`prefix=${encodeURIComponent(`GET ${host}/tagged/red/`)}`)).body.deleted, 2);
  assert.match((await get('/tagged/red/2')).cacheStatus, /miss/);
  await warm();
  assert.equal((await purge(`key=${encodeURIComponent(`GET ${host}/tagged/blue/1?#`)}`)).body.deleted, 1);
  assert.match((await get('/tagged/blue/1')).cacheStatus, /miss/);
  for (const bad of ['', 'key=a&tag=b', 'prefix=', 'tag=a&tag=b']) {
    const r = await purge(bad);
    assert.equal(r.status, 400, bad);
    assert.equal(r.body.error?.code, 'ADMIN_BAD_QUERY');
  }
  const stats = (await (await request(`${gw.adminUrl}/cache/stats`)).body.json()) as {
    stores: { type: string; entries: number; bytes: number }[];
  };
  assert.equal(stats.stores.length, 1);
  assert.equal(stats.stores[0]!.type, 'memory');
  assert.ok(stats.stores[0]!.entries > 0 && stats.stores[0]!.bytes > 0);
});

test('over HTTP/2 a hit is served like over HTTP/1.1: the same body, Age and Cache-Status', async () => {
  const h2gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: { origin: { targets: [{ url: up.url }] } },
    routes: [{ name: 'h2', match: { paths: ['/*'] }, service: 'origin', policies: [{ type: 'cache' }] }],
  });
  const session = http2.connect(h2gw.url);
  try {
    const fetch2 = () =>
      new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const st = session.request({ ':path': '/h2/x' });
        let body = '';
        let headers: http2.IncomingHttpHeaders = {};
        st.on('response', (h) => (headers = h));
        st.setEncoding('utf8');
        st.on('data', (c: string) => (body += c));
        st.on('end', () => resolve({ headers, body }));
        st.on('error', reject);
      });
    const first = await fetch2();
    const second = await fetch2();
    assert.equal(second.headers[':status'], 200);
    assert.equal(second.body, first.body);
    assert.match(String(second.headers['cache-status']), /hit/);
    assert.match(String(second.headers.age), /^\d+$/);
    assert.equal(second.headers['content-length'], String(Buffer.byteLength(first.body)));
    assert.equal(counts.get('/h2/x'), 1);
  } finally {
    session.destroy();
    await h2gw.stop();
  }
});
