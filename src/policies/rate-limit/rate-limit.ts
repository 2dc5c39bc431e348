// `type: rate-limit` — counts requests per key against one or more limits (or the caller's plan)
// in the configured store, rejects with 429 GW_RATE_LIMITED when one is exhausted, and sends the
// IETF RateLimit-Policy / RateLimit fields on every response of the route.
import {
  definePolicy,
  section,
  type ConfigEntry,
  type PolicyEnv,
  type RequestContext,
  type RespondVerdict,
  type Verdict,
} from '../types.js';
import { StoreUnavailableError, type Answer, type Decision, type RateStore } from '../../store/types.js';
import type { StoreConfig } from '../../config/store-schema.js';
import { maxCost, rateLimitSchema, rateLimitSections, type Plans, type RateLimitConfig } from './schema.js';
import { planIssues } from './validate.js';
import { consumerUsage } from './usage.js';
import { compileLimit, decide, Kind, localShare, type CompiledLimit } from './limits.js';
import { compileKey, limitOrder } from './keys.js';
import { decisionHeaders, retryAfterSeconds, type LimitSet } from './headers.js';
import { addErrorHeaders } from '../error-headers.js';
import { getOperation } from '../../graphql/operation.js';

let nextId = 0;

/** One set of limits with its RateLimit-Policy field, ready per plan. */
function limitSet(limits: CompiledLimit[]): LimitSet {
  return { limits, policyField: limits.map((l) => l.policyItem).join(', ') };
}

export const rateLimitPolicy = definePolicy({
  type: 'rate-limit',
  description: 'Limit requests per consumer, credential, IP, route, header or globally; plans and quotas; 429 GW_RATE_LIMITED.',
  schema: rateLimitSchema,
  phases: ['access', 'requestBody', 'response'],
  order: 'limit',
  orderFor: limitOrder,
  example: { limit: 100, window: '1m' },
  sections: rateLimitSections,
  validateSections: planIssues,
  // The schema's output is the config's type as RateLimitConfig spells it (the policy casts it the same way).
  consumerUsage: (entries, consumer, env) => consumerUsage(entries as unknown as ConfigEntry<RateLimitConfig>[], consumer, env),
  create(config, env) {
    const rl = new RateLimit(config, env);
    if (config.cost !== 'graphql') return rl;
    // A GraphQL operation is read in the graphql policy's requestBody phase (a GET's in its access
    // phase, which runs before this one too): the charge waits for it.
    return {
      requestBody: (ctx: RequestContext) => rl.charge(ctx, graphqlCost(ctx), true),
      response: (ctx: RequestContext, res: { headers: string[] }) => rl.response(ctx, res),
      // It reads no body itself: the graphql policy's maxBody is the bound (or the default without one).
      bodyBufferBytes: Infinity,
    };
  },
});

class RateLimit {
  private readonly local = `rate-limit#${nextId++}`;
  private readonly store: RateStore;
  private readonly storeConfig: StoreConfig;
  private readonly key: (ctx: RequestContext) => string | undefined;
  private readonly fixed: LimitSet | undefined;
  private readonly plans: Map<string, LimitSet> | undefined;
  private readonly defaultPlan: LimitSet | undefined;
  private readonly costs: Record<string, number> | undefined;
  private readonly cost: number;
  /** The largest cost of any request: the floor of a local share (onStoreError: local). */
  private readonly dearest: number;
  private readonly onStoreError: 'allow' | 'deny' | 'local';
  private readonly shadow: boolean;
  private readonly headers: boolean;
  private readonly legacy: boolean;

