// The shape every authentication method shares, and the policy wrapper around it: a verified
// caller becomes `ctx.identity`; a missing or wrong credential becomes a 401 naming the scheme
// (or the route's `anonymous` consumer); a verified caller without the required scopes or claims
// becomes a 403. The client sees one fixed message per status; the log says precisely why.
import type {
  Authenticator,
  AuthOutcome,
  Identity,
  Policy,
  PolicyEnv,
  RequestContext,
  RespondVerdict,
  Verdict,
} from '../policies/types.js';
import type { AuthFailureReason } from '../observability/metrics.js';

// The method contract lives with the policy contract (PolicyDefinition.authenticator returns one).
export type { Authenticator, AuthOutcome };

export interface AuthOptions {
  anonymous?: string | undefined;
  hideCredentials: boolean;
}

export function unauthorized(challenge: string): RespondVerdict {
  return { status: 401, code: 'GW_UNAUTHORIZED', headers: { 'www-authenticate': challenge } };
}

export function forbidden(challenge: string | undefined): RespondVerdict {
  return challenge === undefined
    ? { status: 403, code: 'GW_FORBIDDEN' }
    : { status: 403, code: 'GW_FORBIDDEN', headers: { 'www-authenticate': challenge } };
}

/**
 * Logs why a request was refused, and counts it in `gatehouse_auth_failures_total{policy,reason}`
 * by its kind (the free-text reason would make unbounded labels).
 */
export function logFailure(
  env: Pick<PolicyEnv, 'log' | 'metrics'>,
  ctx: RequestContext,
  method: string,
  reason: string,
  kind: AuthFailureReason = 'invalid',
): void {
  env.metrics?.authFailure(method, kind);
  env.log.info(
    { requestId: ctx.requestId, route: ctx.routeName, clientIp: ctx.clientIp, policy: method, reason },
    'authentication refused',
  );
}

/** The fallback identity for a route with `anonymous: <consumerId>`. */
export function anonymousIdentity(env: PolicyEnv, consumerId: string | undefined): Identity | undefined {
  if (consumerId === undefined) return undefined;
  const c = env.consumers.byId.get(consumerId);
  // Validation refuses an unknown anonymous consumer; this keeps a hand-built plan safe too.
  if (!c) return undefined;
  return Object.freeze({ consumerId: c.id, username: c.username, groups: c.groups, plan: c.plan, anonymous: true, method: 'anonymous' });
}

/** Turns one authenticator (or a combination, see policies/auth) into a policy. */
export function authPolicy(a: Authenticator, opts: AuthOptions, env: PolicyEnv): Policy {
  // Looked up when needed, not once: a consumer edit changes the registry without recompiling this policy.
  const anonymous = () => anonymousIdentity(env, opts.anonymous);
  const denied = unauthorized(a.challenge);
  const refused = forbidden(a.challenge.startsWith('Bearer') ? 'Bearer error="insufficient_scope"' : undefined);
  const settle = (ctx: RequestContext, r: AuthOutcome): Verdict => {
    if (r.ok) {
      ctx.identity = r.identity;
      return undefined;
    }
    logFailure(env, ctx, a.method, r.reason, r.absent ? 'missing' : r.forbidden ? 'forbidden' : 'invalid');
    if (r.forbidden) return refused;
    const fallback = anonymous();
    if (fallback !== undefined) {
      ctx.identity = fallback;
      return undefined;
    }
    return denied;
  };
  const hide = opts.hideCredentials ? a.hide?.bind(a) : undefined;
  const upstream = a.upstream?.bind(a);
  return {
    access(ctx) {
      const r = a.authenticate(ctx);
      if (r instanceof Promise) return r.then((out) => settle(ctx, out));
      return settle(ctx, r);
    },
    upstreamRequest:
      hide || upstream
        ? (ctx, headers) => {
            hide?.(ctx, headers);
            upstream?.(ctx, headers);
          }
        : undefined,
    close: a.close ? () => a.close!() : undefined,
  };
}
