// The counting key of a request: the `by` values, compiled once into a list of readers.
import type { RequestContext } from '../types.js';

type Reader = (ctx: RequestContext) => string | undefined;

const READERS: Record<string, Reader> = {
  consumer: (ctx) => (ctx.identity?.consumerId !== undefined ? 'c=' + ctx.identity.consumerId : undefined),
  credential: (ctx) => (ctx.identity?.credentialId !== undefined ? 'k=' + ctx.identity.credentialId : undefined),
  ip: (ctx) => 'i=' + ipKey(ctx.clientIp),
  route: (ctx) => 'r=' + ctx.routeName,
  service: (ctx) => 's=' + ctx.serviceName,
  global: () => 'g',
};

/**
 * An IPv6 client is counted by its /64: one host usually holds a whole /64, and counting single
 * addresses would let it take a fresh counter — and push others' counters out of the memory
 * store — with every request.
 */
export function ipKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip)) return ip.slice(7); // IPv4-mapped
  const zone = ip.indexOf('%');
  const bare = zone === -1 ? ip : ip.slice(0, zone);
  const [head = '', tail] = bare.split('::');
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return (
    groups
      .slice(0, 4)
      .map((g) => (parseInt(g, 16) || 0).toString(16))
      .join(':') + '::/64'
  );
}

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

/**
 * Where a limit runs (PolicyDefinition.orderFor). Keyed by what the request itself shows (ip, a
 * header, route, service, global), it runs with the edge policies, before authentication: it then
 * sheds password guessing and floods before they cost a hash or an introspection call. Keyed by
 * consumer or credential, or by the caller's plan, it needs the verified identity: after it.
 */
export function limitOrder(config: { by: string | readonly string[]; limits?: unknown }): 'edge' | 'limit' {
  const parts = typeof config.by === 'string' ? [config.by] : config.by;
  return config.limits === 'plan' || parts.some((p) => p === 'consumer' || p === 'credential') ? 'limit' : 'edge';
}
