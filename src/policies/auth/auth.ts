// `type: auth` — several authentication methods on one route. `anyOf`: the first method that
// verifies the caller wins (methods without a credential in the request are skipped quickly);
// `allOf`: every method must verify, and the first one's consumer is the identity. `anonymous`
// applies to the combination (the nested methods' own `anonymous` is not allowed here).
import { z } from 'zod';
import { definePolicy, type HeaderList, type RequestContext } from '../types.js';
import { authPolicy, type Authenticator, type AuthOutcome } from '../../identity/authenticator.js';
import { Anonymous, HideCredentials } from '../../identity/auth-options.js';
import { keyAuthenticator, keyAuthSchema } from '../key-auth/key-auth.js';
import { basicAuthenticator, basicAuthSchema } from '../basic-auth/basic-auth.js';
import { jwtAuthenticator, jwtSchema } from '../jwt/jwt.js';
import { introspectionAuthenticator, introspectionSchema } from '../oauth2-introspection/oauth2-introspection.js';
import { mtlsAuthenticator, mtlsSchema } from '../mtls/mtls.js';
import type { ConsumerRegistry } from '../../identity/registry.js';

// `anonymous` and `hideCredentials` apply to the combination: a nested method's own would be
// silently ignored, so the schema refuses them there.
const COMBINATION_ONLY = ['anonymous', 'hideCredentials'];
const nested = <T extends z.ZodObject>(s: T) =>
  s.omit(Object.fromEntries(COMBINATION_ONLY.filter((k) => k in s.shape).map((k) => [k, true])) as never);

const Method = z.discriminatedUnion('type', [
  nested(keyAuthSchema),
  nested(basicAuthSchema),
  nested(jwtSchema),
  nested(introspectionSchema),
  nested(mtlsSchema),
] as unknown as [z.ZodObject<{ type: z.ZodLiteral<string> }>, ...z.ZodObject<{ type: z.ZodLiteral<string> }>[]]);

export const authSchema = z
  .strictObject({
    type: z.literal('auth'),
    anyOf: z.array(Method).min(1).optional().meta({ description: 'Accept the first of these methods that verifies the caller.' }),
    allOf: z.array(Method).min(1).optional().meta({ description: 'Require every one of these methods.' }),
    anonymous: Anonymous,
    hideCredentials: HideCredentials,
  })
  .refine((c) => (c.anyOf === undefined) !== (c.allOf === undefined), { message: 'an auth policy has exactly one of anyOf or allOf' });

type MethodConfig = { type: string } & Record<string, unknown>;

function authenticatorFor(m: MethodConfig, consumers: ConsumerRegistry): Authenticator {
  switch (m.type) {
    case 'key-auth': return keyAuthenticator(m as never, consumers);
    case 'basic-auth': return basicAuthenticator(m as never, consumers);
    case 'jwt': return jwtAuthenticator(m as never, consumers);
    case 'oauth2-introspection': return introspectionAuthenticator(m as never, consumers);
    case 'mtls': return mtlsAuthenticator(consumers);
    default: throw new Error(`auth: unknown method ${m.type}`); // the schema refuses this first
  }
}

/** Runs authenticators in order, possibly asynchronously, without a closure per request. */
async function runAsync(list: readonly Authenticator[], ctx: RequestContext, from: number, first: Promise<AuthOutcome>, any: boolean, acc: AuthOutcome[]): Promise<AuthOutcome> {
  let r = await first;
  for (let i = from; ; ) {
    acc.push(r);
    if (any && r.ok) return r;
    if (!any && !r.ok) return r;
    if (++i >= list.length) break;
    const next = list[i]!.authenticate(ctx);
    r = next instanceof Promise ? await next : next;
  }
  return combine(acc, any);
}

function combine(results: AuthOutcome[], any: boolean): AuthOutcome {
  if (!any) {
    // Every method passed. Those that name a consumer must all name the same one: otherwise one
    // consumer's leaked key plus another's own password would pass as the first consumer.
    const named = results.filter((r): r is Extract<AuthOutcome, { ok: true }> => r.ok && r.identity.consumerId !== undefined);
    const ids = new Set(named.map((r) => r.identity.consumerId));
    if (ids.size > 1) return { ok: false, absent: false, reason: `allOf: the credentials belong to different consumers (${[...ids].join(', ')})` };
    return named[0] ?? results[0]!;
  }
  const failed = results.filter((r): r is Extract<AuthOutcome, { ok: false }> => !r.ok);
  const forbidden = failed.find((r) => r.forbidden);
  if (forbidden) return forbidden;
  const presented = failed.filter((r) => !r.absent);
  return {
    ok: false,
    absent: presented.length === 0,
    reason: failed.map((r, i) => `#${i + 1}: ${r.reason}`).join('; '),
  };
}

export const authCombinationPolicy = definePolicy({
  type: 'auth',
  description: 'Several authentication methods on one route (anyOf / allOf), with optional anonymous fallback.',
  schema: authSchema,
  phases: ['access', 'upstreamRequest'],
  example: { anyOf: [{ type: 'key-auth' }, { type: 'basic-auth' }] },
  validate(config, ctx, at) {
    // Each method is checked by its own type's hook (keys that must parse, required claims…).
    return (['anyOf', 'allOf'] as const).flatMap((list) => (config[list] ?? []).flatMap((m, i) => ctx.nested(m, `${at}.${list}[${i}]`)));
  },
  create(config, env) {
    const any = config.anyOf !== undefined;
    const list = ((config.anyOf ?? config.allOf) as MethodConfig[]).map((m) => authenticatorFor(m, env.consumers));
    const hiders = list.filter((a) => a.hide !== undefined);
    const uppers = list.filter((a) => a.upstream !== undefined);
    const combined: Authenticator = {
      method: 'auth',
      challenge: [...new Set(list.map((a) => a.challenge))].join(', '),
      authenticate(ctx) {
        const acc: AuthOutcome[] = [];
        for (let i = 0; i < list.length; i++) {
          const r = list[i]!.authenticate(ctx);
          if (r instanceof Promise) return runAsync(list, ctx, i, r, any, acc);
          acc.push(r);
          if (any && r.ok) return r;
          if (!any && !r.ok) return r;
        }
        return combine(acc, any);
      },
      hide: hiders.length ? (ctx: RequestContext, out: HeaderList) => { for (const a of hiders) a.hide!(ctx, out); } : undefined,
      upstream: uppers.length ? (ctx: RequestContext, out: HeaderList) => { for (const a of uppers) a.upstream!(ctx, out); } : undefined,
    };
    return authPolicy(combined, config, env);
  },
});
