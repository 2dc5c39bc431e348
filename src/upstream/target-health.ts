// The health of one target as this instance sees it: the active checker's verdict and passive
// ejections from real traffic. Kept across config reloads (it belongs to the target, not to a
// config version), so a reload neither forgets a dead target nor resets its ejection history.

export interface HealthEvent {
  at: number;
  change: string;
  reason: string;
}

export class TargetHealth {
  /** The active checker's verdict (true until checks say otherwise). */
  activeHealthy = true;
  activeSuccesses = 0;
  activeFailures = 0;
  /** Passive ejection: the target gets no traffic until then (ms). */
  ejectedUntil = 0;
  /** Ejections in a row (the next lasts longer); decays after a healthy stretch. */
  ejectionStreak = 0;
  totalEjections = 0;
  lastEjectionEnd = 0;
  consecutiveFailures = 0;
  /** Requests in flight to this target, from every config version that uses it (for the admin API). */
  inFlight = 0;
  /**
   * Recent time to the response head (or to the failure), ms: a moving average that weighs each
   * attempt 1/8, as TCP's smoothed round-trip time does. Undefined until the first attempt ends.
   */
  latencyMs: number | undefined = undefined;
  /** The latest state changes, newest last (at most 10). */
  readonly events: HealthEvent[] = [];

  constructor(
    readonly key: string,
    readonly url: string,
  ) {}

  available(now: number): boolean {
    return this.activeHealthy && now >= this.ejectedUntil;
  }

  note(at: number, change: string, reason: string): void {
    this.events.push({ at, change, reason });
    if (this.events.length > 10) this.events.shift();
  }
}
