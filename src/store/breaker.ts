// A circuit breaker for a remote store. It opens when at least `failureRatio` of the calls of the
// last `windowMs` failed, once there were at least `minCalls` of them; open, calls fail at once (no
// request waits on a store known to be down); after `cooldownMs` it lets one trial call through,
// and closes again when that succeeds.
//
// A ratio rather than a run of consecutive failures: a busy moment on a healthy store (the gateway's
// own event loop late, a few decisions over their timeout) is a few failures among many successes
// and must not refuse every request for a second. The price: with less than `minCalls` calls per
// window (light traffic) the breaker never opens, and each call to a dead store waits for its
// timeout instead of failing at once.
import { systemClock } from '../upstream/clock.js';
import { RollingCounter } from '../upstream/rolling-counter.js';
import type { Clock } from './types.js';

export interface BreakerSettings {
  windowMs: number;
  minCalls: number;
  failureRatio: number;
  cooldownMs: number;
}

export const STORE_BREAKER: BreakerSettings = { windowMs: 5000, minCalls: 20, failureRatio: 0.5, cooldownMs: 1000 };

export type StoreBreakerState = 'closed' | 'open' | 'half-open';

const CALLS = 0;
const FAILURES = 1;

export class Breaker {
  private openedAt = -1;
  private trial = false;
  private readonly calls: RollingCounter;
  private readonly settings: BreakerSettings;

  constructor(
    private readonly now: Clock = Date.now,
    settings: Partial<BreakerSettings> = {},
  ) {
    this.settings = { ...STORE_BREAKER, ...settings };
    this.calls = new RollingCounter(this.settings.windowMs, { ...systemClock, now }, 2);
  }

  get open(): boolean {
    return this.openedAt >= 0;
  }

  get state(): StoreBreakerState {
    return this.openedAt < 0 ? 'closed' : this.trial ? 'half-open' : 'open';
  }

  /** May a call go out now? */
  allow(): boolean {
    if (this.openedAt < 0) return true;
    if (this.trial || this.now() - this.openedAt < this.settings.cooldownMs) return false;
    this.trial = true; // half-open: one call finds out whether the store is back
    return true;
  }

  // While open only the trial decides: a call sent before the breaker opened and answering late
  // (within its timeout, far shorter than the cooldown) says nothing new.
  success(): void {
    if (this.openedAt < 0) {
      this.calls.add(CALLS);
    } else if (this.trial) {
      this.openedAt = -1;
      this.trial = false;
    }
  }

  failure(): void {
    if (this.openedAt >= 0) {
      if (this.trial) this.reopen();
      return;
    }
    this.calls.add(CALLS);
    this.calls.add(FAILURES);
    const calls = this.calls.sum(CALLS);
    if (calls >= this.settings.minCalls && this.calls.sum(FAILURES) >= this.settings.failureRatio * calls) this.reopen();
  }

  private reopen(): void {
    this.openedAt = this.now();
    this.trial = false;
    this.calls.reset();
  }
}
