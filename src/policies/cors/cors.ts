// `type: cors` — Cross-Origin Resource Sharing answered by the gateway.
//   Preflight (OPTIONS + Origin + Access-Control-Request-Method): answered here, never sent
//   upstream: 204 with the allow headers, or 403 GW_CORS_FORBIDDEN for an origin, method or
//   header that is not allowed.
//   Actual requests: forwarded; the response gets Access-Control-Allow-Origin only for an allowed
//   origin (the origin itself, or "*" when any origin is allowed without credentials) and always
//   `Vary: Origin`. A WebSocket handshake from an origin not allowed is refused (403), since
//   browsers enforce nothing on WebSockets. CORS headers the upstream set are replaced, so a service that reflects every
//   origin cannot widen the policy.
import { addErrorHeaders } from '../error-headers.js';
import { z } from 'zod';
import { definePolicy, type HeaderList, type RespondVerdict } from '../types.js';
import { DURATION_PATTERN, parseDuration } from '../../config/units.js';
import { findHeader, removeHeader } from '../../dataplane/header-list.js';
import { compiles } from '../../edge/patterns.js';
import { compileOrigins, originProblem } from './origin-matcher.js';

const Origin = z.union([
  z.string().superRefine((s, ctx) => {
    const problem = originProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  z.strictObject({ regex: z.string().refine(compiles, { error: 'not a valid regular expression' }) }),
]);
const Token = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'not a valid token' });

const schema = z
  .strictObject({
    type: z.literal('cors'),
    origins: z
      .array(Origin)
      .min(1)
      .meta({ description: 'Exact "https://app.example.com", wildcard "https://*.example.com", {regex}, "null", or "*".' }),
    methods: z.array(Token).default(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']),
    headers: z
      .array(Token)
      .optional()
      .meta({ description: 'Request headers a preflight may ask for; absent = those asked for are allowed.' }),
    exposedHeaders: z.array(Token).default([]),
    credentials: z.boolean().default(false),
    maxAge: z
      .union([z.number().nonnegative(), z.string().regex(DURATION_PATTERN, { error: 'expected a duration such as 10m' })])
      .default('10m')
      .meta({ description: 'How long browsers may cache a preflight answer.' }),
  })
  .refine((c) => !(c.credentials && c.origins.includes('*')), {
    error: '"*" with credentials would let any site make credentialed calls; list the origins',
    path: ['origins'],
  });

const VARY_PREFLIGHT = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

export const corsPolicy = definePolicy({
  type: 'cors',
  description: 'Cross-origin resource sharing: preflights answered by the gateway, allow headers on responses.',
  schema,
  phases: ['access', 'response'],
  order: 'edge',
  example: { origins: ['https://app.example.com'] },
  create(config) {
    const origins = compileOrigins(config.origins);
    const methods = new Set(config.methods.map((m) => m.toUpperCase()));
    const allowMethods = [...methods].join(', ');
    const allowedHeaders = config.headers ? new Set(config.headers.map((h) => h.toLowerCase())) : undefined;
    const allowHeaders = config.headers?.join(', ');
    const expose = config.exposedHeaders.length ? config.exposedHeaders.join(', ') : undefined;
    const credentials = config.credentials;
    const star = origins.any && !credentials;
    const maxAge = String(Math.floor(parseDuration(config.maxAge) / 1000));
    const forbidden: RespondVerdict = { status: 403, code: 'GW_CORS_FORBIDDEN', headers: { vary: VARY_PREFLIGHT } };
    const forbiddenSocket: RespondVerdict = { status: 403, code: 'GW_CORS_FORBIDDEN', headers: { vary: 'Origin' } };

    const headersAllowed = (requested: string): boolean => {
      if (!allowedHeaders) return true;
      for (const h of requested.split(',')) {
        const name = h.trim().toLowerCase();
        if (name && !allowedHeaders.has(name)) return false;
      }
      return true;
    };

    /** The allow headers of an actual (not preflight) response, then `vary: Origin` last. */
    const allowHeadersFor = (origin: string): string[] => {
      const h = ['access-control-allow-origin', star ? '*' : origin];
      if (credentials) h.push('access-control-allow-credentials', 'true');
      if (expose) h.push('access-control-expose-headers', expose);
      h.push('vary', 'Origin');
      return h;
    };

    return {
      answersPreflight: true,
      access(ctx) {
        const raw = ctx.req.rawHeaders;
        const origin = findHeader(raw, 'origin');
        if (origin === undefined) return undefined;
        const asked = ctx.method === 'OPTIONS' ? findHeader(raw, 'access-control-request-method') : undefined;
        if (asked === undefined) {
          // Not a preflight. A later refusal (401, 429, …) or a gateway error skips the response
          // phase: it must still carry the allow headers, or the browser hides it from the page.
          if (origins.matches(origin)) addErrorHeaders(ctx, allowHeadersFor(origin));
          // Browsers apply no CORS to a WebSocket: the handshake's Origin is the only check there is.
          else if (ctx.websocket === true) return forbiddenSocket;
          return undefined;
        }
        const askedHeaders = findHeader(raw, 'access-control-request-headers');
        if (!origins.matches(origin) || !methods.has(asked.toUpperCase())) return forbidden;
        if (askedHeaders !== undefined && !headersAllowed(askedHeaders)) return forbidden;
        const headers: Record<string, string> = {
          'access-control-allow-origin': star ? '*' : origin,
          'access-control-allow-methods': allowMethods,
          'access-control-max-age': maxAge,
          vary: VARY_PREFLIGHT,
        };
        const h = allowHeaders ?? askedHeaders;
        if (h) headers['access-control-allow-headers'] = h;
        if (credentials) headers['access-control-allow-credentials'] = 'true';
        return { status: 204, headers };
      },

      response(ctx, res) {
        const out: HeaderList = res.headers;
        removeHeader(out, 'access-control-allow-origin');
        removeHeader(out, 'access-control-allow-credentials');
        removeHeader(out, 'access-control-expose-headers');
        addVaryOrigin(out);
        const origin = findHeader(ctx.req.rawHeaders, 'origin');
        if (origin === undefined || !origins.matches(origin)) return;
        const add = allowHeadersFor(origin);
        for (let i = 0; i < add.length - 2; i++) out.push(add[i]!); // all but the trailing vary
      },
    };
  },
});

/** Adds Origin to the response's Vary, unless it is already there (or Vary is "*"). */
function addVaryOrigin(headers: HeaderList): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length !== 4 || headers[i]!.toLowerCase() !== 'vary') continue;
    const v = headers[i + 1]!;
    if (v.trim() === '*' || /(?:^|,)\s*origin\s*(?:,|$)/i.test(v)) return;
    headers[i + 1] = v ? `${v}, Origin` : 'Origin';
    return;
  }
  headers.push('vary', 'Origin');
}
