// Counters in Redis, shared by every instance. Each decision is one EVALSHA of the algorithm's Lua
// script (ioredis loads it once and falls back to EVAL on NOSCRIPT), auto-pipelined with whatever
// else is in flight. Every call has a timeout; a breaker stops calling a Redis that keeps failing.
// Keys are `<prefix>{<key>}`: the hash tag keeps each key on one Redis Cluster slot.
import { Redis } from 'ioredis';
import { Breaker } from './breaker.js';
import { CALENDAR_MONTH, FIXED_WINDOW, LEAKY_BUCKET, SLIDING_WINDOW, TOKEN_BUCKET } from './lua.js';
import { StoreUnavailableError, type Decision, type RateStore } from './types.js';

export interface RedisStoreOptions {
  url: string;
  prefix: string;
  timeoutMs: number;
  /** Connect now (a data plane) or on first use (a plan compiled only to be checked). */
  connect?: boolean;
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
  readonly client: Redis & Scripted;
  readonly breaker = new Breaker();
  private readonly prefix: string;
  private readonly unavailable: Promise<never>;

  constructor(opts: RedisStoreOptions) {
    this.prefix = opts.prefix;
    const client = new Redis(opts.url, {
      lazyConnect: true,
      enableAutoPipelining: true,
      commandTimeout: opts.timeoutMs,
      connectTimeout: Math.max(1000, opts.timeoutMs),
      // Only the first connection queues decisions (each still bounded by the timeout); once
      // connected, a decision never waits for a reconnect: it fails and onStoreError answers.
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(100 * times, 1000),
    });
    client.on('error', () => {}); // reported through failed calls and the breaker; reconnects on its own
    client.once('ready', () => { client.options.enableOfflineQueue = false; });
    client.defineCommand('ghFixed', { numberOfKeys: 1, lua: FIXED_WINDOW });
    client.defineCommand('ghMonth', { numberOfKeys: 1, lua: CALENDAR_MONTH });
    client.defineCommand('ghSliding', { numberOfKeys: 1, lua: SLIDING_WINDOW });
    client.defineCommand('ghToken', { numberOfKeys: 1, lua: TOKEN_BUCKET });
    client.defineCommand('ghLeaky', { numberOfKeys: 1, lua: LEAKY_BUCKET });
    this.client = client as Redis & Scripted;
    this.unavailable = Promise.reject(new StoreUnavailableError('rate-limit store breaker is open'));
    this.unavailable.catch(() => {});
    if (opts.connect) client.connect().catch(() => {});
  }

  private run(script: Script, key: string, limit: number, windowMs: number, cost: number): Promise<Decision> {
    const breaker = this.breaker;
    if (!breaker.allow()) return this.unavailable;
    if (this.client.status === 'wait') this.client.connect().catch(() => {});
    return script.call(this.client, this.prefix + '{' + key + '}', limit, windowMs, cost).then(
      (r) => {
        breaker.success();
        return { allowed: r[0] === 1, remaining: r[1], resetMs: r[2], retryAfterMs: r[3], limit };
      },
      (err: Error) => {
        breaker.failure();
        throw new StoreUnavailableError(`rate-limit store: ${err.message}`);
      },
    );
  }

  fixedWindow(key: string, limit: number, windowMs: number, cost: number): Promise<Decision> {
    return this.run(this.client.ghFixed, key, limit, windowMs, cost);
  }

  calendarMonth(key: string, limit: number, cost: number): Promise<Decision> {
    return this.run(this.client.ghMonth, key, limit, 0, cost);
  }

  slidingWindow(key: string, limit: number, windowMs: number, cost: number): Promise<Decision> {
    return this.run(this.client.ghSliding, key, limit, windowMs, cost);
  }

  tokenBucket(key: string, rate: number, perMs: number, burst: number, cost: number): Promise<Decision> {
    return this.bucket(this.client.ghToken, key, rate, perMs, burst, cost);
  }

  leakyBucket(key: string, rate: number, perMs: number, burst: number, cost: number): Promise<Decision> {
    return this.bucket(this.client.ghLeaky, key, rate, perMs, burst, cost);
  }

  private bucket(script: Script, key: string, rate: number, perMs: number, burst: number, cost: number): Promise<Decision> {
    const breaker = this.breaker;
    if (!breaker.allow()) return this.unavailable;
    if (this.client.status === 'wait') this.client.connect().catch(() => {});
    return script.call(this.client, this.prefix + '{' + key + '}', rate, perMs, burst, cost).then(
      (r) => {
        breaker.success();
        return { allowed: r[0] === 1, remaining: r[1], resetMs: r[2], retryAfterMs: r[3], limit: burst };
      },
      (err: Error) => {
        breaker.failure();
        throw new StoreUnavailableError(`rate-limit store: ${err.message}`);
      },
    );
  }

  /** Resolves once connected (tests; a gateway serves at once and lets onStoreError cover the start). */
  ready(): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => this.client.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
