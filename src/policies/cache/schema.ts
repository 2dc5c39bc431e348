// The `cache` policy's config (binding names from issue 18: store, ttl, maxObjectSize, key,
// bypass, statuses, methods).
import { z } from 'zod';
import { Duration, Size } from '../config-fields.js';
import { RedisUrl } from '../../config/store-schema.js';

const KeyPart = z.string().regex(/^(consumer|header:[A-Za-z0-9!#$%&'*+.^_`|~-]+|query:[^\s&=#]+)$/, {
  error: "a key part is 'consumer', 'header:<name>' or 'query:<name>'",
});

const BypassRule = z
  .strictObject({
    header: z.string().min(1).optional().meta({ description: 'The request has this header (with `value`: this value).' }),
    query: z.string().min(1).optional().meta({ description: 'The request has this query parameter.' }),
    cookie: z.string().min(1).optional().meta({ description: 'The request has this cookie.' }),
    value: z.string().optional().meta({ description: 'With `header`: only this value (exact).' }),
  })
  .refine((r) => [r.header, r.query, r.cookie].filter((v) => v !== undefined).length === 1, {
    error: 'a bypass rule names one of header, query or cookie',
  });

export const cacheSchema = z.strictObject({
  type: z.literal('cache'),
  store: z.enum(['memory', 'redis']).default('memory').meta({
    description: "memory: this process's own, bounded by maxSize; redis: shared by every instance (its own url, or the top-level store's).",
  }),
  url: RedisUrl.optional().meta({ description: 'store: redis — its URL; default: the top-level store.url.' }),
  prefix: z.string().max(100).default('gatehouse:cache:').meta({ description: 'store: redis — prefix of every key.' }),
  timeout: Duration.default('250ms').meta({
    description: 'store: redis — longest one lookup or write may take (then: served from the service).',
  }),
  maxSize: Size.default('128mb').meta({ description: 'store: memory — most bytes held by this process (least recently used go first).' }),
  ttl: Duration.optional().meta({
    description: "Freshness for a response that states none (no max-age, s-maxage or Expires), as Kong's cache_ttl. Default: none.",
  }),
  heuristic: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .meta({ description: 'Heuristic freshness (RFC 9111 §4.2.2): this fraction of the time since Last-Modified. Default: off.' }),
  maxObjectSize: Size.default('1mb').meta({ description: 'A larger response is streamed and not stored.' }),
  key: z.array(KeyPart).max(16).default([]).meta({
    description:
      "Parts added to the key (method, host, path and sorted query): 'consumer', 'header:<name>', 'query:<name>' (with query parts, only those parameters are in the key).",
  }),
  bypass: z
    .array(BypassRule)
    .max(32)
    .default([])
    .meta({ description: 'Requests matching any rule are neither served from nor stored in the cache.' }),
  statuses: z
    .array(z.number().int().min(200).max(599))
    .default([200, 203, 204, 300, 301, 302, 307, 308, 404, 405, 410, 414, 501])
    .meta({ description: 'Statuses that may be stored (302 and 307 only with stated freshness).' }),
  methods: z
    .array(z.enum(['GET', 'HEAD']))
    .min(1)
    .default(['GET', 'HEAD'])
    .meta({ description: 'Methods answered from the cache (HEAD is answered from a stored GET).' }),
  requestDirectives: z.enum(['honour', 'ignore']).default('honour').meta({
    description:
      "A client's Cache-Control (no-cache, max-age, max-stale, min-fresh, only-if-cached): honoured, or ignored to protect the service.",
  }),
  staleIfError: Duration.default(0).meta({
    description:
      'A stale response may answer for this long past its freshness when the service fails (5xx, unreachable), unless the response says otherwise.',
  }),
  coalesce: z
    .strictObject({
      enabled: z.boolean().default(true),
      timeout: Duration.default('5s').meta({ description: 'Longest a request waits for another one fetching the same key.' }),
    })
    .prefault({})
    .meta({ description: 'Concurrent misses for one key: one goes to the service, the others wait for what it stores.' }),
  tagHeaders: z
    .array(z.string().min(1))
    .default(['surrogate-key', 'cache-tag'])
    .meta({ description: 'Response fields whose space- or comma-separated tags DELETE /cache?tag= purges by.' }),
  targetedCacheControl: z
    .array(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/))
    .max(8)
    .default(['CDN-Cache-Control'])
    .meta({
      description:
        'Targeted cache-control fields this cache obeys (RFC 9213), first found wins: its directives replace Cache-Control for this cache. [] to obey Cache-Control only.',
    }),
  maxVariants: z.number().int().min(1).max(100).default(16).meta({ description: 'Most stored variants (Vary) of one key.' }),
});

export type CacheConfig = z.output<typeof cacheSchema>;
