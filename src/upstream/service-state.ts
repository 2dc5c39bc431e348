// The state of one service that outlives config versions: target health (active checkers and
// passive ejections), the circuit breaker, the retry budget and the admission queue. Each config
// version's ServiceRuntime reads it and is told when target availability changes.
import { Agent } from 'undici';
import type { ServiceConfig } from '../config/schema.js';
import type { ServiceProtocol } from '../config/http2-schema.js';
import { parseDuration } from '../config/units.js';
import type { Logger } from '../observability/logger.js';
import { ActiveChecker, type ActiveCheckSettings, type ProbeResult } from './active-checker.js';
import { AdmissionControl, type AdmissionSettings } from './admission.js';
import { CircuitBreaker, type BreakerSettings } from './circuit-breaker.js';
import type { Clock } from './clock.js';
import { RetryBudget, type BudgetSettings } from './retry-budget.js';
import { TargetHealth } from './target-health.js';
import { DnsResolver, type LookupAll } from './dns-resolver.js';
import { expandMembers, hostnamesOf, type Member } from './members.js';

export type ProbeMode = 'local' | 'remote' | 'off';

interface PassiveSettings {
  consecutiveFailures: number;
  failOn: ReadonlySet<string>;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectionPercent: number;
}

interface ActiveSettings extends ActiveCheckSettings {
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/**
 * Probes share one small agent per protocol, apart from the request pools: a target that speaks
 * only HTTP/2 (an h2c server refuses HTTP/1.1) is probed in HTTP/2. A probe is a GET without a
 * body, so undici's own HTTP/2 client serves (h2-pool.ts says why requests do not use it).
 */
const probeAgents = new Map<ServiceProtocol, Agent>();
/** Prior-knowledge HTTP/2 on plain TCP: undici's connector reads `useH2c`, its types do not list it. */
const H2C = { useH2c: true } as unknown as NonNullable<Agent.Options['connect']>;
function probeDispatcher(protocol: ServiceProtocol = 'http1'): Agent {
  let a = probeAgents.get(protocol);
  if (a === undefined) {
    const base = { connections: 2, pipelining: 1, keepAliveTimeout: 10_000 };
    a = protocol === 'http1' ? new Agent(base) : new Agent({ ...base, allowH2: true, ...(protocol === 'h2c' ? { connect: H2C } : {}) });
    probeAgents.set(protocol, a);
  }
  return a;
}

export class ServiceState {
  readonly targets = new Map<string, TargetHealth>();
  /** The current targets, DNS names expanded to their addresses. */
  members: Member[] = [];
  private config: ServiceConfig | undefined;
  private readonly resolvers = new Map<string, { resolver: DnsResolver; intervalMs: number }>();
  /** The last addresses each name resolved to, kept when its resolver is replaced (a new dnsTtl). */
  private readonly lastAddresses = new Map<string, readonly string[]>();
  /** Active verdicts from the cluster primary (remote probing), by target key. */
  private readonly remoteVerdicts = new Map<string, { healthy: boolean; reason: string }>();
  breaker: CircuitBreaker | undefined;
  budget: RetryBudget | undefined;
  admission: AdmissionControl | undefined;
  passive: PassiveSettings | undefined;
  active: ActiveSettings | undefined;
  breakerFailOn: ReadonlySet<string> = new Set();
  private readonly checkers = new Map<string, ActiveChecker>();
  private readonly listeners = new Set<() => void>();
  private notifyQueued = false;

  constructor(
    readonly name: string,
    readonly clock: Clock,
    private readonly log: Logger | undefined,
    /**
     * Who probes: `local` = this process; `remote` = the cluster primary, which sends verdicts
     * (`setActiveVerdict`); `off` = nobody (tools that compile without serving).
     */
    private readonly probes: ProbeMode,
    /** DNS lookup for target names (tests inject one). */
    private readonly lookup?: LookupAll,
  ) {}

