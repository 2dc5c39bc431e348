// What makes XML safe to accept and to write. Accepting is convert.ts's job with saxes (a strict
// parser that processes no DTD: a DOCTYPE is refused outright there, so no entity is ever defined,
// expanded or fetched, and only XML's five predefined entities and character references exist).
// Writing needs the checks here: JSON keys must be XML names and strings must hold only
// characters XML can carry, or a client could write markup into the service's document.
// Reading bytes as text honours the body's character set and refuses bytes that are not in it:
// decoding Latin-1 or broken UTF-8 as UTF-8 would silently put U+FFFD into the converted body.

export interface XmlProblem {
  message: string;
  line: number;
  column: number;
}

// XML 1.0 names (ASCII subset plus any non-ASCII letter) with an optional prefix.
const NAME = /^(?:[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9._\u00B7\u00C0-\uFFFF-]*:)?[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9._\u00B7\u00C0-\uFFFF-]*$/;
// Characters XML 1.0 cannot carry, even escaped, and half a surrogate pair (which is no character
// and would be written as U+FFFD).
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const NOT_XML = /[\0-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function isXmlName(name: string): boolean {
  return NAME.test(name) && !NOT_XML.test(name);
}

export function hasNonXmlChar(text: string): boolean {
  return NOT_XML.test(text);
}

// The character set named by Content-Type wins (RFC 7303 §3); else a byte order mark; else the XML
// declaration's encoding (read as ASCII, which every encoding it can name agrees with); else UTF-8.
const CHARSET_PARAM = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;
const DECLARED = /^<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function charsetOf(bytes: Buffer, contentType: string): string {
  const param = CHARSET_PARAM.exec(contentType)?.[1];
  if (param !== undefined) return param.toLowerCase();
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  return DECLARED.exec(bytes.subarray(0, 200).toString('latin1'))?.[1]?.toLowerCase() ?? 'utf-8';
}

/** The body as text in its character set, or why it cannot be read (an unknown set, bytes not in it). */
export function decodeText(bytes: Buffer, contentType: string): { ok: true; text: string } | { ok: false; message: string } {
  const charset = charsetOf(bytes, contentType);
  let decoder = UTF8;
  if (charset !== 'utf-8' && charset !== 'utf8') {
    try {
      decoder = new TextDecoder(charset, { fatal: true });
    } catch {
      return { ok: false, message: `its character set ${JSON.stringify(charset.slice(0, 40))} is not supported` };
    }
  }
  try {
    return { ok: true, text: decoder.decode(bytes) };
  } catch {
    return { ok: false, message: `it is not valid ${decoder.encoding} text` };
  }
}
