// A consumer edit is checked against an index of the other consumers (runtime/consumer-edit.ts),
// not by validating the whole config again: it must be refused exactly when the whole config
// would be. Sequences of random edits over a small pool of colliding values (API keys in plain
// and sha256: form, Basic usernames, certificate names, usernames, credential ids, plans,
// `anonymous`) are applied both ways, step by step, and must agree on every step.
// A list so checked is then known valid (markValidConsumers), and a later whole validation that
// is given it again (a route or plan edit) skips its own checks: after each step a random edit of
// the rest is validated with the known list and with a plain copy, and the results must be equal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidConsumerList, markValidConsumers, validateConfig } from '../src/validation/validate.js';
import { ConsumerIndex } from '../src/runtime/consumer-edit.js';
import { hashApiKey } from '../src/identity/secrets.js';
import type { GatehouseConfig } from '../src/config/schema.js';
import { Consumer, type ConsumerConfig } from '../src/config/consumer-schema.js';

/** A small deterministic generator (the failing seed is in the message). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const KEYS = ['key-one-0123456789', 'key-two-0123456789'];
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function randomCredential(r: () => number): Record<string, unknown> {
  const id = r() < 0.3 ? { id: pick(r, ['cred-a', 'cred-b', 'a:api-key:0', 'b:basic:0']) } : {};
  switch (pick(r, ['key', 'key', 'basic', 'mtls'])) {
    case 'key': {
      const k = pick(r, KEYS);
      return { type: 'api-key', ...id, key: r() < 0.5 ? k : hashApiKey(k) };
    }
    case 'basic':
      return { type: 'basic', ...id, username: pick(r, ['u1', 'u2']), password: 'pw' };
    default:
      return { type: 'mtls', ...id, ...(r() < 0.5 ? { subject: pick(r, ['cn1', 'cn2']) } : { san: pick(r, ['cn1', 'san2']) }) };
  }
}

function randomConsumer(r: () => number, id: string): Record<string, unknown> {
  return {
    id,
    ...(r() < 0.4 ? { username: pick(r, ['alice', 'bob', 'a']) } : {}),
    ...(r() < 0.3 ? { plan: pick(r, ['free', 'gold', 'missing']) } : {}),
    credentials: Array.from({ length: Math.floor(r() * 3) }, () => randomCredential(r)),
  };
}

const BASE = {
  accessLog: false,
  listen: [{ port: 0, host: '127.0.0.1' }],
  admin: { enabled: false },
  services: { up: { targets: [{ url: 'http://127.0.0.1:1' }] } },
  plans: {
    free: { limits: [{ name: 'm', algorithm: 'fixed-window', limit: 10, window: '1m' }] },
    gold: { limits: [{ name: 'm', algorithm: 'fixed-window', limit: 100, window: '1m' }] },
  },
  routes: [{ name: 'api', service: 'up', policies: [{ type: 'key-auth', anonymous: 'guest' }] }],
};

/**
 * A random edit of what is not consumers, as a route, service or plan edit makes it: the consumer
 * list is the same object. Some edits involve the consumers (a plan they name removed, `anonymous`
 * naming one that may be gone), some are wrong on their own (a route naming no service).
 */
function otherEdit(r: () => number, config: GatehouseConfig): GatehouseConfig {
  const plans = (config as unknown as { plans: Record<string, unknown> }).plans;
  switch (pick(r, ['plan', 'anonymous', 'route', 'bad-route', 'none'])) {
    case 'plan': {
      const drop = pick(r, ['free', 'gold']);
      return { ...config, plans: Object.fromEntries(Object.entries(plans).filter(([k]) => k !== drop)) } as GatehouseConfig;
    }
    case 'anonymous': {
      const anonymous = pick(r, ['guest', 'a', 'b', 'nobody']);
      return { ...config, routes: [{ ...config.routes[0]!, policies: [{ type: 'key-auth', anonymous }] }] };
    }
    case 'route':
      return { ...config, routes: [...config.routes, { name: 'more', service: 'up', match: { paths: ['/more'] } }] } as GatehouseConfig;
    case 'bad-route':
      return { ...config, routes: [...config.routes, { name: 'bad', service: 'missing' }] } as GatehouseConfig;
    default:
      return { ...config };
  }
}

function whole(consumers: unknown[]): ReturnType<typeof validateConfig> {
  return validateConfig({ ...BASE, consumers });
}

test('random consumer edits: the delta check refuses exactly what the whole-config check refuses', () => {
  let steps = 0;
  let refusals = 0;
  let okEdits = 0;
  let refusedEdits = 0;
  for (let seed = 1; seed <= 150; seed++) {
    const r = rng(seed);
    const start = whole([{ id: 'guest' }, { id: 'a', credentials: [{ type: 'api-key', key: KEYS[0] }] }]);
    assert.ok(start.ok);
    let config: GatehouseConfig = start.config;
    const index = new ConsumerIndex(config.consumers);
    for (let step = 0; step < 25; step++) {
      steps++;
      const id = pick(r, ['guest', 'a', 'b', 'c', 'd']);
      const exists = config.consumers.some((c) => c.id === id);
      const remove = exists && r() < 0.25;
      let upsert: ConsumerConfig[] = [];
      if (!remove) {
        // As consumers.ts does: the schema first, then the index.
        const parsed = Consumer.safeParse(randomConsumer(r, id));
        if (!parsed.success) continue;
        upsert = [parsed.data];
      }
      const delta = { upsert, remove: remove ? [id] : [] };
      const { consumers, issues } = index.prepare(config, delta);
      const check = whole(consumers);
      const what = `seed ${seed} step ${step}: ${JSON.stringify(delta)} on ${JSON.stringify(config.consumers)}`;
      assert.equal(
        issues.length === 0,
        check.ok,
        `${what}\ndelta: ${JSON.stringify(issues)}\nwhole: ${JSON.stringify(check.ok ? [] : check.errors)}`,
      );
      if (!check.ok) {
        refusals++;
        continue;
      }
      index.commit(delta, consumers);
      // As the instance does with a list it applied.
      markValidConsumers(consumers);
      config = { ...config, consumers };
      const edited = otherEdit(r, config);
      assert.ok(isValidConsumerList(edited.consumers));
      const known = validateConfig(edited);
      const plain = validateConfig(JSON.parse(JSON.stringify(edited)));
      assert.deepEqual(known, plain, `${what}\nedit of the rest: ${JSON.stringify({ ...edited, consumers: undefined })}`);
      if (known.ok) {
        // The known list is kept as it is (no copy), so the next edit finds it known again.
        assert.equal(known.config.consumers, consumers);
        okEdits++;
      } else refusedEdits++;
    }
  }
  assert.ok(okEdits > 50 && refusedEdits > 50, `${okEdits} accepted, ${refusedEdits} refused edits of the rest`);
  // The pool is small enough that both outcomes are common: the comparison is not vacuous.
  assert.ok(refusals > steps / 10 && refusals < (steps * 9) / 10, `${refusals} refusals of ${steps} steps`);
});
