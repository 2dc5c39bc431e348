// `type: concurrency-limit` — at most `limit` requests in flight per key. A slot is taken in the
// access phase and given back in the log phase, which runs once per exchange however it ends:
// completed, aborted by the client, failed upstream, or answered by a later policy.
import { z } from 'zod';
import { definePolicy, type RequestContext, type Verdict } from '../types.js';
import { By, FallbackBy } from '../rate-limit/schema.js';
import { compileKey } from '../rate-limit/keys.js';

const schema = z.strictObject({
  type: z.literal('concurrency-limit'),
  limit: z.number().int().positive().meta({ description: 'Most requests in flight per key (per instance process).' }),
  by: By.default('global'),
  fallbackBy: FallbackBy.default('ip'),
});

let nextId = 0;

export const concurrencyLimitPolicy = definePolicy({
  type: 'concurrency-limit',
  description: 'At most N requests in flight per key; 429 GW_CONCURRENCY_LIMITED beyond.',
  schema,
  phases: ['access', 'log'],
  order: 'limit',
  example: { limit: 10 },
  create(config, env) {
    const slot = `concurrency-limit#${nextId++}`;
    const read = compileKey(config.by, config.fallbackBy);
    // The counts live in the data plane's registry, so a reload neither resets nor leaks them.
    const inflight = env.stores.inflight;
    const prefix = `${env.routeName ?? '*'}|${config.limit}|`;
    const limit = config.limit;
    return {
      access(ctx: RequestContext): Verdict {
        const part = read(ctx);
        if (part === undefined) return undefined;
        const key = prefix + part;
        const n = inflight.get(key) ?? 0;
        if (n >= limit) return { status: 429, code: 'GW_CONCURRENCY_LIMITED', headers: { 'retry-after': '1' } };
        inflight.set(key, n + 1);
        ctx.locals.set(slot, key);
        return undefined;
      },
      log(ctx: RequestContext): void {
        const key = ctx.locals.get(slot) as string | undefined;
        if (key === undefined) return;
        ctx.locals.delete(slot);
        const n = (inflight.get(key) ?? 1) - 1;
        if (n <= 0) inflight.delete(key);
        else inflight.set(key, n);
      },
    };
  },
});
