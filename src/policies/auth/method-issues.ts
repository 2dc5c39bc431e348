// A method nested in `auth` is checked against its own type's schema here, at validation, with the
// same `path: message` shape the config's own schema errors have (unknown keys with "did you
// mean", the closest branch of a union), since the combination's schema cannot know the methods:
// they are whatever definitions (built-in or plugin) declare an `authenticator`.
import type { z } from 'zod';
import { issueLines, parseKeepingKeys } from '../../config/zod-issues.js';
import type { PolicyIssue } from '../types.js';

/** Parses `entry` with `schema`; the issues, at paths under `at`, or the parsed entry. */
export function parseMethod(
  schema: z.ZodType,
  entry: unknown,
  at: string,
): { ok: true; data: unknown } | { ok: false; issues: PolicyIssue[] } {
  const parsed = parseKeepingKeys(schema, entry);
  return parsed.success ? { ok: true, data: parsed.data } : { ok: false, issues: issueLines(parsed.issues, parsed.known, at) };
}
