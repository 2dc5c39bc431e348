// The one schema of a Gatehouse config. From it come the TypeScript types (`GatehouseConfig`),
// the validator, the admin API's request schemas and schema/gatehouse.schema.json.
// It describes the config as written (durations as "30s", sizes as "10mb"); compile.ts turns
// that into the runtime plan.
import { z } from 'zod';
import { DURATION_PATTERN, SIZE_PATTERN } from './units.js';
import { POLICY_DEFINITIONS } from '../policies/index.js';
import { StoreConfigSchema, DEFAULT_STORE } from '../store/schema.js';
import { PlanSchema } from '../policies/rate-limit/schema.js';

export const Duration = z
  .union([
    z.number().nonnegative(),
    z.string().regex(DURATION_PATTERN, { message: 'expected a duration such as 500ms, 30s, 1m, 1h or a number of milliseconds' }),
  ])
  .meta({ description: 'A duration: "500ms", "30s", "1m", "1h", "1d", or a number of milliseconds.' });

export const Size = z
  .union([
    z.number().int().nonnegative(),
    z.string().regex(SIZE_PATTERN, { message: 'expected a size such as 512kb or 10mb, or a number of bytes' }),
  ])
  .meta({ description: 'A size: "512kb", "10mb", "1gb", or a number of bytes.' });

const Name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { message: 'names use letters, digits, ".", "_" and "-" (at most 128)' });

const Port = z.number().int().min(0).max(65535);

const Listener = z
  .strictObject({
    port: Port,
    host: z.string().min(1).default('0.0.0.0'),
  })
  .meta({ description: 'A data-plane listener.' });

const Admin = z
  .strictObject({
    enabled: z.boolean().default(true),
    port: Port.default(9876),
    host: z.string().min(1).default('127.0.0.1').meta({ description: 'Keep it on loopback unless a token is set.' }),
    token: z.string().optional().meta({ description: 'Optional bearer token for every admin request (empty = none).' }),
  })
  .meta({ description: 'The admin API: its own listener, never on a data-plane port.' });

const AccessLog = z.union([
  z.boolean(),
  z.strictObject({
    path: z.string().min(1).optional().meta({ description: 'A file to append to; stdout when absent.' }),
  }),
]);

const Target = z.strictObject({
  url: z.string().meta({ description: 'http://host:port of one instance of the service.' }),
  weight: z.number().int().min(0).max(1000).default(1),
});

const Service = z
  .strictObject({
    targets: z.array(Target).min(1, { message: 'a service needs at least one target' }),
    timeouts: z
      .strictObject({
        connect: Duration.default('5s'),
        response: Duration.default('60s').meta({ description: 'Time to the upstream response headers.' }),
        idle: Duration.default('60s').meta({ description: 'Longest pause while a body streams, either way.' }),
      })
      .default({ connect: '5s', response: '60s', idle: '60s' }),
    pool: z
      .strictObject({
        maxConnections: z.number().int().min(1).default(512).meta({ description: 'Per target.' }),
        keepAliveTimeout: Duration.default('60s'),
      })
      .default({ maxConnections: 512, keepAliveTimeout: '60s' }),
  })
  .meta({ description: 'A backend service and the targets (instances) that serve it.' });

const ValueMatcher = z.union([
  z.string().meta({ description: 'Exact value.' }),
  z.strictObject({ regex: z.string() }),
  z.strictObject({ present: z.boolean() }),
]);

const PathPattern = z
  .string()
  .regex(/^\//, { message: 'a path starts with "/"' })
  .meta({ description: 'Exact "/a/b", params "/a/:id", or prefix "/a/*" (matches /a and below).' });

const Policy = z.discriminatedUnion(
  'type',
  POLICY_DEFINITIONS.map((d) => d.schema) as unknown as [PolicyObject, ...PolicyObject[]],
);
type PolicyObject = z.ZodObject<{ type: z.ZodLiteral<string> }, z.core.$loose>;

const Route = z
  .strictObject({
    name: Name,
    priority: z.number().int().default(0).meta({ description: 'Higher wins before any other precedence rule.' }),
    match: z
      .strictObject({
        hosts: z.array(z.string().min(1)).optional(),
        methods: z.array(z.string().regex(/^[A-Za-z]+$/, { message: 'a method is a word such as GET' })).optional(),
        paths: z.array(PathPattern).min(1).default(['/*']),
        headers: z.record(z.string(), ValueMatcher).optional(),
        query: z.record(z.string(), ValueMatcher).optional(),
      })
      .default({ paths: ['/*'] }),
    service: Name,
    stripPrefix: z.string().regex(/^\//, { message: 'a prefix starts with "/"' }).optional(),
    rewrite: z.string().regex(/^\//, { message: 'a rewrite starts with "/"' }).optional(),
    preserveHost: z.boolean().default(false),
    policies: z.array(Policy).default([]),
  })
  .meta({ description: 'Which requests go to which service, and the policies they pass.' });

export const ConfigSchema = z
  .strictObject({
    workers: z.union([z.number().int().min(1).max(256), z.literal('auto')]).default(1),
    accessLog: AccessLog.default(true),
    log: z
      .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .default({ level: 'info' }),
    listen: z.array(Listener).min(1).default([{ port: 8080, host: '0.0.0.0' }]),
    admin: Admin.default({ enabled: true, port: 9876, host: '127.0.0.1' }),
    trustedProxies: z
      .array(z.string())
      .default([])
      .meta({ description: 'IPs or CIDRs whose X-Forwarded-*/Forwarded headers are believed.' }),
    shutdown: z
      .strictObject({ drainTimeout: Duration.default('30s') })
      .default({ drainTimeout: '30s' }),
    services: z.record(Name, Service).default({}),
    routes: z.array(Route).default([]),
    policies: z.array(Policy).default([]).meta({ description: 'Global policies, run for every route before its own.' }),
    store: StoreConfigSchema.default(DEFAULT_STORE),
    plans: z.record(Name, PlanSchema).default({}).meta({ description: 'Rate-limit plans (tiers); a consumer\'s plan selects them for `rate-limit` with `limits: plan`.' }),
    defaultPlan: Name.optional().meta({ description: 'The plan of traffic without a consumer or whose plan is not defined.' }),
  })
  .meta({ title: 'Gatehouse configuration' });

/** A config after schema validation, with defaults filled in. */
export type GatehouseConfig = z.output<typeof ConfigSchema>;
/** A config as written by a user. */
export type GatehouseConfigInput = z.input<typeof ConfigSchema>;
export type ServiceConfig = GatehouseConfig['services'][string];
export type RouteConfig = GatehouseConfig['routes'][number];
export type PolicyConfig = RouteConfig['policies'][number];
export type ValueMatcherConfig = z.output<typeof ValueMatcher>;
