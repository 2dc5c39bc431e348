// The body phases of the extension point (decision 0007), driven by a plugin as a user writes it,
// over HTTP/1.1 and HTTP/2: a requestBody policy reads (and replaces) the whole request body or
// answers instead; a responseBody policy rewrites the bodies it asks for, bounded, while every
// other response streams. Faults are fenced in like any plugin's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { pluginConfig } from './helpers/plugin-config.js';
import { tempDir, type TempDir } from './helpers/child.js';
import { http1Client, http2Client, type TestClient } from './helpers/clients.js';
import { maybeUnset } from './helpers/hooks.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { silentLogger } from '../src/observability/logger.js';

const api = pathToFileURL(fileURLToPath(new URL('../src/index.js', import.meta.url))).href;

// requestBody: a JSON body gets `"seen": true`; "reject" in it answers 422; "fail" throws.
// responseBody: a 2xx JSON answer gets `"rewritten": true`; the path /refuse/* a BodyRefusal, /crash/* a throw.
const PLUGIN = `
import { definePolicy, z, BodyRefusal } from ${JSON.stringify(api)};
export default definePolicy({
  type: 'json-mark',
  description: 'Marks JSON bodies both ways.',
  schema: z.strictObject({
    type: z.literal('json-mark'),
    buffer: z.number().int().default(1024),
    maxBytes: z.number().int().default(4096),
    tooLarge: z.enum(['pass', 'error']).default('pass'),
  }),
  phases: ['requestBody', 'responseBody'],
  example: {},
  create(config) {
    return {
      bodyBufferBytes: config.buffer,
      requestBody(ctx, b) {
        const text = b.body.toString();
        if (text.includes('fail')) throw new Error('secret request detail');
        if (text.includes('reject')) return { status: 422, body: 'rejected by json-mark' };
        if (!b.contentType.startsWith('application/json')) return undefined;
        return Promise.resolve().then(() => {
          b.body = Buffer.from(JSON.stringify({ ...JSON.parse(text), seen: true, length: b.body.length }));
        });
      },
      responseBody(ctx, res) {
        const i = res.headers.findIndex((h, j) => j % 2 === 0 && h.toLowerCase() === 'content-type');
        if (res.status >= 300 || i < 0 || !res.headers[i + 1].startsWith('application/json')) return undefined;
        if (ctx.path.startsWith('/malformed/')) return { maxBytes: 'lots', tooLarge: 'pass', rewrite: (b) => b };
        if (ctx.path.startsWith('/not-buffer/')) return { maxBytes: 100000, tooLarge: 'pass', rewrite: () => 'a string' };
        return {
          maxBytes: config.maxBytes,
          tooLarge: config.tooLarge,
          async rewrite(body, info) {
            if (ctx.path.startsWith('/refuse/')) throw new BodyRefusal('GW_UPSTREAM_ERROR', 'cannot mark this body');
            if (ctx.path.startsWith('/crash/')) throw new Error('secret response detail');
            info.headers.push('x-marked', 'yes');
            return Buffer.from(JSON.stringify({ ...JSON.parse(body.toString()), rewritten: true }));
          },
        };
      },
    };
  },
});
`;

const ROUTES = `
routes:
  - { name: marked, match: { paths: [/m/*, /refuse/*, /crash/*, /malformed/*, /not-buffer/*] }, service: up, policies: [{ type: json-mark }] }
  - { name: strict, match: { paths: [/strict/*] }, service: up, policies: [{ type: json-mark, maxBytes: 100, tooLarge: error }] }
  - { name: plain, match: { paths: [/p/*] }, service: up }
`;

let dir: TempDir;
let up: Upstream;
let gw: Gateway;
let base: string;
const h2 = http2Client();
const clients: TestClient[] = [http1Client, h2];

/** The upstream: /…/echo echoes method, headers and body as JSON; /…/big a large JSON; /…/gz gzip JSON; /…/nothing 204. */
before(async () => {
  dir = await tempDir();
  up = await startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      if (url.endsWith('/big')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"pad":"');
        res.write('x'.repeat(10_000));
        return void res.end('"}');
      }
      if (url.endsWith('/gz')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        return void res.end(gzipSync('{"zipped":true}'));
      }
      if (url.endsWith('/nothing')) return void res.writeHead(204).end();
      if (url.endsWith('/text')) return void res.writeHead(200, { 'content-type': 'text/plain' }).end('plain text');
      const body = Buffer.concat(chunks).toString();
      res.writeHead(200, { 'content-type': 'application/json' });
      // Chunked: the gateway must set its own Content-Length on the rewritten body.
      res.write(JSON.stringify({ method: req.method, headers: req.headers, body }));
      res.end();
    });
  });
  mkdirSync(join(dir.path, 'plugins'));
  writeFileSync(join(dir.path, 'plugins', 'json-mark.js'), PLUGIN);
  const yaml = pluginConfig(up.url, ROUTES, ['./plugins/json-mark.js']).replace(
    'listen: [{ port: 0, host: 127.0.0.1 }]',
    'listen: [{ port: 0, host: 127.0.0.1, http2: true }]',
  );
  const path = await dir.file('gatehouse.yaml', yaml);
  gw = await startGateway({ configPath: path, logger: silentLogger, watch: false });
  base = gw.listeners[0]!.url;
});

