// GET /consumers/:id/usage of a consumer added or re-planned through /consumers since the last apply.
// PUT /consumers/:id with a secret as the literal "[redacted]" (how the console's edit form sends a
// consumer back): the credential keeps its value; a "[redacted]" naming no current credential is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';

let up: Upstream;
let gw: TestGateway;
const auth = { authorization: 'Bearer admin-token-123', 'content-type': 'application/json' };

before(async () => {
  up = await startUpstream();
  gw = await startTestGateway({
    admin: { token: 'admin-token-123' },
    services: { up: { targets: [{ url: up.url }] } },
    plans: { gold: { limits: [{ limit: 1000, window: '1m' }] } },
    consumers: [
      {
        id: 'bob',
        metadata: { team: 'blue', webhook: { url: 'https://example.com/hook', token: 'meta-secret-1' } },
        credentials: [
          { type: 'api-key', key: 'bob-key-0123456789' },
          { type: 'basic', username: 'bob', password: 'bob-password-1' },
        ],
      },
    ],
    routes: [
      {
        name: 'api',
        match: { paths: ['/*'] },
        service: 'up',
        policies: [{ type: 'key-auth' }, { type: 'rate-limit', limits: 'plan', by: ['consumer'] }],
      },
    ],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

test('a PUT with "[redacted]" secrets changes the plan and keeps the key and the password', async () => {
  const body = {
    groups: ['partners'],
    plan: 'gold',
    metadata: { team: 'red', webhook: { url: 'https://example.com/hook', token: '[redacted]' } },
    credentials: [
      { type: 'api-key', id: 'bob:api-key:0', key: '[redacted]' },
      { type: 'basic', id: 'bob:basic:1', username: 'bob', password: '[redacted]' },
    ],
  };
  const res = await fetch(`${gw.adminUrl}/consumers/bob`, { method: 'PUT', headers: auth, body: JSON.stringify(body) });
  assert.equal(res.status, 200, await res.clone().text());
  const shown = (await res.json()) as { plan: string; groups: string[] };
  assert.equal(shown.plan, 'gold');
  assert.deepEqual(shown.groups, ['partners']);
  assert.equal((await fetch(`${gw.url}/x`, { headers: { 'x-api-key': 'bob-key-0123456789' } })).status, 200);
  assert.equal((await fetch(`${gw.url}/x`, { headers: { 'x-api-key': '[redacted]' } })).status, 401);
  const config = (await (await fetch(`${gw.adminUrl}/config`, { headers: auth })).json()) as {
    consumers: { credentials: { password?: string }[] }[];
  };
  assert.equal(config.consumers[0]!.credentials[1]!.password, '[redacted]');
  const metadata = gw.instance.config.consumers.find((c) => c.id === 'bob')!.metadata;
  assert.deepEqual(
    metadata,
    { team: 'red', webhook: { url: 'https://example.com/hook', token: 'meta-secret-1' } },
    'the metadata token kept',
  );
});

test('"[redacted]" for a credential the consumer does not have is refused at its path, and nothing changes', async () => {
  const body = { credentials: [{ type: 'api-key', id: 'bob:api-key:7', key: '[redacted]' }] };
  const res = await fetch(`${gw.adminUrl}/consumers/bob`, { method: 'PUT', headers: auth, body: JSON.stringify(body) });
  assert.equal(res.status, 400);
  const err = (await res.json()) as { error: { code: string; details: { path: string }[] } };
  assert.equal(err.error.code, 'CONFIG_INVALID');
  assert.equal(err.error.details[0]!.path, 'credentials[0].key');
  assert.equal((await fetch(`${gw.url}/x`, { headers: { 'x-api-key': 'bob-key-0123456789' } })).status, 200);
  const created = await fetch(`${gw.adminUrl}/consumers/carol`, { method: 'PUT', headers: auth, body: JSON.stringify(body) });
  assert.equal(created.status, 400, 'a new consumer has no secrets to keep');
});

test('usage answers for a consumer added through /consumers, with the plan it was given there', async () => {
  const add = await fetch(`${gw.adminUrl}/consumers`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ id: 'dora', plan: 'gold', credentials: [{ type: 'api-key', key: 'dora-key-0123456789' }] }),
  });
  assert.equal(add.status, 201);
  assert.equal((await fetch(`${gw.url}/x`, { headers: { 'x-api-key': 'dora-key-0123456789' } })).status, 200);
  const res = await fetch(`${gw.adminUrl}/consumers/dora/usage`, { headers: auth });
  assert.equal(res.status, 200, await res.clone().text());
  const usage = (await res.json()) as { plan?: string; limits: { limit: number; used: number }[] };
  assert.equal(usage.plan, 'gold');
  assert.equal(usage.limits.length, 1);
  assert.equal(usage.limits[0]!.limit, 1000);
  assert.equal(usage.limits[0]!.used, 1);
});
