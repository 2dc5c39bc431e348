// HTTP/2 requests through the gateway (h2c with prior knowledge on a plain listener with
// `http2: true`; node:http2 as the client): how an HTTP/2 request becomes the request an
// HTTP/1.1 or HTTP/2 upstream gets — :authority and Host, cookie crumbs, bodies without
// Content-Length, trailers both ways — and what a stream's answer may not do to its connection.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { tempDir, waitFor, type TempDir } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';

let up: Upstream;
let h2up: http2.Http2Server;
let gw: TestGateway;
let dir: TempDir;
let session: ClientHttp2Session;
/** Resolves when the upstream has the first bytes of an upload to /upload/unsized. */
let uploadStarted: () => void = () => {};
let dripClosed = 0;

before(async () => {
  up = await startUpstream((req, res) => {
    if (req.url === '/trailers') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('body;');
      res.addTrailers({ 'x-checksum': 'abc' });
      return void res.end();
    }
    if (req.url === '/download') {
      // 8 MB in 64 KB writes, each waiting for 'drain': the gateway's backpressure reaches here.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let n = 0;
      const write = (): void => {
        while (n < 128) {
          n++;
          if (!res.write(Buffer.alloc(64 * 1024, n % 256))) return void res.once('drain', write);
        }
        res.end();
      };
      return write();
    }
    if (req.url?.startsWith('/drip') === true) {
      // A response that never ends on its own: a byte every 20 ms until the gateway cancels it.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('.'), 20);
      return void res.once('close', () => {
        clearInterval(timer);
        dripClosed++;
      });
    }
    if (req.url === '/connection-headers') {
      res.writeHead(200, { connection: 'keep-alive, x-hop', 'keep-alive': 'timeout=5', 'x-hop': '1', 'x-kept': 'yes' });
      return void res.end('ok');
    }
    let n = 0;
    req.on('data', (c: Buffer) => {
      if (n === 0 && req.url === '/upload/unsized') uploadStarted();
      n += c.length;
    });
    req.on('end', () => {
      const body = JSON.stringify({ url: req.url, bytes: n, headers: req.headers, raw: req.rawHeaders });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  // An HTTP/2 (h2c) upstream that answers like a gRPC server: the body, then trailers; the request's
  // trailers come back as response trailers.
  h2up = http2.createServer();
  h2up.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    let n = 0;
    let reqTrailers: IncomingHttpHeaders = {};
    stream.on('trailers', (t: IncomingHttpHeaders) => (reqTrailers = t));
    stream.on('data', (c: Buffer) => (n += c.length));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-te': String(headers.te) }, { waitForTrailers: true });
      stream.on('wantTrailers', () =>
        stream.sendTrailers({
          'grpc-status': '0',
          'x-request-trailer': String(reqTrailers['x-sum'] ?? ''),
          'x-request-trailer-names': Object.keys(reqTrailers).join(','),
        }),
      );
      stream.end(`got ${n} bytes`);
    });
  });
  await new Promise<void>((r) => h2up.listen(0, '127.0.0.1', r));
  dir = await tempDir();
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    accessLog: { path: join(dir.path, 'access.log') },
    services: {
      up: { targets: [{ url: up.url }] },
      grpc: { targets: [{ url: `http://127.0.0.1:${(h2up.address() as AddressInfo).port}` }], protocol: 'h2c' },
    },
    routes: [
      { name: 'grpc', match: { paths: ['/grpc/*'] }, service: 'grpc' },
      { name: 'small', match: { paths: ['/small/*'] }, service: 'up', policies: [{ type: 'request-size-limit', maxBody: 1024 }] },
      { name: 'keyed', match: { paths: ['/keyed/*'] }, service: 'up', policies: [{ type: 'key-auth' }] },
      {
        name: 'hop',
        match: { paths: ['/hop/*'] },
        service: 'up',
        policies: [
          { type: 'headers', response: { set: { connection: 'close', 'x-policy': 'yes' } } },
          { type: 'request-termination', status: 200, body: 'answered', headers: { connection: 'close', 'x-answer': 'yes' } },
        ],
      },
      {
        name: 'by-host',
        match: { paths: ['/by-host'], headers: { host: 'api.example' } },
        service: 'up',
        policies: [{ type: 'request-termination', status: 200, body: 'matched by host' }],
      },
      { name: 'all', match: { paths: ['/*'] }, service: 'up' },
    ],
  });
  session = http2.connect(gw.url);
  session.on('error', () => {});
});

after(async () => {
  maybeUnset(session)?.destroy();
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
  await new Promise<void>((r) => (h2up as http2.Http2Server | undefined)?.close(() => r()) ?? r());
  await maybeUnset(dir)?.remove();
});

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  body: string;
}

/**
 * One stream; `body` chunks are written in turn (a function is awaited before the next one),
 * `trailers` after them.
 */
