// Prometheus metrics of one data plane (one process). Each data plane has its own prom-client
// Registry (never the global one), so several gateways in one process never share series. With
// workers, the admin API asks every worker for `getMetricsAsJSON()` and adds them up with
// prom-client's AggregatorRegistry (see metrics-endpoint.ts).
//
// Label cardinality is bounded by the config: route and service names, the method (unknown
// methods become OTHER), the status class. Never raw paths. Consumers only with
// `metrics.consumerLabel: true`, in a metric of their own.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServiceState } from '../upstream/service-state.js';

/** What policies may count (given to them through PolicyEnv.metrics). */
export interface PolicyMetrics {
  /** An authentication or authorisation refusal. `reason` is a small fixed set. */
  authFailure(policy: string, reason: AuthFailureReason): void;
  /**
   * A rate-limit decision, exposed as `gatehouse_ratelimit_decisions_total{route,decision}`.
   * For the rate-limit policy: call it once per request it decides on.
   */
  rateLimit(route: string, decision: RateLimitDecision): void;
}

export type AuthFailureReason = 'missing' | 'invalid' | 'forbidden';
export type RateLimitDecision = 'allowed' | 'limited' | 'shadow';

/** The per-request facts the metrics need (an Exchange provides them). */
export interface MetricsSample {
  routeName: string;
  serviceName: string;
  method: string;
  status: number;
  durationMs: number;
  upstreamMs: number;
  bytesIn: number;
  bytesOut: number;
  retries: number;
  consumer: string | undefined;
}

export interface MetricsSource {
  inflight(): number;
  services(): ServiceState[];
  tracing?(): { exported: number; dropped: number } | undefined;
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT']);
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface RouteSeries {
  duration: ReturnType<Histogram['labels']>;
  upstream: ReturnType<Histogram['labels']>;
  bytesIn: ReturnType<Counter['labels']>;
  bytesOut: ReturnType<Counter['labels']>;
  retries: ReturnType<Counter['labels']>;
  /** `${method} ${statusClass}` → its requests child. */
  requests: Map<string, ReturnType<Counter['labels']>>;
}

export class GatewayMetrics implements PolicyMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter;
  private readonly consumerRequests: Counter;
  private readonly duration: Histogram;
  private readonly upstream: Histogram;
  private readonly bytesIn: Counter;
  private readonly bytesOut: Counter;
  private readonly retries: Counter;
  private readonly auth: Counter;
  private readonly rateLimits: Counter;
  private readonly series = new Map<string, RouteSeries>();
  consumerLabel = false;

