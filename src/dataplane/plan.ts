// Compiles a validated config into the runtime plan the data plane reads: services with their
// pools, routes with their matchers, rewriters and policy chains, the router, trusted proxies.
// Everything that can be decided once per config is decided here, never per request.
import type { GatehouseConfig, RouteConfig } from '../config/schema.js';
import { parseDuration } from '../config/units.js';
import { Router, compileValueMatcher, type RouteMatcher } from './router.js';
import { compileBodyMatchers } from './body-match.js';
import { withGrpc } from './grpc-match.js';
import { parsePathPattern, type PathPattern } from '../config/path-pattern.js';
import { parseHostPattern, type HostPattern } from '../config/host-pattern.js';
import { compileRewrite, compileStripPrefix, type PathRewriter } from './rewrite.js';
import { compileRedirect, type HttpsRedirect } from './https-redirect.js';
import { TrustedProxies } from './trusted-proxies.js';
import { compileWebSocket, type WebSocketSettings } from './websocket/settings.js';
import { ServiceRuntime, type UpstreamHost } from '../upstream/service.js';
import { ServiceState } from '../upstream/service-state.js';
import { systemClock } from '../upstream/clock.js';
import { guardPlugin, isBuiltin, policyDefinition, DEFAULT_PLUGIN_TIMEOUT_MS } from '../policies/index.js';
import { orderOf, phaseMismatch, POLICY_ORDER, type Phase, type Policy, type PolicyEnv, type PolicyOrder } from '../policies/types.js';
import type { PolicyMetrics } from '../observability/metrics.js';
import { ConsumerRegistry } from '../identity/registry.js';
import { claimHeaderNames } from '../identity/claim-header-names.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { StoreRegistry } from '../store/registry.js';
import { routeKindOf, type RouteHandler } from '../routes/index.js';

/** What a requestBody policy reads when it does not say (1 MiB). */
export const DEFAULT_BODY_BUFFER = 1024 * 1024;

/** A body read whole is always bounded: policies that read none themselves (Infinity) leave the default. */
function bounded(bytes: number): number {
  return Number.isFinite(bytes) ? bytes : DEFAULT_BODY_BUFFER;
}

export interface CompiledPolicy {
  type: string;
  scope: 'global' | 'route';
  phases: readonly Phase[];
  order: PolicyOrder;
  policy: Policy;
}

export interface CompiledRoute {
  name: string;
  matcher: RouteMatcher;
  /** The service it proxies to; undefined for a route that answers by itself (`handler`). */
  service: ServiceRuntime | undefined;
  /** A route kind's handler (`compose`): called instead of an upstream call. */
  handler: RouteHandler | undefined;
  /** The route kind's key (`compose`), undefined for a service route. */
  kind: string | undefined;
  rewrite: PathRewriter | undefined;
  preserveHost: boolean;
  /** `redirectHttps`: plain-HTTP requests of this route get 308 to HTTPS (undefined: no check at all). */
  redirectHttps: HttpsRedirect | undefined;
  /** Methods retried on this route besides the service's `retries.methods`. */
  retryMethods: ReadonlySet<string>;
  policies: CompiledPolicy[];
  access: Policy[];
  /** The policy type of each `access` entry (the access log's `rejectedBy`). */
  accessTypes: string[];
  /** Policies that read the whole request body (the body is buffered only on such routes). */
  requestBody: Policy[];
  /** The policy type of each `requestBody` entry. */
  requestBodyTypes: string[];
  /** What the requestBody phase reads: the smallest `bodyBufferBytes` of its policies and `maxBodyBytes` (413 past it). */
  bodyBufferBytes: number;
  upstreamRequest: Policy[];
  /** Policies that see the service's response head first (taps, or a response served in its place). */
  upstreamResponse: Policy[];
  response: Policy[];
  /** Policies that may ask for a response body whole (responseBody phase). */
  responseBody: Policy[];
  log: Policy[];
  /** The smallest `maxBodyBytes` of its policies; Infinity when none limits the body. */
  maxBodyBytes: number;
  /** WebSocket upgrades are proxied, with these limits (undefined: refused). */
  websocket: WebSocketSettings | undefined;
}