  constructor(
    config: RateLimitConfig,
    private readonly env: PolicyEnv,
  ) {
    const top = env.config;
    this.storeConfig = top.store;
    this.store = env.stores.get(this.storeConfig);
    this.onStoreError = config.onStoreError ?? this.storeConfig.onStoreError;
    const scope = env.routeName ?? '*';
    if (config.limits === 'plan') {
      this.plans = new Map();
      for (const [name, plan] of Object.entries(section<Plans>(top, 'plans'))) {
        const single = plan.limits.length === 1;
        this.plans.set(
          name,
          limitSet(plan.limits.map((l) => compileLimit(l, l.algorithm ?? 'sliding-window', `${scope}|plan:${name}`, { name, single }))),
        );
      }
      const defaultPlan = section<string | undefined>(top, 'defaultPlan');
      this.defaultPlan = defaultPlan !== undefined ? this.plans.get(defaultPlan) : undefined;
    } else {
      const limits = config.limits ?? [config];
      this.fixed = limitSet(limits.map((l) => compileLimit(l, ('algorithm' in l && l.algorithm) || config.algorithm, scope)));
    }
    this.key = compileKey(config.by, config.fallbackBy);
    if (typeof config.cost === 'number') {
      this.cost = config.cost;
    } else if (config.cost === 'graphql') {
      this.cost = 1; // charged per operation (create())
    } else {
      this.costs = {};
      for (const [m, c] of Object.entries(config.cost)) this.costs[m === 'default' ? m : m.toUpperCase()] = c;
      this.cost = this.costs.default ?? 1;
    }
    this.dearest = maxCost(config.cost);
    this.shadow = config.mode === 'shadow';
    this.headers = config.headers;
    this.legacy = config.legacyHeaders;
  }

  access(ctx: RequestContext): Verdict | Promise<Verdict> {
    return this.charge(ctx, this.costs?.[ctx.method] ?? this.cost);
  }

  /**
   * `perRequest`: the cost is known only now (a GraphQL operation's), so the config could not check
   * that every limit can admit it; fixed costs were checked when the config was (costProblem).
   */
  charge(ctx: RequestContext, cost: number, perRequest = false): Verdict | Promise<Verdict> {
    const set = this.fixed ?? this.planOf(ctx);
    if (set === undefined) return undefined;
    const key = this.key(ctx);
    if (key === undefined) return undefined;
    const limits = set.limits;
    const over = perRequest ? limits.find((l) => cost > capacityOf(l)) : undefined;
    if (over !== undefined && !this.shadow)
      return {
        status: over.status,
        code: 'GW_RATE_LIMITED',
        message: `This request costs ${cost}, more than the limit "${over.name}" can ever admit (${capacityOf(over)}).`,
      };
    if (limits.length === 1) {
      const l = limits[0]!;
      const d = this.guard(l, l.keyPrefix + key, cost);
      if (d !== undefined && typeof (d as Promise<Decision>).then === 'function') {
        return (d as Promise<Decision | undefined>).then((r) => this.conclude(ctx, set, r === undefined ? undefined : [r]));
      }
      return this.conclude(ctx, set, d === undefined ? undefined : [d as Decision]);
    }
    const answers: (Decision | Promise<Decision | undefined> | undefined)[] = [];
    let pending = false;
    for (const l of limits) {
      const d = this.guard(l, l.keyPrefix + key, cost);
      if (d !== undefined && typeof (d as Promise<Decision>).then === 'function') pending = true;
      answers.push(d);
    }
    if (pending)
      return Promise.all(answers.map((d) => Promise.resolve(d))).then((ds) =>
        this.conclude(ctx, set, ds.includes(undefined) ? undefined : (ds as Decision[])),
      );
    return this.conclude(ctx, set, answers.includes(undefined) ? undefined : (answers as Decision[]));
  }

  private planOf(ctx: RequestContext): LimitSet | undefined {
    const plan = ctx.identity?.plan;
    return (plan !== undefined ? this.plans!.get(plan) : undefined) ?? this.defaultPlan;
  }

