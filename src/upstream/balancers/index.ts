// TEMPORARY until the balancer modules land: smooth weighted round robin for every name.
import type { Balancer, BalancerName, BalancerTarget } from './balancer.js';

export function createBalancer<T extends BalancerTarget>(_name: BalancerName, _opts: object): Balancer<T> {
  let live: readonly T[] = [];
  let current: number[] = [];
  let total = 0;
  return {
    setTargets(targets) {
      live = targets.filter((t) => t.weight > 0);
      current = live.map(() => 0);
      total = live.reduce((s, t) => s + t.weight, 0);
    },
    pick(_key, avoid) {
      if (live.length === 0) return undefined;
      let best = -1;
      for (let i = 0; i < live.length; i++) {
        current[i]! += live[i]!.weight;
        if (avoid?.has(live[i]!)) continue;
        if (best === -1 || current[i]! > current[best]!) best = i;
      }
      if (best === -1) best = 0;
      current[best]! -= total;
      return live[best];
    },
    onStart(t) { t.inFlight++; },
    onEnd(t) { t.inFlight--; },
  };
}
