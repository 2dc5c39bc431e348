// The extension point's protocol-translation parts (decision 0011), driven by a plugin as a user
// writes it, over HTTP/1.1 and HTTP/2: a responseBody policy's stream transform (output as it
// comes, the head held until the first output and chosen from the trailers when there is none,
// rewrites of the whole body after it, faults fenced in); `readsBody` (a request a requestBody
// policy does not need streams); and `upstreamTarget` (the request goes to another method and path).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { pluginConfig } from './helpers/plugin-config.js';
import { tempDir, type TempDir } from './helpers/child.js';
import { http1Client, http2Client, type TestClient } from './helpers/clients.js';
import { maybeUnset } from './helpers/hooks.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { silentLogger } from '../src/observability/logger.js';

const api = pathToFileURL(fileURLToPath(new URL('../src/index.js', import.meta.url))).href;

// `lines`: the service's body split at "\n", each line upper-cased and sent as soon as it is whole;
// with trailer `x-outcome: missing` and no line sent, the answer is 404 instead. The requestBody
// phase runs only for requests with `x-translate: yes`: it sends them as `PUT /translated` with
// the body reversed. `mark` rewrites whole JSON bodies, to show rewrites see a transform's output.
const PLUGIN = `
import { definePolicy, z, BodyRefusal } from ${JSON.stringify(api)};
const lines = definePolicy({
  type: 'lines',
  description: 'Upper-cases lines as they stream.',
  schema: z.strictObject({ type: z.literal('lines') }),
  phases: ['requestBody', 'responseBody'],
  example: {},
  create() {
    return {
      readsBody(ctx) { return ctx.req.headers['x-translate'] === 'yes' || ctx.req.headers['x-target'] !== undefined; },
      requestBody(ctx, b) {
        const asked = ctx.req.headers['x-target'];
        if (asked !== undefined) return void (ctx.upstreamTarget = JSON.parse(asked));
        ctx.upstreamTarget = { method: 'PUT', path: '/translated' };
        b.body = Buffer.from(b.body.toString().split('').reverse().join(''));
      },
      responseBody(ctx, res) {
        if (ctx.path.startsWith('/p/')) return undefined;
        let pending = '';
        let sent = false;
        return {
          abort() {
            (globalThis.__linesAborted ??= []).push(ctx.path);
          },
          data(chunk, info) {
            if (ctx.path.startsWith('/refuse/')) throw new BodyRefusal('GW_UPSTREAM_ERROR', 'cannot read these lines');
            if (ctx.path.startsWith('/crash/') && sent) throw new Error('secret transform detail');
            pending += chunk.toString();
            const cut = pending.lastIndexOf('\\n');
            if (cut < 0) return undefined;
            const out = pending.slice(0, cut + 1).toUpperCase();
            pending = pending.slice(cut + 1);
            info.headers.push('x-transformed', 'yes');
            sent = true;
            return Buffer.from(out);
          },
          end(trailers, info) {
            const outcome = trailers && trailers[trailers.indexOf('x-outcome') + 1];
            if (!sent && outcome === 'missing') {
              info.status = 404;
              if (ctx.path.startsWith('/badhead/')) info.headers.push('x bad', 'b');
              if (ctx.path.startsWith('/crlfhead/')) info.headers.push('x-bad', 'a\\r\\nx-injected: 1');
              const at = info.headers.findIndex((h, j) => j % 2 === 0 && h.toLowerCase() === 'content-type');
              info.headers.splice(at, 2, 'content-type', 'application/json');
              return Buffer.from('{"missing":true}');
            }
            return pending.length > 0 ? Buffer.from(pending.toUpperCase()) : undefined;
          },
        };
      },
    };
  },
});
const mark = definePolicy({
  type: 'mark',
  description: 'Marks whole JSON bodies.',
  schema: z.strictObject({ type: z.literal('mark') }),
  phases: ['responseBody'],
  example: {},
  create() {
    return {
      responseBody(ctx, res) {
        if (ctx.path.startsWith('/boom/') && res.headers.includes('x-transformed')) throw new Error('secret mark detail');
        const i = res.headers.findIndex((h, j) => j % 2 === 0 && h.toLowerCase() === 'content-type');
        if (i < 0 || !res.headers[i + 1].startsWith('application/json')) return undefined;
        return { maxBytes: 1000, tooLarge: 'error', rewrite: (body) => Buffer.from(JSON.stringify({ ...JSON.parse(body.toString()), marked: true })) };
      },
    };
  },
});
export default [lines, mark];
`;

