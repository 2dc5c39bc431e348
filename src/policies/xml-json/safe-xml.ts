// XML as the gateway accepts it: no document type declaration at all (so no entity expansion —
// billion laughs — and no external entities: nothing is ever fetched or read), a bounded element
// depth, well-formed. The check is a scan of our own before fast-xml-parser sees the text, so a
// refusal says where (line and column) and an attack costs one linear pass.
import { SyntaxValidator } from 'fast-xml-validator';

export interface XmlProblem {
  message: string;
  line: number;
  column: number;
}

function at(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset; i++)
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  return { line, column: offset - start + 1 };
}

function problem(text: string, offset: number, message: string): XmlProblem {
  return { message, ...at(text, offset) };
}

/**
 * Why the text is not acceptable XML, or undefined: a DOCTYPE or other declaration (`<!ENTITY`,
 * `<!ELEMENT`…), elements nested deeper than `maxDepth`, or (by fast-xml-parser's validator) not
 * well-formed.
 */
export function xmlProblem(text: string, maxDepth: number): XmlProblem | undefined {
  let depth = 0;
  let i = text.indexOf('<');
  while (i >= 0 && i < text.length) {
    if (text.startsWith('<!--', i)) i = skipTo(text, i + 4, '-->');
    else if (text.startsWith('<![CDATA[', i)) i = skipTo(text, i + 9, ']]>');
    else if (text.startsWith('<?', i)) i = skipTo(text, i + 2, '?>');
    else if (text.startsWith('<!', i))
      return problem(text, i, 'a document type or entity declaration is not accepted (<!DOCTYPE, <!ENTITY…)');
    else {
      const closing = text[i + 1] === '/';
      const end = tagEnd(text, i + 1);
      if (end < 0) return problem(text, i, 'a tag is not closed');
      if (closing) depth--;
      else if (text[end - 1] !== '/' && ++depth > maxDepth) return problem(text, i, `elements are nested deeper than ${maxDepth}`);
      i = end + 1;
    }
    if (i < 0) return problem(text, text.length, 'a comment, CDATA section or processing instruction is not closed');
    i = text.indexOf('<', i);
  }
  try {
    SyntaxValidator.validate(text);
    return undefined;
  } catch (err) {
    const e = err as { message?: string; line?: number; col?: number };
    return { message: e.message ?? 'not well-formed', line: e.line ?? 1, column: e.col ?? 1 };
  }
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/**
 * XML's own references and nothing else: the five predefined entities and character references
 * (`&#65;`, `&#x42;`). Any other `&name;` stays as written — there is no DTD to define one.
 */
export const xmlEntities = {
  setExternalEntities(): void {},
  addInputEntities(): void {},
  reset(): void {},
  setXmlVersion(): void {},
  decode(text: string): string {
    if (!text.includes('&')) return text;
    return text.replace(
      /&(?:#(\d{1,7})|#x([0-9a-fA-F]{1,6})|(lt|gt|amp|quot|apos));/g,
      (all, dec?: string, hex?: string, name?: string) => {
        if (name !== undefined) return PREDEFINED[name]!;
        const cp = dec !== undefined ? Number(dec) : parseInt(hex!, 16);
        // Characters XML 1.0 allows; a reference to anything else stays as written.
        const ok =
          cp === 0x9 ||
          cp === 0xa ||
          cp === 0xd ||
          (cp >= 0x20 && cp <= 0xd7ff) ||
          (cp >= 0xe000 && cp <= 0xfffd) ||
          (cp >= 0x10000 && cp <= 0x10ffff);
        return ok ? String.fromCodePoint(cp) : all;
      },
    );
  },
};

/** The offset after `end`, or -1. */
function skipTo(text: string, from: number, end: string): number {
  const j = text.indexOf(end, from);
  return j < 0 ? -1 : j + end.length;
}

/** The offset of the `>` that ends a tag (quotes in attribute values respected), or -1. */
function tagEnd(text: string, from: number): number {
  let quote = '';
  for (let j = from; j < text.length; j++) {
    const c = text[j]!;
    if (quote !== '') {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return j;
  }
  return -1;
}

// XML 1.0 names (ASCII subset plus any non-ASCII letter) with an optional prefix; JSON keys that
// are not one would let a client write markup into the document (`"a><evil/><b"`).
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