  /** Applies a config version's settings. */
  configure(cfg: ServiceConfig): void {
    const hc = cfg.healthCheck;
    this.passive = hc?.passive && {
      consecutiveFailures: hc.passive.consecutiveFailures,
      failOn: new Set(hc.passive.failOn),
      baseEjectionMs: parseDuration(hc.passive.baseEjection),
      maxEjectionMs: parseDuration(hc.passive.maxEjection),
      maxEjectionPercent: hc.passive.maxEjectionPercent,
    };
    this.active = hc?.active && {
      path: hc.active.path,
      intervalMs: parseDuration(hc.active.interval),
      timeoutMs: parseDuration(hc.active.timeout),
      expectStatus: hc.active.expectStatus ? new Set(hc.active.expectStatus) : undefined,
      grpcService: hc.active.type === 'grpc' ? (hc.active.grpcService ?? '') : undefined,
      healthyThreshold: hc.active.healthyThreshold,
      unhealthyThreshold: hc.active.unhealthyThreshold,
    };
    this.configureBreaker(cfg);
    const r = cfg.retries;
    if (r) {
      const s: BudgetSettings = { ratio: r.budget.ratio, windowMs: parseDuration(r.budget.window), minRetries: r.budget.minRetries };
      if (this.budget) this.budget.reconfigure(s);
      else this.budget = new RetryBudget(s, this.clock);
    } else this.budget = undefined;
    this.config = cfg;
    this.syncResolvers(cfg);
    this.updateMembers();
    if (!this.active) this.forgetActiveVerdicts();
  }

  /** Active checks are off: only passive health applies, whoever was probing before. */
  private forgetActiveVerdicts(): void {
    this.remoteVerdicts.clear();
    let changed = false;
    for (const h of this.targets.values()) {
      if (h.activeHealthy) continue;
      h.activeHealthy = true;
      h.note(this.clock.now(), 'healthy', 'active checks turned off');
      changed = true;
    }
    if (changed) this.changed();
  }

  /** Keeps one resolver per host name of the current targets (none for tools that only compile). */
  private syncResolvers(cfg: ServiceConfig): void {
    const intervalMs = parseDuration(cfg.dnsTtl);
    const want = this.probes === 'off' ? [] : hostnamesOf(cfg);
    for (const [name, r] of this.resolvers) {
      if (want.includes(name) && r.intervalMs === intervalMs) continue;
      r.resolver.stop();
      this.resolvers.delete(name);
      if (!want.includes(name)) this.lastAddresses.delete(name);
    }
    for (const hostname of want) {
      if (this.resolvers.has(hostname)) continue;
      const resolver = new DnsResolver({
        hostname,
        intervalMs,
        lookup: this.lookup,
        onChange: (addresses) => {
          this.lastAddresses.set(hostname, addresses);
          this.log?.info({ service: this.name, hostname, addresses }, 'target addresses changed');
          this.updateMembers();
          this.changed();
        },
        onError: (err) =>
          this.log?.warn(
            { service: this.name, hostname, err: (err as Error).message },
            'target name did not resolve; keeping the last addresses',
          ),
      });
      this.resolvers.set(hostname, { resolver, intervalMs });
      void resolver.start();
    }
  }

  private updateMembers(): void {
    if (!this.config) return;
    this.members = expandMembers(this.config, (h) => {
      const now = this.resolvers.get(h)?.resolver.addresses;
      return now !== undefined && now.length > 0 ? now : (this.lastAddresses.get(h) ?? []);
    });
    const keys = new Set(this.members.map((m) => m.key));
    // Forget targets that are gone (a version still using one holds its own reference).
    for (const key of this.targets.keys()) if (!keys.has(key)) this.targets.delete(key);
    for (const m of this.members) this.health(m.key, m.url);
    this.syncCheckers(this.members);
  }

