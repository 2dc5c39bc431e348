// A service's circuit breaker: closed → open on too many failures, open → half-open after the open
// duration, half-open → closed when the probes succeed or → open again (for longer) when one fails.
import type { Clock } from './clock.js';
import { RollingCounter } from './rolling-counter.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerSettings {
  windowMs: number;
  failureRatio: number;
  minRequests: number;
  consecutiveFailures: number | undefined;
  openMs: number;
  maxOpenMs: number;
  halfOpenRequests: number;
}

/** What `admit` decided for one request. */
export type Admission = 'allow' | 'probe' | 'reject';

export interface BreakerTransition {
  from: BreakerState;
  to: BreakerState;
  reason: string;
  openMs?: number;
}

const REQ = 0;
const FAIL = 1;

export class CircuitBreaker {
  state: BreakerState = 'closed';
  /** Consecutive trips without a successful close: the open time doubles with each. */
  trips = 0;
  openedAt = 0;
  openUntil = 0;
  totalTrips = 0;
  /** Counts half-open periods, so that a probe from an earlier one cannot decide the current one. */
  cycle = 0;
  private consecutive = 0;
  private probesInFlight = 0;
  private probeSuccesses = 0;
  private window: RollingCounter;

  constructor(
    private settings: BreakerSettings,
    private readonly clock: Clock,
    private readonly onTransition: (t: BreakerTransition) => void = () => {},
  ) {
    this.window = new RollingCounter(settings.windowMs, clock, 2);
  }

  /** New settings on reload; the state is kept. */
  reconfigure(settings: BreakerSettings): void {
    if (settings.windowMs !== this.settings.windowMs) this.window = new RollingCounter(settings.windowMs, this.clock, 2);
    this.settings = settings;
  }

  admit(): Admission {
    if (this.state === 'closed') return 'allow';
    if (this.state === 'open') {
      if (this.clock.now() < this.openUntil) return 'reject';
      this.cycle++;
      this.move('half-open', 'open duration elapsed');
    }
    if (this.probesInFlight + this.probeSuccesses >= this.settings.halfOpenRequests) return 'reject';
    this.probesInFlight++;
    return 'probe';
  }

  /** Milliseconds until the breaker lets a probe through (0 when it would now). */
  retryAfterMs(): number {
    return this.state === 'open' ? Math.max(0, this.openUntil - this.clock.now()) : 0;
  }

  /** The outcome of a request admitted with `allow` or `probe` (in half-open period `cycle`). */
  record(failed: boolean, admission: Admission, cycle = this.cycle): void {
    if (admission === 'probe') {
      if (cycle !== this.cycle) return; // a probe of an earlier half-open period finished late
      this.probesInFlight = Math.max(0, this.probesInFlight - 1);
      if (this.state !== 'half-open') return;
      if (failed) return this.trip('a half-open probe failed');
      if (++this.probeSuccesses >= this.settings.halfOpenRequests) {
        this.trips = 0;
        this.move('closed', 'half-open probes succeeded');
      }
      return;
    }
    if (this.state !== 'closed') return; // a request admitted before the trip finished late
    this.window.add(REQ);
    if (!failed) {
      this.consecutive = 0;
      return;
    }
    this.window.add(FAIL);
    this.consecutive++;
    const s = this.settings;
    if (s.consecutiveFailures !== undefined && this.consecutive >= s.consecutiveFailures) {
      return this.trip(`${this.consecutive} consecutive failures`);
    }
    const total = this.window.sum(REQ);
    if (total >= s.minRequests) {
      const ratio = this.window.sum(FAIL) / total;
      if (ratio >= s.failureRatio) this.trip(`failure ratio ${ratio.toFixed(2)} over ${total} requests`);
    }
  }

  /** A probe that never got an outcome (client went away before the upstream answered). */
  cancelProbe(cycle = this.cycle): void {
    if (cycle !== this.cycle) return;
    this.probesInFlight = Math.max(0, this.probesInFlight - 1);
  }

  private trip(reason: string): void {
    this.trips++;
    this.totalTrips++;
    const openMs = Math.min(this.settings.openMs * 2 ** (this.trips - 1), this.settings.maxOpenMs);
    this.openedAt = this.clock.now();
    this.openUntil = this.openedAt + openMs;
    this.move('open', reason, openMs);
  }

  private move(to: BreakerState, reason: string, openMs?: number): void {
    const from = this.state;
    this.state = to;
    this.consecutive = 0;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    if (to === 'closed' || to === 'open') this.window.reset();
    this.onTransition({ from, to, reason, openMs });
  }
}
