// Connection pools per upstream origin, shared by every config version that names the same target
// with the same pool settings, so a reload keeps warm keep-alive connections. A pool is closed
// (gracefully: queued requests finish) when the last config version using it is retired.
// HTTP/1.1 targets get an undici Pool; HTTP/2 ones (`protocol: h2 | h2c`) an H2Pool (h2-pool.ts).
import { Pool, type Dispatcher } from 'undici';
import type { ServiceProtocol } from '../config/http2-schema.js';
import { H2Pool, type H2DispatchOptions, type H2Handler } from './h2-pool.js';

export interface PoolSettings {
  connectTimeout: number;
  maxConnections: number;
  keepAliveTimeout: number;
  /** TLS server name, when the origin is an address standing for an https:// host name. */
  servername?: string;
  /** What the targets speak (default http1). */
  protocol?: ServiceProtocol;
}

/** What an upstream call dispatches to: an undici Pool or an H2Pool. */
export interface UpstreamPool {
  dispatch(opts: H2DispatchOptions, handler: Dispatcher.DispatchHandler & H2Handler): boolean;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

interface Held {
  pool: UpstreamPool;
  refs: number;
}

export class PoolRegistry {
  private readonly pools = new Map<string, Held>();

  acquire(origin: string, s: PoolSettings): { key: string; pool: UpstreamPool } {
    const protocol = s.protocol ?? 'http1';
    const key = `${origin}|${s.connectTimeout}|${s.maxConnections}|${s.keepAliveTimeout}|${s.servername ?? ''}|${protocol}`;
    let held = this.pools.get(key);
    if (!held) {
      const pool: UpstreamPool =
        protocol === 'http1'
          ? http1Pool(origin, s)
          : new H2Pool(origin, {
              connectTimeout: s.connectTimeout,
              maxConnections: s.maxConnections,
              keepAliveTimeout: s.keepAliveTimeout,
              servername: s.servername,
            });
      held = { pool, refs: 0 };
      this.pools.set(key, held);
    }
    held.refs++;
    return { key, pool: held.pool };
  }

  release(key: string): void {
    const held = this.pools.get(key);
    if (!held) return;
    if (--held.refs > 0) return;
    this.pools.delete(key);
    held.pool.close().catch(() => held.pool.destroy().catch(() => {}));
  }

  async closeAll(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((h) => h.pool.close().catch(() => h.pool.destroy().catch(() => {}))));
  }

  async destroyAll(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((h) => h.pool.destroy().catch(() => {})));
  }
}

function http1Pool(origin: string, s: PoolSettings): Pool {
  return new Pool(origin, {
    connections: s.maxConnections,
    pipelining: 1,
    connect: s.servername ? { timeout: s.connectTimeout, servername: s.servername } : { timeout: s.connectTimeout },
    keepAliveTimeout: s.keepAliveTimeout,
    keepAliveMaxTimeout: Math.max(s.keepAliveTimeout, 600_000),
    // Per-request timeouts are passed with each dispatch; these are only fallbacks.
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
}