  private configureBreaker(cfg: ServiceConfig): void {
    const cb = cfg.circuitBreaker;
    if (!cb) {
      this.breaker = undefined;
      this.admission = undefined;
      return;
    }
    const s: BreakerSettings = {
      windowMs: parseDuration(cb.window),
      failureRatio: cb.failureRatio,
      minRequests: cb.minRequests,
      consecutiveFailures: cb.consecutiveFailures,
      openMs: parseDuration(cb.openDuration),
      maxOpenMs: parseDuration(cb.maxOpenDuration),
      halfOpenRequests: cb.halfOpenRequests,
    };
    this.breakerFailOn = new Set(cb.failOn);
    if (this.breaker) this.breaker.reconfigure(s);
    else {
      this.breaker = new CircuitBreaker(s, this.clock, (t) => {
        const level = t.to === 'open' ? 'warn' : 'info';
        this.log?.[level](
          { service: this.name, breaker: t.to, from: t.from, reason: t.reason, openMs: t.openMs },
          `circuit breaker ${t.to}`,
        );
      });
    }
    if (cb.maxConcurrent !== undefined) {
      const a: AdmissionSettings = {
        maxConcurrent: cb.maxConcurrent,
        maxQueue: cb.maxQueue,
        queueTimeoutMs: parseDuration(cb.queueTimeout),
      };
      if (this.admission) this.admission.settings = a;
      else this.admission = new AdmissionControl(a, this.clock);
    } else this.admission = undefined;
  }

  health(key: string, url: string): TargetHealth {
    let h = this.targets.get(key);
    if (!h) {
      h = new TargetHealth(key, url);
      const verdict = this.remoteVerdicts.get(key);
      if (verdict !== undefined && !verdict.healthy) {
        h.activeHealthy = false;
        h.note(this.clock.now(), 'unhealthy', verdict.reason);
      }
      this.targets.set(key, h);
    }
    return h;
  }

  private syncCheckers(members: readonly Member[]): void {
    const want = this.probes === 'local' && this.active ? new Map(members.map((m) => [m.key, m])) : new Map<string, Member>();
    for (const [key, c] of this.checkers) {
      if (!want.has(key)) {
        c.stop();
        this.checkers.delete(key);
        const h = this.targets.get(key);
        if (h && !h.activeHealthy) {
          h.activeHealthy = true; // no longer checked: only passive health applies
          this.changed();
        }
      }
    }
    for (const [key, p] of want) {
      const existing = this.checkers.get(key);
      if (existing) {
        existing.settings = this.active!;
        existing.dispatcher = probeDispatcher(this.config?.protocol); // the protocol may have changed on reload
        continue;
      }
      const h = this.health(key, p.url);
      const c = new ActiveChecker(p.origin, p.host, this.active!, probeDispatcher(this.config?.protocol), this.clock, (r) =>
        this.onProbe(h, r),
      );
      this.checkers.set(key, c);
      c.start();
    }
  }

  private onProbe(h: TargetHealth, r: ProbeResult): void {
    const a = this.active;
    if (!a) return;
    const now = this.clock.now();
    if (r.ok) {
      h.activeFailures = 0;
      h.activeSuccesses++;
      if (!h.activeHealthy && h.activeSuccesses >= a.healthyThreshold) {
        h.activeHealthy = true;
        this.transition(h, now, 'healthy', `${h.activeSuccesses} active checks passed`);
      }
      if (h.ejectedUntil > now) {
        // An ejected target that passes an active check is back at once.
        h.ejectedUntil = now;
        h.lastEjectionEnd = now;
        h.consecutiveFailures = 0;
        this.transition(h, now, 'returned', 'active check passed');
      }
      return;
    }
    h.activeSuccesses = 0;
    h.activeFailures++;
    if (h.activeHealthy && h.activeFailures >= a.unhealthyThreshold) {
      h.activeHealthy = false;
      this.transition(h, now, 'unhealthy', r.reason);
    }
  }

  /** An active-check verdict reached elsewhere (the cluster primary probes for every worker). */
  setActiveVerdict(key: string, healthy: boolean, reason: string): void {
    // Kept for a target this process does not know yet (its DNS answer may come later).
    this.remoteVerdicts.set(key, { healthy, reason });
    const h = this.targets.get(key);
    if (!h || h.activeHealthy === healthy) return;
    h.activeHealthy = healthy;
    const now = this.clock.now();
    if (healthy && h.ejectedUntil > now) {
      h.ejectedUntil = now;
      h.lastEjectionEnd = now;
    }
    h.note(now, healthy ? 'healthy' : 'unhealthy', reason);
    this.changed(); // the primary logged it already
  }

