// The HTTP/2 upstream pool against real node:http2 servers (h2c, and h2 over TLS with a CA made at
// test time): multiplexing over few connections, bodies and trailers both ways with backpressure,
// and failures in undici's words (what failureKind and the retries read).
import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { H2Pool, type H2DispatchOptions, type H2Handler } from './h2-pool.js';
import { failureKind } from './attempt-result.js';
import { makePki } from '../../test/helpers/certs.js';
import { closedPort } from '../../test/helpers/wire.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Upstream {
  origin: string;
  sessions: number;
  server: Http2Server;
}

async function serve(
  onStream: (s: ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
  settings: http2.Settings = {},
): Promise<Upstream> {
  const server = http2.createServer({ settings });
  const up = { sessions: 0, server } as Upstream;
  server.on('session', () => up.sessions++);
  server.on('stream', (s, h) => {
    s.on('error', () => {}); // a stream the test resets errors on this side too
    onStream(s, h);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  up.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return up;
}

function pool(origin: string, opts: Partial<ConstructorParameters<typeof H2Pool>[1]> = {}): H2Pool {
  const p = new H2Pool(origin, { connectTimeout: 2000, maxConnections: 4, keepAliveTimeout: 5000, ...opts });
  cleanups.push(() => p.destroy());
  return p;
}

interface Result {
  status: number;
  headers: string[];
  body: string;
  trailers: string[] | null;
  error: NodeJS.ErrnoException | undefined;
}

/** Dispatches one request; `pauseFor` ms of backpressure after the first chunk. */
function call(p: H2Pool, opts: Partial<H2DispatchOptions> = {}, pauseFor = 0): Promise<Result> & { abort: () => void } {
  let abort: (err?: Error) => void = () => {};
  const result: Result = { status: 0, headers: [], body: '', trailers: null, error: undefined };
  let resume = () => {};
  let paused = false;
  const done = new Promise<Result>((resolve) => {
    const handler: H2Handler = {
      onConnect: (a) => (abort = a),
      onHeaders: (status, raw, r) => {
        result.status = status;
        result.headers = raw;
        resume = r;
        return true;
      },
      onData: (chunk) => {
        result.body += chunk.toString('latin1');
        if (pauseFor > 0 && !paused) {
          paused = true;
          setTimeout(() => resume(), pauseFor);
          return false;
        }
        return true;
      },
      onComplete: (t) => {
        result.trailers = t;
        resolve(result);
      },
      onError: (err) => {
        result.error = err;
        resolve(result);
      },
    };
    p.dispatch({ origin: p.origin, method: 'GET', path: '/', headers: [], headersTimeout: 5000, bodyTimeout: 5000, ...opts }, handler);
  });
  return Object.assign(done, { abort: () => abort() });
}

describe('h2c', () => {
  test('many concurrent requests share one connection; Host becomes :authority', async () => {
    const up = await serve((s, h) => {
      s.respond({ ':status': 200, 'x-seen-authority': String(h[':authority']), 'set-cookie': ['a=1', 'b=2'] });
      s.end(`hello ${String(h[':path'])}`);
    });
    const p = pool(up.origin);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => call(p, { path: `/r${i}`, headers: ['host', 'api.example'] })));
    for (const [i, r] of results.entries()) {
      assert.equal(r.error, undefined);
      assert.equal(r.status, 200);
      assert.equal(r.body, `hello /r${i}`);
      assert.deepEqual(
        r.headers.filter((_, j) => j % 2 === 0 && ['x-seen-authority', 'set-cookie'].includes(r.headers[j]!)).length,
        3,
        'both set-cookie fields and the authority header',
      );
      assert.ok(r.headers.includes('api.example'));
    }
    assert.equal(up.sessions, 1);
  });

  test('a full connection (the peer allows 2 streams) opens another, up to maxConnections; the rest wait', async () => {
    const up = await serve(
      (s) => {
        setTimeout(() => {
          s.respond({ ':status': 200 });
          s.end('ok');
        }, 50);
      },
      { maxConcurrentStreams: 2 },
    );
    const p = pool(up.origin, { maxConnections: 2 });
    await call(p); // the first session learns the peer's limit
    const results = await Promise.all(Array.from({ length: 10 }, () => call(p)));
    assert.deepEqual(
      results.map((r) => r.status),
      Array<number>(10).fill(200),
    );
    assert.equal(up.sessions, 2);
  });

  test('request body and trailers go up; response trailers come after the whole body, even when it was paused', async () => {
    let received = '';
    let requestTrailers: http2.IncomingHttpHeaders | undefined;
    const up = await serve((s) => {
      s.on('data', (c: Buffer) => (received += c.toString()));
      s.on('trailers', (t: http2.IncomingHttpHeaders) => (requestTrailers = t));
      s.on('end', () => {
        s.respond({ ':status': 200 }, { waitForTrailers: true });
        s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'fine' }));
        s.end(Buffer.alloc(100_000, 97)); // fits the window: all of it (and the trailers) arrive while paused
      });
    });
    const p = pool(up.origin);
    const r = await call(
      p,
      {
        method: 'POST',
        body: Readable.from([Buffer.from('part one, '), Buffer.from('part two')]),
        trailerSource: { rawTrailers: ['x-checksum', 'abc'] },
      },
      200,
    );
    assert.equal(r.error, undefined);
    assert.equal(received, 'part one, part two');
    assert.equal(requestTrailers?.['x-checksum'], 'abc');
    assert.equal(r.body.length, 100_000);
    assert.deepEqual(r.trailers, ['grpc-status', '0', 'grpc-message', 'fine']);
  });

  test('an idle connection is closed after keepAliveTimeout', async () => {
    const up = await serve((s) => {
      s.respond({ ':status': 204 });
      s.end();
    });
    const seen = { closed: false };
    up.server.on('session', (session) => session.on('close', () => (seen.closed = true)));
    const p = pool(up.origin, { keepAliveTimeout: 100 });
    assert.equal((await call(p)).status, 204);
    for (let i = 0; i < 100 && !(seen.closed && p.stats().sessions === 0); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(seen.closed, true, 'the upstream saw the connection close');
    assert.equal(p.stats().sessions, 0);
  });
});

