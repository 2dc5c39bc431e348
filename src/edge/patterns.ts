// Config-time helpers for policies that take regular expressions: a zod string that must compile,
// and one case-insensitive union of many patterns, so a request is tested once, not per pattern.
import { z } from 'zod';

export function compiles(source: string): boolean {
  try {
    new RegExp(source, 'i');
    return true;
  } catch {
    return false;
  }
}

export const RegexSource = z.string().min(1).refine(compiles, { error: 'not a valid regular expression' });

/** One case-insensitive regex matching any of `sources`; undefined when there are none. */
export function unionRegex(sources: readonly string[]): RegExp | undefined {
  if (sources.length === 0) return undefined;
  return new RegExp(sources.map((s) => `(?:${s})`).join('|'), 'i');
}
