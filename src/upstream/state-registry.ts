// Long-lived service states, shared by every config version that names the service. A state is
// closed (its probes stopped) when the last version using it is retired.
import type { Logger } from '../observability/logger.js';
import type { Clock } from './clock.js';
import { ServiceState, type ProbeMode } from './service-state.js';
import type { LookupAll } from './dns-resolver.js';

export class StateRegistry {
  private readonly states = new Map<string, { state: ServiceState; refs: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly probes: ProbeMode = 'local',
    private readonly lookup?: LookupAll,
  ) {}

  acquire(name: string): ServiceState {
    let held = this.states.get(name);
    if (!held) {
      held = { state: new ServiceState(name, this.clock, this.log, this.probes, this.lookup), refs: 0 };
      this.states.set(name, held);
    }
    held.refs++;
    return held.state;
  }

  release(name: string): void {
    const held = this.states.get(name);
    if (!held || --held.refs > 0) return;
    this.states.delete(name);
    held.state.close();
  }

  get(name: string): ServiceState | undefined {
    return this.states.get(name)?.state;
  }

  all(): ServiceState[] {
    return [...this.states.values()].map((h) => h.state);
  }

  closeAll(): void {
    for (const h of this.states.values()) h.state.close();
    this.states.clear();
  }
}
