// REST in front of GraphQL (issue 24): a `graphql` route runs one fixed operation on the real
// GraphQL service of the test helpers, through a real gateway, with variables from the path, the
// query and a JSON body converted to the operation's declared types; what the service answers is
// served (data, partial data) or refused (errors without data, not GraphQL, down); and `validate`
// refuses documents and variable maps that could never run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { buildSchema, graphql, parse, type OperationDefinitionNode, type TypeNode } from 'graphql';
import { startGraphQLService, type GraphQLService } from './helpers/graphql-server.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, testConfig, type TestGateway } from './helpers/gateway.js';
import { validateConfig } from '../src/validation/validate.js';
import { coerce } from '../src/routes/graphql/coerce.js';

interface ErrorAnswer {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** A second GraphQL service whose `broken` field always fails: an answer with data and errors. */
async function startPartialService(): Promise<{ url: string; close(): Promise<void> }> {
  const schema = buildSchema('type Query { hello: String, broken: String }');
  const rootValue = {
    hello: () => 'world',
    broken: () => {
      throw new Error('broken resolver');
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { query: string; variables?: Record<string, unknown> };
      void graphql({ schema, source: r.query, rootValue, variableValues: r.variables }).then((result) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(result));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A port nothing listens on (a server opened and closed). */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let gql: GraphQLService;
let partial: { url: string; close(): Promise<void> };
let plain: Upstream;
let gw: TestGateway;

before(async () => {
  gql = await startGraphQLService();
  partial = await startPartialService();
  plain = await startUpstream((req, res) => {
    if (req.url === '/hang') return; // never answers (closed with the upstream)
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html>not graphql</html>');
  });
  const down = await closedPort();
  gw = await startTestGateway({
    services: {
      gql: { targets: [{ url: gql.url }] },
      partial: { targets: [{ url: partial.url }] },
      plain: { targets: [{ url: plain.url }] },
      down: { targets: [{ url: `http://127.0.0.1:${down}` }] },
    },
    consumers: [{ id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] }],
    routes: [
      {
        name: 'user',
        match: { paths: ['/users/:id'], methods: ['GET'] },
        graphql: {
          service: 'gql',
          operation: 'query User($id: ID!, $first: Int) { user(id: $id) { id name friends(first: $first) { id } } }',
          variables: { id: '{{params.id}}', first: '{{query.first}}' },
          headers: { 'x-tenant': '{{headers.x-tenant}}' },
        },
      },
      {
        name: 'user-field',
        match: { paths: ['/u/:id'] },
        graphql: {
          service: 'gql',
          path: '/api/graphql',
          operation: 'query($id: ID!) { u: user(id: $id) { id email } }',
          variables: { id: '{{params.id}}' },
          result: 'field',
        },
      },
      {
        name: 'user-null',
        match: { paths: ['/u-null/:id'] },
        graphql: {
          service: 'gql',
          operation: 'query($id: ID!) { user(id: $id) { id } }',
          variables: { id: '{{params.id}}' },
          result: 'field',
          onNull: 'null',
        },
      },
      {
        name: 'field-error',
        match: { paths: ['/field-error'] },
        graphql: { service: 'partial', operation: '{ broken }', result: 'field' },
      },
      {
        name: 'users',
        match: { paths: ['/users'], methods: ['GET'] },
        graphql: {
          service: 'gql',
          operation: 'query Users($first: Int) { users(first: $first) { id } }',
          variables: { first: '{{query.first}}' },
          result: 'field',
        },
      },
      {
        name: 'create-post',
        match: { paths: ['/posts'], methods: ['POST'] },
        graphql: {
          service: 'gql',
          operation: `
            query Unused { hello }
            mutation CreatePost($title: String!, $authorId: ID!) { createPost(title: $title, authorId: $authorId) { id title author { id name } } }`,
          operationName: 'CreatePost',
          variables: { title: '{{body.post.title}}', authorId: '{{body.post.author}}' },
          result: 'field',
          maxRequestBody: '1kb',
        },
      },
      {
        name: 'no-data',
        match: { paths: ['/nodata'] },
        graphql: { service: 'gql', operation: '{ hello nosuchfield }' },
      },
      {
        name: 'many-errors',
        match: { paths: ['/manyerrors'] },
        graphql: { service: 'gql', operation: `{ ${Array.from({ length: 13 }, (_, i) => `f${i}`).join(' ')} }` },
      },
      { name: 'partial', match: { paths: ['/partial'] }, graphql: { service: 'partial', operation: '{ hello broken }' } },
      {
        name: 'partial-fail',
        match: { paths: ['/partial-fail'] },
        graphql: { service: 'partial', operation: '{ hello broken }', partial: 'fail' },
      },
      { name: 'plain', match: { paths: ['/plain'] }, graphql: { service: 'plain', operation: '{ hello }' } },
      {
        name: 'slow',
        match: { paths: ['/slow'] },
        graphql: { service: 'plain', path: '/hang', operation: '{ hello }', timeout: '200ms' },
      },
      {
        name: 'secure',
        match: { paths: ['/secure'] },
        policies: [{ type: 'key-auth' }],
        graphql: { service: 'gql', operation: '{ hello }', result: 'field' },
      },
      { name: 'down', match: { paths: ['/down'] }, graphql: { service: 'down', operation: '{ hello }' } },
    ],
  });
});

after(async () => {
  await gw.stop();
  await Promise.all([gql.close(), partial.close(), plain.close()]);
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(gw.url + path, { headers });
  return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as Record<string, unknown> };
}

test('GET with a path and a query variable: sent as the declared types, the data answered', async () => {
  const seen = gql.seen.length;
  const r = await get('/users/2?first=3', { 'x-tenant': 'acme', authorization: 'Bearer secret' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.deepEqual(r.body, { user: { id: '2', name: 'user2', friends: [{ id: '1' }, { id: '2' }, { id: '3' }] } });
  const sent = gql.seen[seen]!;
  assert.equal(sent.method, 'POST');
  assert.equal(sent.url, '/graphql');
  assert.match(String(sent.headers['content-type']), /^application\/json/);
  assert.equal(sent.request.operationName, 'User');
  assert.deepEqual(sent.request.variables, { id: '2', first: 3 }); // "3" from the query became an Int
  assert.equal(sent.headers['x-tenant'], 'acme'); // listed: passed on
  assert.equal(sent.headers.authorization, undefined); // not listed: not passed on
});

test('the route’s authentication runs first; the service gets the verified identity headers', async () => {
  const refused = await get('/secure');
  assert.equal(refused.status, 401);
  const seen = gql.seen.length;
  const r = await get('/secure', { 'x-api-key': 'alice-key-0123456789' });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'world');
  assert.equal(gql.seen[seen]!.headers['x-consumer-id'], 'alice');
});

test('a missing optional variable is left out (the service uses its default)', async () => {
  const seen = gql.seen.length;
  const r = await get('/users');
  assert.equal(r.status, 200);
  assert.equal((r.body as unknown as unknown[]).length, 10);
  assert.deepEqual(gql.seen[seen]!.request.variables, {});
  const empty = await get('/users?first=');
  assert.equal((empty.body as unknown as unknown[]).length, 10, 'an empty Int parameter is no value');
  const two = await get('/users?first=2');
  assert.deepEqual(two.body, [{ id: '1' }, { id: '2' }]);
});

test('result `field`: the one root field unwrapped (by its alias), at the configured path', async () => {
  const seen = gql.seen.length;
  const r = await get('/u/5');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { id: '5', email: 'u5@example.com' });
  assert.equal(gql.seen[seen]!.url, '/api/graphql');
  assert.equal(gql.seen[seen]!.request.operationName, undefined, 'an anonymous operation is sent without a name');
  const none = await get('/u/999');
  assert.equal(none.status, 404, 'a null field without errors: nothing found');
  assert.deepEqual((none.body as unknown as ErrorAnswer).error.code, 'GW_GRAPHQL_NOT_FOUND');
  const asNull = await get('/u-null/999');
  assert.equal(asNull.status, 200);
  assert.equal(asNull.body, null);
});

test('a POST body mapped into a mutation (operationName picks it; an integer becomes the ID)', async () => {
  const seen = gql.seen.length;
  const res = await request(gw.url + '/posts', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ post: { title: 'via rest', author: 3 } }),
  });
  assert.equal(res.statusCode, 200);
  const body = (await res.body.json()) as { id: string; title: string; author: { id: string; name: string } };
  assert.equal(body.title, 'via rest');
  assert.deepEqual(body.author, { id: '3', name: 'user3' });
  assert.equal(gql.seen[seen]!.request.operationName, 'CreatePost');
  assert.deepEqual(gql.seen[seen]!.request.variables, { title: 'via rest', authorId: '3' });
});

