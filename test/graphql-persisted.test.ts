// Persisted GraphQL operations end to end: real gateways, the real GraphQL service, a real Redis.
// APQ round trip (the second gateway knows the hash through Redis; the service, which knows no
// APQ, always gets the document), allow lists from a manifest and from the admin API
// (POST/GET/DELETE /graphql/operations, applied live), and a manifest that is a config error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request } from 'undici';
import { startGateway, type Gateway } from '../src/gateway.js';
import { silentLogger } from '../src/observability/logger.js';
import { sha256Hex } from '../src/policies/graphql/persisted-schema.js';
import { startGraphQLService, type GraphQLService } from './helpers/graphql-server.js';
import { freePort, killAllChildren, startChild, tempDir, waitFor, workersHead, type TempDir } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';
import { valueKeyName } from '../src/store/cache/redis.js';
import { SHARED_REDIS, deleteUnder, inspector, sharedRedisUp, uniquePrefix } from './helpers/redis.js';

const SHIM = 'graphql';

const TOKEN = 'admin-token-graphql-0123';
const HELLO = '{ hello }';
const USER = 'query User($id: ID!) { user(id: $id) { name } }';
const USERS = '{ users(first: 2) { id } }';

const redisUp = await sharedRedisUp();
const prefix = uniquePrefix('graphql-persisted');
let dir: TempDir;
let gql: GraphQLService;
let a: Gateway;
let b: Gateway;

function configText(manifest: string, storeLines: string): string {
  return `
accessLog: false
log: { level: silent }
listen: [{ port: 0, host: 127.0.0.1 }]
admin: { port: 0, host: 127.0.0.1, token: ${TOKEN} }
${storeLines}
services:
  gql: { targets: [{ url: "${gql.url}" }] }
routes:
  - name: apq
    match: { paths: ["/apq"] }
    service: gql
    policies: [{ type: ${SHIM}, persisted: { mode: apq, store: ${redisUp ? 'redis' : 'memory'} } }]
  - name: allow
    match: { paths: ["/allow"] }
    service: gql
    policies: [{ type: ${SHIM}, persisted: { mode: allowList, manifest: ${JSON.stringify(manifest)} } }]
  - name: byid
    match: { paths: ["/byid"] }
    service: gql
    policies: [{ type: ${SHIM}, persisted: { mode: allowList, requireId: true } }]
`;
}

before(async () => {
  dir = await tempDir();
  gql = await startGraphQLService();
  const manifest = await dir.file(
    'manifest.json',
    JSON.stringify({
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: [{ id: sha256Hex(USERS), name: 'Users', type: 'query', body: USERS }],
    }),
  );
  const store = redisUp ? `store: { type: redis, url: "${SHARED_REDIS}", prefix: "${prefix}", timeout: 500ms }` : '';
  const path = await dir.file('gatehouse.yaml', configText(manifest, store));
  // Two instances of one config: with Redis they share what clients register.
  a = await startGateway({ configPath: path, logger: silentLogger, watch: false });
  b = await startGateway({ configPath: path, logger: silentLogger, watch: false });
});

after(async () => {
  await killAllChildren();
  await maybeUnset(a)?.stop();
  await maybeUnset(b)?.stop();
  await maybeUnset(gql)?.close();
  await maybeUnset(dir)?.remove();
  if (redisUp) {
    const r = inspector();
    await deleteUnder(r, prefix);
    r.disconnect();
  }
});

interface GraphQLAnswer {
  data?: Record<string, unknown>;
  errors?: { message: string; extensions: { code: string } }[];
}

async function graphql(gw: Gateway, path: string, body: unknown): Promise<{ status: number; json: GraphQLAnswer }> {
  const res = await request(gw.listeners[0]!.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, json: (await res.body.json()) as GraphQLAnswer };
}

