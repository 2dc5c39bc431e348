// `type: graphql`, `match.graphql` and `rate-limit` with `cost: graphql` against hostile clients,
// through a real gateway in front of the real GraphQL service (test/helpers/graphql-server.ts):
// each test is an attack that got past the gateway (or crashed its answer) before it was fixed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { buildSchema } from 'graphql';
import { startGraphQLService, SDL, type GraphQLService } from './helpers/graphql-server.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { tempDir, waitFor } from './helpers/child.js';
import { Checker, costModel } from '../src/policies/graphql/check.js';
import { graphqlSchema } from '../src/policies/graphql/schema.js';
import { ParseCache } from '../src/graphql/parse-cache.js';

let svc: GraphQLService;
let writes: GraphQLService;
let gw: TestGateway;
const dir = await tempDir();
const sdlFile = join(dir.path, 'schema.graphql');
writeFileSync(sdlFile, SDL);

before(async () => {
  svc = await startGraphQLService();
  writes = await startGraphQLService();
  gw = await startTestGateway({
    services: { gql: { targets: [{ url: svc.url }] }, writes: { targets: [{ url: writes.url }] } },
    consumers: [{ id: 'meter', credentials: [{ type: 'api-key', key: 'meter-key-0123456789' }] }],
    routes: [
      { name: 'limited', match: { paths: ['/gql'] }, service: 'gql', policies: [{ type: 'graphql', maxComplexity: 100 }] },
      {
        name: 'typed',
        match: { paths: ['/typed'] },
        service: 'gql',
        policies: [{ type: 'graphql', schema: { file: sdlFile } }],
      },
      {
        name: 'typed-open',
        match: { paths: ['/typed-open'] },
        service: 'gql',
        policies: [{ type: 'graphql', schema: { file: sdlFile }, introspection: true }],
      },
      {
        name: 'metered',
        match: { paths: ['/metered'] },
        service: 'gql',
        policies: [
          { type: 'key-auth' },
          { type: 'rate-limit', limit: 5, window: '1h', cost: 'graphql' },
          { type: 'graphql', maxComplexity: 100 },
        ],
      },
      {
        name: 'routed-write',
        match: { paths: ['/routed'], graphql: { operationType: 'mutation' } },
        service: 'writes',
        policies: [{ type: 'graphql' }],
      },
      { name: 'routed-read', match: { paths: ['/routed'] }, service: 'gql', policies: [{ type: 'graphql' }] },
    ],
  });
});
after(async () => {
  await gw.stop();
  await svc.close();
  await writes.close();
  await dir.remove();
});

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

async function send(path: string, method: string, body: string | undefined, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(gw.url + path, { method: method as 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.body.text();
  let parsed: Answer['body'];
  try {
    parsed = JSON.parse(text) as Answer['body'];
  } catch {
    parsed = { errors: [{ message: text }] };
  }
  return { status: res.statusCode, headers: res.headers, body: parsed };
}

const post = (path: string, payload: unknown, headers: Record<string, string> = {}) => send(path, 'POST', JSON.stringify(payload), headers);

function code(a: Answer): unknown {
  return a.body.errors?.[0]?.extensions?.code;
}

test('a document nested deeper than the parser can recurse is refused precisely, not a 500', async () => {
  // 2000 levels are 6000 tokens, under the default maxTokens (10000): graphql's recursive parser
  // overflows the stack on it.
  const deep = '{' + 'a{'.repeat(2000) + 'b' + '}'.repeat(2000) + '}';
  const before = svc.seen.length;
  const r = await post('/gql', { query: deep });
  assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 200));
  assert.equal(code(r), 'GW_GRAPHQL_PARSE_FAILED');
  assert.match(r.body.errors![0]!.message, /nest/);
  // Routing by operation parses it too (its own cache, more tokens).
  const routed = await post('/routed', { query: 'mutation ' + deep });
  assert.equal(routed.status, 200);
  assert.equal(code(routed), 'GW_GRAPHQL_PARSE_FAILED');
  // Nested values (lists, input objects) count as well.
  const values = await post('/gql', { query: `{ search(term: ${'['.repeat(3000)}1${']'.repeat(3000)}) { id } }` });
  assert.equal(code(values), 'GW_GRAPHQL_PARSE_FAILED');
  assert.equal(svc.seen.length, before);
  // Brackets inside strings, block strings and comments are text, not nesting.
  const text = await post('/gql', { query: `{ search(term: "${'{'.repeat(600)}", limit: 1) { id } } # ${'['.repeat(600)}` });
  assert.deepEqual(text.body, { data: { search: [] } });
  const block = await post('/gql', { query: `{ search(term: """${'{'.repeat(600)} \\""" """) { id } }` });
  assert.deepEqual(block.body, { data: { search: [] } });
});

