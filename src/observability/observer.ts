// Everything a data plane observes about finished requests: the access log, metrics, analytics
// and tracing, configured from the config and swapped on reload. When all of it is off, the data
// plane does no per-request work for it (`active` is false: no clock reads, no records).
import type { GatehouseConfig } from '../config/schema.js';
import type { Exchange } from '../dataplane/exchange.js';
import { AccessLog, accessLogSettings } from './access-log.js';
import { GatewayMetrics, type MetricsSource, type PolicyMetrics } from './metrics.js';
import { Analytics, type AnalyticsWindow } from './analytics/analytics.js';
import { mergeSummaries, reportOf, type Summary } from './analytics/entry.js';
import { RedisAnalytics } from './analytics/redis-store.js';
import { Tracer } from './tracing/tracer.js';
import { findHeader } from '../dataplane/header-list.js';
import type { Logger } from './logger.js';

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

  constructor(private readonly source: Omit<MetricsSource, 'tracing'>, private readonly log: Logger) {}

  /** Applies the observability parts of a config; unchanged parts are kept as they are. */
  configure(config: GatehouseConfig): void {
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

  /** One finished (or abandoned) request. Runs after its response, never before. */
  completed(ex: Exchange): void {
    const durationMs = performance.now() - ex.started;
    const route = ex.route;
    const routeName = route?.name;
    const serviceName = route?.service.name;
    const status = ex.status;
    const consumer = ex.consumer();
    const aborted = !ex.res.writableFinished;
    const trace = ex.trace;
    if (trace !== undefined && trace.sampled) {
      ex.tracer!.end(trace, {
        method: ex.req.method ?? '',
        scheme: (ex.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
        host: ex.host,
        path: ex.path,
        query: ex.query,
        clientIp: ex.client?.ip ?? ex.socket?.remoteAddress,
        userAgent: findHeader(ex.req.rawHeaders, 'user-agent'),
        protocol: ex.req.httpVersion,
        route: routeName,
        service: serviceName,
        status: aborted && status === 0 ? 0 : status,
        errorCode: ex.errorCode,
        requestId: ex.requestId,
        aborted,
      });
    }
    const sock = ex.socket!;
    const bytesOut = sock.bytesWritten - ex.socketWritten;
    const bytesIn = ex.bodyBytesIn(sock.bytesRead - ex.socketRead);
    if (this.metricsOn) {
      this.metrics!.record({
        routeName: routeName ?? '', serviceName: serviceName ?? '', method: ex.req.method ?? '', status, durationMs,
        upstreamMs: ex.upstreamMs, bytesIn, bytesOut, retries: ex.retries, consumer, errorCode: ex.errorCode,
      });
    }
    const a = this.analytics;
    let userAgent: string | undefined;
    if (a !== undefined) {
      userAgent = findHeader(ex.req.rawHeaders, 'user-agent');
      a.record({ route: routeName, service: serviceName, consumer, status, durationMs, errorCode: ex.errorCode, clientIp: ex.client?.ip, userAgent });
    }
    const log = this.accessLog;
    if (log !== undefined && log.wanted(status, ex.errorCode, durationMs)) {
      log.write({
        requestId: ex.requestId,
        traceId: trace?.traceId,
        clientIp: ex.client?.ip ?? sock.remoteAddress,
        consumer,
        method: ex.req.method ?? '',
        host: ex.host,
        path: ex.path,
        route: routeName,
        service: serviceName,
        target: ex.target?.url,
        status,
        bytesIn,
        bytesOut,
        durationMs: round(durationMs),
        upstreamMs: ex.upstreamMs >= 0 ? round(ex.upstreamMs) : undefined,
        rejectedBy: ex.rejectedBy,
        shadowLimited: ex.shadowLimited,
        error: ex.errorCode,
        retries: ex.retries,
        cache: undefined,
        userAgent: log.settings.userAgent ? (userAgent ?? findHeader(ex.req.rawHeaders, 'user-agent')) : undefined,
        aborted,
      });
    }
  }

  reopenLogs(): void {
    this.accessLog?.reopen();
  }

  /** This plane's metrics as prom-client JSON (empty when metrics are off). */
  async metricsJson(): Promise<object[]> {
    return this.metricsOn && this.metrics ? this.metrics.snapshot() : [];
  }

  /** This plane's analytics over a window; with a Redis store, every instance's totals. */
  async analyticsPart(window: AnalyticsWindow): Promise<AnalyticsPart | undefined> {
    const a = this.analytics;
    if (!a) return undefined;
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

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
