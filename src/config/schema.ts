// The one schema of a Gatehouse config. From it come the TypeScript types (`GatehouseConfig`),
// the validator, the admin API's request schemas and schema/gatehouse.schema.json.
// It describes the config as written (durations as "30s", sizes as "10mb"); dataplane/plan.ts turns
// that into the runtime plan.
import { z } from 'zod';
import { Duration, Size } from './units-schema.js';
import { parseDuration } from './units.js';
import { BALANCERS, HashOn, HealthCheck, Retries, CircuitBreaker } from './resilience-schema.js';
import { Consumers } from './consumer-schema.js';
import { ListenerTls, RedirectHttps } from './tls-schema.js';
import { StoreConfigSchema, DEFAULT_STORE } from './store-schema.js';
import { AccessLog, Analytics, Metrics, Tracing } from './observability-schema.js';
import { RouteWebSocket } from './websocket-schema.js';
import { Http2Limits, HTTP2_DEFAULTS, ListenerHttp2, ServiceProtocolSchema } from './http2-schema.js';
import { BodyMatch } from './body-match.js';
import { GraphQLMatch } from './graphql-match.js';
import { GrpcMatch, grpcPathsConflict } from './grpc-match.js';
import { ComposeSchema } from './compose-schema.js';
import { BatchSchema } from './batch-schema.js';
import { GraphqlRouteSchema } from './graphql-route-schema.js';
import { ConfigStoreSchema } from './config-store-schema.js';

export { Duration, Size };

/** A name of a service, route, plan …: also used by policies' own top-level sections. */
export const Name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { error: 'names use letters, digits, ".", "_" and "-" (at most 128)' });

const Port = z.number().int().min(0).max(65535);

const Listener = z
  .strictObject({
    port: Port,
    host: z.string().min(1).default('0.0.0.0'),
    tls: ListenerTls.optional(),
    http2: ListenerHttp2,
    redirectHttps: RedirectHttps.optional().meta({
      description: 'A plain-HTTP listener answers every request with 308 to HTTPS (before routing); true or { port }.',
    }),
  })
  .meta({ description: 'A data-plane listener.' });

const Admin = z
  .strictObject({
    enabled: z.boolean().default(true),
    port: Port.default(9876),
    host: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .meta({ description: 'Loopback (127.0.0.0/8, ::1, localhost) unless a token is set: any other host needs one.' }),
    token: z.string().optional().meta({ description: 'Bearer token for every admin request (empty = none; required off loopback).' }),
    // POST /config replaces the whole config, so an open admin API off loopback is refused
    // unless the user says the network is trusted (validation/validate.ts; the start-up log warns).
    allowRemoteWithoutToken: z.boolean().optional().meta({
      description:
        'Serve the admin API off loopback without a token (default false): only on a network you trust. Logged as a warning at start.',
    }),
    console: z.boolean().default(true).meta({
      description:
        'Serve the web console at /ui/ of the admin listener (default true). Needs a token off loopback, even with allowRemoteWithoutToken.',
    }),
  })
  .meta({ description: 'The admin API: its own listener, never on a data-plane port.' });

// Listener hardening (issue 6). Applied when the listeners start, so a change needs a restart.
const Server = z
  .strictObject({
    headersTimeout: Duration.default('10s').meta({
      description: 'Longest time for a request head to arrive (slowloris); then 408 and close.',
    }),
    requestTimeout: Duration.default('5m').meta({ description: 'Longest time for a whole request (head and body) to arrive; 0 = none.' }),
    bodyIdleTimeout: Duration.default('30s').meta({
      description: 'Longest pause while a request body streams in; then the connection is closed.',
    }),
    keepAliveTimeout: Duration.default('5s').meta({ description: 'How long an idle keep-alive connection stays open.' }),
    maxRequestsPerSocket: z
      .number()
      .int()
      .min(0)
      .default(1000)
      .meta({ description: 'Requests one connection may carry before it is closed; 0 = no limit.' }),
    maxHeaderSize: Size.default('16kb').meta({ description: 'Request line plus header bytes; beyond it 431.' }),
    maxHeaderCount: z.number().int().min(1).max(10000).default(100).meta({ description: 'Header fields per request; beyond it 431.' }),
    maxUrlLength: z.number().int().min(16).default(8192).meta({ description: 'Request-target length in bytes; beyond it 414.' }),
    serverHeader: z
      .union([z.string().regex(/^[\x21-\x7e][\x20-\x7e]*$/, { error: 'printable ASCII only' }), z.literal(false)])
      .default(false)
      .meta({
        description:
          "A `Server` header for every response (replacing the upstream's); false = none on gateway answers, the upstream's passed on.",
      }),
    allowSemicolonInPath: z.boolean().default(false).meta({
      description:
        'Accept ";" in request paths (matrix parameters); false = any ";", literal or encoded (%3B), is refused with 400 GW_BAD_PATH. When true, an encoded ";" is forwarded as %3B; a dot segment with parameters ("..;") is refused either way.',
    }),
    http2: Http2Limits.default(HTTP2_DEFAULTS),
    maxBodyForMatch: Size.default('64kb').meta({
      description:
        'How much of a request body is read to test `match.body` conditions (only for requests whose candidate routes have them); a larger body matches no body condition and is forwarded whole.',
    }),
  })
  .refine((s) => s.requestTimeout === 0 || s.requestTimeout === '0ms' || toMs(s.headersTimeout) <= toMs(s.requestTimeout), {
    error: 'headersTimeout must not be longer than requestTimeout',
    path: ['headersTimeout'],
  })
  .meta({ description: 'Data-plane listener hardening: timeouts and limits for slow or hostile clients. Changing it needs a restart.' });
