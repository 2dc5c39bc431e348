import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AliasTable } from './alias-table.js';
import { RandomBalancer } from './random.js';
import { seededRandom } from './seeded-random.js';
import { counts, makeTargets, sequence, type TestTarget } from '../../../test/helpers/balancer-targets.js';

test('alias table: draws follow the weights (100,000 seeded draws within 1 % of each share)', () => {
  const weights = [1, 2, 3, 4, 10];
  const table = new AliasTable(weights);
  const rnd = seededRandom(1);
  const hits = new Array<number>(weights.length).fill(0);
  for (let i = 0; i < 100_000; i++) hits[table.draw(rnd())]!++;
  weights.forEach((w, i) => assert.ok(Math.abs(hits[i]! / 100_000 - w / 20) < 0.01, `index ${i}: ${hits[i]}`));
});

test('alias table: the edges of [0, 1) map to valid indexes', () => {
  const table = new AliasTable([3, 1, 1]);
  for (const u of [0, 0.999999999, 1 / 3, 2 / 3]) {
    const i = table.draw(u);
    assert.ok(i >= 0 && i < 3, `u=${u} → ${i}`);
  }
});

test('random: the same seed gives the same picks, another seed other picks', () => {
  const pickWith = (seed: number) => {
    const b = new RandomBalancer<TestTarget>({ random: seededRandom(seed) });
    b.setTargets(makeTargets([1, 1, 1, 1]));
    return sequence(b, 40).join('');
  };
  assert.equal(pickWith(3), pickWith(3));
  assert.notEqual(pickWith(3), pickWith(4));
});

test('random: a retry whose tried targets hold almost all the weight still finds the light one', () => {
  const b = new RandomBalancer<TestTarget>({ random: seededRandom(9) });
  const ts = makeTargets([1000, 1000, 1]);
  b.setTargets(ts);
  const avoid = new Set([ts[0]!, ts[1]!]);
  for (let i = 0; i < 100; i++) assert.equal(b.pick(undefined, avoid), ts[2]);
});

test('random: 1,000 targets are all reachable and evenly used', () => {
  const b = new RandomBalancer<TestTarget>({ random: seededRandom(5) });
  b.setTargets(makeTargets(new Array<number>(1_000).fill(1)));
  const c = counts(sequence(b, 100_000));
  assert.equal(Object.keys(c).length, 1_000);
  for (const n of Object.values(c)) assert.ok(n > 40 && n < 170, `${n}`);
});
