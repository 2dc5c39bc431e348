// Consistent hashing on a ring with virtual nodes. Each target owns `replicas × weight / mean
// weight` points (at least 1) placed by hashing "<target key>#<i>"; a request key goes to the
// owner of the first point at or after its own hash (binary search, O(log n)). A point's place
// depends only on its target's key, so removing one of N targets moves only the keys it owned
// (about 1/N) and every other key keeps its target.
//
// Requests without a key (the hashOn source is absent: no such header, anonymous consumer, …) are
// spread by smooth weighted round robin over the same targets.
import type { Balancer, BalancerTarget } from './balancer.js';
import { hash32 } from './fnv1a.js';
import { RoundRobinBalancer } from './round-robin.js';

export interface ConsistentHashOptions {
  /** Ring points for a target of mean weight (default 160, ketama's number). */
  replicas?: number;
}

/** Points and owners are packed as hash × 2^20 + owner index into one float64 for a fast sort. */
const MAX_TARGETS = 1 << 20;

export class ConsistentHashBalancer<T extends BalancerTarget = BalancerTarget> implements Balancer<T> {
  private live: T[] = [];
  private points = new Uint32Array(0);
  private owners = new Int32Array(0);
  private readonly replicas: number;
  private readonly fallback = new RoundRobinBalancer<T>();

  constructor(options: ConsistentHashOptions = {}) {
    this.replicas = options.replicas ?? 160;
    if (!(Number.isInteger(this.replicas) && this.replicas >= 1)) {
      throw new RangeError('consistent-hash: replicas must be an integer >= 1');
    }
  }

  setTargets(targets: readonly T[]): void {
    const live = targets.filter((t) => t.weight > 0);
    if (live.length >= MAX_TARGETS) throw new RangeError('consistent-hash: too many targets');
    this.live = live;
    this.fallback.setTargets(live);
    const mean = live.reduce((s, t) => s + t.weight, 0) / (live.length || 1);
    const counts = live.map((t) => Math.max(1, Math.round((this.replicas * t.weight) / mean)));
    const total = counts.reduce((s, c) => s + c, 0);
    const packed = new Float64Array(total);
    let k = 0;
    live.forEach((t, owner) => {
      for (let r = 0; r < counts[owner]!; r++) packed[k++] = hash32(`${t.key}#${r}`) * MAX_TARGETS + owner;
    });
    packed.sort();
    this.points = new Uint32Array(total);
    this.owners = new Int32Array(total);
    for (let i = 0; i < total; i++) {
      const v = packed[i]!;
      const owner = v % MAX_TARGETS;
      this.owners[i] = owner;
      this.points[i] = (v - owner) / MAX_TARGETS;
    }
  }

  pick(hashKey: string | undefined, avoid?: ReadonlySet<T>): T | undefined {
    const live = this.live;
    if (live.length === 0) return undefined;
    if (hashKey === undefined) return this.fallback.pick(undefined, avoid);
    const start = this.find(hash32(hashKey));
    const owners = this.owners;
    const first = live[owners[start]!]!;
    if (avoid === undefined || avoid.size === 0 || !avoid.has(first)) return first;
    // A retry: the next target clockwise that was not tried, the same one every time for this key.
    const n = owners.length;
    for (let k = 1; k < n; k++) {
      const t = live[owners[(start + k) % n]!]!;
      if (!avoid.has(t)) return t;
    }
    return first;
  }

  onStart(t: T): void {
    t.inFlight++;
  }

  onEnd(t: T, _latencyMs: number): void {
    if (t.inFlight > 0) t.inFlight--;
  }

  /** Index of the first point >= h, wrapping to 0 past the last. */
  private find(h: number): number {
    const points = this.points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === points.length ? 0 : lo;
  }
}
