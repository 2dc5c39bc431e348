// `workers > 1` with the memory store: the workers of one instance must share one count, so the
// decisions are made by the cluster primary, which holds the only memory store. A worker sends
// each decision over the cluster IPC channel and awaits the answer.
import type { Worker } from 'node:cluster';
import type { Logger } from '../observability/logger.js';
import { StoreHealth, type StoreStatus } from './health.js';
import { MemoryStore } from './memory.js';
import { StoreUnavailableError, type Decision, type RateStore, type StoreMethod } from './types.js';

export interface DecisionRequest {
  t: 'rl';
  i: number;
  s: string;
  n: number;
  m: StoreMethod;
  k: string;
  a: number[];
}
export interface DecisionReply {
  t: 'rl';
  i: number;
  d: [number, number, number, number, number];
}

function isDecisionReply(m: unknown): m is DecisionReply {
  return typeof m === 'object' && m !== null && (m as { t?: unknown }).t === 'rl';
}

/** The worker's side: a store whose every decision is made by the primary. */
export class IpcStore implements RateStore {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (d: Decision) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  /** Every message the primary sends this process arrives here, not only replies. */
  private readonly onMessage = (m: unknown) => {
    if (!isDecisionReply(m)) return;
    const p = this.pending.get(m.i);
    if (!p) return;
    this.pending.delete(m.i);
    clearTimeout(p.timer);
    const d = m.d;
    this.health.up();
    p.resolve({ allowed: d[0] === 1, remaining: d[1], resetMs: d[2], retryAfterMs: d[3], limit: d[4] });
  };
  /** The primary is gone: nothing will answer. */
  private readonly onDisconnect = () => {
    for (const [i, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(i);
      p.reject(new StoreUnavailableError('rate-limit store: the primary process is gone'));
    }
  };
  readonly health: StoreHealth;

  /** `timeoutMs`: as for Redis, a decision not back in time fails and `onStoreError` applies. */
  constructor(
    private readonly storeId: string,
    private readonly maxKeys: number,
    private readonly timeoutMs: number,
    log?: Logger,
  ) {
    this.health = new StoreHealth('memory', 'memory', storeId, log);
    process.on('message', this.onMessage);
    process.on('disconnect', this.onDisconnect);
  }

  private ask(m: StoreMethod, k: string, a: number[]): Promise<Decision> {
    if (!process.connected) {
      this.health.failure(m, 'error', 'the primary process is gone');
      return Promise.reject(new StoreUnavailableError('rate-limit store: the primary process is gone'));
    }
    const i = this.next++;
    return new Promise<Decision>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(i);
        this.health.failure(m, 'timeout', `no answer from the primary within ${this.timeoutMs}ms`);
        reject(new StoreUnavailableError(`rate-limit store: no answer from the primary within ${this.timeoutMs}ms`));
      }, this.timeoutMs);
      this.pending.set(i, { resolve, reject, timer });
      process.send!({ t: 'rl', i, s: this.storeId, n: this.maxKeys, m, k, a } satisfies DecisionRequest);
    });
  }

  fixedWindow(key: string, limit: number, windowMs: number, cost: number): Promise<Decision> {
    return this.ask('fixedWindow', key, [limit, windowMs, cost]);
  }
  calendarMonth(key: string, limit: number, cost: number): Promise<Decision> {
    return this.ask('calendarMonth', key, [limit, cost]);
  }
  slidingWindow(key: string, limit: number, windowMs: number, cost: number): Promise<Decision> {
    return this.ask('slidingWindow', key, [limit, windowMs, cost]);
  }
  tokenBucket(key: string, rate: number, perMs: number, burst: number, cost: number): Promise<Decision> {
    return this.ask('tokenBucket', key, [rate, perMs, burst, cost]);
  }
  leakyBucket(key: string, rate: number, perMs: number, burst: number, cost: number): Promise<Decision> {
    return this.ask('leakyBucket', key, [rate, perMs, burst, cost]);
  }

  status(): StoreStatus {
    return this.health.status();
  }

  close(): void {
    process.off('message', this.onMessage);
    process.off('disconnect', this.onDisconnect);
  }
}

/** The primary's side: one memory store per store id, shared by every worker. */
export class PrimaryDecisions {
  private readonly stores = new Map<string, MemoryStore>();

  answer(worker: Worker, m: DecisionRequest): void {
    let store = this.stores.get(m.s);
    if (!store) this.stores.set(m.s, (store = new MemoryStore({ maxKeys: m.n })));
    const a = m.a;
    let d: Decision;
    switch (m.m) {
      case 'fixedWindow':
        d = store.fixedWindow(m.k, a[0]!, a[1]!, a[2]!);
        break;
      case 'calendarMonth':
        d = store.calendarMonth(m.k, a[0]!, a[1]!);
        break;
      case 'slidingWindow':
        d = store.slidingWindow(m.k, a[0]!, a[1]!, a[2]!);
        break;
      case 'tokenBucket':
        d = store.tokenBucket(m.k, a[0]!, a[1]!, a[2]!, a[3]!);
        break;
      case 'leakyBucket':
        d = store.leakyBucket(m.k, a[0]!, a[1]!, a[2]!, a[3]!);
        break;
      default:
        return;
    }
    if (worker.isConnected())
      worker.send({ t: 'rl', i: m.i, d: [d.allowed ? 1 : 0, d.remaining, d.resetMs, d.retryAfterMs, d.limit] } satisfies DecisionReply);
  }
}
