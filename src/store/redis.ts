// Counters in Redis, shared by every instance. Each decision is one EVALSHA of the algorithm's Lua
// script (ioredis loads it once and falls back to EVAL on NOSCRIPT), auto-pipelined with whatever
// else is in flight. Every call has a timeout; a breaker stops calling a Redis that keeps failing.
// Keys are `<prefix>{<key>}`, and each script touches that one key only: on a Redis Cluster every
// decision is one command on one slot (the tag spreads the keys of one prefix over slots). Failures and
// recoveries, of decisions and of the connection, are reported through a StoreHealth.
import { storeRedis, type StoreClient } from './redis-client.js';
import { Breaker } from './breaker.js';
import { StoreHealth, type StoreStatus } from './health.js';
import { CALENDAR_MONTH, FIXED_WINDOW, LEAKY_BUCKET, SLIDING_WINDOW, TOKEN_BUCKET } from './lua.js';
import type { Logger } from '../observability/logger.js';
import { StoreUnavailableError, type Clock, type Decision, type RateStore, type StoreMethod } from './types.js';

export interface RedisStoreOptions {
  url: string;
  prefix: string;
  timeoutMs: number;
  /** Connect now (a data plane) or on first use (a plan compiled only to be checked). */
  connect?: boolean;
  /** Where failures and recoveries are logged, and the `store` label of its metrics. */
  log?: Logger;
  name?: string;
  /** Tests only: the time the scripts use instead of Redis's TIME (see lua.ts). */
  clock?: Clock;
}

type Reply = [number, number, number, number];
type Script = (key: string, ...args: (string | number)[]) => Promise<Reply>;
interface Scripted {
  ghFixed: Script;
  ghMonth: Script;
  ghSliding: Script;
  ghToken: Script;
  ghLeaky: Script;
}

export class RedisStore implements RateStore {
  readonly client: StoreClient & Scripted;
  readonly breaker = new Breaker();
  readonly health: StoreHealth;
  private readonly prefix: string;
  private readonly clock: Clock | undefined;
  /** One rejection for every call the open breaker refuses (no allocation per request). */
  private readonly unavailable: Promise<never>;
  private closing = false;

  constructor(opts: RedisStoreOptions) {
    this.prefix = opts.prefix;
    this.clock = opts.clock;
    this.health = new StoreHealth(opts.name ?? 'redis', 'redis', opts.prefix, opts.log);
    const client = storeRedis(opts.url, opts.timeoutMs, this.health, () => this.closing);
    client.defineCommand('ghFixed', { numberOfKeys: 1, lua: FIXED_WINDOW });
    client.defineCommand('ghMonth', { numberOfKeys: 1, lua: CALENDAR_MONTH });
    client.defineCommand('ghSliding', { numberOfKeys: 1, lua: SLIDING_WINDOW });
    client.defineCommand('ghToken', { numberOfKeys: 1, lua: TOKEN_BUCKET });
    client.defineCommand('ghLeaky', { numberOfKeys: 1, lua: LEAKY_BUCKET });
    this.client = client as StoreClient & Scripted;
    this.unavailable = Promise.reject(new StoreUnavailableError('rate-limit store breaker is open'));
    this.unavailable.catch(() => {});
    if (opts.connect) client.connect().catch(() => {});
  }

  /** `a`, `b`, `c`, `d`: the script's ARGV (window scripts take three); `quota`: the Decision's limit. */
  private run(
    method: StoreMethod,
    script: Script,
    key: string,
    quota: number,
    a: number,
    b: number,
    c: number,
    d?: number,
  ): Promise<Decision> {
    const breaker = this.breaker;
    if (!breaker.allow()) {
      this.health.failure(method, 'breaker_open', 'the breaker is open');
      return this.unavailable;
    }
    if (this.client.status === 'wait') this.client.connect().catch(() => {});
    const k = this.prefix + '{' + key + '}';
    const call =
      this.clock === undefined
        ? d === undefined
          ? script.call(this.client, k, a, b, c)
          : script.call(this.client, k, a, b, c, d)
        : script.call(this.client, k, a, b, c, d ?? 0, this.clock());
    return call.then(
      (r) => {
        breaker.success();
        this.health.up();
        return { allowed: r[0] === 1, remaining: r[1], resetMs: r[2], retryAfterMs: r[3], limit: quota };
      },
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        breaker.failure();
        this.health.failure(method, /timed out/i.test(message) ? 'timeout' : 'error', message);
        throw new StoreUnavailableError(`rate-limit store: ${message}`);
      },
    );
  }

  fixedWindow(key: string, limit: number, windowMs: number, cost: number): Promise<Decision> {
    return this.run('fixedWindow', this.client.ghFixed, key, limit, limit, windowMs, cost);
  }

  calendarMonth(key: string, limit: number, cost: number): Promise<Decision> {
    return this.run('calendarMonth', this.client.ghMonth, key, limit, limit, 0, cost);
  }

  slidingWindow(key: string, limit: number, windowMs: number, cost: number): Promise<Decision> {
    return this.run('slidingWindow', this.client.ghSliding, key, limit, limit, windowMs, cost);
  }

  tokenBucket(key: string, rate: number, perMs: number, burst: number, cost: number): Promise<Decision> {
    return this.run('tokenBucket', this.client.ghToken, key, burst, rate, perMs, burst, cost);
  }

  leakyBucket(key: string, rate: number, perMs: number, burst: number, cost: number): Promise<Decision> {
    return this.run('leakyBucket', this.client.ghLeaky, key, burst, rate, perMs, burst, cost);
  }

  status(): StoreStatus {
    return { ...this.health.status(), breaker: this.breaker.state };
  }

  /** Resolves once connected (tests; a gateway serves at once and lets onStoreError cover the start). */
  ready(): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => this.client.once('ready', () => resolve()));
  }

  close(): Promise<void> {
    this.closing = true;
    this.client.disconnect();
    return Promise.resolve();
  }
}
