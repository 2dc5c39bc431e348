// The contract every load-balancing algorithm implements. A balancer is built once per service per
// config version and sees only the targets that may receive traffic (healthy ones, or all of them
// in panic mode): the service calls `setTargets` when that set changes, which is rare, so picking
// itself stays O(1) or O(log n).

/** What a balancer knows about a target. The service's target objects implement it. */
export interface BalancerTarget {
  /** Stable identity used for hashing (the target URL, or URL + resolved address). */
  readonly key: string;
  /** Relative share of traffic; 0 receives nothing. */
  readonly weight: number;
  /** Requests in flight to this target; maintained by the balancer's onStart/onEnd. */
  inFlight: number;
  /** Peak-EWMA latency estimate in ms (p2c-ewma); maintained by onEnd. */
  ewmaMs: number;
  /** When ewmaMs was last updated (ms, balancer clock). */
  ewmaAt: number;
}

export interface Balancer<T extends BalancerTarget = BalancerTarget> {
  /** Replaces the eligible targets. Targets with weight 0 must never be picked. */
  setTargets(targets: readonly T[]): void;
  /**
   * Picks a target, or undefined when there is none with weight > 0.
   * @param hashKey the request's key for consistent-hash (undefined: any target)
   * @param avoid targets already tried by this request: picked only when nothing else is left
   */
  pick(hashKey: string | undefined, avoid?: ReadonlySet<T>): T | undefined;
  /** A request to `t` starts. */
  onStart(t: T): void;
  /** A request to `t` ended after `latencyMs` (time to response headers, or to the failure). */
  onEnd(t: T, latencyMs: number): void;
}

export type BalancerName = 'round-robin' | 'least-connections' | 'random' | 'p2c-ewma' | 'consistent-hash';
