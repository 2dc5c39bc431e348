// The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers, structured fields):
//   RateLimit-Policy: "pro";q=10000;w=60, "pro-month";q=1000000      (every limit of the set)
//   RateLimit: "pro";r=9941;t=37                                       (the one reported)
// and, when asked for, the legacy X-RateLimit-Limit / -Remaining / -Reset of the same limit.
import type { Decision } from '../../store/types.js';
import type { CompiledLimit } from './limits.js';

export interface LimitSet {
  limits: CompiledLimit[];
  policyField: string;
}

/** Retry-After of a refusal: whole seconds, at least 1, never earlier than the store's answer. */
export function retryAfterSeconds(d: Decision): number {
  return Math.max(1, Math.ceil(d.retryAfterMs / 1000));
}

/**
 * A flat header list [name, value, ...]; remaining and reset are never negative. On a refusal `t`
 * is the Retry-After: a client waiting `t` must be admitted, and the counter's full reset (a
 * sliding window's end, a bucket's refill) can come before that or long after it.
 */
export function decisionHeaders(set: LimitSet, limit: CompiledLimit, d: Decision, ietf: boolean, legacy: boolean): string[] {
  const r = d.remaining > 0 ? Math.floor(d.remaining) : 0;
  const t = !d.allowed ? retryAfterSeconds(d) : d.resetMs > 0 ? Math.ceil(d.resetMs / 1000) : 0;
  const out: string[] = [];
  if (ietf) out.push('ratelimit-policy', set.policyField, 'ratelimit', `"${limit.name}";r=${r};t=${t}`);
  if (legacy) out.push('x-ratelimit-limit', String(d.limit), 'x-ratelimit-remaining', String(r), 'x-ratelimit-reset', String(t));
  return out;
}
