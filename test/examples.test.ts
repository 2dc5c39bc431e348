// Every example config validates, and the versioning example routes as its comments say.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { loadConfigFile } from '../src/validation/load.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';

const examples = new URL('../../examples/', import.meta.url).pathname;

test('every example config is valid', async () => {
  const files = readdirSync(examples).filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.ok(files.length >= 2);
  for (const f of files) {
    const r = await loadConfigFile(join(examples, f), {});
    assert.ok(r.ok, `${f}: ${JSON.stringify(!r.ok && r.errors)}`);
  }
});

let v1: Upstream, v2: Upstream, gw: TestGateway;
before(async () => {
  v1 = await startUpstream((req, res) => res.end(`v1 ${req.url}`));
  v2 = await startUpstream((req, res) => res.end(`v2 ${req.url}`));
  const r = await loadConfigFile(join(examples, 'versioning.yaml'), { USERS_V1_URL: v1.url, USERS_V2_URL: v2.url });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  gw = await startTestGateway({ services: r.config.services, routes: r.config.routes });
});
after(async () => {
  await gw.stop();
  await Promise.all([v1.close(), v2.close()]);
});

test('versioning example: by path and by header, side by side', async () => {
  const get = async (path: string, headers: Record<string, string> = {}) => (await request(gw.url + path, { headers })).body.text();
  assert.equal(await get('/v1/users/42'), 'v1 /users/42');
  assert.equal(await get('/v2/users/42'), 'v2 /users/42');
  assert.equal(await get('/users/42', { 'x-api-version': '2' }), 'v2 /users/42');
  assert.equal(await get('/users/42', { 'x-api-version': '1' }), 'v1 /users/42');
  assert.equal(await get('/users/42'), 'v1 /users/42');
});
