// The two conversions, configured once per policy entry:
// - XML → JSON: elements become keys, attributes `@name` (the prefix is configurable), text beside
//   children or attributes `#text`, CDATA is text, repeated elements arrays (and the elements or
//   paths named in `arrays` always, so one element is still a list), numbers and booleans kept as
//   strings unless `coerce`, namespace prefixes kept or stripped.
// - JSON → XML: the reverse, every key checked to be an XML name and every string to hold only
//   characters XML can carry, so a client cannot write markup into the service's document.
import { XMLParser } from 'fast-xml-parser';
import XMLBuilder from 'fast-xml-builder';
import { hasNonXmlChar, isXmlName, xmlEntities, xmlProblem, type XmlProblem } from './safe-xml.js';

export interface XmlShape {
  attributePrefix: string;
  textKey: string;
  /** Element names ("item") or dotted paths from the root ("order.items.item") that are always arrays. */
  arrays: readonly string[];
  coerce: boolean;
  namespaces: 'keep' | 'strip';
  maxDepth: number;
}

export type Converted<T> = { ok: true; value: T } | { ok: false; problem: XmlProblem | { message: string } };

export class XmlToJson {
  private readonly parser: XMLParser;

  constructor(private readonly shape: XmlShape) {
    const names = new Set(shape.arrays.filter((a) => !a.includes('.')));
    const paths = new Set(shape.arrays.filter((a) => a.includes('.')));
    this.parser = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: shape.attributePrefix,
      textNodeName: shape.textKey,
      parseTagValue: shape.coerce,
      parseAttributeValue: shape.coerce,
      numberParseOptions: { leadingZeros: false, hex: false, eNotation: true },
      trimValues: true,
      cdataPropName: false,
      removeNSPrefix: shape.namespaces === 'strip',
      ignoreDeclaration: true,
      ignorePiTags: true,
      // Only the five predefined entities and character references: no DTD is ever accepted.
      processEntities: true,
      entityDecoder: xmlEntities,
      maxNestedTags: shape.maxDepth,
      jPath: true,
      isArray: (name, jpath, _leaf, isAttribute) => !isAttribute && (names.has(name) || paths.has(jpath as string)),
    });
  }

  convert(text: string): Converted<unknown> {
    const problem = xmlProblem(text, this.shape.maxDepth);
    if (problem !== undefined) return { ok: false, problem };
    try {
      return { ok: true, value: this.parser.parse(text) as unknown };
    } catch (err) {
      return { ok: false, problem: { message: (err as Error).message } };
    }
  }
}

export class JsonToXml {
  private readonly builder: InstanceType<typeof XMLBuilder>;

  constructor(
    private readonly shape: XmlShape,
    /** The root element: always when given, else a single top-level key is the root, or `root`. */
    private readonly rootElement: string | undefined,
  ) {
    this.builder = new XMLBuilder({
      ignoreAttributes: false,
      attributeNamePrefix: shape.attributePrefix,
      textNodeName: shape.textKey,
      processEntities: true,
      suppressEmptyNode: false,
      arrayNodeName: 'item',
      maxNestedTags: shape.maxDepth + 2,
    });
  }

  /** The document for a JSON value (with an XML declaration), or why it cannot be one. */
  convert(value: unknown, declaration = true): Converted<string> {
    const doc = this.rooted(value);
    const why = this.check(doc, 0);
    if (why !== undefined) return { ok: false, problem: { message: why } };
    const body = this.builder.build(doc);
    return { ok: true, value: (declaration ? '<?xml version="1.0" encoding="UTF-8"?>' : '') + body };
  }

  /** The value under its root element. */
  rooted(value: unknown): Record<string, unknown> {
    if (this.rootElement !== undefined) return { [this.rootElement]: value };
    if (isPlainObject(value)) {
      const keys = Object.keys(value);
      if (keys.length === 1 && !keys[0]!.startsWith(this.shape.attributePrefix) && !Array.isArray(value[keys[0]!])) return value;
    }
    return { root: value };
  }

  /** Why the value cannot be written as XML (a key that is not a name, a character XML cannot carry, too deep). */
  private check(value: unknown, depth: number): string | undefined {
    if (depth > this.shape.maxDepth) return `the JSON is nested deeper than ${this.shape.maxDepth}`;
    if (typeof value === 'string')
      return hasNonXmlChar(value) ? 'a string holds a character XML cannot carry (a control character)' : undefined;
    if (Array.isArray(value)) {
      for (const v of value) {
        const why = this.check(v, depth + 1);
        if (why !== undefined) return why;
      }
      return undefined;
    }
    if (!isPlainObject(value)) return undefined;
    for (const [k, v] of Object.entries(value)) {
      const name =
        k === this.shape.textKey ? undefined : k.startsWith(this.shape.attributePrefix) ? k.slice(this.shape.attributePrefix.length) : k;
      if (name !== undefined && !isXmlName(name)) return `${JSON.stringify(k)} is not an XML name`;
      const why = this.check(v, depth + 1);
      if (why !== undefined) return why;
    }
    return undefined;
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
