// Upstream failures and client aborts over real sockets: refused connections, timeouts before the
// headers and mid-body, malformed upstream responses, 405 with Allow, and a client that goes away
// while the upstream is still answering (the upstream call must be aborted, not left running).
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request, Agent } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { rawRequest } from './helpers/raw.js';
import { closedPort, looksLikeStackTrace, parseResponses, startRawUpstream, type RawUpstream } from './helpers/wire.js';
import { waitFor } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';
import { bothClients } from './helpers/clients.js';

interface ErrorJson {
  error: { code: string; message: string; requestId?: string; details?: unknown };
}

/** Reads a gateway error: status, JSON content type, the standard shape, the request id, no stack. */
async function expectError(
  res: { statusCode: number; headers: Record<string, string | string[] | undefined>; body: { text(): Promise<string> } },
  status: number,
  codes: string | string[],
): Promise<ErrorJson> {
  const text = await res.body.text();
  assert.equal(res.statusCode, status, text);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.ok(!looksLikeStackTrace(text), `error body leaks internals: ${text}`);
  const body = JSON.parse(text) as ErrorJson;
  assert.deepEqual(Object.keys(body), ['error']);
  for (const k of Object.keys(body.error)) assert.ok(['code', 'message', 'requestId'].includes(k), `unexpected key ${k} in ${text}`);
  assert.ok((Array.isArray(codes) ? codes : [codes]).includes(body.error.code), `code ${body.error.code} in ${text}`);
  assert.equal(typeof body.error.message, 'string');
  assert.equal(body.error.requestId, res.headers['x-request-id']);
  return body;
}

/** What the upstream saw of one request: whether it was closed before it had answered. */
interface Observed {
  closedBeforeAnswer: Promise<boolean>;
}
const observed: Observed[] = [];

function observe(res: ServerResponse): Observed {
  const o: Observed = { closedBeforeAnswer: new Promise((r) => res.once('close', () => r(!res.writableFinished))) };
  observed.push(o);
  return o;
}

let up: Upstream;
let raw: RawUpstream;
let gw: TestGateway;
let deadPort: number;
const rawMode = 'cl-and-te';
const pending = new Set<ServerResponse>();

const RAW_RESPONSES: Record<string, string> = {
  'cl-and-te': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  garbage: 'THIS IS NOT HTTP AT ALL\r\n\r\n',
  'bad-status': 'HTTP/1.1 2000 Fine\r\nContent-Length: 0\r\n\r\n',
  'two-lengths': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
  'bad-header': 'HTTP/1.1 200 OK\r\nX-Bad Header: x\r\nContent-Length: 2\r\n\r\nok',
};

