// Targeted cache control (RFC 9213): a response field such as CDN-Cache-Control that speaks to a
// class of caches. When one this cache obeys is present and parses, its directives replace
// Cache-Control's for this cache (the client still gets Cache-Control as it came); one that does
// not parse is ignored. Its syntax is a Structured Field dictionary (RFC 8941), parsed by
// structured-headers.
import { parseDictionary, Token } from 'structured-headers';
import { cacheControl, type Directives } from './cache-control.js';

/** Directives whose value must be an integer (delta-seconds); the rest are flags. */
const INTEGER = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error']);

/** The directives this cache follows for a response: the first valid targeted field among `targets` (lower case), else Cache-Control. */
export function responseDirectives(headers: readonly string[], targets: readonly string[]): Directives {
  for (const target of targets) {
    let text: string | undefined;
    for (let i = 0; i < headers.length; i += 2)
      if (headers[i]!.length === target.length && headers[i]!.toLowerCase() === target)
        text = text === undefined ? headers[i + 1]! : `${text}, ${headers[i + 1]!}`;
    if (text === undefined) continue;
    const d = targetedDirectives(text);
    if (d !== undefined) return d;
  }
  return cacheControl(headers);
}

function targetedDirectives(text: string): Directives | undefined {
  let dict: ReturnType<typeof parseDictionary>;
  try {
    dict = parseDictionary(text);
  } catch {
    return undefined; // not a structured field: the field is ignored
  }
  const map = new Map<string, string>();
  for (const [key, member] of dict) {
    // (Typed with DOM's BufferSource among its items, which this build's lib does not have.)
    const first: unknown = member[0];
    const value = Array.isArray(first) ? undefined : first;
    if (INTEGER.has(key)) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) return undefined; // the wrong type: the field is ignored
      map.set(key, String(value));
    } else
      map.set(
        key,
        value === true
          ? ''
          : typeof value === 'string' || typeof value === 'number'
            ? String(value)
            : value instanceof Token
              ? value.toString()
              : '',
      );
  }
  return { map, invalid: new Set() };
}
