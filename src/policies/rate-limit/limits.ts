// A limit as the hot path uses it: the store method, its numbers, its key prefix and the
// RateLimit-Policy item, all decided once per config.
import { parseDuration } from '../../config/units.js';
import type { Answer, RateStore } from '../../store/types.js';
import { isBucket, type AlgorithmName, type LimitConfig } from './schema.js';

export const enum Kind {
  Fixed,
  Month,
  Sliding,
  Token,
  Leaky,
}

export interface CompiledLimit {
  name: string;
  kind: Kind;
  /** limit, or rate */
  a: number;
  /** window or per, in ms */
  b: number;
  /** burst (buckets) */
  c: number;
  status: number;
  /** `"name";q=100;w=60` */
  policyItem: string;
  /** Key prefix: scope and name, so two limits never share a counter. */
  keyPrefix: string;
}

/** `plan`: the limit belongs to that plan; alone in it, it is named after it, else prefixed with it. */
export function compileLimit(
  l: LimitConfig,
  algorithm: AlgorithmName,
  scope: string,
  plan?: { name: string; single: boolean },
): CompiledLimit {
  const bucket = isBucket(algorithm);
  let kind: Kind;
  let a: number;
  let b: number;
  let c = 0;
  let auto: string;
  if (bucket) {
    kind = algorithm === 'token-bucket' ? Kind.Token : Kind.Leaky;
    a = l.rate!;
    b = parseDuration(l.per!);
    c = l.burst ?? Math.max(1, Math.floor(a));
    auto = `${a}-per-${spanText(l.per!)}`;
  } else if (l.window === 'month') {
    kind = Kind.Month;
    a = l.limit!;
    b = 0;
    auto = `${a}-per-month`;
  } else {
    kind = algorithm === 'fixed-window' ? Kind.Fixed : Kind.Sliding;
    a = l.limit!;
    b = parseDuration(l.window!);
    auto = `${a}-per-${spanText(l.window!)}`;
  }
  const name = l.name ?? (plan ? (plan.single ? plan.name : `${plan.name}-${auto}`) : auto);
  const q = bucket ? c : a;
  // w: the window in seconds (the refill period for buckets); a calendar month has no fixed one.
  const w = kind === Kind.Month ? '' : `;w=${Math.max(1, Math.ceil(b / 1000))}`;
  return { name, kind, a, b, c, status: l.status ?? 429, policyItem: `"${name}";q=${q}${w}`, keyPrefix: `${scope}|${name}|${algorithm}|` };
}

function spanText(s: number | string): string {
  return typeof s === 'number' ? `${s}ms` : s;
}

export function decide(store: RateStore, l: CompiledLimit, key: string, cost: number): Answer {
  switch (l.kind) {
    case Kind.Fixed:
      return store.fixedWindow(key, l.a, l.b, cost);
    case Kind.Month:
      return store.calendarMonth(key, l.a, cost);
    case Kind.Sliding:
      return store.slidingWindow(key, l.a, l.b, cost);
    case Kind.Token:
      return store.tokenBucket(key, l.a, l.b, l.c, cost);
    case Kind.Leaky:
      return store.leakyBucket(key, l.a, l.b, l.c, cost);
  }
}

/**
 * The same limit counted by one of `instances` instances alone (onStoreError: local). The share
 * never drops below `dearest`, the largest cost a request can have: the config only promises that
 * the whole limit can admit such a request, and a share smaller than it would refuse that kind of
 * request on every instance for as long as the store is down. An instance may then admit one such
 * request beyond its exact share, a bounded overshoot while the store is unreachable.
 */
export function localShare(l: CompiledLimit, instances: number, dearest = 1): CompiledLimit {
  if (instances <= 1) return l;
  const share = (n: number) => Math.max(1, dearest, Math.floor(n / instances));
  return l.kind === Kind.Token || l.kind === Kind.Leaky ? { ...l, a: l.a / instances, c: share(l.c) } : { ...l, a: share(l.a) };
}
