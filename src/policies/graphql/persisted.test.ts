// Persisted operations (persisted.ts) driven directly: APQ in memory and in a real Redis shared by
// two "instances", a Redis that goes away, allow lists from both manifest formats and from the
// `graphqlOperations` section, and manifests that must be refused.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createPersisted, persistedIssues, type Persisted, type PersistedResolution } from './persisted.js';
import { PersistedSchema, persistedSections, sha256Hex, type PersistedConfig } from './persisted-schema.js';
import { parseManifest } from './persisted-manifest.js';
import { testEnv } from '../../../test/helpers/policy-context.js';
import { validateConfig } from '../../validation/validate.js';
import { StoreRegistry } from '../../store/registry.js';
import type { GatehouseConfig } from '../../config/schema.js';
import type { PolicyEnv } from '../types.js';
import { tempDir } from '../../../test/helpers/child.js';
import { valueKeyName } from '../../store/cache/redis.js';
import { SHARED_REDIS, deleteUnder, inspector, keysUnder, privateRedis, sharedRedisUp, uniquePrefix } from '../../../test/helpers/redis.js';

const Q1 = '{ hello }';
const Q2 = 'query User($id: ID!) { user(id: $id) { name } }';
const Q3 = '{ users { id } }';
const H1 = sha256Hex(Q1);
const H2 = sha256Hex(Q2);

// Every await before the first test: the runner may end the root (and run its `after`) at an
// await between registrations.
const redisUp = await sharedRedisUp();
const dir = await tempDir();
after(() => dir.remove());

function persisted(options: Record<string, unknown>, env: Partial<PolicyEnv> = {}): Persisted {
  return createPersisted(PersistedSchema.parse(options), testEnv(env));
}

function apq(hash: string, query?: string, more: Record<string, unknown> = {}) {
  return { query, variables: { id: '1' }, extensions: { persistedQuery: { version: 1, sha256Hash: hash }, ...more } };
}

function ok(r: PersistedResolution): Extract<PersistedResolution, { ok: true }> {
  assert.ok(r.ok, `refused: ${JSON.stringify(r)}`);
  return r;
}

function refused(r: PersistedResolution, code: string): string | undefined {
  if (r.ok) assert.fail(`expected ${code}, got ${JSON.stringify(r)}`);
  assert.equal(r.code, code);
  return r.message;
}

/** A config with a Redis top-level store (and optionally registered operations). */
function redisConfig(url: string, prefix: string, extra: Record<string, unknown> = {}): GatehouseConfig {
  const r = validateConfig({ store: { type: 'redis', url, prefix, timeout: '500ms' }, ...extra });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config;
}

/** A logger whose lines the test reads. */
function capturingLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: pino({ level: 'info' }, stream) };
}

