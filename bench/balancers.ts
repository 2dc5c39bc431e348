// Micro-benchmark of target selection: ns per pick() — and per pick + onStart + onEnd with 32
// requests in flight, what a proxied request really costs a balancer — for each algorithm with 3,
// 100 and 1,000 targets, plus the time of setTargets: from scratch, and when one target leaves
// the set (what a health flip costs).
// Run: npx tsc -p . && node dist/bench/balancers.js   (ROUNDS=7 PICKS=1000000 to change the sizes)
import { createBalancer, BALANCER_NAMES, type Balancer, type BalancerName } from '../src/upstream/balancers/index.js';
import type { BalancerTarget } from '../src/upstream/balancers/balancer.js';
import { seededRandom } from '../src/upstream/balancers/seeded-random.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PICKS = Number(process.env.PICKS ?? 500_000);
const SIZES = [3, 100, 1_000];
const IN_FLIGHT = 32;

interface Variant {
  label: string;
  name: BalancerName;
  /** Weight of target i. */
  weight: (i: number) => number;
  keyed: boolean;
}

const variants: Variant[] = [
  ...BALANCER_NAMES.map((name) => ({ label: name, name, weight: (i: number) => 1 + (i % 7), keyed: name === 'consistent-hash' })),
  { label: 'round-robin, equal weights', name: 'round-robin', weight: () => 1, keyed: false },
];

const keys = Array.from({ length: 4_096 }, (_, i) => `user-${i * 7919}`);
let sink = 0;

function targets(n: number, weight: (i: number) => number): BalancerTarget[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `http://10.${(i >> 8) & 255}.${i & 255}.1:8080`,
    weight: weight(i),
    inFlight: 0,
    ewmaMs: 0,
    ewmaAt: 0,
  }));
}

function make(v: Variant, n: number): { b: Balancer; setMs: number; ejectMs: number; clock: { t: number } } {
  const clock = { t: 0 };
  const b = createBalancer(v.name, { random: seededRandom(1), now: () => clock.t });
  const ts = targets(n, v.weight);
  const t0 = process.hrtime.bigint();
  b.setTargets(ts);
  const t1 = process.hrtime.bigint();
  // A health flip: one target leaves the set. Then the full set again for the measurements.
  b.setTargets(ts.slice(1));
  const t2 = process.hrtime.bigint();
  b.setTargets(ts);
  return { b, setMs: Number(t1 - t0) / 1e6, ejectMs: Number(t2 - t1) / 1e6, clock };
}

/** ns per pick() alone. */
function pickOnly(b: Balancer, keyed: boolean): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < PICKS; i++) {
    const t = b.pick(keyed ? keys[i & 4095] : undefined)!;
    sink += t.weight;
  }
  return Number(process.hrtime.bigint() - t0) / PICKS;
}

/** ns per pick + onStart + onEnd of the request started IN_FLIGHT picks earlier. */
function fullCycle(b: Balancer, keyed: boolean, clock: { t: number }): number {
  const open: BalancerTarget[] = [];
  for (let i = 0; i < IN_FLIGHT; i++) {
    const t = b.pick(keyed ? keys[i] : undefined)!;
    b.onStart(t);
    open.push(t);
  }
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < PICKS; i++) {
    clock.t += 0.01;
    const slot = i % IN_FLIGHT;
    b.onEnd(open[slot]!, 5 + (i & 7));
    const t = b.pick(keyed ? keys[i & 4095] : undefined)!;
    b.onStart(t);
    open[slot] = t;
  }
  const ns = Number(process.hrtime.bigint() - t0) / PICKS;
  for (const t of open) b.onEnd(t, 5);
  return ns;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const rows: string[][] = [['algorithm', 'targets', 'pick ns', 'pick+start+end ns', 'setTargets ms', 'one ejected ms']];
for (const v of variants) {
  for (const n of SIZES) {
    const picks: number[] = [];
    const cycles: number[] = [];
    const sets: number[] = [];
    const ejects: number[] = [];
    for (let r = 0; r < ROUNDS + 1; r++) {
      const { b, setMs, ejectMs, clock } = make(v, n);
      const p = pickOnly(b, v.keyed);
      const c = fullCycle(b, v.keyed, clock);
      if (r === 0) continue; // warm-up round: JIT
      picks.push(p);
      cycles.push(c);
      sets.push(setMs);
      ejects.push(ejectMs);
    }
    rows.push([
      v.label,
      String(n),
      median(picks).toFixed(1),
      median(cycles).toFixed(1),
      median(sets).toFixed(3),
      median(ejects).toFixed(3),
    ]);
  }
}

const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
const line = (r: string[]) => r.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join('  ');
console.log(
  `node ${process.version}, ${PICKS.toLocaleString('en')} picks × ${ROUNDS} rounds (median), ${IN_FLIGHT} in flight for the full cycle`,
);
console.log(line(rows[0]!));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows.slice(1)) console.log(line(r));
if (sink === -1) console.log('');
