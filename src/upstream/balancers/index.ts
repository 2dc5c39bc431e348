// The balancer factory: one name from `services.<name>.balancer` → a fresh balancer.
import type { Balancer, BalancerName, BalancerTarget } from './balancer.js';
import { ConsistentHashBalancer } from './consistent-hash.js';
import { LeastConnectionsBalancer } from './least-connections.js';
import { P2cEwmaBalancer } from './p2c-ewma.js';
import { RandomBalancer } from './random.js';
import { RoundRobinBalancer } from './round-robin.js';

export type { Balancer, BalancerName, BalancerTarget } from './balancer.js';
import { BALANCERS } from '../../config/resilience-schema.js';
export { compileHashOn, validateHashOn, type HashKeyInput, type HashKeyFn } from './hash-key.js';

/** Every balancer name, in documentation order (the config schema's list; each one is a BalancerName). */
export const BALANCER_NAMES = BALANCERS satisfies readonly BalancerName[];

export interface BalancerOptions {
  /** Uniform in [0, 1) for random and p2c-ewma; Math.random by default. */
  random?: () => number;
  /** Clock in ms for p2c-ewma; Date.now by default. */
  now?: () => number;
  /** p2c-ewma: time constant of the latency average, ms (default 10,000). */
  decayMs?: number;
  /** p2c-ewma: first estimate when no target has one, ms (default 100). */
  initialMs?: number;
  /** consistent-hash: ring points per target of mean weight (default 160). */
  replicas?: number;
}

export function createBalancer<T extends BalancerTarget = BalancerTarget>(name: BalancerName, options: BalancerOptions = {}): Balancer<T> {
  switch (name) {
    case 'round-robin':
      return new RoundRobinBalancer<T>();
    case 'least-connections':
      return new LeastConnectionsBalancer<T>();
    case 'random':
      return new RandomBalancer<T>(options);
    case 'p2c-ewma':
      return new P2cEwmaBalancer<T>(options);
    case 'consistent-hash':
      return new ConsistentHashBalancer<T>(options);
    default: {
      const never: never = name;
      throw new Error(`unknown balancer "${String(never)}"`);
    }
  }
}