describe('failures, in the words the retries and health checks read', () => {
  test('nothing listening: connect-error', async () => {
    const p = pool(`http://127.0.0.1:${await closedPort()}`);
    const r = await call(p);
    assert.equal(r.error?.code, 'ECONNREFUSED');
    assert.equal(failureKind(r.error), 'connect-error');
  });

  test('no response in time: timeout, and the stream is cancelled at the upstream', async () => {
    const seen = { cancelled: false };
    const up = await serve((s) => s.on('close', () => (seen.cancelled = s.rstCode === http2.constants.NGHTTP2_CANCEL)));
    const r = await call(pool(up.origin), { headersTimeout: 100 });
    assert.equal(failureKind(r.error!), 'timeout');
    for (let i = 0; i < 100 && !seen.cancelled; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(seen.cancelled, true);
  });

  test('refused or reset before the response: connect-error; reset mid-body: protocol', async () => {
    const up = await serve((s, h) => {
      if (h[':path'] === '/refuse') return s.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      s.respond({ ':status': 200 });
      s.write('partial');
      setTimeout(() => s.destroy(new Error('the upstream breaks off')), 20);
    });
    const p = pool(up.origin);
    const refused = await call(p, { path: '/refuse' });
    assert.equal(failureKind(refused.error!), 'connect-error');
    const broken = await call(p, { path: '/break' });
    assert.equal(broken.status, 200);
    assert.equal(failureKind(broken.error!), 'protocol');
  });

  test('abort through onConnect cancels the stream', async () => {
    const seen = { cancelled: false };
    const up = await serve((s) => s.on('close', () => (seen.cancelled = s.rstCode === http2.constants.NGHTTP2_CANCEL)));
    const pending = call(pool(up.origin));
    await new Promise((r) => setTimeout(r, 50));
    pending.abort();
    const r = await pending;
    assert.equal(r.error?.code, 'UND_ERR_ABORTED');
    for (let i = 0; i < 100 && !seen.cancelled; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(seen.cancelled, true);
  });
});

test('h2 over TLS: ALPN h2, the server name checked against the CA', async () => {
  const pki = makePki();
  cleanups.push(() => pki.cleanup());
  const server = http2.createSecureServer({ cert: pki.server.cert, key: pki.server.key });
  server.on('stream', (s) => {
    s.respond({ ':status': 200 });
    s.end(`over ${(s.session?.socket as { alpnProtocol?: string } | undefined)?.alpnProtocol ?? '?'}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ok = await call(pool(origin, { tls: { ca: pki.ca.cert } }));
  assert.equal(ok.error, undefined);
  assert.equal(ok.body, 'over h2');
  // Without the CA the certificate is not trusted: the call fails before any request.
  const untrusted = await call(pool(origin));
  assert.match(untrusted.error?.code ?? '', /CERT|SELF_SIGNED|UNABLE/);
});
