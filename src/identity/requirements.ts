// `requireScopes` and `requireClaims` for the token policies (jwt, oauth2-introspection), for all
// methods and per method. Compiled once into checks; a failed check is a 403, not a 401.
import { z } from 'zod';
import type { RequestContext } from '../policies/types.js';
import type { AuthOutcome } from './authenticator.js';
import { identityOf, type ConsumerEntry } from './registry.js';

const ClaimValue = z.union([z.string(), z.number(), z.boolean()]);
const ClaimRule = z.union([
  ClaimValue.meta({ description: 'Equals this value (or, for an array claim, contains it).' }),
  z.strictObject({ oneOf: z.array(ClaimValue).min(1) }),
  z.strictObject({ regex: z.string().min(1) }),
]);

const Requirements = {
  requireScopes: z
    .array(z.string().min(1))
    .optional()
    .meta({ description: 'Every one of these scopes must be granted (claim "scope" or "scp").' }),
  requireClaims: z
    .record(z.string().min(1), ClaimRule)
    .optional()
    .meta({ description: 'Claim (dotted path) → value, { oneOf: [...] } or { regex }.' }),
};

export const RequirementFields = {
  ...Requirements,
  methods: z
    .record(z.string().regex(/^[A-Za-z]+$/), z.strictObject(Requirements))
    .optional()
    .meta({ description: 'Extra requirements for some methods, e.g. { POST: { requireScopes: [write] } }.' }),
};

type ReqConfig = { requireScopes?: string[] | undefined; requireClaims?: Record<string, z.output<typeof ClaimRule>> | undefined };
export type RequirementsConfig = ReqConfig & { methods?: Record<string, ReqConfig> | undefined };

/** Returns why the claims fail, or undefined when they pass. */
type Check = (claims: Record<string, unknown>, scopes: readonly string[]) => string | undefined;

export function requirementProblems(cfg: RequirementsConfig): string[] {
  const out: string[] = [];
  const all = [cfg, ...Object.values(cfg.methods ?? {})];
  for (const r of all)
    for (const [name, rule] of Object.entries(r.requireClaims ?? {})) {
      if (typeof rule === 'object' && 'regex' in rule) {
        try {
          new RegExp(rule.regex);
        } catch (e) {
          out.push(`requireClaims.${name}.regex: ${(e as Error).message}`);
        }
      }
    }
  return out;
}

/** A compiled requirement check: why the request is refused, or undefined. */
export type RequirementCheck = (method: string, claims: Record<string, unknown>, scopes: readonly string[]) => string | undefined;

/**
 * The outcome of a verified token (jwt, introspection): its requirements for this method, then
 * the identity — the consumer's, or an identity without consumer — with its scopes and claims.
 */
export function tokenOutcome(
  check: RequirementCheck | undefined,
  ctx: RequestContext,
  claims: Record<string, unknown>,
  scopes: string[],
  consumer: ConsumerEntry | undefined,
  method: string,
): AuthOutcome {
  if (check !== undefined) {
    const why = check(ctx.method, claims, scopes);
    if (why !== undefined) return { ok: false, forbidden: true, reason: why };
  }
  const identity = consumer !== undefined ? identityOf(consumer, undefined, method) : { groups: [] as string[], method };
  identity.scopes = scopes;
  identity.claims = claims;
  return { ok: true, identity };
}

/** Compiles the requirements into a per-method check list (undefined: nothing to check). */
export function compileRequirements(cfg: RequirementsConfig): RequirementCheck | undefined {
  const base = checksOf(cfg);
  const perMethod = new Map<string, Check[]>();
  for (const [m, r] of Object.entries(cfg.methods ?? {})) perMethod.set(m.toUpperCase(), [...base, ...checksOf(r)]);
  // HEAD reads what GET reads: unless it has its own entry, it must meet GET's.
  if (!perMethod.has('HEAD') && perMethod.has('GET')) perMethod.set('HEAD', perMethod.get('GET')!);
  if (base.length === 0 && perMethod.size === 0) return undefined;
  return (method, claims, scopes) => {
    const checks = perMethod.get(method) ?? base;
    for (let i = 0; i < checks.length; i++) {
      const why = checks[i]!(claims, scopes);
      if (why !== undefined) return why;
    }
    return undefined;
  };
}

function checksOf(r: ReqConfig): Check[] {
  const checks: Check[] = [];
  for (const s of r.requireScopes ?? []) checks.push((_c, scopes) => (scopes.includes(s) ? undefined : `missing scope "${s}"`));
  for (const [name, rule] of Object.entries(r.requireClaims ?? {})) {
    const path = name.split('.');
    let test: (v: unknown) => boolean;
    if (typeof rule !== 'object') test = (v) => v === rule;
    else if ('oneOf' in rule) {
      const set = new Set<unknown>(rule.oneOf);
      test = (v) => set.has(v);
    } else {
      const re = new RegExp(rule.regex);
      test = (v) => typeof v === 'string' && re.test(v);
    }
    checks.push((claims) => {
      const v = dig(claims, path);
      const pass = Array.isArray(v) ? v.some(test) : test(v);
      return pass ? undefined : `claim "${name}" does not match`;
    });
  }
  return checks;
}

function dig(o: unknown, path: readonly string[]): unknown {
  let v = o;
  for (const p of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, p)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

/** Scopes from an OAuth "scope" string or a "scp" array/string. */
export function scopesOf(claims: Record<string, unknown>): string[] {
  const s = claims.scope ?? claims.scp;
  if (typeof s === 'string') return s.split(' ').filter(Boolean);
  if (Array.isArray(s)) return s.filter((x): x is string => typeof x === 'string');
  return [];
}

/** `requireScopes`/`requireClaims` problems as config issues under the policy entry at `at`. */
export function requirementIssues(config: RequirementsConfig, at: string): { path: string; message: string }[] {
  return requirementProblems(config).map((m) => ({ path: `${at}.${m.split(':')[0]}`, message: m.slice(m.indexOf(':') + 2) }));
}