test('variables that cannot take the value: 400 GW_BAD_REQUEST naming the variable, nothing sent', async () => {
  const seen = gql.seen.length;
  const r = await get('/users/2?first=abc');
  assert.equal(r.status, 400);
  const e = (r.body as unknown as ErrorAnswer).error;
  assert.equal(e.code, 'GW_BAD_REQUEST');
  assert.match(e.message, /\$first \(Int\).*\{\{query\.first\}\}.*"abc" is not an integer/);
  assert.deepEqual(e.details, { variable: 'first', type: 'Int', from: '{{query.first}}', reason: '"abc" is not an integer' });
  const big = await get('/users/2?first=99999999999');
  assert.match((big.body as unknown as ErrorAnswer).error.message, /outside the 32-bit range/);
  const post = async (body: unknown, type = 'application/json') => {
    const res = await request(gw.url + '/posts', { method: 'POST', headers: { 'content-type': type }, body: JSON.stringify(body) });
    return { status: res.statusCode, body: (await res.body.json()) as ErrorAnswer };
  };
  const noTitle = await post({ post: { author: 1 } });
  assert.equal(noTitle.status, 400);
  assert.match(noTitle.body.error.message, /\$title \(String!\) is required, and \{\{body\.post\.title\}\} has no value/);
  const objTitle = await post({ post: { title: { x: 1 }, author: 1 } });
  assert.match(objTitle.body.error.message, /\$title \(String!\).*an object is not a string/);
  const notJson = await post({ post: {} }, 'text/plain');
  assert.equal(notJson.body.error.code, 'GW_BAD_BODY');
  const huge = await post({ post: { title: 'x'.repeat(2000), author: 1 } });
  assert.equal(huge.status, 413, 'maxRequestBody bounds the client body');
  assert.equal(gql.seen.length, seen, 'no refused request reached the service');
});

