import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeastConnectionsBalancer } from './least-connections.js';
import { makeTargets, sequence, simulate, type TestTarget } from '../../../test/helpers/balancer-targets.js';

test('least-connections: the target with the fewest in flight wins', () => {
  const b = new LeastConnectionsBalancer<TestTarget>();
  const [a, bb, c] = makeTargets([1, 1, 1]) as [TestTarget, TestTarget, TestTarget];
  b.setTargets([a, bb, c]);
  b.onStart(a);
  b.onStart(a);
  b.onStart(c);
  assert.equal(b.pick(undefined), bb);
  b.onStart(bb);
  b.onStart(bb);
  assert.equal(b.pick(undefined), c, 'c: 1 in flight, a and b: 2');
  b.onEnd(a);
  b.onEnd(a);
  assert.equal(b.pick(undefined), a, 'a is back to 0');
});

test('least-connections: ties take turns instead of always going to the first target', () => {
  const b = new LeastConnectionsBalancer<TestTarget>();
  b.setTargets(makeTargets([1, 1, 1]));
  assert.equal(sequence(b, 7).join(' '), 'a b c a b c a');
});

test('least-connections: in flight counts relative to weight', () => {
  const b = new LeastConnectionsBalancer<TestTarget>();
  const [a, bb] = makeTargets([3, 1]) as [TestTarget, TestTarget];
  b.setTargets([a, bb]);
  for (let i = 0; i < 2; i++) b.onStart(a);
  assert.equal(b.pick(undefined), bb, 'b: 0 in flight');
  b.onStart(bb);
  assert.equal(b.pick(undefined), a, 'a: 2/3 beats b: 1/1');
  b.onStart(a);
  // a: 3/3 = b: 1/1 — a tie, and a was picked last, so b.
  assert.equal(b.pick(undefined), bb);
});

test('least-connections: a slow target (requests stay in flight longer) gets less', () => {
  const b = new LeastConnectionsBalancer<TestTarget>();
  b.setTargets(makeTargets([1, 1]));
  // Requests end in the order they started, but a's stay open for 4 rounds, b's for 1.
  const open: { t: TestTarget; until: number }[] = [];
  const got: Record<string, number> = { a: 0, b: 0 };
  for (let round = 0; round < 1_000; round++) {
    for (let i = open.length - 1; i >= 0; i--) {
      if (open[i]!.until <= round) {
        b.onEnd(open[i]!.t);
        open.splice(i, 1);
      }
    }
    for (let k = 0; k < 2; k++) {
      const t = b.pick(undefined)!;
      b.onStart(t);
      got[t.name]!++;
      open.push({ t, until: round + (t.name === 'a' ? 4 : 1) });
    }
  }
  assert.ok(got.a! < got.b! / 2, `a ${got.a}, b ${got.b}`);
});

test('least-connections: a retry takes the least loaded target not tried yet', () => {
  const b = new LeastConnectionsBalancer<TestTarget>();
  const ts = makeTargets([1, 1, 1, 1]);
  b.setTargets(ts);
  b.onStart(ts[2]!);
  b.onStart(ts[3]!);
  b.onStart(ts[3]!);
  assert.equal(b.pick(undefined, new Set([ts[0]!, ts[1]!])), ts[2]);
  // The heap is intact after the retry: the unloaded targets still come first.
  const next = b.pick(undefined)!;
  assert.ok(next === ts[0] || next === ts[1]);
});

test('least-connections: in-flight counts survive a new target set', () => {
  const b = new LeastConnectionsBalancer<TestTarget>();
  const ts = makeTargets([1, 1, 1]);
  b.setTargets(ts);
  b.onStart(ts[0]!);
  b.onStart(ts[1]!);
  b.setTargets(ts.slice(0, 2).concat(makeTargets([0])));
  b.onEnd(ts[2]!); // a target no longer in the set: ignored by the heap, no crash
  const c = simulate(b, 10, 1, () => 1);
  assert.equal((c.a ?? 0) + (c.b ?? 0), 10);
});