function send(
  headers: OutgoingHttpHeaders,
  body?: (string | Buffer | (() => Promise<void>))[],
  trailers?: OutgoingHttpHeaders,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined, waitForTrailers: trailers !== undefined });
    const reply: Reply = { status: 0, headers: {}, trailers: {}, body: '' };
    stream.on('response', (h) => {
      reply.headers = h;
      reply.status = Number(h[':status']);
    });
    stream.on('trailers', (t: IncomingHttpHeaders) => (reply.trailers = t));
    stream.on('data', (c: Buffer) => (reply.body += c.toString()));
    stream.on('end', () => {
      stream.destroy();
      resolve(reply);
    });
    stream.on('error', reject);
    if (trailers !== undefined) stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    if (body === undefined) return;
    void (async () => {
      for (const c of body) {
        if (typeof c === 'function') await c();
        else stream.write(c);
      }
      stream.end();
    })();
  });
}

const echoOf = (r: Reply) => JSON.parse(r.body) as { url: string; bytes: number; headers: Record<string, string>; raw: string[] };

test(':authority is the host; a Host field beside it must agree (RFC 9113 §8.3.1), or the request is refused', async () => {
  const agree = await send({ ':path': '/a', ':authority': 'api.example', host: 'API.example' });
  assert.equal(agree.status, 200);
  assert.equal(echoOf(agree).headers['x-forwarded-host'], 'api.example');
  const differ = await send({ ':path': '/a', ':authority': 'api.example', host: 'other.example' });
  assert.equal(differ.status, 400);
  assert.match(differ.body, /GW_BAD_REQUEST/);
  const hostOnly = await send({ ':path': '/a', host: 'host-only.example' });
  assert.equal(echoOf(hostOnly).headers['x-forwarded-host'], 'host-only.example');
  // The refusal ended its stream only: the connection still serves.
  assert.equal((await send({ ':path': '/a' })).status, 200);
});

test('a header condition on host sees :authority, as over HTTP/1.1 it sees Host', async () => {
  assert.equal((await send({ ':path': '/by-host', ':authority': 'api.example' })).body, 'matched by host');
  assert.notEqual((await send({ ':path': '/by-host', ':authority': 'other.example' })).body, 'matched by host');
});

test('pseudo-headers are never forwarded; cookie crumbs become one Cookie field for the HTTP/1.1 upstream', async () => {
  const r = await send({ ':path': '/a', cookie: ['a=1', 'b=2', 'c=3'] });
  const seen = echoOf(r);
  assert.equal(seen.headers.cookie, 'a=1; b=2; c=3');
  assert.equal(seen.raw.filter((h) => h.toLowerCase() === 'cookie').length, 1);
  assert.ok(!seen.raw.some((h) => h.startsWith(':')), seen.raw.join(','));
});