test('errors and no data: 502 GW_GRAPHQL_OPERATION_FAILED with the service’s messages, at most 10', async () => {
  const r = await get('/nodata');
  assert.equal(r.status, 502);
  const e = (r.body as unknown as ErrorAnswer).error;
  assert.equal(e.code, 'GW_GRAPHQL_OPERATION_FAILED');
  const errors = e.details!.errors as { message: string }[];
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /Cannot query field "nosuchfield"/);
  assert.equal(e.details!.service, 'gql');
  const many = (await get('/manyerrors')).body as unknown as ErrorAnswer;
  assert.equal((many.error.details!.errors as unknown[]).length, 10);
  assert.equal(many.error.details!.moreErrors, 3);
});

test('errors beside data: served with Gatehouse-Partial, or refused with partial: fail', async () => {
  const r = await get('/partial');
  assert.equal(r.status, 200);
  assert.equal(r.headers['gatehouse-partial'], 'true');
  assert.deepEqual(r.body, { hello: 'world', broken: null });
  const full = await get('/u/1');
  assert.equal(full.headers['gatehouse-partial'], undefined);
  const fieldError = await get('/field-error');
  assert.equal(fieldError.status, 502, 'with result: field, a null field beside errors is a failure');
  assert.equal((fieldError.body as unknown as ErrorAnswer).error.code, 'GW_GRAPHQL_OPERATION_FAILED');
  const failed = await get('/partial-fail');
  assert.equal(failed.status, 502);
  const e = (failed.body as unknown as ErrorAnswer).error;
  assert.equal(e.code, 'GW_GRAPHQL_OPERATION_FAILED');
  assert.deepEqual(e.details!.errors, [{ message: 'broken resolver', path: ['broken'] }]);
});

test('a service that does not answer GraphQL: 502 GW_UPSTREAM_ERROR; a service down: as a proxied request', async () => {
  const r = await get('/plain');
  assert.equal(r.status, 502);
  const e = (r.body as unknown as ErrorAnswer).error;
  assert.equal(e.code, 'GW_UPSTREAM_ERROR');
  assert.match(e.message, /not a GraphQL response: it is text\/html, not JSON/);
  const d = await get('/down');
  assert.equal(d.status, 502);
  assert.equal((d.body as unknown as ErrorAnswer).error.code, 'GW_UPSTREAM_UNAVAILABLE');
  const slow = await get('/slow');
  assert.equal(slow.status, 504);
  assert.equal((slow.body as unknown as ErrorAnswer).error.code, 'GW_UPSTREAM_TIMEOUT');
});

test('coercion to declared types: lists, non-null elements, enums and input objects as they are', () => {
  const type = (t: string): TypeNode => {
    const op = parse(`query($v: ${t}) { x }`).definitions[0] as OperationDefinitionNode;
    return op.variableDefinitions![0]!.type;
  };
  assert.deepEqual(coerce('1, 2,3', type('[Int!]')), { ok: true, value: [1, 2, 3] });
  assert.deepEqual(coerce('a,b', type('[String]')), { ok: true, value: ['a,b'] }, 'text lists are not split');
  assert.deepEqual(coerce(['1', 'x'], type('[Int]')), { ok: false, reason: 'element 1: "x" is not an integer' });
  assert.deepEqual(coerce([null], type('[ID!]')), { ok: false, reason: 'element 0: it is null, and the type is non-null' });
  assert.deepEqual(coerce('2.5e1', type('Float')), { ok: true, value: 25 });
  assert.deepEqual(coerce('yes', type('Boolean')), { ok: false, reason: '"yes" is not true or false' });
  assert.deepEqual(coerce('false', type('Boolean!')), { ok: true, value: false });
  assert.deepEqual(coerce(1.5, type('ID')), { ok: false, reason: '1.5 is not an ID (a string or an integer)' });
  assert.deepEqual(coerce('ADMIN', type('Role!')), { ok: true, value: 'ADMIN' });
  assert.deepEqual(coerce({ title: 't', tags: ['a'] }, type('PostInput!')), { ok: true, value: { title: 't', tags: ['a'] } });
  assert.deepEqual(coerce(null, type('Int')), { ok: true, value: null });
});

