// Per-minute analytics of one data plane: a ring of 60 minutes, each a map of entries (one per
// route, service, consumer and operation seen that minute). Memory is bounded: a fixed number of
// minutes, at most `maxConsumers` consumer (and operation) entries a minute (the rest count as "(other)"), and top-k
// sketches of fixed size. A window (1m, 15m, 1h) is this minute so far plus the minutes before it.
import { bucketOf } from './latency-buckets.js';
import { DIMENSIONS, Entry, TOTAL_KEY, mergeSummaries, type AnalyticsSample, type Summary } from './entry.js';

export const WINDOWS = { '1m': 1, '15m': 15, '1h': 60 } as const;
export type AnalyticsWindow = keyof typeof WINDOWS;
const MINUTES = 60;
const MINUTE_MS = 60_000;

interface Minute {
  minute: number;
  entries: Map<string, Entry>;
  consumers: number;
  operations: number;
}

/** Sees each finished request; a store (Redis) may also take them to share across instances. */
export interface AnalyticsSink {
  add(minute: number, key: string, s: AnalyticsSample, bucket: number): void;
}

export class Analytics {
  /** Indexed by minute modulo 60: a slot not yet reached is a hole. */
  private readonly ring: (Minute | undefined)[] = [];
  private readonly topCapacity: number;
  sink: AnalyticsSink | undefined;

  constructor(
    readonly topK: number,
    private readonly now: () => number = Date.now,
    readonly maxConsumers = 1000,
  ) {
    // Space-saving needs more counters than it reports to rank the top ones well.
    this.topCapacity = topK * 4;
  }

  record(s: AnalyticsSample): void {
    const minute = Math.floor(this.now() / MINUTE_MS);
    const slot = minute % MINUTES;
    let m = this.ring[slot];
    if (m === undefined || m.minute !== minute) m = this.ring[slot] = { minute, entries: new Map(), consumers: 0, operations: 0 };
    const bucket = bucketOf(s.durationMs);
    // Every request of the minute: the top client IPs of the whole instance.
    this.entry(m, TOTAL_KEY).add(s, bucket);
    if (s.route !== undefined) this.entry(m, 'route\u0000' + s.route).add(s, bucket);
    if (s.service !== undefined) this.entry(m, 'service\u0000' + s.service).add(s, bucket);
    if (s.consumer !== undefined) {
      const key =
        m.consumers < this.maxConsumers || m.entries.has('consumer\u0000' + s.consumer)
          ? 'consumer\u0000' + s.consumer
          : 'consumer\u0000(other)';
      this.entry(m, key, 'consumers').add(s, bucket);
    }
    // Operation names are the client's: as many a minute as consumers, the rest "(other)" (here and in the sink).
    let operationKey: string | undefined;
    if (s.operation !== undefined) {
      operationKey = 'operation\u0000' + s.operation;
      if (m.operations >= this.maxConsumers && !m.entries.has(operationKey)) operationKey = 'operation\u0000(other)';
      this.entry(m, operationKey, 'operations').add(s, bucket);
    }
    const sink = this.sink;
    if (sink !== undefined) {
      sink.add(minute, TOTAL_KEY, s, bucket);
      if (s.route !== undefined) sink.add(minute, 'route\u0000' + s.route, s, bucket);
      if (s.service !== undefined) sink.add(minute, 'service\u0000' + s.service, s, bucket);
      if (s.consumer !== undefined) sink.add(minute, 'consumer\u0000' + s.consumer, s, bucket);
      if (operationKey !== undefined) sink.add(minute, operationKey, s, bucket);
    }
  }

  private entry(m: Minute, key: string, counted?: 'consumers' | 'operations'): Entry {
    let e = m.entries.get(key);
    if (e === undefined) {
      e = new Entry(this.topCapacity);
      m.entries.set(key, e);
      if (counted !== undefined) m[counted]++;
    }
    return e;
  }

  /** The minutes a window covers, newest first. */
  minutes(window: AnalyticsWindow): number[] {
    const current = Math.floor(this.now() / MINUTE_MS);
    return Array.from({ length: WINDOWS[window] }, (_, i) => current - i);
  }

  /** This plane's counts over a window, as mergeable data. */
  summary(window: AnalyticsWindow): Summary {
    const want = new Set(this.minutes(window));
    const parts: Summary[] = [];
    for (const m of this.ring) {
      if (m === undefined || !want.has(m.minute)) continue;
      const part: Summary = {};
      for (const [k, e] of m.entries) part[k] = e.data();
      parts.push(part);
    }
    return mergeSummaries(parts);
  }
}

export { DIMENSIONS };
