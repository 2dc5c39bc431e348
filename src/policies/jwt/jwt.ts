// `type: jwt` — verifies a signed JWT (jose) with keys from the config, a JWKS URL, or OIDC
// discovery from the issuer. The allowed algorithms come from the config, never from the token.
// Before jose sees a token it must be small and in canonical compact form: three base64url parts,
// no padding, and a signature part whose spare bits are zero (so one signature has one spelling).
import { z } from 'zod';
import { LRUCache } from 'lru-cache';
import { jwtVerify, errors as joseErrors, type JWTPayload, type JWSHeaderParameters, type FlattenedJWSInput } from 'jose';
import type { KeyObject } from 'node:crypto';
import { definePolicy, type HeaderList, type RequestContext } from '../types.js';
import { authPolicy, type Authenticator, type AuthOutcome } from '../../identity/authenticator.js';
import { Duration } from '../../identity/auth-options.js';
import { compileRequirements, requirementIssues, scopesOf, tokenOutcome } from '../../identity/requirements.js';
import { compileClaimHeaders, TokenSource } from '../../identity/token-source.js';
import type { ConsumerRegistry } from '../../identity/registry.js';
import { sha256 } from '../../identity/secrets.js';
import { TokenPolicyFields } from '../../identity/token-policy-fields.js';
import { parseDuration } from '../../config/units.js';
import { ALGORITHMS, InlineKey, InlineKeys, keyProblem } from './inline-keys.js';
import { KeySourceUnavailable, RemoteJwks } from './remote-jwks.js';

export const jwtSchema = z.strictObject({
  type: z.literal('jwt'),
  algorithms: z.array(z.enum(ALGORITHMS)).min(1).meta({ description: 'Accepted signature algorithms (the token cannot choose others).' }),
  keys: z.array(InlineKey).default([]),
  jwksUri: z
    .string()
    .regex(/^https?:\/\//, { error: 'a jwksUri is an http(s) URL' })
    .optional(),
  issuer: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'Required "iss"; without keys and jwksUri, also the OIDC issuer to discover the JWKS from.' }),
  audience: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .optional()
    .meta({ description: 'Required "aud" (one of these).' }),
  requireExp: z.boolean().default(true),
  clockSkew: Duration.default('30s').meta({ description: 'Tolerance for exp, nbf and iat.' }),
  maxTokenSize: z.number().int().min(256).max(65536).default(8192).meta({ description: 'Longer tokens are refused before parsing.' }),
  jwksCacheTtl: Duration.default('10m').meta({
    description: 'Refresh the JWKS after this long (the old keys serve until a refresh succeeds).',
  }),
  jwksCooldown: Duration.default('30s').meta({ description: 'At most one JWKS fetch per this interval (unknown kid).' }),
  jwksTimeout: Duration.default('5s'),
  verifiedCacheTtl: Duration.default('60s').meta({
    description: 'Remember a verified token (by its SHA-256) this long, never past its exp; 0 = verify every request.',
  }),
  verifiedCacheSize: z.number().int().min(0).default(10_000),
  consumerClaim: z.string().min(1).default('sub').meta({ description: 'The claim naming the consumer (by id, else username).' }),
  ...TokenPolicyFields,
});

export type JwtConfig = z.output<typeof jwtSchema>;

const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const MISSING: AuthOutcome = { ok: false, absent: true, reason: 'no token in the request' };

/** Whether a base64url string is the one canonical spelling of its bytes (unused bits zero). */
export function canonicalBase64url(s: string): boolean {
  const rem = s.length % 4;
  if (rem === 1) return false;
  if (rem === 0) return true;
  const v = B64URL.indexOf(s[s.length - 1]!);
  return rem === 2 ? (v & 0x0f) === 0 : (v & 0x03) === 0;
}

/** Why a token is refused before any cryptography, or undefined. */
export function tokenShapeProblem(token: string, maxSize: number): string | undefined {
  if (token.length > maxSize) return `token longer than ${maxSize} characters`;
  if (!COMPACT.test(token)) return 'not a compact JWS (three base64url parts, no padding)';
  const parts = token.split('.');
  for (const p of parts) if (!canonicalBase64url(p)) return 'non-canonical base64url';
  return undefined;
}

