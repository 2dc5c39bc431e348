// Bounds retries to a share of requests over a rolling window, so that a failing service is not
// hit with a multiple of its normal load (a retry storm).
import type { Clock } from './clock.js';
import { RollingCounter } from './rolling-counter.js';

export interface BudgetSettings {
  ratio: number;
  windowMs: number;
  minRetries: number;
}

const REQUESTS = 0;
const RETRIES = 1;

export class RetryBudget {
  private counter: RollingCounter;

  constructor(
    private settings: BudgetSettings,
    private readonly clock: Clock,
  ) {
    this.counter = new RollingCounter(settings.windowMs, clock, 2);
  }

  reconfigure(settings: BudgetSettings): void {
    if (settings.windowMs !== this.settings.windowMs) this.counter = new RollingCounter(settings.windowMs, this.clock, 2);
    this.settings = settings;
  }

  /** A client request reached this service. */
  recordRequest(): void {
    this.counter.add(REQUESTS);
  }

  /** Takes one retry from the budget, or says there is none left. */
  tryRetry(): boolean {
    // minRetries is a floor, not an addition: once traffic is real, retries ≤ ratio × requests.
    const allowed = Math.max(this.settings.minRetries, this.settings.ratio * this.counter.sum(REQUESTS));
    if (this.counter.sum(RETRIES) + 1 > allowed) return false;
    this.counter.add(RETRIES);
    return true;
  }
}
