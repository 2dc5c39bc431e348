// Log-spaced latency buckets (each 20 % wider than the one before, from 0.1 ms to ~85 s):
// mergeable across minutes and instances by adding counts, and a percentile read from them is
// within 20 % of the true value. Fixed size, so a minute's memory does not grow with traffic.
const BASE_MS = 0.1;
const GROWTH = 1.2;
export const BUCKETS = 76;
const LOG_GROWTH = Math.log(GROWTH);

export function bucketOf(ms: number): number {
  if (ms <= BASE_MS) return 0;
  const i = Math.ceil(Math.log(ms / BASE_MS) / LOG_GROWTH);
  return i < BUCKETS ? i : BUCKETS - 1;
}

/** The upper bound of bucket `i` in ms. */
export function upperBound(i: number): number {
  return BASE_MS * GROWTH ** i;
}

/** The `q` quantile (0..1) of bucket counts: the upper bound of the bucket holding it. */
export function quantile(counts: ArrayLike<number>, total: number, q: number): number | undefined {
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i] ?? 0;
    if (seen >= rank) return Math.round(upperBound(i) * 1000) / 1000;
  }
  return Math.round(upperBound(counts.length - 1) * 1000) / 1000;
}
