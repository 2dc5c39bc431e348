// One GraphQL request checked against a `graphql` policy, top to bottom: the document's size,
// parsing (cached per text), validation against the schema (cached per document), the analysis
// (cached per document and operation name, unless list sizes come from variables), then the
// limits. The first failure is the answer; success records the operation on the request.
import { validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { ErrorCode } from '../../errors.js';
import { analyse, type Analysis, type CostModel } from '../../graphql/analyse.js';
import type { ParseCache } from '../../graphql/parse-cache.js';
import type { GraphQLParams } from '../../graphql/request.js';
import type { Identity } from '../types.js';
import type { GraphQLPolicyConfig } from './schema.js';

export interface Refusal {
  code: ErrorCode;
  message?: string;
  details?: Record<string, unknown>;
}

export type CheckResult = { ok: true; analysis: Analysis } | { ok: false; refusal: Refusal };

/** The most validation errors one answer lists. */
const MAX_VALIDATION_ERRORS = 10;
/** The key of analyses made without a schema. */
const NO_SCHEMA = {};
/** graphql's suggestion after a message (names hold no "?"). */
const SUGGESTION = / Did you mean [^?]*\?/g;

export interface CheckerOptions {
  readonly config: GraphQLPolicyConfig;
  readonly maxDocumentBytes: number;
  readonly cache: ParseCache;
  readonly model: CostModel;
  /** The schema operations are validated against, when it is known. */
  schema(): GraphQLSchema | undefined;
}

export class Checker {
  /** Validation errors per document, per schema (a reloaded schema is another object). */
  private readonly validated = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, readonly string[]>>();
  /**
   * Analyses that did not depend on variables, per schema (NO_SCHEMA before an introspected one
   * arrives: with it, list fields are known and cost more), document and operation name.
   */
  private readonly analysed = new WeakMap<object, WeakMap<DocumentNode, Map<string, Analysis | string>>>();

  constructor(private readonly o: CheckerOptions) {}

  check(params: GraphQLParams, method: string, identity: Identity | undefined): CheckResult {
    const c = this.o.config;
    const query = params.query;
    if (query === undefined || query === '') return refuse('GW_GRAPHQL_BAD_REQUEST', 'the request has no query');
    // A string's UTF-8 length is at most 3 bytes per UTF-16 unit: measure only when it could be over.
    if (query.length * 3 > this.o.maxDocumentBytes && Buffer.byteLength(query) > this.o.maxDocumentBytes)
      return refuse('GW_GRAPHQL_DOCUMENT_TOO_LARGE', undefined, { max: this.o.maxDocumentBytes });
    const parsed = this.o.cache.parse(query, c.maxTokens);
    if (!parsed.ok)
      return parsed.tooManyTokens
        ? refuse('GW_GRAPHQL_TOO_MANY_TOKENS', parsed.message, { max: c.maxTokens })
        : refuse('GW_GRAPHQL_PARSE_FAILED', parsed.message);
    const doc = parsed.document;
    const schema = this.o.schema();
    if (schema !== undefined) {
      let errors = this.validation(schema, doc);
      // graphql suggests names near a wrong one ("Did you mean "email"?"): guessing through them
      // rebuilds the schema, which a caller refused introspection is not to see.
      if (errors.length > 0 && !this.introspectionAllowed(identity)) errors = errors.map((e) => e.replace(SUGGESTION, ''));
      if (errors.length > 0) return refuse('GW_GRAPHQL_VALIDATION_FAILED', errors[0], { errors });
    }
    const result = this.analysis(doc, params, schema);
    if (typeof result === 'string') return refuse('GW_GRAPHQL_VALIDATION_FAILED', result);
    const a = result;
    if (method === 'GET' && a.type !== 'query') return refuse('GW_METHOD_NOT_ALLOWED', `a ${a.type} cannot be sent with GET`);
    if (a.introspection && !this.introspectionAllowed(identity)) return refuse('GW_GRAPHQL_INTROSPECTION_DISABLED');
    const over = (code: ErrorCode, actual: number, max: number | undefined): CheckResult | undefined =>
      max !== undefined && actual > max ? refuse(code, undefined, { max, actual }) : undefined;
    return (
      over('GW_GRAPHQL_TOO_DEEP', a.depth, c.maxDepth) ??
      over('GW_GRAPHQL_TOO_MANY_ALIASES', a.aliases, c.maxAliases) ??
      over('GW_GRAPHQL_TOO_MANY_ROOT_FIELDS', a.rootFields, c.maxRootFields) ??
      over('GW_GRAPHQL_TOO_MANY_FIELDS', a.fields, c.maxFields) ??
      over('GW_GRAPHQL_TOO_COMPLEX', a.cost, c.maxComplexity) ?? { ok: true, analysis: a }
    );
  }

  private validation(schema: GraphQLSchema, doc: DocumentNode): readonly string[] {
    let bySchema = this.validated.get(schema);
    if (bySchema === undefined) this.validated.set(schema, (bySchema = new WeakMap()));
    let errors = bySchema.get(doc);
    if (errors === undefined) {
      try {
        errors = validate(schema, doc, undefined, { maxErrors: MAX_VALIDATION_ERRORS }).map((e) => {
          const at = e.locations?.[0];
          return at ? `${e.message} (line ${at.line}, column ${at.column})` : e.message;
        });
      } catch (err) {
        // Some of graphql's rules recurse along fragment spreads: a long enough chain of them
        // (a document with a high maxTokens) overflows the stack.
        if (!(err instanceof RangeError)) throw err;
        errors = ['the document spreads fragments too deeply to be validated'];
      }
      bySchema.set(doc, errors);
    }
    return errors;
  }

  private analysis(doc: DocumentNode, params: GraphQLParams, schema: GraphQLSchema | undefined): Analysis | string {
    const key = params.operationName ?? '';
    let bySchema = this.analysed.get(schema ?? NO_SCHEMA);
    if (bySchema === undefined) this.analysed.set(schema ?? NO_SCHEMA, (bySchema = new WeakMap()));
    let byName = bySchema.get(doc);
    const known = byName?.get(key);
    if (known !== undefined) return known;
    const r = analyse(doc, params.operationName, params.variables, this.o.model, schema);
    const value = r.ok ? r.analysis : r.message;
    if (!r.ok || !r.analysis.usesVariables) {
      if (byName === undefined) bySchema.set(doc, (byName = new Map<string, Analysis | string>()));
      // Operation names are the client's: a document keeps at most as many as it defines.
      if (byName.size < 64) byName.set(key, value);
    }
    return value;
  }

  private introspectionAllowed(identity: Identity | undefined): boolean {
    const rule = this.o.config.introspection;
    if (typeof rule === 'boolean') return rule;
    return identity !== undefined && identity.groups.some((g) => rule.groups.includes(g));
  }
}

function refuse(code: ErrorCode, message?: string, details?: Record<string, unknown>): CheckResult {
  return { ok: false, refusal: { code, message, details } };
}

/** The cost model of a policy's `cost` option. */
export function costModel(c: GraphQLPolicyConfig['cost']): CostModel {
  return {
    objectCost: c.objectCost,
    scalarCost: c.scalarCost,
    listArguments: c.listArguments,
    defaultListSize: c.defaultListSize,
    fields: new Map(Object.entries(c.fields)),
  };
}
