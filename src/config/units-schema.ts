// Durations and sizes as written in config ("30s", "10mb"): the schema pieces every part uses.
import { z } from 'zod';
import { DURATION_PATTERN, MAX_TIMER_MS, SIZE_PATTERN, parseDuration } from './units.js';

export const Duration = z
  .union([
    z.number().nonnegative(),
    z.string().regex(DURATION_PATTERN, { error: 'expected a duration such as 500ms, 30s, 1m, 1h or a number of milliseconds' }),
  ])
  .meta({ description: 'A duration: "500ms", "30s", "1m", "1h", "1d", or a number of milliseconds.' });

export const Size = z
  .union([
    z.number().int().nonnegative(),
    z.string().regex(SIZE_PATTERN, { error: 'expected a size such as 512kb or 10mb, or a number of bytes' }),
  ])
  .meta({ description: 'A size: "512kb", "10mb", "1gb", or a number of bytes.' });

/** A duration that a timer can wait: from 1 ms to 24 days (a route kind's deadlines). */
export const Deadline = Duration.refine(
  (d) => {
    const ms = parseDuration(d);
    return ms >= 1 && ms <= MAX_TIMER_MS;
  },
  { error: 'a deadline from 1ms to 24d' },
);