describe('APQ in memory', () => {
  test('a hash alone is unknown until a request registers it, and the policy accepted the document', async () => {
    const p = persisted({});
    refused(await p.resolve(apq(H2)), 'GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND');
    const reg = ok(await p.resolve(apq(H2, Q2, { tracing: true })));
    assert.equal(reg.rewritten, true);
    // What goes to the service: the document, the other extensions, never the persistedQuery one.
    assert.deepEqual(reg.params, { query: Q2, variables: { id: '1' }, extensions: { tracing: true } });
    assert.equal(typeof reg.register, 'function');
    // The policy has not accepted the document yet: nothing is remembered.
    refused(await p.resolve(apq(H2)), 'GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND');
    reg.register!();
    const hit = ok(await p.resolve(apq(H2)));
    assert.deepEqual(hit.params, { query: Q2, variables: { id: '1' }, extensions: undefined });
    assert.equal(hit.rewritten, true);
    // The hash in upper case is the same hash.
    assert.equal(ok(await p.resolve(apq(H2.toUpperCase()))).params.query, Q2);
  });

  test('a query that does not hash to the hash is refused and not remembered', async () => {
    const p = persisted({});
    refused(await p.resolve(apq(H1, Q3)), 'GW_GRAPHQL_PERSISTED_QUERY_MISMATCH');
    refused(await p.resolve(apq(H1)), 'GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND');
  });

  test('a plain query passes untouched; a request with neither query nor hash, or a bad extension, is a bad request', async () => {
    const p = persisted({});
    const plain = ok(await p.resolve({ query: Q1 }));
    assert.equal(plain.rewritten, false);
    assert.deepEqual(plain.params, { query: Q1 });
    refused(await p.resolve({ variables: {} }), 'GW_GRAPHQL_BAD_REQUEST');
    assert.match(
      refused(await p.resolve({ extensions: { persistedQuery: { version: 2, sha256Hash: H1 } } }), 'GW_GRAPHQL_BAD_REQUEST')!,
      /version 2 is not supported/,
    );
    refused(await p.resolve({ extensions: { persistedQuery: { sha256Hash: H1 } } }), 'GW_GRAPHQL_BAD_REQUEST');
    // A client's value is echoed only when it is a short scalar.
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const message = refused(
      await p.resolve({ extensions: { persistedQuery: { version: deep, sha256Hash: H1 } } }),
      'GW_GRAPHQL_BAD_REQUEST',
    );
    assert.equal(message, 'persisted query version given is not supported (only version 1)');
    refused(await p.resolve({ extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } }), 'GW_GRAPHQL_BAD_REQUEST');
    refused(await p.resolve({ extensions: { persistedQuery: [] } }), 'GW_GRAPHQL_BAD_REQUEST');
  });

  test('the memory cache is bounded by entries and by bytes', async () => {
    const p = persisted({ maxEntries: 2 });
    for (const q of [Q1, Q2, Q3]) ok(await p.resolve(apq(sha256Hex(q), q))).register!();
    refused(await p.resolve(apq(H1)), 'GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND');
    ok(await p.resolve(apq(H2)));
    const small = persisted({ maxSize: 200 });
    const big = `{ hello ${' '.repeat(300)}}`;
    ok(await small.resolve(apq(sha256Hex(big), big))).register!();
    refused(await small.resolve(apq(sha256Hex(big))), 'GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND');
  });

  test('what clients registered survives a reload (a new config compiled on the same data plane), per route', async () => {
    const env = testEnv({ routeName: 'gql' });
    const first = createPersisted(PersistedSchema.parse({}), env);
    ok(await first.resolve(apq(H1, Q1))).register!();
    first.close();
    const reloaded = createPersisted(PersistedSchema.parse({}), { ...testEnv({ routeName: 'gql' }), stores: env.stores });
    assert.equal(ok(await reloaded.resolve(apq(H1))).params.query, Q1);
    const otherRoute = createPersisted(PersistedSchema.parse({}), { ...testEnv({ routeName: 'other' }), stores: env.stores });
    refused(await otherRoute.resolve(apq(H1)), 'GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND');
    const otherPlane = createPersisted(PersistedSchema.parse({}), testEnv({ routeName: 'gql' }));
    refused(await otherPlane.resolve(apq(H1)), 'GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND');
  });

  test('registered operations are known hashes from the start (and are not registered again)', async () => {
    const file = await dir.file('apq-manifest.json', JSON.stringify({ [H1]: Q1 }));
    const p = persisted({ manifest: file });
    assert.equal(ok(await p.resolve(apq(H1))).params.query, Q1);
    assert.equal(ok(await p.resolve(apq(H1, Q1))).register, undefined);
  });
});

