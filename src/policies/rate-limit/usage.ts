// A consumer's current usage of the rate limits and quotas that count it (GET
// /consumers/:id/usage): every rate-limit policy, global or of a route, whose `by` is the consumer
// or its credentials, with the limits that apply to it (its plan's, for `limits: plan`). Each is
// read from the same store and key the policy counts in, by a decision that costs 0: the store's
// own arithmetic answers what is left and when it resets, and nothing is taken.
import type { RateStore } from '../../store/types.js';
import { credentialId } from '../../identity/registry.js';
import { section, type ConfigEntry, type ConsumerRecord, type UsageEnv } from '../types.js';
import { compileLimit, decide, Kind, type CompiledLimit } from './limits.js';
import type { Plans, RateLimitConfig } from './schema.js';

export interface LimitUsage {
  /** The limit's name (as in the RateLimit headers). */
  policy: string;
  /** The route whose policy it is; absent for a global policy. */
  route?: string;
  /** The credential counted, for a policy `by: credential`. */
  credential?: string;
  algorithm: string;
  /** Units per window, or the bucket's size. */
  limit: number;
  /** "1m", "month", or a bucket's "10/1s". */
  window: string;
  used: number;
  remaining: number;
  resetsAt: string;
  /** The store could not answer (the other fields are then absent). */
  error?: string;
}

export interface ConsumerUsage {
  plan?: string;
  limits: Partial<LimitUsage>[];
}

/** The rate-limit definition's `consumerUsage` hook: `entries` are the config's rate-limit policies. */
export async function consumerUsage(
  entries: readonly ConfigEntry<RateLimitConfig>[],
  consumer: ConsumerRecord,
  env: UsageEnv,
): Promise<ConsumerUsage> {
  const config = env.config;
  const store = () => env.stores.get(config.store);
  const plans = section<Plans | undefined>(config, 'plans') ?? {};
  const defaultPlan = section<string | undefined>(config, 'defaultPlan');
  const planName = consumer.plan !== undefined && Object.hasOwn(plans, consumer.plan) ? consumer.plan : defaultPlan;
  const limits: Partial<LimitUsage>[] = [];
  for (const { config: p, route } of entries) {
    const keys = keysOf(p, consumer);
    if (keys.length === 0) continue;
    const scope = route ?? '*';
    let compiled: CompiledLimit[];
    const windows: string[] = [];
    if (p.limits === 'plan') {
      if (planName === undefined || !Object.hasOwn(plans, planName)) continue;
      const plan = plans[planName]!;
      const single = plan.limits.length === 1;
      compiled = plan.limits.map((l) =>
        compileLimit(l, l.algorithm ?? 'sliding-window', `${scope}|plan:${planName}`, { name: planName, single }),
      );
      windows.push(...plan.limits.map((l) => spanOf(l)));
    } else {
      const list = p.limits ?? [p];
      compiled = list.map((l) => compileLimit(l, ('algorithm' in l && l.algorithm) || p.algorithm, scope));
      windows.push(...list.map((l) => spanOf(l)));
    }
    for (const [credential, key] of keys)
      for (let i = 0; i < compiled.length; i++) limits.push(await usageOf(store(), compiled[i]!, key, windows[i]!, route, credential));
  }
  return { ...(planName !== undefined && { plan: planName }), limits };
}

/** The counting keys of a policy for this consumer ([credential id or undefined, key]); none when `by` is not the caller's. */
function keysOf(p: RateLimitConfig, c: ConsumerRecord): [string | undefined, string][] {
  const by = Array.isArray(p.by) ? p.by : [p.by];
  if (!by.every((b) => b === 'consumer' || b === 'credential')) return [];
  if (!by.includes('credential')) return [[undefined, by.map(() => 'c=' + c.id).join('&')]];
  return c.credentials.map((cred, i) => {
    const credId = credentialId(c.id, cred.type, i, cred.id);
    return [credId, by.map((b) => (b === 'consumer' ? 'c=' + c.id : 'k=' + credId)).join('&')];
  });
}

function spanOf(l: { window?: string | number | undefined; rate?: number | undefined; per?: string | number | undefined }): string {
  if (l.window !== undefined) return String(l.window);
  return `${l.rate ?? ''}/${String(l.per ?? '')}`;
}

async function usageOf(
  store: RateStore,
  l: CompiledLimit,
  key: string,
  window: string,
  route: string | undefined,
  credential: string | undefined,
): Promise<Partial<LimitUsage>> {
  const bucket = l.kind === Kind.Token || l.kind === Kind.Leaky;
  const algorithm = l.keyPrefix.split('|').at(-2)!;
  const head = { policy: l.name, ...(route !== undefined && { route }), ...(credential !== undefined && { credential }), algorithm };
  try {
    const d = await decide(store, l, l.keyPrefix + key, 0);
    const capacity = bucket ? l.c : l.a;
    return {
      ...head,
      limit: capacity,
      window: l.kind === Kind.Month ? 'month' : window,
      used: Math.max(0, capacity - d.remaining),
      remaining: d.remaining,
      resetsAt: new Date(Date.now() + d.resetMs).toISOString(),
    };
  } catch (err) {
    return { ...head, error: (err as Error).message };
  }
}
