// Duplicate keys in a JSON object: `{"role":"user","role":"admin"}`. JSON.parse keeps the last
// value, and so does the schema check; a service whose parser keeps the first (several do) would
// act on a value nobody validated. RFC 8259 says names SHOULD be unique, so a validated body must
// have unique names — this finds the first that is not. It runs on text JSON.parse has accepted,
// so it only tracks structure, and it is iterative: any depth.

const QUOTE = 34;
const BACKSLASH = 92;

interface Frame {
  /** The names seen in this object; undefined for an array. */
  keys?: Set<string>;
  /** The current name (object) or index (array): where a child sits. */
  at: string | number;
  /** In an object: the next string is a name. */
  expectKey: boolean;
}

/** The JSON pointer of the first repeated name in `text` (valid JSON), or undefined. */
export function firstDuplicateKey(text: string): string | undefined {
  const stack: Frame[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      if (top?.keys !== undefined && top.expectKey) {
        const raw = text.slice(i + 1, end);
        // A name with escapes is compared decoded: "\u0061" and "a" are the same name.
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        if (top.keys.has(key)) return pointer(stack, key);
        top.keys.add(key);
        top.at = key;
        top.expectKey = false;
      }
      i = end + 1;
      continue;
    }
    if (c === 123)
      stack.push({ keys: new Set(), at: '', expectKey: true }); // {
    else if (c === 91)
      stack.push({ at: 0, expectKey: false }); // [
    else if (c === 125 || c === 93)
      stack.pop(); // } ]
    else if (c === 44) {
      // ,
      const top = stack[stack.length - 1]!;
      if (top.keys !== undefined) top.expectKey = true;
      else top.at = (top.at as number) + 1;
    }
    i++;
  }
  return undefined;
}

/** The index of the quote that closes the string opening at `start`. */
function stringEnd(text: string, start: number): number {
  let j = start;
  for (;;) {
    j = text.indexOf('"', j + 1);
    let backslashes = 0;
    while (text.charCodeAt(j - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return j;
  }
}

function pointer(stack: Frame[], key: string): string {
  const parts = stack.slice(0, -1).map((f) => String(f.at));
  parts.push(key);
  return parts.map((p) => '/' + p.replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}
