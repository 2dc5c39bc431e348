// A service at run time, for one config version: its targets, the balancer that picks among the
// available ones, and the settings its requests follow (timeouts, retries, fallback). The state
// that must outlive the version (health, breaker, budget, queue) lives in ServiceState.
import type { GrpcRetrySettings } from './grpc-retry.js';
import { grpcStatusNumbers } from '../config/grpc-retry-schema.js';
import type { UpstreamPool } from './pool-registry.js';
import type { ServiceConfig } from '../config/schema.js';
import { parseDuration, parseSize } from '../config/units.js';
import type { Balancer, BalancerTarget } from './balancers/balancer.js';
import { compileHashOn, createBalancer, type HashKeyFn } from './balancers/index.js';
import type { ServiceState } from './service-state.js';
import type { Member } from './members.js';
import type { TargetHealth } from './target-health.js';
import type { RequestContext } from '../policies/types.js';

export interface TargetRuntime extends BalancerTarget {
  url: string;
  /** scheme://host:port */
  origin: string;
  /** Path of the target URL without trailing slash ("" for none); prefixed to every request. */
  basePath: string;
  /** The Host header the target expects (host[:port]). */
  host: string;
  dispatcher: UpstreamPool;
  poolKey: string;
  health: TargetHealth;
}

export interface ServiceTimeouts {
  connect: number;
  response: number;
  idle: number;
}

export interface RetrySettings {
  attempts: number;
  onStatus: ReadonlySet<number>;
  onConnectError: boolean;
  onTimeout: boolean;
  baseMs: number;
  maxMs: number;
  /** Time to response headers for each try. */
  perTryTimeoutMs: number;
  bodyLimit: number;
  methods: ReadonlySet<string>;
  /** gRPC methods retried, and the trailers-only statuses that are (undefined: none configured). */
  grpc: GrpcRetrySettings | undefined;
}

export interface FallbackResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What a config version needs from the process that serves it. */
export interface UpstreamHost {
  connect(origin: string, svc: ServiceConfig, servername?: string): { key: string; dispatcher: UpstreamPool };
  /** Gives back a pool obtained with `connect`. */
  release(poolKey: string): void;
  /** The long-lived state of a service (created on first use). */
  serviceState(name: string): ServiceState;
}

export class ServiceRuntime {
  /** The current targets: one per member (a DNS name expands to one per address). */
  targets: TargetRuntime[] = [];
  readonly timeouts: ServiceTimeouts;
  readonly retry: RetrySettings | undefined;
  readonly fallback: FallbackResponse | undefined;
  readonly hashOn: string | undefined;
  /** The request's key for consistent-hash; undefined for other balancers. */
  readonly hashKey: ((ctx: RequestContext) => string | undefined) | undefined;
  /** True while the service is spreading over every target because too few are healthy. */
  panic = false;
  private readonly balancer: Balancer<TargetRuntime>;
  private readonly panicThreshold: number;
  private readonly weights: Map<string, number>;
  private byKey = new Map<string, TargetRuntime>();
  private members: readonly Member[] | undefined;
  private available = 0;
  private unsubscribe: () => void = () => {};

  constructor(
    readonly name: string,
    readonly config: ServiceConfig,
    readonly state: ServiceState,
    private readonly host: UpstreamHost,
  ) {
    this.timeouts = {
      connect: parseDuration(config.timeouts.connect),
      response: parseDuration(config.timeouts.response),
      idle: parseDuration(config.timeouts.idle),
    };
    this.retry = compileRetries(config, this.timeouts.response);
    this.fallback = config.circuitBreaker?.fallback;
    this.hashOn = config.balancer === 'consistent-hash' ? config.hashOn : undefined;
    this.hashKey = this.hashOn !== undefined ? hashKeyOf(compileHashOn(this.hashOn)) : undefined;
    this.panicThreshold = config.healthCheck?.panicThreshold ?? 0;
    this.weights = new Map(config.targets.map((t) => [t.url, t.weight]));
    this.balancer = createBalancer<TargetRuntime>(config.balancer);
    state.configure(config);
    this.refresh();
  }

