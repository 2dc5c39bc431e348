// With workers, the cluster primary runs the active health checks — one prober per target for the
// whole instance, not one per worker — and sends each verdict to every worker.
import type { GatehouseConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { systemClock } from '../upstream/clock.js';
import { StateRegistry } from '../upstream/state-registry.js';
import type { ToWorker } from './messages.js';

export class ProbeSupervisor {
  private readonly registry: StateRegistry;
  private readonly watched = new Map<string, () => void>();

  constructor(
    log: Logger,
    private readonly broadcast: (m: ToWorker) => void,
  ) {
    this.registry = new StateRegistry(systemClock, log, 'local');
  }

  apply(config: GatehouseConfig): void {
    for (const [name, svc] of Object.entries(config.services)) {
      if (!svc.healthCheck?.active) continue;
      if (!this.watched.has(name)) {
        const state = this.registry.acquire(name);
        this.watched.set(
          name,
          state.subscribe(() => this.broadcast(this.verdicts(name)!)),
        );
      }
      // Only active checking runs here: passive health needs traffic, which only workers see.
      this.registry
        .get(name)!
        .configure({ ...svc, circuitBreaker: undefined, retries: undefined, healthCheck: { ...svc.healthCheck, passive: undefined } });
    }
    for (const [name, unsubscribe] of this.watched) {
      if (config.services[name]?.healthCheck?.active) continue;
      unsubscribe();
      this.watched.delete(name);
      this.registry.release(name);
    }
  }

  verdicts(name: string): ToWorker | undefined {
    const state = this.registry.get(name);
    return state && { t: 'activeHealth', service: name, targets: state.activeVerdicts() };
  }

  /** Everything known so far, for a worker that has just started. */
  all(): ToWorker[] {
    return [...this.watched.keys()].map((n) => this.verdicts(n)!);
  }

  close(): void {
    for (const unsubscribe of this.watched.values()) unsubscribe();
    this.watched.clear();
    this.registry.closeAll();
  }
}
