// Load shedding: before any work, a new request is refused with 503 GW_OVERLOADED when the
// process has too many requests in flight or its event loop lags. Lag is sampled by one cheap
// unref'd timer (how late it fires), only when a lag threshold is configured.
import type { GatehouseConfig } from '../config/schema.js';
import { parseDuration } from '../config/units.js';

const SAMPLE_MS = 50;

export class LoadShedder {
  /** Requests in flight at or above which new ones are shed (Infinity = off). */
  maxInflight = Infinity;
  /** Event-loop lag in ms above which new ones are shed (Infinity = off). */
  maxLag = Infinity;
  /** Retry-After value, seconds. */
  retryAfter = '1';
  /** The last measured lag, ms. */
  lag = 0;
  /** Requests shed since start (for tests and the log). */
  shed = 0;
  private timer: NodeJS.Timeout | undefined;
  private expected = 0;

  configure(cfg: GatehouseConfig['loadShedding']): void {
    this.maxInflight = cfg.maxInflight ?? Infinity;
    this.maxLag = cfg.maxEventLoopLag !== undefined ? parseDuration(cfg.maxEventLoopLag) : Infinity;
    this.retryAfter = String(Math.max(1, Math.ceil(parseDuration(cfg.retryAfter) / 1000)));
    if (this.maxLag !== Infinity) this.startSampling();
    else this.stop();
  }

  /** True when a new request must be refused. `inflight` excludes the new request. */
  overloaded(inflight: number): boolean {
    return inflight >= this.maxInflight || this.lag > this.maxLag;
  }

  private startSampling(): void {
    if (this.timer) return;
    this.expected = performance.now() + SAMPLE_MS;
    this.timer = setInterval(() => {
      const now = performance.now();
      // How late this tick is: time the loop spent on something else.
      this.lag = Math.max(0, now - this.expected);
      this.expected = now + SAMPLE_MS;
    }, SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.lag = 0;
  }
}
