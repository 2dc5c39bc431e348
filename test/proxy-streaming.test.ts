// Bodies stream through the gateway both ways with backpressure and are never buffered: exact
// byte counts and flat memory for 1 GiB each way (the gateway runs as a child process so its
// RSS can be read from /proc), plus in-process checks of exactness and backpressure.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Readable } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request, Agent } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { freePort, killAllChildren, startChild, tempDir, waitFor, sleep, type GatewayChild, type TempDir } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const CHUNK = Buffer.alloc(64 * KiB, 'gatehouse-stream-');

/** `total` bytes as reused 64 KiB chunks (the last one shortened). */
function* chunks(total: number): Generator<Buffer> {
  for (let sent = 0; sent < total; sent += CHUNK.length) {
    yield total - sent >= CHUNK.length ? CHUNK : CHUNK.subarray(0, total - sent);
  }
}

/** Writes `total` bytes of reused chunks to `res`, honouring backpressure. */
function streamOut(res: ServerResponse, total: number, onWritten?: (n: number) => void): void {
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const c = total - sent >= CHUNK.length ? CHUNK : CHUNK.subarray(0, total - sent);
      sent += c.length;
      onWritten?.(sent);
      if (!res.write(c)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => res.off('drain', pump));
  pump();
}

/** Counts (and discards) a request body; answers with the count. */
function countUpload(req: IncomingMessage, res: ServerResponse): void {
  let n = 0;
  req.on('data', (c: Buffer) => (n += c.length));
  req.on('end', () => {
    const body = JSON.stringify({ bytes: n, te: req.headers['transfer-encoding'] ?? null, cl: req.headers['content-length'] ?? null });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * KiB;
}

/** Samples a process's RSS every 50 ms until stopped; returns the peak. */
function sampleRss(pid: number): { stop(): number } {
  let peak = rssBytes(pid);
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      /* process gone: the test fails elsewhere */
    }
  }, 50);
  return {
    stop() {
      clearInterval(t);
      try {
        peak = Math.max(peak, rssBytes(pid));
      } catch {
        /* ignore */
      }
      return peak;
    },
  };
}

describe('1 GiB through a gateway child process, with flat memory', () => {
  let up: Upstream;
  let child: GatewayChild;
  let dir: TempDir;
  let agent: Agent;
  const MAX_GROWTH = 150 * MiB;

  before(async () => {
    up = await startUpstream((req, res) => {
      const url = req.url ?? '';
      const m = /^\/download\/(\d+)(\?chunked)?$/.exec(url);
      if (m) {
        const total = Number(m[1]);
        res.writeHead(
          200,
          m[2] ? { 'content-type': 'application/octet-stream' } : { 'content-type': 'application/octet-stream', 'content-length': total },
        );
        streamOut(res, total);
        return;
      }
      countUpload(req, res);
    });
    dir = await tempDir();
    const port = await freePort();
    const config = await dir.file(
      'gatehouse.yaml',
      [
        'accessLog: false',
        'log: { level: warn }',
        `listen: [{ port: ${port}, host: 127.0.0.1 }]`,
        'admin: { port: 0, host: 127.0.0.1 }',
        'services:',
        `  sink: { targets: [{ url: "${up.url}" }], timeouts: { response: 30s, idle: 30s } }`,
        'routes:',
        '  - { name: all, match: { paths: ["/*"] }, service: sink }',
        '',
      ].join('\n'),
    );
    child = await startChild(config);
    agent = new Agent({ bodyTimeout: 60_000, headersTimeout: 60_000 });
    // Warm up both directions so the baseline includes loaded code and pooled connections.
    for (let i = 0; i < 3; i++) {
      const u = await request(`${child.url}/upload`, { method: 'PUT', body: Readable.from(chunks(8 * MiB)), dispatcher: agent });
      await u.body.dump();
      const d = await request(`${child.url}/download/${8 * MiB}`, { dispatcher: agent });
      await d.body.dump();
    }
  });

  after(async () => {
    await maybeUnset(agent)?.close();
    await killAllChildren();
    await maybeUnset(up)?.close();
    await maybeUnset(dir)?.remove();
  });

  test('1 GiB upload (content-length) arrives exact; gateway RSS stays flat', async (t) => {
    await sleep(200);
    const baseline = rssBytes(child.pid);
    const sampler = sampleRss(child.pid);
    let peak = 0;
    const t0 = performance.now();
    let result: { bytes: number; te: string | null; cl: string | null };
    try {
      const res = await request(`${child.url}/upload`, {
        method: 'PUT',
        headers: { 'content-length': String(GiB) },
        body: Readable.from(chunks(GiB)),
        dispatcher: agent,
      });
      assert.equal(res.statusCode, 200);
      result = (await res.body.json()) as typeof result;
    } finally {
      peak = sampler.stop();
    }
    const secs = (performance.now() - t0) / 1000;
    t.diagnostic(`gateway RSS ${(baseline / MiB).toFixed(1)} → peak ${(peak / MiB).toFixed(1)} MiB`);
    assert.equal(result.bytes, GiB);
    assert.equal(result.cl, String(GiB));
    assert.ok(child.isRunning());
    assert.ok(
      peak - baseline < MAX_GROWTH,
      `RSS grew by ${((peak - baseline) / MiB).toFixed(1)} MiB (baseline ${(baseline / MiB).toFixed(1)} MiB) in ${secs.toFixed(1)} s`,
    );
    assert.ok(secs < 60, `took ${secs.toFixed(1)} s`);
  });

  test('1 GiB upload (chunked) arrives exact; gateway RSS stays flat', async (t) => {
    await sleep(200);
    const baseline = rssBytes(child.pid);
    const sampler = sampleRss(child.pid);
    let peak = 0;
    let result: { bytes: number; te: string | null; cl: string | null };
    try {
      const res = await request(`${child.url}/upload`, { method: 'POST', body: Readable.from(chunks(GiB)), dispatcher: agent });
      assert.equal(res.statusCode, 200);
      result = (await res.body.json()) as typeof result;
    } finally {
      peak = sampler.stop();
    }
    t.diagnostic(`gateway RSS ${(baseline / MiB).toFixed(1)} → peak ${(peak / MiB).toFixed(1)} MiB`);
    assert.equal(result.bytes, GiB);
    assert.equal(result.te, 'chunked');
    assert.ok(peak - baseline < MAX_GROWTH, `RSS grew by ${((peak - baseline) / MiB).toFixed(1)} MiB`);
  });

  for (const chunked of [false, true]) {
    test(`1 GiB download (${chunked ? 'chunked' : 'content-length'}) arrives exact; gateway RSS stays flat`, async (t) => {
      await sleep(200);
      const baseline = rssBytes(child.pid);
      const sampler = sampleRss(child.pid);
      let peak = 0;
      let n = 0;
      try {
        const res = await request(`${child.url}/download/${GiB}${chunked ? '?chunked' : ''}`, { dispatcher: agent });
        assert.equal(res.statusCode, 200);
        if (chunked) assert.equal(res.headers['content-length'], undefined);
        else assert.equal(res.headers['content-length'], String(GiB));
        for await (const c of res.body) n += (c as Buffer).length;
      } finally {
        peak = sampler.stop();
      }
      t.diagnostic(`gateway RSS ${(baseline / MiB).toFixed(1)} → peak ${(peak / MiB).toFixed(1)} MiB`);
      assert.equal(n, GiB);
      assert.ok(child.isRunning());
      assert.ok(
        peak - baseline < MAX_GROWTH,
        `RSS grew by ${((peak - baseline) / MiB).toFixed(1)} MiB (baseline ${(baseline / MiB).toFixed(1)} MiB)`,
      );
    });
  }
});

