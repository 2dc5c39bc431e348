// Weighted random: an alias table makes each pick O(1) whatever the number of targets.
import type { Balancer, BalancerTarget } from './balancer.js';
import { AliasTable } from './alias-table.js';

export interface RandomOptions {
  /** Uniform in [0, 1); Math.random by default. Tests and the bench inject a seeded one. */
  random?: () => number;
}

/** Draws before a retry gives up on luck and scans for a target it has not tried. */
const AVOID_DRAWS = 4;

export class RandomBalancer<T extends BalancerTarget = BalancerTarget> implements Balancer<T> {
  private live: T[] = [];
  private table = new AliasTable([]);
  private readonly random: () => number;

  constructor(options: RandomOptions = {}) {
    this.random = options.random ?? Math.random;
  }

  setTargets(targets: readonly T[]): void {
    this.live = targets.filter((t) => t.weight > 0);
    this.table = new AliasTable(this.live.map((t) => t.weight));
  }

  pick(_hashKey: string | undefined, avoid?: ReadonlySet<T>): T | undefined {
    const live = this.live;
    if (live.length === 0) return undefined;
    const first = live[this.table.draw(this.random())]!;
    if (avoid === undefined || avoid.size === 0 || !avoid.has(first)) return first;
    for (let k = 1; k < AVOID_DRAWS; k++) {
      const t = live[this.table.draw(this.random())]!;
      if (!avoid.has(t)) return t;
    }
    // The tried targets hold most of the weight: a weighted draw among the others, O(n), only
    // on this rare retry path.
    let rest = 0;
    for (const t of live) if (!avoid.has(t)) rest += t.weight;
    if (rest === 0) return first; // everything was tried
    let x = this.random() * rest;
    for (const t of live) {
      if (avoid.has(t)) continue;
      x -= t.weight;
      if (x < 0) return t;
    }
    for (let i = live.length - 1; i >= 0; i--) if (!avoid.has(live[i]!)) return live[i]; // rounding
    return first;
  }

  onStart(t: T): void {
    t.inFlight++;
  }

  onEnd(t: T): void {
    if (t.inFlight > 0) t.inFlight--;
  }
}
