// JSON Schema (draft 2020-12) with ajv: one ajv instance for what clients send as JSON (types as
// they are) and one for what arrives as text — query parameters, headers, route
// params — where "5" may validate as an integer (coerced, as OpenAPI validators do). Schemas are
// compiled once; a schema that does not compile is a config error with its path. Nothing is
// fetched: a `$ref` must resolve inside the schema (no loadSchema), and `$data` is off.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';

// ajv-formats is CommonJS: node hands over module.exports (the plugin), which also carries the
// `default` its typings name.
const addFormats = formats.default;

export type Part = 'body' | 'query' | 'headers' | 'params' | 'response';

/** One problem, as the 400's `details` lists it. */
export interface ValidationError {
  in: Part;
  /** A JSON pointer into the part ("/items/0/sku"; "" is the whole part). */
  pointer: string;
  message: string;
}

/**
 * Past this many values (objects, arrays, strings, numbers… counted together) a JSON document that
 * fails lists its first problem only. With allErrors ajv builds every error before we can cap the
 * list: a 1 MiB array of 500 000 wrong items made 500 000 error objects (~270 ms and ~70 MB), where
 * the first-error pass stops at once. 10 000 values cost a few ms at worst.
 */
export const LIST_ALL_VALUES = 10_000;

/** Checks one part: the problems, at most `max`; [] when the value is valid. */
export type Check = (value: unknown, max: number) => ValidationError[];

function makeAjv(coerce: boolean, allErrors: boolean): Ajv2020 {
  const ajv = new Ajv2020({
    // An unknown keyword (a typo: `requried`) is a config error; a `format` without a `type`, as
    // schemas copied from OpenAPI often have, is not.
    strictSchema: true,
    strictNumbers: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    allErrors,
    // Only own properties count: otherwise `required: [constructor]` holds for `{}` (inherited from
    // Object.prototype) and `properties: { toString: { type: string } }` fails every object.
    ownProperties: true,
    coerceTypes: coerce ? 'array' : false,
    // Only the error lists are read; messages come from ajv (English, one line each).
    verbose: false,
    // Unicode-aware patterns, as JSON Schema specifies.
    unicodeRegExp: true,
  });
  addFormats(ajv);
  ajv.addKeyword('example'); // OpenAPI's annotation, harmless
  return ajv;
}

/** True when `value` holds at most `limit` values; stops counting there (iterative: any depth). */
export function atMostValues(value: unknown, limit: number): boolean {
  const stack: unknown[] = [value];
  let seen = 0;
  while (stack.length > 0) {
    const v = stack.pop();
    if (++seen > limit) return false;
    if (Array.isArray(v)) for (const item of v) stack.push(item);
    else if (typeof v === 'object' && v !== null) for (const item of Object.values(v)) stack.push(item);
  }
  return true;
}

// Shared ajv instances. A fresh instance costs ~25 ms (it compiles the draft 2020-12 meta-schema
// and the formats), which per entry made a config of 200 validators block the event loop for
// seconds on every reload; a schema compiled in a shared one costs well under a millisecond. But an
// instance keeps every compiled schema's values in its scope (kilobytes each), and each compiled
// function holds its instance's whole scope: one instance for the process would grow with every
// reload. So an instance serves RECYCLE_AFTER compiles, then a fresh one takes over; the old one
// goes when the last policy compiled in it does.
const RECYCLE_AFTER = 200;
const shared = new Map<string, { ajv: Ajv2020; compiles: number }>();

function ajvFor(coerce: boolean, allErrors: boolean): Ajv2020 {
  const key = `${coerce}/${allErrors}`;
  let entry = shared.get(key);
  if (entry === undefined || entry.compiles >= RECYCLE_AFTER) shared.set(key, (entry = { ajv: makeAjv(coerce, allErrors), compiles: 0 }));
  entry.compiles++;
  return entry.ajv;
}

