// What makes XML safe to accept and to write. Accepting is convert.ts's job with saxes (a strict
// parser that processes no DTD: a DOCTYPE is refused outright there, so no entity is ever defined,
// expanded or fetched, and only XML's five predefined entities and character references exist).
// Writing needs the checks here: JSON keys must be XML names and strings must hold only
// characters XML can carry, or a client could write markup into the service's document.

export interface XmlProblem {
  message: string;
  line: number;
  column: number;
}

// XML 1.0 names (ASCII subset plus any non-ASCII letter) with an optional prefix.
const NAME = /^(?:[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9._\u00B7\u00C0-\uFFFF-]*:)?[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9._\u00B7\u00C0-\uFFFF-]*$/;
// Characters XML 1.0 cannot carry, even escaped.
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const NOT_XML = /[\0-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;

export function isXmlName(name: string): boolean {
  return NAME.test(name);
}

export function hasNonXmlChar(text: string): boolean {
  return NOT_XML.test(text);
}