async function admin(method: string, path: string, body?: unknown, token = TOKEN) {
  const res = await request(`http://127.0.0.1:${a.admin!.port}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

/** A request naming `doc` by its hash alone. */
const byId = (doc: string) => ({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(doc) } } });
/** A request sending `doc` with its hash (an APQ registration). */
const withHash = (doc: string) => ({ query: doc, ...byId(doc) });

function code(answer: GraphQLAnswer): string | undefined {
  return answer.errors?.[0]?.extensions.code;
}

test('APQ round trip: unknown hash, register, then the hash alone — on the other instance too when Redis is shared', async () => {
  const hash = sha256Hex(USER);
  const hashOnly = { variables: { id: '3' }, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } };
  const before = gql.seen.length;
  const miss = await graphql(a, '/apq', hashOnly);
  assert.equal(miss.status, 200);
  assert.deepEqual(miss.json.errors?.[0], {
    message: 'PersistedQueryNotFound',
    extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', gatehouseCode: 'GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND' },
  });
  assert.equal(gql.seen.length, before, 'the service never sees a request without its document');
  const registered = await graphql(a, '/apq', { ...hashOnly, query: USER });
  assert.deepEqual(registered.json, { data: { user: { name: 'user3' } } });
  const hit = await graphql(a, '/apq', hashOnly);
  assert.deepEqual(hit.json, { data: { user: { name: 'user3' } } });
  // The service knows no APQ: it got the document, and no persistedQuery extension.
  const forwarded = gql.seen.slice(before).map((s) => s.request);
  assert.equal(forwarded.length, 2);
  for (const r of forwarded) assert.deepEqual(r, { query: USER, variables: { id: '3' } });
  if (redisUp) {
    // The registration is written to Redis in the background: wait for the key, not for a time.
    const r = inspector();
    try {
      await waitFor('the document in Redis', async () => (await r.exists(valueKeyName(`${prefix}apq:`, hash))) === 1);
    } finally {
      r.disconnect();
    }
    assert.deepEqual((await graphql(b, '/apq', hashOnly)).json, { data: { user: { name: 'user3' } } });
  } else assert.equal(code((await graphql(b, '/apq', hashOnly)).json), 'PERSISTED_QUERY_NOT_FOUND');
});

test('APQ: a query that does not match its hash is a 400, and is not registered', async () => {
  const lie = await graphql(a, '/apq', { query: HELLO, extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(USERS) } } });
  assert.equal(lie.status, 400);
  assert.equal(code(lie.json), 'GW_GRAPHQL_PERSISTED_QUERY_MISMATCH');
  const after = await graphql(a, '/apq', { extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(USERS) } } });
  assert.equal(code(after.json), 'PERSISTED_QUERY_NOT_FOUND');
});

test('allow list from a manifest: registered documents and ids run; anything else, or a client registering, is refused', async () => {
  const before = gql.seen.length;
  assert.deepEqual((await graphql(a, '/allow', { query: USERS })).json, { data: { users: [{ id: '1' }, { id: '2' }] } });
  assert.deepEqual((await graphql(a, '/allow', byId(USERS))).json, { data: { users: [{ id: '1' }, { id: '2' }] } });
  assert.equal(gql.seen.length, before + 2);
  assert.equal(code((await graphql(a, '/allow', { query: HELLO })).json), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED');
  assert.equal(code((await graphql(a, '/allow', withHash(HELLO))).json), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED');
  assert.equal(code((await graphql(a, '/allow', byId(HELLO))).json), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED');
  assert.equal(gql.seen.length, before + 2, 'no refused operation reached the service');
});

test('admin API: register, list, show and delete operations; the allow lists follow live', async () => {
  const hash = sha256Hex(HELLO);
  assert.equal(code((await graphql(a, '/byid', byId(HELLO))).json), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED');

  const created = await admin('POST', '/graphql/operations', { body: HELLO, name: 'Hello' });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  assert.equal(created.json.id, hash);
  assert.equal(created.json.created, true);
  assert.equal(created.json.bytes, Buffer.byteLength(HELLO));

  // The route that takes ids only runs it by id, never as a document.
  assert.deepEqual((await graphql(a, '/byid', byId(HELLO))).json, { data: { hello: 'world' } });
  assert.equal(code((await graphql(a, '/byid', { query: HELLO })).json), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED');
  // The manifest route runs it too, besides its manifest.
  assert.deepEqual((await graphql(a, '/allow', { query: HELLO })).json, { data: { hello: 'world' } });

  const again = await admin('POST', '/graphql/operations', { body: HELLO, id: hash });
  assert.equal(again.status, 200);
  assert.equal(again.json.created, false);
  assert.equal(again.json.configVersion, created.json.configVersion, 'registering again reloads nothing');

  const list = await admin('GET', '/graphql/operations');
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.operations, [{ id: hash, name: 'Hello', bytes: Buffer.byteLength(HELLO) }]);
  const one = await admin('GET', `/graphql/operations/${hash}`);
  assert.deepEqual(one.json, { id: hash, name: 'Hello', bytes: Buffer.byteLength(HELLO), body: HELLO });

  const gone = await admin('DELETE', `/graphql/operations/${hash}`);
  assert.equal(gone.status, 200);
  assert.equal(gone.json.deleted, hash);
  assert.equal(code((await graphql(a, '/byid', byId(HELLO))).json), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED');
  assert.deepEqual((await admin('GET', '/graphql/operations')).json.operations, []);
});

test('admin API refusals change nothing', async () => {
  const version = (await admin('GET', '/graphql/operations')).json.configVersion;
  const wrongId = await admin('POST', '/graphql/operations', { body: HELLO, id: sha256Hex(USERS) });
  assert.equal(wrongId.status, 400);
  assert.equal((wrongId.json.error as { code: string }).code, 'CONFIG_INVALID');
  const extra = await admin('POST', '/graphql/operations', { body: HELLO, run: true });
  assert.equal(extra.status, 400);
  const empty = await admin('POST', '/graphql/operations', { body: '' });
  assert.equal(empty.status, 400);
  const missing = await admin('DELETE', `/graphql/operations/${sha256Hex('{ nothing }')}`);
  assert.equal(missing.status, 404);
  assert.equal((missing.json.error as { code: string }).code, 'ADMIN_RESOURCE_NOT_FOUND');
  assert.equal((await admin('GET', '/graphql/operations/not-a-hash')).status, 404);
  assert.equal((await admin('PUT', `/graphql/operations/${sha256Hex(HELLO)}`, {})).status, 405);
  assert.equal((await admin('GET', '/graphql/operations', undefined, 'wrong')).status, 401);
  assert.equal((await admin('GET', '/graphql/nothing')).status, 404);
  assert.equal((await admin('GET', '/graphql/operations')).json.configVersion, version);
});

test('a manifest that cannot be read is a config error naming the file', async () => {
  const missing = join(dir.path, 'missing.json');
  const path = await dir.file('bad.yaml', configText(missing, ''));
  await assert.rejects(
    startGateway({ configPath: path, logger: silentLogger, watch: false }),
    (err: Error) => err.message.includes(`cannot read ${missing}: ENOENT`) && err.message.includes('persisted.manifest'),
  );
});

test('with workers: 2, an operation registered through the admin API runs on every worker, and deleting it reaches them all', async () => {
  const port = await freePort();
  const path = await dir.file(
    'workers.yaml',
    `${workersHead(port)}services:
  gql: { targets: [{ url: "${gql.url}" }] }
routes:
  - name: allow
    service: gql
    policies: [{ type: ${SHIM}, persisted: { mode: allowList } }]
`,
  );
  const child = await startChild(path, { timeoutMs: 15_000 });
  // A fresh connection each, so the cluster spreads them over the workers.
  const run = async () => {
    const res = await request(`${child.url}/`, {
      method: 'POST',
      reset: true,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: HELLO }),
    });
    return code((await res.body.json()) as GraphQLAnswer) ?? 'ran';
  };
  for (let i = 0; i < 4; i++) assert.equal(await run(), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED');
  const res = await request(`${child.adminUrl}/graphql/operations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ body: HELLO }),
  });
  assert.equal(res.statusCode, 201, await res.body.text());
  for (let i = 0; i < 6; i++) assert.equal(await run(), 'ran');
  const del = await request(`${child.adminUrl}/graphql/operations/${sha256Hex(HELLO)}`, { method: 'DELETE' });
  assert.equal(del.statusCode, 200, await del.body.text());
  for (let i = 0; i < 6; i++) assert.equal(await run(), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED');
});