export interface Plan {
  version: number;
  config: GatehouseConfig;
  routes: CompiledRoute[];
  services: Map<string, ServiceRuntime>;
  router: Router<CompiledRoute>;
  trustedProxies: TrustedProxies;
  drainTimeout: number;
  /** Consumers and their credentials, indexed for the authentication policies. */
  consumers: ConsumerRegistry;
  /**
   * Request headers no client may send upstream on any route: every claim→header mapping of the
   * config (the fixed identity headers are dropped by the header scan itself).
   */
  identityHeaders: readonly string[];
  /**
   * A policy opened a store (a rate limit counts somewhere). Read on a plan compiled with its own
   * registry (the instance's check plan); a data plane's registry outlives its plans.
   */
  usesStores: boolean;
}

let nextVersion = 1;

/** For tools that compile but never forward (validate, routes, explain): no pools, no probes. */
export const noConnect: UpstreamHost = {
  connect: () => ({ key: '', dispatcher: undefined as never }),
  release: () => {},
  serviceState: (name) => new ServiceState(name, systemClock, undefined, 'off'),
};

/** `stores`: the data plane's rate-limit stores; a plan compiled only to be checked gets its own, never connected. */
export function compilePlan(
  config: GatehouseConfig,
  host: UpstreamHost,
  version = nextVersion++,
  log: Logger = silentLogger,
  stores = new StoreRegistry(),
  metrics?: PolicyMetrics,
): Plan {
  const services = new Map<string, ServiceRuntime>();
  for (const [name, svc] of Object.entries(config.services))
    services.set(name, new ServiceRuntime(name, svc, host.serviceState(name), host));

  const consumers = ConsumerRegistry.of(config.consumers);
  const env: PolicyEnv = { consumers, log, config, stores, routeName: undefined, metrics };
  const globalPolicies = config.policies.map((p, i) => instantiate(p, 'global', env, `policies[${i}]`));
  const routes = config.routes.map((r, index) => compileRoute(r, index, services, globalPolicies, { ...env, routeName: r.name }));
  return {
    version,
    config,
    routes,
    services,
    router: new Router(routes),
    trustedProxies: new TrustedProxies(config.trustedProxies),
    identityHeaders: claimHeaderNames([...config.policies, ...config.routes.flatMap((r) => r.policies)]),
    drainTimeout: parseDuration(config.shutdown.drainTimeout),
    consumers,
    // Whether a policy opened a store while compiling (rate limits): who counts is the policies' to know.
    usesStores: stores.status().length > 0,
  };
}

/** A plugin failed to create its policy from an entry: a config error at the entry's path. */
export class PluginCreateError extends Error {
  constructor(
    readonly path: string,
    type: string,
    cause: unknown,
  ) {
    super(`plugin policy "${type}" could not be created: ${describe(cause)}`);
  }
}

function describe(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'it threw a value that cannot be shown';
  }
}

function instantiate(p: { type: string }, scope: CompiledPolicy['scope'], env: PolicyEnv, at: string): CompiledPolicy {
  const def = policyDefinition(p.type);
  if (!def) throw new Error(`unknown policy type "${p.type}"`); // validation rejects this first
  if (isBuiltin(def)) {
    const policy = def.create(p, env);
    const mismatch = phaseMismatch(def, policy);
    if (mismatch !== undefined) throw new Error(mismatch);
    return { type: p.type, scope, phases: def.phases, order: orderOf(def, p), policy };
  }
  // A plugin's create() and the policy it returns are its own code: what they throw is a config
  // error naming the entry, and at run time its faults are fenced in (plugin-guard.ts).
  try {
    const created = def.create(p, env);
    const mismatch = phaseMismatch(def, created);
    if (mismatch !== undefined) throw new Error(mismatch);
    const policy = guardPlugin(def.type, created, env.log, def.timeout ?? DEFAULT_PLUGIN_TIMEOUT_MS);
    return { type: p.type, scope, phases: def.phases, order: orderOf(def, p), policy };
  } catch (err) {
    throw new PluginCreateError(at, p.type, err);
  }
}