  /** The active verdicts, for a worker that starts after they were reached. */
  activeVerdicts(): { key: string; healthy: boolean; reason: string }[] {
    return [...this.targets.values()].map((h) => ({ key: h.key, healthy: h.activeHealthy, reason: h.events.at(-1)?.reason ?? '' }));
  }

  /** Passive health: the outcome of a real request to `h`. */
  recordPassive(h: TargetHealth, failed: boolean, reason: string): void {
    const p = this.passive;
    if (!p) return;
    const now = this.clock.now();
    if (!failed) {
      h.consecutiveFailures = 0;
      // A healthy stretch as long as the last ejection forgives the streak.
      if (h.ejectionStreak > 0 && now - h.lastEjectionEnd >= p.baseEjectionMs * h.ejectionStreak) h.ejectionStreak = 0;
      return;
    }
    if (++h.consecutiveFailures < p.consecutiveFailures || h.ejectedUntil > now) return;
    const total = this.members.length;
    let ejected = 0;
    for (const m of this.members) if (this.targets.get(m.key)!.ejectedUntil > now) ejected++;
    if (((ejected + 1) / total) * 100 > p.maxEjectionPercent) {
      if (h.consecutiveFailures === p.consecutiveFailures) {
        this.log?.warn({ service: this.name, target: h.url, reason }, 'target not ejected: maxEjectionPercent reached');
      }
      return;
    }
    h.ejectionStreak++;
    h.totalEjections++;
    const ms = Math.min(p.baseEjectionMs * h.ejectionStreak, p.maxEjectionMs);
    h.ejectedUntil = now + ms;
    h.consecutiveFailures = 0;
    this.transition(h, now, 'ejected', `${p.consecutiveFailures} consecutive failures, last: ${reason}; for ${ms}ms`);
    this.clock.setTimer(() => {
      if (h.ejectedUntil !== now + ms) return; // ended early by an active check
      h.lastEjectionEnd = this.clock.now();
      this.transition(h, this.clock.now(), 'returned', 'ejection time elapsed');
    }, ms);
  }

  private transition(h: TargetHealth, now: number, change: string, reason: string): void {
    h.note(now, change, reason);
    const level = change === 'ejected' || change === 'unhealthy' ? 'warn' : 'info';
    this.log?.[level]({ service: this.name, target: h.url, change, reason }, `target ${change}`);
    this.changed();
  }

  /** Seconds a client should wait before trying again when no target is available. */
  retryAfterSeconds(): number {
    const now = this.clock.now();
    let soonest = Infinity;
    for (const h of this.targets.values()) {
      if (h.activeHealthy && h.ejectedUntil > now) soonest = Math.min(soonest, h.ejectedUntil - now);
    }
    if (soonest === Infinity) soonest = this.active?.intervalMs ?? 1000;
    return Math.max(1, Math.ceil(soonest / 1000));
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  close(): void {
    for (const r of this.resolvers.values()) r.resolver.stop();
    this.resolvers.clear();
    for (const c of this.checkers.values()) c.stop();
    this.checkers.clear();
    this.listeners.clear();
  }

  /** For the admin API. */
  snapshot(): object {
    const now = this.clock.now();
    const b = this.breaker;
    return {
      service: this.name,
      targets: this.members
        .map((m) => this.targets.get(m.key)!)
        .map((h) => ({
          target: h.url,
          key: h.key,
          available: h.available(now),
          active: this.active ? (h.activeHealthy ? 'healthy' : 'unhealthy') : 'unchecked',
          ejected: h.ejectedUntil > now,
          ejectedForMs: Math.max(0, h.ejectedUntil - now),
          ejections: h.totalEjections,
          consecutiveFailures: h.consecutiveFailures,
          inFlight: h.inFlight,
          ...(h.latencyMs === undefined ? {} : { latencyMs: Math.round(h.latencyMs * 100) / 100 }),
          events: h.events.map((e) => ({ at: new Date(e.at).toISOString(), change: e.change, reason: e.reason })),
        })),
      circuitBreaker: b && { state: b.state, trips: b.totalTrips, retryAfterMs: b.retryAfterMs() },
      admission: this.admission && { inFlight: this.admission.inFlight, queued: this.admission.queued },
    };
  }
}
