import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NGINX_MAX_TARGETS, RoundRobinBalancer } from './round-robin.js';
import { counts, makeTargets, sequence, type TestTarget } from '../../../test/helpers/balancer-targets.js';

test("round-robin: 5/1/1 gives nginx's smooth order a a b a c a a, cycle after cycle", () => {
  const b = new RoundRobinBalancer<TestTarget>();
  b.setTargets(makeTargets([5, 1, 1]));
  assert.deepEqual(sequence(b, 14).join(' '), 'a a b a c a a a a b a c a a');
});

test('round-robin: equal weights rotate in config order', () => {
  const b = new RoundRobinBalancer<TestTarget>();
  b.setTargets(makeTargets([2, 2, 2]));
  assert.equal(sequence(b, 7).join(' '), 'a b c a b c a');
  b.setTargets(makeTargets([1]));
  assert.equal(sequence(b, 3).join(' '), 'a a a');
});

test('round-robin: a retry takes the next target in turn that was not tried', () => {
  const b = new RoundRobinBalancer<TestTarget>();
  const ts = makeTargets([1, 1, 1, 1]);
  b.setTargets(ts);
  assert.equal(b.pick(undefined)!.name, 'a');
  assert.equal(b.pick(undefined, new Set([ts[1]!, ts[2]!]))!.name, 'd');
  assert.equal(b.pick(undefined)!.name, 'a', 'rotation continues after the retry');
});

// Weights 1..k on more targets than nginx's loop serves: the heap (stride) mode.
function largeWeights(): number[] {
  return Array.from({ length: NGINX_MAX_TARGETS * 3 }, (_, i) => 1 + (i % 7));
}

for (const [label, weights] of [
  ['nginx mode', [5, 3, 1, 2, 7]],
  ['heap mode', largeWeights()],
] as const) {
  test(`round-robin (${label}): every cycle of Σweight picks gives each target exactly its weight`, () => {
    const b = new RoundRobinBalancer<TestTarget>();
    const ts = makeTargets(weights);
    b.setTargets(ts);
    const total = weights.reduce((s, w) => s + w, 0);
    for (let cycle = 0; cycle < 3; cycle++) {
      const c = counts(sequence(b, total));
      for (const t of ts) assert.equal(c[t.name], t.weight, `${t.name} in cycle ${cycle}`);
    }
  });

  test(`round-robin (${label}): smooth — no target runs longer than ⌈w / (Σw − w)⌉ + 1 in a row (plain weighted RR: w)`, () => {
    const b = new RoundRobinBalancer<TestTarget>();
    const ts = makeTargets(weights);
    b.setTargets(ts);
    const total = weights.reduce((s, w) => s + w, 0);
    const byName = new Map(ts.map((t) => [t.name, t.weight]));
    const seq = sequence(b, total * 2);
    let run = 1;
    for (let i = 1; i < seq.length; i++) {
      run = seq[i] === seq[i - 1] ? run + 1 : 1;
      const w = byName.get(seq[i]!)!;
      assert.ok(run <= Math.ceil(w / (total - w)) + 1, `${seq[i]} ${run} times in a row at ${i}`);
    }
  });
}

test('round-robin (heap mode): a retry skips tried targets and the schedule stays exact', () => {
  const b = new RoundRobinBalancer<TestTarget>();
  const ts = makeTargets(largeWeights());
  b.setTargets(ts);
  const first = b.pick(undefined)!;
  const avoid = new Set([first, ts[5]!, ts[9]!]);
  const second = b.pick(undefined, avoid)!;
  assert.ok(!avoid.has(second));
  // The heap is intact: a full cycle afterwards is still exact up to the two picks above.
  const total = ts.reduce((s, t) => s + t.weight, 0);
  const c = counts([first.name, second.name, ...sequence(b, total - 2)]);
  for (const t of ts) assert.equal(c[t.name], t.weight, t.name);
});