describe('APQ in Redis', { skip: redisUp ? false : 'no Redis at 127.0.0.1:6379' }, () => {
  const prefix = uniquePrefix('apq');
  const r = inspector();
  after(async () => {
    await deleteUnder(r, prefix);
    r.disconnect();
  });

  test('a document one instance registers is found by another, under the store prefix, with a TTL', async (t) => {
    const storesA = new StoreRegistry();
    const storesB = new StoreRegistry();
    t.after(() => Promise.all([storesA.close(), storesB.close()]));
    const config = redisConfig(SHARED_REDIS, prefix);
    const a = persisted({ store: 'redis', ttl: '1h' }, { config, stores: storesA });
    const b = persisted({ store: 'redis', ttl: '1h' }, { config, stores: storesB });
    refused(await b.resolve(apq(H2)), 'GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND');
    ok(await a.resolve(apq(H2, Q2))).register!();
    const key = valueKeyName(`${prefix}apq:`, H2);
    const keys = await (async () => {
      for (let i = 0; i < 100; i++) {
        const k = await keysUnder(r, prefix);
        if (k.length > 0) return k;
        await new Promise((res) => setTimeout(res, 20));
      }
      return [];
    })();
    assert.deepEqual(keys, [key]);
    const ttl = await r.pttl(key);
    assert.ok(ttl > 0 && ttl <= 3_600_000, `PTTL ${ttl}`);
    assert.deepEqual(ok(await b.resolve(apq(H2))).params.query, Q2);
  });

  test('a value in Redis that is not the document of its hash is never used', async (t) => {
    const stores = new StoreRegistry();
    t.after(() => stores.close());
    const config = redisConfig(SHARED_REDIS, prefix);
    // Another writer under the same prefix stores the wrong document under H1.
    const store = stores.cache.get({ type: 'redis', url: SHARED_REDIS, prefix: `${prefix}apq:`, timeoutMs: 500 });
    const now = Date.now();
    await store.put(
      H1,
      {
        response: { status: 200, headers: [], body: Buffer.from(Q3) },
        requestTime: now,
        responseTime: now,
        vary: [],
        varyValues: [],
        tags: [],
      },
      60_000,
    );
    const p = persisted({ store: 'redis' }, { config, stores });
    refused(await p.resolve(apq(H1)), 'GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND');
  });
});

test('APQ with a Redis that goes away: requests are answered from memory, the outage is logged once', async (t) => {
  const redis = await privateRedis();
  const stores = new StoreRegistry();
  t.after(async () => {
    await stores.close();
    await redis.stop();
  });
  const { lines, log } = capturingLog();
  const p = persisted({ store: 'redis' }, { config: redisConfig(redis.url, 'gh-test:apq-down:'), stores, log });
  ok(await p.resolve(apq(H1, Q1))).register!();
  assert.equal(ok(await p.resolve(apq(H1))).params.query, Q1);
  await redis.stop();
  // Unknown hashes are misses, known ones come from memory, registrations still work.
  refused(await p.resolve(apq(H2)), 'GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND');
  refused(await p.resolve(apq(sha256Hex(Q3))), 'GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND');
  assert.equal(ok(await p.resolve(apq(H1))).params.query, Q1);
  ok(await p.resolve(apq(H2, Q2))).register!();
  assert.equal(ok(await p.resolve(apq(H2))).params.query, Q2);
  const warned = lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('Redis store failed'));
  assert.equal(warned.length, 1, JSON.stringify(lines));
  // Never a document or variables in a log line.
  assert.ok(!JSON.stringify(lines).includes('hello'));
});

