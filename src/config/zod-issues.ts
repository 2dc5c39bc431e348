// zod's issues as `path: message` lines, the one way the config, the admin API and `auth`'s nested
// methods report them: unknown keys with a "did you mean", the union branch that got furthest
// rather than "Invalid input", paths written `routes[0].policies[1].type`.
import type { z } from 'zod';
import { closestKey } from './closest-key.js';

export interface Issue {
  path: string;
  message: string;
}

/** `path` written under `at` ("routes[0]" + ["match", 0] → "routes[0].match[0]"); alone, "(root)" when empty. */
export function formatPath(path: readonly PropertyKey[], at = ''): string {
  let out = at;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(root)';
}

/** The keys each object schema that refused unknown keys knows, by the refused object. */
export type KnownKeys = WeakMap<object, string[]>;

/**
 * Parses like `schema.safeParse`, and keeps what "did you mean" needs: zod hands its error map
 * the object schema of an unknown-keys issue, but only the message survives into the result.
 */
export function parseKeepingKeys<S extends z.ZodType>(
  schema: S,
  value: unknown,
): { success: true; data: z.output<S> } | { success: false; issues: readonly z.core.$ZodIssue[]; known: KnownKeys } {
  const known: KnownKeys = new WeakMap();
  const parsed = schema.safeParse(value, {
    reportInput: true,
    error: (iss) => {
      if (iss.code === 'unrecognized_keys' && typeof iss.input === 'object') {
        known.set(iss.input, Object.keys((iss.inst as { shape?: object } | undefined)?.shape ?? {}));
      }
      return undefined;
    },
  });
  return parsed.success ? { success: true, data: parsed.data } : { success: false, issues: parsed.error.issues, known };
}

/**
 * The issues as lines under `at`. `special` may answer an issue its own way (the config names the
 * known policy types for an unknown discriminator); it is asked first, for every issue.
 */
export function issueLines(
  issues: readonly z.core.$ZodIssue[],
  known: KnownKeys,
  at = '',
  special?: (issue: z.core.$ZodIssue) => Issue | undefined,
): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const own = special?.(issue);
    if (own !== undefined) {
      out.push(own);
      continue;
    }
    if (issue.code === 'unrecognized_keys') {
      const input = issue.input;
      const keys = typeof input === 'object' ? (known.get(input) ?? []) : [];
      for (const key of issue.keys) {
        const guess = closestKey(key, keys);
        out.push({
          path: formatPath([...issue.path, key], at),
          message: `unknown key ${JSON.stringify(key)}${guess ? ` (did you mean ${JSON.stringify(guess)}?)` : ''}`,
        });
      }
      continue;
    }
    // A union with a message of its own in the schema (`workers`) says best what it accepts;
    // otherwise report the branch that got furthest rather than "Invalid input".
    if (issue.code === 'invalid_union' && issue.message === 'Invalid input' && issue.errors.length > 0) {
      const best = issue.errors.reduce((a, b) => (b.length < a.length ? b : a));
      if (best.length > 0) {
        out.push(
          ...issueLines(
            best.map((i) => ({ ...i, path: [...issue.path, ...i.path] })),
            known,
            at,
            special,
          ),
        );
        continue;
      }
    }
    out.push({ path: formatPath(issue.path, at), message: issue.message });
  }
  return out;
}