const ROUTES = `
  flaky: { targets: [{ url: "UPSTREAM" }], timeouts: { idle: 300ms }, retries: { attempts: 2, on: [timeout], backoff: { base: 1ms, max: 2ms } } }
routes:
  - { name: flaky, match: { paths: [/stall/*] }, service: flaky, policies: [{ type: lines }] }
  - { name: lines, match: { paths: [/l/*, /refuse/*, /crash/*, /p/*, /boom/*, /badhead/*, /crlfhead/*] }, service: up, policies: [{ type: mark }, { type: lines }] }
`;

let dir: TempDir;
let up: Upstream;
let gw: Gateway;
let base: string;
const h2 = http2Client();
const clients: TestClient[] = [http1Client, h2];
/** Resolves the slow line's wait: the upstream holds its second line until a test says. */
let releaseSlow: (() => void) | undefined;
const seen: { method: string; url: string; body: string }[] = [];
const stalled = new Set<string>();

before(async () => {
  dir = await tempDir();
  up = await startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      seen.push({ method: req.method!, url, body: Buffer.concat(chunks).toString() });
      if (url.endsWith('/missing')) {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-outcome' });
        res.addTrailers({ 'x-outcome': 'missing' });
        return void res.end();
      }
      if (url.startsWith('/stall/') && !stalled.has(url)) {
        stalled.add(url); // the first try: the head, then nothing (the idle timeout retries it)
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.flushHeaders();
        return;
      }
      if (url.endsWith('/slow')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first line\n');
        releaseSlow = () => res.end('second line\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('one\ntw');
      res.write('o\nthree');
      res.end();
    });
  });
  mkdirSync(join(dir.path, 'plugins'));
  writeFileSync(join(dir.path, 'plugins', 'lines.js'), PLUGIN);
  const yaml = pluginConfig(up.url, ROUTES.replace('UPSTREAM', up.url), ['./plugins/lines.js']).replace(
    'listen: [{ port: 0, host: 127.0.0.1 }]',
    'listen: [{ port: 0, host: 127.0.0.1, http2: true }]',
  );
  gw = await startGateway({ configPath: await dir.file('gatehouse.yaml', yaml), logger: silentLogger, watch: false });
  base = gw.listeners[0]!.url;
});

after(async () => {
  await h2.close();
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
  await maybeUnset(dir)?.remove();
});

for (const client of clients) {
  test(`${client.name}: the transform's output reaches the client, its last piece at the end`, async () => {
    const r = await client.request(`${base}/l/x`);
    assert.equal(r.statusCode, 200);
    assert.equal(await r.body.text(), 'ONE\nTWO\nTHREE');
    assert.equal(r.headers['x-transformed'], 'yes');
    assert.equal(r.headers['content-length'], undefined, 'a body with output before its end streams');
  });

  test(`${client.name}: with no output before the end the transform chooses the status, and rewrites see its output`, async () => {
    const r = await client.request(`${base}/l/missing`);
    const body = await r.body.text();
    assert.equal(r.statusCode, 404, body);
    assert.deepEqual(JSON.parse(body), { missing: true, marked: true });
    assert.equal(r.headers['content-length'], String(body.length));
  });

  test(`${client.name}: a refusal before any output is the answer; a fault after it breaks the response off`, async () => {
    const refused = await client.request(`${base}/refuse/x`);
    assert.equal(refused.statusCode, 502);
    const body = await refused.body.text();
    assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, 'GW_UPSTREAM_ERROR');
    assert.match(body, /cannot read these lines/);
    await assert.rejects(client.request(`${base}/crash/x`));
  });
}

test('output goes out as it comes: the first line arrives while the service still holds the second', async () => {
  const res = await request(`${base}/l/slow`);
  const reader = res.body[Symbol.asyncIterator]();
  const first = await reader.next();
  assert.equal(Buffer.from(first.value as Buffer).toString(), 'FIRST LINE\n');
  releaseSlow!();
  let rest = '';
  for (let n = await reader.next(); !n.done; n = await reader.next()) rest += Buffer.from(n.value as Buffer).toString();
  assert.equal(rest, 'SECOND LINE\n');
});