/** The access log's line for `path`, once it is written. */
function accessLogLine(path: string): Promise<Record<string, unknown>> {
  return waitFor(`the access-log line of ${path}`, async () => {
    const text = await readFile(join(dir.path, 'access.log'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.path === path);
  });
}

test('a body without Content-Length streams upstream (chunked) and is counted in the access log', async () => {
  // The second half is sent once the upstream has the first: the body is still streaming when it goes up.
  const started = new Promise<void>((r) => (uploadStarted = r));
  const r = await send({ ':method': 'POST', ':path': '/upload/unsized' }, ['x'.repeat(5000), () => started, 'y'.repeat(5000)]);
  const seen = echoOf(r);
  assert.equal(seen.bytes, 10_000);
  assert.equal(seen.headers['transfer-encoding'], 'chunked');
  const sized = await send({ ':method': 'POST', ':path': '/upload/sized', 'content-length': '3' }, ['abc']);
  assert.equal(echoOf(sized).headers['content-length'], '3');
  const line = await accessLogLine('/upload/unsized');
  assert.equal(line.protocol, 'HTTP/2.0');
  assert.equal(line.bytesIn, 10_000);
  assert.ok((line.bytesOut as number) > 100);
});

test("a route's body limit holds for a body without Content-Length: 413, and the connection serves on", async () => {
  const r = await send({ ':method': 'POST', ':path': '/small/x' }, ['z'.repeat(600), 'z'.repeat(600)]);
  assert.equal(r.status, 413);
  assert.equal((await send({ ':path': '/a' })).status, 200);
});

test('an answer before the upload ends resets that stream (NO_ERROR); the connection keeps serving', async () => {
  const stream = session.request({ ':method': 'POST', ':path': '/keyed/x' }, { endStream: false });
  stream.on('error', () => {});
  stream.write(Buffer.alloc(200_000, 1)); // more than a stream window: the client cannot finish alone
  const reset = new Promise<void>((r) => stream.on('aborted', () => r())); // RST_STREAM from the gateway
  stream.on('data', () => {});
  const status = await new Promise<number>((r) => stream.on('response', (h) => r(Number(h[':status']))));
  assert.equal(status, 401);
  await reset;
  assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  stream.destroy(); // node's client stream still holds the unsent upload
  assert.equal((await send({ ':path': '/a' })).status, 200);
});

test('response trailers: HTTP/2 client always; HTTP/1.1 client only with TE: trailers (chunked)', async () => {
  const h2 = await send({ ':path': '/trailers' });
  assert.equal(h2.body, 'body;');
  assert.equal(h2.trailers['x-checksum'], 'abc');
  const withTe = await request(`${gw.url}/trailers`, { headers: { te: 'trailers' } });
  assert.equal(await withTe.body.text(), 'body;');
  assert.equal(withTe.trailers['x-checksum'], 'abc');
  const without = await request(`${gw.url}/trailers`);
  assert.equal(await without.body.text(), 'body;');
  assert.equal(without.trailers['x-checksum'], undefined);
});

test('an h2c upstream: request trailers go up, response trailers (gRPC style) come back, te: trailers is sent', async () => {
  const r = await send(
    { ':method': 'POST', ':path': '/grpc/Echo', 'content-type': 'application/grpc', te: 'trailers' },
    [Buffer.alloc(5, 0)],
    { 'x-sum': '42' },
  );
  assert.equal(r.status, 200);
  assert.equal(r.body, 'got 5 bytes');
  assert.equal(r.headers['x-te'], 'trailers');
  assert.equal(r.trailers['grpc-status'], '0');
  assert.equal(r.trailers['x-request-trailer'], '42');
});

test('request trailers carry no identity, forwarding or tracing field upstream (a forged x-consumer-id is dropped)', async () => {
  const r = await send(
    { ':method': 'POST', ':path': '/grpc/Echo', 'content-type': 'application/grpc', te: 'trailers' },
    [Buffer.alloc(5, 0)],
    {
      'x-sum': '7',
      'x-consumer-id': 'mallory',
      'x-consumer-groups': 'admin',
      'x-forwarded-for': '6.6.6.6',
      forwarded: 'for=6.6.6.6',
      'x-request-id': 'forged',
      via: 'evil',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    },
  );
  assert.equal(r.status, 200);
  assert.equal(r.trailers['x-request-trailer-names'], 'x-sum');
});

test('connection-specific fields never reach an HTTP/2 client, from the upstream or a policy', async () => {
  const r = await send({ ':path': '/connection-headers' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-kept'], 'yes');
  for (const h of ['connection', 'keep-alive', 'x-hop']) assert.equal(r.headers[h], undefined, h);
  const answered = await send({ ':path': '/hop/x' });
  assert.equal(answered.status, 200);
  assert.equal(answered.body, 'answered');
  assert.equal(answered.headers['x-answer'], 'yes');
  assert.equal(answered.headers.connection, undefined);
  assert.equal((await send({ ':path': '/a' })).status, 200);
});

test('many streams at once on one connection', async () => {
  const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => send({ ':path': `/many/${i}` })));
  assert.deepEqual(
    replies.map((r) => echoOf(r).url),
    replies.map((_, i) => `/many/${i}`),
  );
});

test('a header list over the field limit is answered 431, as over HTTP/1.1', async () => {
  const headers: OutgoingHttpHeaders = { ':path': '/a' };
  for (let i = 0; i < 101; i++) headers[`x-h${i}`] = 'v';
  assert.equal((await send(headers)).status, 431);
  assert.equal((await send({ ':path': '/a' })).status, 200);
});

test('8 MB each way streams with backpressure: an upload without Content-Length, a download read slowly', async () => {
  const chunks = Array.from({ length: 128 }, () => Buffer.alloc(64 * 1024, 7));
  const up8 = await send({ ':method': 'POST', ':path': '/upload/big' }, chunks);
  assert.equal(echoOf(up8).bytes, 8 * 2 ** 20);
  const got = await new Promise<number>((resolve, reject) => {
    const stream = session.request({ ':path': '/download' });
    let n = 0;
    stream.on('data', (c: Buffer) => {
      n += c.length;
      if (n % (2 * 2 ** 20) < c.length) {
        // A slow reader now and then: the window fills, the upstream waits.
        stream.pause();
        setTimeout(() => stream.resume(), 20);
      }
    });
    stream.on('end', () => resolve(n));
    stream.on('error', reject);
  });
  assert.equal(got, 8 * 2 ** 20);
});

test('a client that resets its stream mid-response: the upstream call is cancelled and the access log says aborted', async () => {
  // Node's compatibility response calls itself finished once its stream closes, reset or not.
  const stream = session.request({ ':path': '/drip/reset' });
  stream.on('error', () => {});
  await new Promise<void>((r) => stream.once('data', () => r()));
  stream.close(http2.constants.NGHTTP2_CANCEL);
  await waitFor('the upstream response to be cancelled', () => dripClosed === 1);
  const line = await accessLogLine('/drip/reset');
  assert.equal(line.aborted, true);
  assert.equal(line.status, 200);
  const ok = await send({ ':path': '/plain' });
  assert.equal(ok.status, 200, 'the connection serves on');
});
