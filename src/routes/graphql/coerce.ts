// A variable's value as the operation declares it. A REST request carries text (path segments,
// query parameters, headers), so "3" becomes 3 for an Int and "true" true for a Boolean; a JSON
// body's values are checked as they are. Only the built-in scalars are known without the service's
// schema: an enum, a custom scalar or an input object (any other named type) goes as it is, and
// the service judges it. The rules are GraphQL's input coercion (spec §3.5, §3.9), widened for text.
import { Kind, print, type TypeNode } from 'graphql';

export type Coerced = { ok: true; value: unknown } | { ok: false; reason: string };

/** Int is 32-bit signed (spec §3.5.1). */
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
const INTEGER_TEXT = /^[+-]?\d+$/;
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** Scalars whose text form never holds a comma: a list of them may come as "1,2,3". */
const SPLIT_SCALARS = new Set(['Int', 'Float', 'Boolean', 'ID']);

export function typeText(type: TypeNode): string {
  return print(type);
}

/** The type is non-null (a value is required unless the variable has a default). */
export function isNonNull(type: TypeNode): boolean {
  return type.kind === Kind.NON_NULL_TYPE;
}

/** The named type at the bottom of lists and non-nulls. */
export function namedOf(type: TypeNode): string {
  let t = type;
  while (t.kind !== Kind.NAMED_TYPE) t = t.type;
  return t.name.value;
}

/**
 * An empty text stands for no value for a type that cannot be empty (`?first=` for an Int): the
 * variable is then missing, as if the parameter were not sent. A String or ID keeps "".
 */
export function emptyMeansMissing(type: TypeNode, value: unknown): boolean {
  if (value !== '') return false;
  const base = type.kind === Kind.NON_NULL_TYPE ? type.type : type;
  return base.kind === Kind.LIST_TYPE || !['String', 'ID'].includes(namedOf(base));
}

export function coerce(value: unknown, type: TypeNode): Coerced {
  if (type.kind === Kind.NON_NULL_TYPE) {
    if (value === null || value === undefined) return { ok: false, reason: 'it is null, and the type is non-null' };
    return coerce(value, type.type);
  }
  if (value === null || value === undefined) return { ok: true, value: null };
  if (type.kind === Kind.LIST_TYPE) {
    let items: unknown[];
    if (Array.isArray(value)) items = value;
    else if (typeof value === 'string' && SPLIT_SCALARS.has(namedOf(type.type)))
      items = value.split(',').map((s) => s.trim()); // a template reads one text: "?ids=1,2,3"
    else items = [value]; // a single value for a list is a list of one (spec §3.11)
    const out: unknown[] = [];
    for (let i = 0; i < items.length; i++) {
      const c = coerce(items[i], type.type);
      if (!c.ok) return { ok: false, reason: `element ${i}: ${c.reason}` };
      out.push(c.value);
    }
    return { ok: true, value: out };
  }
  return coerceNamed(value, type.name.value);
}

function coerceNamed(value: unknown, name: string): Coerced {
  switch (name) {
    case 'Int': {
      const n = typeof value === 'string' && INTEGER_TEXT.test(value.trim()) ? Number(value.trim()) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) return { ok: false, reason: `${show(value)} is not an integer` };
      if (n < INT_MIN || n > INT_MAX) return { ok: false, reason: `${show(value)} is outside the 32-bit range of an Int` };
      return { ok: true, value: n };
    }
    case 'Float': {
      const n = typeof value === 'string' && NUMBER_TEXT.test(value.trim()) ? Number(value.trim()) : value;
      if (typeof n !== 'number' || !Number.isFinite(n)) return { ok: false, reason: `${show(value)} is not a number` };
      return { ok: true, value: n };
    }
    case 'Boolean':
      if (typeof value === 'boolean') return { ok: true, value };
      if (value === 'true') return { ok: true, value: true };
      if (value === 'false') return { ok: true, value: false };
      return { ok: false, reason: `${show(value)} is not true or false` };
    case 'String':
      if (typeof value === 'string') return { ok: true, value };
      return { ok: false, reason: `${show(value)} is not a string` };
    case 'ID':
      // An ID is text; an integer is accepted as input and sent as its text (spec §3.5.5).
      if (typeof value === 'string') return { ok: true, value };
      if (typeof value === 'number' && Number.isInteger(value)) return { ok: true, value: String(value) };
      return { ok: false, reason: `${show(value)} is not an ID (a string or an integer)` };
    default:
      return { ok: true, value };
  }
}

/** A value in an error message, bounded: it came from the client. */
function show(value: unknown): string {
  const text =
    typeof value === 'string'
      ? JSON.stringify(value)
      : Array.isArray(value)
        ? 'a list'
        : typeof value === 'object' && value !== null
          ? 'an object'
          : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