describe('in-process streaming', () => {
  let up: Upstream;
  let gw: TestGateway;
  const progress = { written: 0 };

  before(async () => {
    up = await startUpstream((req, res) => {
      const url = req.url ?? '';
      if (url === '/hash') {
        const h = createHash('sha256');
        let n = 0;
        req.on('data', (c: Buffer) => {
          h.update(c);
          n += c.length;
        });
        req.on('end', () => res.end(JSON.stringify({ bytes: n, sha256: h.digest('hex') })));
        return;
      }
      if (url === '/firehose') {
        // As fast as the connection lets it: only backpressure can hold it back.
        progress.written = 0;
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 512 * MiB });
        streamOut(res, 512 * MiB, (n) => (progress.written = n));
        return;
      }
      if (url === '/bytes') {
        const body = Buffer.alloc(256 * KiB);
        for (let i = 0; i < body.length; i++) body[i] = (i * 31 + 7) & 0xff;
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
        res.end(body);
        return;
      }
      countUpload(req, res);
    });
    gw = await startTestGateway({
      services: { s: { targets: [{ url: up.url }] } },
      routes: [{ name: 'all', match: { paths: ['/*'] }, service: 's' }],
    });
  });

  after(async () => {
    await maybeUnset(gw)?.stop();
    await maybeUnset(up)?.close();
  });

  test('an upload arrives byte for byte (varying chunk sizes, chunked)', async () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < 200; i++) parts.push(Buffer.from(`${i}:`.repeat(1 + ((i * 97) % 3000))));
    const expected = createHash('sha256').update(Buffer.concat(parts)).digest('hex');
    const total = parts.reduce((s, p) => s + p.length, 0);
    const res = await request(`${gw.url}/hash`, {
      method: 'POST',
      body: Readable.from(
        (function* () {
          for (const p of parts) yield p;
        })(),
      ),
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(await res.body.json(), { bytes: total, sha256: expected });
  });

  test('a download arrives byte for byte', async () => {
    const res = await request(`${gw.url}/bytes`);
    assert.equal(res.statusCode, 200);
    const body = Buffer.from(await res.body.arrayBuffer());
    assert.equal(body.length, 256 * KiB);
    for (let i = 0; i < body.length; i++) if (body[i] !== ((i * 31 + 7) & 0xff)) assert.fail(`byte ${i} differs`);
  });

  test('an empty POST body and a zero content-length pass through', async () => {
    const res = await request(`${gw.url}/count`, { method: 'POST', body: '' });
    assert.deepEqual(await res.body.json(), { bytes: 0, te: null, cl: '0' });
  });

  test('a client that does not read holds the upstream back (backpressure, no buffering)', async () => {
    const sock = net.connect(gw.port, '127.0.0.1');
    sock.on('error', () => {});
    try {
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write('GET /firehose HTTP/1.1\r\nHost: a.example\r\n\r\n');
      // Read the head, then stop reading.
      await new Promise<void>((r) =>
        sock.once('data', () => {
          sock.pause();
          r();
        }),
      );
      await waitFor('the upstream to start writing', () => progress.written > 0);
      await sleep(1000);
      const stalled = progress.written;
      await sleep(500);
      // Socket buffers on three connections plus stream high-water marks: a few MiB, never the body.
      assert.ok(stalled < 48 * MiB, `upstream wrote ${(stalled / MiB).toFixed(1)} MiB while the client read nothing`);
      assert.ok(progress.written - stalled < 2 * MiB, 'the upstream is paused, not still writing');
      // Reading again resumes the flow.
      sock.resume();
      await waitFor('the upstream to resume', () => progress.written > stalled + 8 * MiB, 10_000);
    } finally {
      sock.destroy();
    }
  });
});
