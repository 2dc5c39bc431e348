// Everything a data plane observes about finished requests: the access log, metrics, analytics
// and tracing, configured from the config and swapped on reload. When all of it is off, the data
// plane does no per-request work for it (`active` is false: no clock reads, no records).
import type { GatehouseConfig } from '../config/schema.js';
import { AccessLog, accessLogSettings } from './access-log.js';
import { GatewayMetrics, type MetricsSource, type PolicyMetrics } from './metrics.js';
import { Analytics, type AnalyticsWindow } from './analytics/analytics.js';
import { mergeSummaries, reportOf, type Summary } from './analytics/entry.js';
import { RedisAnalytics } from './analytics/redis-store.js';
import { PerSecond, type SecondData } from './analytics/per-second.js';
import { bucketOf } from './analytics/latency-buckets.js';
import { Tracer } from './tracing/tracer.js';
import type { Logger } from './logger.js';
import type { RequestRecord } from './request-record.js';

/**
 * A config's observability, built but not yet running (Observability.prepare). A part that is
 * present replaces the running one (undefined: that feature turns off); an absent part is kept.
 */
export interface ObservabilityChange {
  readonly config: GatehouseConfig;
  readonly keys: { accessLog: string; tracing: string; analytics: string };
  readonly parts: {
    accessLog?: AccessLog | undefined;
    tracer?: Tracer | undefined;
    analytics?: Analytics | undefined;
    redis?: RedisAnalytics | undefined;
  };
  /** What the config's policies count into (auth failures, rate-limit decisions); undefined when metrics are off. */
  metrics: PolicyMetrics | undefined;
}

/** One data plane's answer to an analytics query. */
export interface AnalyticsPart {
  source: 'local' | 'redis';
  summary: Summary;
  storeError?: string;
}

export class Observability {
  accessLog: AccessLog | undefined;
  tracer: Tracer | undefined;
  analytics: Analytics | undefined;
  /** The last 600 seconds, whatever else is on: the console's live charts (fixed size, a few increments a request). */
  private readonly perSecond = new PerSecond();
  private redis: RedisAnalytics | undefined;
  private metrics: GatewayMetrics | undefined;
  private metricsOn = false;
  private keys = { accessLog: '', tracing: '', analytics: '' };
  /** Some per-request work is configured. */
  active = false;
  /** Records of finished requests not yet seen by the observers (processPending). */
  private pending: RequestRecord[] = [];
  private scheduled = false;

  constructor(
    private readonly source: Omit<MetricsSource, 'tracing'>,
    private readonly log: Logger,
  ) {}

  /** Applies the observability parts of a config; unchanged parts are kept as they are. */
  configure(config: GatehouseConfig): void {
    this.commit(this.prepare(config));
  }

  /**
   * Builds what a config changes (a new access log, tracer, analytics) without touching what
   * runs: a reload that fails later (its plan does not compile) is `discard`ed and leaves this
   * observability as it was. A throw here leaves nothing behind either.
   */
  prepare(config: GatehouseConfig): ObservabilityChange {
    const change: ObservabilityChange = { config, keys: { ...this.keys }, parts: {}, metrics: undefined };
    try {
      const accessKey = JSON.stringify(config.accessLog);
      if (accessKey !== this.keys.accessLog) {
        const s = accessLogSettings(config.accessLog);
        change.parts.accessLog = s && new AccessLog(s);
        change.keys.accessLog = accessKey;
      }
      const tracingKey = JSON.stringify(config.tracing ?? null);
      if (tracingKey !== this.keys.tracing) {
        change.parts.tracer = config.tracing ? new Tracer(config.tracing) : undefined;
        change.keys.tracing = tracingKey;
      }
      const analyticsKey = JSON.stringify([config.analytics, config.store]);
      if (analyticsKey !== this.keys.analytics) {
        const analytics = config.analytics.enabled ? new Analytics(config.analytics.topK) : undefined;
        change.parts.analytics = analytics;
        if (analytics && config.store.type === 'redis') {
          analytics.sink = change.parts.redis = RedisAnalytics.connect(config.store.url!, config.store.prefix, config.analytics.topK * 4);
        } else change.parts.redis = undefined;
        change.keys.analytics = analyticsKey;
      }
    } catch (err) {
      this.discard(change);
      throw err;
    }
    // One registry for every version (counters never go back); it only counts once committed.
    if (config.metrics.enabled)
      change.metrics = this.metrics ??= new GatewayMetrics({ ...this.source, tracing: () => this.tracer?.counts() });
    return change;
  }

