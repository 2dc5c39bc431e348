// The contract between the limit policies and where their counters live. One method per
// algorithm, so a store can run each as one atomic step (a Lua script in Redis, a plain function
// in memory). A memory store answers synchronously; remote stores answer with a promise.

/** The outcome of one rate-limit decision, in the units the headers need. */
export interface Decision {
  allowed: boolean;
  /** Units left after this decision (never negative). */
  remaining: number;
  /** Whole milliseconds, rounded up, until the counter is fully reset or refilled (never negative). */
  resetMs: number;
  /**
   * Whole milliseconds, rounded up, until a request of the same cost could pass (never shorter: a
   * request made then passes, unless others came first); 0 when allowed.
   */
  retryAfterMs: number;
  /** The quota this decision counts against (limit, or burst for buckets). */
  limit: number;
}

export type Answer = Decision | Promise<Decision>;

/**
 * Every store answers the same Decision for the same calls on the same clock
 * (test/store-contract.test.ts). A clock that goes back (an NTP step) never makes a store admit
 * more than its limit or answer a negative wait.
 */
export interface RateStore {
  /** `limit` units per aligned window of `windowMs`. */
  fixedWindow(key: string, limit: number, windowMs: number, cost: number): Answer;
  /** `limit` units per calendar month (UTC). */
  calendarMonth(key: string, limit: number, cost: number): Answer;
  /** Two-window weighted counter: `limit` units in any window of `windowMs` (approximately). */
  slidingWindow(key: string, limit: number, windowMs: number, cost: number): Answer;
  /** A bucket of `burst` tokens refilled with `rate` tokens every `perMs`. */
  tokenBucket(key: string, rate: number, perMs: number, burst: number, cost: number): Answer;
  /** Leaky bucket: `rate` per `perMs` drain, at most `burst` queued (GCRA's decisions, kept as a level). */
  leakyBucket(key: string, rate: number, perMs: number, burst: number, cost: number): Answer;
  close(): Promise<void> | void;
}

export type StoreMethod = 'fixedWindow' | 'calendarMonth' | 'slidingWindow' | 'tokenBucket' | 'leakyBucket';

/** Milliseconds since the epoch; injectable so tests need not wait. */
export type Clock = () => number;

/** Thrown (as a rejection) when a store cannot answer: timeout, connection down, breaker open. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}
