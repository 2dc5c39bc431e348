// The extension point a cache is built on (decision 0007), driven through a user's plugin as a
// client would: an access phase that serves a whole response (the response phases still run on
// it), an upstreamResponse phase that taps the body as it streams, or serves another response in
// the service's place (after a 503, or when the service cannot be reached), and the guard that
// answers 500 GW_POLICY_ERROR for a served response that cannot be sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { rawRequest } from './helpers/raw.js';
import { freePort, tempDir, waitFor, type TempDir } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { silentLogger } from '../src/observability/logger.js';

const api = pathToFileURL(fileURLToPath(new URL('../src/index.js', import.meta.url))).href;

interface Seen {
  tapped: string[];
  aborted: number;
  heads: { status: number; failed?: string }[];
  bgFaults: number;
}
const seen = ((globalThis as { __mirrorSeen?: Seen }).__mirrorSeen = { tapped: [], aborted: 0, heads: [], bgFaults: 0 });

const MIRROR = `
import { definePolicy, z } from ${JSON.stringify(api)};
const seen = globalThis.__mirrorSeen;
export default definePolicy({
  type: 'mirror',
  description: 'Serves, taps and replaces responses for the tests.',
  schema: z.strictObject({ type: z.literal('mirror') }),
  phases: ['access', 'upstreamResponse'],
  example: {},
  create() {
    return {
      access(ctx) {
        const how = ctx.req.headers['x-serve'];
        if (how === 'good') return { serve: { status: 200, headers: ['content-type', 'text/plain', 'x-from', 'plugin', 'connection', 'x-from'], body: Buffer.from('served') } };
        if (how === 'bad-status') return { serve: { status: 99, headers: [], body: Buffer.from('x') } };
        if (how === 'bad-header') return { serve: { status: 200, headers: ['x-evil', 'a\\r\\nset-cookie: b'], body: Buffer.from('x') } };
        if (how === 'not-buffer') return { serve: { status: 200, headers: [], body: 'text' } };
        if (how === 'trailers-length') return { serve: { status: 200, headers: ['content-length', '2'], body: Buffer.from('0123456789'), trailers: ['x-sum', '45'] } };
        if (how === 'refresh-throws') return { serve: { status: 200, headers: [], body: Buffer.from('served') }, refresh() { throw new Error('refresh fault'); } };
        if (how === 'refresh-tapped') return { serve: { status: 200, headers: [], body: Buffer.from('served') }, refresh() {} };
        if (how === 'refresh-then-phase-throws') return { serve: { status: 200, headers: [], body: Buffer.from('served') }, refresh(bg) { bg.locals.set('bg', true); } };
        return undefined;
      },
      upstreamResponse(ctx, res) {
        seen.heads.push({ status: res.status, failed: res.failed });
        if (ctx.locals.get('bg') === true) { seen.bgFaults++; throw new Error('background phase fault'); }
        if (res.failed !== undefined) return { serve: { status: 200, headers: ['x-stale', '1'], body: Buffer.from('instead of ' + res.failed) } };
        if (res.status === 503) return { serve: { status: 200, headers: ['x-replaced', '1'], body: Buffer.from('replaced') } };
        if (ctx.req.headers['x-tap'] === 'throw') return { tap: { data() { throw new Error('tap fault'); }, end() {}, abort() { seen.aborted++; } } };
        const chunks = [];
        return { tap: { data(c) { chunks.push(c); }, end() { seen.tapped.push(Buffer.concat(chunks).toString('latin1')); }, abort() { seen.aborted++; } } };
      },
    };
  },
});
`;

let dir: TempDir;
let up: Upstream;
let gw: Gateway;
let base: string;
const BIG = 'x'.repeat(64 * 1024) + 'end';

before(async () => {
  dir = await tempDir();
  up = await startUpstream((req, res) => {
    if (req.url === '/down') {
      res.writeHead(503, { 'content-type': 'text/plain' });
      return res.end('upstream is down');
    }
    if (req.url === '/broken') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only a part');
      setTimeout(() => res.destroy(), 20);
      return;
    }
    if (req.url === '/stall') {
      res.writeHead(200);
      res.write('first part');
      return; // never ends: the client leaves
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    // In several writes, so that the tap sees more than one chunk.
    for (let i = 0; i < BIG.length; i += 16 * 1024) res.write(BIG.slice(i, i + 16 * 1024));
    res.end();
  });
  mkdirSync(join(dir.path, 'plugins'));
  writeFileSync(join(dir.path, 'plugins', 'mirror.js'), MIRROR);
  const dead = await freePort();
  const path = await dir.file(
    'gatehouse.yaml',
    `
accessLog: false
log: { level: silent }
listen: [{ port: 0, host: 127.0.0.1 }]
plugins: ["./plugins/mirror.js"]
services:
  up: { targets: [{ url: "${up.url}" }] }
  gone: { targets: [{ url: "http://127.0.0.1:${dead}" }] }
routes:
  - name: gone
    match: { paths: ["/gone"] }
    service: gone
    policies: [{ type: mirror }]
  - name: all
    match: { paths: ["/*"] }
    service: up
    policies:
      - { type: mirror }
      - { type: headers, response: { set: { x-added: "yes" } } }
`,
  );
  gw = await startGateway({ configPath: path, logger: silentLogger, watch: false });
  base = gw.listeners[0]!.url;
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
  await maybeUnset(dir)?.remove();
});

