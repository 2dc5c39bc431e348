// A RequestContext for policy unit tests: only what a policy reads (method, client IP, raw headers).
import type { IncomingMessage } from 'node:http';
import type { AccessVerdict, PolicyEnv, RequestContext, Verdict } from '../../src/policies/types.js';
import { ConsumerRegistry } from '../../src/identity/registry.js';
import { silentLogger } from '../../src/observability/logger.js';
import { validateConfig } from '../../src/validation/validate.js';
import { StoreRegistry } from '../../src/store/registry.js';

export function testContext(opts: { method?: string; clientIp?: string; headers?: Record<string, string> } = {}): RequestContext {
  const rawHeaders = Object.entries(opts.headers ?? {}).flat();
  return {
    req: { rawHeaders, headers: {} } as unknown as IncomingMessage,
    requestId: 'test',
    method: opts.method ?? 'GET',
    host: 'api.example',
    path: '/',
    query: '',
    clientIp: opts.clientIp ?? '127.0.0.1',
    routeName: 'r',
    serviceName: 's',
    params: {},
    identity: undefined,
    locals: new Map(),
  };
}

/** What a policy is compiled with: no consumers, an empty config, fresh stores, unless given. */
export function testEnv(over: Partial<PolicyEnv> = {}): PolicyEnv {
  const r = validateConfig({});
  if (!r.ok) throw new Error('the empty config is invalid');
  return {
    consumers: new ConsumerRegistry([]),
    log: silentLogger,
    config: r.config,
    stores: new StoreRegistry(),
    routeName: undefined,
    ...over,
  };
}

/** An access phase's answer as a plain verdict: these policies never serve a stored response (that would fail the test). */
export async function accessVerdict(v: AccessVerdict | Promise<AccessVerdict>): Promise<Verdict> {
  const r = await v;
  if (r !== undefined && 'serve' in r) throw new Error('the policy served a response instead of a verdict');
  return r;
}
