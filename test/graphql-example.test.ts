// examples/graphql.yaml against two real GraphQL services, as docs/graphql.md walks through it:
// reads and writes split by operation type, the limits refusing before any service is called,
// introspection for developers only, cost charged per consumer, and the REST endpoints.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request } from 'undici';
import { loadConfigFile } from '../src/validation/load.js';
import { startGraphQLService, type GraphQLService } from './helpers/graphql-server.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';

const examples = new URL('../../examples/', import.meta.url).pathname;
let read: GraphQLService;
let write: GraphQLService;
let gw: TestGateway;

before(async () => {
  read = await startGraphQLService();
  write = await startGraphQLService();
  const r = await loadConfigFile(join(examples, 'graphql.yaml'), { GRAPHQL_READ_URL: read.url, GRAPHQL_WRITE_URL: write.url });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  gw = await startTestGateway({ services: r.config.services, routes: r.config.routes, consumers: r.config.consumers });
});
after(async () => {
  await gw.stop();
  await read.close();
  await write.close();
});

const APP = { 'x-api-key': 'web-app-key-0123456789' };
const EXPLORER = { 'x-api-key': 'explorer-key-0123456789' };

async function gql(payload: Record<string, unknown>, headers: Record<string, string>) {
  const res = await request(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
  });
  return {
    status: res.statusCode,
    ratelimit: res.headers.ratelimit,
    body: (await res.body.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] },
  };
}

test('reads go to the read service, mutations to the write service; both are checked alike', async () => {
  const q = await gql({ query: '{ user(id: 1) { name friends(first: 2) { name } } }' }, APP);
  assert.deepEqual(q.body, { data: { user: { name: 'user1', friends: [{ name: 'user1' }, { name: 'user2' }] } } });
  assert.equal(read.seen.length, 1);
  const m = await gql({ query: 'mutation { createPost(title: "t", authorId: "1") { id } }' }, APP);
  assert.equal(m.status, 200);
  assert.equal(write.seen.length, 1);
  // Both routes refuse before any service: too deep, unknown field (schema), no key.
  const deep = await gql(
    { query: '{ user(id: 1) { friends { friends { friends { friends { friends { friends { friends { name } } } } } } } } }' },
    APP,
  );
  assert.equal(deep.body.errors?.[0]?.extensions?.code, 'GW_GRAPHQL_TOO_DEEP');
  const typo = await gql({ query: 'mutation { createPots(title: "t", authorId: "1") { id } }' }, APP);
  assert.equal(typo.body.errors?.[0]?.extensions?.code, 'GW_GRAPHQL_VALIDATION_FAILED');
  assert.equal((await gql({ query: '{ hello }' }, {})).status, 401);
  assert.equal(read.seen.length + write.seen.length, 2);
});

test('introspection for developers only; each operation is charged its cost', async () => {
  const intro = { query: '{ __schema { queryType { name } } }' };
  assert.equal((await gql(intro, APP)).body.errors?.[0]?.extensions?.code, 'GW_GRAPHQL_INTROSPECTION_DISABLED');
  assert.deepEqual((await gql(intro, EXPLORER)).body, { data: { __schema: { queryType: { name: 'Query' } } } });
  // The introspection cost 2 (two objects); users(first: 50) { posts { id } }: 50 × (1 + posts 10 × 1) = 550
  // (posts(first: Int = 10): the schema's default size, before the config's defaultListSize of 20).
  const r = await gql({ query: '{ users(first: 50) { posts { id } } }' }, EXPLORER);
  assert.equal(r.status, 200);
  assert.match(String(r.ratelimit), /r=4448\b/);
});

test('REST in front of GraphQL: GET /users/:id and POST /posts', async () => {
  const user = await request(`${gw.url}/users/2?friends=1`);
  assert.deepEqual(await user.body.json(), { id: '2', name: 'user2', friends: [{ id: '1', name: 'user1' }] });
  const missing = await request(`${gw.url}/users/999`);
  assert.equal(missing.statusCode, 404);
  await missing.body.dump();
  const post = await request(`${gw.url}/posts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...APP },
    body: JSON.stringify({ title: 'Hello', authorId: 3 }),
  });
  assert.equal(post.statusCode, 200);
  assert.deepEqual(((await post.body.json()) as { title: string }).title, 'Hello');
});
