// A circuit breaker for a remote store: after `threshold` consecutive failures it opens and calls
// fail at once (no request waits on a store known to be down); after `cooldownMs` it lets one
// trial call through, and closes again when that succeeds.
import type { Clock } from './types.js';

export class Breaker {
  private failures = 0;
  private openedAt = -1;
  private trial = false;

  constructor(
    private readonly threshold = 3,
    private readonly cooldownMs = 1000,
    private readonly now: Clock = Date.now,
  ) {}

  get open(): boolean {
    return this.openedAt >= 0;
  }

  /** May a call go out now? */
  allow(): boolean {
    if (this.openedAt < 0) return true;
    if (this.trial || this.now() - this.openedAt < this.cooldownMs) return false;
    this.trial = true; // half-open: one call finds out whether the store is back
    return true;
  }

  success(): void {
    this.failures = 0;
    this.openedAt = -1;
    this.trial = false;
  }

  failure(): void {
    this.failures++;
    if (this.trial || this.failures >= this.threshold) {
      this.openedAt = this.now();
      this.trial = false;
    }
  }
}
