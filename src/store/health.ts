// What a remote store's failures look like from outside: counts for /metrics, a state for the admin
// API, and log lines. A store that fails fails for every request, so the log says when it became
// unavailable and when it is back, never once per request: at most one "unavailable" line (first
// failure, or a reminder while it stays down) per store per `intervalMs`, and one "available again"
// line after each "unavailable" one. What happened between lines is in the counts they carry.
import type { Logger } from '../observability/logger.js';
import type { Clock, StoreMethod } from './types.js';

export type StoreFailure = 'timeout' | 'error' | 'breaker_open';
export type StoreState = 'unknown' | 'up' | 'down';

/** One store as the admin API shows it. */
export interface StoreStatus {
  store: string;
  type: 'memory' | 'redis';
  prefix?: string;
  /** unknown: no decision made and no connection yet. */
  state: StoreState;
  /** When the state began (ISO 8601). */
  since: string;
  /** Decisions the store failed since the gateway started (each one answered per onStoreError). */
  failedDecisions: number;
  lastError?: string;
  breaker?: string;
}

/** The algorithm names of the config, as the metrics' `op` label. */
const OPS: Record<StoreMethod | CacheStoreOp, string> = {
  fixedWindow: 'fixed-window',
  calendarMonth: 'month',
  slidingWindow: 'sliding-window',
  tokenBucket: 'token-bucket',
  leakyBucket: 'leaky-bucket',
  get: 'cache-get',
  put: 'cache-put',
  delete: 'cache-delete',
  deletePrefix: 'cache-delete-prefix',
  deleteTag: 'cache-delete-tag',
};

/** The calls of a cache store (src/store/cache/) that can fail. */
export type CacheStoreOp = 'get' | 'put' | 'delete' | 'deletePrefix' | 'deleteTag';

/** What a store's log lines call it, and what happens to requests while it is down. */
export interface StoreSubject {
  name: string;
  meanwhile: string;
}

export const RATE_LIMIT_STORE: StoreSubject = {
  name: 'rate-limit store',
  meanwhile: "each rate-limit policy's onStoreError decides (allow, deny or local)",
};

export const CACHE_STORE: StoreSubject = {
  name: 'cache store',
  meanwhile: 'requests are served by the service, uncached',
};

export const REPORT_INTERVAL_MS = 30_000;

export class StoreHealth {
  state: StoreState = 'unknown';
  private since: number;
  private failed = 0;
  private failedSinceLine = 0;
  /** Failed decisions since the store last went down: what the "available again" line reports. */
  private failedThisOutage = 0;
  private counting = false;
  private lastError: string | undefined;
  /** An "unavailable" line is out and its "available again" is not. */
  private announced = false;
  private lastLine = -Infinity;
  private readonly counts = new Map<string, { op: string; reason: StoreFailure; count: number }>();
  /** Set by a cache store: its log lines then say "cache store". */
  subject: StoreSubject = RATE_LIMIT_STORE;

  constructor(
    readonly name: string,
    readonly type: 'memory' | 'redis',
    readonly prefix: string,
    private readonly log: Logger | undefined,
    private readonly now: Clock = Date.now,
    private readonly intervalMs = REPORT_INTERVAL_MS,
  ) {
    this.since = now();
  }

  /** A decision failed (and the request gets its policy's onStoreError). */
  failure(method: StoreMethod | CacheStoreOp, reason: StoreFailure, message: string): void {
    if (this.state !== 'down') this.failedThisOutage = 0; // this failure starts an outage
    this.failed++;
    this.failedSinceLine++;
    this.failedThisOutage++;
    const key = method + reason;
    const c = this.counts.get(key);
    if (c) c.count++;
    else this.counts.set(key, { op: OPS[method], reason, count: 1 });
    this.counting = true;
    this.down(message);
    this.counting = false;
  }

  /** The store cannot be reached: a decision failed, or the connection did. */
  down(message: string): void {
    const now = this.now();
    this.lastError = message;
    if (this.state !== 'down') {
      this.state = 'down';
      this.since = now;
      // Found down by a dropped connection, not a decision: nothing failed yet.
      if (!this.counting) this.failedThisOutage = 0;
    }
    if (now - this.lastLine < this.intervalMs) return;
    const fields = { store: this.name, err: message, failedDecisions: this.failedSinceLine };
    if (this.announced) {
      this.log?.warn({ ...fields, downForMs: now - this.since }, `${this.subject.name} still unavailable`);
    } else {
      this.log?.warn(fields, `${this.subject.name} unavailable: until it is back, ${this.subject.meanwhile}`);
      this.announced = true;
    }
    this.lastLine = now;
    this.failedSinceLine = 0;
  }

  /** A decision succeeded, or the connection is (re)established. */
  up(): void {
    if (this.state === 'up') return;
    const now = this.now();
    if (this.announced) {
      // The whole outage's count: the lines before it may have reported some already, and which
      // came first, a failed decision or the dropped connection, is a race the reader should not see.
      this.log?.info(
        { store: this.name, downForMs: now - this.since, failedDecisions: this.failedThisOutage },
        `${this.subject.name} available again`,
      );
      this.announced = false;
      this.lastLine = now;
      this.failedSinceLine = 0;
    }
    this.state = 'up';
    this.since = now;
  }

  /** Failed decisions by algorithm and reason (for gatehouse_store_errors_total). */
  errorCounts(): { op: string; reason: StoreFailure; count: number }[] {
    return [...this.counts.values()];
  }

  status(): StoreStatus {
    const s: StoreStatus = {
      store: this.name,
      type: this.type,
      prefix: this.prefix,
      state: this.state,
      since: new Date(this.since).toISOString(),
      failedDecisions: this.failed,
    };
    if (this.lastError !== undefined) s.lastError = this.lastError;
    return s;
  }
}
