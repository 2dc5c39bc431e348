// Smooth weighted round robin. Equal weights: plain rotation, O(1). Different weights on up to
// NGINX_MAX_TARGETS targets: exactly nginx's algorithm (5/1/1 → a a b a c a a), whose O(n) loop is
// cheaper than a heap at that size. Beyond that: stride scheduling on a heap, O(log n) — each target
// is due at (picks + ½) / weight, the earliest due goes next. It keeps the same shares and the same
// spreading (no bursts to one target), but its order can differ from nginx's where nginx breaks ties.
import type { Balancer, BalancerTarget } from './balancer.js';
import { EntryHeap, type HeapEntry } from './entry-heap.js';

/** Up to this many targets with different weights, nginx's exact O(n) loop is used. */
export const NGINX_MAX_TARGETS = 32;

const enum Mode {
  Empty,
  Single,
  Rotation,
  Nginx,
  Stride,
}

interface StrideEntry<T> extends HeapEntry {
  readonly t: T;
  readonly weight: number;
  readonly index: number;
  picks: number;
}

// (2·picks + 1) / weight compared by cross-multiplication: exact integers, no float drift.
// Ties go to the earlier target in config order. With weights ≤ 1000 the products stay exact
// for more than 10^12 picks, and a target-set change starts the schedule afresh anyway.
function strideLess<T>(a: StrideEntry<T>, b: StrideEntry<T>): boolean {
  const da = (2 * a.picks + 1) * b.weight;
  const db = (2 * b.picks + 1) * a.weight;
  return da < db || (da === db && a.index < b.index);
}

export class RoundRobinBalancer<T extends BalancerTarget = BalancerTarget> implements Balancer<T> {
  private live: T[] = [];
  private mode = Mode.Empty;
  private next = 0;
  private weights = new Float64Array(0);
  private current = new Float64Array(0);
  private total = 0;
  private heap = new EntryHeap<StrideEntry<T>>(strideLess);
  private popped: StrideEntry<T>[] = [];

  setTargets(targets: readonly T[]): void {
    const live = targets.filter((t) => t.weight > 0);
    this.live = live;
    this.next = 0;
    this.heap = new EntryHeap<StrideEntry<T>>(strideLess);
    const n = live.length;
    if (n === 0) this.mode = Mode.Empty;
    else if (n === 1) this.mode = Mode.Single;
    else if (live.every((t) => t.weight === live[0]!.weight)) this.mode = Mode.Rotation;
    else if (n <= NGINX_MAX_TARGETS) {
      this.mode = Mode.Nginx;
      this.weights = Float64Array.from(live, (t) => t.weight);
      this.current = new Float64Array(n);
      this.total = live.reduce((s, t) => s + t.weight, 0);
    } else {
      this.mode = Mode.Stride;
      live.forEach((t, index) => this.heap.push({ t, weight: t.weight, index, picks: 0, pos: -1 }));
    }
  }

  pick(_hashKey: string | undefined, avoid?: ReadonlySet<T>): T | undefined {
    const skip = avoid !== undefined && avoid.size > 0 ? avoid : undefined;
    switch (this.mode) {
      case Mode.Empty:
        return undefined;
      case Mode.Single:
        return this.live[0];
      case Mode.Rotation:
        return this.rotate(skip);
      case Mode.Nginx:
        return this.nginx(skip);
      case Mode.Stride:
        return this.stride(skip);
    }
  }

  onStart(t: T): void {
    t.inFlight++;
  }

  onEnd(t: T): void {
    if (t.inFlight > 0) t.inFlight--;
  }

  private rotate(skip: ReadonlySet<T> | undefined): T {
    const live = this.live;
    const n = live.length;
    let i = this.next;
    if (skip !== undefined) {
      // At most n steps, and only on a retry; the first non-avoided target in rotation order.
      for (let k = 0; k < n; k++) {
        const j = (i + k) % n;
        if (!skip.has(live[j]!)) {
          i = j;
          break;
        }
      }
    }
    this.next = i + 1 === n ? 0 : i + 1;
    return live[i]!;
  }

  private nginx(skip: ReadonlySet<T> | undefined): T {
    const { live, weights, current } = this;
    let best = -1;
    let bestAvoided = -1;
    for (let i = 0; i < live.length; i++) {
      current[i]! += weights[i]!;
      if (skip !== undefined && skip.has(live[i]!)) {
        if (bestAvoided < 0 || current[i]! > current[bestAvoided]!) bestAvoided = i;
      } else if (best < 0 || current[i]! > current[best]!) best = i;
    }
    if (best < 0) best = bestAvoided; // everything left was already tried
    current[best]! -= this.total;
    return live[best]!;
  }

  private stride(skip: ReadonlySet<T> | undefined): T {
    const heap = this.heap;
    if (skip === undefined || !skip.has(heap.peek()!.t)) {
      const top = heap.peek()!;
      top.picks++;
      heap.update(top);
      return top.t;
    }
    // A retry whose best target was tried: take entries off until one was not (at most
    // |avoid| + 1 pops), then put them all back.
    const popped = this.popped;
    let chosen: StrideEntry<T> | undefined;
    while (heap.size > 0) {
      const e = heap.pop()!;
      popped.push(e);
      if (!skip.has(e.t)) {
        chosen = e;
        break;
      }
    }
    chosen ??= popped[0]!;
    chosen.picks++;
    for (const e of popped) heap.push(e);
    popped.length = 0;
    return chosen.t;
  }
}
