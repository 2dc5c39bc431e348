// A service at run time, for one config version: its targets, the balancer that picks among the
// available ones, and the settings its requests follow (timeouts, retries, fallback). The state
// that must outlive the version (health, breaker, budget, queue) lives in ServiceState.
import type { Dispatcher } from 'undici';
import type { ServiceConfig } from '../config/schema.js';
import { parseDuration, parseSize } from '../config/units.js';
import type { Balancer, BalancerTarget } from './balancers/balancer.js';
import { compileHashOn, createBalancer, type HashKeyFn } from './balancers/index.js';
import { ServiceState, type ProbeTarget } from './service-state.js';
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
  dispatcher: Dispatcher;
  poolKey: string;
  health: TargetHealth;
}

export interface ServiceTimeouts { connect: number; response: number; idle: number }

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
}

export interface FallbackResponse { status: number; headers: Record<string, string>; body: string }

/** What a config version needs from the process that serves it. */
export interface UpstreamHost {
  connect(origin: string, svc: ServiceConfig): { key: string; dispatcher: Dispatcher };
  /** The long-lived state of a service (created on first use). */
  serviceState(name: string): ServiceState;
}

export class ServiceRuntime {
  readonly targets: TargetRuntime[];
  readonly timeouts: ServiceTimeouts;
  readonly retry: RetrySettings | undefined;
  readonly fallback: FallbackResponse | undefined;
  readonly hashOn: string | undefined;
  /** True while the service is spreading over every target because too few are healthy. */
  panic = false;
  private readonly balancer: Balancer<TargetRuntime>;
  private readonly panicThreshold: number;
  private available = 0;
  private unsubscribe: () => void = () => {};

  constructor(readonly name: string, readonly config: ServiceConfig, readonly state: ServiceState, host: UpstreamHost) {
    this.targets = config.targets.map((t) => {
      const address = targetAddress(t.url);
      const { key, dispatcher } = host.connect(address.origin, config);
      return {
        key: t.url,
        url: t.url,
        ...address,
        weight: t.weight,
        inFlight: 0,
        ewmaMs: 0,
        ewmaAt: 0,
        dispatcher,
        poolKey: key,
        health: state.health(t.url, t.url),
      };
    });
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
    this.balancer = createBalancer<TargetRuntime>(config.balancer);
    state.configure(config, probeTargets(config));
    this.refresh();
  }

  /** The request's key for consistent-hash; undefined for other balancers. */
  readonly hashKey: ((ctx: RequestContext) => string | undefined) | undefined;

  onStart(t: TargetRuntime): void {
    this.balancer.onStart(t);
  }

  onEnd(t: TargetRuntime, latencyMs: number): void {
    this.balancer.onEnd(t, latencyMs);
  }

  /** Starts following health changes (only for versions that serve traffic). */
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

  /** Recomputes which targets may receive traffic. Runs on health changes, never per request. */
  refresh(): void {
    const now = this.state.clock.now();
    const weighted = this.targets.filter((t) => t.weight > 0);
    const healthy = weighted.filter((t) => t.health.available(now));
    const panic = weighted.length > 0 && (healthy.length / weighted.length) * 100 < this.panicThreshold;
    const eligible = panic ? weighted : healthy;
    this.panic = panic;
    this.available = eligible.length;
    this.balancer.setTargets(eligible);
  }
}

function hashKeyOf(fn: HashKeyFn): (ctx: RequestContext) => string | undefined {
  return (ctx) => fn({ headers: ctx.req.headers, clientIp: ctx.clientIp, consumerId: ctx.identity?.consumerId, path: ctx.path, query: ctx.query });
}

/** Where a target URL points: origin, base path and the Host header it expects. */
export function targetAddress(url: string): { origin: string; basePath: string; host: string } {
  const u = new URL(url);
  return { origin: u.origin, basePath: u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, ''), host: u.host };
}

/** The targets of a service as the active checker sees them. */
export function probeTargets(cfg: ServiceConfig): ProbeTarget[] {
  return cfg.targets.map((t) => ({ key: t.url, url: t.url, ...targetAddress(t.url) }));
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
  };
}
