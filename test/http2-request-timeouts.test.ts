// The request's body timeout over HTTP/2 (security review, issue 17): `server.bodyIdleTimeout` (a
// body that stalls). Node does not enforce it on an HTTP/2 stream — it only emits 'timeout' — so
// without the gateway's own handling a client could hold a stream, and the upstream connection its
// body streams to, for as long as it liked.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';
import { waitFor, within } from './helpers/child.js';

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