  onStart(t: TargetRuntime): void {
    this.balancer.onStart(t);
    t.health.inFlight++;
  }

  onEnd(t: TargetRuntime, latencyMs: number): void {
    this.balancer.onEnd(t, latencyMs);
    const h = t.health;
    h.inFlight--;
    h.latencyMs = h.latencyMs === undefined ? latencyMs : h.latencyMs + (latencyMs - h.latencyMs) / 8;
  }

  /** Starts following health and DNS changes (only for versions that serve traffic). */
  follow(): void {
    this.unsubscribe = this.state.subscribe(() => this.refresh());
    this.refresh();
  }

  close(): void {
    this.unsubscribe();
  }

  /**
   * A target for the next attempt, or undefined when none may receive traffic.
   * @param avoid targets this request already tried
   */
  select(hashKey: string | undefined, avoid?: ReadonlySet<TargetRuntime>): TargetRuntime | undefined {
    if (this.available === 0) return undefined;
    return this.balancer.pick(hashKey, avoid);
  }

  /** Recomputes which targets may receive traffic. Runs on health and DNS changes, never per request. */
  refresh(): void {
    if (this.members !== this.state.members) this.syncTargets(this.state.members);
    const now = this.state.clock.now();
    const weighted = this.targets.filter((t) => t.weight > 0);
    const healthy = weighted.filter((t) => t.health.available(now));
    const panic = weighted.length > 0 && (healthy.length / weighted.length) * 100 < this.panicThreshold;
    const eligible = panic ? weighted : healthy;
    this.panic = panic;
    this.available = eligible.length;
    this.balancer.setTargets(eligible);
  }

  /** One TargetRuntime per member of this version's targets; existing ones are kept. */
  private syncTargets(members: readonly Member[]): void {
    this.members = members;
    const next = new Map<string, TargetRuntime>();
    for (const m of members) {
      const weight = this.weights.get(m.configUrl);
      if (weight === undefined) continue; // a target of a newer config version
      let t = this.byKey.get(m.key);
      if (!t) {
        const { key, dispatcher } = this.host.connect(m.origin, this.config, m.servername);
        t = {
          key: m.key,
          url: m.url,
          origin: m.origin,
          basePath: m.basePath,
          host: m.host,
          weight,
          inFlight: 0,
          ewmaMs: 0,
          ewmaAt: 0,
          dispatcher,
          poolKey: key,
          health: this.state.health(m.key, m.url),
        };
      }
      next.set(m.key, t);
    }
    // A DNS address that went away: its pool closes once its requests are done (unless another
    // version still uses the same origin).
    for (const [key, t] of this.byKey) if (!next.has(key)) this.host.release(t.poolKey);
    this.byKey = next;
    this.targets = [...next.values()];
  }
}

function hashKeyOf(fn: HashKeyFn): (ctx: RequestContext) => string | undefined {
  return (ctx) =>
    fn({ headers: ctx.req.headers, clientIp: ctx.clientIp, consumerId: ctx.identity?.consumerId, path: ctx.path, query: ctx.query });
}

function compileRetries(config: ServiceConfig, responseMs: number): RetrySettings | undefined {
  const r = config.retries;
  if (!r || r.attempts <= 1) return undefined;
  return {
    attempts: r.attempts,
    onStatus: new Set(r.on.filter((x): x is number => typeof x === 'number')),
    onConnectError: r.on.includes('connect-error'),
    onTimeout: r.on.includes('timeout'),
    baseMs: parseDuration(r.backoff.base),
    maxMs: parseDuration(r.backoff.max),
    perTryTimeoutMs: r.perTryTimeout !== undefined ? Math.min(parseDuration(r.perTryTimeout), responseMs) : responseMs,
    bodyLimit: parseSize(r.retryBodyLimit),
    methods: new Set(r.methods.map((m) => m.toUpperCase())),
    grpc:
      r.grpcMethods.length > 0
        ? { methods: new Set(r.grpcMethods), statuses: new Set(grpcStatusNumbers(r.grpcStatuses ?? [])) }
        : undefined,
  };
}
