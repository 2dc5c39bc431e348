// A method nested in `auth` is checked against its own type's schema here, at validation, with the
// same `path: message` shape the config's own schema errors have (unknown keys with "did you
// mean", the closest branch of a union), since the combination's schema cannot know the methods:
// they are whatever definitions (built-in or plugin) declare an `authenticator`.
import { z } from 'zod';
import { closestKey } from '../../config/closest-key.js';
import type { PolicyIssue } from '../types.js';

/** "routes[0].policies[1].anyOf[0]" + ["headers", 0] → "routes[0].policies[1].anyOf[0].headers[0]". */
function pathAt(at: string, path: readonly PropertyKey[]): string {
  let out = at;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

/** Parses `entry` with `schema`; the issues, at paths under `at`, or the parsed entry. */
export function parseMethod(
  schema: z.ZodType,
  entry: unknown,
  at: string,
): { ok: true; data: unknown } | { ok: false; issues: PolicyIssue[] } {
  // The keys each object schema that refused unknown keys knows, by the refused object (did you mean).
  const known = new WeakMap<object, string[]>();
  const parsed = schema.safeParse(entry, {
    reportInput: true,
    error: (iss) => {
      if (iss.code === 'unrecognized_keys' && typeof iss.input === 'object') {
        known.set(iss.input, Object.keys((iss.inst as { shape?: object } | undefined)?.shape ?? {}));
      }
      return undefined;
    },
  });
  if (parsed.success) return { ok: true, data: parsed.data };
  return { ok: false, issues: issuesOf(parsed.error.issues, at, known) };
}

function issuesOf(issues: readonly z.core.$ZodIssue[], at: string, known: WeakMap<object, string[]>): PolicyIssue[] {
  const out: PolicyIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const input = issue.input;
      const keys = typeof input === 'object' ? (known.get(input) ?? []) : [];
      for (const key of issue.keys) {
        const guess = closestKey(key, keys);
        out.push({
          path: pathAt(at, [...issue.path, key]),
          message: `unknown key ${JSON.stringify(key)}${guess ? ` (did you mean ${JSON.stringify(guess)}?)` : ''}`,
        });
      }
      continue;
    }
    // Report the union branch that got furthest rather than "Invalid input".
    if (issue.code === 'invalid_union' && issue.message === 'Invalid input' && issue.errors.length > 0) {
      const best = issue.errors.reduce((a, b) => (b.length < a.length ? b : a));
      if (best.length > 0) {
        out.push(
          ...issuesOf(
            best.map((i) => ({ ...i, path: [...issue.path, ...i.path] })),
            at,
            known,
          ),
        );
        continue;
      }
    }
    out.push({ path: pathAt(at, issue.path), message: issue.message });
  }
  return out;
}