test('APQ over GET: the hash alone in the query string is resolved, checked, and forwarded with the document; a refused document is never remembered', async () => {
  const doc = '{ users(first: 1) { name } }';
  const ext = JSON.stringify({ persistedQuery: { version: 1, sha256Hash: sha256Hex(doc) } });
  const get = async (params: Record<string, string>) => {
    const res = await request(`${a.listeners[0]!.url}/apq?${new URLSearchParams(params).toString()}`);
    return { status: res.statusCode, json: (await res.body.json()) as GraphQLAnswer };
  };
  assert.equal(code((await get({ extensions: ext })).json), 'PERSISTED_QUERY_NOT_FOUND');
  assert.deepEqual((await get({ query: doc, extensions: ext })).json, { data: { users: [{ name: 'user1' }] } });
  const before = gql.seen.length;
  assert.deepEqual((await get({ extensions: ext })).json, { data: { users: [{ name: 'user1' }] } });
  const seen = gql.seen[before]!;
  assert.equal(seen.method, 'GET');
  assert.equal(seen.request.query, doc);
  assert.equal(seen.request.extensions, undefined, 'the persistedQuery extension is not forwarded');
  // A document the policy refuses (it does not parse) is not registered: its hash stays unknown.
  const broken = '{ users(first: 1) { name }';
  const brokenExt = JSON.stringify({ persistedQuery: { version: 1, sha256Hash: sha256Hex(broken) } });
  assert.equal(code((await get({ query: broken, extensions: brokenExt })).json), 'GW_GRAPHQL_PARSE_FAILED');
  assert.equal(code((await get({ extensions: brokenExt })).json), 'PERSISTED_QUERY_NOT_FOUND');
});
