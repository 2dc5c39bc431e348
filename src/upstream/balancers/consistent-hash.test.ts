import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsistentHashBalancer } from './consistent-hash.js';
import { hash32 } from './fnv1a.js';
import { makeTargets, sequence, type TestTarget } from '../../../test/helpers/balancer-targets.js';

const KEYS = Array.from({ length: 10_000 }, (_, i) => `session-${i}`);

function assign(targets: readonly TestTarget[]): Map<string, TestTarget> {
  const b = new ConsistentHashBalancer<TestTarget>();
  b.setTargets(targets);
  return new Map(KEYS.map((k) => [k, b.pick(k)!]));
}

test('hash32: stable, and neighbouring keys land far apart', () => {
  assert.equal(hash32('a'), hash32('a'));
  assert.notEqual(hash32('svc#1'), hash32('svc#2'));
  // The top bits (what a ring sorts on) differ too, not only the low ones.
  assert.notEqual(hash32('svc#1') >>> 24, hash32('svc#2') >>> 24);
});

test('consistent-hash: a key always goes to the same target, in any balancer built alike', () => {
  const ts = makeTargets([1, 1, 1, 1, 1]);
  const one = assign(ts);
  const two = assign(ts);
  for (const k of KEYS) assert.equal(one.get(k), two.get(k));
  assert.equal(new Set(one.values()).size, 5, 'every target owns keys');
});

for (const n of [5, 10]) {
  test(`consistent-hash: removing one of ${n} targets remaps about 1/${n} of 10,000 keys, only its own`, () => {
    const ts = makeTargets(new Array<number>(n).fill(1));
    const before = assign(ts);
    const removed = ts[2]!;
    const after = assign(ts.filter((t) => t !== removed));
    let moved = 0;
    for (const k of KEYS) {
      if (before.get(k) === removed) moved++;
      else assert.equal(after.get(k), before.get(k), `${k} kept its target`);
      assert.notEqual(after.get(k), removed);
    }
    const fraction = moved / KEYS.length;
    assert.ok(Math.abs(fraction - 1 / n) < 0.3 / n, `moved ${fraction}, expected about ${1 / n}`);
  });
}

test('consistent-hash: adding a target moves about 1/(N+1) of the keys, all to the new one', () => {
  const ts = makeTargets(new Array<number>(9).fill(1));
  const before = assign(ts);
  const added = makeTargets(new Array<number>(10).fill(1))[9]!;
  const after = assign([...ts, added]);
  let moved = 0;
  for (const k of KEYS) {
    if (after.get(k) !== before.get(k)) {
      moved++;
      assert.equal(after.get(k), added);
    }
  }
  assert.ok(Math.abs(moved / KEYS.length - 0.1) < 0.03, `moved ${moved}`);
});

test('consistent-hash: points follow weight — a 70/30 split of 10,000 keys within ±5 %', () => {
  const c = assign(makeTargets([70, 30]));
  const a = [...c.values()].filter((t) => t.name === 'a').length;
  assert.ok(Math.abs(a / KEYS.length - 0.7) <= 0.05, `a owns ${a}`);
});

test('consistent-hash: requests without a key are spread by smooth weighted round robin', () => {
  const b = new ConsistentHashBalancer<TestTarget>();
  b.setTargets(makeTargets([5, 1, 1]));
  assert.equal(sequence(b, 7).join(' '), 'a a b a c a a');
});

test('consistent-hash: a retry goes to the next target on the ring, the same one each time', () => {
  const b = new ConsistentHashBalancer<TestTarget>();
  const ts = makeTargets([1, 1, 1, 1]);
  b.setTargets(ts);
  for (const k of KEYS.slice(0, 200)) {
    const first = b.pick(k)!;
    const second = b.pick(k, new Set([first]))!;
    assert.notEqual(second, first);
    assert.equal(b.pick(k, new Set([first])), second);
  }
});

test('consistent-hash: replicas must be a positive integer', () => {
  assert.throws(() => new ConsistentHashBalancer({ replicas: 0 }), /replicas/);
  assert.throws(() => new ConsistentHashBalancer({ replicas: 1.5 }), /replicas/);
});

test('consistent-hash: a ring updated step by step equals one built at once (every worker agrees)', () => {
  const ts = makeTargets([1, 2, 3, 1, 1, 4, 2, 1]);
  const stepwise = new ConsistentHashBalancer<TestTarget>();
  stepwise.setTargets(ts);
  stepwise.setTargets(ts.filter((_, i) => i !== 2 && i !== 5)); // two leave: the mean weight changes
  stepwise.setTargets(ts.filter((_, i) => i !== 5)); // one comes back
  stepwise.setTargets([...ts.filter((_, i) => i !== 5), ...makeTargets([0, 0, 0, 0, 0, 0, 0, 0, 0, 3])]);
  const final = [...ts.filter((_, i) => i !== 5), makeTargets([0, 0, 0, 0, 0, 0, 0, 0, 0, 3])[9]!];
  const fresh = new ConsistentHashBalancer<TestTarget>();
  fresh.setTargets(final);
  for (const k of KEYS) assert.equal(stepwise.pick(k)!.key, fresh.pick(k)!.key, k);
});
