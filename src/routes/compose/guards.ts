// What a composite checks of the values a client or a service put into its calls, before a call
// goes out and after its answer comes back: a path that a service would resolve elsewhere, header
// values a field cannot carry, JSON nested deeper than the stack can serialize.

/**
 * A "." or ".." segment however written: encoding cannot hide one, since URL parsers (WHATWG, and
 * the servers built on it) read "%2E%2E" as ".." and resolve it, so "/users/{{id}}/profile" with
 * the id ".." would reach "/profile". Such a call is not made.
 */
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?=\/|$)/i;

export function hasDotSegment(path: string): boolean {
  return DOT_SEGMENT.test(path);
}

/** What a header field value may hold (RFC 9110 §5.5; undici and node refuse anything else). */
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

export function validHeaderValue(text: string): boolean {
  return !INVALID_HEADER_VALUE.test(text);
}

/**
 * The most levels of nesting a JSON document (a client's body, a call's answer) may have: the
 * answer is serialized (and shaped) recursively, and V8's JSON.stringify overflows the stack a few
 * thousand levels down.
 */
export const MAX_JSON_DEPTH = 500;

/** Whether a parsed JSON value nests deeper than `max` (walked without recursion). */
export function nestedDeeper(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v))
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}
