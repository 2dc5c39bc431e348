// Top-level `store:` — where rate-limit counters live.
import { z } from 'zod';
import { DURATION_PATTERN } from './units.js';

export const OnStoreError = z.enum(['allow', 'deny', 'local']).meta({
  description: 'When the store cannot answer in time: allow the request, deny it (503), or count locally (limit / store.instances).',
});

export const StoreConfigSchema = z
  .strictObject({
    type: z.enum(['memory', 'redis']).default('memory'),
    url: z
      .string()
      .regex(/^rediss?:\/\//, { error: 'a Redis URL starts with redis:// or rediss://' })
      .optional()
      .meta({ description: 'redis://[:password@]host:port[/db]; required for type: redis.' }),
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
