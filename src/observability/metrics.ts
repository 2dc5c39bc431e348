// Prometheus metrics of one data plane (one process). Each data plane has its own prom-client
// Registry (never the global one), so several gateways in one process never share series. With
// workers, the admin API asks every worker for `getMetricsAsJSON()` and adds them up with
// prom-client's AggregatorRegistry (see metrics-endpoint.ts).
//
// The per-request series are plain numbers on the hot path (prom-client's labelled children hash
// their labels on every observe); they are turned into prom-client's JSON form when scraped, and
// prom-client does the rest: gauges read at scrape time, process metrics, aggregation, the text.
//
// Label cardinality is bounded by the config: route and service names, the method (unknown
// methods become OTHER), the status class. Never raw paths. Consumers only with
// `metrics.consumerLabel: true`, in a metric of their own.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServiceState } from '../upstream/service-state.js';
import type { StoreHealth } from '../store/health.js';
import type { CacheStats } from '../store/cache/types.js';
import type { CallRecord, RequestRecord } from './request-record.js';
import { registerWebSocketMetrics, type WebSocketRouteStats } from './websocket-metrics.js';
import { CLASSES, Hist, LabelledCounts, classIndex } from './metric-parts.js';
import { OperationMetrics } from './operation-metrics.js';

/** What policies may count (given to them through PolicyEnv.metrics). */
export interface PolicyMetrics {
  /** An authentication or authorisation refusal. `reason` is a small fixed set. */
  authFailure(policy: string, reason: AuthFailureReason): void;
  /**
   * A rate-limit decision, exposed as `gatehouse_ratelimit_decisions_total{route,decision}`.
   * For the rate-limit policy: call it once per request it decides on.
   */
  rateLimit(route: string, decision: RateLimitDecision): void;
  /**
   * A request or response a validator found invalid, exposed as
   * `gatehouse_validation_failures_total{route,in}` (`in`: body, query, headers, params, response).
   */
  validationFailure(route: string, where: ValidationPart): void;
  /**
   * What a cache did with a request, exposed as `gatehouse_cache_requests_total{route,result}`;
   * `stored` adds to `gatehouse_cache_stored_bytes_total{route}`, a store failure to
   * `gatehouse_cache_store_errors_total{route}`.
   */
  cache(route: string, result: CacheResult): void;
  cacheStored(route: string, bytes: number): void;
  cacheStoreError(route: string): void;
}

export type CacheResult = 'hit' | 'stale' | 'miss' | 'revalidated' | 'coalesced' | 'bypass';

export type ValidationPart = 'body' | 'query' | 'headers' | 'params' | 'response';

export type AuthFailureReason = 'missing' | 'invalid' | 'forbidden';
export type RateLimitDecision = 'allowed' | 'limited' | 'shadow';

export interface MetricsSource {
  inflight(): number;
  /** Requests shed by load shedding so far (answered before any routing). */
  shed?: () => number;
  /** Route plans this data plane compiled so far (a consumer change compiles none). */
  planCompiles?: () => number;
  services(): ServiceState[];
  tracing?: () => { exported: number; dropped: number } | undefined;
  /** The cache policies' stores (entries, bytes, evictions). */
  cacheStores?: () => Promise<CacheStats[]>;
  /** The rate-limit stores that can fail (Redis, or a worker's primary). */
  stores?: () => StoreHealth[];
  /** WebSocket connections per route and service (websocket-metrics.ts). */
  websockets?: () => Iterable<WebSocketRouteStats>;
  /** The certificates the TLS listeners serve now (they change on reload and when their files do). */
  certificates?: () => readonly CertificateExpiry[];
}

/** One served certificate, for the expiry gauge. */
export interface CertificateExpiry {
  listener: string;
  /** Its first name (DNS SAN or CN), or its subject. */
  name: string;
  fingerprint: string;
  notAfterMs: number;
}

/** Methods with a label of their own; any other is counted as OTHER (the last index). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'OTHER'] as const;
const METHOD_INDEX = new Map<string, number>(METHODS.map((m, i) => [m, i]));

interface RouteSeries {
  labels: { route: string; service: string };
  duration: Hist;
  upstream: Hist;
  bytesIn: number;
  bytesOut: number;
  retries: number;
  /** Gateway error code → count. */
  errors: Map<string, number>;
  /** Requests by METHODS index × CLASSES.length + class index. */
  requests: Float64Array;
}

