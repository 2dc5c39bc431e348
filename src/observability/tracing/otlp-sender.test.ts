// The OTLP sender against real HTTP servers: bodies arrive whole with their content type, the
// answer decides the result, failures never reject, close() settles what is waiting, and the
// worker never keeps a process alive.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { OtlpSender } from './otlp-sender.js';
import { OtlpExporter } from './otlp-exporter.js';
import { SPAN_KIND_SERVER } from './span.js';

interface Received {
  contentType: string | undefined;
  body: Buffer;
}

async function receiver(
  status: (n: number) => number | 'hang',
  delayMs = 0,
): Promise<{ url: string; got: Received[]; arrived(): number; close(): Promise<void> }> {
  const got: Received[] = [];
  let arrived = 0;
  const server = http.createServer((req, res) => {
    arrived++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ contentType: req.headers['content-type'], body: Buffer.concat(chunks) });
      const s = status(got.length);
      if (s === 'hang') return;
      setTimeout(() => res.writeHead(s).end(), delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    got,
    arrived: () => arrived,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

test('bodies (bytes and text) arrive whole with the content type; 2xx is true, anything else false', async () => {
  const rx = await receiver((n) => (n === 3 ? 500 : 200));
  closers.push(() => rx.close());
  const sender = new OtlpSender(rx.url, 'application/x-protobuf');
  closers.push(() => sender.close());
  // A Buffer from Node's shared pool: copied to the worker, the pool stays usable here.
  const pooled = Buffer.from([1, 2, 3, 250, 0, 7]);
  assert.equal(pooled.buffer.byteLength > pooled.length, true, 'a pooled Buffer');
  assert.equal(await sender.send(pooled), true);
  assert.deepEqual([...pooled], [1, 2, 3, 250, 0, 7]);
  const big = Buffer.alloc(300_000, 0xab);
  assert.equal(await sender.send(big), true);
  assert.equal(await sender.send('{"resourceSpans":[]}'), false, 'a 500 answer');
  assert.equal(rx.got.length, 3);
  assert.deepEqual(rx.got[0]!.body, pooled);
  assert.deepEqual(rx.got[1]!.body, big);
  assert.equal(rx.got[2]!.body.toString(), '{"resourceSpans":[]}');
  assert.ok(rx.got.every((g) => g.contentType === 'application/x-protobuf'));
});

test('an unreachable collector gives false, never a rejection; the exporter counts the spans as dropped', async () => {
  const rx = await receiver(() => 200);
  const url = rx.url;
  await rx.close(); // nothing listens there now
  const sender = new OtlpSender(url, 'application/json');
  closers.push(() => sender.close());
  assert.equal(await sender.send('{}'), false);

  const exporter = new OtlpExporter({ endpoint: url, serviceName: 't', flushIntervalMs: 3_600_000, maxQueueSize: 100, maxBatchSize: 10 });
  closers.push(() => exporter.close());
  for (let i = 0; i < 3; i++) {
    exporter.add({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: `00f067aa0ba902b${i}`,
      parentSpanId: undefined,
      traceState: undefined,
      name: 'GET',
      kind: SPAN_KIND_SERVER,
      startMs: 1,
      endMs: 2,
      attributes: ['http.request.method', 'GET'],
      error: undefined,
      exception: undefined,
    });
  }
  await exporter.flush();
  assert.equal(exporter.exported, 0);
  assert.equal(exporter.dropped, 3);
  assert.equal(exporter.failedExports, 1);
});

/** A sender whose first export has reached a collector that never answers it (later ones: 204). */
async function heldExport() {
  const rx = await receiver((n) => (n === 1 ? 'hang' : 204));
  closers.push(() => rx.close());
  const sender = new OtlpSender(rx.url, 'application/json');
  closers.push(() => sender.close());
  const held = sender.send('{"a":1}');
  await new Promise<void>((r) => {
    const t = setInterval(() => {
      if (rx.arrived() === 1) {
        clearInterval(t);
        r();
      }
    }, 5);
  });
  return { rx, sender, held };
}

test('close() settles an export still waiting for its answer (false); a later send starts a new worker', async () => {
  const { rx, sender, held: waiting } = await heldExport();
  await sender.close();
  assert.equal(await waiting, false);
  assert.equal(await sender.send('{"b":2}'), true);
  assert.equal(rx.got.at(-1)!.body.toString(), '{"b":2}');
});

/** Runs a module script in a child process with nothing else open; its output and how it ended. */
async function child(script: string): Promise<{ out: string; code: number | null; signal: string | null }> {
  // A file, not `-e`: a worker inherits the parent's exec flags, and --input-type would stop it.
  const dir = await mkdtemp(join(tmpdir(), 'gh-sender-'));
  closers.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'child.mjs');
  await writeFile(file, script);
  const proc = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => proc.kill(), 15_000);
  const [code, signal] = (await once(proc, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  return { out: out.trim(), code, signal };
}
const here = (name: string) => JSON.stringify(fileURLToPath(new URL(name, import.meta.url)));

test('an idle worker never keeps the process alive', async () => {
  const rx = await receiver(() => 204);
  closers.push(() => rx.close());
  const r = await child(`
    import { OtlpSender } from ${here('./otlp-sender.js')};
    const s = new OtlpSender(${JSON.stringify(rx.url)}, 'application/json');
    console.log('sent', await s.send('{}'));`);
  assert.equal(r.signal, null, 'the child exited by itself (not killed after 15 s)');
  assert.equal(r.code, 0);
  assert.equal(r.out, 'sent true');
  assert.equal(rx.arrived(), 1);
});

test('an export waiting for its answer keeps the process alive: the last flush on shutdown is delivered', async () => {
  const rx = await receiver(() => 200, 500);
  closers.push(() => rx.close());
  const r = await child(`
    import { OtlpExporter } from ${here('./otlp-exporter.js')};
    const e = new OtlpExporter({ endpoint: ${JSON.stringify(rx.url)}, serviceName: 't', flushIntervalMs: 3600000, maxQueueSize: 10, maxBatchSize: 10 });
    e.add({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', parentSpanId: undefined, traceState: undefined, name: 'GET',
      kind: 2, startMs: 1, endMs: 2, attributes: [], error: undefined, exception: undefined });
    void e.close().then(() => console.log('closed', e.exported, e.dropped));`);
  assert.equal(r.code, 0);
  assert.equal(r.out, 'closed 1 0');
  assert.equal(rx.got.length, 1);
});

test('a worker that dies fails only the exports it held; the next export goes to a new worker', async () => {
  const { rx, sender, held } = await heldExport();
  // A message the worker cannot handle throws in it: 'error', then (later) 'exit'.
  (sender as unknown as { thread: { worker: Worker } }).thread.worker.postMessage(null);
  assert.equal(await held, false);
  // Sent at once, before the dead worker's 'exit' arrives: that must not fail this one.
  assert.equal(await sender.send('{"b":2}'), true);
  assert.equal(rx.got.at(-1)!.body.toString(), '{"b":2}');
});