export function jwtAuthenticator(
  config: JwtConfig,
  consumers: ConsumerRegistry,
  opts: { now?: () => number } = {},
): Authenticator & { remote: RemoteJwks | undefined } {
  const inline = new InlineKeys(config.keys);
  const remote =
    config.jwksUri !== undefined || (inline.size === 0 && config.issuer !== undefined)
      ? new RemoteJwks({
          jwksUri: config.jwksUri,
          issuer: config.issuer,
          cacheTtl: parseDuration(config.jwksCacheTtl),
          cooldown: parseDuration(config.jwksCooldown),
          timeout: parseDuration(config.jwksTimeout),
          now: opts.now,
        })
      : undefined;
  const getKey = async (
    header: JWSHeaderParameters,
    token: FlattenedJWSInput,
  ): Promise<KeyObject | Awaited<ReturnType<RemoteJwks['getKey']>>> => {
    // With a JWKS as well, a kid the inline keys do not name is the JWKS's to find.
    const k = inline.find(header, remote === undefined);
    if (k !== undefined) return k;
    if (remote !== undefined) return remote.getKey(header, token);
    throw new joseErrors.JWKSNoMatchingKey();
  };
  const verifyOptions = {
    algorithms: config.algorithms,
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: parseDuration(config.clockSkew) / 1000,
    requiredClaims: config.requireExp ? ['exp'] : [],
  };
  const source = new TokenSource(config);
  const check = compileRequirements(config);
  const claimHeaders = compileClaimHeaders(config.claimHeaders, 'jwt');
  const maxSize = config.maxTokenSize;
  const consumerClaim = config.consumerClaim;
  const now = opts.now;
  const clock = now ?? Date.now;
  // Signature checks cost tens of µs (jose verifies through WebCrypto); a client sends the same
  // token many times. A verified token is remembered by its SHA-256 (tokens are canonical, so one
  // token has one spelling) until its exp, at most verifiedCacheTtl. Requirements still run per request.
  const cacheTtl = parseDuration(config.verifiedCacheTtl);
  const verified =
    cacheTtl > 0 && config.verifiedCacheSize > 0
      ? new LRUCache<string, { claims: Record<string, unknown>; scopes: string[]; until: number }>({
          max: config.verifiedCacheSize,
        })
      : undefined;
  const skewMs = parseDuration(config.clockSkew);

  /**
   * The outcome of a verified token. Its consumer is looked up on every request, cached token or
   * not: an admin consumer edit changes the registry in place (no new authenticator, no new cache),
   * and a deleted or regrouped consumer must count at once.
   */
  function accept(ctx: RequestContext, claims: Record<string, unknown>, scopes: string[]): AuthOutcome {
    const who = claims[consumerClaim];
    const consumer = typeof who === 'string' ? consumers.find(who) : undefined;
    if (consumer === undefined && config.unknownConsumer === 'reject') {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify(undefined) is undefined (a token without the claim), whatever its type says
      return { ok: false, reason: `token ${consumerClaim} ${JSON.stringify(who)?.slice(0, 100)} is not a known consumer` };
    }
    return tokenOutcome(check, ctx, claims, scopes, consumer, 'jwt');
  }

  async function verify(ctx: RequestContext, token: string, cacheKey: string | undefined): Promise<AuthOutcome> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, now ? { ...verifyOptions, currentDate: new Date(now()) } : verifyOptions));
    } catch (err) {
      if (err instanceof KeySourceUnavailable) return { ok: false, reason: `key source unavailable: ${err.message}` };
      const e = err as Error & { code?: string };
      return { ok: false, reason: `${e.code ?? e.name}: ${e.message}` };
    }
    const claims = payload as Record<string, unknown>;
    if (depthOver(claims, MAX_CLAIM_DEPTH)) return { ok: false, reason: `claims nested deeper than ${MAX_CLAIM_DEPTH} levels` };
    const scopes = scopesOf(claims);
    // What is remembered is the signature check only: the consumer is looked up again on each hit.
    if (cacheKey !== undefined) {
      const exp = typeof claims.exp === 'number' ? claims.exp * 1000 + skewMs : Infinity;
      const until = Math.min(clock() + cacheTtl, exp);
      if (until > clock()) verified!.set(cacheKey, { claims, scopes, until });
    }
    return accept(ctx, claims, scopes);
  }

  return {
    method: 'jwt',
    challenge: 'Bearer realm="gatehouse"',
    remote,
    authenticate(ctx) {
      const token = source.read(ctx);
      if (token === undefined || token === '') return MISSING;
      const bad = tokenShapeProblem(token, maxSize);
      if (bad !== undefined) return { ok: false, reason: bad };
      if (verified === undefined) return verify(ctx, token, undefined);
      const key = sha256(token).toString('base64');
      const hit = verified.get(key);
      if (hit !== undefined && hit.until > clock()) return accept(ctx, hit.claims, hit.scopes);
      return verify(ctx, token, key);
    },
    hide(_ctx: RequestContext, out: HeaderList) {
      source.hide(out);
    },
    upstream: claimHeaders,
  };
}

/** Claims nested deeper than this are refused even when signed: nothing legitimate needs it. */
const MAX_CLAIM_DEPTH = 16;

function depthOver(v: unknown, limit: number): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (limit === 0) return true;
  for (const x of Array.isArray(v) ? v : Object.values(v)) if (depthOver(x, limit - 1)) return true;
  return false;
}

export const jwtPolicy = definePolicy({
  type: 'jwt',
  description: 'Authenticate by a signed JWT (inline keys, JWKS URL or OIDC discovery).',
  schema: jwtSchema,
  phases: ['access', 'upstreamRequest'],
  order: 'authenticate',
  example: { algorithms: ['RS256'], jwksUri: 'https://idp.example.com/.well-known/jwks.json' },
  validate(config, _ctx, at) {
    const out: { path: string; message: string }[] = [];
    config.keys.forEach((k, i) => {
      const why = keyProblem(k);
      if (why) out.push({ path: `${at}.keys[${i}]`, message: why });
    });
    if (config.keys.length === 0 && config.jwksUri === undefined && config.issuer === undefined) {
      out.push({ path: at, message: 'a jwt policy needs keys, a jwksUri, or an issuer to discover keys from' });
    }
    return [...out, ...requirementIssues(config, at)];
  },
  authenticator: (config, env) => jwtAuthenticator(config, env.consumers),
  create: (config, env) => authPolicy(jwtAuthenticator(config, env.consumers), config, env),
});
