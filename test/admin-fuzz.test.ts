// Hostile requests to every admin endpoint (the paths come from GET /openapi.json, so a new
// endpoint is fuzzed without touching this file): malformed escapes and invalid UTF-8 in every path
// parameter, odd methods, huge paths, with and without the token. A gateway with two workers and a
// token must answer each one (never 500, never a dropped connection) and keep serving, on the admin
// API and the data plane alike. One such request once ended the whole process tree.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { freePort, killAllChildren, startChild, tempDir, type GatewayChild, type TempDir } from './helpers/child.js';
import { rawRequest, statuses } from './helpers/raw.js';

const TOKEN = 'fuzz-token-0123456789';
const BAD_SEGMENTS = ['%ZZ', '%E0%A4%A', '%', '%C0%AF', '%FF', '%ED%A0%80', 'ok%'];
const ODD_VALUES = ['%00', '..%2F..', 'a'.repeat(4000), '%25ZZ', ''];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'FOO'];

let dir: TempDir;
let up: Upstream;
let gw: GatewayChild;

before(async () => {
  up = await startUpstream();
  dir = await tempDir();
  const port = await freePort();
  const cfg = await dir.file(
    'gw.yaml',
    `
workers: 2
accessLog: false
log: { level: warn }
listen: [{ port: ${port}, host: 127.0.0.1 }]
admin: { port: 0, host: 127.0.0.1, token: ${TOKEN} }
services:
  users: { targets: [{ url: "${up.url}" }] }
routes:
  - name: users
    match: { paths: ["/users/*"] }
    service: users
`,
  );
  gw = await startChild(cfg, { timeoutMs: 20_000 });
});

after(async () => {
  await killAllChildren();
  await up.close();
  await dir.remove();
});

/** One raw request on its own connection; resolves with the status (0: no answer). */
async function send(method: string, path: string, token: boolean): Promise<number> {
  const head = `${method} ${path} HTTP/1.1\r\nHost: admin\r\n${token ? `Authorization: Bearer ${TOKEN}\r\n` : ''}Content-Length: 0\r\nConnection: close\r\n\r\n`;
  const raw = await rawRequest(gw.adminPort, head, 5000);
  return statuses(raw)[0] ?? 0;
}

async function adminPaths(): Promise<string[]> {
  const res = await request(`${gw.adminUrl}/openapi.json`);
  const doc = (await res.body.json()) as { paths: Record<string, unknown> };
  return Object.keys(doc.paths);
}

test('an unauthenticated malformed escape is refused with 401, and the gateway keeps serving', async () => {
  assert.equal(await send('GET', '/services/%ZZ/health', false), 401);
  assert.equal(await send('GET', '/consumers/%E0%A4%A', false), 401);
  assert.equal(await send('GET', '/services/%ZZ/health', true), 400);
  assert.equal(await send('GET', '/consumers/%E0%A4%A', true), 400);
  const res = await request(`${gw.adminUrl}/services/%ZZ/health`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.deepEqual(((await res.body.json()) as { error: { code: string } }).error.code, 'ADMIN_BAD_PATH');
  assert.ok(gw.isRunning());
  const data = await request(`${gw.url}/users/1`);
  await data.body.dump();
  assert.equal(data.statusCode, 200);
});

test('every admin endpoint × hostile path values × odd methods, with and without the token', async () => {
  const templates = await adminPaths();
  assert.ok(
    templates.includes('/services/{name}/health') && templates.includes('/consumers/{id}/credentials/{credId}'),
    'openapi lists the parameterised endpoints',
  );
  const cases: { method: string; path: string; token: boolean; template: string; bad: boolean }[] = [];
  for (const template of templates) {
    const params = template.includes('{');
    const values = params ? [...BAD_SEGMENTS, ...ODD_VALUES] : [''];
    for (const value of values) {
      const path = params ? template.replace(/\{[^}]+\}/g, value) : template;
      for (const method of METHODS) {
        for (const token of [false, true]) cases.push({ method, path, token, template, bad: BAD_SEGMENTS.includes(value) });
      }
    }
  }
  // Whole paths that are hostile on their own.
  for (const path of [
    '/' + 'x'.repeat(20_000),
    '/%ZZ',
    '/consumers/%ZZ/credentials/%ZZ',
    '//',
    '/services//health',
    '/%2e%2e/config',
    '*',
  ]) {
    for (const token of [false, true]) cases.push({ method: 'GET', path, token, template: path.slice(0, 40), bad: false });
  }
  // The console's files and login answer without the token (they hold nothing; "//" is "/", its redirect).
  const open = new Set(['/health', '/ready', '/openapi.json', '/ui/session', '/', '//']);
  const failures: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const status = await send(c.method, c.path, c.token);
        const where = `${c.method} ${c.path.slice(0, 60)} (token: ${c.token}) → ${status}`;
        // Node's parser answers an unknown method or an oversized head itself (400/431): still an answer.
        if (status === 0 || status >= 500) failures.push(where);
        else if (!c.token && !open.has(c.path) && status !== 401 && status !== 400 && status !== 431)
          failures.push(`${where}: expected 401 without the token`);
        else if (
          c.token &&
          c.bad &&
          ![400, 405].includes(status) &&
          ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'].includes(c.method)
        )
          failures.push(`${where}: expected 400 for a malformed escape`);
      }
    }),
  );
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} requests were mishandled`);
  assert.ok(gw.isRunning(), 'the gateway is still running');
  assert.doesNotMatch(gw.stderr, /uncaught exception|unhandled promise rejection/, 'nothing escaped the handlers');
  const health = await request(`${gw.adminUrl}/health`);
  assert.equal(health.statusCode, 200);
  await health.body.dump();
  for (let i = 0; i < 4; i++) {
    const data = await request(`${gw.url}/users/${i}`, { reset: true });
    await data.body.dump();
    assert.equal(data.statusCode, 200);
  }
});