test('a chain of fragments each spreading the next (shallow text, deep operation) is refused, not a 500', async () => {
  // 1800 fragments (deeper than the analysis walks: 1000) in under 64 KB (payload routing reads that
  // much: a larger body is refused 413 before any analysis) and under 20000 tokens (routing's bound).
  const n = 1800;
  const chain = Array.from({ length: n }, (_, i) => `fragment a${i} on Query{...a${i + 1}}`).join('') + `fragment a${n} on Query{hello}`;
  assert.ok(JSON.stringify({ query: `{...a0}${chain}` }).length < 64 * 1024);
  const routed = await post('/routed', { query: `{...a0}${chain}` });
  assert.equal(routed.status, 200, JSON.stringify(routed.body).slice(0, 300));
  assert.ok(['GW_GRAPHQL_TOO_MANY_TOKENS', 'GW_GRAPHQL_DOCUMENT_TOO_LARGE'].includes(String(code(routed))));
  // Checked by a policy with a high enough token limit: refused by the analysis.
  const config = graphqlSchema.parse({ type: 'graphql', maxTokens: 100_000 });
  const checker = new Checker({
    config,
    maxDocumentBytes: 1 << 20,
    cache: new ParseCache({ maxEntries: 10, maxBytes: 1 << 20 }),
    model: costModel(config.cost),
    schema: () => undefined,
  });
  // 5000 overflow the stack of a walk that recurses per level without a bound.
  const long = Array.from({ length: 5000 }, (_, i) => `fragment a${i} on Query{...a${i + 1}}`).join('') + 'fragment a5000 on Query{hello}';
  const r = checker.check({ query: `{...a0}${long}` }, 'POST', undefined);
  assert.ok(!r.ok);
  assert.equal(r.refusal.code, 'GW_GRAPHQL_VALIDATION_FAILED');
  assert.match(r.refusal.message!, /deeper than 1000 levels/);
});

test('a list size from a variable left to its default value is counted (maxComplexity)', async () => {
  const before = svc.seen.length;
  // Without variables the service uses $n's default, 1000: 1000 × (1 + 1000 × 1) is far past 100.
  const r = await post('/gql', { query: 'query Q($n: Int = 1000) { users(first: $n) { friends(first: $n) { name } } }' });
  assert.equal(code(r), 'GW_GRAPHQL_TOO_COMPLEX', JSON.stringify(r.body).slice(0, 200));
  assert.equal(r.body.errors![0]!.extensions!.actual, 1000 * (1 + 1000));
  // An explicit value still wins over the default.
  const ok = await post('/gql', {
    query: 'query Q($n: Int = 1000) { users(first: $n) { friends(first: $n) { name } } }',
    variables: { n: 2 },
  });
  assert.equal(ok.status, 200);
  assert.equal((ok.body.data as { users: unknown[] }).users.length, 2);
  assert.equal(svc.seen.length, before + 1);
});

test('a cost that is not a number (0 × an infinite list) is refused, not waved through', async () => {
  const huge = '9'.repeat(400); // Number() of it is Infinity
  const before = svc.seen.length;
  const r = await post('/gql', {
    query: `{ users(first: 0) { friends(first: ${huge}) { name } } many: users(first: 500) { name } }`,
  });
  assert.equal(code(r), 'GW_GRAPHQL_TOO_COMPLEX', JSON.stringify(r.body).slice(0, 200));
  assert.equal(svc.seen.length, before);
});

