// `type: key-auth` — an API key from a header (default `x-api-key`) or a query parameter, looked
// up by its SHA-256 digest in the consumer registry and compared in constant time.
import { z } from 'zod';
import { definePolicy, type HeaderList, type RequestContext } from '../types.js';
import { authPolicy, type Authenticator, type AuthOutcome } from '../../identity/authenticator.js';
import { findHeader, removeHeader } from '../../dataplane/header-list.js';
import { identityOf, type ConsumerRegistry } from '../../identity/registry.js';
import { Anonymous, HideCredentials } from '../../identity/auth-options.js';

export const keyAuthSchema = z.strictObject({
  type: z.literal('key-auth'),
  headers: z
    .array(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'not a valid header name' }))
    .min(1)
    .default(['x-api-key'])
    .meta({ description: 'Header names the key may come in, tried in order.' }),
  query: z.string().min(1).optional().meta({ description: 'A query parameter the key may come in (off by default: URLs end up in logs).' }),
  anonymous: Anonymous,
  hideCredentials: HideCredentials,
});

export type KeyAuthConfig = z.output<typeof keyAuthSchema>;

const MISSING: AuthOutcome = { ok: false, absent: true, reason: 'no API key in the request' };
const UNKNOWN: AuthOutcome = { ok: false, reason: 'unknown API key' };

export function keyAuthenticator(config: KeyAuthConfig, consumers: ConsumerRegistry): Authenticator {
  const headers = config.headers.map((h) => h.toLowerCase());
  const param = config.query;
  const paramName = param ?? '';
  return {
    method: 'key-auth',
    challenge: `ApiKey realm="gatehouse", header="${headers[0]}"`,
    authenticate(ctx: RequestContext): AuthOutcome {
      let key: string | undefined;
      // rawHeaders, not req.headers: node builds that object lazily, and this path need not pay for it.
      const raw = ctx.req.rawHeaders;
      for (let i = 0; i < headers.length && (key === undefined || key === ''); i++) key = findHeader(raw, headers[i]!);
      if ((key === undefined || key === '') && param !== undefined && ctx.query !== '') key = queryValue(ctx.query, paramName);
      if (key === undefined || key === '') return MISSING;
      const entry = consumers.apiKey(key);
      if (entry === undefined) return UNKNOWN;
      return { ok: true, identity: identityOf(entry.consumer, entry.credentialId, 'key-auth') };
    },
    hide(ctx: RequestContext, out: HeaderList) {
      for (const h of headers) if (findHeader(out, h) !== undefined) removeHeader(out, h);
      if (param !== undefined && ctx.query !== '') ctx.query = withoutParam(ctx.query, paramName);
    },
  };
}

/** A query component as the upstream will read it (`+` is a space), or undefined if malformed. */
function decoded(s: string): string | undefined {
  // Most names and keys have nothing to decode: no regex, no decodeURIComponent, no try.
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** The name of a query parameter as the upstream will read it (decoded), or undefined if malformed. */
function paramNameOf(part: string): string | undefined {
  const eq = part.indexOf('=');
  return decoded(eq === -1 ? part : part.slice(0, eq));
}

function queryValue(query: string, name: string): string | undefined {
  for (const part of query.split('&')) {
    if (paramNameOf(part) !== name) continue;
    const eq = part.indexOf('=');
    return decoded(eq === -1 ? '' : part.slice(eq + 1));
  }
  return undefined;
}

/** Removes every spelling of the parameter (api_key, api%5Fkey, …): none may reach the upstream. */
function withoutParam(query: string, name: string): string {
  return query
    .split('&')
    .filter((p) => paramNameOf(p) !== name)
    .join('&');
}

export const keyAuthPolicy = definePolicy({
  type: 'key-auth',
  description: 'Authenticate by API key (credential type api-key).',
  schema: keyAuthSchema,
  phases: ['access', 'upstreamRequest'],
  order: 'authenticate',
  example: {},
  authenticator: (config, env) => keyAuthenticator(config, env.consumers),
  create: (config, env) => authPolicy(keyAuthenticator(config, env.consumers), config, env),
});