const HELP = {
  requests: 'Requests answered, by route, service, method and status class.',
  consumer: 'Requests by consumer (only with metrics.consumerLabel: true).',
  duration: 'Total time from request to the end of the response.',
  upstream: 'Time from the first upstream attempt to the upstream response headers (gateway overhead = total - upstream).',
  bytesIn: 'Request body bytes received from clients.',
  bytesOut: 'Response bytes sent to clients (head and body).',
  retries: 'Upstream retries (tries after the first).',
  errors: 'Answers the gateway gave itself, by route, service and error code (GW_...).',
  auth: 'Authentication and authorisation refusals by policy and reason (missing, invalid, forbidden).',
  rateLimit: 'Rate-limit decisions by route (allowed, limited, shadow).',
  validation: 'Requests and responses a request-validator found invalid, by route and part (body, query, headers, params, response).',
  cache: 'Requests a cache policy looked up, by route and result (hit, stale, miss, revalidated, coalesced, bypass).',
  cacheStored: 'Response bytes a cache policy stored, by route.',
  cacheErrors: 'Cache store operations that failed (the request was served from the service), by route.',
  composeCalls:
    'Service requests composite routes made, by route, call, service and outcome (a status class, or why there was none: timeout, too-large, cancelled, a GW_ code).',
  composeDuration: 'Time a composite route’s service request took, by route and call (whole answer read).',
};

export class GatewayMetrics implements PolicyMetrics {
  readonly registry = new Registry();
  /** Route name → service name → series. */
  private readonly series = new Map<string, Map<string, RouteSeries>>();
  private readonly consumers = new LabelledCounts(['route', 'consumer', 'status_class']);
  private readonly auth = new LabelledCounts(['policy', 'reason']);
  private readonly rateLimits = new LabelledCounts(['route', 'decision']);
  private readonly validation = new LabelledCounts(['route', 'in']);
  private readonly cacheResults = new LabelledCounts(['route', 'result']);
  private readonly cacheBytes = new LabelledCounts(['route']);
  private readonly cacheErrors = new LabelledCounts(['route']);
  private readonly composeCalls = new LabelledCounts(['route', 'call', 'service', 'outcome']);
  private readonly operations = new OperationMetrics();
  /** Route name + call name → its duration histogram. */
  private readonly composeDurations = new Map<string, { labels: Record<string, string>; hist: Hist }>();
  consumerLabel = false;

