// The Gatehouse configurations the benchmark measures. Each scenario is one generated YAML config
// (workers: 1, no access log, listener and admin API on free loopback ports) and the request path
// the load generator sends. Add a scenario here and it can be picked with SCENARIOS=name.

export interface Scenario {
  name: string;
  /** One line for the table's legend and the README. */
  description: string;
  /** The path every load request uses. */
  path: string;
  /** The route `gatehouse explain` must pick for that path (checked before the load). */
  route: string;
  /** The `routes:` section (YAML, two-space indented list items) for a service named `up`. */
  routes(): string;
  /** The `up` service's body (YAML, 4-space indented keys); default: one target. */
  service?(upstreamUrl: string): string;
  /** Request headers the load sends (credentials for the auth scenarios). */
  headers?: Record<string, string>;
  /** The top-level `consumers:` section (YAML), if any. */
  consumers?(): string;
  /**
   * The observability settings (YAML, top-level keys); default `accessLog: false` with the
   * defaults for the rest (metrics and analytics on, no tracing).
   */
  observability?(upstreamUrl: string): string;
  /** Extra checks through the running gateway; returns a problem or undefined. */
  check?(gatewayUrl: string): Promise<string | undefined>;
}

import { createHmac } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOAD_PATH = '/api/items/42';

const JWT_SECRET = 'bench-hmac-secret-0123456789abcdef0123';
let jwtToken: string | undefined;
/** An HS256 token valid for a day, made by hand so the harness needs no JWT library. */
function benchJwt(): string {
  if (jwtToken) return jwtToken;
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'bench', iss: 'https://bench.test', aud: 'bench', iat: now, exp: now + 86_400 })}`;
  return (jwtToken = `${input}.${createHmac('sha256', JWT_SECRET).update(input).digest('base64url')}`);
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'bare',
    description: 'one route /* to the upstream, no policies',
    path: LOAD_PATH,
    route: 'all',
    routes: () => route('all', ['/*']),
  },
  {
    name: 'routes100',
    description: '100 routes with two params each; the request matches the last one',
    path: '/api/v1/svc099/users/42/orders/7',
    route: 'svc099',
    routes: () =>
      Array.from({ length: 100 }, (_, i) => {
        const n = String(i).padStart(3, '0'); // equal literal prefixes: config order decides ties
        return route(`svc${n}`, [`/api/v1/svc${n}/users/:id/orders/:orderId`]);
      }).join(''),
  },
  {
    name: 'policies',
    description: 'route /* with a headers policy: sets one request and one response header',
    path: LOAD_PATH,
    route: 'all',
    routes: () =>
      route('all', ['/*']) +
      `    policies:
      - type: headers
        request:
          set: { x-bench-tenant: acme }
        response:
          set: { x-bench-served-by: gatehouse }
`,
    async check(gw) {
      const res = await fetch(gw + LOAD_PATH);
      await res.arrayBuffer();
      if (res.headers.get('x-bench-served-by') !== 'gatehouse') return 'response header x-bench-served-by was not set';
      const seen = (await (await fetch(gw + '/__headers')).json()) as Record<string, string>;
      if (seen['x-bench-tenant'] !== 'acme') return 'request header x-bench-tenant did not reach the upstream';
      return undefined;
    },
  },
  {
    name: 'targets1000',
    description: 'route /* to a service of 1,000 targets (p2c-ewma, passive health checks, retries)',
    path: LOAD_PATH,
    route: 'all',
    routes: () => route('all', ['/*']),
    // Every target is the same upstream under a different base path: one connection pool, 1,000
    // targets for the balancer and the health bookkeeping.
    service: (url) =>
      `    balancer: p2c-ewma
    healthCheck: { passive: { consecutiveFailures: 5 } }
    retries: { attempts: 2 }
    targets:
${Array.from({ length: 1000 }, (_, i) => `      - url: ${url}/t${i}\n`).join('')}`,
  },
  {
    name: 'keyauth',
    description: 'route /* with key-auth (x-api-key), one consumer — the perf-compare gatehouse-policies config',
    path: LOAD_PATH,
    route: 'all',
    headers: { 'x-api-key': 'bench-key-0123456789' },
    consumers: () => `consumers: [{id: bench, credentials: [{type: api-key, key: bench-key-0123456789}]}]\n`,
    routes: () => route('all', ['/*']) + `    policies:\n      - type: key-auth\n`,
    async check(gw) {
      const res = await fetch(gw + LOAD_PATH);
      await res.arrayBuffer();
      if (res.status !== 401) return `without a key: ${res.status}, expected 401`;
      return undefined;
    },
  },
  {
    name: 'jwt',
    description: 'route /* with jwt (HS256, inline secret, iss/aud/exp checked), token for a known consumer',
    path: LOAD_PATH,
    route: 'all',
    headers: { authorization: `Bearer ${benchJwt()}` },
    consumers: () => `consumers: [{id: bench}]\n`,
    routes: () =>
      route('all', ['/*']) +
      `    policies:
      - type: jwt
        algorithms: [HS256]
        keys: [{ secret: ${JSON.stringify(JWT_SECRET)} }]
        issuer: https://bench.test
        audience: bench
