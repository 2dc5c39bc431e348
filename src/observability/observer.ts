// Everything a data plane observes about finished requests: the access log, metrics, analytics
// and tracing, configured from the config and swapped on reload. When all of it is off, the data
// plane does no per-request work for it (`active` is false: no clock reads, no records).
import type { GatehouseConfig } from '../config/schema.js';
import { AccessLog, accessLogSettings } from './access-log.js';
import { GatewayMetrics, type MetricsSource, type PolicyMetrics } from './metrics.js';
import { Analytics, type AnalyticsWindow } from './analytics/analytics.js';
import { mergeSummaries, reportOf, type Summary } from './analytics/entry.js';
import { RedisAnalytics } from './analytics/redis-store.js';
import { Tracer } from './tracing/tracer.js';
import type { Logger } from './logger.js';
import type { RequestRecord } from './request-record.js';

/** One data plane's answer to an analytics query. */
export interface AnalyticsPart { source: 'local' | 'redis'; summary: Summary; storeError?: string }

export class Observability {
  accessLog: AccessLog | undefined;
  tracer: Tracer | undefined;
  analytics: Analytics | undefined;
  private redis: RedisAnalytics | undefined;
  private metrics: GatewayMetrics | undefined;
  private metricsOn = false;
  private keys = { accessLog: '', tracing: '', analytics: '' };
  /** Some per-request work is configured. */
  active = false;
  /** Records of finished requests not yet seen by the observers (processPending). */
  private pending: RequestRecord[] = [];
  private scheduled = false;

  constructor(private readonly source: Omit<MetricsSource, 'tracing'>, private readonly log: Logger) {}

  /** Applies the observability parts of a config; unchanged parts are kept as they are. */
  configure(config: GatehouseConfig): void {
    this.processPending(); // records taken under the previous settings are observed under them
    const accessKey = JSON.stringify(config.accessLog);
    if (accessKey !== this.keys.accessLog) {
      this.accessLog?.end();
      const s = accessLogSettings(config.accessLog);
      this.accessLog = s && new AccessLog(s);
      this.keys.accessLog = accessKey;
    }
    const tracingKey = JSON.stringify(config.tracing ?? null);
    if (tracingKey !== this.keys.tracing) {
      void this.tracer?.close();
      this.tracer = config.tracing ? new Tracer(config.tracing) : undefined;
      this.keys.tracing = tracingKey;
    }
    const analyticsKey = JSON.stringify([config.analytics, config.store]);
    if (analyticsKey !== this.keys.analytics) {
      void this.redis?.close();
      this.redis = undefined;
      this.analytics = config.analytics.enabled ? new Analytics(config.analytics.topK) : undefined;
      if (this.analytics && config.store.type === 'redis') {
        this.redis = RedisAnalytics.connect(config.store.url!, config.store.prefix, config.analytics.topK * 4);
        this.analytics.sink = this.redis;
      }
      this.keys.analytics = analyticsKey;
    }
    this.metricsOn = config.metrics.enabled;
    if (this.metricsOn && !this.metrics) {
      this.metrics = new GatewayMetrics({ ...this.source, tracing: () => this.tracer?.counts() });
    }
    if (this.metrics) this.metrics.consumerLabel = config.metrics.consumerLabel;
    this.active = this.accessLog !== undefined || this.tracer !== undefined || this.analytics !== undefined || this.metricsOn;
  }

  /** What policies count into (auth failures, rate-limit decisions). */
  get policyMetrics(): PolicyMetrics | undefined {
    return this.metricsOn ? this.metrics : undefined;
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
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      try {
        if (r.trace !== undefined) r.tracer!.end(r.trace, r);
        if (metrics !== undefined) metrics.record(r);
        if (a !== undefined) {
          a.record({ route: r.route, service: r.service, consumer: r.consumer, status: r.status, durationMs: r.durationMs, errorCode: r.error, clientIp: r.clientIp, userAgent: r.userAgent });
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
  return { window, source: redis ? 'redis' : 'local', planes: parts.length, ...(storeError ? { storeError } : {}), ...reportOf(merged, topK) };
}

