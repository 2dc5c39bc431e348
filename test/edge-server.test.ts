// Listener hardening over real sockets: slow clients (slowloris, stalled bodies, idle keep-alive)
// are dropped while others keep being served; header count, header bytes and URL length limits;
// requests per connection; TRACE; the Server and X-Powered-By headers; load shedding.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { request } from 'undici';
import { startUpstream, echo, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { rawRequest, statuses } from './helpers/raw.js';
import { parseResponses } from './helpers/wire.js';
import { sleep, waitFor } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';

let up: Upstream;
let gw: TestGateway;
const uploads: number[] = [];

before(async () => {
  up = await startUpstream((req, res) => {
    if (req.url?.startsWith('/upload')) {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        uploads.push(n);
        res.end(String(n));
      });
      return;
    }
    res.setHeader('server', 'upstream/1.0');
    res.setHeader('x-powered-by', 'Express');
    echo(req, res);
  });
  gw = await startTestGateway({
    server: {
      headersTimeout: '300ms',
      requestTimeout: '30s',
      bodyIdleTimeout: '300ms',
      keepAliveTimeout: '300ms',
      maxRequestsPerSocket: 3,
      maxHeaderSize: '4kb',
      maxHeaderCount: 20,
      maxUrlLength: 200,
      serverHeader: 'gatehouse',
    },
    services: { api: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'trace', match: { paths: ['/trace/*'], methods: ['GET', 'TRACE'] }, service: 'api' },
      { name: 'all', match: { paths: ['/*'] }, service: 'api' },
    ],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

interface Conn {
  data(): string;
  closedByServer: Promise<boolean>;
  sock: net.Socket;
}

/** A raw connection; `closedByServer` resolves true when the gateway ends it, false after `timeoutMs`. */
function connect(port: number, timeoutMs = 10_000): Promise<Conn> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => {});
    const closedByServer = new Promise<boolean>((r) => {
      const t = setTimeout(() => {
        r(false);
        sock.destroy();
      }, timeoutMs);
      sock.on('close', () => {
        clearTimeout(t);
        r(true);
      });
    });
    sock.on('connect', () => resolve({ sock, closedByServer, data: () => Buffer.concat(chunks).toString('latin1') }));
  });
}

const HOST = 'gw.example';

