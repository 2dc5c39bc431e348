// Least connections, weight-aware: the target with the fewest in-flight requests per unit of weight
// (inFlight / weight) wins; among equals, the one picked longest ago, so equal targets take turns
// instead of the first one taking every tie. A heap keyed on (inFlight / weight, last pick) makes
// pick, onStart and onEnd O(log n).
import type { Balancer, BalancerTarget } from './balancer.js';
import { EntryHeap, type HeapEntry } from './entry-heap.js';

interface LoadEntry<T> extends HeapEntry {
  readonly t: T;
  /** Sequence number of this target's last pick: lower = waited longer. */
  lastPick: number;
}

// inFlight/weight compared by cross-multiplication (exact integers).
function loadLess<T extends BalancerTarget>(a: LoadEntry<T>, b: LoadEntry<T>): boolean {
  const la = a.t.inFlight * b.t.weight;
  const lb = b.t.inFlight * a.t.weight;
  return la < lb || (la === lb && a.lastPick < b.lastPick);
}

export class LeastConnectionsBalancer<T extends BalancerTarget = BalancerTarget> implements Balancer<T> {
  private heap = new EntryHeap<LoadEntry<T>>(loadLess);
  private entries = new Map<T, LoadEntry<T>>();
  private seq = 0;
  private popped: LoadEntry<T>[] = [];

  setTargets(targets: readonly T[]): void {
    this.heap = new EntryHeap<LoadEntry<T>>(loadLess);
    this.entries = new Map();
    let i = 0;
    for (const t of targets) {
      if (!(t.weight > 0) || this.entries.has(t)) continue;
      // Config order is the first turn order; targets keep their in-flight counts across calls.
      const e: LoadEntry<T> = { t, lastPick: -targets.length + i++, pos: -1 };
      this.entries.set(t, e);
      this.heap.push(e);
    }
  }

  pick(_hashKey: string | undefined, avoid?: ReadonlySet<T>): T | undefined {
    const heap = this.heap;
    const top = heap.peek();
    if (top === undefined) return undefined;
    let chosen = top;
    if (avoid !== undefined && avoid.size > 0 && avoid.has(top.t)) {
      // Take the best entries off until one was not tried (at most |avoid| + 1), put them back.
      const popped = this.popped;
      let found: LoadEntry<T> | undefined;
      while (heap.size > 0) {
        const e = heap.pop()!;
        popped.push(e);
        if (!avoid.has(e.t)) {
          found = e;
          break;
        }
      }
      for (const e of popped) heap.push(e);
      popped.length = 0;
      chosen = found ?? top;
    }
    // Recording the pick here (not only in onStart) keeps ties rotating even for callers that
    // pick without starting a request.
    chosen.lastPick = this.seq++;
    heap.update(chosen);
    return chosen.t;
  }

  onStart(t: T): void {
    t.inFlight++;
    const e = this.entries.get(t);
    if (e !== undefined) this.heap.update(e);
  }

  onEnd(t: T): void {
    if (t.inFlight > 0) t.inFlight--;
    const e = this.entries.get(t);
    if (e !== undefined) this.heap.update(e);
  }
}