// Each schema is removed from its instance once compiled (the compiled function keeps what it
// needs): two schemas with the same `$id` do not collide, and one cannot `$ref` another entry's.
function compileIn(ajv: Ajv2020, schema: unknown): ValidateFunction {
  try {
    return ajv.compile(schema as object);
  } finally {
    if (typeof schema === 'object' && schema !== null) ajv.removeSchema(schema);
  }
}

/**
 * The check of one schema, or why it does not compile. Text parts (small: bounded by the header
 * size) always list every problem; JSON documents list every problem up to LIST_ALL_VALUES.
 */
export function compileSchema(schema: unknown, part: Part, textual: boolean): Check | string {
  let all: ValidateFunction;
  let first: ValidateFunction | undefined;
  try {
    all = compileIn(ajvFor(textual, true), schema);
    if (!textual) first = compileIn(ajvFor(false, false), schema);
  } catch (err) {
    const message = (err as Error).message;
    return `not a valid JSON Schema (draft 2020-12): ${message}${locate(schema, message)}${otherDraft(schema, message)}`;
  }
  return (value, max) => {
    const fn = first === undefined || atMostValues(value, LIST_ALL_VALUES) ? all : first;
    try {
      return fn(value) ? [] : describe(fn.errors, part, max);
    } catch (err) {
      // A recursive schema ($ref to itself) follows the data down: a body nested thousands deep
      // runs out of stack. JSON.parse took it, so the answer is the client's problem, not a 500.
      if (err instanceof RangeError) return [{ in: part, pointer: '', message: 'is nested too deeply to validate' }];
      throw err;
    }
  };
}

// Keywords whose value is a map from names to schemas: the names there are not keywords.
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
// Keywords whose value is data, not schema: a key in there is an instance's, never a keyword.
const DATA = new Set(['const', 'enum', 'default', 'examples', 'example']);

/**
 * ajv names an unknown keyword without saying where it is; in a big schema that is a hunt. This
 * finds the first place it is used as a keyword and names it as a JSON pointer into the schema.
 */
function locate(schema: unknown, message: string): string {
  const keyword = /^strict mode: unknown keyword: "(.*)"$/.exec(message)?.[1];
  if (keyword === undefined) return '';
  const stack: { node: unknown; pointer: string; map: boolean }[] = [{ node: schema, pointer: '', map: false }];
  while (stack.length > 0) {
    const { node, pointer, map } = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    const entries = Array.isArray(node) ? node.map((v, i) => [String(i), v] as const) : Object.entries(node);
    if (!map && !Array.isArray(node) && Object.hasOwn(node, keyword)) return ` (at ${JSON.stringify(pointer)} in the schema)`;
    for (const [k, v] of entries.reverse())
      if (map || Array.isArray(node) || !DATA.has(k))
        stack.push({ node: v, pointer: `${pointer}/${escape(k)}`, map: !map && !Array.isArray(node) && SCHEMA_MAPS.has(k) });
  }
  return '';
}

/** Schemas copied from elsewhere often name draft-07 in `$schema`; ajv only says it has no such schema. */
function otherDraft(schema: unknown, message: string): string {
  const named = typeof schema === 'object' && schema !== null ? (schema as { $schema?: unknown }).$schema : undefined;
  if (typeof named !== 'string' || !message.includes(`"${named}"`)) return '';
  return ' (only draft 2020-12 is understood: drop `$schema` or make it https://json-schema.org/draft/2020-12/schema)';
}

function escape(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** ajv's errors as (pointer, message) pairs, at most `max`, pointing at the property a `required` or `additionalProperties` names. */
export function describe(errors: readonly ErrorObject[] | null | undefined, part: Part, max: number): ValidationError[] {
  const out: ValidationError[] = [];
  for (const e of errors ?? []) {
    if (out.length >= max) break;
    let pointer = e.instancePath;
    const params = e.params as { missingProperty?: string; additionalProperty?: string };
    const named =
      e.keyword === 'required' ? params.missingProperty : e.keyword === 'additionalProperties' ? params.additionalProperty : undefined;
    if (named !== undefined) pointer += '/' + escape(named);
    out.push({ in: part, pointer, message: e.message ?? e.keyword });
  }
  return out;
}
