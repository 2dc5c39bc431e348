// GraphQL operations steering traffic, through a real gateway in front of two real GraphQL
// services: `match.graphql` sends mutations (and named operations, and operations within a set of
// root fields) to a write service, over POST and GET; `rate-limit` with `cost: graphql` charges
// each operation's computed cost; the access log, metrics, traces and analytics carry the
// operation's type and name — never its variables.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { startGraphQLService, type GraphQLService } from './helpers/graphql-server.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startOtlpReceiver, attr, type OtlpReceiver } from './helpers/otlp-receiver.js';
import { tempDir, waitFor } from './helpers/child.js';
import { startWsUpstream, type WsUpstream } from './helpers/ws-upstream.js';
import { connect, nextMessage } from './helpers/ws-client.js';

let reads: GraphQLService;
let writes: GraphQLService;
let rx: OtlpReceiver;
let wsUp: WsUpstream;
let gw: TestGateway;
const dir = await tempDir();
const logFile = join(dir.path, 'access.log');

before(async () => {
  reads = await startGraphQLService();
  writes = await startGraphQLService();
  rx = await startOtlpReceiver();
  wsUp = await startWsUpstream();
  gw = await startTestGateway({
    accessLog: { path: logFile },
    tracing: { endpoint: rx.url, sampleRatio: 1 },
    analytics: { enabled: true },
    server: { maxBodyForMatch: '4kb' },
    services: {
      reads: { targets: [{ url: reads.url }] },
      writes: { targets: [{ url: writes.url }] },
      subs: { targets: [{ url: wsUp.url }] },
    },
    consumers: [{ id: 'meter', credentials: [{ type: 'api-key', key: 'meter-key-0123456789' }] }],
    routes: [
      // Subscriptions over WebSockets (graphql-ws) on a route with the policy: the handshake passes.
      { name: 'gql-ws', match: { paths: ['/subscriptions'] }, service: 'subs', websocket: true, policies: [{ type: 'graphql' }] },
      {
        name: 'gql-write',
        match: { paths: ['/graphql'], graphql: { operationType: 'mutation' } },
        service: 'writes',
        policies: [{ type: 'graphql' }],
      },
      {
        name: 'gql-search',
        match: { paths: ['/graphql'], graphql: { rootFields: ['search', 'post'] } },
        service: 'writes',
        policies: [{ type: 'graphql' }],
      },
      {
        name: 'gql-named',
        match: { paths: ['/graphql'], graphql: { operationName: { regex: '^Admin' } } },
        service: 'writes',
        policies: [{ type: 'graphql' }],
      },
      { name: 'gql-read', match: { paths: ['/graphql'] }, service: 'reads', policies: [{ type: 'graphql' }] },
      {
        name: 'metered',
        match: { paths: ['/metered'] },
        service: 'reads',
        policies: [
          { type: 'key-auth' },
          // Listed first, still charged after the operation is read (class limit after authorise).
          { type: 'rate-limit', limit: 100, window: '1h', cost: 'graphql' },
          { type: 'graphql', maxComplexity: 1000 },
        ],
      },
    ],
  });
});
after(async () => {
  await gw.stop();
  await reads.close();
  await writes.close();
  await rx.close();
  await wsUp.close();
  await dir.remove();
});

async function post(path: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await request(gw.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
  });
  return {
    status: res.statusCode,
    headers: res.headers,
    body: (await res.body.json()) as { data?: unknown; errors?: { extensions?: Record<string, unknown> }[] },
  };
}

test('match.graphql: mutations, root-field sets and operation names route to the write service; the rest to reads', async () => {
  const r0 = reads.seen.length;
  const w0 = writes.seen.length;
  const q = await post('/graphql', { query: 'query Who { user(id: 3) { name } }' });
  assert.deepEqual(q.body, { data: { user: { name: 'user3' } } });
  assert.equal(reads.seen.length, r0 + 1);
  const m = await post('/graphql', {
    query: 'mutation New($t: String!) { createPost(title: $t, authorId: "1") { id } }',
    variables: { t: 'hi' },
  });
  assert.equal(m.status, 200);
  assert.equal(writes.seen.length, w0 + 1);
  // Every root field within [search, post]: writes. One outside the set: reads.
  await post('/graphql', { query: '{ search(term: "f") { id } post(id: 1) { title } }' });
  assert.equal(writes.seen.length, w0 + 2);
  await post('/graphql', { query: '{ search(term: "f") { id } hello }' });
  assert.equal(reads.seen.length, r0 + 2);
  // Root fields through a fragment count too.
  await post('/graphql', { query: '{ ...R } fragment R on Query { search(term: "x") { id } }' });
  assert.equal(writes.seen.length, w0 + 3);
  // By name, over GET as well.
  const named = await request(`${gw.url}/graphql?${new URLSearchParams({ query: 'query AdminStats { hello }' }).toString()}`);
  assert.equal(named.statusCode, 200);
  await named.body.dump();
  assert.equal(writes.seen.length, w0 + 4);
  assert.equal(writes.seen.at(-1)!.method, 'GET');
  // operationName picks among several operations; routing follows the one picked.
  await post('/graphql', { query: 'query AdminA { hello } mutation B { login(user: "a", password: "b") }', operationName: 'B' });
  assert.equal(writes.seen.length, w0 + 5);
  // Not GraphQL: no graphql condition holds; the catch-all route's policy refuses it precisely.
  const bad = await post('/graphql', { query: 'mutation {' });
  assert.equal(bad.body.errors?.[0]?.extensions?.code, 'GW_GRAPHQL_PARSE_FAILED');
  assert.equal(writes.seen.length, w0 + 5);
});