test('readsBody: a request the policy reads goes to its upstreamTarget with the new body; another streams as it came', async () => {
  seen.length = 0;
  const read = await request(`${base}/l/a`, { method: 'POST', body: 'abc', headers: { 'x-translate': 'yes' } });
  await read.body.text();
  const streamed = await request(`${base}/l/b`, { method: 'POST', body: 'abc' });
  await streamed.body.text();
  assert.deepEqual(seen, [
    { method: 'PUT', url: '/translated', body: 'cba' },
    { method: 'POST', url: '/l/b', body: 'abc' },
  ]);
});

test('upstreamTarget: a target that is not a canonical path and a method token is the policy’s fault, never sent', async () => {
  const bad = [
    { method: 'GET', path: '/l/../admin' },
    { method: 'GET', path: 'http://other.test/admin' },
    { method: 'GET', path: 'admin' },
    { method: 'GET', path: '/a//b' },
    { method: 'GET /admin HTTP/1.1\r\nx-a: b', path: '/x' },
    { method: '', path: '/x' },
  ];
  for (const target of bad) {
    seen.length = 0;
    const r = await request(`${base}/l/t`, { method: 'POST', body: 'abc', headers: { 'x-target': JSON.stringify(target) } });
    const body = await r.body.text();
    assert.equal(r.statusCode, 500, `${JSON.stringify(target)}: ${body}`);
    assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, 'GW_POLICY_ERROR');
    assert.deepEqual(seen, [], JSON.stringify(target));
  }
  seen.length = 0;
  const ok = await request(`${base}/l/t`, {
    method: 'POST',
    body: 'abc',
    headers: { 'x-target': JSON.stringify({ method: 'PATCH', path: '/a b/c?d' }) },
  });
  await ok.body.text();
  assert.deepEqual(seen, [{ method: 'PATCH', url: '/a%20b/c%3Fd', body: 'abc' }], 'a valid target is encoded as a path is');
});

for (const client of clients) {
  test(`${client.name}: a rewrite policy failing when asked about the transform's output is answered 500, not thrown`, async () => {
    const r = await client.request(`${base}/boom/x`);
    const body = await r.body.text();
    assert.equal(r.statusCode, 500, body);
    assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, 'GW_POLICY_ERROR');
    assert.doesNotMatch(body, /secret/);
    const after = await client.request(`${base}/l/x`);
    assert.equal(await after.body.text(), 'ONE\nTWO\nTHREE', 'the gateway still serves');
  });
}

for (const client of clients) {
  test(`${client.name}: a head the rewrites after a transform cannot send is answered 500, not left hanging`, async () => {
    const r = await client.request(`${base}/badhead/missing`);
    const body = await r.body.text();
    assert.equal(r.statusCode, 500, body);
    const crlf = await client.request(`${base}/crlfhead/missing`);
    assert.equal(crlf.statusCode, 500, 'a value with CR/LF is never sent (HTTP/2 would send it as it is)');
    assert.equal(crlf.headers['x-injected'], undefined);
    await crlf.body.text();
    assert.doesNotMatch(body, /x bad/);
  });
}

test('a plugin transform failing after its output is counted as the plugin’s fault (GW_POLICY_ERROR), not the gateway’s', async () => {
  const errors = async () => {
    const text = await (await request(`http://127.0.0.1:${gw.admin!.port}/metrics`)).body.text();
    const count = (code: string) =>
      Number(new RegExp(`gatehouse_gateway_errors_total\\{route="lines",service="up",code="${code}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    return { policy: count('GW_POLICY_ERROR'), internal: count('GW_INTERNAL') };
  };
  const before = await errors();
  await assert.rejects(request(`${base}/crash/x`).then((r) => r.body.text()));
  let after = await errors();
  // Counted when the exchange is over, which may be just after the client saw the reset.
  while (after.policy + after.internal === before.policy + before.internal) {
    await new Promise((r) => setTimeout(r, 10));
    after = await errors();
  }
  assert.deepEqual(after, { policy: before.policy + 1, internal: before.internal });
});

test('a transform whose response is retried (the service stalled after its head) is aborted: its body will not end', async () => {
  const aborted = ((globalThis as { __linesAborted?: string[] }).__linesAborted ??= []);
  aborted.length = 0;
  const r = await request(`${base}/stall/x`);
  assert.equal(await r.body.text(), 'ONE\nTWO\nTHREE', 'the retry answered');
  assert.deepEqual(aborted, ['/stall/x'], 'the first try’s transform, once');
});