before(async () => {
  deadPort = await closedPort();
  up = await startUpstream((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    if (url.startsWith('/slow/never')) {
      pending.add(res); // never answers
      return;
    }
    if (url.startsWith('/single/')) {
      const t = setTimeout(() => res.end(url), 500);
      res.on('close', () => clearTimeout(t));
      return;
    }
    if (url.startsWith('/slow/delay')) {
      // Answers after 3 s unless the gateway gave up first.
      const o = observe(res);
      const t = setTimeout(() => {
        if (!res.destroyed) res.end('late');
      }, 3000);
      void o.closedBeforeAnswer.then(() => clearTimeout(t));
      return;
    }
    if (url.startsWith('/slow/stream')) {
      // Streams a chunk every 20 ms forever, until the connection goes.
      const o = observe(res);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const t = setInterval(() => res.write(Buffer.alloc(1024, 120)), 20);
      void o.closedBeforeAnswer.then(() => clearInterval(t));
      return;
    }
    if (url.startsWith('/slow/upload')) {
      // Reads the request body and answers only when it is complete.
      observe(res);
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(String(n)));
      return;
    }
    if (url.startsWith('/early-answer')) {
      // Refuses an upload without reading it (node discards the rest of the body itself).
      res.writeHead(413, { 'content-type': 'text/plain' });
      res.end('too big');
      return;
    }
    if (url.startsWith('/stall')) {
      // Headers and the first bytes, then silence.
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
      res.write('0123456789');
      pending.add(res);
      return;
    }
    res.end('ok');
  });
  raw = await startRawUpstream((sock, head) => {
    const mode = /^GET \/raw\/([a-z-]+)/.exec(head)?.[1] ?? rawMode;
    if (mode === 'hangup') {
      sock.destroy();
      return;
    }
    if (mode === 'short-body') {
      sock.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b');
      return;
    }
    if (mode === 'bad-chunk') {
      sock.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n');
      return;
    }
    if (mode === 'stall-chunked') {
      sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n');
      return;
    }
    sock.end(RAW_RESPONSES[mode] ?? RAW_RESPONSES[rawMode]!);
  });
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }], // HTTP/1.1 and h2c: the answers are the same over both
    services: {
      dead: { targets: [{ url: `http://127.0.0.1:${deadPort}` }] },
      slow: { targets: [{ url: up.url }], timeouts: { response: '300ms', idle: '300ms' } },
      patient: { targets: [{ url: up.url }] },
      // One connection: a second request waits in the pool's queue.
      single: { targets: [{ url: `${up.url}/single` }], pool: { maxConnections: 1 } },
      raw: { targets: [{ url: raw.url }], timeouts: { response: '2s', idle: '300ms' } },
    },
    routes: [
      { name: 'dead', match: { paths: ['/dead/*'] }, service: 'dead' },
      { name: 'slow', match: { paths: ['/slow/never', '/stall'] }, service: 'slow' },
      { name: 'patient', match: { paths: ['/slow/*', '/ok', '/early-answer'] }, service: 'patient' },
      { name: 'single', match: { paths: ['/single/*'] }, service: 'single' },
      { name: 'raw', match: { paths: ['/raw/*'] }, service: 'raw' },
      { name: 'read', match: { paths: ['/things'], methods: ['GET', 'POST'] }, service: 'patient' },
      { name: 'write', match: { paths: ['/things'], methods: ['put'] }, service: 'patient' },
    ],
  });
});

const clients = bothClients();
after(async () => {
  for (const c of clients) await c.close();
  for (const r of pending) r.destroy();
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
  await maybeUnset(raw)?.close();
});

