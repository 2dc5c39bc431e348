// Consistent hashing on a ring with virtual nodes (hash-ring.ts). Each target owns
// `replicas × weight / mean weight` points (at least 1), derived from its key alone; a request key
// goes to the owner of the first point at or after the key's hash (binary search, O(log n)).
// Removing one of N targets moves only the keys it owned (about 1/N) and every other key keeps its
// target. (With unequal weights the mean weight changes too, so each target gains or loses a few
// trailing points: a little more than 1/N moves.)
//
// Requests without a key (the hashOn source is absent: no such header, anonymous consumer, …) are
// spread by smooth weighted round robin over the same targets.
import type { Balancer, BalancerTarget } from './balancer.js';
import { hash32 } from './fnv1a.js';
import { HashRing } from './hash-ring.js';
import { RoundRobinBalancer } from './round-robin.js';

export interface ConsistentHashOptions {
  /** Ring points for a target of mean weight (default 160, as ketama). */
  replicas?: number;
}

export class ConsistentHashBalancer<T extends BalancerTarget = BalancerTarget> implements Balancer<T> {
  private live: T[] = [];
  private readonly ring = new HashRing<T>();
  private readonly replicas: number;
  private readonly fallback = new RoundRobinBalancer<T>();

  constructor(options: ConsistentHashOptions = {}) {
    this.replicas = options.replicas ?? 160;
    if (!(Number.isInteger(this.replicas) && this.replicas >= 1)) {
      throw new RangeError('consistent-hash: replicas must be an integer >= 1');
    }
  }

  setTargets(targets: readonly T[]): void {
    const live = [...new Set(targets)].filter((t) => t.weight > 0);
    this.live = live;
    this.fallback.setTargets(live);
    const mean = live.reduce((s, t) => s + t.weight, 0) / (live.length || 1);
    const counts = Int32Array.from(live, (t) => Math.max(1, Math.round((this.replicas * t.weight) / mean)));
    this.ring.update(live, counts);
  }

  pick(hashKey: string | undefined, avoid?: ReadonlySet<T>): T | undefined {
    const live = this.live;
    if (live.length === 0) return undefined;
    if (hashKey === undefined) return this.fallback.pick(undefined, avoid);
    const ring = this.ring;
    const start = ring.find(hash32(hashKey));
    const first = live[ring.ownerAt(start)]!;
    if (avoid === undefined || avoid.size === 0 || !avoid.has(first)) return first;
    // A retry: the next target clockwise that was not tried, the same one every time for this key.
    const n = ring.size;
    for (let k = 1; k < n; k++) {
      const t = live[ring.ownerAt((start + k) % n)]!;
      if (!avoid.has(t)) return t;
    }
    return first;
  }

  onStart(t: T): void {
    t.inFlight++;
  }

  onEnd(t: T): void {
    if (t.inFlight > 0) t.inFlight--;
  }
}
