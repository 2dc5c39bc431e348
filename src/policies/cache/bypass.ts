// `bypass` rules: a request matching any is neither answered from the cache nor stored.
import type { RequestContext } from '../types.js';
import type { CacheConfig } from './schema.js';

export type BypassCheck = (ctx: RequestContext) => boolean;

export function compileBypass(rules: CacheConfig['bypass']): BypassCheck | undefined {
  if (rules.length === 0) return undefined;
  const checks: BypassCheck[] = rules.map((r) => {
    if (r.header !== undefined) {
      const name = r.header.toLowerCase();
      const value = r.value;
      return (ctx) => {
        const v = ctx.req.headers[name];
        return v !== undefined && (value === undefined || (Array.isArray(v) ? v.includes(value) : v === value));
      };
    }
    if (r.query !== undefined) {
      const name = r.query;
      return (ctx) => new URLSearchParams(ctx.query).has(name);
    }
    const cookie = r.cookie!;
    return (ctx) => {
      const c = ctx.req.headers.cookie;
      return c !== undefined && c.split(';').some((p) => p.trim().split('=', 1)[0] === cookie);
    };
  });
  return (ctx) => checks.some((c) => c(ctx));
}

export function bypassed(check: BypassCheck, ctx: RequestContext): boolean {
  return check(ctx);
}

/** Fields by which a GET asks many frameworks to act as another method (POST, DELETE…). */
const OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override'];

/**
 * What the key cannot tell apart, so is neither served nor stored whatever the config says: a
 * method override (the service may act on a GET as a DELETE and answer so, and that answer must
 * not be every GET's), and a body (a GET's body has no defined meaning, but a service may choose
 * its answer by it — a search — and it is not in the key). HTTP/2 tells of a body by its stream.
 */
export function unkeyable(ctx: RequestContext): string | undefined {
  const h = ctx.req.headers;
  for (const name of OVERRIDES) if (h[name] !== undefined) return 'method override';
  const length = h['content-length'];
  if (h['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')) return 'body';
  const stream = (ctx.req as { stream?: { endAfterHeaders?: boolean } }).stream;
  if (ctx.req.httpVersionMajor === 2 && length === undefined && stream?.endAfterHeaders === false) return 'body';
  return undefined;
}