test('an access phase serves a whole response: the service is not called, the response phases run on it, hop-by-hop fields go', async () => {
  const hits = up.hits;
  const r = await request(`${base}/anything`, { headers: { 'x-serve': 'good' } });
  assert.equal(r.statusCode, 200);
  assert.equal(await r.body.text(), 'served');
  assert.equal(r.headers['x-from'], undefined, 'named by Connection, so dropped like any hop-by-hop field');
  assert.equal(r.headers['x-added'], 'yes', 'the headers policy ran on the served response');
  assert.match(String(r.headers.via), /gatehouse/);
  assert.equal(r.headers['content-length'], '6');
  assert.equal(up.hits, hits);
});

test('a served response that cannot be sent is the plugin fault: 500 GW_POLICY_ERROR, and the process serves on', async () => {
  for (const how of ['bad-status', 'bad-header', 'not-buffer']) {
    const r = await request(`${base}/anything`, { headers: { 'x-serve': how } });
    assert.equal(r.statusCode, 500, how);
    assert.equal(((await r.body.json()) as { error: { code: string } }).error.code, 'GW_POLICY_ERROR');
  }
  const ok = await request(`${base}/anything`);
  assert.equal(ok.statusCode, 200);
  await ok.body.text();
});

test('a tap sees the service body as it streams to the client, whole and unchanged', async () => {
  const before = seen.tapped.length;
  const r = await request(`${base}/big`);
  assert.equal(await r.body.text(), BIG);
  assert.equal(r.headers['x-added'], 'yes');
  await waitFor('the tap to end', () => seen.tapped.length > before);
  assert.equal(seen.tapped[seen.tapped.length - 1], BIG);
});

test('a tap that throws is dropped: the client still gets the whole body', async () => {
  const aborted = seen.aborted;
  const r = await request(`${base}/big`, { headers: { 'x-tap': 'throw' } });
  assert.equal(await r.body.text(), BIG);
  assert.equal(seen.aborted, aborted + 1, 'the failed tap was told it will not end');
});

test('a client that leaves mid-body aborts the tap', async () => {
  const aborted = seen.aborted;
  const ac = new AbortController();
  const r = await request(`${base}/stall`, { signal: ac.signal });
  for await (const chunk of r.body) {
    assert.ok((chunk as Buffer).length > 0);
    break;
  }
  ac.abort();
  await waitFor('the tap to be aborted', () => seen.aborted > aborted);
});

test("upstreamResponse serves another response in the service's place: its 503 is read and dropped", async () => {
  const r = await request(`${base}/down`);
  assert.equal(r.statusCode, 200);
  assert.equal(await r.body.text(), 'replaced');
  assert.equal(r.headers['x-replaced'], '1');
  assert.equal(r.headers['x-added'], 'yes');
  assert.deepEqual(seen.heads[seen.heads.length - 1], { status: 503, failed: undefined });
});

test('a service that cannot be reached: upstreamResponse hears of it (failed) and may serve instead of the 502', async () => {
  const r = await request(`${base}/gone`);
  assert.equal(r.statusCode, 200);
  assert.equal(await r.body.text(), 'instead of GW_UPSTREAM_UNAVAILABLE');
  assert.equal(r.headers['x-stale'], '1');
  assert.deepEqual(seen.heads[seen.heads.length - 1], { status: 502, failed: 'GW_UPSTREAM_UNAVAILABLE' });
});

test('a served response with trailers is framed by chunks, never by a Content-Length it carries (which would cut the body and desync the connection)', async () => {
  const port = Number(new URL(base).port);
  const raw = await rawRequest(
    port,
    'GET /anything HTTP/1.1\r\nHost: a\r\nx-serve: trailers-length\r\nTE: trailers\r\nConnection: close\r\n\r\n',
  );
  const [head, body] = raw.split('\r\n\r\n', 2) as [string, string];
  assert.doesNotMatch(head, /content-length/i, head);
  assert.match(head, /transfer-encoding: chunked/i);
  assert.match(raw.slice(head.length), /0123456789/);
  assert.match(body + raw, /x-sum: 45/i);
});

test('a refresh callback that throws, and a background refresh whose upstreamResponse phase throws, are logged: the process serves on', async () => {
  for (const how of ['refresh-throws', 'refresh-then-phase-throws']) {
    const r = await request(`${base}/anything`, { headers: { 'x-serve': how } });
    assert.equal(await r.body.text(), 'served', how);
  }
  await waitFor('the background phase to run', () => seen.bgFaults > 0);
  await new Promise((r) => setTimeout(r, 100));
  const ok = await request(`${base}/anything`);
  assert.equal(ok.statusCode, 200);
  await ok.body.text();
});

test('a background refresh whose service breaks off mid-body aborts its taps (they are told the body will not end)', async () => {
  const aborted = seen.aborted;
  const r = await request(`${base}/broken`, { headers: { 'x-serve': 'refresh-tapped' } });
  assert.equal(await r.body.text(), 'served');
  await waitFor('the background tap to be aborted', () => seen.aborted > aborted);
});