`,
    async check(gw) {
      const res = await fetch(gw + LOAD_PATH, { headers: { authorization: `Bearer ${benchJwt().slice(0, -2)}xx` } });
      await res.arrayBuffer();
      if (res.status !== 401) return `with a bad signature: ${res.status}, expected 401`;
      return undefined;
    },
  },
  {
    name: 'keyauth-ratelimit',
    description: 'route /* with key-auth and the sliding-window rate limit by consumer: the perf-compare gatehouse-policies config',
    path: LOAD_PATH,
    route: 'all',
    headers: { 'x-api-key': 'bench-key-0123456789' },
    consumers: () => `consumers: [{id: bench, credentials: [{type: api-key, key: bench-key-0123456789}]}]\n`,
    routes: () =>
      route('all', ['/*']) +
      `    policies:
      - type: key-auth
      - { type: rate-limit, algorithm: sliding-window, limit: 1000000000, window: 1m, by: consumer }
`,
    async check(gw) {
      const res = await fetch(gw + LOAD_PATH, { headers: { 'x-api-key': 'bench-key-0123456789' } });
      await res.arrayBuffer();
      if (res.status !== 200) return `with the key: ${res.status}, expected 200`;
      return rateLimitFieldProblem(res);
    },
  },
  {
    name: 'ratelimit',
    description:
      'route /* with the perf-compare rate limit: sliding window, 1e9 per minute, by consumer (no consumer: by ip), memory store',
    path: LOAD_PATH,
    route: 'all',
    routes: () =>
      route('all', ['/*']) +
      `    policies:
      - { type: rate-limit, algorithm: sliding-window, limit: 1000000000, window: 1m, by: consumer }
`,
    async check(gw) {
      const res = await fetch(gw + LOAD_PATH);
      await res.arrayBuffer();
      return rateLimitFieldProblem(res);
    },
  },
  {
    name: 'quiet',
    description: 'like bare, with every observability feature off (no access log, metrics, analytics or tracing)',
    path: LOAD_PATH,
    route: 'all',
    routes: () => route('all', ['/*']),
    observability: () => 'accessLog: false\nmetrics: { enabled: false }\nanalytics: { enabled: false }\n',
  },
  {
    name: 'observed',
    description:
      'like quiet, with what issue 7 prices: an access log to a file, metrics and tracing at 10 % sampling (OTLP to the bench upstream)',
    path: LOAD_PATH,
    route: 'all',
    routes: () => route('all', ['/*']),
    observability: (url) => observed(url, false),
  },
  {
    name: 'observed-all',
    description: 'observed plus analytics',
    path: LOAD_PATH,
    route: 'all',
    routes: () => route('all', ['/*']),
    observability: (url) => observed(url, true),
  },
];

/** The `observed` settings: access log to a temp file, metrics, tracing at 10 % to the upstream. */
function observed(upstreamUrl: string, analytics: boolean): string {
  return `accessLog: { path: ${JSON.stringify(join(tmpdir(), `gatehouse-bench-access-${process.pid}.log`))} }
metrics: { enabled: true }
analytics: { enabled: ${analytics} }
tracing: { endpoint: "${upstreamUrl}/v1/traces", sampleRatio: 0.1 }
`;
}

/** The perf-compare limit's RateLimit field, or why it is missing or wrong. */
function rateLimitFieldProblem(res: Response): string | undefined {
  const field = res.headers.get('ratelimit') ?? '';
  return /^"1000000000-per-1m";r=\d+;t=\d+$/.test(field) ? undefined : `RateLimit field missing or wrong: ${field}`;
}

function route(name: string, paths: string[]): string {
  return `  - name: ${name}
    match:
      paths: [${paths.map((p) => JSON.stringify(p)).join(', ')}]
    service: up
`;
}

/** The whole config file for one scenario. Ports 0: the gateway prints the ones it bound. */
export function configYaml(s: Scenario, upstreamUrl: string): string {
  return `# generated by bench/run.ts, scenario "${s.name}": ${s.description}
workers: 1
${s.observability ? s.observability(upstreamUrl) : 'accessLog: false\n'}listen:
  - port: 0
    host: 127.0.0.1
admin:
  port: 0
  host: 127.0.0.1
shutdown: { drainTimeout: 2s }
services:
  up:
${s.service ? s.service(upstreamUrl) : `    targets:\n      - url: ${upstreamUrl}\n`}${s.consumers?.() ?? ''}routes:
${s.routes()}`;
}
