// Where a bearer token is read from (Authorization: Bearer, a header, a cookie), and how it is
// removed before forwarding. Shared by jwt and oauth2-introspection.
import { z } from 'zod';
import type { HeaderList, RequestContext } from '../policies/types.js';
import { findHeader, removeHeader } from '../dataplane/header-list.js';
import { asHeaderValue } from './identity-headers.js';

const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'not a valid header name' });

export const TokenSourceFields = {
  bearer: z.boolean().default(true).meta({ description: 'Read the token from "Authorization: Bearer <token>".' }),
  header: HeaderName.optional().meta({ description: 'Also read the token from this header (the whole value).' }),
  cookie: z
    .string()
    .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/)
    .optional()
    .meta({ description: 'Also read the token from this cookie.' }),
};

export interface TokenSourceConfig {
  bearer: boolean;
  header?: string | undefined;
  cookie?: string | undefined;
}

export class TokenSource {
  private readonly header: string | undefined;
  constructor(private readonly cfg: TokenSourceConfig) {
    this.header = cfg.header?.toLowerCase();
  }

  read(ctx: RequestContext): string | undefined {
    const raw = ctx.req.rawHeaders;
    if (this.cfg.bearer) {
      const a = findHeader(raw, 'authorization');
      if (a !== undefined && a.length > 7 && a.slice(0, 7).toLowerCase() === 'bearer ') return a.slice(7).trim();
    }
    if (this.header !== undefined) {
      const v = findHeader(raw, this.header);
      if (v !== undefined && v !== '') return v.trim();
    }
    if (this.cfg.cookie !== undefined) {
      // Every Cookie header (HTTP/1.1 clients may send several), with one parser for read and hide.
      for (let i = 0; i < raw.length; i += 2) {
        if (raw[i]!.length !== 6 || raw[i]!.toLowerCase() !== 'cookie') continue;
        const v = cookieValue(raw[i + 1]!, this.cfg.cookie);
        if (v !== undefined) return v;
      }
    }
    return undefined;
  }

  hide(out: HeaderList): void {
    if (this.cfg.bearer) {
      const a = findHeader(out, 'authorization');
      if (a !== undefined && a.slice(0, 7).toLowerCase() === 'bearer ') removeHeader(out, 'authorization');
    }
    if (this.header !== undefined) removeHeader(out, this.header);
    if (this.cfg.cookie !== undefined) {
      // The token cookie goes from every Cookie header; the other cookies stay, in one header.
      const kept: string[] = [];
      for (let i = 0; i < out.length; i += 2) {
        if (out[i]!.length !== 6 || out[i]!.toLowerCase() !== 'cookie') continue;
        for (const part of out[i + 1]!.split(';')) {
          if (part.trim() !== '' && cookieName(part) !== this.cfg.cookie) kept.push(part.trim());
        }
      }
      removeHeader(out, 'cookie');
      if (kept.length) out.push('cookie', kept.join('; '));
    }
  }
}

function cookieName(part: string): string {
  const eq = part.indexOf('=');
  return (eq === -1 ? part : part.slice(0, eq)).trim();
}

function cookieValue(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && cookieName(part) === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

/**
 * claim → header mappings, compiled into an upstreamRequest step. It runs on every request of the
 * route: the client's own copies of the mapped headers are removed even when `method` did not
 * authenticate this request. Values with control characters are never forwarded.
 */
export function compileClaimHeaders(
  map: Record<string, string> | undefined,
  method: string,
): ((ctx: RequestContext, out: HeaderList) => void) | undefined {
  const entries = Object.entries(map ?? {}).map(([h, c]) => [h.toLowerCase(), c] as const);
  if (entries.length === 0) return undefined;
  return (ctx, out) => {
    const id = ctx.identity;
    const claims = id !== undefined && id.method === method && id.claims !== undefined ? (id.claims as Record<string, unknown>) : {};
    for (const [h, c] of entries) {
      removeHeader(out, h);
      const v = claims[c];
      if (v === undefined || v === null) continue;
      const s = asHeaderValue(typeof v === 'string' ? v : JSON.stringify(v));
      if (s.length <= 4096) out.push(h, s);
    }
  };
}

export const ClaimHeaders = z
  .record(HeaderName, z.string().min(1))
  .optional()
  .meta({ description: 'Header → claim: send these claims upstream as headers (client copies are removed).' });
