// Cache-Control (RFC 9111 §5.2) as the cache reads it: directive names lower-cased, values
// unquoted. A field that cannot be parsed is read as far as it goes; a directive given twice keeps
// its first value (§4.2.1: conflicting ones make the response stale, which `invalid` records).

export interface Directives {
  /** name → value ('' for a directive without one). */
  readonly map: ReadonlyMap<string, string>;
  /** A directive that needs a number had none, or one that was given twice disagreed. */
  readonly invalid: ReadonlySet<string>;
}

const EMPTY: Directives = { map: new Map(), invalid: new Set() };

/** Parses every Cache-Control field of a header list ([name, value, …]). */
export function cacheControl(headers: readonly string[]): Directives {
  let text: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length === 13 && headers[i]!.toLowerCase() === 'cache-control')
      text = text === undefined ? headers[i + 1]! : `${text},${headers[i + 1]!}`;
  }
  return text === undefined ? EMPTY : parseDirectives(text);
}

export function parseDirectives(text: string): Directives {
  const map = new Map<string, string>();
  const invalid = new Set<string>();
  let i = 0;
  const n = text.length;
  while (i < n) {
    // name
    while (i < n && (text[i] === ',' || text[i] === ' ' || text[i] === '\t')) i++;
    const start = i;
    while (i < n && text[i] !== '=' && text[i] !== ',' && text[i] !== ' ' && text[i] !== '\t') i++;
    const name = text.slice(start, i).toLowerCase();
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    let value = '';
    if (text[i] === '=') {
      i++;
      while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
      if (text[i] === '"') {
        i++;
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < n) i++;
          value += text[i];
          i++;
        }
        i++; // the closing quote
      } else {
        const vs = i;
        while (i < n && text[i] !== ',') i++;
        value = text.slice(vs, i).trim();
      }
    }
    while (i < n && text[i] !== ',') i++; // anything after a value up to the next directive is ignored
    if (name === '') continue;
    const seen = map.get(name);
    if (seen === undefined) map.set(name, value);
    else if (seen !== value) invalid.add(name);
  }
  return { map, invalid };
}

/**
 * A delta-seconds directive (max-age=60): its value in seconds; undefined when absent; -1 when present
 * but not a number (an invalid max-age makes a response stale, §4.2.1). Huge values are capped
 * at 2^31 seconds (§1.2.2).
 */
export function seconds(d: Directives, name: string): number | undefined {
  const v = d.map.get(name);
  if (v === undefined) return undefined;
  if (d.invalid.has(name) || !/^\d+$/.test(v)) return -1;
  return Math.min(Number(v), 2 ** 31);
}

export function has(d: Directives, name: string): boolean {
  return d.map.has(name);
}