describe('slow clients', () => {
  test('slowloris: connections trickling a request head are dropped while normal clients keep being served', async () => {
    const slow = await Promise.all(Array.from({ length: 20 }, () => connect(gw.port)));
    const head = `GET /slow HTTP/1.1\r\nHost: ${HOST}\r\nX-Pad: ${'a'.repeat(40)}\r\n`;
    let i = 0;
    // One byte per connection every 50 ms: never a complete head.
    const trickle = setInterval(() => {
      for (const c of slow) if (!c.sock.destroyed) c.sock.write(head[i % head.length]!);
      i++;
    }, 50);
    try {
      let served = 0;
      const closed = Promise.all(slow.map((c) => c.closedByServer));
      // Normal clients, one after another, while the slow ones hold their connections.
      for (let n = 0; n < 20; n++) {
        const res = await request(`${gw.url}/normal/${n}`);
        assert.equal(res.statusCode, 200);
        await res.body.dump();
        served++;
      }
      assert.deepEqual(
        await closed,
        slow.map(() => true),
        'every slow connection was closed by the gateway',
      );
      assert.equal(served, 20);
      for (const c of slow) {
        const s = statuses(c.data());
        assert.ok(s.length === 0 || (s.length === 1 && s[0] === 408), c.data());
      }
      assert.ok(!up.seen.some((r) => r.url === '/slow'), 'a slow request reached the upstream');
    } finally {
      clearInterval(trickle);
      for (const c of slow) c.sock.destroy();
    }
  });

  test('a request body that stalls is cut off after bodyIdleTimeout; the upstream never gets it whole', async () => {
    const done = uploads.length;
    const c = await connect(gw.port);
    c.sock.write(`POST /upload HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 100\r\n\r\n0123456789`);
    assert.equal(await c.closedByServer, true, 'the gateway closed the stalled connection');
    await sleep(50);
    assert.equal(uploads.length, done);
  });

  test('a body that keeps arriving, however slowly, is not cut off', async () => {
    const c = await connect(gw.port);
    c.sock.write(`POST /upload HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 10\r\nConnection: close\r\n\r\n`);
    for (let n = 0; n < 10; n++) {
      c.sock.write('x');
      await sleep(100);
    } // 1 s in all, > bodyIdleTimeout
    assert.equal(await c.closedByServer, true);
    const [res] = parseResponses(c.data());
    assert.equal(res?.status, 200, c.data());
    assert.equal(res.body.toString(), '10');
  });

  test('an idle keep-alive connection is closed after keepAliveTimeout', async () => {
    const c = await connect(gw.port);
    c.sock.write(`GET /ka HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    assert.equal(await c.closedByServer, true);
    assert.deepEqual(statuses(c.data()), [200]);
  });

  test('maxRequestsPerSocket: the last allowed response closes the connection', async () => {
    const get = `GET /n HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
    const wire = await rawRequest(gw.port, get + get + get + get);
    const all = parseResponses(wire);
    assert.deepEqual(all.map((r) => r.status).slice(0, 3), [200, 200, 200], wire);
    assert.equal(all[2]!.headers.connection?.toLowerCase(), 'close');
    assert.ok(all.length === 3 || all[3]!.status === 503, wire);
  });
});

describe('size limits', () => {
  test('more header fields than maxHeaderCount → 431, never reaching the upstream', async () => {
    const hits = up.hits;
    const extra = Array.from({ length: 25 }, (_, n) => `X-H${n}: v\r\n`).join('');
    const wire = await rawRequest(
      gw.port,
      `GET /many HTTP/1.1\r\nHost: ${HOST}\r\n${extra}\r\nGET /after HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
    );
    assert.deepEqual(statuses(wire), [431], wire);
    const [res] = parseResponses(wire);
    assert.equal((JSON.parse(res!.body.toString()) as { error: { code: string } }).error.code, 'GW_BAD_REQUEST');
    assert.equal(up.hits, hits);
  });

  test('up to maxHeaderCount header fields pass', async () => {
    const extra = Array.from({ length: 18 }, (_, n) => `X-H${n}: v\r\n`).join('');
    const wire = await rawRequest(gw.port, `GET /some HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n${extra}\r\n`);
    assert.deepEqual(statuses(wire), [200], wire);
  });

  test('a request target over maxUrlLength → 414, never reaching the upstream', async () => {
    const hits = up.hits;
    const wire = await rawRequest(gw.port, `GET /${'a'.repeat(250)} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    assert.deepEqual(statuses(wire), [414], wire);
    assert.equal(up.hits, hits);
  });

  test('header bytes over maxHeaderSize → 431', async () => {
    const hits = up.hits;
    const wire = await rawRequest(gw.port, `GET /big HTTP/1.1\r\nHost: ${HOST}\r\nX-Big: ${'b'.repeat(5000)}\r\n\r\n`);
    assert.deepEqual(statuses(wire), [431], wire);
    assert.equal(up.hits, hits);
  });
});

describe('methods and response headers', () => {
  test('TRACE is refused (405) on a route without methods, and reaches the upstream only where listed', async () => {
    const hits = up.hits;
    const res = await request(`${gw.url}/anything`, { method: 'TRACE' });
    assert.equal(res.statusCode, 405);
    assert.ok(!String(res.headers.allow).includes('TRACE'), String(res.headers.allow));
    assert.match(String(res.headers.allow), /GET/);
    assert.equal(((await res.body.json()) as { error: { code: string } }).error.code, 'GW_METHOD_NOT_ALLOWED');
    assert.equal(up.hits, hits);
    const listed = await request(`${gw.url}/trace/x`, { method: 'TRACE' });
    assert.equal(listed.statusCode, 200);
    await listed.body.dump();
    assert.equal(up.hits, hits + 1);
    assert.equal(up.seen.at(-1)!.method, 'TRACE');
  });

  test("the configured Server header replaces the upstream's; X-Powered-By never reaches the client", async () => {
    const res = await request(`${gw.url}/hdr`);
    await res.body.dump();
    assert.equal(res.headers.server, 'gatehouse');
    assert.equal(res.headers['x-powered-by'], undefined);
    const notFound = await request(`${gw.url}/trace/x`, { method: 'DELETE' });
    await notFound.body.dump();
    assert.equal(notFound.headers.server, 'gatehouse');
    const refused = parseResponses(await rawRequest(gw.port, 'GARBAGE\r\n\r\n'))[0];
    assert.equal(refused?.status, 400);
    assert.equal(refused.headers.server, 'gatehouse');
  });

  test('with no serverHeader (the default) gateway answers carry no Server header', async () => {
    const plain = await startTestGateway({ services: { api: { targets: [{ url: up.url }] } }, routes: [] });
    try {
      const res = await request(`${plain.url}/none`);
      await res.body.dump();
      assert.equal(res.statusCode, 404);
      assert.equal(res.headers.server, undefined);
      assert.equal(res.headers['x-powered-by'], undefined);
    } finally {
      await plain.stop();
    }
  });
});

describe('load shedding', () => {
  test('over maxInflight, new requests get 503 GW_OVERLOADED with Retry-After and reach nothing; admin stays up', async () => {
    const held: (() => void)[] = [];
    const slowUp = await startUpstream((req, res) => {
      if (req.url === '/held') held.push(() => echo(req, res));
      else echo(req, res);
    });
    const shed = await startTestGateway({
      loadShedding: { maxInflight: 2, retryAfter: '2s' },
      services: { api: { targets: [{ url: slowUp.url }] } },
      routes: [{ name: 'all', match: { paths: ['/*'] }, service: 'api' }],
    });
    try {
      const first = [request(`${shed.url}/held`), request(`${shed.url}/held`)];
      await waitFor('two requests held upstream', () => slowUp.hits === 2);
      const res = await request(`${shed.url}/c`);
      assert.equal(res.statusCode, 503);
      assert.equal(res.headers['retry-after'], '2');
      assert.equal(((await res.body.json()) as { error: { code: string } }).error.code, 'GW_OVERLOADED');
      assert.equal(slowUp.hits, 2, 'the shed request reached the upstream');
      // A shed request with a body: closed rather than read; nothing pipelined behind it is served.
      const wire = await rawRequest(
        shed.port,
        `POST /c HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5\r\n\r\nhelloGET /d HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
      );
      assert.deepEqual(statuses(wire), [503], wire);
      assert.equal(parseResponses(wire)[0]!.headers.connection, 'close');
      assert.equal(slowUp.hits, 2);
      const health = await request(`${shed.adminUrl}/health`);
      assert.equal(health.statusCode, 200);
      await health.body.dump();
      for (const release of held) release();
      for (const r of await Promise.all(first)) {
        assert.equal(r.statusCode, 200);
        await r.body.dump();
      }
      const after = await request(`${shed.url}/d`);
      assert.equal(after.statusCode, 200);
      await after.body.dump();
    } finally {
      await shed.stop();
      await slowUp.close();
    }
  });

  test('while the event loop lags past maxEventLoopLag, new requests are shed', async () => {
    const shed = await startTestGateway({
      loadShedding: { maxEventLoopLag: '50ms' },
      services: { api: { targets: [{ url: up.url }] } },
      routes: [{ name: 'all', match: { paths: ['/*'] }, service: 'api' }],
    });
    try {
      const hits = up.hits;
      const c = await connect(shed.port);
      await new Promise((r) => setImmediate(r));
      c.sock.write(`GET /lagged HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
      // Block this process's event loop (the gateway's too): the request is read once it is free.
      const until = performance.now() + 300;
      while (performance.now() < until) {
        /* busy */
      }
      await c.closedByServer;
      const [res] = parseResponses(c.data());
      assert.equal(res?.status, 503, c.data());
      assert.equal(res.headers['retry-after'], '1');
      assert.equal(up.hits, hits);
      // Once the loop is free again, requests are served.
      await waitFor('requests served again', async () => {
        const r = await request(`${shed.url}/recovered`);
        await r.body.dump();
        return r.statusCode === 200;
      });
    } finally {
      await shed.stop();
    }
  });
});