function compileRoute(
  r: RouteConfig,
  index: number,
  services: Map<string, ServiceRuntime>,
  globals: CompiledPolicy[],
  env: PolicyEnv,
): CompiledRoute {
  // A service route, or one of a kind that answers by itself (src/routes/): validation made sure it is one of the two.
  const kind = routeKindOf(r);
  const service = kind === undefined ? services.get(r.service ?? '') : undefined;
  if (kind === undefined && !service) throw new Error(`route ${r.name}: service ${r.service} is not defined`); // validation rejects this first
  const handler = kind?.def.create(kind.config, { config: env.config, routeName: r.name, log: env.log });
  const grpc = withGrpc(r.match); // `match.grpc`: its paths, POST, and a gRPC content-type
  const methods = grpc?.methods ?? r.match.methods;
  const matcher: RouteMatcher = {
    index,
    priority: r.priority,
    hosts: r.match.hosts ? r.match.hosts.map((h) => parseHostPattern(h) as HostPattern) : null,
    methods: methods ? new Set(methods.map((m) => m.toUpperCase())) : null,
    paths: (grpc?.paths ?? r.match.paths).map((p) => parsePathPattern(p) as PathPattern),
    headers: [...(grpc?.headers ?? []), ...Object.entries(r.match.headers ?? {}).map(([k, v]) => compileValueMatcher(k.toLowerCase(), v))],
    query: Object.entries(r.match.query ?? {}).map(([k, v]) => compileValueMatcher(k, v)),
    body: compileBodyMatchers(r.match.body, r.match.graphql),
  };
  // The chain runs class by class (PolicyOrder: edge, authenticate, authorise, limit, transform,
  // other), whatever the listing order; within a class, globals first, then the listing order.
  const policies = inClassOrder([...globals, ...r.policies.map((p, j) => instantiate(p, 'route', env, `routes[${index}].policies[${j}]`))]);
  const maxBodyBytes = policies.reduce((min, p) => Math.min(min, p.policy.maxBodyBytes ?? Infinity), Infinity);
  const inPhase = (phase: Phase) => policies.filter((p) => typeof p.policy[phase] === 'function').map((p) => p.policy);
  return {
    name: r.name,
    matcher,
    service,
    handler,
    kind: kind?.def.key,
    rewrite:
      r.rewrite !== undefined ? compileRewrite(r.rewrite) : r.stripPrefix !== undefined ? compileStripPrefix(r.stripPrefix) : undefined,
    preserveHost: r.preserveHost,
    redirectHttps: compileRedirect(r.redirectHttps),
    retryMethods: new Set(r.retryMethods.map((m) => m.toUpperCase())),
    policies,
    access: inPhase('access'),
    accessTypes: policies.filter((p) => typeof p.policy.access === 'function').map((p) => p.type),
    requestBody: inPhase('requestBody'),
    requestBodyTypes: policies.filter((p) => typeof p.policy.requestBody === 'function').map((p) => p.type),
    bodyBufferBytes: bounded(
      policies.reduce(
        (min, p) => (typeof p.policy.requestBody === 'function' ? Math.min(min, p.policy.bodyBufferBytes ?? DEFAULT_BODY_BUFFER) : min),
        // A handler reads the body whole too (the requestBody phase reads it: exchange.ts).
        handler === undefined ? maxBodyBytes : Math.min(maxBodyBytes, handler.maxBodyBytes),
      ),
    ),
    upstreamRequest: inPhase('upstreamRequest'),
    upstreamResponse: inPhase('upstreamResponse'),
    response: inPhase('response'),
    responseBody: inPhase('responseBody'),
    log: inPhase('log'),
    maxBodyBytes,
    websocket: compileWebSocket(r.websocket),
  };
}

/** By ordering class (`orderOf`: a plugin's missing or unknown class counts as `other`); Array#sort is stable. */
function inClassOrder(policies: CompiledPolicy[]): CompiledPolicy[] {
  return policies.sort((a, b) => POLICY_ORDER.indexOf(a.order) - POLICY_ORDER.indexOf(b.order));
}

/** Runs every policy's and service's cleanup when a plan is retired. */
export function closePlan(plan: Plan): void {
  for (const s of plan.services.values()) s.close();
  const seen = new Set<Policy>();
  for (const r of plan.routes) {
    try {
      r.handler?.close?.();
    } catch {
      /* as a policy's */
    }
    for (const p of r.policies) {
      if (seen.has(p.policy)) continue;
      seen.add(p.policy);
      try {
        p.policy.close?.();
      } catch {
        /* a policy's cleanup must not stop the others */
      }
    }
  }
}
