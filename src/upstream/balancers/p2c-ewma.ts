// Power of two choices on peak-EWMA latency (the Finagle / Linkerd balancer): draw two distinct
// targets at random and send to the cheaper, cost = latency estimate × (in flight + 1) / weight.
//
// The estimate is "peak" sensitive: a response slower than the estimate replaces it at once, a
// faster one pulls it down by an exponential moving average whose weight depends on the time since
// the last sample (decay `decayMs`), so bursts of samples do not count more than slow trickles.
// Reading the cost also decays the estimate towards 0 with time, so a target that was slow a while
// ago and has had no traffic since gets tried again. O(1) per pick.
//
// Weights act through the cost, as in Linkerd (load / weight); candidates are drawn uniformly, so a
// target gets at most about 2/n of the picks however heavy it is.
import type { Balancer, BalancerTarget } from './balancer.js';

/** Floor of the estimate in the cost (1 µs). */
const MIN_ESTIMATE_MS = 0.001;

export interface P2cEwmaOptions {
  /** Clock in ms; Date.now by default. Injected by tests. */
  now?: () => number;
  /** Uniform in [0, 1); Math.random by default. */
  random?: () => number;
  /** Time constant of the moving average and of the decay, in ms (default 10 s). */
  decayMs?: number;
  /**
   * Estimate for a new target when no other target has one yet (default 100 ms). Once some are
   * known, a new target starts at their mean: neutral, neither flooded nor starved.
   */
  initialMs?: number;
}

export class P2cEwmaBalancer<T extends BalancerTarget = BalancerTarget> implements Balancer<T> {
  private live: T[] = [];
  private readonly seen = new WeakSet<T>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly decayMs: number;
  private readonly initialMs: number;

  constructor(options: P2cEwmaOptions = {}) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.decayMs = options.decayMs ?? 10_000;
    this.initialMs = options.initialMs ?? 100;
    if (!(this.decayMs > 0)) throw new RangeError('p2c-ewma: decayMs must be > 0');
    if (!(this.initialMs >= 0)) throw new RangeError('p2c-ewma: initialMs must be >= 0');
  }

  setTargets(targets: readonly T[]): void {
    const now = this.now();
    this.live = targets.filter((t) => t.weight > 0);
    let known = 0;
    let sum = 0;
    for (const t of this.live) {
      if (this.seen.has(t)) {
        known++;
        sum += this.estimate(t, now);
      }
    }
    const start = known > 0 ? sum / known : this.initialMs;
    for (const t of this.live) {
      if (this.seen.has(t)) continue;
      this.seen.add(t);
      t.ewmaMs = start;
      t.ewmaAt = now;
    }
  }

  pick(_hashKey: string | undefined, avoid?: ReadonlySet<T>): T | undefined {
    const live = this.live;
    const n = live.length;
    if (n <= 1) return live[0];
    const i = Math.floor(this.random() * n);
    let j = Math.floor(this.random() * (n - 1));
    if (j >= i) j++;
    const a = live[i]!;
    const b = live[j]!;
    const now = this.now();
    const ca = this.cost(a, now);
    const cb = this.cost(b, now);
    const first = cb < ca ? b : a;
    if (avoid === undefined || avoid.size === 0 || !avoid.has(first)) return first;
    const second = first === a ? b : a;
    if (!avoid.has(second)) return second;
    // Both candidates were tried: the cheapest untried target, O(n), only on this retry path.
    let best: T | undefined;
    let bestCost = Infinity;
    for (const t of live) {
      if (avoid.has(t)) continue;
      const c = this.cost(t, now);
      if (best === undefined || c < bestCost) {
        best = t;
        bestCost = c;
      }
    }
    return best ?? first;
  }

  onStart(t: T): void {
    t.inFlight++;
  }

  onEnd(t: T, latencyMs: number): void {
    if (t.inFlight > 0) t.inFlight--;
    const now = this.now();
    const rtt = latencyMs > 0 ? latencyMs : 0;
    if (!this.seen.has(t)) {
      // A target this balancer was never given (e.g. retired by a target-set change).
      this.seen.add(t);
      t.ewmaMs = rtt;
    } else if (rtt > t.ewmaMs) {
      t.ewmaMs = rtt; // peak: slowness counts at once
    } else {
      const w = Math.exp(-Math.max(0, now - t.ewmaAt) / this.decayMs);
      t.ewmaMs = t.ewmaMs * w + rtt * (1 - w);
    }
    t.ewmaAt = now;
  }

  /** The estimate decayed to `now`, without storing it. */
  private estimate(t: T, now: number): number {
    const dt = now - t.ewmaAt;
    return dt > 0 ? t.ewmaMs * Math.exp(-dt / this.decayMs) : t.ewmaMs;
  }

  private cost(t: T, now: number): number {
    // The floor keeps in-flight counts meaningful when estimates have decayed to (almost) 0.
    const est = this.estimate(t, now);
    return ((est > MIN_ESTIMATE_MS ? est : MIN_ESTIMATE_MS) * (t.inFlight + 1)) / t.weight;
  }
}
