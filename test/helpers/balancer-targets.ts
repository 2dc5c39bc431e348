// Plain BalancerTarget objects and a small load simulation for the balancer unit tests.
import type { Balancer, BalancerTarget } from '../../src/upstream/balancers/balancer.js';

export interface TestTarget extends BalancerTarget {
  readonly name: string;
}

/** Targets named a, b, c, … with the given weights. */
export function makeTargets(weights: readonly number[]): TestTarget[] {
  return weights.map((weight, i) => ({
    name: i < 26 ? String.fromCharCode(97 + i) : `t${i}`,
    key: `http://10.0.0.${i + 1}:8080`,
    weight,
    inFlight: 0,
    ewmaMs: 0,
    ewmaAt: 0,
  }));
}

/** Picks `n` times (no onStart/onEnd) and returns the names in order. */
export function sequence(b: Balancer<TestTarget>, n: number, key?: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(b.pick(key)!.name);
  return out;
}

/** How many picks each target got, by name. */
export function counts(names: readonly string[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of names) c[n] = (c[n] ?? 0) + 1;
  return c;
}

/**
 * Runs `picks` requests with at most `concurrency` in flight; the oldest request ends (onEnd with
 * `latency(target)`) before a new one starts once the limit is reached. `tick` is called before
 * each pick, to advance a fake clock. Returns the pick count per target name.
 */
export function simulate(
  b: Balancer<TestTarget>,
  picks: number,
  concurrency: number,
  latency: (t: TestTarget) => number,
  tick: () => void = () => {},
): Record<string, number> {
  const open: TestTarget[] = [];
  const names: string[] = [];
  for (let i = 0; i < picks; i++) {
    tick();
    if (open.length >= concurrency) {
      const done = open.shift()!;
      b.onEnd(done, latency(done));
    }
    const t = b.pick(undefined)!;
    b.onStart(t);
    open.push(t);
    names.push(t.name);
  }
  for (const t of open) b.onEnd(t, latency(t));
  return counts(names);
}
