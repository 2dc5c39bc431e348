// What JSON.parse hides about a request body's text, checked on text it already accepted:
// a key given twice in one object (JSON.parse keeps the last, proto3 JSON refuses it, and a
// policy or log that read the first would disagree with what the service gets), and an integer
// literal that no double holds exactly (9007199254740993 parses as ...992: a 64-bit id would
// silently become another one; proto3 JSON lets clients send those as strings).

const QUOTE = 0x22,
  BACKSLASH = 0x5c,
  OPEN_OBJECT = 0x7b,
  CLOSE_OBJECT = 0x7d,
  OPEN_ARRAY = 0x5b,
  CLOSE_ARRAY = 0x5d,
  COMMA = 0x2c,
  MINUS = 0x2d;

/** Why the (valid) JSON text cannot be read as the client meant it, or undefined. Linear. */
export function jsonTextProblem(text: string): string | undefined {
  // One entry per open container: the keys seen so far in an object, null for an array.
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === OPEN_OBJECT) {
      open.push(new Set());
      expectKey = true;
      i++;
    } else if (c === OPEN_ARRAY) {
      open.push(null);
      expectKey = false;
      i++;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      open.pop();
      expectKey = false;
      i++;
    } else if (c === COMMA) {
      expectKey = open.length > 0 && open[open.length - 1] !== null;
      i++;
    } else if (c === QUOTE) {
      const start = i++;
      while (text.charCodeAt(i) !== QUOTE) i += text.charCodeAt(i) === BACKSLASH ? 2 : 1;
      i++;
      if (expectKey) {
        const key = JSON.parse(text.slice(start, i)) as string;
        const seen = open[open.length - 1]!;
        if (seen.has(key)) return `the request body has the key ${JSON.stringify(key)} twice in one object`;
        seen.add(key);
        expectKey = false;
      }
    } else if (c === MINUS || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      while (i < text.length && isNumberChar(text.charCodeAt(i))) i++;
      if (i - start <= 15) continue; // every integer of 15 digits is a double: the common case, no slice
      const literal = text.slice(start, i);
      if (!inexactInteger(literal)) continue;
      const shown = literal.length > 40 ? literal.slice(0, 40) + '…' : literal;
      return `the integer ${shown} cannot be read exactly from a JSON number: send it as a string ("${shown}")`;
    } else i++;
  }
  return undefined;
}

/** A character of a JSON number: digits, "-", "+", ".", "e", "E". */
function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === MINUS || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;
}

/** A plain integer literal (no fraction, no exponent) that its double does not equal. */
function inexactInteger(literal: string): boolean {
  const digits = literal.charCodeAt(0) === MINUS ? literal.length - 1 : literal.length;
  if (digits <= 15 || !/^-?[0-9]+$/.test(literal)) return false; // every 15-digit integer is a double
  if (digits > 400) return true; // beyond any double (and not worth a BigInt)
  const n = Number(literal);
  return !Number.isFinite(n) || BigInt(n) !== BigInt(literal);
}
