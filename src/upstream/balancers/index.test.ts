// Behaviour every balancer shares: weight 0, no targets, avoid (retries), in-flight bookkeeping,
// and the 70/30 split over 1,000 requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BALANCER_NAMES, createBalancer } from './index.js';
import type { BalancerName } from './balancer.js';
import { seededRandom } from './seeded-random.js';
import { makeTargets, simulate, type TestTarget } from '../../../test/helpers/balancer-targets.js';

function make(name: BalancerName, seed = 7) {
  let clock = 1_000;
  const b = createBalancer<TestTarget>(name, { random: seededRandom(seed), now: () => clock });
  return { b, tick: () => (clock += 1) };
}

/** A key for consistent-hash (different per request), ignored by the others. */
const key = (i: number) => `user-${i}`;

for (const name of BALANCER_NAMES) {
  test(`${name}: no targets, or only weight 0, picks nothing`, () => {
    const { b } = make(name);
    assert.equal(b.pick(key(1)), undefined);
    b.setTargets(makeTargets([0, 0]));
    assert.equal(b.pick(key(1)), undefined);
    assert.equal(b.pick(undefined), undefined);
  });

  test(`${name}: weight 0 receives nothing`, () => {
    const { b, tick } = make(name);
    const ts = makeTargets([3, 0, 1, 0, 2]);
    b.setTargets(ts);
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      tick();
      const t = b.pick(i % 2 === 0 ? key(i) : undefined)!;
      seen.add(t.name);
      b.onStart(t);
      b.onEnd(t, 1 + (i % 5));
    }
    assert.ok(!seen.has('b') && !seen.has('d'), `picked ${[...seen].join(' ')}`);
    // p2c-ewma may leave the light, equally fast c out: that is its cost rule, not weight 0.
    assert.ok(seen.has('a') && seen.has('e'));
    // Not even as the last resort of a retry that tried every live target.
    const live = new Set([ts[0]!, ts[2]!, ts[4]!]);
    for (let i = 0; i < 50; i++) assert.notEqual(b.pick(key(i), live)!.weight, 0);
  });

  test(`${name}: a retry avoids the targets already tried while others are left`, () => {
    const { b, tick } = make(name);
    const ts = makeTargets([5, 1, 1, 2]);
    b.setTargets(ts);
    for (let i = 0; i < 200; i++) {
      tick();
      const first = b.pick(key(i))!;
      const second = b.pick(key(i), new Set([first]))!;
      assert.notEqual(second, first);
      const third = b.pick(key(i), new Set([first, second]))!;
      assert.ok(third !== first && third !== second);
      const all = new Set(ts.filter((t) => t !== ts[3]));
      assert.equal(b.pick(key(i), all), ts[3], 'the only untried target');
      assert.ok(ts.includes(b.pick(key(i), new Set(ts))!), 'all tried: still an answer');
    }
  });

  test(`${name}: onStart/onEnd keep the in-flight count`, () => {
    const { b } = make(name);
    const [a] = makeTargets([1]) as [TestTarget];
    b.setTargets([a]);
    b.onStart(a);
    b.onStart(a);
    assert.equal(a.inFlight, 2);
    b.onEnd(a, 3);
    b.onEnd(a, 3);
    b.onEnd(a, 3); // an extra end never drives it negative
    assert.equal(a.inFlight, 0);
    assert.equal(b.pick(key(1)), a);
  });
}

// consistent-hash is left out: its split follows its keys, tested in consistent-hash.test.ts.
for (const name of ['round-robin', 'random', 'least-connections', 'p2c-ewma'] as const) {
  test(`${name}: a 70/30 split lands within ±5 % over 1,000 requests`, () => {
    const { b, tick } = make(name, 42);
    b.setTargets(makeTargets([70, 30]));
    // 10 requests in flight, every target equally fast: the balancer alone decides the split.
    const c = simulate(b, 1_000, 10, () => 20, tick);
    const shareA = (c.a ?? 0) / 1_000;
    assert.ok(Math.abs(shareA - 0.7) <= 0.05, `a got ${shareA}`);
  });
}

test('createBalancer: an unknown name is refused', () => {
  assert.throws(() => createBalancer('fastest' as BalancerName), /unknown balancer "fastest"/);
});