const SERVER_DEFAULTS = Server.parse({});
function toMs(d: number | string): number {
  try {
    return parseDuration(d);
  } catch {
    return 0;
  } // a malformed duration is reported by its own check
}

const LoadShedding = z
  .strictObject({
    maxInflight: z.number().int().min(1).optional().meta({ description: 'Shed new requests while this many are in flight (per process).' }),
    maxEventLoopLag: Duration.optional().meta({ description: 'Shed new requests while the event loop lags more than this.' }),
    retryAfter: Duration.default('1s').meta({ description: 'The Retry-After sent with 503 GW_OVERLOADED (rounded up to seconds).' }),
  })
  .meta({ description: 'Answer 503 GW_OVERLOADED before any work when a threshold is passed. Absent thresholds are off.' });

const Target = z.strictObject({
  url: z.string().meta({ description: 'http://host:port of one instance of the service.' }),
  weight: z.number().int().min(0).max(1000).default(1),
});

const Service = z
  .strictObject({
    targets: z.array(Target).min(1, { error: 'a service needs at least one target' }),
    protocol: ServiceProtocolSchema,
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
    balancer: z.enum(BALANCERS).default('round-robin'),
    hashOn: HashOn.optional(),
    dnsTtl: Duration.default('30s').meta({ description: 'How often target host names are re-resolved (each address becomes a target).' }),
    healthCheck: HealthCheck.optional(),
    retries: Retries.optional(),
    circuitBreaker: CircuitBreaker.optional(),
  })
  .meta({ description: 'A backend service and the targets (instances) that serve it.' });

const ValueMatcher = z.union([
  z.string().meta({ description: 'Exact value.' }),
  z.strictObject({ regex: z.string() }),
  z.strictObject({ present: z.boolean() }),
]);

