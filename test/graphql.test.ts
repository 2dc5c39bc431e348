// `type: graphql` through a real gateway in front of a real GraphQL service (test/helpers/
// graphql-server.ts, the reference `graphql` package): each limit refuses the attack it exists for
// (deep nesting, alias batching, fragment cycles and bombs, huge lists, root-field floods, long
// documents, token floods) before the service sees it, in GraphQL's error format with the
// GraphQL-over-HTTP spec's status for the media type; GET queries; introspection by group;
// validation against an SDL schema and against one introspected from the service.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startGraphQLService, SDL, type GraphQLService } from './helpers/graphql-server.js';
import { startTestGateway, testConfig, type TestGateway } from './helpers/gateway.js';
import { tempDir } from './helpers/child.js';
import { http2Client } from './helpers/clients.js';
import { validateConfig } from '../src/validation/validate.js';

let svc: GraphQLService;
const h2 = http2Client();
let gw: TestGateway;
const dir = await tempDir();
const sdlFile = join(dir.path, 'schema.graphql');
writeFileSync(sdlFile, SDL);

before(async () => {
  svc = await startGraphQLService();
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: { gql: { targets: [{ url: svc.url }] } },
    consumers: [
      { id: 'dev', groups: ['developers'], credentials: [{ type: 'api-key', key: 'dev-key-0123456789' }] },
      { id: 'app', groups: ['apps'], credentials: [{ type: 'api-key', key: 'app-key-0123456789' }] },
    ],
    routes: [
      {
        name: 'open',
        match: { paths: ['/graphql'] },
        service: 'gql',
        policies: [
          {
            type: 'graphql',
            maxDepth: 4,
            maxAliases: 3,
            maxRootFields: 4,
            maxFields: 60,
            maxComplexity: 500,
            maxTokens: 400,
            maxDocumentBytes: 2000,
          },
        ],
      },
      {
        name: 'typed',
        match: { paths: ['/typed'] },
        service: 'gql',
        policies: [
          { type: 'key-auth' },
          { type: 'graphql', schema: { file: sdlFile }, introspection: { groups: ['developers'] }, maxComplexity: 300 },
        ],
      },
      {
        name: 'introspected',
        match: { paths: ['/introspected'] },
        service: 'gql',
        policies: [{ type: 'graphql', schema: { url: `${svc.url}/graphql` }, get: false }],
      },
    ],
  });
});
after(async () => {
  await h2.close();
  await gw.stop();
  await svc.close();
  await dir.remove();
});

