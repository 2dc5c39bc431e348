// JSON text written by hand on the per-request path (access-log lines, OTLP/JSON spans): most
// values are plain ASCII that JSON.stringify would only wrap in quotes, so only those that need
// escaping go through it.
//
// The text is kept ASCII: anything outside printable ASCII is written as a \uXXXX escape (valid
// JSON, the same value; Python's json.dumps does this by default). An ASCII line is turned into
// bytes by a plain copy instead of a UTF-8 encoding pass.

/** Characters that must or will be escaped: quote, backslash, control characters, non-ASCII. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;
const NON_ASCII = /[\u007f-\uffff]/g;

/** `s` as an ASCII JSON string literal (JSON.parse gives `s` back). */
export function jsonString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  return JSON.stringify(s).replace(NON_ASCII, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
