// The options of `type: rate-limit`, and of the limits in top-level `plans`.
import { Name } from '../../config/schema.js';
import { z } from 'zod';
import { DURATION_PATTERN } from '../../config/units.js';
import { OnStoreError } from '../../config/store-schema.js';

export const ALGORITHMS = ['fixed-window', 'sliding-window', 'token-bucket', 'leaky-bucket'] as const;
export const Algorithm = z.enum(ALGORITHMS);
export type AlgorithmName = z.output<typeof Algorithm>;
export const isBucket = (a: AlgorithmName) => a === 'token-bucket' || a === 'leaky-bucket';

const Span = z
  .union([z.number().positive(), z.string().regex(DURATION_PATTERN, { error: 'expected a duration such as 1s, 1m, 1h, 30d' })])
  .meta({ description: 'A duration: "1s", "1m", "1h", "30d", or milliseconds.' });

const LimitName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'a limit name uses letters, digits, ".", "_" and "-" (at most 64)' });

/** The fields that describe one limit; inline on the policy or an item of `limits`. */
const limitFields = {
  name: LimitName.optional().meta({ description: 'Its name in the RateLimit headers (default e.g. "100-per-1m", or the plan name).' }),
  limit: z.number().int().positive().optional().meta({ description: 'Window algorithms: units per window.' }),
  window: z
    .union([Span, z.literal('month')])
    .optional()
    .meta({ description: 'Window algorithms: the window ("1s", "1m", "1d", "30d"), or "month" (calendar month, UTC; fixed-window only).' }),
  rate: z.number().positive().optional().meta({ description: 'Bucket algorithms: units added (token) or drained (leaky) per `per`.' }),
  per: Span.optional().meta({ description: 'Bucket algorithms: the period of `rate`.' }),
  burst: z.number().int().positive().optional().meta({ description: 'Bucket algorithms: bucket size (default: rate, at least 1).' }),
  status: z
    .number()
    .int()
    .min(400)
    .max(599)
    .optional()
    .meta({ description: 'Status when this limit rejects (default 429), e.g. 403 for an exhausted quota.' }),
};

export const LimitSchema = z
  .strictObject({ algorithm: Algorithm.optional(), ...limitFields })
  .meta({ description: 'One limit: a window (limit per window) or a bucket (rate per period, burst).' });
export type LimitConfig = z.output<typeof LimitSchema>;

/** The limit's problems once its algorithm is known (inherited from the policy when not its own). */
export function limitProblems(l: LimitConfig, algorithm: AlgorithmName): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  if (isBucket(algorithm)) {
    if (l.rate === undefined) out.push({ path: 'rate', message: `${algorithm} needs rate (and per)` });
    if (l.per === undefined) out.push({ path: 'per', message: `${algorithm} needs per (and rate)` });
    if (l.limit !== undefined || l.window !== undefined)
      out.push({
        path: l.limit !== undefined ? 'limit' : 'window',
        message: `${algorithm} takes rate, per and burst, not limit and window`,
      });
  } else {
    if (l.limit === undefined) out.push({ path: 'limit', message: `${algorithm} needs limit (and window)` });
    if (l.window === undefined) out.push({ path: 'window', message: `${algorithm} needs window (and limit)` });
    if (l.rate !== undefined || l.per !== undefined || l.burst !== undefined)
      out.push({
        path: l.rate !== undefined ? 'rate' : l.per !== undefined ? 'per' : 'burst',
        message: `${algorithm} takes limit and window, not rate, per or burst`,
      });
    if (l.window === 'month' && algorithm !== 'fixed-window')
      out.push({ path: 'window', message: 'window: month (calendar month) needs algorithm: fixed-window' });
  }
  return out;
}

/** The most units one request can ever take from this limit: its window's limit or its bucket's size. */
export function capacity(l: LimitConfig, algorithm: AlgorithmName): number | undefined {
  if (isBucket(algorithm)) return l.rate === undefined ? undefined : (l.burst ?? Math.max(1, Math.floor(l.rate)));
  return l.limit;
}

/**
 * The largest cost a request of any method can have. A GraphQL operation's is known only per
 * request (bounded by the graphql policy's maxComplexity): 1 here, and an operation that costs
 * more than a limit can ever admit is refused when it comes.
 */
export function maxCost(cost: number | 'graphql' | Record<string, number>): number {
  if (cost === 'graphql') return 1;
  return typeof cost === 'number' ? cost : Math.max(0, ...Object.values(cost));
}

/**
 * A request that costs more than a limit can ever hold would be refused forever, each time with a
 * Retry-After that never comes true: refused in the config instead.
 */