test('rate-limit cost: graphql charges each operation its computed cost', async () => {
  const key = { 'x-api-key': 'meter-key-0123456789' };
  // users(first: 30) { name } → 30 × (1 + 0) = 30.
  const a = await post('/metered', { query: '{ users(first: 30) { name } }' }, key);
  assert.equal(a.status, 200);
  assert.match(String(a.headers.ratelimit), /r=70\b/);
  const b = await post('/metered', { query: 'query Q($n: Int) { users(first: $n) { name } }', variables: { n: 60 } }, key);
  assert.equal(b.status, 200);
  assert.match(String(b.headers.ratelimit), /r=10\b/);
  // 30 more does not fit in the 10 left.
  const c = await post('/metered', { query: '{ users(first: 30) { name } }' }, key);
  assert.equal(c.status, 429);
  // A cheap one still does (every request costs at least 1: `{ hello }` too).
  const d = await post('/metered', { query: '{ user(id: 1) { name } }' }, key);
  assert.equal(d.status, 200);
  assert.match(String(d.headers.ratelimit), /r=9\b/);
  // More than the limit can ever admit: refused with the reason, not a Retry-After that never comes true.
  const e = await post('/metered', { query: '{ users(first: 200) { name } }' }, key);
  assert.equal(e.status, 429);
  assert.equal(e.headers['retry-after'], undefined);
});

test('the access log, metrics, traces and analytics carry the operation type and name, never variables', async () => {
  await post('/graphql', {
    query: 'query Secretive($token: String!) { search(term: $token) { id } hello }',
    variables: { token: 'sekrit-value' },
  });
  await request(
    `${gw.url}/graphql?${new URLSearchParams({ query: 'query ByGet($v: ID!) { user(id: $v) { name } }', variables: '{"v":"sekrit-get"}' }).toString()}`,
  ).then((r) => r.body.dump());
  const lines = await waitFor('access log lines', async () => {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    const ls = text
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return ls.some((l) => l.operation === 'query ByGet') ? ls : undefined;
  });
  assert.ok(lines.some((l) => l.operation === 'query Secretive' && l.route === 'gql-read'));
  assert.ok(lines.some((l) => l.operation === 'mutation New' && l.route === 'gql-write'));
  assert.ok(!JSON.stringify(lines).includes('sekrit'), 'variables reached the access log');

  const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  assert.match(metrics, /gatehouse_graphql_operations_total\{route="gql-read",type="query",name="Secretive",status_class="2xx"\} 1/);
  assert.match(metrics, /gatehouse_graphql_operations_total\{route="gql-write",type="mutation",name="New",status_class="2xx"\} 1/);
  assert.match(metrics, /gatehouse_graphql_operation_duration_seconds_count\{route="gql-read",type="query",name="Secretive"\} 1/);

  const dp = (gw.instance.engine as unknown as { dp: { tracer: { exporter: { flush(): Promise<void> } } } }).dp;
  const spans = await waitFor('the GET span', async () => {
    await dp.tracer.exporter.flush();
    return rx.spans.some((s) => attr(s, 'graphql.operation.name') === 'ByGet') ? rx.spans : undefined;
  });
  const span = spans.find((s) => attr(s, 'graphql.operation.name') === 'ByGet')!;
  // A refused GET (here: its document does not parse) is marked too: its variables stay out of the span.
  await request(
    `${gw.url}/graphql?${new URLSearchParams({ query: 'query Bad($v: ID!) { user(id: $v) { name }', variables: '{"v":"sekrit-refused"}' }).toString()}`,
  ).then((r) => r.body.dump());
  await waitFor('the refused span', async () => {
    await dp.tracer.exporter.flush();
    return rx.spans.some((s) => attr(s, 'graphql.operation.type') === 'refused') || undefined;
  });
  assert.equal(attr(span, 'graphql.operation.type'), 'query');
  assert.ok(!JSON.stringify(rx.spans).includes('sekrit'), 'variables reached a span');

  const report = (await (await request(`${gw.adminUrl}/analytics?window=1m`)).body.json()) as {
    operations: { name: string; requests: number }[];
  };
  const names = report.operations.map((o) => o.name);
  assert.ok(names.includes('query Secretive') && names.includes('mutation New'), names.join(', '));
});

test('a WebSocket handshake (graphql-ws subscriptions) passes a route with the graphql policy; its messages are not inspected', async () => {
  const ws = await connect(`${gw.url.replace('http', 'ws')}/subscriptions`, {}, ['graphql-transport-ws']);
  ws.send(JSON.stringify({ type: 'connection_init' }));
  const echoed = await nextMessage(ws);
  assert.deepEqual(JSON.parse(echoed.data.toString()), { type: 'connection_init' });
  ws.close();
  assert.equal(wsUp.handshakes.length, 1);
});

test('an operation routing cannot read (a body past server.maxBodyForMatch) is refused 413, never routed to the fallback', async () => {
  const r0 = reads.seen.length;
  const w0 = writes.seen.length;
  // A mutation with 5 KB of variables: past the 4 KB routing reads. Without the refusal it would
  // fall through to gql-read (the write route's condition cannot be decided) and reach the reads.
  const big = await post('/graphql', {
    query: 'mutation Big($t: String!) { createPost(title: $t, authorId: "1") { id } }',
    variables: { t: 'x'.repeat(5000) },
  });
  assert.equal(big.status, 413);
  assert.equal(reads.seen.length, r0);
  assert.equal(writes.seen.length, w0);
  // A small one still routes.
  assert.equal((await post('/graphql', { query: '{ hello }' })).status, 200);
});
