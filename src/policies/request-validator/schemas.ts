// JSON Schema (draft 2020-12) with ajv: one ajv instance per compiled config for what clients send
// as JSON (types as they are) and one for what arrives as text — query parameters, headers, route
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

function makeAjv(coerce: boolean): Ajv2020 {
  const ajv = new Ajv2020({
    // An unknown keyword (a typo: `requried`) is a config error; a `format` without a `type`, as
    // schemas copied from OpenAPI often have, is not.
    strictSchema: true,
    strictNumbers: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    allErrors: true,
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

/** The ajv instances of one config: built on first use, so a route without validators pays nothing. */
export class SchemaCompiler {
  private json?: Ajv2020;
  private text?: Ajv2020;

  /** The compiled schema, or why it does not compile. */
  compile(schema: unknown, textual: boolean): ValidateFunction | string {
    const ajv = textual ? (this.text ??= makeAjv(true)) : (this.json ??= makeAjv(false));
    try {
      return ajv.compile(schema as object);
    } catch (err) {
      return `not a valid JSON Schema (draft 2020-12): ${(err as Error).message}`;
    }
  }
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
    if (named !== undefined) pointer += '/' + named.replace(/~/g, '~0').replace(/\//g, '~1');
    out.push({ in: part, pointer, message: e.message ?? e.keyword });
  }
  return out;
}