  constructor(source: MetricsSource, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    new Gauge({
      name: 'gatehouse_requests_in_flight',
      help: 'Requests being served now.',
      registers,
      collect() {
        this.set(source.inflight());
      },
    });
    new Gauge({
      name: 'gatehouse_target_healthy',
      help: 'Whether a target gets traffic (1) or not (0): active checks and passive ejection. With workers: the minimum over workers.',
      labelNames: ['service', 'target'],
      registers,
      aggregator: 'min',
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
      name: 'gatehouse_circuit_breaker_state',
      help: 'Circuit breaker state per service: 1 for the current state (closed, open, half-open). With workers: the maximum over workers.',
      labelNames: ['service', 'state'],
      registers,
      aggregator: 'max',
      collect() {
        this.reset();
        for (const s of source.services()) {
          const b = s.breaker;
          if (!b) continue;
          for (const st of ['closed', 'open', 'half-open'] as const) this.set({ service: s.name, state: st }, b.state === st ? 1 : 0);
        }
      },
    });
    if (source.shed) {
      const shed = source.shed;
      new Counter({
        name: 'gatehouse_shed_requests_total',
        help: 'Requests answered 503 GW_OVERLOADED by load shedding, before any routing.',
        registers,
        collect() {
          this.reset();
          this.inc(shed());
        },
      });
    }
    if (source.planCompiles) {
      const compiles = source.planCompiles;
      new Counter({
        name: 'gatehouse_plan_compiles_total',
        help: 'Route plans compiled by the data planes: one at start and one per whole-config reload; a consumer change (an admin consumer edit, or a config store version that changes consumers only) compiles none. With workers: the sum over workers.',
        registers,
        collect() {
          this.reset();
          this.inc(compiles());
        },
      });
    }
    if (source.tracing) {
      const tracing = source.tracing;
      new Counter({
        name: 'gatehouse_tracing_spans_exported_total',
        help: 'Spans sent to the OTLP collector.',
        registers,
        collect() {
          const t = tracing();
          if (t) {
            this.reset();
            this.inc(t.exported);
          }
        },
      });
      new Counter({
        name: 'gatehouse_tracing_spans_dropped_total',
        help: 'Spans dropped: the export queue was full or the collector failed.',
        registers,
        collect() {
          const t = tracing();
          if (t) {
            this.reset();
            this.inc(t.dropped);
          }
        },
      });
    }
    if (source.stores) {
      const stores = source.stores;
      new Counter({
        name: 'gatehouse_store_errors_total',
        help: 'Store operations that failed — rate-limit decisions (answered per onStoreError; op: the algorithm) and cache reads and writes (served from the service; op: cache-get, cache-put…) — by store, op and reason (timeout, error, breaker_open).',
        labelNames: ['store', 'op', 'reason'],
        registers,
        collect() {
          this.reset();
          for (const h of stores()) for (const e of h.errorCounts()) this.inc({ store: h.name, op: e.op, reason: e.reason }, e.count);
        },
      });
      new Gauge({
        name: 'gatehouse_store_up',
        help: 'Whether a store that can fail (rate limits, cache) answers (1) or not (0), by its last call or connection attempt. With workers: the minimum over workers.',
        labelNames: ['store'],
        registers,
        aggregator: 'min',
        collect() {
          this.reset();
          const up = new Map<string, number>();
          for (const h of stores()) up.set(h.name, Math.min(up.get(h.name) ?? 1, h.state === 'down' ? 0 : 1));
          for (const [store, v] of up) this.set({ store }, v);
        },
      });
    }
    if (source.cacheStores) {
      const cacheStores = source.cacheStores;
      /** A store's figure summed by store label (memory stores of several routes, or workers); -1 (unknown) left out. */
      const sums = async (pick: (st: CacheStats) => number) => {
        const out = new Map<string, number>();
        for (const st of await cacheStores()) if (pick(st) >= 0) out.set(st.store, (out.get(st.store) ?? 0) + pick(st));
        return out;
      };
      const gauge = (name: string, help: string, pick: (st: CacheStats) => number) =>
        new Gauge({
          name,
          help,
          labelNames: ['store'],
          registers,
          async collect() {
            this.reset();
            for (const [store, v] of await sums(pick)) this.set({ store }, v);
          },
        });
      gauge('gatehouse_cache_entries', 'Keys a cache store holds (memory stores; with workers, summed).', (st) => st.entries);
      gauge(
        'gatehouse_cache_bytes',
        'Bytes a memory cache store holds: bodies, fields and overhead (with workers, summed).',
        (st) => st.bytes,
      );
      new Counter({
        name: 'gatehouse_cache_evictions_total',
        help: 'Entries a memory cache store dropped to make room (with workers, summed).',
        labelNames: ['store'],
        registers,
        async collect() {
          this.reset();
          for (const [store, v] of await sums((st) => st.evictions)) this.inc({ store }, v);
        },
      });
    }
    if (source.certificates) {
      const certificates = source.certificates;
      new Gauge({
        name: 'gatehouse_tls_certificate_expiry_seconds',
        help: 'Seconds until a served certificate expires (negative: expired), by listener, name and SHA-256 fingerprint. With workers: the minimum over workers.',
        labelNames: ['listener', 'name', 'fingerprint'],
        registers,
        aggregator: 'min',
        collect() {
          this.reset();
          const now = Date.now();
          for (const c of certificates())
            this.set({ listener: c.listener, name: c.name, fingerprint: c.fingerprint }, Math.round((c.notAfterMs - now) / 1000));
        },
      });
    }
    if (source.websockets) registerWebSocketMetrics(registers, source.websockets);
    // Process metrics and event-loop lag (nodejs_eventloop_lag_*), per process.
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Called once per finished request (off the response path: after it was sent). Route and
   * service names come from the config, so the nested lookups hash no new string.
   */
  record(s: RequestRecord): void {
    const routeName = s.route ?? '';
    const serviceName = s.service ?? '';
    let byService = this.series.get(routeName);
    if (byService === undefined) this.series.set(routeName, (byService = new Map<string, RouteSeries>()));
    let r = byService.get(serviceName);
    if (r === undefined) {
      r = {
        labels: { route: routeName, service: serviceName },
        duration: new Hist(),
        upstream: new Hist(),
        bytesIn: 0,
        bytesOut: 0,
        retries: 0,
        errors: new Map(),
        requests: new Float64Array(METHODS.length * CLASSES.length),
      };
      byService.set(serviceName, r);
    }
    const cls = classIndex(s.status);
    r.requests[(METHOD_INDEX.get(s.method) ?? METHODS.length - 1) * CLASSES.length + cls]!++;
    if (s.upstreamMs !== undefined) r.upstream.observe(s.upstreamMs / 1000);
    if (s.status !== 101) {
      // A WebSocket (101) lasts as long as its connection: its time and bytes are in gatehouse_websocket_*.
      r.duration.observe(s.durationMs / 1000);
      r.bytesIn += s.bytesIn;
      r.bytesOut += s.bytesOut;
    }
    r.retries += s.retries;
    if (s.error !== undefined) r.errors.set(s.error, (r.errors.get(s.error) ?? 0) + 1);
    if (s.calls !== undefined) this.recordCalls(routeName, s.calls);
    if (s.operation !== undefined) this.operations.record(s);
    if (this.consumerLabel && s.consumer !== undefined) this.consumers.inc([routeName, s.consumer, CLASSES[cls]!]);
  }

  private recordCalls(route: string, calls: readonly CallRecord[]): void {
    for (const c of calls) {
      const outcome = typeof c.outcome === 'number' ? CLASSES[classIndex(c.outcome)]! : c.outcome;
      this.composeCalls.inc([route, c.label, c.service, outcome]);
      const key = route + '\u0000' + c.label;
      let d = this.composeDurations.get(key);
      if (d === undefined) this.composeDurations.set(key, (d = { labels: { route, call: c.label }, hist: new Hist() }));
      d.hist.observe(c.ms / 1000);
    }
  }

  authFailure(policy: string, reason: AuthFailureReason): void {
    this.auth.inc([policy, reason]);
  }

  rateLimit(route: string, decision: RateLimitDecision): void {
    this.rateLimits.inc([route, decision]);
  }

  validationFailure(route: string, where: ValidationPart): void {
    this.validation.inc([route, where]);
  }

  cache(route: string, result: CacheResult): void {
    this.cacheResults.inc([route, result]);
  }

  cacheStored(route: string, bytes: number): void {
    this.cacheBytes.inc([route], bytes);
  }

  cacheStoreError(route: string): void {
    this.cacheErrors.inc([route]);
  }

  /** This plane's metrics as prom-client JSON (what the admin API aggregates). */
  async snapshot(): Promise<object[]> {
    const all = [...this.series.values()].flatMap((byService) => [...byService.values()]);
    const counter = (name: string, help: string, values: object[]) => ({ name, help, type: 'counter', values, aggregator: 'sum' });
    const histogram = (name: string, help: string, pick: (r: RouteSeries) => Hist) => ({
      name,
      help,
      type: 'histogram',
      values: all.flatMap((r) => pick(r).values(name, r.labels)),
      aggregator: 'sum',
    });
    const own = [
      counter(
        'gatehouse_requests_total',
        HELP.requests,
        all.flatMap((r) => requestValues(r)),
      ),
      counter('gatehouse_consumer_requests_total', HELP.consumer, this.consumers.values()),
      histogram('gatehouse_request_duration_seconds', HELP.duration, (r) => r.duration),
      histogram('gatehouse_upstream_duration_seconds', HELP.upstream, (r) => r.upstream),
      counter(
        'gatehouse_request_bytes_total',
        HELP.bytesIn,
        all.map((r) => ({ value: r.bytesIn, labels: r.labels })),
      ),
      counter(
        'gatehouse_response_bytes_total',
        HELP.bytesOut,
        all.map((r) => ({ value: r.bytesOut, labels: r.labels })),
      ),
      counter(
        'gatehouse_upstream_retries_total',
        HELP.retries,
        all.map((r) => ({ value: r.retries, labels: r.labels })),
      ),
      counter(
        'gatehouse_gateway_errors_total',
        HELP.errors,
        all.flatMap((r) => [...r.errors].map(([code, n]) => ({ value: n, labels: { ...r.labels, code } }))),
      ),
      counter('gatehouse_auth_failures_total', HELP.auth, this.auth.values()),
      counter('gatehouse_ratelimit_decisions_total', HELP.rateLimit, this.rateLimits.values()),
      counter('gatehouse_validation_failures_total', HELP.validation, this.validation.values()),
      counter('gatehouse_cache_requests_total', HELP.cache, this.cacheResults.values()),
      counter('gatehouse_cache_stored_bytes_total', HELP.cacheStored, this.cacheBytes.values()),
      counter('gatehouse_cache_store_errors_total', HELP.cacheErrors, this.cacheErrors.values()),
      counter('gatehouse_compose_calls_total', HELP.composeCalls, this.composeCalls.values()),
      {
        name: 'gatehouse_compose_call_duration_seconds',
        help: HELP.composeDuration,
        type: 'histogram',
        values: [...this.composeDurations.values()].flatMap((d) => d.hist.values('gatehouse_compose_call_duration_seconds', d.labels)),
        aggregator: 'sum',
      },
      ...this.operations.metrics(),
    ];
    return [...own, ...((await this.registry.getMetricsAsJSON()) as object[])];
  }
}

function requestValues(r: RouteSeries): object[] {
  const out: object[] = [];
  for (let i = 0; i < r.requests.length; i++) {
    const n = r.requests[i]!;
    if (n > 0)
      out.push({
        value: n,
        labels: { ...r.labels, method: METHODS[(i / CLASSES.length) | 0]!, status_class: CLASSES[i % CLASSES.length]! },
      });
  }
  return out;
}