describe('upstream failures', () => {
  for (const client of clients) {
    test(`connection refused → 502 GW_UPSTREAM_UNAVAILABLE (${client.name})`, async () => {
      const res = await client.request(`${gw.url}/dead/x`);
      await expectError(res, 502, 'GW_UPSTREAM_UNAVAILABLE');
    });

    test(`connection refused with a request body → 502, and the gateway keeps serving (${client.name})`, async () => {
      const res = await client.request(`${gw.url}/dead/x`, { method: 'POST', body: 'x'.repeat(100_000) });
      await expectError(res, 502, 'GW_UPSTREAM_UNAVAILABLE');
      const ok = await client.request(`${gw.url}/ok`);
      assert.equal(ok.statusCode, 200);
      assert.equal(await ok.body.text(), 'ok');
    });

    test(`an upstream that never answers → 504 GW_UPSTREAM_TIMEOUT after the response timeout (${client.name})`, async () => {
      const t0 = performance.now();
      const res = await client.request(`${gw.url}/slow/never`);
      const elapsed = performance.now() - t0;
      await expectError(res, 504, 'GW_UPSTREAM_TIMEOUT');
      assert.ok(elapsed >= 250, `answered after ${elapsed} ms, before the 300 ms timeout`);
      assert.ok(elapsed < 1500, `answered after ${elapsed} ms`);
    });
  }

  test('an upstream that stalls mid-body (content-length) → the client sees the response cut short', async () => {
    const t0 = performance.now();
    const wire = await rawRequest(gw.port, 'GET /stall HTTP/1.1\r\nHost: a.example\r\n\r\n', 5000);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed < 3000, `connection closed after ${elapsed} ms (the 5 s client timeout?)`);
    const [res] = parseResponses(wire);
    assert.ok(res, `no response head: ${JSON.stringify(wire)}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], '1000');
    assert.equal(res.complete, false, 'body must be truncated, not completed');
    assert.equal(res.body.toString(), '0123456789');
  });

  test('an upstream that stalls mid-body (chunked) → no terminating chunk reaches the client', async () => {
    const t0 = performance.now();
    const wire = await rawRequest(gw.port, 'GET /raw/stall-chunked HTTP/1.1\r\nHost: a.example\r\n\r\n', 5000);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed < 3000, `connection closed after ${elapsed} ms (the 5 s client timeout?)`);
    const [res] = parseResponses(wire);
    assert.ok(res, `no response head: ${JSON.stringify(wire)}`);
    assert.equal(res.status, 200);
    assert.equal(res.complete, false, `body must be truncated: ${JSON.stringify(wire)}`);
    assert.equal(res.body.toString(), '0123456789');
  });

  test('an upstream that closes mid-body → the client sees the response cut short', async () => {
    const wire = await rawRequest(gw.port, 'GET /raw/short-body HTTP/1.1\r\nHost: a.example\r\n\r\n', 5000);
    const [res] = parseResponses(wire);
    assert.ok(res, `no response head: ${JSON.stringify(wire)}`);
    assert.equal(res.status, 200);
    assert.equal(res.complete, false, `body must be truncated: ${JSON.stringify(wire)}`);
  });

  test('a malformed chunk after valid upstream headers → the client never gets a whole response', async () => {
    const wire = await rawRequest(gw.port, 'GET /raw/bad-chunk HTTP/1.1\r\nHost: a.example\r\n\r\n', 5000);
    const all = parseResponses(wire);
    // Headers may or may not have been flushed before the failure; a complete body never is.
    assert.ok(all.length === 0 || (all.length === 1 && all[0]!.status === 200 && !all[0]!.complete), JSON.stringify(wire));
  });

  test('an upstream that closes without answering → 502', async () => {
    const res = await request(`${gw.url}/raw/hangup`);
    await expectError(res, 502, ['GW_UPSTREAM_UNAVAILABLE', 'GW_UPSTREAM_ERROR']);
  });

  for (const mode of Object.keys(RAW_RESPONSES)) {
    test(`a malformed upstream response (${mode}) → 502`, async () => {
      const before = raw.connections;
      const res = await request(`${gw.url}/raw/${mode}`);
      await expectError(res, 502, ['GW_UPSTREAM_ERROR', 'GW_UPSTREAM_UNAVAILABLE']);
      assert.ok(raw.connections > before || raw.received.some((r) => r.includes(`/raw/${mode}`)), 'the upstream was called');
    });
  }
});

describe('routing errors', () => {
  for (const client of clients) {
    test(`405 with an Allow header when the path matches but the method does not (${client.name})`, async () => {
      const res = await client.request(`${gw.url}/things`, { method: 'DELETE' });
      await expectError(res, 405, 'GW_METHOD_NOT_ALLOWED');
      assert.equal(res.headers.allow, 'GET, POST, PUT');
    });

    test(`the allowed methods still reach the upstream (${client.name})`, async () => {
      for (const method of ['GET', 'POST', 'PUT'] as const) {
        const hits = up.hits;
        const res = await client.request(`${gw.url}/things`, method === 'GET' ? { method } : { method, body: 'x' });
        assert.equal(res.statusCode, 200, method);
        await res.body.text();
        assert.equal(up.hits, hits + 1);
      }
    });

    test(`404 for an unknown path, with no stack trace (${client.name})`, async () => {
      const res = await client.request(`${gw.url}/nothing/here`);
      await expectError(res, 404, 'GW_ROUTE_NOT_FOUND');
    });
  }
});

describe('client aborts', () => {
  test('a client that disconnects while the upstream is answering aborts the upstream request', async () => {
    const hits = up.hits;
    const n = observed.length;
    const sock = net.connect(gw.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write('GET /slow/delay HTTP/1.1\r\nHost: a.example\r\n\r\n');
    await waitFor('the upstream to get the request', () => up.hits === hits + 1 && observed.length === n + 1);
    const t0 = performance.now();
    sock.destroy();
    const closedEarly = await observed[n]!.closedBeforeAnswer;
    assert.equal(closedEarly, true, 'the upstream request was closed before it answered');
    assert.ok(performance.now() - t0 < 2000, 'closed well before the upstream would have answered (3 s)');
  });

  test('a client that disconnects mid-download aborts the upstream stream', async () => {
    const n = observed.length;
    const sock = net.connect(gw.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write('GET /slow/stream HTTP/1.1\r\nHost: a.example\r\n\r\n');
    let got = 0;
    await new Promise<void>((resolve) =>
      sock.on('data', (c: Buffer) => {
        got += c.length;
        if (got > 4096) resolve();
      }),
    );
    sock.destroy();
    const t0 = performance.now();
    await waitFor('the upstream to see the request', () => observed.length === n + 1);
    assert.equal(await observed[n]!.closedBeforeAnswer, true);
    assert.ok(performance.now() - t0 < 2000);
  });

  test('a client that disconnects mid-upload aborts the upstream request', async () => {
    const n = observed.length;
    const sock = net.connect(gw.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write('POST /slow/upload HTTP/1.1\r\nHost: a.example\r\nContent-Length: 10000000\r\n\r\n');
    sock.write(Buffer.alloc(65536, 97));
    await waitFor('the upstream to get the request', () => observed.length === n + 1);
    const t0 = performance.now();
    sock.destroy();
    assert.equal(await observed[n]!.closedBeforeAnswer, true);
    assert.ok(performance.now() - t0 < 2000);
  });

  test('a client that disconnects while its request waits for a pooled connection is never sent upstream', async () => {
    const before = up.seen.length;
    const first = request(`${gw.url}/single/first`);
    await waitFor('the first request to occupy the only connection', () =>
      up.seen.slice(before).some((s) => s.url === '/single/single/first'),
    );
    const sock = net.connect(gw.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write('GET /single/second HTTP/1.1\r\nHost: a.example\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    sock.destroy();
    const res = await first;
    assert.equal(await res.body.text(), '/single/single/first');
    await new Promise((r) => setTimeout(r, 300));
    const urls = up.seen.slice(before).map((s) => s.url);
    assert.deepEqual(urls, ['/single/single/first'], 'the abandoned request must not reach the upstream');
  });

  test('an upstream that answers before reading the upload: the client gets that answer, and its connection stays usable', async () => {
    const agent = new Agent({ headersTimeout: 2000, bodyTimeout: 2000 });
    try {
      const res = await request(`${gw.url}/early-answer`, { method: 'POST', body: Buffer.alloc(8 * 1024 * 1024, 1), dispatcher: agent });
      assert.equal(res.statusCode, 413);
      assert.equal(await res.body.text(), 'too big');
      // Reusing the client's keep-alive connections must work: none of them may be left stuck
      // half-way through a request body nobody will ever read.
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const next = await request(`${gw.url}/ok`, { dispatcher: agent });
        assert.equal(await next.body.text(), 'ok');
        assert.ok(performance.now() - t0 < 1000, `request ${i} took ${performance.now() - t0} ms`);
      }
    } finally {
      await agent.close();
    }
  });

  test('an upstream that answers before reading the upload: the connection is closed or keeps serving, never stuck', async () => {
    const sock = net.connect(gw.port, '127.0.0.1');
    sock.on('error', () => {});
    let wire = '';
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('data', (c: Buffer) => (wire += c.toString('latin1')));
    const total = 8 * 1024 * 1024;
    sock.write(`POST /early-answer HTTP/1.1\r\nHost: a.example\r\nContent-Length: ${total}\r\n\r\n`);
    sock.write(Buffer.alloc(1024 * 1024, 1));
    await waitFor('the early answer', () => parseResponses(wire)[0]?.complete);
    assert.equal(parseResponses(wire)[0]!.status, 413);
    // Finish the body as a well-behaved client would, then reuse the connection.
    sock.write(Buffer.alloc(total - 1024 * 1024, 1));
    sock.write('GET /ok HTTP/1.1\r\nHost: a.example\r\n\r\n');
    const outcome = await Promise.race([
      closed.then(() => 'closed'),
      waitFor('a second response', () => parseResponses(wire)[1]?.complete, 3000).then(
        () => 'served',
        () => 'stuck',
      ),
    ]);
    sock.destroy();
    assert.notEqual(outcome, 'stuck', `the connection neither closed nor served the next request:\n${wire}`);
    if (outcome === 'served') assert.equal(parseResponses(wire)[1]!.body.toString(), 'ok');
  });

  test('after client aborts the gateway still serves', async () => {
    const res = await request(`${gw.url}/ok`);
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'ok');
  });
});