test('rate-limit cost: graphql charges every request at least 1 (a scalar-only mutation is not free)', async () => {
  const key = { 'x-api-key': 'meter-key-0123456789' };
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await post('/metered', { query: `mutation { login(user: "admin", password: "guess${i}") }` }, key);
    statuses.push(r.status);
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
});

test('a POST carrying GraphQL parameters in its URL is refused (services that read both would run those)', async () => {
  const before = svc.seen.length;
  const evil = new URLSearchParams({ query: '{ __schema { types { name } } }' }).toString();
  const r = await post(`/gql?${evil}`, { query: '{ hello }' });
  assert.equal(r.status, 400);
  assert.equal(code(r), 'GW_GRAPHQL_BAD_REQUEST');
  assert.match(r.body.errors![0]!.message, /URL/);
  const name = await post('/gql?operationName=B', { query: 'query A { hello } query B { hello }', operationName: 'A' });
  assert.equal(code(name), 'GW_GRAPHQL_BAD_REQUEST');
  assert.equal(svc.seen.length, before);
  // Other parameters in the URL are no business of GraphQL's.
  const ok = await post('/gql?trace=1', { query: '{ hello }' });
  assert.deepEqual(ok.body, { data: { hello: 'world' } });
});

test('a GET carrying a body is refused (services that read it would take its variables or operation)', async () => {
  const before = svc.seen.length;
  const q = new URLSearchParams({ query: 'query Q($n: Int) { users(first: $n) { name } }' }).toString();
  const r = await send(`/gql?${q}`, 'GET', JSON.stringify({ variables: { n: 100000 } }));
  assert.equal(r.status, 400);
  assert.equal(code(r), 'GW_GRAPHQL_BAD_REQUEST');
  assert.equal(svc.seen.length, before);
  const ok = await send(`/gql?${q}`, 'GET', undefined);
  assert.equal(ok.status, 200);
});

test('with introspection off, validation messages do not suggest field names (no schema by "Did you mean")', async () => {
  const r = await post('/typed', { query: '{ user(id: 1) { nme } users(frist: 1) { id } }' });
  assert.equal(code(r), 'GW_GRAPHQL_VALIDATION_FAILED');
  const text = JSON.stringify(r.body);
  assert.match(text, /Cannot query field \\"nme\\" on type \\"User\\"/);
  assert.match(text, /Unknown argument \\"frist\\"/);
  assert.doesNotMatch(text, /Did you mean/);
  assert.doesNotMatch(text, /"name"|"first"/);
  // A caller who may introspect gets the suggestions.
  const open = await post('/typed-open', { query: '{ user(id: 1) { nme } }' });
  assert.match(open.body.errors![0]!.message, /Did you mean "name"\?/);
});

test('an analysis made before the schema arrived (introspection pending) is not reused once it has', () => {
  let schema: ReturnType<typeof buildSchema> | undefined = undefined; // introspection pending
  const config = graphqlSchema.parse({ type: 'graphql', maxComplexity: 50 });
  const checker = new Checker({
    config,
    maxDocumentBytes: 65536,
    cache: new ParseCache({ maxEntries: 10, maxBytes: 1 << 20 }),
    model: costModel(config.cost),
    schema: () => schema,
  });
  // Without a schema `users` is not known to be a list: 1 × (1 + friends 1 × (1 + posts 1 × 1)) = 3.
  const query = '{ users { friends { posts { id } } } }';
  const early = checker.check({ query }, 'POST', undefined);
  assert.ok(early.ok);
  assert.equal(early.analysis.cost, 3);
  schema = buildSchema(SDL);
  // With it, each is a list of defaultListSize (10): 10 × (1 + 10 × (1 + 10 × 1)) = 1110.
  const late = checker.check({ query }, 'POST', undefined);
  assert.ok(!late.ok);
  assert.equal(late.refusal.code, 'GW_GRAPHQL_TOO_COMPLEX');
});