interface Answer {
  status: number;
  type: string;
  allow?: string;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

async function post(path: string, payload: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(gw.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
  return { status: res.statusCode, type: String(res.headers['content-type']), body: (await res.body.json()) as Answer['body'] };
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(gw.url + path, { headers });
  const allow = res.headers.allow as string | undefined;
  return { status: res.statusCode, type: String(res.headers['content-type']), allow, body: (await res.body.json()) as Answer['body'] };
}

/** Sends `query`; asserts the gateway refused it with `code` and the service never saw it. */
async function refused(path: string, query: string, code: string, extra: Record<string, unknown> = {}): Promise<Answer> {
  const before = svc.seen.length;
  const r = await post(path, { query, ...extra });
  assert.equal(r.status, 200, `legacy application/json clients get 200 (${JSON.stringify(r.body)})`);
  assert.equal(r.body.errors?.[0]?.extensions?.code, code, JSON.stringify(r.body));
  assert.equal(r.body.data, undefined);
  assert.equal(svc.seen.length, before, 'the service saw a refused operation');
  return r;
}

test('a valid operation passes untouched and the service answers it', async () => {
  const r = await post('/graphql', {
    query: 'query One($id: ID!) { user(id: $id) { name } }',
    variables: { id: '2' },
    operationName: 'One',
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { data: { user: { name: 'user2' } } });
  assert.deepEqual(svc.seen.at(-1)!.request.variables, { id: '2' });
});

test('GET queries run; a mutation by GET is 405; GET parameters are strict', async () => {
  const q = new URLSearchParams({ query: '{ hello }' });
  const r = await get(`/graphql?${q.toString()}`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { data: { hello: 'world' } });
  const m = await get(`/graphql?${new URLSearchParams({ query: 'mutation { login(user: "a", password: "b") }' }).toString()}`);
  assert.equal(m.status, 405);
  assert.equal(m.body.errors?.[0]?.extensions?.code, 'GW_METHOD_NOT_ALLOWED');
  assert.equal(m.allow, 'POST');
  const twice = await get('/graphql?query=%7Bhello%7D&query=%7Bhello%7D');
  assert.equal(twice.status, 400);
  assert.equal(twice.body.errors?.[0]?.extensions?.code, 'GW_GRAPHQL_BAD_REQUEST');
  const badVars = await get(`/graphql?${new URLSearchParams({ query: '{ hello }', variables: '{nope' }).toString()}`);
  assert.equal(badVars.status, 400);
  // POST only on `introspected`.
  const postOnly = await get(`/introspected?${q.toString()}`);
  assert.equal(postOnly.status, 405);
});

test('malformed requests are 400 in GraphQL format; a bad document is 200 for application/json and 400 for graphql-response+json', async () => {
  const notJson = await post('/graphql', '{"query": ');
  assert.equal(notJson.status, 400);
  assert.equal(notJson.body.errors?.[0]?.extensions?.code, 'GW_GRAPHQL_BAD_REQUEST');
  assert.match(notJson.type, /application\/json/);
  const noQuery = await post('/graphql', { variables: {} });
  assert.equal(noQuery.status, 400);
  const batch = await post('/graphql', [{ query: '{ hello }' }]);
  assert.equal(batch.status, 400);
  const legacy = await refused('/graphql', '{ user(id: 1) { name }', 'GW_GRAPHQL_PARSE_FAILED');
  assert.match(legacy.body.errors![0]!.message, /line 1, column/);
  const modern = await post('/graphql', { query: '{ user(id: 1) { name }' }, { accept: 'application/graphql-response+json' });
  assert.equal(modern.status, 400);
  assert.match(modern.type, /^application\/graphql-response\+json/);
  const unknownOp = await refused('/graphql', 'query A { hello } query B { hello }', 'GW_GRAPHQL_VALIDATION_FAILED', {
    operationName: 'C',
  });
  assert.match(unknownOp.body.errors![0]!.message, /no operation named "C"/);
  await refused('/graphql', 'query A { hello } query B { hello }', 'GW_GRAPHQL_VALIDATION_FAILED');
});

test('deep nesting is refused (maxDepth), with the limit and the depth in the extensions', async () => {
  const deep = '{ user(id: 1) { friends { friends { friends { friends { name } } } } } }';
  const r = await refused('/graphql', deep, 'GW_GRAPHQL_TOO_DEEP');
  assert.equal(r.body.errors![0]!.extensions!.max, 4);
  assert.equal(r.body.errors![0]!.extensions!.actual, 6);
  // Depth through fragments counts the same.
  await refused(
    '/graphql',
    '{ user(id: 1) { ...F } } fragment F on User { friends { friends { friends { friends { name } } } } }',
    'GW_GRAPHQL_TOO_DEEP',
  );
});

test('alias batching is refused (maxAliases), fragments expanded', async () => {
  await refused(
    '/graphql',
    'mutation { a: login(user: "x", password: "1") b: login(user: "x", password: "2") c: login(user: "x", password: "3") d: login(user: "x", password: "4") }',
    'GW_GRAPHQL_TOO_MANY_ALIASES',
  );
  await refused('/graphql', '{ ...F ...F } fragment F on Query { a: hello b: hello }', 'GW_GRAPHQL_TOO_MANY_ALIASES');
});

test('root-field floods and field floods are refused', async () => {
  await refused('/graphql', '{ hello h1: hello h2: hello user(id: 1) { id } users { id } }', 'GW_GRAPHQL_TOO_MANY_ROOT_FIELDS');
  const wide = `{ user(id: 1) { ${Array.from({ length: 61 }, () => 'name').join(' ')} } }`;
  await refused('/graphql', wide, 'GW_GRAPHQL_TOO_MANY_FIELDS');
});

test('fragment cycles and unknown fragments are refused; a fragment bomb is measured, not expanded', async () => {
  const cycle = await refused(
    '/graphql',
    '{ user(id: 1) { ...A } } fragment A on User { friends { ...B } } fragment B on User { ...A }',
    'GW_GRAPHQL_VALIDATION_FAILED',
  );
  assert.match(cycle.body.errors![0]!.message, /cycle/);
  await refused('/graphql', '{ user(id: 1) { ...Missing } }', 'GW_GRAPHQL_VALIDATION_FAILED');
  // 20 fragments, each spreading the next twice: 2^20 fields when expanded. Measured in linear work and refused.
  const frags = Array.from({ length: 20 }, (_, i) => `fragment F${i} on User { ...F${i + 1} ...F${i + 1} }`).join(' ');
  const bomb = `{ user(id: 1) { ...F0 } } ${frags} fragment F20 on User { name }`;
  const r = await post('/graphql', { query: bomb }, {});
  assert.ok(['GW_GRAPHQL_TOO_MANY_FIELDS', 'GW_GRAPHQL_TOO_MANY_TOKENS'].includes(String(r.body.errors?.[0]?.extensions?.code)));
  const big = await post('/typed', { query: bomb }, { 'x-api-key': 'app-key-0123456789' });
  assert.equal(big.body.errors?.[0]?.extensions?.code, 'GW_GRAPHQL_TOO_MANY_FIELDS');
});

test('huge lists are refused by cost (list arguments multiply), also through variables', async () => {
  const r = await refused('/graphql', '{ users(first: 100) { friends(first: 100) { name } } }', 'GW_GRAPHQL_TOO_COMPLEX');
  assert.equal(r.body.errors![0]!.extensions!.actual, 100 * (1 + 100));
  await refused('/graphql', 'query Q($n: Int) { users(first: $n) { friends(first: $n) { name } } }', 'GW_GRAPHQL_TOO_COMPLEX', {
    variables: { n: 50 },
  });
  const ok = await post('/graphql', {
    query: 'query Q($n: Int) { users(first: $n) { friends(first: $n) { name } } }',
    variables: { n: 3 },
  });
  assert.equal(ok.status, 200);
  assert.equal((ok.body.data as { users: unknown[] }).users.length, 3);
  // With the schema, a list field without an argument is a list of defaultListSize (10): users → 10 × (1 + friends 10 × (1 + posts 10 × 1)).
  const typed = await post('/typed', { query: '{ users { friends { posts { id } } } }' }, { 'x-api-key': 'app-key-0123456789' });
  assert.equal(typed.body.errors?.[0]?.extensions?.code, 'GW_GRAPHQL_TOO_COMPLEX');
  assert.equal(typed.body.errors[0].extensions.actual, 10 * (1 + 10 * (1 + 10 * 1)));
});

test('with a schema, @cost and @listSize directives give a field its cost and its list size', async () => {
  const app = { 'x-api-key': 'app-key-0123456789' };
  // search: @cost(weight: 5) @listSize(assumedSize: 50, slicingArguments: ["limit"]) → 50 × (5 + 0) each.
  const two = await post('/typed', { query: '{ a: search(term: "a") { id } b: search(term: "b") { id } }' }, app);
  assert.equal(two.body.errors?.[0]?.extensions?.code, 'GW_GRAPHQL_TOO_COMPLEX');
  assert.equal(two.body.errors[0].extensions.actual, 500);
  // Its slicing argument is `limit` (not `first`): 3 × 5 each.
  const sliced = await post('/typed', { query: '{ a: search(term: "f", limit: 3) { id } b: search(term: "f", limit: 3) { id } }' }, app);
  assert.equal(sliced.status, 200);
  assert.deepEqual(sliced.body, { data: { a: [{ id: '1' }], b: [{ id: '1' }] } });
});

test('documents past maxDocumentBytes and token floods are refused before parsing finishes', async () => {
  await refused('/graphql', `{ hello ${' '.repeat(2000)} }`, 'GW_GRAPHQL_DOCUMENT_TOO_LARGE');
  await refused(
    '/graphql',
    `{ user(id: 1) { name } } ${Array.from({ length: 150 }, (_, i) => `fragment X${i} on User { id }`).join(' ')}`.slice(0, 1990),
    'GW_GRAPHQL_TOO_MANY_TOKENS',
  );
});

test('introspection: refused by default, allowed for a consumer of a listed group', async () => {
  await refused('/graphql', '{ __schema { queryType { name } } }', 'GW_GRAPHQL_INTROSPECTION_DISABLED');
  await refused('/graphql', '{ user(id: 1) { name } t: __type(name: "User") { name } }', 'GW_GRAPHQL_INTROSPECTION_DISABLED');
  const app = await post('/typed', { query: '{ __schema { queryType { name } } }' }, { 'x-api-key': 'app-key-0123456789' });
  assert.equal(app.body.errors?.[0]?.extensions?.code, 'GW_GRAPHQL_INTROSPECTION_DISABLED');
  const dev = await post('/typed', { query: '{ __schema { queryType { name } } }' }, { 'x-api-key': 'dev-key-0123456789' });
  assert.deepEqual(dev.body, { data: { __schema: { queryType: { name: 'Query' } } } });
  // __typename is not introspection.
  const tn = await post('/graphql', { query: '{ user(id: 1) { __typename } }' });
  assert.deepEqual(tn.body, { data: { user: { __typename: 'User' } } });
});

test('with an SDL schema, invalid operations are refused with every problem', async () => {
  const before = svc.seen.length;
  const r = await post('/typed', { query: '{ user(id: 1) { nmae } nope }' }, { 'x-api-key': 'app-key-0123456789' });
  assert.equal(r.body.errors?.[0]?.extensions?.code, 'GW_GRAPHQL_VALIDATION_FAILED');
  const errors = r.body.errors[0].extensions.errors as string[];
  assert.equal(errors.length, 2);
  assert.match(errors[0]!, /Cannot query field "nmae" on type "User"/);
  assert.equal(svc.seen.length, before);
  const ok = await post('/typed', { query: '{ user(id: 1) { name } }' }, { 'x-api-key': 'app-key-0123456789' });
  assert.deepEqual(ok.body, { data: { user: { name: 'user1' } } });
});

test('with a schema introspected from the service, invalid operations are refused', async () => {
  // The introspection runs when the policy is created; wait until it took effect.
  let r: Answer | undefined;
  for (let i = 0; i < 100; i++) {
    r = await post('/introspected', { query: '{ nope }' });
    if (r.body.errors?.[0]?.extensions?.code === 'GW_GRAPHQL_VALIDATION_FAILED') break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(r!.body.errors?.[0]?.extensions?.code, 'GW_GRAPHQL_VALIDATION_FAILED');
  const ok = await post('/introspected', { query: '{ hello }' });
  assert.deepEqual(ok.body, { data: { hello: 'world' } });
});

test('validate: a schema file that is missing or does not build is a config error with its line', () => {
  const bad = join(dir.path, 'bad.graphql');
  writeFileSync(bad, 'type Query {\n  a: Nope\n}\n');
  const broken = join(dir.path, 'broken.graphql');
  writeFileSync(broken, 'type Query {\n  a: String\n  b(: Int\n}\n');
  const r = validateConfig(
    testConfig({
      services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
      routes: [
        {
          name: 'a',
          match: { paths: ['/a'] },
          service: 's',
          policies: [{ type: 'graphql', schema: { file: join(dir.path, 'missing.graphql') } }],
        },
        { name: 'b', match: { paths: ['/b'] }, service: 's', policies: [{ type: 'graphql', schema: { file: bad } }] },
        { name: 'c', match: { paths: ['/c'] }, service: 's', policies: [{ type: 'graphql', schema: { file: broken } }] },
      ],
    }),
  );
  assert.ok(!r.ok);
  const errors = r.errors;
  assert.deepEqual(
    errors.map((e) => e.path),
    ['routes[0].policies[0].schema.file', 'routes[1].policies[0].schema.file', 'routes[2].policies[0].schema.file'],
  );
  assert.match(errors[0]!.message, /cannot read .*missing\.graphql: ENOENT/);
  assert.match(errors[1]!.message, /bad\.graphql: Unknown type "Nope"/);
  assert.match(errors[2]!.message, /broken\.graphql: Syntax Error: .*\(line 3, column 5\)/);
});

test('over HTTP/2 (h2c) too: an operation passes, a deep one is refused in GraphQL format', async () => {
  const ok = await h2.request(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ user(id: 4) { name } }' }),
  });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(await ok.body.json(), { data: { user: { name: 'user4' } } });
  const deep = await h2.request(
    `${gw.url}/graphql?${new URLSearchParams({ query: '{ user(id: 1) { friends { friends { friends { friends { name } } } } } }' }).toString()}`,
    {
      headers: { accept: 'application/graphql-response+json' },
    },
  );
  assert.equal(deep.statusCode, 400);
  assert.match(String(deep.headers['content-type']), /^application\/graphql-response\+json/);
  assert.equal(((await deep.body.json()) as Answer['body']).errors?.[0]?.extensions?.code, 'GW_GRAPHQL_TOO_DEEP');
});
