// Allowed CORS origins compiled once per config: exact origins in a Set, `https://*.example.com`
// wildcards as prefix/suffix pairs, regexes as one anchored union. `null` (sandboxed frames,
// file: pages, redirects) matches only when listed literally, never through "*", a wildcard or a regex.

export type OriginSpec = string | { regex: string };

export interface OriginMatcher {
  /** Any origin allowed ("*" listed). */
  readonly any: boolean;
  matches(origin: string): boolean;
}

interface Wildcard {
  prefix: string;
  suffix: string;
}

// What may stand for "*" in a wildcard origin: one or more DNS labels, no port, no userinfo.
const LABELS = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*$/;

/** Whether `spec` is a well-formed origin entry; the reason when not. */
export function originProblem(spec: string): string | undefined {
  if (spec === '*' || spec === 'null') return undefined;
  const star = spec.indexOf('*');
  if (star !== -1 && (spec.indexOf('*', star + 1) !== -1 || !/^[a-z][a-z0-9+.-]*:\/\/\*\./i.test(spec))) {
    return 'a wildcard origin looks like "https://*.example.com"';
  }
  const probe = star === -1 ? spec : spec.replace('*', 'x');
  let url: URL;
  try {
    url = new URL(probe);
  } catch {
    return 'not an origin such as "https://app.example.com"';
  }
  if (url.origin === 'null' || url.origin.toLowerCase() !== probe.toLowerCase()) {
    return 'an origin is scheme://host[:port], with no path, query or trailing slash';
  }
  return undefined;
}

export function compileOrigins(specs: readonly OriginSpec[]): OriginMatcher {
  const exact = new Set<string>();
  const wildcards: Wildcard[] = [];
  const regexes: string[] = [];
  let any = false;
  for (const s of specs) {
    if (typeof s !== 'string') regexes.push(s.regex);
    else if (s === '*') any = true;
    else if (s.includes('*')) {
      const i = s.indexOf('*');
      wildcards.push({ prefix: s.slice(0, i).toLowerCase(), suffix: s.slice(i + 1).toLowerCase() });
    } else exact.add(s === 'null' ? s : s.toLowerCase());
  }
  const regex = regexes.length ? new RegExp(`^(?:${regexes.map((r) => `(?:${r})`).join('|')})$`, 'i') : undefined;
  return {
    any,
    matches(origin) {
      if (exact.has(origin)) return true;
      if (origin === 'null') return false;
      if (any) return true;
      for (const w of wildcards) {
        if (origin.length > w.prefix.length + w.suffix.length && origin.startsWith(w.prefix) && origin.endsWith(w.suffix)) {
          if (LABELS.test(origin.slice(w.prefix.length, origin.length - w.suffix.length))) return true;
        }
      }
      return regex !== undefined && regex.test(origin);
    },
  };
}
