// Config of the observability features (issue 7): access log, metrics, tracing, and the shared
// store that analytics use across instances. Imported by config/schema.ts.
import { z } from 'zod';
import { Duration } from './units-schema.js';

/** Every field an access-log line can carry, in the order they are written. */
export const ACCESS_LOG_FIELDS = [
  'time',
  'requestId',
  'traceId',
  'clientIp',
  'consumer',
  'method',
  'protocol',
  'host',
  'path',
  'route',
  'service',
  'target',
  'status',
  'grpcStatus',
  'bytesIn',
  'bytesOut',
  'durationMs',
  'upstreamMs',
  'rejectedBy',
  'shadowLimited',
  'error',
  'retries',
  'cache',
  'userAgent',
  'aborted',
  'closeCode',
  'calls',
  'operation',
] as const;
export type AccessLogField = (typeof ACCESS_LOG_FIELDS)[number];

export const AccessLog = z.union([
  z.boolean(),
  z.strictObject({
    path: z.string().min(1).optional().meta({ description: 'A file to append to (reopened on SIGUSR1); stdout when absent.' }),
    fields: z
      .array(z.enum(ACCESS_LOG_FIELDS))
      .min(1)
      .optional()
      .meta({ description: 'The fields each line carries (default: all but userAgent). `time` is always written.' }),
    sample: z.number().min(0).max(1).default(1).meta({
      description:
        'Share of ordinary requests logged (0..1). Errors (status >= 500 or a gateway error) and slow requests are always logged.',
    }),
    slowThreshold: Duration.optional().meta({ description: 'Requests slower than this are always logged, whatever `sample` says.' }),
  }),
]);

export const Metrics = z
  .strictObject({
    enabled: z.boolean().default(true).meta({ description: 'Collect request metrics (admin GET /metrics). false = no per-request work.' }),
    consumerLabel: z.boolean().default(false).meta({
      description: 'Also count requests per consumer (gatehouse_consumer_requests_total). Off by default: one series per consumer.',
    }),
  })
  .meta({ description: 'Prometheus metrics served by the admin API at GET /metrics.' });

export const Tracing = z
  .strictObject({
    exporter: z.literal('otlp').default('otlp').meta({ description: 'OTLP over HTTP.' }),
    endpoint: z
      .url({ protocol: /^https?$/ })
      .meta({ description: "The collector's traces URL, e.g. http://otel-collector:4318/v1/traces." }),
    protocol: z.enum(['http/protobuf', 'http/json']).default('http/protobuf').meta({
      description:
        "Body encoding, as OTEL_EXPORTER_OTLP_PROTOCOL names it: protobuf (the OpenTelemetry SDKs' default; about half the bytes and CPU) or JSON.",
    }),
    sampleRatio: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .meta({ description: "Share of new traces sampled; a request with a traceparent follows its parent's decision." }),
    serviceName: z.string().min(1).default('gatehouse').meta({ description: 'service.name of the exported spans.' }),
    flushInterval: Duration.default('5s').meta({ description: 'Longest time a finished span waits before it is exported.' }),
    maxQueueSize: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(2048)
      .meta({ description: 'Finished spans waiting for export; beyond it spans are dropped (and counted), never waited for.' }),
    maxBatchSize: z.number().int().min(1).max(100_000).default(512).meta({ description: 'Spans per export request.' }),
  })
  .meta({ description: 'Distributed tracing: W3C traceparent in and out, spans exported with OTLP/HTTP.' });

export const Analytics = z
  .strictObject({
    enabled: z.boolean().default(false).meta({
      description:
        'Keep per-route, per-service and per-consumer analytics (admin GET /analytics). Off by default: it costs per-request work.',
    }),
    topK: z.number().int().min(1).max(100).default(10).meta({ description: 'Top client IPs and user agents reported per entry.' }),
  })
  .meta({ description: 'Request analytics over the last 1m, 15m and 1h, in bounded memory.' });

export const Store = z
  .strictObject({
    type: z.enum(['memory', 'redis']).default('memory'),
    url: z.string().min(1).optional().meta({ description: 'redis://host:port/db (type redis).' }),
    prefix: z.string().default('gatehouse:').meta({ description: 'Prefix of every key Gatehouse writes.' }),
  })
  .refine((s) => s.type !== 'redis' || s.url !== undefined, { error: 'a redis store needs a url', path: ['url'] })
  .meta({ description: 'Where counters shared between instances live (analytics; rate limits).' });
