// Config fields several policy types share: sizes and status patterns. (The config's own Size in
// config/schema.ts cannot be imported by a policy: schema.ts imports every policy.)
import { z } from 'zod';
import { DURATION_PATTERN, SIZE_PATTERN } from '../config/units.js';

/** A size in bytes: a number, or "512kb", "10mb". */
export const Size = z.union([
  z.number().int().nonnegative(),
  z.string().regex(SIZE_PATTERN, { error: 'expected a size such as 512kb or 10mb, or a number of bytes' }),
]);

/** A duration: milliseconds, or "500ms", "30s", "5m", "1h", "1d". */
export const Duration = z.union([
  z.number().nonnegative(),
  z.string().regex(DURATION_PATTERN, { error: 'expected a duration such as 500ms, 30s or 5m, or a number of ms' }),
]);

/** A status (200) or a class of them ("2xx"). */
export const StatusPattern = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(/^[1-5]xx$/, { error: 'a status class is written 2xx, 4xx…' }),
]);

/** Whether a status matches any of the patterns; compiled once. */
export function statusMatcher(patterns: readonly z.output<typeof StatusPattern>[]): (status: number) => boolean {
  const exact = new Set(patterns.filter((p): p is number => typeof p === 'number'));
  const classes = new Set(patterns.filter((p): p is string => typeof p === 'string').map((p) => Number(p[0])));
  return (status) => exact.has(status) || classes.has(Math.floor(status / 100));
}
