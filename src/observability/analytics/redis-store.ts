// Analytics shared across instances through Redis (`store: { type: redis }`). Each data plane
// keeps its own per-minute counts (analytics.ts) and also collects what it saw since the last
// flush; a timer adds that to per-minute rollups in Redis, one pipeline per minute and flush:
//
//   <prefix>an:{<minute>}:keys                  set of "dimension:name" seen that minute
//   <prefix>an:{<minute>}:<dimension>:<name>    hash: requests, errors, clientErrors, rateLimited, authFailed, l<bucket>
//   <prefix>an:{<minute>}:ip:<dimension>:<name> sorted set: client IP → count (this flush's top ones)
//   <prefix>an:{<minute>}:ua:<dimension>:<name> sorted set: user agent → count
//
// The minute in braces is a Redis Cluster hash tag: a minute's keys, written and read together in
// one pipeline, are in one slot (ioredis sends a cluster pipeline to one node only). Every key
// expires an hour and two minutes after it is written. The admin API reads the window's minutes
// back and so shows the totals of every instance (at most one flush behind).
import { redisClient, type StoreClient } from '../../store/redis-client.js';
import { Entry, emptyData, type AnalyticsSample, type EntryData, type Summary } from './entry.js';
import type { AnalyticsSink } from './analytics.js';

const TTL_SECONDS = 3720;

export class RedisAnalytics implements AnalyticsSink {
  private pending = new Map<string, Entry>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;
  /** The last flush error (shown by the admin API), cleared by a good flush. */
  lastError: string | undefined;

  constructor(
    private readonly redis: StoreClient,
    private readonly prefix: string,
    private readonly topCapacity: number,
    flushMs = 2000,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  static connect(url: string, prefix: string, topCapacity: number): RedisAnalytics {
    // No offline queue: while Redis is away a flush fails at once (its counts are lost, the local
    // ones are kept) instead of piling up in memory.
    const redis = redisClient(url, { lazyConnect: false, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    redis.on('error', () => {
      /* reported through lastError by the flush that fails */
    });
    return new RedisAnalytics(redis, prefix, topCapacity);
  }

  add(minute: number, key: string, s: AnalyticsSample, bucket: number): void {
    const k = minute + '\u0000' + key;
    let e = this.pending.get(k);
    if (e === undefined) this.pending.set(k, (e = new Entry(this.topCapacity)));
    e.add(s, bucket);
  }

  /** Adds the counts collected since the last flush to Redis. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.write(batch);
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }

  private async write(batch: Map<string, Entry>): Promise<void> {
    const byMinute = new Map<string, ReturnType<StoreClient['pipeline']>>();
    for (const [k, e] of batch) {
      const sep = k.indexOf('\u0000');
      const minute = k.slice(0, sep);
      const name = k.slice(sep + 1).replace('\u0000', ':');
      let p = byMinute.get(minute);
      if (p === undefined) byMinute.set(minute, (p = this.redis.pipeline()));
      const base = minuteBase(this.prefix, minute);
      const hash = `${base}:${name}`;
      p.sadd(`${base}:keys`, name).expire(`${base}:keys`, TTL_SECONDS);
      p.hincrby(hash, 'requests', e.requests);
      if (e.errors) p.hincrby(hash, 'errors', e.errors);
      if (e.clientErrors) p.hincrby(hash, 'clientErrors', e.clientErrors);
      if (e.rateLimited) p.hincrby(hash, 'rateLimited', e.rateLimited);
      if (e.authFailed) p.hincrby(hash, 'authFailed', e.authFailed);
      for (let i = 0; i < e.latency.length; i++) if (e.latency[i]) p.hincrby(hash, `l${i}`, e.latency[i]!);
      p.expire(hash, TTL_SECONDS);
      for (const [ip, n] of e.ips.counts) p.zincrby(`${base}:ip:${name}`, n, ip);
      for (const [ua, n] of e.agents.counts) p.zincrby(`${base}:ua:${name}`, n, ua);
      if (e.ips.counts.size) p.expire(`${base}:ip:${name}`, TTL_SECONDS);
      if (e.agents.counts.size) p.expire(`${base}:ua:${name}`, TTL_SECONDS);
    }
    let error: string | undefined;
    await Promise.all(
      [...byMinute.values()].map(async (p) => {
        try {
          const results = await p.exec();
          const failed = results?.find(([err]) => err);
          if (failed) error = String(failed[0]);
        } catch (err) {
          error = (err as Error).message;
        }
      }),
    );
    this.lastError = error;
  }

  /** The totals of every instance over `minutes`. */
  async read(minutes: number[], topK: number): Promise<Summary> {
    await this.flush();
    const names = await Promise.all(minutes.map((m) => this.redis.smembers(`${minuteBase(this.prefix, String(m))}:keys`)));
    const asked: string[] = [];
    // One pipeline per minute (one slot each), their replies in the order asked.
    const replies = await Promise.all(
      minutes.map(async (m, i) => {
        const p = this.redis.pipeline();
        const base = minuteBase(this.prefix, String(m));
        for (const name of names[i]!) {
          p.hgetall(`${base}:${name}`);
          p.zrevrange(`${base}:ip:${name}`, 0, topK * 4 - 1, 'WITHSCORES');
          p.zrevrange(`${base}:ua:${name}`, 0, topK * 4 - 1, 'WITHSCORES');
        }
        return names[i]!.length === 0 ? [] : ((await p.exec()) ?? []);
      }),
    );
    minutes.forEach((_, i) => asked.push(...names[i]!));
    const results = replies.flat();
    const out: Summary = {};
    asked.forEach((name, i) => {
      const [, hash] = results[i * 3]!;
      const [, ips] = results[i * 3 + 1]!;
      const [, uas] = results[i * 3 + 2]!;
      const sep = name.indexOf(':');
      const key = name.slice(0, sep) + '\u0000' + name.slice(sep + 1);
      const d: EntryData = (out[key] ??= emptyData());
      for (const [f, v] of Object.entries((hash ?? {}) as Record<string, string>)) {
        const n = Number(v);
        if (f[0] === 'l') d.latency[f.slice(1)] = (d.latency[f.slice(1)] ?? 0) + n;
        else if (f in d) (d as unknown as Record<string, number>)[f]! += n;
      }
      addScores(d.ips, ips as string[]);
      addScores(d.agents, uas as string[]);
    });
    return out;
  }

  /** Resolves once connected (tests: a flush before that fails, as it does while Redis is away). */
  ready(): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => this.redis.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch(() => {});
    this.redis.disconnect();
  }
}

/** The keys of one minute share its hash tag. */
function minuteBase(prefix: string, minute: string): string {
  return `${prefix}an:{${minute}}`;
}

function addScores(into: Record<string, number>, flat: string[] | null): void {
  if (!flat) return;
  for (let i = 0; i + 1 < flat.length; i += 2) into[flat[i]!] = (into[flat[i]!] ?? 0) + Number(flat[i + 1]);
}