test('an operation name is kept to 128 characters where it is recorded (metrics, analytics, log, traces)', async () => {
  // Every request may invent a name as long as the document: 1000 names a minute for an hour in
  // analytics, 100 per route in metrics.
  const long = 'Q' + 'x'.repeat(20_000);
  const r = await post('/gql', { query: `query ${long} { hello }` });
  assert.deepEqual(r.body, { data: { hello: 'world' } });
  const kept = 'Q' + 'x'.repeat(127);
  const metrics = await waitFor('the operation metric', async () => {
    const text = await (await request(`${gw.adminUrl}/metrics`)).body.text();
    return text.includes(`name="${kept}…"`) ? text : undefined;
  });
  assert.ok(!metrics.includes(kept + 'x'), 'the whole name reached the metrics');
});

test('an operation or fragment name defined twice is refused (executors differ in which one they run)', async () => {
  const before = svc.seen.length;
  const ops = await post('/gql', { query: 'query A { hello } query A { __schema { types { name } } }', operationName: 'A' });
  assert.equal(code(ops), 'GW_GRAPHQL_VALIDATION_FAILED');
  assert.match(ops.body.errors![0]!.message, /operations named "A"/);
  const frags = await post('/gql', {
    query: '{ ...F } fragment F on Query { __schema { types { name } } } fragment F on Query { hello }',
  });
  assert.equal(code(frags), 'GW_GRAPHQL_VALIDATION_FAILED');
  assert.match(frags.body.errors![0]!.message, /fragment "F" is defined twice/);
  assert.equal(svc.seen.length, before);
});

test('the parse cache is bounded by the memory of its syntax trees, not by the length of their texts', () => {
  // A token-dense document's tree is some 100 times its text: 50 of 10 KB (500 KB of text) would
  // have been kept in a cache of 1 MB "of text", holding some 50 MB.
  const cache = new ParseCache({ maxEntries: 1000, maxBytes: 1 << 20 });
  for (let i = 0; i < 50; i++) assert.ok(cache.parse(`{ x${i} ${'a '.repeat(5000)}}`, 10_000).ok);
  assert.ok(cache.size <= 2, `${cache.size} documents kept`);
  // Small documents are kept as before.
  const small = new ParseCache({ maxEntries: 1000, maxBytes: 1 << 20 });
  for (let i = 0; i < 50; i++) small.parse(`query Q${i} { user(id: ${i}) { name email } }`, 10_000);
  assert.equal(small.size, 50);
});

test('the body the service gets is the one checked: a name given twice is refused, members besides the four are not forwarded, another charset is refused', async () => {
  const before = svc.seen.length;
  // JSON.parse keeps the last "query"; a service whose parser keeps the first would run the deep one.
  const twice = await send('/gql', 'POST', '{"query":"{ users(first: 1000) { friends(first: 1000) { name } } }","query":"{ hello }"}');
  assert.equal(twice.status, 400);
  assert.equal(code(twice), 'GW_GRAPHQL_BAD_REQUEST');
  assert.match(twice.body.errors![0]!.message, /"\/query" twice/);
  const nested = await send('/gql', 'POST', '{"query":"query Q($n: Int) { users(first: $n) { name } }","variables":{"n":1,"n":100000}}');
  assert.equal(code(nested), 'GW_GRAPHQL_BAD_REQUEST');
  assert.equal(svc.seen.length, before);
  // `id` / `documentId` name persisted documents on some servers: never forwarded.
  const extra = await post('/gql', { query: '{ hello }', id: 'a-persisted-document', documentId: 'x' });
  assert.deepEqual(extra.body, { data: { hello: 'world' } });
  assert.deepEqual(svc.seen.at(-1)!.request, { query: '{ hello }' });
  const latin1 = await send('/gql', 'POST', JSON.stringify({ query: '{ hello }' }), {
    'content-type': 'application/json; charset=iso-8859-1',
  });
  assert.equal(code(latin1), 'GW_GRAPHQL_BAD_REQUEST');
  // A plain body goes as the client sent it (byte for byte).
  const plain = '{"query":"{ hello }",  "variables": {"big": 12345678901234567890}}';
  await send('/gql', 'POST', plain);
  assert.deepEqual(Object.keys(svc.seen.at(-1)!.request), ['query', 'variables']);
});