const PathPattern = z
  .string()
  .regex(/^\//, { error: 'a path starts with "/"' })
  .meta({ description: 'Exact "/a/b", params "/a/:id", or prefix "/a/*" (matches /a and below).' });

type PolicyObject = z.ZodObject<{ type: z.ZodLiteral<string> }, z.core.$loose>;

/**
 * What the schema needs of a policy definition (policies/types.ts has the whole contract). The
 * config layer never imports the policies: whoever builds a schema passes their definitions in
 * (policies/index.ts for the built-ins, with a config's plugins for validation).
 */
export interface PolicySchemaSource {
  readonly type: string;
  readonly description: string;
  readonly schema: z.ZodType;
  /** Top-level keys the type owns (rate-limit: `plans`, `defaultPlan`). */
  readonly sections?: Readonly<Record<string, z.ZodType>> | undefined;
}

/** The policy entries of a config whose types are `defs` (the built-ins, plus the plugins it loads). */
function policyEntry(defs: readonly PolicySchemaSource[]) {
  // Each entry is described by its definition (editors show it; `gatehouse schema` prints it).
  const described = defs.map((d) => (d.schema.description === undefined ? d.schema.meta({ description: d.description }) : d.schema));
  return z.discriminatedUnion('type', described as unknown as [PolicyObject, ...PolicyObject[]]);
}

const routeSchema = (Policy: ReturnType<typeof policyEntry>) =>
  z
    .strictObject({
      name: Name,
      priority: z.number().int().default(0).meta({ description: 'Higher wins before any other precedence rule.' }),
      match: z
        .strictObject({
          hosts: z.array(z.string().min(1)).optional(),
          methods: z.array(z.string().regex(/^[A-Za-z]+$/, { error: 'a method is a word such as GET' })).optional(),
          paths: z.array(PathPattern).min(1).default(['/*']),
          headers: z.record(z.string(), ValueMatcher).optional(),
          query: z.record(z.string(), ValueMatcher).optional(),
          body: BodyMatch.optional(),
          graphql: GraphQLMatch.optional(),
          grpc: GrpcMatch.optional(),
        })
        .superRefine((m, ctx) => {
          // A gRPC path is the service and method: another path list would either contradict it or
          // say the same thing twice, so the two are never combined.
          if (grpcPathsConflict(m.paths, m.grpc))
            ctx.addIssue({
              code: 'custom',
              path: ['paths'],
              message: 'match.grpc sets the paths (/pkg.Service/Method): leave match.paths out',
            });
        })
        .default({ paths: ['/*'] }),
      service: Name.optional().meta({
        description: 'The service requests of this route go to (a route without one answers by itself: `compose`, `batch`, `graphql`).',
      }),
      compose: ComposeSchema.optional(),
      batch: BatchSchema.optional(),
      graphql: GraphqlRouteSchema.optional(),
      stripPrefix: z.string().regex(/^\//, { error: 'a prefix starts with "/"' }).optional(),
      rewrite: z.string().regex(/^\//, { error: 'a rewrite starts with "/"' }).optional(),
      preserveHost: z.boolean().default(false),
      redirectHttps: RedirectHttps.optional().meta({
        description: 'Requests of this route that arrive over plain HTTP get 308 to HTTPS (before any policy); true or { port }.',
      }),
      retryMethods: z
        .array(z.string().regex(/^[A-Za-z]+$/, { error: 'a method is a word such as POST' }))
        .default([])
        .meta({
          description: "Methods retried on this route besides the service's retries.methods (e.g. POST for an idempotent endpoint).",
        }),
      policies: z.array(Policy).default([]),
      websocket: RouteWebSocket.default(false),
    })
    .meta({ description: 'Which requests go to which service, and the policies they pass.' });

// Whatever is wrong with `workers`, the message says both forms it takes.
const WORKERS = { error: 'expected a whole number of processes from 1 to 256, or "auto" (one per core)' };

/**
 * The schema of a config that may use the policy types `defs`. The built-in one (`ConfigSchema`,
 * policies/index.ts)
 * gives the TypeScript types and schema/gatehouse.schema.json; a config that loads plugins is
 * checked with one that knows their types too (built once per set of plugins).
 */
export function buildConfigSchema(defs: readonly PolicySchemaSource[]) {
  const Policy = policyEntry(defs);
  const Route = routeSchema(Policy);
  const core = z.strictObject({
    workers: z.union([z.number().int(WORKERS).min(1, WORKERS).max(256, WORKERS), z.literal('auto')], WORKERS).default(1),
    accessLog: AccessLog.default(true),
    metrics: Metrics.default({ enabled: true, consumerLabel: false }),
    tracing: Tracing.optional(),
    analytics: Analytics.default({ enabled: false, topK: 10 }),
    log: z
      .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .default({ level: 'info' }),
    listen: z
      .array(Listener)
      .min(1)
      .default([{ port: 8080, host: '0.0.0.0' }]),
    admin: Admin.default({ enabled: true, port: 9876, host: '127.0.0.1', console: true }),
    server: Server.default(SERVER_DEFAULTS),
    loadShedding: LoadShedding.default({ retryAfter: '1s' }),
    trustedProxies: z
      .array(z.string())
      .default([])
      .meta({ description: 'IPs or CIDRs whose X-Forwarded-*/Forwarded headers are believed.' }),
    shutdown: z.strictObject({ drainTimeout: Duration.default('30s') }).default({ drainTimeout: '30s' }),
    services: z.record(Name, Service).default({}),
    routes: z.array(Route).default([]),
    policies: z.array(Policy).default([]).meta({ description: 'Global policies, run for every route before its own.' }),
    consumers: Consumers,
    store: StoreConfigSchema.default(DEFAULT_STORE),
    configStore: ConfigStoreSchema.optional(),
    plugins: z.array(z.string().min(1)).default([]).meta({
      description:
        'Policy plugins: module specifiers (paths relative to the config file, or package names) whose default export is a policy definition; their types work in any `policies` list. Loaded from a config file only (docs/plugins.md).',
    }),
  });
  const sections = contributedSections(defs, Object.keys(core.shape));
  // The sections policies contribute are typed by their owners (PolicyEnv.config reads them
  // through `section()`), so the config's static type is the core's.
  const full = (sections === undefined ? core : core.extend(sections)) as typeof core;
  return full.meta({ title: 'Gatehouse configuration' });
}

/** Top-level keys contributed by definitions; a key owned twice, or a core key, is a definition error. */
export function contributedSections(
  defs: readonly PolicySchemaSource[],
  coreKeys: readonly string[],
): Record<string, z.ZodType> | undefined {
  let out: Record<string, z.ZodType> | undefined;
  const owner = new Map<string, string>(coreKeys.map((k) => [k, 'the core config']));
  for (const d of defs) {
    for (const [key, schema] of Object.entries(d.sections ?? {})) {
      const taken = owner.get(key);
      if (taken !== undefined)
        throw new Error(
          `policy type "${d.type}" contributes top-level "${key}", which ${taken === 'the core config' ? 'is a core key' : `policy type "${taken}" owns`}`,
        );
      owner.set(key, d.type);
      (out ??= {})[key] = schema;
    }
  }
  return out;
}

/** A config schema; `GatehouseConfig` is its output whatever the plugins (their entries are `{ type: string }` objects). */
export type ConfigSchemaType = ReturnType<typeof buildConfigSchema>;

/** A config after schema validation, with defaults filled in. */
export type GatehouseConfig = z.output<ConfigSchemaType>;
/** A config as written by a user. */
export type GatehouseConfigInput = z.input<ConfigSchemaType>;
export type ServiceConfig = GatehouseConfig['services'][string];
export type RouteConfig = GatehouseConfig['routes'][number];
export type PolicyConfig = RouteConfig['policies'][number];
export type ValueMatcherConfig = z.output<typeof ValueMatcher>;
