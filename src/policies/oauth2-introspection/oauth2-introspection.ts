// `type: oauth2-introspection` — asks the authorisation server about an opaque token (RFC 7662),
// authenticating as a client (HTTP Basic with client id and secret). An active answer is cached
// until the token's `exp`, and never longer than `cacheTtl`; concurrent requests with the same
// token share one call. Tokens are cached by their SHA-256, never as plain text.
import { z } from 'zod';
import { LRUCache } from 'lru-cache';
import { definePolicy, type HeaderList, type RequestContext } from '../types.js';
import { authPolicy, type Authenticator, type AuthOutcome } from '../../identity/authenticator.js';
import { Duration } from '../../identity/auth-options.js';
import { compileRequirements, requirementIssues, scopesOf, tokenOutcome } from '../../identity/requirements.js';
import { compileClaimHeaders, TokenSource } from '../../identity/token-source.js';
import type { ConsumerRegistry } from '../../identity/registry.js';
import { sha256 } from '../../identity/secrets.js';
import { TokenPolicyFields } from '../../identity/token-policy-fields.js';
import { parseDuration } from '../../config/units.js';

export const introspectionSchema = z.strictObject({
  type: z.literal('oauth2-introspection'),
  endpoint: z.string().regex(/^https?:\/\//, { error: 'the introspection endpoint is an http(s) URL' }),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1).meta({ description: 'Use ${ENV}.' }),
  tokenTypeHint: z.string().min(1).default('access_token'),
  timeout: Duration.default('5s'),
  cacheTtl: Duration.default('5m').meta({ description: 'Longest time an active answer is reused (never beyond the token exp).' }),
  cacheSize: z.number().int().min(0).default(10_000),
  maxTokenSize: z.number().int().min(16).max(65536).default(8192),
  consumerClaim: z
    .string()
    .min(1)
    .default('sub')
    .meta({ description: 'The introspection field naming the consumer (by id, else username), e.g. sub, username or client_id.' }),
  ...TokenPolicyFields,
});

export type IntrospectionConfig = z.output<typeof introspectionSchema>;

type Answer = { active: true; claims: Record<string, unknown> } | { active: false; why: string };

const MISSING: AuthOutcome = { ok: false, absent: true, reason: 'no token in the request' };
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

export function introspectionAuthenticator(
  config: IntrospectionConfig,
  consumers: ConsumerRegistry,
  opts: { now?: () => number } = {},
): Authenticator & { calls: () => number } {
  const now = opts.now ?? Date.now;
  const maxTtl = parseDuration(config.cacheTtl);
  const timeout = parseDuration(config.timeout);
  const cache =
    config.cacheSize > 0 && maxTtl > 0
      ? new LRUCache<string, { claims: Record<string, unknown>; until: number }>({ max: config.cacheSize })
      : undefined;
  const inflight = new Map<string, Promise<Answer>>();
  const authorization =
    'Basic ' + Buffer.from(`${encodeURIComponent(config.clientId)}:${encodeURIComponent(config.clientSecret)}`).toString('base64');
  const source = new TokenSource(config);
  const check = compileRequirements(config);
  const claimHeaders = compileClaimHeaders(config.claimHeaders, 'oauth2-introspection');
  let calls = 0;

  async function introspect(token: string): Promise<Answer> {
    calls++;
    let res: Response;
    try {
      res = await fetch(config.endpoint, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: config.tokenTypeHint }).toString(),
        signal: AbortSignal.timeout(timeout),
        redirect: 'error',
      });
    } catch (err) {
      return { active: false, why: `introspection endpoint unreachable: ${(err as Error).message}` };
    }
    const text = await res.text().catch(() => '');
    if (res.status !== 200) return { active: false, why: `introspection endpoint answered ${res.status}` };
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return { active: false, why: 'introspection answer is not JSON' };
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
      return { active: false, why: 'introspection answer is not an object' };
    const claims = doc as Record<string, unknown>;
    if (claims.active !== true) return { active: false, why: 'token is not active' };
    if (typeof claims.exp === 'number' && claims.exp * 1000 <= now()) return { active: false, why: 'token expired (exp in the past)' };
    if (typeof claims.nbf === 'number' && claims.nbf * 1000 > now()) return { active: false, why: 'token not yet valid (nbf)' };
    return { active: true, claims };
  }

  function lookup(token: string): Answer | Promise<Answer> {
    const key = sha256(token).toString('base64');
    const hit = cache?.get(key);
    if (hit !== undefined && hit.until > now()) return { active: true, claims: hit.claims };
    let p = inflight.get(key);
    if (p === undefined) {
      p = introspect(token).then((a) => {
        inflight.delete(key);
        if (a.active && cache !== undefined) {
          const exp = typeof a.claims.exp === 'number' ? a.claims.exp * 1000 : Infinity;
          const until = Math.min(now() + maxTtl, exp);
          if (until > now()) cache.set(key, { claims: a.claims, until });
        }
        return a;
      });
      inflight.set(key, p);
    }
    return p;
  }

  function settle(ctx: RequestContext, a: Answer): AuthOutcome {
    if (!a.active) return { ok: false, reason: a.why };
    const claims = a.claims;
    const scopes = scopesOf(claims);
    const who = claims[config.consumerClaim];
    const consumer = typeof who === 'string' ? consumers.find(who) : undefined;
    if (consumer === undefined && config.unknownConsumer === 'reject') {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify(undefined) is undefined (an answer without the claim), whatever its type says
      return { ok: false, reason: `token ${config.consumerClaim} ${JSON.stringify(who)?.slice(0, 100)} is not a known consumer` };
    }
    return tokenOutcome(check, ctx, claims, scopes, consumer, 'oauth2-introspection');
  }

  return {
    method: 'oauth2-introspection',
    challenge: 'Bearer realm="gatehouse"',
    calls: () => calls,
    authenticate(ctx) {
      const token = source.read(ctx);
      if (token === undefined || token === '') return MISSING;
      if (token.length > config.maxTokenSize || !TOKEN_CHARS.test(token))
        return { ok: false, reason: 'token too long or with characters no token has' };
      const a = lookup(token);
      return a instanceof Promise ? a.then((x) => settle(ctx, x)) : settle(ctx, a);
    },
    hide(_ctx: RequestContext, out: HeaderList) {
      source.hide(out);
    },
    upstream: claimHeaders,
  };
}

export const introspectionPolicy = definePolicy({
  type: 'oauth2-introspection',
  description: 'Authenticate an opaque OAuth 2 token by RFC 7662 introspection.',
  schema: introspectionSchema,
  phases: ['access', 'upstreamRequest'],
  order: 'authenticate',
  example: { endpoint: 'https://idp.example.com/oauth2/introspect', clientId: 'gatehouse', clientSecret: 'example-secret' },
  validate: (config, _ctx, at) => requirementIssues(config, at),
  authenticator: (config, env) => introspectionAuthenticator(config, env.consumers),
  create: (config, env) => authPolicy(introspectionAuthenticator(config, env.consumers), config, env),
});
