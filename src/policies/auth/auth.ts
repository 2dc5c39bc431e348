// `type: auth` — several authentication methods on one route. `anyOf`: the first method that
// verifies the caller wins (methods without a credential in the request are skipped quickly);
// `allOf`: every method must verify, and the first one's consumer is the identity. `anonymous`
// applies to the combination (the nested methods' own `anonymous` is not allowed here).
//
// A method is any policy type whose definition declares an `authenticator` (built-in or plugin):
// it is found through the registry by its `type`, checked against that type's own schema and
// `validate` hook, and its authenticator is what runs here. No type is named in this folder.
import { z } from 'zod';
import {
  definePolicy,
  type Authenticator,
  type AuthOutcome,
  type HeaderList,
  type PolicyDefinition,
  type PolicyEnv,
  type PolicyIssue,
  type RequestContext,
} from '../types.js';
import { authPolicy } from '../../identity/authenticator.js';
import { Anonymous, HideCredentials } from '../../identity/auth-options.js';
import { definitionOf } from '../definition-lookup.js';
import { parseMethod } from './method-issues.js';

// `anonymous` and `hideCredentials` apply to the combination: a nested method's own would be
// silently ignored, so they are refused there.
const COMBINATION_ONLY = ['anonymous', 'hideCredentials'] as const;

const Method = z
  .looseObject({
    type: z.string().min(1).meta({ description: 'An authentication policy type: one whose definition has an authenticator.' }),
  })
  .meta({
    description:
      "An authentication policy entry with its own options (its type's schema), except anonymous and hideCredentials, which belong to the combination.",
  });

export const authSchema = z
  .strictObject({
    type: z.literal('auth'),
    anyOf: z.array(Method).min(1).optional().meta({ description: 'Accept the first of these methods that verifies the caller.' }),
    allOf: z.array(Method).min(1).optional().meta({ description: 'Require every one of these methods.' }),
    anonymous: Anonymous,
    hideCredentials: HideCredentials,
  })
  .refine((c) => (c.anyOf === undefined) !== (c.allOf === undefined), { error: 'an auth policy has exactly one of anyOf or allOf' });

type MethodConfig = z.output<typeof Method>;

/** The definition of a method's type when it can be one (it declares an authenticator), else why not. */
function methodDefinition(
  type: string,
): { def: PolicyDefinition & Required<Pick<PolicyDefinition, 'authenticator'>> } | { problem: string } {
  const def = definitionOf(type);
  if (def === undefined) return { problem: `unknown policy type ${JSON.stringify(type)}` };
  if (def.authenticator === undefined)
    return { problem: `policy type ${JSON.stringify(type)} cannot be an auth method: its definition has no authenticator` };
  return { def: def as PolicyDefinition & Required<Pick<PolicyDefinition, 'authenticator'>> };
}

/** A method's issues: its type, the combination-only keys, its own schema, its own `validate` hook. */
function methodIssues(m: MethodConfig, at: string, nested: (entry: { type: string }, at: string) => PolicyIssue[]): PolicyIssue[] {
  const found = methodDefinition(m.type);
  if ('problem' in found) return [{ path: `${at}.type`, message: found.problem }];
  const out: PolicyIssue[] = [];
  for (const key of COMBINATION_ONLY) {
    if (key in m) out.push({ path: `${at}.${key}`, message: `unknown key ${JSON.stringify(key)}` });
  }
  const own = Object.fromEntries(Object.entries(m).filter(([key]) => !(COMBINATION_ONLY as readonly string[]).includes(key)));
  const parsed = parseMethod(found.def.schema, own, at);
  if (!parsed.ok) return [...out, ...parsed.issues];
  // Keys that must parse, required claims…: the type's own hook, as for a top-level entry.
  return [...out, ...nested(parsed.data as { type: string }, at)];
}

/** The authenticator of a validated method. */
function authenticatorFor(m: MethodConfig, env: PolicyEnv): Authenticator {
  const found = methodDefinition(m.type);
  if ('problem' in found) throw new Error(`auth: ${found.problem}`); // validation refuses this first
  return found.def.authenticator(found.def.schema.parse(m), env);
}

/** Runs authenticators in order, possibly asynchronously, without a closure per request. */
async function runAsync(
  list: readonly Authenticator[],
  ctx: RequestContext,
  from: number,
  first: Promise<AuthOutcome>,
  any: boolean,
  acc: AuthOutcome[],
): Promise<AuthOutcome> {
  let r = await first;
  for (let i = from; ;) {
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
    if (ids.size > 1)
      return { ok: false, absent: false, reason: `allOf: the credentials belong to different consumers (${[...ids].join(', ')})` };
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
  order: 'authenticate',
  example: { anyOf: [{ type: 'key-auth' }, { type: 'basic-auth' }] },
  validate(config, ctx, at) {
    // Each method is checked by its own type's hook (keys that must parse, required claims…).
    return (['anyOf', 'allOf'] as const).flatMap((list) =>
      (config[list] ?? []).flatMap((m, i) => methodIssues(m, `${at}.${list}[${i}]`, (entry, nestedAt) => ctx.nested(entry, nestedAt))),
    );
  },
  create(config, env) {
    const any = config.anyOf !== undefined;
    const list = (config.anyOf ?? config.allOf ?? []).map((m) => authenticatorFor(m, env));
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
      hide: hiders.length
        ? (ctx: RequestContext, out: HeaderList) => {
            for (const a of hiders) a.hide!(ctx, out);
          }
        : undefined,
      upstream: uppers.length
        ? (ctx: RequestContext, out: HeaderList) => {
            for (const a of uppers) a.upstream!(ctx, out);
          }
        : undefined,
    };
    return authPolicy(combined, config, env);
  },
});
