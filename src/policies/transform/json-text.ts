// JSON in and out of a transformer: which Content-Types are JSON, and where a body that is not
// JSON goes wrong. Node's JSON.parse names the position in some messages and not in others (and
// the wording differs between Node 20 and 24), so the position comes from a scan of our own — run
// only on a body JSON.parse refused, iterative so that deep nesting cannot overflow the stack.

/** `application/json` or any `+json` type (parameters ignored). */
export function isJsonType(contentType: string): boolean {
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

export interface JsonError {
  message: string;
  position: number;
  line: number;
  column: number;
}

/** The parsed body, or where and why it is not JSON. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; error: JsonError } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    const at = errorOffset(text);
    const { line, column } = lineColumn(text, at);
    const what = at >= text.length ? 'unexpected end of the body' : `unexpected ${JSON.stringify(text[at])}`;
    return { ok: false, error: { message: `not valid JSON: ${what} at line ${line}, column ${column}`, position: at, line, column } };
  }
}

function lineColumn(text: string, at: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < at && i < text.length; i++)
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  return { line, column: at - start + 1 };
}

type Expect = 'value' | 'valueOrEnd' | 'key' | 'keyOrEnd' | 'colon' | 'commaOrEnd' | 'done';
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** The offset of the first character that makes `text` not JSON (text.length: it ends too soon). */
export function errorOffset(text: string): number {
  const stack: number[] = []; // 123 "{" or 91 "["
  let expect: Expect = 'value';
  let i = 0;
  const n = text.length;
  const after = (): Expect => (stack.length === 0 ? 'done' : 'commaOrEnd');
  for (;;) {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
    if (i >= n) return expect === 'done' ? n : n;
    const c = text.charCodeAt(i);
    switch (expect) {
      case 'done':
        return i;
      case 'colon':
        if (c !== 58) return i;
        i++;
        expect = 'value';
        continue;
      case 'commaOrEnd': {
        const top = stack[stack.length - 1];
        if (c === 44) {
          i++;
          expect = top === 123 ? 'key' : 'value';
        } else if ((c === 125 && top === 123) || (c === 93 && top === 91)) {
          stack.pop();
          i++;
          expect = after();
        } else return i;
        continue;
      }
      case 'key':
      case 'keyOrEnd':
        if (expect === 'keyOrEnd' && c === 125) {
          stack.pop();
          i++;
          expect = after();
          continue;
        }
        if (c !== 34) return i;
        i = stringEnd(text, i);
        if (i < 0) return -i - 1;
        expect = 'colon';
        continue;
      case 'value':
      case 'valueOrEnd':
        if (expect === 'valueOrEnd' && c === 93) {
          stack.pop();
          i++;
          expect = after();
          continue;
        }
        if (c === 123 || c === 91) {
          stack.push(c);
          i++;
          expect = c === 123 ? 'keyOrEnd' : 'valueOrEnd';
          continue;
        }
        if (c === 34) {
          i = stringEnd(text, i);
          if (i < 0) return -i - 1;
        } else if (text.startsWith('true', i)) i += 4;
        else if (text.startsWith('false', i)) i += 5;
        else if (text.startsWith('null', i)) i += 4;
        else {
          NUMBER.lastIndex = i;
          const m = NUMBER.exec(text);
          if (m === null) return i;
          i += m[0].length;
        }
        expect = after();
        continue;
    }
  }
}

/** The offset after a string that starts at `i`, or -(error offset + 1). */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 34) return j + 1;
    if (c < 0x20) return -j - 1;
    if (c === 92) {
      const e = text[j + 1];
      if (e === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(j + 2, j + 6))) return -(j + 1) - 1;
        j += 5;
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) j++;
      else return -(j + 1) - 1;
    }
  }
  return -text.length - 1;
}

/** The edited document as a body, or why it cannot be one (too deep for JSON.stringify, or over `maxBytes`). */
export function serialize(doc: unknown, maxBytes: number): Buffer | string {
  let text: string;
  try {
    // JSON.stringify gives no text for undefined or a function (a reshape may yield either).
    text = doc === undefined || typeof doc === 'function' ? 'null' : JSON.stringify(doc);
  } catch (err) {
    if (err instanceof RangeError) return 'it is nested too deeply to serialise';
    throw err;
  }
  // A UTF-8 byte is at least one character: only a long string needs counting.
  if (text.length > maxBytes && Buffer.byteLength(text) > maxBytes) return `the result is larger than ${maxBytes} bytes`;
  const buf = Buffer.from(text);
  return buf.length > maxBytes ? `the result is larger than ${maxBytes} bytes` : buf;
}
