// Top-level `store:` — where rate-limit counters live.
import { z } from 'zod';
import { DURATION_PATTERN } from './units.js';
import { REDIS_URL_FORMS, parseRedisUrl } from './redis-url.js';

/**
 * A Redis store URL in one of its forms (redis-url.ts). The pattern is for editors; the
 * check is the parser's, whose messages never quote the URL (it may hold a password).
 */
export const RedisUrl = z
  .string()
  .regex(/^(rediss?|redis\+sentinel|redis\+cluster):\/\//i, { error: `a Redis URL is one of ${REDIS_URL_FORMS}` })
  .superRefine((url, ctx) => {
    if (!/^(rediss?|redis\+sentinel|redis\+cluster):\/\//i.test(url)) return; // the regex said so
    const target = parseRedisUrl(url);
    if ('error' in target) ctx.addIssue({ code: 'custom', message: target.error });
  });

export const OnStoreError = z.enum(['allow', 'deny', 'local']).meta({
  description: 'When the store cannot answer in time: allow the request, deny it (503), or count locally (limit / store.instances).',
});

export const StoreConfigSchema = z
  .strictObject({
    type: z.enum(['memory', 'redis']).default('memory'),
    url: RedisUrl.optional().meta({
      description:
        'Required for type: redis. One server: redis://[[user]:password@]host:port[/db] (rediss:// over TLS); through Sentinel: redis+sentinel://[[user]:password@]host:26379[,host:26379…]/<master>[/db]; a Redis Cluster: redis+cluster://[[user]:password@]host:port[,host:port…].',
    }),
    prefix: z.string().max(100).default('gatehouse:rl:').meta({ description: 'Prefix of every key this gateway writes.' }),
    timeout: z
      .union([z.number().positive(), z.string().regex(DURATION_PATTERN, { error: 'expected a duration such as 50ms' })])
      .default('50ms')
      .meta({ description: 'Longest a request waits for one store decision.' }),
    onStoreError: OnStoreError.default('allow'),
    instances: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(1)
      .meta({ description: 'How many Gatehouse instances share the store; onStoreError: local divides each limit by it.' }),
    maxKeys: z
      .number()
      .int()
      .min(100)
      .default(100_000)
      .meta({ description: 'Memory store (and local fallback): most keys held; the least recently used go first.' }),
  })
  .meta({ description: 'Where rate-limit counters live: in memory (exact per instance) or in Redis (shared).' });

export type StoreConfig = z.output<typeof StoreConfigSchema>;
export const DEFAULT_STORE: StoreConfig = StoreConfigSchema.parse({});