  /**
   * One decision, with the store's failure handled per onStoreError. `undefined` = no decision
   * (allow without headers); a DENIED decision marks `deny`.
   */
  private guard(l: CompiledLimit, key: string, cost: number): Answer | Promise<Decision | undefined> | undefined {
    const d = decide(this.store, l, key, cost);
    if (typeof (d as Promise<Decision>).then !== 'function') return d;
    return (d as Promise<Decision>).catch((err: unknown) => this.storeFailed(err, l, key, cost));
  }

  private storeFailed(err: unknown, l: CompiledLimit, key: string, cost: number): Decision | undefined {
    if (!(err instanceof StoreUnavailableError)) throw err;
    switch (this.onStoreError) {
      case 'allow':
        return undefined;
      case 'deny':
        return STORE_DOWN;
      case 'local':
        return decide(
          this.env.stores.local(this.storeConfig),
          localShare(l, this.storeConfig.instances, this.dearest),
          key,
          cost,
        ) as Decision;
    }
  }

  private conclude(ctx: RequestContext, set: LimitSet, ds: Decision[] | undefined): Verdict {
    if (ds === undefined) return undefined; // the store failed and onStoreError is allow
    // The decision to report: a rejecting one (the longest wait), else the closest to exhaustion.
    let pick = 0;
    let rejected = false;
    for (let i = 0; i < ds.length; i++) {
      const d = ds[i]!;
      if (d === STORE_DOWN) {
        if (this.shadow) return undefined;
        return { status: 503, code: 'GW_RATE_LIMIT_STORE_UNAVAILABLE', headers: { 'retry-after': '1' } };
      }
      const p = ds[pick]!;
      if (!d.allowed) {
        if (!rejected || d.retryAfterMs > p.retryAfterMs) pick = i;
        rejected = true;
      } else if (!rejected && d.remaining / d.limit < p.remaining / p.limit) {
        pick = i;
      }
    }
    const d = ds[pick]!;
    const limit = set.limits[pick]!;
    const headers = this.headers || this.legacy ? decisionHeaders(set, limit, d, this.headers, this.legacy) : undefined;
    this.env.metrics?.rateLimit(ctx.routeName, !rejected ? 'allowed' : this.shadow ? 'shadow' : 'limited');
    if (rejected) {
      if (this.shadow)
        ctx.shadowLimited = limit.name; // the access log's shadowLimited
      else {
        const out: Record<string, string> = { 'retry-after': String(retryAfterSeconds(d)) };
        if (headers) for (let i = 0; i < headers.length; i += 2) out[headers[i]!] = headers[i + 1]!;
        return { status: limit.status, code: 'GW_RATE_LIMITED', headers: out } satisfies RespondVerdict;
      }
    }
    if (headers) {
      ctx.locals.set(this.local, headers);
      // Also on the gateway's own errors (upstream down or slow), which skip the response phase.
      addErrorHeaders(ctx, headers);
    }
    return undefined;
  }

  response(ctx: RequestContext, res: { headers: string[] }): void {
    const h = ctx.locals.get(this.local) as string[] | undefined;
    if (h !== undefined) for (let i = 0; i < h.length; i++) res.headers.push(h[i]!);
  }
}

/** The most units one request can take from a limit: its window's limit, or its bucket's size. */
function capacityOf(l: CompiledLimit): number {
  return l.kind === Kind.Token || l.kind === Kind.Leaky ? l.c : l.a;
}

/**
 * What the operation costs; 1 when no graphql policy read one (not a GraphQL request, or none on
 * the route). At least 1: an operation of scalars costs 0 by the cost model (a `login` mutation
 * returning a Boolean), and a request charged nothing would never be limited.
 */
function graphqlCost(ctx: RequestContext): number {
  const op = getOperation(ctx);
  return op === undefined ? 1 : Math.max(1, Math.ceil(op.cost));
}

/** Marks "the store failed and onStoreError is deny". */
const STORE_DOWN: Decision = { allowed: false, remaining: 0, resetMs: 0, retryAfterMs: 1000, limit: 1 };