export function costProblem(cost: number, l: LimitConfig, algorithm: AlgorithmName): string | undefined {
  const cap = capacity(l, algorithm);
  if (cap === undefined || cost <= cap) return undefined;
  return `a request can cost ${cost}, more than this limit can ever admit (${isBucket(algorithm) ? 'burst' : 'limit'} ${cap}): it would be refused forever`;
}

const ByKey = z.union([
  z.enum(['consumer', 'credential', 'ip', 'route', 'service', 'global']),
  z
    .string()
    .regex(/^header:[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'expected consumer, credential, ip, route, service, global or header:<name>' }),
]);
export const By = z.union([ByKey, z.array(ByKey).min(1)]).meta({
  description: 'What is counted separately: consumer, credential, ip, route, service, header:<name>, global, or a list combining them.',
});
export const FallbackBy = z.enum(['ip', 'global', 'skip']).meta({
  description: 'When a request lacks a `by` value (e.g. no consumer): count it by ip (default), in one global counter, or not at all.',
});

const Method = z.string().regex(/^[A-Za-z]+$/, { error: 'a method is a word such as GET' });
const Cost = z
  .union([z.number().int().min(0), z.literal('graphql'), z.record(z.union([Method, z.literal('default')]), z.number().int().min(0))])
  .meta({
    description:
      'Units a request costs (default 1): a number, per method (e.g. { POST: 5, default: 1 }), or "graphql": the cost the route\'s graphql policy computed for the operation (at least 1).',
  });

export const rateLimitSchema = z
  .strictObject({
    type: z.literal('rate-limit'),
    algorithm: Algorithm.default('sliding-window'),
    ...limitFields,
    limits: z
      .union([z.literal('plan'), z.array(LimitSchema).min(1)])
      .optional()
      .meta({ description: 'Several limits (all checked), or "plan": the limits of the caller\'s plan (top-level plans, defaultPlan).' }),
    by: By.default('consumer'),
    fallbackBy: FallbackBy.default('ip'),
    cost: Cost.default(1),
    mode: z.enum(['enforce', 'shadow']).default('enforce').meta({ description: 'shadow: count and set headers, never reject.' }),
    headers: z.boolean().default(true).meta({ description: 'Send the IETF RateLimit-Policy and RateLimit fields.' }),
    legacyHeaders: z.boolean().default(false).meta({ description: 'Also send X-RateLimit-Limit, -Remaining and -Reset.' }),
    onStoreError: OnStoreError.optional().meta({ description: 'Overrides store.onStoreError for this policy.' }),
  })
  .superRefine((p, ctx) => {
    if (p.limits !== undefined) {
      for (const k of ['limit', 'window', 'rate', 'per', 'burst', 'name', 'status'] as const) {
        if (p[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `use either ${k} on the policy or limits, not both` });
      }
      if (Array.isArray(p.limits)) {
        p.limits.forEach((l, i) => {
          for (const issue of limitProblems(l, l.algorithm ?? p.algorithm))
            ctx.addIssue({ code: 'custom', path: ['limits', i, issue.path], message: issue.message });
          const tooDear = costProblem(maxCost(p.cost), l, l.algorithm ?? p.algorithm);
          if (tooDear) ctx.addIssue({ code: 'custom', path: ['cost'], message: `limits[${i}]: ${tooDear}` });
        });
      }
      return;
    }
    for (const issue of limitProblems(p, p.algorithm)) ctx.addIssue({ code: 'custom', path: [issue.path], message: issue.message });
    const tooDear = costProblem(maxCost(p.cost), p, p.algorithm);
    if (tooDear) ctx.addIssue({ code: 'custom', path: ['cost'], message: tooDear });
  });

export type RateLimitConfig = z.output<typeof rateLimitSchema>;

/** Top-level `plans`: named tiers, each with its limits. */
export const PlanSchema = z
  .strictObject({
    limits: z.array(LimitSchema).min(1),
  })
  .superRefine((p, ctx) => {
    p.limits.forEach((l, i) => {
      for (const issue of limitProblems(l, l.algorithm ?? 'sliding-window'))
        ctx.addIssue({ code: 'custom', path: ['limits', i, issue.path], message: issue.message });
    });
  })
  .meta({ description: 'A plan (tier): the limits of every consumer on it (limit algorithm default: sliding-window).' });

/** The top-level keys rate-limit owns (PolicyDefinition.sections). */
export const rateLimitSections = {
  plans: z
    .record(Name, PlanSchema)
    .default({})
    .meta({ description: "Rate-limit plans (tiers); a consumer's plan selects them for `rate-limit` with `limits: plan`." }),
  defaultPlan: Name.optional().meta({ description: 'The plan of traffic without a consumer or whose plan is not defined.' }),
};
export type Plans = z.output<typeof rateLimitSections.plans>;
