// The two conversions, configured once per policy entry:
// - XML → JSON: elements become keys, attributes `@name` (the prefix is configurable), text beside
//   children or attributes `#text`, CDATA is text, repeated elements arrays (and the elements or
//   paths named in `arrays` always, so one element is still a list), numbers and booleans kept as
//   strings unless `coerce`, namespace prefixes kept or stripped. Built from saxes' events (a
//   strict, non-validating XML parser: well-formedness errors with their line and column, no DTD
//   processing); decision 0008 says why not fast-xml-parser.
// - JSON → XML: the reverse, every key checked to be an XML name and every string to hold only
//   characters XML can carry, so a client cannot write markup into the service's document.
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import XMLBuilder from 'fast-xml-builder';
import { hasNonXmlChar, isXmlName, type XmlProblem } from './safe-xml.js';

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

/** One open element while its content arrives. */
interface Frame {
  name: string;
  path: string;
  /** Attributes and children; null-prototype, so no element name reaches Object.prototype. */
  obj: Record<string, unknown>;
  children: boolean;
  attrs: boolean;
  text: string;
}

// JSON numbers as XML writes them; `007`, `0x1F` and `1.` stay text, and so do integers past 2^53.
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

class Refused extends Error {}

// What the builder escapes, in text and attributes alike: markup characters, and the whitespace
// a reader would otherwise normalise (a tab or line break in an attribute becomes a space, a
// carriage return in text a line feed), so `"a\nb"` arrives as `"a\nb"` and not `"a b"`.
const ESCAPES = [
  { regex: /&/g, val: '&amp;' }, // first, or it would escape the others' `&`
  { regex: /</g, val: '&lt;' },
  { regex: />/g, val: '&gt;' },
  { regex: /"/g, val: '&quot;' },
  { regex: /'/g, val: '&apos;' },
  { regex: /\r/g, val: '&#13;' },
  { regex: /\n/g, val: '&#10;' },
  { regex: /\t/g, val: '&#9;' },
];

export class XmlToJson {
  private readonly names: ReadonlySet<string>;
  private readonly paths: ReadonlySet<string>;

  constructor(private readonly shape: XmlShape) {
    this.names = new Set(shape.arrays.filter((a) => !a.includes('.')));
    this.paths = new Set(shape.arrays.filter((a) => a.includes('.')));
  }

  private value(text: string): unknown {
    if (!this.shape.coerce) return text;
    if (text === 'true') return true;
    if (text === 'false') return false;
    if (NUMBER.test(text)) {
      const n = Number(text);
      if (Number.isFinite(n) && (!Number.isInteger(n) || Number.isSafeInteger(n))) return n;
    }
    return text;
  }

  private local(name: string): string {
    if (this.shape.namespaces === 'keep') return name;
    const colon = name.indexOf(':');
    return colon < 0 ? name : name.slice(colon + 1);
  }

  convert(text: string): Converted<unknown> {
    const { attributePrefix, textKey, maxDepth } = this.shape;
    const strip = this.shape.namespaces === 'strip';
    const parser = new SaxesParser();
    const stack: Frame[] = [];
    const root: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    let problem: XmlProblem | undefined;
    const refuse = (message: string): never => {
      problem ??= { message, line: parser.line, column: parser.column };
      throw new Refused(message);
    };
    parser.on('error', (err) => refuse(err.message.replace(/^\d+:\d+: /, '')));
    // No document type declaration at all: no entity can be defined, expanded or fetched.
    parser.on('doctype', () => refuse('a document type or entity declaration is not accepted (<!DOCTYPE, <!ENTITY…)'));
    parser.on('opentag', (tag: SaxesTagPlain) => {
      if (stack.length >= maxDepth) refuse(`elements are nested deeper than ${maxDepth}`);
      const name = this.local(tag.name);
      const parent = stack[stack.length - 1];
      const obj = Object.create(null) as Record<string, unknown>;
      let attrs = false;
      for (const [k, v] of Object.entries(tag.attributes)) {
        if (strip && (k === 'xmlns' || k.startsWith('xmlns:'))) continue;
        obj[attributePrefix + this.local(k)] = this.value(v);
        attrs = true;
      }
      if (parent !== undefined) parent.children = true;
      stack.push({ name, path: parent === undefined ? name : `${parent.path}.${name}`, obj, children: false, attrs, text: '' });
    });
    const addText = (t: string) => {
      const top = stack[stack.length - 1];
      if (top !== undefined) top.text += t;
    };
    parser.on('text', addText);
    parser.on('cdata', addText);
    parser.on('closetag', () => {
      const frame = stack.pop()!;
      const text = frame.text.trim();
      let value: unknown;
      if (!frame.children && !frame.attrs) value = this.value(text);
      else {
        if (text !== '') frame.obj[textKey] = this.value(text);
        value = frame.obj;
      }
      const into = stack.length === 0 ? root : stack[stack.length - 1]!.obj;
      const always = this.names.has(frame.name) || this.paths.has(frame.path);
      const had = into[frame.name];
      if (had === undefined) into[frame.name] = always ? [value] : value;
      else if (Array.isArray(had))
        had.push(value); // an element's value is never an array: this is the repetition
      else into[frame.name] = [had, value];
    });
    try {
      parser.write(text).close();
    } catch (err) {
      if (problem !== undefined) return { ok: false, problem };
      if (err instanceof RangeError) return { ok: false, problem: { message: 'the document is nested too deeply' } };
      throw err;
    }
    return { ok: true, value: root };
  }
}

export class JsonToXml {
  private readonly builder: InstanceType<typeof XMLBuilder>;

  constructor(
    private readonly shape: XmlShape,
    /** The root element: always when given, else a single top-level key is the root, or `root`. */
    private readonly rootElement: string | undefined,
  ) {
    const options: ConstructorParameters<typeof XMLBuilder>[0] & { entities: typeof ESCAPES } = {
      ignoreAttributes: false,
      attributeNamePrefix: shape.attributePrefix,
      textNodeName: shape.textKey,
      processEntities: true,
      // An option of the builder's code (its defaultOptions) that its types leave out; the
      // whitespace test in xml-json.test.ts fails if an upgrade drops it.
      entities: ESCAPES,
      suppressEmptyNode: false,
      arrayNodeName: 'item',
      maxNestedTags: shape.maxDepth + 2,
    };
    this.builder = new XMLBuilder(options);
  }

  /** The document for a JSON value (with an XML declaration), or why it cannot be one. */
  convert(value: unknown, declaration = true): Converted<string> {
    const doc = this.rooted(value);
    const why = this.check(doc, 0);
    if (why !== undefined) return { ok: false, problem: { message: why } };
    const body = this.builder.build(doc);
    return { ok: true, value: (declaration ? '<?xml version="1.0" encoding="UTF-8"?>' : '') + body };
  }

  /** The value under its root element (an array as a list of `<item>`). */
  rooted(value: unknown): Record<string, unknown> {
    const content = Array.isArray(value) ? { item: value } : value;
    if (this.rootElement !== undefined) return { [this.rootElement]: content };
    if (isPlainObject(value)) {
      const keys = Object.keys(value);
      const only = keys.length === 1 ? keys[0]! : undefined;
      // `#text` or an attribute alone names no element: it goes under `root` like any other value.
      if (only !== undefined && only !== this.shape.textKey && !only.startsWith(this.shape.attributePrefix) && !Array.isArray(value[only]))
        return value;
    }
    return { root: content };
  }

  /**
   * Why the value cannot be written as XML: a key that is not a name, a character XML cannot
   * carry, an attribute or text that is not a scalar, an array directly in an array (no element
   * to repeat), or too deep.
   */
  private check(value: unknown, depth: number): string | undefined {
    if (depth > this.shape.maxDepth) return `the JSON is nested deeper than ${this.shape.maxDepth}`;
    if (typeof value === 'string')
      return hasNonXmlChar(value) ? 'a string holds a character XML cannot carry (a control character)' : undefined;
    if (Array.isArray(value)) {
      for (const v of value) {
        if (Array.isArray(v)) return 'an array directly in an array has no XML form (put it under a key)';
        const why = this.check(v, depth + 1);
        if (why !== undefined) return why;
      }
      return undefined;
    }
    if (!isPlainObject(value)) return undefined;
    const { attributePrefix, textKey } = this.shape;
    for (const [k, v] of Object.entries(value)) {
      const scalarOnly = k === textKey || k.startsWith(attributePrefix);
      // null text would be written as an element named `#text` (beside attributes) or as "null".
      if (scalarOnly && typeof v === 'object' && (v !== null || k === textKey))
        return `${JSON.stringify(k)} is an attribute or text: it takes a string, number or boolean`;
      const name = k === textKey ? undefined : k.startsWith(attributePrefix) ? k.slice(attributePrefix.length) : k;
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
