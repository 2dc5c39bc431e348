// The request's own timeouts over HTTP/2 (security review, issue 17): `server.bodyIdleTimeout`
// (a body that stalls) and `server.requestTimeout` (a whole request, head and body, that takes too
// long: a body trickled a byte at a time, before any answer). Node enforces neither on an HTTP/2 stream — it only
// emits 'timeout' — so without the gateway's own handling a client could hold a stream, and the
// upstream connection its body streams to, for as long as it liked.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';
import { sleep, waitFor, within } from './helpers/child.js';

let up: Upstream;
let gw: TestGateway;
let aborted = 0;

before(async () => {
  up = await startUpstream((req, res) => {
    req.on('aborted', () => aborted++);
    if (req.url === '/duplex') {
      // Answers at once and echoes the body as it comes: a call streaming both ways.
      res.writeHead(200);
      res.flushHeaders();
      req.on('data', (c: Buffer) => res.write(c));
      req.on('end', () => res.end());
      return;
    }
    req.resume();
    // /slow: the body is all read, then the answer takes longer than requestTimeout.
    req.on('end', () => (req.url === '/slow' ? setTimeout(() => res.end('slow'), 1500) : res.end('whole')));
  });
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    server: { bodyIdleTimeout: '500ms', headersTimeout: '1s', requestTimeout: '1s', keepAliveTimeout: '30s' },
    services: {
      up: { targets: [{ url: up.url }] },
      // Retried POSTs: a small body is read whole before the call, to be sent again if need be.
      retried: { targets: [{ url: up.url }], retries: { methods: ['POST'] } },
    },
    routes: [
      { name: 'retried', match: { paths: ['/retried/*'] }, service: 'retried' },
      { name: 'all', match: { paths: ['/*'] }, service: 'up' },
    ],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

function post(s: ClientHttp2Session, path: string, headers: Record<string, string> = {}): ClientHttp2Stream {
  const st = s.request({ ':method': 'POST', ':path': path, ...headers }, { endStream: false });
  st.on('error', () => {}); // a reset is what some tests wait for
  return st;
}

function answer(st: ClientHttp2Stream): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let body = '';
    st.on('response', (h) => (status = Number(h[':status'])));
    st.setEncoding('utf8');
    st.on('data', (c: string) => (body += c));
    // The whole answer is its end (the stream itself may still be open: see `closed`).
    st.on('end', () => resolve({ status, body }));
    st.on('close', () => (status === 0 ? reject(new Error(`reset without an answer (${st.rstCode})`)) : resolve({ status, body })));
  });
}

/** The stream closed (by the server: the client never ends its side in these tests). */
function closed(st: ClientHttp2Stream): Promise<unknown> {
  return st.closed ? Promise.resolve() : new Promise((r) => st.once('close', r));
}

test('a body that stalls is cut after bodyIdleTimeout (RST_STREAM CANCEL), with or without Content-Length', async () => {
  const s = http2.connect(gw.url);
  s.on('error', () => {});
  try {
    for (const headers of [{ 'content-length': '1000' }, {}] as Record<string, string>[]) {
      const before = aborted;
      const st = post(s, '/upload', headers);
      st.write('part');
      await within('the stalled stream to be reset', new Promise((r) => st.once('close', r)));
      assert.equal(st.rstCode, http2.constants.NGHTTP2_CANCEL);
      await waitFor('the upstream to see the request cut', () => aborted > before);
    }
  } finally {
    s.destroy();
  }
});

test('a body trickled past requestTimeout is answered 408, and the upstream request is cut', async () => {
  const s = http2.connect(gw.url);
  s.on('error', () => {});
  try {
    const before = aborted;
    const st = post(s, '/upload');
    const done = answer(st);
    let sent = 0;
    // A byte every 100 ms: never idle for bodyIdleTimeout; 10 s of it would be ten requestTimeouts.
    const trickle = setInterval(() => {
      if (!st.closed && sent++ < 100) st.write('x');
    }, 100);
    try {
      const r = await within('the answer to a trickled body', done);
      assert.equal(r.status, 408);
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'GW_BAD_REQUEST');
      await within('the stream to be closed after the 408', closed(st));
    } finally {
      clearInterval(trickle);
    }
    await waitFor('the upstream to see the request cut', () => aborted > before);
  } finally {
    s.destroy();
  }
});

test('a small body (read whole before the upstream call) trickled past requestTimeout: 408, and the service never called', async () => {
  const s = http2.connect(gw.url);
  s.on('error', () => {});
  try {
    const hits = up.hits;
    const st = post(s, '/retried/upload', { 'content-length': '60' });
    const done = answer(st);
    let sent = 0;
    const trickle = setInterval(() => {
      if (!st.closed && sent < 60) st.write('x', () => sent++);
    }, 100);
    try {
      assert.equal((await within('the answer to a trickled body', done)).status, 408);
      await within('the stream to be closed after the 408', closed(st));
    } finally {
      clearInterval(trickle);
    }
    assert.ok(sent < 60, 'the whole body was sent before the answer');
    assert.equal(up.hits, hits, 'the service was called');
  } finally {
    s.destroy();
  }
});

test('not cut: a body that arrived whole, answered after requestTimeout; a GET to the same slow upstream', async () => {
  const s = http2.connect(gw.url);
  s.on('error', () => {});
  try {
    const st = post(s, '/slow');
    const done = answer(st);
    st.write('x');
    await sleep(50);
    st.end('y');
    assert.deepEqual(await within('the slow answer', done), { status: 200, body: 'slow' });
    const get = s.request({ ':path': '/slow' });
    assert.deepEqual(await within('the slow GET', answer(get)), { status: 200, body: 'slow' });
  } finally {
    s.destroy();
  }
});

test('not cut: a stream whose response has begun keeps sending past requestTimeout', async () => {
  const s = http2.connect(gw.url);
  s.on('error', () => {});
  try {
    const st = post(s, '/duplex');
    const done = answer(st);
    st.write('0');
    await within('the response head', new Promise((r) => st.once('response', r)));
    for (let i = 1; i < 15; i++) {
      st.write(String(i % 10));
      await sleep(100); // 1.5 s in all, past requestTimeout (1 s), never idle for bodyIdleTimeout
    }
    st.end();
    assert.deepEqual(await within('the echoed body', done), { status: 200, body: '012345678901234' });
  } finally {
    s.destroy();
  }
});