  /** Makes a prepared change current; what it replaces is closed. Never throws. */
  commit(change: ObservabilityChange): void {
    this.processPending(); // records taken under the previous settings are observed under them
    const { config, parts } = change;
    if ('accessLog' in parts) {
      this.accessLog?.end();
      this.accessLog = parts.accessLog;
    }
    if ('tracer' in parts) {
      void this.tracer?.close();
      this.tracer = parts.tracer;
    }
    if ('analytics' in parts) {
      void this.redis?.close();
      this.analytics = parts.analytics;
      this.redis = parts.redis;
    }
    this.keys = change.keys;
    this.metricsOn = config.metrics.enabled;
    if (this.metrics) this.metrics.consumerLabel = config.metrics.consumerLabel;
    this.active = this.accessLog !== undefined || this.tracer !== undefined || this.analytics !== undefined || this.metricsOn;
  }

  /** Closes what a prepared change built; what runs is untouched. */
  discard(change: ObservabilityChange): void {
    const { parts } = change;
    parts.accessLog?.end();
    void parts.tracer?.close();
    void parts.redis?.close();
  }

  /**
   * One finished (or abandoned) request. Runs after its response, never before. It only takes
   * the record; the observers see records in batches (processPending), once per turn of the event
   * loop (about 15 records under load): the same code run over many records in a row stays hot
   * in the CPU's caches. The exchange made the record when its request ended (Exchange.record).
   */
  completed(record: RequestRecord): void {
    this.pending.push(record);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.processPending);
    }
  }

  /** Hands the records taken so far to every observer. */
  readonly processPending = (): void => {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const metrics = this.metricsOn ? this.metrics : undefined;
    const log = this.accessLog;
    const a = this.analytics;
    const second = Math.floor(Date.now() / 1000);
    const perSecond = this.perSecond;
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      try {
        const e = r.error;
        perSecond.record(
          second,
          r.status,
          bucketOf(r.durationMs),
          e === 'GW_RATE_LIMITED',
          e === 'GW_UNAUTHORIZED' || e === 'GW_FORBIDDEN',
        );
        if (r.trace !== undefined) r.tracer!.end(r.trace, r);
        if (metrics !== undefined) metrics.record(r);
        if (a !== undefined) {
          a.record({
            route: r.route,
            service: r.service,
            consumer: r.consumer,
            operation:
              r.operation === undefined
                ? undefined
                : r.operation.name === undefined
                  ? r.operation.type
                  : `${r.operation.type} ${r.operation.name}`,
            status: r.status,
            durationMs: r.durationMs,
            errorCode: r.error,
            clientIp: r.clientIp,
            userAgent: r.userAgent,
          });
        }
        if (log !== undefined && log.wanted(r)) log.write(r);
      } catch (err) {
        // Observing must never take a request (or the process) down.
        this.log.error({ err, requestId: r.requestId }, 'observing a finished request failed');
      }
    }
  };

  reopenLogs(): void {
    this.processPending();
    this.accessLog?.reopen();
  }

  /** This plane's metrics as prom-client JSON (empty when metrics are off). */
  async metricsJson(): Promise<object[]> {
    this.processPending();
    return this.metricsOn && this.metrics ? this.metrics.snapshot() : [];
  }

  /** This plane's analytics over a window; with a Redis store, every instance's totals. */
  async analyticsPart(window: AnalyticsWindow): Promise<AnalyticsPart | undefined> {
    const a = this.analytics;
    if (!a) return undefined;
    this.processPending();
    if (this.redis) {
      try {
        return { source: 'redis', summary: await this.redis.read(a.minutes(window), a.topK) };
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'analytics: the Redis store could not be read; showing this instance only');
        return { source: 'local', summary: a.summary(window), storeError: (err as Error).message };
      }
    }
    return { source: 'local', summary: a.summary(window) };
  }

  /** This plane's last `seconds` seconds (the seconds that saw requests). */
  timeseries(seconds: number): SecondData[] {
    this.processPending();
    return this.perSecond.read(Math.floor(Date.now() / 1000), seconds);
  }

  async close(): Promise<void> {
    this.processPending();
    this.accessLog?.end();
    await Promise.all([this.tracer?.close(), this.redis?.close()]);
  }
}

/** Merges the planes' answers: Redis totals already cover every plane; local ones are added up. */
export function analyticsReport(parts: AnalyticsPart[], window: AnalyticsWindow, topK: number): object {
  const redis = parts.find((p) => p.source === 'redis');
  const merged: Summary = redis ? redis.summary : mergeSummaries(parts.map((p) => p.summary));
  const storeError = parts.find((p) => p.storeError)?.storeError;
  return {
    window,
    source: redis ? 'redis' : 'local',
    planes: parts.length,
    ...(storeError ? { storeError } : {}),
    ...reportOf(merged, topK),
  };
}