function issuesOf(graphqlConfig: Record<string, unknown>) {
  const r = validateConfig(
    testConfig({ services: { gql: { targets: [{ url: 'http://127.0.0.1:9' }] } }, routes: [{ name: 'g', graphql: graphqlConfig }] }),
  );
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

test('validate refuses operations and variable maps that could never run', () => {
  const has = (issues: string[], re: RegExp) =>
    assert.ok(
      issues.some((i) => re.test(i)),
      issues.join('\n'),
    );
  has(
    issuesOf({ service: 'gql', operation: '{ user(id: 1) { id }' }),
    /^routes\[0\]\.graphql\.operation: the document does not parse: Syntax Error: Expected Name, found <EOF>\. \(line 1, column 21\)$/,
  );
  has(
    issuesOf({ service: 'gql', operation: '{ a } query B { b }' }),
    /^routes\[0\]\.graphql\.operation: the document has 2 operations: name the one that runs with operationName$/,
  );
  has(
    issuesOf({ service: 'gql', operation: 'query A { a }', operationName: 'B' }),
    /^routes\[0\]\.graphql\.operationName: the document has no operation "B" \(it has A\)$/,
  );
  has(issuesOf({ service: 'gql', operation: 'fragment F on Query { a }' }), /graphql\.operation: the document has no operation/);
  has(issuesOf({ service: 'gql', operation: 'subscription { a }' }), /graphql\.operation: a subscription has no single answer/);
  const unknownVar = issuesOf({
    service: 'gql',
    operation: 'query($id: ID) { user(id: $id) { id } }',
    variables: { id: '{{params.id}}', ide: 'x' },
  });
  has(unknownVar, /^routes\[0\]\.graphql\.variables\.ide: the operation declares no variable \$ide \(it declares \$id\)$/);
  has(
    issuesOf({ service: 'gql', operation: 'query($id: ID!, $n: Int = 3, $m: Int) { user(id: $id) { id } }' }),
    /^routes\[0\]\.graphql\.variables: the operation requires \$id \(ID!\): give it a value$/,
  );
  assert.equal(
    issuesOf({ service: 'gql', operation: 'query($id: ID! = "1", $n: Int) { user(id: $id) { id } }' }).length,
    0,
    'a default or a nullable type needs no value',
  );
  has(
    issuesOf({ service: 'nope', operation: '{ hello }' }),
    /^routes\[0\]\.graphql\.service: service "nope" is not defined \(defined: gql\)$/,
  );
  has(
    issuesOf({ service: 'gql', operation: 'query($n: Int) { users(first: $n) { id } }', variables: { n: 'three' } }),
    /graphql\.variables\.n: not a value of \$n's type Int: "three" is not an integer/,
  );
  has(
    issuesOf({ service: 'gql', operation: 'query($n: Int) { users(first: $n) { id } }', variables: { n: '{{nope.x}}' } }),
    /graphql\.variables\.n: \{\{nope\.x\}\}: unknown template value/,
  );
  has(
    issuesOf({ service: 'gql', operation: '{ hello users { id } }', result: 'field' }),
    /graphql\.result: a `field` result unwraps the one root field/,
  );
  has(
    issuesOf({ service: 'gql', operation: '{ hello }', headers: { 'X-Consumer-Id': 'x' } }),
    /graphql\.headers\.X-Consumer-Id: the gateway sets this header itself/,
  );
  has(
    issuesOf({ service: 'gql', operation: '{ hello }', headers: { 'Content-Type': 'text/plain' } }),
    /graphql\.headers\.Content-Type: the gateway sets this header itself/,
  );
  has(issuesOf({ service: 'gql', operation: '{ hello }', resul: 'data' }), /graphql/);
  const both = validateConfig(
    testConfig({
      services: { gql: { targets: [{ url: 'http://127.0.0.1:9' }] } },
      routes: [{ name: 'g', service: 'gql', graphql: { service: 'gql', operation: '{ hello }' } }],
    }),
  );
  assert.ok(!both.ok && both.errors.some((e) => /either service or graphql/.test(e.message)));
});