test('APQ with Redis: a document is written once, not once per request that sends it (no queue of writes to grow)', async (t) => {
  const redis = await privateRedis();
  const stores = new StoreRegistry();
  const direct = inspector(redis.url);
  t.after(async () => {
    direct.disconnect();
    await stores.close();
    await redis.stop();
  });
  const prefix = 'gh-test:apq-writes:';
  const config = redisConfig(redis.url, prefix);
  // The store the policy writes through: a put of a key runs after every earlier put of that key,
  // so awaiting one of our own tells when theirs are done.
  const store = stores.cache.get({ type: 'redis', url: redis.url, prefix: `${prefix}apq:`, timeoutMs: 500 });
  const fence = async (hash: string) => {
    const now = Date.now();
    const entry = { status: 200, headers: [], body: Buffer.from('fence') };
    await store.put(hash, { response: entry, requestTime: now, responseTime: now, vary: [], varyValues: [], tags: [] }, 1000);
  };
  const writes = async () => {
    const info = await direct.info('commandstats');
    return [...info.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  };
  // A client sending the document with its hash on every request (or many at once).
  const p = persisted({ store: 'redis' }, { config, stores });
  for (let i = 0; i < 30; i++) ok(await p.resolve(apq(H1, Q1))).register!();
  await fence(H1);
  assert.equal(await writes(), 2, 'one write for the document, one for the fence');
  // A document larger than the memory cache holds: still one write at a time.
  const big = `{ hello ${'#'.repeat(2000)}\n}`;
  const small = persisted({ store: 'redis', maxSize: '1kb' }, { config, stores, routeName: 'small' });
  const registrations = [];
  for (let i = 0; i < 30; i++) registrations.push(ok(await small.resolve(apq(sha256Hex(big), big))).register!);
  for (const register of registrations) register();
  await fence(sha256Hex(big));
  assert.equal(await writes(), 4);
});

test('store: redis without a Redis top-level store is a config error', () => {
  assert.throws(() => persisted({ store: 'redis' }), /needs the top-level store to be Redis/);
});

describe('allow list', () => {
  const apolloManifest = (ops: { id: string; body: string; name?: string }[]) =>
    JSON.stringify({
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: ops.map((o) => ({ type: 'query', name: 'N', ...o })),
    });

  test('from an Apollo manifest: registered documents and ids run, nothing else, and clients cannot register', async () => {
    const file = await dir.file('apollo.json', apolloManifest([{ id: H1, body: Q1, name: 'Hello' }]));
    const p = persisted({ mode: 'allowList', manifest: file });
    assert.equal(p.registeredCount, 1);
    const byText = ok(await p.resolve({ query: Q1 }));
    assert.equal(byText.rewritten, true, 'an allow list forwards what it checked, never the body as sent');
    assert.equal(ok(await p.resolve(apq(H1))).params.query, Q1);
    assert.equal(ok(await p.resolve(apq(H1, Q1))).register, undefined);
    refused(await p.resolve({ query: Q3 }), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED');
    // No normalisation: one more space is another document.
    refused(await p.resolve({ query: `${Q1} ` }), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED');
    refused(await p.resolve(apq(H2)), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED');
    assert.match(refused(await p.resolve(apq(H2, Q2)), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED')!, /cannot register/);
    refused(await p.resolve(apq(H1, Q2)), 'GW_GRAPHQL_PERSISTED_QUERY_MISMATCH');
  });

  test('from a plain map and from the graphqlOperations section; requireId refuses documents', async () => {
    const file = await dir.file('map.json', JSON.stringify({ [H1]: Q1 }));
    const cfg = validateConfig({});
    assert.ok(cfg.ok);
    const section = persistedSections.graphqlOperations.parse([{ body: Q2, name: 'User' }]);
    const config = { ...cfg.config, graphqlOperations: section };
    const p = persisted({ mode: 'allowList', manifest: file, requireId: true }, { config });
    assert.equal(p.registeredCount, 2);
    assert.equal(ok(await p.resolve(apq(H2))).params.query, Q2);
    assert.equal(ok(await p.resolve(apq(H1))).params.query, Q1);
    assert.match(refused(await p.resolve({ query: Q1 }), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED')!, /by id only/);
    const loose = persisted({ mode: 'allowList' }, { config });
    ok(await loose.resolve({ query: Q2 }));
    refused(await loose.resolve({ query: Q1 }), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED');
  });

  test('an empty allow list runs nothing', async () => {
    const p = persisted({ mode: 'allowList' });
    refused(await p.resolve({ query: Q1 }), 'GW_GRAPHQL_OPERATION_NOT_ALLOWED');
  });
});

describe('manifests are untrusted', () => {
  const cases: [string, string, RegExp][] = [
    ['not JSON', '{', /not JSON/],
    ['a list', '[]', /not a JSON object/],
    ['an id that is not the hash of the body', JSON.stringify({ [H1]: Q2 }), /not the SHA-256 of its document/],
    ['a key that is no hash', JSON.stringify({ hello: Q1 }), /"hello" is not a SHA-256/],
    ['a document that is not a string', JSON.stringify({ [H1]: 1 }), /is not a string/],
    ['another format', JSON.stringify({ format: 'relay', version: 1, operations: [] }), /format is not/],
    ['another version', JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 2, operations: [] }), /version is not 1/],
    [
      'an Apollo id that is not the hash',
      JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: H2, body: Q1 }] }),
      /operations\[0\]\.id is not the SHA-256 of its body/,
    ],
    [
      'an unknown field',
      JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: H1, body: Q1, run: true }] }),
      /operations\[0\] has an unknown field "run"/,
    ],
    [
      'a bad type',
      JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: H1, body: Q1, type: 'x' }] }),
      /type is not query/,
    ],
  ];
  for (const [what, text, reason] of cases)
    test(`a manifest with ${what} is refused`, () => {
      const r = parseManifest(text);
      if (r.ok) assert.fail('accepted');
      assert.match(r.reason, reason);
    });

  test('a missing or invalid manifest is a config error naming the file and the reason', async () => {
    const missing = `${dir.path}/nope.json`;
    assert.deepEqual(persistedIssues(PersistedSchema.parse({ manifest: missing }), 'routes[0].policies[0]'), [
      { path: 'routes[0].policies[0].persisted.manifest', message: `cannot read ${missing}: ENOENT` },
    ]);
    const bad = await dir.file('bad.json', JSON.stringify({ [H1]: Q2 }));
    const issues = persistedIssues(PersistedSchema.parse({ mode: 'allowList', manifest: bad }), 'at');
    assert.equal(issues.length, 1);
    assert.ok(issues[0]!.message.startsWith(`${bad}: `));
    // The document is never echoed.
    assert.ok(!issues[0]!.message.includes('user(id'));
    assert.throws(() => persisted({ manifest: bad }), /persisted\.manifest: .*not the SHA-256/);
    assert.deepEqual(persistedIssues(PersistedSchema.parse({ manifest: dir.path }), 'at')[0]!.message, `${dir.path} is not a regular file`);
    assert.deepEqual(persistedIssues(PersistedSchema.parse({}), 'at'), []);
  });
});

test('the schema: options that belong to the other mode are refused; registered operations are checked', () => {
  assert.equal(PersistedSchema.safeParse({ mode: 'apq', requireId: true }).success, false);
  assert.equal(PersistedSchema.safeParse({ mode: 'allowList', store: 'redis' }).success, false);
  assert.equal(PersistedSchema.safeParse({ mode: 'allowlist' }).success, false);
  assert.equal(PersistedSchema.safeParse({ extra: 1 }).success, false);
  const defaults: PersistedConfig = PersistedSchema.parse({});
  assert.equal(defaults.mode, 'apq');
  assert.equal(defaults.store, 'memory');
  const ops = persistedSections.graphqlOperations;
  assert.equal(ops.safeParse([{ body: Q1, id: H2 }]).success, false);
  assert.equal(ops.safeParse([{ body: Q1 }, { body: Q1, name: 'again' }]).success, false);
  assert.equal(ops.safeParse([{ body: Q1, id: H1 }, { body: Q2 }]).success, true);
  // Bounded in all, not only per document.
  const big = Array.from({ length: 70 }, (_, i) => ({ body: `{ hello }#${i}${'x'.repeat(999_000)}` }));
  assert.equal(ops.safeParse(big).success, false);
});
