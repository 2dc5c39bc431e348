// Options every authentication policy shares.
import { z } from 'zod';
import { DURATION_PATTERN } from '../config/units.js';

export const Anonymous = z.string().min(1).optional().meta({
  description:
    'A consumer id to use when authentication fails or no credential is sent (optional auth). Sent upstream with X-Anonymous-Consumer: true.',
});

export const HideCredentials = z
  .boolean()
  .default(true)
  .meta({ description: 'Remove the credential (header, cookie, query parameter) before forwarding.' });

/** A duration ("30s", "5m" or milliseconds); the same as the config's, kept here to avoid an import cycle with schema.ts. */
export const Duration = z.union([
  z.number().nonnegative(),
  z.string().regex(DURATION_PATTERN, { error: 'expected a duration such as 500ms, 30s, 1m, 1h or a number of milliseconds' }),
]);
