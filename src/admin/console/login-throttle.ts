// Failed console logins, counted per client address over a minute: the 11th failure within the
// minute, and every attempt after it until the minute is over, answers 429 ADMIN_TOO_MANY_LOGINS
// without comparing the token. Guessing a token of any length through the login form then takes
// forever; a slow guesser from one address gets 10 tries a minute. Bounded memory: at most
// MAX_ADDRESSES counters (the oldest go first).
export const MAX_FAILURES = 10;
export const WINDOW_MS = 60_000;
const MAX_ADDRESSES = 10_000;

interface Counter {
  start: number;
  failures: number;
}

export class LoginThrottle {
  private readonly counters = new Map<string, Counter>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxFailures = MAX_FAILURES,
    private readonly windowMs = WINDOW_MS,
  ) {}

  /** Seconds to wait when `address` may not try now; 0 when it may. */
  blockedFor(address: string): number {
    const c = this.current(address);
    if (c === undefined || c.failures < this.maxFailures) return 0;
    return Math.max(1, Math.ceil((c.start + this.windowMs - this.now()) / 1000));
  }

  failed(address: string): void {
    let c = this.current(address);
    if (c === undefined) {
      if (this.counters.size >= MAX_ADDRESSES) this.counters.delete(this.counters.keys().next().value!);
      c = { start: this.now(), failures: 0 };
      this.counters.set(address, c);
    }
    c.failures++;
  }

  private current(address: string): Counter | undefined {
    const c = this.counters.get(address);
    if (c !== undefined && this.now() - c.start >= this.windowMs) {
      this.counters.delete(address);
      return undefined;
    }
    return c;
  }
}
