// Schema of a service's resilience settings: load balancing, health, retries, circuit breaking.
// Part of the one config schema (schema.ts imports it); kept apart so each stays readable.
import { z } from 'zod';
import { Duration, Size } from './units-schema.js';
import { validateHashOn } from './hash-on.js';
import { GRPC_SERVICE_NAME } from './grpc-match.js';
import { GrpcMethods, GrpcStatuses } from './grpc-retry-schema.js';

/** Every balancer name, in documentation order (upstream/balancers/index.ts implements each one). */
export const BALANCERS = ['round-robin', 'least-connections', 'random', 'p2c-ewma', 'consistent-hash'] as const;

/** `hashOn`: where consistent-hash takes a request's key from. */
export const HashOn = z
  .string()
  .superRefine((s, ctx) => {
    const problem = validateHashOn(s);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .meta({ description: 'consistent-hash key: ip | consumer | path | header:<name> | cookie:<name> | query:<name>.' });

const StatusCode = z.number().int().min(100).max(599);

export const ActiveHealthCheck = z
  .strictObject({
    type: z.enum(['http', 'grpc']).default('http').meta({
      description:
        'http: GET `path`; grpc: the standard grpc.health.v1.Health/Check call over HTTP/2 (the service’s protocol must be h2 or h2c), healthy when it answers SERVING.',
    }),
    grpcService: z
      .string()
      .regex(GRPC_SERVICE_NAME, { error: 'expected a fully-qualified gRPC service name such as "pkg.Service"' })
      .optional()
      .meta({ description: 'type grpc: the service name the check asks about (default: the server as a whole, "").' }),
    path: z.string().regex(/^\//, { error: 'a path starts with "/"' }).default('/health'),
    interval: Duration.default('5s'),
    timeout: Duration.default('1s'),
    healthyThreshold: z
      .number()
      .int()
      .min(1)
      .default(2)
      .meta({ description: 'Consecutive successes that mark an unhealthy target healthy.' }),
    unhealthyThreshold: z
      .number()
      .int()
      .min(1)
      .default(3)
      .meta({ description: 'Consecutive failures that mark a healthy target unhealthy.' }),
    expectStatus: z.array(StatusCode).min(1).optional().meta({ description: 'Statuses counted as healthy; default: any 2xx or 3xx.' }),
  })
  .superRefine((a, ctx) => {
    if (a.type !== 'grpc' && a.grpcService !== undefined)
      ctx.addIssue({ code: 'custom', path: ['grpcService'], message: 'grpcService is for type grpc' });
    if (a.type === 'grpc' && a.expectStatus !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['expectStatus'],
        message: 'a grpc check is healthy when it answers SERVING: expectStatus is for type http',
      });
  })
  .meta({ description: 'Active checks: one prober per target per instance, off the request path.' });

export const PASSIVE_FAILURES = ['connect-error', 'timeout', '5xx'] as const;

export const PassiveHealthCheck = z
  .strictObject({
    consecutiveFailures: z.number().int().min(1).default(5),
    failOn: z.array(z.enum(PASSIVE_FAILURES)).min(1).default(['connect-error', 'timeout', '5xx']),
    baseEjection: Duration.default('30s').meta({
      description: 'First ejection; the n-th consecutive ejection lasts n × baseEjection (capped at maxEjection).',
    }),
    maxEjection: Duration.default('5m'),
    maxEjectionPercent: z.number().min(0).max(100).default(50).meta({ description: 'Never eject more than this share of the targets.' }),
  })
  .meta({ description: 'Passive checks (outlier detection) on real traffic.' });

export const HealthCheck = z
  .strictObject({
    active: ActiveHealthCheck.optional(),
    passive: PassiveHealthCheck.optional(),
    panicThreshold: z.number().min(0).max(100).default(0).meta({
      description:
        'When the healthy share of targets falls below this percent, spread over all targets (0 = never; answer 503 when none is healthy).',
    }),
  })
  .meta({ description: 'How target health is judged.' });

export const RETRY_ON = ['connect-error', 'timeout'] as const;

export const Retries = z
  .strictObject({
    attempts: z.number().int().min(1).max(10).default(2).meta({ description: 'Total tries including the first.' }),
    on: z
      .array(z.union([z.enum(RETRY_ON), StatusCode]))
      .min(1)
      .default(['connect-error', 'timeout', 502, 503, 504]),
    backoff: z
      .strictObject({ base: Duration.default('25ms'), max: Duration.default('250ms') })
      .default({ base: '25ms', max: '250ms' })
      .meta({ description: 'Full-jitter exponential backoff between tries.' }),
    perTryTimeout: Duration.optional().meta({ description: 'Time to response headers for each try (default: timeouts.response).' }),
    retryBodyLimit: Size.default('64kb').meta({
      description: 'Bodies up to this size (by Content-Length) are kept for replay; larger or chunked ones are never retried once sent.',
    }),
    methods: z
      .array(z.string().regex(/^[A-Za-z]+$/))
      .default(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])
      .meta({ description: 'Methods that may be retried (routes may add more with retryMethods).' }),
    grpcStatuses: GrpcStatuses,
    grpcMethods: GrpcMethods,
    budget: z
      .strictObject({
        ratio: z.number().min(0).max(10).default(0.2),
        window: Duration.default('10s'),
        minRetries: z
          .number()
          .int()
          .min(0)
          .default(3)
          .meta({ description: 'Retries always allowed per window (a floor), so a quiet service can still retry.' }),
      })
      .default({ ratio: 0.2, window: '10s', minRetries: 3 })
      .meta({ description: 'Retries at most max(minRetries, ratio × requests) per window.' }),
  })
  .meta({ description: 'Retrying failed upstream calls.' });

export const Fallback = z
  .strictObject({
    status: StatusCode.default(503),
    headers: z.record(z.string(), z.string()).default({}),
    body: z.string().default(''),
  })
  .meta({ description: 'Answered instead of GW_CIRCUIT_OPEN while the breaker is open.' });

export const CircuitBreaker = z
  .strictObject({
    window: Duration.default('10s').meta({ description: 'Rolling window for failureRatio.' }),
    failureRatio: z.number().gt(0).max(1).default(0.5),
    minRequests: z.number().int().min(1).default(20),
    consecutiveFailures: z.number().int().min(1).optional(),
    failOn: z.array(z.enum(PASSIVE_FAILURES)).min(1).default(['connect-error', 'timeout', '5xx']),
    openDuration: Duration.default('30s').meta({ description: 'Doubles on each consecutive trip, up to maxOpenDuration.' }),
    maxOpenDuration: Duration.default('5m'),
    halfOpenRequests: z.number().int().min(1).default(1),
    fallback: Fallback.optional(),
    maxConcurrent: z
      .number()
      .int()
      .min(1)
      .optional()
      .meta({ description: 'Requests in flight to the service at most; more wait in the queue.' }),
    maxQueue: z.number().int().min(0).default(0),
    queueTimeout: Duration.default('1s'),
  })
  .meta({ description: 'Stops calling a failing service, and bounds how much it is asked at once.' });
