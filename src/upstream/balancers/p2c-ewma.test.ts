import { test } from 'node:test';
import assert from 'node:assert/strict';
import { P2cEwmaBalancer } from './p2c-ewma.js';
import { seededRandom } from './seeded-random.js';
import { makeTargets, simulate, type TestTarget } from '../../../test/helpers/balancer-targets.js';

function balancer(decayMs = 1_000, initialMs = 100) {
  const clock = { t: 10_000 };
  const b = new P2cEwmaBalancer<TestTarget>({ now: () => clock.t, random: seededRandom(11), decayMs, initialMs });
  return { b, clock };
}

test('p2c-ewma: a faster target gets most of the traffic', () => {
  const { b, clock } = balancer();
  b.setTargets(makeTargets([1, 1, 1]));
  const latency = { a: 10, b: 100, c: 30 } as Record<string, number>;
  const c = simulate(
    b,
    3_000,
    4,
    (t) => latency[t.name]!,
    () => (clock.t += 5),
  );
  assert.ok(c.a! > c.c! && c.c! > c.b!, JSON.stringify(c));
  assert.ok(c.a! > 1_500, JSON.stringify(c));
});

test('p2c-ewma: a slow response counts at once (peak), fast ones pull it down with time', () => {
  const { b, clock } = balancer(1_000);
  const [a] = makeTargets([1]) as [TestTarget];
  b.setTargets([a]);
  assert.equal(a.ewmaMs, 100, 'a new target starts at initialMs');
  b.onEnd(a, 500);
  assert.equal(a.ewmaMs, 500, 'peak');
  clock.t += 1_000; // one decay time later, a 10 ms response: weight e^-1 on the old estimate
  b.onEnd(a, 10);
  assert.ok(Math.abs(a.ewmaMs - (500 * Math.exp(-1) + 10 * (1 - Math.exp(-1)))) < 1e-9, `${a.ewmaMs as number}`); // (the assert.equal calls above narrowed its type to a literal)
  // Many fast responses at the same instant do not move it: the average is weighted by time.
  const before = a.ewmaMs;
  for (let i = 0; i < 100; i++) b.onEnd(a, 10);
  assert.equal(a.ewmaMs, before);
  assert.equal(a.ewmaAt, clock.t);
});

test('p2c-ewma: a new target starts at the mean of the known ones (neutral)', () => {
  const { b } = balancer();
  const [a, bb, c] = makeTargets([1, 1, 1]) as [TestTarget, TestTarget, TestTarget];
  b.setTargets([a, bb]);
  b.onEnd(a, 200); // peaks: a = 200, b = 100 (initial)
  b.setTargets([a, bb, c]);
  assert.equal(c.ewmaMs, 150);
  b.setTargets([a, bb, c]);
  assert.equal(c.ewmaMs, 150, 'a known target keeps its estimate');
});

test('p2c-ewma: a target that was slow long ago is tried again as its estimate decays', () => {
  const { b, clock } = balancer(1_000);
  const [a, slow] = makeTargets([1, 1]) as [TestTarget, TestTarget];
  b.setTargets([a, slow]);
  b.onEnd(a, 10);
  b.onEnd(slow, 1_000);
  let firstSlowPick = -1;
  for (let i = 0; i < 1_000 && firstSlowPick < 0; i++) {
    clock.t += 10;
    const t = b.pick(undefined)!;
    if (t === slow) firstSlowPick = i;
    b.onStart(t);
    b.onEnd(t, 10);
  }
  // 1000 ms × e^(-t/1 s) falls under a's ~10 ms after ln(100) ≈ 4.6 s, i.e. ~460 picks of 10 ms.
  assert.ok(firstSlowPick > 400 && firstSlowPick < 500, `first pick of the slow target: ${firstSlowPick}`);
});

test('p2c-ewma: in-flight requests raise the cost (cost = estimate × (in flight + 1))', () => {
  const { b } = balancer(1_000, 1); // starts at 1 ms, so the samples below are peaks
  const [a, bb] = makeTargets([1, 1]) as [TestTarget, TestTarget];
  b.setTargets([a, bb]);
  b.onEnd(a, 10);
  b.onEnd(bb, 30);
  assert.equal(b.pick(undefined), a);
  b.onStart(a);
  b.onStart(a);
  b.onStart(a); // a: 10 × 4 = 40 > b: 30 × 1
  assert.equal(b.pick(undefined), bb);
});

test('p2c-ewma: when both candidates were tried, the cheapest untried target is taken', () => {
  const { b } = balancer();
  const ts = makeTargets([1, 1, 1, 1]);
  b.setTargets(ts);
  ts.forEach((t, i) => b.onEnd(t, 100 + i * 10)); // peaks: 100, 110, 120, 130
  const avoid = new Set([ts[0]!, ts[1]!]);
  for (let i = 0; i < 50; i++) assert.ok(!avoid.has(b.pick(undefined, avoid)!));
  assert.equal(b.pick(undefined, new Set([ts[0]!, ts[1]!, ts[2]!])), ts[3]);
});

test('p2c-ewma: bad options are refused', () => {
  assert.throws(() => new P2cEwmaBalancer({ decayMs: 0 }), /decayMs/);
  assert.throws(() => new P2cEwmaBalancer({ initialMs: -1 }), /initialMs/);
});