after(async () => {
  await h2.close();
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
  await maybeUnset(dir)?.remove();
});

interface Echo {
  method: string;
  headers: Record<string, string>;
  body: string;
  rewritten?: boolean;
}

for (const client of clients) {
  test(`${client.name}: the request body is read whole, replaced, and sent with its own Content-Length`, async () => {
    const r = await client.request(`${base}/m/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    assert.equal(r.statusCode, 200);
    const echo = (await r.body.json()) as Echo;
    assert.deepEqual(JSON.parse(echo.body), { a: 1, seen: true, length: 7 });
    assert.equal(echo.headers['content-length'], String(Buffer.byteLength(echo.body)));
    assert.equal(echo.headers['transfer-encoding'], undefined);
    assert.equal(echo.headers['accept-encoding'], 'identity', 'a route that rewrites responses asks for them unencoded');
    // The response was rewritten too, with a Content-Length of its own.
    assert.equal(echo.rewritten, true);
    assert.equal(r.headers['x-marked'], 'yes');
    assert.equal(r.headers['transfer-encoding'], undefined);
  });

  test(`${client.name}: a requestBody verdict answers, and the service never sees the request`, async () => {
    const hits = up.hits;
    const r = await client.request(`${base}/m/echo`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'please reject' });
    assert.equal(r.statusCode, 422);
    assert.equal(await r.body.text(), 'rejected by json-mark');
    assert.equal(up.hits, hits);
  });

  test(`${client.name}: a body over bodyBufferBytes is 413 GW_PAYLOAD_TOO_LARGE`, async () => {
    const hits = up.hits;
    const r = await client.request(`${base}/m/echo`, { method: 'POST', body: 'y'.repeat(2000) });
    assert.equal(r.statusCode, 413);
    assert.equal(((await r.body.json()) as { error: { code: string } }).error.code, 'GW_PAYLOAD_TOO_LARGE');
    assert.equal(up.hits, hits);
  });

  test(`${client.name}: responses no policy asks for stream as they came (text, gzip, 204, HEAD, a route without the policy)`, async () => {
    const text = await client.request(`${base}/m/text`);
    assert.equal(await text.body.text(), 'plain text');
    const gz = await client.request(`${base}/m/gz`);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['x-marked'], undefined);
    await gz.body.text();
    const none = await client.request(`${base}/m/nothing`);
    assert.equal(none.statusCode, 204);
    const head = await client.request(`${base}/m/echo`, { method: 'HEAD' });
    assert.equal(head.headers['x-marked'], undefined);
    const plain = (await (await client.request(`${base}/p/echo`, { method: 'POST', body: '{"a":1}' })).body.json()) as Echo;
    assert.equal(plain.body, '{"a":1}');
    assert.equal(plain.rewritten, undefined);
  });

  test(`${client.name}: past maxBytes a body passes unchanged (tooLarge: pass) or is 502 GW_UPSTREAM_BODY_TOO_LARGE (error)`, async () => {
    const passed = await client.request(`${base}/m/big`);
    assert.equal(passed.statusCode, 200);
    const text = await passed.body.text();
    assert.equal(text.length, 10_010);
    assert.equal(passed.headers['x-marked'], undefined);
    const refused = await client.request(`${base}/strict/big`);
    assert.equal(refused.statusCode, 502);
    assert.equal(((await refused.body.json()) as { error: { code: string } }).error.code, 'GW_UPSTREAM_BODY_TOO_LARGE');
  });

  test(`${client.name}: a BodyRefusal answers its code; a throw or a malformed rewrite is 500 GW_POLICY_ERROR with nothing leaked; the gateway serves on`, async () => {
    const refused = await client.request(`${base}/refuse/echo`);
    assert.equal(refused.statusCode, 502);
    const err = ((await refused.body.json()) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'GW_UPSTREAM_ERROR');
    assert.equal(err.message, 'cannot mark this body');
    for (const [path, body] of [
      ['/crash/echo', undefined],
      ['/malformed/echo', undefined],
      ['/not-buffer/echo', undefined],
      ['/m/echo', 'fail please'],
    ] as const) {
      const r = await client.request(`${base}${path}`, body === undefined ? {} : { method: 'POST', body });
      const t = await r.body.text();
      assert.equal(r.statusCode, 500, path);
      assert.match(t, /GW_POLICY_ERROR/);
      assert.doesNotMatch(t, /secret/);
    }
    const ok = await client.request(`${base}/p/echo`);
    assert.equal(ok.statusCode, 200);
  });
}

test('HTTP/1.1: a chunked request body is read whole and sent with a Content-Length; past the bound, 413', async () => {
  const r = await request(`${base}/m/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: Readable.from(
      (function* () {
        yield '{"b":';
        yield '2}';
      })(),
    ),
  });
  const echo = (await r.body.json()) as Echo;
  assert.deepEqual(JSON.parse(echo.body), { b: 2, seen: true, length: 7 });
  assert.equal(echo.headers['content-length'], String(Buffer.byteLength(echo.body)));
  const big = await request(`${base}/m/echo`, {
    method: 'POST',
    body: Readable.from(
      (function* () {
        for (let i = 0; i < 20; i++) yield 'z'.repeat(100);
      })(),
    ),
  });
  assert.equal(big.statusCode, 413);
  await big.body.text();
});
