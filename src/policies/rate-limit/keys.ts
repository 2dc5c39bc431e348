// The counting key of a request: the `by` values, compiled once into a list of readers.
import type { RequestContext } from '../types.js';

type Reader = (ctx: RequestContext) => string | undefined;

const READERS: Record<string, Reader> = {
  consumer: (ctx) => (ctx.identity?.consumerId !== undefined ? 'c=' + ctx.identity.consumerId : undefined),
  credential: (ctx) => (ctx.identity?.credentialId !== undefined ? 'k=' + ctx.identity.credentialId : undefined),
  ip: (ctx) => 'i=' + ctx.clientIp,
  route: (ctx) => 'r=' + ctx.routeName,
  service: (ctx) => 's=' + ctx.serviceName,
  global: () => 'g',
};

function headerReader(name: string): Reader {
  const lower = name.toLowerCase();
  return (ctx) => {
    const v = ctx.req.headers[lower];
    const s = Array.isArray(v) ? v[0] : v;
    return s !== undefined && s !== '' ? 'h=' + s : undefined;
  };
}

/**
 * The key reader for `by`. A missing value (no consumer, no such header) is replaced by the
 * client IP, by one global counter, or makes the request uncounted (`undefined`), per fallbackBy.
 */
export function compileKey(by: string | string[], fallbackBy: 'ip' | 'global' | 'skip'): (ctx: RequestContext) => string | undefined {
  const readers = (Array.isArray(by) ? by : [by]).map((b) => (b.startsWith('header:') ? headerReader(b.slice(7)) : READERS[b]!));
  const fallback: Reader = fallbackBy === 'ip' ? READERS.ip! : fallbackBy === 'global' ? READERS.global! : () => undefined;
  if (readers.length === 1) {
    const read = readers[0]!;
    return (ctx) => read(ctx) ?? fallback(ctx);
  }
  return (ctx) => {
    let key = '';
    for (let i = 0; i < readers.length; i++) {
      const part = readers[i]!(ctx) ?? fallback(ctx);
      if (part === undefined) return undefined;
      key = i === 0 ? part : key + '&' + part;
    }
    return key;
  };
}