  constructor(source: MetricsSource, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'gatehouse_requests_total', help: 'Requests answered, by route, service, method and status class.', labelNames: ['route', 'service', 'method', 'status_class'], registers });
    this.consumerRequests = new Counter({ name: 'gatehouse_consumer_requests_total', help: 'Requests by consumer (only with metrics.consumerLabel: true).', labelNames: ['route', 'consumer', 'status_class'], registers });
    this.duration = new Histogram({ name: 'gatehouse_request_duration_seconds', help: 'Total time from request to the end of the response.', labelNames: ['route', 'service'], buckets: LATENCY_BUCKETS, registers });
    this.upstream = new Histogram({ name: 'gatehouse_upstream_duration_seconds', help: 'Time from the first upstream attempt to the upstream response headers (gateway overhead = total - upstream).', labelNames: ['route', 'service'], buckets: LATENCY_BUCKETS, registers });
    this.bytesIn = new Counter({ name: 'gatehouse_request_bytes_total', help: 'Request body bytes received from clients.', labelNames: ['route', 'service'], registers });
    this.bytesOut = new Counter({ name: 'gatehouse_response_bytes_total', help: 'Response bytes sent to clients (head and body).', labelNames: ['route', 'service'], registers });
    this.retries = new Counter({ name: 'gatehouse_upstream_retries_total', help: 'Upstream retries (tries after the first).', labelNames: ['route', 'service'], registers });
    this.auth = new Counter({ name: 'gatehouse_auth_failures_total', help: 'Authentication and authorisation refusals by policy and reason (missing, invalid, forbidden).', labelNames: ['policy', 'reason'], registers });
    this.rateLimits = new Counter({ name: 'gatehouse_ratelimit_decisions_total', help: 'Rate-limit decisions by route (allowed, limited, shadow).', labelNames: ['route', 'decision'], registers });
    new Gauge({
      name: 'gatehouse_requests_in_flight', help: 'Requests being served now.', registers,
      collect() { this.set(source.inflight()); },
    });
    new Gauge({
      name: 'gatehouse_target_healthy', help: 'Whether a target gets traffic (1) or not (0): active checks and passive ejection. With workers: the minimum over workers.',
      labelNames: ['service', 'target'], registers, aggregator: 'min',
      collect() {
        this.reset();
        for (const s of source.services()) {
          const now = s.clock.now();
          for (const m of s.members) {
            const h = s.targets.get(m.key);
            if (h) this.set({ service: s.name, target: h.url }, h.available(now) ? 1 : 0);
          }
        }
      },
    });
    new Gauge({
      name: 'gatehouse_circuit_breaker_state', help: 'Circuit breaker state per service: 1 for the current state (closed, open, half-open). With workers: the maximum over workers.',
      labelNames: ['service', 'state'], registers, aggregator: 'max',
      collect() {
        this.reset();
        for (const s of source.services()) {
          const b = s.breaker;
          if (!b) continue;
          for (const st of ['closed', 'open', 'half-open'] as const) this.set({ service: s.name, state: st }, b.state === st ? 1 : 0);
        }
      },
    });
    if (source.tracing) {
      const tracing = source.tracing;
      new Counter({
        name: 'gatehouse_tracing_spans_exported_total', help: 'Spans sent to the OTLP collector.', registers,
        collect() { const t = tracing(); if (t) { this.reset(); this.inc(t.exported); } },
      });
      new Counter({
        name: 'gatehouse_tracing_spans_dropped_total', help: 'Spans dropped: the export queue was full or the collector failed.', registers,
        collect() { const t = tracing(); if (t) { this.reset(); this.inc(t.dropped); } },
      });
    }
    // Process metrics and event-loop lag (nodejs_eventloop_lag_*), per process.
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Called once per finished request (off the response path: after it was sent). */
  record(s: MetricsSample): void {
    const key = s.routeName + '\0' + s.serviceName;
    let r = this.series.get(key);
    if (r === undefined) {
      r = {
        duration: this.duration.labels(s.routeName, s.serviceName),
        upstream: this.upstream.labels(s.routeName, s.serviceName),
        bytesIn: this.bytesIn.labels(s.routeName, s.serviceName),
        bytesOut: this.bytesOut.labels(s.routeName, s.serviceName),
        retries: this.retries.labels(s.routeName, s.serviceName),
        requests: new Map(),
      };
      this.series.set(key, r);
    }
    const cls = statusClass(s.status);
    const method = KNOWN_METHODS.has(s.method) ? s.method : 'OTHER';
    const rk = method + ' ' + cls;
    let req = r.requests.get(rk);
    if (req === undefined) {
      req = this.requests.labels(s.routeName, s.serviceName, method, cls);
      r.requests.set(rk, req);
    }
    req.inc();
    r.duration.observe(s.durationMs / 1000);
    if (s.upstreamMs >= 0) r.upstream.observe(s.upstreamMs / 1000);
    if (s.bytesIn > 0) r.bytesIn.inc(s.bytesIn);
    if (s.bytesOut > 0) r.bytesOut.inc(s.bytesOut);
    if (s.retries > 0) r.retries.inc(s.retries);
    if (this.consumerLabel && s.consumer !== undefined) this.consumerRequests.labels(s.routeName, s.consumer, cls).inc();
  }

  authFailure(policy: string, reason: AuthFailureReason): void {
    this.auth.labels(policy, reason).inc();
  }

  rateLimit(route: string, decision: RateLimitDecision): void {
    this.rateLimits.labels(route, decision).inc();
  }

  /** This plane's metrics as JSON (what the admin API aggregates). */
  snapshot(): Promise<object[]> {
    return this.registry.getMetricsAsJSON() as Promise<object[]>;
  }
}

export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${(status / 100) | 0}xx` : 'none';
}
