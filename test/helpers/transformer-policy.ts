// Helpers for the transformer policies' unit tests: compile an entry as a config would, a request
// context with headers, query and identity, and a request body run through the requestBody phase.
import type { IncomingMessage } from 'node:http';
import { testContext, testEnv } from './policy-context.js';
import { validateConfig } from '../../src/validation/validate.js';
import { requestTransformerPolicy } from '../../src/policies/request-transformer/request-transformer.js';
import { responseTransformerPolicy } from '../../src/policies/response-transformer/response-transformer.js';
import type { Policy, RequestContext, Verdict } from '../../src/policies/types.js';

function check(policy: Record<string, unknown>) {
  return validateConfig({
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies: [policy] }],
  });
}

/** The entry compiled into a policy (it must be valid). */
export function make(policy: Record<string, unknown>): Policy {
  const r = check(policy);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const def = policy.type === 'request-transformer' ? requestTransformerPolicy : responseTransformerPolicy;
  return def.create(r.config.routes[0]!.policies[0]! as never, testEnv({ config: r.config, routeName: 'r' }));
}

/** The entry's config errors as "path: message". */
export function errors(policy: Record<string, unknown>): string[] {
  const r = check(policy);
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

export function ctx(over: Partial<RequestContext> & { headers?: Record<string, string> } = {}): RequestContext {
  const c = testContext();
  const headers = over.headers ?? {};
  return { ...c, req: { rawHeaders: Object.entries(headers).flat(), headers } as unknown as IncomingMessage, ...over };
}

/** A body through the policy's requestBody phase: its verdict and the body it leaves. */
export async function editBody(
  policy: Policy,
  body: unknown,
  c = ctx(),
  contentType = 'application/json',
): Promise<{ verdict: Verdict; body: string }> {
  const b = { body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), contentType };
  const verdict = await policy.requestBody!(c, b);
  return { verdict, body: b.body.toString() };
}
